//! Jira wiki markup → Markdown, for reading Data Center descriptions back.
//!
//! Covers what [`crate::wiki::markdown_to_wiki`] writes and what people commonly type: `hN.`
//! headings, `{code[:lang]}` / `{noformat}` blocks, `{quote}` and `bq.`, `*`/`#`/`-` lists with
//! nesting, `||head||` / `|cell|` tables, `----`, and inline `*strong*`, `_em_`, `-strike-`,
//! `{{code}}`, `[text|url]`, `[url]`, `\\` breaks and backslash escapes. Anything else passes
//! through as text.

/// Converts wiki markup to Markdown.
pub fn wiki_to_markdown(wiki: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut in_code = false;
    let mut in_quote = false;
    let mut table_header_done = false;
    for raw in wiki.lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if in_code {
            if trimmed.starts_with("{code}") || trimmed.starts_with("{noformat}") {
                out.push("```".into());
                in_code = false;
            } else {
                out.push(line.to_owned());
            }
            continue;
        }
        if let Some(lang) = code_open(trimmed) {
            out.push(format!("```{lang}"));
            in_code = true;
            continue;
        }
        if trimmed == "{quote}" {
            in_quote = !in_quote;
            continue;
        }
        let converted = block_line(trimmed, &mut table_header_done);
        let converted = if in_quote {
            format!("> {converted}").trim_end().to_owned()
        } else {
            converted
        };
        out.push(converted);
    }
    if in_code {
        out.push("```".into());
    }
    out.join("\n").trim().to_owned()
}

/// `{code}`, `{code:lang}`, `{code:title=x|language=lang}`, `{noformat}` → the language.
fn code_open(line: &str) -> Option<String> {
    if line == "{noformat}" || line == "{code}" {
        return Some(String::new());
    }
    let params = line.strip_prefix("{code:")?.strip_suffix('}')?;
    let lang = params
        .split('|')
        .find_map(|p| p.strip_prefix("language="))
        .or_else(|| params.split('|').find(|p| !p.contains('=')))
        .unwrap_or("");
    Some(lang.to_owned())
}

fn block_line(line: &str, table_header_done: &mut bool) -> String {
    if !line.starts_with('|') {
        *table_header_done = false;
    }
    if line == "----" {
        return "---".into();
    }
    for level in 1..=6 {
        if let Some(rest) = line.strip_prefix(&format!("h{level}. ")) {
            return format!("{} {}", "#".repeat(level), inline(rest));
        }
    }
    if let Some(rest) = line.strip_prefix("bq. ") {
        return format!("> {}", inline(rest));
    }
    if let Some(row) = table_row(line, table_header_done) {
        return row;
    }
    let markers: String = line
        .chars()
        .take_while(|c| matches!(c, '*' | '#' | '-'))
        .collect();
    if !markers.is_empty()
        && line[markers.len()..].starts_with(' ')
        && !(markers == "-" && line.starts_with("- -"))
    {
        let depth = markers.chars().count();
        let last = markers.chars().last().unwrap_or('*');
        let marker = if last == '#' { "1." } else { "-" };
        // Markdown nests by the parent's marker width: two spaces under `-`, three under `1.`.
        let indent: String = markers
            .chars()
            .take(depth - 1)
            .map(|m| if m == '#' { "   " } else { "  " })
            .collect();
        return format!(
            "{indent}{marker} {}",
            inline(line[markers.len()..].trim_start())
        );
    }
    inline(line)
}

fn table_row(line: &str, header_done: &mut bool) -> Option<String> {
    if let Some(inner) = line.strip_prefix("||").and_then(|l| l.strip_suffix("||")) {
        let cells: Vec<String> = inner.split("||").map(|c| inline(c.trim())).collect();
        *header_done = true;
        return Some(format!(
            "| {} |\n|{}",
            cells.join(" | "),
            " --- |".repeat(cells.len())
        ));
    }
    let inner = line.strip_prefix('|')?.strip_suffix('|')?;
    let cells: Vec<String> = inner.split('|').map(|c| inline(c.trim())).collect();
    let row = format!("| {} |", cells.join(" | "));
    if *header_done {
        Some(row)
    } else {
        *header_done = true;
        // Markdown tables need a header row: use an empty one.
        Some(format!(
            "|{}\n|{}\n{row}",
            "  |".repeat(cells.len()),
            " --- |".repeat(cells.len())
        ))
    }
}

/// Converts inline markup on one line.
fn inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && chars.get(i + 1) == Some(&'\\') {
            out.push_str("  \n");
            i += 2;
            while chars.get(i) == Some(&' ') {
                i += 1;
            }
            continue;
        }
        if c == '\\' && i + 1 < chars.len() {
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '{'
            && chars.get(i + 1) == Some(&'{')
            && let Some(end) = find(&chars, i + 2, "}}")
        {
            let code: String = chars[i + 2..end].iter().filter(|c| **c != '\\').collect();
            out.push_str(&format!("`{code}`"));
            i = end + 2;
            continue;
        }
        if c == '['
            && let Some(end) = find(&chars, i + 1, "]")
        {
            let body: String = chars[i + 1..end].iter().collect();
            match body.split_once('|') {
                Some((label, url)) => out.push_str(&format!("[{}]({url})", inline(label))),
                None => out.push_str(&format!("<{body}>")),
            }
            i = end + 1;
            continue;
        }
        if let Some(md) = match c {
            '*' => Some("**"),
            '_' => Some("*"),
            '-' => Some("~~"),
            _ => None,
        } {
            let opens = i == 0 || !chars[i - 1].is_alphanumeric();
            let next_ok = chars
                .get(i + 1)
                .is_some_and(|n| !n.is_whitespace() && *n != c);
            if opens
                && next_ok
                && let Some(end) = closing(&chars, i + 1, c)
            {
                let inner: String = chars[i + 1..end].iter().collect();
                out.push_str(&format!("{md}{}{md}", inline(&inner)));
                i = end + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn find(chars: &[char], from: usize, pattern: &str) -> Option<usize> {
    let pat: Vec<char> = pattern.chars().collect();
    (from..chars.len()).find(|&j| chars[j..].starts_with(&pat))
}

/// The closing `mark`: preceded by a non-space and not followed by an alphanumeric.
fn closing(chars: &[char], from: usize, mark: char) -> Option<usize> {
    (from + 1..chars.len()).find(|&j| {
        chars[j] == mark
            && chars[j - 1] != '\\'
            && !chars[j - 1].is_whitespace()
            && chars.get(j + 1).is_none_or(|n| !n.is_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::wiki_to_markdown;
    use crate::wiki::markdown_to_wiki;

    #[test]
    fn reads_common_markup() {
        let wiki = "h2. Impact\n\n*12* orders _failed_ in -eu- see [runbook|https://w.io/rb] and {{select 1}}\n\n* a\n** b\n*# c\n# one\n\n{code:sql}\nselect *\n{code}\n\nbq. quoted\n\n----\n\n||h1||h2||\n|a|b|";
        let md = wiki_to_markdown(wiki);
        assert_eq!(
            md,
            "## Impact\n\n**12** orders *failed* in ~~eu~~ see [runbook](https://w.io/rb) and `select 1`\n\n- a\n  - b\n  1. c\n1. one\n\n```sql\nselect *\n```\n\n> quoted\n\n---\n\n| h1 | h2 |\n| --- | --- |\n| a | b |"
        );
    }

    #[test]
    fn leaves_plain_text_alone() {
        assert_eq!(
            wiki_to_markdown("a-b snake_case 3*4 well-known"),
            "a-b snake_case 3*4 well-known"
        );
        assert_eq!(wiki_to_markdown("{quote}\nsaid\n{quote}"), "> said");
        assert_eq!(
            wiki_to_markdown("{noformat}\nraw *x*\n{noformat}"),
            "```\nraw *x*\n```"
        );
    }

    #[test]
    fn round_trips_what_markdown_to_wiki_writes() {
        let md = "# Title\n\nHello **bold** and *em* ~~gone~~ `x_y` [site](https://h.io)\n\n- a\n  - b\n\n```rust\nfn main() {}\n```";
        assert_eq!(wiki_to_markdown(&markdown_to_wiki(md)), md);
    }
}
