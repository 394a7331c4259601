# syntax=docker/dockerfile:1
# One image, four roles chosen by the command: web (default), worker, beat, migrate.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

# Unprivileged runtime user with a fixed uid/gid.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin app

# Dependencies before the code, so code edits reuse this layer.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

# Code stays root-owned (read-only for the app user).
COPY . .

# Static files are baked in and served by WhiteNoise. Importing settings needs a secret key and
# both service URLs (without DATABASE_URL/REDIS_URL it would start the embedded servers);
# collectstatic connects to neither, so dummies do. They are set for this step only and are not
# kept in the image. var/ is the app user's one writable directory (DATA_DIR).
RUN DJANGO_SECRET_KEY=build-only-not-a-secret \
    DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build:build@127.0.0.1:5432/build \
    REDIS_URL=redis://127.0.0.1:6379/0 \
    python manage.py collectstatic --noinput \
 && mkdir -p /app/var \
 && chown app:app /app/var

USER app
EXPOSE 8000

# Liveness of the web role. The Host header is the first DJANGO_ALLOWED_HOSTS entry, because a
# Host outside ALLOWED_HOSTS gets 400. Compose overrides this check for worker/beat/migrate.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; h = os.environ.get('DJANGO_ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('*.') or 'localhost'; u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': h}), timeout=4)"]

CMD ["python", "-m", "analytics_site.serve", "-b", "0.0.0.0", "-p", "8000", "analytics_site.asgi:application"]
