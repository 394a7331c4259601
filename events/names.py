"""What names look like, defined once for the write path and the read path: a metric name, a tag
key as stored, and a key a query filters or groups on (a tag key, an event column or an event
property — PostHog's ``$current_url`` among them)."""

import re

METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$")
TAG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,99}$")
QUERY_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.:/$-]{0,199}$")
# In the text form a key ends at ":" (``key:value``), so there a key holds no ":"; the JSON form
# takes every QUERY_KEY.
QUERY_KEY_TEXT = re.compile(r"[A-Za-z_$][A-Za-z0-9_./$-]*")
