//! Layer 4 of the safety model: what the connection's role could do if every other layer failed.
//! A read-only analytics role should own nothing, hold no write privilege and no server-file or
//! program access. Findings are warned about on stderr, or refused with
//! `--require-read-only-role`.

use tokio_postgres::Client;

use super::client::describe_driver_error;

/// The query behind [`inspect`]: one row of flags about `current_user`.
const INSPECT: &str = "
SELECT r.rolname::text,
       r.rolsuper,
       r.rolcreaterole,
       r.rolbypassrls,
       pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'),
       pg_has_role(current_user, 'pg_write_server_files', 'MEMBER'),
       pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER'),
       EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relowner = r.oid AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND n.nspname NOT LIKE 'pg\\_toast%')
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspowner = r.oid
                    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
                    AND n.nspname NOT LIKE 'pg\\_%'),
       (SELECT string_agg(DISTINCT n.nspname || '.' || c.relname, ', ')
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
           AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
                OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE')))
  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

/// What the role can do beyond reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleReport {
    /// The role's name.
    pub role: String,
    /// One sentence per risky capability; empty for a read-only role.
    pub findings: Vec<String>,
}

impl RoleReport {
    /// True when nothing risky was found.
    pub fn is_read_only(&self) -> bool {
        self.findings.is_empty()
    }

    /// One line for logs and refusals.
    pub fn summary(&self) -> String {
        format!(
            "role {} is not read-only: {}. Connect as a role with only SELECT privileges (see the README's security model)",
            self.role,
            self.findings.join("; ")
        )
    }
}

/// Inspects the connection's role.
///
/// # Errors
/// When the catalog query fails (the message of the driver).
pub async fn inspect(client: &Client) -> Result<RoleReport, String> {
    let row = client
        .query_one(INSPECT, &[])
        .await
        .map_err(|e| describe_driver_error(&e))?;
    let flag = |i: usize| row.get::<_, bool>(i);
    let mut findings = Vec::new();
    if flag(1) {
        findings.push("it is a superuser".to_owned());
    }
    if flag(2) {
        findings.push("it can create roles".to_owned());
    }
    if flag(3) {
        findings.push("it bypasses row-level security".to_owned());
    }
    for (index, group) in [
        (4, "pg_read_server_files"),
        (5, "pg_write_server_files"),
        (6, "pg_execute_server_program"),
    ] {
        if flag(index) {
            findings.push(format!("it is a member of {group}"));
        }
    }
    if flag(7) {
        findings.push("it owns tables or schemas (an owner can change them)".to_owned());
    }
    if let Some(tables) = row.get::<_, Option<String>>(8) {
        let shown: String = tables.chars().take(200).collect();
        findings.push(format!("it can INSERT/UPDATE/DELETE/TRUNCATE on {shown}"));
    }
    Ok(RoleReport {
        role: row.get(0),
        findings,
    })
}
