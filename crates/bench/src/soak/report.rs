//! The soak's closing figures and checks: calls by outcome class (overall and per tool), every
//! unexpected error, the memory and descriptor trend after warm-up, `switchboard audit verify`,
//! and the count checks against the audit log and the fakes' state.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::bail;
use serde_json::Value;
use switchboard_testkit::slack::OPERATIONS_ID;

use super::Sample;
use super::clients::Tally;
use super::faults::Log;
use super::setup::Backends;
use crate::stats::mb;

/// How the run ended.
pub(crate) struct End<'a> {
    pub(crate) switchboard: &'a Path,
    pub(crate) dir: &'a Path,
    /// Whether the gateway exited within the drain limit after SIGTERM.
    pub(crate) drained: bool,
}

/// The tag a record or an object carries (`soak-<client>-<n>`), if any.
fn tag_in(text: &str) -> Option<String> {
    let start = text.find("soak-")?;
    let tag: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    Some(tag)
}

pub(crate) async fn report(
    end: &End<'_>,
    backends: &Backends,
    tally: &Tally,
    log: &Log,
    samples: &[Sample],
) -> anyhow::Result<()> {
    let mut failures: Vec<String> = Vec::new();
    println!(
        "\ncalls by outcome: {:?} (total {})",
        tally.by_class,
        tally.calls()
    );
    for (tool, classes) in &tally.by_tool {
        println!("  {tool:<24} {classes:?}");
    }
    println!("faults applied: {}", log.done.len());
    println!("tool errors (expected under the schedule), by message:");
    for (message, n) in tally.tool_errors.iter().rev().take(25) {
        println!("  {n:>6}  {message}");
    }
    let mut unexpected: Vec<String> = tally
        .unexpected
        .iter()
        .map(|(m, n)| format!("{n} × {m}"))
        .collect();
    unexpected.extend(log.unexpected.iter().cloned());
    let gateway_log = std::fs::read_to_string(end.dir.join("gateway.log")).unwrap_or_default();
    let panics = gateway_log
        .lines()
        .filter(|l| l.contains("panicked"))
        .count();
    if panics > 0 {
        unexpected.push(format!("{panics} panics in the gateway's log"));
    }
    println!("unexpected errors: {}", unexpected.len());
    for line in &unexpected {
        println!("  {line}");
    }
    if !unexpected.is_empty() {
        failures.push(format!("{} unexpected errors", unexpected.len()));
    }
    if !end.drained {
        failures.push("the gateway did not exit within 30 s of SIGTERM".into());
    }
    trend(samples);

    // The audit chain, through the operator's command.
    let audit = end.dir.join("audit.jsonl");
    let verify = tokio::process::Command::new(end.switchboard)
        .args(["audit", "verify", "--file"])
        .arg(&audit)
        .output()
        .await?;
    let said = String::from_utf8_lossy(&verify.stdout).trim().to_owned()
        + String::from_utf8_lossy(&verify.stderr).trim();
    println!("switchboard audit verify: {} {said}", verify.status);
    if !verify.status.success() {
        failures.push(format!("audit verify failed: {said}"));
    }

    // Every call the clients got an answer to is audited exactly once: by its tag where its
    // arguments carry one, else by count per tool (between the answered calls and those plus the
    // calls whose connection broke, which may or may not have reached the gateway).
    let mut audited: HashMap<String, u64> = HashMap::new();
    let mut untagged: HashMap<String, u64> = HashMap::new();
    for line in std::fs::read_to_string(&audit).unwrap_or_default().lines() {
        let record: Value = serde_json::from_str(line).unwrap_or_default();
        if record["layer"] == "pins" {
            continue;
        }
        match tag_in(&record["arguments"].to_string()) {
            Some(tag) => *audited.entry(tag).or_default() += 1,
            None => {
                let tool = record["tool"].as_str().unwrap_or_default().to_owned();
                *untagged.entry(tool).or_default() += 1;
            }
        }
    }
    let lost = tally.by_class.get("transport").copied().unwrap_or(0);
    for (tool, classes) in &tally.by_tool {
        let tagged = tally
            .tags
            .values()
            .filter(|(t, c)| t == tool && c != "transport")
            .count();
        let answered: u64 = classes
            .iter()
            .filter(|(class, _)| class.as_str() != "transport")
            .map(|(_, n)| n)
            .sum::<u64>()
            .saturating_sub(tagged as u64);
        if answered == 0 {
            continue;
        }
        let records = untagged.get(tool).copied().unwrap_or(0);
        println!("audit: {tool}: {answered} answered calls without a tag, {records} records");
        if records < answered || records > answered + lost {
            failures.push(format!(
                "{tool}: {answered} answered calls without a tag but {records} audit records"
            ));
        }
    }
    let answered = tally
        .tags
        .iter()
        .filter(|(_, (_, class))| class != "transport");
    let missing = answered
        .clone()
        .filter(|(tag, _)| !audited.contains_key(*tag))
        .count();
    let twice = audited.values().filter(|n| **n > 1).count();
    println!(
        "audit: {} tagged records; answered calls not audited: {missing}; audited more than once: {twice}",
        audited.values().sum::<u64>()
    );
    if missing > 0 || twice > 0 {
        let mut examples: Vec<String> = answered
            .filter(|(tag, _)| !audited.contains_key(*tag))
            .map(|(tag, (tool, class))| format!("{tag} ({tool}, {class})"))
            .collect();
        examples.sort();
        examples.truncate(5);
        failures.push(format!(
            "{missing} answered calls not audited (e.g. {}), {twice} audited twice",
            examples.join(", ")
        ));
    }

    // Side effects: no duplicate, none reported done but missing.
    let issues: Vec<String> = backends
        .jira
        .issues()
        .iter()
        .map(|i| {
            i.fields
                .get("summary")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    let messages: Vec<String> = backends
        .slack
        .posted(OPERATIONS_ID)
        .iter()
        .map(|m| m.text.clone())
        .collect();
    for (what, tool, created) in [
        ("Jira issues", "jira__create_issue", issues),
        ("Slack messages", "slack__post_message", messages),
    ] {
        let mut count: BTreeMap<String, u64> = BTreeMap::new();
        for text in &created {
            if let Some(tag) = tag_in(text) {
                *count.entry(tag).or_default() += 1;
            }
        }
        let duplicated = count.values().filter(|n| **n > 1).count();
        let ok = tally
            .tags
            .iter()
            .filter(|(_, (t, class))| t == tool && class == "ok");
        let lost = ok
            .clone()
            .filter(|(tag, _)| !count.contains_key(*tag))
            .count();
        let unreported = count
            .keys()
            .filter(|tag| tally.tags.get(*tag).is_none_or(|(_, c)| c != "ok"))
            .count();
        println!(
            "{what}: {} created, {} reported ok; duplicated: {duplicated}; reported ok but missing: {lost}; \
             created though the call failed or timed out: {unreported}",
            count.len(),
            ok.count()
        );
        if duplicated > 0 || lost > 0 {
            failures.push(format!("{what}: {duplicated} duplicated, {lost} lost"));
        }
    }
    if failures.is_empty() {
        println!("\nsoak: every check passed");
        Ok(())
    } else {
        bail!("soak failed: {}", failures.join("; "))
    }
}

/// RSS and descriptors after warm-up (the first third of the run): first, last, and the largest
/// value, so growth shows.
fn trend(samples: &[Sample]) {
    let Some(last) = samples.last() else { return };
    let warm = last.at / 3;
    let after: Vec<&Sample> = samples.iter().filter(|s| s.at >= warm).collect();
    let Some(first) = after.first() else { return };
    let max_rss = after.iter().map(|s| s.rss_kb).max().unwrap_or(0);
    let max_fds = after.iter().map(|s| s.fds).max().unwrap_or(0);
    println!(
        "after warm-up ({:.0} s on): gateway RSS {} → {} MB (max {}), fds {} → {} (max {max_fds}), \
         threads {} → {}, children RSS {} → {} MB",
        warm.as_secs_f64(),
        mb(first.rss_kb),
        mb(last.rss_kb),
        mb(max_rss),
        first.fds,
        last.fds,
        first.threads,
        last.threads,
        mb(first.children_rss_kb),
        mb(last.children_rss_kb),
    );
}
