//! The function policy: decides for every function call found in a statement whether it is
//! allowed, refused (deny-listed), or unknown (left to the executor's `pg_proc` volatility check).
//!
//! Order of the decision, for a call written `name(...)`, `pg_catalog.name(...)` or
//! `schema.name(...)`:
//! 1. deny-list (built-in names, case-insensitive, only without a schema or with `pg_catalog`),
//!    unless the name is on the configured `override_denied` list;
//! 2. the built-in allow-list (exact names, only without a schema or with `pg_catalog`);
//! 3. the configured `extra_allowed` list;
//! 4. otherwise unknown.

use std::fmt;

use super::builtins;

/// A function as written in the statement: the schema when one was written, and the name, both as
/// PostgreSQL's parser produced them (unquoted identifiers folded to lower case).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionName {
    /// The schema, when the call was qualified (`pg_catalog.now()`); `None` when it was not.
    pub schema: Option<String>,
    /// The function's name.
    pub name: String,
}

impl FunctionName {
    /// A function name without a schema.
    pub fn unqualified(name: impl Into<String>) -> Self {
        Self {
            schema: None,
            name: name.into(),
        }
    }

    /// A schema-qualified function name.
    pub fn qualified(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schema: Some(schema.into()),
            name: name.into(),
        }
    }

    /// Whether a call with this name reaches the built-ins: no schema, or `pg_catalog`
    /// (compared case-insensitively, the cautious reading for the deny-list).
    fn in_builtin_scope_loosely(&self) -> bool {
        self.schema
            .as_deref()
            .is_none_or(|schema| schema.eq_ignore_ascii_case("pg_catalog"))
    }

    /// Whether this is exactly a built-in's name: no schema, or exactly `pg_catalog`.
    fn in_builtin_scope_exactly(&self) -> bool {
        self.schema
            .as_deref()
            .is_none_or(|schema| schema == "pg_catalog")
    }

    /// Reads a name from configuration, with PostgreSQL's identifier rules: `name`,
    /// `schema.name`, unquoted parts folded to lower case, `"Quoted"` parts kept as written
    /// (`""` inside quotes is one `"`). `None` when the text is not such a name.
    pub(super) fn from_config(text: &str) -> Option<Self> {
        let mut parts = Vec::new();
        let mut chars = text.trim().chars().peekable();
        loop {
            let mut part = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next()? {
                        '"' if chars.peek() == Some(&'"') => {
                            chars.next();
                            part.push('"');
                        }
                        '"' => break,
                        other => part.push(other),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    if c.is_whitespace() || c == '"' || c == '(' {
                        return None;
                    }
                    part.push(c.to_ascii_lowercase());
                    chars.next();
                }
            }
            if part.is_empty() {
                return None;
            }
            parts.push(part);
            match chars.next() {
                None => break,
                Some('.') => continue,
                Some(_) => return None,
            }
        }
        match <[String; 2]>::try_from(parts) {
            Ok([schema, name]) => Some(Self::qualified(schema, name)),
            Err(parts) => match <[String; 1]>::try_from(parts) {
                Ok([name]) => Some(Self::unqualified(name)),
                Err(_) => None,
            },
        }
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Configuration of the function policy, on top of the built-in lists.
///
/// Names are written as in SQL: `name` or `schema.name`; unquoted parts are folded to lower case,
/// `"Quoted"` parts kept as written. An unqualified entry matches calls written without a schema
/// or with `pg_catalog`; a qualified entry matches calls written with exactly that schema.
///
/// A deny-listed built-in (`pg_sleep`, `set_config`, ...) cannot be allowed through
/// `extra_allowed` alone: it must also be named in `override_denied`, which takes it off the
/// deny-list. An overridden name is then treated like any other function: allowed when it is also
/// in `extra_allowed` (or the built-in allow-list), otherwise unknown, so the executor's volatility
/// check still applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionPolicy {
    /// Functions to treat as allowed in addition to the built-in allow-list.
    pub extra_allowed: Vec<String>,
    /// Deny-listed built-ins to take off the deny-list.
    pub override_denied: Vec<String>,
}

/// What the policy decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Known safe: the built-in allow-list or `extra_allowed`.
    Allowed,
    /// Deny-listed, with the reason for the refusal.
    Denied(&'static str),
    /// Neither: the executor checks its volatility in `pg_proc`.
    Unknown,
}

/// A [`FunctionPolicy`] with its names parsed once.
#[derive(Debug, Clone, Default)]
pub(super) struct CompiledPolicy {
    extra_allowed: Vec<FunctionName>,
    override_denied: Vec<FunctionName>,
}

impl CompiledPolicy {
    /// Parses the configured names; a name that cannot be read is logged and ignored (it could
    /// never match a call).
    pub(super) fn new(policy: &FunctionPolicy) -> Self {
        let parse = |list: &[String], setting: &str| -> Vec<FunctionName> {
            list.iter()
                .filter_map(|text| {
                    let name = FunctionName::from_config(text);
                    if name.is_none() {
                        tracing::warn!(setting, entry = %text, "ignoring a function name that is not `name` or `schema.name`");
                    }
                    name
                })
                .collect()
        };
        Self {
            extra_allowed: parse(&policy.extra_allowed, "extra_allowed"),
            override_denied: parse(&policy.override_denied, "override_denied"),
        }
    }

    /// Decides one call.
    pub(super) fn classify(&self, call: &FunctionName) -> Verdict {
        if call.in_builtin_scope_loosely()
            && let Some(reason) = builtins::denied(&call.name)
            && !self.is_overridden(call)
        {
            return Verdict::Denied(reason);
        }
        if call.in_builtin_scope_exactly() && builtins::allowed(&call.name) {
            return Verdict::Allowed;
        }
        if self
            .extra_allowed
            .iter()
            .any(|entry| entry_matches(entry, call))
        {
            return Verdict::Allowed;
        }
        Verdict::Unknown
    }

    fn is_overridden(&self, call: &FunctionName) -> bool {
        self.override_denied.iter().any(|entry| {
            entry.in_builtin_scope_loosely() && entry.name.eq_ignore_ascii_case(&call.name)
        })
    }
}

/// Whether a configured `extra_allowed` entry covers a call.
fn entry_matches(entry: &FunctionName, call: &FunctionName) -> bool {
    if entry.name != call.name {
        return false;
    }
    match &entry.schema {
        None => call.in_builtin_scope_exactly(),
        Some(schema) => call.schema.as_ref() == Some(schema),
    }
}

#[cfg(test)]
mod tests {
    use super::{CompiledPolicy, FunctionName, FunctionPolicy, Verdict};

    fn policy(extra: &[&str], overrides: &[&str]) -> CompiledPolicy {
        CompiledPolicy::new(&FunctionPolicy {
            extra_allowed: extra.iter().map(|s| (*s).to_owned()).collect(),
            override_denied: overrides.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    fn bare(name: &str) -> FunctionName {
        FunctionName::unqualified(name)
    }

    #[test]
    fn display_joins_schema_and_name() {
        assert_eq!(
            FunctionName::qualified("pg_catalog", "now").to_string(),
            "pg_catalog.now"
        );
        assert_eq!(bare("now").to_string(), "now");
    }

    #[test]
    fn config_names_follow_identifier_rules() {
        assert_eq!(FunctionName::from_config("Random"), Some(bare("random")));
        assert_eq!(
            FunctionName::from_config(" Util.Fn "),
            Some(FunctionName::qualified("util", "fn"))
        );
        assert_eq!(
            FunctionName::from_config(r#""My Schema"."Fn""x""#),
            Some(FunctionName::qualified("My Schema", "Fn\"x"))
        );
        for bad in ["", "a.", ".a", "a.b.c", "a b", "\"open", "f()", "\"\""] {
            assert_eq!(FunctionName::from_config(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn builtins_are_allowed_only_without_schema_or_in_pg_catalog() {
        let p = policy(&[], &[]);
        assert_eq!(p.classify(&bare("count")), Verdict::Allowed);
        assert_eq!(
            p.classify(&FunctionName::qualified("pg_catalog", "count")),
            Verdict::Allowed
        );
        assert_eq!(
            p.classify(&FunctionName::qualified("public", "count")),
            Verdict::Unknown
        );
        assert_eq!(
            p.classify(&FunctionName::qualified("PG_CATALOG", "count")),
            Verdict::Unknown
        );
        assert_eq!(p.classify(&bare("COUNT")), Verdict::Unknown);
        assert_eq!(p.classify(&bare("random")), Verdict::Unknown);
    }

    #[test]
    fn deny_list_applies_without_schema_or_in_pg_catalog_in_any_case() {
        let p = policy(&[], &[]);
        for call in [
            bare("pg_read_file"),
            bare("PG_READ_FILE"),
            FunctionName::qualified("pg_catalog", "pg_read_file"),
            FunctionName::qualified("PG_Catalog", "Pg_Read_File"),
        ] {
            assert!(matches!(p.classify(&call), Verdict::Denied(_)), "{call}");
        }
        // A function of that name in another schema is not the built-in.
        assert_eq!(
            p.classify(&FunctionName::qualified("public", "pg_read_file")),
            Verdict::Unknown
        );
    }

    #[test]
    fn extra_allowed_matches_unqualified_and_qualified_entries() {
        let p = policy(&["random", "util.score", "\"Mixed\""], &[]);
        assert_eq!(p.classify(&bare("random")), Verdict::Allowed);
        assert_eq!(
            p.classify(&FunctionName::qualified("pg_catalog", "random")),
            Verdict::Allowed
        );
        assert_eq!(
            p.classify(&FunctionName::qualified("public", "random")),
            Verdict::Unknown
        );
        assert_eq!(
            p.classify(&FunctionName::qualified("util", "score")),
            Verdict::Allowed
        );
        assert_eq!(p.classify(&bare("score")), Verdict::Unknown);
        assert_eq!(p.classify(&bare("Mixed")), Verdict::Allowed);
        assert_eq!(p.classify(&bare("mixed")), Verdict::Unknown);
    }

    #[test]
    fn configuration_cannot_allow_a_denied_function_without_an_override() {
        let p = policy(&["pg_sleep", "pg_catalog.set_config"], &[]);
        assert!(matches!(p.classify(&bare("pg_sleep")), Verdict::Denied(_)));
        assert!(matches!(
            p.classify(&bare("set_config")),
            Verdict::Denied(_)
        ));

        // Overriding takes it off the deny-list; without extra_allowed it is then unknown.
        let p = policy(&[], &["pg_sleep"]);
        assert_eq!(p.classify(&bare("pg_sleep")), Verdict::Unknown);
        assert!(matches!(
            p.classify(&bare("pg_sleep_for")),
            Verdict::Denied(_)
        ));

        let p = policy(&["pg_sleep"], &["PG_CATALOG.PG_SLEEP"]);
        assert_eq!(p.classify(&bare("pg_sleep")), Verdict::Allowed);
        assert_eq!(
            p.classify(&FunctionName::qualified("pg_catalog", "pg_sleep")),
            Verdict::Allowed
        );

        // An override naming another schema does not touch the built-in.
        let p = policy(&["pg_sleep"], &["public.pg_sleep"]);
        assert!(matches!(p.classify(&bare("pg_sleep")), Verdict::Denied(_)));
    }

    #[test]
    fn unreadable_config_entries_are_ignored() {
        let p = policy(&["not a name", ""], &["a.b.c"]);
        assert_eq!(p.classify(&bare("not")), Verdict::Unknown);
        assert!(matches!(p.classify(&bare("pg_sleep")), Verdict::Denied(_)));
    }
}
