#!/usr/bin/env bash
# Cluster mode: the cost of a management POST that has to be forwarded to another node. Starts a
# redis-server and two wsgate nodes (A and B) in cluster mode, connects the load generator's
# clients to node A and measures signed POSTs through node A (local: A holds every connection)
# and through node B (cross-node: B forwards each POST to A over Redis pub/sub), side by side,
# REPS repetitions each; prints a table of medians and the cross/local ratios.
#
#   bench/cluster_post.sh                  build wsgate + wsgate-loadgen, then run (~1 min)
#   CLUSTER_NO_BUILD=1 bench/cluster_post.sh   use build/release as it is
#   REPS=5 DUR=5 CONNS=100 HTTP=4 SIZE=16 bench/cluster_post.sh
#
# wsgate-loadgen sends its WebSocket upgrades and its POSTs to the one host:port of --url, so an
# nginx (one worker, config written to the temp dir) sits in front: WebSocket upgrades always go
# to A; POSTs go to A on the "local" port and to B on the "cross" port (Host is passed through, so
# the SigV4 signatures still match). Both modes go through nginx, so the comparison is fair; a
# third row, "direct", runs the local case without nginx to show what the proxy itself costs.
# See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
GATEWAY="$BUILD/src/app/wsgate"
LOADGEN="$BUILD/bench/loadgen/wsgate-loadgen"
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
REDIS_CLI=${REDIS_CLI:-/usr/bin/redis-cli}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

REPS=${REPS:-3}
DUR=${DUR:-3}
WARM=${WARM:-1}
CONNS=${CONNS:-100}
HTTP=${HTTP:-4}
SIZE=${SIZE:-16}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsgate-cluster-post.XXXXXX")
PIDS=()    # every process started here, stopped by PID on exit
LG_PID=""

stop_pid() {  # stop_pid PID: SIGTERM, up to 5 s, then SIGKILL
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n "$LG_PID" ]] && stop_pid "$LG_PID"
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Build ----
if [[ -z "${CLUSTER_NO_BUILD:-}" ]]; then
    if pgrep -x ninja >/dev/null; then
        echo "another build is running (ninja); run again when it is done, or with CLUSTER_NO_BUILD=1"
        exit 1
    fi
    echo "== building wsgate and wsgate-loadgen (release preset)"
    cd "$ROOT"
    cmake --preset release >"$TMP/configure.log" 2>&1 || { cat "$TMP/configure.log"; exit 1; }
    cmake --build --preset release --target wsgate wsgate-loadgen >"$TMP/build.log" 2>&1 ||
        { tail -40 "$TMP/build.log"; exit 1; }
fi
for f in "$GATEWAY" "$LOADGEN" "$REDIS_SERVER" "$REDIS_CLI" "$(command -v python3)"; do
    [[ -x "$f" ]] || { echo "missing $f"; exit 1; }
done
[[ -x "$NGINX" ]] || { echo "nginx is needed for the proxy in front of the nodes (apt-get install nginx-light)"; exit 1; }

# ---- Cores: the two nodes on core 0; Redis, the proxy and the load generator on core 1 ----
CORES=$(nproc)
if [[ "$CORES" -ge 2 ]] && command -v taskset >/dev/null; then
    PIN_GW=(taskset -c 0)
    PIN_LG=(taskset -c 1)
    PINNING="nodes A and B on core 0; redis, nginx and loadgen on core 1"
else
    PIN_GW=()
    PIN_LG=()
    PINNING="not pinned ($CORES core(s) or no taskset)"
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port_line FILE PID -> the port of the "listening on 127.0.0.1:PORT" first line of FILE
# (5 s at most; fails early if PID exits)
wait_port_line() {
    local file=$1 pid=$2 line
    for _ in $(seq 100); do
        line=$(head -n 1 "$file" 2>/dev/null || true)
        if [[ "$line" =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]]; then echo "${BASH_REMATCH[1]}"; return 0; fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# ---- Redis ----
REDIS_PORT=""
for _ in 1 2 3 4 5; do
    port=$(free_port)
    "${PIN_LG[@]}" "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --daemonize no --dir "$TMP" --logfile "$TMP/redis.log" &
    pid=$!
    for _ in $(seq 100); do
        [[ "$("$REDIS_CLI" -p "$port" ping 2>/dev/null || true)" == PONG ]] && { REDIS_PORT=$port; break; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if [[ -n "$REDIS_PORT" ]]; then PIDS+=("$pid"); break; fi
    stop_pid "$pid"   # the port was taken meanwhile: another one
done
[[ -n "$REDIS_PORT" ]] || { echo "redis-server did not start:"; cat "$TMP/redis.log" 2>/dev/null; exit 1; }

# ---- Two nodes ----
BACKEND_PORT=$(free_port)
node_config() {  # node_config NAME
    cat <<EOF
# Written by bench/cluster_post.sh: bench/quick.sh's post-mode config plus the cluster section.
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
cluster:
  redis: redis://127.0.0.1:${REDIS_PORT}
  node_id: bench-$1
EOF
}
declare -A GW_PORT GW_PID
for n in a b; do
    node_config "$n" >"$TMP/$n.yaml"
    "${PIN_GW[@]}" "$GATEWAY" --config "$TMP/$n.yaml" --listen 127.0.0.1:0 >"$TMP/$n.out" 2>"$TMP/$n.err" &
    GW_PID[$n]=$!
    PIDS+=("${GW_PID[$n]}")
    GW_PORT[$n]=$(wait_port_line "$TMP/$n.out" "${GW_PID[$n]}") ||
        { echo "node $n did not start:"; cat "$TMP/$n.out" "$TMP/$n.err"; exit 1; }
done

# ---- The proxy (nginx): WebSocket upgrades -> A; POSTs -> A (local) or B (cross) ----
PROXY_LOCAL=$(free_port)
PROXY_CROSS=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx.conf" <<EOF
# Written by bench/cluster_post.sh.
worker_processes 1;
daemon off;
master_process off;
error_log $TMP/nginx/error.log warn;
pid $TMP/nginx/nginx.pid;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
    map \$request_method \$cross_target { POST node_b; default node_a; }
    upstream node_a { server 127.0.0.1:${GW_PORT[a]}; keepalive 64; }
    upstream node_b { server 127.0.0.1:${GW_PORT[b]}; keepalive 64; }
    proxy_http_version 1.1;
    proxy_set_header Host \$http_host;      # the host the POST was signed for
    proxy_set_header Upgrade \$http_upgrade;
    proxy_set_header Connection \$connection_upgrade;
    proxy_buffering off;
    proxy_request_buffering off;
    proxy_read_timeout 300s;
    server { listen 127.0.0.1:${PROXY_LOCAL}; location / { proxy_pass http://node_a; } }
    server { listen 127.0.0.1:${PROXY_CROSS}; location / { proxy_pass http://\$cross_target; } }
}
EOF
"${PIN_LG[@]}" "$NGINX" -c "$TMP/nginx.conf" -p "$TMP/nginx" -e "$TMP/nginx/error.log" >"$TMP/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
up=""
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PROXY_CROSS") 2>/dev/null; then up=1; break; fi
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.05
done
[[ -n "$up" ]] || { echo "nginx did not start:"; cat "$TMP/nginx/stdout.log" "$TMP/nginx/error.log" 2>/dev/null; exit 1; }
declare -A PROXY_PORT=([local]=$PROXY_LOCAL [cross]=$PROXY_CROSS)

echo "== redis :$REDIS_PORT; node A :${GW_PORT[a]}; node B :${GW_PORT[b]}; nginx local :${PROXY_PORT[local]} cross :${PROXY_PORT[cross]}"
echo "== $PINNING; $CORES cores; post -c $CONNS -p $HTTP -s $SIZE -w $WARM -d $DUR, $REPS repetition(s)"

# ---- Runs: local, cross, direct interleaved, so a disturbance hits every mode alike ----
FAILED=0
run() {  # run MODE REP
    local mode=$1 rep=$2 port
    case "$mode" in
        direct) port=${GW_PORT[a]} ;;
        *) port=${PROXY_PORT[$mode]} ;;
    esac
    set +e
    timeout 90 "${PIN_LG[@]}" "$LOADGEN" post --url "ws://127.0.0.1:$port/dev" -t 1 -c "$CONNS" -p "$HTTP" \
        -s "$SIZE" -w "$WARM" -d "$DUR" --backend "127.0.0.1:$BACKEND_PORT" -q >"$TMP/run.out" 2>"$TMP/run.err" &
    LG_PID=$!
    wait "$LG_PID"
    local rc=$?
    set -e
    LG_PID=""
    local json
    json=$(tail -n 1 "$TMP/run.out")
    [[ "$json" == "{"* ]] || json='{"ok":false}'
    echo "$mode $rep $rc $json" >>"$TMP/results.txt"
    [[ $rc -ne 0 ]] && { FAILED=1; echo "   ($mode #$rep: exit $rc; $(tr '\n' ' ' <"$TMP/run.err" | cut -c1-300))"; }
    for n in a b; do
        if ! kill -0 "${GW_PID[$n]}" 2>/dev/null; then
            echo "!! node $n exited; its last stderr lines:"; tail -20 "$TMP/$n.err" | sed 's/^/   /'
            exit 1
        fi
    done
    python3 - "$mode" "$rep" "$json" <<'EOF'
import json, sys
mode, rep, j = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
print(f"-- {mode:6} #{rep}: {j.get('posts_per_s', '-')} POST/s, delivery p50 {j.get('p50_us', '-')} us, "
      f"POST rtt p50 {j.get('post_p50_us', '-')} us, statuses {j.get('statuses', {})}, undelivered {j.get('undelivered', '-')}")
EOF
}
: >"$TMP/results.txt"
for rep in $(seq "$REPS"); do
    for mode in local cross direct; do run "$mode" "$rep"; done
done

# ---- Table ----
echo
python3 - "$TMP/results.txt" <<'EOF'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    mode, rep, rc, j = line.split(" ", 3)
    rows.setdefault(mode, []).append(json.loads(j))

def med(mode, key):
    vals = [r[key] for r in rows.get(mode, []) if isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else None

def us(v):
    if v is None: return "-"
    return f"{v:.0f} us" if v < 1000 else f"{v / 1000:.2f} ms"

def statuses(mode):
    tot = {}
    for r in rows.get(mode, []):
        for k, v in r.get("statuses", {}).items(): tot[k] = tot.get(k, 0) + v
    return " ".join(f"{k}:{v}" for k, v in sorted(tot.items()))

def undelivered(mode):
    return sum(r.get("undelivered", 0) or 0 for r in rows.get(mode, []))

labels = {"local": "local  (POST to A, nginx)", "cross": "cross  (POST to B, nginx)", "direct": "direct (POST to A, no nginx)"}
print(f"{'mode':30} {'runs (POST/s)':>28} {'median':>9} {'deliv p50':>10} {'deliv p99':>10} {'rtt p50':>9} {'rtt p99':>9}  notes")
for mode in ("local", "cross", "direct"):
    rates = " ".join(f"{r.get('posts_per_s', 0):.0f}" for r in rows.get(mode, []))
    m = med(mode, "posts_per_s")
    print(f"{labels[mode]:30} {rates:>28} {m if m is None else round(m):>9} {us(med(mode, 'p50_us')):>10} "
          f"{us(med(mode, 'p99_us')):>10} {us(med(mode, 'post_p50_us')):>9} {us(med(mode, 'post_p99_us')):>9}  "
          f"status {statuses(mode)}; undelivered {undelivered(mode)}")

def ratio(key):
    a, b = med("cross", key), med("local", key)
    return f"{a / b:.2f}" if a and b else "-"
print()
print(f"cross/local: rate {ratio('posts_per_s')}, delivery p50 {ratio('p50_us')}, delivery p99 {ratio('p99_us')}, "
      f"POST rtt p50 {ratio('post_p50_us')}, POST rtt p99 {ratio('post_p99_us')}")
print("(medians of the runs; delivery = POST body stamped -> message read by the client; rtt = POST sent -> answer read)")
EOF

for n in a b; do
    lines=$(wc -l <"$TMP/$n.err")
    if [[ "$lines" -gt 0 ]]; then
        echo
        echo "node $n stderr: $lines line(s) at log_level warn; the most frequent:"
        sed -E 's/[A-Za-z0-9_-]{15}=/<id>/g; s/^[^ ]+ //' "$TMP/$n.err" | sort | uniq -c | sort -rn | head -5
    fi
done
exit "$FAILED"
