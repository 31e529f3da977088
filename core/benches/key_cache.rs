//! The cache-hit path of `KeyProvider::get` with 8 concurrent readers. Std-only timing (no
//! criterion: its build cost is not worth it on a small box); prints ns per get.
//!
//!     cargo bench -p holysheep-vault --bench key_cache
//!
//! The key comes from an environment variable, so no Vault is needed: the hit path is the same
//! for every source (a read lock, a clock read, a counter, two `Arc`/`String` clones).

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use holysheep_vault::config::ClientOptions;
use holysheep_vault::keys::{ApiKey, KeyProvider};

const READERS: usize = 8;
const GETS_PER_READER: u64 = 2_000_000;

/// A hit never awaits, so one poll completes it; anything else is a bug worth a panic.
fn get_now(provider: &KeyProvider) -> ApiKey {
    let mut future = std::pin::pin!(provider.get());
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result.expect("get"),
        Poll::Pending => panic!("a cache hit went pending"),
    }
}

fn main() {
    // SAFETY: set before any thread starts.
    unsafe { std::env::set_var("HOLYSHEEP_BENCH_KEY", "sk-bench-0123456789abcdefghij") };
    let options = ClientOptions::from_json(serde_json::json!({
        "key_source": "env", "key_env": "HOLYSHEEP_BENCH_KEY", "key_ttl": "1h",
    }))
    .expect("options");
    let config = options.resolve().expect("config");
    let provider = KeyProvider::new(&config).expect("provider");
    get_now(&provider); // fill the cache

    let single = {
        let start = Instant::now();
        for _ in 0..GETS_PER_READER {
            black_box(get_now(&provider));
        }
        start.elapsed().as_nanos() as f64 / GETS_PER_READER as f64
    };

    let barrier = Arc::new(Barrier::new(READERS + 1));
    let handles: Vec<_> = (0..READERS)
        .map(|_| {
            let (provider, barrier) = (provider.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for _ in 0..GETS_PER_READER {
                    black_box(get_now(&provider));
                }
                start.elapsed()
            })
        })
        .collect();
    barrier.wait();
    let wall = Instant::now();
    let per_thread: Vec<_> = handles.into_iter().map(|h| h.join().expect("reader")).collect();
    let wall = wall.elapsed();

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(READERS);
    let total = (READERS as u64 * GETS_PER_READER) as f64;
    let slowest = per_thread.iter().max().expect("readers").as_nanos() as f64;
    let stats = provider.stats();
    assert_eq!(stats.cache_misses, 1, "every timed get must be a hit");
    println!("key_cache: 1 reader                 {single:>8.1} ns/get");
    println!(
        "key_cache: {READERS} readers, {cores} cores, per get  {:>8.1} ns/get (wall x cores/gets)",
        wall.as_nanos() as f64 * cores as f64 / total
    );
    println!(
        "key_cache: {READERS} readers, slowest reader   {:>8.1} ns/get (its wall time / its gets, \
         includes waiting for a core)",
        slowest / GETS_PER_READER as f64
    );
    println!(
        "key_cache: {READERS} readers, throughput       {:>8.1} M gets/s",
        total / wall.as_secs_f64() / 1e6
    );
}
