"""Settings for bankportal: one module, driven by environment variables (see README, "Configuration").

Readers in ``bankportal.env`` fail loudly on bad values. Defaults are for a developer laptop
(SQLite in ``var/``, Celery eager, outbox notifications) and are only allowed while ``DEBUG`` is on
where they would be unsafe in production.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from bankportal.audit.chain import parse_public_keys, parse_seal_key, public_key_b64
from bankportal.crypto import check_blind_index_key, check_rings_disjoint, parse_key_ring
from bankportal.env import env_bool, env_choice, env_int, env_list, env_secret, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)


def _dev_only(name: str, value: str | None, dev_default: str) -> str:
    if value is not None:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (or {name}_FILE)")


def _dev_key(label: str) -> str:
    # Deterministic development-only keys; never valid in production because DEBUG gates them.
    return base64.b64encode(hashlib.sha256(f"bankportal-dev-{label}".encode()).digest()).decode()


SECRET_KEY = _dev_only("SECRET_KEY", env_secret("SECRET_KEY"), "dev-insecure-" + _dev_key("secret-key"))
if not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("dev-insecure-")):
    raise ImproperlyConfigured("SECRET_KEY must be a random string of at least 50 characters")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Bank identity: a fictional bank by default so no real institution is impersonated.
BANK_CODE = env_str("BANK_CODE", "997")
if not (len(BANK_CODE) == 3 and BANK_CODE.isdigit()):
    raise ImproperlyConfigured(f"BANK_CODE must be 3 digits, got {BANK_CODE!r}")
BANK_NAME_KO = env_str("BANK_NAME_KO", "다솜은행")
BANK_NAME_EN = env_str("BANK_NAME_EN", "Dasom Bank")
BANK_CALL_CENTRE = env_str("BANK_CALL_CENTRE", "1599-0000")
BANK_DEFAULT_BRANCH = env_str("BANK_DEFAULT_BRANCH", "101")
if not (len(BANK_DEFAULT_BRANCH) == 3 and BANK_DEFAULT_BRANCH.isdigit()):
    raise ImproperlyConfigured(f"BANK_DEFAULT_BRANCH must be 3 digits, got {BANK_DEFAULT_BRANCH!r}")

INSTALLED_APPS = [
    # django.contrib.admin with the OTP-protected staff admin as its default site (see bankportal/apps.py).
    "bankportal.apps.BankAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "axes",
    "bankportal.audit",
    "bankportal.notifications",
    "bankportal.content",
    "accounts",
    "certcenter",
    "certcenter.cloud",  # label "fincloud": the financial certificate cloud (the clearing house's role)
    "otp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "bankportal.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "bankportal.sessions.SessionTimeoutMiddleware",  # idle and absolute session limits
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Sign-in throttling, last: a locked-out sign-in is refused after the CSRF check and before
    # the login view runs; a lockout set during the view becomes the same page.
    "bankportal.throttling.SignInThrottleMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "bankportal.urls"
WSGI_APPLICATION = "bankportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bankportal.context_processors.bank",
            ],
            # bankportal is not an installed app (that would autodiscover its admin module), so
            # its template tags are registered by name.
            "libraries": {"bank_tags": "bankportal.templatetags.bank_tags"},
        },
    },
]

# --- Database: DATABASE_URL (postgres://user:pass@host:5432/name) or SQLite in var/.
DATABASE_URL = env_secret("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, min_value=0))
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {exc}") from None
if DATABASES["default"]["ENGINE"] not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
    raise ImproperlyConfigured("DATABASE_URL must point to PostgreSQL or SQLite")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the writer instead of failing at once; IMMEDIATE avoids lock upgrades mid-transaction.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, sessions and Celery broker. Absent: local memory, DB sessions, eager Celery.
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bankportal"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

CELERY_BROKER_URL = REDIS_URL or "memory://"
# Results let operators see what a job run returned (`celery result <id>`); kept for a day.
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_RESULT_EXPIRES = 60 * 60 * 24
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "Asia/Seoul"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Keep Django's LOGGING (with the resident-number mask) in workers instead of Celery's own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Reviewed schedule. Nightly jobs run at fixed wall-clock times in KST (crontab, evaluated in
# CELERY_TIMEZONE), never "every 24 h from whenever beat started". Later jobs (renewal notices,
# dormancy, lapsing) are added here.
CELERY_BEAT_SCHEDULE = {
    # Seals committed audit events into the signed seal chain; single-flight through an advisory lock.
    "audit-seal": {
        "task": "bankportal.audit.tasks.audit_seal_task",
        "schedule": env_int("AUDIT_SEAL_INTERVAL_SECONDS", 5, min_value=1, max_value=3600),
        "options": {"expires": 30},
    },
    # Picks up notifications whose after-commit hand-off was lost (worker restart, broker outage).
    "notifications-dispatch-pending": {
        "task": "bankportal.notifications.tasks.notification_dispatch_pending_task",
        "schedule": 60,
        "options": {"expires": 50},
    },
    # Folds finished internal legs (branch cash, fees, clearing) into their rolled-up balances.
    "ledger-internal-roll-up": {
        "task": "accounts.tasks.internal_balances_roll_up_task",
        "schedule": 60,
        "options": {"expires": 50},
    },
    # Staff requests live for their KST business day; close what is left open at midnight.
    "staff-requests-expire": {
        "task": "accounts.tasks.staff_request_expire_task",
        "schedule": crontab(hour=0, minute=5),
        "options": {"expires": 60 * 60},
    },
    # E-banking agreements: applications past their D+4 deadline lapse (the first instant of the
    # new KST day is past it), then dormancy suspensions and their 30-day notices for the new day.
    "agreements-lapse-nightly": {
        "task": "accounts.tasks.agreements_lapse_task",
        "schedule": crontab(hour=0, minute=10),
        "options": {"expires": 60 * 60},
    },
    "agreements-dormancy-nightly": {
        "task": "accounts.tasks.agreements_dormancy_task",
        "schedule": crontab(hour=0, minute=20),
        "options": {"expires": 60 * 60},
    },
    "ledger-verify-nightly": {
        "task": "accounts.tasks.ledger_verify_task",
        "schedule": crontab(hour=2, minute=10),
        "options": {"expires": 60 * 60},
    },
    "audit-verify-nightly": {
        "task": "bankportal.audit.tasks.audit_verify_task",
        "schedule": crontab(hour=2, minute=40),
        "options": {"expires": 60 * 60},
    },
}

# --- Authentication
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user name + IP before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Signed-in sessions end after a short idle time and, however active, after an absolute lifetime;
# both are enforced by bankportal.sessions.SessionTimeoutMiddleware (every request counts as
# activity). The stored session outlives the idle limit by a short grace so the middleware can
# still tell the customer why they were signed out.
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 600, min_value=60, max_value=60 * 60 * 12)
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60, min_value=300, max_value=24 * 60 * 60)
if SESSION_ABSOLUTE_SECONDS < SESSION_IDLE_SECONDS:
    raise ImproperlyConfigured("SESSION_ABSOLUTE_SECONDS must be at least SESSION_IDLE_SECONDS")
SESSION_WARNING_SECONDS = 60  # the header countdown warns in the last minute
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS + 300
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Sign-in throttling (django-axes; bankportal/throttling.py) for /login/ and /admin/login/.
# Counted in the cache (Redis when REDIS_URL is set; per process otherwise), never in the database.
# Locked by user name + IP, so an attacker elsewhere cannot lock the real customer out, and by IP
# alone at a higher limit, against one address trying many names. A lock lifts by itself after
# the cool-off; refused attempts while locked are not counted, so a flood cannot extend it.
AXES_HANDLER = "bankportal.throttling.SignInThrottleHandler"
AXES_CACHE = "default"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 5, min_value=3, max_value=20)
SIGNIN_IP_FAILURE_LIMIT = env_int("SIGNIN_IP_FAILURE_LIMIT", 20, min_value=3, max_value=1000)
if SIGNIN_IP_FAILURE_LIMIT < AXES_FAILURE_LIMIT:
    raise ImproperlyConfigured("SIGNIN_IP_FAILURE_LIMIT must be at least SIGNIN_FAILURE_LIMIT")
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGNIN_COOLOFF_MINUTES", 15, min_value=1, max_value=24 * 60))
AXES_RESET_ON_SUCCESS = True  # clears that user's counter only, not the per-IP one
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "bankportal.middleware.client_ip"  # the same address the audit trail records
AXES_LOCKOUT_CALLABLE = "bankportal.views.signin_locked_out"  # translated page, 429 + Retry-After
AXES_HTTP_RESPONSE_CODE = 429
AXES_ENABLE_ADMIN = False  # the cache handler writes no AccessAttempt rows to show
AXES_VERBOSE = False

# --- Field encryption (RRN) and blind index.
FIELD_ENCRYPTION_KEYS = _dev_only(
    "FIELD_ENCRYPTION_KEYS", env_secret("FIELD_ENCRYPTION_KEYS"), "dev1:" + _dev_key("field")
)
parse_key_ring(FIELD_ENCRYPTION_KEYS)  # fail at start-up, not at the first customer
BLIND_INDEX_KEY = _dev_only("BLIND_INDEX_KEY", env_secret("BLIND_INDEX_KEY"), "dev-" + _dev_key("blind-index"))
check_blind_index_key(BLIND_INDEX_KEY)
# Account passwords (4 digits) are HMAC-SHA256 under this key ring (same shape as
# FIELD_ENCRYPTION_KEYS, newest first), so a database dump alone allows no offline search.
ACCOUNT_PIN_KEY = _dev_only("ACCOUNT_PIN_KEY", env_secret("ACCOUNT_PIN_KEY"), "dev1:" + _dev_key("account-pin"))
check_rings_disjoint(
    ("FIELD_ENCRYPTION_KEYS", parse_key_ring(FIELD_ENCRYPTION_KEYS)),
    ("ACCOUNT_PIN_KEY", parse_key_ring(ACCOUNT_PIN_KEY, name="ACCOUNT_PIN_KEY")),
)

# --- Audit seals: the Ed25519 key that signs each seal of the audit trail ("keyid:base64-32-byte-seed").
# It must live outside the database, so a database superuser cannot re-sign a rewritten trail.
# AUDIT_SEAL_PUBLIC_KEYS ("keyid:base64-public-key,...") keeps retired keys to verify older seals.
_DEV_AUDIT_SEAL_KEY = "dev1:" + _dev_key("audit-seal")
AUDIT_SEAL_KEY = _dev_only("AUDIT_SEAL_KEY", env_secret("AUDIT_SEAL_KEY"), _DEV_AUDIT_SEAL_KEY)
AUDIT_SEAL_PUBLIC_KEYS = env_str("AUDIT_SEAL_PUBLIC_KEYS", "")
try:
    _audit_seal_key = parse_seal_key(AUDIT_SEAL_KEY)
    _audit_retired_keys = parse_public_keys(AUDIT_SEAL_PUBLIC_KEYS)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
if not DEBUG and AUDIT_SEAL_KEY.partition(":")[2] == _DEV_AUDIT_SEAL_KEY.partition(":")[2]:
    raise ImproperlyConfigured("AUDIT_SEAL_KEY must not be the development key when DEBUG is off")
if _audit_seal_key.key_id in _audit_retired_keys and (
    public_key_b64(_audit_retired_keys[_audit_seal_key.key_id]) != _audit_seal_key.public_key_b64
):
    raise ImproperlyConfigured("AUDIT_SEAL_PUBLIC_KEYS gives the current AUDIT_SEAL_KEY id a different key")

# --- Notifications
SMS_BACKENDS = {
    "console": "bankportal.notifications.backends.ConsoleSmsBackend",
    "outbox": "bankportal.notifications.backends.OutboxSmsBackend",
    "http": "bankportal.notifications.backends.HttpGatewaySmsBackend",
}
SMS_BACKEND = SMS_BACKENDS[env_choice("SMS_BACKEND", "outbox" if DEBUG else "http", SMS_BACKENDS)]
SMS_GATEWAY_URL = env_url("SMS_GATEWAY_URL", schemes=("https", "http"))
SMS_GATEWAY_TOKEN = env_secret("SMS_GATEWAY_TOKEN") or ""
SMS_GATEWAY_TIMEOUT = env_int("SMS_GATEWAY_TIMEOUT", 5, min_value=1, max_value=60)
SMS_SENDER = env_str("SMS_SENDER", BANK_CALL_CENTRE)
if not SMS_GATEWAY_URL and SMS_BACKENDS["http"] == SMS_BACKEND:
    raise ImproperlyConfigured("SMS_BACKEND=http needs SMS_GATEWAY_URL")

# ARS (automated voice call) reads one-time codes out. Optional in production: "none" (the default
# with DEBUG off) means the bank offers SMS only, and services refuse the ARS channel clearly.
ARS_BACKENDS = {
    "none": "",
    "console": "bankportal.notifications.backends.ConsoleArsBackend",
    "outbox": "bankportal.notifications.backends.OutboxArsBackend",
    "http": "bankportal.notifications.backends.HttpGatewayArsBackend",
}
ARS_BACKEND = ARS_BACKENDS[env_choice("ARS_BACKEND", "outbox" if DEBUG else "none", ARS_BACKENDS)]
ARS_GATEWAY_URL = env_url("ARS_GATEWAY_URL", schemes=("https", "http"))
ARS_GATEWAY_TOKEN = env_secret("ARS_GATEWAY_TOKEN") or ""
if not ARS_GATEWAY_URL and ARS_BACKENDS["http"] == ARS_BACKEND:
    raise ImproperlyConfigured("ARS_BACKEND=http needs ARS_GATEWAY_URL")

EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "outbox": "bankportal.notifications.backends.OutboxEmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}
EMAIL_BACKEND = EMAIL_BACKENDS[env_choice("EMAIL_BACKEND", "outbox" if DEBUG else "smtp", EMAIL_BACKENDS)]
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, min_value=1, max_value=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "no-reply@dasombank.example")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Delivery of queued notifications (bankportal.notifications.services): attempts with exponential
# backoff (base, 2×base, 4×base ... capped), then "failed"; a row left "sending" longer than the
# timeout (a worker died mid-delivery) is marked failed for review, never resent.
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 5, min_value=1, max_value=20)
NOTIFICATION_RETRY_BASE_SECONDS = env_int("NOTIFICATION_RETRY_BASE_SECONDS", 30, min_value=1, max_value=3600)
NOTIFICATION_RETRY_MAX_SECONDS = env_int("NOTIFICATION_RETRY_MAX_SECONDS", 1800, min_value=1, max_value=6 * 3600)
NOTIFICATION_SENDING_TIMEOUT_SECONDS = env_int("NOTIFICATION_SENDING_TIMEOUT_SECONDS", 600, min_value=60)
if 2 * max(SMS_GATEWAY_TIMEOUT, EMAIL_TIMEOUT) >= NOTIFICATION_SENDING_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("NOTIFICATION_SENDING_TIMEOUT_SECONDS must exceed twice the gateway timeouts")

# --- Internationalisation: Korean by default, English available; business time is KST.
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

# --- Static files: served by WhiteNoise (no CDN).
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security headers. CSP forbids inline scripts everywhere, DEBUG or not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CSRF_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, min_value=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- PKI: our own certificate authority for joint certificates (certcenter; `manage.py ca_init`).
# PKI_BASE_URL is written into every customer certificate (CRL distribution point, OCSP and CA
# issuer URLs), so it must be the public address relying parties reach, and it cannot change for
# certificates already issued.
PKI_BASE_URL = env_url("PKI_BASE_URL", "http://127.0.0.1:8000" if DEBUG else "", schemes=("https", "http"))
if not PKI_BASE_URL:
    raise ImproperlyConfigured("PKI_BASE_URL must be set when DEBUG is off (e.g. https://bank.example)")
PKI_BASE_URL = PKI_BASE_URL.rstrip("/")
# Encrypts the CA private keys at rest (PKCS#8, PBES2). Without it nothing can be signed, and with a
# different one the stored keys do not open: keep it (and a backup of it) outside the database.
_DEV_CA_KEY_PASSPHRASE = "dev-" + _dev_key("ca-key-passphrase")
CA_KEY_PASSPHRASE = _dev_only("CA_KEY_PASSPHRASE", env_secret("CA_KEY_PASSPHRASE"), _DEV_CA_KEY_PASSPHRASE)
if not DEBUG and (len(CA_KEY_PASSPHRASE) < 16 or CA_KEY_PASSPHRASE == _DEV_CA_KEY_PASSPHRASE):
    raise ImproperlyConfigured("CA_KEY_PASSPHRASE must be at least 16 characters and not the development one")
# Subject organisation (O) of our CA certificates and the stem of their common names (CN).
BANK_CA_NAME = env_str("BANK_CA_NAME", BANK_NAME_EN).strip()
if not BANK_CA_NAME or len(BANK_CA_NAME) > 48:  # room for " Issuing CA" in a 64-character CN
    raise ImproperlyConfigured("BANK_CA_NAME must be 1-48 characters")

# --- Financial certificate cloud (certcenter/cloud, app label "fincloud"): the clearing house's role.
# CLOUD_KEK is the key ring ("id:base64-32-bytes[,older...]", newest first, like FIELD_ENCRYPTION_KEYS)
# whose keys wrap each cloud private key's data key and key the PIN verifiers: keep it outside the
# database and its backups, so a dump alone opens no key and allows no offline PIN guessing. Older
# ids still unwrap (a key moves to the newest at its next correct PIN); without its id a key does not
# open at all. Never shared with the field-encryption or account-password rings.
CLOUD_KEK = _dev_only("CLOUD_KEK", env_secret("CLOUD_KEK"), "dev1:" + _dev_key("cloud-kek"))
check_rings_disjoint(
    ("FIELD_ENCRYPTION_KEYS", parse_key_ring(FIELD_ENCRYPTION_KEYS)),
    ("ACCOUNT_PIN_KEY", parse_key_ring(ACCOUNT_PIN_KEY, name="ACCOUNT_PIN_KEY")),
    ("CLOUD_KEK", parse_key_ring(CLOUD_KEK, name="CLOUD_KEK")),
)
# The cloud the portal talks to (certcenter.cloud.api.financial_cloud): a class with the FinancialCloud
# interface. The default runs it in this process on this database.
FINANCIAL_CLOUD = env_str("FINANCIAL_CLOUD", "certcenter.cloud.local.LocalCloud").strip()
# CRL and OCSP clients fetch over plain HTTP (RFC 5280 4.2.1.13, RFC 6960 A.1) and do not follow
# redirects; the answers are signed, so /pki/ stays reachable without TLS when PKI_BASE_URL says http.
if not DEBUG and PKI_BASE_URL.startswith("http://"):
    SECURE_REDIRECT_EXEMPT = [*SECURE_REDIRECT_EXEMPT, r"^pki/"]
# The daily CRL (also regenerated on every revocation and when a request finds it out of date).
CELERY_BEAT_SCHEDULE["pki-crl-nightly"] = {
    "task": "certcenter.tasks.crl_regenerate_task",
    "schedule": crontab(hour=0, minute=30),
    "options": {"expires": 60 * 60},
}
# Other institutions' CRLs: download each active trusted CA's CRL from its CRL URL, every hour at
# :35 (a CA's CRL may be valid for only a day; a stale one refuses all that CA's certificates).
CELERY_BEAT_SCHEDULE["trusted-crl-refresh-hourly"] = {
    "task": "certcenter.tasks.trusted_authorities_crl_refresh_task",
    "schedule": crontab(minute=35),
    "options": {"expires": 30 * 60},
}
# Joint certificates: mark the expired ones, then renewal-window notices and 7-day reminders (KST).
CELERY_BEAT_SCHEDULE["certificates-daily"] = {
    "task": "certcenter.tasks.certificates_daily_task",
    "schedule": crontab(hour=0, minute=40),
    "options": {"expires": 60 * 60},
}
# Certificate copies: empty expired payloads; delete copies and login challenges a day past expiry (KST).
CELERY_BEAT_SCHEDULE["certcenter-housekeeping-nightly"] = {
    "task": "certcenter.tasks.certcenter_housekeeping_task",
    "schedule": crontab(hour=0, minute=50),
    "options": {"expires": 60 * 60},
}
# Certificate copies not picked up: their ciphertext is emptied within a minute of expiry.
CELERY_BEAT_SCHEDULE["certificate-copies-purge"] = {
    "task": "certcenter.tasks.certificate_copies_purge_task",
    "schedule": 60.0,
    "options": {"expires": 55},
}

# --- Transfers (issue 9)
# The bank's transfer maxima by customer kind and security tier, and the cap of a minor who signed
# up alone (domain.md, "Transfer limits by security tier"). Whole won. The regulation has changed
# before: change the numbers here (reviewed), the rules in accounts/limits.py read this dict.
TRANSFER_LIMIT_MAXIMA = {
    "individual": {
        "safe": {"per_transfer": 100_000_000, "per_day": 500_000_000},  # OTP
        "general": {"per_transfer": 10_000_000, "per_day": 50_000_000},  # security card
    },
    # Corporate banking needs an OTP card: no "general" row, so a card alone allows nothing.
    "corporate": {"safe": {"per_transfer": 1_000_000_000, "per_day": 5_000_000_000}},
    "minor_cap": {"per_transfer": 1_000_000, "per_day": 3_000_000},
}
# Financial institution codes for interbank transfers (domain.md, "Reference data"): code ->
# (Korean name, English name). Our own BANK_CODE is never a destination "at another bank".
INTERBANK_INSTITUTIONS = {
    "002": ("KDB산업은행", "KDB"),
    "003": ("IBK기업은행", "IBK"),
    "004": ("KB국민은행", "KB Kookmin"),
    "007": ("수협은행", "Suhyup"),
    "011": ("NH농협은행", "NH NongHyup"),
    "012": ("지역농축협", "Local Nonghyup/Chukhyup"),
    "020": ("우리은행", "Woori"),
    "023": ("SC제일은행", "SC First"),
    "027": ("한국씨티은행", "Citi Korea"),
    "031": ("iM뱅크", "iM (Daegu)"),
    "032": ("부산은행", "Busan"),
    "034": ("광주은행", "Gwangju"),
    "035": ("제주은행", "Jeju"),
    "037": ("전북은행", "Jeonbuk"),
    "039": ("경남은행", "Kyongnam"),
    "045": ("새마을금고", "MG Saemaul Geumgo"),
    "048": ("신협", "Shinhyup"),
    "050": ("저축은행", "Savings banks"),
    "071": ("우체국", "Korea Post"),
    "081": ("하나은행", "Hana"),
    "088": ("신한은행", "Shinhan"),
    "089": ("케이뱅크", "K bank"),
    "090": ("카카오뱅크", "Kakao Bank"),
    "092": ("토스뱅크", "Toss Bank"),
}
if BANK_CODE in INTERBANK_INSTITUTIONS:
    raise ImproperlyConfigured(f"BANK_CODE {BANK_CODE} is a real institution's code; use an unused one")
# The interbank gateway the clearing job hands queued transfers to (dotted path to a class with
# ``recipient_name(bank_code, account_number)`` and ``send(transfer)``; accounts/services/clearing.py).
# Empty: no gateway, so transfers to other banks are refused and the clearing job sends nothing.
# The simulator (accepts everything except account numbers ending in one of
# INTERBANK_SIMULATOR_REFUSED_SUFFIXES, reported as closed: the money comes back) is the default
# only with DEBUG on: in production it would "send" money that never leaves the bank, so there
# the default is no gateway, and `check --deploy` warns if it is set explicitly (accounts.W001).
INTERBANK_GATEWAY = env_str("INTERBANK_GATEWAY", "accounts.services.clearing.SimulatedGateway" if DEBUG else "").strip()
INTERBANK_SIMULATOR_REFUSED_SUFFIXES = env_list("INTERBANK_SIMULATOR_REFUSED_SUFFIXES", ["0000"])
INTERBANK_CLEARING_CHUNK = env_int("INTERBANK_CLEARING_CHUNK", 200, min_value=1, max_value=5000)
# The outbound queue: queued other-bank transfers go to the gateway every minute.
CELERY_BEAT_SCHEDULE["interbank-clearing"] = {
    "task": "accounts.tasks.interbank_clearing_task",
    "schedule": 60.0,
    "options": {"expires": 55},
}

# --- Logging: to stdout; resident numbers are masked by a filter before any handler sees them.
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_rrn": {"()": "bankportal.logging.MaskResidentNumbersFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_rrn"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # runserver's request log has its own handler by default; route it through the mask too
        # (an admin search URL may carry a resident number).
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
