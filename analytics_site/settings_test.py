"""Settings for the test suite: the real servers of ``settings``, kept apart from a running
instance. Tests use Redis database ``TEST_REDIS_DB`` (default 15), so flushing it between tests
never touches the broker queues or cache of ``make run`` on the same server, and the test
database is PostgreSQL's ``test_<name>`` as usual."""

import os

from .settings import *  # noqa: F403
from .settings import CACHES, CHANNEL_LAYERS, _celery_broker_url, env_int, redis_url_with_db

TEST_SUITE_SETTINGS = True
REDIS_URL = redis_url_with_db(os.environ["REDIS_URL"], env_int("TEST_REDIS_DB", 15))
CACHES["default"]["LOCATION"] = REDIS_URL
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [{**CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0],
                                              "address": REDIS_URL}]
CELERY_BROKER_URL = _celery_broker_url(REDIS_URL)

# Fast hashing for the many users tests create; production keeps Django's default.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Keep test output readable: log records still reach pytest's caplog, not the console.
LOGGING["handlers"]["console"]["level"] = "WARNING"  # noqa: F405
