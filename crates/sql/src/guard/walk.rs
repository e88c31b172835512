//! The walk over a whole query's parse tree: every node is visited, whatever its place (select
//! list, FROM, WHERE, CTEs, subqueries, LATERAL, window and aggregate clauses, set operations).
//!
//! The tree is visited through its serde serialization (pg_query's protobuf types derive
//! `Serialize`), streamed into a serializer that checks as it goes instead of building a copy, so
//! no field can be forgotten: every node that is not on [`ALLOWED_NODES`] is refused, and the
//! rules that name a reason (data-modifying CTE, SELECT INTO, locking clause, function policy) are
//! checked wherever their node occurs. A node of a type the guard does not know is refused, never
//! skipped.

use std::fmt;

use pg_query::NodeEnum;
use pg_query::protobuf::LockClauseStrength;
use serde::Serialize;
use serde::ser;
use serde_json::Value;

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
    let mut walk = Walk {
        policy,
        unknown: Vec::new(),
        capture: None,
    };
    node.serialize(Visit {
        walk: &mut walk,
        depth: 0,
        field: "",
    })
    .map_err(|Stop(refusal)| refusal)?;
    Ok(walk.unknown)
}

struct Walk<'p> {
    policy: &'p CompiledPolicy,
    unknown: Vec<FunctionName>,
    /// While a `FuncCall`'s `funcname` list is visited: its `String` nodes' values, or `None`
    /// inside once anything else appears.
    capture: Option<Option<Vec<String>>>,
}

impl Walk<'_> {
    /// Applies the rule of a node of type `kind` (serde's name for a `NodeEnum` variant, or a
    /// variant of a oneof such as `AConst`'s value) before its body is visited.
    fn node(&mut self, kind: &str, body: &impl Serialize) -> Result<(), Stop> {
        if matches!(self.capture, Some(Some(_))) && kind != "String" {
            self.capture = Some(None);
        }
        let refusal = match kind {
            "FuncCall" => return Ok(()),
            "LockingClause" => Refusal::LockingClause {
                clause: lock_clause(&serde_json::to_value(body).unwrap_or(Value::Null)),
            },
            "IntoClause" => Refusal::SelectInto,
            "InsertStmt" => Refusal::DataModifyingCte { kind: "INSERT" },
            "UpdateStmt" => Refusal::DataModifyingCte { kind: "UPDATE" },
            "DeleteStmt" => Refusal::DataModifyingCte { kind: "DELETE" },
            "MergeStmt" => Refusal::DataModifyingCte { kind: "MERGE" },
            known if ALLOWED_NODES.contains(&known) => return Ok(()),
            other => Refusal::UnsupportedConstruct {
                construct: construct_name(other),
            },
        };
        Err(Stop(refusal))
    }

    /// Applies the function policy to one call, named by its `funcname` parts. Its arguments,
    /// FILTER, ORDER BY and OVER are visited like any other children.
    fn function(&mut self, parts: Option<Vec<String>>) -> Result<(), Stop> {
        let name = parts.as_deref().and_then(function_name).ok_or_else(|| {
            Stop(Refusal::UnsupportedConstruct {
                construct: "a function call without a plain name".to_owned(),
            })
        })?;
        match self.policy.classify(&name) {
            Verdict::Allowed => Ok(()),
            Verdict::Denied(reason) => Err(Stop(Refusal::DeniedFunction {
                function: name,
                reason,
            })),
            Verdict::Unknown => {
                if !self.unknown.contains(&name) {
                    self.unknown.push(name);
                }
                Ok(())
            }
        }
    }
}

/// The refusal that ends the walk, carried as the serializer's error.
#[derive(Debug)]
struct Stop(Refusal);

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self(Refusal::TooComplex {
            detail: message.to_string(),
        })
    }
}

/// One value of the tree, in the struct field `field` ("" elsewhere), `depth` levels down.
struct Visit<'w, 'p> {
    walk: &'w mut Walk<'p>,
    depth: usize,
    field: &'static str,
}

impl<'w, 'p> Visit<'w, 'p> {
    fn child(&mut self, field: &'static str) -> Result<Visit<'_, 'p>, Stop> {
        if self.depth >= MAX_DEPTH {
            return Err(Stop(Refusal::TooComplex {
                detail: format!("more than {MAX_DEPTH} levels in the parse tree"),
            }));
        }
        Ok(Visit {
            walk: self.walk,
            depth: self.depth + 1,
            field,
        })
    }

    fn into_compound(self, function: bool) -> Compound<'w, 'p> {
        Compound {
            visit: self,
            function,
        }
    }
}

/// Leaves that are not strings carry nothing a rule looks at.
macro_rules! leaves {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<(), Stop> { Ok(()) })*
    };
}

impl<'w, 'p> ser::Serializer for Visit<'w, 'p> {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Compound<'w, 'p>;
    type SerializeTuple = Compound<'w, 'p>;
    type SerializeTupleStruct = Compound<'w, 'p>;
    type SerializeTupleVariant = Compound<'w, 'p>;
    type SerializeMap = Compound<'w, 'p>;
    type SerializeStruct = Compound<'w, 'p>;
    type SerializeStructVariant = Compound<'w, 'p>;

    leaves!(
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char,
        serialize_bytes: &[u8], serialize_unit_struct: &'static str,
    );

    fn serialize_str(self, value: &str) -> Result<(), Stop> {
        if let Some(Some(parts)) = &mut self.walk.capture {
            parts.push(value.to_owned());
        }
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Stop> {
        Ok(())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Stop> {
        if self.field == "into_clause" {
            // SelectStmt.into_clause is a typed field, not a labelled node.
            return Err(Stop(Refusal::SelectInto));
        }
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Stop> {
        Ok(())
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Stop> {
        Ok(())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        mut self,
        _: &'static str,
        _: u32,
        kind: &'static str,
        body: &T,
    ) -> Result<(), Stop> {
        self.walk.node(kind, &body)?;
        body.serialize(self.child("")?)
    }

    fn serialize_seq(mut self, _: Option<usize>) -> Result<Compound<'w, 'p>, Stop> {
        self.child("")?;
        Ok(self.into_compound(false))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'p>, Stop> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'w, 'p>, Stop> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        kind: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'p>, Stop> {
        self.walk.node(kind, &())?;
        self.serialize_seq(Some(len))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'w, 'p>, Stop> {
        self.serialize_seq(len)
    }

    fn serialize_struct(mut self, name: &'static str, _: usize) -> Result<Compound<'w, 'p>, Stop> {
        if self.field == "into_clause" {
            return Err(Stop(Refusal::SelectInto));
        }
        self.child("")?;
        Ok(self.into_compound(name == "FuncCall"))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        kind: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'p>, Stop> {
        self.walk.node(kind, &())?;
        self.serialize_struct(kind, len)
    }

    fn collect_str<T: ?Sized + fmt::Display>(self, value: &T) -> Result<(), Stop> {
        self.serialize_str(&value.to_string())
    }
}

/// The children of a struct, sequence or map. For a `FuncCall`, the name in `funcname` is
/// collected on the way and the function policy applied at its end.
struct Compound<'w, 'p> {
    visit: Visit<'w, 'p>,
    function: bool,
}

impl Compound<'_, '_> {
    fn element<T: ?Sized + Serialize>(
        &mut self,
        field: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        if self.function && field == "funcname" {
            let outer = self.visit.walk.capture.replace(Some(Vec::new()));
            let visited = value.serialize(self.visit.child(field)?);
            let parts = std::mem::replace(&mut self.visit.walk.capture, outer).flatten();
            visited?;
            return self.visit.walk.function(parts);
        }
        value.serialize(self.visit.child(field)?)
    }
}

macro_rules! compound {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Stop;

            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Stop> {
                self.element("", value)
            }

            fn end(self) -> Result<(), Stop> {
                Ok(())
            }
        })*
    };
}

compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Stop;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Stop> {
        self.element("", key)
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Stop> {
        self.element("", value)
    }

    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

macro_rules! fields {
    ($($trait:ident),* $(,)?) => {
        $(impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Stop;

            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                field: &'static str,
                value: &T,
            ) -> Result<(), Stop> {
                self.element(field, value)
            }

            fn end(self) -> Result<(), Stop> {
                Ok(())
            }
        })*
    };
}

fields!(SerializeStruct, SerializeStructVariant);

/// The name of a `FuncCall` from its `funcname` parts, one to three `String` nodes (`name`,
/// `schema.name`, `database.schema.name`; PostgreSQL accepts the database part only when it
/// names the current database, so the schema and name decide).
fn function_name(parts: &[String]) -> Option<FunctionName> {
    match parts {
        [name] => Some(FunctionName::unqualified(name)),
        [schema, name] | [_, schema, name] => Some(FunctionName::qualified(schema, name)),
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
            function_name(&parts.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>())
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
