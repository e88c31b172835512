//! Property tests of Markdown → ADF on generated Markdown: the output is valid against
//! Atlassian's published JSON schema (`@atlaskit/adf-schema`, installed by `scripts/setup`) and
//! the fake's structural checker, marks are a set, no mention or link is made from plain text,
//! and the output grows linearly with the input. The long run: `SWITCHBOARD_FUZZ_CASES=N`.

use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::{prop_assert, proptest};
use serde_json::Value;
use switchboard_jira::adf::{adf_to_markdown, markdown_to_adf};
use switchboard_testkit::fuzz;
use switchboard_testkit::jira::validate_adf;

/// The version `scripts/setup` installs.
const SCHEMA: &str = "../../target/test-tools/adf-schema-57.7.22/node_modules/@atlaskit/adf-schema/dist/json-schema/v1/full.json";

/// Output bytes allowed per input byte, plus a constant for the empty document.
const LINEAR_FACTOR: usize = 96;

fn schema() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SCHEMA);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (scripts/setup installs the ADF schema)",
                path.display()
            )
        });
        let schema: Value = serde_json::from_str(&text).expect("the ADF schema is JSON");
        jsonschema::draft4::new(&schema).expect("the ADF schema compiles")
    })
}

/// Every way the document breaks a rule, empty when it keeps them all.
fn violations(markdown: &str, doc: &Value) -> Vec<String> {
    let mut found: Vec<String> = schema()
        .iter_errors(doc)
        .take(3)
        .map(|e| format!("schema: {e} at {}", e.instance_path()))
        .collect();
    if let Err(e) = validate_adf(doc) {
        found.push(format!("structure: {e}"));
    }
    let plain = !markdown.contains(['[', '<']);
    walk(doc, &mut |node| {
        let kind = node["type"].as_str().unwrap_or("");
        if matches!(
            kind,
            "mention" | "emoji" | "inlineCard" | "blockCard" | "status"
        ) {
            found.push(format!("{kind} node created"));
        }
        let marks = node["marks"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let mut kinds: Vec<&str> = marks.iter().filter_map(|m| m["type"].as_str()).collect();
        kinds.sort_unstable();
        if kinds.windows(2).any(|w| w[0] == w[1]) {
            found.push(format!("a mark twice on one node: {kinds:?}"));
        }
        if plain && kinds.contains(&"link") {
            found.push("a link made from plain text".to_owned());
        }
    });
    let size = doc.to_string().len();
    if size > LINEAR_FACTOR * markdown.len() + 64 {
        found.push(format!("{} bytes in, {size} bytes out", markdown.len()));
    }
    found
}

fn walk(node: &Value, visit: &mut dyn FnMut(&Value)) {
    visit(node);
    for child in node["content"].as_array().into_iter().flatten() {
        walk(child, visit);
    }
}

proptest! {
    #![proptest_config(fuzz::config(300))]

    #[test]
    fn prop_markdown_to_adf_is_valid(markdown in fuzz::markdown()) {
        let doc = markdown_to_adf(&markdown);
        let found = violations(&markdown, &doc);
        prop_assert!(found.is_empty(), "{found:#?}\n{doc:#}");
        // Reading back never panics either.
        let _ = adf_to_markdown(&doc);
    }
}

proptest! {
    #![proptest_config(fuzz::config(200))]

    /// Any string, not only Markdown-shaped ones.
    #[test]
    fn prop_arbitrary_text_to_adf_is_valid(markdown in ".{0,200}") {
        let doc = markdown_to_adf(&markdown);
        let found = violations(&markdown, &doc);
        prop_assert!(found.is_empty(), "{found:#?}\n{doc:#}");
    }
}

/// Shapes whose output could grow faster than their input: short rows under a wide table
/// header, deep nesting followed by lazy continuation lines.
#[test]
fn amplifying_shapes_stay_linear() {
    let wide = format!(
        "{}\n{}\n{}",
        "|a".repeat(200),
        "|-".repeat(200),
        "x\n".repeat(200)
    );
    let quotes = format!("{}a\n{}", "> ".repeat(200), "b\n".repeat(500));
    let lists = format!("{}a\n{}", "- ".repeat(200), "b\n".repeat(500));
    for markdown in [wide, quotes, lists] {
        let doc = markdown_to_adf(&markdown);
        let found = violations(&markdown, &doc);
        assert!(found.is_empty(), "{found:#?}");
    }
}
