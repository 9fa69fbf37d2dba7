#!/usr/bin/env bash
# Idle memory per WebSocket connection: starts a gateway (the embedded default config, one I/O
# thread, warn level), opens N idle connections with wsgate-loadgen (connect --hold), and prints
# the gateway's RSS before and after and the difference per open connection. A few seconds.
#
#   bench/idle_memory.sh                     10,000 connections, build/release/src/app/wsgate
#   N=2000 bench/idle_memory.sh
#   GATEWAY=/path/to/wsgate bench/idle_memory.sh   another binary (e.g. an older build)
#   REPS=3 bench/idle_memory.sh              several runs, one line each
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GATEWAY=${GATEWAY:-$ROOT/build/release/src/app/wsgate}
LOADGEN=${LOADGEN:-$ROOT/build/release/bench/loadgen/wsgate-loadgen}
N=${N:-10000}
REPS=${REPS:-1}
[[ -x "$GATEWAY" && -x "$LOADGEN" ]] || { echo "missing $GATEWAY or $LOADGEN (build the release preset)"; exit 1; }
ulimit -n "$(ulimit -Hn)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsgate-idle.XXXXXX")
GW_PID=""
LG_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in $LG_PID $GW_PID; do
        if kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
    done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "$(nproc)" -ge 2 ]] && command -v taskset >/dev/null; then PIN_GW=(taskset -c 0); PIN_LG=(taskset -c 1)
else PIN_GW=(); PIN_LG=(); fi

cat >"$TMP/gateway.yaml" <<'EOF'
listen: 127.0.0.1:0
threads: 1
log_level: warn
stages: [dev]
routes:
  $default:
    integration: echo
    route_response: true
EOF
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

for ((rep = 0; rep < REPS; rep++)); do
    "${PIN_GW[@]}" "$GATEWAY" --config "$TMP/gateway.yaml" --listen 127.0.0.1:0 >"$TMP/gw.out" 2>"$TMP/gw.err" &
    GW_PID=$!
    PORT=""
    for _ in $(seq 100); do
        line=$(head -n 1 "$TMP/gw.out" 2>/dev/null || true)
        if [[ "$line" =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]]; then PORT=${BASH_REMATCH[1]}; break; fi
        kill -0 "$GW_PID" 2>/dev/null || break
        sleep 0.1
    done
    [[ -n "$PORT" ]] || { echo "gateway did not start:"; cat "$TMP/gw.out" "$TMP/gw.err"; exit 1; }
    sleep 0.3
    before=$(rss_kb "$GW_PID")
    timeout 120 "${PIN_LG[@]}" "$LOADGEN" connect --url "ws://127.0.0.1:$PORT/dev" -t 1 -H 64 --hold -n "$N" -d 60 -q \
        >"$TMP/lg.out" 2>&1 &
    LG_PID=$!
    open=0
    for _ in $(seq 600); do
        open=$(ss -Htn state established "sport = :$PORT" 2>/dev/null | wc -l)
        [[ $open -ge $N ]] && break
        kill -0 "$LG_PID" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1
    open=$(ss -Htn state established "sport = :$PORT" 2>/dev/null | wc -l)
    after=$(rss_kb "$GW_PID")
    kill "$LG_PID" 2>/dev/null || true; wait "$LG_PID" 2>/dev/null || true; LG_PID=""
    kill "$GW_PID" 2>/dev/null || true; wait "$GW_PID" 2>/dev/null || true; GW_PID=""
    awk -v a="$after" -v b="$before" -v n="$open" 'BEGIN {
        printf "RSS %d kB -> %d kB with %d open: %.0f B per connection\n", b, a, n, (n > 0 ? (a - b) * 1024 / n : 0) }'
done
