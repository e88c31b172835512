//! The fake site's data: projects, issue types, priorities, a three-status workflow, issues and
//! comments, and the validation Jira applies to a create request (field errors by name,
//! description format per API version, ADF structure).

use serde_json::{Map, Value, json};

use super::Flavor;

/// Projects of the fake site: (id, key, name).
pub const PROJECTS: &[(&str, &str, &str)] = &[
    ("10000", "ENG", "Engineering"),
    ("10001", "OPS", "Operations"),
    ("10002", "HR", "People"),
];

/// Issue types of every project: (id, name, subtask).
pub const ISSUE_TYPES: &[(&str, &str, bool)] = &[
    ("10001", "Task", false),
    ("10002", "Story", false),
    ("10004", "Bug", false),
    ("10003", "Sub-task", true),
];

/// Priorities: (id, name).
pub const PRIORITIES: &[(&str, &str)] = &[
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
];

/// Statuses: (id, name, category key).
const STATUSES: &[(&str, &str, &str)] = &[
    ("10000", "To Do", "new"),
    ("3", "In Progress", "indeterminate"),
    ("10001", "Done", "done"),
];

/// Workflow: (transition id, name, from status, to status).
const TRANSITIONS: &[(&str, &str, &str, &str)] = &[
    ("21", "Start Progress", "To Do", "In Progress"),
    ("31", "Done", "To Do", "Done"),
    ("11", "Stop Progress", "In Progress", "To Do"),
    ("31", "Done", "In Progress", "Done"),
    ("41", "Reopen", "Done", "To Do"),
];

/// The account the fake authenticates as.
pub(crate) fn myself(flavor: Flavor) -> Value {
    match flavor {
        Flavor::Cloud => {
            json!({"accountId": "5b10a2844c20165700ede21g", "displayName": "Fake Bot", "emailAddress": super::EMAIL})
        }
        Flavor::DataCenter => {
            json!({"name": "fakebot", "key": "fakebot", "displayName": "Fake Bot"})
        }
    }
}

pub(crate) fn project_json(
    base: &str,
    version: &str,
    (id, key, name): (&str, &str, &str),
) -> Value {
    json!({"self": format!("{base}/rest/api/{version}/project/{id}"), "id": id, "key": key, "name": name,
           "projectTypeKey": "software", "simplified": false, "style": "classic"})
}

pub(crate) fn find_project(key_or_id: &str) -> Option<(&'static str, &'static str, &'static str)> {
    PROJECTS
        .iter()
        .copied()
        .find(|(id, key, _)| key.eq_ignore_ascii_case(key_or_id) || *id == key_or_id)
}

pub(crate) fn issue_type_json(
    base: &str,
    version: &str,
    (id, name, subtask): (&str, &str, bool),
) -> Value {
    json!({"self": format!("{base}/rest/api/{version}/issuetype/{id}"), "id": id, "name": name, "subtask": subtask,
           "description": format!("A {name}."), "iconUrl": format!("{base}/images/icons/issuetypes/{id}.svg")})
}

pub(crate) fn status_json(name: &str) -> Value {
    let (id, name, category) = STATUSES
        .iter()
        .copied()
        .find(|(_, n, _)| *n == name)
        .unwrap_or(STATUSES[0]);
    json!({"id": id, "name": name, "statusCategory": {"key": category}})
}

/// Transitions available from `status`, in Jira's response shape.
pub(crate) fn transitions_from(status: &str) -> Vec<Value> {
    TRANSITIONS
        .iter()
        .filter(|(_, _, from, _)| *from == status)
        .map(|(id, name, _, to)| json!({"id": id, "name": name, "to": status_json(to), "hasScreen": false, "isGlobal": false, "isInitial": false, "isConditional": false}))
        .collect()
}

/// The target status of transition `id` from `status`, if valid.
pub(crate) fn transition_target(status: &str, id: &str) -> Option<&'static str> {
    TRANSITIONS
        .iter()
        .find(|(tid, _, from, _)| *tid == id && *from == status)
        .map(|(_, _, _, to)| *to)
}

/// Checks that `doc` is a well-formed ADF document: `{"type":"doc","version":1,"content":[…]}`
/// with known node types, text only in inline positions, and only known marks.
pub fn validate_adf(doc: &Value) -> Result<(), String> {
    if doc.get("type") != Some(&json!("doc")) || doc.get("version") != Some(&json!(1)) {
        return Err("root must be {\"type\":\"doc\",\"version\":1}".into());
    }
    let content = doc
        .get("content")
        .and_then(Value::as_array)
        .ok_or("doc.content must be an array")?;
    content
        .iter()
        .try_for_each(|n| validate_node(n, Position::Block))
}

#[derive(Clone, Copy, PartialEq)]
enum Position {
    Block,
    Inline,
    CodeText,
}

const BLOCKS: &[&str] = &[
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "listItem",
    "codeBlock",
    "blockquote",
    "rule",
    "table",
    "tableRow",
    "tableHeader",
    "tableCell",
    "panel",
    "mediaSingle",
];
const INLINE: &[&str] = &[
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "inlineCard",
    "date",
    "status",
];
const MARKS: &[&str] = &[
    "strong",
    "em",
    "strike",
    "code",
    "link",
    "underline",
    "subsup",
    "textColor",
];

fn validate_node(node: &Value, at: Position) -> Result<(), String> {
    let kind = node
        .get("type")
        .and_then(Value::as_str)
        .ok_or("node without type")?;
    let children = || {
        node.get("content")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    match at {
        Position::Block if !BLOCKS.contains(&kind) => {
            return Err(format!("`{kind}` is not allowed where a block is expected"));
        }
        Position::Inline if !INLINE.contains(&kind) => {
            return Err(format!("`{kind}` is not allowed inside a paragraph"));
        }
        Position::CodeText if kind != "text" || node.get("marks").is_some() => {
            return Err("a codeBlock holds unmarked text only".into());
        }
        _ => {}
    }
    match kind {
        "text" => {
            let text = node
                .get("text")
                .and_then(Value::as_str)
                .ok_or("text node without text")?;
            if text.is_empty() {
                return Err("text nodes must not be empty".into());
            }
            let marks = node
                .get("marks")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let names: Vec<&str> = marks
                .iter()
                .filter_map(|m| m.get("type").and_then(Value::as_str))
                .collect();
            if let Some(bad) = names.iter().find(|m| !MARKS.contains(m)) {
                return Err(format!("unknown mark `{bad}`"));
            }
            if names.contains(&"code") && names.iter().any(|m| *m != "code" && *m != "link") {
                return Err("the code mark combines only with link".into());
            }
            if marks
                .iter()
                .any(|m| m["type"] == "link" && m["attrs"]["href"].as_str().is_none())
            {
                return Err("link mark without attrs.href".into());
            }
            Ok(())
        }
        "paragraph" | "heading" => {
            if kind == "heading" && !(1..=6).contains(&node["attrs"]["level"].as_u64().unwrap_or(0))
            {
                return Err("heading needs attrs.level 1-6".into());
            }
            children()
                .iter()
                .try_for_each(|n| validate_node(n, Position::Inline))
        }
        "codeBlock" => children()
            .iter()
            .try_for_each(|n| validate_node(n, Position::CodeText)),
        "bulletList" | "orderedList" => {
            for item in children() {
                if item.get("type") != Some(&json!("listItem")) {
                    return Err(format!("{kind} may hold listItem only"));
                }
                validate_node(item, Position::Block)?;
            }
            if children().is_empty() {
                Err(format!("{kind} must not be empty"))
            } else {
                Ok(())
            }
        }
        "listItem" => {
            let first = children()
                .first()
                .and_then(|n| n.get("type"))
                .and_then(Value::as_str);
            if !matches!(first, Some("paragraph" | "codeBlock" | "mediaSingle")) {
                return Err("a listItem must start with a paragraph".into());
            }
            children()
                .iter()
                .try_for_each(|n| validate_node(n, Position::Block))
        }
        "table" | "tableRow" => {
            let want = if kind == "table" {
                &["tableRow"][..]
            } else {
                &["tableHeader", "tableCell"][..]
            };
            for child in children() {
                if !want.contains(&child["type"].as_str().unwrap_or("")) {
                    return Err(format!("{kind} may hold {want:?} only"));
                }
                validate_node(child, Position::Block)?;
            }
            Ok(())
        }
        "tableHeader" | "tableCell" | "blockquote" | "panel" => {
            for child in children() {
                let ck = child["type"].as_str().unwrap_or("");
                if kind == "blockquote"
                    && !matches!(ck, "paragraph" | "bulletList" | "orderedList" | "codeBlock")
                {
                    return Err(format!("blockquote may not hold `{ck}`"));
                }
                validate_node(child, Position::Block)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A create request's fields checked as Jira does; `Err` carries the 400 body.
pub(crate) fn validate_create(
    flavor: Flavor,
    version: &str,
    fields: &Map<String, Value>,
    existing_keys: &[String],
) -> Result<(), Value> {
    let mut errors = Map::new();
    let mut err = |field: &str, message: String| {
        errors.insert(field.to_owned(), Value::String(message));
    };
    let project = fields
        .get("project")
        .and_then(|p| p.get("key").or_else(|| p.get("id")))
        .and_then(Value::as_str);
    if project.and_then(find_project).is_none() {
        err("project", "Specify a valid project ID or key".into());
    }
    if fields
        .get("summary")
        .and_then(Value::as_str)
        .is_none_or(|s| s.trim().is_empty())
    {
        err("summary", "You must specify a summary of the issue.".into());
    }
    match fields.get("issuetype") {
        None => err("issuetype", "Specify an issue type".into()),
        Some(t) => {
            let name = t.get("name").and_then(Value::as_str);
            let id = t.get("id").and_then(Value::as_str);
            if !ISSUE_TYPES
                .iter()
                .any(|(i, n, _)| Some(*n) == name || Some(*i) == id)
            {
                err("issuetype", "Specify a valid issue type".into());
            }
        }
    }
    if let Some(p) = fields.get("priority") {
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        let id = p.get("id").and_then(Value::as_str);
        if !PRIORITIES.iter().any(|(i, n)| *n == name || Some(*i) == id) {
            err("priority", format!("Priority name '{name}' is not valid"));
        }
    }
    if let Some(d) = fields.get("description").filter(|d| !d.is_null()) {
        match (version, d) {
            ("3", Value::Object(_)) => {
                if validate_adf(d).is_err() {
                    err("description", "INVALID_INPUT".into());
                }
            }
            ("3", _) => err(
                "description",
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                    .into(),
            ),
            (_, Value::String(_)) => {}
            (_, _) => err("description", "Operation value must be a string".into()),
        }
    }
    if let Some(labels) = fields.get("labels") {
        match labels.as_array() {
            Some(list)
                if list.iter().all(|l| {
                    l.as_str()
                        .is_some_and(|s| !s.is_empty() && !s.contains(' '))
                }) => {}
            _ => err("labels", "The label must not contain spaces.".into()),
        }
    }
    if let Some(a) = fields.get("assignee").filter(|a| !a.is_null()) {
        let ok = match flavor {
            Flavor::Cloud => a.get("accountId").and_then(Value::as_str).is_some(),
            Flavor::DataCenter => a.get("name").and_then(Value::as_str).is_some(),
        };
        if !ok {
            let hint = if flavor == Flavor::Cloud {
                "Specify the user by accountId"
            } else {
                "Specify the user by name"
            };
            err("assignee", hint.into());
        }
    }
    if let Some(parent) = fields.get("parent") {
        let key = parent.get("key").and_then(Value::as_str).unwrap_or("");
        if !existing_keys.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            err(
                "parent",
                format!("Could not find issue by id or key: {key}"),
            );
        }
    }
    const KNOWN: &[&str] = &[
        "project",
        "summary",
        "issuetype",
        "priority",
        "description",
        "labels",
        "assignee",
        "parent",
        "components",
        "duedate",
        "environment",
        "reporter",
    ];
    for name in fields.keys() {
        if !KNOWN.contains(&name.as_str()) && !name.starts_with("customfield_") {
            err(
                name,
                format!(
                    "Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                ),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(json!({"errorMessages": [], "errors": errors}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adf_validation() {
        let ok = json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"hi","marks":[{"type":"strong"}]}]}]});
        assert!(validate_adf(&ok).is_ok());
        let text_at_top = json!({"type":"doc","version":1,"content":[{"type":"text","text":"hi"}]});
        assert!(validate_adf(&text_at_top).is_err());
        let bad_list = json!({"type":"doc","version":1,"content":[{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"text","text":"x"}]}]}]});
        assert!(validate_adf(&bad_list).is_err());
        let code_strong = json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"x","marks":[{"type":"code"},{"type":"strong"}]}]}]});
        assert!(validate_adf(&code_strong).is_err());
        assert!(validate_adf(&json!("text")).is_err());
    }
}
