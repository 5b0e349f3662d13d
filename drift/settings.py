"""Drift settings: twelve-factor, every value from the environment with a safe local default."""

import json
import os
from pathlib import Path

import dj_database_url

from drift import redis_conn

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DRIFT_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEV_SECRET_KEY = "drift-local-development-only-secret-key-change-me"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "*")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "apps.clients",
    "apps.definitions",
    "apps.nodes",
    "apps.runs",
    "apps.operations",
    "apps.tasks",
    "apps.trials",
    "apps.secrets",
    "apps.triggers",
    "worker",
]

MIDDLEWARE = [
    # Reads chunked request bodies (no Content-Length) instead of Django's silent empty body; 413 past the limit.
    "drift.middleware.ChunkedBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves admin and schema UI static files from the API process (no separate web server needed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Admin pages of rows holding a lone surrogate (stored before the strict parser) answer, escaped.
    "drift.middleware.SurrogateSafePagesMiddleware",
]

ROOT_URLCONF = "drift.urls"
WSGI_APPLICATION = "drift.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Database: SQLite by default, MySQL/TiDB (mysqlclient) when DATABASE_URL says so.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'drift.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions serialise writers up front, so concurrent publishes queue
    # instead of failing with "database is locked" on lock upgrade.
    # WAL lets readers run beside the single writer; NORMAL sync is durable across app crashes in WAL mode.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-drift.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"]["OPTIONS"] = {"charset": "utf8mb4", "isolation_level": "read committed"}
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_bin"}
    # Bounded connects: a dead database fails /readyz (and requests) quickly instead of hanging.
    DATABASES["default"]["OPTIONS"]["connect_timeout"] = env_int("DRIFT_DB_CONNECT_TIMEOUT_SECONDS", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and invalidation channel; in-process cache only without Redis.
# Either a plain REDIS_URL or Redis Sentinel (issue 11): REDIS_SENTINELS="host:26379,host2:26379" with
# REDIS_SENTINEL_MASTER naming the monitored master; Sentinel wins when both are set. The same choice drives
# the invalidation pub/sub, the webhook slot semaphores and the Celery broker (drift/redis_conn.py).
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_SENTINELS = env_list("REDIS_SENTINELS")
REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER", "drift")
REDIS_DB = env_int("REDIS_DB", 0)
REDIS_PASSWORD = os.environ.get("REDIS_PASSWORD", "")  # of the Sentinel-managed master (a secret)
if REDIS_SENTINELS:
    REDIS_URL = ""
if REDIS_URL or REDIS_SENTINELS:
    CACHES = {"default": redis_conn.cache_config(
        url=REDIS_URL, sentinels=REDIS_SENTINELS, master=REDIS_SENTINEL_MASTER, db=REDIS_DB, password=REDIS_PASSWORD,
        options={"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2, "IGNORE_EXCEPTIONS": True},
    )}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DRIFT_CACHE_INVALIDATION_CHANNEL = "drift:definitions:invalidate"
DRIFT_LOCAL_CACHE_SIZE = env_int("DRIFT_LOCAL_CACHE_SIZE", 2048)
DRIFT_SNAPSHOT_CACHE_SECONDS = env_int("DRIFT_SNAPSHOT_CACHE_SECONDS", 300)
# Sentinel only (issue 11): how long an invalidation waits for a replica to hold it before moving on.
DRIFT_CACHE_REPLICA_WAIT_MS = env_int("DRIFT_CACHE_REPLICA_WAIT_MS", 100)

# --- Temporal
TEMPORAL_ADDRESS = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
TEMPORAL_NAMESPACE = os.environ.get("TEMPORAL_NAMESPACE", "default")
TEMPORAL_TASK_QUEUE = os.environ.get("TEMPORAL_TASK_QUEUE", "drift")
TEMPORAL_UI_URL = os.environ.get("TEMPORAL_UI_URL", "http://localhost:8233")
# The admin run page links its trace here, `{traceId}` filled in (e.g. http://jaeger:16686/trace/{traceId});
# tracing itself is configured by the OpenTelemetry SDK's own OTEL_* variables (drift/tracing.py).
DRIFT_TRACE_URL_TEMPLATE = os.environ.get("DRIFT_TRACE_URL_TEMPLATE", "")
DRIFT_WORKER_MAX_CONCURRENT_ACTIVITIES = env_int("DRIFT_WORKER_MAX_CONCURRENT_ACTIVITIES", 64)
DRIFT_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS = env_int("DRIFT_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", 64)
# Issue 11 (engine speed): local activities (start, persist, in-process nodes) at once, apart from remote ones
# (HTTP nodes, I/O-bound). Local ones are CPU work under one GIL; 8 looked better than 64 on a loaded 2-core
# machine but not consistently (docs/operations.md), so the default stays the previous shared limit.
DRIFT_WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES = env_int("DRIFT_WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES", 64)
# Issue 11 (many WAITING runs): workflow executions a worker keeps cached in memory (the SDK's default);
# a WAITING run outside the cache costs no memory and is replayed from its history when resumed.
DRIFT_WORKER_MAX_CACHED_WORKFLOWS = env_int("DRIFT_WORKER_MAX_CACHED_WORKFLOWS", 1000)
# Issue 26: `run_worker` runs this many full workers on the task queue, one per process; 0: the pod's cores
# (worker/processes.py).
DRIFT_WORKER_PROCESSES = env_int("DRIFT_WORKER_PROCESSES", 0)
DRIFT_WORKFLOW_SANDBOX = env_bool("DRIFT_WORKFLOW_SANDBOX", False)  # see worker/main.py
DRIFT_WORKER_HEALTH_PORT = env_int("DRIFT_WORKER_HEALTH_PORT", 7200)
DRIFT_METRICS_PORT = env_int("DRIFT_METRICS_PORT", 9090)
# The API's /metrics (issue 8.10): bearer token required; empty turns the endpoint off (it names tenants' workflows).
DRIFT_METRICS_TOKEN = os.environ.get("DRIFT_METRICS_TOKEN", "")

# --- Engine limits
DRIFT_MAX_NODE_EXECUTIONS = env_int("DRIFT_MAX_NODE_EXECUTIONS", 1000)
DRIFT_MAX_CHILD_DEPTH = env_int("DRIFT_MAX_CHILD_DEPTH", 5)
# Temporal payloads stop at 2 MB and every activity carries the context: bound both (a node failing beats a
# run whose workflow task can never complete).
DRIFT_MAX_NODE_OUTPUT_BYTES = env_int("DRIFT_MAX_NODE_OUTPUT_BYTES", 256 * 1024)
DRIFT_MAX_CONTEXT_BYTES = env_int("DRIFT_MAX_CONTEXT_BYTES", 1024 * 1024)
DRIFT_HISTORY_EVENT_LIMIT = env_int("DRIFT_HISTORY_EVENT_LIMIT", 10_000)
# Context by reference (issue 11, no payload cliff): a remote node's (HTTP) input is recorded in Temporal history,
# so above this JSON size the context is not sent but read by the activity from the context store.
DRIFT_INLINE_CONTEXT_BYTES = env_int("DRIFT_INLINE_CONTEXT_BYTES", 64 * 1024)
# Remote nodes (HTTP) whose `timeoutSeconds` is at most this run as local activities (engine level 3,
# docs/engine.md): no task through Temporal's matching and no second workflow task per call. 0: every remote node
# runs as a regular activity (listed as pending in Temporal's UI; its input and context recorded in history).
DRIFT_LOCAL_NODE_MAX_SECONDS = env_int("DRIFT_LOCAL_NODE_MAX_SECONDS", 30)
# MAP states (spec §8): items per batch workflow. A run carries it in its limits (the workflow cuts its batches
# by it, so a replay cuts them the same way); each batch's history grows with it.
DRIFT_MAP_BATCH_SIZE = env_int("DRIFT_MAP_BATCH_SIZE", 500)

# Test cases of workflow definitions (spec §9, apps/trials): each case is one test-mode run of the real
# workflow on TEMPORAL_TASK_QUEUE, bounded by this timeout; at most DRIFT_TEST_CONCURRENCY cases run at once.
DRIFT_TEST_CASE_TIMEOUT_SECONDS = float(os.environ.get("DRIFT_TEST_CASE_TIMEOUT_SECONDS", "60"))
DRIFT_TEST_CONCURRENCY = env_int("DRIFT_TEST_CONCURRENCY", 8)
DRIFT_SYNC_TIMEOUT_SECONDS = float(os.environ.get("DRIFT_SYNC_TIMEOUT_SECONDS", "10"))
# Terminate (runtime API 3.3): how long the run's own terminate update may take before the API ends the run
# hard in Temporal and marks the mirror itself.
DRIFT_TERMINATE_UPDATE_TIMEOUT_SECONDS = float(os.environ.get("DRIFT_TERMINATE_UPDATE_TIMEOUT_SECONDS", "5"))
# Readiness probe (drift/health.py): the bound of each dependency check.
DRIFT_READINESS_TIMEOUT_SECONDS = float(os.environ.get("DRIFT_READINESS_TIMEOUT_SECONDS", "2"))
DRIFT_CONTEXT_STORE = os.environ.get("DRIFT_CONTEXT_STORE", "sql")
HBASE_HOST = os.environ.get("HBASE_HOST", "localhost")
HBASE_PORT = env_int("HBASE_PORT", 9090)
HBASE_TABLE_PREFIX = os.environ.get("HBASE_TABLE_PREFIX", "")

# --- Scripts sandbox and HTTP nodes
DRIFT_SCRIPT_TIMEOUT_SECONDS = float(os.environ.get("DRIFT_SCRIPT_TIMEOUT_SECONDS", "2"))
DRIFT_SCRIPT_MEMORY_MB = env_int("DRIFT_SCRIPT_MEMORY_MB", 256)
DRIFT_SCRIPT_WORKERS = env_int("DRIFT_SCRIPT_WORKERS", 2)
# Sandbox fairness (issue 8.9): children one tenant may hold at once (0 = half the pool, at least 1), and how
# long a script waits for a free child before its node fails with "sandbox busy".
DRIFT_SCRIPT_TENANT_SHARE = env_int("DRIFT_SCRIPT_TENANT_SHARE", 0)
DRIFT_SCRIPT_QUEUE_SECONDS = float(os.environ.get("DRIFT_SCRIPT_QUEUE_SECONDS", "20"))
# Private, loopback and link-local targets are refused unless listed here (CIDRs or "*").
DRIFT_HTTP_ALLOWED_NETWORKS = env_list("DRIFT_HTTP_ALLOWED_NETWORKS")
DRIFT_HTTP_DEFAULT_TIMEOUT_SECONDS = float(os.environ.get("DRIFT_HTTP_DEFAULT_TIMEOUT_SECONDS", "30"))
# Host limits (apps/nodes/host_limits.py): per-host token bucket and in-flight cap shared by every worker process
# through Redis. Platform operators keep them as HostLimit rows (admin, /v3/host-limits/); this setting is the
# deployment's fallback (a row wins for its host). JSON {"api.partner.com": {"rate": 5, "burst": 1, "inFlight": 2}}
# (rate: requests/s; burst: bucket size, default 1; inFlight: concurrent requests, default unlimited; a key is a
# host name or name:port). When Redis is down or not configured:
# "open" calls anyway (unlimited), "closed" fails the node (retryable) instead.
DRIFT_HOST_LIMITS = json.loads(os.environ.get("DRIFT_HOST_LIMITS") or "{}")
DRIFT_HOST_LIMITS_ON_REDIS_DOWN = os.environ.get("DRIFT_HOST_LIMITS_ON_REDIS_DOWN", "open")
# The bucket refills `rate` tokens per (1 s + this): headroom for requests whose network trip to the host differs,
# so the host still sees at most `rate` in any second (docs/events.md, "Host limits").
DRIFT_HOST_LIMITS_JITTER_MS = float(os.environ.get("DRIFT_HOST_LIMITS_JITTER_MS", "100"))
# How long a worker process applies its copy of the operators' HostLimit rows before reading them again: an edit in
# the admin or /v3/host-limits/ reaches every worker process within this (docs/events.md, "Host limits").
DRIFT_HOST_LIMITS_REFRESH_SECONDS = float(os.environ.get("DRIFT_HOST_LIMITS_REFRESH_SECONDS", "5"))
# Local dev stack only (devtools/up.py sets it for the API, worker and Celery alike, so a start-time check, the
# HTTP nodes and webhook delivery agree): loopback targets are allowed, so the demo order service and local
# webhook receivers work. Every process logs a warning at start (apps/nodes/apps.py); refused outright with a
# real DJANGO_SECRET_KEY, i.e. in production settings.
DRIFT_DEV_ALLOW_LOOPBACK = env_bool("DRIFT_DEV_ALLOW_LOOPBACK", False)
if DRIFT_DEV_ALLOW_LOOPBACK:
    if SECRET_KEY != DEV_SECRET_KEY:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("DRIFT_DEV_ALLOW_LOOPBACK is for the local dev stack only; it is refused with a "
                                   "real DJANGO_SECRET_KEY (production settings). Use DRIFT_HTTP_ALLOWED_NETWORKS.")
    DRIFT_HTTP_ALLOWED_NETWORKS = [*DRIFT_HTTP_ALLOWED_NETWORKS, "127.0.0.0/8", "::1/128"]

# --- Webhook delivery (apps/runs/tasks.py): retries, one total deadline per attempt, per-receiver caps.
DRIFT_WEBHOOK_MAX_ATTEMPTS = env_int("DRIFT_WEBHOOK_MAX_ATTEMPTS", 8)
DRIFT_WEBHOOK_BACKOFF_BASE_SECONDS = float(os.environ.get("DRIFT_WEBHOOK_BACKOFF_BASE_SECONDS", "1"))
DRIFT_WEBHOOK_BACKOFF_MAX_SECONDS = float(os.environ.get("DRIFT_WEBHOOK_BACKOFF_MAX_SECONDS", "300"))
# Total for one attempt (connect, send, status line and headers; a refusal's body up to 1 KiB), not per read.
DRIFT_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("DRIFT_WEBHOOK_TIMEOUT_SECONDS", "10"))
# Celery processes one callback host / one API client may hold at once; more deliveries wait (deferred).
DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_HOST = env_int("DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_HOST", 2)
DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT = env_int("DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT", 2)
# Receivers (host or client) cut by the deadline share one "slow lane" of this many processes for a while.
DRIFT_WEBHOOK_MAX_IN_FLIGHT_SLOW = env_int("DRIFT_WEBHOOK_MAX_IN_FLIGHT_SLOW", 1)
DRIFT_WEBHOOK_SLOW_MARK_SECONDS = env_int("DRIFT_WEBHOOK_SLOW_MARK_SECONDS", 600)
DRIFT_WEBHOOK_DEFER_MAX_SECONDS = float(os.environ.get("DRIFT_WEBHOOK_DEFER_MAX_SECONDS", "30"))
DRIFT_WEBHOOK_STALE_SECONDS = float(os.environ.get("DRIFT_WEBHOOK_STALE_SECONDS", "60"))

# --- Workflow pictures (treeView, admin): bounded so drawing cannot hold API threads (issue 8.8).
DRIFT_GRAPH_MAX_STATES = env_int("DRIFT_GRAPH_MAX_STATES", 300)
DRIFT_GRAPH_MAX_DOT_BYTES = env_int("DRIFT_GRAPH_MAX_DOT_BYTES", 256 * 1024)
DRIFT_GRAPH_TIMEOUT_SECONDS = float(os.environ.get("DRIFT_GRAPH_TIMEOUT_SECONDS", "5"))
DRIFT_GRAPH_MAX_CONCURRENT = env_int("DRIFT_GRAPH_MAX_CONCURRENT", 2)

# --- Secrets and sensitive data (spec §12; apps/secrets, drift/codec.py). Comma-separated Fernet keys
# (`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`): the first
# encrypts, all decrypt, so rotation = put the new key first, run `rotate_secret_keys`, drop the old key.
# Unset: a key derived from DJANGO_SECRET_KEY (local runs only; set both in production).
DRIFT_SECRET_KEYS = env_list("DRIFT_SECRET_KEYS")
DRIFT_PAYLOAD_KEYS = env_list("DRIFT_PAYLOAD_KEYS")
DRIFT_PAYLOAD_ENCRYPTION = env_bool("DRIFT_PAYLOAD_ENCRYPTION", True)  # off: payloads written in clear (decode works)
# Browser origins allowed to call the codec endpoint /codec/ (the Temporal UI's), with the admin session.
DRIFT_CODEC_CORS_ORIGINS = env_list("DRIFT_CODEC_CORS_ORIGINS", TEMPORAL_UI_URL)
# OAuth2 client-credentials tokens are cached (Redis) until this many seconds before they expire.
DRIFT_OAUTH_EXPIRY_MARGIN_SECONDS = env_int("DRIFT_OAUTH_EXPIRY_MARGIN_SECONDS", 30)

# --- Extension points (dotted paths)
DRIFT_TOKEN_PROVIDER = os.environ.get("DRIFT_TOKEN_PROVIDER", "apps.nodes.extensions.NoTokenProvider")
DRIFT_AB_PROVIDER = os.environ.get("DRIFT_AB_PROVIDER", "apps.definitions.routing.StableHashABProvider")

# --- Celery (webhooks): Redis broker when REDIS_URL is set, else run tasks inline.
# Under Sentinel the broker is kombu's sentinel transport (master name in the transport options).
_broker_url, CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_BROKER_TRANSPORT = redis_conn.celery_broker(
    url=REDIS_URL, sentinels=REDIS_SENTINELS, master=REDIS_SENTINEL_MASTER, db=REDIS_DB, password=REDIS_PASSWORD)
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", _broker_url)
if "CELERY_BROKER_URL" in os.environ:  # an explicit broker URL names its own transport
    CELERY_BROKER_TRANSPORT = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not (REDIS_URL or REDIS_SENTINELS))
# A task is acked when it ends, so a worker killed mid-task (a trigger delivery, a webhook, a bulk job) leaves it
# in Redis; the broker hands it to another worker once the visibility timeout has passed. That timeout must
# exceed the longest countdown a task is retried with (DRIFT_TRIGGER_BACKOFF_MAX_SECONDS...) or Redis hands out a
# task that is only waiting; the beat sweeps (stale trigger events, webhooks, bulk jobs) come back sooner.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# On a lost broker connection, stop the acked-late tasks and let the broker redeliver them (every task is
# idempotent): Celery 6's default, set now (Celery 5 warns otherwise).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS,
                                   "visibility_timeout": env_int("CELERY_BROKER_VISIBILITY_TIMEOUT", 3600)}
# Task names are kept across moves (`name=`): the operations' tasks still answer to apps.runs.tasks.* names.
CELERY_BEAT_SCHEDULE = {
    "redeliver-stale-webhooks": {"task": "apps.runs.tasks.redeliver_stale_webhooks", "schedule": 60.0},
    "purge-idempotency-keys": {"task": "apps.runs.tasks.purge_idempotency_keys", "schedule": 3600.0},
    "resume-stalled-bulk-jobs": {"task": "apps.runs.tasks.resume_stalled_bulk_jobs", "schedule": 30.0},
    "reconcile-schedules": {"task": "apps.runs.tasks.reconcile_schedules", "schedule": 300.0},
    "redeliver-stale-trigger-events": {"task": "apps.triggers.tasks.redeliver_stale_trigger_events",
                                       "schedule": 30.0},
    "purge-trigger-dedupe": {"task": "apps.triggers.tasks.purge_trigger_dedupe", "schedule": 3600.0},
    "release-queued-starts": {"task": "apps.runs.tasks.release_queued_starts", "schedule": 10.0},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep the JSON logging of settings.LOGGING in Celery too

# --- API
# Operating runs (spec §10): how long an Idempotency-Key of a start is remembered.
DRIFT_IDEMPOTENCY_TTL_HOURS = env_int("DRIFT_IDEMPOTENCY_TTL_HOURS", 24)
# Bulk jobs (spec §10): runs per job; a worker's lease on a job (a dead worker's job moves on after it);
# how long one Celery task works a job before handing the rest to a new task.
DRIFT_BULK_MAX_RUNS = env_int("DRIFT_BULK_MAX_RUNS", 10_000)
# --- Run admission (apps/runs/admission.py): the deployment-wide fallback of a workflow's `limits` (a tenant's own
# default is set in the admin, clients.TenantDefaults), as JSON
# {"<tenant>" or "*": {"maxConcurrentRuns": n, "startsPerMinute": n, "overflow": ...}}; a definition's own win.
DRIFT_TENANT_LIMITS = json.loads(os.environ.get("DRIFT_TENANT_LIMITS") or "{}")
# How long a process keeps a tenant's default limits (the admin's rows) before reading them again.
DRIFT_TENANT_DEFAULTS_CACHE_SECONDS = env_int("DRIFT_TENANT_DEFAULTS_CACHE_SECONDS", 10)
DRIFT_ADMISSION_RETRY_AFTER_SECONDS = env_int("DRIFT_ADMISSION_RETRY_AFTER_SECONDS", 5)
# The release pass (beat and run end) handles at most this many workflows, in at most this many seconds.
DRIFT_ADMISSION_RELEASE_WORKFLOWS = env_int("DRIFT_ADMISSION_RELEASE_WORKFLOWS", 200)
DRIFT_ADMISSION_RELEASE_SECONDS = env_int("DRIFT_ADMISSION_RELEASE_SECONDS", 20)
DRIFT_BULK_LEASE_SECONDS = env_int("DRIFT_BULK_LEASE_SECONDS", 60)
DRIFT_BULK_TASK_SECONDS = env_int("DRIFT_BULK_TASK_SECONDS", 300)
# Triggers (spec §13, docs/events.md): how long a dedupeKey value is remembered; delivery retries of a stored
# event (doubling from the base up to the cap; only unexpected errors stop after MAX_ATTEMPTS, Temporal outages
# are retried for ever); the sweep re-enqueues events whose task is this overdue.
DRIFT_TRIGGER_DEDUPE_HOURS = env_int("DRIFT_TRIGGER_DEDUPE_HOURS", 24)
DRIFT_TRIGGER_BACKOFF_BASE_SECONDS = float(os.environ.get("DRIFT_TRIGGER_BACKOFF_BASE_SECONDS", "1"))
DRIFT_TRIGGER_BACKOFF_MAX_SECONDS = float(os.environ.get("DRIFT_TRIGGER_BACKOFF_MAX_SECONDS", "300"))
DRIFT_TRIGGER_MAX_ATTEMPTS = env_int("DRIFT_TRIGGER_MAX_ATTEMPTS", 50)
DRIFT_TRIGGER_STALE_SECONDS = float(os.environ.get("DRIFT_TRIGGER_STALE_SECONDS", "120"))
# API keys record their last use at most this often (a write per request cost every call a commit; issue 11).
DRIFT_API_KEY_TOUCH_SECONDS = env_int("DRIFT_API_KEY_TOUCH_SECONDS", 60)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DRIFT_MAX_BODY_BYTES", 1024 * 1024)
# --- Input hardening (issue 8): JSON documents nested deeper are refused (400) at the API and as node
# outputs; far below Python's recursion limit, so no deep document reaches code that recurses.
DRIFT_MAX_JSON_DEPTH = env_int("DRIFT_MAX_JSON_DEPTH", 100)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.clients.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "drift.errors.exception_handler",
    # Strict JSON in (no NaN/Infinity, lone surrogates, deep nesting: drift/parsers.py), safe JSON out.
    "DEFAULT_PARSER_CLASSES": ["drift.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["drift.renderers.SafeJSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Drift API",
    "DESCRIPTION": "Runtime (/v3) and definition APIs of the Drift workflow platform.",
    "VERSION": "3.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Drift compatibility (issue 9): the DSL's JSON Schema joins the components as Dsl* schemas.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "apps.definitions.dsl_schema.spectacular_postprocess"],
}

AUTH_PASSWORD_VALIDATORS = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DRIFT_STATIC_ROOT", VAR_DIR / "static"))
if not STATIC_ROOT.exists() and STATIC_ROOT.parent.is_dir() and os.access(STATIC_ROOT.parent, os.W_OK):
    STATIC_ROOT.mkdir()  # WhiteNoise warns about a missing STATIC_ROOT on every start
# The image runs `collectstatic` at build time; locally WhiteNoise also finds app static files directly.
WHITENOISE_USE_FINDERS = env_bool("DRIFT_STATIC_USE_FINDERS", not (STATIC_ROOT / "admin").exists())

# --- Operations: readiness probes. The probe port (issue 8.8) is served by a thread of every API worker
# (drift/gunicorn_conf.py), beside the request threads; 0 turns it off. The demo order service of the sample is
# its own process (`python -m drift.demo`, development only), never served by the API.
DRIFT_READINESS_TIMEOUT_SECONDS = float(os.environ.get("DRIFT_READINESS_TIMEOUT_SECONDS", "2"))
DRIFT_HEALTH_PORT = env_int("DRIFT_HEALTH_PORT", 8001)

LOG_LEVEL = os.environ.get("DRIFT_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "drift.logging.JsonFormatter"}},
    # The Temporal filter adds workflow_id / activity to lines logged inside an activity or workflow.
    "filters": {"temporal": {"()": "drift.logging.TemporalContextFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["temporal"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
