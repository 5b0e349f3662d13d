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
        # One process with threads per pod (the in-process Prometheus registry stays complete);
        # scale with replicas.
        exec gunicorn drift.wsgi \
            --bind "0.0.0.0:${PORT:-8000}" \
            --workers "${GUNICORN_WORKERS:-1}" \
            --threads "${GUNICORN_THREADS:-8}" \
            --timeout "${GUNICORN_TIMEOUT:-120}" \
            --graceful-timeout 20 \
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
            api) url="http://127.0.0.1:${PORT:-8000}/healthz" ;;
            worker) url="http://127.0.0.1:${DRIFT_WORKER_HEALTH_PORT:-7200}/" ;;
            *) exit 0 ;;
        esac
        exec python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen(sys.argv[1], timeout=4).status != 200)" "$url"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
