# Web load test (wrk): bench/web_bench.sh runs it against a store; nothing to compile. The
# target only checks that the script's tools are present.
add_custom_target(web_bench_check
    COMMAND sh -c "command -v wrk >/dev/null && test -x /usr/bin/python3"
    COMMENT "bench/web_bench.sh needs wrk and /usr/bin/python3 (with python3-flask)")
