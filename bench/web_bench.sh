#!/usr/bin/env bash
# Load test of `lookbook serve` with wrk (64 connections, 2 threads): requests/s and p50/p99
# latency of the bought-together API, the health API, and a full article page (HTML plus its
# thumbnails), the page also served by the minimal Flask reference (web_reference_flask.py).
# With CUSTOMER_IDS (a file, one customer id a line; `recommend_cost STORE --write-ids FILE`
# writes every customer with purchases) it also loads the recommendations API, cycling through
# those customers: once with the server's answer cache and with --recommend-cache 0, where every
# request computes its answer (the cold path): from the lists computed ahead at load (default),
# then with --precompute 0, where every answer also searches the catalog.
# Each line also gives the CPU time per request of the server (its utime+stime from /proc
# around the wrk run) and of wrk itself: on a shared machine requests/s and latency depend on
# the other load, CPU per request much less.
#
# Usage: bench/web_bench.sh LOOKBOOK_BINARY STORE [ARTICLE_ID] [SECONDS] [CUSTOMER_IDS]
# With WEB_BENCH_ONLY=recommendations only the recommendations API is loaded (CUSTOMER_IDS
# needed): cache filling, cache warm and no cache; with WEB_BENCH_ONLY=cold only the last.
# WEB_BENCH_SERVE_ARGS adds options to every `lookbook serve` (e.g. "--compute-slots 3").
# Each line ends with the CPU the rest of the machine used during the run, in cores (all busy
# time from /proc/stat less the server's and wrk's), and the 1-minute load average read just
# before the run (which still holds the previous run's threads for a minute).
# The server adds STORE/events.sqlite and caches thumbnails under STORE/cache. Servers listen on
# 127.0.0.1 and are stopped at the end.
set -euo pipefail
lookbook=$1
store=$2
article=${3:-0706016001}
seconds=${4:-10}
customer_ids=${5:-}
only=${WEB_BENCH_ONLY:-}
read -r -a serve_args <<<"${WEB_BENCH_SERVE_ARGS:-}"
# A wrong path used to show only after minutes of health checks and Python tracebacks.
if [ ! -x "$lookbook" ]; then
    echo "$lookbook: no such program; build it first (cmake --build build/release)" >&2
    exit 2
fi
if [ ! -f "$store/CURRENT" ]; then
    echo "$store: not a lookbook store (no CURRENT file); run scripts/demo.sh --no-serve" >&2
    exit 2
fi
if [ -n "$customer_ids" ] && [ ! -s "$customer_ids" ]; then
    echo "$customer_ids: no such file of customer ids (recommend_cost STORE --write-ids FILE)" >&2
    exit 2
fi
if [ -n "$only" ] && [ -z "$customer_ids" ]; then
    echo "WEB_BENCH_ONLY=$only needs CUSTOMER_IDS" >&2
    exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
work=$(mktemp -d /tmp/lookbook-web-bench.XXXXXX)
port=$((20000 + RANDOM % 20000))
flask_port=$((port + 1))
cold_port=$((port + 2))
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

"$lookbook" --log-level warn serve "$store" --port "$port" --rate-limit 0 --threads 72 \
    "${serve_args[@]}" >"$work/serve.log" 2>&1 &
server_pid=$!
pids+=($server_pid)
# Waits (up to 30 s) until the server on port $1 answers its health check.
wait_until_up() {
    for _ in $(seq 300); do
        curl -sf "http://127.0.0.1:$1/api/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
}
wait_until_up "$port"
base="http://127.0.0.1:$port"

# CPU time (user + system) of a process so far, in clock ticks.
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# Busy time of the whole machine so far (every state but idle and iowait), in clock ticks.
busy_ticks() {
    awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

run() {  # name server_pid url [script]
    local name=$1 pid=$2 url=$3 script=${4:-}
    local args=(-t2 -c64 -d"${seconds}s" --latency)
    if [ -n "$script" ]; then
        args+=(-s "$script")
    fi
    local before after wrk_cpu out load busy_before busy_after
    load=$(cut -d' ' -f1 /proc/loadavg)
    busy_before=$(busy_ticks)
    before=$(cpu_ticks "$pid")
    # bash's `time` gives wrk's own CPU seconds (user + system) on stderr.
    wrk_cpu=$({ TIMEFORMAT='%U %S'; time wrk "${args[@]}" "$url" >"$work/wrk.out"; } 2>&1)
    after=$(cpu_ticks "$pid")
    busy_after=$(busy_ticks)
    out=$(cat "$work/wrk.out")
    local rps p50 p99 per errors requests server_us client_us
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    per=$(echo "$out" | awk '/page_requests_per_load/ {print $2}')
    requests=$(echo "$out" | awk '$2 == "requests" && $3 == "in" {print $1}')
    server_us=$(echo "($after - $before) * 1000000 / $(getconf CLK_TCK) / $requests" | bc -l)
    client_us=$(echo "$wrk_cpu" | awk -v n="$requests" '{print ($1 + $2) * 1e6 / n}')
    if [ -n "$per" ]; then
        printf "%-34s %9s req/s  %8.1f page loads/s  p50 %-8s p99 %-8s non-2xx %s" \
            "$name" "$rps" "$(echo "$rps / $per" | bc -l)" "$p50" "$p99" "${errors:-0}"
    else
        printf "%-34s %9s req/s  p50 %-8s p99 %-8s non-2xx %s" "$name" "$rps" "$p50" "$p99" \
            "${errors:-0}"
    fi
    local tick other
    tick=$(getconf CLK_TCK)
    other=$(echo "$wrk_cpu" | awk -v b="$((busy_after - busy_before))" -v s="$((after - before))" \
        -v t="$tick" -v d="$seconds" '{print ((b - s) / t - $1 - $2) / d}')
    printf "  CPU/request: server %.1f us, wrk %.1f us  other %.2f cores, load %s\n" \
        "$server_us" "$client_us" "$other" "$load"
}

echo "wrk: 64 connections, 2 threads, ${seconds}s each, $(nproc) cores (shared machine)"
if [ -z "$only" ]; then
# The page's data, exported once for the Flask reference.
/usr/bin/python3 - "$base" "$article" >"$work/page.json" <<'PY'
import json, sys, urllib.request
base, article = sys.argv[1:3]
get = lambda path: json.load(urllib.request.urlopen(base + path))
a = get("/api/articles/" + article)
complete = get("/api/articles/%s/bought-together?k=8" % article)["items"]
# Photo URLs for now; replaced below by local copies the reference opens with PIL.
photos = {}
for item in [a] + complete:
    if item.get("has_photo"):
        photos[item["article_id"]] = item["photo_url"]
json.dump({"article": a, "complete": complete, "photos": photos}, sys.stdout)
PY
# Photos for the reference are fetched once from /photos/ into files it opens with PIL.
mkdir -p "$work/photos"
/usr/bin/python3 - "$base" "$work" <<'PY'
import json, sys, urllib.request
base, work = sys.argv[1:3]
data = json.load(open(work + "/page.json"))
for article_id, url in list(data["photos"].items()):
    path = "%s/photos/%s" % (work, article_id)
    open(path, "wb").write(urllib.request.urlopen(base + url).read())
    data["photos"][article_id] = path
json.dump(data, open(work + "/page.json", "w"))
PY
/usr/bin/python3 "$here/web_reference_flask.py" "$work/page.json" "$flask_port" >"$work/flask.log" 2>&1 &
flask_pid=$!
pids+=($flask_pid)
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$flask_port/articles/$article" >/dev/null 2>&1 && break
    sleep 0.1
done

# One "page load" = the HTML and every thumbnail it shows, requested in turn by each connection.
paths=$(/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ids = [d["article"]["article_id"]] + [c["article_id"] for c in d["complete"] if c.get("has_photo")]
print(" ".join(["\"/articles/%s\"" % d["article"]["article_id"]] + ["\"/thumbnails/%s.jpg\"" % i for i in ids]))
' "$work/page.json")
cat >"$work/page.lua" <<LUA
local paths = { $(echo "$paths" | sed 's/" "/", "/g') }
local i = 0
request = function()
    i = i % #paths + 1
    return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
    io.write(string.format("page_requests_per_load %d\n", #paths))
end
LUA

run "api bought-together (lookbook)" "$server_pid" "$base/api/articles/$article/bought-together?k=10"
run "api article (lookbook)" "$server_pid" "$base/api/articles/$article"
run "article page html (lookbook)" "$server_pid" "$base/articles/$article"
run "article page html (flask)" "$flask_pid" "http://127.0.0.1:$flask_port/articles/$article"
run "full article page (lookbook)" "$server_pid" "$base" "$work/page.lua"
run "full article page (flask)" "$flask_pid" "http://127.0.0.1:$flask_port" "$work/page.lua"
fi

if [ -n "$customer_ids" ]; then
    # Each wrk thread starts at its own place in the list and walks it in order, so a run asks
    # for every customer in turn rather than for a few over and over.
    cat >"$work/recommend.lua" <<LUA
local ids = {}
for line in io.lines("$customer_ids") do
    if #line > 0 then ids[#ids + 1] = line end
end
local next_offset = 0
setup = function(thread)
    thread:set("offset", next_offset)
    next_offset = next_offset + 7919
end
local i = nil
request = function()
    if i == nil then i = offset or 0 end
    i = i % #ids + 1
    return wrk.format("GET", "/api/customers/" .. ids[i] .. "/recommendations?k=12")
end
LUA
    echo "recommendations API over $(grep -c . "$customer_ids") distinct customers:"
    # The first pass over the list fills the cache (cold answers); the second measures it warm.
    if [ "$only" != cold ]; then
        run "recommendations (cache, 1st run)" "$server_pid" "$base" "$work/recommend.lua"
        run "recommendations (cache, warm)" "$server_pid" "$base" "$work/recommend.lua"
    fi
    # Without the answer cache every request computes its answer: from the model sources' lists
    # computed ahead at load (the default), then with --precompute 0, where every answer also
    # searches the catalog (as for a customer with live events).
    for lists in ahead none; do
        extra=()
        name="recommendations (no cache)"
        if [ "$lists" = none ]; then
            extra=(--precompute 0)
            name="recommendations (no cache, no lists)"
        fi
        "$lookbook" --log-level warn serve "$store" --port "$cold_port" --rate-limit 0 \
            --threads 72 --recommend-cache 0 "${extra[@]}" "${serve_args[@]}" \
            >"$work/serve-cold.log" 2>&1 &
        cold_pid=$!
        pids+=($cold_pid)
        wait_until_up "$cold_port"
        # The lists are computed at the lowest priority: wait until they are all there.
        for _ in $(seq 600); do
            curl -sf "http://127.0.0.1:$cold_port/api/health" | /usr/bin/python3 -c '
import json, sys
ahead = json.load(sys.stdin).get("recommend_lists_ahead")
sys.exit(0 if ahead is None or ahead["ready"] == ahead["customers"] else 1)' && break
            sleep 0.1
        done
        # A short pass first, so pages of the models mapped on first use are not counted.
        wrk -t1 -c4 -d2s -s "$work/recommend.lua" "http://127.0.0.1:$cold_port" >/dev/null
        run "$name" "$cold_pid" "http://127.0.0.1:$cold_port" "$work/recommend.lua"
        kill "$cold_pid" 2>/dev/null || true
        wait "$cold_pid" 2>/dev/null || true
    done
fi
