//! Broadcast mentions (`@channel`, `@here`, `@everyone` and their `<!channel>` / `<!here>` /
//! `<!everyone>` tokens): finding them so they can be refused, and turning plain `@here` into the
//! token Slack notifies on when the operator allows broadcasts.
//!
//! Detection is deliberately conservative: a broadcast word inside a code span still counts.

/// The broadcast words, as typed after `@` or inside `<!…>`.
const WORDS: [&str; 3] = ["channel", "here", "everyone"];

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Where a plain `@word` broadcast starts in `text` (case-insensitive, at word boundaries), with
/// the word it names.
fn plain_mentions(text: &str) -> Vec<(usize, &'static str)> {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        // Lower-casing changed byte offsets (rare scripts): match on the original instead.
        return plain_mentions_in(text, text);
    }
    plain_mentions_in(text, &lower)
}

fn plain_mentions_in(original: &str, haystack: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (at, _) in haystack.match_indices('@') {
        let before_ok = original[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_word_char(c));
        if !before_ok {
            continue;
        }
        let rest = &haystack[at + 1..];
        for word in WORDS {
            let after = rest.get(word.len()..).and_then(|tail| tail.chars().next());
            if rest.starts_with(word) && after.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                found.push((at, word));
            }
        }
    }
    found
}

/// The first broadcast mention in `text`, as written (`@here`, `<!channel>` ...), if any.
pub(crate) fn find_broadcast(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    for word in WORDS {
        for ending in [">", "|"] {
            let token = format!("<!{word}{ending}");
            if lower.contains(&token) {
                return Some(format!("<!{word}>"));
            }
        }
    }
    plain_mentions(text)
        .first()
        .map(|(_, word)| format!("@{word}"))
}

/// Rewrites plain `@channel` / `@here` / `@everyone` as `<!channel>` / `<!here>` / `<!everyone>`
/// so Slack notifies (it ignores plain words unless asked to parse names).
pub(crate) fn link_broadcasts(text: &str) -> String {
    let mentions = plain_mentions(text);
    let mut out = String::with_capacity(text.len() + 8 * mentions.len());
    let mut copied = 0;
    for (at, word) in mentions {
        out.push_str(&text[copied..at]);
        out.push_str(&format!("<!{word}>"));
        copied = at + 1 + word.len();
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::{find_broadcast, link_broadcasts};

    #[test]
    fn finds_plain_and_token_broadcasts() {
        assert_eq!(find_broadcast("hey @here look").as_deref(), Some("@here"));
        assert_eq!(
            find_broadcast("@Channel: deploy").as_deref(),
            Some("@channel")
        );
        assert_eq!(
            find_broadcast("ping @everyone!").as_deref(),
            Some("@everyone")
        );
        assert_eq!(
            find_broadcast("<!channel> hi").as_deref(),
            Some("<!channel>")
        );
        assert_eq!(
            find_broadcast("<!here|here> hi").as_deref(),
            Some("<!here>")
        );
        assert_eq!(
            find_broadcast("<!EVERYONE>").as_deref(),
            Some("<!everyone>")
        );
    }

    #[test]
    fn ignores_lookalikes() {
        assert_eq!(find_broadcast("mail ops@here.com"), None);
        assert_eq!(find_broadcast("@heresy and @channels"), None);
        assert_eq!(find_broadcast("<@U123> <#C123|here>"), None);
        assert_eq!(find_broadcast("<!subteam^S1|@oncall>"), None);
    }

    #[test]
    fn links_plain_mentions() {
        assert_eq!(
            link_broadcasts("@here: deploy, @Channel too"),
            "<!here>: deploy, <!channel> too"
        );
        assert_eq!(link_broadcasts("ops@here.com"), "ops@here.com");
        assert_eq!(link_broadcasts("<!here> done"), "<!here> done");
    }
}
