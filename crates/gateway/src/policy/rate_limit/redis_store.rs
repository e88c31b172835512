//! Token buckets shared by replicas, in Redis. Each take runs one Lua script, so two gateways
//! cannot both take a bucket's last token, and it reads the Redis server's clock, so the
//! replicas' clocks need not agree. The algorithm is the local backend's (GCRA): a bucket is one
//! key holding its theoretical arrival time, expiring once the bucket is full again.

use std::time::Duration;

use futures::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use super::{Limited, RateLimitBackend};
use crate::config::Rate;

/// How long connecting to Redis, and each answer, may take before the call is refused.
const TIMEOUT: Duration = Duration::from_secs(1);

/// KEYS[1]: the bucket. ARGV[1]: µs between tokens; ARGV[2]: the burst. Returns 0 when a token
/// was taken, else the µs until one is available. Times are whole µs, written with `%.0f` so
/// that Lua's default 14-digit formatting does not round them.
const TAKE: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - tolerance > now then return tat - tolerance - now end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
return 0
";

/// A connection to the shared store that gives up within [`TIMEOUT`] (connecting, and each
/// answer) rather than hold a call, and reconnects on the next use.
pub(crate) async fn connect(client: &redis::Client) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT))
        .set_number_of_retries(1);
    client.get_connection_manager_with_config(config).await
}

/// A client of the Redis at `url` (`redis://[[user]:password@]host[:port][/db]`) and how to
/// name it in messages: `redis://host:port/db`, never the password.
///
/// # Errors
/// When `url` is not a Redis URL this build can use (the message never repeats the URL).
pub(crate) fn open(url: &str) -> Result<(redis::Client, String), String> {
    let parsed = url::Url::parse(url)
        .ok()
        .filter(|u| u.scheme() == "redis" && u.host_str().is_some())
        .ok_or("is not a Redis URL: redis://[[user]:password@]host[:port][/db]")?;
    let client = redis::Client::open(url).map_err(|e| format!("cannot be used: {e}"))?;
    let target = format!(
        "redis://{}:{}{}",
        parsed.host_str().unwrap_or_default(),
        parsed.port().unwrap_or(6379),
        parsed.path()
    );
    Ok((client, target))
}

/// Buckets in Redis, under `<prefix>:rate:`.
pub struct RedisBackend {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    prefix: String,
    /// `redis://host:port/db`, for messages: never the password.
    target: String,
    take: redis::Script,
}

impl RedisBackend {
    /// A backend on the Redis at `url` (`redis://[[user]:password@]host[:port][/db]`), keeping
    /// its keys under `<prefix>:rate:`. Nothing is connected until the first call, and a failed
    /// connection is tried again on the next.
    ///
    /// # Errors
    /// When `url` is not a Redis URL this build can use (the message never repeats the URL).
    pub fn new(url: &str, prefix: &str) -> Result<Self, String> {
        let (client, target) = open(url)?;
        Ok(Self {
            client,
            connection: OnceCell::new(),
            prefix: prefix.to_owned(),
            target,
            take: redis::Script::new(TAKE),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, Limited> {
        self.connection
            .get_or_try_init(|| connect(&self.client))
            .await
            .cloned()
            .map_err(|e| self.unavailable(&e))
    }

    fn unavailable(&self, error: &redis::RedisError) -> Limited {
        Limited::Unavailable(format!(
            "the shared rate-limit store {} did not answer ({error})",
            self.target
        ))
    }
}

impl RateLimitBackend for RedisBackend {
    fn take<'a>(&'a self, key: &'a str, rate: Rate) -> BoxFuture<'a, Result<(), Limited>> {
        Box::pin(async move {
            let interval = (rate.per / rate.count.get()).as_micros().max(1);
            let mut connection = self.connection().await?;
            let wait: u64 = self
                .take
                .key(format!("{}:rate:{key}", self.prefix))
                .arg(u64::try_from(interval).unwrap_or(u64::MAX))
                .arg(rate.burst.get())
                .invoke_async(&mut connection)
                .await
                .map_err(|e| self.unavailable(&e))?;
            match wait {
                0 => Ok(()),
                micros => Err(Limited::Wait(Duration::from_micros(micros))),
            }
        })
    }
}
