#!/usr/bin/env bash
# Broadcast benchmark: N WebSocket subscribers on one channel, one publish, the time until the LAST
# subscriber has it. wsgate (one signed POST /dev/@channels/bench) against nginx + nchan (one
# POST /pub?id=bench) and Pushpin (one POST /publish/ item), in one run on loopback: servers on
# core 0, the client (bench/broadcast_client.mjs: every subscriber, the publisher and the clock in
# one Node process) on core 1. Each size is measured REPS times on the same subscribers; the table
# shows medians and the wsgate/peer ratios. See bench/README.md.
#
#   bench/broadcast.sh                      N = 1000 and 10000, 5 publishes each
#   bench/broadcast.sh --sizes "1000" --reps 5
#   bench/broadcast.sh --only wsgate        (wsgate | nchan | pushpin)
#   BENCH_NO_INSTALL=1 bench/broadcast.sh   never call apt-get (missing peers become "n/a")
#   BENCH_BUILD=1 bench/broadcast.sh        build wsgate and the Pushpin test backend first
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
GATEWAY="$BUILD/src/app/wsgate"
BACKEND="$BUILD/bench/reference/http_echo_backend"
CLIENT="$ROOT/bench/broadcast_client.mjs"

SIZES="1000 10000"
REPS=5
ONLY=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --sizes) SIZES="${2:-}"; shift 2 ;;
        --reps) REPS="${2:-}"; shift 2 ;;
        --only) ONLY="${2:-}"; shift 2 ;;
        --help|-h) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)"; exit 2 ;;
    esac
done
case "$ONLY" in ""|wsgate|nchan|pushpin) ;; *) echo "unknown peer '$ONLY'"; exit 2 ;; esac
[[ "$REPS" =~ ^[1-9][0-9]?$ ]] || { echo "--reps: 1-99"; exit 2; }
want() { [[ -z "$ONLY" || "$ONLY" == "$1" ]]; }
MAXN=0
for n in $SIZES; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "--sizes: positive integers, got '$n'"; exit 2; }
    [[ $n -gt $MAXN ]] && MAXN=$n
done
[[ $MAXN -gt 0 ]] || { echo "--sizes: none given"; exit 2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsgate-broadcast.XXXXXX")
PIDS=()          # every server started, stopped by PID on exit
CLIENT_PID=""
stop_pid() {  # stop_pid PID: TERM, wait up to 5 s, then KILL
    local pid=$1
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n "$CLIENT_PID" ]] && stop_pid "$CLIENT_PID"
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Prerequisites (the same peers and install policy as bench/run) ----
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
NEED=()
want pushpin && { command -v pushpin >/dev/null || NEED+=(pushpin); }
if want nchan; then
    command -v nginx >/dev/null || NEED+=(nginx)
    [[ -e /usr/share/nginx/modules-available/mod-nchan.conf ]] || NEED+=(libnginx-mod-nchan)
fi
if [[ ${#NEED[@]} -gt 0 && -z "${BENCH_NO_INSTALL:-}" ]]; then
    echo "== installing ${NEED[*]} (apt-get)"
    timeout 600 $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${NEED[@]}" \
        >"$TMP/apt.log" 2>&1 || { echo "   apt-get failed (peers will be n/a):"; tail -5 "$TMP/apt.log"; }
fi
HAVE_PUSHPIN=0; command -v pushpin >/dev/null && HAVE_PUSHPIN=1
HAVE_NCHAN=0
NCHAN_SO=$(ls /usr/lib/nginx/modules/ngx_nchan_module.so 2>/dev/null || true)
command -v nginx >/dev/null && [[ -n "$NCHAN_SO" ]] && HAVE_NCHAN=1
command -v node >/dev/null || { echo "node is required (the client is bench/broadcast_client.mjs)"; exit 1; }
[[ -d "$ROOT/node_modules/ws" && -d "$ROOT/node_modules/@smithy/signature-v4" ]] \
    || { echo "missing node_modules (run npm ci in $ROOT)"; exit 1; }

if [[ -n "${BENCH_BUILD:-}" ]]; then
    echo "== building wsgate and http_echo_backend (release preset)"
    (cd "$ROOT" && cmake --preset release >"$TMP/configure.log" 2>&1 \
        && cmake --build --preset release --target wsgate http_echo_backend >"$TMP/build.log" 2>&1) \
        || { tail -30 "$TMP/configure.log" "$TMP/build.log" 2>/dev/null; exit 1; }
fi
[[ -x "$GATEWAY" ]] || { echo "missing $GATEWAY (build first, or BENCH_BUILD=1)"; exit 1; }

# ---- Pinning and limits ----
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
    PIN_S=(taskset -c 0); PIN_C=(taskset -c 1); PINNING="servers on core 0, client on core 1"
else
    PIN_S=(); PIN_C=(); PINNING="not pinned ($(nproc) core(s) or no taskset)"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [[ "$NOFILE" != unlimited && $((MAXN + 200)) -gt $NOFILE ]]; then
    echo "ulimit -n is $NOFILE (hard limit $(ulimit -Hn)): at most $((NOFILE - 200)) subscribers per process here"
    exit 1
fi

# ---- Helpers ----
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 20000))
}
wait_port() {  # wait_port PORT: until something listens (10 s)
    for _ in $(seq 100); do
        ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}
SPORT=""; SPID=""
start_server() {  # start_server NAME cmd...: pinned to core 0; waits for "listening on H:PORT"
    local name=$1; shift
    "${PIN_S[@]}" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SPID=$!
    PIDS+=("$SPID")
    SPORT=""
    local line
    for _ in $(seq 100); do
        line=$(head -n 1 "$TMP/$name.out" 2>/dev/null || true)
        if [[ "$line" =~ listening\ on\ [0-9.]+:([0-9]+) ]]; then SPORT=${BASH_REMATCH[1]}; return 0; fi
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    echo "   $name did not start:"; cat "$TMP/$name.out" "$TMP/$name.err" | tail -5
    return 1
}
json_field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }
LAST_JSON="{}"
client() {  # client LIMIT_S args...: the Node client pinned to core 1, bounded by timeout
    local limit=$1; shift
    timeout -k 5 "$limit" "${PIN_C[@]}" node "$CLIENT" "$@" >"$TMP/client.out" 2>&1 &
    CLIENT_PID=$!
    wait "$CLIENT_PID"
    CLIENT_PID=""
    sed 's/^/   | /' "$TMP/client.out" | grep -v '^   | {' | tail -8
    LAST_JSON=$(tail -n 1 "$TMP/client.out")
    [[ "$LAST_JSON" == "{"* ]] || LAST_JSON="{}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f\n", a/b; else print "-" }'; }
limit_for() {  # client time limit for N subscribers: ramp + warm-up + reps
    echo $((90 + $1 / 100 * 2 + REPS * 20))
}
rss_kb() {  # rss_kb PID...: summed VmRSS in kB
    local t=0 p v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null); t=$((t + ${v:-0}))
    done
    echo "$t"
}

declare -A LAST P50 PUB NOTE
record() {  # record PEER N: from LAST_JSON
    local key="$1/$2" ok reps
    ok=$(json_field "$LAST_JSON" ok)
    reps=$(json_field "$LAST_JSON" complete_reps)
    LAST[$key]=$(json_field "$LAST_JSON" median_last_ms)
    P50[$key]=$(json_field "$LAST_JSON" median_p50_ms)
    PUB[$key]=$(json_field "$LAST_JSON" median_publish_ms)
    [[ "${LAST[$key]}" == null || -z "${LAST[$key]}" ]] && LAST[$key]="-"
    [[ "${P50[$key]}" == null || -z "${P50[$key]}" ]] && P50[$key]="-"
    [[ "${PUB[$key]}" == null || -z "${PUB[$key]}" ]] && PUB[$key]="-"
    local opened warm
    opened=$(json_field "$LAST_JSON" opened); warm=$(json_field "$LAST_JSON" warm_subscribers)
    NOTE[$key]="open ${opened:-?}/$2, ${reps:-0}/$REPS complete reps"
    local rt; rt=$(json_field "$LAST_JSON" reps_with_retransmits)
    [[ -n "$rt" && "$rt" != 0 ]] && NOTE[$key]="${NOTE[$key]}, $rt with TCP retransmits"
    [[ "$ok" == true ]] || NOTE[$key]="${NOTE[$key]}; INCOMPLETE (warm-up reached ${warm:-?})"
    [[ -n "${3:-}" ]] && NOTE[$key]="${NOTE[$key]}; $3"
}

# ---- wsgate ----
run_wsgate() {  # run_wsgate N
    local n=$1 be_port
    be_port=$(free_port)
    cat >"$TMP/wsgate.yaml" <<EOF
# bench/broadcast.sh: one I/O thread; \$connect joins every connection to "bench".
listen: 127.0.0.1:0
threads: 1
log_level: warn
stages: [dev]
integrations:
  joiner:
    type: http
    url: http://127.0.0.1:${be_port}/
    timeout_ms: 10000
routes:
  \$connect:
    integration: joiner
  \$default:
    integration: echo
    route_response: true
management:
  auth: sigv4
  region: us-east-1
  credentials:
    - access_key_id: AKIAWSGATELOCAL00001
      secret_access_key: wsgate-local-secret-key-not-for-production
EOF
    start_server wsgate "$GATEWAY" --config "$TMP/wsgate.yaml" --listen 127.0.0.1:0 || return 1
    local gw_pid=$SPID port=$SPORT
    echo "== wsgate, $n subscribers (pid $gw_pid, port $port)"
    client "$(limit_for "$n")" --peer wsgate --n "$n" --reps "$REPS" --handshakes 64 \
        --ws "ws://127.0.0.1:$port/dev" --connect-backend "$be_port" \
        --publish "http://127.0.0.1:$port/dev/@channels/bench" --members-url "http://127.0.0.1:$port/dev/@channels/bench?limit=1"
    local rss; rss=$(rss_kb "$gw_pid")
    stop_pid "$gw_pid"
    record wsgate "$n" "RSS $((rss / 1024)) MB"
    if [[ -s "$TMP/wsgate.err" ]]; then
        echo "   wsgate stderr (warn): $(wc -l <"$TMP/wsgate.err") line(s), e.g.: $(head -n 1 "$TMP/wsgate.err")"
    fi
}

# ---- nginx + nchan (bench/run's configuration: one worker, WS subscribers, HTTP publisher) ----
run_nchan() {  # run_nchan N
    local n=$1
    if [[ $HAVE_NCHAN -ne 1 ]]; then LAST_JSON="{}"; record nchan "$n" "not installed"; return 0; fi
    local d="$TMP/nginx"; rm -rf "$d"; mkdir -p "$d/logs" "$d/tmp"
    local port; port=$(free_port)
    cat >"$d/nginx.conf" <<EOF
load_module $NCHAN_SO;
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 19000; }
http {
    access_log off;
    client_body_temp_path $d/tmp;
    proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp; uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
    server {
        listen 127.0.0.1:$port;
        location /dev { nchan_subscriber websocket; nchan_channel_id bench; }
        location /pub { nchan_publisher; nchan_channel_id \$arg_id; }
    }
}
EOF
    "${PIN_S[@]}" nginx -p "$d" -c "$d/nginx.conf" >"$d/out" 2>&1 &
    local pid=$!; PIDS+=("$pid")
    if ! wait_port "$port"; then
        LAST_JSON="{}"; record nchan "$n" "did not start: $(tail -1 "$d/out")"; stop_pid "$pid"; return 0
    fi
    echo "== nginx+nchan, $n subscribers (pid $pid, port $port)"
    client "$(limit_for "$n")" --peer nchan --n "$n" --reps "$REPS" --handshakes 64 \
        --ws "ws://127.0.0.1:$port/dev" --publish "http://127.0.0.1:$port/pub?id=bench"
    local rss; rss=$(rss_kb "$pid" $(pgrep -P "$pid"))
    stop_pid "$pid"
    record nchan "$n" "RSS $((rss / 1024)) MB"
}

# ---- Pushpin (bench/run's configuration; http_echo_backend subscribes "?ch=bench" on OPEN) ----
run_pushpin() {  # run_pushpin N
    local n=$1
    if [[ $HAVE_PUSHPIN -ne 1 ]]; then LAST_JSON="{}"; record pushpin "$n" "not installed"; return 0; fi
    if [[ ! -x "$BACKEND" ]]; then LAST_JSON="{}"; record pushpin "$n" "missing $BACKEND"; return 0; fi
    if [[ ! -r /usr/lib/pushpin/internal.conf ]]; then LAST_JSON="{}"; record pushpin "$n" "no /usr/lib/pushpin/internal.conf"; return 0; fi
    start_server backend "$BACKEND" --port 0 || { LAST_JSON="{}"; record pushpin "$n" "backend did not start"; return 0; }
    local be_pid=$SPID be_port=$SPORT
    local d="$TMP/pushpin"; rm -rf "$d"; mkdir -p "$d/run" "$d/log"
    local port off pub
    port=$(free_port)
    off=$((10000 + RANDOM % 20000))
    pub=$((5561 + off))
    sed -e 's|ipc:///var/run/zurl/|ipc://{rundir}/{ipc_prefix}|' /usr/lib/pushpin/internal.conf >"$d/internal.conf"
    sed -e "s|^include=.*|include=$d/internal.conf|" \
        -e "s|^services=.*|services=condure,zurl,pushpin-proxy,pushpin-handler|" \
        -e "s|^rundir=.*|rundir=$d/run|" -e "s|^logdir=.*|logdir=$d/log|" \
        -e "s|^http_port=.*|http_port=$port|" -e "s|^port_offset=.*|port_offset=$off|" \
        -e "s|^log_level=.*|log_level=1|" -e "s|^routesfile=.*|routesfile=$d/routes|" \
        -e "s|^message_rate=.*|message_rate=1000000|" -e "s|^message_hwm=.*|message_hwm=1000000|" \
        /etc/pushpin/pushpin.conf >"$d/pushpin.conf"
    echo "* 127.0.0.1:$be_port,over_http" >"$d/routes"
    "${PIN_S[@]}" pushpin --config "$d/pushpin.conf" >"$d/runner.out" 2>&1 &
    local pid=$!; PIDS+=("$pid")
    if ! wait_port "$port"; then
        LAST_JSON="{}"; record pushpin "$n" "did not start: $(tail -1 "$d/runner.out")"
        stop_pid "$pid"; stop_pid "$be_pid"; return 0
    fi
    sleep 1   # the handler connects to the proxy after the port opens
    echo "== Pushpin, $n subscribers (runner pid $pid, port $port, publish port $pub)"
    # At most 32 upgrades in flight: more make Pushpin answer some with 502 (bench-anchors.md).
    client "$(limit_for "$n")" --peer pushpin --n "$n" --reps "$REPS" --handshakes 32 --timeout 120 \
        --ws "ws://127.0.0.1:$port/dev?ch=bench" --publish "http://127.0.0.1:$pub/publish/"
    local rss; rss=$(rss_kb "$pid" $(pgrep -P "$pid"))
    stop_pid "$pid"; stop_pid "$be_pid"
    record pushpin "$n" "RSS $((rss / 1024)) MB (all processes)"
}

echo "== $PINNING; $(nproc) cores; ulimit -n $NOFILE; sizes $SIZES; $REPS measured publishes each"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for n in $SIZES; do
    want wsgate && run_wsgate "$n"
    want nchan && run_nchan "$n"
    want pushpin && run_pushpin "$n"
done

# ---- Table ----
echo
echo "== broadcast: one publish to N subscribers, time to the LAST delivery (median of $REPS; load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-8s %-14s %12s %10s %12s  %s\n' N server "last (ms)" "p50 (ms)" "publish (ms)" notes
for n in $SIZES; do
    for peer in wsgate nchan pushpin; do
        want "$peer" || continue
        k="$peer/$n"
        name=$peer; [[ $peer == nchan ]] && name="nginx+nchan"
        printf '%-8s %-14s %12s %10s %12s  %s\n' "$n" "$name" "${LAST[$k]:--}" "${P50[$k]:--}" "${PUB[$k]:--}" "${NOTE[$k]:-}"
    done
done
if want wsgate; then
    echo
    echo "ratios, last delivery (lower is better for wsgate):"
    for n in $SIZES; do
        want nchan && printf '  N=%-6s wsgate / nginx+nchan  %6s\n' "$n" "$(ratio "${LAST[wsgate/$n]:-}" "${LAST[nchan/$n]:-}")"
        want pushpin && printf '  N=%-6s wsgate / Pushpin      %6s\n' "$n" "$(ratio "${LAST[wsgate/$n]:-}" "${LAST[pushpin/$n]:-}")"
    done
fi
echo "(last = publish request written -> last subscriber read it; p50 = the median subscriber; publish = the"
echo " publish call's own answer; one clock in the client process, which reads all N sockets on one core;"
echo " \"with TCP retransmits\": the host's RetransSegs counter moved during that publish; if the segments"
echo " were the benchmark's own, a retransmission timeout (>= 200 ms) is in that repetition's time)"
exit 0
