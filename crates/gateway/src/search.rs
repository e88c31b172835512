//! Tool search: for a caller whose catalog is too large to list (tool search on, or past the
//! configured tool count), `tools/list` offers two meta tools instead of every definition:
//! [`SEARCH_TOOLS`] returns the full definitions of the tools that best match a query, and
//! [`CALL_TOOL`] calls one of them by name through the same pipeline (scopes, limits, approval
//! and audit apply to the tool called, whose name the audit records).
//!
//! Ranking is BM25 (k1 = 1.2, b = 0.75) over each tool's exposed name, title, description, and
//! argument names and descriptions, with field weights (a word in the name counts three times, in
//! an argument's name twice); words are lower-cased, split at punctuation, `_` and camelCase,
//! stripped of common English stop words and stemmed (Snowball). A query's everyday verbs also
//! count as the operation words tool names use ([`VERBS`]: "add", "file", "schedule" as
//! `create`; "fetch", "look up", "show" as `get`; "change", "edit" as `update`; "remove" as
//! `delete`; "find" as `search`). Equal scores are ordered by
//! name, so the same query over the same catalog always gives the same answer. Only the tools the
//! caller may see are ranked: a hidden tool is never found.

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::model::{JsonObject, Tool};
use rust_stemmers::{Algorithm, Stemmer};
use serde_json::{Value, json};

/// The meta tool that searches the catalog.
pub const SEARCH_TOOLS: &str = "search_tools";
/// The meta tool that calls a tool found by [`SEARCH_TOOLS`].
pub const CALL_TOOL: &str = "call_tool";
/// Results of a search when the caller gives no limit, and the most it may ask for.
const DEFAULT_LIMIT: usize = 5;
const MAX_LIMIT: usize = 20;

const K1: f64 = 1.2;
const B: f64 = 0.75;

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "any", "are", "as", "at", "be", "by", "can", "do", "for", "from", "how", "i",
    "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "that",
    "the", "their", "them", "then", "there", "these", "this", "to", "us", "was", "we", "what",
    "when", "which", "who", "will", "with", "you", "your",
];

/// Everyday verbs of a query and the operation word tools are named with.
const VERBS: &[(&str, &[&str])] = &[
    (
        "create",
        &[
            "add", "new", "make", "open", "file", "register", "submit", "raise", "schedule",
        ],
    ),
    (
        "get",
        &["fetch", "retrieve", "show", "view", "look", "read"],
    ),
    ("update", &["change", "edit", "modify", "set", "rename"]),
    ("delete", &["remove", "erase", "drop", "destroy"]),
    ("search", &["find"]),
];

/// The operation words a query's `word` (stemmed) also stands for.
fn operations(word: &str, stemmer: &Stemmer) -> impl Iterator<Item = String> {
    VERBS
        .iter()
        .filter(move |(_, everyday)| everyday.iter().any(|e| stemmer.stem(e) == word))
        .map(|(operation, _)| stemmer.stem(operation).into_owned())
}

/// The words of `text`, as ranked.
fn words(text: &str, stemmer: &Stemmer) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    let flush = |current: &mut String, out: &mut Vec<String>| {
        if !current.is_empty() {
            let word = current.to_lowercase();
            if !STOP_WORDS.contains(&word.as_str()) {
                out.push(stemmer.stem(&word).into_owned());
            }
            current.clear();
        }
    };
    for c in text.chars() {
        if !c.is_alphanumeric() {
            flush(&mut current, &mut out);
            previous_lower = false;
            continue;
        }
        // camelCase: a capital after a lower-case letter starts a word.
        if c.is_uppercase() && previous_lower {
            flush(&mut current, &mut out);
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.push(c);
    }
    flush(&mut current, &mut out);
    out
}

/// One ranked tool: weighted term frequencies and its weighted length.
#[derive(Debug)]
struct Document {
    tool: Arc<Tool>,
    terms: HashMap<String, f64>,
    length: f64,
}

/// A BM25 index over tool definitions.
#[derive(Debug)]
pub struct Index {
    documents: Vec<Document>,
    /// Documents containing each term.
    containing: HashMap<String, usize>,
    average_length: f64,
}

impl Index {
    /// Indexes `tools` (as the caller sees them: exposed names).
    pub fn new(tools: impl IntoIterator<Item = Arc<Tool>>) -> Self {
        let stemmer = Stemmer::create(Algorithm::English);
        let documents: Vec<Document> = tools
            .into_iter()
            .map(|tool| {
                let mut terms: HashMap<String, f64> = HashMap::new();
                let mut add = |text: &str, weight: f64| {
                    for word in words(text, &stemmer) {
                        *terms.entry(word).or_default() += weight;
                    }
                };
                add(&tool.name, 3.0);
                add(tool.title.as_deref().unwrap_or_default(), 2.0);
                add(tool.description.as_deref().unwrap_or_default(), 1.0);
                if let Some(Value::Object(properties)) = tool.input_schema.get("properties") {
                    for (name, property) in properties {
                        add(name, 2.0);
                        if let Some(text) = property.get("description").and_then(Value::as_str) {
                            add(text, 1.0);
                        }
                    }
                }
                let length = terms.values().sum();
                Document {
                    tool,
                    terms,
                    length,
                }
            })
            .collect();
        let mut containing: HashMap<String, usize> = HashMap::new();
        for document in &documents {
            for term in document.terms.keys() {
                *containing.entry(term.clone()).or_default() += 1;
            }
        }
        let average_length = if documents.is_empty() {
            1.0
        } else {
            documents.iter().map(|d| d.length).sum::<f64>() / documents.len() as f64
        };
        Self {
            documents,
            containing,
            average_length: average_length.max(1.0),
        }
    }

    /// The `limit` best matches of `query`, best first (ties by name); tools that match no word
    /// of the query are not returned.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Arc<Tool>> {
        let stemmer = Stemmer::create(Algorithm::English);
        let mut query_terms = words(query, &stemmer);
        let operations: Vec<String> = query_terms
            .iter()
            .flat_map(|word| operations(word, &stemmer))
            .collect();
        query_terms.extend(operations);
        query_terms.sort();
        query_terms.dedup();
        let n = self.documents.len() as f64;
        let mut scored: Vec<(f64, &Document)> = self
            .documents
            .iter()
            .filter_map(|document| {
                let score: f64 = query_terms
                    .iter()
                    .filter_map(|term| {
                        let tf = *document.terms.get(term)?;
                        let df = *self.containing.get(term)? as f64;
                        let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                        let norm = K1 * (1.0 - B + B * document.length / self.average_length);
                        Some(idf * tf * (K1 + 1.0) / (tf + norm))
                    })
                    .sum();
                (score > 0.0).then_some((score, document))
            })
            .collect();
        scored.sort_by(|(a, x), (b, y)| b.total_cmp(a).then_with(|| x.tool.name.cmp(&y.tool.name)));
        scored
            .into_iter()
            .take(limit)
            .map(|(_, document)| document.tool.clone())
            .collect()
    }
}

fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::default(),
    }
}

/// The two meta tools a caller in search mode lists.
pub fn meta_tools(total: usize) -> Vec<Tool> {
    vec![
        Tool::new(
            SEARCH_TOOLS,
            format!(
                "Search the {total} tools available here and get the full definitions (name, \
                 description, input schema) of the best matches for a task, best first. Describe \
                 what you want to do in plain words, e.g. \"create a jira issue\" or \"count \
                 failed orders\". Then call the one you want with {CALL_TOOL}."
            ),
            schema(json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What you want to do, in plain words."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                              "description": format!("How many tools to return (default {DEFAULT_LIMIT}).")}
                },
                "required": ["query"]
            })),
        )
        .annotate(
            rmcp::model::ToolAnnotations::new()
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        ),
        Tool::new(
            CALL_TOOL,
            format!(
                "Call a tool found with {SEARCH_TOOLS}, by its name, with arguments that follow \
                 its input schema. The tool's own rules apply (permissions, rate limits, \
                 approval)."
            ),
            schema(json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "The tool's name, as search_tools returned it."},
                    "arguments": {"type": "object", "description": "The tool's arguments."}
                },
                "required": ["name"]
            })),
        ),
    ]
}

/// What [`SEARCH_TOOLS`] was asked: the query and how many results.
///
/// # Errors
/// A message for the caller when `query` is missing or not a string.
pub fn search_arguments(arguments: &JsonObject) -> Result<(String, usize), String> {
    let query = arguments
        .get("query")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| format!("{SEARCH_TOOLS} needs a non-empty \"query\" string"))?;
    let limit = arguments
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_LIMIT, |l| usize::try_from(l).unwrap_or(MAX_LIMIT))
        .clamp(1, MAX_LIMIT);
    Ok((query.to_owned(), limit))
}

/// What [`CALL_TOOL`] was asked: the tool's name and its arguments.
///
/// # Errors
/// A message for the caller when `name` is missing or `arguments` is not an object.
pub fn call_arguments(arguments: &JsonObject) -> Result<(String, Option<JsonObject>), String> {
    let name = arguments
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!("{CALL_TOOL} needs the \"name\" of a tool found with {SEARCH_TOOLS}")
        })?;
    let inner = match arguments.get("arguments") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map.clone()),
        Some(_) => return Err(format!("{CALL_TOOL}'s \"arguments\" must be an object")),
    };
    Ok((name.to_owned(), inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, description: &str, properties: Value) -> Arc<Tool> {
        Arc::new(Tool::new(
            name.to_owned(),
            description.to_owned(),
            schema(json!({"type": "object", "properties": properties})),
        ))
    }

    fn catalog() -> Index {
        Index::new([
            tool(
                "jira__create_issue",
                "Create a Jira issue (a bug, task or story) in a project.",
                json!({"project": {"type": "string"}, "summary": {"type": "string", "description": "One-line title"}}),
            ),
            tool(
                "jira__search_issues",
                "Search Jira issues with JQL.",
                json!({"jql": {"type": "string"}}),
            ),
            tool(
                "slack__post_message",
                "Post a message to a Slack channel.",
                json!({"channel": {"type": "string"}, "text": {"type": "string"}}),
            ),
            tool(
                "slack__list_channels",
                "List the Slack channels the bot can see.",
                json!({}),
            ),
            tool(
                "db__query",
                "Run one read-only SQL statement and return rows.",
                json!({"sql": {"type": "string"}}),
            ),
            tool(
                "db__list_tables",
                "List the tables of a schema with row estimates.",
                json!({"schema": {"type": "string"}}),
            ),
        ])
    }

    fn names(found: &[Arc<Tool>]) -> Vec<&str> {
        found.iter().map(|t| t.name.as_ref()).collect()
    }

    #[test]
    fn the_tool_for_a_task_ranks_first() {
        let index = catalog();
        for (query, expected) in [
            ("file a bug ticket in jira", "jira__create_issue"),
            ("create issue", "jira__create_issue"),
            ("find issues matching a JQL filter", "jira__search_issues"),
            (
                "send a message to #operations on slack",
                "slack__post_message",
            ),
            ("posting messages", "slack__post_message"),
            ("run SQL against the database", "db__query"),
            ("which tables exist", "db__list_tables"),
            ("listChannels", "slack__list_channels"),
        ] {
            let found = index.search(query, 3);
            assert_eq!(
                found.first().map(|t| t.name.as_ref()),
                Some(expected),
                "{query}: {:?}",
                names(&found)
            );
        }
    }

    #[test]
    fn everyday_verbs_find_the_operation() {
        let index = Index::new(
            ["create", "get", "update", "delete", "search"].map(|operation| {
                tool(
                    &format!("ops__customer_{operation}"),
                    &format!("{operation} a customer record"),
                    json!({}),
                )
            }),
        );
        for (query, expected) in [
            ("add a customer", "ops__customer_create"),
            ("schedule a new customer", "ops__customer_create"),
            ("fetch the customer", "ops__customer_get"),
            ("look up a customer", "ops__customer_get"),
            ("edit a customer", "ops__customer_update"),
            ("remove a customer", "ops__customer_delete"),
            ("find customers", "ops__customer_search"),
        ] {
            let found = index.search(query, 1);
            assert_eq!(names(&found), [expected], "{query}");
        }
    }

    #[test]
    fn ranking_is_deterministic_and_bounded() {
        let index = catalog();
        let first = names(&index.search("list", 10)).join(",");
        for _ in 0..10 {
            assert_eq!(names(&index.search("list", 10)).join(","), first);
        }
        assert_eq!(index.search("list", 1).len(), 1);
        assert!(
            index.search("the of and", 5).is_empty(),
            "stop words match nothing"
        );
        assert!(index.search("zebra", 5).is_empty());
        assert!(Index::new([]).search("anything", 5).is_empty());
    }

    #[test]
    fn arguments_are_checked() {
        let args = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(
            search_arguments(&args(json!({"query": "x"}))).unwrap(),
            ("x".to_owned(), DEFAULT_LIMIT)
        );
        assert_eq!(
            search_arguments(&args(json!({"query": "x", "limit": 500})))
                .unwrap()
                .1,
            MAX_LIMIT
        );
        assert!(search_arguments(&args(json!({"query": " "}))).is_err());
        assert!(search_arguments(&args(json!({}))).is_err());
        assert_eq!(
            call_arguments(&args(json!({"name": "t"}))).unwrap(),
            ("t".to_owned(), None)
        );
        assert!(call_arguments(&args(json!({"name": "t", "arguments": [1]}))).is_err());
        assert!(call_arguments(&args(json!({"arguments": {}}))).is_err());
    }
}
