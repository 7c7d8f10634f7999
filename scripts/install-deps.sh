#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests, the fuzz smoke and the benches need.
# Idempotent and quiet when everything is present. Runs as root (CI) or through sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  clang-14 libclang-rt-14-dev lld-14
  libasio-dev libssl-dev liblz4-dev libzstd-dev libxxhash-dev
  libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  libargon2-dev libncurses-dev
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  python3 tmux openssl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have an empty package index; refresh only when an install fails.
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/ironbus-apt.log 2>&1; then
  $SUDO apt-get update -q >>/tmp/ironbus-apt.log 2>&1
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/ironbus-apt.log 2>&1 || {
    tail -n 30 /tmp/ironbus-apt.log >&2
    echo "install-deps: apt-get failed (log: /tmp/ironbus-apt.log)" >&2
    exit 1
  }
fi
