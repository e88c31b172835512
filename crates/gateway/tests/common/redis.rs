//! The local Redis (127.0.0.1:6379; started here when it is down) and a key space of one
//! test's own, deleted afterwards.

use std::time::Duration;

use redis::AsyncCommands as _;

pub const REDIS: &str = "redis://127.0.0.1:6379/0";

/// A connection to the local Redis, starting it when it is not running.
pub async fn redis() -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(REDIS).unwrap();
    if client.get_multiplexed_async_connection().await.is_err() {
        let _ = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", "6379", "--save", ""])
            .args(["--appendonly", "no", "--daemonize", "yes"])
            .status();
        for _ in 0..50 {
            if client.get_multiplexed_async_connection().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis on 127.0.0.1:6379 (scripts/setup starts it)")
}

/// This test's keys, deleted when it ends (also when it fails).
pub struct KeySpace {
    pub prefix: String,
}

impl KeySpace {
    pub fn new() -> Self {
        Self {
            prefix: format!("sb-test-{}", uuid::Uuid::new_v4()),
        }
    }

    pub async fn keys(&self, redis: &mut redis::aio::MultiplexedConnection) -> Vec<String> {
        redis.keys(format!("{}:*", self.prefix)).await.unwrap()
    }
}

impl Drop for KeySpace {
    fn drop(&mut self) {
        if let Ok(client) = redis::Client::open(REDIS)
            && let Ok(mut connection) = client.get_connection()
        {
            let keys: Vec<String> =
                redis::Commands::keys(&mut connection, format!("{}:*", self.prefix))
                    .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = redis::Commands::del(&mut connection, keys);
            }
        }
    }
}
