//! The walk over a whole query's parse tree: every node is visited, whatever its place (select
//! list, FROM, WHERE, CTEs, subqueries, LATERAL, window and aggregate clauses, set operations).
//!
//! The tree is visited in its serialized form (pg_query's protobuf types, serialized with serde),
//! so no field can be forgotten: every node that is not on [`ALLOWED_NODES`] is refused, and the
//! rules that name a reason (data-modifying CTE, SELECT INTO, locking clause, function policy) are
//! checked wherever their node occurs. A node of a type the guard does not know is refused, never
//! skipped.

use pg_query::NodeEnum;
use pg_query::protobuf::LockClauseStrength;
use serde_json::{Map, Value};

use super::function::{CompiledPolicy, FunctionName, Verdict};
use super::refusal::Refusal;

/// Raw parse-tree node types that may appear inside a SELECT, beyond the ones with a rule of their
/// own (`FuncCall`, `LockingClause`, `IntoClause`, data-modifying statements). Expressions,
/// clauses, literals and type names: nothing here runs code of its own beyond operators, casts and
/// the SQL-standard value functions (`CURRENT_DATE`, `COALESCE`, `GREATEST`, XML and JSON
/// constructors), which the read-only transaction covers.
const ALLOWED_NODES: &[&str] = &[
    // statements and clauses
    "SelectStmt",
    "WithClause",
    "CommonTableExpr",
    "CtesearchClause",
    "CtecycleClause",
    "ResTarget",
    "SortBy",
    "WindowDef",
    "GroupingSet",
    // FROM items
    "RangeVar",
    "Alias",
    "JoinExpr",
    "RangeSubselect",
    "RangeFunction",
    "RangeTableSample",
    "RangeTableFunc",
    "RangeTableFuncCol",
    "ColumnDef",
    // expressions
    "ColumnRef",
    "ParamRef",
    "AStar",
    "AExpr",
    "BoolExpr",
    "NullTest",
    "BooleanTest",
    "SubLink",
    "CaseExpr",
    "CaseWhen",
    "CoalesceExpr",
    "MinMaxExpr",
    "SqlvalueFunction",
    "RowExpr",
    "AArrayExpr",
    "AIndices",
    "AIndirection",
    "TypeCast",
    "TypeName",
    "CollateClause",
    "NamedArgExpr",
    "GroupingFunc",
    "XmlExpr",
    "XmlSerialize",
    // SQL/JSON
    "JsonFormat",
    "JsonReturning",
    "JsonValueExpr",
    "JsonIsPredicate",
    "JsonBehavior",
    "JsonOutput",
    "JsonArgument",
    "JsonFuncExpr",
    "JsonTablePathSpec",
    "JsonTable",
    "JsonTableColumn",
    "JsonKeyValue",
    "JsonParseExpr",
    "JsonScalarExpr",
    "JsonSerializeExpr",
    "JsonObjectConstructor",
    "JsonArrayConstructor",
    "JsonArrayQueryConstructor",
    "JsonAggConstructor",
    "JsonObjectAgg",
    "JsonArrayAgg",
    // literals and name lists
    "AConst",
    "Ival",
    "Fval",
    "Boolval",
    "Sval",
    "Bsval",
    "Integer",
    "Float",
    "Boolean",
    "String",
    "BitString",
    "List",
];

/// Bound on the serialized tree's depth. pg_query refuses deeper trees while decoding (prost's
/// recursion limit), so this only matters if that limit is ever lifted.
const MAX_DEPTH: usize = 2_000;

/// Checks a whole statement tree (a SELECT, or EXPLAIN's inner SELECT) and returns the unknown
/// functions it calls, deduplicated.
pub(super) fn check_tree(
    node: &NodeEnum,
    policy: &CompiledPolicy,
) -> Result<Vec<FunctionName>, Refusal> {
    let tree = serde_json::to_value(node).map_err(|error| Refusal::TooComplex {
        detail: error.to_string(),
    })?;
    let mut walk = Walk {
        policy,
        unknown: Vec::new(),
    };
    walk.value(&tree, 0)?;
    Ok(walk.unknown)
}

struct Walk<'p> {
    policy: &'p CompiledPolicy,
    unknown: Vec<FunctionName>,
}

impl Walk<'_> {
    fn value(&mut self, value: &Value, depth: usize) -> Result<(), Refusal> {
        if depth > MAX_DEPTH {
            return Err(Refusal::TooComplex {
                detail: format!("more than {MAX_DEPTH} levels in the parse tree"),
            });
        }
        match value {
            Value::Object(fields) => self.fields(fields, depth),
            Value::Array(items) => items
                .iter()
                .try_for_each(|item| self.value(item, depth + 1)),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => Ok(()),
        }
    }

    /// An object is either a node, `{"SelectStmt": {...}}` (serde names enum variants in
    /// PascalCase), or a struct whose fields are snake_case.
    fn fields(&mut self, fields: &Map<String, Value>, depth: usize) -> Result<(), Refusal> {
        for (key, child) in fields {
            if key.starts_with(|c: char| c.is_ascii_uppercase()) {
                self.node(key, child, depth + 1)?;
            } else if key == "into_clause" && !child.is_null() {
                // SelectStmt.into_clause is a typed field, not a labelled node.
                return Err(Refusal::SelectInto);
            } else {
                self.value(child, depth + 1)?;
            }
        }
        Ok(())
    }

    fn node(&mut self, kind: &str, body: &Value, depth: usize) -> Result<(), Refusal> {
        match kind {
            "FuncCall" => self.function(body)?,
            "LockingClause" => {
                return Err(Refusal::LockingClause {
                    clause: lock_clause(body),
                });
            }
            "IntoClause" => return Err(Refusal::SelectInto),
            "InsertStmt" => return Err(Refusal::DataModifyingCte { kind: "INSERT" }),
            "UpdateStmt" => return Err(Refusal::DataModifyingCte { kind: "UPDATE" }),
            "DeleteStmt" => return Err(Refusal::DataModifyingCte { kind: "DELETE" }),
            "MergeStmt" => return Err(Refusal::DataModifyingCte { kind: "MERGE" }),
            known if ALLOWED_NODES.contains(&known) => {}
            other => {
                return Err(Refusal::UnsupportedConstruct {
                    construct: construct_name(other),
                });
            }
        }
        self.value(body, depth)
    }

    /// Applies the function policy to one call; its arguments, FILTER, ORDER BY and OVER are
    /// walked afterwards like any other children.
    fn function(&mut self, body: &Value) -> Result<(), Refusal> {
        let name = function_name(body).ok_or_else(|| Refusal::UnsupportedConstruct {
            construct: "a function call without a plain name".to_owned(),
        })?;
        match self.policy.classify(&name) {
            Verdict::Allowed => {}
            Verdict::Denied(reason) => {
                return Err(Refusal::DeniedFunction {
                    function: name,
                    reason,
                });
            }
            Verdict::Unknown => {
                if !self.unknown.contains(&name) {
                    self.unknown.push(name);
                }
            }
        }
        Ok(())
    }
}

/// The name of a `FuncCall`: its `funcname` list holds one to three `String` nodes
/// (`name`, `schema.name`, `database.schema.name`; PostgreSQL accepts the database part only
/// when it names the current database, so the schema and name decide).
fn function_name(body: &Value) -> Option<FunctionName> {
    let parts: Vec<&str> = body
        .get("funcname")?
        .as_array()?
        .iter()
        .map(|part| part.get("node")?.get("String")?.get("sval")?.as_str())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [name] => Some(FunctionName::unqualified(*name)),
        [schema, name] | [_, schema, name] => Some(FunctionName::qualified(*schema, *name)),
        _ => None,
    }
}

/// The SQL words of a locking clause.
fn lock_clause(body: &Value) -> &'static str {
    let strength = body
        .get("strength")
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .and_then(|n| LockClauseStrength::try_from(n).ok());
    match strength {
        Some(LockClauseStrength::LcsForkeyshare) => "FOR KEY SHARE",
        Some(LockClauseStrength::LcsForshare) => "FOR SHARE",
        Some(LockClauseStrength::LcsFornokeyupdate) => "FOR NO KEY UPDATE",
        Some(LockClauseStrength::LcsForupdate) => "FOR UPDATE",
        _ => "a locking clause",
    }
}

/// SQL words for the nodes a model could plausibly write; the node's own name otherwise.
fn construct_name(node: &str) -> String {
    match node {
        "SetToDefault" => "DEFAULT".to_owned(),
        "CurrentOfExpr" => "WHERE CURRENT OF".to_owned(),
        "MultiAssignRef" => "a multiple-column assignment".to_owned(),
        "MergeSupportFunc" => "MERGE_ACTION()".to_owned(),
        other if other.ends_with("Stmt") => {
            format!("a nested {} statement", super::statement::words_of(other))
        }
        other => format!("the parse-tree node {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{ALLOWED_NODES, function_name};
    use crate::guard::FunctionName;

    #[test]
    fn function_names_take_schema_and_name_from_one_to_three_parts() {
        let call = |parts: &[&str]| {
            let funcname: Vec<_> = parts
                .iter()
                .map(|p| serde_json::json!({"node": {"String": {"sval": p}}}))
                .collect();
            function_name(&serde_json::json!({ "funcname": funcname }))
        };
        assert_eq!(call(&["now"]), Some(FunctionName::unqualified("now")));
        assert_eq!(
            call(&["pg_catalog", "now"]),
            Some(FunctionName::qualified("pg_catalog", "now"))
        );
        assert_eq!(
            call(&["db", "pg_catalog", "now"]),
            Some(FunctionName::qualified("pg_catalog", "now"))
        );
        assert_eq!(call(&[]), None);
        assert_eq!(call(&["a", "b", "c", "d"]), None);
    }

    #[test]
    fn allowed_nodes_are_unique_and_exclude_rule_nodes() {
        for (i, node) in ALLOWED_NODES.iter().enumerate() {
            assert!(
                !ALLOWED_NODES[i + 1..].contains(node),
                "{node} listed twice"
            );
        }
        for ruled in [
            "FuncCall",
            "LockingClause",
            "IntoClause",
            "InsertStmt",
            "UpdateStmt",
            "DeleteStmt",
        ] {
            assert!(!ALLOWED_NODES.contains(&ruled), "{ruled} has its own rule");
        }
    }
}
