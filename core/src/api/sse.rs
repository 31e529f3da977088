//! An incremental parser of the `text/event-stream` format (the WHATWG server-sent events
//! rules), fed with the body's bytes as they arrive.
//!
//! Bytes are kept until a line is complete and only then decoded, so a chunk boundary may fall
//! anywhere: inside a field, between CR and LF, inside a UTF-8 sequence. Lines end with CRLF,
//! LF or CR; `:` starts a comment; `data:` lines of one event are joined with `\n`; a blank line
//! dispatches the event.

use std::mem;

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name; `None` for the default (`message`).
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The last `id:` seen in the stream.
    pub id: Option<String>,
    /// A `retry:` value in milliseconds, when this event set one.
    pub retry: Option<u64>,
}

/// The stream sent a line longer than [`SseParser::MAX_LINE`]: the body is not a usable event
/// stream (and buffering it further would only use up memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an event-stream line is longer than {} bytes", SseParser::MAX_LINE)
    }
}

impl std::error::Error for LineTooLong {}

/// The parser's state between chunks.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line not yet ended.
    line: Vec<u8>,
    /// The previous chunk ended with CR: an LF at the start of the next one belongs to it.
    after_cr: bool,
    /// The first line has been seen (a byte-order mark is only stripped from it).
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    retry: Option<u64>,
}

impl SseParser {
    /// The longest line accepted, and so roughly the largest event.
    pub const MAX_LINE: usize = 16 * 1024 * 1024;

    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the body; complete events are appended to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<SseEvent>) -> Result<(), LineTooLong> {
        if self.after_cr && !input.is_empty() {
            self.after_cr = false;
            if input[0] == b'\n' {
                input = &input[1..];
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', input) {
            if self.line.is_empty() {
                self.line_done(&input[..end], out);
            } else {
                self.line.extend_from_slice(&input[..end]);
                let line = mem::take(&mut self.line);
                self.line_done(&line, out);
                // Keep the allocation for the next partial line.
                self.line = line;
                self.line.clear();
            }
            let terminator = input[end];
            input = &input[end + 1..];
            if terminator == b'\r' {
                match input.first() {
                    Some(b'\n') => input = &input[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        if self.line.len() + input.len() > Self::MAX_LINE {
            return Err(LineTooLong);
        }
        self.line.extend_from_slice(input);
        Ok(())
    }

    /// Feeds bytes and returns the events they completed.
    pub fn push(&mut self, input: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        let mut out = Vec::new();
        self.feed(input, &mut out)?;
        Ok(out)
    }

    /// Ends the stream. The format discards an event not followed by a blank line; it is
    /// returned here instead so the caller can decide (a `[DONE]` without the final blank line is
    /// still an orderly end; anything else is a truncated stream).
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.line.is_empty() {
            let line = mem::take(&mut self.line);
            let mut ignored = Vec::new();
            self.line_done(&line, &mut ignored);
        }
        self.after_cr = false;
        self.take_event()
    }

    /// Whether bytes of an incomplete line or event are buffered.
    pub fn has_pending(&self) -> bool {
        !self.line.is_empty() || self.has_data
    }

    fn line_done(&mut self, raw: &[u8], out: &mut Vec<SseEvent>) {
        let mut raw = raw;
        if !self.started {
            self.started = true;
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        }
        if raw.is_empty() {
            if let Some(event) = self.take_event() {
                out.push(event);
            }
            return;
        }
        if raw[0] == b':' {
            return;
        }
        let (name, value) = match raw.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &raw[colon + 1..];
                (&raw[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (raw, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            b"id" if !value.contains('\0') => self.last_id = Some(value.into_owned()),
            b"retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let retry = self.retry.take();
        if !mem::take(&mut self.has_data) {
            return None;
        }
        Some(SseEvent {
            event: event.filter(|e| !e.is_empty()),
            data: mem::take(&mut self.data),
            id: self.last_id.clone(),
            retry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_split(input: &[u8], at: &[usize]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        let mut last = 0;
        for &cut in at {
            p.feed(&input[last..cut], &mut out).unwrap();
            last = cut;
        }
        p.feed(&input[last..], &mut out).unwrap();
        out.extend(p.finish());
        out
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn comments_names_and_multiline_data() {
        let input =
            b": keep-alive\n\nevent: delta\ndata: a\ndata:b\ndata\nid: 7\n\ndata: [DONE]\n\n";
        let events = parse_split(input, &[]);
        assert_eq!(data(&events), ["a\nb\n", "[DONE]"]);
        assert_eq!(events[0].event.as_deref(), Some("delta"));
        assert_eq!(events[0].id.as_deref(), Some("7"));
        assert_eq!(events[1].event, None);
    }

    #[test]
    fn every_line_ending_and_every_split_point() {
        let input = "data: héllo 🐑\r\n\r\ndata: x\r\rdata: y\n\ndata: [DONE]\n\n".as_bytes();
        let whole = parse_split(input, &[]);
        assert_eq!(data(&whole), ["héllo 🐑", "x", "y", "[DONE]"]);
        for i in 0..=input.len() {
            for j in i..=input.len() {
                assert_eq!(parse_split(input, &[i, j]), whole, "split at {i}, {j}");
            }
        }
    }

    #[test]
    fn unterminated_event_is_returned_by_finish() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: [DONE]").unwrap().is_empty());
        assert!(p.has_pending());
        assert_eq!(p.finish().unwrap().data, "[DONE]");
        assert!(p.finish().is_none());
    }

    #[test]
    fn bom_is_stripped_and_empty_data_dispatches() {
        let events = parse_split(b"\xEF\xBB\xBFdata:\n\nretry: 10\nevent: x\n\n", &[1, 2]);
        assert_eq!(data(&events), [""]);
    }
}
