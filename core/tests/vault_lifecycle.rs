//! Token lifecycle against the rig's real OpenBao: renewal with short TTLs (background and lazy),
//! a new login at the max TTL, a revoked token healed by a new login, a rotated token file.

mod common;
mod vault_common;

use std::time::{Duration, Instant};

use holysheep_vault::keys::KeyProvider;
use holysheep_vault::vault::VaultBackend;
use serde_json::json;

use common::{Rig, unique};
use vault_common::{
    approle, config, create_token, lazy_provider, provider, revoke_logins, scenario_secret,
};

/// Calls `get` every 100ms for `duration`; every call must succeed with `expected`.
async fn keep_reading(provider: &KeyProvider, expected: &str, duration: Duration) {
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let key = provider.get().await.unwrap_or_else(|e| panic!("get failed mid-run: {e}"));
        assert_eq!(key.secret.expose(), expected);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn approle_options(role: &vault_common::AppRole, path: &str) -> serde_json::Value {
    json!({
        "auth_method": "approle", "auth_mount": role.mount, "role_id": role.role_id,
        "secret_id": role.secret_id, "secret_path": path, "key_ttl": "300ms",
    })
}

/// TTL 2s, max 5s: renewals at about 1.3s and 2.7s, a capped renewal near 4s, then a new login.
async fn approle_token_is_renewed_then_replaced_at_max_ttl(backend: VaultBackend) {
    let rig = Rig::load();
    let role = approle(&rig, "2s", "5s");
    let path = scenario_secret(&rig, "sk-renewal");
    let provider = provider(&config(&rig, approle_options(&role, &path)), backend);
    keep_reading(&provider, "sk-renewal", Duration::from_millis(6000)).await;
    let stats = provider.stats();
    assert!(stats.renewals >= 2, "expected renewals in the background: {stats:?}");
    assert!(stats.logins >= 2, "expected a new login after the max TTL: {stats:?}");
    assert!(stats.vault_reads >= 10, "{stats:?}");

    // close() stops the renewer: nothing happens afterwards.
    provider.close();
    let after = provider.stats();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(provider.stats(), after, "background work after close()");
}

/// Without background tasks (the wasm mode) the same happens lazily, on the calls themselves.
/// The backend the wasm build uses is enough: laziness lives above the Vault interface.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_renewal_happens_on_calls() {
    let backend = VaultBackend::Http;
    let rig = Rig::load();
    let role = approle(&rig, "2s", "5s");
    let path = scenario_secret(&rig, "sk-lazy");
    let provider = lazy_provider(&config(&rig, approle_options(&role, &path)), backend);
    keep_reading(&provider, "sk-lazy", Duration::from_millis(6000)).await;
    let stats = provider.stats();
    assert!(stats.renewals >= 1, "{stats:?}");
    assert!(stats.logins >= 2, "{stats:?}");
}

/// A renewable token given directly (ttl 2s) outlives its TTL because it is renewed.
async fn static_token_is_renewed(backend: VaultBackend) {
    let rig = Rig::load();
    let token = create_token(&rig, &["holysheep-scenarios"], "2s", None);
    let path = scenario_secret(&rig, "sk-static");
    let options = json!({"vault_token": token, "secret_path": path, "key_ttl": "300ms"});
    let provider = provider(&config(&rig, options), backend);
    keep_reading(&provider, "sk-static", Duration::from_millis(3500)).await;
    let stats = provider.stats();
    assert!(stats.renewals >= 2, "{stats:?}");
    assert_eq!(stats.logins, 0);
}

/// The same inside a Vault namespace: renew-self must carry `X-Vault-Namespace` too, or the
/// token (which exists only in its namespace) is unknown and would expire.
async fn namespace_token_is_renewed(backend: VaultBackend) {
    let rig = Rig::load();
    let ns = rig.get("RIG_NAMESPACE");
    let created = rig.root(
        "POST",
        &format!("{ns}/auth/token/create"),
        Some(json!({"policies": ["holysheep-production"], "ttl": "2s", "renewable": true})),
    );
    let token = created["auth"]["client_token"].as_str().expect("a namespace token").to_owned();
    let options = json!({"vault_token": token, "vault_namespace": ns, "key_ttl": "300ms"});
    let provider = provider(&config(&rig, options), backend);
    keep_reading(&provider, rig.get("RIG_NS_KEY"), Duration::from_millis(3500)).await;
    let stats = provider.stats();
    assert!(stats.renewals >= 2, "{stats:?}");
    assert_eq!(stats.logins, 0);
}

/// Revoking the logged-in token (root, revoke-prefix on the login path) is healed by one new
/// login; the caller sees no error.
async fn revoked_token_heals_by_logging_in_again(backend: VaultBackend) {
    let rig = Rig::load();
    let role = approle(&rig, "1m", "10m");
    let path = scenario_secret(&rig, "sk-heal");
    let mut options = approle_options(&role, &path);
    options["key_ttl"] = "1h".into();
    let provider = provider(&config(&rig, options), backend);
    let key = provider.get().await.expect("first read");
    assert_eq!(provider.stats().logins, 1);

    revoke_logins(&rig, &role.mount);
    let again = provider.invalidate(&key).await.expect("read after the token was revoked");
    assert_eq!(again.secret.expose(), "sk-heal");
    let stats = provider.stats();
    assert_eq!(stats.logins, 2, "{stats:?}");
    assert_eq!(stats.vault_reads, 3, "first read, rejected read, healed read: {stats:?}");
}

/// The agent rotated the sink to a new token of the same length and the file kept its mtime:
/// only Vault's 403 says the token changed, and the file is read again.
async fn token_file_is_reread_when_vault_rejects_the_token(backend: VaultBackend) {
    let rig = Rig::load();
    let dir = vault_common::tempdir::TempDir::new("sink");
    let sink = dir.path().join("token");
    let id = unique("hs");
    let (first, second) = (format!("{id}-a"), format!("{id}-b"));
    create_token(&rig, &["holysheep-scenarios"], "1h", Some(&first));
    create_token(&rig, &["holysheep-scenarios"], "1h", Some(&second));
    std::fs::write(&sink, &first).unwrap();
    let mtime = std::fs::metadata(&sink).unwrap().modified().unwrap();

    let path = scenario_secret(&rig, "sk-sink");
    let options = json!({
        "auth_method": "token_file", "token_file": sink, "secret_path": path, "key_ttl": "1h",
    });
    let provider = provider(&config(&rig, options), backend);
    let key = provider.get().await.expect("first read");

    std::fs::write(&sink, &second).unwrap();
    std::fs::File::options().write(true).open(&sink).unwrap().set_modified(mtime).unwrap();
    rig.root("POST", "auth/token/revoke", Some(json!({"token": first})));
    let again = provider.invalidate(&key).await.expect("read with the rotated sink");
    assert_eq!(again.secret.expose(), "sk-sink");
    assert_eq!(provider.stats().vault_reads, 3);

    // A plain rewrite (new mtime) is noticed before any call fails.
    let third = format!("{id}-c");
    create_token(&rig, &["holysheep-scenarios"], "1h", Some(&third));
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&sink, &third).unwrap();
    rig.root("POST", "auth/token/revoke", Some(json!({"token": second})));
    provider.invalidate(&again).await.expect("read after the sink was rewritten");
    assert_eq!(provider.stats().vault_reads, 4, "no rejected read this time");
}

/// A static token that Vault rejects is not "healed": the typed error reaches the caller.
async fn revoked_static_token_is_reported(backend: VaultBackend) {
    let rig = Rig::load();
    let token = create_token(&rig, &["holysheep-scenarios"], "1h", None);
    let path = scenario_secret(&rig, "sk-static-revoked");
    let options = json!({"vault_token": token, "secret_path": path, "key_ttl": "1h"});
    let provider = provider(&config(&rig, options), backend);
    let key = provider.get().await.expect("first read");
    rig.root("POST", "auth/token/revoke", Some(json!({"token": token})));
    let err = provider.invalidate(&key).await.expect_err("revoked token");
    assert_eq!(err.code(), "vault_permission_denied", "{err}");
}

both_backends!(
    approle_token_is_renewed_then_replaced_at_max_ttl,
    static_token_is_renewed,
    namespace_token_is_renewed,
    revoked_token_heals_by_logging_in_again,
    token_file_is_reread_when_vault_rejects_the_token,
    revoked_static_token_is_reported,
);
