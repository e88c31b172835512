//! OAuth 2.1 authorization of the gateway to a Streamable HTTP upstream (the client side of MCP
//! authorization), on top of rmcp's `AuthorizationManager`.
//!
//! [`UpstreamHttpClient`] wraps the HTTP client of the transport. Until it holds a token, requests
//! go out without one; the server's `401` and its `WWW-Authenticate` challenge start discovery
//! (protected resource metadata, then authorization server metadata) and a grant:
//!
//! - `client_credentials`: the configured client ID and secret are exchanged for a token;
//! - `authorization_code` with PKCE (S256): the client is the pre-registered one, a client ID
//!   metadata document, or a dynamically registered one, in that order; the authorization
//!   request is sent and the code is read from the authorization server's redirect, which only
//!   works with servers that redirect without a login page.
//!
//! Token requests carry the resource indicator (RFC 8707). A token is refreshed shortly before it
//! expires and when the server answers `401` to it; when refreshing is not possible the grant runs
//! again. A `403` with `insufficient_scope` asks for the union of the granted and the challenged
//! scopes, at most [`MAX_STEP_UPS`] times per connection. Tokens are secrets: they are added to
//! the gateway's [`SecretSet`] (the current one and the one before it) and never logged.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::auth::{
    AuthError, AuthorizationCallback, AuthorizationManager, AuthorizationRequest,
    AuthorizationSession, ClientCredentialsConfig, OAuthTokenResponse,
};
use rmcp::transport::streamable_http_client::{
    InsufficientScopeError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use tokio::sync::Mutex;

use super::ConnectError;
use super::exchange::acting_as;
use crate::config::{OAuthGrant, ResolvedOAuth};
use crate::secrets::SecretSet;

/// Step-up authorizations (after `403 insufficient_scope`) one connection may make. With the
/// first authorization that is at most three authorization requests.
pub(crate) const MAX_STEP_UPS: u32 = 2;

type HttpError = StreamableHttpError<reqwest::Error>;

/// The transport's HTTP client: reqwest, plus OAuth when the upstream is configured with it.
#[derive(Clone)]
pub struct UpstreamHttpClient {
    http: reqwest::Client,
    oauth: Option<Arc<Authorizer>>,
}

impl UpstreamHttpClient {
    /// A client for `url`; with `oauth`, it authorizes itself as described in the module docs.
    /// `server` names the upstream in errors; tokens are added to `secrets`.
    ///
    /// # Errors
    /// [`ConnectError::HttpClient`] when reqwest cannot build its client.
    pub(crate) fn new(
        server: &str,
        url: &str,
        oauth: Option<&ResolvedOAuth>,
        secrets: &SecretSet,
    ) -> Result<Self, ConnectError> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .redirect(same_origin_redirects())
            .build()
            .map_err(|source| ConnectError::HttpClient { source })?;
        let oauth = oauth.map(|settings| {
            Arc::new(Authorizer {
                server: server.to_owned(),
                url: url.to_owned(),
                settings: settings.clone(),
                secrets: secrets.clone(),
                state: Mutex::new(State::default()),
            })
        });
        Ok(Self { http, oauth })
    }

    /// Runs `call` with the current token (or `given`, the transport's static bearer token, when
    /// OAuth is off), handling one `401` or `403 insufficient_scope` by authorizing and retrying.
    ///
    /// A request made for a person (`acting`, an exchanged token, see [`super::exchange`]) goes
    /// with that token alone: the gateway's own credentials never stand in for a person's.
    async fn authorized<T, F, Fut>(
        &self,
        given: Option<String>,
        acting: Option<String>,
        call: F,
    ) -> Result<T, HttpError>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        if acting.is_some() {
            return call(acting).await;
        }
        let Some(auth) = &self.oauth else {
            return call(given).await;
        };
        let token = auth.current_token().await?;
        match call(token.clone()).await {
            Err(StreamableHttpError::AuthRequired(challenge)) => {
                let fresh = auth
                    .after_unauthorized(token.as_deref(), &challenge.www_authenticate_header)
                    .await?;
                call(Some(fresh)).await
            }
            Err(StreamableHttpError::InsufficientScope(challenge)) => {
                match auth
                    .after_insufficient_scope(token.as_deref(), &challenge)
                    .await?
                {
                    Some(fresh) => call(Some(fresh)).await,
                    None => Err(StreamableHttpError::InsufficientScope(challenge)),
                }
            }
            other => other,
        }
    }
}

/// What the gateway knows about its authorization to one upstream.
#[derive(Default)]
struct State {
    /// The authorized manager (its credential store holds the token), once a grant succeeded.
    manager: Option<AuthorizationManager>,
    /// The latest `WWW-Authenticate` challenge of a `401`, to rediscover from.
    challenge: Option<String>,
    /// Step-up authorizations made so far.
    step_ups: u32,
    /// Scopes asked for in the latest grant.
    scopes: Vec<String>,
}

/// Runs the grants for one upstream and keeps the token.
pub(crate) struct Authorizer {
    server: String,
    url: String,
    settings: ResolvedOAuth,
    secrets: SecretSet,
    state: Mutex<State>,
}

impl Authorizer {
    /// The token to send: the stored one (refreshed when it is about to expire), a new grant when
    /// it expired and cannot be refreshed, or none before the server first asked for one.
    async fn current_token(&self) -> Result<Option<String>, AuthError> {
        let mut state = self.state.lock().await;
        let Some(manager) = &state.manager else {
            return Ok(None);
        };
        match manager.get_access_token().await {
            Ok(token) => Ok(Some(self.remember(token))),
            Err(AuthError::AuthorizationRequired) => {
                let challenge = state.challenge.clone();
                self.grant(&mut state, challenge.as_deref()).await.map(Some)
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    /// After a `401` to `sent`: the token another request already replaced it with, a refreshed
    /// token, or a new grant discovered from `challenge`.
    async fn after_unauthorized(
        &self,
        sent: Option<&str>,
        challenge: &str,
    ) -> Result<String, AuthError> {
        let mut state = self.state.lock().await;
        state.challenge = Some(challenge.to_owned());
        if let Some(manager) = &state.manager {
            match manager.get_access_token().await {
                Ok(token) if Some(token.as_str()) != sent => return Ok(self.remember(token)),
                _ => {}
            }
            if sent.is_some()
                && let Ok(response) = manager.refresh_token().await
            {
                return Ok(self.remember(token_of(&response)));
            }
        }
        self.grant(&mut state, Some(challenge)).await
    }

    /// After a `403 insufficient_scope` to `sent`: a token with the union of the granted and the
    /// challenged scopes, or `None` when that was already asked for or the step-up limit is
    /// reached.
    async fn after_insufficient_scope(
        &self,
        sent: Option<&str>,
        challenge: &InsufficientScopeError,
    ) -> Result<Option<String>, AuthError> {
        let mut state = self.state.lock().await;
        if let Some(manager) = &state.manager
            && let Ok(token) = manager.get_access_token().await
            && Some(token.as_str()) != sent
        {
            return Ok(Some(self.remember(token)));
        }
        let required: Vec<String> = challenge
            .required_scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let new: Vec<String> = required
            .into_iter()
            .filter(|s| !state.scopes.contains(s))
            .collect();
        if new.is_empty() || state.step_ups >= MAX_STEP_UPS {
            tracing::warn!(
                upstream = %self.server,
                "upstream refused a call for insufficient scope; not asking for more"
            );
            return Ok(None);
        }
        state.step_ups += 1;
        let mut scopes = state.scopes.clone();
        scopes.extend(new);
        let challenge = challenge.www_authenticate_header.clone();
        self.grant_scopes(&mut state, Some(&challenge), scopes)
            .await
            .map(Some)
    }

    /// Discovers from `challenge` and runs the configured grant with the configured scopes (or
    /// the ones discovery suggests).
    async fn grant(&self, state: &mut State, challenge: Option<&str>) -> Result<String, AuthError> {
        let scopes = self.settings.scopes.clone();
        self.grant_scopes(state, challenge, scopes).await
    }

    async fn grant_scopes(
        &self,
        state: &mut State,
        challenge: Option<&str>,
        scopes: Vec<String>,
    ) -> Result<String, AuthError> {
        tracing::info!(
            upstream = %self.server,
            grant = self.settings.grant.as_str(),
            "authorizing to upstream"
        );
        // A fresh manager each time: the authorization server may have changed, and credentials
        // of one are never presented to another.
        let mut manager = AuthorizationManager::new(self.url.as_str())
            .await
            .map_err(|e| self.failed(e))?;
        let resolution = manager
            .resolve_metadata_from_challenge(challenge)
            .await
            .map_err(|e| self.failed(e))?;
        manager.set_metadata(resolution.metadata);
        let (manager, response, scopes) = match self.settings.grant {
            OAuthGrant::ClientCredentials => self.client_credentials(manager, scopes).await?,
            OAuthGrant::AuthorizationCode => self.authorization_code(manager, scopes).await?,
        };
        tracing::info!(upstream = %self.server, "authorized to upstream");
        state.manager = Some(manager);
        state.scopes = scopes;
        Ok(self.remember(token_of(&response)))
    }

    async fn client_credentials(
        &self,
        mut manager: AuthorizationManager,
        scopes: Vec<String>,
    ) -> Result<(AuthorizationManager, OAuthTokenResponse, Vec<String>), AuthError> {
        let scopes = if scopes.is_empty() {
            manager.select_scopes(None, &[])
        } else {
            scopes
        };
        let config = ClientCredentialsConfig::ClientSecret {
            client_id: self.settings.client_id.clone().unwrap_or_default(),
            client_secret: self.settings.client_secret.clone().unwrap_or_default(),
            scopes: scopes.clone(),
            resource: Some(self.url.clone()),
        };
        manager
            .validate_client_credentials_metadata(&config)
            .and_then(|()| manager.configure_client_credentials(&config))
            .map_err(|e| self.failed(e))?;
        let response = manager
            .exchange_client_credentials(&config)
            .await
            .map_err(|e| self.failed(e))?;
        Ok((manager, response, scopes))
    }

    async fn authorization_code(
        &self,
        manager: AuthorizationManager,
        scopes: Vec<String>,
    ) -> Result<(AuthorizationManager, OAuthTokenResponse, Vec<String>), AuthError> {
        let settings = &self.settings;
        let mut request = AuthorizationRequest::new(settings.redirect_uri.clone())
            .with_client_name(settings.client_name.clone())
            .with_scopes(scopes);
        if let Some(client_id) = &settings.client_id {
            request = request.with_preregistered_client(client_id.clone());
        }
        if let Some(secret) = &settings.client_secret {
            request = request.with_client_secret(secret.clone());
        }
        if let Some(url) = &settings.client_metadata_url {
            request = request.with_client_metadata_url(url.clone());
        }
        let session = AuthorizationSession::new(manager, request)
            .await
            .map_err(|(_, e)| self.failed(e))?;
        let callback = self
            .follow_redirect(session.get_authorization_url())
            .await?;
        let response = session
            .handle_callback_with_issuer(
                &callback.code,
                &callback.csrf_token,
                callback.issuer.as_deref(),
            )
            .await
            .map_err(|e| self.failed(e))?;
        let scopes = session.auth_manager.get_current_scopes().await;
        Ok((session.auth_manager, response, scopes))
    }

    /// Sends the authorization request and reads the code from the redirect to the redirect URI.
    async fn follow_redirect(&self, auth_url: &str) -> Result<AuthorizationCallback, AuthError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let response = http.get(auth_url).send().await?;
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|_| response.status().is_redirection())
            .and_then(|l| response.url().join(l).ok());
        let Some(location) = location else {
            return Err(self.failed(AuthError::AuthorizationFailed(format!(
                "the authorization endpoint answered {} instead of redirecting: it wants an \
                 interactive login, which the gateway cannot do; use the client_credentials grant",
                response.status()
            ))));
        };
        let redirect = self.settings.redirect_uri.trim_end_matches('/');
        if !location.as_str().starts_with(redirect) {
            return Err(self.failed(AuthError::AuthorizationFailed(format!(
                "the authorization endpoint redirected to {}, not to the redirect URI: it wants \
                 an interactive login, which the gateway cannot do; use the client_credentials \
                 grant",
                strip_query(&location)
            ))));
        }
        if let Some((_, error)) = location.query_pairs().find(|(k, _)| k == "error") {
            return Err(self.failed(AuthError::AuthorizationFailed(format!(
                "the authorization server refused the authorization request: {error}"
            ))));
        }
        AuthorizationCallback::from_redirect_url(location.as_str()).map_err(|e| self.failed(e))
    }

    /// Records a token as a secret and returns it. The upstream's slot keeps this token and the
    /// one before it (a restarted upstream's new client takes the same slot).
    fn remember(&self, token: String) -> String {
        self.secrets
            .rotate(&format!("oauth access token of {}", self.server), &token);
        token
    }

    /// `error` naming the upstream.
    fn failed(&self, error: AuthError) -> AuthError {
        let message = self.secrets.scrub(&error.to_string());
        tracing::warn!(upstream = %self.server, error = %message, "upstream authorization failed");
        AuthError::AuthorizationFailed(format!(
            "OAuth authorization to upstream {:?} failed: {message}",
            self.server
        ))
    }
}

fn token_of(response: &OAuthTokenResponse) -> String {
    use oauth2::TokenResponse;
    response.access_token().secret().clone()
}

fn strip_query(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// Follows same-origin 307/308 redirects only (they keep the method and body), as rmcp's own
/// client does; anything else is returned to the transport as it is.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(attempt.status().as_u16(), 307 | 308);
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if keeps_body && same_origin && attempt.previous().len() <= 10 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

impl StreamableHttpClient for UpstreamHttpClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.authorized(auth_token, acting_as(&message), |token| {
            self.http.post_message(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.authorized(auth_token, acting_as(&message), |token| {
            self.http.post_message_with_max_sse_event_size(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.authorized(auth_token, acting_as(&message), |token| {
            self.http.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        self.authorized(auth_token, None, |token| {
            self.http.delete_session(
                uri.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>, HttpError> {
        self.authorized(auth_token, None, |token| {
            self.http.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>, HttpError> {
        self.authorized(auth_token, None, |token| {
            self.http.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }
}
