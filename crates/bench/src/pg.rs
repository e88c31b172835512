//! The direct side of the benchmark: the throwaway database and its `orders` table, and the
//! baseline that reads it with tokio-postgres, decoding every value to JSON as the server does.

use std::error::Error;
use std::fmt::Write;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat};
use serde_json::Value;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, NoTls, Row};

/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH: i64 = 946_684_800;

/// Connects without TLS (the benchmark runs against a local server).
pub(crate) async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .context("cannot connect to PostgreSQL (see --database-url)")?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("PostgreSQL connection ended: {error}");
        }
    });
    Ok(client)
}

/// Creates the `orders` table (shape of the project's fixture schema) with `rows` rows: statuses
/// paid 40 %, shipped 35 %, pending 12 %, refunded 8 %, failed 5 %; `created_at` over 30 days.
pub(crate) async fn fill(client: &Client, rows: u64) -> anyhow::Result<()> {
    client
        .batch_execute(
            "CREATE TABLE orders (
               id bigserial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
               amount numeric(12,2) NOT NULL, currency char(3) NOT NULL DEFAULT 'EUR',
               metadata jsonb NOT NULL DEFAULT '{}', tags text[] NOT NULL DEFAULT '{}',
               created_at timestamptz NOT NULL, updated_at timestamptz)",
        )
        .await?;
    client
        .batch_execute(&format!(
            "INSERT INTO orders (customer_id, status, amount, currency, metadata, tags, created_at, updated_at)
             SELECT 1 + (g::bigint * 7919) % 5000,
                    CASE WHEN p < 5 THEN 'failed' WHEN p < 17 THEN 'pending' WHEN p < 57 THEN 'paid'
                         WHEN p < 92 THEN 'shipped' ELSE 'refunded' END,
                    ((g::bigint * 7907) % 100000) / 100.0,
                    (ARRAY['EUR','USD','GBP'])[1 + g % 3],
                    jsonb_build_object('channel', (ARRAY['web','app','phone'])[1 + g % 3], 'items', 1 + g % 5),
                    CASE WHEN g % 4 = 0 THEN ARRAY['gift','priority'] ELSE ARRAY['t' || g % 4] END,
                    c,
                    CASE WHEN g % 4 = 0 THEN NULL ELSE c + (g % 3600) * interval '1 second' END
             FROM (SELECT g, (g * 37) % 100 AS p,
                          now() - ((g::bigint * 104729) % 2592000) * interval '1 second' AS c
                   FROM generate_series(1, {rows}) g) AS s;
             CREATE INDEX orders_status_created_at ON orders (status, created_at);"
        ))
        .await
        .context("filling the orders table")?;
    // VACUUM also sets hint bits, so no timed read pays for writing them.
    client.batch_execute("VACUUM (ANALYZE) orders").await?;
    Ok(())
}

/// One row decoded to JSON values, as a client would use it.
pub(crate) fn decode(row: &Row) -> anyhow::Result<Vec<Value>> {
    (0..row.len())
        .map(|i| Ok(row.try_get::<_, Json>(i)?.0))
        .collect()
}

/// Any value of the `orders` columns as JSON: numbers, exact numeric strings, RFC 3339
/// timestamps, jsonb as JSON, arrays as arrays, NULL as null.
struct Json(Value);

type DecodeResult<T> = Result<T, Box<dyn Error + Sync + Send>>;

impl<'a> FromSql<'a> for Json {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> DecodeResult<Self> {
        let value = match *ty {
            Type::INT8 => Value::from(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::from(i32::from_sql(ty, raw)?),
            Type::TEXT | Type::BPCHAR => Value::from(<&str>::from_sql(ty, raw)?),
            Type::TEXT_ARRAY => Value::from(Vec::<String>::from_sql(ty, raw)?),
            Type::NUMERIC => Value::from(numeric(raw)?),
            Type::JSONB => serde_json::from_slice(raw.get(1..).ok_or("empty jsonb")?)?,
            Type::TIMESTAMPTZ => {
                let micros = i64::from_sql(ty, raw)? + PG_EPOCH * 1_000_000;
                let at = DateTime::from_timestamp_micros(micros).ok_or("timestamp out of range")?;
                Value::from(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }
            _ => return Err(format!("no decoder for {ty}").into()),
        };
        Ok(Self(value))
    }

    fn from_sql_null(_: &Type) -> DecodeResult<Self> {
        Ok(Self(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// PostgreSQL's binary numeric (base-10000 digit groups) as its exact decimal text.
fn numeric(raw: &[u8]) -> DecodeResult<String> {
    let word = |i: usize| -> DecodeResult<i16> {
        let bytes = raw.get(2 * i..2 * i + 2).ok_or("short numeric")?;
        Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
    };
    let (ndigits, weight) = (i32::from(word(0)?), i32::from(word(1)?));
    let (sign, scale) = (word(2)? as u16, usize::try_from(word(3)?)?);
    if sign == 0xC000 {
        return Ok("NaN".to_owned());
    }
    let digit = |g: i32| -> DecodeResult<i16> {
        if (0..ndigits).contains(&g) {
            word(4 + usize::try_from(g)?)
        } else {
            Ok(0)
        }
    };
    let mut text = String::from(if sign == 0x4000 { "-" } else { "" });
    if weight < 0 {
        text.push('0');
    }
    for g in 0..=weight {
        let _ = if g == 0 {
            write!(text, "{}", digit(g)?)
        } else {
            write!(text, "{:04}", digit(g)?)
        };
    }
    if scale > 0 {
        let mut fraction = String::new();
        let mut g = weight + 1;
        while fraction.len() < scale {
            let _ = write!(fraction, "{:04}", digit(g)?);
            g += 1;
        }
        fraction.truncate(scale);
        text = format!("{text}.{fraction}");
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::numeric;

    fn encode(ndigits: i16, weight: i16, sign: u16, scale: i16, digits: &[i16]) -> Vec<u8> {
        let mut raw = Vec::new();
        for w in [ndigits, weight, sign as i16, scale].iter().chain(digits) {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        raw
    }

    #[test]
    fn numeric_text() {
        assert_eq!(
            numeric(&encode(2, 1, 0, 2, &[12, 3456])).unwrap(),
            "123456.00"
        );
        assert_eq!(
            numeric(&encode(2, 0, 0x4000, 2, &[7, 500])).unwrap(),
            "-7.05"
        );
        assert_eq!(numeric(&encode(1, -1, 0, 2, &[1200])).unwrap(), "0.12");
        assert_eq!(numeric(&encode(0, 0, 0, 2, &[])).unwrap(), "0.00");
        assert_eq!(numeric(&encode(1, 2, 0, 0, &[5])).unwrap(), "500000000");
        assert!(numeric(&encode(2, 0, 0, 4, &[1])).is_err());
    }
}
