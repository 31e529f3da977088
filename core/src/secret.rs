//! A string that must never be printed: API keys, Vault tokens, secret_ids, JWTs.

use std::fmt;

use zeroize::Zeroizing;

/// Holds a secret value. Its memory is zeroed on drop, `Debug` prints `Secret(***)`, and there
/// is no `Display`: the only way to the value is [`Secret::expose`], which is easy to grep for.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value. The caller's copy is moved in, so no second plain copy lingers.
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The plain value. Call it only where the value leaves for the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the value is empty (or only whitespace, which is never a usable secret).
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// True when the value holds a line break or another control character. Tokens, keys and
    /// secret_ids are single words sent in headers or JSON; such a value is a paste or file gone
    /// wrong, and is refused as a setting instead of failing later as if the server were down.
    pub fn has_control_chars(&self) -> bool {
        self.0.trim().chars().any(char::is_control)
    }

    /// The last four characters, for logs that need to tell two keys apart; `***` when the value
    /// is too short to show any of it safely.
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < 16 {
            return "***".to_owned();
        }
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("***{tail}")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::from("sk-canary-0123456789abcdef");
        let shown = format!("{s:?} {:?}", Some(&s));
        assert!(!shown.contains("canary"), "{shown}");
        assert_eq!(s.expose(), "sk-canary-0123456789abcdef");
        assert_eq!(s.hint(), "***cdef");
        assert_eq!(Secret::from("short").hint(), "***");
    }
}
