//! The token never appears in logs (at every level, every target), tool errors or results.
//!
//! This binary installs a global subscriber capturing everything, so it holds only this test.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::Harness;
use serde_json::json;
use switchboard_testkit::slack::{Fault, TOKEN};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn token_is_absent_from_logs_errors_and_results() {
    let capture = Capture::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .init();
    let secret_part = TOKEN.rsplit('-').next().expect("token has parts");

    let h = Harness::start_with(|config| config.http.request_timeout = Duration::from_millis(300))
        .await;
    let mut outputs = Vec::new();
    outputs.push(
        h.ok(
            "post_message",
            json!({"channel": "#operations", "text": "hi"}),
        )
        .await
        .to_string(),
    );
    h.fake.inject(
        "users.list",
        Fault::RateLimited {
            retry_after_secs: 600,
        },
        1,
    );
    outputs.push(h.err("list_users", json!({})).await);
    h.fake
        .inject("users.list", Fault::ServerError { status: 500 }, 1);
    outputs.push(h.err("list_users", json!({})).await);
    h.fake.inject("users.list", Fault::Malformed, 1);
    outputs.push(h.err("list_users", json!({})).await);
    h.fake.inject(
        "users.list",
        Fault::Slow {
            delay: Duration::from_secs(1),
        },
        4,
    );
    outputs.push(h.err("list_users", json!({})).await);
    h.fake.set_scopes(&["channels:read"]);
    outputs.push(
        h.err(
            "post_message",
            json!({"channel": "#operations", "text": "scope"}),
        )
        .await,
    );
    outputs.push(format!("{:?}", common::config_for(&h.fake)));

    // A wrong token: Slack says invalid_auth; neither token is echoed.
    let mut wrong = common::config_for(&h.fake);
    wrong.token = switchboard_slack::SlackToken::new("xoxb-9-9-WrongTokenValue").expect("token");
    let server = switchboard_slack::SlackServer::new(wrong).expect("server");
    outputs.push(format!("{server:?}"));
    let client = common::connect(server.config().clone()).await;
    let result = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("list_users")
                .with_arguments(serde_json::Map::new()),
        )
        .await
        .expect("answered");
    outputs.push(common::text(&result));

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap_or_else(PoisonError::into_inner))
        .into_owned();
    assert!(
        logs.contains("chat.postMessage") || logs.contains("/api/chat.postMessage"),
        "logs were captured"
    );
    assert!(logs.contains("users.list"), "failures were logged");
    for text in outputs.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains(secret_part), "token leaked: {text}");
        assert!(!text.contains("WrongTokenValue"), "token leaked: {text}");
    }
    assert!(
        outputs.iter().any(|o| o.contains("invalid_auth")),
        "{outputs:?}"
    );
}
