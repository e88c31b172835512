//! Splitting a long message into parts Slack accepts.
//!
//! Slack refuses `text` over 40,000 characters (`msg_too_long`). A longer message is split at
//! paragraph boundaries, else line boundaries, else spaces, else anywhere, into parts of at most
//! [`MAX_PART_CHARS`] characters; a ```` ``` ```` block cut in two is closed at the end of one
//! part and reopened at the start of the next. [`MAX_PARTS`] bounds how many messages one call
//! may post: a model asking for more is told to shorten its text instead of flooding a channel.

/// Largest part, in characters, leaving headroom below Slack's 40,000 for reopened code fences.
pub const MAX_PART_CHARS: usize = 39_000;

/// Most messages one `post_message` call posts.
pub const MAX_PARTS: usize = 4;

const FENCE: &str = "```";

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// Splits `text` into parts of at most `max_chars` characters (see the module docs). Parts are
/// never empty; text that fits is returned as one part, unchanged.
pub(crate) fn split_message(text: &str, max_chars: usize) -> Vec<String> {
    if chars(text) <= max_chars {
        return vec![text.to_owned()];
    }
    // Room for a closing and a reopening fence.
    let budget = max_chars.saturating_sub(2 * (FENCE.len() + 1)).max(1);
    let mut parts = pack(text, budget);
    balance_fences(&mut parts);
    parts.retain(|part| !part.trim().is_empty());
    parts
}

fn pack(text: &str, max: usize) -> Vec<String> {
    if chars(text) <= max {
        return vec![text.trim_matches('\n').to_owned()];
    }
    for separator in ["\n\n", "\n", " "] {
        if !text.contains(separator) {
            continue;
        }
        let mut parts = Vec::new();
        let mut current = String::new();
        for piece in text.split(separator) {
            let joined = chars(&current) + chars(separator) + chars(piece);
            if current.is_empty() && chars(piece) <= max {
                current.push_str(piece);
            } else if !current.is_empty() && joined <= max {
                current.push_str(separator);
                current.push_str(piece);
            } else {
                if !current.is_empty() {
                    parts.push(std::mem::take(&mut current));
                }
                if chars(piece) > max {
                    parts.extend(pack(piece, max));
                } else {
                    current.push_str(piece);
                }
            }
        }
        if !current.is_empty() {
            parts.push(current);
        }
        return parts
            .into_iter()
            .map(|part| part.trim_matches('\n').to_owned())
            .collect();
    }
    let all: Vec<char> = text.chars().collect();
    all.chunks(max)
        .map(|chunk| chunk.iter().collect())
        .collect()
}

fn opens_fence(part: &str) -> bool {
    part.lines()
        .filter(|line| line.trim_start_matches("> ").starts_with(FENCE))
        .count()
        % 2
        == 1
}

fn balance_fences(parts: &mut [String]) {
    for index in 0..parts.len() {
        if opens_fence(&parts[index]) && index + 1 < parts.len() {
            parts[index].push('\n');
            parts[index].push_str(FENCE);
            parts[index + 1].insert_str(0, &format!("{FENCE}\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_PART_CHARS, split_message};

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_message("hello\n\nworld", 100), vec!["hello\n\nworld"]);
    }

    #[test]
    fn splits_at_paragraphs_first() {
        let text = format!(
            "{}\n\n{}\n\n{}",
            "a".repeat(40),
            "b".repeat(40),
            "c".repeat(40)
        );
        let parts = split_message(&text, 100);
        assert_eq!(
            parts,
            vec![
                format!("{}\n\n{}", "a".repeat(40), "b".repeat(40)),
                "c".repeat(40)
            ]
        );
    }

    #[test]
    fn splits_long_paragraphs_at_lines_then_words_then_anywhere() {
        let lines = format!("{}\n{}", "x".repeat(60), "y".repeat(60));
        assert_eq!(
            split_message(&lines, 100),
            vec!["x".repeat(60), "y".repeat(60)]
        );
        let words = vec!["word"; 50].join(" ");
        let parts = split_message(&words, 100);
        assert!(
            parts
                .iter()
                .all(|part| part.chars().count() <= 100 && !part.starts_with(' '))
        );
        assert_eq!(parts.join(" "), words);
        let blob = "z".repeat(250);
        let parts = split_message(&blob, 100);
        assert!(parts.len() >= 3 && parts.iter().all(|part| part.chars().count() <= 100));
        assert_eq!(parts.concat(), blob);
    }

    #[test]
    fn code_blocks_cut_in_two_are_closed_and_reopened() {
        let code: Vec<String> = (0..30).map(|n| format!("line {n:02} of code")).collect();
        let text = format!("```\n{}\n```", code.join("\n"));
        let parts = split_message(&text, 200);
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(
                part.starts_with("```\n") && part.ends_with("\n```"),
                "{part}"
            );
            assert!(part.chars().count() <= 200);
        }
    }

    #[test]
    fn counts_characters_not_bytes() {
        let text = "é".repeat(MAX_PART_CHARS);
        assert_eq!(split_message(&text, MAX_PART_CHARS).len(), 1);
    }
}
