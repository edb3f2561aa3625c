"""Password hashes made by Django's own hashers, as JSON test vectors.

Run by scripts/django-fixtures with a virtualenv from scripts/django-venv;
its output is crates/tessera-core/tests/data/django_hashes.json, which
crates/tessera-core/tests/django_hashes.rs verifies (the Rust tests never run
Python). Salts are random, so every run writes different, equally valid,
hashes.
"""

import json
import sys
import unicodedata

import django
from django.conf import settings

settings.configure(SECRET_KEY="fixtures", USE_TZ=True)
django.setup()

import argon2  # noqa: E402
from django.contrib.auth import hashers  # noqa: E402


class PBKDF2_1500000(hashers.PBKDF2PasswordHasher):
    """The issue's 1,500,000 iterations (more than any Django default)."""

    iterations = 1_500_000


class PBKDF2_Django50(hashers.PBKDF2PasswordHasher):
    """Django 5.0's default."""

    iterations = 720_000


class PBKDF2_Django60(hashers.PBKDF2PasswordHasher):
    """Django 6.0's default."""

    iterations = 1_200_000


class Argon2i(hashers.Argon2PasswordHasher):
    """argon2i, as Django before 3.2 wrote it (`argon2$argon2i$...`)."""

    def params(self):
        return argon2.Parameters(
            type=argon2.low_level.Type.I,
            version=argon2.low_level.ARGON2_VERSION,
            salt_len=argon2.DEFAULT_RANDOM_SALT_LENGTH,
            hash_len=argon2.DEFAULT_HASH_LENGTH,
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
        )


composed = "p\u00e4ssw\u00f6rd \U0001f40e with spaces "
PASSWORDS = [
    "correct horse battery staple",
    composed,
    # The decomposed spelling, hashed as received (Django does not normalise).
    unicodedata.normalize("NFD", composed),
    " leading and trailing  ",
]
LONG = "a long passphrase past bcrypt's 72 bytes " * 3

# (name, hasher, passwords): the defaults of Django 5.2 with every password;
# the costly variants with one.
HASHERS = [
    ("pbkdf2_sha256", hashers.PBKDF2PasswordHasher(), PASSWORDS + [LONG]),
    ("pbkdf2_sha256 (1,500,000 iterations)", PBKDF2_1500000(), PASSWORDS[:1]),
    ("pbkdf2_sha256 (Django 5.0: 720,000)", PBKDF2_Django50(), PASSWORDS[:1]),
    ("pbkdf2_sha256 (Django 6.0: 1,200,000)", PBKDF2_Django60(), PASSWORDS[:1]),
    ("pbkdf2_sha1", hashers.PBKDF2SHA1PasswordHasher(), PASSWORDS[:2]),
    ("argon2 (argon2id, Django's default m=102400,t=2,p=8)", hashers.Argon2PasswordHasher(), PASSWORDS + [LONG]),
    ("argon2 (argon2i)", Argon2i(), PASSWORDS[:2]),
    ("bcrypt_sha256", hashers.BCryptSHA256PasswordHasher(), PASSWORDS + [LONG]),
    # Plain bcrypt takes at most 72 bytes (the bcrypt module refuses more).
    ("bcrypt", hashers.BCryptPasswordHasher(), PASSWORDS),
    ("scrypt", hashers.ScryptPasswordHasher(), PASSWORDS + [LONG]),
]

vectors = []
for name, hasher, passwords in HASHERS:
    for password in passwords:
        encoded = hasher.encode(password, hasher.salt())
        assert hasher.verify(password, encoded), name
        assert not hasher.verify(password + "x", encoded), name
        vectors.append({"hasher": name, "password": password, "encoded": encoded})

unusable = hashers.make_password(None)
assert not hashers.is_password_usable(unusable)
vectors.append({"hasher": "unusable", "password": "", "encoded": unusable, "usable": False})

json.dump(
    {
        "generator": "scripts/django-fixtures (scripts/django/hashes.py)",
        "django": django.get_version(),
        "vectors": vectors,
    },
    sys.stdout,
    indent=1,
    ensure_ascii=False,
)
sys.stdout.write("\n")
