#!/usr/bin/env bash
# The main job on the embedded default, with no network and no pretrained weights: installs the
# dependencies, builds lookbook (Release), ingests the H&M sample in
# ../shared/data/hm_hungle45_pse into out/hm-store, runs `lookbook build` (bought-together
# rules, the catalog-trained image/text encoder, embeddings, the similar-items index and the
# personal recommenders), shows one answer of each recommender, writes the evaluation report to
# out/report and serves the site at http://127.0.0.1:8080/ (LOOKBOOK_PORT changes the port)
# until Ctrl-C. `--no-serve` stops before serving (for scripts and CI).
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

# A re-run keeps the store (and so every built model) when the sample files are unchanged and
# the store still verifies; a fresh ingest would make `build` redo every step. The stamp is the
# files' sizes and modification times.
inputs=("$sample/articles_train_sample.csv" "$sample/customers_sample.csv"
    "$sample/transactions_train_sample.csv" "$sample/images")
stamp=$(stat -L -c '%n %s %Y' "${inputs[@]}")
if [ -f "$store.inputs" ] && [ "$(cat "$store.inputs")" = "$stamp" ] &&
    "$lookbook" --log-level off info "$store" --verify >/dev/null 2>&1; then
    echo "== $store already holds the H&M sample (delete it to ingest again)"
else
    echo "== ingest the H&M sample into $store"
    rm -f "$store.inputs"
    "$lookbook" ingest \
        --articles "${inputs[0]}" \
        --customers "${inputs[1]}" \
        --transactions "${inputs[2]}" \
        --images "${inputs[3]}" \
        --store "$store"
    echo "$stamp" >"$store.inputs"
fi

echo "== store summary"
"$lookbook" info "$store" --verify

echo "== build every recommender (skips what is up to date; the encoder trains up to 12 minutes once)"
"$lookbook" build "$store"

echo "== complete the look: skinny jeans (0706016001), other product groups only"
"$lookbook" --log-level warn bought-together "$store" 0706016001 -k 5 --other-groups
echo "== frequently bought together: skinny jeans, any product"
"$lookbook" --log-level warn bought-together "$store" 0706016001 -k 3

echo "== similar items: skinny jeans"
"$lookbook" --log-level warn similar "$store" 0706016001 -k 5
echo "== text search: \"black strap top\""
"$lookbook" --log-level warn search "$store" "black strap top" -k 5

customer=$(sed -n 2p "$sample/customers_sample.csv" | cut -d, -f1)
echo "== recommended for customer ${customer:0:16}..."
"$lookbook" --log-level warn recommend "$store" "$customer" -k 6

echo "== evaluation report (charts and metrics.json) into out/report"
"$lookbook" --log-level warn report "$store" --out out/report

if [ "${1:-}" != "--no-serve" ]; then
    echo "== serve the site (Ctrl-C to stop)"
    exec "$lookbook" serve "$store" --port "${LOOKBOOK_PORT:-8080}"
fi
