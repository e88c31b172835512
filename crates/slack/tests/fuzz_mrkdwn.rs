//! Property tests of Markdown → Slack mrkdwn on generated Markdown: the output uses `&`, `<` and
//! `>` only as Slack's syntax (entities, links, tokens, quote markers), every mention or special
//! token it holds was written as such in the input, links come only from Markdown link syntax, and
//! the output grows linearly with the input. The long run: `SWITCHBOARD_FUZZ_CASES=N`.

use proptest::prelude::{prop_assert, proptest};
use switchboard_slack::mrkdwn::to_mrkdwn;
use switchboard_testkit::fuzz;

/// Output bytes allowed per input byte, plus a constant.
const LINEAR_FACTOR: usize = 16;

/// Every way the output breaks a rule, empty when it keeps them all.
fn violations(markdown: &str, out: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in out.lines() {
        // Quote markers open a line; everything after them is content.
        let content = line.trim_start_matches(['>', ' ']);
        let mut rest = content;
        while let Some(at) = rest.find(['<', '>', '&']) {
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix('&') {
                if !["&amp;", "&lt;", "&gt;"]
                    .iter()
                    .any(|e| tail.starts_with(e))
                {
                    found.push(format!("a bare & in {line:?}"));
                }
                rest = after;
                continue;
            }
            if let Some(after) = tail.strip_prefix('>') {
                found.push(format!("a bare > in {line:?}"));
                rest = after;
                continue;
            }
            let Some(close) = tail.find('>') else {
                found.push(format!("an unclosed < in {line:?}"));
                break;
            };
            let token = &tail[..=close];
            if token[1..].contains('<') {
                found.push(format!("a < inside {token:?}"));
            }
            if token.starts_with(['<'])
                && token[1..].starts_with(['@', '#', '!'])
                && !markdown.contains(token)
            {
                found.push(format!("{token:?} is not in the input"));
            }
            if !token[1..].starts_with(['@', '#', '!']) && !markdown.contains(['[', '<']) {
                found.push(format!("the link {token:?} was made from plain text"));
            }
            rest = &tail[close + 1..];
        }
    }
    if out.len() > LINEAR_FACTOR * markdown.len() + 64 {
        found.push(format!(
            "{} bytes in, {} bytes out",
            markdown.len(),
            out.len()
        ));
    }
    found
}

proptest! {
    #![proptest_config(fuzz::config(500))]

    #[test]
    fn prop_markdown_to_mrkdwn_is_valid(markdown in fuzz::markdown()) {
        let out = to_mrkdwn(&markdown);
        let found = violations(&markdown, &out);
        prop_assert!(found.is_empty(), "{found:#?}\n{out}");
    }
}

proptest! {
    #![proptest_config(fuzz::config(300))]

    /// Any string, not only Markdown-shaped ones.
    #[test]
    fn prop_arbitrary_text_to_mrkdwn_is_valid(markdown in ".{0,200}") {
        let out = to_mrkdwn(&markdown);
        let found = violations(&markdown, &out);
        prop_assert!(found.is_empty(), "{found:#?}\n{out}");
    }
}

/// Deep nesting followed by lazy continuation lines: each line would carry the whole prefix.
#[test]
fn deep_nesting_stays_linear() {
    let quotes = format!("{}a\n{}", "> ".repeat(200), "b\n".repeat(500));
    let lists = format!("{}a\n{}", "- ".repeat(200), "b\n".repeat(500));
    for markdown in [quotes, lists] {
        let out = to_mrkdwn(&markdown);
        let found = violations(&markdown, &out);
        assert!(found.is_empty(), "{found:?}");
    }
}
