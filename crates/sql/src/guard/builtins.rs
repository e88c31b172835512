//! The built-in function lists: the deny-list of dangerous PostgreSQL functions (each with the
//! reason shown in a refusal) and the allow-list of functions known to be safe.
//!
//! Both lists only apply to calls written without a schema or with `pg_catalog`: a function in any
//! other schema is not a built-in, whatever its name. The deny-list matches case-insensitively (so
//! a quoted look-alike such as `"PG_READ_FILE"` is refused too); the allow-list matches exactly,
//! because a quoted `"COUNT"` is not the built-in `count`.

/// A deny-list entry: a name pattern (`*` matches any run of characters) and the reason shown in
/// the refusal, phrased to follow "`<name>` is refused: it …".
struct Denied {
    pattern: &'static str,
    reason: &'static str,
}

const fn deny(pattern: &'static str, reason: &'static str) -> Denied {
    Denied { pattern, reason }
}

const FILES: &str = "reads or lists files on the database server";
const CONFIG_FILES: &str = "reads the server's configuration files";
const LARGE_OBJECTS: &str =
    "reads or writes large objects (lo_import and lo_export also reach server files)";
const REMOTE: &str = "opens a connection to another database";
const RUNS_SQL: &str = "runs a SQL string it is given, which the guard cannot check";
const SETTINGS: &str = "changes session settings";
const SIGNALS: &str = "signals or controls server processes";
const ADVISORY: &str = "takes or releases advisory locks, which outlive the statement";
const SEQUENCES: &str = "changes a sequence, which a rollback does not undo";
const WAL: &str = "controls WAL, backups or replication";
const STATS: &str = "resets or rewrites statistics";
const INDEXES: &str = "modifies an index";
const CATALOG: &str = "writes to the system catalogs";
const NOTIFY: &str = "sends a notification to other sessions";
const SLEEP: &str = "holds the connection idle on purpose";

/// The deny-list, by category. Checked before the allow-list and before configuration.
const DENIED: &[Denied] = &[
    // file and directory access
    deny("pg_read_file", FILES),
    deny("pg_read_binary_file", FILES),
    deny("pg_stat_file", FILES),
    deny("pg_ls_*", FILES),
    deny("pg_current_logfile", FILES),
    deny("pg_file_*", FILES),
    deny("pg_logdir_ls", FILES),
    deny("pg_wal_summary_contents", FILES),
    deny("pg_hba_file_rules", CONFIG_FILES),
    deny("pg_ident_file_mappings", CONFIG_FILES),
    deny("pg_show_all_file_settings", CONFIG_FILES),
    // large objects
    deny("lo_*", LARGE_OBJECTS),
    deny("loread", LARGE_OBJECTS),
    deny("lowrite", LARGE_OBJECTS),
    // other databases
    deny("dblink*", REMOTE),
    // functions that execute SQL text
    deny("query_to_xml*", RUNS_SQL),
    deny("cursor_to_xml*", RUNS_SQL),
    deny("table_to_xml*", RUNS_SQL),
    deny("schema_to_xml*", RUNS_SQL),
    deny("database_to_xml*", RUNS_SQL),
    deny("ts_stat", RUNS_SQL),
    deny("ts_rewrite", RUNS_SQL),
    // settings
    deny("set_config", SETTINGS),
    // server processes
    deny("pg_cancel_backend", SIGNALS),
    deny("pg_terminate_backend", SIGNALS),
    deny("pg_signal_backend", SIGNALS),
    deny("pg_reload_conf", SIGNALS),
    deny("pg_rotate_logfile*", SIGNALS),
    deny("pg_log_backend_memory_contexts", SIGNALS),
    deny("pg_promote", SIGNALS),
    // advisory locks
    deny("pg_advisory_*", ADVISORY),
    deny("pg_try_advisory_*", ADVISORY),
    // sequences
    deny("nextval", SEQUENCES),
    deny("setval", SEQUENCES),
    // WAL, backup, replication
    deny("pg_switch_wal", WAL),
    deny("pg_switch_xlog", WAL),
    deny("pg_backup_*", WAL),
    deny("pg_start_backup", WAL),
    deny("pg_stop_backup", WAL),
    deny("pg_create_restore_point", WAL),
    deny("pg_create_*_replication_slot", WAL),
    deny("pg_copy_*_replication_slot", WAL),
    deny("pg_drop_replication_slot", WAL),
    deny("pg_replication_slot_advance", WAL),
    deny("pg_sync_replication_slots", WAL),
    deny("pg_logical_*", WAL),
    deny("pg_replication_origin_*", WAL),
    deny("pg_wal_replay_*", WAL),
    deny("pg_xlog_replay_*", WAL),
    deny("pg_log_standby_snapshot", WAL),
    // statistics
    deny("pg_stat_reset*", STATS),
    deny("pg_stat_statements_reset", STATS),
    deny("pg_restore_*_stats", STATS),
    deny("pg_clear_*_stats", STATS),
    // index maintenance
    deny("brin_summarize_*", INDEXES),
    deny("brin_desummarize_range", INDEXES),
    deny("gin_clean_pending_list", INDEXES),
    // catalog writes
    deny("pg_import_system_collations", CATALOG),
    deny("pg_nextoid", CATALOG),
    deny("binary_upgrade_*", CATALOG),
    // notifications and sleeping
    deny("pg_notify", NOTIFY),
    deny("pg_sleep*", SLEEP),
];

/// Built-ins known to be side-effect free and not volatile in PostgreSQL (every overload in
/// `pg_catalog` is immutable or stable; a test checks this against a live server). Sorted, so
/// lookups can binary-search.
pub(super) const ALLOWED: &[&str] = &[
    "abbrev",
    "abs",
    "acos",
    "age",
    "any_value",
    "array_agg",
    "array_append",
    "array_cat",
    "array_dims",
    "array_fill",
    "array_length",
    "array_lower",
    "array_ndims",
    "array_position",
    "array_positions",
    "array_prepend",
    "array_remove",
    "array_replace",
    "array_to_json",
    "array_to_string",
    "array_upper",
    "ascii",
    "asin",
    "atan",
    "atan2",
    "avg",
    "bit_and",
    "bit_length",
    "bit_or",
    "bit_xor",
    "bool_and",
    "bool_or",
    "broadcast",
    "btrim",
    "cardinality",
    "cbrt",
    "ceil",
    "ceiling",
    "char_length",
    "character_length",
    "chr",
    "col_description",
    "concat",
    "concat_ws",
    "corr",
    "cos",
    "count",
    "covar_pop",
    "covar_samp",
    "cume_dist",
    "current_database",
    "current_schema",
    "current_schemas",
    "current_setting",
    "date_bin",
    "date_part",
    "date_trunc",
    "decode",
    "degrees",
    "dense_rank",
    "div",
    "encode",
    "every",
    "exp",
    "extract",
    "factorial",
    "family",
    "first_value",
    "floor",
    "format",
    "format_type",
    "gcd",
    "generate_series",
    "generate_subscripts",
    "has_column_privilege",
    "has_database_privilege",
    "has_function_privilege",
    "has_schema_privilege",
    "has_table_privilege",
    "host",
    "initcap",
    "is_normalized",
    "isempty",
    "isfinite",
    "json_agg",
    "json_array_elements",
    "json_array_elements_text",
    "json_array_length",
    "json_build_array",
    "json_build_object",
    "json_each",
    "json_each_text",
    "json_extract_path",
    "json_extract_path_text",
    "json_object",
    "json_object_agg",
    "json_object_keys",
    "json_populate_record",
    "json_populate_recordset",
    "json_strip_nulls",
    "json_to_record",
    "json_to_recordset",
    "json_typeof",
    "jsonb_agg",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "jsonb_array_length",
    "jsonb_build_array",
    "jsonb_build_object",
    "jsonb_each",
    "jsonb_each_text",
    "jsonb_extract_path",
    "jsonb_extract_path_text",
    "jsonb_insert",
    "jsonb_object",
    "jsonb_object_agg",
    "jsonb_object_keys",
    "jsonb_path_exists",
    "jsonb_path_exists_tz",
    "jsonb_path_match",
    "jsonb_path_match_tz",
    "jsonb_path_query",
    "jsonb_path_query_array",
    "jsonb_path_query_array_tz",
    "jsonb_path_query_first",
    "jsonb_path_query_first_tz",
    "jsonb_path_query_tz",
    "jsonb_populate_record",
    "jsonb_populate_recordset",
    "jsonb_pretty",
    "jsonb_set",
    "jsonb_set_lax",
    "jsonb_strip_nulls",
    "jsonb_to_record",
    "jsonb_to_recordset",
    "jsonb_typeof",
    "justify_days",
    "justify_hours",
    "justify_interval",
    "lag",
    "last_value",
    "lcm",
    "lead",
    "left",
    "length",
    "ln",
    "log",
    "log10",
    "lower",
    "lower_inc",
    "lower_inf",
    "lpad",
    "ltrim",
    "make_date",
    "make_interval",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "masklen",
    "max",
    "md5",
    "min",
    "min_scale",
    "mod",
    "mode",
    "netmask",
    "network",
    "normalize",
    "now",
    "nth_value",
    "ntile",
    "num_nonnulls",
    "num_nulls",
    "numnode",
    "obj_description",
    "octet_length",
    "overlaps",
    "overlay",
    "percent_rank",
    "percentile_cont",
    "percentile_disc",
    "pg_backend_pid",
    "pg_collation_for",
    "pg_get_constraintdef",
    "pg_get_expr",
    "pg_get_functiondef",
    "pg_get_indexdef",
    "pg_get_triggerdef",
    "pg_get_userbyid",
    "pg_get_viewdef",
    "pg_size_bytes",
    "pg_size_pretty",
    "pg_table_is_visible",
    "pg_typeof",
    "phraseto_tsquery",
    "pi",
    "plainto_tsquery",
    "position",
    "pow",
    "power",
    "querytree",
    "quote_ident",
    "quote_literal",
    "quote_nullable",
    "radians",
    "range_agg",
    "range_intersect_agg",
    "range_merge",
    "rank",
    "regexp_count",
    "regexp_instr",
    "regexp_like",
    "regexp_match",
    "regexp_matches",
    "regexp_replace",
    "regexp_split_to_array",
    "regexp_split_to_table",
    "regexp_substr",
    "regr_avgx",
    "regr_avgy",
    "regr_count",
    "regr_intercept",
    "regr_r2",
    "regr_slope",
    "regr_sxx",
    "regr_sxy",
    "regr_syy",
    "repeat",
    "replace",
    "reverse",
    "right",
    "round",
    "row_number",
    "row_to_json",
    "rpad",
    "rtrim",
    "scale",
    "setweight",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "shobj_description",
    "sign",
    "similar_escape",
    "similar_to_escape",
    "sin",
    "split_part",
    "sqrt",
    "starts_with",
    "statement_timestamp",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "string_agg",
    "string_to_array",
    "string_to_table",
    "strip",
    "strpos",
    "substr",
    "substring",
    "sum",
    "system_user",
    "tan",
    "timezone",
    "to_ascii",
    "to_char",
    "to_date",
    "to_hex",
    "to_json",
    "to_jsonb",
    "to_number",
    "to_regclass",
    "to_regtype",
    "to_timestamp",
    "to_tsquery",
    "to_tsvector",
    "transaction_timestamp",
    "translate",
    "trim_array",
    "trim_scale",
    "trunc",
    "ts_headline",
    "ts_rank",
    "ts_rank_cd",
    "unistr",
    "unnest",
    "upper",
    "upper_inc",
    "upper_inf",
    "var_pop",
    "var_samp",
    "variance",
    "version",
    "websearch_to_tsquery",
    "width_bucket",
    "xml_is_well_formed",
    "xmlagg",
    "xmlexists",
    "xpath",
    "xpath_exists",
];

/// The deny-list's reason for `name` (compared case-insensitively), if it is deny-listed.
pub(super) fn denied(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    DENIED
        .iter()
        .find(|entry| glob_match(entry.pattern, &name))
        .map(|entry| entry.reason)
}

/// Whether `name` (compared exactly) is a built-in on the allow-list.
pub(super) fn allowed(name: &str) -> bool {
    ALLOWED.binary_search(&name).is_ok()
}

/// Matches `text` against `pattern`, where `*` stands for any run of characters (possibly empty)
/// and every other character matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let middle: Vec<&str> = parts.collect();
    let Some((last, inner)) = middle.split_last() else {
        // No `*` at all: the whole text must equal the pattern.
        return rest.is_empty();
    };
    for part in inner {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::{ALLOWED, DENIED, allowed, denied, glob_match};

    #[test]
    fn glob_matches_exact_prefix_suffix_and_inner_stars() {
        assert!(glob_match("nextval", "nextval"));
        assert!(!glob_match("nextval", "nextval2"));
        assert!(!glob_match("nextval", "xnextval"));
        assert!(glob_match("pg_ls_*", "pg_ls_dir"));
        assert!(glob_match("pg_ls_*", "pg_ls_"));
        assert!(!glob_match("pg_ls_*", "pg_lsdir"));
        assert!(glob_match(
            "pg_create_*_replication_slot",
            "pg_create_logical_replication_slot"
        ));
        assert!(!glob_match(
            "pg_create_*_replication_slot",
            "pg_create_restore_point"
        ));
        assert!(!glob_match(
            "pg_create_*_replication_slot",
            "pg_create_replication_slot"
        ));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "abc"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxcyyb"));
    }

    #[test]
    fn deny_list_is_case_insensitive_and_covers_every_category() {
        for name in [
            "pg_read_file",
            "PG_READ_FILE",
            "pg_read_binary_file",
            "pg_ls_dir",
            "pg_ls_waldir",
            "pg_stat_file",
            "lo_import",
            "lo_export",
            "loread",
            "lowrite",
            "dblink",
            "dblink_exec",
            "query_to_xml",
            "query_to_xml_and_xmlschema",
            "query_to_xmlschema",
            "cursor_to_xml",
            "table_to_xml",
            "schema_to_xml",
            "database_to_xml_and_xmlschema",
            "ts_stat",
            "set_config",
            "pg_cancel_backend",
            "pg_terminate_backend",
            "pg_reload_conf",
            "pg_rotate_logfile",
            "pg_advisory_lock",
            "pg_advisory_xact_lock_shared",
            "pg_try_advisory_lock",
            "pg_advisory_unlock_all",
            "nextval",
            "setval",
            "pg_switch_wal",
            "pg_backup_start",
            "pg_backup_stop",
            "pg_create_physical_replication_slot",
            "pg_drop_replication_slot",
            "pg_logical_slot_get_changes",
            "pg_logical_emit_message",
            "pg_replication_origin_create",
            "pg_stat_reset",
            "pg_stat_reset_shared",
            "pg_promote",
            "pg_wal_replay_pause",
            "pg_notify",
            "pg_sleep",
            "pg_sleep_for",
            "pg_sleep_until",
        ] {
            assert!(denied(name).is_some(), "{name} must be deny-listed");
        }
        assert_eq!(denied("set_config"), Some("changes session settings"));
        for name in [
            "count",
            "current_setting",
            "lower",
            "pg_typeof",
            "now",
            "pg_lsn",
        ] {
            assert_eq!(denied(name), None, "{name} must not be deny-listed");
        }
    }

    #[test]
    fn allow_list_is_sorted_exact_and_disjoint_from_the_deny_list() {
        assert!(
            ALLOWED.windows(2).all(|w| w[0] < w[1]),
            "ALLOWED must be sorted and unique"
        );
        for name in ALLOWED {
            assert!(allowed(name));
            assert_eq!(denied(name), None, "{name} is on both lists");
            assert_eq!(name.to_ascii_lowercase(), *name, "{name} must be lowercase");
        }
        assert!(allowed("count"));
        assert!(
            !allowed("COUNT"),
            "a quoted upper-case name is a different function"
        );
        assert!(!allowed("pg_read_file"));
        assert!(!DENIED.is_empty());
    }

    /// Allow-listed built-ins that older servers do not have, with the first version that does.
    const NEWER_THAN_SOME_SERVERS: &[(&str, i32)] =
        &[("any_value", 160_000), ("system_user", 160_000)];

    /// Deny-list patterns that may match nothing in a server's `pg_catalog`: extension functions,
    /// and names from other PostgreSQL versions (older spellings, newer additions).
    const MAY_BE_ABSENT: &[&str] = &[
        "pg_file_*",
        "pg_logdir_ls",
        "dblink*",
        "pg_stat_statements_reset",
        "pg_signal_backend",
        "pg_switch_xlog",
        "pg_start_backup",
        "pg_stop_backup",
        "pg_xlog_replay_*",
        "pg_wal_summary_contents",
        "pg_sync_replication_slots",
        "pg_log_standby_snapshot",
        "pg_restore_*_stats",
        "pg_clear_*_stats",
    ];

    #[tokio::test]
    async fn lists_agree_with_a_live_server_catalog() {
        let db = switchboard_testkit::pg::TestDb::new()
            .await
            .expect("a PostgreSQL server");
        let client = db.connect().await.expect("connecting to the test database");
        let version: i32 = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .expect("server version")
            .get(0);
        let rows = client
            .query(
                "SELECT proname::text, string_agg(DISTINCT provolatile::text, '') FROM pg_proc \
                 WHERE pronamespace = 'pg_catalog'::regnamespace GROUP BY proname",
                &[],
            )
            .await
            .expect("reading pg_proc");
        let catalog: std::collections::HashMap<String, String> =
            rows.iter().map(|row| (row.get(0), row.get(1))).collect();

        for name in ALLOWED {
            match catalog.get(*name) {
                Some(volatility) => assert!(
                    volatility.chars().all(|v| v == 'i' || v == 's'),
                    "{name} has a volatile overload ({volatility}): it cannot be allow-listed"
                ),
                None => {
                    let since = NEWER_THAN_SOME_SERVERS.iter().find(|(n, _)| n == name);
                    assert!(
                        since.is_some_and(|(_, since)| version < *since),
                        "{name} is not a pg_catalog function on server {version}"
                    );
                }
            }
        }
        for entry in DENIED {
            let matches = catalog.keys().any(|name| glob_match(entry.pattern, name));
            assert!(
                matches || MAY_BE_ABSENT.contains(&entry.pattern),
                "deny-list pattern {} matches no function on server {version}",
                entry.pattern
            );
        }
    }
}
