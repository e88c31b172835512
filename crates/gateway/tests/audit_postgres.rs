//! The PostgreSQL audit sink against a real PostgreSQL: two replicas append to one table, each
//! its own hash chain, as a role that may only insert and read; `verify` checks every chain and
//! reports a gap or an altered line; a restarted replica continues its chain; a record that
//! cannot be written withholds the call's result; the URL's `sslmode` and `sslrootcert` decide
//! whether and how the sink's connection is encrypted.

mod common;

use std::path::{Path, PathBuf};

use common::{args, fixture_server, text, write};
use switchboard_gateway::audit::postgres;
use switchboard_gateway::{CallRequest, Config, Gateway, GatewayOptions};
use switchboard_testkit::pg::TestDb;

const TABLE_SQL: &str = "CREATE TABLE switchboard_audit (
    replica text NOT NULL, seq bigint NOT NULL, time timestamptz NOT NULL,
    prev text NOT NULL, hash text NOT NULL, line text NOT NULL,
    PRIMARY KEY (replica, seq))";

async fn replica(dir: &Path, url: &str, name: &str) -> Gateway {
    let toml = format!(
        "[pins]\nenabled = false\n[audit]\nsink = \"${{env:SB_AUDIT_URL}}\"\nreplica = {name:?}\n{}",
        fixture_server("f", &[])
    );
    let path = write(dir, &format!("{name}.toml"), &toml);
    let options = GatewayOptions {
        env: [("SB_AUDIT_URL".to_owned(), url.to_owned())].into(),
        ..GatewayOptions::default()
    };
    Gateway::start(Config::load(&path).unwrap(), options)
        .await
        .unwrap()
}

async fn echo(gateway: &Gateway, text_in: &str) -> rmcp::model::CallToolResult {
    let caller = gateway.caller("anyone", "s");
    let request = CallRequest {
        name: "echo".to_owned(),
        arguments: args(serde_json::json!({"text": text_in})),
        ..CallRequest::default()
    };
    gateway.call(&caller, request).await.into_result()
}

#[tokio::test]
async fn replicas_keep_their_own_chains_in_one_table_and_verify_finds_tampering() {
    let mut db = TestDb::new().await.unwrap();
    db.load(None, TABLE_SQL).await.unwrap();
    let role = db
        .create_role("sb_audit", "PASSWORD 'audit-pw-0001'")
        .await
        .unwrap();
    let admin = db.connect().await.unwrap();
    admin
        .batch_execute(&format!(
            "GRANT INSERT, SELECT ON switchboard_audit TO {role}"
        ))
        .await
        .unwrap();
    let url = db.url_as(&role, Some("audit-pw-0001"));
    let dir = tempfile::tempdir().unwrap();

    let (a, b) = (
        replica(dir.path(), &url, "a").await,
        replica(dir.path(), &url, "b").await,
    );
    for i in 0..3 {
        assert_eq!(text(&echo(&a, &format!("a{i}")).await), format!("a{i}"));
        assert_eq!(text(&echo(&b, &format!("b{i}")).await), format!("b{i}"));
    }
    a.shutdown().await;
    // A restarted replica continues its chain where it stopped.
    let a = replica(dir.path(), &url, "a").await;
    echo(&a, "a3").await;
    let reports = postgres::verify(&url).await.unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(
        (reports["a"].records, reports["a"].problems.len()),
        (4, 0),
        "{reports:?}"
    );
    assert_eq!(
        (reports["b"].records, reports["b"].problems.len()),
        (3, 0),
        "{reports:?}"
    );
    let records = postgres::records(&url).await.unwrap();
    assert_eq!(records.len(), 7);
    assert!(
        records
            .iter()
            .all(|r| r.replica.is_some() && r.outcome == "ok")
    );
    // The password never reaches a record or a message.
    assert!(
        !serde_json::to_string(&records)
            .unwrap()
            .contains("audit-pw-0001")
    );

    // The gateway's role can append but not rewrite history.
    let gateway_role = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let (client, connection) = gateway_role;
    tokio::spawn(connection);
    for sql in [
        "UPDATE switchboard_audit SET line = 'x'",
        "DELETE FROM switchboard_audit",
    ] {
        let error = client.batch_execute(sql).await.unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{error:?}"
        );
    }

    // Tampering (by someone with more rights) shows: a deleted record, an altered line.
    admin
        .batch_execute(
            "DELETE FROM switchboard_audit WHERE replica = 'a' AND seq = 2;
             UPDATE switchboard_audit SET line = replace(line, 'b0', 'bX') WHERE replica = 'b' AND seq = 1;",
        )
        .await
        .unwrap();
    let reports = postgres::verify(&url).await.unwrap();
    assert!(
        reports["a"]
            .problems
            .iter()
            .any(|p| p.contains("records 2..2 are missing")),
        "{reports:?}"
    );
    assert!(
        reports["b"]
            .problems
            .iter()
            .any(|p| p.contains("does not match its hash")),
        "{reports:?}"
    );

    // A record that cannot be written withholds the result.
    admin
        .batch_execute(&format!("REVOKE INSERT ON switchboard_audit FROM {role}"))
        .await
        .unwrap();
    let withheld = echo(&b, "not returned").await;
    assert_eq!(withheld.is_error, Some(true));
    assert!(
        text(&withheld).contains("audit record could not be written"),
        "{}",
        text(&withheld)
    );
    assert!(!text(&withheld).contains("not returned"));
    a.shutdown().await;
    b.shutdown().await;
    drop(client);
    drop(admin);
}

/// The error that stops a gateway whose audit sink is `url` from starting.
async fn start_error(url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[pins]\nenabled = false\n[audit]\nsink = \"${{env:SB_AUDIT_URL}}\"\n{}",
        fixture_server("f", &[])
    );
    let path = write(dir.path(), "switchboard.toml", &toml);
    let options = GatewayOptions {
        env: [("SB_AUDIT_URL".to_owned(), url.to_owned())].into(),
        ..GatewayOptions::default()
    };
    let Err(error) = Gateway::start(Config::load(&path).unwrap(), options).await else {
        panic!("the gateway started without its audit database");
    };
    error.to_string()
}

/// `url` with `query` as its query string.
fn with_query(url: &str, query: &str) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_query(Some(query));
    url.to_string()
}

/// Fails the test unless the server offers TLS.
async fn require_ssl(admin: &tokio_postgres::Client) {
    let ssl: String = admin.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    assert_eq!(
        ssl, "on",
        "this test needs the PostgreSQL server to offer TLS (ssl = on)"
    );
}

/// Whether each of this database's connections named `application_name` is encrypted, as the
/// server sees it.
async fn encrypted(admin: &tokio_postgres::Client, application_name: &str) -> Vec<bool> {
    admin
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = current_database() AND a.application_name = $1",
            &[&application_name],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn an_unreachable_audit_database_stops_the_start_naming_it_without_its_password() {
    let port = switchboard_testkit::pg::free_port().unwrap();
    let url = format!("postgres://auditor:s3cret-pw@127.0.0.1:{port}/audit");
    let error = start_error(&url).await;
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(!error.contains("s3cret-pw"), "{error}");
}

#[tokio::test]
async fn the_sink_encrypts_its_connection_as_its_sslmode_says() {
    let db = TestDb::new().await.unwrap();
    let admin = db.connect().await.unwrap();
    require_ssl(&admin).await;
    // The server's own certificate, trusted through sslrootcert (it is self-signed).
    let certificate: String = admin
        .query_one("SHOW ssl_cert_file", &[])
        .await
        .unwrap()
        .get(0);
    let data_directory: String = admin
        .query_one("SHOW data_directory", &[])
        .await
        .unwrap()
        .get(0);
    let certificate = PathBuf::from(data_directory).join(certificate);
    assert!(
        std::fs::metadata(&certificate).is_ok(),
        "this test reads the server's certificate {}",
        certificate.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("required", "sslmode=require".to_owned(), true),
        // No sslmode is libpq's prefer: TLS when the server offers it.
        ("default", String::new(), true),
        ("plain", "sslmode=disable".to_owned(), false),
        (
            "pinned",
            format!("sslmode=verify-ca&sslrootcert={}", certificate.display()),
            true,
        ),
    ];
    let mut gateways = Vec::new();
    for (name, query, expected) in &cases {
        let application_name = format!("sb_audit_{name}");
        let query = if query.is_empty() {
            format!("application_name={application_name}")
        } else {
            format!("{query}&application_name={application_name}")
        };
        let gateway = replica(dir.path(), &with_query(&db.url(), &query), name).await;
        assert_eq!(text(&echo(&gateway, name).await), *name);
        assert_eq!(
            encrypted(&admin, &application_name).await,
            [*expected],
            "{name}: {query}"
        );
        gateways.push(gateway);
    }
    let reports = postgres::verify(&with_query(&db.url(), "sslmode=require"))
        .await
        .unwrap();
    assert_eq!(reports.len(), cases.len(), "{reports:?}");
    assert!(
        reports
            .values()
            .all(|r| r.records == 1 && r.problems.is_empty()),
        "{reports:?}"
    );
    for gateway in gateways {
        gateway.shutdown().await;
    }
}

#[tokio::test]
async fn an_audit_database_that_fails_its_tls_check_stops_the_start_naming_audit_sink_without_its_password()
 {
    let mut db = TestDb::new().await.unwrap();
    require_ssl(&db.connect().await.unwrap()).await;
    let role = db
        .create_role("sb_audit", "PASSWORD 'audit-pw-0002'")
        .await
        .unwrap();
    let url = db.url_as(&role, Some("audit-pw-0002"));
    for (query, expected) in [
        // The server's certificate is self-signed: it does not chain to the public roots.
        ("sslmode=verify-full", "certificate"),
        (
            "sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
            "/nonexistent/ca.pem",
        ),
        ("sslmode=sometimes", "verify-full"),
    ] {
        let error = start_error(&with_query(&url, query)).await;
        assert!(
            error.starts_with("audit.sink: ") && error.contains(expected),
            "{query}: {error}"
        );
        assert!(!error.contains("audit-pw-0002"), "{query}: {error}");
    }
}
