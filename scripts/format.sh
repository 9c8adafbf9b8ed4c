#!/usr/bin/env bash
# Formats every C++ file with the repository's .clang-format; --check only reports differences.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.cpp' '*.hpp' | sort -u)
if [ ${#files[@]} -eq 0 ]; then
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    clang-format --dry-run -Werror "${files[@]}"
    echo "format: ${#files[@]} files formatted as .clang-format asks"
else
    clang-format -i "${files[@]}"
fi
