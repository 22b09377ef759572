"""Coinpurse settings: one module, every value from the environment (django-environ).

A `.env` file is read when present; `.env.example` lists every variable. With DEBUG off the
development secrets are refused, so a production server cannot start with them.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

DEV_SECRET_KEY = "dev-only-secret-key-not-for-production"  # noqa: S105  # nosec B105
DEV_CODE_PEPPER = "dev-only-code-pepper-not-for-production"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
CODE_PEPPER = env.str("CODE_PEPPER", default=DEV_CODE_PEPPER)
if not DEBUG:
    if SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    if CODE_PEPPER == DEV_CODE_PEPPER:
        raise ImproperlyConfigured("CODE_PEPPER must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
DEFAULT_REGION = env.str("DEFAULT_REGION", default="US")

INSTALLED_APPS = [
    "config.admin_site.CoinpurseAdminConfig",  # django.contrib.admin, ids answer 404
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "crispy_forms",
    "crispy_bootstrap5",
    "catalog",
    "accounts",
    "wallet",
    "promotions",
    "checkout",
    "subscriptions",
    # Background jobs: Django's tasks framework, stored in the database (docs/worker.md).
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Value-moving staff need two-factor for /admin/ (after auth, messages and allauth).
    "accounts.staff_access.StaffTwoFactorMiddleware",
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
                "accounts.context_processors.user_itself",  # after `auth`: its `user`, unwrapped
                "django.contrib.messages.context_processors.messages",
                "wallet.context_processors.wallet_balance",
                # The nav bar's cart count: one query for a shopper (issue 8, shopper pages).
                "checkout.context_processors.cart_count",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var/db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE: a writer takes the database lock when its transaction begins, so concurrent
    # writers queue instead of failing half-way with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            # WAL: readers never wait for the writer; NORMAL is durable across a crash of the
            # app and only loses the last commits on a power cut, fine for the embedded demo.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The hot fixed statements are prepared once per PostgreSQL connection (config/prepared.py);
# off behind a pooler that cannot keep a session's prepared statements.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)

# Shared cache (Redis): the claim-code guessing limits and allauth's sign-in limits count in it,
# so every process on every host must share one: with DEBUG off it is required. Unreachable, it
# fails safe, never a 500: redemption and the code box refuse with 503 `unavailable` and write
# nothing (wallet/guessing.py); any other page that needs it answers a 503 page
# (config/cache_outage.py). Short socket timeouts: a cache that hangs answers that way within a
# second or two instead of holding the worker for the client's default of 5 s per call.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",  # one client per pool (config/cache.py)
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
elif not DEBUG:
    raise ImproperlyConfigured(
        "REDIS_URL must be set when DEBUG is off (the guessing and sign-in limits need a shared "
        "cache)."
    )
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions: in the database, read from a copy in the shared cache (no query per page); the
# database alone while the cache is unreachable (config/sessions.py).
SESSION_ENGINE = "config.sessions"
MIDDLEWARE += ["config.cache_outage.CacheOutageMiddleware"]  # last: it sees the views' errors
# A signed-in person's pages show their balance in the navigation: never cached.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "config.private_pages.PrivatePagesMiddleware",
)

# Client address (accounts/network.py): how many proxies of ours stand in front of the app,
# each appending to X-Forwarded-For. 0: REMOTE_ADDR, the header is ignored. allauth's limits
# use the same address (accounts/adapter.py); its own setting is kept equal for any other use.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Wallet page speed (issue 13): the same two backends, each reading the signed-in user with
# their region in one query (accounts/auth_backends.py). A session signed in before names the
# old path: config/sessions.py renames it as it loads, so nobody is signed out.
AUTHENTICATION_BACKENDS = [
    "accounts.auth_backends.ShopperModelBackend",
    "accounts.auth_backends.ShopperAllauthBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "wallet:overview"

# django-allauth: e-mail is the login; the sign-up form adds the region.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupRegionForm"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Coinpurse"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# EMAIL_URL (django-environ's e-mail URL) becomes Django 6.1's MAILERS entry; the console by
# default (docs/interface.md §2). Production must set it: `check --deploy` refuses the console
# (mail.E001).
_email = env.email_url("EMAIL_URL", default="consolemail://")
_email_options = {
    option: _email[key]
    for key, option in [
        ("EMAIL_HOST", "host"),
        ("EMAIL_PORT", "port"),
        ("EMAIL_HOST_USER", "username"),
        ("EMAIL_HOST_PASSWORD", "password"),
        ("EMAIL_USE_TLS", "use_tls"),
        ("EMAIL_USE_SSL", "use_ssl"),
    ]
    if _email.get(key) not in (None, "")
}
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": _email_options if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend") else {},
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Coinpurse <shop@coinpurse.example>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False

# Wallet: claim-code guessing limits (docs/interface.md §7).
REDEEM_LIMIT_PER_USER = env.int("REDEEM_LIMIT_PER_USER", default=10)
REDEEM_LIMIT_PER_IP = env.int("REDEEM_LIMIT_PER_IP", default=30)
REDEEM_WINDOW_SECONDS = env.int("REDEEM_WINDOW_SECONDS", default=10 * 60)
REDEEM_LOCKOUT_SECONDS = env.int("REDEEM_LOCKOUT_SECONDS", default=30 * 60)
WALLET_ACTIVITY_PAGE_SIZE = 20


# Staff two-person rules (wallet/services/thresholds.py): a staff batch or balance adjustment
# above its threshold -- alone, or with the same person's auto-approved ones of the last 24
# hours -- waits for another staff member. Amounts are major units, per currency. From the
# environment: a django-environ dict (`GIFTCARD_APPROVAL_MAX_TOTAL=USD=5000,JPY=750000`; the
# currencies it names replace these defaults) or, as before, one number for every currency.
def _per_currency(name: str, default: dict[str, str]) -> dict[str, str]:
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    if "=" not in raw:
        return dict.fromkeys(default, raw)
    return {
        **default,
        **{key.strip().upper(): value.strip() for key, value in env.dict(name).items()},
    }


GIFTCARD_APPROVAL_MAX_CARDS = env.int("GIFTCARD_APPROVAL_MAX_CARDS", default=50)
GIFTCARD_APPROVAL_MAX_TOTAL = _per_currency(
    "GIFTCARD_APPROVAL_MAX_TOTAL", {"USD": "5000", "GBP": "4000", "EUR": "4500", "JPY": "750000"}
)
BALANCE_ADJUSTMENT_APPROVAL_MAX = _per_currency(
    "BALANCE_ADJUSTMENT_APPROVAL_MAX", {"USD": "500", "GBP": "400", "EUR": "450", "JPY": "75000"}
)
# The largest batch the admin issues (its download streams through one request); larger ones
# go through `manage.py issue_giftcards`.
GIFTCARD_ADMIN_MAX_CARDS = env.int("GIFTCARD_ADMIN_MAX_CARDS", default=10_000)

# Staff, points and coins (wallet/services/thresholds.py): a staff adjustment of a shopper's
# points (PTS) or coins (CNS) above this -- alone, or with the same person's applied-alone
# ones of the last 24 hours -- waits for another staff member. Whole points and coins; read
# from the environment as the thresholds above (`POINTS_COINS_ADJUSTMENT_APPROVAL_MAX=PTS=2000`).
POINTS_COINS_ADJUSTMENT_APPROVAL_MAX = _per_currency(
    "POINTS_COINS_ADJUSTMENT_APPROVAL_MAX", {"PTS": "5000", "CNS": "5000"}
)

# Promotions, staff two-person rule (promotions/approval.py): a promotion whose value in a
# currency -- the most it can give there in total: its budget, or one use's most times its
# total limit; no bound at all counts as above -- is above this waits for a second staff
# member. Major units per currency, read from the environment as the gift card totals are.
PROMOTION_APPROVAL_MAX_VALUE = _per_currency(
    "PROMOTION_APPROVAL_MAX_VALUE", {"USD": "1000", "GBP": "800", "EUR": "900", "JPY": "150000"}
)


# Promotions, orders (checkout/services/refunds.py): a full refund or a cancellation gives the
# order's promotion uses back (total, per-shopper, budget, single-use code).
PROMOTION_RELEASE_ON_REFUND = env.bool("PROMOTION_RELEASE_ON_REFUND", default=True)

# Production hardening: on whenever DEBUG is off (`manage.py check --deploy` stays clean).
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Checkout: the card payment provider (checkout/payments.py) and the order e-mail.
PAYMENT_PROVIDER = env.str("PAYMENT_PROVIDER", default="checkout.payments.TestGateway")

# Trust hardening, edges (docs/interface.md §9): a dropped database connection is noticed
# before a request uses it, and every page carries a Content-Security-Policy with no inline
# script (our own JavaScript lives in static/js/, the admin's in its static files).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
# A NUL byte in a URL is a 404 before any view (PostgreSQL would refuse it in a query: a 500);
# after the user is known, so the 404 page shows the shop's navigation as on any other page.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "config.nul_bytes.NulBytesMiddleware",
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # Bootstrap draws its icons as data: SVGs
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Shop e-mails (config/mail.py, templates/email/): links in a message are absolute, built from
# SITE_URL (messages are sent after commit, without a request, and never from a Host header).
SITE_URL = env.str("SITE_URL", default="http://localhost:8000")

# Background jobs (docs/worker.md): Django's tasks framework. The embedded default keeps the
# queue in the shop's own database (django-tasks-db; `manage.py db_worker` runs it, and
# `make run` starts one beside the server). TASKS_BACKEND names another backend for
# production, e.g. `django_tasks_redis.RedisTaskBackend` (the `redis-worker` extra) on REDIS_URL.
TASKS_BACKEND = env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend")
TASKS = {"default": {"BACKEND": TASKS_BACKEND, "QUEUES": ["default"]}}
# A job that fails is tried again after 1, 2, 4, … minutes (capped at JOB_RETRY_MAX_DELAY
# seconds), at most JOB_MAX_ATTEMPTS times in all; then it stays failed for staff to see.
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=5)
JOB_RETRY_BASE_DELAY = env.int("JOB_RETRY_BASE_DELAY", default=60)
JOB_RETRY_MAX_DELAY = env.int("JOB_RETRY_MAX_DELAY", default=60 * 60)
# Periodic work (`manage.py run_schedule`, docs/worker.md): (task path, every N seconds).
PERIODIC_TASKS = [
    ("checkout.tasks.giftcard_deliveries_due", 60),
    ("checkout.reload_tasks.card_reloads_pending_complete", 300),
    ("wallet.tasks.credit_expire", 3600),
]

# Buying gift cards (docs/interface.md §12): the listed denominations and the custom amount's
# limits per region, in major units of the region's currency.
GIFTCARD_DENOMINATIONS = {
    "US": ["25", "50", "100"],
    "GB": ["25", "50", "100"],
    "FR": ["25", "50", "100"],
    "DE": ["25", "50", "100"],
    "JP": ["3000", "5000", "10000"],
}
GIFTCARD_CUSTOM_LIMITS = {
    "US": ("5", "500"),
    "GB": ("5", "500"),
    "FR": ("5", "500"),
    "DE": ("5", "500"),
    "JP": ("500", "50000"),
}
GIFTCARD_MAX_PER_CART = env.int("GIFTCARD_MAX_PER_CART", default=10)
# Reloading a balance by card, same shape (major units).
RELOAD_AMOUNTS = {
    "US": ["25", "50", "100"],
    "GB": ["25", "50", "100"],
    "FR": ["25", "50", "100"],
    "DE": ["25", "50", "100"],
    "JP": ["3000", "5000", "10000"],
}
RELOAD_LIMITS = GIFTCARD_CUSTOM_LIMITS

# The worker on Redis (docs/worker.md): TASKS_BACKEND=django_tasks_redis.RedisTaskBackend (the
# `redis-worker` extra, a backend of Django's own tasks framework) keeps the queue in REDIS_URL's
# Redis; `manage.py run_redis_tasks --continuous` runs it (deferred jobs included: retries after
# their back-off, deliveries on their day).
if TASKS_BACKEND.startswith("django_tasks_redis."):
    INSTALLED_APPS += ["django_tasks_redis"]
    TASKS["default"]["OPTIONS"] = {"REDIS_URL": REDIS_URL or "redis://127.0.0.1:6379/0"}

# Gift card bonus offers (promotions, docs/promotions.md "Gift card bonus"): the sweep that
# grants a paid order's bonus credit when the hook after the capture did not.
PERIODIC_TASKS = [*PERIODIC_TASKS, ("checkout.bonus_tasks.giftcard_bonuses_due", 300)]

# Reward points (docs/points.md): release the points whose 14 days pending are over, and sweep
# for delivered orders whose points a hook missed (both idempotent).
PERIODIC_TASKS = [
    *PERIODIC_TASKS,
    ("wallet.tasks.points_release_due", 3600),
    ("checkout.points_tasks.order_points_due", 3600),
]

# Coin packs (docs/points.md): credit the packs of paid orders whose hook after the capture
# failed (idempotent: one credit per order).
PERIODIC_TASKS = [*PERIODIC_TASKS, ("checkout.coin_tasks.coin_packs_due", 300)]

# Subscribe & Save (docs/subscriptions.md): the day's deliveries and reminders, once a day (each
# run is also a retry of a period whose payment failed: at most SUBSCRIPTION_PAYMENT_RETRIES
# runs after the first attempt, then the subscription pauses). Idempotent: one order per
# subscription and period however often it runs.
PERIODIC_TASKS = [*PERIODIC_TASKS, ("subscriptions.tasks.subscriptions_due", 86400)]
SUBSCRIPTION_PAYMENT_RETRIES = 3
SUBSCRIPTION_REMINDER_DAYS = 3
# Percent off each delivery, and from how many active subscriptions the larger one applies.
SUBSCRIPTION_DISCOUNT_PERCENT = 5
SUBSCRIPTION_DISCOUNT_PERCENT_MANY = 10
SUBSCRIPTION_DISCOUNT_MANY_FROM = 5

# Demo data (`seed_demo`, docs/interface.md §4): the apps checkout may not import seed their
# own demo rows through these dotted paths, called in order after checkout's; each returns a
# short phrase for the command's one summary line.
DEMO_SEEDERS = ["subscriptions.demo.subscriptions_seed"]

# HTTP under load (bench/http_load.py, scripts/test-http.sh): where `collectstatic` writes, so a
# throwaway server collects into its own folder instead of the shared var/staticfiles.
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(STATIC_ROOT)))
