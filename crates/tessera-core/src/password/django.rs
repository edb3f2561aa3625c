//! Django's password hashers (`django.contrib.auth.hashers`, Django 5.2), for
//! hashes imported from a Django project: recognised, checked for hostile
//! costs, and verified. Tessera never writes these formats; a successful
//! login replaces them with argon2id ([`super::needs_rehash`]), as Django
//! replaces a hash made by a hasher other than its preferred one.
//!
//! | scheme | stored as (Django's `encode`) |
//! |---|---|
//! | `pbkdf2_sha256` | `pbkdf2_sha256$<iterations>$<salt>$<base64 SHA-256 PBKDF2>` |
//! | `pbkdf2_sha1` | `pbkdf2_sha1$<iterations>$<salt>$<base64 SHA-1 PBKDF2>` |
//! | `argon2` | `argon2` + argon2-cffi's PHC string (`$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>`; `argon2i` too) |
//! | `bcrypt_sha256` | `bcrypt_sha256$` + bcrypt of the hex SHA-256 of the password |
//! | `bcrypt` | `bcrypt$` + bcrypt of the password (its first 72 bytes, as bcrypt always took) |
//! | `scrypt` | `scrypt$<N>$<salt>$<r>$<p>$<base64 64-byte key>` |
//! | unusable | `!` + random characters (`set_unusable_password`) |
//!
//! Each scheme is verified by a well-kept RustCrypto or `bcrypt` crate
//! (`pbkdf2`, `argon2`, `bcrypt`, `scrypt`), tested against hashes that real
//! Django made (`tests/data/django_hashes.json`, written by
//! `scripts/django-fixtures`).
//!
//! # Hostile costs
//!
//! An imported hash names its own cost, and a login pays it. A hash whose
//! cost is far past any Django default ([`Caps`]) is refused with
//! [`FormatError::TooCostly`], before any work: the import reports the row,
//! and a login against such a hash fails like a wrong password (the stored
//! hash is never echoed into a log or a message).

use base64::Engine as _;
use std::fmt;
use subtle::ConstantTimeEq;

/// The hash formats Tessera verifies: its own argon2id and Django's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Tessera's own PHC string (`$argon2id$...`).
    Tessera,
    /// Django's `PBKDF2PasswordHasher`.
    Pbkdf2Sha256,
    /// Django's `PBKDF2SHA1PasswordHasher`.
    Pbkdf2Sha1,
    /// Django's `Argon2PasswordHasher` (argon2id, or argon2i before Django 3.2).
    Argon2,
    /// Django's `BCryptSHA256PasswordHasher`.
    BcryptSha256,
    /// Django's `BCryptPasswordHasher`.
    Bcrypt,
    /// Django's `ScryptPasswordHasher`.
    Scrypt,
    /// An unusable password (`!`-prefixed): no password logs in.
    Unusable,
}

impl Scheme {
    /// Django's name of the scheme (its hasher's `algorithm`); `tessera` and
    /// `unusable` for the other two.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Tessera => "tessera",
            Scheme::Pbkdf2Sha256 => "pbkdf2_sha256",
            Scheme::Pbkdf2Sha1 => "pbkdf2_sha1",
            Scheme::Argon2 => "argon2",
            Scheme::BcryptSha256 => "bcrypt_sha256",
            Scheme::Bcrypt => "bcrypt",
            Scheme::Scrypt => "scrypt",
            Scheme::Unusable => "unusable",
        }
    }

    /// Every scheme, Tessera's first.
    pub const ALL: [Scheme; 8] = [
        Scheme::Tessera,
        Scheme::Pbkdf2Sha256,
        Scheme::Pbkdf2Sha1,
        Scheme::Argon2,
        Scheme::BcryptSha256,
        Scheme::Bcrypt,
        Scheme::Scrypt,
        Scheme::Unusable,
    ];
}

/// The scheme a stored hash claims by its prefix alone, without checking
/// the rest: what `/metrics` counts users by (a store counts with the same
/// rules in SQL). `"other"` for anything else.
pub fn scheme_name_of(stored: &str) -> &'static str {
    const PREFIXES: [(&str, Scheme); 8] = [
        ("!", Scheme::Unusable),
        ("$argon2", Scheme::Tessera),
        ("pbkdf2_sha256$", Scheme::Pbkdf2Sha256),
        ("pbkdf2_sha1$", Scheme::Pbkdf2Sha1),
        ("argon2$", Scheme::Argon2),
        ("bcrypt_sha256$", Scheme::BcryptSha256),
        ("bcrypt$", Scheme::Bcrypt),
        ("scrypt$", Scheme::Scrypt),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| stored.starts_with(prefix))
        .map_or("other", |(_, scheme)| scheme.name())
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a stored hash cannot be verified. The messages never quote the hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// A hasher Tessera does not verify (`md5`, `sha1`, `crypt`, ...): the
    /// algorithm as the hash names it, when it looks like a name.
    #[error("unknown hash algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// No algorithm could be told at all (perhaps not a hash).
    #[error("not a password hash Tessera knows")]
    Unrecognised,
    /// A known scheme, but its fields do not parse.
    #[error("malformed {scheme} hash: {problem}")]
    Malformed {
        /// The scheme.
        scheme: Scheme,
        /// What is wrong.
        problem: &'static str,
    },
    /// A cost past [`Caps`]: refused before any work.
    #[error("{scheme} hash with {parameter} = {value} exceeds Tessera's cap of {cap}")]
    TooCostly {
        /// The scheme.
        scheme: Scheme,
        /// The parameter, in Django's words (`iterations`, `memory_cost`, ...).
        parameter: &'static str,
        /// Its value in the hash.
        value: u64,
        /// The largest value verified.
        cap: u64,
    },
}

/// The largest costs verified: several times Django 5.2's and 6.0's
/// defaults, so that a project that raised them still imports, and far
/// below what would let one imported hash hold a hashing thread for long.
#[derive(Debug, Clone, Copy)]
pub struct Caps;

impl Caps {
    /// PBKDF2 iterations (Django 5.2: 1,000,000; 6.0: 1,200,000).
    pub const PBKDF2_ITERATIONS: u64 = 5_000_000;
    /// argon2 memory in KiB (Django: 102,400, 100 MiB).
    pub const ARGON2_MEMORY_KIB: u64 = 262_144;
    /// argon2 passes (Django: 2).
    pub const ARGON2_TIME: u64 = 16;
    /// argon2 memory × passes, in KiB (Django: 204,800).
    pub const ARGON2_WORK: u64 = 1_048_576;
    /// argon2 lanes (Django: 8).
    pub const ARGON2_LANES: u64 = 64;
    /// bcrypt's log2 rounds (Django: 12).
    pub const BCRYPT_COST: u64 = 15;
    /// scrypt's memory, 128 × r × N bytes (Django: N = 2^14, r = 8: 16 MiB).
    pub const SCRYPT_MEMORY_BYTES: u64 = 256 * 1024 * 1024;
    /// scrypt's work, N × r × p (Django: 131,072).
    pub const SCRYPT_WORK: u64 = 1 << 24;
}

fn cap(scheme: Scheme, parameter: &'static str, value: u64, cap: u64) -> Result<(), FormatError> {
    if value > cap {
        return Err(FormatError::TooCostly {
            scheme,
            parameter,
            value,
            cap,
        });
    }
    Ok(())
}

fn malformed(scheme: Scheme, problem: &'static str) -> FormatError {
    FormatError::Malformed { scheme, problem }
}

/// A stored hash taken apart, its costs within [`Caps`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parsed<'a> {
    /// Tessera's PHC string, or (from Django's `argon2`) the PHC string after
    /// the `argon2` marker.
    Argon2 {
        scheme: Scheme,
        phc: &'a str,
    },
    Pbkdf2 {
        sha1: bool,
        iterations: u32,
        salt: &'a str,
        expected: &'a str,
    },
    Bcrypt {
        sha256: bool,
        hash: &'a str,
    },
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: &'a str,
        expected: &'a str,
    },
    Unusable,
}

impl Parsed<'_> {
    pub(crate) fn scheme(&self) -> Scheme {
        match self {
            Parsed::Argon2 { scheme, .. } => *scheme,
            Parsed::Pbkdf2 { sha1: false, .. } => Scheme::Pbkdf2Sha256,
            Parsed::Pbkdf2 { sha1: true, .. } => Scheme::Pbkdf2Sha1,
            Parsed::Bcrypt { sha256: true, .. } => Scheme::BcryptSha256,
            Parsed::Bcrypt { sha256: false, .. } => Scheme::Bcrypt,
            Parsed::Scrypt { .. } => Scheme::Scrypt,
            Parsed::Unusable => Scheme::Unusable,
        }
    }
}

/// Recognises a stored hash and checks its costs, without a password: what
/// `tessera import-django` asks of every imported hash, and what a login
/// asks before verifying one.
///
/// ```
/// use tessera_core::password::django::{check, FormatError, Scheme};
///
/// let django = "pbkdf2_sha256$1000000$seasalt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=";
/// assert_eq!(check(django), Ok(Scheme::Pbkdf2Sha256));
/// assert_eq!(check("!Xy12unusable"), Ok(Scheme::Unusable));
/// assert_eq!(
///     check("md5$salt$0123456789abcdef0123456789abcdef"),
///     Err(FormatError::UnknownAlgorithm("md5".into())),
/// );
/// assert!(matches!(
///     check("pbkdf2_sha256$900000000$salt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w="),
///     Err(FormatError::TooCostly { parameter: "iterations", .. }),
/// ));
/// ```
pub fn check(stored: &str) -> Result<Scheme, FormatError> {
    parse(stored).map(|parsed| parsed.scheme())
}

pub(crate) fn parse(stored: &str) -> Result<Parsed<'_>, FormatError> {
    if stored.starts_with(super::UNUSABLE_PASSWORD_PREFIX) {
        return Ok(Parsed::Unusable);
    }
    if stored.starts_with("$argon2") {
        check_argon2(Scheme::Tessera, stored)?;
        return Ok(Parsed::Argon2 {
            scheme: Scheme::Tessera,
            phc: stored,
        });
    }
    let Some((algorithm, rest)) = stored.split_once('$') else {
        return Err(FormatError::Unrecognised);
    };
    match algorithm {
        "pbkdf2_sha256" => parse_pbkdf2(false, rest),
        "pbkdf2_sha1" => parse_pbkdf2(true, rest),
        // "argon2" + "$argon2id$v=19$...": the separator is the PHC string's own.
        "argon2" => {
            let phc = &stored["argon2".len()..];
            check_argon2(Scheme::Argon2, phc)?;
            Ok(Parsed::Argon2 {
                scheme: Scheme::Argon2,
                phc,
            })
        }
        "bcrypt_sha256" => parse_bcrypt(true, rest),
        "bcrypt" => parse_bcrypt(false, rest),
        "scrypt" => parse_scrypt(rest),
        // Name the algorithm only when it looks like one: a plaintext
        // password stored by mistake must not reach a log.
        name if !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            Err(FormatError::UnknownAlgorithm(name.to_owned()))
        }
        _ => Err(FormatError::Unrecognised),
    }
}

fn parse_pbkdf2(sha1: bool, rest: &str) -> Result<Parsed<'_>, FormatError> {
    let scheme = if sha1 {
        Scheme::Pbkdf2Sha1
    } else {
        Scheme::Pbkdf2Sha256
    };
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(scheme, "expected iterations$salt$hash"));
    };
    let iterations: u64 = iterations
        .parse()
        .map_err(|_| malformed(scheme, "the iteration count is not a number"))?;
    if iterations == 0 {
        return Err(malformed(scheme, "zero iterations"));
    }
    cap(scheme, "iterations", iterations, Caps::PBKDF2_ITERATIONS)?;
    let length = if sha1 { 20 } else { 32 };
    if base64_len(expected) != Some(length) {
        return Err(malformed(
            scheme,
            "the hash is not base64 of the right length",
        ));
    }
    Ok(Parsed::Pbkdf2 {
        sha1,
        iterations: u32::try_from(iterations).unwrap_or(u32::MAX),
        salt,
        expected,
    })
}

/// The decoded length of standard, padded base64 text, if it is that.
fn base64_len(text: &str) -> Option<usize> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .map(|bytes| bytes.len())
}

fn check_argon2(scheme: Scheme, phc: &str) -> Result<(), FormatError> {
    let parsed = argon2::password_hash::PasswordHash::new(phc)
        .map_err(|_| malformed(scheme, "not a PHC string"))?;
    if argon2::Algorithm::try_from(parsed.algorithm).is_err() {
        return Err(malformed(scheme, "not argon2id, argon2i or argon2d"));
    }
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(malformed(scheme, "no salt or no hash"));
    }
    let value = |name: &str| {
        parsed
            .params
            .get_decimal(name)
            .map(u64::from)
            .ok_or_else(|| malformed(scheme, "the m, t and p parameters must be numbers"))
    };
    let (m, t, p) = (value("m")?, value("t")?, value("p")?);
    cap(scheme, "memory_cost", m, Caps::ARGON2_MEMORY_KIB)?;
    cap(scheme, "time_cost", t, Caps::ARGON2_TIME)?;
    cap(scheme, "parallelism", p, Caps::ARGON2_LANES)?;
    cap(
        scheme,
        "memory_cost × time_cost",
        m.saturating_mul(t),
        Caps::ARGON2_WORK,
    )?;
    argon2::Params::try_from(&parsed)
        .map_err(|_| malformed(scheme, "invalid argon2 parameters"))?;
    Ok(())
}

fn parse_bcrypt(sha256: bool, rest: &str) -> Result<Parsed<'_>, FormatError> {
    let scheme = if sha256 {
        Scheme::BcryptSha256
    } else {
        Scheme::Bcrypt
    };
    // "$2b$12$" + 22 characters of salt + 31 of hash.
    let mut parts = rest.split('$');
    let (Some(""), Some(version), Some(cost), Some(body), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed(scheme, "expected $2b$<cost>$<salt and hash>"));
    };
    if !matches!(version, "2a" | "2b" | "2y") {
        return Err(malformed(scheme, "not bcrypt's $2a$, $2b$ or $2y$"));
    }
    let cost: u64 = cost
        .parse()
        .map_err(|_| malformed(scheme, "the cost is not a number"))?;
    if !(4..=31).contains(&cost) {
        return Err(malformed(scheme, "the cost is outside 4..=31"));
    }
    cap(scheme, "rounds", cost, Caps::BCRYPT_COST)?;
    if body.len() != 53
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    {
        return Err(malformed(scheme, "the salt and hash are not 53 characters"));
    }
    Ok(Parsed::Bcrypt { sha256, hash: rest })
}

fn parse_scrypt(rest: &str) -> Result<Parsed<'_>, FormatError> {
    let scheme = Scheme::Scrypt;
    // Django's ScryptPasswordHasher.encode: n, salt, r, p, hash.
    let mut parts = rest.splitn(5, '$');
    let (Some(n), Some(salt), Some(r), Some(p), Some(expected)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed(scheme, "expected n$salt$r$p$hash"));
    };
    let number = |text: &str| {
        text.parse::<u64>()
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| malformed(scheme, "n, r and p must be positive numbers"))
    };
    let (n, r, p) = (number(n)?, number(r)?, number(p)?);
    if n < 2 || !n.is_power_of_two() {
        return Err(malformed(scheme, "n is not a power of two"));
    }
    cap(
        scheme,
        "memory (128 × n × r bytes)",
        128u64.saturating_mul(n).saturating_mul(r),
        Caps::SCRYPT_MEMORY_BYTES,
    )?;
    cap(
        scheme,
        "n × r × p",
        n.saturating_mul(r).saturating_mul(p),
        Caps::SCRYPT_WORK,
    )?;
    if base64_len(expected) != Some(64) {
        return Err(malformed(scheme, "the hash is not base64 of 64 bytes"));
    }
    let log_n = u8::try_from(n.trailing_zeros()).unwrap_or(u8::MAX);
    let (Ok(r), Ok(p)) = (u32::try_from(r), u32::try_from(p)) else {
        return Err(malformed(scheme, "r or p too large"));
    };
    Ok(Parsed::Scrypt {
        log_n,
        r,
        p,
        salt,
        expected,
    })
}

/// Verifies `password` (as received: Django does not normalise) against a
/// parsed Django hash other than argon2, which the caller verifies in its
/// reusable memory. `false` for an argon2 or unusable hash.
pub(crate) fn verify(password: &str, parsed: &Parsed<'_>) -> bool {
    match *parsed {
        Parsed::Pbkdf2 {
            sha1,
            iterations,
            salt,
            expected,
        } => {
            let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(expected) else {
                return false;
            };
            let mut out = [0u8; 32];
            let out = if sha1 {
                pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
                    password.as_bytes(),
                    salt.as_bytes(),
                    iterations,
                    &mut out[..20],
                );
                &out[..20]
            } else {
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                    password.as_bytes(),
                    salt.as_bytes(),
                    iterations,
                    &mut out,
                );
                &out[..]
            };
            expected.len() == out.len() && bool::from(out.ct_eq(&expected[..]))
        }
        Parsed::Bcrypt { sha256, hash } => {
            let result = if sha256 {
                // Django's BCryptSHA256PasswordHasher: bcrypt of the
                // hexadecimal SHA-256 of the password (64 bytes, under
                // bcrypt's 72), against #20138's truncation.
                use sha2::Digest as _;
                let digest = hex_lower(&sha2::Sha256::digest(password.as_bytes()));
                bcrypt::verify(digest.as_bytes(), hash)
            } else {
                // bcrypt always ignored what follows the 72nd byte; a
                // password Django accepted that way is accepted here too,
                // and replaced by argon2id of the whole password at once.
                bcrypt::verify(password.as_bytes(), hash)
            };
            // The crate's errors quote the hash: never logged.
            result.unwrap_or(false)
        }
        Parsed::Scrypt {
            log_n,
            r,
            p,
            salt,
            expected,
        } => {
            let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(expected) else {
                return false;
            };
            let Ok(params) = scrypt::Params::new(log_n, r, p, 64) else {
                return false;
            };
            let mut out = [0u8; 64];
            if scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut out).is_err() {
                return false;
            }
            expected.len() == out.len() && bool::from(out.ct_eq(&expected[..]))
        }
        Parsed::Argon2 { .. } | Parsed::Unusable => false,
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_is_recognised() {
        let cases = [
            (
                "pbkdf2_sha256$1000$seasalt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=",
                Scheme::Pbkdf2Sha256,
            ),
            (
                "pbkdf2_sha1$1000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                Scheme::Pbkdf2Sha1,
            ),
            (
                "argon2$argon2id$v=19$m=102400,t=2,p=8$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                Scheme::Argon2,
            ),
            (
                "argon2$argon2i$v=19$m=512,t=2,p=2$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                Scheme::Argon2,
            ),
            (
                "bcrypt_sha256$$2b$12$LcAJcLcAJcLcAJcLcAJcLeAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                Scheme::BcryptSha256,
            ),
            (
                "bcrypt$$2b$12$LcAJcLcAJcLcAJcLcAJcLeAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                Scheme::Bcrypt,
            ),
            (
                "scrypt$16384$salt$8$1$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
                Scheme::Scrypt,
            ),
            ("!", Scheme::Unusable),
            ("!8fJ2kPq", Scheme::Unusable),
            (
                "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                Scheme::Tessera,
            ),
        ];
        for (hash, scheme) in cases {
            assert_eq!(check(hash), Ok(scheme), "{hash}");
        }
    }

    #[test]
    fn unknown_algorithms_are_named_only_when_they_look_like_names() {
        assert_eq!(
            check("sha1$$0123"),
            Err(FormatError::UnknownAlgorithm("sha1".into()))
        );
        assert_eq!(
            check("unsalted_md5$$0123"),
            Err(FormatError::UnknownAlgorithm("unsalted_md5".into()))
        );
        // A plaintext password stored by mistake is not echoed.
        for secret in ["hunter2", "My Pa$$word", "", "$", "$2b$12$nope"] {
            assert_eq!(check(secret), Err(FormatError::Unrecognised), "{secret}");
        }
    }

    #[test]
    fn malformed_hashes_say_what_is_wrong() {
        for hash in [
            "pbkdf2_sha256$x$salt$AAAA",
            "pbkdf2_sha256$0$salt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=",
            "pbkdf2_sha256$1000$salt",
            "pbkdf2_sha256$1000$salt$not base64",
            "pbkdf2_sha1$1000$salt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=",
            "argon2$argon2id$v=19$m=x,t=2,p=8$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "argon2$argon2q$v=19$m=512,t=2,p=8$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "argon2$argon2id$v=19$m=512,t=2,p=8",
            "bcrypt$$2b$12$short",
            "bcrypt$$2c$12$LcAJcLcAJcLcAJcLcAJcLeAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "bcrypt$$2b$3$LcAJcLcAJcLcAJcLcAJcLeAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "scrypt$1000$salt$8$1$AAAA",
            "scrypt$16384$salt$8$0$AAAA",
            "scrypt$16384$salt$8$1$AAAA",
        ] {
            assert!(
                matches!(check(hash), Err(FormatError::Malformed { .. })),
                "{hash}: {:?}",
                check(hash)
            );
        }
    }

    #[test]
    fn hostile_costs_are_refused_before_any_work() {
        let cases = [
            (
                "pbkdf2_sha256$4294967295$salt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=",
                "iterations",
            ),
            (
                "pbkdf2_sha256$99999999999999999999$salt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=",
                "",
            ),
            (
                "argon2$argon2id$v=19$m=4194304,t=2,p=8$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "memory_cost",
            ),
            (
                "argon2$argon2id$v=19$m=102400,t=1000,p=8$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "time_cost",
            ),
            (
                "argon2$argon2id$v=19$m=262144,t=16,p=8$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "memory_cost × time_cost",
            ),
            (
                "$argon2id$v=19$m=2097152,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "memory_cost",
            ),
            (
                "bcrypt$$2b$31$LcAJcLcAJcLcAJcLcAJcLeAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "rounds",
            ),
            (
                "scrypt$1073741824$salt$8$1$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
                "memory (128 × n × r bytes)",
            ),
            (
                "scrypt$16384$salt$8$100000$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
                "n × r × p",
            ),
        ];
        for (hash, parameter) in cases {
            match check(hash) {
                Err(FormatError::TooCostly { parameter: p, .. }) => {
                    assert_eq!(p, parameter, "{hash}")
                }
                // A number past u64 does not parse at all.
                Err(FormatError::Malformed { .. }) if parameter.is_empty() => {}
                other => panic!("{hash}: {other:?}"),
            }
        }
        // Django's own defaults are well inside.
        let message = check(cases[0].0).err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some(
                "pbkdf2_sha256 hash with iterations = 4294967295 exceeds Tessera's cap of 5000000"
            )
        );
    }

    #[test]
    fn bcrypt_sha256_hashes_the_hex_digest() {
        // The hex SHA-256 is what bcrypt saw: 64 lowercase hex bytes.
        use sha2::Digest as _;
        let hex = hex_lower(&sha2::Sha256::digest(b"pw"));
        assert_eq!(hex.len(), 64);
        let hash = bcrypt::hash_with_salt(hex.as_bytes(), 4, [7u8; 16])
            .map(|h| h.format_for_version(bcrypt::Version::TwoB))
            .unwrap_or_default();
        let stored = format!("bcrypt_sha256${hash}");
        let parsed = parse(&stored).unwrap_or(Parsed::Unusable);
        assert!(verify("pw", &parsed));
        assert!(!verify("pW", &parsed));
    }
}
