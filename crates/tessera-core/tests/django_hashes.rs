//! Hashes that real Django 5.2 made with each of its hashers
//! (`tests/data/django_hashes.json`, written by `scripts/django-fixtures`):
//! every one verifies with its password, a wrong password does not, and a
//! successful verification hands back an argon2id hash to store instead.

#![allow(clippy::panic)]

use serde::Deserialize;
use tessera_core::password::django::{check, Scheme};
use tessera_core::password::{verify_now, Argon2Params, Verification};
use tessera_core::secret::Secret;

#[derive(Deserialize)]
struct Vectors {
    django: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    hasher: String,
    password: String,
    encoded: String,
    #[serde(default = "usable")]
    usable: bool,
}

fn usable() -> bool {
    true
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("data/django_hashes.json"))
        .unwrap_or_else(|e| panic!("tests/data/django_hashes.json: {e}"))
}

/// Cheap current parameters: the re-hash is not what is tested here.
fn current() -> Argon2Params {
    Argon2Params {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    }
}

#[test]
fn the_vectors_come_from_django_5_2_and_cover_every_hasher() {
    let all = vectors();
    assert!(all.django.starts_with("5.2"), "{}", all.django);
    let schemes: std::collections::BTreeSet<Scheme> = all
        .vectors
        .iter()
        .map(|v| check(&v.encoded).unwrap_or_else(|e| panic!("{}: {e}", v.hasher)))
        .collect();
    for scheme in [
        Scheme::Pbkdf2Sha256,
        Scheme::Pbkdf2Sha1,
        Scheme::Argon2,
        Scheme::BcryptSha256,
        Scheme::Bcrypt,
        Scheme::Scrypt,
        Scheme::Unusable,
    ] {
        assert!(schemes.contains(&scheme), "no vector for {scheme}");
    }
    let encoded: Vec<&str> = all.vectors.iter().map(|v| v.encoded.as_str()).collect();
    assert!(encoded
        .iter()
        .any(|e| e.starts_with("pbkdf2_sha256$1500000$")));
    assert!(encoded.iter().any(|e| e.starts_with("argon2$argon2i$")));
    assert!(encoded
        .iter()
        .any(|e| e.starts_with("argon2$argon2id$v=19$m=102400,t=2,p=8$")));
}

#[test]
fn every_django_hash_verifies_its_password_and_no_other() {
    let p = current();
    for v in vectors().vectors {
        let label = format!("{} {:?}", v.hasher, v.encoded);
        if !v.usable {
            assert_eq!(
                verify_now(&p, &Secret::new(v.password.clone()), &v.encoded),
                Verification::Invalid,
                "{label}"
            );
            continue;
        }
        match verify_now(&p, &Secret::new(v.password.clone()), &v.encoded) {
            Verification::Valid { rehash: Some(new) } => {
                assert!(new.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{label}");
                assert!(
                    verify_now(&p, &Secret::new(v.password.clone()), &new).is_valid(),
                    "{label}: the upgraded hash"
                );
            }
            other => panic!("{label}: {other:?}"),
        }
        // One wrong password per vector (each verification of these costs
        // what it cost Django, up to a second).
        let wrong = format!("{}x", v.password);
        assert_eq!(
            verify_now(&p, &Secret::new(wrong), &v.encoded),
            Verification::Invalid,
            "{label} with a wrong password"
        );
    }
}
