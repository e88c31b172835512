//! The JQL subset the fake understands: `field = v`, `!=`, `in (…)`, `not in (…)`, `~`, `is EMPTY`,
//! `AND`, `OR`, `NOT`, parentheses, and `ORDER BY field [ASC|DESC], …`. Fields: project, key,
//! labels, status, issuetype/type, priority, summary, assignee, parent. Anything else is a 400
//! with Jira's wording, as the real service answers for unknown fields or bad syntax.

use serde_json::Value;

/// A parsed query.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) condition: Option<Expr>,
    pub(crate) order_by: Vec<(String, bool)>,
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        field: String,
        op: Op,
        values: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Contains,
    IsEmpty,
    IsNotEmpty,
}

const FIELDS: &[&str] = &[
    "project",
    "key",
    "issuekey",
    "labels",
    "status",
    "issuetype",
    "type",
    "priority",
    "summary",
    "assignee",
    "parent",
    "created",
    "updated",
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Sym(&'static str),
}

fn tokenize(jql: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = jql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(format!(
                            "Error in the JQL Query: The quoted string '{s}' has not been completed."
                        ));
                    }
                    Some('\\') => {
                        if let Some(n) = chars.get(i + 1) {
                            s.push(*n);
                        }
                        i += 2;
                    }
                    Some(q) if *q == c => {
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        s.push(*other);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Quoted(s));
        } else if c == '!' && chars.get(i + 1) == Some(&'=') {
            out.push(Tok::Sym("!="));
            i += 2;
        } else if let Some(sym) = ["(", ")", ",", "=", "~"].iter().find(|s| s.starts_with(c)) {
            out.push(Tok::Sym(sym));
            i += 1;
        } else if c.is_alphanumeric() || "_-.@*".contains(c) {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_-.@*".contains(chars[i])) {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        } else {
            return Err(format!(
                "Error in the JQL Query: The character '{c}' is a reserved JQL character. You must enclose it in a string or use the escape '\\u{:04x}' instead.",
                c as u32
            ));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), String> {
        match self.next() {
            Some(Tok::Sym(s)) if s == sym => Ok(()),
            other => Err(format!(
                "Error in the JQL Query: Expecting '{sym}' but got '{}'.",
                show(other)
            )),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.toks.get(self.pos) == Some(&Tok::Sym("(")) {
            self.pos += 1;
            let e = self.or()?;
            self.expect_sym(")")?;
            return Ok(e);
        }
        self.clause()
    }

    fn clause(&mut self) -> Result<Expr, String> {
        let field = match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w.to_ascii_lowercase(),
            other => {
                return Err(format!(
                    "Error in the JQL Query: Expecting a field name but got '{}'.",
                    show(other)
                ));
            }
        };
        if !FIELDS.contains(&field.as_str()) {
            return Err(format!(
                "Field '{field}' does not exist or you do not have permission to view it."
            ));
        }
        let op = match self.next() {
            Some(Tok::Sym("=")) => Op::Eq,
            Some(Tok::Sym("!=")) => Op::Ne,
            Some(Tok::Sym("~")) => Op::Contains,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Op::In,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") && self.peek_word("in") => {
                self.pos += 1;
                Op::NotIn
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                let negated = self.peek_word("not");
                if negated {
                    self.pos += 1;
                }
                match self.next() {
                    Some(Tok::Word(w))
                        if w.eq_ignore_ascii_case("empty") || w.eq_ignore_ascii_case("null") => {}
                    other => {
                        return Err(format!(
                            "Error in the JQL Query: Expecting 'EMPTY' but got '{}'.",
                            show(other)
                        ));
                    }
                }
                return Ok(Expr::Cmp {
                    field,
                    op: if negated { Op::IsNotEmpty } else { Op::IsEmpty },
                    values: vec![],
                });
            }
            other => {
                return Err(format!(
                    "Error in the JQL Query: Expecting operator but got '{}'.",
                    show(other)
                ));
            }
        };
        let values = if matches!(op, Op::In | Op::NotIn) {
            self.expect_sym("(")?;
            let mut values = Vec::new();
            loop {
                values.push(self.value()?);
                match self.next() {
                    Some(Tok::Sym(",")) => continue,
                    Some(Tok::Sym(")")) => break,
                    other => {
                        return Err(format!(
                            "Error in the JQL Query: Expecting ',' or ')' but got '{}'.",
                            show(other)
                        ));
                    }
                }
            }
            values
        } else {
            vec![self.value()?]
        };
        Ok(Expr::Cmp { field, op, values })
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => Ok(w),
            other => Err(format!(
                "Error in the JQL Query: Expecting either a value, list or function but got '{}'.",
                show(other)
            )),
        }
    }

    fn order_by(&mut self) -> Result<Vec<(String, bool)>, String> {
        let mut out = Vec::new();
        loop {
            let field = match self.next() {
                Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w.to_ascii_lowercase(),
                other => {
                    return Err(format!(
                        "Error in the JQL Query: Expecting a field name but got '{}'.",
                        show(other)
                    ));
                }
            };
            if !FIELDS.contains(&field.as_str()) {
                return Err(format!("Not able to sort using field '{field}'."));
            }
            let mut desc = false;
            if self.peek_word("desc") {
                desc = true;
                self.pos += 1;
            } else if self.peek_word("asc") {
                self.pos += 1;
            }
            out.push((field, desc));
            if self.toks.get(self.pos) == Some(&Tok::Sym(",")) {
                self.pos += 1;
            } else {
                return Ok(out);
            }
        }
    }
}

fn show(tok: Option<Tok>) -> String {
    match tok {
        None => "<EOF>".into(),
        Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w,
        Some(Tok::Sym(s)) => s.into(),
    }
}

/// Parses a query. Errors carry Jira's wording.
pub(crate) fn parse(jql: &str) -> Result<Query, String> {
    let toks = tokenize(jql)?;
    let mut p = Parser { toks, pos: 0 };
    let mut condition = None;
    if p.pos < p.toks.len() && !p.peek_word("order") {
        condition = Some(p.or()?);
    }
    let mut order_by = Vec::new();
    if p.peek_word("order") {
        p.pos += 1;
        if !p.peek_word("by") {
            return Err("Error in the JQL Query: Expecting 'by' after 'order'.".into());
        }
        p.pos += 1;
        order_by = p.order_by()?;
    }
    if p.pos < p.toks.len() {
        return Err(format!(
            "Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{}'.",
            show(p.toks.get(p.pos).cloned())
        ));
    }
    Ok(Query {
        condition,
        order_by,
    })
}

/// The values of `field` on an issue (an issue's JSON as the fake stores it), lower-cased.
fn field_values(issue: &Value, field: &str) -> Vec<String> {
    let f = &issue["fields"];
    let text = |v: &Value| v.as_str().map(|s| s.to_lowercase());
    let vals: Vec<Option<String>> = match field {
        "project" => vec![text(&f["project"]["key"]), text(&f["project"]["id"])],
        "key" | "issuekey" => vec![text(&issue["key"])],
        "labels" => f["labels"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default(),
        "status" => vec![text(&f["status"]["name"])],
        "issuetype" | "type" => vec![text(&f["issuetype"]["name"])],
        "priority" => vec![text(&f["priority"]["name"])],
        "summary" => vec![text(&f["summary"])],
        "assignee" => vec![
            text(&f["assignee"]["accountId"]),
            text(&f["assignee"]["name"]),
        ],
        "parent" => vec![text(&f["parent"]["key"])],
        "created" | "updated" => vec![text(&f[field])],
        _ => vec![],
    };
    vals.into_iter().flatten().collect()
}

/// Whether `issue` matches the condition.
pub(crate) fn matches(expr: &Expr, issue: &Value) -> bool {
    match expr {
        Expr::And(a, b) => matches(a, issue) && matches(b, issue),
        Expr::Or(a, b) => matches(a, issue) || matches(b, issue),
        Expr::Not(e) => !matches(e, issue),
        Expr::Cmp { field, op, values } => {
            let have = field_values(issue, field);
            let want: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
            let any = || want.iter().any(|w| have.contains(w));
            match op {
                Op::Eq | Op::In => any(),
                Op::Ne | Op::NotIn => !any(),
                Op::Contains => want
                    .iter()
                    .all(|w| have.iter().any(|h| h.contains(w.as_str()))),
                Op::IsEmpty => have.is_empty(),
                Op::IsNotEmpty => !have.is_empty(),
            }
        }
    }
}

/// Sorts issues by the ORDER BY clause (default: key order, newest first like Jira's `created DESC`).
pub(crate) fn sort(issues: &mut [Value], order_by: &[(String, bool)]) {
    issues.sort_by(|a, b| {
        for (field, desc) in order_by {
            let (x, y) = if field == "key" || field == "issuekey" {
                (key_number(a), key_number(b))
            } else {
                (
                    field_values(a, field).join(","),
                    field_values(b, field).join(","),
                )
            };
            let ord = if *desc { y.cmp(&x) } else { x.cmp(&y) };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        key_number(a).cmp(&key_number(b))
    });
}

fn key_number(issue: &Value) -> String {
    let key = issue["key"].as_str().unwrap_or("");
    let (project, n) = key.rsplit_once('-').unwrap_or((key, "0"));
    format!("{project}-{:012}", n.parse::<u64>().unwrap_or(0))
}

/// Project keys a query names in `project = X` / `project in (…)` clauses, for existence checks.
pub(crate) fn named_projects(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::And(a, b) | Expr::Or(a, b) => {
            named_projects(a, out);
            named_projects(b, out);
        }
        Expr::Not(e) => named_projects(e, out),
        Expr::Cmp { field, values, .. } if field == "project" => out.extend(values.iter().cloned()),
        Expr::Cmp { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issue(key: &str, project: &str, labels: &[&str], status: &str) -> Value {
        json!({"key": key, "fields": {"project": {"key": project, "id": "1"}, "labels": labels, "status": {"name": status}, "summary": "Disk full"}})
    }

    #[test]
    fn parses_and_matches_the_subset() {
        let q = parse("project in (\"ENG\", OPS) AND (labels = sb-1 OR status = 'In Progress') ORDER BY key DESC").unwrap();
        let c = q.condition.unwrap();
        assert!(matches(&c, &issue("ENG-1", "ENG", &["sb-1"], "To Do")));
        assert!(matches(&c, &issue("OPS-1", "OPS", &[], "In Progress")));
        assert!(!matches(&c, &issue("HR-1", "HR", &["sb-1"], "To Do")));
        assert_eq!(q.order_by, vec![("key".to_owned(), true)]);
        assert!(matches(
            &parse("summary ~ disk").unwrap().condition.unwrap(),
            &issue("A-1", "A", &[], "x")
        ));
        assert!(matches(
            &parse("labels is EMPTY").unwrap().condition.unwrap(),
            &issue("A-1", "A", &[], "x")
        ));
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        assert!(
            parse("foo = 1")
                .unwrap_err()
                .contains("Field 'foo' does not exist")
        );
        assert!(parse("project = ").is_err());
        assert!(parse("project = A extra").is_err());
        assert!(parse("(project = A").is_err());
        assert!(parse("summary ~ \"open").is_err());
    }
}
