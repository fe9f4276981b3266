"""Settings for the test suite: the real settings with test-only defaults."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-key-not-used-anywhere-else")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# DEBUG is off, so the seller must be set: the demo company that DEBUG on would give.
os.environ.setdefault("SELLER_UBN", "22099131")
os.environ.setdefault("SELLER_NAME", "示範數位服務股份有限公司")
os.environ.setdefault("SELLER_ADDRESS", "臺北市信義區市府路1號")
# DEBUG is off, so the channel tokens' key must be set too: a throwaway one, for tests only.
os.environ.setdefault("MESSAGING_TOKEN_KEY", "dGVzdC1vbmx5LW1lc3NhZ2luZy10b2tlbi1rZXktMzI=")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests serve static files through the finders; there is no collected STATIC_ROOT.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
