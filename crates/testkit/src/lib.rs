//! Test support shared by the workspace's tests: a PostgreSQL fixture that gives each test its own
//! database, and wire-accurate fakes of the SaaS APIs that cannot run here.

pub mod anthropic;
pub mod fuzz;
pub mod jira;
pub mod mcp;
pub mod pg;
pub mod raw;
pub mod session;
pub mod slack;
pub mod sqlite;
pub mod stateless;
