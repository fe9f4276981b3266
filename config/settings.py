"""Settings for the LINE OA billing back-office.

Everything that differs between a laptop and production is read from the environment
(or a `.env` file beside manage.py) with django-environ. See `.env.example` and the README.
"""

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

# Plain functions only: settings must not import models, which need the settings to load.
from invoices.carriers import carrier_type_problem
from invoices.validators import ubn_is_valid
from usage.tokens import token_keys

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY in the environment or in .env (see .env.example).")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The site's address as admins reach it (scheme, host, port): an e-mail has no request to take a host from, so
# every link in one starts with this. The default is `make run`'s.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").strip().rstrip("/")
if not re.fullmatch(r"https?://[^/?#\s]+", SITE_URL):
    raise ImproperlyConfigured(
        f"SITE_URL={SITE_URL!r} is not a site's address: a scheme and a host, e.g. https://billing.example.tw."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "bootstrap",
    "django_htmx",
    "accounts",
    "billing",
    "payments",
    "promos",
    "invoices",
    "usage",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.line",
    "axes",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RefuseUnstorableInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Security headers (config/security.py): the CSP with its nonce, no-store, Permissions-Policy
    "config.security.ContentSecurityPolicyMiddleware",
    "config.security.SecurityHeadersMiddleware",
    # django-axes last, as its docs ask: it turns a locked-out log-in into the lockout page
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.channel",
                "accounts.line_login.line_login",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves several requests at once (runserver's threads): readers never wait for the
    # writer (WAL); a writer takes the write lock when its transaction begins (IMMEDIATE), so two purchases
    # queue instead of one failing on upgrading its read lock; and a queued writer waits up to 20 s.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "billing:account_list"
LOGOUT_REDIRECT_URL = "login"

# --- 以LINE登入: django-allauth's LINE provider, under /auth/ ----------------------------------
# Django's own LoginView at /login/ (and the admin's) stays the username/password log-in; allauth adds
# only the LINE social log-in. Its own e-mail/password sign-up, password reset and e-mail pages are off.
# allauth's own authentication backend is left out: nobody logs in through allauth's password form.
# django-axes' backend comes first: it refuses a locked-out username or client before the password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
SOCIALACCOUNT_ONLY = True
ACCOUNT_ADAPTER = "accounts.line_login.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.line_login.SocialAccountAdapter"
ACCOUNT_USER_DISPLAY = "accounts.line_login.user_display"
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_STORE_TOKENS = False
# The callback URL sent to LINE (https://<host>/auth/line/login/callback/) is https outside development.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
LINE_LOGIN_CHANNEL_ID = env.str("LINE_LOGIN_CHANNEL_ID", default="")
LINE_LOGIN_CHANNEL_SECRET = env.str("LINE_LOGIN_CHANNEL_SECRET", default="")
SOCIALACCOUNT_PROVIDERS = {
    "line": {
        "SCOPE": ["profile", "openid"],
        "OAUTH_PKCE_ENABLED": True,
    }
}
if LINE_LOGIN_CHANNEL_ID and LINE_LOGIN_CHANNEL_SECRET:
    SOCIALACCOUNT_PROVIDERS["line"]["APP"] = {
        "client_id": LINE_LOGIN_CHANNEL_ID,
        "secret": LINE_LOGIN_CHANNEL_SECRET,
    }

# --- Password guessing (django-axes): /login/ and /admin/login/ ------------------------------
# After AXES_FAILURE_LIMIT wrong passwords for one username, or from one client, log-in is refused (429, the
# page of config.security.login_locked_out) for AXES_COOLOFF_MINUTES. Staff unlock sooner with `manage.py
# axes_reset_username <username>`, `axes_reset_ip <address>` or `axes_reset`, or by deleting the access
# attempt in the admin. The client is the address our rate limits use (the TLS proxy's, when behind one).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.security.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "accounts.http.client_address"
AXES_VERBOSE = False  # no banner in every command's output; lockouts are still logged

# Billing periods are calendar months in Taipei; every "today" in the code is this zone's.
TIME_ZONE = "Asia/Taipei"
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "zh-hant"
LANGUAGES = [("zh-hant", _("Traditional Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]  # numbers in threes with a comma in zh-Hant too (see the module)

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@localhost")

# Sensitive variables and POST fields (card numbers, CVCs, gateway secrets) stay hidden on DEBUG 500 pages too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.debug.AlwaysSafeExceptionReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Billing rules (SPEC §2) ---------------------------------------------------------------
# Business tax added to what is left after a code's deduction.
BILLING_TAX_RATE = Decimal(env.str("BILLING_TAX_RATE", default="0.05"))
# LINE's documented behaviour prorates free→paid upgrades by the days left in the month;
# the seed's figures (and so the default) charge the whole fee difference.
BILLING_PRORATE_FREE_TO_PAID = env.bool("BILLING_PRORATE_FREE_TO_PAID", default=False)
# Days of the month on which a failed renewal is retried.
BILLING_RETRY_DAYS = env.list("BILLING_RETRY_DAYS", cast=int, default=[1, 3, 5, 7])
# LINE's rule: a renewal declined on the main method is charged to the account's other usable methods in turn
# (the most recently used first), each its own order, before the account is past due.
BILLING_TRY_OTHER_METHODS = env.bool("BILLING_TRY_OTHER_METHODS", default=True)

# --- Payment gateways (SPEC §5) ------------------------------------------------------------
PAYMENTS_GATEWAY = env.str("PAYMENTS_GATEWAY", default="sandbox")
# The sandbox answers a charge after this many milliseconds (to measure renewals against latency).
SANDBOX_CHARGE_DELAY_MS = env.int("SANDBOX_CHARGE_DELAY_MS", default=0)
# Renewals send charges to a one-order-per-request gateway (LINE Pay, TapPay) this many at once, per worker.
PAYMENTS_MAX_IN_FLIGHT = env.int("PAYMENTS_MAX_IN_FLIGHT", default=8)
# The same for each real gateway (neither LINE Pay's nor TapPay's documentation we hold states a rate limit: raise
# these to what the gateway confirms, up to 64); each defaults to PAYMENTS_MAX_IN_FLIGHT.
PAYMENTS_MAX_IN_FLIGHT_LINEPAY = env.int("PAYMENTS_MAX_IN_FLIGHT_LINEPAY", default=PAYMENTS_MAX_IN_FLIGHT)
PAYMENTS_MAX_IN_FLIGHT_TAPPAY = env.int("PAYMENTS_MAX_IN_FLIGHT_TAPPAY", default=PAYMENTS_MAX_IN_FLIGHT)
LINEPAY_CHANNEL_ID = env.str("LINEPAY_CHANNEL_ID", default="")
LINEPAY_CHANNEL_SECRET = env.str("LINEPAY_CHANNEL_SECRET", default="")
LINEPAY_SANDBOX = env.bool("LINEPAY_SANDBOX", default=True)
# Empty: sandbox-api-pay.line.me when LINEPAY_SANDBOX, else api-pay.line.me. Tests point it at a fake server.
LINEPAY_API_BASE = env.str("LINEPAY_API_BASE", default="")
TAPPAY_PARTNER_KEY = env.str("TAPPAY_PARTNER_KEY", default="")
TAPPAY_MERCHANT_ID = env.str("TAPPAY_MERCHANT_ID", default="")
TAPPAY_SANDBOX = env.bool("TAPPAY_SANDBOX", default=True)
# Empty: sandbox.tappaysdk.com when TAPPAY_SANDBOX, else prod.tappaysdk.com.
TAPPAY_API_BASE = env.str("TAPPAY_API_BASE", default="")
# The front-end SDK (TPDirect) credentials: public, shown to the browser; never the partner key.
TAPPAY_APP_ID = env.str("TAPPAY_APP_ID", default="")
TAPPAY_APP_KEY = env.str("TAPPAY_APP_KEY", default="")
# Every gateway call: seconds to connect, and to wait for the answer (LINE Pay's preapproved pay may take
# long; TapPay advises 30 s). A call that runs out is read back from the gateway, never guessed.
GATEWAY_CONNECT_TIMEOUT_SECONDS = env.float("GATEWAY_CONNECT_TIMEOUT_SECONDS", default=5.0)
GATEWAY_TIMEOUT_SECONDS = env.float("GATEWAY_TIMEOUT_SECONDS", default=40.0)

# --- Messaging API (訊息用量, SPEC §7): reading each account's usage through its channel ------------
# Channel access tokens are stored encrypted with this Fernet key (several, comma-separated, to rotate: the first
# encrypts). Required with DEBUG off; with DEBUG on and none set, one is derived from SECRET_KEY.
MESSAGING_TOKEN_KEYS = token_keys(env.str("MESSAGING_TOKEN_KEY", default=""), debug=DEBUG, secret_key=SECRET_KEY)
# Empty: LINE's own host (https://api.line.me). Tests point it at a fake server.
LINE_MESSAGING_API_BASE = env.str("LINE_MESSAGING_API_BASE", default="")
# Seconds to connect to the Messaging API, and to wait for its answer.
LINE_MESSAGING_API_CONNECT_TIMEOUT_SECONDS = env.float("LINE_MESSAGING_API_CONNECT_TIMEOUT_SECONDS", default=5.0)
LINE_MESSAGING_API_TIMEOUT_SECONDS = env.float("LINE_MESSAGING_API_TIMEOUT_SECONDS", default=10.0)

# --- Production hardening: on whenever DEBUG is off ---------------------------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]  # a load balancer's health check may come over plain HTTP
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env.bool("BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"  # the sandbox's hosted card fields alone allow same-origin framing

# --- Content-Security-Policy (django-csp 4) ------------------------------------------------
# Only our own files, and inline <script>/<style> that carry the page's nonce ({{ request.csp_nonce }}).
# Bootstrap's CSS draws a few icons as data: images. config/security.py sets frame-ancestors per page and
# adds TapPay's hosts on the card page when cards go to TapPay.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- E-invoice seller (SPEC §4): printed on every invoice and in the MIG 4.1 export ----------
# An invoice is a tax document in the seller's name, so production must say who the seller is: with DEBUG off
# all three are required. With DEBUG on (make run, the demo data) a demo company stands in for any left empty.
seller = {
    "SELLER_UBN": env.str("SELLER_UBN", default="").strip(),
    "SELLER_NAME": env.str("SELLER_NAME", default="").strip(),
    "SELLER_ADDRESS": env.str("SELLER_ADDRESS", default="").strip(),
}
demo_seller = {
    "SELLER_UBN": "22099131",
    "SELLER_NAME": "示範數位服務股份有限公司",
    "SELLER_ADDRESS": "臺北市信義區市府路1號",
}
if not DEBUG and (missing := [name for name, value in seller.items() if not value]):
    raise ImproperlyConfigured(
        f"Set {', '.join(missing)} in the environment or in .env: the seller's 統一編號, registered name and "
        "address are printed on every e-invoice. Only with DEBUG on does a demo company stand in (see .env.example)."
    )
SELLER_UBN, SELLER_NAME, SELLER_ADDRESS = (value or demo_seller[name] for name, value in seller.items())
if not ubn_is_valid(SELLER_UBN):
    raise ImproperlyConfigured(
        f"SELLER_UBN={SELLER_UBN!r} is not a valid 統一編號: 8 digits that pass the Ministry of Finance's check."
    )
# The 種子密碼 the seller set on the e-invoice platform (密碼及種子管理(QRCode)): the AES key of the QR codes on a
# B2C 證明聯 is derived from it (invoices/qr.py). A secret: never logged, hidden from error reports (its name
# holds PASS). Empty: the proof says its QR codes are not available rather than print codes the platform rejects.
EINVOICE_QR_SEED_PASSWORD = env.str("EINVOICE_QR_SEED_PASSWORD", default="")
# Who is e-mailed, the day before, the MIG messages due for upload and not confirmed uploaded
# (send_einvoice_deadline_reminders). Empty: every active staff user with an e-mail address.
EINVOICE_REMINDER_EMAILS = env.list("EINVOICE_REMINDER_EMAILS", default=[])
# The CarrierType code MOF assigned to the seller as an approved carrier platform (e.g. EJ0113). Only then is the
# 會員載具 offered (invoices/carriers.py); empty, the default: the seller is not a carrier platform, new profiles
# cannot choose it, and an existing member-carrier profile is asked for another carrier or a printed proof.
EINVOICE_MEMBER_CARRIER_TYPE = env.str("EINVOICE_MEMBER_CARRIER_TYPE", default="").strip().upper()
# Turnkey's EINVTurnkey folder: `export_einvoices` writes messages into its UpCast/…/SRC folders and
# `read_turnkey_results` reads its BAK and ERR folders back onto each EInvoiceMessage (invoices/turnkey.py).
# Empty: give --turnkey.
EINVOICE_TURNKEY_DIR = env.str("EINVOICE_TURNKEY_DIR", default="")
# A folder holding MOF's official MIG 4.1 XSDs (F0401.xsd, F0501.xsd, G0401.xsd, G0501.xsd, E0402.xsd), to check
# every message against them before it is written. Empty: the project's own schemas (invoices/mig_schemas/,
# written from the MIG facts).
EINVOICE_MIG_XSD_DIR = env.str("EINVOICE_MIG_XSD_DIR", default="")
if EINVOICE_MEMBER_CARRIER_TYPE and (problem := carrier_type_problem(EINVOICE_MEMBER_CARRIER_TYPE)):
    raise ImproperlyConfigured(f"EINVOICE_MEMBER_CARRIER_TYPE={EINVOICE_MEMBER_CARRIER_TYPE!r}: {problem}.")
