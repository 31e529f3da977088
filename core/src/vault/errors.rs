//! What Vault's answers mean for the user: the one place an [`OpError`] becomes an [`Error`].
//! Both implementations of [`super::VaultOps`] go through here, so a 403 reads the same whichever
//! client talked to Vault.

use super::OpError;
use super::wire::join_errors;
use crate::error::Error;
use crate::secret::Secret;

/// The call an error came from: it decides the path and capability an error names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Site<'a> {
    Login { method: &'a str, mount: &'a str },
    Renew,
    Lookup,
    Kv { mount: &'a str, path: &'a str, field: &'a str },
}

/// Whether Vault said the token itself is no good (revoked, expired, unknown), as opposed to an
/// outage. A policy that lacks a capability reads the same ("permission denied"): the caller
/// heals once and reports the second 403 as a permission problem.
pub(crate) fn is_token_rejected(err: &OpError) -> bool {
    match err {
        OpError::Status { status: 403, errors } => {
            errors.is_empty()
                || errors.iter().any(|e| {
                    let e = e.to_ascii_lowercase();
                    e.contains("permission denied") || e.contains("invalid token")
                })
        }
        _ => false,
    }
}

fn is_sealed(errors: &[String]) -> bool {
    errors.iter().any(|e| e.to_ascii_lowercase().contains("sealed"))
}

/// Vault answered, but only a moment later may it answer usefully: overload, a standby, a proxy
/// that lost its upstream.
fn is_transient(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Maps `err` from `site` to the typed error. `scrub` lists secrets that must not survive in a
/// message even if Vault echoed one back.
pub(crate) fn map(addr: &str, site: Site<'_>, err: OpError, scrub: &[&Secret]) -> Error {
    let error = map_inner(addr, site, err);
    if scrub.is_empty() { error } else { scrub_error(error, scrub) }
}

fn map_inner(addr: &str, site: Site<'_>, err: OpError) -> Error {
    let addr = addr.to_owned();
    let (status, errors) = match err {
        OpError::Transport { message, .. } => return Error::VaultUnreachable { addr, message },
        OpError::Shape { message } => return Error::VaultMisconfigured { message },
        OpError::Status { status, errors } => (status, errors),
    };
    let said = if errors.is_empty() { format!("HTTP {status}") } else { join_errors(&errors) };
    if status == 503 && is_sealed(&errors) {
        return Error::VaultSealed { addr };
    }
    if is_transient(status) {
        return Error::VaultUnreachable { addr, message: format!("HTTP {status}: {said}") };
    }
    match site {
        Site::Login { method, mount } => Error::VaultLoginFailed {
            method: method.to_owned(),
            mount: mount.to_owned(),
            message: said,
        },
        Site::Kv { mount, path, field } => match status {
            403 => Error::VaultPermissionDenied {
                path: format!("{mount}/data/{path}"),
                capability: "read".into(),
            },
            404 if said.contains("no handler for route") => Error::VaultMisconfigured {
                message: format!("no secrets engine is mounted at \"{mount}/\" (Vault: {said})"),
            },
            404 => Error::VaultSecretNotFound {
                mount: mount.to_owned(),
                path: path.to_owned(),
                field: Some(field.to_owned()),
                message: format!("no secret at {mount}/{path}"),
            },
            _ if status >= 500 => {
                Error::VaultUnreachable { addr, message: format!("HTTP {status}: {said}") }
            }
            _ => Error::VaultMisconfigured {
                message: format!("reading {mount}/data/{path} failed with HTTP {status}: {said}"),
            },
        },
        Site::Renew | Site::Lookup => {
            let (path, capability) = match site {
                Site::Renew => ("auth/token/renew-self", "update"),
                _ => ("auth/token/lookup-self", "read"),
            };
            match status {
                403 => Error::VaultPermissionDenied {
                    path: path.into(),
                    capability: capability.into(),
                },
                _ if status >= 500 => {
                    Error::VaultUnreachable { addr, message: format!("HTTP {status}: {said}") }
                }
                _ => Error::VaultMisconfigured {
                    message: format!("{path} failed with HTTP {status}: {said}"),
                },
            }
        }
    }
}

fn scrub_error(error: Error, secrets: &[&Secret]) -> Error {
    let clean = |text: String| {
        secrets
            .iter()
            .filter(|s| s.expose().len() >= 4)
            .fold(text, |t, s| t.replace(s.expose(), "***"))
    };
    match error {
        Error::VaultLoginFailed { method, mount, message } => {
            Error::VaultLoginFailed { method, mount, message: clean(message) }
        }
        Error::VaultUnreachable { addr, message } => {
            Error::VaultUnreachable { addr, message: clean(message) }
        }
        Error::VaultMisconfigured { message } => {
            Error::VaultMisconfigured { message: clean(message) }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, errors: &[&str]) -> OpError {
        OpError::Status { status, errors: errors.iter().map(|e| e.to_string()).collect() }
    }

    const KV: Site<'static> =
        Site::Kv { mount: "holysheep", path: "production/api_key", field: "api_key" };

    #[test]
    fn kv_errors_name_path_and_capability() {
        let err = map(
            "http://v",
            KV,
            status(403, &["1 error occurred:\n\t* permission denied\n\n"]),
            &[],
        );
        assert!(
            matches!(&err, Error::VaultPermissionDenied { path, capability }
            if path == "holysheep/data/production/api_key" && capability == "read"),
            "{err:?}"
        );
        let err = map("http://v", KV, status(404, &[]), &[]);
        assert_eq!(err.code(), "vault_secret_not_found");
        let err = map("http://v", KV, status(404, &["no handler for route \"x/data/y\""]), &[]);
        assert_eq!(err.code(), "vault_misconfigured");
        let err = map("http://v", KV, status(503, &["Vault is sealed"]), &[]);
        assert!(matches!(err, Error::VaultSealed { .. }));
        let err = map(
            "http://v",
            KV,
            OpError::Transport { message: "connection refused".into(), timeout: false },
            &[],
        );
        assert!(err.to_string().contains("http://v"), "{err}");
    }

    #[test]
    fn login_errors_name_method_and_mount_and_are_scrubbed() {
        let secret = Secret::from("canary-secret-id-1234");
        let site = Site::Login { method: "approle", mount: "approle" };
        let err =
            map("http://v", site, status(400, &["bad secret canary-secret-id-1234"]), &[&secret]);
        let text = err.to_string();
        assert!(text.contains("approle at auth/approle"), "{text}");
        assert!(!text.contains("canary"), "{text}");
    }

    #[test]
    fn rejected_token_is_recognised() {
        assert!(is_token_rejected(&status(403, &["permission denied"])));
        assert!(is_token_rejected(&status(403, &["invalid token"])));
        assert!(!is_token_rejected(&status(404, &[])));
    }
}
