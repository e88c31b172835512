//! Test harness: a fake Jira site, the real `JiraServer` configured against it from
//! environment-style variables, and an rmcp client connected in-process over a duplex pipe.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use switchboard_jira::{JiraConfig, JiraServer};
use switchboard_testkit::jira::{API_TOKEN, EMAIL, FakeJira, Flavor, PERSONAL_TOKEN};

pub struct Harness {
    pub fake: FakeJira,
    pub client: RunningService<RoleClient, ()>,
}

/// One tool result.
#[derive(Debug)]
pub struct Outcome {
    pub is_error: bool,
    pub structured: Option<Value>,
    pub text: String,
}

impl Outcome {
    /// The structured result; fails the test with the error text otherwise.
    pub fn ok(&self) -> &Value {
        assert!(!self.is_error, "tool call failed: {}", self.text);
        self.structured
            .as_ref()
            .unwrap_or_else(|| panic!("no structuredContent: {}", self.text))
    }

    /// The error text; fails the test when the call succeeded.
    pub fn err(&self) -> &str {
        assert!(
            self.is_error,
            "expected an error, got {:?}",
            self.structured
        );
        &self.text
    }
}

/// The variables a user would set for `flavor` against `fake`.
pub fn env_for(fake: &FakeJira, flavor: Flavor) -> HashMap<String, String> {
    let mut env = HashMap::new();
    env.insert("JIRA_URL".to_owned(), fake.url());
    match flavor {
        Flavor::Cloud => {
            env.insert("JIRA_FLAVOR".to_owned(), "cloud".to_owned());
            env.insert("JIRA_USERNAME".to_owned(), EMAIL.to_owned());
            env.insert("JIRA_API_TOKEN".to_owned(), API_TOKEN.to_owned());
        }
        Flavor::DataCenter => {
            env.insert("JIRA_FLAVOR".to_owned(), "datacenter".to_owned());
            env.insert("JIRA_PERSONAL_TOKEN".to_owned(), PERSONAL_TOKEN.to_owned());
        }
    }
    env
}

/// Starts a fake of `flavor` and a server configured by `env_for` plus `tweak`.
pub async fn start(flavor: Flavor, tweak: impl FnOnce(&mut HashMap<String, String>)) -> Harness {
    let fake = FakeJira::start(flavor).await.expect("fake jira");
    let mut env = env_for(&fake, flavor);
    tweak(&mut env);
    let client = connect(&env).await;
    Harness { fake, client }
}

/// Builds the server from `env` and connects a client to it in-process.
pub async fn connect(env: &HashMap<String, String>) -> RunningService<RoleClient, ()> {
    connect_with(env, |_| {}).await
}

/// Like [`connect`], with the resolved settings adjusted by `adjust` (e.g. shorter timeouts).
pub async fn connect_with(
    env: &HashMap<String, String>,
    adjust: impl FnOnce(&mut JiraConfig),
) -> RunningService<RoleClient, ()> {
    let mut config = JiraConfig::from_lookup(&|name| env.get(name).cloned()).expect("config");
    config.http.backoff_base = Duration::from_millis(20);
    config.http.backoff_max = Duration::from_millis(100);
    adjust(&mut config);
    let server = JiraServer::new(config).expect("server");
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("client handshake")
}

impl Harness {
    pub async fn call(&self, name: &str, arguments: Value) -> Outcome {
        call(&self.client, name, arguments).await
    }

    pub async fn tools(&self) -> Vec<Tool> {
        self.client.list_all_tools().await.expect("tools/list")
    }
}

pub async fn call(
    client: &RunningService<RoleClient, ()>,
    name: &str,
    arguments: Value,
) -> Outcome {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    let params = CallToolRequestParams::new(name.to_owned()).with_arguments(arguments);
    let result = client.call_tool(params).await.expect("tools/call");
    let text = result
        .content
        .iter()
        .filter_map(|b| b.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    Outcome {
        is_error: result.is_error.unwrap_or(false),
        structured: result.structured_content,
        text,
    }
}
