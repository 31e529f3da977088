//! Property tests of the event-stream parser, response decoding and the key scrubber.

use holysheep_vault::ChatRequest;
use holysheep_vault::api::scrub::Scrubber;
use holysheep_vault::api::sse::{SseEvent, SseParser};
use holysheep_vault::api::types::{ChatAccumulator, ChatChunk, ChatCompletion, ModelList, Usage};
use proptest::prelude::*;
use serde_json::Value;

/// Parses `input` fed in pieces cut at `cuts` (positions, in any order, possibly repeated).
fn parse(input: &[u8], cuts: &[usize]) -> (Vec<SseEvent>, Option<SseEvent>) {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    let mut at = 0;
    for cut in cuts.into_iter().chain([input.len()]) {
        parser.feed(&input[at..cut], &mut out).unwrap();
        at = cut;
    }
    let tail = parser.finish();
    (out, tail)
}

/// One event as a generator describes it, and its encoding.
#[derive(Debug, Clone)]
struct Ev {
    name: Option<String>,
    data: Vec<String>,
    comment: Option<String>,
}

fn field_text() -> impl Strategy<Value = String> {
    // Any text without line breaks, including multi-byte characters and colons.
    proptest::collection::vec(
        prop_oneof![
            Just('a'),
            Just(':'),
            Just(' '),
            Just('{'),
            Just('"'),
            Just('é'),
            Just('🐑'),
            Just('\u{FEFF}'),
            any::<char>().prop_filter("no line breaks", |c| *c != '\r' && *c != '\n'),
        ],
        0..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn event() -> impl Strategy<Value = Ev> {
    (
        proptest::option::of("[a-z]{1,8}"),
        proptest::collection::vec(field_text(), 1..4),
        proptest::option::of(field_text()),
    )
        .prop_map(|(name, data, comment)| Ev { name, data, comment })
}

fn encode(events: &[Ev], eol: &str) -> Vec<u8> {
    let mut s = String::new();
    for e in events {
        if let Some(c) = &e.comment {
            s.push_str(&format!(":{c}{eol}"));
        }
        if let Some(n) = &e.name {
            s.push_str(&format!("event: {n}{eol}"));
        }
        for d in &e.data {
            // "data: x" strips one space; write it so the value survives exactly.
            s.push_str(&format!("data: {d}{eol}"));
        }
        s.push_str(eol);
    }
    s.into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_splits_do_not_matter(
        input in proptest::collection::vec(any::<u8>(), 0..400),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = parse(&input, &[]);
        let split = parse(&input, &cuts);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn sse_like_bytes_split_anywhere_parse_the_same(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just(&b"data: "[..]), Just(&b"data:"[..]), Just(&b"event: x"[..]), Just(&b": c"[..]),
                Just(&b"\r\n"[..]), Just(&b"\r"[..]), Just(&b"\n"[..]), Just(&b"id: 1"[..]),
                Just(&b"retry: 5"[..]), Just("é🐑".as_bytes()), Just(&b"[DONE]"[..]), Just(&b"{}"[..]),
            ],
            0..40,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let input: Vec<u8> = pieces.concat();
        prop_assert_eq!(parse(&input, &[]), parse(&input, &cuts));
    }

    #[test]
    fn valid_streams_parse_to_their_events(
        events in proptest::collection::vec(event(), 0..6),
        eol in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let input = encode(&events, eol);
        let (parsed, tail) = parse(&input, &cuts);
        prop_assert!(tail.is_none());
        prop_assert_eq!(parsed.len(), events.len());
        for (got, want) in parsed.iter().zip(&events) {
            // A byte-order mark inside a field is data: only one opening the stream is dropped.
            prop_assert_eq!(&got.data, &want.data.join("\n"));
            prop_assert_eq!(&got.event, &want.name);
        }
    }

    #[test]
    fn decoding_arbitrary_json_never_panics(value in arb_json()) {
        let _ = ChatCompletion::from_json(value.clone());
        let _ = ModelList::from_json(value.clone());
        let _ = Usage::from_json(&value);
        let _ = ChatRequest::from_json(value.clone());
        if let Ok(chunk) = ChatChunk::from_json(value) {
            let mut acc = ChatAccumulator::new();
            acc.push(&chunk);
            acc.push(&chunk);
            let _ = acc.finish();
        }
    }

    #[test]
    fn decoding_shaped_json_never_panics(value in shaped_json()) {
        let _ = ChatCompletion::from_json(value.clone());
        if let Ok(chunk) = ChatChunk::from_json(value) {
            let mut acc = ChatAccumulator::new();
            acc.push(&chunk);
            let done = acc.finish();
            let _ = ChatCompletion::from_json(done.raw);
        }
    }

    #[test]
    fn arbitrary_bytes_as_a_body_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(value) = serde_json::from_slice::<Value>(&input) {
            let _ = ChatCompletion::from_json(value);
        }
    }

    #[test]
    fn the_scrubber_leaves_no_long_run_of_the_key(
        key in "[A-Za-z0-9_-]{8,40}",
        before in ".{0,30}",
        after in ".{0,30}",
        start in any::<usize>(),
        len in 8usize..40,
    ) {
        let start = start % key.len();
        let end = (start + len).min(key.len());
        let piece = &key[start..end];
        let text = format!("{before}{piece}{after}{key}");
        let clean = Scrubber::new(&key).text(&text).into_owned();
        for window in key.as_bytes().windows(8) {
            prop_assert!(!clean.as_bytes().windows(8).any(|w| w == window), "{} in {}", key, clean);
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> + Clone {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("choices".to_owned()),
                        Just("message".to_owned()),
                        Just("delta".to_owned()),
                        Just("tool_calls".to_owned()),
                        Just("usage".to_owned()),
                        Just("index".to_owned()),
                        Just("error".to_owned()),
                        Just("data".to_owned()),
                        Just("content".to_owned()),
                        Just("function".to_owned()),
                        "[a-z]{1,6}",
                    ],
                    inner,
                ),
                0..6,
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// JSON in the shape of chunks and completions, with each field of an arbitrary type.
fn shaped_json() -> impl Strategy<Value = Value> {
    (arb_json(), arb_json(), arb_json(), arb_json(), any::<u32>()).prop_map(
        |(content, args, usage, finish, index)| {
            serde_json::json!({
                "id": "x", "model": "m",
                "choices": [
                    {"index": index, "delta": {"content": content, "tool_calls": [
                        {"index": index, "function": {"arguments": args}}]}, "finish_reason": finish},
                    {"index": 0, "message": {"content": content, "tool_calls": [
                        {"id": 1, "function": {"name": args, "arguments": args}}]}}
                ],
                "usage": usage,
            })
        },
    )
}
