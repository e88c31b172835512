//! Virtual endpoints over Streamable HTTP in both eras: `/mcp/<name>` serves a curated part of
//! the catalog, renamed and with fixed arguments, only to the clients it names; calls go through
//! the same pipeline and the audit records the endpoint.

mod common;

use common::{fixture_server, start, text};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;
use switchboard_gateway::audit;
use switchboard_gateway::downstream::serve_http;
use tokio_util::sync::CancellationToken;

const ENDPOINTS: &str = r#"
[clients.analyst]
token = "analyst-token-0000"
[clients.ci]
token = "ci-token-00000000"

[endpoints.eng]
tools = ["a__*"]
exclude = ["a__crash", "a__freeze"]
instructions = "Tools for the ENG team."
clients = ["analyst"]
[endpoints.eng.overrides."a__echo"]
rename = "say"
description = "Says the fixed text"
fixed = { text = "fixed by the endpoint" }
"#;

fn transport(url: &str, token: &str) -> StreamableHttpClientTransport<reqwest::Client> {
    StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()).auth_header(token.to_owned()),
    )
}

#[tokio::test]
async fn an_endpoint_serves_its_part_of_the_catalog_renamed_to_its_clients_in_both_eras() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[pins]\nenabled = false\n[audit]\npath = {:?}\n{ENDPOINTS}{}{}",
        dir.path().join("audit.jsonl"),
        fixture_server("a", &[]),
        fixture_server("b", &[])
    );
    let gateway = start(dir.path(), &toml).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(serve_http(gateway.clone(), listener, shutdown.clone()));
    let eng = format!("{base}/mcp/eng");

    for era in [
        ClientLifecycleMode::Initialize,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    ] {
        let client =
            ().serve_with_lifecycle(transport(&eng, "analyst-token-0000"), era)
                .await
                .unwrap();
        let info = client.peer().peer_info().unwrap();
        assert_eq!(
            info.instructions.as_deref(),
            Some("Tools for the ENG team.")
        );
        let tools = client.list_all_tools().await.unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert!(
            names.contains(&"say") && names.contains(&"a__whoami"),
            "{names:?}"
        );
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with("b__") || *n == "a__echo" || *n == "a__crash"),
            "{names:?}"
        );
        let say = tools.iter().find(|t| t.name == "say").unwrap();
        assert_eq!(say.description.as_deref(), Some("Says the fixed text"));
        assert!(
            say.input_schema
                .get("properties")
                .and_then(|p| p.get("text"))
                .is_none(),
            "the fixed argument is hidden: {:?}",
            say.input_schema
        );
        // The fixed argument wins over what the client sends.
        let mut params = CallToolRequestParams::new("say");
        params.arguments = common::args(json!({"text": "from the client"}));
        let r = client.call_tool(params).await.unwrap();
        assert_eq!(text(&r), "fixed by the endpoint");
        // Tools outside the endpoint, and the old name of a renamed one, do not exist here.
        for name in ["b__echo", "a__echo", "a__crash"] {
            let refused = client
                .call_tool(CallToolRequestParams::new(name.to_owned()))
                .await;
            assert!(refused.is_err(), "{name} was callable on the endpoint");
        }
        client.cancel().await.unwrap();
    }

    // A client the endpoint does not name is turned away; the whole catalog stays at /mcp.
    let ci = ().serve(transport(&eng, "ci-token-00000000")).await;
    match ci {
        Err(_) => {}
        Ok(client) => {
            assert!(
                client.list_all_tools().await.is_err(),
                "ci listed the eng endpoint"
            );
            client.cancel().await.unwrap();
        }
    }
    let whole = ().serve(transport(&format!("{base}/mcp"), "ci-token-00000000")).await.unwrap();
    let names: Vec<String> = whole
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    assert!(names.contains(&"a__echo".to_owned()) && names.contains(&"b__echo".to_owned()));
    whole.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;

    let records = audit::read_records(&dir.path().join("audit.jsonl")).unwrap();
    let said: Vec<_> = records
        .iter()
        .filter(|r| r.tool == "a__echo" && r.outcome == "ok")
        .collect();
    assert_eq!(said.len(), 2, "one call per era");
    for record in said {
        assert_eq!(record.endpoint.as_deref(), Some("eng"));
        assert_eq!(record.client, "analyst");
        assert_eq!(record.arguments["text"], "fixed by the endpoint");
    }
}
