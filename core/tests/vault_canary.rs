//! No secret ever reaches a log line, a `Debug` output or an error text. A TRACE-level subscriber
//! captures every event (ours, vaultrs', rustify's, reqwest's, hyper's) while both backends log in
//! every way, read, fail and close with canary values; then the capture is searched for them.

mod common;
mod vault_common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use holysheep_vault::vault::VaultBackend;
use serde_json::json;

use common::{Rig, unique};
use vault_common::{config, create_token, provider};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Vault service tokens look like `s.` followed by 24 letters and digits (OpenBao) or `hvs.`
/// and more; any such string in a log line is a leaked token even if it is not a known canary.
fn find_token_shaped(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    if bytes.len() < 26 {
        return None;
    }
    (0..=bytes.len() - 26).find_map(|i| {
        let boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let body = &bytes[i + 2..i + 26];
        (boundary
            && bytes[i] == b's'
            && bytes[i + 1] == b'.'
            && body.iter().all(u8::is_ascii_alphanumeric)
            && bytes.get(i + 26).is_none_or(|b| !b.is_ascii_alphanumeric()))
        .then(|| &text[i..i + 26])
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_debug_or_errors() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let rig = Rig::load();
    let id = unique("canary");
    let canary_key = format!("sk-canary-key-{id}");
    let canary_token = format!("canary-token-{id}");
    let denied_token = format!("canary-denied-{id}");
    let canary_secret_id = format!("canary-secret-id-{id}");
    let bad_secret_id = format!("canary-bad-secret-{id}");
    let jwt = std::fs::read_to_string(rig.get("RIG_JWT_FILE")).unwrap().trim().to_owned();

    let path = format!("scenarios/{id}/api_key");
    rig.write_secret(&path, json!({"api_key": canary_key}));
    create_token(&rig, &["holysheep-scenarios"], "1h", Some(&canary_token));
    create_token(&rig, &["holysheep-denied"], "1h", Some(&denied_token));
    let role = vault_common::approle(&rig, "1h", "2h");
    rig.root(
        "POST",
        &format!("auth/{}/role/app/custom-secret-id", role.mount),
        Some(json!({"secret_id": canary_secret_id})),
    );
    let dir = vault_common::tempdir::TempDir::new("canary");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &canary_token).unwrap();
    let secret_id_file = dir.path().join("secret-id");
    std::fs::write(&secret_id_file, &canary_secret_id).unwrap();

    let mut texts: Vec<String> = Vec::new();
    let good = [
        json!({"vault_token": canary_token, "secret_path": path}),
        json!({"auth_method": "token_file", "token_file": token_file, "secret_path": path}),
        json!({"auth_method": "approle", "auth_mount": role.mount, "role_id": role.role_id,
               "secret_id": canary_secret_id, "secret_path": path}),
        json!({"auth_method": "approle", "auth_mount": role.mount, "role_id": role.role_id,
               "secret_id_file": secret_id_file, "secret_path": path}),
        json!({"auth_method": "jwt", "role": rig.get("RIG_JWT_ROLE"),
               "jwt_path": rig.get("RIG_JWT_FILE"), "secret_path": path}),
    ];
    let bad = [
        json!({"auth_method": "approle", "auth_mount": role.mount, "role_id": role.role_id,
               "secret_id": bad_secret_id, "secret_path": path}),
        json!({"vault_token": denied_token, "secret_path": path}),
        json!({"vault_token": canary_token, "secret_path": format!("scenarios/{id}/missing")}),
    ];
    let mut logins = 0;
    for backend in [VaultBackend::Vaultrs, VaultBackend::Http] {
        for options in &good {
            let config = config(&rig, options.clone());
            texts.push(format!("{config:?}"));
            let provider = provider(&config, backend);
            let key = provider.get().await.unwrap_or_else(|e| panic!("{backend:?} {options}: {e}"));
            assert_eq!(key.secret.expose(), canary_key, "the canary must really be read");
            let again = provider.invalidate(&key).await.expect("invalidate");
            texts.push(format!("{key:?} {again:?} {provider:?} {:?}", provider.stats()));
            texts.push(serde_json::to_string(&provider.stats()).unwrap());
            logins += provider.stats().logins;
            provider.close();
        }
        for options in &bad {
            let provider = provider(&config(&rig, options.clone()), backend);
            let err = provider.get().await.expect_err("must fail");
            texts.push(format!("{err} {err:?}"));
            provider.close();
        }
    }
    assert!(logins >= 6, "the AppRole and JWT logins must really happen");

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    if let Ok(path) = std::env::var("HOLYSHEEP_CANARY_DUMP") {
        // For a human to read what the library logs; the values there are test canaries.
        std::fs::write(path, &logs).unwrap();
    }
    for event in ["vault login succeeded", "api key read", "vault token looked up"] {
        assert!(logs.contains(event), "the capture lacks \"{event}\": is TRACE logging wired?");
    }
    texts.push(logs);
    let all = texts.join("\n");
    let secrets = [
        ("key", canary_key.as_str()),
        ("token", canary_token.as_str()),
        ("denied token", denied_token.as_str()),
        ("secret_id", canary_secret_id.as_str()),
        ("bad secret_id", bad_secret_id.as_str()),
        ("JWT", jwt.as_str()),
        ("production key", rig.get("RIG_PROD_KEY")),
    ];
    for (what, value) in secrets {
        if let Some(line) = all.lines().find(|l| l.contains(value)) {
            panic!("the canary {what} leaked into: {line}");
        }
    }
    if let Some(token) = find_token_shaped(&all) {
        let line = all.lines().find(|l| l.contains(token)).unwrap_or_default();
        panic!("a Vault token leaked into: {line}");
    }
}

#[test]
fn token_shape_detector_works() {
    assert_eq!(
        find_token_shaped("x token=s.nBIPtEYZEorkJPrxb18mQaUI y"),
        Some("s.nBIPtEYZEorkJPrxb18mQaUI")
    );
    assert_eq!(find_token_shaped("uris.nBIPtEYZEorkJPrxb18mQaUI"), None);
    assert_eq!(find_token_shaped("nothing here"), None);
}
