//! JQL handling: scoping a caller's query to the `JIRA_PROJECTS` allow-list.
//!
//! The caller's condition is wrapped as `project in ("A","B") AND (<condition>)` with its
//! `ORDER BY` kept at the end. A condition whose parentheses do not balance (outside quoted
//! strings) is refused: `x) OR (project = OTHER` would otherwise escape the scope.

/// A query split into its condition and its `ORDER BY` clause (without the keywords).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SplitJql<'a> {
    pub(crate) condition: &'a str,
    pub(crate) order_by: Option<&'a str>,
}

/// Why a query cannot be scoped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct JqlError(pub(crate) String);

/// Splits `jql` at its last top-level `ORDER BY` (outside quotes and parentheses) and checks
/// that quotes and parentheses balance.
pub(crate) fn split(jql: &str) -> Result<SplitJql<'_>, JqlError> {
    let bytes = jql.as_bytes();
    let mut depth: i64 = 0;
    let mut quote: Option<u8> = None;
    let mut order_at = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth < 0 {
                        return Err(JqlError(
                            "the query has a `)` without a matching `(`".into(),
                        ));
                    }
                }
                _ if depth == 0 && is_order_by(jql, i) => order_at = Some(i),
                _ => {}
            },
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(JqlError(
            "the query has an unterminated quoted string".into(),
        ));
    }
    if depth != 0 {
        return Err(JqlError(
            "the query has a `(` without a matching `)`".into(),
        ));
    }
    Ok(match order_at {
        Some(at) => SplitJql {
            condition: jql[..at].trim(),
            order_by: Some(jql[at + "order".len()..].trim_start()[2..].trim()),
        },
        None => SplitJql {
            condition: jql.trim(),
            order_by: None,
        },
    })
}

/// Whether `ORDER BY` (any case, any whitespace between) starts at byte `at` as whole words.
fn is_order_by(jql: &str, at: usize) -> bool {
    let rest = &jql[at..];
    let before_ok = at == 0 || !jql.as_bytes()[at - 1].is_ascii_alphanumeric();
    if !before_ok || rest.len() < 8 || !rest[..5].eq_ignore_ascii_case("order") {
        return false;
    }
    let after = &rest[5..];
    let trimmed = after.trim_start();
    trimmed.len() < after.len()
        && trimmed.len() >= 2
        && trimmed[..2].eq_ignore_ascii_case("by")
        && trimmed[2..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_alphanumeric())
}

/// Restricts `jql` to `projects` (when given), keeping its `ORDER BY` last.
pub(crate) fn scope(jql: &str, projects: Option<&[String]>) -> Result<String, JqlError> {
    let parts = split(jql)?;
    let Some(projects) = projects else {
        return Ok(jql.trim().to_owned());
    };
    let list = projects
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = format!("project in ({list})");
    if !parts.condition.is_empty() {
        out.push_str(&format!(" AND ({})", parts.condition));
    }
    if let Some(order) = parts.order_by {
        out.push_str(&format!(" ORDER BY {order}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn splits_order_by() {
        assert_eq!(
            split("a = 1 order  by created DESC").unwrap(),
            SplitJql {
                condition: "a = 1",
                order_by: Some("created DESC")
            }
        );
        assert_eq!(
            split("summary ~ \"order by\"").unwrap(),
            SplitJql {
                condition: "summary ~ \"order by\"",
                order_by: None
            }
        );
        assert_eq!(
            split("ORDER BY key").unwrap(),
            SplitJql {
                condition: "",
                order_by: Some("key")
            }
        );
        assert_eq!(split("reorder by = 1").unwrap().order_by, None);
    }

    #[test]
    fn scopes_with_allow_list() {
        let projects = p(&["ENG", "OPS"]);
        assert_eq!(
            scope("status = Open ORDER BY updated DESC", Some(&projects)).unwrap(),
            "project in (\"ENG\", \"OPS\") AND (status = Open) ORDER BY updated DESC"
        );
        assert_eq!(
            scope("", Some(&projects)).unwrap(),
            "project in (\"ENG\", \"OPS\")"
        );
        assert_eq!(scope(" x = 1 ", None).unwrap(), "x = 1");
    }

    #[test]
    fn refuses_scope_escape() {
        let projects = p(&["ENG"]);
        assert!(scope("x = 1) OR (project = HR", Some(&projects)).is_err());
        assert!(scope("x = (1", Some(&projects)).is_err());
        assert!(scope("summary ~ \"open", Some(&projects)).is_err());
        assert!(scope("summary ~ \")\"", Some(&projects)).is_ok());
    }
}
