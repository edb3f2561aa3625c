//! Micro-benchmarks of the per-request work that needs no store: recognising a
//! key (form and checksum), digesting it, CSRF masking and comparison, and a
//! composed permission.
//!
//! `cargo bench -p tessera-core --bench core`; `bench/run` runs the HTTP load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tessera_core::csrf::{does_token_match, generate_secret, mask, unmask};
use tessera_core::identity::{Credential, Identity, Principal};
use tessera_core::permission::{HasScope, IsAuthenticated, IsStaff, Perm, Permission, RequestInfo};
use tessera_core::token::{checksum, TokenKey};
use tessera_core::user::User;
use time::OffsetDateTime;

fn token(c: &mut Criterion) {
    let key = TokenKey::generate();
    let good = key.expose().to_owned();
    // Same length and alphabet, checksum off by one character: refused
    // after the checksum, the most work a bad key costs before any lookup.
    let mut bad = good.clone().into_bytes();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'0' { b'1' } else { b'0' };
    let bad = String::from_utf8(bad).unwrap();
    let drf = "a".repeat(40);
    let random = &good.as_bytes()[4..4 + 43];

    let mut g = c.benchmark_group("token");
    g.bench_function("parse_valid", |b| {
        b.iter(|| TokenKey::parse(black_box(&good)))
    });
    g.bench_function("parse_bad_checksum", |b| {
        b.iter(|| TokenKey::parse(black_box(&bad)))
    });
    g.bench_function("parse_drf_hex", |b| {
        b.iter(|| TokenKey::parse(black_box(&drf)))
    });
    g.bench_function("parse_garbage", |b| {
        b.iter(|| TokenKey::parse(black_box("tsr_not-a-key")))
    });
    g.bench_function("checksum", |b| b.iter(|| checksum(black_box(random))));
    g.bench_function("digest", |b| b.iter(|| black_box(&key).digest()));
    g.bench_function("parse_and_digest", |b| {
        b.iter(|| TokenKey::parse(black_box(&good)).map(|k| k.digest()))
    });
    // 43 characters from the OS CSPRNG and the checksum, as every issue does.
    g.bench_function("generate", |b| b.iter(TokenKey::generate));
    g.finish();
}

fn csrf(c: &mut Criterion) {
    let secret = generate_secret();
    let other = generate_secret();
    let masked = mask(&secret);
    let plain = secret.expose().to_owned();

    let mut g = c.benchmark_group("csrf");
    // 32 characters from the OS CSPRNG, as a new session's or a rotated secret.
    g.bench_function("generate_secret", |b| b.iter(generate_secret));
    // Includes 32 characters from the OS CSPRNG, as every issue does.
    g.bench_function("mask", |b| b.iter(|| mask(black_box(&secret))));
    g.bench_function("unmask", |b| b.iter(|| unmask(black_box(&masked))));
    g.bench_function("does_token_match_masked", |b| {
        b.iter(|| does_token_match(black_box(&masked), black_box(&secret)))
    });
    g.bench_function("does_token_match_plain", |b| {
        b.iter(|| does_token_match(black_box(&plain), black_box(&secret)))
    });
    g.bench_function("does_token_match_wrong", |b| {
        b.iter(|| does_token_match(black_box(&masked), black_box(&other)))
    });
    g.finish();
}

fn identity(staff: bool, scopes: &[&str]) -> Identity {
    Identity::Authenticated(Principal {
        user: User {
            id: 1,
            username: "bench".to_owned(),
            email: String::new(),
            is_active: true,
            is_staff: staff,
            is_superuser: false,
            date_joined: OffsetDateTime::UNIX_EPOCH,
            last_login: None,
            groups: Vec::new(),
        },
        credential: Credential::Token {
            id: 1,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            authenticated_at: None,
        },
    })
}

fn permission(c: &mut Criterion) {
    let composed = IsAuthenticated & (IsStaff | HasScope::new("notes:write"));
    // What a route's policy holds: the same tree behind one `Arc<dyn _>`.
    let erased = Perm::new(IsAuthenticated & (IsStaff | HasScope::new("notes:write")));
    let get = RequestInfo::new(http::Method::GET);
    let anonymous = Identity::Anonymous;
    let staff = identity(true, &[]);
    // Not staff: the scope list is searched (and holds the scope, last).
    let scoped = identity(false, &["notes:read", "profile", "notes:write"]);
    let unscoped = identity(false, &["notes:read"]);

    let mut g = c.benchmark_group("permission");
    for (name, who) in [
        ("anonymous", &anonymous),
        ("staff", &staff),
        ("scope_held", &scoped),
        ("scope_missing", &unscoped),
    ] {
        g.bench_function(format!("composed_{name}"), |b| {
            b.iter(|| composed.has_permission(black_box(&get), black_box(who)))
        });
    }
    g.bench_function("erased_scope_held", |b| {
        b.iter(|| erased.has_permission(black_box(&get), black_box(&scoped)))
    });
    g.finish();
}

criterion_group!(benches, token, csrf, permission);
criterion_main!(benches);
