//! Rendering of SQLite values as JSON, matching the PostgreSQL renderer where the types meet:
//!
//! | storage class | JSON |
//! |---|---|
//! | NULL | `null` |
//! | INTEGER within ±(2^53 − 1) | number |
//! | INTEGER beyond | string of the exact digits |
//! | REAL | number; `"Infinity"`, `"-Infinity"` as strings (SQLite has no NaN) |
//! | TEXT | string (invalid UTF-8 replaced by U+FFFD) |
//! | BLOB | `"\\x…"` hex string, as PostgreSQL prints bytea |

use rusqlite::types::ValueRef;
use serde_json::Value;

use crate::json::{float, int8};

/// The JSON form of one value.
pub(crate) fn render(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => int8(i),
        ValueRef::Real(f) => float(f),
        ValueRef::Text(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Blob(bytes) => Value::String(format!("\\x{}", hex::encode(bytes))),
    }
}

/// A lower bound of the bytes [`render`] will produce, known without rendering: lets a huge
/// value be refused by the byte budget before it is copied.
pub(crate) fn size_hint(value: ValueRef<'_>) -> usize {
    match value {
        ValueRef::Text(bytes) => bytes.len() + 2,
        ValueRef::Blob(bytes) => bytes.len() * 2 + 4,
        _ => 1,
    }
}

/// The storage class of a value, `None` for NULL.
pub(crate) fn storage_class(value: ValueRef<'_>) -> Option<&'static str> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(_) => Some("integer"),
        ValueRef::Real(_) => Some("real"),
        ValueRef::Text(_) => Some("text"),
        ValueRef::Blob(_) => Some("blob"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_render_like_the_postgres_renderer() {
        assert_eq!(render(ValueRef::Null), Value::Null);
        assert_eq!(
            render(ValueRef::Integer(9_007_199_254_740_991)),
            json!(9_007_199_254_740_991_i64)
        );
        assert_eq!(
            render(ValueRef::Integer(9_007_199_254_740_992)),
            json!("9007199254740992")
        );
        assert_eq!(
            render(ValueRef::Integer(i64::MIN)),
            json!("-9223372036854775808")
        );
        assert_eq!(render(ValueRef::Real(0.1)), json!(0.1));
        assert_eq!(render(ValueRef::Real(f64::INFINITY)), json!("Infinity"));
        assert_eq!(render(ValueRef::Text("zoë".as_bytes())), json!("zoë"));
        assert_eq!(render(ValueRef::Text(b"a\xffb")), json!("a\u{fffd}b"));
        assert_eq!(
            render(ValueRef::Blob(&[0xde, 0xad, 0xbe, 0xef])),
            json!("\\xdeadbeef")
        );
        for value in [ValueRef::Text(b"abc"), ValueRef::Blob(&[1, 2, 3])] {
            let encoded = serde_json::to_vec(&render(value)).unwrap().len();
            assert!(size_hint(value) <= encoded, "{value:?}");
        }
    }
}
