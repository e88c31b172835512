//! Property tests of configuration loading on generated files: TOML and Claude-style JSON built
//! from the real keys with values of every shape (right and wrong types, templates, secret
//! references, durations, rates, globs), plus arbitrary text. Every input either loads or is
//! refused with a message naming the file (and the key, for a value the gateway cannot use);
//! resolving what loaded either succeeds or names the file and key; no message ever holds a
//! secret's value; nothing panics. The long run: `SWITCHBOARD_FUZZ_CASES=N`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::{
    Just, Strategy, any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use switchboard_gateway::secrets::{Resolver, Template};
use switchboard_gateway::{Config, ConfigError};
use switchboard_testkit::fuzz;

/// The value of the variable `${env:FUZZ_SECRET}` and `${FUZZ_SECRET}` resolve to: it must never
/// appear in an error message.
const SECRET: &str = "s3cr3t-value-7f3a";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// One resolver for every case: building one builds an HTTP client.
fn resolver() -> &'static Resolver {
    static RESOLVER: OnceLock<Resolver> = OnceLock::new();
    RESOLVER.get_or_init(|| Resolver::with_overrides(env()))
}

fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "x",
            "db",
            "a__*",
            "[",
            "**",
            "5s",
            "250ms",
            "0s",
            "soon",
            "-1s",
            "99999999999h",
            "10/minute",
            "0/second",
            "10/fortnight",
            "1/",
            "/s",
            "required",
            "never",
            "maybe",
            "lazy",
            "eager",
            "stdio",
            "http",
            "sse",
            "postgres",
            "jira",
            "slack",
            "oracle",
            "http://127.0.0.1:1/mcp",
            "ftp://x",
            "not a url",
            "https://h/mcp?x=${Q}",
            "client_credentials",
            "authorization_code",
            "redis://127.0.0.1:6379/0",
            "${FUZZ_SECRET}",
            "${env:FUZZ_SECRET}",
            "${FUZZ_UNSET}",
            "${FUZZ_UNSET:-dflt}",
            "${FUZZ_UNSET:-}",
            "${",
            "${}",
            "${:-x}",
            "${env:}",
            "${file:}",
            "${file:/nonexistent/fuzz}",
            "${file:/dev/null}",
            "${vault:}",
            "${vault:a/b}",
            "${vault:secret/data/app#f}",
            "pre${FUZZ_SECRET}post",
            "$${X}",
            "${A${B}}",
            "${1BAD}",
            "${A-B}",
            "${A:-${B}}",
            "\u{0}",
            "é🙂",
            "\\",
            "\"",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,12}",
    ]
}

/// A TOML value of a shape the key may or may not expect.
fn toml_value() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        string_value().prop_map(|s| format!("{s:?}")),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("0".to_owned()),
        Just("true".to_owned()),
        Just("1.5".to_owned()),
        Just("nan".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
    ];
    prop_oneof![
        4 => scalar.clone(),
        1 => prop::collection::vec(scalar.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(", "))),
        1 => prop::collection::vec((key(), scalar), 0..3).prop_map(|v| {
            let pairs: Vec<String> = v.into_iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!("{{ {} }}", pairs.join(", "))
        }),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "kind", "type", "command", "args", "env", "cwd", "url", "headers", "prefix", "start",
            "required", "timeout", "max_concurrency", "health_interval", "ping_timeout",
            "exclude_tools", "token", "allow", "deny", "rate_limit", "rate", "burst", "approval",
            "name", "drain_timeout", "startup_timeout", "allowed_hosts", "allowed_origins",
            "stdio_client", "rate_limit_store", "rate_limit_prefix", "path", "redact", "fsync",
            "grant", "client_id", "client_secret", "scopes", "redirect_uri", "client_name",
            "client_metadata_url", "initial_backoff", "max_backoff", "max_failures", "window",
            "open_for", "K", "\"a__b\"", "\"db__*\"", "DATABASE_URL",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_]{1,8}",
    ]
}

fn section() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "[gateway]",
        "[audit]",
        "[servers.db]",
        "[servers.db.env]",
        "[servers.db.headers]",
        "[servers.db.oauth]",
        "[servers.db.restart]",
        "[servers.web]",
        "[servers.Bad_Name]",
        "[servers.\"\"]",
        "[clients.c]",
        "[clients.c.rate_limit]",
        "[clients.c.rate_limits]",
        "[rate_limits]",
        "[rate_limits.\"db__*\"]",
        "[tools.\"db__query\"]",
        "[tools.\"[\"]",
        "[agent]",
        "[unknown]",
        "[[servers]]",
    ])
    .prop_map(str::to_owned)
}

fn toml_file() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        1 => section(),
        4 => (key(), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => "[ -~]{0,20}",
    ];
    prop::collection::vec(line, 0..16).prop_map(|lines| lines.join("\n"))
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    let leaf = prop_oneof![
        4 => string_value().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => Just(json!(false)),
        1 => Just(json!(1e300)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_file() -> impl Strategy<Value = String> {
    use serde_json::{Value, json};
    let server = prop::collection::btree_map(key(), json_value(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()));
    let name = prop_oneof![
        Just("db".to_owned()),
        Just("Bad Name".to_owned()),
        "[a-z-]{0,6}"
    ];
    let servers = prop::collection::btree_map(name, server, 0..3)
        .prop_map(|m| Value::Object(m.into_iter().collect()));
    prop_oneof![
        4 => (servers, prop::option::of(json_value())).prop_map(|(servers, extra)| {
            let mut file = json!({ "mcpServers": servers });
            if let Some(extra) = extra {
                file["switchboard"] = extra;
            }
            file.to_string()
        }),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => ".{0,40}",
    ]
}

fn env() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("FUZZ_SECRET".to_owned(), SECRET.to_owned()),
        ("Q".to_owned(), "q".to_owned()),
    ])
}

/// Loads `text` as `name`, resolves what loads, and returns every broken rule.
fn check(dir: &Path, name: &str, text: &str) -> Vec<String> {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    let file = path.display().to_string();
    let mut found = Vec::new();
    let mut judge = |error: &ConfigError| {
        let message = error.to_string();
        if !message.starts_with(&file) {
            found.push(format!("does not name the file: {message}"));
        }
        if let ConfigError::Invalid { key, .. } | ConfigError::Secret { key, .. } = error
            && key.is_empty()
        {
            found.push(format!("names no key: {message}"));
        }
        if message.contains(SECRET) {
            found.push(format!("holds the secret: {message}"));
        }
    };
    match Config::load(&path) {
        Err(error) => judge(&error),
        Ok(config) => {
            let exe = Path::new("/bin/true");
            if let Err(error) = runtime().block_on(config.resolve_with(exe, env())) {
                judge(&error);
            }
        }
    }
    found
}

proptest! {
    #![proptest_config(fuzz::config(200))]

    #[test]
    fn prop_toml_files_load_or_name_file_and_key(text in toml_file()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let found = check(dir.path(), "switchboard.toml", &text);
        prop_assert!(found.is_empty(), "{found:?}\n{text}");
    }

    #[test]
    fn prop_json_files_load_or_name_file_and_key(text in json_file()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let found = check(dir.path(), "claude.json", &text);
        prop_assert!(found.is_empty(), "{found:?}\n{text}");
    }

    #[test]
    fn prop_templates_parse_and_resolve_without_panic(raw in prop::collection::vec(string_value(), 0..4)) {
        let raw = raw.concat();
        if let Ok(template) = Template::parse(&raw) {
            match runtime().block_on(resolver().resolve(&template, true)) {
                Ok(value) => {
                    if !raw.contains('$') {
                        prop_assert_eq!(value, raw);
                    }
                }
                Err(message) => prop_assert!(!message.contains(SECRET), "{message}"),
            }
        }
    }
}
