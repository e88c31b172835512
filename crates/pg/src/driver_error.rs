//! tokio-postgres errors as text a person can act on.

/// The driver's error with its source chain (tokio-postgres puts the useful part in the source);
/// for an error the server sent, its message and SQLSTATE.
pub fn describe_driver_error(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
