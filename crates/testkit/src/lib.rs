//! Test support shared by the workspace's tests: a PostgreSQL fixture that gives each test its own
//! database, wire-accurate fakes of the SaaS APIs that cannot run here, and a headless browser.

pub mod anthropic;
pub mod browser;
pub mod fuzz;
pub mod jira;
pub mod mcp;
pub mod pg;
pub mod prometheus;
pub mod raw;
pub mod session;
pub mod slack;
pub mod sqlite;
pub mod stateless;
