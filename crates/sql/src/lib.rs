//! The SQL MCP server.
pub mod render;
pub mod guard;
