//! Test harness: a fake Slack Web API and the real `SlackServer`, connected to an rmcp client over
//! an in-process duplex pipe.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use switchboard_slack::{SlackConfig, SlackServer, SlackToken};
use switchboard_testkit::slack::FakeSlack;

/// A fake Slack, a server pointed at it, and a connected MCP client.
pub struct Harness {
    pub fake: FakeSlack,
    pub client: RunningService<RoleClient, ()>,
}

/// The configuration tests start from: the fake's URL and token, short timeouts.
pub fn config_for(fake: &FakeSlack) -> SlackConfig {
    let token = SlackToken::new(fake.token()).expect("the fake's token is a bot token");
    let mut config = SlackConfig::new(token);
    config.api_url = fake.url().parse().expect("the fake's URL parses");
    config.http.request_timeout = Duration::from_secs(5);
    config.http.backoff_base = Duration::from_millis(20);
    config
}

impl Harness {
    /// Starts everything with the default configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts everything, letting the test adjust the configuration first.
    pub async fn start_with(configure: impl FnOnce(&mut SlackConfig)) -> Self {
        let fake = FakeSlack::start().await.expect("fake Slack starts");
        let mut config = config_for(&fake);
        configure(&mut config);
        let client = connect(config).await;
        Self { fake, client }
    }

    /// Calls a tool with JSON arguments.
    pub async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        let Value::Object(arguments) = arguments else {
            panic!("arguments must be an object")
        };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
            .await
            .expect("tools/call answered")
    }

    /// Calls a tool that must succeed; returns its structured content.
    pub async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments).await;
        assert_ne!(
            result.is_error,
            Some(true),
            "{tool} failed: {}",
            text(&result)
        );
        result
            .structured_content
            .clone()
            .expect("structured content")
    }

    /// Calls a tool that must fail; returns its error text.
    pub async fn err(&self, tool: &str, arguments: Value) -> String {
        let result = self.call(tool, arguments).await;
        assert_eq!(
            result.is_error,
            Some(true),
            "{tool} should fail: {}",
            text(&result)
        );
        text(&result)
    }

    /// The tools the server lists.
    pub async fn tools(&self) -> Vec<Tool> {
        self.client
            .list_all_tools()
            .await
            .expect("tools/list answered")
    }
}

/// Serves a `SlackServer` built from `config` and connects a client to it.
pub async fn connect(config: SlackConfig) -> RunningService<RoleClient, ()> {
    let (server_side, client_side) = tokio::io::duplex(1 << 20);
    let server = SlackServer::new(config).expect("server builds");
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_side).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_side).await.expect("client connects")
}

/// All text content of a result.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}
