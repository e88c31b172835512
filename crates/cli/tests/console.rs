//! The operator console (`/ui`) in a real browser: headless Chromium, driven over WebDriver,
//! through every page of a running `switchboard serve --http`, without a console error, and an
//! approval decided by clicking Approve.
//!
//! `SWITCHBOARD_CONSOLE_SCREENSHOTS=docs/console` keeps a screenshot of each page there (the
//! README's pictures); otherwise they go to a temporary directory.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_testkit::browser::Browser;

const WAIT: Duration = Duration::from_secs(15);

/// `tools/call` of `tool` by client `token` over the 2026-07-28 stateless HTTP binding; the
/// JSON-RPC answer.
async fn call(url: String, token: &'static str, tool: &str, arguments: Value) -> Value {
    let request = switchboard_testkit::stateless::tools_call(&url, tool, arguments, json!({}));
    switchboard_testkit::stateless::answer(request.bearer_auth(token)).await
}

#[tokio::test]
async fn every_console_page_works_in_a_browser_and_a_click_approves_a_waiting_call() {
    let dir = tempfile::tempdir().unwrap();
    let db = switchboard_testkit::sqlite::shop_db(dir.path()).unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[audit]\npath = {audit:?}\n\
             [servers.shop]\ncommand = {bin:?}\nargs = [\"server\", \"sqlite\", {db:?}]\n\
             [tools.\"query\"]\napproval = \"required\"\n\
             [clients.ops]\ntoken = \"ops-token-0001\"\nadmin = true\n\
             [clients.ci]\ntoken = \"ci-token-0001\"\nallow = [\"list_tables\", \"query\"]\n",
            audit = dir.path().join("audit.jsonl").display().to_string(),
            bin = support::binary().display().to_string(),
            db = db.display().to_string(),
        ),
    )
    .unwrap();
    let (mut child, url) = support::serve_http(&config, &[]).await;
    let base = url.trim_end_matches("/mcp").to_owned();
    let shots = std::env::var_os("SWITCHBOARD_CONSOLE_SCREENSHOTS")
        .map_or_else(|| dir.path().to_owned(), PathBuf::from);
    let browser = Browser::start().await.unwrap();
    let clean = async |page: &str| {
        let errors = browser.console_errors().await.unwrap();
        assert!(errors.is_empty(), "{page}: console errors {errors:?}");
        browser
            .screenshot(shots.join(format!("{page}.png")))
            .await
            .unwrap();
    };

    // Not signed in: the sign-in page; a client that is not an operator is turned away.
    browser.goto(&format!("{base}/ui")).await.unwrap();
    browser.wait_for("#login", WAIT).await.unwrap();
    browser.fill("#token", "ci-token-0001").await.unwrap();
    browser.click("#login button").await.unwrap();
    browser
        .wait_for_text("#login-error", "not an operator", WAIT)
        .await
        .unwrap();
    browser.fill("#token", "ops-token-0001").await.unwrap();
    browser.click("#login button").await.unwrap();

    // Upstreams: the SQLite server, ready, with its process id.
    browser
        .wait_for_text("#upstreams [data-upstream=shop] .health", "ready", WAIT)
        .await
        .unwrap();
    let pid = browser
        .text("#upstreams [data-upstream=shop] .pid")
        .await
        .unwrap();
    assert!(pid.parse::<u32>().is_ok(), "{pid}");
    assert_eq!(browser.text(".who").await.unwrap(), "ops");
    clean("upstreams").await;

    // The catalog as client ci sees it: two tools, one needing approval.
    browser
        .goto(&format!("{base}/ui/catalog?client=ci"))
        .await
        .unwrap();
    browser.wait_for("#catalog", WAIT).await.unwrap();
    assert_eq!(
        browser.texts("#catalog .tool").await.unwrap(),
        ["list_tables", "query"]
    );
    assert_eq!(
        browser.texts("#catalog .approval").await.unwrap(),
        ["—", "required"]
    );
    clean("catalog").await;

    // Live calls: a call made elsewhere shows up as it finishes.
    browser.goto(&format!("{base}/ui/calls")).await.unwrap();
    browser
        .wait_for_text("#calls-status", "Connected", WAIT)
        .await
        .unwrap();
    let listed = call(url.clone(), "ci-token-0001", "list_tables", json!({})).await;
    assert!(listed["result"]["isError"] != json!(true), "{listed}");
    browser
        .wait_for_text("#calls tbody .tool", "list_tables", WAIT)
        .await
        .unwrap();
    clean("calls").await;

    // Approvals: a call from a client that cannot be asked waits; Approve lets it finish.
    let waiting = tokio::spawn(call(
        url.clone(),
        "ci-token-0001",
        "query",
        json!({"sql": "SELECT count(*) AS orders FROM orders"}),
    ));
    browser.goto(&format!("{base}/ui/approvals")).await.unwrap();
    browser
        .wait_for_text("section.approval h2", "query", WAIT)
        .await
        .unwrap();
    assert!(
        browser
            .text("section.approval pre.arguments")
            .await
            .unwrap()
            .contains("SELECT count(*)")
    );
    clean("approvals").await;
    assert!(!waiting.is_finished());
    browser
        .click("section.approval button.approve")
        .await
        .unwrap();
    browser
        .wait_for_text("#flash", "approved", WAIT)
        .await
        .unwrap();
    let answer = tokio::time::timeout(WAIT, waiting).await.unwrap().unwrap();
    assert!(answer["result"]["isError"] != json!(true), "{answer}");
    assert!(answer.to_string().contains("orders"), "{answer}");

    // Audit: the approved call with its decider, and the chain verified.
    browser
        .goto(&format!("{base}/ui/audit?tool=query&outcome=ok&verify=1"))
        .await
        .unwrap();
    browser
        .wait_for_text("#verify", "chain intact", WAIT)
        .await
        .unwrap();
    assert_eq!(
        browser.texts("#audit .detail").await.unwrap().len(),
        1,
        "one call of query"
    );
    assert!(
        browser
            .text("#audit .detail")
            .await
            .unwrap()
            .contains("approved by ops")
    );
    clean("audit").await;

    browser.close().await.unwrap();
    child.kill().await.unwrap();
}

/// Without a console session every page sends the browser to sign in, and a form posted
/// without the session's CSRF token changes nothing.
#[tokio::test]
async fn console_pages_need_an_operators_session_and_forms_its_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        "[clients.ops]\ntoken = \"ops-token-0001\"\nadmin = true\n",
    )
    .unwrap();
    let (mut child, url) = support::serve_http(&config, &[]).await;
    let base = url.trim_end_matches("/mcp").to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for page in [
        "/ui",
        "/ui/catalog",
        "/ui/calls",
        "/ui/calls/stream",
        "/ui/audit",
        "/ui/approvals",
    ] {
        let response = http.get(format!("{base}{page}")).send().await.unwrap();
        assert_eq!(response.status(), 303, "{page}");
        assert_eq!(response.headers()["location"], "/ui/login", "{page}");
    }
    // A bearer token is not a console session.
    let response = http
        .get(format!("{base}/ui"))
        .bearer_auth("ops-token-0001")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);

    let signed_in = http
        .post(format!("{base}/ui/login"))
        .form(&[("token", "ops-token-0001")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = http
        .get(format!("{base}/ui"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let forged = http
        .post(format!("{base}/ui/logout"))
        .header("cookie", &session)
        .form(&[("csrf", "guessed")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let still = http
        .get(format!("{base}/ui"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        still.status(),
        200,
        "a forged form did not sign the operator out"
    );
    child.kill().await.unwrap();
}
