//! Every auth method reads the key from the rig's real OpenBao, with both Vault backends; and each
//! Vault failure comes back as its typed error.

mod common;
mod vault_common;

use holysheep_vault::Error;
use holysheep_vault::vault::VaultBackend;
use serde_json::json;

use common::{Rig, unique};
use vault_common::{config, expect_err, provider, scenario_secret};

/// Reads the production key with `options` and checks value, origin and login count.
async fn reads_production_key(backend: VaultBackend, options: serde_json::Value, logins: u64) {
    let rig = Rig::load();
    let provider = provider(&config(&rig, options), backend);
    let key = provider.get().await.unwrap_or_else(|e| panic!("{backend:?}: {e}"));
    assert_eq!(key.secret.expose(), rig.get("RIG_PROD_KEY"));
    assert_eq!(key.origin.location, "holysheep/production/api_key");
    assert!(key.origin.version.is_some_and(|v| v >= 1), "{:?}", key.origin);
    let stats = provider.stats();
    assert_eq!(stats.vault_reads, 1, "{stats:?}");
    assert_eq!(stats.logins, logins, "{stats:?}");
    assert_eq!(stats.key_version, key.origin.version);
    provider.close();
}

async fn token(backend: VaultBackend) {
    let rig = Rig::load();
    let options = json!({"auth_method": "token", "vault_token": rig.get("RIG_TOKEN_PROD")});
    reads_production_key(backend, options, 0).await;
}

async fn token_file_from_agent_sink(backend: VaultBackend) {
    let rig = Rig::load();
    let options =
        json!({"auth_method": "token_file", "token_file": rig.get("RIG_AGENT_TOKEN_FILE")});
    reads_production_key(backend, options, 0).await;
}

async fn approle_secret_id_value(backend: VaultBackend) {
    let rig = Rig::load();
    let options = json!({
        "auth_method": "approle", "auth_mount": rig.get("RIG_APPROLE_MOUNT"),
        "role_id": rig.get("RIG_ROLE_ID"), "secret_id": rig.get("RIG_SECRET_ID"),
    });
    reads_production_key(backend, options, 1).await;
}

async fn approle_secret_id_file(backend: VaultBackend) {
    let rig = Rig::load();
    let options = json!({
        "auth_method": "approle", "role_id": rig.get("RIG_ROLE_ID"),
        "secret_id_file": rig.get("RIG_SECRET_ID_FILE"),
    });
    reads_production_key(backend, options, 1).await;
}

async fn jwt(backend: VaultBackend) {
    let rig = Rig::load();
    let options = json!({
        "auth_method": "jwt", "auth_mount": rig.get("RIG_JWT_MOUNT"),
        "role": rig.get("RIG_JWT_ROLE"), "jwt_path": rig.get("RIG_JWT_FILE"),
    });
    reads_production_key(backend, options, 1).await;
}

async fn kubernetes(backend: VaultBackend) {
    let rig = Rig::load();
    let options = json!({
        "auth_method": "kubernetes", "auth_mount": rig.get("RIG_K8S_MOUNT"),
        "role": rig.get("RIG_K8S_ROLE"), "jwt_path": rig.get("RIG_K8S_JWT_FILE"),
    });
    reads_production_key(backend, options, 1).await;
}

async fn none_through_agent_proxy(backend: VaultBackend) {
    let rig = Rig::load();
    let options = json!({"auth_method": "none", "vault_addr": rig.get("RIG_AGENT_PROXY_ADDR")});
    reads_production_key(backend, options, 0).await;
}

/// Inside a Vault namespace: the same mount and path hold a different key, so reading the
/// namespace's value proves `X-Vault-Namespace` reached every request (login, lookup, read).
async fn reads_namespace_key(backend: VaultBackend, options: serde_json::Value, logins: u64) {
    let rig = Rig::load();
    let mut options = options;
    options["vault_namespace"] = json!(rig.get("RIG_NAMESPACE"));
    let provider = provider(&config(&rig, options), backend);
    let key = provider.get().await.unwrap_or_else(|e| panic!("{backend:?}: {e}"));
    assert_eq!(key.secret.expose(), rig.get("RIG_NS_KEY"));
    assert_ne!(key.secret.expose(), rig.get("RIG_PROD_KEY"));
    assert_eq!(key.origin.location, "team-ai/holysheep/production/api_key");
    assert_eq!(provider.stats().logins, logins);
    provider.close();
}

async fn namespace_approle(backend: VaultBackend) {
    let rig = Rig::load();
    let options =
        json!({"role_id": rig.get("RIG_NS_ROLE_ID"), "secret_id": rig.get("RIG_NS_SECRET_ID")});
    reads_namespace_key(backend, options, 1).await;
}

async fn namespace_token(backend: VaultBackend) {
    let rig = Rig::load();
    reads_namespace_key(backend, json!({"vault_token": rig.get("RIG_NS_TOKEN")}), 0).await;
}

/// Namespaced AppRole credentials without the namespace go to the root namespace's AppRole
/// mount, which does not know them: a login failure, not a read of the root namespace's key.
async fn namespace_credentials_without_the_namespace_fail_to_log_in(backend: VaultBackend) {
    let rig = Rig::load();
    let options =
        json!({"role_id": rig.get("RIG_NS_ROLE_ID"), "secret_id": rig.get("RIG_NS_SECRET_ID")});
    let err = expect_err(provider(&config(&rig, options), backend).get().await, "no namespace");
    assert!(matches!(err, Error::VaultLoginFailed { .. }), "{err:?}");
    assert!(!err.to_string().contains(rig.get("RIG_NS_SECRET_ID")), "{err}");
}

async fn pinned_version(backend: VaultBackend) {
    let rig = Rig::load();
    let path = scenario_secret(&rig, "sk-pinned-v1");
    rig.write_secret(&path, json!({"api_key": "sk-pinned-v2"}));
    let token = rig.get("RIG_TOKEN_PROD");
    let pinned = provider(
        &config(&rig, json!({"vault_token": token, "secret_path": path, "secret_version": 1})),
        backend,
    );
    let key = pinned.get().await.expect("pinned read");
    assert_eq!((key.secret.expose(), key.origin.version), ("sk-pinned-v1", Some(1)));
    let latest =
        provider(&config(&rig, json!({"vault_token": token, "secret_path": path})), backend);
    let key = latest.get().await.expect("latest read");
    assert_eq!((key.secret.expose(), key.origin.version), ("sk-pinned-v2", Some(2)));
}

async fn approle_bad_secret_id_is_a_login_failure(backend: VaultBackend) {
    let rig = Rig::load();
    let options = json!({
        "auth_method": "approle", "role_id": rig.get("RIG_ROLE_ID"),
        "secret_id": "not-the-secret-id-0000",
    });
    let provider = provider(&config(&rig, options), backend);
    let err = expect_err(provider.get().await, "bad secret_id");
    match &err {
        Error::VaultLoginFailed { method, mount, message } => {
            assert_eq!((method.as_str(), mount.as_str()), ("approle", "approle"));
            assert!(message.contains("invalid role or secret ID"), "{message}");
        }
        other => panic!("expected VaultLoginFailed, got {other:?}"),
    }
    assert!(!err.to_string().contains("not-the-secret-id"), "{err}");
    assert_eq!(provider.stats().logins, 0);
}

async fn jwt_with_unknown_role_is_a_login_failure(backend: VaultBackend) {
    let rig = Rig::load();
    let options = json!({
        "auth_method": "jwt", "role": "no-such-role", "jwt_path": rig.get("RIG_JWT_FILE"),
    });
    let err = expect_err(provider(&config(&rig, options), backend).get().await, "unknown role");
    let named = |m: &str, n: &str| m == "jwt" && n == "jwt";
    assert!(
        matches!(&err, Error::VaultLoginFailed { method, mount, .. } if named(method, mount)),
        "{err:?}"
    );
}

async fn denied_token_names_path_and_capability(backend: VaultBackend) {
    let rig = Rig::load();
    let options = json!({"vault_token": rig.get("RIG_TOKEN_DENIED")});
    let err = expect_err(provider(&config(&rig, options), backend).get().await, "denied token");
    match &err {
        Error::VaultPermissionDenied { path, capability } => {
            assert_eq!(path, "holysheep/data/production/api_key");
            assert_eq!(capability, "read");
        }
        other => panic!("expected VaultPermissionDenied, got {other:?}"),
    }
    assert_eq!(err.code(), "vault_permission_denied");
}

async fn missing_secret_is_not_found(backend: VaultBackend) {
    let rig = Rig::load();
    let path = format!("scenarios/{}/api_key", unique("missing"));
    let options = json!({"vault_token": rig.get("RIG_TOKEN_PROD"), "secret_path": path});
    let err = expect_err(provider(&config(&rig, options), backend).get().await, "missing secret");
    match &err {
        Error::VaultSecretNotFound { mount, path: p, field, .. } => {
            assert_eq!((mount.as_str(), p.as_str()), ("holysheep", path.as_str()));
            assert_eq!(field.as_deref(), Some("api_key"));
        }
        other => panic!("expected VaultSecretNotFound, got {other:?}"),
    }
}

async fn missing_field_is_not_found(backend: VaultBackend) {
    let rig = Rig::load();
    let path = scenario_secret(&rig, "sk-has-a-value");
    let options =
        json!({"vault_token": rig.get("RIG_TOKEN_PROD"), "secret_path": path, "field": "other"});
    let err = expect_err(provider(&config(&rig, options), backend).get().await, "missing field");
    let text = err.to_string();
    assert!(matches!(err, Error::VaultSecretNotFound { .. }), "{err:?}");
    assert!(text.contains("no field \"other\" (it has: api_key)"), "{text}");
    assert!(!text.contains("sk-has-a-value"), "{text}");
}

async fn deleted_version_is_not_found_and_says_so(backend: VaultBackend) {
    let rig = Rig::load();
    let path = scenario_secret(&rig, "sk-soon-deleted");
    rig.root("POST", &format!("holysheep/delete/{path}"), Some(json!({"versions": [1]})));
    let options = json!({"vault_token": rig.get("RIG_TOKEN_PROD"), "secret_path": path});
    let err = expect_err(provider(&config(&rig, options), backend).get().await, "deleted");
    let text = err.to_string();
    assert!(matches!(err, Error::VaultSecretNotFound { .. }), "{err:?}");
    assert!(text.contains("(version 1) was deleted at"), "{text}");
}

async fn kv_v1_mount_is_misconfigured(backend: VaultBackend) {
    let rig = Rig::load();
    let mount = unique("kv1");
    rig.root(
        "POST",
        &format!("sys/mounts/{mount}"),
        Some(json!({"type": "kv", "options": {"version": "1"}})),
    );
    rig.root("POST", &format!("{mount}/production/api_key"), Some(json!({"api_key": "sk-v1"})));
    let options = json!({"vault_token": rig.root_token(), "mount": mount});
    let err = expect_err(provider(&config(&rig, options), backend).get().await, "kv v1");
    assert!(matches!(err, Error::VaultMisconfigured { .. }), "{err:?}");
    assert!(err.to_string().contains("KV version 1"), "{err}");
}

async fn unknown_mount_is_misconfigured(backend: VaultBackend) {
    let rig = Rig::load();
    let options = json!({"vault_token": rig.root_token(), "mount": unique("nomount")});
    let err = expect_err(provider(&config(&rig, options), backend).get().await, "no mount");
    assert!(matches!(err, Error::VaultMisconfigured { .. }), "{err:?}");
    assert!(err.to_string().contains("no secrets engine is mounted"), "{err}");
}

async fn unreachable_vault_names_the_address(backend: VaultBackend) {
    let rig = Rig::load();
    let addr = format!("http://127.0.0.1:{}", common::free_port());
    let options = json!({"vault_addr": addr, "vault_token": rig.get("RIG_TOKEN_PROD")});
    let err = expect_err(provider(&config(&rig, options), backend).get().await, "unreachable");
    match &err {
        Error::VaultUnreachable { addr: a, .. } => assert_eq!(a, &addr),
        other => panic!("expected VaultUnreachable, got {other:?}"),
    }
    assert!(!err.to_string().contains(rig.get("RIG_TOKEN_PROD")), "{err}");
}

both_backends!(
    token,
    token_file_from_agent_sink,
    approle_secret_id_value,
    approle_secret_id_file,
    jwt,
    kubernetes,
    none_through_agent_proxy,
    namespace_approle,
    namespace_token,
    namespace_credentials_without_the_namespace_fail_to_log_in,
    pinned_version,
    approle_bad_secret_id_is_a_login_failure,
    jwt_with_unknown_role_is_a_login_failure,
    denied_token_names_path_and_capability,
    missing_secret_is_not_found,
    missing_field_is_not_found,
    deleted_version_is_not_found_and_says_so,
    kv_v1_mount_is_misconfigured,
    unknown_mount_is_misconfigured,
    unreachable_vault_names_the_address,
);

#[tokio::test]
async fn key_file_rendered_by_the_agent() {
    let rig = Rig::load();
    let options = json!({"key_source": "file", "key_file": rig.get("RIG_AGENT_KEY_FILE")});
    let provider = provider(&config(&rig, options), VaultBackend::default());
    let key = provider.get().await.expect("key file");
    assert_eq!(key.secret.expose(), rig.get("RIG_PROD_KEY"));
    assert_eq!(key.origin.location, rig.get("RIG_AGENT_KEY_FILE"));
    assert_eq!(provider.stats().vault_reads, 0);
}

#[tokio::test]
async fn key_file_is_reread_when_it_changes() {
    let dir = vault_common::tempdir::TempDir::new("keyfile");
    let path = dir.path().join("api-key");
    std::fs::write(&path, "sk-file-one\n").unwrap();
    let rig = Rig::load();
    let options = json!({"key_source": "file", "key_file": path, "key_ttl": "1h"});
    let provider = provider(&config(&rig, options), VaultBackend::default());
    assert_eq!(provider.get().await.unwrap().secret.expose(), "sk-file-one");
    std::fs::write(&path, "sk-file-two\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let key = provider.get().await.unwrap();
        if key.secret.expose() == "sk-file-two" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the changed key file was not re-read");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
