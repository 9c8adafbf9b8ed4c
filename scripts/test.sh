#!/usr/bin/env bash
# Installs the dependencies, checks formatting, builds lookbook twice (Release, and ASan+UBSan
# without the libtorch parts) and runs every unit and integration test in both builds.
# Tests whose names end in _Slow or _Gpu are skipped; run them with LOOKBOOK_SLOW_TESTS=1.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc)
exclude='_Slow$|_Gpu$'
if [ "${LOOKBOOK_SLOW_TESTS:-0}" = "1" ]; then
    exclude='_Gpu$'
fi

echo "== format check (clang-format $(clang-format --version | grep -o '[0-9][0-9.]*' | head -1))"
bash scripts/format.sh --check

echo "== release build"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$jobs"

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLOOKBOOK_SANITIZE=ON \
    -DLOOKBOOK_WITH_TORCH=OFF -DLOOKBOOK_BUILD_BENCH=OFF >/dev/null
cmake --build build/asan -j "$jobs"

echo "== sanitizer tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build/asan --output-on-failure -j "$jobs" -E "$exclude"

echo "== release tests"
ctest --test-dir build/release --output-on-failure -j "$jobs" -E "$exclude"
