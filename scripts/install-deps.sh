#!/usr/bin/env bash
# Installs every Debian 12 package lookbook needs to build, test, benchmark and run.
# Idempotent: packages already present are left alone. Run as root (or with sudo).
set -euo pipefail

packages=(
    build-essential cmake ninja-build pkg-config git clang-format
    libgtest-dev libgmock-dev googletest libbenchmark-dev
    libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
    libcpp-httplib-dev libssl-dev zlib1g-dev
    libtorch-dev libfaiss-dev libhnswlib-dev libeigen3-dev libopenblas-dev
    libjpeg62-turbo-dev libpng-dev libwebp-dev libutf8proc-dev libsqlite3-dev
    chromium
    python3-torch python3-pandas python3-pil python3-numpy
    wrk python3-flask
    libboost-dev libgoogle-perftools-dev
)

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
