//! Stored password hashes as `verify_now` reads them: Django's
//! `pbkdf2_sha256$…`, `pbkdf2_sha1$…`, `argon2$argon2id$…`, `bcrypt$…`,
//! `bcrypt_sha256$…` and `scrypt$…`, and PHC `$argon2…`. Work factors are
//! bounded so that the target stays fast: inputs asking for more than 64
//! PBKDF2 iterations, argon2 m > 64 KiB, t > 2, p > 2, a bcrypt cost above 4
//! or a scrypt n > 16, r > 8, p > 2 are skipped.
#![no_main]

use arbitrary::Arbitrary;
use argon2::{Params, PasswordHash};
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use tessera_core::password::{needs_rehash, verify_now, Argon2Params, Verification};
use tessera_core::secret::Secret;

/// The cheapest parameters argon2 takes, for the rehash of a valid password.
const CHEAP: Argon2Params = Argon2Params {
    m_cost: 8,
    t_cost: 1,
    p_cost: 1,
};

#[derive(Debug, Arbitrary)]
struct Input {
    password: String,
    stored: String,
    /// A well-formed Django PBKDF2 hash of `password` is built from these.
    iterations: u8,
    salt: String,
}

fn cheap_enough(stored: &str) -> bool {
    let phc = if stored.starts_with("$argon2") {
        Some(stored)
    } else if let Some(rest) = stored.strip_prefix("argon2") {
        Some(rest)
    } else if let Some(rest) = stored
        .strip_prefix("pbkdf2_sha256$")
        .or_else(|| stored.strip_prefix("pbkdf2_sha1$"))
    {
        return match rest.split('$').next().map(str::parse::<u32>) {
            Some(Ok(n)) => n <= 64,
            _ => true,
        };
    } else if let Some(rest) = stored
        .strip_prefix("bcrypt$")
        .or_else(|| stored.strip_prefix("bcrypt_sha256$"))
    {
        // "$2b$<cost>$...": the cost is the third field.
        return match rest.split('$').nth(2).map(str::parse::<u32>) {
            Some(Ok(cost)) => cost <= 4,
            _ => true,
        };
    } else if let Some(rest) = stored.strip_prefix("scrypt$") {
        // n$salt$r$p$hash
        let fields: Vec<&str> = rest.splitn(5, '$').collect();
        let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        return match (number(0), number(2), number(3)) {
            (Some(n), Some(r), Some(p)) => n <= 16 && r <= 8 && p <= 2,
            _ => true,
        };
    } else {
        None
    };
    let Some(phc) = phc else {
        return true;
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    match Params::try_from(&parsed) {
        Ok(p) => p.m_cost() <= 64 && p.t_cost() <= 2 && p.p_cost() <= 2,
        Err(_) => true,
    }
}

fn pbkdf2(password: &str, salt: &str, iterations: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    let b64 = base64::engine::general_purpose::STANDARD.encode(out);
    format!("pbkdf2_sha256${iterations}${salt}${b64}")
}

fuzz_target!(|input: Input| {
    let password = Secret::new(input.password.clone());
    if cheap_enough(&input.stored) {
        let _ = verify_now(&CHEAP, &password, &input.stored);
        let _ = needs_rehash(&CHEAP, &input.stored);
    }
    // A Django hash made here verifies, whatever the password and salt (a
    // `$` in the salt would split the string differently: Django's salts
    // never hold one). The password is checked as given; a valid one is
    // rehashed to argon2id, which verifies too.
    let too_long = input.password.len() > tessera_core::password::MAX_PASSWORD_BYTES;
    if input.salt.contains('$') || too_long {
        return;
    }
    let iterations = u32::from(input.iterations % 16) + 1;
    let stored = pbkdf2(&input.password, &input.salt, iterations);
    assert!(needs_rehash(&CHEAP, &stored));
    match verify_now(&CHEAP, &password, &stored) {
        Verification::Valid { rehash } => {
            let rehash = rehash.expect("a pbkdf2 hash is upgraded");
            assert!(verify_now(&CHEAP, &password, &rehash).is_valid());
        }
        Verification::Invalid => panic!("a hash made here did not verify"),
    }
});
