#!/usr/bin/env bash
# The main job on the embedded default: installs the dependencies, builds lookbook (Release) and
# runs it on the H&M sample in ../shared/data/hm_hungle45_pse: ingest into out/hm-store, print
# the store summary, mine the "complete the look" rules and ask for suggestions for two carts.
# Then `lookbook build` makes every recommender; with --serve the site is served at the end
# (http://127.0.0.1:8080/ unless LOOKBOOK_PORT says otherwise) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Build output goes to stderr so that stdout holds only what lookbook answers.
cmake --build build/release -j "$(nproc)" --target lookbook >&2

shared="${LOOKBOOK_SHARED:-../shared}"
sample="$shared/data/hm_hungle45_pse"
if [ ! -d "$sample" ]; then
    echo "demo: the H&M sample is not at $sample; set LOOKBOOK_SHARED to the shared folder" >&2
    exit 1
fi
lookbook=build/release/apps/lookbook
store=out/hm-store

echo "== ingest the H&M sample into $store"
"$lookbook" ingest \
    --articles "$sample/articles_train_sample.csv" \
    --customers "$sample/customers_sample.csv" \
    --transactions "$sample/transactions_train_sample.csv" \
    --images "$sample/images" \
    --store "$store"

echo "== store summary"
"$lookbook" info "$store" --verify

echo "== mine frequently-bought-together rules"
"$lookbook" mine "$store"

echo "== complete the look: skinny jeans (0706016001), other product groups only"
"$lookbook" --log-level warn bought-together "$store" 0706016001 -k 5 --other-groups
echo "== frequently bought together: skinny jeans, any product"
"$lookbook" --log-level warn bought-together "$store" 0706016001 -k 3

echo "== build every recommender (skips what is up to date)"
"$lookbook" build "$store"

echo "== evaluation report (charts and metrics.json) into out/report"
"$lookbook" --log-level warn report "$store" --out out/report

if [ "${1:-}" = "--serve" ]; then
    echo "== serve the site"
    exec "$lookbook" serve "$store" --port "${LOOKBOOK_PORT:-8080}"
fi
