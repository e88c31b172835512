//! The fleet's configuration in `deploy/` is a valid Switchboard configuration: it loads, it
//! resolves with the variables `deploy/deployment.yaml` gives the pod (throwaway values here),
//! and its settings are the ones the manifests rely on — shared state in Redis, the audit in
//! PostgreSQL, `/metrics` on the port the manifests open, shutdown within the grace period.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use switchboard_gateway::Config;
use switchboard_gateway::config::ResolvedTransport;

fn deploy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name)
}

/// The names `${env:NAME}` references in `text`.
fn env_references(text: &str) -> Vec<String> {
    text.split("${env:")
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// A value of the right shape for the variable `name`, pointing nowhere.
fn throwaway(name: &str) -> String {
    if name.contains("REDIS") {
        "redis://:redis-pw-1234@redis.invalid:6379/0".to_owned()
    } else if name.ends_with("_URL") {
        format!(
            "postgres://u:pw-1234@{}.invalid:5432/db",
            name.to_lowercase()
        )
    } else {
        format!("{}-value-1234", name.to_lowercase())
    }
}

/// The number after `key:` in a YAML file's text.
fn yaml_number(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("deployment.yaml has no {key}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn deploy_configuration_loads_resolves_and_fits_the_manifests() {
    let file = deploy("switchboard.toml");
    let config = Config::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&file).unwrap();
    let manifest = std::fs::read_to_string(deploy("deployment.yaml")).unwrap();

    // Every variable the file references is one the pod is given.
    let given: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- name: "))
        .collect();
    let env: BTreeMap<String, String> = env_references(&text)
        .into_iter()
        .map(|name| {
            assert!(
                given.contains(&name.as_str()),
                "deployment.yaml sets no {name}"
            );
            let value = throwaway(&name);
            (name, value)
        })
        .collect();
    assert!(
        env.len() >= 4,
        "the secrets come from the environment: {env:?}"
    );
    let resolved = config
        .resolve_with(Path::new("/usr/local/bin/switchboard"), env.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // What the replicas share, and where the audit goes (no file: the root is read-only).
    assert_eq!(config.gateway.store_key, "state.store");
    assert_eq!(
        resolved.rate_limit_store.as_deref(),
        Some(env["SWITCHBOARD_REDIS_URL"].as_str())
    );
    assert_eq!(
        resolved.audit_sink.as_deref(),
        Some(env["SWITCHBOARD_AUDIT_DATABASE_URL"].as_str())
    );
    assert_eq!(config.audit.path, None);

    // /metrics on the port the container and the network policy open.
    let metrics: SocketAddr = "0.0.0.0:9090".parse().unwrap();
    assert_eq!(config.metrics_addr, Some(metrics));
    assert!(manifest.contains("containerPort: 9090"));

    // Serving off loopback needs a token for every client.
    assert!(!resolved.clients.is_empty());
    for client in resolved.clients.values() {
        assert!(
            client.token.is_some(),
            "{} has no token",
            client.config.name
        );
    }

    // The built-in SQL server is the image's own binary, with its database from the Secret.
    let ResolvedTransport::Stdio {
        program,
        args,
        env: server_env,
        ..
    } = &resolved.servers["db"].transport
    else {
        panic!("a built-in server runs as a child process");
    };
    assert_eq!(program, "/usr/local/bin/switchboard");
    assert_eq!(args, &["server", "postgres"]);
    assert_eq!(server_env["DATABASE_URL"], env["DATABASE_URL"]);

    // On SIGTERM: not ready at once, serving for shutdown_delay, then draining; all of it, with
    // a few seconds to stop the servers, before Kubernetes kills the pod.
    let gateway = &config.gateway;
    assert_eq!(gateway.shutdown_delay, Duration::from_secs(5));
    let grace = Duration::from_secs(yaml_number(&manifest, "terminationGracePeriodSeconds"));
    assert!(
        gateway.shutdown_delay + gateway.drain_timeout + Duration::from_secs(5) <= grace,
        "shutdown_delay {:?} + drain_timeout {:?} do not fit in {grace:?}",
        gateway.shutdown_delay,
        gateway.drain_timeout
    );
}
