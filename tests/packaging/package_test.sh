#!/usr/bin/env bash
# ctest `packaging.deb` (label packaging): the unit, the packaged config and the .deb.
#
#   tests/packaging/package_test.sh <ironbus-binary> <source-dir>
#
# 1. systemd-analyze verify on packaging/ironbus.service (skipped, and said so, when the tool is
#    missing). /usr/bin/ironbus need not exist here: the check runs on a copy of the unit whose
#    ExecStart names the binary under test, and any line it prints about the unit fails.
# 2. config check of packaging/ironbus.toml, and of the same file with every commented
#    example uncommented (the comments must stay valid advice).
# 3. scripts/build-deb.sh on the binary, then dpkg-deb -I / -c / -e: metadata, the files with
#    their modes and owners, the conffile, the maintainer scripts (sh -n).
# 4. dpkg-deb -x and the packaged binary checks the packaged config.
# Nothing is installed; the machine is not changed (docs/operations.md has the install run).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <ironbus-binary> <source-dir>" >&2
  exit 2
fi
binary=$(readlink -f "$1")
src=$(readlink -f "$2")
work=$(mktemp -d "${TMPDIR:-/tmp}/ironbus-packaging-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }
expect_grep() {  # <what> <pattern> <text>
  if grep -qE -- "$2" <<<"$3"; then pass "$1"; else fail "$1 (no /$2/ in:)"; echo "$3" >&2; fi
}

version=$(sed -n 's/^project(ironbus VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)

# ---- 1. the unit ----
unit="$src/packaging/ironbus.service"
# shellcheck disable=SC2016 # literal unit text, $MAINPID included
for key in 'Type=notify' 'NotifyAccess=main' 'ExecStart=/usr/bin/ironbus serve --config /etc/ironbus/ironbus.toml' \
  'ExecReload=/bin/kill -HUP \$MAINPID' 'User=ironbus' 'StateDirectory=ironbus' 'WatchdogSec=' 'Restart=on-failure' \
  'TimeoutStopSec=' 'LimitNOFILE=' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
  'PrivateDevices=yes' 'ProtectKernelTunables=yes' 'ProtectKernelModules=yes' 'ProtectKernelLogs=yes' \
  'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'MemoryDenyWriteExecute=yes' 'SystemCallFilter=@system-service' \
  'CapabilityBoundingSet=$'; do
  if grep -qE "^$key" "$unit"; then pass "unit has $key"; else fail "unit lacks $key"; fi
done
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$work/unit"
  sed "s#/usr/bin/ironbus#$binary#g" "$unit" >"$work/unit/ironbus.service"
  if out=$(systemd-analyze verify "$work/unit/ironbus.service" 2>&1); then
    if grep -q 'ironbus.service' <<<"$out"; then
      fail "systemd-analyze verify reported:"
      echo "$out" >&2
    else
      pass "systemd-analyze verify ($(systemd-analyze --version | head -1))"
    fi
  else
    fail "systemd-analyze verify exit $?:"
    echo "$out" >&2
  fi
  # The real unit differs only in the binary's path: the only complaint allowed is that
  # /usr/bin/ironbus is missing on this machine.
  out=$(systemd-analyze verify "$unit" 2>&1 || true)
  unexpected=$(grep -v 'Command /usr/bin/ironbus is not executable' <<<"$out" | grep 'ironbus.service' || true)
  if [[ -n $unexpected ]]; then fail "systemd-analyze verify on the packaged unit: $unexpected"; else pass "packaged unit verifies"; fi
else
  echo "SKIP: systemd-analyze not installed; unit not verified"
fi

# ---- 2. the packaged config ----
toml="$src/packaging/ironbus.toml"
if out=$("$binary" config check --config "$toml" 2>&1); then
  pass "config check packaging/ironbus.toml"
  expect_grep "packaged data_dir" '^storage.data_dir = /var/lib/ironbus  # file' "$out"
  expect_grep "packaged listen address is loopback" '^network.listen = 127.0.0.1:7777  # file' "$out"
else
  fail "config check packaging/ironbus.toml:"
  echo "$out" >&2
fi
if LC_ALL=C grep -qP '[^\x00-\x7F]' "$toml"; then fail "ironbus.toml is not ASCII"; else pass "ironbus.toml is ASCII"; fi
sed -E 's/^#(\[?[a-z_]+\]?( = |$))/\1/' "$toml" >"$work/uncommented.toml"
if out=$("$binary" config check --config "$work/uncommented.toml" 2>&1); then
  pass "config check with every commented example enabled"
else
  fail "a commented example in ironbus.toml does not validate:"
  echo "$out" >&2
fi

# ---- 3. the .deb ----
deb=$("$src/scripts/build-deb.sh" "$binary" "$work/out")
[[ $deb == "$work/out/ironbus-linux-$arch.deb" && -f $deb ]] || { fail "build-deb.sh made '$deb'"; exit 1; }
pass "build-deb.sh -> $(basename "$deb") ($(stat -c %s "$deb") bytes)"
info=$(dpkg-deb -I "$deb")
expect_grep "Package" '^ Package: ironbus$' "$info"
expect_grep "Version $version" "^ Version: ${version//./\\.}$" "$info"
expect_grep "Architecture $arch" "^ Architecture: $arch$" "$info"
expect_grep "Depends names adduser" '^ Depends: .*adduser' "$info"
for part in control conffiles postinst prerm postrm; do
  expect_grep "control member $part" " $part( |$)" "$info"
done
contents=$(dpkg-deb -c "$deb")
expect_grep "binary 0755 root" '^-rwxr-xr-x root/root .* \./usr/bin/ironbus$' "$contents"
expect_grep "unit" '^-rw-r--r-- root/root .* \./lib/systemd/system/ironbus\.service$' "$contents"
expect_grep "config" '^-rw-r--r-- root/root .* \./etc/ironbus/ironbus\.toml$' "$contents"
expect_grep "operations doc" '\./usr/share/doc/ironbus/operations\.md$' "$contents"
if grep -vE '^[-dl][rwx-]{9} root/root ' <<<"$contents" | grep -q .; then fail "a file not owned by root/root"; else pass "all root/root"; fi

dpkg-deb -e "$deb" "$work/control"
if [[ $(cat "$work/control/conffiles") == "/etc/ironbus/ironbus.toml" ]]; then
  pass "conffiles is /etc/ironbus/ironbus.toml"
else
  fail "conffiles: $(cat "$work/control/conffiles")"
fi
for script in postinst prerm postrm; do
  f="$work/control/$script"
  if [[ -x $f ]] && sh -n "$f" && head -1 "$f" | grep -q '^#!/bin/sh'; then pass "$script executable, sh -n clean"; else fail "$script"; fi
done
check_script() {  # <what> <fixed string> <file>
  if grep -qF -- "$2" "$3"; then pass "$1"; else fail "$1"; fi
}
check_script "postinst creates the user with adduser" 'adduser --system' "$work/control/postinst"
check_script "postinst falls back to useradd" 'useradd --system' "$work/control/postinst"
check_script "postinst makes the data dir 0750" "-m 0750 \"\$IRONBUS_HOME\"" "$work/control/postinst"
check_script "postinst talks to systemd only when it runs" 'if [ -d /run/systemd/system ]' "$work/control/postinst"
check_script "purge keeps a non-empty data dir" "purge keeps \$IRONBUS_HOME" "$work/control/postrm"

# ---- 4. the packaged binary and config ----
dpkg-deb -x "$deb" "$work/root"
if [[ $("$work/root/usr/bin/ironbus" --version) == "ironbus $version" ]]; then
  pass "packaged binary runs: ironbus $version"
else
  fail "packaged binary --version"
fi
if cmp -s "$work/root/etc/ironbus/ironbus.toml" "$toml" && cmp -s "$work/root/lib/systemd/system/ironbus.service" "$unit"; then
  pass "packaged unit and config are the sources"
else
  fail "packaged unit or config differ from packaging/"
fi
if out=$("$work/root/usr/bin/ironbus" config check --config "$work/root/etc/ironbus/ironbus.toml" 2>&1); then
  pass "packaged binary checks the packaged config"
else
  fail "packaged config check:"
  echo "$out" >&2
fi

if [[ $failures -ne 0 ]]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "all packaging checks passed"
