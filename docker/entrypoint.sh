#!/bin/sh
# Entrypoint of the Drift image: one image, every process; the first argument picks the role.
set -eu

role="${1:-api}"
[ "$#" -gt 0 ] && shift

remember_role() {
    # The HEALTHCHECK runs as a separate process: tell it which port to probe.
    echo "$1" > /tmp/drift-role 2>/dev/null || true
}

case "$role" in
    api)
        remember_role api
        # Process model and probe port: drift/gunicorn_conf.py (gthread, GUNICORN_WORKERS x GUNICORN_THREADS,
        # /healthz and /readyz on DRIFT_HEALTH_PORT beside the request threads). Scale with replicas.
        exec gunicorn drift.wsgi \
            --config python:drift.gunicorn_conf \
            --bind "0.0.0.0:${PORT:-8000}" \
            --access-logfile - --error-logfile - \
            --header-map dangerous \
            "$@"
        ;;
    worker)
        remember_role worker
        exec python manage.py run_worker "$@"
        ;;
    celery)
        remember_role celery
        exec celery -A drift worker -l "${CELERY_LOG_LEVEL:-info}" "$@"
        ;;
    celery-beat)
        remember_role celery-beat
        exec celery -A drift beat -l "${CELERY_LOG_LEVEL:-info}" --schedule /tmp/celerybeat-schedule "$@"
        ;;
    migrate)
        exec python manage.py migrate --noinput "$@"
        ;;
    manage)
        exec python manage.py "$@"
        ;;
    healthcheck)
        case "$(cat /tmp/drift-role 2>/dev/null || echo none)" in
            api) url="http://127.0.0.1:${DRIFT_HEALTH_PORT:-8001}/healthz" ;;
            worker) url="http://127.0.0.1:${DRIFT_WORKER_HEALTH_PORT:-7200}/" ;;
            *) exit 0 ;;
        esac
        exec python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen(sys.argv[1], timeout=4).status != 200)" "$url"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
