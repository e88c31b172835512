//! A built-in server's own Prometheus metrics: one registry per process, which exists only once
//! the process is asked to serve it ([`enable`], from `--metrics-addr`). Until then nothing is
//! registered and counting a fact costs one atomic load.
//!
//! Each crate registers its own families on first use ([`family`]); the registry also carries
//! the process's figures (resident memory, CPU, open descriptors).

use std::sync::OnceLock;

use prometheus::{Encoder, Registry, TextEncoder};

static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Creates the process's registry (with the process collector). Call once, before the server
/// starts counting; later calls return the same registry.
pub fn enable() -> &'static Registry {
    REGISTRY.get_or_init(|| {
        let registry = Registry::new();
        // Registering the process collector fails only on a duplicate, which cannot happen here.
        let _ = registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
        registry
    })
}

/// A family of metrics, registered in the process's registry the first time it is asked for —
/// `None` (and nothing counted) when metrics are not served. `slot` is the family's own static.
///
/// # Panics
/// When `build` creates a metric whose name is already registered: a bug in the caller.
pub fn family<T>(
    slot: &'static OnceLock<Option<T>>,
    build: impl FnOnce(&Registry) -> prometheus::Result<T>,
) -> Option<&'static T> {
    let registry = REGISTRY.get()?;
    slot.get_or_init(|| Some(build(registry).expect("metric names are distinct")))
        .as_ref()
}

/// The Prometheus text exposition of every registered metric (empty when not enabled).
pub fn render() -> String {
    let Some(registry) = REGISTRY.get() else {
        return String::new();
    };
    let mut text = Vec::new();
    // Encoding to a Vec fails only on metrics the registry itself rejects at registration.
    let _ = TextEncoder::new().encode(&registry.gather(), &mut text);
    String::from_utf8(text).unwrap_or_default()
}
