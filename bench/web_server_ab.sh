#!/usr/bin/env bash
# cpp-httplib against Boost.Beast (issue 7): starts bench/web_server_ab with each library, drives
# its two routes with wrk (64 connections, 2 threads) and prints requests/s, p50, p99, errors and
# the server's CPU time per request, then the median over the runs.
#
# Usage: [AB_CONFIGS="httplib 64,beast 2,..."] bench/web_server_ab.sh BINARY [RUNS] [SECONDS]
#   e.g. bash bench/web_server_ab.sh build/bench/web_server_ab 5 10
# Default configurations: httplib with 64 workers (what `lookbook serve` runs), httplib with 2
# workers, and Beast with 2 threads (one per core) both as one io_context run by 2 threads and as
# an io_context per thread. Each run goes through every configuration in turn, so a change in
# the machine's load reaches all of them. CPU time per request is the figure that survives a
# shared machine: requests/s also depend on how much of the cores the other jobs leave. Servers
# listen on 127.0.0.1 and are stopped at the end.
set -euo pipefail
binary=$1
runs=${2:-3}
seconds=${3:-10}
IFS=, read -ra configs <<<"${AB_CONFIGS:-httplib 64,httplib 2,beast 2,beast-per-thread 2}"
routes=("json /api/bought-together" "html /page")
results=$(mktemp /tmp/web-server-ab.XXXXXX)
ticks_per_second=$(getconf CLK_TCK)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -f "$results"
}
trap cleanup EXIT

# User plus system CPU ticks of a process (fields 14 and 15 of /proc/PID/stat; the command name
# in field 2 has no spaces here).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# wrk prints latencies as 812.00us, 1.52ms or 1.02s; the table uses milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000
        printf "%.2f", n
    }'
}

start_server() {  # library threads -> sets server_pid and port
    port=$((20000 + RANDOM % 20000))
    "$binary" "$1" "$port" "$2" 2>/dev/null &
    server_pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/page" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "web_server_ab $1 did not answer on 127.0.0.1:$port" >&2
    exit 1
}

stop_server() {
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

echo "wrk: 64 connections, 2 threads, ${seconds}s per route, $runs runs, $(nproc) cores (shared)"
echo "load before: $(uptime)"
printf "%-3s %-18s %-5s %10s %9s %9s %8s %10s\n" \
    run config route "req/s" "p50 ms" "p99 ms" errors "cpu us/req"
for run in $(seq "$runs"); do
    for config in "${configs[@]}"; do
        read -r library threads <<<"$config"
        start_server "$library" "$threads"
        for route in "${routes[@]}"; do
            read -r route_name path <<<"$route"
            before=$(cpu_ticks "$server_pid")
            out=$(wrk -t2 -c64 -d"${seconds}s" --latency "http://127.0.0.1:$port$path")
            after=$(cpu_ticks "$server_pid")
            rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
            requests=$(echo "$out" | awk '/requests in/ {print $1}')
            p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
            p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
            # Socket errors (connect, read, write, timeout) and non-2xx answers, summed.
            errors=$(echo "$out" | awk '/Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10}
                                        /Non-2xx/ {n += $4} END {print n + 0}')
            cpu_us=$(awk -v t=$((after - before)) -v hz="$ticks_per_second" -v n="$requests" \
                'BEGIN {printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0)}')
            label="$library-$threads"
            printf "%-3s %-18s %-5s %10s %9s %9s %8s %10s\n" \
                "$run" "$label" "$route_name" "$rps" "$p50" "$p99" "$errors" "$cpu_us"
            echo "$label $route_name $rps $p50 $p99 $errors $cpu_us" >>"$results"
        done
        stop_server
    done
done
echo "load after: $(uptime)"

# The median of each column over the runs (RUNS=0 runs only the checks below).
if [ "$runs" -gt 0 ]; then
    echo
    echo "median of $runs runs"
    printf "%-18s %-5s %10s %9s %9s %8s %10s\n" config route "req/s" "p50 ms" "p99 ms" errors "cpu us/req"
    for config in "${configs[@]}"; do
        read -r library threads <<<"$config"
        for route in "${routes[@]}"; do
            read -r route_name _ <<<"$route"
            row=("$library-$threads" "$route_name")
            for column in 3 4 5 6 7; do
                row+=("$(awk -v c="$library-$threads" -v r="$route_name" -v k="$column" \
                    '$1 == c && $2 == r {print $k}' "$results" | sort -g | awk '{v[NR] = $1}
                    END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')")
            done
            printf "%-18s %-5s %10s %9s %9s %8s %10s\n" "${row[@]}"
        done
    done
fi

# Robustness checks, one server of each kind (64 httplib workers as `lookbook serve` runs).
#  - pipelining: three requests in one write, the answers counted within 8 s;
#  - header limit: one 16 KB header, the status answered (000: closed without an answer, what
#    this bench's Beast code does on any parse error, Beast's default header limit being 8 KB);
#  - slow clients: 80 connections send half a request and then stay silent, or send one more
#    header byte every 2 s; then the time a normal request takes (curl gives up after 25 s).
#    Both servers here have a 10 s read timeout: httplib's is per read, Beast's per request.
behind_slow_clients() {  # drip: yes|no
    local slow_fds=() slow_fd drip_pid=""
    for _ in $(seq 80); do
        exec {slow_fd}<>"/dev/tcp/127.0.0.1/$port"
        printf 'GET /page HTTP/1.1\r\nHost: a\r\nX-Slow: ' >&"$slow_fd"
        slow_fds+=("$slow_fd")
    done
    if [ "$1" = yes ]; then
        (
            trap '' PIPE
            while true; do
                for slow_fd in "${slow_fds[@]}"; do printf a >&"$slow_fd" 2>/dev/null || true; done
                sleep 2
            done
        ) >/dev/null &
        drip_pid=$!
    fi
    sleep 0.5
    curl -s -o /dev/null -m 25 -w '%{http_code} in %{time_total} s' \
        "http://127.0.0.1:$port/page" || true
    if [ -n "$drip_pid" ]; then
        kill "$drip_pid"
        wait "$drip_pid" 2>/dev/null || true
    fi
    for slow_fd in "${slow_fds[@]}"; do exec {slow_fd}>&-; done
}

echo
echo "robustness checks"
big_header=$(head -c 16384 /dev/zero | tr '\0' 'a')
for config in "httplib 64" "beast 2"; do
    read -r library threads <<<"$config"
    start_server "$library" "$threads"
    exec {pipe_fd}<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET /api/bought-together HTTP/1.1\r\nHost: a\r\n\r\nGET /page HTTP/1.1\r\nHost: a\r\n\r\nGET /page HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' >&"$pipe_fd"
    pipelined=$(timeout 8 cat <&"$pipe_fd" | grep -ao 'HTTP/1.1 200' | wc -l)
    exec {pipe_fd}>&-
    header_status=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "X-Big: $big_header" \
        "http://127.0.0.1:$port/page" || true)
    echo "$library-$threads: pipelined requests answered: $pipelined of 3;" \
        "a 16 KB header: $header_status"
    echo "$library-$threads: a request behind 80 silent clients: $(behind_slow_clients no);" \
        "behind 80 dripping clients: $(behind_slow_clients yes)"
    stop_server
done
