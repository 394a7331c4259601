"""``manage.py statsd``: serve StatsD / DogStatsD (``events.ingest.statsd_server``).

    manage.py statsd                      # every enabled listener configured in the admin
    manage.py statsd --key pk_… [--host 127.0.0.1] [--port 8125] [--flush 10]   # one, ad hoc
"""

import asyncio

from django.core.management.base import BaseCommand, CommandError

from events.ingest import statsd_server


class Command(BaseCommand):
    help = "Serve StatsD / DogStatsD (UDP and TCP) for the listeners configured in the admin."

    def add_arguments(self, parser):
        parser.add_argument("--key", help="Serve one listener for this ingest key instead.")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8125)
        parser.add_argument("--flush", type=int, default=10, help="Flush interval, seconds.")

    def handle(self, *args, key, host, port, flush, **options):
        if flush < 1:
            raise CommandError("--flush must be at least 1 second.")
        fixed = None
        if key:
            fixed = {(host, port): {"pk": None, "host": host, "port": port, "udp": True,
                                    "tcp": True, "flush": flush, "key": key}}
        asyncio.run(statsd_server.serve(fixed))
