//! One module per subcommand.

pub(crate) mod admin;
pub(crate) mod agent;
pub(crate) mod approvals;
pub(crate) mod audit;
pub(crate) mod call;
pub(crate) mod reload;
pub(crate) mod serve;
pub(crate) mod server;
pub(crate) mod tools;
