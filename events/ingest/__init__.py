"""The write path's doors: everything that takes data in from outside and hands it to the
storage services (``events.services``).

- ``http`` (the request skeleton every HTTP endpoint shares) and ``endpoints`` (the platform's
  own API and the receivers of other protocols, at the paths their clients use);
- ``websocket``: batches over one socket;
- ``intake``: what every transport shares — the key and its origin, the items, the key's rate;
- ``receivers/``: pure decoders of the protocols (InfluxDB line protocol, OTLP, Prometheus,
  PostHog / Segment / Plausible, StatsD);
- ``cumulative``: running totals (OTLP cumulative sums, Prometheus counters) as increases;
- ``statsd_server`` (served by ``manage.py statsd``) and ``scrape`` (Prometheus scrape targets,
  by the worker): data this platform fetches or listens for itself;
- ``ratelimit`` and ``sources`` (the Sources page's counters).
"""
