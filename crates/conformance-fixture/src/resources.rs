//! The fixture's resources: a static text, a static binary (PNG), a watched resource for the
//! subscription scenarios, and one template, `test://template/{id}/data`.

use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use serde_json::json;

use crate::data::{
    PNG_BASE64, STATIC_BINARY_URI, STATIC_TEXT, STATIC_TEXT_URI, TEMPLATE, WATCHED_TEXT,
    WATCHED_URI,
};

/// `resources/list`: the three fixed resources.
pub(crate) fn list() -> ListResourcesResult {
    ListResourcesResult::with_all_items(vec![
        Resource::new(STATIC_TEXT_URI, "static-text")
            .with_title("Static Text Resource")
            .with_description("A static text resource")
            .with_mime_type("text/plain"),
        Resource::new(STATIC_BINARY_URI, "static-binary")
            .with_title("Static Binary Resource")
            .with_description("A static binary resource (a 1x1 PNG)")
            .with_mime_type("image/png"),
        Resource::new(WATCHED_URI, "watched-resource")
            .with_title("Watched Resource")
            .with_description("A resource clients may subscribe to")
            .with_mime_type("text/plain"),
    ])
}

/// `resources/templates/list`: the one template.
pub(crate) fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(TEMPLATE, "template")
            .with_title("Resource Template")
            .with_description("A resource template with parameter substitution")
            .with_mime_type("application/json"),
    ])
}

/// `resources/read`.
///
/// # Errors
/// A resource-not-found error carrying the URI in `data` when no resource or template matches
/// (rmcp turns its code into -32602 for 2026-07-28 peers).
pub(crate) fn read(uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let contents = match uri {
        STATIC_TEXT_URI => ResourceContents::text(STATIC_TEXT, uri).with_mime_type("text/plain"),
        STATIC_BINARY_URI => ResourceContents::blob(PNG_BASE64, uri).with_mime_type("image/png"),
        WATCHED_URI => ResourceContents::text(WATCHED_TEXT, uri).with_mime_type("text/plain"),
        _ => {
            let id = template_id(uri).ok_or_else(|| not_found(uri))?;
            let body =
                json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") });
            ResourceContents::text(body.to_string(), uri).with_mime_type("application/json")
        }
    };
    Ok(ReadResourceResult::new(vec![contents]))
}

/// Fails unless `uri` names a resource this fixture serves.
///
/// # Errors
/// The same resource-not-found error as [`read`].
pub(crate) fn check_known(uri: &str) -> Result<(), ErrorData> {
    read(uri).map(|_| ())
}

fn not_found(uri: &str) -> ErrorData {
    ErrorData::resource_not_found(
        format!("no resource {uri}: list them with resources/list and resources/templates/list"),
        Some(json!({ "uri": uri })),
    )
}

/// The `{id}` of a URI matching `test://template/{id}/data` (one non-empty path segment).
fn template_id(uri: &str) -> Option<&str> {
    let id = uri
        .strip_prefix("test://template/")?
        .strip_suffix("/data")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_ids_are_one_segment() {
        assert_eq!(template_id("test://template/123/data"), Some("123"));
        assert_eq!(template_id("test://template//data"), None);
        assert_eq!(template_id("test://template/1/2/data"), None);
        assert_eq!(template_id("test://template/123"), None);
    }

    #[test]
    fn unknown_uri_is_not_found_with_the_uri_in_data() {
        let error = read("test://nope").unwrap_err();
        assert_eq!(error.data, Some(json!({ "uri": "test://nope" })));
    }

    #[test]
    fn template_read_echoes_the_id() {
        let result = read("test://template/42/data").unwrap();
        let value = serde_json::to_value(&result).unwrap();
        let text = value["contents"][0]["text"].as_str().unwrap();
        let body: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["id"], "42");
        assert_eq!(value["contents"][0]["uri"], "test://template/42/data");
    }
}
