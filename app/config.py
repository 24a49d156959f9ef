"""Configuration read from the environment (and ``instance/config.py``)."""

import os


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    # A pooled connection is tested before use: after a PostgreSQL restart each stale one
    # would otherwise fail one more request.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    DATABASE_CONNECT_TIMEOUT = int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5"))  # seconds (PostgreSQL)
    TIMEZONE = os.environ.get("TIMEZONE", "Asia/Shanghai")
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = os.environ.get("TIMEZONE", "Asia/Shanghai")
    LANGUAGES = ("zh_CN", "en")
    # Evidence photos and imports: phones send 2-4 MB JPEGs.
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024
    EVIDENCE_MAX_BYTES = 5 * 1024 * 1024
    API_TOKEN_MAX_AGE = 30 * 24 * 3600
    # Login throttling counts where every gunicorn worker sees it: the app's own database
    # (``database://``, app/auth/throttle.py) unless Redis is named (``redis://host:6379``).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "database://")
    # A store that cannot be reached raises limits' StorageError, answered 503 (never a
    # login let through uncounted, never a 500): app/error_handlers.py.
    RATELIMIT_STORAGE_OPTIONS = {"wrap_exceptions": True}
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per 5 minutes")  # per address and username
    LOGIN_IP_RATE_LIMIT = os.environ.get("LOGIN_IP_RATE_LIMIT", "30 per 5 minutes")  # per address
    # Reverse proxies in front of the app (nginx: 1). Their X-Forwarded-For and -Proto
    # are then believed, so the login limit and the audit log see the phone's address,
    # not the proxy's. 0 (direct): those headers are ignored, as anyone could send them.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None
    API_TITLE = "Moral Bank API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"  # vendored: no CDN on a village LAN
    PER_PAGE_MAX = 500
    # The printed notice board (公示栏): mask heads' names (王*国); name the households
    # with deductions (by default only their count and total are shown).
    NOTICE_MASK_NAMES = os.environ.get("NOTICE_MASK_NAMES") == "1"
    NOTICE_SHOW_DEDUCTION_NAMES = os.environ.get("NOTICE_SHOW_DEDUCTION_NAMES") == "1"
