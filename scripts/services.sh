#!/usr/bin/env bash
# Makes sure the local test services Switchyard's integration tests need are
# running on loopback. Idempotent: installs (apt) what is missing, starts what
# is stopped, leaves running services alone. One line per service.
#
#   bash scripts/services.sh                 # all services
#   bash scripts/services.sh redis kafka     # only some
#
# Services (names for the arguments):
#   rabbitmq  127.0.0.1:5672 guest/guest, management plugin on :15672
#   nats      127.0.0.1:4222 with JetStream (monitoring port not needed)
#   postgres  127.0.0.1:5432 trust auth, databases "postgres" and "test"
#   redis     127.0.0.1:6379
#   kafka     Kafka mock cluster (NOT Apache Kafka, see
#             docs/kafka-test-cluster.md): brokers 127.0.0.1:39092-39094,
#             control port 127.0.0.1:39090; bootstrap list written to
#             ~/.cache/switchyard/kafka-mock/brokers. Skipped when SWITCHYARD_KAFKA_BROKERS
#             is set (tests then use that real Kafka).
#
# Exit status is non-zero if any requested service could not be brought up.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_MOCK_DIR="${KAFKA_MOCK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/switchyard/kafka-mock}"
export KAFKA_MOCK_DIR
KAFKA_MOCK_PORT_BASE="${KAFKA_MOCK_PORT_BASE:-39092}"
KAFKA_MOCK_CONTROL_PORT="${KAFKA_MOCK_CONTROL_PORT:-39090}"
KAFKA_MOCK_BROKERS="${KAFKA_MOCK_BROKERS:-3}"
KAFKA_MOCK_PARTITIONS="${KAFKA_MOCK_PARTITIONS:-3}"
WAIT_SECS="${SERVICES_WAIT_SECS:-60}"

SUDO=""
if [[ $(id -u) != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

FAILED=()
report() { printf '%-9s %-22s %s\n' "$1" "$2" "$3"; }
fail() { report "$1" "$2" "FAILED: $3"; FAILED+=("$1"); }

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  if command -v timeout >/dev/null 2>&1; then
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# wait_port PORT [SECONDS]: bounded wait until the port accepts connections.
wait_port() {
  local port=$1 secs=${2:-$WAIT_SECS} i
  for ((i = 0; i < secs * 5; i++)); do
    port_open "$port" && return 0
    sleep 0.2
  done
  return 1
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || { echo "apt-get not available" >&2; return 1; }
  if [[ $APT_UPDATED == 0 ]]; then
    $SUDO apt-get update -qq >/dev/null 2>&1 || { echo "apt-get update failed" >&2; return 1; }
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/tmp/switchyard-apt.log 2>&1 ||
    { echo "apt-get install $* failed (see /tmp/switchyard-apt.log)" >&2; return 1; }
}

# ---------------------------------------------------------------- RabbitMQ
RABBIT_PLUGINS_FILE="${RABBITMQ_ENABLED_PLUGINS_FILE:-/etc/rabbitmq/enabled_plugins}"
mgmt_enabled() { grep -qs 'rabbitmq_management' "$RABBIT_PLUGINS_FILE"; }

ensure_rabbitmq() {
  local name=rabbitmq addr="127.0.0.1:5672" how="" out
  if port_open 5672; then
    how="already running"
  else
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
      apt_install rabbitmq-server || { fail $name $addr "could not install rabbitmq-server"; return; }
      how="installed+started"
      # The package may have started it already.
      port_open 5672 && how="installed (started by package)"
    fi
    if ! port_open 5672; then
      if ! mgmt_enabled; then
        $SUDO rabbitmq-plugins enable --offline rabbitmq_management >/dev/null 2>&1 ||
          { fail $name $addr "rabbitmq-plugins enable --offline rabbitmq_management failed"; return; }
      fi
      $SUDO rabbitmq-server -detached >/dev/null 2>&1 || true
      [[ -z $how ]] && how="started"
      wait_port 5672 "$WAIT_SECS" ||
        { fail $name $addr "did not come up within ${WAIT_SECS}s (see /var/log/rabbitmq/)"; return; }
    fi
  fi

  if ! mgmt_enabled; then
    # Node is running: enable online. Make the UI listen on loopback only.
    $SUDO rabbitmqctl eval 'application:set_env(rabbitmq_management, tcp_config, [{ip, "127.0.0.1"}, {port, 15672}]).' >/dev/null 2>&1 || true
    if ! out=$($SUDO rabbitmq-plugins enable rabbitmq_management 2>&1); then
      fail $name $addr "rabbitmq-plugins enable rabbitmq_management failed: $(echo "$out" | tail -1)"
      return
    fi
    how="$how, management plugin enabled"
  fi
  if [[ -f /etc/rabbitmq/rabbitmq.conf ]] && ! grep -qs '^management.tcp.ip' /etc/rabbitmq/rabbitmq.conf; then
    echo 'management.tcp.ip = 127.0.0.1' | $SUDO tee -a /etc/rabbitmq/rabbitmq.conf >/dev/null
  fi
  wait_port 15672 30 || { fail $name $addr "management plugin enabled but port 15672 is not open"; return; }
  report $name "$addr" "$how (management :15672, guest/guest)"
}

# ---------------------------------------------------------------- NATS
nats_info() {
  # Prints the server's INFO line (first line sent on connect).
  timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222 && IFS= read -r -t 2 line <&3 && printf "%s\n" "$line"' 2>/dev/null
}

ensure_nats() {
  local name=nats addr="127.0.0.1:4222" how="" info
  if port_open 4222; then
    how="already running"
  else
    if [[ ! -x /usr/sbin/nats-server ]]; then
      apt_install nats-server || { fail $name $addr "could not install nats-server"; return; }
      how="installed+started"
    fi
    if ! port_open 4222; then
      $SUDO mkdir -p /var/lib/nats-server
      $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log >/dev/null 2>&1 ||
        { fail $name $addr "start-stop-daemon failed"; return; }
      [[ -z $how ]] && how="started"
      wait_port 4222 30 || { fail $name $addr "did not come up within 30s (see /var/log/nats-server.log)"; return; }
    fi
  fi
  info=$(nats_info)
  if [[ $info != INFO* ]]; then
    fail $name $addr "port open but no NATS INFO greeting"
    return
  fi
  if [[ $info != *'"jetstream":true'* ]]; then
    fail $name $addr "running WITHOUT JetStream (restart it with -js)"
    return
  fi
  report $name "$addr" "$how (JetStream on)"
}

# ---------------------------------------------------------------- PostgreSQL
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -1; }
psql_q() { psql -h 127.0.0.1 -U postgres -d postgres -tAc "$1" 2>&1; }

ensure_postgres() {
  local name=postgres addr="127.0.0.1:5432" how="" ver hba out i
  if port_open 5432; then
    how="already running"
  else
    if [[ -z $(pg_version) ]] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
      apt_install postgresql postgresql-client || { fail $name $addr "could not install postgresql"; return; }
      how="installed+started"
    fi
    ver=$(pg_version)
    [[ -n $ver ]] || { fail $name $addr "no cluster under /etc/postgresql"; return; }
    hba="/etc/postgresql/$ver/main/pg_hba.conf"
    if [[ $how == installed* ]] && [[ -f $hba ]]; then
      # Fresh install: trust auth for local socket and 127.0.0.1.
      $SUDO sed -i -E \
        -e 's/^(local[[:space:]]+all[[:space:]]+all[[:space:]]+).*/\1trust/' \
        -e 's/^(local[[:space:]]+all[[:space:]]+postgres[[:space:]]+).*/\1trust/' \
        -e 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+).*#\1trust#' \
        -e 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+::1/128[[:space:]]+).*#\1trust#' "$hba"
    fi
    if ! port_open 5432; then
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 ||
        { fail $name $addr "pg_ctlcluster $ver main start failed (see /var/log/postgresql/)"; return; }
      [[ -z $how ]] && how="started"
      wait_port 5432 30 || { fail $name $addr "did not come up within 30s"; return; }
    else
      # Started by the package: reload to pick up pg_hba changes.
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >/dev/null 2>&1 || true
    fi
  fi
  command -v psql >/dev/null 2>&1 || apt_install postgresql-client >/dev/null 2>&1 || true
  # Ready for queries (the port opens slightly before recovery finishes).
  for ((i = 0; i < 50; i++)); do
    out=$(psql_q "select 1") && [[ $out == 1 ]] && break
    sleep 0.2
  done
  if [[ $out != 1 ]]; then
    fail $name $addr "cannot connect as postgres without a password (trust auth for 127.0.0.1 in pg_hba.conf?): $(echo "$out" | tail -1)"
    return
  fi
  out=$(psql_q "select datname from pg_database where datname in ('test','postgres') order by 1" | tr '\n' ' ')
  if [[ $out != *test* ]]; then
    psql_q "create database test" >/dev/null || { fail $name $addr "could not create database test"; return; }
    how="$how, created database test"
  fi
  report $name "$addr" "$how (trust auth, databases postgres+test)"
}

# ---------------------------------------------------------------- Redis
ensure_redis() {
  local name=redis addr="127.0.0.1:6379" how=""
  if port_open 6379; then
    how="already running"
  else
    if ! command -v redis-server >/dev/null 2>&1; then
      apt_install redis-server || { fail $name $addr "could not install redis-server"; return; }
      how="installed+started"
    fi
    if ! port_open 6379; then
      $SUDO mkdir -p /var/lib/redis /var/log/redis
      $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 ||
        { fail $name $addr "redis-server failed to start (see /var/log/redis/ci.log)"; return; }
      [[ -z $how ]] && how="started"
      wait_port 6379 30 || { fail $name $addr "did not come up within 30s (see /var/log/redis/ci.log)"; return; }
    fi
  fi
  if command -v redis-cli >/dev/null 2>&1 && [[ $(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null) != PONG ]]; then
    fail $name $addr "port open but PING did not answer PONG"
    return
  fi
  report $name "$addr" "$how"
}

# ---------------------------------------------------------------- Kafka mock
ensure_kafka() {
  local name=kafka first_port=$KAFKA_MOCK_PORT_BASE ctl=$KAFKA_MOCK_CONTROL_PORT
  local last_port=$((KAFKA_MOCK_PORT_BASE + KAFKA_MOCK_BROKERS - 1)) how="" bootstrap i p
  local addr="127.0.0.1:$first_port-$last_port"
  local brokers_file="$KAFKA_MOCK_DIR/brokers"
  local bin="$KAFKA_MOCK_DIR/bin/kafka-mock"

  if [[ -n ${SWITCHYARD_KAFKA_BROKERS:-} ]]; then
    report $name "$SWITCHYARD_KAFKA_BROKERS" "skipped: SWITCHYARD_KAFKA_BROKERS is set (real Kafka)"
    return
  fi

  bootstrap=""
  for ((p = first_port; p <= last_port; p++)); do
    bootstrap+="${bootstrap:+,}127.0.0.1:$p"
  done

  # Tests start private clusters from the binary, so it must exist even when one already runs
  # (the build is a no-op when its stamps match). Two of these at once (two terminals) would
  # build into the same folder: the lock makes the second wait for the first's build.
  mkdir -p "$KAFKA_MOCK_DIR"
  local lock=()
  command -v flock >/dev/null && lock=(flock "$KAFKA_MOCK_DIR.lock")
  if ! "${lock[@]}" bash "$ROOT/scripts/kafka-mock/build.sh" >"$KAFKA_MOCK_DIR.build.log" 2>&1; then
    fail $name "$addr" "build failed: $(tail -1 "$KAFKA_MOCK_DIR.build.log") (log: $KAFKA_MOCK_DIR.build.log)"
    return
  fi
  # A cluster started from an earlier build (the patch or harness changed since) is stopped, so the
  # one started below is the new build.
  if grep -q 'done in' "$KAFKA_MOCK_DIR.build.log" && port_open "$first_port" && [[ -s $KAFKA_MOCK_DIR/kafka-mock.pid ]]; then
    kill "$(cat "$KAFKA_MOCK_DIR/kafka-mock.pid")" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      port_open "$first_port" || port_open "$ctl" || break
      sleep 0.1
    done
  fi
  if port_open "$first_port" && port_open "$ctl"; then
    how="already running"
  else
    for p in $(seq "$first_port" "$last_port") "$ctl"; do
      if port_open "$p"; then
        fail $name "$addr" "port $p is in use but the mock cluster is not fully up; stop whatever holds it (control: echo quit | nc 127.0.0.1 $ctl)"
        return
      fi
    done
    grep -q 'done in' "$KAFKA_MOCK_DIR.build.log" && how="built+started" || how="started"
    mkdir -p "$KAFKA_MOCK_DIR"
    # setsid: detach from this shell so it keeps running after the script.
    setsid "$bin" --brokers "$KAFKA_MOCK_BROKERS" --port-base "$KAFKA_MOCK_PORT_BASE" \
      --control-port "$ctl" --partitions "$KAFKA_MOCK_PARTITIONS" \
      --brokers-file "$brokers_file" --pid-file "$KAFKA_MOCK_DIR/kafka-mock.pid" \
      </dev/null >>"$KAFKA_MOCK_DIR/kafka-mock.log" 2>&1 &
    for ((i = 0; i < 100; i++)); do
      port_open "$first_port" && port_open "$ctl" && break
      if ! kill -0 $! 2>/dev/null; then
        fail $name "$addr" "exited at startup: $(tail -1 "$KAFKA_MOCK_DIR/kafka-mock.log")"
        return
      fi
      sleep 0.1
    done
    port_open "$first_port" && port_open "$ctl" ||
      { fail $name "$addr" "did not come up within 10s (log: $KAFKA_MOCK_DIR/kafka-mock.log)"; return; }
  fi
  mkdir -p "$KAFKA_MOCK_DIR"
  [[ "$(cat "$brokers_file" 2>/dev/null)" == "$bootstrap" ]] || echo "$bootstrap" >"$brokers_file"
  report $name "$addr" "$how (mock, NOT Apache Kafka; control :$ctl; bootstrap in ${brokers_file#"$ROOT"/})"
}

# ---------------------------------------------------------------- Chromium
# Not a service: the headless browser the dashboard test drives (Debian's chromium; playwright-core
# never downloads one of its own).
ensure_chromium() {
  local name=chromium bin=${CHROMIUM_PATH:-/usr/bin/chromium} how="already installed"
  if [[ ! -x $bin ]]; then
    apt_install chromium || { fail $name "$bin" "could not install chromium (the dashboard browser test will be skipped)"; return; }
    how="installed"
  fi
  report $name "$bin" "$how (headless, for the dashboard test)"
}

# ---------------------------------------------------------------- kcat
# Not a service: an independent Kafka client (librdkafka's CLI) the interop tests check the
# adapter against.
ensure_kcat() {
  local name=kcat how="already installed"
  if ! command -v kcat >/dev/null 2>&1; then
    apt_install kcat || { fail $name "-" "could not install kcat (Kafka interop tests need it)"; return; }
    how="installed"
  fi
  report $name "$(command -v kcat)" "$how (independent Kafka client for interop tests)"
}

# ---------------------------------------------------------------- main
ALL=(rabbitmq nats postgres redis kafka kcat chromium)
SELECTED=("$@")
((${#SELECTED[@]})) || SELECTED=("${ALL[@]}")
for s in "${SELECTED[@]}"; do
  case "$s" in
    rabbitmq|nats|postgres|redis|kafka|kcat|chromium) "ensure_$s" ;;
    *) echo "unknown service '$s' (known: ${ALL[*]})" >&2; FAILED+=("$s") ;;
  esac
done

if ((${#FAILED[@]})); then
  echo "services: FAILED: ${FAILED[*]}" >&2
  exit 1
fi
