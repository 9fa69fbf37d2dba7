#!/usr/bin/env bash
# Built-in echo against a bare Beast echo, interleaved in one run: wsgate (the embedded default
# config, one I/O thread, warn level) and bench/reference/beast_echo (one thread) each serve
# `wsgate-loadgen echo` in turn, REPS times. Prints every run, the medians and their ratio, and
# each server's CPU time per echoed message (from /proc/PID/stat; when the load generator's core is
# the bottleneck the rates tie and this is the figure that still tells the servers apart).
# Servers on core 0, the load generator on core 1. About REPS x 2 x (DUR + 2) seconds.
#
#   bench/echo_ratio.sh                          100 conns, 4 KiB, K=1, 3 s windows, 3 reps
#   SIZE=16 REPS=5 bench/echo_ratio.sh
#   GATEWAY=/path/to/other/wsgate bench/echo_ratio.sh   compare another build against the same floor
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
GATEWAY=${GATEWAY:-$BUILD/src/app/wsgate}
BEAST=${BEAST:-$BUILD/bench/reference/beast_echo}
LOADGEN=${LOADGEN:-$BUILD/bench/loadgen/wsgate-loadgen}
CONNS=${CONNS:-100}
SIZE=${SIZE:-4096}
DUR=${DUR:-3}
REPS=${REPS:-3}
for b in "$GATEWAY" "$BEAST" "$LOADGEN"; do [[ -x "$b" ]] || { echo "missing $b (build the release preset)"; exit 1; }; done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsgate-echo.XXXXXX")
SPID=""
LPID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in $LPID $SPID; do
        if kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
    done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "$(nproc)" -ge 2 ]] && command -v taskset >/dev/null; then PIN_S=(taskset -c 0); PIN_C=(taskset -c 1)
else PIN_S=(); PIN_C=(); fi

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

start() {  # start cmd...: sets SPID and PORT
    "${PIN_S[@]}" "$@" >"$TMP/server.out" 2>"$TMP/server.err" &
    SPID=$!
    PORT=""
    for _ in $(seq 100); do
        line=$(head -n 1 "$TMP/server.out" 2>/dev/null || true)
        if [[ "$line" =~ listening\ on\ [0-9.]+:([0-9]+) ]]; then PORT=${BASH_REMATCH[1]}; return 0; fi
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    echo "server did not start: $*"; cat "$TMP/server.out" "$TMP/server.err" | tail -5; exit 1
}
stop() { kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; SPID=""; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system time of PID, in clock ticks
run_one() {  # run_one URL -> RATE (msg/s), P50, P99 (us), CPU (server CPU us per message)
    local t0 t1
    t0=$(cpu_ticks "$SPID")
    timeout $((DUR + 30)) "${PIN_C[@]}" "$LOADGEN" echo --url "$1" -c "$CONNS" -k 1 -s "$SIZE" -w 1 -d "$DUR" -q \
        >"$TMP/lg.out" 2>&1 &
    LPID=$!
    wait "$LPID" || true
    LPID=""
    t1=$(cpu_ticks "$SPID")
    local j
    j=$(tail -n 1 "$TMP/lg.out")
    RATE=$(sed -n 's/.*"msgs_per_s":\([0-9.]*\).*/\1/p' <<<"$j")
    P50=$(sed -n 's/.*"p50_us":\([0-9.]*\).*/\1/p' <<<"$j")
    P99=$(sed -n 's/.*"p99_us":\([0-9.]*\).*/\1/p' <<<"$j")
    # The server's CPU time over the whole client run (connect, warm-up, window) per echoed message.
    local n
    n=$(sed -n 's/.*"received_total":\([0-9]*\).*/\1/p' <<<"$j")
    CPU=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="${n:-0}" 'BEGIN { printf "%.2f", (n > 0 ? d * 1e6 / hz / n : 0) }')
    if [[ -z "$RATE" || "$j" != *'"ok":true'* ]]; then echo "  (run failed: $(tail -c 400 "$TMP/lg.out"))"; RATE=${RATE:-0}; fi
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "echo $CONNS conns, $SIZE B, K=1, ${DUR}s windows, $REPS reps; gateway: $GATEWAY"
W=(); B=(); WC=(); BC=()
for ((i = 0; i < REPS; i++)); do
    start "$GATEWAY" --config "$TMP/gateway.yaml" --listen 127.0.0.1:0
    run_one "ws://127.0.0.1:$PORT/dev"; stop
    W+=("$RATE"); WC+=("$CPU")
    printf '  wsgate      %10.1f msg/s  p50 %8.0f us  p99 %8.0f us  server CPU %6.2f us/msg\n' "$RATE" "${P50:-0}" "${P99:-0}" "$CPU"
    start "$BEAST" --threads 1 --port 0
    run_one "ws://127.0.0.1:$PORT/dev"; stop
    B+=("$RATE"); BC+=("$CPU")
    printf '  beast_echo  %10.1f msg/s  p50 %8.0f us  p99 %8.0f us  server CPU %6.2f us/msg\n' "$RATE" "${P50:-0}" "${P99:-0}" "$CPU"
done
MW=$(median "${W[@]}"); MB=$(median "${B[@]}"); MWC=$(median "${WC[@]}"); MBC=$(median "${BC[@]}")
awk -v w="$MW" -v b="$MB" 'BEGIN { printf "median: wsgate %.1f msg/s, beast_echo %.1f msg/s, ratio %.2f\n", w, b, (b > 0 ? w / b : 0) }'
awk -v w="$MWC" -v b="$MBC" 'BEGIN { printf "median server CPU per message: wsgate %.2f us, beast_echo %.2f us, ratio %.2f\n", w, b, (b > 0 ? w / b : 0) }'
