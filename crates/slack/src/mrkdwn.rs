//! Markdown (CommonMark with `~~strike~~`) → Slack mrkdwn.
//!
//! Models write Markdown; Slack renders its own dialect. The conversion, done on pulldown-cmark's
//! event stream:
//! - `**bold**` → `*bold*`, `*italic*`/`_italic_` → `_italic_`, `~~strike~~` → `~strike~`;
//! - code spans stay `` `code` ``; fenced and indented blocks become ```` ``` ```` blocks (the
//!   language tag is dropped: Slack has no syntax highlighting);
//! - `[text](url)` → `<url|text>`, bare autolinks → `<url>`, images → `<url|alt>`;
//! - headings → a bold line; bullet lists → `• item`, ordered lists keep their numbers, nested
//!   lists are indented; block quotes → `> ` lines; rules → a line of `─`;
//! - `&`, `<`, `>` in text are escaped as `&amp;`, `&lt;`, `&gt;` (Slack's only control
//!   characters), except Slack's own tokens, which pass through intact: user and channel
//!   mentions `<@U123>`, `<#C123|name>`, and special mentions `<!here>`, `<!subteam^S1>`,
//!   `<!date^…>`.
//!
//! Known limits: Slack only renders `*`/`_`/`~` at word boundaries (`foo**bar**` stays literal in
//! Slack); tables are passed through as text; HTML other than Slack tokens is shown escaped.

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};

/// Converts Markdown to Slack mrkdwn.
pub fn to_mrkdwn(markdown: &str) -> String {
    let mut writer = Writer {
        source: markdown.to_owned(),
        ..Writer::default()
    };
    for event in Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH) {
        writer.event(event);
    }
    writer.finish()
}

/// `text` with `&`, `<` and `>` escaped: as mrkdwn, it shows as written and can neither mention
/// nor link anyone.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_all(text, &mut out);
    out
}

/// Escapes `&`, `<` and `>` everywhere.
fn escape_all(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Whether `candidate` (from `<` to `>` inclusive) is a Slack token to keep verbatim.
fn is_slack_token(candidate: &str) -> bool {
    let inner = &candidate[1..candidate.len() - 1];
    let mut chars = inner.chars();
    matches!(chars.next(), Some('@' | '#' | '!'))
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && !inner.contains(['<', '\n'])
}

/// Escapes `&`, `<` and `>`, keeping Slack tokens such as `<@U123>` and `<!here>` intact when
/// they are written as such in `source` (`&lt;@U123&gt;` is text that shows the token, not a
/// mention).
fn escape_text(text: &str, source: &str, out: &mut String) {
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        escape_all(&rest[..open], out);
        let tail = &rest[open..];
        match tail.find('>') {
            Some(close) if is_slack_token(&tail[..=close]) && source.contains(&tail[..=close]) => {
                out.push_str(&tail[..=close]);
                rest = &tail[close + 1..];
            }
            _ => {
                out.push_str("&lt;");
                rest = &tail[1..];
            }
        }
    }
    escape_all(rest, out);
}

/// Nesting beyond this many quotes or lists is written as this many: Slack renders one quote
/// level, and a prefix per level on every line would make the output grow with the square of
/// the input (deep nesting followed by many lazy continuation lines).
const MAX_DEPTH: usize = 4;

#[derive(Default)]
struct Writer {
    /// The Markdown being converted.
    source: String,
    out: String,
    /// Text (and inline HTML) not yet written, escaped as a whole when flushed so that Slack
    /// tokens split across events survive.
    pending: String,
    quote_depth: usize,
    /// Open lists, innermost last: `None` for bullets, `Some(n)` for the next ordered number.
    lists: Vec<Option<u64>>,
    /// Open links and images: destination and the output length where their text starts.
    links: Vec<(String, usize)>,
    /// Links and images opened inside a link's text: written as their text only, since a
    /// Slack link cannot hold another.
    nested_links: usize,
    in_code_block: bool,
    /// Inside an autolink that is really a Slack token (`<!subteam^S1|@team>` parses as an
    /// e-mail autolink): its text was already kept verbatim.
    in_token_link: bool,
    /// A container (list item, quote) just opened: its first block needs no separator.
    fresh: bool,
}

impl Writer {
    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n')
    }

    /// What starts every line at the current nesting: quote markers, then list indentation.
    fn prefix(&self) -> String {
        let mut prefix = "> ".repeat(self.quote_depth.min(MAX_DEPTH));
        prefix.push_str(&"  ".repeat(self.lists.len().min(MAX_DEPTH)));
        prefix
    }

    fn write_prefix_if_needed(&mut self) {
        if self.at_line_start() {
            let prefix = self.prefix();
            self.out.push_str(&prefix);
        }
    }

    /// Writes already-converted text, adding the line prefix after every newline.
    fn write(&mut self, text: &str) {
        let segments: Vec<&str> = text.split('\n').collect();
        let last = segments.len() - 1;
        for (index, segment) in segments.into_iter().enumerate() {
            if !segment.is_empty() {
                self.write_prefix_if_needed();
                self.out.push_str(segment);
            } else if index != last && self.at_line_start() && self.quote_depth > 0 {
                self.out
                    .push_str(&">".repeat(self.quote_depth.min(MAX_DEPTH)));
            }
            if index != last {
                self.out.push('\n');
            }
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut escaped = String::with_capacity(pending.len());
        if self.links.is_empty() {
            escape_text(&pending, &self.source, &mut escaped);
        } else {
            // A link's text cannot hold a Slack token: `<url|<@U1>>` breaks the link.
            escape_all(&pending, &mut escaped);
        }
        self.write(&escaped);
    }

    fn ensure_newline(&mut self) {
        self.flush();
        if !self.at_line_start() {
            self.out.push('\n');
        }
    }

    /// Separates a new block from what came before: a blank line outside lists, a line break
    /// inside them, nothing for the first block of a fresh container.
    fn block_start(&mut self) {
        self.flush();
        if std::mem::take(&mut self.fresh) || self.out.is_empty() {
            return;
        }
        self.ensure_newline();
        if self.lists.is_empty() {
            self.out
                .push_str(&">".repeat(self.quote_depth.min(MAX_DEPTH)));
            self.out.push('\n');
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) if self.in_code_block => {
                let mut escaped = String::with_capacity(text.len());
                escape_all(&text, &mut escaped);
                self.write(&escaped);
            }
            Event::Text(_) if self.in_token_link => {}
            Event::Text(text) | Event::Html(text) | Event::InlineHtml(text) => {
                self.pending.push_str(&text);
            }
            Event::Code(code) => {
                self.flush();
                let mut escaped = String::from("`");
                escape_all(&code, &mut escaped);
                escaped.push('`');
                self.write(&escaped);
            }
            Event::SoftBreak | Event::HardBreak => {
                self.flush();
                // A Slack link is one line: a break in a link's text becomes a space.
                self.write(if self.links.is_empty() { "\n" } else { " " });
            }
            Event::Rule => {
                self.block_start();
                self.write("──────────");
            }
            Event::InlineMath(math) | Event::DisplayMath(math) => self.pending.push_str(&math),
            Event::FootnoteReference(name) => self.pending.push_str(&format!("[{name}]")),
            Event::TaskListMarker(done) => {
                self.pending.push_str(if done { "[x] " } else { "[ ] " })
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => self.block_start(),
            Tag::Heading { .. } => {
                self.block_start();
                self.write("*");
            }
            Tag::BlockQuote(_) => {
                self.block_start();
                self.quote_depth += 1;
                self.fresh = true;
            }
            Tag::CodeBlock(_) => {
                self.block_start();
                self.write("```\n");
                self.in_code_block = true;
            }
            Tag::List(first) => {
                self.block_start();
                self.lists.push(first);
            }
            Tag::Item => self.start_item(),
            Tag::Emphasis => self.inline_marker("_"),
            Tag::Strong => self.inline_marker("*"),
            Tag::Strikethrough => self.inline_marker("~"),
            Tag::Link { .. } | Tag::Image { .. } if !self.links.is_empty() => {
                self.nested_links += 1;
            }
            Tag::Link {
                link_type: LinkType::Autolink | LinkType::Email,
                dest_url,
                ..
            } if dest_url.starts_with(['@', '#', '!']) => {
                self.pending.push_str(&format!("<{dest_url}>"));
                self.in_token_link = true;
            }
            Tag::Link {
                link_type,
                dest_url,
                ..
            }
            | Tag::Image {
                link_type,
                dest_url,
                ..
            } => {
                self.flush();
                self.write_prefix_if_needed();
                let url = match link_type {
                    LinkType::Email => format!("mailto:{dest_url}"),
                    _ => dest_url.into_string(),
                };
                self.links.push((url, self.out.len()));
            }
            _ => self.flush(),
        }
    }

    fn start_item(&mut self) {
        self.ensure_newline();
        let depth = self.lists.len().saturating_sub(1);
        let marker = match self.lists.last_mut() {
            Some(Some(number)) => {
                let marker = format!("{number}. ");
                *number += 1;
                marker
            }
            _ => "• ".to_owned(),
        };
        self.out
            .push_str(&"> ".repeat(self.quote_depth.min(MAX_DEPTH)));
        self.out.push_str(&"  ".repeat(depth.min(MAX_DEPTH)));
        self.out.push_str(&marker);
        self.fresh = true;
    }

    fn inline_marker(&mut self, marker: &str) {
        self.flush();
        self.write(marker);
    }

    fn end(&mut self, tag: TagEnd) {
        self.flush();
        match tag {
            TagEnd::Heading(_) => self.write("*"),
            TagEnd::BlockQuote(_) => self.quote_depth = self.quote_depth.saturating_sub(1),
            TagEnd::CodeBlock => {
                self.in_code_block = false;
                self.ensure_newline();
                self.write("```");
            }
            TagEnd::List(_) => {
                self.lists.pop();
            }
            TagEnd::Item => self.fresh = false,
            TagEnd::Emphasis => self.write("_"),
            TagEnd::Strong => self.write("*"),
            TagEnd::Strikethrough => self.write("~"),
            TagEnd::Link | TagEnd::Image if self.nested_links > 0 => self.nested_links -= 1,
            TagEnd::Link if self.in_token_link => self.in_token_link = false,
            TagEnd::Link | TagEnd::Image => self.end_link(),
            _ => {}
        }
    }

    fn end_link(&mut self) {
        let Some((url, start)) = self.links.pop() else {
            return;
        };
        let text = self.out.split_off(start.min(self.out.len()));
        // `<@…|text>`, `<#…|text>` and `<!…|text>` are mentions and commands (`<!channel>`), not
        // links: such a destination is written out as text.
        if url.starts_with(['@', '#', '!']) {
            self.out.push_str(&text);
            self.out.push_str(" (");
            escape_all(&url, &mut self.out);
            self.out.push(')');
            return;
        }
        let mut link = String::from("<");
        escape_all(&url, &mut link);
        let bare = link[1..].to_owned();
        if !text.is_empty() && text != bare && Some(text.as_str()) != bare.strip_prefix("mailto:") {
            link.push('|');
            link.push_str(&text);
        }
        link.push('>');
        self.out.push_str(&link);
    }

    fn finish(mut self) -> String {
        self.flush();
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::to_mrkdwn;

    #[test]
    fn inline_styles() {
        assert_eq!(to_mrkdwn("Hello **world**"), "Hello *world*");
        assert_eq!(to_mrkdwn("_it_ and *it*"), "_it_ and _it_");
        assert_eq!(to_mrkdwn("~~gone~~ now"), "~gone~ now");
        assert_eq!(to_mrkdwn("***both***"), "_*both*_");
    }

    #[test]
    fn code_spans_and_blocks_are_escaped_but_not_styled() {
        assert_eq!(
            to_mrkdwn("run `a<b && **c**`"),
            "run `a&lt;b &amp;&amp; **c**`"
        );
        assert_eq!(
            to_mrkdwn("Before\n\n```rust\nfn main() { a < b }\n```\n\nAfter"),
            "Before\n\n```\nfn main() { a &lt; b }\n```\n\nAfter"
        );
        assert_eq!(
            to_mrkdwn("    indented\n    code"),
            "```\nindented\ncode\n```"
        );
    }

    #[test]
    fn a_link_to_a_mention_or_command_is_text_not_a_token() {
        // Regression: `[x](!channel)` became `<!channel|x>`, an @channel broadcast.
        assert_eq!(to_mrkdwn("[x](!channel)"), "x (!channel)");
        assert_eq!(to_mrkdwn("[boss](@U0ALICE001)"), "boss (@U0ALICE001)");
        assert_eq!(to_mrkdwn("[  \n@here](!3) "), " @here (!3)");
    }

    #[test]
    fn links_and_images() {
        assert_eq!(
            to_mrkdwn("[the docs](https://x.io/a?b=1&c=2)"),
            "<https://x.io/a?b=1&amp;c=2|the docs>"
        );
        assert_eq!(to_mrkdwn("see <https://x.io>"), "see <https://x.io>");
        assert_eq!(to_mrkdwn("[https://x.io](https://x.io)"), "<https://x.io>");
        assert_eq!(to_mrkdwn("mail <ops@x.io>"), "mail <mailto:ops@x.io>");
        assert_eq!(
            to_mrkdwn("![graph](https://x.io/g.png)"),
            "<https://x.io/g.png|graph>"
        );
        assert_eq!(to_mrkdwn("- [a](https://a.io)"), "• <https://a.io|a>");
    }

    #[test]
    fn lists() {
        assert_eq!(to_mrkdwn("- a\n- b"), "• a\n• b");
        assert_eq!(to_mrkdwn("1. a\n2. b"), "1. a\n2. b");
        assert_eq!(to_mrkdwn("3. c\n4. d"), "3. c\n4. d");
        assert_eq!(
            to_mrkdwn("- a\n  - b\n  - c\n- d"),
            "• a\n  • b\n  • c\n• d"
        );
        assert_eq!(
            to_mrkdwn("Intro:\n\n- a\n\n- b\n\nEnd"),
            "Intro:\n\n• a\n• b\n\nEnd"
        );
        assert_eq!(to_mrkdwn("1. **bold** item"), "1. *bold* item");
    }

    #[test]
    fn quotes_and_headings() {
        assert_eq!(to_mrkdwn("> quoted\n> lines"), "> quoted\n> lines");
        assert_eq!(to_mrkdwn("> one\n>\n> two"), "> one\n>\n> two");
        assert_eq!(to_mrkdwn("# Title\n\nBody"), "*Title*\n\nBody");
        assert_eq!(
            to_mrkdwn("para\n\n---\n\nnext"),
            "para\n\n──────────\n\nnext"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(to_mrkdwn("a & b < c > d"), "a &amp; b &lt; c &gt; d");
        assert_eq!(to_mrkdwn("AT&amp;T"), "AT&amp;T");
        assert_eq!(to_mrkdwn("<b>html</b>"), "&lt;b&gt;html&lt;/b&gt;");
        assert_eq!(to_mrkdwn("1 <2"), "1 &lt;2");
    }

    #[test]
    fn slack_tokens_survive() {
        assert_eq!(
            to_mrkdwn("hi <@U123ABC> see <#C0GENERAL1|general> & <!here>"),
            "hi <@U123ABC> see <#C0GENERAL1|general> &amp; <!here>"
        );
        assert_eq!(
            to_mrkdwn("<!channel> deploy done"),
            "<!channel> deploy done"
        );
        assert_eq!(to_mrkdwn("**<@U1>** approved"), "*<@U1>* approved");
        assert_eq!(
            to_mrkdwn("team <!subteam^S123|@oncall>"),
            "team <!subteam^S123|@oncall>"
        );
        assert_eq!(to_mrkdwn("not a token <@ U1>"), "not a token &lt;@ U1&gt;");
    }

    #[test]
    fn line_breaks_are_kept() {
        assert_eq!(to_mrkdwn("line one\nline two"), "line one\nline two");
        assert_eq!(to_mrkdwn("a\n\n\n\nb"), "a\n\nb");
    }
}
