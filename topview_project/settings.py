"""Settings for topview-notices, every one read from the environment here and nowhere else.

With nothing set, the service runs for development: a SQLite file beside the code and Celery
tasks run in-process. Set DATABASE_URL and CELERY_BROKER_URL to run on PostgreSQL and Redis
with real workers. The README lists every variable.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue
from standardwebhooks.webhooks import Webhook

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name).lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1 or 0, not {value!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


# DJANGO_ENV=production turns on everything `manage.py check --deploy` asks for, and refuses to
# start without a real secret key and host names. Anything else is development.
PRODUCTION = env_str("DJANGO_ENV", "development") == "production"
DEV_SECRET_KEY = "dev-insecure-topview-notices-change-me"

DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "" if PRODUCTION else DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1],testserver"
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_ENV=production with DJANGO_DEBUG=1: refusing to start")
    if len(SECRET_KEY) < 50 or SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured("DJANGO_ENV=production needs DJANGO_SECRET_KEY, 50+ characters")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ENV=production needs DJANGO_ALLOWED_HOSTS")
    # TLS ends at the proxy in front of us; it says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "notices",
    "tasks",
]

MIDDLEWARE = [
    # First: every later line logged during a request carries its id.
    "topview_project.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "topview_project.urls"
# Topview posts to /notice/topview without a slash: never redirect a webhook POST.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "topview_project.wsgi.application"

# Database: PostgreSQL from DATABASE_URL, else a SQLite file (development only).
DATABASE_URL = env_str("DATABASE_URL")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{env_str('SQLITE_PATH', str(BASE_DIR / 'db.sqlite3'))}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        # Off: the check is a SELECT 1 before each request's first query, a third of a notice's
        # database round trips. Without it, a connection that broke (a database restart) fails
        # one request (503, which Topview retries) and Django closes it after that request.
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", False),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer must fail a request fast (503) rather than hang a worker.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DB_CONNECT_TIMEOUT", 3)
    )
# The notice INSERT is a prepared statement on each connection (prepared_insert.py): PostgreSQL's
# CPU per insert fell by a fifth. Off for a pooler that cannot keep prepared statements
# (PgBouncer in transaction mode before 1.21, or without max_prepared_statements).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Django REST framework: the notice endpoint reads the raw body itself and renders JSON only.
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "notices.schema.NoticeAutoSchema",
}
# The Task API (tasks/api): users authenticate with a DRF token (`Authorization: Token <key>`)
# or their session; its list is filtered with django-filter.
INSTALLED_APPS += ["rest_framework.authtoken", "django_filters"]
SPECTACULAR_SETTINGS = {
    "TITLE": "topview-notices",
    "DESCRIPTION": "Receives Topview AI task callbacks, keeps every one, follows each task.",
    "VERSION": "1",
    # The docs page's scripts come from the installed sidecar package, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Email: the owner of a finished task is told through Django's mail framework.
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env_str("DJANGO_EMAIL_FILE_PATH", str(BASE_DIR / "sent-emails"))
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "topview-notices@localhost")

# Celery: a broker URL means real workers; without one, tasks run in-process (development).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT = "topview_project.redis_transport:Transport"
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "topview-notices")
# Media downloads have a queue of their own, for a worker of their own (docker-compose's
# media-worker): a burst of slow or failing downloads never holds up notices. A worker started
# without -Q takes both queues (make run, the tests).
CELERY_MEDIA_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-media"
CELERY_TASK_QUEUES = [Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(CELERY_MEDIA_QUEUE)]
CELERY_TASK_ROUTES = {"tasks.archive_media": {"queue": CELERY_MEDIA_QUEUE}}
CELERY_TASK_IGNORE_RESULT = True
# A message is acknowledged only once its work is done, and taken one at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes database connections every 2 x this many tasks instead of around
# every task; `celery.py` checks their health before each task, as Django does per request.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers wait out a broker outage however long it lasts.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 1
# A publish while the broker is down fails at once: the notice is already stored and the sweep
# hands it on later, so a request must not wait for the broker.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1}
# Notices older than this are pruned daily (each task's latest one stays).
NOTICE_RETENTION_DAYS = env_int("NOTICE_RETENTION_DAYS", 90)
CELERY_BEAT_SCHEDULE = {
    "prune": {"task": "notices.prune", "schedule": 24 * 3600},
    "sweep": {
        "task": "notices.sweep",
        "schedule": env_int("NOTICE_SWEEP_INTERVAL_SECONDS", 5),
        # A sweep nobody ran in its own interval is replaced by the next one, not queued up.
        "options": {"expires": env_int("NOTICE_SWEEP_INTERVAL_SECONDS", 5)},
    },
}

# Live updates (Django Channels). daphne first: `runserver` then serves ASGI, WebSockets too.
INSTALLED_APPS = ["daphne", *INSTALLED_APPS, "channels", "live"]
ASGI_APPLICATION = "topview_project.asgi.application"
# Workers broadcast through Redis pub/sub to the daphne processes holding the sockets:
# CHANNEL_REDIS_URL, else the broker's Redis. Without Redis, the in-memory layer, which only
# reaches sockets of the same process (runserver with in-process tasks, the default run).
CHANNEL_REDIS_URL = env_str("CHANNEL_REDIS_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
CHANNEL_LAYERS = {
    "default": {
        # Pub/sub, not RedisChannelLayer: live updates are best effort, and pub/sub keeps no
        # group state in Redis (no 24 h group expiry, nothing left by a killed process).
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [{"address": CHANNEL_REDIS_URL, "socket_connect_timeout": 1}],
            # Pub/sub channels are shared by all Redis databases: the prefix keeps stacks apart.
            "prefix": env_str("CHANNEL_PREFIX", "topview-live"),
        },
    }
    if CHANNEL_REDIS_URL
    else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
}
# A broadcast waits at most this long; after a failure a process sends none for the retry time.
LIVE_BROADCAST_TIMEOUT_SECONDS = env_int("LIVE_BROADCAST_TIMEOUT_SECONDS", 2)
LIVE_RETRY_AFTER_SECONDS = env_int("LIVE_RETRY_AFTER_SECONDS", 5)
# How many notices the staff page lists (and keeps as new ones arrive).
LIVE_RECENT_NOTICES = env_int("LIVE_RECENT_NOTICES", 50)

# Topview notices.
TOPVIEW_UID = env_str("TOPVIEW_UID")
# Calling Topview's API (contract §4): the key, and where the API is (a fake one in tests).
TOPVIEW_API_KEY = env_str("TOPVIEW_API_KEY")
TOPVIEW_API_BASE_URL = env_str("TOPVIEW_API_BASE_URL", "https://api.topview.ai").rstrip("/")
TOPVIEW_API_TIMEOUT_SECONDS = env_int("TOPVIEW_API_TIMEOUT_SECONDS", 10)
# The public base URL Topview reaches us at (an ngrok URL in development), without a trailing /.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL").rstrip("/")
NOTICE_MAX_BODY_BYTES = env_int("NOTICE_MAX_BODY_BYTES", 1024 * 1024)
# A body not received within this many seconds is cut off (408): a slow sender holds no worker.
NOTICE_BODY_READ_SECONDS = env_int("NOTICE_BODY_READ_SECONDS", 10)
# Deeper JSON is refused as invalid (kept raw): nothing downstream has to recurse that far.
NOTICE_MAX_JSON_DEPTH = env_int("NOTICE_MAX_JSON_DEPTH", 64)
NOTICE_MAX_ATTEMPTS = env_int("NOTICE_MAX_ATTEMPTS", 5)
NOTICE_RETRY_BASE_SECONDS = env_int("NOTICE_RETRY_BASE_SECONDS", 10)
NOTICE_RETRY_MAX_SECONDS = env_int("NOTICE_RETRY_MAX_SECONDS", 3600)
# The database is the outbox: the sweep hands on every notice still pending this long after it
# was stored or last handed on (the broker may have lost it), and every notification not sent.
NOTICE_SWEEP_GRACE_SECONDS = env_int("NOTICE_SWEEP_GRACE_SECONDS", 15)
# A worker holds a notice this long; after that the notice is due again (its worker died).
NOTICE_PROCESSING_LEASE_SECONDS = env_int("NOTICE_PROCESSING_LEASE_SECONDS", 60)
NOTICE_SWEEP_BATCH = env_int("NOTICE_SWEEP_BATCH", 500)
# After a failed publish, a web process leaves the broker alone this long before trying again.
BROKER_RETRY_AFTER_SECONDS = env_int("BROKER_RETRY_AFTER_SECONDS", 5)
# Under load, a web process hands notices to the workers in batches: at most one message per
# this many milliseconds, holding up to BROKER_BATCH_MAX notice ids (a quiet one sends at once).
BROKER_BATCH_WINDOW_MS = env_int("BROKER_BATCH_WINDOW_MS", 50)
BROKER_BATCH_MAX = env_int("BROKER_BATCH_MAX", 100)

# Who may post notices. Tokens: the secret part of the notice URL we give Topview
# (/notice/topview/<token>, or ?token=); several at once, so one can be rotated out.
NOTICE_TOKENS = env_list("NOTICE_TOKENS", "")
if any(len(token) < 16 for token in NOTICE_TOKENS):
    raise ImproperlyConfigured("NOTICE_TOKENS: each token needs 16+ characters (secrets.token_urlsafe)")
if PRODUCTION and not NOTICE_TOKENS:
    raise ImproperlyConfigured("DJANGO_ENV=production needs NOTICE_TOKENS: the notice URL is public")
# Standard Webhooks secrets (whsec_...), for deployments behind a relay that signs.
NOTICE_SIGNING_SECRETS = env_list("NOTICE_SIGNING_SECRETS", "")
# X-Forwarded-For names the client only when the direct peer is one of these (IPs or networks).
NOTICE_TRUSTED_PROXIES = env_list("NOTICE_TRUSTED_PROXIES", "")
# Checked here, so that a typo stops the start rather than failing every request.
try:
    for _proxy in NOTICE_TRUSTED_PROXIES:
        ipaddress.ip_network(_proxy, strict=False)
    for _secret in NOTICE_SIGNING_SECRETS:
        Webhook(_secret)
except Exception as _error:  # Whatever the parser says, the start stops with it.
    raise ImproperlyConfigured(f"NOTICE_TRUSTED_PROXIES or NOTICE_SIGNING_SECRETS: {_error}") from None
# Requests per minute, per client address and in all; over them, 429 with Retry-After.
NOTICE_RATE_PER_ADDRESS = env_int("NOTICE_RATE_PER_ADDRESS", 600)
NOTICE_RATE_OVERALL = env_int("NOTICE_RATE_OVERALL", 12_000)
# Refused requests are counted per reason and minute; only this many a minute are kept whole.
NOTICE_REFUSAL_SAMPLE = env_int("NOTICE_REFUSAL_SAMPLE", 20)
# POST /notice/topview/test: on in development; in production only when enabled (and tokens
# then protect it like the notice URL).
NOTICE_TEST_ENDPOINT = env_bool("NOTICE_TEST_ENDPOINT", not PRODUCTION)

# The cache holds the rate limits: Redis when CACHE_URL is set, else this process's memory.
CACHE_URL = env_str("CACHE_URL")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# /readyz fails when the last sweep is older than this (no worker or no beat), or when the
# oldest open notice is older than that.
READY_MAX_WORKER_SILENCE_SECONDS = env_int("READY_MAX_WORKER_SILENCE_SECONDS", 60)
READY_MAX_BACKLOG_AGE_SECONDS = env_int("READY_MAX_BACKLOG_AGE_SECONDS", 300)

# Who gets mail_admins (a dead notice): "Name <email>, Other <email>".
ADMINS = [
    (name.strip(), address.strip(" >"))
    for name, _, address in (item.partition("<") for item in env_list("DJANGO_ADMINS", ""))
]
SERVER_EMAIL = env_str("DJANGO_SERVER_EMAIL", "topview-notices@localhost")

# GET /metrics (Prometheus). Keep it off the public internet: the proxy in front should not
# route it. With PROMETHEUS_MULTIPROC_DIR set (read by prometheus_client itself), every process
# (gunicorn workers, Celery's prefork children) writes its counts there and /metrics adds them up.
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR and not os.path.isdir(PROMETHEUS_MULTIPROC_DIR):
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR {PROMETHEUS_MULTIPROC_DIR!r} is not a folder")

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# plain: one readable line per record; json: one JSON object per line, for a log collector.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(levelname)s %(asctime)s %(name)s: %(message)s"},
        "json": {"()": "topview_project.logjson.JsonFormatter"},
    },
    "filters": {
        "log_context": {"()": "topview_project.logcontext.LogContextFilter"},
        "redact_tokens": {"()": "topview_project.logfilters.RedactNoticeTokens"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["log_context", "redact_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers would print unfiltered and mail every 5xx (with its URL, so
        # the token) to the admins: Django logs through ours instead. Admins are told of dead
        # notices, once each.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "INFO"},
    },
}

# Reconciliation (issue 6): Topview is asked about tasks whose callback never came. A task whose
# status has not changed for RECONCILE_AFTER_SECONDS is queried, then again after twice that,
# four times that... up to RECONCILE_BACKOFF_MAX_SECONDS apart; never more than
# RECONCILE_MAX_QUERIES_PER_MINUTE queries a minute in all. Nothing happens without TOPVIEW_API_KEY.
RECONCILE_AFTER_SECONDS = env_int("RECONCILE_AFTER_SECONDS", 600)
RECONCILE_BACKOFF_MAX_SECONDS = env_int("RECONCILE_BACKOFF_MAX_SECONDS", 6 * 3600)
RECONCILE_MAX_QUERIES_PER_MINUTE = env_int("RECONCILE_MAX_QUERIES_PER_MINUTE", 60)
RECONCILE_INTERVAL_SECONDS = env_int("RECONCILE_INTERVAL_SECONDS", 60)
CELERY_BEAT_SCHEDULE["reconcile"] = {
    "task": "notices.reconcile",
    "schedule": RECONCILE_INTERVAL_SECONDS,
    "options": {"expires": RECONCILE_INTERVAL_SECONDS},
}

# Media archive (issue 6): a successful task's video and cover are copied to Django's default
# storage (files under MEDIA_ROOT; an S3-compatible bucket when ARCHIVE_S3_BUCKET is set, with
# boto3 installed), since Topview's URLs expire after 7 days.
MEDIA_ROOT = env_str("MEDIA_ROOT", str(BASE_DIR / "media"))
MEDIA_URL = env_str("MEDIA_URL", "/media/")
ARCHIVE_S3_BUCKET = env_str("ARCHIVE_S3_BUCKET")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if ARCHIVE_S3_BUCKET:
    # Empty values fall back to boto3's own chain (AWS_* variables, an instance role).
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ARCHIVE_S3_BUCKET,
            "endpoint_url": env_str("ARCHIVE_S3_ENDPOINT_URL") or None,
            "region_name": env_str("ARCHIVE_S3_REGION") or None,
            "access_key": env_str("ARCHIVE_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("ARCHIVE_S3_SECRET_ACCESS_KEY") or None,
            "location": env_str("ARCHIVE_S3_PREFIX", "topview-media"),
            # Private objects, served through signed URLs that expire; never overwritten.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": env_int("ARCHIVE_S3_URL_SECONDS", 3600),
            "file_overwrite": False,
        },
    }
ARCHIVE_MAX_BYTES = env_int("ARCHIVE_MAX_BYTES", 2 * 1024**3)
# Host names (and their subdomains) result files may be fetched from, redirects included; "*"
# or, in development, empty: any. Production needs it said: a forged notice's result URL would
# otherwise have a worker fetch from anywhere, the internal network included.
ARCHIVE_ALLOWED_HOSTS = [host.lower() for host in env_list("ARCHIVE_ALLOWED_HOSTS", "")]
if PRODUCTION and not ARCHIVE_ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ENV=production needs ARCHIVE_ALLOWED_HOSTS: Topview's CDN hosts, or * for any"
    )
ARCHIVE_TIMEOUT_SECONDS = env_int("ARCHIVE_TIMEOUT_SECONDS", 30)
ARCHIVE_LEASE_SECONDS = env_int("ARCHIVE_LEASE_SECONDS", 900)
ARCHIVE_RETRY_BASE_SECONDS = env_int("ARCHIVE_RETRY_BASE_SECONDS", 60)
ARCHIVE_RETRY_MAX_SECONDS = env_int("ARCHIVE_RETRY_MAX_SECONDS", 1800)
ARCHIVE_SOURCE_TTL_SECONDS = env_int("ARCHIVE_SOURCE_TTL_SECONDS", 7 * 24 * 3600)
ARCHIVE_ALERT_BEFORE_EXPIRY_SECONDS = env_int("ARCHIVE_ALERT_BEFORE_EXPIRY_SECONDS", 24 * 3600)
