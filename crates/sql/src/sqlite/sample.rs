//! The sample shop database served when no database is configured: customers, products and
//! orders in an SQLite file, with a burst of failed payments in the hours before it was made.
//!
//! Timestamps are stamped relative to the moment the file is generated, so "orders that failed in
//! the last 24 hours" has an answer. To keep that true on later days, [`ensure`] regenerates the
//! file when it is older than [`MAX_AGE`]; the recent failures all lie within six hours of
//! generation, so they stay inside any 24-hour window ending less than 18 hours later.
//!
//! The file is ours only when SQLite's header carries [`APPLICATION_ID`]; any other file at the
//! path is left alone and reported. A new file is written to a temporary file beside it and
//! renamed into place, so an interrupted run never leaves a partial sample, and a server still
//! reading the previous file keeps reading it. The file is made read-only on disk.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode, OpenFlags, params};

/// The file name of the sample in its directory.
pub const FILE_NAME: &str = "sample-shop.db";

/// SQLite `application_id` marking the file as this sample ("SwSh").
pub const APPLICATION_ID: i32 = 0x5377_5368;

/// Version of the sample's schema and content (`user_version`); another version is regenerated.
const VERSION: i32 = 1;

/// Age after which the sample is regenerated.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);

/// How far in the future a generation time may lie (clock adjustments) before it counts as stale.
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// There was no sample; it was created.
    Created,
    /// The sample was current; it was left as it was.
    Reused,
    /// The sample was older than [`MAX_AGE`] (or of another version); it was regenerated.
    Refreshed,
}

/// Why the sample could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// Something other than the sample occupies the path; it was not touched.
    #[error(
        "{0} exists and is not the Switchboard sample database; it was left untouched (move it away, or choose another data directory)"
    )]
    NotOurs(PathBuf),
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed while reading or writing the sample.
    #[error("{path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

/// Makes sure `path` holds a current sample: creates it when absent, regenerates it when stale,
/// and otherwise leaves it alone (not even its modification time changes).
///
/// # Errors
/// [`SampleError::NotOurs`] when another file is at `path`; I/O or SQLite errors when the
/// directory cannot be created or the file cannot be read or written.
pub fn ensure(path: &Path, now: SystemTime) -> Result<Outcome, SampleError> {
    let outcome = match std::fs::symlink_metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Outcome::Created,
        Err(source) => return Err(io(path, source)),
        Ok(_) => match inspect(path, now)? {
            State::Current => return Ok(Outcome::Reused),
            State::Stale => Outcome::Refreshed,
        },
    };
    write(path, unix_seconds(now))?;
    Ok(outcome)
}

enum State {
    Current,
    Stale,
}

/// Reads the header and the generation time of an existing file, read-only.
fn inspect(path: &Path, now: SystemTime) -> Result<State, SampleError> {
    let sqlite = |source| SampleError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let connection =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite)?;
    let header = connection.query_row("PRAGMA application_id", [], |row| row.get::<_, i32>(0));
    match header {
        Ok(APPLICATION_ID) => {}
        Ok(_) => return Err(SampleError::NotOurs(path.to_owned())),
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            return Err(SampleError::NotOurs(path.to_owned()));
        }
        Err(error) => return Err(sqlite(error)),
    }
    let version: i32 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sqlite)?;
    if version != VERSION {
        return Ok(State::Stale);
    }
    let generated: Option<i64> = connection
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM sample_info WHERE key = 'generated_at_unix'",
            [],
            |row| row.get(0),
        )
        .ok();
    let now = unix_seconds(now);
    let fresh =
        generated.is_some_and(|at| now - at <= secs(MAX_AGE) && at - now <= secs(CLOCK_SKEW));
    Ok(if fresh { State::Current } else { State::Stale })
}

/// Generates the sample into a temporary file beside `path`, then renames it into place.
fn write(path: &Path, now: i64) -> Result<(), SampleError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
    let temp = tempfile::Builder::new()
        .prefix(".sample-shop-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|source| io(dir, source))?;
    let sqlite = |source| SampleError::Sqlite {
        path: temp.path().to_owned(),
        source,
    };
    let mut connection = Connection::open(temp.path()).map_err(sqlite)?;
    fill(&mut connection, now).map_err(sqlite)?;
    connection.close().map_err(|(_, error)| sqlite(error))?;
    let mut permissions = temp
        .as_file()
        .metadata()
        .map_err(|source| io(temp.path(), source))?
        .permissions();
    permissions.set_readonly(true);
    temp.as_file()
        .set_permissions(permissions)
        .map_err(|source| io(temp.path(), source))?;
    temp.persist(path).map_err(|error| io(path, error.error))?;
    // Make the rename itself durable.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| io(dir, source))
}

const SCHEMA: &str = "
CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    country     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE products (
    id           INTEGER PRIMARY KEY,
    sku          TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    price_cents  INTEGER NOT NULL CHECK (price_cents > 0)
);
CREATE TABLE orders (
    id              INTEGER PRIMARY KEY,
    customer_id     INTEGER NOT NULL REFERENCES customers (id),
    product_id      INTEGER NOT NULL REFERENCES products (id),
    quantity        INTEGER NOT NULL CHECK (quantity > 0),
    total_cents     INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN
                        ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded', 'failed')),
    failure_reason  TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX orders_status_created_at ON orders (status, created_at);
CREATE TABLE sample_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

const FIRST_NAMES: &[&str] = &[
    "Ada", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Luca",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace", "Silva", "Rossi", "Ivanov", "Garcia", "Haddad", "Hopper", "Tanaka", "Moreau",
    "Berg", "Adeyemi", "Conti",
];
const COUNTRIES: &[&str] = &["DE", "FR", "IT", "ES", "NL", "SE", "GB", "US", "JP", "NG"];
const PRODUCTS: &[(&str, &str, i64)] = &[
    ("MUG-01", "Enamel mug", 1_450),
    ("TEE-02", "Organic T-shirt", 2_900),
    ("CAP-03", "Canvas cap", 2_200),
    ("BAG-04", "Tote bag", 1_800),
    ("NTB-05", "Dot-grid notebook", 1_200),
    ("PEN-06", "Fountain pen", 4_900),
    ("BTL-07", "Steel water bottle", 3_400),
    ("SCK-08", "Wool socks", 1_600),
    ("HOD-09", "Hoodie", 6_500),
    ("STK-10", "Sticker pack", 600),
];
const CUSTOMERS: usize = 24;
/// Orders spread over the last 30 days.
const BACKGROUND_ORDERS: usize = 160;
/// Failed payments in the six hours before generation (the payment gateway timing out).
const RECENT_FAILURES: usize = 9;
const DAY: i64 = 86_400;

/// One order before insertion.
struct Order {
    age: i64,
    customer: i64,
    product: usize,
    quantity: i64,
    status: &'static str,
    failure_reason: Option<&'static str>,
}

/// Creates the schema and rows in one transaction and marks the file as the sample.
fn fill(connection: &mut Connection, now: i64) -> rusqlite::Result<()> {
    let mut random = SplitMix64(0x5EED_5407);
    let tx = connection.transaction()?;
    tx.execute_batch(SCHEMA)?;
    for i in 0..CUSTOMERS {
        let first = FIRST_NAMES[i % FIRST_NAMES.len()];
        let last = LAST_NAMES[(i * 5 + i / FIRST_NAMES.len()) % LAST_NAMES.len()];
        let email = format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            i + 1
        );
        let age = 60 * DAY + random.below(300) * DAY;
        tx.execute(
            "INSERT INTO customers (name, email, country, created_at)
             VALUES (?1, ?2, ?3, datetime(?4, 'unixepoch'))",
            params![
                format!("{first} {last}"),
                email,
                COUNTRIES[random.below(COUNTRIES.len() as i64) as usize],
                now - age
            ],
        )?;
    }
    for (sku, name, price) in PRODUCTS {
        tx.execute(
            "INSERT INTO products (sku, name, price_cents) VALUES (?1, ?2, ?3)",
            params![sku, name, price],
        )?;
    }
    let mut orders = orders(&mut random);
    // Oldest first, so order ids grow with time as in a real shop.
    orders.sort_by_key(|order| std::cmp::Reverse(order.age));
    for order in &orders {
        let (_, _, price) = PRODUCTS[order.product];
        tx.execute(
            "INSERT INTO orders
                 (customer_id, product_id, quantity, total_cents, status, failure_reason, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, datetime(?7, 'unixepoch'))",
            params![
                order.customer,
                order.product as i64 + 1,
                order.quantity,
                price * order.quantity,
                order.status,
                order.failure_reason,
                now - order.age
            ],
        )?;
    }
    tx.execute(
        "INSERT INTO sample_info (key, value) VALUES
             ('generated_at', datetime(?1, 'unixepoch')),
             ('generated_at_unix', ?1),
             ('about', ?2)",
        params![
            now,
            "Sample shop generated by Switchboard. Timestamps are relative to generated_at (UTC); \
             the file is regenerated when it is older than 12 hours. \
             Set DATABASE_URL to serve your own database."
        ],
    )?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()
}

/// The orders: a month of ordinary trade, then a burst of payment failures.
fn orders(random: &mut SplitMix64) -> Vec<Order> {
    let mut orders = Vec::with_capacity(BACKGROUND_ORDERS + RECENT_FAILURES);
    for _ in 0..BACKGROUND_ORDERS {
        let age = 600 + random.below(30 * DAY - 600);
        let roll = random.below(100);
        let (status, failure_reason) = if roll < 4 {
            let reasons = ["card_declined", "insufficient_funds", "fraud_check_failed"];
            ("failed", Some(reasons[random.below(3) as usize]))
        } else if age < DAY {
            (
                ["pending", "paid", "shipped"][random.below(3) as usize],
                None,
            )
        } else if age < 5 * DAY {
            (["shipped", "delivered"][random.below(2) as usize], None)
        } else if roll < 10 {
            ("cancelled", None)
        } else if roll < 14 {
            ("refunded", None)
        } else {
            ("delivered", None)
        };
        orders.push(Order {
            age,
            customer: 1 + random.below(CUSTOMERS as i64),
            product: random.below(PRODUCTS.len() as i64) as usize,
            quantity: 1 + random.below(3),
            status,
            failure_reason,
        });
    }
    for _ in 0..RECENT_FAILURES {
        orders.push(Order {
            age: 60 + random.below(6 * 3600 - 60),
            customer: 1 + random.below(CUSTOMERS as i64),
            product: random.below(PRODUCTS.len() as i64) as usize,
            quantity: 1 + random.below(3),
            status: "failed",
            failure_reason: Some("payment_gateway_timeout"),
        });
    }
    orders
}

/// A small, fixed-seed generator (SplitMix64): the same sample every time, relative to `now`.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: i64) -> i64 {
        (self.next() % bound as u64) as i64
    }
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => secs(since),
        Err(before) => -secs(before.duration()),
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn io(path: &Path, source: std::io::Error) -> SampleError {
    SampleError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn count(path: &Path, sql: &str, now: SystemTime) -> i64 {
        let connection =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        connection
            .query_row(sql, [unix_seconds(now)], |row| row.get(0))
            .unwrap()
    }

    fn failed_in_last_day(path: &Path, now: SystemTime) -> i64 {
        count(
            path,
            "SELECT count(*) FROM orders WHERE status = 'failed'
               AND created_at >= datetime(?1 - 86400, 'unixepoch')
               AND created_at <= datetime(?1, 'unixepoch')",
            now,
        )
    }

    #[test]
    fn creates_a_shop_with_failures_in_the_last_day_and_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir").join(FILE_NAME);
        let now = SystemTime::now();
        assert_eq!(ensure(&path, now).unwrap(), Outcome::Created);

        assert!(failed_in_last_day(&path, now) > 5);
        let older = "SELECT count(*) FROM orders WHERE status = 'failed'
                       AND created_at < datetime(?1 - 86400, 'unixepoch')";
        assert!(
            count(&path, older, now) > 0,
            "failures before the last day too"
        );
        assert_eq!(
            count(&path, "SELECT count(*) - 0 * ?1 FROM customers", now),
            24
        );
        assert_eq!(
            count(&path, "SELECT count(*) - 0 * ?1 FROM products", now),
            10
        );
        assert_eq!(
            count(&path, "SELECT count(*) - 0 * ?1 FROM orders", now),
            169
        );
        let in_future = "SELECT count(*) FROM orders WHERE created_at > datetime(?1, 'unixepoch')";
        assert_eq!(count(&path, in_future, now), 0);
        let other_statuses = "SELECT count(DISTINCT status) - 0 * ?1 FROM orders";
        assert!(count(&path, other_statuses, now) >= 5);
        let connection = Connection::open(&path).unwrap();
        let dangling: i64 = connection
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(dangling, 0);
    }

    #[test]
    fn leaves_only_the_read_only_sample_in_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        ensure(&path, SystemTime::now()).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE_NAME]);
        assert!(std::fs::metadata(&path).unwrap().permissions().readonly());
    }

    #[test]
    fn a_fresh_sample_is_reused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let now = SystemTime::now();
        ensure(&path, now - 11 * HOUR).unwrap();
        let before = std::fs::metadata(&path).unwrap();
        assert_eq!(ensure(&path, now).unwrap(), Outcome::Reused);
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(before.modified().unwrap(), after.modified().unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            assert_eq!(before.ino(), after.ino());
        }
        // Made 11 hours ago, its burst of failures still lies within the last 24 hours.
        assert!(failed_in_last_day(&path, now) > 5);
    }

    #[test]
    fn a_stale_sample_is_regenerated_relative_to_now() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let now = SystemTime::now();
        ensure(&path, now - 3 * 24 * HOUR).unwrap();
        assert_eq!(failed_in_last_day(&path, now), 0, "three days old: stale");
        assert_eq!(ensure(&path, now).unwrap(), Outcome::Refreshed);
        assert!(failed_in_last_day(&path, now) > 5);
        // A generation time in the future (the clock went back) is stale too.
        ensure(&path, now + 24 * HOUR).unwrap();
        assert_eq!(ensure(&path, now).unwrap(), Outcome::Refreshed);
    }

    #[test]
    fn another_file_at_the_path_is_never_touched() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.db");
        std::fs::write(&text, "not a database").unwrap();
        let other = dir.path().join("app.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let other_bytes = std::fs::read(&other).unwrap();
        for (path, bytes) in [(&text, b"not a database".to_vec()), (&other, other_bytes)] {
            let error = ensure(path, SystemTime::now()).unwrap_err();
            assert!(matches!(error, SampleError::NotOurs(_)), "{error}");
            assert!(error.to_string().contains("left untouched"), "{error}");
            assert_eq!(std::fs::read(path).unwrap(), bytes);
        }
    }

    #[test]
    fn the_same_sample_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let dump = |name: &str| {
            let path = dir.path().join(name);
            ensure(&path, now).unwrap();
            let connection = Connection::open(&path).unwrap();
            let mut statement = connection
                .prepare("SELECT group_concat(id || status || created_at, ',') FROM orders")
                .unwrap();
            statement.query_row([], |r| r.get::<_, String>(0)).unwrap()
        };
        assert_eq!(dump("a.db"), dump("b.db"));
    }
}
