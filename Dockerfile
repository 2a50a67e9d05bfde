# cellwatch service image (used by docker-compose.yml). Not built in CI: the
# machines here have no Docker engine; the same binary is tested natively.
FROM rust:1.88-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --bin cellwatch

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/cellwatch /usr/local/bin/cellwatch
COPY cellwatch.example.toml /etc/cellwatch/cellwatch.toml
USER nobody
ENTRYPOINT ["cellwatch"]
CMD ["run", "--config", "/etc/cellwatch/cellwatch.toml"]
