//! Property tests of the audit reader on damaged files: truncated, corrupted, reordered and
//! concatenated logs never make `read_records`, `verify` or `search` panic, and every change to a
//! record that has a successor is detected by `verify`. A change to the last record, or dropping
//! whole records from the end, leaves a valid chain: the chain has no anchor outside the file.
//! The long run: `SWITCHBOARD_FUZZ_CASES=N`.

use std::path::Path;

use proptest::prelude::{
    Just, Strategy, any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use serde_json::json;
use switchboard_gateway::audit::{AuditLog, AuditRecord, Filter, read_records, search, verify};
use switchboard_testkit::fuzz;

fn record(i: usize, text: &str) -> AuditRecord {
    AuditRecord {
        seq: 0,
        replica: None,
        time: format!("2026-01-01T00:00:{:02}Z", i % 60),
        client: format!("client-{}", i % 3),
        user: None,
        user_name: None,
        session: "s".into(),
        tool: format!("db__{text}"),
        endpoint: None,
        server: Some("db".into()),
        upstream_tool: None,
        arguments: json!({"sql": text, "n": i}),
        outcome: if i.is_multiple_of(2) { "ok" } else { "refused" }.into(),
        layer: None,
        message: i.is_multiple_of(4).then(|| format!("message {text}")),
        latency_ms: i as u64,
        result_bytes: 3,
        approval: None,
        prev: String::new(),
    }
}

/// Writes a log of `texts.len()` records through the real writer; returns its bytes.
fn write_log(dir: &Path, name: &str, texts: &[String]) -> Vec<u8> {
    let path = dir.join(name);
    let log = AuditLog::open(&path, false).expect("open");
    for (i, text) in texts.iter().enumerate() {
        log.append(record(i, text)).expect("append");
    }
    std::fs::read(&path).expect("read")
}

#[derive(Debug, Clone)]
enum Damage {
    /// Cut the file at this fraction of its length.
    Truncate(u16),
    /// Replace the byte at this fraction of its length.
    Replace(u16, u8),
    /// Insert bytes at this fraction of its length.
    Insert(u16, Vec<u8>),
    /// Remove the line with this index.
    RemoveLine(usize),
    /// Repeat the line with this index right after itself.
    DuplicateLine(usize),
    /// Swap two lines.
    SwapLines(usize, usize),
    /// Append a second, independent log.
    Concatenate,
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<u16>().prop_map(Damage::Truncate),
        (any::<u16>(), any::<u8>()).prop_map(|(at, b)| Damage::Replace(at, b)),
        (any::<u16>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, b)| Damage::Insert(at, b)),
        (0..8usize).prop_map(Damage::RemoveLine),
        (0..8usize).prop_map(Damage::DuplicateLine),
        (0..8usize, 0..8usize).prop_map(|(a, b)| Damage::SwapLines(a, b)),
        Just(Damage::Concatenate),
    ]
}

fn at(fraction: u16, len: usize) -> usize {
    usize::from(fraction) * len / (usize::from(u16::MAX) + 1)
}

/// Line start offsets.
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(
        bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1),
    );
    starts.pop(); // the end of the file
    starts
}

/// Applies the damage; returns the damaged bytes and whether verify must refuse them.
fn apply(original: &[u8], other: &[u8], damage: &Damage) -> (Vec<u8>, bool) {
    let mut bytes = original.to_vec();
    let starts = line_starts(original);
    let last_start = starts.last().copied().unwrap_or(0);
    let mut lines: Vec<Vec<u8>> = original
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    match damage {
        Damage::Truncate(f) => {
            bytes.truncate(at(*f, original.len()));
            // Verify refuses a cut inside a line; a cut between lines drops records from the end.
            (bytes, false)
        }
        Damage::Replace(f, b) => {
            if original.is_empty() {
                return (bytes, false);
            }
            let i = at(*f, original.len());
            let changed = bytes[i] != *b;
            bytes[i] = *b;
            (bytes, changed && i < last_start)
        }
        Damage::Insert(f, extra) => {
            let i = at(*f, original.len());
            bytes.splice(i..i, extra.iter().copied());
            // Blank lines and line-end whitespace can be added unnoticed: the reader skips them.
            let visible = extra.iter().any(|b| !b.is_ascii_whitespace());
            (bytes, i < last_start && visible)
        }
        Damage::RemoveLine(n) if *n < lines.len() => {
            lines.remove(*n);
            (lines.concat(), *n + 1 < starts.len())
        }
        Damage::DuplicateLine(n) if *n < lines.len() => {
            let line = lines[*n].clone();
            lines.insert(*n, line);
            (lines.concat(), true)
        }
        Damage::SwapLines(a, b) if *a < lines.len() && *b < lines.len() => {
            lines.swap(*a, *b);
            (lines.concat(), a != b)
        }
        Damage::Concatenate => {
            bytes.extend_from_slice(other);
            (bytes, !original.is_empty() && !other.is_empty())
        }
        _ => (bytes, false),
    }
}

proptest! {
    #![proptest_config(fuzz::config(300))]

    #[test]
    fn prop_damaged_audit_logs_are_read_without_panic_and_tampering_is_detected(
        texts in prop::collection::vec(".{0,12}", 0..7),
        others in prop::collection::vec("[a-z]{0,4}", 0..3),
        damage in damage(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let original = write_log(dir.path(), "a.jsonl", &texts);
        let other = write_log(dir.path(), "b.jsonl", &others);
        prop_assert_eq!(verify(&dir.path().join("a.jsonl")).ok(), Some(texts.len() as u64));

        let (damaged, must_refuse) = apply(&original, &other, &damage);
        let path = dir.path().join("damaged.jsonl");
        std::fs::write(&path, &damaged).expect("write");
        let verdict = verify(&path);
        if must_refuse {
            prop_assert!(verdict.is_err(), "{damage:?} not detected: {verdict:?}");
        }
        if let Ok(count) = verdict {
            prop_assert!(count as usize <= texts.len() + 1 + others.len());
        }
        let _ = read_records(&path);
        let _ = search(&path, &Filter { client: Some("client-1".into()), ..Filter::default() });

        // The writer reopens whatever is there without panicking, and a log it repaired from
        // a torn tail stays verifiable after the next append.
        let torn = matches!(damage, Damage::Truncate(_));
        if let Ok(log) = AuditLog::open(&path, false) {
            let appended = log.append(record(99, "after"));
            if (verdict.is_ok() || torn) && appended.is_ok() {
                prop_assert!(verify(&path).is_ok(), "{damage:?}: the appended record broke the chain");
            }
        }
    }
}
