//! Streamable HTTP upstreams: rmcp's reqwest client transport with the configured headers. A
//! `Authorization: Bearer …` header is passed as the transport's bearer token; other headers are
//! sent as they are.

use std::collections::{BTreeMap, HashMap};

use http::{HeaderName, HeaderValue};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

/// Builds the transport for `url`.
///
/// # Errors
/// A message naming the header whose name or value is not valid HTTP (never the value).
pub(crate) fn transport(
    url: &str,
    headers: &BTreeMap<String, String>,
) -> Result<StreamableHttpClientTransport<reqwest::Client>, String> {
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
            .map_err(|_| format!("header {name:?} is not a valid HTTP header name"))?;
        let mut header_value = HeaderValue::try_from(value.as_str()).map_err(|_| {
            format!("the value of header {name:?} is not a valid HTTP header value")
        })?;
        header_value.set_sensitive(true);
        custom.insert(header_name, header_value);
    }
    Ok(StreamableHttpClientTransport::from_config(
        config.custom_headers(custom),
    ))
}
