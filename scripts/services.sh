#!/usr/bin/env bash
# Real services for cellwatch's integration tests and CI: an Apache Kafka 4.x broker
# (KRaft, single node, jars from Maven Central via scripts/kafka/pom.xml) and a
# ClickHouse server (Debian's clickhouse-server package), both as project-local
# processes on loopback -- no Docker, no systemd, works as root in a container.
#
#   scripts/services.sh up       install what is missing, start what is not running,
#                                wait until both answer, create the contract topics,
#                                then print the `export` lines (the only stdout output)
#   scripts/services.sh down     stop both (state is kept: the next `up` is fast)
#   scripts/services.sh status   say what runs; exit 0 only if both answer
#   scripts/services.sh env      print the `export` lines
#   scripts/services.sh purge    stop both and delete all their state (data, logs, jars)
#   scripts/services.sh kafka-up / kafka-down
#                                start (and wait for) / stop the broker alone, no topics,
#                                no SCRAM user: for tests that restart a broker of their
#                                own (with CW_SERVICES_DIR and CW_SERVICES_KAFKA_*_PORT)
#   scripts/services.sh kafka-tool kafka-topics.sh|kafka-consumer-groups.sh ARGS...
#                                run that Apache Kafka command-line tool from the
#                                installed jars (this install has no bin/*.sh), e.g.
#                                the commands `cellwatch run` prints when an internal
#                                topic has another partition count
#
# Typical use:  eval "$(scripts/services.sh up)"
#
# Ports (loopback only): Kafka PLAINTEXT 19092, KRaft controller 19093,
#                        Kafka SASL_SSL 19094 (SCRAM-SHA-512 over TLS),
#                        ClickHouse HTTP 18123, ClickHouse native TCP 19000.
# State, data and logs:  ${CW_SERVICES_DIR:-<repo>/.services}/{kafka,clickhouse}/
# Secrets (made on first use, kept in the state folder, mode 600): the broker's TLS
#   CA and certificate (openssl) in kafka/tls/, the SCRAM user `cellwatch`'s
#   password in kafka/tls/sasl.password, the ClickHouse user `cellwatch`'s password
#   in clickhouse/cellwatch.password (users.xml holds its SHA-256 only). ClickHouse's
#   `default` user keeps its empty password, loopback only, for the other tests.
# Knobs: CW_SERVICES_DIR, CW_SERVICES_TIMEOUT (seconds per service, default 120),
#        CW_KAFKA_HEAP (default "-Xms256m -Xmx768m"), JAVA_HOME (else `java` from PATH),
#        CW_SERVICES_KAFKA_PORT, CW_SERVICES_KAFKA_CONTROLLER_PORT,
#        CW_SERVICES_KAFKA_SASL_PORT, CW_SERVICES_CH_HTTP_PORT, CW_SERVICES_CH_TCP_PORT
#        (a second set of services beside the usual one, e.g. to try this script).
#
# An older setup (a broker without the SASL_SSL listener, a ClickHouse without the
# `cellwatch` user) that this state folder started is upgraded by `up`: the broker is
# restarted with the new listener, ClickHouse reloads its users file by itself.
#
# If a port is already served by a Kafka / ClickHouse that this state dir did not start
# (e.g. another checkout's services), `up` checks that it answers and reuses it.
#
# Progress goes to stderr; stdout carries only the export lines.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${CW_SERVICES_DIR:-$repo/.services}"
timeout_s="${CW_SERVICES_TIMEOUT:-120}"

kafka_port="${CW_SERVICES_KAFKA_PORT:-19092}"
kafka_controller_port="${CW_SERVICES_KAFKA_CONTROLLER_PORT:-19093}"
kafka_sasl_port="${CW_SERVICES_KAFKA_SASL_PORT:-19094}"
ch_http_port="${CW_SERVICES_CH_HTTP_PORT:-18123}"
ch_tcp_port="${CW_SERVICES_CH_TCP_PORT:-19000}"

# The authenticated users (passwords are made on first use, see tls_setup / ch_user_setup).
sasl_user=cellwatch
sasl_mechanism=SCRAM-SHA-512
ch_user=cellwatch

kafka_dir="$state/kafka"
kafka_libs="$kafka_dir/libs"
kafka_pom="$repo/scripts/kafka/pom.xml"
kafka_pidfile="$kafka_dir/kafka.pid"
kafka_heap="${CW_KAFKA_HEAP:--Xms256m -Xmx768m}"
tls_dir="$kafka_dir/tls"
keystore_password=cellwatch-local-keystore

ch_dir="$state/clickhouse"
ch_pidfile="$ch_dir/clickhouse.pid"
ch_bin=/usr/sbin/clickhouse-server
ch_url="http://127.0.0.1:$ch_http_port"
ch_password_file="$ch_dir/cellwatch.password"

# The topics of the contract (docs/contract.md), 4 partitions each, and the internal
# topics of the staged topology (docs/streaming.md#topology), 1 partition each
# (meas-by-cell must have `[kafka] measurement_partitions` partitions, 1 by default:
# with N there, write @N below before the first start, as the service refuses a topic
# with another count; the transmitters topic is read only when that is above 1, and
# must then have `[kafka] transmitter_partitions` partitions, 1 by default).
# Format: name[:extra --config][@partitions], one per line.
contract_topics=(
  "cw.sms-volume.v1"
  "cw.cell-measurements.v1"
  "cw.cell-inventory.v1:cleanup.policy=compact"
  "cw.allowlist.v1:cleanup.policy=compact"
  "cw.cases.v1"
  "cw.dead-letter.v1"
  "cellwatch.internal.sms-by-sim@1"
  "cellwatch.internal.meas-by-cell@1"
  "cellwatch.internal.meas-transmitters@1"
  "cellwatch.internal.sms-cross-sim@1"
)
topic_partitions=4

# Set by kafka_start / ch_start when an already-listening server is reused.
kafka_foreign=0
ch_foreign=0

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

print_env() {
  printf 'export CW_KAFKA_BROKERS=127.0.0.1:%s\n' "$kafka_port"
  printf 'export CW_CLICKHOUSE_URL=http://127.0.0.1:%s\n' "$ch_http_port"
  if [[ -s "$tls_dir/sasl.password" && -s "$ch_password_file" ]]; then
    printf 'export CW_KAFKA_SASL_SSL_BROKERS=127.0.0.1:%s\n' "$kafka_sasl_port"
    printf 'export CW_KAFKA_SASL_MECHANISMS=%s\n' "$sasl_mechanism"
    printf 'export CW_KAFKA_SASL_USERNAME=%s\n' "$sasl_user"
    printf 'export CW_KAFKA_SASL_PASSWORD=%s\n' "$(<"$tls_dir/sasl.password")"
    printf 'export CW_KAFKA_SSL_CA_LOCATION=%s\n' "$tls_dir/ca.pem"
    printf 'export CW_CLICKHOUSE_USER=%s\n' "$ch_user"
    printf 'export CW_CLICKHOUSE_PASSWORD=%s\n' "$(<"$ch_password_file")"
  fi
}

now_s() { date +%s; }

# Is TCP port $1 on 127.0.0.1 accepting connections?
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid from pidfile $1 if that process is alive and its command line contains $2.
live_pid() {
  local pidfile="$1" pattern="$2" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern" || return 1
  printf '%s\n' "$pid"
}

# Whether the pid file names a live process while we wait for the daemon we have
# just started (its pid, written seconds ago: no stale file). Its command line is
# not proof of anything then: a daemon started with `… &` is a forked copy of this
# script until it execs setsid, nohup and the server, and while a loaded machine
# runs those execs /proc/<pid>/cmdline can read as none of them (seen: a live pid
# whose command line matched neither the server nor this script, so the start was
# reported as a crash with empty logs). Only a process that is gone has exited.
starting() {
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(<"$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# Print the last lines of each given log file (that exists) to stderr.
tail_logs() {
  local f
  for f in "$@"; do
    [[ -s "$f" ]] || continue
    printf '[services] ---- last lines of %s ----\n' "$f" >&2
    tail -n 30 "$f" >&2 || true
  done
  printf '[services] ----\n' >&2
}

stop_pid() {
  local name="$1" pidfile="$2" pattern="$3" pid i
  if ! pid="$(live_pid "$pidfile" "$pattern")"; then
    rm -f "$pidfile"
    log "$name: not running"
    return 0
  fi
  log "$name: stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do   # up to 60 s for a clean shutdown
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: still alive after 60 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  log "$name: stopped"
}

# ---------------------------------------------------------------- installation

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    printf '%s\n' "$JAVA_HOME/bin/java"
  else
    command -v java || true
  fi
}

java_major() {
  local j="$1" v
  v="$("$j" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\)[."].*/\1/p' | head -n 1)"
  printf '%s\n' "${v:-0}"
}

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root (or passwordless sudo) to run: $*"
  fi
}

apt_install() {
  local aptlog="$state/apt.log"
  log "installing Debian packages: $* (log: $aptlog)"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update >"$aptlog" 2>&1; then
    tail_logs "$aptlog"
    die "apt-get update failed"
  fi
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      -o DPkg::Lock::Timeout=300 "$@" >>"$aptlog" 2>&1; then
    tail_logs "$aptlog"
    die "apt-get install $* failed"
  fi
}

install_prereqs() {
  local pkgs=() j
  command -v curl >/dev/null 2>&1 || pkgs+=(curl)
  command -v setsid >/dev/null 2>&1 || pkgs+=(util-linux)
  command -v openssl >/dev/null 2>&1 || pkgs+=(openssl)
  [[ -x "$ch_bin" ]] || pkgs+=(clickhouse-server clickhouse-client)
  j="$(java_bin)"
  if [[ -z "$j" ]] || (( $(java_major "$j") < 17 )); then
    pkgs+=(openjdk-17-jre-headless)
  fi
  # Maven is only needed while the Kafka jars are not fetched yet.
  if ! kafka_libs_current && ! command -v mvn >/dev/null 2>&1; then
    pkgs+=(maven)
  fi
  if ((${#pkgs[@]})); then
    apt_install "${pkgs[@]}"
  fi
  [[ -x "$ch_bin" ]] || die "$ch_bin missing after installing clickhouse-server"
  j="$(java_bin)"
  [[ -n "$j" ]] || die "no java after installing openjdk-17-jre-headless"
}

# ------------------------------------------------------------------ secrets

# A random secret: 24 URL-safe characters.
new_secret() { head -c 18 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n'; }

# The broker's TLS material and the SCRAM password, made once per state folder: a local
# CA (ca.pem, the file clients trust), the broker's key and certificate for 127.0.0.1 /
# localhost signed by it, as a PKCS#12 keystore (broker.p12).
tls_setup() {
  if [[ -s "$tls_dir/broker.p12" && -s "$tls_dir/ca.pem" && -s "$tls_dir/sasl.password" ]]; then
    return 0
  fi
  local tmp="$tls_dir.tmp" tlslog="$kafka_dir/logs/tls.log"
  rm -rf "$tmp"
  mkdir -p "$tmp" "$kafka_dir/logs"
  chmod 700 "$tmp"
  log "kafka: making a local CA and the broker's TLS certificate with openssl ($tls_dir)"
  if ! (
    set -e
    cd "$tmp"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
      -subj "/CN=cellwatch local test CA" -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
      -keyout broker.key -out broker.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >san.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -sha256 -extfile san.ext -out broker.pem
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -passout "pass:$keystore_password" -out broker.p12
    new_secret >sasl.password
    chmod 644 ca.pem
  ) >"$tlslog" 2>&1; then
    tail_logs "$tlslog"
    die "kafka: could not make the TLS certificates with openssl (see above)"
  fi
  rm -rf "$tls_dir"
  mv "$tmp" "$tls_dir"
}

# The state folder of the process serving a port that this state folder did not start
# (another checkout's services): found through the process's own config file, so its
# secrets can be used. Prints nothing when it cannot be found.
#   foreign_state kafka|clickhouse
foreign_state() {
  local f
  if [[ "$1" == kafka ]]; then
    for f in $(ps -eo args | grep -oE '[^ ]+/kafka/config/server\.properties' | sort -u); do
      if grep -qs "PLAINTEXT://127.0.0.1:$kafka_port," "$f"; then
        dirname "$(dirname "$(dirname "$f")")"
        return 0
      fi
    done
  else
    for f in $(ps -eo args | grep -oE -- '--config-file=[^ ]+/clickhouse/config\.xml' | cut -d= -f2 | sort -u); do
      if grep -qs "<http_port>$ch_http_port</http_port>" "$f"; then
        dirname "$(dirname "$f")"
        return 0
      fi
    done
  fi
}

# ----------------------------------------------------------------------- Kafka

pom_hash() { sha256sum "$kafka_pom" | cut -d' ' -f1; }

kafka_libs_current() {
  [[ -f "$kafka_libs/.pom.sha256" ]] && [[ "$(<"$kafka_libs/.pom.sha256")" == "$(pom_hash)" ]]
}

kafka_fetch_jars() {
  if kafka_libs_current; then
    return 0
  fi
  local tmp="$kafka_dir/libs.tmp" mvnlog="$kafka_dir/maven.log"
  log "kafka: fetching jars with Maven from $kafka_pom (log: $mvnlog)"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! mvn -B -q -f "$kafka_pom" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
    tail_logs "$mvnlog"
    die "Maven could not fetch the Kafka jars"
  fi
  ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "Maven ran but no kafka_2.13 jar in $tmp"
  pom_hash >"$tmp/.pom.sha256"
  rm -rf "$kafka_libs"
  mv "$tmp" "$kafka_libs"
  log "kafka: $(find "$kafka_libs" -name '*.jar' | wc -l) jars in $kafka_libs"
}

kafka_write_config() {
  mkdir -p "$kafka_dir/config" "$kafka_dir/data" "$kafka_dir/logs"
  cat >"$kafka_dir/config/server.properties" <<EOF
# Generated by scripts/services.sh -- edits are overwritten on the next 'up'.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$kafka_controller_port
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$kafka_controller_port,SASL_SSL://127.0.0.1:$kafka_sasl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port,SASL_SSL://127.0.0.1:$kafka_sasl_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
# SASL_SSL: SCRAM-SHA-512 users (created with the admin API after start) over TLS with a
# certificate from the local CA in $tls_dir. No client certificates.
sasl.enabled.mechanisms=$sasl_mechanism
listener.name.sasl_ssl.sasl.enabled.mechanisms=$sasl_mechanism
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls_dir/broker.p12
ssl.keystore.password=$keystore_password
ssl.key.password=$keystore_password
ssl.client.auth=none
log.dirs=$kafka_dir/data
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=134217728
EOF
  cat >"$kafka_dir/config/log4j2.properties" <<'EOF'
# Broker logging: everything INFO+ to logs/server.log, WARN+ also to stdout (kafka.out).
status = warn
name = cellwatch-kafka
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
appender.out.filter.threshold.type = ThresholdFilter
appender.out.filter.threshold.level = warn
rootLogger.level = info
rootLogger.appenderRef.file.ref = FILE
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.statechange.name = state.change.logger
logger.statechange.level = warn
EOF
  cat >"$kafka_dir/config/tools-log4j2.properties" <<'EOF'
# Command-line tools: WARN+ to stderr only.
status = warn
name = cellwatch-kafka-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = STDERR
EOF
}

# Run a Kafka tool class with the fetched jars, under a time limit:
#   kafka_tool CLASS ARGS...   (small heap, quick-start JIT, logging at WARN to stderr)
kafka_tool() {
  local cls="$1"
  shift
  timeout "${KAFKA_TOOL_TIMEOUT:-90}" "$(java_bin)" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$kafka_dir/config/tools-log4j2.properties" \
    -cp "$kafka_libs/*" "$cls" "$@"
}

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (like
# `kafka-storage random-uuid`, which also avoids a leading '-').
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* && ${#id} -eq 22 ]] && break
  done
  printf '%s\n' "$id"
}

kafka_format_storage() {
  [[ -f "$kafka_dir/data/meta.properties" ]] && return 0
  local id fmtlog="$kafka_dir/logs/format.log"
  id="$(new_cluster_id)"
  log "kafka: formatting KRaft storage (cluster id $id)"
  if ! kafka_tool kafka.tools.StorageTool format --ignore-formatted \
      --cluster-id "$id" --config "$kafka_dir/config/server.properties" >"$fmtlog" 2>&1; then
    tail_logs "$fmtlog"
    die "kafka: StorageTool format failed"
  fi
  printf '%s\n' "$id" >"$kafka_dir/cluster.id"
}

kafka_start() {
  local pid other
  if pid="$(live_pid "$kafka_pidfile" kafka.Kafka)"; then
    if port_open "$kafka_sasl_port"; then
      log "kafka: already running (pid $pid)"
      return 0
    fi
    log "kafka: running without the SASL_SSL listener on 127.0.0.1:$kafka_sasl_port (an older setup): restarting it"
    stop_pid kafka "$kafka_pidfile" kafka.Kafka
  fi
  kafka_fetch_jars
  kafka_write_config
  if port_open "$kafka_port"; then
    if KAFKA_TOOL_TIMEOUT=30 kafka_tool org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "127.0.0.1:$kafka_port" --list >/dev/null 2>&1; then
      other="$(foreign_state kafka)"
      if ! port_open "$kafka_sasl_port" || [[ -z "$other" || ! -s "$other/kafka/tls/sasl.password" ]]; then
        die "kafka: the broker on 127.0.0.1:$kafka_port was not started from $state and has no SASL_SSL listener on 127.0.0.1:$kafka_sasl_port, or its state folder (and so its CA and SCRAM password) cannot be found; stop it (scripts/services.sh down in its checkout) and retry"
      fi
      log "kafka: reusing the broker already listening on 127.0.0.1:$kafka_port (started from $other)"
      tls_dir="$other/kafka/tls"
      kafka_foreign=1
      return 0
    fi
    die "kafka: 127.0.0.1:$kafka_port is taken by a process that does not answer as a Kafka broker (and is not ours: no live pid in $kafka_pidfile); stop it and retry"
  fi
  if port_open "$kafka_controller_port"; then
    die "kafka: controller port 127.0.0.1:$kafka_controller_port is taken by another process; stop it and retry"
  fi
  if port_open "$kafka_sasl_port"; then
    die "kafka: SASL_SSL port 127.0.0.1:$kafka_sasl_port is taken by another process; stop it and retry"
  fi
  tls_setup
  kafka_format_storage
  log "kafka: starting broker on 127.0.0.1:$kafka_port (logs: $kafka_dir/logs)"
  # setsid: own session, so a Ctrl-C in the caller's terminal does not kill it.
  # 3>&- 9>&-: the daemon must not inherit our lock (fd 9) or the caller's stdout
  # (fd 3): either would block the next flock / keep `$(services.sh up)` from returning.
  if [[ -f "$kafka_dir/logs/kafka.out" ]]; then mv -f "$kafka_dir/logs/kafka.out" "$kafka_dir/logs/kafka.out.1"; fi
  # shellcheck disable=SC2086  # kafka_heap is a list of JVM flags
  setsid nohup "$(java_bin)" $kafka_heap -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true \
    -Dkafka.logs.dir="$kafka_dir/logs" \
    -Dlog4j2.configurationFile="$kafka_dir/config/log4j2.properties" \
    -cp "$kafka_libs/*" kafka.Kafka "$kafka_dir/config/server.properties" \
    >>"$kafka_dir/logs/kafka.out" 2>&1 </dev/null 3>&- 9>&- &
  printf '%s\n' "$!" >"$kafka_pidfile"
}

kafka_wait_ready() {
  local deadline pid out
  deadline=$(( $(now_s) + timeout_s ))
  log "kafka: waiting for 127.0.0.1:$kafka_port"
  while :; do
    if ((kafka_foreign)); then
      pid="not ours"
    elif ! pid="$(live_pid "$kafka_pidfile" kafka.Kafka)"; then
      if starting "$kafka_pidfile"; then pid="$(<"$kafka_pidfile")"; else
        tail_logs "$kafka_dir/logs/kafka.out" "$kafka_dir/logs/server.log"
        die "kafka: broker process exited during startup (see logs above)"
      fi
    fi
    if port_open "$kafka_port"; then
      # A real metadata round trip, not just an open socket.
      if out="$(KAFKA_TOOL_TIMEOUT=30 kafka_tool org.apache.kafka.tools.TopicCommand \
          --bootstrap-server "127.0.0.1:$kafka_port" --list 2>"$kafka_dir/logs/readiness.log")"; then
        KAFKA_TOPICS="$out"
        log "kafka: ready (pid $pid)"
        return 0
      fi
    fi
    if (( $(now_s) >= deadline )); then
      tail_logs "$kafka_dir/logs/kafka.out" "$kafka_dir/logs/server.log" "$kafka_dir/logs/readiness.log"
      die "kafka: not answering on 127.0.0.1:$kafka_port after ${timeout_s}s (broker log tail above; full logs in $kafka_dir/logs)"
    fi
    sleep 1
  done
}

# The SCRAM user `cellwatch` with the state folder's password, through the admin API
# on the plaintext listener; once per KRaft storage (the marker lives in its data).
kafka_scram_user() {
  local marker="$kafka_dir/data/.scram-$sasl_user" scramlog="$kafka_dir/logs/scram.log" pw
  ((kafka_foreign)) && return 0
  [[ -f "$marker" && "$(<"$marker")" == "$(sha256sum <"$tls_dir/sasl.password")" ]] && return 0
  log "kafka: creating the SCRAM user $sasl_user ($sasl_mechanism)"
  pw="$(<"$tls_dir/sasl.password")"
  if ! kafka_tool kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$kafka_port" \
      --alter --entity-type users --entity-name "$sasl_user" \
      --add-config "$sasl_mechanism=[iterations=4096,password=$pw]" >"$scramlog" 2>&1; then
    tail_logs "$scramlog"
    die "kafka: could not create the SCRAM user $sasl_user"
  fi
  sha256sum <"$tls_dir/sasl.password" >"$marker"
}

kafka_wait_sasl() {
  local deadline
  deadline=$(( $(now_s) + timeout_s ))
  until port_open "$kafka_sasl_port"; do
    if (( $(now_s) >= deadline )); then
      tail_logs "$kafka_dir/logs/kafka.out" "$kafka_dir/logs/server.log"
      die "kafka: SASL_SSL listener not open on 127.0.0.1:$kafka_sasl_port after ${timeout_s}s"
    fi
    sleep 0.5
  done
  log "kafka: SASL_SSL ($sasl_mechanism over TLS) on 127.0.0.1:$kafka_sasl_port, CA $tls_dir/ca.pem"
}

# Create the contract topics that do not exist yet, in parallel (one short-lived
# JVM each); --if-not-exists makes a concurrent creation harmless.
kafka_create_topics() {
  local spec name cfg args i failed=0
  local -a pids=() names=()
  local parts
  for spec in "${contract_topics[@]}"; do
    parts="$topic_partitions"
    if [[ "$spec" == *@* ]]; then
      parts="${spec##*@}"
      spec="${spec%@*}"
    fi
    name="${spec%%:*}"
    cfg=""
    [[ "$spec" == *:* ]] && cfg="${spec#*:}"
    if grep -qxF -- "$name" <<<"$KAFKA_TOPICS"; then
      continue
    fi
    args=(--bootstrap-server "127.0.0.1:$kafka_port" --create --if-not-exists
          --topic "$name" --partitions "$parts" --replication-factor 1)
    [[ -n "$cfg" ]] && args+=(--config "$cfg")
    log "kafka: creating topic $name ($parts partitions${cfg:+, $cfg})"
    kafka_tool org.apache.kafka.tools.TopicCommand "${args[@]}" \
      >"$kafka_dir/logs/create-$name.log" 2>&1 &
    pids+=("$!")
    names+=("$name")
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      tail_logs "$kafka_dir/logs/create-${names[$i]}.log"
      log "kafka: could not create topic ${names[$i]}"
      failed=1
    fi
  done
  ((failed == 0)) || die "kafka: topic creation failed (see above)"
}

# ------------------------------------------------------------------ ClickHouse

ch_write_config() {
  mkdir -p "$ch_dir/data" "$ch_dir/tmp" "$ch_dir/user_files" "$ch_dir/format_schemas" "$ch_dir/log"
  cat >"$ch_dir/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by scripts/services.sh: edits are overwritten on the next 'up'. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$ch_dir/log/clickhouse-server.log</log>
        <errorlog>$ch_dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$ch_http_port</http_port>
    <tcp_port>$ch_tcp_port</tcp_port>
    <!-- no interserver_http_port, https_port, mysql_port: nothing else listens -->
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$ch_dir/data/</path>
    <tmp_path>$ch_dir/tmp/</tmp_path>
    <user_files_path>$ch_dir/user_files/</user_files_path>
    <format_schema_path>$ch_dir/format_schemas/</format_schema_path>
    <users_config>$ch_dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
EOF
  ch_write_users
}

# users.xml: "default" (empty password, for the other tests) and "cellwatch" (the
# state folder's password, stored as its SHA-256), both loopback only, DDL allowed.
# A running server notices a changed file and reloads it by itself.
ch_write_users() {
  local sha tmp="$ch_dir/users.xml.tmp"
  mkdir -p "$ch_dir"
  if [[ ! -s "$ch_password_file" ]]; then
    (umask 077; new_secret >"$ch_password_file")
  fi
  sha="$(tr -d '\n' <"$ch_password_file" | sha256sum | cut -d' ' -f1)"
  cat >"$tmp" <<EOF
<?xml version="1.0"?>
<!-- Generated by scripts/services.sh: users "default" (empty password) and "$ch_user"
     (password in $ch_password_file), loopback only, DDL allowed. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
            <readonly>0</readonly>
            <allow_ddl>1</allow_ddl>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <$ch_user>
            <password_sha256_hex>$sha</password_sha256_hex>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </$ch_user>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
  if cmp -s "$tmp" "$ch_dir/users.xml"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$ch_dir/users.xml"
  fi
}

# Query as the `cellwatch` user (password from the file, not on the command line).
ch_query_user() {
  local pw="$1" sql="$2"
  printf 'user = "%s:%s"\n' "$ch_user" "$pw" |
    curl -sS --fail --max-time 10 -K - "$ch_url/" --data-binary "$sql"
}

# Wait until the `cellwatch` user can log in (a running server reloads users.xml
# within a few seconds of a change).
ch_wait_user() {
  local deadline pw
  pw="$(<"$ch_password_file")"
  deadline=$(( $(now_s) + timeout_s ))
  until ch_query_user "$pw" 'SELECT 1' >/dev/null 2>&1; do
    if (( $(now_s) >= deadline )); then
      die "clickhouse: user $ch_user cannot log in to $ch_url after ${timeout_s}s (is $ch_dir/users.xml the server's users file?)"
    fi
    sleep 0.5
  done
  log "clickhouse: user $ch_user logs in with its password"
}

ch_start() {
  local pid other
  if pid="$(live_pid "$ch_pidfile" clickhouse-server)"; then
    log "clickhouse: already running (pid $pid)"
    ch_write_users
    return 0
  fi
  if port_open "$ch_http_port"; then
    if curl -sf --max-time 5 "$ch_url/ping" >/dev/null 2>&1; then
      other="$(foreign_state clickhouse)"
      if [[ -z "$other" || ! -s "$other/clickhouse/cellwatch.password" ]]; then
        die "clickhouse: the server on $ch_url was not started from $state and its state folder (with the $ch_user user's password) cannot be found; stop it (scripts/services.sh down in its checkout) and retry"
      fi
      log "clickhouse: reusing the server already listening on $ch_url (started from $other)"
      ch_password_file="$other/clickhouse/cellwatch.password"
      ch_foreign=1
      return 0
    fi
    die "clickhouse: 127.0.0.1:$ch_http_port is taken by a process that does not answer as ClickHouse (and is not ours: no live pid in $ch_pidfile); stop it and retry"
  fi
  if port_open "$ch_tcp_port"; then
    die "clickhouse: native port 127.0.0.1:$ch_tcp_port is taken by another process; stop it and retry"
  fi
  ch_write_config
  log "clickhouse: starting server on 127.0.0.1:$ch_http_port (logs: $ch_dir/log)"
  # Not the system service: a project-local process with its own config (see kafka_start
  # for setsid and the closed fds).
  if [[ -f "$ch_dir/log/stdout.log" ]]; then mv -f "$ch_dir/log/stdout.log" "$ch_dir/log/stdout.log.1"; fi
  setsid nohup "$ch_bin" --config-file="$ch_dir/config.xml" \
    >>"$ch_dir/log/stdout.log" 2>&1 </dev/null 3>&- 9>&- &
  printf '%s\n' "$!" >"$ch_pidfile"
}

ch_query() {
  curl -sS --fail --max-time 10 "$ch_url/" --data-binary "$1"
}

ch_wait_ready() {
  local deadline pid v
  deadline=$(( $(now_s) + timeout_s ))
  log "clickhouse: waiting for $ch_url"
  while :; do
    if ((ch_foreign)); then
      pid="not ours"
    elif ! pid="$(live_pid "$ch_pidfile" clickhouse-server)"; then
      if starting "$ch_pidfile"; then pid="$(<"$ch_pidfile")"; else
        tail_logs "$ch_dir/log/stdout.log" "$ch_dir/log/clickhouse-server.err.log"
        die "clickhouse: server process exited during startup (see logs above)"
      fi
    fi
    if curl -sf --max-time 2 "$ch_url/ping" >/dev/null 2>&1 \
        && v="$(ch_query 'SELECT version()' 2>/dev/null)"; then
      log "clickhouse: ready, version $v (pid $pid)"
      return 0
    fi
    if (( $(now_s) >= deadline )); then
      tail_logs "$ch_dir/log/stdout.log" "$ch_dir/log/clickhouse-server.err.log" "$ch_dir/log/clickhouse-server.log"
      die "clickhouse: not answering on $ch_url after ${timeout_s}s (server log tail above; full logs in $ch_dir/log)"
    fi
    sleep 0.5
  done
}

# ------------------------------------------------------------------ subcommands

with_lock() {
  mkdir -p "$state"
  exec 9>"$state/.lock"
  if ! flock -w 300 9; then
    die "another scripts/services.sh holds $state/.lock for more than 300 s"
  fi
}

cmd_up() {
  local t0
  t0="$(now_s)"
  # Everything but the final export lines goes to stderr.
  exec 3>&1 1>&2
  with_lock
  install_prereqs
  # Start both first, then wait: the two start in parallel.
  kafka_start
  ch_start
  KAFKA_TOPICS=""
  kafka_wait_ready
  kafka_wait_sasl
  ch_wait_ready
  ch_wait_user
  kafka_scram_user
  kafka_create_topics
  log "up in $(( $(now_s) - t0 ))s; state in $state"
  print_env >&3
}

cmd_kafka_up() {
  exec 3>&1 1>&2
  with_lock
  install_prereqs
  kafka_start
  kafka_wait_ready
  log "kafka: up on 127.0.0.1:$kafka_port; state in $state"
  printf 'export CW_KAFKA_BROKERS=127.0.0.1:%s\n' "$kafka_port" >&3
}

cmd_kafka_down() {
  with_lock
  stop_pid kafka "$kafka_pidfile" kafka.Kafka
}

cmd_down() {
  with_lock
  stop_pid kafka "$kafka_pidfile" kafka.Kafka
  stop_pid clickhouse "$ch_pidfile" clickhouse-server
}

cmd_status() {
  local rc=0 pid v
  if pid="$(live_pid "$kafka_pidfile" kafka.Kafka)"; then
    if port_open "$kafka_port"; then
      echo "kafka: running (pid $pid), 127.0.0.1:$kafka_port"
    else
      echo "kafka: process $pid alive but 127.0.0.1:$kafka_port not open (starting?)"
      rc=3
    fi
  elif port_open "$kafka_port"; then
    echo "kafka: not started from $state, but something listens on 127.0.0.1:$kafka_port"
  else
    echo "kafka: stopped"
    rc=3
  fi
  if pid="$(live_pid "$ch_pidfile" clickhouse-server)"; then
    if v="$(ch_query 'SELECT version()' 2>/dev/null)"; then
      echo "clickhouse: running (pid $pid), $ch_url, version $v"
    else
      echo "clickhouse: process $pid alive but $ch_url not answering (starting?)"
      rc=3
    fi
  elif v="$(ch_query 'SELECT version()' 2>/dev/null)"; then
    echo "clickhouse: not started from $state, but $ch_url answers, version $v"
  else
    echo "clickhouse: stopped"
    rc=3
  fi
  echo "state: $state"
  return "$rc"
}

# The broker's command-line tools by their usual script names (bin/kafka-*.sh of a
# Kafka download), run from the installed jars.
cmd_kafka_tool() {
  local name="${1:-}" cls
  case "$name" in
    kafka-topics.sh | kafka-topics) cls=org.apache.kafka.tools.TopicCommand ;;
    kafka-consumer-groups.sh | kafka-consumer-groups) cls=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    *) die "kafka-tool: one of kafka-topics.sh, kafka-consumer-groups.sh (got '${name}')" ;;
  esac
  shift
  if ! kafka_libs_current; then
    # A broker started from another checkout (which `up` reuses): its jars.
    local other
    other="$(foreign_state kafka)"
    [[ -n "$other" && -d "$other/kafka/libs" ]] \
      || die "kafka-tool: no Kafka jars in $kafka_libs; run scripts/services.sh up first"
    kafka_dir="$other/kafka"
    kafka_libs="$kafka_dir/libs"
  fi
  kafka_tool "$cls" "$@"
}

cmd_purge() {
  cmd_down
  log "deleting $state"
  rm -rf "$state"
}

usage() {
  sed -n '2,/^set -euo pipefail/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) print_env ;;
  purge) cmd_purge ;;
  kafka-up) cmd_kafka_up ;;
  kafka-down) cmd_kafka_down ;;
  kafka-tool) shift; cmd_kafka_tool "$@" ;;
  -h | --help | help) usage ;;
  *) usage; exit 2 ;;
esac
