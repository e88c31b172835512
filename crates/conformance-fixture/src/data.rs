//! The fixed payloads the conformance scenarios look for: a 1×1 PNG, a tiny WAV, and the texts
//! of the resources and prompts.

/// A 1×1 red PNG, base64.
pub(crate) const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

/// A minimal WAV file (8 kHz mono, one sample), base64.
pub(crate) const WAV_BASE64: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

/// `test://static-text`.
pub(crate) const STATIC_TEXT_URI: &str = "test://static-text";
/// Content of `test://static-text`.
pub(crate) const STATIC_TEXT: &str = "This is the content of the static text resource.";
/// `test://static-binary` (the PNG above).
pub(crate) const STATIC_BINARY_URI: &str = "test://static-binary";
/// `test://watched-resource`, the one the subscription scenarios watch.
pub(crate) const WATCHED_URI: &str = "test://watched-resource";
/// Content of `test://watched-resource`.
pub(crate) const WATCHED_TEXT: &str = "Watched resource content";
/// The resource template with one `{id}` parameter.
pub(crate) const TEMPLATE: &str = "test://template/{id}/data";
