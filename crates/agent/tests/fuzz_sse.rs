//! Property tests of the streaming parser: the SSE framing yields the same events however the
//! bytes are chunked, garbage yields no panic and no unbounded state, and the message assembler
//! answers any event sequence with an update or an error. The long run: `SWITCHBOARD_FUZZ_CASES=N`.

use proptest::prelude::{Just, Strategy, any, prop, prop_assert_eq, prop_oneof, proptest};
use serde_json::json;
use switchboard_agent::sse::{MessageAssembler, SseEvent, SseParser};
use switchboard_testkit::fuzz;

/// One line of an SSE stream: fields, comments, blank lines, garbage; with every line ending.
fn sse_line() -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![
        Just(b"event: message_start".to_vec()),
        Just(b"event: content_block_delta".to_vec()),
        Just(b"event:ping".to_vec()),
        Just(b"data: {\"type\":\"ping\"}".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"data".to_vec()),
        Just(b": comment".to_vec()),
        Just(b"id: 7".to_vec()),
        Just(b"retry: 10".to_vec()),
        Just(Vec::new()),
        Just("data: \u{e9}\u{1f642}".as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..24),
    ];
    let ending = prop::sample::select(vec![&b"\n"[..], b"\r\n", b"\r", b""]);
    (body, ending).prop_map(|(mut body, ending)| {
        body.extend_from_slice(ending);
        body
    })
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(sse_line(), 0..40).prop_map(|lines| lines.concat())
}

/// Cut points, as fractions of the stream's length.
fn cuts() -> impl Strategy<Value = Vec<u16>> {
    prop::collection::vec(any::<u16>(), 0..16)
}

fn parse_whole(bytes: &[u8]) -> Vec<SseEvent> {
    SseParser::new().feed(bytes)
}

fn parse_chunked(bytes: &[u8], cuts: &[u16]) -> Vec<SseEvent> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&c| usize::from(c) * bytes.len() / usize::from(u16::MAX))
        .collect();
    points.sort_unstable();
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    let mut from = 0;
    for point in points.into_iter().chain([bytes.len()]) {
        events.extend(parser.feed(&bytes[from..point]));
        from = point;
    }
    events
}

/// An event the Anthropic stream could send, or one it never would.
fn api_event() -> impl Strategy<Value = SseEvent> {
    let index = prop_oneof![
        Just(json!(0)),
        Just(json!(1)),
        Just(json!(-1)),
        Just(json!(u64::MAX)),
        Just(json!(1_000_000_000_000u64)),
        Just(json!("0")),
        Just(json!(null)),
    ];
    let data = prop_oneof![
        Just(json!({"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"model":"x","stop_reason":null,"usage":{"input_tokens":1,"output_tokens":1}}})),
        Just(json!({"type":"message_start","message":[]})),
        index.clone().prop_map(|i| json!({"type":"content_block_start","index":i,"content_block":{"type":"text","text":""}})),
        index.clone().prop_map(|i| json!({"type":"content_block_start","index":i,"content_block":{"type":"tool_use","id":"t","name":"n","input":{}}})),
        index.clone().prop_map(|i| json!({"type":"content_block_delta","index":i,"delta":{"type":"text_delta","text":"hi"}})),
        index.clone().prop_map(|i| json!({"type":"content_block_delta","index":i,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}})),
        index.prop_map(|i| json!({"type":"content_block_stop","index":i})),
        Just(json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":"x"}})),
        Just(json!({"type":"message_stop"})),
        Just(json!({"type":"error","error":{"type":"overloaded_error"}})),
        Just(json!({"type":7})),
        Just(json!([1, 2])),
    ];
    let name = prop::sample::select(vec!["message_start", "content_block_delta", "ping", "x"]);
    prop_oneof![
        4 => (name.clone(), data).prop_map(|(name, data)| SseEvent {
            event: name.to_owned(),
            data: data.to_string(),
        }),
        1 => (name, ".{0,30}").prop_map(|(name, data)| SseEvent { event: name.to_owned(), data }),
    ]
}

proptest! {
    #![proptest_config(fuzz::config(500))]

    #[test]
    fn prop_sse_events_do_not_depend_on_chunking(bytes in stream(), cuts in cuts()) {
        prop_assert_eq!(parse_whole(&bytes), parse_chunked(&bytes, &cuts));
    }

    #[test]
    fn prop_sse_events_survive_byte_by_byte_feeding(bytes in stream()) {
        let cuts: Vec<u16> = (0..bytes.len())
            .map(|i| u16::try_from(i * usize::from(u16::MAX) / bytes.len().max(1)).unwrap_or(u16::MAX))
            .collect();
        prop_assert_eq!(parse_whole(&bytes), parse_chunked(&bytes, &cuts));
    }

    #[test]
    fn prop_assembler_answers_any_event_sequence(events in prop::collection::vec(api_event(), 0..12)) {
        let mut assembler = MessageAssembler::new();
        for event in &events {
            let _ = assembler.apply(event);
        }
        let _ = assembler.finish();
    }
}
