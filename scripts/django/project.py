"""A real Django REST Framework project about to move to Tessera.

    python project.py --database URL --out FILE --dumpdata FILE

URL is sqlite:///path/db.sqlite3 or postgres://user@host:port/name (an
empty database). The script migrates it, creates users with each of
Django's password hashers (a 1,500,000-iteration PBKDF2, an unusable
password, an unknown algorithm, two usernames differing only in case), DRF
and knox tokens, and logs users in through Django's own test client for real
`sessionid` / `csrftoken` cookies, and groups with members; then writes
what a client holds (the passwords, keys and cookies, and each user's
groups) as JSON to --out, `manage.py dumpdata auth.group auth.user
authtoken.token knox sessions` to --dumpdata, and, with --natural, `dumpdata
auth.group auth.user --natural-foreign` (groups named by natural keys).

Used by crates/tessera-server/tests/it/django.rs, in a virtualenv made by
scripts/django-venv.
"""

import argparse
import json
import sys
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("--database", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--dumpdata", required=True)
parser.add_argument("--natural")
parser.add_argument("--secret-key", default="django-insecure-moving-to-tessera")
args = parser.parse_args()

url = urllib.parse.urlparse(args.database)
if url.scheme == "sqlite":
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": url.path}
else:
    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.hostname or "",
        "PORT": str(url.port or ""),
    }

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    SECRET_KEY=args.secret_key,
    DEBUG=False,
    ALLOWED_HOSTS=["testserver"],
    USE_TZ=True,
    DATABASES={"default": database},
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "rest_framework",
        "rest_framework.authtoken",
        "knox",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    ROOT_URLCONF=__name__,
    SESSION_ENGINE="django.contrib.sessions.backends.db",
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ],
    REST_KNOX={"TOKEN_TTL": None},
)
django.setup()

from datetime import timedelta  # noqa: E402

from django.contrib.auth import hashers  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.middleware.csrf import get_token  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402
from knox.models import AuthToken  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402


def csrf_view(request):
    return JsonResponse({"csrfToken": get_token(request)})


urlpatterns = [path("csrf/", csrf_view)]


class PBKDF2_1500000(hashers.PBKDF2PasswordHasher):
    iterations = 1_500_000


call_command("migrate", verbosity=0)

# (username, password, hasher or None for unusable)
USERS = [
    ("pbkdf2", "pbkdf2 default pässword", "pbkdf2_sha256"),
    ("pbkdf2_many", "one and a half million", PBKDF2_1500000()),
    ("pbkdf2_sha1", "sha1 is old", "pbkdf2_sha1"),
    ("argon2", "argon2 🐎 horse", "argon2"),
    ("bcrypt_sha256", "bcrypt with sha256 " * 6, "bcrypt_sha256"),
    ("bcrypt", "plain bcrypt", "bcrypt"),
    ("scrypt", "scrypt memory hard", "scrypt"),
    ("unusable", None, None),
    ("md5", "md5 is not imported", "md5"),
    ("Casey", "first of two", "pbkdf2_sha256"),
    ("casey", "second of two", "pbkdf2_sha256"),
    ("changed", "before the change", "pbkdf2_sha256"),
]

out = {"secret_key": args.secret_key, "users": [], "drf": [], "knox": [], "sessions": []}
for username, password, hasher in USERS:
    user = User.objects.create(username=username, email=f"{username}@example.com", first_name="F")
    user.password = hashers.make_password(password, hasher=hasher) if hasher else hashers.make_password(None)
    user.save()
    algorithm = user.password.split("$", 1)[0] if hasher else "unusable"
    out["users"].append({"username": username, "password": password, "algorithm": algorithm, "encoded_prefix": user.password[:30]})

staff = User.objects.get(username="pbkdf2")
staff.is_staff = True
staff.save()

# Groups: editors (two members), readers (one), nobody (none); a member of a
# group whose user is not imported (md5) is simply not carried.
GROUPS = {"editors": ["pbkdf2", "argon2", "md5"], "readers": ["argon2"], "nobody": []}
for name, members in GROUPS.items():
    group = Group.objects.create(name=name)
    for username in members:
        User.objects.get(username=username).groups.add(group)
out["groups"] = {
    user.username: sorted(g.name for g in user.groups.all()) for user in User.objects.all()
}

for username in ["pbkdf2", "argon2", "scrypt"]:
    token = Token.objects.create(user=User.objects.get(username=username))
    out["drf"].append({"username": username, "key": token.key})
for username, ttl in [("pbkdf2", None), ("bcrypt", timedelta(days=30)), ("argon2", None)]:
    _, key = AuthToken.objects.create(user=User.objects.get(username=username), expiry=ttl)
    out["knox"].append({"username": username, "key": key})

# Browsers logged in through Django's own login (the test client's login()
# runs authenticate() and login(), as a login view does).
for username, password in [("pbkdf2", "pbkdf2 default pässword"), ("changed", "before the change")]:
    client = Client()
    assert client.login(username=username, password=password), username
    response = client.get("/csrf/")
    assert response.status_code == 200
    out["sessions"].append(
        {
            "username": username,
            "sessionid": client.cookies["sessionid"].value,
            "csrftoken": client.cookies["csrftoken"].value,
            "masked": response.json()["csrfToken"],
        }
    )
# A password changed after the login: Django logs that session out.
changed = User.objects.get(username="changed")
changed.set_password("after the change")
changed.save()
for entry in out["users"]:
    if entry["username"] == "changed":
        entry["password"] = "after the change"

call_command(
    "dumpdata", "auth.group", "auth.user", "authtoken.token", "knox", "sessions",
    output=args.dumpdata, verbosity=0,
)
if args.natural:
    call_command(
        "dumpdata", "auth.group", "auth.user", natural_foreign=True,
        output=args.natural, verbosity=0,
    )

with open(args.out, "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
print(f"Django {django.get_version()}: {len(USERS)} users", file=sys.stderr)
