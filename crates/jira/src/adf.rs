//! Markdown → Atlassian Document Format (Jira Cloud), and ADF → Markdown for reading back.
//!
//! Markdown is parsed with pulldown-cmark (CommonMark + tables + strikethrough). Supported:
//! headings, paragraphs, emphasis, strong, strike, code spans, fenced/indented code blocks with
//! language, bullet and ordered lists (nested, tight or loose), links, images (as links), tables,
//! blockquotes, rules, hard breaks. ADF's structural rules are respected: text only inside
//! paragraphs/headings/code blocks (tight list items and table cells get an implicit paragraph),
//! a `code` mark combined with no mark but `link`, a code block holding unmarked text only.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde_json::{Map, Value, json};

/// The parser options used by both converters.
pub(crate) fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// A block node under construction.
struct Block {
    node: Map<String, Value>,
    content: Vec<Value>,
    /// Opened by the converter to hold inline content, not by a Markdown tag.
    implicit: bool,
    /// A Markdown block ADF does not allow where it stands (a quote in a quote, a table in a
    /// list item): no node of its own, its content goes to the enclosing block.
    transparent: bool,
}

impl Block {
    fn new(kind: &str, attrs: Option<Value>, implicit: bool) -> Self {
        let mut node = Map::new();
        node.insert("type".into(), Value::from(kind));
        if let Some(attrs) = attrs {
            node.insert("attrs".into(), attrs);
        }
        Self {
            node,
            content: Vec::new(),
            implicit,
            transparent: false,
        }
    }

    fn kind(&self) -> &str {
        self.node.get("type").and_then(Value::as_str).unwrap_or("")
    }

    fn accepts_inline(&self) -> bool {
        matches!(self.kind(), "paragraph" | "heading" | "codeBlock")
    }

    fn finish(mut self) -> Value {
        if self.kind() == "codeBlock" {
            // A code block's text ends with the fence's newline; ADF keeps no trailing newline.
            if let Some(Value::Object(last)) = self.content.last_mut()
                && let Some(Value::String(text)) = last.get_mut("text")
            {
                while text.ends_with('\n') {
                    text.pop();
                }
            }
            self.content.retain(|n| {
                n.get("text")
                    .and_then(Value::as_str)
                    .is_none_or(|t| !t.is_empty())
            });
        }
        if self.kind() == "tableRow" {
            // GFM fills a short row up to the header's width; those empty cells are dropped, or
            // a wide header over many one-character rows would grow the document quadratically.
            while self.content.len() > 1
                && self.content.last().is_some_and(|cell| {
                    cell["type"] == "tableCell"
                        && cell["content"] == json!([{"type": "paragraph", "content": []}])
                })
            {
                self.content.pop();
            }
        }
        let must_have_content = matches!(
            self.kind(),
            "tableCell" | "tableHeader" | "listItem" | "blockquote"
        );
        if self.kind() == "listItem"
            && self
                .content
                .first()
                .is_some_and(|first| first["type"] != "paragraph")
        {
            // A list item opens with a paragraph (`- - x`, a list in a list item, has none).
            self.content
                .insert(0, json!({"type": "paragraph", "content": []}));
        }
        if must_have_content && self.content.is_empty() {
            self.content
                .push(json!({"type": "paragraph", "content": []}));
        }
        if !self.content.is_empty() || !matches!(self.kind(), "rule") {
            self.node
                .insert("content".into(), Value::Array(self.content));
        }
        Value::Object(self.node)
    }
}

/// Converts Markdown to an ADF document (`{"type":"doc","version":1,"content":[...]}`).
pub fn markdown_to_adf(markdown: &str) -> Value {
    let mut builder = AdfBuilder {
        stack: vec![Block::new("doc", None, false)],
        marks: Vec::new(),
        in_table_head: false,
    };
    for event in Parser::new_ext(markdown, markdown_options()) {
        builder.event(event);
    }
    while builder.stack.len() > 1 {
        builder.close();
    }
    let mut doc = builder
        .stack
        .pop()
        .map(Block::finish)
        .unwrap_or_else(|| json!({"type": "doc"}));
    if let Value::Object(map) = &mut doc {
        map.insert("version".into(), Value::from(1));
    }
    doc
}

struct AdfBuilder {
    stack: Vec<Block>,
    marks: Vec<Value>,
    in_table_head: bool,
}

impl AdfBuilder {
    fn top(&mut self) -> &mut Block {
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    fn open(&mut self, kind: &str, attrs: Option<Value>) {
        if self.top().implicit {
            self.close();
        }
        // ADF allows fewer blocks inside quotes and list items than Markdown does: a heading
        // there becomes a paragraph; a quote, rule or table adds no node (its content stays).
        let parent = self
            .stack
            .iter()
            .rev()
            .find(|b| !b.transparent)
            .map_or("doc", Block::kind);
        let restricted = matches!(parent, "blockquote" | "listItem");
        let (kind, attrs, transparent) = match kind {
            "heading" if restricted => ("paragraph", None, false),
            "blockquote" | "rule" | "table" if restricted => (kind, None, true),
            "tableRow" if parent != "table" => (kind, None, true),
            "tableCell" | "tableHeader" if parent != "tableRow" => ("paragraph", None, false),
            _ => (kind, attrs, false),
        };
        let mut block = Block::new(kind, attrs, false);
        block.transparent = transparent;
        self.stack.push(block);
    }

    /// Closes the innermost block (and an implicit paragraph inside it first).
    fn close(&mut self) {
        if self.stack.len() <= 1 {
            return;
        }
        if let Some(block) = self.stack.pop() {
            if block.transparent {
                self.top().content.extend(block.content);
            } else {
                let value = block.finish();
                self.top().content.push(value);
            }
        }
    }

    fn close_explicit(&mut self) {
        if self.top().implicit {
            self.close();
        }
        self.close();
    }

    fn push_inline(&mut self, node: Value) {
        if !self.top().accepts_inline() {
            self.stack.push(Block::new("paragraph", None, true));
        }
        self.top().content.push(node);
    }

    fn text(&mut self, text: &str, extra: Option<Value>) {
        if text.is_empty() {
            return;
        }
        let mut node = json!({"type": "text", "text": text});
        let in_code_block = self.top().kind() == "codeBlock";
        let mut marks: Vec<Value> = if in_code_block {
            Vec::new()
        } else {
            self.marks.clone()
        };
        if let Some(mark) = extra {
            // `code` combines only with `link` in ADF.
            marks.retain(|m| m["type"] == "link");
            marks.push(mark);
        }
        // Marks are a set: nested emphasis (`*a *b* c*`) or an image in a link marks once, the
        // outermost link winning.
        let mut seen: Vec<Value> = Vec::new();
        marks.retain(|m| {
            let fresh = !seen.contains(&m["type"]);
            seen.push(m["type"].clone());
            fresh
        });
        if !marks.is_empty() {
            node["marks"] = Value::Array(marks);
        }
        self.push_inline(node);
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text, None),
            Event::Code(code) => self.text(&code, Some(json!({"type": "code"}))),
            Event::Html(html) | Event::InlineHtml(html) => self.text(&html, None),
            Event::SoftBreak => self.text(" ", None),
            Event::HardBreak => self.push_inline(json!({"type": "hardBreak"})),
            Event::Rule => {
                self.open("rule", None);
                self.close();
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }, None),
            Event::FootnoteReference(name) => self.text(&format!("[^{name}]"), None),
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.open("paragraph", None),
            Tag::Heading { level, .. } => {
                self.open("heading", Some(json!({"level": heading_level(level)})))
            }
            Tag::BlockQuote(_) => self.open("blockquote", None),
            Tag::CodeBlock(kind) => {
                let language = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().unwrap_or("").to_owned()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                let attrs = (!language.is_empty()).then(|| json!({"language": language}));
                self.open("codeBlock", attrs);
            }
            Tag::List(None) => self.open("bulletList", None),
            Tag::List(Some(start)) => self.open("orderedList", Some(json!({"order": start}))),
            Tag::Item => self.open("listItem", None),
            Tag::Table(_) => self.open(
                "table",
                Some(json!({"isNumberColumnEnabled": false, "layout": "default"})),
            ),
            Tag::TableHead => {
                self.in_table_head = true;
                self.open("tableRow", None);
            }
            Tag::TableRow => self.open("tableRow", None),
            Tag::TableCell => {
                let kind = if self.in_table_head {
                    "tableHeader"
                } else {
                    "tableCell"
                };
                self.open(kind, Some(json!({})));
            }
            Tag::Emphasis => self.marks.push(json!({"type": "em"})),
            Tag::Strong => self.marks.push(json!({"type": "strong"})),
            Tag::Strikethrough => self.marks.push(json!({"type": "strike"})),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.marks
                    .push(json!({"type": "link", "attrs": {"href": dest_url.to_string()}}));
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Link
            | TagEnd::Image => {
                self.marks.pop();
            }
            TagEnd::TableHead => {
                self.close_explicit();
                self.in_table_head = false;
            }
            TagEnd::Paragraph
            | TagEnd::Heading(_)
            | TagEnd::BlockQuote(_)
            | TagEnd::CodeBlock
            | TagEnd::List(_)
            | TagEnd::Item
            | TagEnd::Table
            | TagEnd::TableRow
            | TagEnd::TableCell => self.close_explicit(),
            _ => {}
        }
    }
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Renders an ADF document (or any ADF node) as Markdown. Unknown nodes contribute their text;
/// mentions, emoji, cards and media render as readable placeholders.
pub fn adf_to_markdown(node: &Value) -> String {
    let mut out = String::new();
    render_blocks(children(node), "", &mut out);
    out.trim_end().to_owned()
}

fn children(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn kind(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or("")
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    node.get("attrs").and_then(|a| a.get(name))
}

/// Renders block nodes, each line prefixed by `indent`, blocks separated by a blank line.
fn render_blocks(nodes: &[Value], indent: &str, out: &mut String) {
    render_blocks_in(nodes, indent, false, out);
}

/// `in_item`: inside a list item, where a nested list follows its paragraph without a blank line.
fn render_blocks_in(nodes: &[Value], indent: &str, in_item: bool, out: &mut String) {
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            let nested_list = in_item
                && matches!(kind(node), "bulletList" | "orderedList")
                && kind(&nodes[i - 1]) == "paragraph";
            if !nested_list {
                out.push_str(indent.trim_end());
                out.push('\n');
            }
        }
        render_block(node, indent, out);
    }
}

fn render_block(node: &Value, indent: &str, out: &mut String) {
    match kind(node) {
        "paragraph" => push_lines(&render_inline(children(node)), indent, out),
        "heading" => {
            let level = attr(node, "level")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 6) as usize;
            out.push_str(indent);
            out.push_str(&"#".repeat(level));
            out.push(' ');
            out.push_str(&render_inline(children(node)));
        }
        "codeBlock" => {
            let language = attr(node, "language").and_then(Value::as_str).unwrap_or("");
            let text: String = children(node)
                .iter()
                .filter_map(|t| t.get("text").and_then(Value::as_str))
                .collect();
            push_lines(&format!("```{language}\n{text}\n```"), indent, out);
        }
        "blockquote" => {
            let mut inner = String::new();
            render_blocks(children(node), "", &mut inner);
            push_lines(&inner, &format!("{indent}> "), out);
        }
        "rule" => {
            out.push_str(indent);
            out.push_str("---");
        }
        "bulletList" | "orderedList" => render_list(node, indent, out),
        "table" => render_table(node, indent, out),
        "mediaSingle" | "mediaGroup" | "media" => {
            out.push_str(indent);
            out.push_str("[attachment]");
        }
        _ if node.get("text").is_some()
            || matches!(kind(node), "mention" | "emoji" | "inlineCard" | "hardBreak") =>
        {
            push_lines(&render_inline(std::slice::from_ref(node)), indent, out);
        }
        // panel, expand, layoutSection, ...: their content.
        _ => render_blocks(children(node), indent, out),
    }
}

fn render_list(node: &Value, indent: &str, out: &mut String) {
    let ordered = kind(node) == "orderedList";
    let first = attr(node, "order").and_then(Value::as_u64).unwrap_or(1);
    for (number, (i, item)) in (first..).zip(children(node).iter().enumerate()) {
        if i > 0 {
            out.push('\n');
        }
        let marker = if ordered {
            format!("{number}. ")
        } else {
            "- ".to_owned()
        };
        let child_indent = format!("{indent}{}", " ".repeat(marker.len()));
        let mut inner = String::new();
        render_blocks_in(children(item), "", true, &mut inner);
        for (j, line) in inner.lines().enumerate() {
            if j == 0 {
                out.push_str(indent);
                out.push_str(&marker);
            } else {
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(&child_indent);
                }
            }
            out.push_str(line);
        }
    }
}

fn render_table(node: &Value, indent: &str, out: &mut String) {
    let rows: Vec<Vec<String>> = children(node)
        .iter()
        .map(|row| {
            children(row)
                .iter()
                .map(|cell| {
                    let mut text = String::new();
                    render_blocks(children(cell), "", &mut text);
                    text.replace('\n', " ").replace('|', "\\|")
                })
                .collect()
        })
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut cells = row.clone();
        cells.resize(width, String::new());
        out.push_str(&format!("{indent}| {} |", cells.join(" | ")));
        if i == 0 {
            out.push_str(&format!("\n{indent}|{}", " --- |".repeat(width)));
        }
    }
}

fn push_lines(text: &str, prefix: &str, out: &mut String) {
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(if line.is_empty() {
            prefix.trim_end()
        } else {
            prefix
        });
        out.push_str(line);
    }
}

fn render_inline(nodes: &[Value]) -> String {
    let mut out = String::new();
    for node in nodes {
        match kind(node) {
            "text" => out.push_str(&render_text(node)),
            "hardBreak" => out.push('\n'),
            "mention" => {
                let name = attr(node, "text")
                    .and_then(Value::as_str)
                    .unwrap_or("@user");
                if !name.starts_with('@') {
                    out.push('@');
                }
                out.push_str(name);
            }
            "emoji" => out.push_str(
                attr(node, "shortName")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            ),
            "inlineCard" | "blockCard" => {
                out.push_str(attr(node, "url").and_then(Value::as_str).unwrap_or(""))
            }
            "date" => out.push_str(
                attr(node, "timestamp")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            ),
            "status" => out.push_str(attr(node, "text").and_then(Value::as_str).unwrap_or("")),
            _ => out.push_str(&render_inline(children(node))),
        }
    }
    out
}

fn render_text(node: &Value) -> String {
    let mut text = node
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let marks = node
        .get("marks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut link = None;
    for mark in marks {
        text = match kind(mark) {
            "code" => format!("`{text}`"),
            "strong" => format!("**{text}**"),
            "em" => format!("*{text}*"),
            "strike" => format!("~~{text}~~"),
            "link" => {
                link = attr(mark, "href")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                text
            }
            _ => text,
        };
    }
    match link {
        Some(href) => format!("[{text}]({href})"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(md: &str) -> Value {
        markdown_to_adf(md)
    }

    #[test]
    fn paragraph_with_marks() {
        let d = doc("Hello **bold** *em* ~~gone~~ `code` [link](https://x.y)");
        assert_eq!(d["type"], "doc");
        assert_eq!(d["version"], 1);
        let p = &d["content"][0];
        assert_eq!(p["type"], "paragraph");
        let texts = p["content"].as_array().unwrap();
        assert_eq!(texts[0], json!({"type":"text","text":"Hello "}));
        assert_eq!(
            texts[1],
            json!({"type":"text","text":"bold","marks":[{"type":"strong"}]})
        );
        assert_eq!(texts[3]["marks"], json!([{"type":"em"}]));
        assert_eq!(texts[5]["marks"], json!([{"type":"strike"}]));
        assert_eq!(
            texts[7],
            json!({"type":"text","text":"code","marks":[{"type":"code"}]})
        );
        assert_eq!(
            texts[9]["marks"],
            json!([{"type":"link","attrs":{"href":"https://x.y"}}])
        );
    }

    #[test]
    fn code_mark_drops_other_marks_but_keeps_link() {
        let d = doc("**a `b` c** [`d`](https://e)");
        let inl = d["content"][0]["content"].as_array().unwrap();
        assert_eq!(inl[1]["marks"], json!([{"type":"code"}]));
        let last = inl.last().unwrap();
        assert_eq!(
            last["marks"],
            json!([{"type":"link","attrs":{"href":"https://e"}},{"type":"code"}])
        );
    }

    #[test]
    fn headings_code_blocks_rules_quotes() {
        let d = doc("# Title\n\n```rust\nfn main() {}\n```\n\n---\n\n> quoted\n");
        let c = d["content"].as_array().unwrap();
        assert_eq!(
            c[0],
            json!({"type":"heading","attrs":{"level":1},"content":[{"type":"text","text":"Title"}]})
        );
        assert_eq!(
            c[1],
            json!({"type":"codeBlock","attrs":{"language":"rust"},"content":[{"type":"text","text":"fn main() {}"}]})
        );
        assert_eq!(c[2], json!({"type":"rule"}));
        assert_eq!(c[3]["type"], "blockquote");
        assert_eq!(c[3]["content"][0]["type"], "paragraph");
    }

    #[test]
    fn tight_nested_lists_get_paragraphs() {
        let d = doc("- one\n  - nested\n- two\n\n3. three\n4. four\n");
        let bl = &d["content"][0];
        assert_eq!(bl["type"], "bulletList");
        let item = &bl["content"][0];
        assert_eq!(item["type"], "listItem");
        assert_eq!(
            item["content"][0],
            json!({"type":"paragraph","content":[{"type":"text","text":"one"}]})
        );
        assert_eq!(item["content"][1]["type"], "bulletList");
        assert_eq!(
            item["content"][1]["content"][0]["content"][0]["content"][0]["text"],
            "nested"
        );
        let ol = &d["content"][1];
        assert_eq!(ol["type"], "orderedList");
        assert_eq!(ol["attrs"]["order"], 3);
        assert_eq!(ol["content"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn tables() {
        let d = doc("| a | b |\n|---|---|\n| 1 | **2** |\n");
        let t = &d["content"][0];
        assert_eq!(t["type"], "table");
        let rows = t["content"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["content"][0]["type"], "tableHeader");
        assert_eq!(
            rows[0]["content"][0]["content"][0]["content"][0]["text"],
            "a"
        );
        assert_eq!(rows[1]["content"][1]["type"], "tableCell");
        assert_eq!(
            rows[1]["content"][1]["content"][0]["content"][0]["marks"][0]["type"],
            "strong"
        );
    }

    #[test]
    fn hard_break_and_empty() {
        let d = doc("a  \nb");
        assert_eq!(d["content"][0]["content"][1], json!({"type":"hardBreak"}));
        assert_eq!(doc(""), json!({"type":"doc","version":1,"content":[]}));
    }

    #[test]
    fn round_trip_to_markdown() {
        let md = "# Title\n\nHello **bold** and *em* ~~x~~ `c` [l](https://h)\n\n- one\n  - two\n- three\n\n1. a\n2. b\n\n```sql\nselect 1\n```\n\n> q\n\n---\n\n| h1 | h2 |\n| --- | --- |\n| c1 | c2 |";
        assert_eq!(adf_to_markdown(&markdown_to_adf(md)), md);
    }

    #[test]
    fn reads_mentions_and_unknown_nodes() {
        let d = json!({"type":"doc","version":1,"content":[
            {"type":"panel","attrs":{"panelType":"info"},"content":[{"type":"paragraph","content":[
                {"type":"mention","attrs":{"id":"1","text":"@Ann"}},{"type":"text","text":" hi "},
                {"type":"emoji","attrs":{"shortName":":smile:"}}]}]}]});
        assert_eq!(adf_to_markdown(&d), "@Ann hi :smile:");
    }
}
