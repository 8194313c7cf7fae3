# bankportal: production image (gunicorn + WhiteNoise). One image serves web, worker and beat;
# see docker-compose.yml and docs/operations.md.
#
#   docker build -t bankportal .
#   docker run --env-file .env -p 8000:8000 bankportal
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=bankportal.settings \
    VAR_DIR=/app/var

RUN groupadd --system --gid 10001 bankportal \
    && useradd --system --uid 10001 --gid bankportal --create-home --home-dir /home/bankportal \
        --shell /usr/sbin/nologin bankportal

WORKDIR /app

# Runtime dependencies only (no dev extras), read from pyproject.toml so the pins live in one
# place. The project itself is not pip-installed: it runs from /app (PYTHONPATH), so templates,
# migrations and locale files are used where they are.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Code stays owned by root (read-only for the app user); only var/ is writable.
COPY . .
RUN mkdir -p /app/var \
    && chown bankportal:bankportal /app/var

USER bankportal

# collectstatic needs settings to load with DEBUG off (hashed, compressed files for WhiteNoise).
# The values below are throwaway placeholders that exist only for this RUN line; they are not
# baked into the image environment, and real secrets come from the runtime environment.
RUN DEBUG=0 \
    SECRET_KEY=collectstatic-placeholder-not-a-secret-0123456789abcdefghij \
    FIELD_ENCRYPTION_KEYS=build:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    BLIND_INDEX_KEY=collectstatic-placeholder-not-a-secret-0000 \
    ACCOUNT_PIN_KEY=build:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA= \
    AUDIT_SEAL_KEY=build:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA= \
    PKI_BASE_URL=https://collectstatic.invalid \
    CA_KEY_PASSPHRASE=collectstatic-placeholder-not-a-secret \
    CLOUD_KEK=build:DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDA= \
    SMS_BACKEND=console \
    EMAIL_BACKEND=console \
    python manage.py collectstatic --noinput

EXPOSE 8000

# No curl in the slim image: probe /healthz with the standard library. The Host header is the
# first ALLOWED_HOSTS entry so the probe is not rejected as a disallowed host; /healthz is exempt
# from the HTTPS redirect (SECURE_REDIRECT_EXEMPT).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; hosts = [h.strip().lstrip('.') for h in os.environ.get('ALLOWED_HOSTS', '').split(',') if h.strip() not in ('', '*')]; request = urllib.request.Request('http://127.0.0.1:8000/healthz', headers={'Host': hosts[0] if hosts else 'localhost'}); sys.exit(0 if urllib.request.urlopen(request, timeout=4).status == 200 else 1)"]

# Access logs are off (gunicorn's default): they would bypass the resident-number masking filter.
CMD ["gunicorn", "bankportal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--no-control-socket"]
