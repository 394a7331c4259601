"""Settings, all from environment variables; every one is documented in README.md.

``DJANGO_ENV=production`` turns on the deployment hardening (HTTPS only, HSTS, secure cookies) and
makes ``DJANGO_SECRET_KEY`` and ``DJANGO_ALLOWED_HOSTS`` mandatory. Without ``DATABASE_URL`` /
``REDIS_URL`` the embedded PostgreSQL and Redis are started (see ``analytics_site.embedded``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from analytics_site import queues

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


ENVIRONMENT = env_str("DJANGO_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'")
PRODUCTION = ENVIRONMENT == "production"

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).expanduser().resolve()


def _secret_key() -> str:
    configured = env_str("DJANGO_SECRET_KEY")
    if configured:
        return configured
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_ENV=production")
    # Development: one random key per data folder, kept so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "*")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS is required when DJANGO_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# -- services -------------------------------------------------------------------------------------
if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
    from analytics_site.embedded import services_for_environment

    os.environ.update(services_for_environment())

DATABASE_URL = os.environ["DATABASE_URL"]
REDIS_URL = os.environ["REDIS_URL"]

DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"]["options"] = (
    f"-c statement_timeout={env_int('DATABASE_STATEMENT_TIMEOUT_MS', 30000)}"
)
DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME") or None}
# The web process (``analytics_site.serve``) keeps its connections in a pool: under ASGI each
# request runs in a thread of its own, so without one every request opened (and closed) a
# PostgreSQL connection — most of what a small API answer cost. Workers and commands open
# theirs as before (a pool must not cross a fork). ``DATABASE_POOL_MAX`` bounds each process.
DATABASE_POOL_MAX = env_int("DATABASE_POOL_MAX", 8)  # per process, and per read replica
if env_bool("DATABASE_POOL", False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them instead
    # Each connection is checked as it is handed out, by our backend rather than the pool's
    # check loop, which backed off a second and more per dead connection after a restart.
    DATABASES["default"]["ENGINE"] = "analytics_site.postgres_pool"
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"]["application_name"] = "analytics-web"  # pg_stat_activity
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1, "max_size": DATABASE_POOL_MAX, "timeout": 10,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def redis_url_with_db(redis_url: str, db: int) -> str:
    """The same Redis server, another logical database (``redis://h:p/N`` or ``unix://p?db=N``)."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        query = "&".join(q for q in parts.query.split("&") if q and not q.startswith("db="))
        return f"unix://{parts.path}?" + "&".join(filter(None, [query, f"db={db}"]))
    return parts._replace(path=f"/{db}").geturl()


def _celery_broker_url(redis_url: str) -> str:
    """kombu spells a Unix-socket Redis ``redis+socket://``; redis-py spells it ``unix://``."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        query = parts.query.replace("db=", "virtual_host=")
        return f"redis+socket://{parts.path}" + (f"?{query}" if query else "")
    return redis_url


CACHES = {
    "default": {
        "BACKEND": "analytics_site.cache.SharedPoolRedisCache",  # one pool per process
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "analytics"),
        "TIMEOUT": 300,
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py's default socket timeout (5 s) equals channels_redis's 5 s blocking pop:
            # an idle socket's reader timed out and closed the WebSocket. Longer than the pop.
            # (No socket_keepalive: the Unix-socket connection of the embedded Redis has none.)
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5}],
            "prefix": env_str("CHANNELS_PREFIX", "asgi"),
            "capacity": 1000,
            "expiry": 30,
        },
    }
}

CELERY_BROKER_URL = _celery_broker_url(REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# A queue per kind of work (analytics_site.queues): a training run never delays an alert.
CELERY_TASK_QUEUES = [Queue(name) for name in queues.QUEUES]
CELERY_TASK_ROUTES = queues.ROUTES
CELERY_BEAT_SCHEDULER = "analytics_site.beat:HeartbeatScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 2)
BEAT_HEARTBEAT_KEY = "analytics:beat:heartbeat"

# -- Django ---------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "analytics_site",
    "projects",
    "events",
    "dashboards",
    "alerts",
    "reports",
    "ml",
]

MIDDLEWARE = [
    "analytics_site.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "analytics_site.security_headers.SecurityHeadersMiddleware",
    "analytics_site.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "projects.throttle.LoginThrottleMiddleware",  # 429 page for throttled logins
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "analytics_site.urls"
ASGI_APPLICATION = "analytics_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",  # {{ csp_nonce }}: security_headers
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "projects.context_processors.navigation",
            ],
        },
    }
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "login"

# Login and API-token throttling (projects.throttle): counters in Redis, shared by every process.
AUTHENTICATION_BACKENDS = ["projects.throttle.ThrottledModelBackend"]
LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 10)
LOGIN_MAX_FAILURES_PER_CLIENT = env_int("LOGIN_MAX_FAILURES_PER_CLIENT", 20)
LOGIN_LOCKOUT_S = env_int("LOGIN_LOCKOUT_S", 900)
API_TOKEN_MAX_FAILURES_PER_CLIENT = env_int("API_TOKEN_MAX_FAILURES_PER_CLIENT", 30)
API_TOKEN_LOCKOUT_S = env_int("API_TOKEN_LOCKOUT_S", 60)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves it too; it may be empty
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "analytics_site.staticfinders.PlotlyFinder",  # vendor/plotly.min.js from the plotly wheel
]
# Served by WhiteNoise straight from the apps and packages, so `make run` needs no collectstatic;
# the Docker image runs collectstatic and WhiteNoise serves STATIC_ROOT as well.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Request bodies: explicit limits (ingestion endpoints set their own, see events).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# -- security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Probes come from inside the deployment over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
else:
    SECURE_HSTS_PRELOAD = False
if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# HSTS preload is a commitment an operator makes knowingly (DJANGO_SECURE_HSTS_PRELOAD).
SILENCED_SYSTEM_CHECKS = ["security.W021"] if PRODUCTION and not SECURE_HSTS_PRELOAD else []

# -- API ------------------------------------------------------------------------------------------
API_TOKEN_LAST_USED_RESOLUTION_S = 60
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "projects.authentication.APITokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["analytics_site.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "analytics_site.schema.ErrorDocumentingAutoSchema",
    "EXCEPTION_HANDLER": "analytics_site.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "analytics_site.throttling.UserRateThrottle",
        "analytics_site.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_RATE_LIMIT_USER", "1200/min"),
        "anon": env_str("API_RATE_LIMIT_ANON", "120/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Analytics platform API",
    "DESCRIPTION": (
        "Projects, members, keys and tokens; ingestion; queries; dashboards; alerts. "
        "Authenticate with a personal "
        "API token: `Authorization: Bearer <token>`. Errors always have the form "
        '`{"error": "...", "code": "...", "details": {...}}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AlertStateEnum": "alerts.models.State",
        "ChannelKindEnum": "alerts.models.ChannelKind",
        "NotificationKindEnum": "alerts.models.Notification.Kind",
        "DeliveryStatusEnum": "alerts.models.Notification.Status",
        "ErrorCodeEnum": "analytics_site.schema.ERROR_CODES",
        "InvitationStatusEnum": "projects.models.Invitation.Status",
        "BlockKindEnum": "reports.models.BlockKind",
        "ScheduleKindEnum": "reports.models.ScheduleKind",
        "PathKindEnum": "events.query.paths.KINDS",
    },
}

# -- logging: one JSON object per line ------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "analytics_site.logging.JSONFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The request log line comes from RequestLogMiddleware; Django's own would repeat it.
        "django.request": {"level": "ERROR", "handlers": ["console"], "propagate": False},
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        # Beat sends the rollup fold every 2 s: no line per task sent, received and succeeded
        # (failures are still logged, at ERROR).
        "celery.beat": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
    },
}

# -- the platform ---------------------------------------------------------------------------------
ADMIN_USERNAME = env_str("ADMIN_USERNAME", "admin")
ADMIN_PASSWORD = env_str("ADMIN_PASSWORD")
ADMIN_EMAIL = env_str("ADMIN_EMAIL", "admin@example.com")
PUBLIC_URL = env_str("PUBLIC_URL")  # how browsers reach this instance; used in the snippet

# -- ingestion ------------------------------------------------------------------------------------
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 1024 * 1024)
# The ingestion endpoints past Django's middleware (analytics_site.lean); off only to compare.
INGEST_LEAN_PATH = env_bool("INGEST_LEAN_PATH", True)
INGEST_MAX_BATCH = env_int("INGEST_MAX_BATCH", 1000)
# Receivers of other formats (line protocol, …): points decoded from one request.
RECEIVER_MAX_POINTS = env_int("RECEIVER_MAX_POINTS", 20000)
INGEST_DB_POOL_SIZE = env_int("INGEST_DB_POOL_SIZE", 8)
INGEST_DB_TIMEOUT_S = float(env_str("INGEST_DB_TIMEOUT_S", "5"))
INGEST_DEFAULT_RATE_PER_S = env_int("INGEST_DEFAULT_RATE_PER_S", 50000)
INGEST_FUTURE_CLAMP_S = 300

# -- the query engine -----------------------------------------------------------------------------
QUERY_TIMEOUT_S = float(env_str("QUERY_TIMEOUT_S", "10"))  # PostgreSQL statement_timeout
# Streaming replicas the read path computes answers on (events.query.replicas), and how far one
# may lag before a range that reaches now is read from the primary instead.
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS")
REPLICA_MAX_LAG_S = float(env_str("REPLICA_MAX_LAG_S", "5"))

# -- alerts ---------------------------------------------------------------------------------------
# Webhook URLs resolving to addresses that are not public (loopback, private, link-local, CGNAT,
# and IPv6 forms of these) are refused unless inside one of these networks (comma-separated
# CIDRs, e.g. "10.0.5.0/24"). Prometheus scrape targets likewise, with their own list: exporters
# on the operator's own network are listed there (e.g. "127.0.0.0/8,10.0.0.0/8").
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS")
SCRAPE_ALLOWED_NETWORKS = env_list("SCRAPE_ALLOWED_NETWORKS")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "alerts@localhost")
