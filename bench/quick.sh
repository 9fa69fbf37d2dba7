#!/usr/bin/env bash
# Quick load check of wsgate on this machine: builds the release preset, starts a gateway on core 0
# and wsgate-loadgen on core 1, runs five short scenarios and prints one table. About 30 s once
# built. See bench/README.md for what each figure means.
#
#   bench/quick.sh              build + run
#   QUICK_NO_BUILD=1 bench/quick.sh   use the binaries already in build/release
#   GATEWAY=/tmp/old/wsgate QUICK_NO_BUILD=1 bench/quick.sh   the same scenarios against another build
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
GATEWAY="${GATEWAY:-$BUILD/src/app/wsgate}"  # GATEWAY=/path/to/wsgate: another build (with QUICK_NO_BUILD=1)
LOADGEN="$BUILD/bench/loadgen/wsgate-loadgen"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsgate-quick.XXXXXX")
GW_PID=""
LG_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$LG_PID" ]] && kill -0 "$LG_PID" 2>/dev/null; then kill "$LG_PID" 2>/dev/null || true; fi
    if [[ -n "$GW_PID" ]] && kill -0 "$GW_PID" 2>/dev/null; then
        kill "$GW_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$GW_PID" 2>/dev/null && kill -9 "$GW_PID" 2>/dev/null || true
        wait "$GW_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Build ----
if [[ -z "${QUICK_NO_BUILD:-}" ]]; then
    echo "== building the release preset (log: build/release/quick-build.log)"
    cd "$ROOT"
    mkdir -p "$BUILD"
    if ! cmake --preset release >"$TMP/configure.log" 2>&1; then
        cat "$TMP/configure.log"; exit 1
    fi
    targets=(wsgate wsgate-loadgen)
    if cmake --build --preset release --target help 2>/dev/null | grep -q '^sigv4_bench:'; then
        targets+=(sigv4_bench)
    else
        echo "   (no sigv4_bench target here: skipped)"
    fi
    if ! cmake --build --preset release --target "${targets[@]}" >"$BUILD/quick-build.log" 2>&1; then
        tail -40 "$BUILD/quick-build.log"; exit 1
    fi
fi
[[ -x "$GATEWAY" && -x "$LOADGEN" ]] || { echo "missing $GATEWAY or $LOADGEN (build first)"; exit 1; }

# ---- Cores: gateway on 0, load generator on 1 ----
CORES=$(nproc)
if [[ "$CORES" -ge 2 ]] && command -v taskset >/dev/null; then
    PIN_GW=(taskset -c 0)
    PIN_LG=(taskset -c 1)
    PINNING="gateway on core 0, loadgen on core 1"
else
    PIN_GW=()
    PIN_LG=()
    PINNING="not pinned ($CORES core(s) or no taskset)"
fi

# ---- A free port for the whoami backend the load generator serves in post mode ----
free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    else
        echo $((20000 + RANDOM % 20000))
    fi
}
BACKEND_PORT=$(free_port)

CONFIG="$TMP/gateway.yaml"
cat >"$CONFIG" <<EOF
# Written by bench/quick.sh. The whoami route's backend is served by wsgate-loadgen (post mode).
listen: 127.0.0.1:0
threads: 1
log_level: warn
stages: [dev]
integrations:
  loadgen:
    type: http
    url: http://127.0.0.1:${BACKEND_PORT}/
    timeout_ms: 5000
routes:
  \$default:
    integration: echo
    route_response: true
  whoami:
    integration: loadgen
    route_response: true
management:
  auth: sigv4
  region: us-east-1
  credentials:
    - access_key_id: AKIAWSGATELOCAL00001
      secret_access_key: wsgate-local-secret-key-not-for-production
EOF

# ---- Gateway ----
"${PIN_GW[@]}" "$GATEWAY" --config "$CONFIG" --listen 127.0.0.1:0 >"$TMP/gateway.out" 2>"$TMP/gateway.err" &
GW_PID=$!
PORT=""
for _ in $(seq 100); do
    line=$(head -n 1 "$TMP/gateway.out" 2>/dev/null || true)
    if [[ "$line" =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]]; then PORT=${BASH_REMATCH[1]}; break; fi
    kill -0 "$GW_PID" 2>/dev/null || break
    sleep 0.1
done
if [[ -z "$PORT" ]]; then
    echo "gateway did not start:"; cat "$TMP/gateway.out" "$TMP/gateway.err"; exit 1
fi
URL="ws://127.0.0.1:$PORT/dev"
echo "== gateway pid $GW_PID on $URL; $PINNING; $CORES cores"

# ---- Scenarios ----
json_field() {  # json_field JSON KEY -> the scalar value of "KEY" (keys are unique in our output)
    sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"
}
json_map() {  # json_map JSON KEY -> the flat object "KEY" as "k:v k:v"
    sed -n "s/.*\"$2\":{\([^}]*\)}.*/\1/p" <<<"$1" | sed 's/"//g; s/,/ /g'
}
fmt_us() {  # microseconds -> "23 us" / "1.92 ms"; null -> "-"
    awk -v v="$1" 'BEGIN { if (v == "" || v == "null") print "-";
                           else if (v < 1000) printf "%.0f us\n", v; else printf "%.2f ms\n", v / 1000 }'
}

ROWS=()
FAILED=0
GW_DEAD=0
run() {  # run LABEL RATE_KEY UNIT loadgen-args...
    local label=$1 key=$2 unit=$3
    shift 3
    if [[ $GW_DEAD -ne 0 ]]; then
        ROWS+=("$(printf '%-30s %12s' "$label" "skipped (the gateway is gone)")")
        return 0
    fi
    echo "-- $label: wsgate-loadgen $*"
    set +e
    timeout 90 "${PIN_LG[@]}" "$LOADGEN" "$@" --url "$URL" -t 1 >"$TMP/run.out" 2>&1 &
    LG_PID=$!
    wait "$LG_PID"
    local rc=$?
    set -e
    LG_PID=""
    sed '$d' "$TMP/run.out" | sed 's/^/   /'
    local json
    json=$(tail -n 1 "$TMP/run.out")
    [[ "$json" == "{"* ]] || json="{}"
    local rate notes errs
    rate=$(json_field "$json" "$key")
    notes=""
    if [[ "$key" == posts_per_s ]]; then
        notes="status $(json_map "$json" statuses); undelivered $(json_field "$json" undelivered)"
    elif [[ "$key" == connects_per_s ]]; then
        notes="status $(json_map "$json" statuses)"
    fi
    errs=$(json_map "$json" errors)
    [[ -n "$errs" ]] && notes="$notes${notes:+; }errors $errs"
    [[ $rc -ne 0 ]] && { notes="$notes${notes:+; }exit $rc"; FAILED=1; }
    if ! kill -0 "$GW_PID" 2>/dev/null; then
        notes="$notes${notes:+; }GATEWAY DIED"
        FAILED=1
    fi
    ROWS+=("$(printf '%-30s %12s %-9s %9s %9s %9s %9s  %s' "$label" "${rate:--}" "$unit" \
        "$(fmt_us "$(json_field "$json" p50_us)")" "$(fmt_us "$(json_field "$json" p99_us)")" \
        "$(fmt_us "$(json_field "$json" p999_us)")" "$(fmt_us "$(json_field "$json" max_us)")" "$notes")")
    if ! kill -0 "$GW_PID" 2>/dev/null; then
        GW_DEAD=1
        wait "$GW_PID" 2>/dev/null && gw_rc=0 || gw_rc=$?
        echo "!! the gateway exited (status $gw_rc; 139 = SIGSEGV, 134 = SIGABRT); its last stderr lines:"
        tail -20 "$TMP/gateway.err" | sed 's/^/   /'
    fi
}

run "echo 1 conn K=1 16 B" msgs_per_s msg/s echo -c 1 -k 1 -s 16 -w 1 -d 3
run "echo 100 conns K=1 16 B" msgs_per_s msg/s echo -c 100 -k 1 -s 16 -w 1 -d 3
run "echo 100 conns K=1 4 KiB" msgs_per_s msg/s echo -c 100 -k 1 -s 4096 -w 1 -d 3
run "connect H=64 (close at once)" connects_per_s conn/s connect -H 64 -d 5
run "post 100 conns 16 B P=4 SigV4" posts_per_s POST/s post -c 100 -p 4 -s 16 -w 1 -d 3 \
    --backend "127.0.0.1:$BACKEND_PORT"

echo
printf '%-30s %12s %-9s %9s %9s %9s %9s  %s\n' scenario rate unit p50 p99 p99.9 max notes
printf '%s\n' "${ROWS[@]}"
echo "(latency: echo = round trip; connect = TCP connect + upgrade; post = POST sent -> message received)"

warnings=$(wc -l <"$TMP/gateway.err")
if [[ "$warnings" -gt 0 ]]; then
    echo
    echo "gateway stderr: $warnings line(s) at log_level warn; the most frequent:"
    sed -E 's/[A-Za-z0-9_-]{15}=/<id>/g; s/^[^ ]+ //' "$TMP/gateway.err" | sort | uniq -c | sort -rn | head -5
fi
exit "$FAILED"
