#!/usr/bin/env python3
"""Tables and test vectors for `tessera_core::validation`, produced by Python
and Django's own code.

Writes, between the markers of `src/validation.rs`:

* `BEGIN GENERATED TABLES`: the code point ranges of Python's `re` `\\w` and of
  `str.isdigit()`, which Rust's standard library has no equivalent for;
* `BEGIN GENERATED VECTORS`: Django 5.1's `validate_password` with the four
  default `AUTH_PASSWORD_VALIDATORS` over a list of passwords and users, and
  Python's `str.lower`, `str.strip`, `str.isdigit`, `re.split(r"\\W+", ...)` and
  `difflib.SequenceMatcher.quick_ratio` over a few strings.

The Rust tests never run Python.

    python3 -m venv /tmp/djvenv && /tmp/djvenv/bin/pip install django==5.1
    /tmp/djvenv/bin/python crates/tessera-core/tests/password_validation_vectors.py          # print
    /tmp/djvenv/bin/python crates/tessera-core/tests/password_validation_vectors.py --write  # splice
    rustfmt --edition 2021 crates/tessera-core/src/validation.rs

The tables follow the Unicode version of the Python that runs this script
(Python 3.11: Unicode 14.0.0); run it with the same Python for both blocks.

`data/common-passwords.txt` is Django's `django/contrib/auth/common-passwords.txt.gz`,
decompressed; `--check-list` verifies it against the installed Django.
"""

import difflib
import gzip
import pathlib
import re
import sys
import unicodedata

import django
from django.conf import settings

DEFAULT_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    AUTH_PASSWORD_VALIDATORS=DEFAULT_VALIDATORS,
    SECRET_KEY="vectors",
    USE_TZ=True,
)
django.setup()

from django.contrib.auth import password_validation  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402

assert django.VERSION[:2] == (5, 1), django.VERSION

HERE = pathlib.Path(__file__).resolve().parent
MAX_PASSWORD_BYTES = 4096
TOO_LONG = "This password is too long. It must contain at most %d bytes." % MAX_PASSWORD_BYTES

A = ("alice", "alice@example.com")

# (min_length, max_similarity, password, username, email); None: Django's defaults.
CASES = [
    # Common passwords, as Django's list has them.
    (None, None, "password", *A),
    (None, None, "PassWord", *A),
    (None, None, "qwertyuiop", *A),
    (None, None, "12345678", *A),
    (None, None, "1234", *A),
    (None, None, "123456789012", *A),
    (None, None, "iloveyou", *A),
    (None, None, "letmein", *A),
    (None, None, "fallen_angel", *A),
    (None, None, " password ", *A),
    (None, None, "password\n", *A),
    (None, None, "\tdragon\r\n", *A),
    # Python's strip() also strips U+001C..U+001F; Rust's trim() does not.
    (None, None, "\x1cpassword\x1f", *A),
    (None, None, "\u00a0password\u3000", *A),
    (None, None, "\u200bpassword", *A),
    (None, None, "пароль", *A),
    (None, None, "ПАРОЛЬ", *A),
    (None, None, "йцукен12", *A),
    # Fullwidth "password": not in the list (Django does not normalise).
    (None, None, "ｐａｓｓｗｏｒｄ", *A),
    # Numeric, as str.isdigit().
    (None, None, "31415926535", *A),
    (None, None, "00000000", *A),
    (None, None, " 31415926535", *A),
    (None, None, "٣١٤١٥٩٢٦٥", *A),
    (None, None, "３１４１５９２６５", *A),
    (None, None, "²³¹⁴⁵⁶⁷⁸⁹", *A),
    (None, None, "①②③④⑤⑥⑦⑧", *A),
    (None, None, "ⅠⅡⅢⅣⅤⅥⅦⅧ", *A),
    (None, None, "½¼¾½¼¾½¼", *A),
    (None, None, "3.14159265", *A),
    (None, None, "-31415926", *A),
    # Length, in code points.
    (None, None, "", *A),
    (None, None, "x", *A),
    (None, None, "Tr0ub4d", *A),
    (None, None, "Tr0ub4d&", *A),
    (None, None, "caf\u00e9!!!", *A),
    (None, None, "cafe\u0301!!", *A),
    (None, None, "🔒🔑🔒🔑🔒🔑🔒", *A),
    (None, None, "🔒🔑🔒🔑🔒🔑🔒🔑", *A),
    (None, None, "Tr0ub4dor&3", *A),
    (None, None, "correct horse battery staple", *A),
    # Similarity to the username and the e-mail address.
    (None, None, "alice", *A),
    (None, None, "alice2024", *A),
    (None, None, "ALICE2024!", *A),
    (None, None, "ecila", *A),
    (None, None, "alice20245", *A),
    (None, None, "aliceexample", *A),
    (None, None, "example.com", *A),
    (None, None, "alice@example.com", *A),
    (None, None, "dupontjean", "jean.dupont", "jean.dupont@example.fr"),
    (None, None, "jeandupont75", "jean.dupont", "jean.dupont@example.fr"),
    (None, None, "yourcenar1", "bob", "marguerite.yourcenar@example.com"),
    (None, None, "bob-the-builder", "bob", "marguerite.yourcenar@example.com"),
    (None, None, "bobbob", "bob", "bob@bob.bob"),
    (None, None, "firstlast", "fl", "first.last+tag@sub.example.co.uk"),
    (None, None, "subexample", "fl", "first.last+tag@sub.example.co.uk"),
    (None, None, "tagtagtag", "fl", "first.last+tag@sub.example.co.uk"),
    (None, None, "bigbird!", "big_bird", "bb@example.org"),
    (None, None, "big_bird", "big_bird", ""),
    (None, None, "password", "", ""),
    (None, None, "whatever-it-is", "", ""),
    # An empty part of the username ("alice." splits into "alice", "") is as
    # similar as can be to an empty password: quick_ratio("", "") == 1.0.
    (None, None, "", "alice.", "alice@example.com"),
    (None, None, "", "alice", "@example.com"),
    (None, None, "", "alice", "alice@example.com"),
    # Unicode: lowercasing, final sigma, dotted I, combining marks.
    (None, None, "ælfrēd99", "Ælfrēd", "aelfred@example.com"),
    (None, None, "οδυσσευς1", "ΟΔΥΣΣΕΥΣ", "odysseus@example.gr"),
    (None, None, "ΟΔΥΣΣΕΥΣ!", "odysseus", "odysseus@example.gr"),
    (None, None, "ibrahim12", "İbrahim", "ibrahim@example.tr"),
    (None, None, "brahim12", "İbrahim", "ibrahim@example.tr"),
    (None, None, "\u212aatherine1", "katherine", "kate@example.com"),
    (None, None, "straße99", "STRASSE", "strasse@example.de"),
    # Devanagari vowel signs are not \w in Python (Rust calls them alphabetic):
    # "नमस्ते" splits into "नमस", "त", "".
    (None, None, "नमसab", "नमस्ते", "namaste@example.in"),
    (None, None, "नमस्ते123", "नमस्ते", "namaste@example.in"),
    (None, None, "東京タワー2024", "東京タワー", "tokyo@example.jp"),
    (None, None, "東京大阪名古屋福岡", "東京タワー", "tokyo@example.jp"),
    # A long password is compared to no short part (exceeds_maximum_length_ratio).
    (None, None, "al" * 11, "al", "al@al.al"),
    (None, None, "al" * 20, "al", "al@al.al"),
    # Tessera's maximum, in UTF-8 bytes.
    (None, None, "a" * 4096, *A),
    (None, None, "a" * 4097, *A),
    (None, None, "é" * 2048, *A),
    (None, None, "é" * 2049, *A),
    (None, None, "1" * 5000, *A),
    (None, None, "alice" * 1000, *A),
    # Other policies.
    (12, None, "Tr0ub4dor&3", *A),
    (12, None, "Tr0ub4dor&3!", *A),
    (12, None, "12345678", *A),
    (64, None, "correct horse battery staple", *A),
    (None, 0.5, "alicia-keys", *A),
    (None, 0.5, "malice", *A),
    (None, 0.1, "al" * 10 + "xyz", "al", "nobody@example.net"),
    (None, 0.1, "al" * 10 + "xy", "al", "nobody@example.net"),
    (None, 0.1, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "al", "nobody@example.net"),
    (None, 1.0, "alice", *A),
    (None, 1.0, "ecila", *A),
    (None, 1.5, "alice", *A),
]

QUICK_RATIO = [
    ("", ""),
    ("", "alice"),
    ("alice", ""),
    ("alice", "alice"),
    ("alice2024", "alice"),
    ("aaab", "ab"),
    ("ab", "aaab"),
    ("abcd", "bcde"),
    ("ecila", "alice"),
    ("aliceexample", "example"),
    ("tr0ub4dor&3", "alice@example.com"),
    ("ﬁ", "fi"),
    ("i̇brahim", "ibrahim"),
    ("🔒🔑", "🔑"),
    ("a", "a" * 10),
]

SPLIT = [
    "",
    "alice",
    "alice.",
    ".alice",
    "...",
    "jean.dupont@example.fr",
    "first.last+tag@sub.example.co.uk",
    "big_bird",
    "a--b__c  d",
    "i̇brahim",
    "नमस्ते",
    "東京タワー",
    "ⅰⅱ½²x①",
    "a\u00a0b\u200bc\u0301d",
    "ǅemal",
    "٣١٤-١٥٩",
]

LOWER = [
    "ALICE",
    "Ælfrēd",
    "ΟΔΥΣΣΕΥΣ",
    "ΣΑΣ ΣΑΣ.",
    "İbrahim",
    "\u212a",
    "ǅ",
    "STRASSE",
    "ⅠⅡⅢ",
    "Ⓐⓑ",
    "ＰＡＳＳ",
    "𐐀𐐁",
]

STRIP = [
    "",
    " password ",
    "\t\n\x0b\x0c\r password \x1c\x1d\x1e\x1f",
    "\x85\u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000x",
    "\u200bx\u180e",
    "\ufeffx",
]

ISDIGIT = [
    "",
    "0",
    "0123456789",
    "١٢٣",
    "۱۲۳",
    "१२३",
    "０１２",
    "²³¹",
    "①②③",
    "⑴⑵",
    "⒈⒉",
    "➀➁",
    "𝟎𝟏𝟐",
    "ⅠⅡ",
    "½",
    "⑩",
    "〇",
    "一二三",
    "1.5",
    " 1",
    "-1",
]


def rs_str(s):
    if len(s) > 100 and len(set(s)) == 1:
        return "&%s.repeat(%d)" % (rs_str(s[0]), len(s))
    if len(s) > 100 and len(s) % 5 == 0 and s == s[:5] * (len(s) // 5):
        return "&%s.repeat(%d)" % (rs_str(s[:5]), len(s) // 5)
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif " " <= c <= "~":
            out.append(c)
        else:
            out.append("\\u{%x}" % ord(c))
    return '"' + "".join(out) + '"'


def owned(s):
    lit = rs_str(s)
    return lit[1:] if lit.startswith("&") else lit + ".to_owned()"


def rs_f64(x):
    r = repr(float(x))
    return r if ("." in r or "e" in r) else r + ".0"


def django_messages(min_length, max_similarity, password, username, email):
    config = [dict(v) for v in DEFAULT_VALIDATORS]
    if max_similarity is not None:
        config[0]["OPTIONS"] = {"max_similarity": max_similarity}
    if min_length is not None:
        config[1]["OPTIONS"] = {"min_length": min_length}
    validators = password_validation.get_password_validators(config)
    user = User(username=username, email=email)
    try:
        password_validation.validate_password(password, user, validators)
        messages = []
    except ValidationError as e:
        messages = list(e.messages)
    # Tessera's own rule, after Django's.
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        messages.append(TOO_LONG)
    return messages


def ranges(pred):
    out, start = [], None
    for cp in range(0x110000):
        ok = pred(chr(cp))
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, 0x10FFFF))
    return out


def rs_ranges(name, doc, rs):
    out = ["/// %s" % line for line in doc]
    out.append("#[rustfmt::skip]")
    out.append("const %s: &[(u32, u32)] = &[" % name)
    per_line = 5
    for i in range(0, len(rs), per_line):
        chunk = rs[i : i + per_line]
        out.append("    " + " ".join("(0x%04X, 0x%04X)," % r for r in chunk))
    out.append("];")
    return out


def generate_tables():
    version = "Python %d.%d.%d, Unicode %s" % (sys.version_info[:3] + (unicodedata.unidata_version,))
    out = ["// BEGIN GENERATED TABLES (tests/password_validation_vectors.py, %s)" % version]
    out += rs_ranges(
        "WORD",
        ["The code points `\\w` matches in Python's `re` (`str.isalnum()` and `_`)."],
        ranges(lambda c: re.match(r"\w", c) is not None),
    )
    out.append("")
    out += rs_ranges(
        "DIGIT",
        ["The code points of Python's `str.isdigit()` (Numeric_Type Decimal or Digit)."],
        ranges(lambda c: c.isdigit()),
    )
    out.append("// END GENERATED TABLES")
    return "\n".join(out) + "\n"


def generate_vectors():
    out = ["    // BEGIN GENERATED VECTORS (tests/password_validation_vectors.py, Django %s)" % django.__version__]
    out.append("    /// (min_length, max_similarity, password, username, email, Django's messages")
    out.append("    /// and then Tessera's maximum)")
    out.append("    fn django_vectors() -> Vec<Vector> {")
    out.append("        vec![")
    for min_length, max_similarity, password, username, email in CASES:
        messages = django_messages(min_length, max_similarity, password, username, email)
        out.append(
            "            (%d, %s, %s, %s, %s, &[%s]),"
            % (
                8 if min_length is None else min_length,
                rs_f64(0.7 if max_similarity is None else max_similarity),
                owned(password),
                rs_str(username),
                rs_str(email),
                ", ".join(rs_str(m) for m in messages),
            )
        )
    out.append("        ]")
    out.append("    }")
    out.append("")
    out.append("    /// (a, b, difflib's `SequenceMatcher(a=a, b=b).quick_ratio()`)")
    out.append("    fn python_quick_ratio() -> Vec<(String, String, f64)> {")
    out.append("        vec![")
    for a, b in QUICK_RATIO:
        r = difflib.SequenceMatcher(a=a, b=b).quick_ratio()
        out.append("            (%s, %s, %s)," % (owned(a), owned(b), rs_f64(r)))
    out.append("        ]")
    out.append("    }")
    out.append("")
    out.append('    /// (s, `re.split(r"\\W+", s)`)')
    out.append("    const PYTHON_SPLIT: &[(&str, &[&str])] = &[")
    for s in SPLIT:
        parts = re.split(r"\W+", s)
        out.append("        (%s, &[%s])," % (rs_str(s), ", ".join(rs_str(p) for p in parts)))
    out.append("    ];")
    out.append("")
    out.append("    /// (s, `s.lower()`)")
    out.append("    const PYTHON_LOWER: &[(&str, &str)] = &[")
    for s in LOWER:
        out.append("        (%s, %s)," % (rs_str(s), rs_str(s.lower())))
    out.append("    ];")
    out.append("")
    out.append("    /// (s, `s.strip()`)")
    out.append("    const PYTHON_STRIP: &[(&str, &str)] = &[")
    for s in STRIP:
        out.append("        (%s, %s)," % (rs_str(s), rs_str(s.strip())))
    out.append("    ];")
    out.append("")
    out.append("    /// (s, `s.isdigit()`)")
    out.append("    const PYTHON_ISDIGIT: &[(&str, bool)] = &[")
    for s in ISDIGIT:
        out.append("        (%s, %s)," % (rs_str(s), "true" if s.isdigit() else "false"))
    out.append("    ];")
    out.append("    // END GENERATED VECTORS")
    return "\n".join(out) + "\n"


def splice(source, marker, text):
    begin = source.index(marker.replace("END", "BEGIN").rstrip("\n"))
    end = source.index(marker) + len(marker)
    return source[:begin] + text + source[end:]


def check_list():
    shipped = (HERE.parent / "data" / "common-passwords.txt").read_bytes()
    path = pathlib.Path(password_validation.__file__).parent / "common-passwords.txt.gz"
    with gzip.open(path, "rb") as f:
        django_list = f.read()
    assert shipped == django_list, "data/common-passwords.txt differs from %s" % path
    print("data/common-passwords.txt is Django %s's %s" % (django.__version__, path.name))


def main():
    if "--check-list" in sys.argv:
        check_list()
        return
    tables, vectors = generate_tables(), generate_vectors()
    if "--write" not in sys.argv:
        sys.stdout.write(tables + "\n" + vectors)
        return
    path = HERE.parent / "src" / "validation.rs"
    source = path.read_text()
    source = splice(source, "// END GENERATED TABLES\n", tables)
    source = splice(source, "    // END GENERATED VECTORS\n", vectors)
    path.write_text(source)
    print("wrote %d Django vectors to %s" % (len(CASES), path))


if __name__ == "__main__":
    main()
