//! The key cache against real OpenBao servers: rotation, single flight (checked on the wire),
//! refresh ahead, stale serving while Vault is down or sealed, then the typed error.

mod common;
mod vault_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use holysheep_vault::Error;
use holysheep_vault::keys::KeyProvider;
use holysheep_vault::vault::VaultBackend;
use serde_json::json;

use common::Rig;
use vault_common::{CountingProxy, PrivateBao, config, lazy_provider, provider, scenario_secret};

fn token_options(rig: &Rig, path: &str, ttl: &str) -> serde_json::Value {
    json!({"vault_token": rig.get("RIG_TOKEN_PROD"), "secret_path": path, "key_ttl": ttl})
}

async fn rotation_is_picked_up_after_invalidate(backend: VaultBackend) {
    let rig = Rig::load();
    let path = scenario_secret(&rig, "sk-rotate-one");
    let provider = provider(&config(&rig, token_options(&rig, &path, "1h")), backend);
    let old = provider.get().await.unwrap();
    assert_eq!((old.secret.expose(), old.origin.version), ("sk-rotate-one", Some(1)));

    rig.write_secret(&path, json!({"api_key": "sk-rotate-two"}));
    let cached = provider.get().await.unwrap();
    assert_eq!(cached.secret.expose(), "sk-rotate-one", "served from the cache until told");

    let new = provider.invalidate(&old).await.unwrap();
    assert_eq!((new.secret.expose(), new.origin.version), ("sk-rotate-two", Some(2)));
    // Another caller that still holds the old key gets the new one without a read.
    let reads = provider.stats().vault_reads;
    let shared = provider.invalidate(&old).await.unwrap();
    assert!(Arc::ptr_eq(&shared.secret, &new.secret));
    assert_eq!(provider.stats().vault_reads, reads);
    // Invalidating the current key re-reads; Vault still holds version 2.
    let same = provider.invalidate(&new).await.unwrap();
    assert_eq!(same.origin.version, Some(2));
    let stats = provider.stats();
    assert_eq!((stats.vault_reads, stats.invalidations, stats.key_version), (3, 3, Some(2)));
}

async fn rotation_is_picked_up_after_the_ttl(backend: VaultBackend) {
    let rig = Rig::load();
    let path = scenario_secret(&rig, "sk-ttl-one");
    let provider = provider(&config(&rig, token_options(&rig, &path, "1s")), backend);
    assert_eq!(provider.get().await.unwrap().secret.expose(), "sk-ttl-one");
    rig.write_secret(&path, json!({"api_key": "sk-ttl-two"}));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let key = provider.get().await.unwrap();
    assert_eq!((key.secret.expose(), key.origin.version), ("sk-ttl-two", Some(2)));
}

/// 500 callers on a cold cache: one KV read, counted by the provider and on the wire.
async fn cold_cache_500_callers_one_read(backend: VaultBackend) {
    let rig = Rig::load();
    let path = scenario_secret(&rig, "sk-single-flight");
    let needle = format!("GET /v1/{}/data/", rig.kv_mount());
    let proxy = CountingProxy::start(rig.vault_addr(), &needle).await;
    let mut options = token_options(&rig, &path, "1h");
    options["vault_addr"] = proxy.addr.clone().into();
    let provider = provider(&config(&rig, options), backend);

    let barrier = Arc::new(tokio::sync::Barrier::new(500));
    let tasks: Vec<_> = (0..500)
        .map(|_| {
            let (provider, barrier) = (provider.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                provider.get().await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().secret.expose(), "sk-single-flight");
    }
    let stats = provider.stats();
    assert_eq!(stats.vault_reads, 1, "{stats:?}");
    assert_eq!(stats.cache_hits + stats.cache_misses, 500, "{stats:?}");
    assert_eq!(proxy.count(), 1, "KV reads seen on the wire");
}

/// Concurrent invalidations of the same rejected key share one read.
async fn concurrent_invalidations_share_one_read(backend: VaultBackend) {
    let rig = Rig::load();
    let path = scenario_secret(&rig, "sk-inv-one");
    let provider = provider(&config(&rig, token_options(&rig, &path, "1h")), backend);
    let old = provider.get().await.unwrap();
    rig.write_secret(&path, json!({"api_key": "sk-inv-two"}));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (provider, old) = (provider.clone(), old.clone());
            tokio::spawn(async move { provider.invalidate(&old).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().secret.expose(), "sk-inv-two");
    }
    assert_eq!(provider.stats().vault_reads, 2);
}

/// In steady state the refresh happens ahead of expiry in the background: after the first
/// (cold) call, no caller misses the cache, yet the key is read again every TTL.
async fn refresh_ahead_keeps_callers_off_vault(backend: VaultBackend) {
    let rig = Rig::load();
    let path = scenario_secret(&rig, "sk-ahead");
    let mut config = config(&rig, token_options(&rig, &path, "1s"));
    config.cache.refresh_ahead = 0.5;
    let provider = provider(&config, backend);
    let end = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < end {
        provider.get().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = provider.stats();
    assert_eq!(stats.cache_misses, 1, "only the cold call may wait on Vault: {stats:?}");
    assert!(stats.vault_reads >= 4, "refreshes ahead of expiry: {stats:?}");
}

both_backends!(
    rotation_is_picked_up_after_invalidate,
    rotation_is_picked_up_after_the_ttl,
    cold_cache_500_callers_one_read,
    concurrent_invalidations_share_one_read,
    refresh_ahead_keeps_callers_off_vault,
);

/// A provider on a private server's `secret/hs/api_key`, TTL 600ms, stale window 1.2s.
fn private_provider(
    rig: &Rig,
    bao: &PrivateBao,
    backend: VaultBackend,
    lazy: bool,
) -> Arc<KeyProvider> {
    bao.write_secret("hs/api_key", "sk-private");
    let options = json!({
        "vault_addr": bao.addr, "vault_token": bao.root, "mount": "secret",
        "secret_path": "hs/api_key", "key_ttl": "600ms", "stale_window": "1200ms", "vault_timeout": "2s",
    });
    let config = config(rig, options);
    if lazy { lazy_provider(&config, backend) } else { vault_common::provider(&config, backend) }
}

/// Calls `get` until `deadline`, returning how many calls were served (all must succeed).
async fn served_until(provider: &KeyProvider, deadline: Instant) -> u32 {
    let mut served = 0;
    while Instant::now() < deadline {
        let key = provider.get().await.unwrap_or_else(|e| panic!("inside the stale window: {e}"));
        assert_eq!(key.secret.expose(), "sk-private");
        served += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served
}

async fn vault_stopped_gives_stale_serves_then_unreachable(backend: VaultBackend, lazy: bool) {
    let rig = Rig::load();
    let mut bao = PrivateBao::start(&rig);
    let provider = private_provider(&rig, &bao, backend, lazy);
    provider.get().await.expect("read while Vault is up");
    let fetched = Instant::now();
    bao.kill();

    // Until 0.6s the key is fresh; from 0.6s to 1.8s it is stale but served.
    served_until(&provider, fetched + Duration::from_millis(1550)).await;
    let stats = provider.stats();
    assert!(stats.stale_serves >= 5, "{stats:?}");

    tokio::time::sleep_until((fetched + Duration::from_millis(2100)).into()).await;
    let err = provider.get().await.expect_err("past the stale window");
    match &err {
        Error::VaultUnreachable { addr, .. } => assert_eq!(addr, &bao.addr),
        other => panic!("expected VaultUnreachable, got {other:?}"),
    }
    assert!(!err.to_string().contains(&bao.root), "{err}");
}

async fn vault_stopped(backend: VaultBackend) {
    vault_stopped_gives_stale_serves_then_unreachable(backend, false).await
}

async fn vault_stopped_lazy(backend: VaultBackend) {
    vault_stopped_gives_stale_serves_then_unreachable(backend, true).await
}

async fn vault_sealed_gives_stale_serves_then_sealed(backend: VaultBackend) {
    let rig = Rig::load();
    let bao = PrivateBao::start(&rig);
    let provider = private_provider(&rig, &bao, backend, false);
    provider.get().await.expect("read while unsealed");
    let fetched = Instant::now();
    bao.root("PUT", "sys/seal", None);

    served_until(&provider, fetched + Duration::from_millis(1550)).await;
    assert!(provider.stats().stale_serves >= 5, "{:?}", provider.stats());
    tokio::time::sleep_until((fetched + Duration::from_millis(2100)).into()).await;
    let err = provider.get().await.expect_err("past the stale window");
    assert!(matches!(err, Error::VaultSealed { .. }), "{err:?}");
}

both_backends!(vault_stopped, vault_stopped_lazy, vault_sealed_gives_stale_serves_then_sealed);
