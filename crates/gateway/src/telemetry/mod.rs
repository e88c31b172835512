//! What the gateway tells operators about itself: Prometheus metrics ([`metrics`]).

pub mod metrics;
