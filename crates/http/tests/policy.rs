//! Black-box tests of the outbound policy against a scripted axum server on 127.0.0.1:0.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use switchboard_http::{Auth, HttpClient, HttpConfig, HttpError, Idempotency, RateLimit};

/// One scripted answer.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    delay: Duration,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        headers: vec![],
        delay: Duration::ZERO,
    }
}

fn with_header(mut r: Reply, name: &'static str, value: impl Into<String>) -> Reply {
    r.headers.push((name, value.into()));
    r
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    seen: Vec<(Method, String, HeaderMap)>,
}

type Shared = Arc<Mutex<Script>>;

async fn handler(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    _body: Bytes,
) -> Response {
    let next = {
        let mut s = state.lock().unwrap();
        s.seen.push((method, uri.path().to_owned(), headers));
        s.replies.pop_front()
    };
    let r = next.unwrap_or_else(|| reply(200));
    tokio::time::sleep(r.delay).await;
    let mut resp = (
        StatusCode::from_u16(r.status).unwrap(),
        format!("{{\"status\":{}}}", r.status),
    )
        .into_response();
    for (k, v) in r.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

async fn server(replies: Vec<Reply>) -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(Script {
        replies: replies.into(),
        seen: vec![],
    }));
    let app = Router::new().fallback(handler).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

fn fast_config() -> HttpConfig {
    HttpConfig {
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
        request_timeout: Duration::from_secs(5),
        ..HttpConfig::default()
    }
}

fn client(config: HttpConfig) -> HttpClient {
    HttpClient::new(config, Auth::None).unwrap()
}

fn hits(state: &Shared) -> usize {
    state.lock().unwrap().seen.len()
}

#[tokio::test]
async fn retries_429_honouring_retry_after_seconds() {
    let (url, state) = server(vec![with_header(reply(429), "retry-after", "1")]).await;
    let c = client(fast_config());
    let start = Instant::now();
    let resp = c
        .send(c.get(&format!("{url}/x")), Idempotency::Idempotent)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.attempts(), 2);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(hits(&state), 2);
}

#[tokio::test]
async fn retries_503_honouring_retry_after_http_date() {
    let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let (url, state) = server(vec![with_header(reply(503), "retry-after", when)]).await;
    let c = client(fast_config());
    let start = Instant::now();
    let resp = c
        .send(c.get(&format!("{url}/x")), Idempotency::Idempotent)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The date has one-second resolution: at least ~1 s must have been waited.
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(hits(&state), 2);
}

#[tokio::test]
async fn retry_after_ms_is_honoured() {
    let (url, _state) = server(vec![with_header(reply(429), "retry-after-ms", "300.5")]).await;
    let c = client(fast_config());
    let start = Instant::now();
    let resp = c
        .send(c.post(&format!("{url}/x")), Idempotency::NonIdempotent)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn retry_after_beyond_budget_gives_up_without_sleeping() {
    let (url, state) = server(vec![with_header(reply(429), "retry-after", "30")]).await;
    let c = client(HttpConfig {
        retry_budget: Duration::from_secs(2),
        ..fast_config()
    });
    let start = Instant::now();
    let err = c
        .send(c.get(&format!("{url}/x")), Idempotency::Idempotent)
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    match &err {
        HttpError::RetriesExhausted {
            last_status,
            attempts,
            waited,
            retry_after,
            ..
        } => {
            assert_eq!(*last_status, Some(StatusCode::TOO_MANY_REQUESTS));
            assert_eq!(*attempts, 1);
            assert_eq!(*waited, Duration::ZERO);
            assert_eq!(*retry_after, Some(Duration::from_secs(30)));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("429"), "{err}");
    assert_eq!(hits(&state), 1);
}

#[tokio::test]
async fn attempts_run_out_on_persistent_503() {
    let (url, state) = server(vec![reply(503); 10]).await;
    let c = client(HttpConfig {
        max_attempts: 3,
        ..fast_config()
    });
    let err = c
        .send(c.get(&format!("{url}/x")), Idempotency::Idempotent)
        .await
        .unwrap_err();
    match err {
        HttpError::RetriesExhausted {
            last_status,
            attempts,
            waited,
            ..
        } => {
            assert_eq!(last_status, Some(StatusCode::SERVICE_UNAVAILABLE));
            assert_eq!(attempts, 3);
            assert!(waited > Duration::ZERO && waited <= Duration::from_millis(80));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(hits(&state), 3);
}

#[tokio::test]
async fn non_idempotent_post_is_not_retried_on_502() {
    let (url, state) = server(vec![reply(502), reply(502)]).await;
    let c = client(fast_config());
    let resp = c
        .send(c.post(&format!("{url}/create")), Idempotency::NonIdempotent)
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(hits(&state), 1);
    let err = resp.error_for_status().unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_GATEWAY));
    assert!(err.to_string().contains("\"status\":502"), "{err}");
}

#[tokio::test]
async fn non_idempotent_post_retried_on_503_only_with_retry_after() {
    let (url, state) = server(vec![reply(503)]).await;
    let c = client(fast_config());
    let resp = c
        .send(c.post(&format!("{url}/a")), Idempotency::NonIdempotent)
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(hits(&state), 1);

    let (url, state) = server(vec![with_header(reply(503), "retry-after", "0")]).await;
    let resp = c
        .send(c.post(&format!("{url}/a")), Idempotency::NonIdempotent)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(hits(&state), 2);
}

#[tokio::test]
async fn idempotent_get_is_retried_on_502_and_504() {
    let (url, state) = server(vec![reply(502), reply(504)]).await;
    let c = client(fast_config());
    let resp = c
        .send(c.get(&format!("{url}/a")), Idempotency::Idempotent)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.attempts(), 3);
    assert_eq!(hits(&state), 3);
}

#[tokio::test]
async fn client_errors_are_final_and_returned() {
    let (url, state) = server(vec![reply(400)]).await;
    let c = client(fast_config());
    let resp = c
        .send(c.get(&format!("{url}/a")), Idempotency::Idempotent)
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(hits(&state), 1);
}

#[tokio::test]
async fn slow_non_idempotent_post_times_out_without_retry() {
    let slow = Reply {
        delay: Duration::from_secs(3),
        ..reply(200)
    };
    let (url, state) = server(vec![slow.clone(), slow]).await;
    let c = client(HttpConfig {
        request_timeout: Duration::from_millis(300),
        ..fast_config()
    });
    let err = c
        .send(c.post(&format!("{url}/slow")), Idempotency::NonIdempotent)
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("/slow"));
    assert_eq!(hits(&state), 1);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = client(HttpConfig {
        max_attempts: 2,
        ..fast_config()
    });
    let err = c
        .send(
            c.post(&format!("http://{addr}/x?token=abc")),
            Idempotency::NonIdempotent,
        )
        .await
        .unwrap_err();
    match &err {
        HttpError::RetriesExhausted {
            last_status,
            attempts,
            last,
            ..
        } => {
            assert_eq!(*last_status, None);
            assert_eq!(*attempts, 2);
            assert!(last.contains("could not connect"), "{last}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.to_string().contains("token=abc"));
}

#[tokio::test]
async fn rate_limit_spaces_requests() {
    let (url, state) = server(vec![]).await;
    let limit = RateLimit::per_second(10).with_burst(std::num::NonZeroU32::MIN);
    let c = client(HttpConfig {
        rate_limit: Some(limit),
        ..fast_config()
    });
    let start = Instant::now();
    for _ in 0..5 {
        c.send(c.get(&format!("{url}/r")), Idempotency::Idempotent)
            .await
            .unwrap();
    }
    // First immediately, then one per 100 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(390),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(hits(&state), 5);
}
