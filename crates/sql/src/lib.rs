//! The SQL MCP server: safe, bounded, read-only SQL over MCP, on PostgreSQL or on an SQLite file.
//!
//! `DATABASE_URL` picks the backend ([`config::Target`]); the five tools (`query`, `explain`,
//! `list_schemas`, `list_tables`, `describe_table`) and the table resources are the same on both.
//! Dependencies run one way (see `README.md` in this crate): `tools/` call `database.rs`, the one
//! place that matches on the backend; it calls [`postgres`] or [`sqlite`], which share
//! [`model`], [`error`] and [`json`] and never import `tools/` or each other.
//!
//! On PostgreSQL a statement passes five independent layers before rows come back (see `README.md`
//! at the repository root, "Security model"): the [`guard`] (real PostgreSQL parser, one allowed
//! statement, function policy), the executor ([`postgres::exec`]: extended protocol only,
//! read-only, timeouts), result budgets (rows and bytes capped), the role check at start
//! ([`postgres::role`]), and cancellation of statements that outlive their deadline.
//!
//! On SQLite the same guarantees come from SQLite's own means ([`sqlite`], and `README.md` in this
//! crate): the file opened read-only with `query_only` on, an authorizer allow-list consulted while
//! SQLite prepares the statement, exactly one statement that `sqlite3_stmt_readonly` calls
//! read-only, a progress-handler deadline, and the same row and byte budgets. The guard is not
//! used there: it speaks PostgreSQL's grammar.

pub mod config;
mod database;
pub mod error;
pub mod guard;
pub mod json;
mod metrics;
pub mod model;
pub mod postgres;
pub mod server;
pub mod sqlite;
mod tools;

pub use config::SqlConfig;
pub use server::{SqlServer, StartError};
