//! Removes an API key from text the API sent back before it goes into an error.
//!
//! A relay that echoes the request's `Authorization` header, or a provider message such as
//! "Incorrect API key provided: sk-abc...xyz", would otherwise put the key into exceptions, logs
//! and support tickets. Any run of at least [`MIN_RUN`] bytes that also occurs in the key is
//! replaced with `***`, so partial echoes are caught too.

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::Value;

/// The shortest run of key bytes that is masked. Shorter runs (`sk-`, `Bearer`) are common
/// words, not evidence of a leak.
pub const MIN_RUN: usize = 8;

/// Masks the substrings of one key.
pub struct Scrubber<'k> {
    window: usize,
    grams: HashSet<&'k [u8]>,
}

impl<'k> Scrubber<'k> {
    pub fn new(key: &'k str) -> Self {
        let bytes = key.as_bytes();
        let window = MIN_RUN.min(bytes.len());
        let grams = if window == 0 { HashSet::new() } else { bytes.windows(window).collect() };
        Scrubber { window, grams }
    }

    /// `text` with every run of key bytes replaced by `***`; borrowed when nothing matched.
    pub fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let bytes = text.as_bytes();
        if self.grams.is_empty() || bytes.len() < self.window {
            return Cow::Borrowed(text);
        }
        // Mark every byte covered by a window that occurs in the key; overlapping windows cover
        // exactly the runs of length >= `window` that are substrings of the key.
        let mut masked: Vec<(usize, usize)> = Vec::new();
        for start in 0..=bytes.len() - self.window {
            if self.grams.contains(&bytes[start..start + self.window]) {
                let end = start + self.window;
                match masked.last_mut() {
                    Some(last) if start <= last.1 => last.1 = end,
                    _ => masked.push((start, end)),
                }
            }
        }
        if masked.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (mut start, mut end) in masked {
            // Widen to character boundaries so the result stays valid UTF-8.
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            while !text.is_char_boundary(end) {
                end += 1;
            }
            if start < at {
                start = at;
            }
            out.push_str(&text[at..start]);
            if !out.ends_with("***") {
                out.push_str("***");
            }
            at = end.max(at);
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// Scrubs every string in a JSON value, object keys included.
    pub fn json(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Cow::Owned(clean) = self.text(s) {
                    *s = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            Value::Object(map) => {
                let dirty: Vec<String> =
                    map.keys().filter(|k| matches!(self.text(k), Cow::Owned(_))).cloned().collect();
                for k in dirty {
                    if let Some(v) = map.remove(&k) {
                        map.insert(self.text(&k).into_owned(), v);
                    }
                }
                map.values_mut().for_each(|v| self.json(v));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-live-0123456789abcdefghij";

    #[test]
    fn whole_and_partial_keys_are_masked() {
        let s = Scrubber::new(KEY);
        assert_eq!(
            s.text("Incorrect API key provided: sk-live-0123456789abcdefghij."),
            "Incorrect API key provided: ***."
        );
        assert_eq!(s.text("key sk-live-012...fghij"), "key ***...fghij");
        assert_eq!(s.text("key 456789abcdef end"), "key *** end");
        assert_eq!(s.text("Bearer sk-live nothing"), "Bearer sk-live nothing");
        assert!(matches!(s.text("clean"), Cow::Borrowed(_)));
        assert_eq!(s.text("ünï 0123456789 ☃"), "ünï *** ☃");
    }

    #[test]
    fn json_strings_and_keys_are_masked() {
        let s = Scrubber::new(KEY);
        let mut v = serde_json::json!({"error": {"message": format!("bad {KEY}"), "n": 1},
                                       KEY: [KEY, "ok"]});
        s.json(&mut v);
        let text = v.to_string();
        assert!(!text.contains("0123456789"), "{text}");
        assert!(text.contains("\"ok\""));
    }

    #[test]
    fn short_keys_are_masked_whole() {
        let s = Scrubber::new("abc");
        assert_eq!(s.text("xabcx ab"), "x***x ab");
        assert_eq!(Scrubber::new("").text("anything"), "anything");
    }
}
