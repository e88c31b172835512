//! The floor of an HTTP front for a stdio server: a process that starts the server as its
//! child, opens one MCP session with it, and serves `POST /mcp` by passing each request to the
//! child under an id of its own and the child's answer back under the client's id. It does what
//! any process between HTTP clients and one stdio server must do — read and parse the HTTP
//! request, find the JSON-RPC id, write a line to the child, route the answer line to the waiting
//! request, write the HTTP response — and nothing else: no authentication, no policy, no audit,
//! no session table (`initialize` is answered at once with a fresh session id that is never
//! checked), and a plain JSON body in both protocol eras.

use std::collections::HashMap;
use std::convert::Infallible;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;

/// How long a request waits for the child's answer before it is answered 504.
const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// Serves `http://127.0.0.1:PORT/mcp` (printed as `listening on …`) in front of `command`
/// (program and arguments), on a runtime with a worker per core, as the gateway serves HTTP.
pub(crate) fn run(command: &[String]) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("relay-http: cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("relay-http: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The child's stdin and the requests waiting for its answers, by the relay's id.
struct Relay {
    stdin: tokio::sync::Mutex<ChildStdin>,
    waiting: Mutex<HashMap<u64, oneshot::Sender<String>>>,
    next_id: AtomicU64,
}

async fn serve(command: &[String]) -> anyhow::Result<()> {
    let Some((program, args)) = command.split_first() else {
        bail!("no command to start");
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        bail!("the child's pipes are missing");
    };
    let mut lines = BufReader::new(stdout).lines();
    handshake(&mut stdin, &mut lines).await?;
    let relay = Arc::new(Relay {
        stdin: tokio::sync::Mutex::new(stdin),
        waiting: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
    });
    tokio::spawn(route_answers(lines, relay.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    eprintln!("listening on http://{}/mcp", listener.local_addr()?);
    let sessions = Arc::new(AtomicU64::new(0));
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let (relay, sessions) = (relay.clone(), sessions.clone());
        let service = hyper::service::service_fn(move |request| {
            handle(request, relay.clone(), sessions.clone())
        });
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service);
            let _ = connection.await;
        });
    }
}

/// `initialize` and `notifications/initialized` with the child: its one session.
async fn handshake(
    stdin: &mut ChildStdin,
    lines: &mut tokio::io::Lines<BufReader<ChildStdout>>,
) -> anyhow::Result<()> {
    let initialize = serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "relay-http", "version": "0"}}});
    stdin
        .write_all(format!("{initialize}\n").as_bytes())
        .await?;
    let answer = lines
        .next_line()
        .await?
        .context("the child closed its stdout")?;
    let answer: serde_json::Value = serde_json::from_str(&answer)?;
    if answer.get("result").is_none() {
        bail!("the child refused initialize: {answer}");
    }
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    stdin
        .write_all(format!("{initialized}\n").as_bytes())
        .await?;
    Ok(())
}

/// Hands each answer line of the child to the request waiting for its id.
async fn route_answers(mut lines: tokio::io::Lines<BufReader<ChildStdout>>, relay: Arc<Relay>) {
    #[derive(Deserialize)]
    struct Answer {
        id: Option<u64>,
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(Answer { id: Some(id) }) = serde_json::from_str(&line) else {
            continue; // a notification or a request of the child's: nobody waits for it
        };
        let waiter = relay.waiting.lock().ok().and_then(|mut w| w.remove(&id));
        if let Some(waiter) = waiter {
            let _ = waiter.send(line);
        }
    }
}

/// A client's JSON-RPC message, its parts kept as they were written.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<&'a RawValue>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

/// The parts of `tools/call` parameters passed on (the 2026-07-28 `_meta` is the relay's
/// business, not the child's, whose session is already open).
#[derive(Deserialize)]
struct CallParams<'a> {
    #[serde(borrow)]
    name: &'a RawValue,
    #[serde(borrow)]
    arguments: Option<&'a RawValue>,
}

/// The child's answer, its parts kept as they were written.
#[derive(Deserialize)]
struct ChildAnswer<'a> {
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

async fn handle(
    request: Request<Incoming>,
    relay: Arc<Relay>,
    sessions: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    let Ok(message) = serde_json::from_slice::<Message<'_>>(&body) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let (Some(client_id), Some(method)) = (message.id, message.method) else {
        return Ok(status(StatusCode::ACCEPTED)); // a notification
    };
    if method.get() == r#""initialize""# {
        let session = sessions.fetch_add(1, Ordering::Relaxed).to_string();
        let result = r#"{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"relay-http","version":"0"}}"#;
        let mut response = json(answer(client_id, "result", result));
        if let Ok(session) = HeaderValue::from_str(&session) {
            response.headers_mut().insert("mcp-session-id", session);
        }
        return Ok(response);
    }
    let id = relay.next_id.fetch_add(1, Ordering::Relaxed);
    let params = match (method.get(), message.params) {
        (r#""tools/call""#, Some(params)) => match serde_json::from_str::<CallParams>(params.get())
        {
            Ok(call) => format!(
                r#"{{"name":{},"arguments":{}}}"#,
                call.name,
                call.arguments.map_or("{}", RawValue::get)
            ),
            Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
        },
        (_, params) => params.map_or("{}", RawValue::get).to_owned(),
    };
    let line =
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":{method},"params":{params}}}"#) + "\n";
    let (sender, receiver) = oneshot::channel();
    if let Ok(mut waiting) = relay.waiting.lock() {
        waiting.insert(id, sender);
    }
    if relay
        .stdin
        .lock()
        .await
        .write_all(line.as_bytes())
        .await
        .is_err()
    {
        return Ok(status(StatusCode::BAD_GATEWAY));
    }
    let Ok(Ok(line)) = tokio::time::timeout(ANSWER_WAIT, receiver).await else {
        if let Ok(mut waiting) = relay.waiting.lock() {
            waiting.remove(&id);
        }
        return Ok(status(StatusCode::GATEWAY_TIMEOUT));
    };
    let body = match serde_json::from_str::<ChildAnswer>(&line) {
        Ok(ChildAnswer {
            result: Some(result),
            ..
        }) => answer(client_id, "result", result.get()),
        Ok(ChildAnswer {
            error: Some(error), ..
        }) => answer(client_id, "error", error.get()),
        _ => return Ok(status(StatusCode::BAD_GATEWAY)),
    };
    Ok(json(body))
}

/// `{"jsonrpc":"2.0","id":ID,"KIND":VALUE}`.
fn answer(id: &RawValue, kind: &str, value: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"{kind}":{value}}}"#)
}

fn json(body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}
