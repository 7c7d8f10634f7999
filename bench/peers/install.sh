#!/usr/bin/env bash
# Installs the Debian 12 packages the side-by-side benchmark (bench/peers) needs: the peer
# servers, their C client libraries, python3 for the report and the tools run.sh uses.
# Idempotent and quiet when everything is present. Runs as root or through sudo.
#
# The redis-server package would start a system redis on the default port when installed; a
# temporary policy-rc.d (only when none exists) keeps every service from being started, so the
# only servers that run are the ones run.sh starts on its own ports and stops by PID.
set -euo pipefail

packages=(redis-server redis-tools nats-server libhiredis-dev libnats-dev libssl-dev
          python3 gcc g++ make pkg-config procps iproute2 coreutils util-linux)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bench/peers/install.sh: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
log=/tmp/ironbus-peers-apt.log

policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ "$own_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  $SUDO apt-get update -q >>"$log" 2>&1
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1 || {
    tail -n 30 "$log" >&2
    echo "bench/peers/install.sh: apt-get failed (log: $log)" >&2
    exit 1
  }
fi
