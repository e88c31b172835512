//! The SQL MCP server: safe, bounded, read-only SQL over MCP.
//!
//! A statement passes five independent layers before rows come back (see `README.md` at the
//! repository root, "Security model"): the [`guard`] (real PostgreSQL parser, one allowed statement,
//! function policy), the [`exec`]utor (extended protocol only, `BEGIN READ ONLY`, timeouts, always
//! rolled back), result budgets (portal read in batches, rows and bytes capped), the [`role`] check
//! at start, and cancellation of statements that outlive their deadline.

mod backend;
pub mod client;
pub mod config;
pub mod exec;
pub mod guard;
pub mod render;
pub mod role;
pub mod server;
pub mod sqlite;
pub mod tls;
mod tools;

pub use config::SqlConfig;
pub use server::{SqlServer, StartError};
