#!/usr/bin/env bash
# Soak test: runs wsgate for a while under mixed traffic and fails if its memory or its open file
# descriptors keep growing. Not run by CI.
#
#   bench/soak.sh [--minutes N] [--out DIR]
#
#   --minutes N   length of the traffic phase (default 10; fractions allowed, e.g. 0.5)
#   --out DIR     where to keep samples.csv, summaries and logs (default: a new /tmp/wsgate-soak.*)
#   WSGATE_BIN    use this binary instead of build/release/src/app/wsgate (no build then)
#
# What runs (all on 127.0.0.1, stopped by PID on exit):
#   - the release build of wsgate, log_level warn, with the local management key pair;
#   - a small node HTTP backend (bench/soak_client.mjs backend): $connect, $disconnect, and an
#     echo on the `echo` route and `$default`;
#   - the mixed-traffic client (bench/soak_client.mjs client): 40 steady connections sending 10
#     echo messages/s each; 8 churn workers that connect, exchange 1-5 messages and leave (normal
#     close, dropped socket, DeleteConnection, a binary frame -> 1003, a 200 KiB message -> 1009);
#     20 PostToConnection/s signed by the JS SDK (text, 64 KiB fragmented text, binary) plus
#     GetConnection calls. Every answer is checked.
#
# Every 10 s the gateway's RSS (VmRSS) and open descriptors (ls /proc/PID/fd | wc -l) go to
# samples.csv. Pass/fail rule, applied at the end:
#   - samples from the first 20% of the run (at least 30 s) are warm-up and ignored;
#   - the rest is split into thirds; compare the median of the first third with the median of
#     the last third;
#   - FAIL if RSS grew by more than 10% + 4 MiB, or if open fds grew by more than 10% + 16;
#   - FAIL as well if the client saw a wrong or missing answer, if the backend saw a connection
#     without exactly one $disconnect, or if the gateway did not exit 0 on SIGTERM.
# Exit code 0 = pass, 1 = fail, 2 = could not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MINUTES=10
OUT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --minutes) MINUTES="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "soak.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
SECONDS_TOTAL=$(awk -v m="$MINUTES" 'BEGIN { s = int(m * 60); if (s < 60) s = 60; print s }')
INTERVAL=10

if [[ -z "$OUT" ]]; then OUT=$(mktemp -d "${TMPDIR:-/tmp}/wsgate-soak.XXXXXX"); fi
mkdir -p "$OUT"

GW_PID=""
BE_PID=""
CL_PID=""
stop_pid() {  # stop_pid PID: SIGTERM, wait up to 15 s, then SIGKILL
    local pid=$1
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$CL_PID"
    stop_pid "$GW_PID"
    stop_pid "$BE_PID"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Binary: build the release preset if it is missing or older than the sources ----
if [[ -n "${WSGATE_BIN:-}" ]]; then
    BIN=$WSGATE_BIN
    [[ "$BIN" = /* ]] || BIN="$ROOT/$BIN"
else
    BIN="$ROOT/build/release/src/app/wsgate"
    if [[ ! -x "$BIN" ]] || [[ -n "$(find "$ROOT/src" "$ROOT/CMakeLists.txt" "$ROOT/cmake" -newer "$BIN" -type f -print -quit 2>/dev/null)" ]]; then
        echo "== building the release preset (log: $OUT/build.log)"
        if ! (cd "$ROOT" && cmake --preset release && cmake --build --preset release --target wsgate) >"$OUT/build.log" 2>&1; then
            tail -40 "$OUT/build.log"; exit 2
        fi
    fi
fi
[[ -x "$BIN" ]] || { echo "soak.sh: no binary at $BIN" >&2; exit 2; }
if [[ ! -d "$ROOT/node_modules/ws" || ! -d "$ROOT/node_modules/@aws-sdk/client-apigatewaymanagementapi" ]]; then
    echo "soak.sh: node modules missing; run 'npm ci' in $ROOT first" >&2; exit 2
fi
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

# ---- Backend ----
node "$ROOT/bench/soak_client.mjs" backend --port-file "$OUT/backend.port" >"$OUT/backend.log" 2>&1 &
BE_PID=$!
for _ in $(seq 100); do [[ -s "$OUT/backend.port" ]] && break; sleep 0.1; done
[[ -s "$OUT/backend.port" ]] || { echo "soak.sh: the backend did not start"; cat "$OUT/backend.log"; exit 2; }
BE_PORT=$(cat "$OUT/backend.port")

# ---- Gateway ----
cat >"$OUT/config.yaml" <<EOF
listen: 127.0.0.1:0
log_level: warn
integrations:
  backend:
    type: http
    url: http://127.0.0.1:$BE_PORT/events
    timeout_ms: 10000
routes:
  \$connect: { integration: backend }
  \$disconnect: { integration: backend }
  echo: { integration: backend, route_response: true }
  \$default: { integration: backend, route_response: true }
EOF
# Only the local key pair signs management calls, whatever this shell holds.
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    "$BIN" --config "$OUT/config.yaml" >"$OUT/gateway.out" 2>"$OUT/gateway.err" &
GW_PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$OUT/gateway.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^wsgate [^ ]* listening on [^ ]*:\([0-9]*\)$/\1/p' "$OUT/gateway.out" | head -1)
[[ -n "$PORT" ]] || { echo "soak.sh: the gateway did not start"; cat "$OUT/gateway.out" "$OUT/gateway.err"; exit 2; }
echo "== $($BIN --version 2>/dev/null | head -1) pid $GW_PID on port $PORT; backend pid $BE_PID; ${SECONDS_TOTAL} s; output in $OUT"

# ---- Client ----
node "$ROOT/bench/soak_client.mjs" client --url "ws://127.0.0.1:$PORT/dev" --endpoint "http://127.0.0.1:$PORT/dev" \
    --seconds "$SECONDS_TOTAL" --stats "$OUT/client.json" >"$OUT/client.log" 2>&1 &
CL_PID=$!

# ---- Sampling ----
sample() {  # prints "rss_kb fds" of the gateway
    local rss fds
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$GW_PID/status" 2>/dev/null || echo "")
    fds=$(ls "/proc/$GW_PID/fd" 2>/dev/null | wc -l)
    echo "${rss:-0} $fds"
}
echo "elapsed_s,rss_kb,fds" >"$OUT/samples.csv"
START=$(date +%s)
read -r rss fds < <(sample)
echo "0,$rss,$fds" >>"$OUT/samples.csv"
printf '   %6s %10s %6s\n' "t(s)" "RSS(KiB)" "fds"
printf '   %6d %10d %6d\n' 0 "$rss" "$fds"
next=$((START + INTERVAL))
while kill -0 "$CL_PID" 2>/dev/null; do
    if ! kill -0 "$GW_PID" 2>/dev/null; then echo "soak.sh: FAIL: the gateway died"; tail -20 "$OUT/gateway.err"; exit 1; fi
    now=$(date +%s)
    if (( now >= next )); then
        read -r rss fds < <(sample)
        echo "$((now - START)),$rss,$fds" >>"$OUT/samples.csv"
        printf '   %6d %10d %6d\n' "$((now - START))" "$rss" "$fds"
        next=$((next + INTERVAL))
    fi
    sleep 1
done
set +e
wait "$CL_PID"
CLIENT_RC=$?
set -e
CL_PID=""

# ---- Shutdown and bookkeeping ----
kill -TERM "$GW_PID"
set +e
for _ in $(seq 300); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
wait "$GW_PID"
GW_RC=$?
set -e
GW_PID=""
curl -s "http://127.0.0.1:$BE_PORT/stats" >"$OUT/backend.json" || echo '{}' >"$OUT/backend.json"

FAIL=0
echo "== client summary"
if [[ -s "$OUT/client.json" ]]; then
    jq -c '{connectionsOpened, churnCycles, echoes, posts200, posts429, postsReceived, gets, deletes, closes, handshakeFailures, errors}' "$OUT/client.json"
    if [[ "$(jq .errors "$OUT/client.json")" != "0" ]]; then
        echo "soak.sh: FAIL: the client saw $(jq .errors "$OUT/client.json") unexpected answers, e.g.:"; jq -r '.errorSamples[]' "$OUT/client.json" | head -10
        FAIL=1
    fi
else
    echo "soak.sh: FAIL: the client wrote no summary (exit $CLIENT_RC)"; tail -20 "$OUT/client.log"; FAIL=1
fi
echo "== backend summary"
jq -c . "$OUT/backend.json"
if [[ "$(jq '.connects == .disconnects and .duplicateDisconnects == 0 and .unknownDisconnects == 0 and .open == 0' "$OUT/backend.json")" != "true" ]]; then
    echo "soak.sh: FAIL: not exactly one \$disconnect per \$connect"; FAIL=1
fi
if [[ "$GW_RC" != "0" ]]; then echo "soak.sh: FAIL: the gateway exited $GW_RC after SIGTERM"; FAIL=1; fi
if [[ -s "$OUT/gateway.err" ]]; then
    echo "== gateway warnings: $(wc -l <"$OUT/gateway.err") lines (first 5)"; head -5 "$OUT/gateway.err"
fi

echo "== growth check (samples: $OUT/samples.csv)"
WARMUP=$(awk -v t="$SECONDS_TOTAL" 'BEGIN { w = int(t / 5); if (w < 30) w = 30; print w }')
if ! awk -F, -v warm="$WARMUP" '
    function median(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    NR > 1 && $1 >= warm { n++; rss[n] = $2; fd[n] = $3 }
    END {
        if (n < 3) { printf "   only %d samples after the %d s warm-up: run longer\n", n, warm; exit 1 }
        k = int(n / 3)
        for (i = 1; i <= k; i++) { r1[i] = rss[i]; f1[i] = fd[i]; r3[i] = rss[n - k + i]; f3[i] = fd[n - k + i] }
        mr1 = median(r1, k); mr3 = median(r3, k); mf1 = median(f1, k); mf3 = median(f3, k)
        rlim = mr1 * 1.10 + 4096; flim = mf1 * 1.10 + 16
        printf "   %d samples after %d s of warm-up, thirds of %d\n", n, warm, k
        printf "   RSS  first third %.0f KiB, last third %.0f KiB (%+.1f%%), limit %.0f KiB: %s\n", mr1, mr3, (mr3 - mr1) * 100 / mr1, rlim, (mr3 <= rlim ? "ok" : "GREW")
        printf "   fds  first third %.0f, last third %.0f, limit %.0f: %s\n", mf1, mf3, flim, (mf3 <= flim ? "ok" : "GREW")
        exit (mr3 <= rlim && mf3 <= flim) ? 0 : 1
    }' "$OUT/samples.csv"; then
    echo "soak.sh: FAIL: the gateway's RSS or open descriptors grew"; FAIL=1
fi
if [[ "$FAIL" == 0 ]]; then echo "== PASS"; else echo "== FAIL"; fi
exit "$FAIL"
