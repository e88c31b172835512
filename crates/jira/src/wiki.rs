//! Markdown → Jira wiki markup (Data Center's REST v2 takes descriptions and comments as wiki
//! markup strings).
//!
//! Mapping: `h1.`…`h6.` headings, `*strong*`, `_em_`, `-strike-`, `{{code}}`,
//! `{code:lang}…{code}`, `*`/`#` list markers repeated for nesting (mixed as `*#`), `[text|url]`
//! links, `||head||` / `|cell|` tables, `{quote}…{quote}`, `----` rules, `\\` line breaks.
//! Characters with a wiki meaning are backslash-escaped in plain text.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Parser, Tag, TagEnd};

use crate::adf::markdown_options;

/// Converts Markdown to Jira wiki markup.
pub fn markdown_to_wiki(markdown: &str) -> String {
    let mut w = Wiki::default();
    for event in Parser::new_ext(markdown, markdown_options()) {
        w.event(event);
    }
    w.out.trim_end().to_owned()
}

#[derive(Default)]
struct Wiki {
    out: String,
    /// List markers of the open lists, `*` or `#`.
    lists: Vec<char>,
    in_code_block: bool,
    /// Link targets of open links (text is written as it comes, target at the end).
    links: Vec<String>,
    in_table_head: bool,
    quote_depth: usize,
}

impl Wiki {
    fn newline(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    fn blank_line(&mut self) {
        self.newline();
        if !self.out.is_empty() && !self.out.ends_with("\n\n") && self.lists.is_empty() {
            self.out.push('\n');
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => {
                if self.in_code_block {
                    self.out.push_str(&text);
                } else {
                    self.out.push_str(&escape(&text));
                }
            }
            Event::Code(code) => {
                self.out.push_str("{{");
                self.out.push_str(&escape(&code));
                self.out.push_str("}}");
            }
            Event::Html(html) | Event::InlineHtml(html) => self.out.push_str(&escape(&html)),
            Event::SoftBreak => self.out.push(' '),
            Event::HardBreak => self.out.push_str("\\\\ "),
            Event::Rule => {
                self.blank_line();
                self.out.push_str("----\n");
            }
            Event::TaskListMarker(done) => self.out.push_str(if done { "(/) " } else { "(x) " }),
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {
                if self.lists.is_empty() {
                    self.blank_line();
                } else if !self.out.ends_with(' ') && !self.out.ends_with('\n') {
                    // A loose list item's second paragraph: keep it in the item.
                    self.out.push_str("\\\\ ");
                }
            }
            Tag::Heading { level, .. } => {
                self.blank_line();
                self.out.push_str(&format!("h{}. ", heading_number(level)));
            }
            Tag::BlockQuote(_) => {
                self.blank_line();
                self.out.push_str("{quote}\n");
                self.quote_depth += 1;
            }
            Tag::CodeBlock(kind) => {
                self.blank_line();
                let language = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().unwrap_or("").to_owned()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                if language.is_empty() {
                    self.out.push_str("{code}\n");
                } else {
                    self.out.push_str(&format!("{{code:{language}}}\n"));
                }
                self.in_code_block = true;
            }
            Tag::List(start) => {
                if self.lists.is_empty() {
                    self.blank_line();
                }
                self.lists.push(if start.is_some() { '#' } else { '*' });
            }
            Tag::Item => {
                self.newline();
                let markers: String = self.lists.iter().collect();
                self.out.push_str(&markers);
                self.out.push(' ');
            }
            Tag::Table(_) => self.blank_line(),
            Tag::TableHead => self.in_table_head = true,
            Tag::TableRow => self.newline(),
            Tag::TableCell => self
                .out
                .push_str(if self.in_table_head { "||" } else { "|" }),
            Tag::Emphasis => self.out.push('_'),
            Tag::Strong => self.out.push('*'),
            Tag::Strikethrough => self.out.push('-'),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.out.push('[');
                self.links.push(dest_url.to_string());
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) if self.lists.is_empty() => self.newline(),
            TagEnd::BlockQuote(_) => {
                self.newline();
                self.out.push_str("{quote}\n");
                self.quote_depth = self.quote_depth.saturating_sub(1);
            }
            TagEnd::CodeBlock => {
                self.newline();
                self.out.push_str("{code}\n");
                self.in_code_block = false;
            }
            TagEnd::List(_) => {
                self.lists.pop();
                if self.lists.is_empty() {
                    self.newline();
                }
            }
            TagEnd::TableHead => {
                self.out.push_str("||");
                self.in_table_head = false;
                self.newline();
            }
            TagEnd::TableRow => {
                self.out.push('|');
                self.newline();
            }
            TagEnd::Table => self.newline(),
            TagEnd::Emphasis => self.out.push('_'),
            TagEnd::Strong => self.out.push('*'),
            TagEnd::Strikethrough => self.out.push('-'),
            TagEnd::Link | TagEnd::Image => {
                let target = self.links.pop().unwrap_or_default();
                self.out.push('|');
                self.out.push_str(&target);
                self.out.push(']');
            }
            _ => {}
        }
    }
}

fn heading_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Escapes characters that start wiki markup inside plain text.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '*' | '_' | '{' | '}' | '[' | ']' | '|' | '^' | '~' | '+' | '\\'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::markdown_to_wiki;

    #[test]
    fn inline_marks() {
        assert_eq!(
            markdown_to_wiki("Hello **bold** *em* ~~gone~~ `x_y` [site](https://h.io)"),
            "Hello *bold* _em_ -gone- {{x\\_y}} [site|https://h.io]"
        );
    }

    #[test]
    fn blocks() {
        let md = "# Title\n\nText with snake_case.\n\n```python\nprint('*')\n```\n\n> quoted\n\n---\n\nend";
        assert_eq!(
            markdown_to_wiki(md),
            "h1. Title\n\nText with snake\\_case.\n\n{code:python}\nprint('*')\n{code}\n\n{quote}\n\nquoted\n{quote}\n\n----\n\nend"
        );
    }

    #[test]
    fn nested_and_mixed_lists() {
        let md = "- a\n  - b\n    1. c\n- d\n\n1. one\n2. two";
        assert_eq!(
            markdown_to_wiki(md),
            "* a\n** b\n**# c\n* d\n\n# one\n# two"
        );
    }

    #[test]
    fn tables() {
        let md = "| h1 | h2 |\n|---|---|\n| a | **b** |";
        assert_eq!(markdown_to_wiki(md), "||h1||h2||\n|a|*b*|");
    }

    #[test]
    fn code_block_without_language_and_hard_break() {
        assert_eq!(markdown_to_wiki("    raw {x}\n"), "{code}\nraw {x}\n{code}");
        assert_eq!(markdown_to_wiki("a  \nb"), "a\\\\ b");
    }
}
