# syntax=docker/dockerfile:1
# The gateway image: the one `switchboard` binary (it needs only glibc) on Debian slim, run as a
# non-root user.
#
# Build from the repository root, with BuildKit (needed for the cache mounts):
#   docker build -t switchboard:0.1.0 .
#   (or: docker buildx build -t registry.example.com/switchboard:0.1.0 --push .)
# Run:
#   docker run -p 8080:8080 -v "$PWD/switchboard.toml:/etc/switchboard/switchboard.toml:ro" switchboard:0.1.0
# Kubernetes manifests for a fleet of gateways: deploy/.

FROM rust:1.95-bookworm AS build
# libclang: pg_query (PostgreSQL's own parser) runs bindgen at build time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libclang-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The target directory is a cache mount, so the binary is copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p switchboard \
 && cp target/release/switchboard /usr/local/bin/switchboard

FROM debian:bookworm-slim
# The binary links only glibc (SQLite, libpg_query and the TLS stack are built in);
# ca-certificates is the root store for TLS to Jira, Slack, Anthropic and secret managers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin switchboard
COPY --from=build /usr/local/bin/switchboard /usr/local/bin/switchboard
USER 10001:10001
EXPOSE 8080
# SIGTERM: the gateway stops being ready, serves on for [gateway] shutdown_delay, drains the
# calls in flight (drain_timeout), then stops its servers.
STOPSIGNAL SIGTERM
ENTRYPOINT ["switchboard"]
CMD ["serve", "--http", "0.0.0.0:8080", "-c", "/etc/switchboard/switchboard.toml"]
