//! Rendering of PostgreSQL values (binary wire format) as JSON, faithfully:
//!
//! | type | JSON |
//! |---|---|
//! | NULL | `null` |
//! | bool | `true`/`false` |
//! | int2, int4, oid; int8 within ±2^53 | number |
//! | int8 beyond ±2^53 | string of the exact digits (JSON readers would round a number) |
//! | float4, float8 | number; `"NaN"`, `"Infinity"`, `"-Infinity"` as strings |
//! | numeric | string of the exact decimal (never through a float) |
//! | text, varchar, char, name, enum labels | string |
//! | json, jsonb | the JSON value itself |
//! | uuid | string |
//! | bytea | `"\\x…"` hex string, as PostgreSQL prints it |
//! | date, time, timetz, timestamp | ISO 8601 strings |
//! | timestamptz | RFC 3339 in UTC (`2024-05-01T12:00:00Z`) |
//! | interval | PostgreSQL's own text form (`1 year 2 mons 3 days 04:05:06`) |
//! | arrays | nested JSON arrays of the element rendering |
//! | domains | as their base type |
//!
//! Any other type is not decoded here: [`is_supported`] says so, and the executor asks PostgreSQL
//! for that column's text form instead.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use postgres_protocol::types as wire;
use serde_json::Value;
use tokio_postgres::types::{Kind, Type};

use crate::json::{float, int8};

/// Microseconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// Why a value could not be decoded (a protocol mismatch, never a user error).
#[derive(Debug, thiserror::Error)]
#[error("cannot decode a value of type {type_name}: {reason}")]
pub struct DecodeError {
    type_name: String,
    reason: String,
}

impl DecodeError {
    fn new(ty: &Type, reason: impl ToString) -> Self {
        Self {
            type_name: ty.name().to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// Whether [`render`] decodes values of `ty` (including arrays and domains of such types).
pub fn is_supported(ty: &Type) -> bool {
    match ty.kind() {
        Kind::Enum(_) => true,
        Kind::Array(element) | Kind::Domain(element) => is_supported(element),
        Kind::Simple => matches!(
            *ty,
            Type::BOOL
                | Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::OID
                | Type::FLOAT4
                | Type::FLOAT8
                | Type::NUMERIC
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::CHAR
                | Type::UNKNOWN
                | Type::JSON
                | Type::JSONB
                | Type::UUID
                | Type::BYTEA
                | Type::DATE
                | Type::TIME
                | Type::TIMETZ
                | Type::TIMESTAMP
                | Type::TIMESTAMPTZ
                | Type::INTERVAL
        ),
        _ => false,
    }
}

/// Renders one value of type `ty` from its binary wire form (`None` is SQL NULL).
///
/// # Errors
/// When the bytes are not a valid value of `ty`, or `ty` is not [`is_supported`].
pub fn render(ty: &Type, raw: Option<&[u8]>) -> Result<Value, DecodeError> {
    let Some(buf) = raw else {
        return Ok(Value::Null);
    };
    match ty.kind() {
        Kind::Enum(_) => text(ty, buf),
        Kind::Domain(base) => render(base, raw),
        Kind::Array(element) => array(ty, element, buf),
        _ => scalar(ty, buf),
    }
}

fn scalar(ty: &Type, buf: &[u8]) -> Result<Value, DecodeError> {
    let err = |e: Box<dyn std::error::Error + Sync + Send>| DecodeError::new(ty, e);
    Ok(match *ty {
        Type::BOOL => Value::Bool(wire::bool_from_sql(buf).map_err(err)?),
        Type::INT2 => Value::from(wire::int2_from_sql(buf).map_err(err)?),
        Type::INT4 => Value::from(wire::int4_from_sql(buf).map_err(err)?),
        Type::OID => Value::from(wire::oid_from_sql(buf).map_err(err)?),
        Type::INT8 => int8(wire::int8_from_sql(buf).map_err(err)?),
        Type::FLOAT4 => float(f64::from(wire::float4_from_sql(buf).map_err(err)?)),
        Type::FLOAT8 => float(wire::float8_from_sql(buf).map_err(err)?),
        Type::NUMERIC => {
            Value::String(numeric(buf).ok_or_else(|| DecodeError::new(ty, "bad numeric"))?)
        }
        Type::CHAR => Value::String(char::from(buf.first().copied().unwrap_or(0)).to_string()),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => text(ty, buf)?,
        Type::JSON => serde_json::from_slice(buf).map_err(|e| DecodeError::new(ty, e))?,
        Type::JSONB => match buf.split_first() {
            Some((1, rest)) => serde_json::from_slice(rest).map_err(|e| DecodeError::new(ty, e))?,
            _ => return Err(DecodeError::new(ty, "unknown jsonb version")),
        },
        Type::UUID => Value::String(
            uuid::Uuid::from_bytes(wire::uuid_from_sql(buf).map_err(err)?).to_string(),
        ),
        Type::BYTEA => Value::String(format!("\\x{}", hex::encode(buf))),
        Type::DATE => Value::String(date(wire::date_from_sql(buf).map_err(err)?)),
        Type::TIME => Value::String(time(wire::time_from_sql(buf).map_err(err)?)),
        Type::TIMETZ => Value::String(timetz(ty, buf)?),
        Type::TIMESTAMP => Value::String(timestamp(
            wire::timestamp_from_sql(buf).map_err(err)?,
            false,
        )),
        Type::TIMESTAMPTZ => {
            Value::String(timestamp(wire::timestamp_from_sql(buf).map_err(err)?, true))
        }
        Type::INTERVAL => Value::String(interval(ty, buf)?),
        _ => return Err(DecodeError::new(ty, "no binary decoder for this type")),
    })
}

fn text(ty: &Type, buf: &[u8]) -> Result<Value, DecodeError> {
    Ok(Value::String(
        wire::text_from_sql(buf)
            .map_err(|e| DecodeError::new(ty, e))?
            .to_owned(),
    ))
}

/// Decodes PostgreSQL's binary numeric (base-10000 digits) to its exact decimal text.
fn numeric(buf: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<i32> {
        let bytes = buf.get(i * 2..i * 2 + 2)?;
        Some(i32::from(i16::from_be_bytes([bytes[0], bytes[1]])))
    };
    let ndigits = usize::try_from(word(0)?).ok()?;
    let weight = word(1)?;
    let sign = u16::from_be_bytes([*buf.get(4)?, *buf.get(5)?]);
    let dscale = usize::try_from(word(3)?).ok()?;
    match sign {
        0xC000 => return Some("NaN".to_owned()),
        0xD000 => return Some("Infinity".to_owned()),
        0xF000 => return Some("-Infinity".to_owned()),
        0x0000 | 0x4000 => {}
        _ => return None,
    }
    let digits: Vec<i32> = (0..ndigits).map(|i| word(4 + i)).collect::<Option<_>>()?;
    let digit_at = |position: i32| -> i32 {
        usize::try_from(position)
            .ok()
            .and_then(|p| digits.get(p).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for position in 0..=weight {
            let digit = digit_at(position);
            if position == 0 {
                out.push_str(&digit.to_string());
            } else {
                out.push_str(&format!("{digit:04}"));
            }
        }
    }
    if dscale > 0 {
        let mut fraction = String::new();
        let mut position = weight + 1;
        while fraction.len() < dscale {
            fraction.push_str(&format!("{:04}", digit_at(position)));
            position += 1;
        }
        fraction.truncate(dscale);
        out.push('.');
        out.push_str(&fraction);
    }
    Some(out)
}

fn pg_epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".to_owned(),
        i32::MIN => "-infinity".to_owned(),
        _ => pg_epoch_date()
            .checked_add_signed(Duration::days(i64::from(days)))
            .map_or_else(
                || format!("{days} days after 2000-01-01"),
                |d| d.to_string(),
            ),
    }
}

fn time(micros: i64) -> String {
    let seconds = u32::try_from(micros.div_euclid(1_000_000)).unwrap_or(0);
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0);
    NaiveTime::from_num_seconds_from_midnight_opt(seconds, nanos).map_or_else(
        || "24:00:00".to_owned(),
        |t| t.format("%H:%M:%S%.f").to_string(),
    )
}

fn timetz(ty: &Type, buf: &[u8]) -> Result<String, DecodeError> {
    if buf.len() != 12 {
        return Err(DecodeError::new(ty, "timetz must be 12 bytes"));
    }
    let micros = i64::from_be_bytes(buf[..8].try_into().unwrap_or_default());
    // The zone is stored in seconds *west* of UTC.
    let west = i32::from_be_bytes(buf[8..].try_into().unwrap_or_default());
    let east = -west;
    let sign = if east < 0 { '-' } else { '+' };
    let east = east.unsigned_abs();
    Ok(format!(
        "{}{sign}{:02}:{:02}",
        time(micros),
        east / 3600,
        east % 3600 / 60
    ))
}

fn timestamp(micros: i64, utc: bool) -> String {
    match micros {
        i64::MAX => return "infinity".to_owned(),
        i64::MIN => return "-infinity".to_owned(),
        _ => {}
    }
    let Some(unix) = micros.checked_add(PG_EPOCH_UNIX_MICROS) else {
        return micros.to_string();
    };
    match DateTime::<Utc>::from_timestamp_micros(unix) {
        Some(at) if utc => at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        Some(at) => at.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
        None => micros.to_string(),
    }
}

/// PostgreSQL's default (`postgres`) interval style.
fn interval(ty: &Type, buf: &[u8]) -> Result<String, DecodeError> {
    if buf.len() != 16 {
        return Err(DecodeError::new(ty, "interval must be 16 bytes"));
    }
    let micros = i64::from_be_bytes(buf[..8].try_into().unwrap_or_default());
    let days = i32::from_be_bytes(buf[8..12].try_into().unwrap_or_default());
    let months = i32::from_be_bytes(buf[12..].try_into().unwrap_or_default());
    let mut parts = Vec::new();
    let plural =
        |n: i64, one: &str, many: &str| format!("{n} {}", if n.abs() == 1 { one } else { many });
    let (years, months) = (months / 12, months % 12);
    if years != 0 {
        parts.push(plural(i64::from(years), "year", "years"));
    }
    if months != 0 {
        parts.push(plural(i64::from(months), "mon", "mons"));
    }
    if days != 0 {
        parts.push(plural(i64::from(days), "day", "days"));
    }
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 { "-" } else { "" };
        let abs = micros.unsigned_abs();
        let (hours, rest) = (abs / 3_600_000_000, abs % 3_600_000_000);
        let (minutes, rest) = (rest / 60_000_000, rest % 60_000_000);
        let (seconds, fraction) = (rest / 1_000_000, rest % 1_000_000);
        let mut clock = format!("{sign}{hours:02}:{minutes:02}:{seconds:02}");
        if fraction != 0 {
            let digits = format!("{fraction:06}");
            clock.push('.');
            clock.push_str(digits.trim_end_matches('0'));
        }
        parts.push(clock);
    }
    Ok(parts.join(" "))
}

fn array(ty: &Type, element: &Type, buf: &[u8]) -> Result<Value, DecodeError> {
    use postgres_protocol::types::ArrayDimension;
    let err = |e: Box<dyn std::error::Error + Sync + Send>| DecodeError::new(ty, e);
    let parsed = wire::array_from_sql(buf).map_err(err)?;
    let dims: Vec<ArrayDimension> = fallible_collect(parsed.dimensions()).map_err(err)?;
    let mut values = Vec::new();
    for raw in fallible_collect(parsed.values()).map_err(err)? {
        values.push(render(element, raw)?);
    }
    if dims.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let lengths: Vec<usize> = dims
        .iter()
        .map(|d| usize::try_from(d.len).unwrap_or(0))
        .collect();
    let mut iter = values.into_iter();
    Ok(nest(&lengths, &mut iter))
}

fn nest(lengths: &[usize], values: &mut impl Iterator<Item = Value>) -> Value {
    match lengths.split_first() {
        None => values.next().unwrap_or(Value::Null),
        Some((&len, [])) => Value::Array(values.take(len).collect()),
        Some((&len, rest)) => Value::Array((0..len).map(|_| nest(rest, values)).collect()),
    }
}

fn fallible_collect<I, T, E>(mut iter: I) -> Result<Vec<T>, E>
where
    I: fallible_iterator::FallibleIterator<Item = T, Error = E>,
{
    let mut out = Vec::new();
    while let Some(item) = iter.next()? {
        out.push(item);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_bytes(ndigits: i16, weight: i16, sign: u16, dscale: i16, digits: &[i16]) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [ndigits, weight] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    #[test]
    fn numeric_is_exact() {
        // Base-10000 digits 12|3456|7890|1234|5678 before the point (weight 4), 9012 after it,
        // shown with 2 decimals.
        let bytes = numeric_bytes(6, 4, 0, 2, &[12, 3456, 7890, 1234, 5678, 9012]);
        assert_eq!(numeric(&bytes).as_deref(), Some("123456789012345678.90"));
        // 1e8 with trailing zero digits omitted from the digit list.
        let bytes = numeric_bytes(1, 2, 0, 0, &[1]);
        assert_eq!(numeric(&bytes).as_deref(), Some("100000000"));
        let bytes = numeric_bytes(1, -1, 0x4000, 4, &[5]);
        assert_eq!(numeric(&bytes).as_deref(), Some("-0.0005"));
        let bytes = numeric_bytes(0, 0, 0, 0, &[]);
        assert_eq!(numeric(&bytes).as_deref(), Some("0"));
        let bytes = numeric_bytes(0, 0, 0xC000, 0, &[]);
        assert_eq!(numeric(&bytes).as_deref(), Some("NaN"));
    }

    #[test]
    fn intervals_read_like_postgres() {
        let encode = |micros: i64, days: i32, months: i32| {
            let mut out = micros.to_be_bytes().to_vec();
            out.extend_from_slice(&days.to_be_bytes());
            out.extend_from_slice(&months.to_be_bytes());
            out
        };
        let ty = Type::INTERVAL;
        assert_eq!(
            interval(&ty, &encode(14_706_000_000, 3, 14)).unwrap(),
            "1 year 2 mons 3 days 04:05:06"
        );
        assert_eq!(interval(&ty, &encode(0, 0, 0)).unwrap(), "00:00:00");
        assert_eq!(
            interval(&ty, &encode(-1_500_000, 1, 0)).unwrap(),
            "1 day -00:00:01.5"
        );
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(timestamp(0, true), "2000-01-01T00:00:00Z");
        assert_eq!(timestamp(1_500_000, false), "2000-01-01T00:00:01.500");
        assert_eq!(timestamp(i64::MAX, true), "infinity");
        assert_eq!(date(-1), "1999-12-31");
    }
}
