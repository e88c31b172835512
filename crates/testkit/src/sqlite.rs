//! SQLite fixtures: the shop database of the shared SQL corpus, translated to SQLite
//! (`sqlite/shop.sql`, which says what changed in the translation), written to a file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The SQLite translation of `shared/corpus/schema.sql`.
pub const SHOP_SQL: &str = include_str!("sqlite/shop.sql");

/// Creates `dir/shop.db` loaded with [`SHOP_SQL`] and returns its path.
///
/// # Errors
/// When the file cannot be written or a statement fails.
pub fn shop_db(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("shop.db");
    create(&path, SHOP_SQL)?;
    Ok(path)
}

/// Creates the database file `path` and runs `sql` (several statements) in it.
///
/// # Errors
/// When the file cannot be written or a statement fails.
pub fn create(path: &Path, sql: &str) -> Result<()> {
    let conn =
        rusqlite::Connection::open(path).with_context(|| format!("creating {}", path.display()))?;
    conn.execute_batch(sql)
        .with_context(|| format!("loading SQL into {}", path.display()))?;
    conn.close()
        .map_err(|(_, e)| e)
        .context("closing the SQLite fixture")?;
    Ok(())
}
