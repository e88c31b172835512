//! Every Markdown shape the converter handles yields ADF the fake's (Atlassian-rule) validator
//! accepts: a cross-check of `markdown_to_adf` against an independent structural checker.

use switchboard_jira::adf::{adf_to_markdown, markdown_to_adf};
use switchboard_testkit::jira::validate_adf;

const SAMPLES: &[&str] = &[
    "",
    "plain",
    "# h1\n## h2\n###### h6",
    "**bold *both* bold** ~~strike~~ `code` [link](https://x.io) ![img](https://x.io/a.png)",
    "**`code in strong`** and [`code link`](https://x.io)",
    "- a\n- b\n  - c\n    - d\n- e",
    "1. one\n\n   para in item\n\n2. two\n   ```\n   code in item\n   ```",
    "- [ ] todo\n- [x] done",
    "> quote\n>\n> - list in quote\n>\n> ```sh\n> echo hi\n> ```",
    "| a | b |\n|---|:-:|\n| `x` | **y** |\n| | empty cell |",
    "line one  \nline two\\\nline three",
    "---\n\n***\n\ntext",
    "    indented code\n    block",
    "<b>html</b> inline <i>tags</i>\n\n<div>block html</div>",
    "1) paren list\n2) second",
    "nested **strong with [link **inside**](https://x.io)**",
];

#[test]
fn converted_markdown_is_valid_adf() {
    for md in SAMPLES {
        let doc = markdown_to_adf(md);
        if let Err(e) = validate_adf(&doc) {
            panic!("invalid ADF for {md:?}: {e}\n{doc:#}");
        }
        // And it reads back without losing the text.
        let back = adf_to_markdown(&doc);
        for word in ["plain", "quote", "todo", "indented", "paren"] {
            if md.contains(word) {
                assert!(back.contains(word), "{word} lost: {md:?} -> {back:?}");
            }
        }
    }
}
