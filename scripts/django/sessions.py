"""Django's signed session data and session auth hash, as JSON test vectors.

Run by scripts/django-fixtures; its output is
crates/tessera-server/tests/data/django_sessions.json, which the tests of
crates/tessera-server/src/django/signing.rs read (they never run Python).
"""

import json
import sys

import django
from django.conf import settings

settings.configure(
    SECRET_KEY="django-insecure-vectors",
    SECRET_KEY_FALLBACKS=["old-key"],
    USE_TZ=True,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"],
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402

store = SessionStore()
sessions = [
    # A logged-in session, as django.contrib.auth.login() leaves it.
    {"_auth_user_id": "1", "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
     "_auth_user_hash": "f" * 64},
    # Small data is not compressed; larger, repetitive data is (a leading ".").
    {"a": 1},
    {"_auth_user_id": "42", "cart": ["item"] * 50, "_csrftoken": "x" * 32, "note": "h\u00e9llo"},
]
vectors = []
for data in sessions:
    encoded = store.encode(data)
    assert store.decode(encoded) == data
    vectors.append({"session_data": encoded, "decoded": data})
assert any(v["session_data"].startswith(".") for v in vectors), "one compressed vector"

user = User(username="u")
user.set_password("correct horse battery staple")
json.dump(
    {
        "generator": "scripts/django-fixtures (scripts/django/sessions.py)",
        "django": django.get_version(),
        "secret_key": settings.SECRET_KEY,
        "sessions": vectors,
        "auth_hash": {"password_hash": user.password, "session_auth_hash": user.get_session_auth_hash()},
    },
    sys.stdout,
    indent=1,
)
sys.stdout.write("\n")
