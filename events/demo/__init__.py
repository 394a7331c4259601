"""Demo data: a week of a shop's traffic and host metrics (``seed_demo``), and live traffic
(``simulate``)."""
