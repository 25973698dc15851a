#!/usr/bin/env bash
# Keeps the number of silo processes on this machine at the count the Api recommends
# (GET /v1/cluster/scale). Starts silos when it rises; stops the newest with SIGTERM when it
# falls (the silo drains its in-flight turns, then leaves). On exit it stops every silo it started.
#
#   deploy/autoscale.sh [--api URL] [--interval SECONDS] [--host ADDRESS] [--base-port PORT]
#                       [--silo-port PORT] [--gateway-port PORT]
#                       [--id-prefix NAME] [--log-dir DIR] -- SILO_COMMAND [ARGS...]
#
# SILO_COMMAND starts one silo in the foreground; the script appends
# --urls=http://HOST:PORT, --Silo:SiloId=PREFIX-PORT and, so silos on one machine do not
# collide, Orleans' --Cluster:SiloPort and --Cluster:GatewayPort: --silo-port and
# --gateway-port (defaults 11111 and 30000) plus the silo's offset from --base-port. Example:
#
#   set -a; . /etc/qwen/silo.env; set +a     # settings and passwords from the environment, never argv
#   deploy/autoscale.sh --api http://127.0.0.1:8080 -- \
#       dotnet src/Silo/bin/Release/net10.0/Qwen.Silo.dll
#
# Give the silo command itself (dotnet DLL or the published executable), not `dotnet run`,
# so SIGTERM reaches the silo. An Api that checks keys needs an admin key in QWEN_API_KEY
# (from the environment file; it is passed to curl on stdin, never on a command line).
# Needs bash and curl.
set -uo pipefail

api="${QWEN_API_URL:-http://127.0.0.1:8080}"
interval="${AUTOSCALE_INTERVAL:-2}"
host="${AUTOSCALE_HOST:-127.0.0.1}"
base_port="${AUTOSCALE_BASE_PORT:-7101}"
silo_port="${AUTOSCALE_SILO_PORT:-11111}"
gateway_port="${AUTOSCALE_GATEWAY_PORT:-30000}"
id_prefix="${AUTOSCALE_ID_PREFIX:-$(hostname -s 2>/dev/null || echo silo)}"
log_dir="${AUTOSCALE_LOG_DIR:-${TMPDIR:-/tmp}/qwen-autoscale}"

while [ $# -gt 0 ]; do
  case "$1" in
    --api) api="$2"; shift 2 ;;
    --interval) interval="$2"; shift 2 ;;
    --host) host="$2"; shift 2 ;;
    --base-port) base_port="$2"; shift 2 ;;
    --silo-port) silo_port="$2"; shift 2 ;;
    --gateway-port) gateway_port="$2"; shift 2 ;;
    --id-prefix) id_prefix="$2"; shift 2 ;;
    --log-dir) log_dir="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (the silo command goes after --)" >&2; exit 2 ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "error: no silo command given after --" >&2
  exit 2
fi
command -v curl >/dev/null 2>&1 || { echo "error: curl is required" >&2; exit 2; }
silo_command=("$@")
mkdir -p "$log_dir"

declare -A pid_of=()      # port -> pid of a running silo
declare -A stopping=()    # port -> pid of a silo told to stop (draining)
order=()                  # ports in start order (newest last)

log() { printf '%s autoscale: %s\n' "$(date -u +%H:%M:%S)" "$*"; }

reap() {
  local port pid code
  for port in "${!pid_of[@]}" "${!stopping[@]}"; do
    pid="${pid_of[$port]:-${stopping[$port]:-}}"
    [ -n "$pid" ] || continue
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null; code=$?
      if [ -n "${stopping[$port]:-}" ]; then
        log "silo $id_prefix-$port stopped (exit $code)"
      else
        log "silo $id_prefix-$port exited on its own (exit $code); see $log_dir/$id_prefix-$port.log"
      fi
      unset "pid_of[$port]" "stopping[$port]"
      local kept=() p
      for p in "${order[@]}"; do [ "$p" = "$port" ] || kept+=("$p"); done
      order=("${kept[@]}")
    fi
  done
}

start_silo() {
  local port="$base_port"
  while [ -n "${pid_of[$port]:-}" ] || [ -n "${stopping[$port]:-}" ]; do port=$((port + 1)); done
  local id="$id_prefix-$port" offset=$((port - base_port))
  "${silo_command[@]}" "--urls=http://$host:$port" "--Silo:SiloId=$id" \
    "--Cluster:SiloPort=$((silo_port + offset))" "--Cluster:GatewayPort=$((gateway_port + offset))" >>"$log_dir/$id.log" 2>&1 &
  pid_of[$port]=$!
  order+=("$port")
  log "started silo $id (pid ${pid_of[$port]}) at http://$host:$port"
}

stop_newest() {
  local i port
  for ((i = ${#order[@]} - 1; i >= 0; i--)); do
    port="${order[$i]}"
    [ -n "${pid_of[$port]:-}" ] || continue
    kill -TERM "${pid_of[$port]}" 2>/dev/null
    stopping[$port]="${pid_of[$port]}"
    unset "pid_of[$port]"
    log "stopping silo $id_prefix-$port (SIGTERM: drains, then leaves)"
    return
  done
}

shutdown() {
  log "stopping every silo this loop started"
  local port
  for port in "${!pid_of[@]}"; do kill -TERM "${pid_of[$port]}" 2>/dev/null; stopping[$port]="${pid_of[$port]}"; done
  pid_of=()
  wait
  exit 0
}
trap shutdown INT TERM

# The recommendation; with QWEN_API_KEY, sent as a header read from stdin so `ps` never shows it.
scale_signal() {
  if [ -n "${QWEN_API_KEY:-}" ]; then
    printf 'Authorization: Bearer %s\n' "$QWEN_API_KEY" | curl -fsS --max-time 5 -H @- "$api/v1/cluster/scale"
  else
    curl -fsS --max-time 5 "$api/v1/cluster/scale"
  fi
}

log "polling $api/v1/cluster/scale every ${interval}s"
last=""
while true; do
  reap
  if body="$(scale_signal 2>/dev/null)"; then
    recommended="$(printf '%s' "$body" | sed -n 's/.*"recommended":\([0-9][0-9]*\).*/\1/p')"
    if [ -z "$recommended" ]; then
      log "no recommendation in the answer: $body"
    else
      running=${#pid_of[@]}
      if [ "$recommended:$running" != "$last" ]; then
        reason="$(printf '%s' "$body" | sed -n 's/.*"reason":"\([^"]*\)".*/\1/p')"
        log "recommended $recommended, running $running ($reason)"
        last="$recommended:$running"
      fi
      while [ "${#pid_of[@]}" -lt "$recommended" ]; do start_silo; done
      while [ "${#pid_of[@]}" -gt "$recommended" ]; do stop_newest; done
    fi
  else
    log "cannot read $api/v1/cluster/scale; keeping $(( ${#pid_of[@]} )) silos"
  fi
  sleep "$interval" &
  wait $! 2>/dev/null
done
