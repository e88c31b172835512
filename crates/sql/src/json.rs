//! JSON numbers both backends render the same way: integers exact (as strings beyond what an
//! IEEE double holds), floats as numbers with NaN and the infinities as PostgreSQL prints them.

use serde_json::{Number, Value};

/// The largest integer a JSON reader using IEEE doubles represents exactly.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// An integer as a JSON number within ±(2^53 − 1), as a string of its exact digits beyond.
pub fn int8(value: i64) -> Value {
    if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&value) {
        Value::from(value)
    } else {
        Value::String(value.to_string())
    }
}

/// A float as a JSON number; NaN and the infinities as the strings PostgreSQL prints.
pub fn float(value: f64) -> Value {
    Number::from_f64(value).map_or_else(
        || {
            Value::String(
                if value.is_nan() {
                    "NaN"
                } else if value > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                }
                .to_owned(),
            )
        },
        Value::Number,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_beyond_safe_range_is_a_string() {
        assert_eq!(int8(42), Value::from(42));
        assert_eq!(int8(i64::MAX), Value::String("9223372036854775807".into()));
        assert_eq!(int8(-(1 << 53)), Value::String("-9007199254740992".into()));
    }

    #[test]
    fn non_finite_floats_are_strings() {
        assert_eq!(float(f64::NAN), Value::String("NaN".into()));
        assert_eq!(float(f64::NEG_INFINITY), Value::String("-Infinity".into()));
        assert_eq!(float(1.5), serde_json::json!(1.5));
    }
}
