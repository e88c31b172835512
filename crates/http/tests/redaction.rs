//! Credentials reach the server but never a log line, a `Debug` output or an error.
//!
//! Its own test binary: tracing caches per-callsite interest process-wide, so a thread-local
//! subscriber only sees every event when no other test runs at the same time.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use switchboard_http::{Auth, HttpClient, HttpConfig, Idempotency, Secret};

const TOKEN: &str = "s3cr3t-t0ken-value";

async fn server(seen: Arc<Mutex<Vec<HeaderMap>>>) -> String {
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let seen = seen.clone();
        async move {
            let n = {
                let mut s = seen.lock().unwrap();
                s.push(headers);
                s.len()
            };
            if n == 1 {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "0")],
                    "slow down",
                )
                    .into_response()
            } else {
                (StatusCode::UNAUTHORIZED, "{\"errorMessages\":[\"no\"]}").into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn fast_config() -> HttpConfig {
    HttpConfig {
        backoff_base: Duration::from_millis(10),
        ..HttpConfig::default()
    }
}

/// A `Write` that appends to a shared buffer, for capturing log output.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn credentials_are_sent_but_never_logged_or_printed() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = server(seen.clone()).await;
    let c = HttpClient::new(fast_config(), Auth::Bearer(Secret::new(TOKEN))).unwrap();
    let builder = c.get(&format!("{url}/private"));
    let resp = c.send(builder, Idempotency::Idempotent).await.unwrap();
    let err = resp.clone().error_for_status().unwrap_err();

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["authorization"], format!("Bearer {TOKEN}").as_str());
    assert_eq!(resp.status(), 401);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("http.request"), "spans are logged: {logs}");
    assert!(logs.contains("attempt=2"), "{logs}");
    for text in [
        logs,
        format!("{c:?}"),
        format!("{resp:?}"),
        format!("{err:?}"),
        err.to_string(),
    ] {
        assert!(!text.contains(TOKEN), "token leaked into: {text}");
    }
    let basic = HttpClient::new(
        fast_config(),
        Auth::Basic {
            username: "me@example.com".into(),
            password: Secret::new(TOKEN),
        },
    )
    .unwrap();
    assert!(!format!("{basic:?}").contains(TOKEN));
}
