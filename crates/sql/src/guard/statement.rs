//! The top-level statement rule: which statement kinds may run (SELECT, EXPLAIN without ANALYZE of
//! a statement that itself passes, SHOW), and the SQL words that name a refused kind.

use pg_query::NodeEnum;
use pg_query::protobuf::{DefElem, ObjectType, TransactionStmtKind, VariableSetKind};

use super::StatementKind;
use super::function::{CompiledPolicy, FunctionName};
use super::refusal::Refusal;
use super::walk;

/// EXPLAIN options that only change what the plan shows. `ANALYZE` is checked on its own (allowed
/// only when explicitly false); anything else, including options that only make sense with
/// ANALYZE, is refused.
const EXPLAIN_OPTIONS: &[&str] = &[
    "verbose",
    "costs",
    "settings",
    "generic_plan",
    "buffers",
    "summary",
    "memory",
    "format",
];

/// Checks one statement and returns its kind and the unknown functions it calls.
pub(super) fn check(
    node: &NodeEnum,
    policy: &CompiledPolicy,
) -> Result<(StatementKind, Vec<FunctionName>), Refusal> {
    match node {
        NodeEnum::SelectStmt(_) => Ok((StatementKind::Select, walk::check_tree(node, policy)?)),
        NodeEnum::VariableShowStmt(_) => Ok((StatementKind::Show, Vec::new())),
        NodeEnum::ExplainStmt(explain) => {
            for option in &explain.options {
                if let Some(NodeEnum::DefElem(option)) = &option.node {
                    check_explain_option(option)?;
                } else {
                    return Err(Refusal::ExplainOption {
                        option: "(unnamed)".to_owned(),
                    });
                }
            }
            let inner = explain.query.as_ref().and_then(|query| query.node.as_ref());
            match inner {
                Some(inner @ NodeEnum::SelectStmt(_)) => {
                    Ok((StatementKind::Explain, walk::check_tree(inner, policy)?))
                }
                Some(other) => Err(Refusal::StatementNotAllowed {
                    kind: format!("EXPLAIN {}", statement_name(other)),
                }),
                None => Err(Refusal::StatementNotAllowed {
                    kind: "EXPLAIN".to_owned(),
                }),
            }
        }
        other => Err(Refusal::StatementNotAllowed {
            kind: statement_name(other),
        }),
    }
}

fn check_explain_option(option: &DefElem) -> Result<(), Refusal> {
    let name = option.defname.to_ascii_lowercase();
    if name == "analyze" {
        return if analyze_is_off(option) {
            Ok(())
        } else {
            Err(Refusal::ExplainAnalyze)
        };
    }
    if EXPLAIN_OPTIONS.contains(&name.as_str()) {
        Ok(())
    } else {
        Err(Refusal::ExplainOption {
            option: option.defname.to_ascii_uppercase(),
        })
    }
}

/// Whether an `ANALYZE` option is explicitly off: `false`, `off` or `0`, as PostgreSQL's
/// `defGetBoolean` reads them. No value means on; anything else is treated as on.
fn analyze_is_off(option: &DefElem) -> bool {
    match option.arg.as_ref().and_then(|arg| arg.node.as_ref()) {
        Some(NodeEnum::String(value)) => {
            value.sval.eq_ignore_ascii_case("false") || value.sval.eq_ignore_ascii_case("off")
        }
        Some(NodeEnum::Integer(value)) => value.ival == 0,
        Some(NodeEnum::Boolean(value)) => !value.boolval,
        _ => false,
    }
}

/// The SQL words naming a statement's kind, e.g. `DROP TABLE`, `COMMIT`, `CREATE FUNCTION`.
pub(super) fn statement_name(node: &NodeEnum) -> String {
    let fixed = match node {
        NodeEnum::SelectStmt(_) => "SELECT",
        NodeEnum::InsertStmt(_) => "INSERT",
        NodeEnum::UpdateStmt(_) => "UPDATE",
        NodeEnum::DeleteStmt(_) => "DELETE",
        NodeEnum::MergeStmt(_) => "MERGE",
        NodeEnum::ExplainStmt(_) => "EXPLAIN",
        NodeEnum::DropStmt(s) => return format!("DROP {}", object_words(s.remove_type)),
        NodeEnum::AlterTableStmt(s) => return format!("ALTER {}", object_words(s.objtype)),
        NodeEnum::DefineStmt(s) => return format!("CREATE {}", object_words(s.kind)),
        NodeEnum::TransactionStmt(s) => transaction_words(s.kind),
        NodeEnum::VariableSetStmt(s) => {
            return match VariableSetKind::try_from(s.kind) {
                Ok(VariableSetKind::VarReset | VariableSetKind::VarResetAll) => "RESET".to_owned(),
                Ok(VariableSetKind::VarSetMulti) => format!("SET {}", s.name.to_uppercase()),
                _ => "SET".to_owned(),
            };
        }
        NodeEnum::GrantStmt(s) if s.is_grant => "GRANT",
        NodeEnum::GrantStmt(_) => "REVOKE",
        NodeEnum::GrantRoleStmt(s) if s.is_grant => "GRANT",
        NodeEnum::GrantRoleStmt(_) => "REVOKE",
        NodeEnum::CreateFunctionStmt(s) if s.is_procedure => "CREATE PROCEDURE",
        NodeEnum::CreateFunctionStmt(_) => "CREATE FUNCTION",
        NodeEnum::FetchStmt(s) if s.ismove => "MOVE",
        NodeEnum::FetchStmt(_) => "FETCH",
        NodeEnum::VacuumStmt(s) if s.is_vacuumcmd => "VACUUM",
        NodeEnum::VacuumStmt(_) => "ANALYZE",
        NodeEnum::CreateTableAsStmt(s) if s.objtype == ObjectType::ObjectMatview as i32 => {
            "CREATE MATERIALIZED VIEW"
        }
        NodeEnum::CreateTableAsStmt(s) if s.is_select_into => "SELECT INTO",
        NodeEnum::CreateTableAsStmt(_) => "CREATE TABLE AS",
        NodeEnum::CreateStmt(_) => "CREATE TABLE",
        NodeEnum::IndexStmt(_) => "CREATE INDEX",
        NodeEnum::ViewStmt(_) => "CREATE VIEW",
        NodeEnum::CreateSeqStmt(_) => "CREATE SEQUENCE",
        NodeEnum::CreatedbStmt(_) => "CREATE DATABASE",
        NodeEnum::DropdbStmt(_) => "DROP DATABASE",
        NodeEnum::RuleStmt(_) => "CREATE RULE",
        NodeEnum::CreateTrigStmt(_) => "CREATE TRIGGER",
        NodeEnum::CreatePlangStmt(_) => "CREATE LANGUAGE",
        NodeEnum::CreateForeignServerStmt(_) => "CREATE SERVER",
        NodeEnum::CreateStatsStmt(_) => "CREATE STATISTICS",
        NodeEnum::RenameStmt(_) => "ALTER ... RENAME",
        NodeEnum::LockStmt(_) => "LOCK TABLE",
        NodeEnum::DeclareCursorStmt(_) => "DECLARE CURSOR",
        NodeEnum::ClosePortalStmt(_) => "CLOSE",
        NodeEnum::CheckPointStmt(_) => "CHECKPOINT",
        NodeEnum::RefreshMatViewStmt(_) => "REFRESH MATERIALIZED VIEW",
        NodeEnum::ConstraintsSetStmt(_) => "SET CONSTRAINTS",
        NodeEnum::SecLabelStmt(_) => "SECURITY LABEL",
        NodeEnum::DoStmt(_) => "DO",
        NodeEnum::CopyStmt(_) => "COPY",
        _ => return words_of(&variant_name(node)),
    };
    fixed.to_owned()
}

/// The parse-tree variant's name (`"CreateRoleStmt"`), as serde writes it.
fn variant_name(node: &NodeEnum) -> String {
    match serde_json::to_value(node) {
        Ok(serde_json::Value::Object(fields)) => fields.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// SQL-ish words from a statement node's name: `AlterRoleSetStmt` → `ALTER ROLE SET`.
pub(super) fn words_of(variant: &str) -> String {
    let base = variant.strip_suffix("Stmt").unwrap_or(variant);
    let mut words = String::new();
    for c in base.chars() {
        if c.is_ascii_uppercase() && !words.is_empty() {
            words.push(' ');
        }
        words.push(c.to_ascii_uppercase());
    }
    if words.is_empty() {
        "this statement".to_owned()
    } else {
        words
    }
}

fn transaction_words(kind: i32) -> &'static str {
    match TransactionStmtKind::try_from(kind) {
        Ok(TransactionStmtKind::TransStmtBegin) => "BEGIN",
        Ok(TransactionStmtKind::TransStmtStart) => "START TRANSACTION",
        Ok(TransactionStmtKind::TransStmtCommit) => "COMMIT",
        Ok(TransactionStmtKind::TransStmtRollback) => "ROLLBACK",
        Ok(TransactionStmtKind::TransStmtSavepoint) => "SAVEPOINT",
        Ok(TransactionStmtKind::TransStmtRelease) => "RELEASE SAVEPOINT",
        Ok(TransactionStmtKind::TransStmtRollbackTo) => "ROLLBACK TO SAVEPOINT",
        Ok(TransactionStmtKind::TransStmtPrepare) => "PREPARE TRANSACTION",
        Ok(TransactionStmtKind::TransStmtCommitPrepared) => "COMMIT PREPARED",
        Ok(TransactionStmtKind::TransStmtRollbackPrepared) => "ROLLBACK PREPARED",
        _ => "a transaction statement",
    }
}

/// An object type as SQL words: `OBJECT_MATVIEW` → `MATERIALIZED VIEW`.
fn object_words(object_type: i32) -> String {
    let Ok(object_type) = ObjectType::try_from(object_type) else {
        return "object".to_owned();
    };
    let raw = object_type.as_str_name();
    let raw = raw.strip_prefix("OBJECT_").unwrap_or(raw);
    match raw {
        "MATVIEW" => "MATERIALIZED VIEW".to_owned(),
        "FDW" => "FOREIGN DATA WRAPPER".to_owned(),
        "FOREIGN_SERVER" => "SERVER".to_owned(),
        "LARGEOBJECT" => "LARGE OBJECT".to_owned(),
        "OPCLASS" => "OPERATOR CLASS".to_owned(),
        "OPFAMILY" => "OPERATOR FAMILY".to_owned(),
        "STATISTIC_EXT" => "STATISTICS".to_owned(),
        "TABCONSTRAINT" | "DOMCONSTRAINT" => "CONSTRAINT".to_owned(),
        "TSCONFIGURATION" => "TEXT SEARCH CONFIGURATION".to_owned(),
        "TSDICTIONARY" => "TEXT SEARCH DICTIONARY".to_owned(),
        "TSPARSER" => "TEXT SEARCH PARSER".to_owned(),
        "TSTEMPLATE" => "TEXT SEARCH TEMPLATE".to_owned(),
        other => other.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::{statement_name, words_of};

    fn name_of(sql: &str) -> String {
        let parsed = pg_query::parse(sql, 0).expect("parses");
        let node = parsed.protobuf.stmts[0]
            .stmt
            .as_ref()
            .and_then(|n| n.node.as_ref());
        statement_name(node.expect("a statement"))
    }

    #[test]
    fn refused_statements_are_named_in_sql_words() {
        for (sql, expected) in [
            ("DROP TABLE canary", "DROP TABLE"),
            ("DROP MATERIALIZED VIEW v", "DROP MATERIALIZED VIEW"),
            ("COMMIT", "COMMIT"),
            ("END", "COMMIT"),
            ("ABORT", "ROLLBACK"),
            ("BEGIN READ WRITE", "BEGIN"),
            ("SET TRANSACTION READ WRITE", "SET TRANSACTION"),
            ("SET ROLE postgres", "SET"),
            ("RESET ALL", "RESET"),
            ("GRANT ALL ON canary TO PUBLIC", "GRANT"),
            ("REVOKE ALL ON canary FROM PUBLIC", "REVOKE"),
            ("CREATE TEMP TABLE t AS SELECT 1", "CREATE TABLE AS"),
            (
                "CREATE MATERIALIZED VIEW m AS SELECT 1",
                "CREATE MATERIALIZED VIEW",
            ),
            ("CREATE TABLE t (a int)", "CREATE TABLE"),
            ("ALTER TABLE t ADD COLUMN b int", "ALTER TABLE"),
            ("CREATE ROLE r", "CREATE ROLE"),
            ("COPY canary TO '/tmp/x'", "COPY"),
            ("DO $$ BEGIN END $$", "DO"),
            ("LOCK TABLE canary", "LOCK TABLE"),
            ("NOTIFY ch", "NOTIFY"),
            ("LISTEN ch", "LISTEN"),
            ("VACUUM canary", "VACUUM"),
            ("ANALYZE canary", "ANALYZE"),
            ("CALL p()", "CALL"),
            ("PREPARE p AS SELECT 1", "PREPARE"),
            ("EXECUTE p", "EXECUTE"),
            ("DEALLOCATE p", "DEALLOCATE"),
            ("DISCARD ALL", "DISCARD"),
            ("CHECKPOINT", "CHECKPOINT"),
            ("TRUNCATE canary", "TRUNCATE"),
            ("DELETE FROM canary", "DELETE"),
            (
                "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
                "MERGE",
            ),
            (
                "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                "CREATE FUNCTION",
            ),
            ("ALTER SYSTEM SET work_mem = '1GB'", "ALTER SYSTEM"),
            ("LOAD 'x'", "LOAD"),
        ] {
            assert_eq!(name_of(sql), expected, "{sql}");
        }
    }

    #[test]
    fn words_split_node_names() {
        assert_eq!(words_of("AlterRoleSetStmt"), "ALTER ROLE SET");
        assert_eq!(words_of("Stmt"), "this statement");
    }
}
