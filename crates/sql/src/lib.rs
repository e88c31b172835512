//! The SQL MCP server: safe, bounded, read-only SQL over MCP, on PostgreSQL or on an SQLite file.
//!
//! `DATABASE_URL` picks the backend ([`config::Target`]); the five tools (`query`, `explain`,
//! `list_schemas`, `list_tables`, `describe_table`) and the table resources are the same on both,
//! each tool dispatching on the backend in its own file under `tools/`.
//!
//! On PostgreSQL a statement passes five independent layers before rows come back (see `README.md`
//! at the repository root, "Security model"): the [`guard`] (real PostgreSQL parser, one allowed
//! statement, function policy), the [`exec`]utor (extended protocol only, `BEGIN READ ONLY`,
//! timeouts, always rolled back), result budgets (portal read in batches, rows and bytes capped),
//! the [`role`] check at start, and cancellation of statements that outlive their deadline.
//!
//! On SQLite the same guarantees come from SQLite's own means ([`sqlite`], and `README.md` in this
//! crate): the file opened read-only with `query_only` on, an authorizer allow-list consulted while
//! SQLite prepares the statement, exactly one statement that `sqlite3_stmt_readonly` calls
//! read-only, a progress-handler deadline, and the same row and byte budgets. The guard is not
//! used there: it speaks PostgreSQL's grammar.

mod backend;
pub mod client;
pub mod config;
pub mod exec;
pub mod guard;
pub mod render;
pub mod role;
pub mod rows;
pub mod server;
pub mod sqlite;
pub mod tls;
mod tools;

pub use config::SqlConfig;
pub use server::{SqlServer, StartError};
