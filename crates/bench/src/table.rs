//! The printed table: one row per figure, with its baseline, ratio and goal.

use std::time::Duration;

/// A table row comparing a time through the server with the baseline's.
pub(crate) fn compare(label: &str, ours: Duration, base: Duration, what: &str, goal: &str) {
    let ratio = secs(ours) / secs(base);
    let ratio = match ratio {
        0.1.. => format!("{ratio:.2}x"),
        _ => format!("1/{:.0}", 1.0 / ratio),
    };
    figure(
        label,
        &dur(ours),
        &format!("{} {what}", dur(base)),
        &format!("{ratio:>8}  {goal}"),
    );
}

/// A table row; `rest` is the ratio and goal columns.
pub(crate) fn figure(label: &str, ours: &str, baseline: &str, rest: &str) {
    println!("{label:<46} {ours:>16} {baseline:>22} {rest}");
}

pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}

pub(crate) fn dur(d: Duration) -> String {
    match d.as_micros() {
        0..1_000 => format!("{} us", d.as_micros()),
        1_000..1_000_000 => format!("{:.2} ms", d.as_secs_f64() * 1e3),
        _ => format!("{:.2} s", d.as_secs_f64()),
    }
}
