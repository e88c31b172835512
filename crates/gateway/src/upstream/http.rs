//! Streamable HTTP upstreams: rmcp's client transport over [`UpstreamHttpClient`] (reqwest, plus
//! OAuth when configured, see [`super::oauth`]) with the configured headers. A static
//! `Authorization: Bearer …` header is passed as the transport's bearer token; other headers are
//! sent as they are.

use std::collections::{BTreeMap, HashMap};

use http::{HeaderName, HeaderValue};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

use super::ConnectError;
use super::oauth::UpstreamHttpClient;
use crate::config::ResolvedOAuth;
use crate::secrets::SecretSet;

/// The transport of a Streamable HTTP upstream.
pub type HttpTransport = StreamableHttpClientTransport<UpstreamHttpClient>;

/// Builds the transport to the upstream `server` at `url`. With `oauth`, the transport
/// authorizes itself when the server asks for it; tokens it obtains are added to `secrets`.
///
/// # Errors
/// [`ConnectError::HeaderName`] or [`ConnectError::HeaderValue`] naming the header whose name or
/// value is not valid HTTP (never the value); [`ConnectError::HttpClient`] when the HTTP client
/// cannot be built.
pub fn transport(
    server: &str,
    url: &str,
    headers: &BTreeMap<String, String>,
    oauth: Option<&ResolvedOAuth>,
    secrets: &SecretSet,
) -> Result<HttpTransport, ConnectError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    let mut custom = HashMap::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("authorization")
            && let Some(token) = value.strip_prefix("Bearer ")
        {
            config = config.auth_header(token.to_owned());
            continue;
        }
        let header_name = HeaderName::try_from(name.as_str())
            .map_err(|_| ConnectError::HeaderName { name: name.clone() })?;
        let mut header_value = HeaderValue::try_from(value.as_str())
            .map_err(|_| ConnectError::HeaderValue { name: name.clone() })?;
        header_value.set_sensitive(true);
        custom.insert(header_name, header_value);
    }
    let client = UpstreamHttpClient::new(server, url, oauth, secrets)?;
    Ok(StreamableHttpClientTransport::with_client(
        client,
        config.custom_headers(custom),
    ))
}
