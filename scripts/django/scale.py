"""Writes a large `dumpdata` file: N users (Django's pbkdf2_sha256 format,
distinct salts; the hashes are well-formed, not of any known password) and N
DRF tokens, as `manage.py dumpdata auth.user authtoken.token` writes them.
Used by scripts/import-scale. Plain Python: no Django needed.

    python3 scale.py N FILE
"""

import base64
import json
import os
import sys

n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("[")
    for i in range(1, n + 1):
        salt = base64.b64encode(os.urandom(16)).decode()[:22].replace("+", "a").replace("/", "b")
        digest = base64.b64encode(os.urandom(32)).decode()
        user = {
            "model": "auth.user",
            "pk": i,
            "fields": {
                "password": f"pbkdf2_sha256$1000000${salt}${digest}",
                "last_login": "2025-01-02T03:04:05.678Z",
                "is_superuser": False,
                "username": f"user{i}",
                "first_name": "First",
                "last_name": "Last",
                "email": f"user{i}@example.com",
                "is_staff": False,
                "is_active": True,
                "date_joined": "2024-05-06T07:08:09.123Z",
                "groups": [],
                "user_permissions": [],
            },
        }
        f.write(("" if i == 1 else ", ") + json.dumps(user))
    for i in range(1, n + 1):
        token = {
            "model": "authtoken.token",
            "pk": os.urandom(20).hex(),
            "fields": {"user": i, "created": "2024-05-06T07:08:09.123Z"},
        }
        f.write(", " + json.dumps(token))
    f.write("]\n")
