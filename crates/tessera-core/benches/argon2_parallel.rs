//! The all-cores argon2id verification rate: N threads each verifying a
//! password against a stored hash in a loop, all at once, for a few seconds.
//! This is the ceiling of password logins a machine can serve, the figure
//! `bench/run` compares `POST /api-token-auth/` throughput with.
//!
//! ```sh
//! cargo bench -p tessera-core --bench argon2_parallel -- [--threads N] [--seconds S] [--params m=19456,t=2,p=1]
//! ```
//!
//! Prints one line, `argon2id threads=N seconds=S verifications=V rate=R/s
//! per_thread=R/s mean_ms=M`. Without `--bench` (as `cargo test --all-targets`
//! runs it) it only verifies one password and exits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tessera_core::password::{hash_now, verify_now, Argon2Params};
use tessera_core::secret::Secret;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let threads: usize = value("--threads")
        .map(|v| v.parse().expect("--threads takes a number"))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let seconds: f64 = value("--seconds")
        .map(|v| v.parse().expect("--seconds takes a number"))
        .unwrap_or(5.0);
    let params: Argon2Params = value("--params")
        .map(|v| v.parse().expect("--params takes m=..,t=..,p=.."))
        .unwrap_or_default();

    let password = Secret::new("correct horse battery staple");
    // The server's own path: a PHC string at the current parameters, verified
    // by `verify_now` (NFKC, then argon2id, then the rehash check).
    let stored = hash_now(&params, &password).expect("hashing works");
    assert!(verify_now(&params, &password, &stored).is_valid());
    if !args.iter().any(|a| a == "--bench") {
        println!("argon2_parallel: smoke check passed (run with cargo bench for the rate)");
        return;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, start, password, stored) = (
                stop.clone(),
                start.clone(),
                password.clone(),
                stored.clone(),
            );
            std::thread::spawn(move || {
                start.wait();
                let mut done = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    assert!(verify_now(&params, &password, &stored).is_valid());
                    done += 1;
                }
                done
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let total: u64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    // Each thread finishes the verification it had begun: count the time too.
    let elapsed = began.elapsed().as_secs_f64();
    let rate = total as f64 / elapsed;
    println!(
        "argon2id threads={threads} seconds={elapsed:.2} verifications={total} rate={rate:.1}/s per_thread={:.1}/s mean_ms={:.1} params=m={},t={},p={}",
        rate / threads as f64,
        1000.0 * elapsed * threads as f64 / total.max(1) as f64,
        params.m_cost,
        params.t_cost,
        params.p_cost,
    );
}
