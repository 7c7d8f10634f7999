#!/usr/bin/env bash
# Builds the Debian package of an ironbus binary (docs/operations.md, spec/cli-config-ops.md 9.1):
#
#   scripts/build-deb.sh <ironbus-binary> <out-dir>     ->  <out-dir>/ironbus-linux-<arch>.deb
#
#   /usr/bin/ironbus                          0755, stripped copy of <ironbus-binary>
#   /lib/systemd/system/ironbus.service       packaging/ironbus.service
#   /etc/ironbus/ironbus.toml                 packaging/ironbus.toml (conffile)
#   /usr/share/doc/ironbus/                   operations.md, config.md, metrics.md
#   DEBIAN/{control,conffiles,postinst,prerm,postrm}   from packaging/debian/
#
# Version: project(ironbus VERSION x.y.z) in CMakeLists.txt (the IRONBUS_VERSION the binary
# prints), checked against `<binary> --version`. Architecture: dpkg --print-architecture
# (override with IRONBUS_DEB_ARCH for a cross-built binary). Depends: the Debian packages that
# own the shared libraries the binary needs (none for `make static`). Owner root:root through
# dpkg-deb --root-owner-group, so no fakeroot is needed. Set IRONBUS_DEB_STRIP=0 to keep symbols.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <ironbus-binary> <out-dir>" >&2
  exit 2
fi
binary=$1
out_dir=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
  echo "build-deb: $*" >&2
  exit 1
}
[[ -f $binary && -x $binary ]] || die "$binary is not an executable file"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg)"

version=$(sed -n 's/^project(ironbus VERSION \([0-9][0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
[[ -n $version ]] || die "no project(ironbus VERSION ...) in $root/CMakeLists.txt"
arch=${IRONBUS_DEB_ARCH:-$(dpkg --print-architecture)}

# A stale binary must not ship under a new version number.
if [[ -z ${IRONBUS_DEB_ARCH:-} ]]; then
  reported=$("$binary" --version 2>/dev/null || true)
  [[ $reported == "ironbus $version" ]] || die "$binary --version says '$reported', CMakeLists.txt says $version"
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/ironbus-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"

install -D -m 0755 "$binary" "$stage/usr/bin/ironbus"
if [[ ${IRONBUS_DEB_STRIP:-1} == 1 ]] && command -v strip >/dev/null; then
  strip --strip-unneeded "$stage/usr/bin/ironbus"
fi
install -D -m 0644 "$root/packaging/ironbus.service" "$stage/lib/systemd/system/ironbus.service"
install -D -m 0644 "$root/packaging/ironbus.toml" "$stage/etc/ironbus/ironbus.toml"
for doc in operations.md config.md metrics.md; do
  if [[ -f $root/docs/$doc ]]; then
    install -D -m 0644 "$root/docs/$doc" "$stage/usr/share/doc/ironbus/$doc"
  fi
done

# Depends: the package owning each shared library the binary loads (ldd resolves the path;
# dpkg -S names its package).
depends=()
if ldd_out=$(ldd "$binary" 2>/dev/null) && ! grep -q 'not a dynamic executable' <<<"$ldd_out"; then
  while read -r lib; do
    [[ -n $lib ]] || continue
    real=$(readlink -f "$lib")
    pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null || true)
    pkg=${pkg%%:*}
    [[ -n $pkg ]] || die "no Debian package owns $lib"
    depends+=("$pkg")
  done < <(awk '/=>/ && $3 ~ /^\// { print $3 } /^\t\/.*ld-linux/ { print $1 }' <<<"$ldd_out")
fi
depends+=(adduser)
depends_line=$(printf '%s\n' "${depends[@]}" | sort -u | paste -sd, - | sed 's/,/, /g')

installed_kb=$(du -sk "$stage" | cut -f1)
mkdir -m 0755 "$stage/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_kb/" \
  -e "s/@DEPENDS@/$depends_line/" "$root/packaging/debian/control.in" >"$stage/DEBIAN/control"
install -m 0644 "$root/packaging/debian/conffiles" "$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$root/packaging/debian/$script" "$stage/DEBIAN/$script"
done

mkdir -p "$out_dir"
deb="$out_dir/ironbus-linux-$arch.deb"
dpkg-deb --build --root-owner-group "$stage" "$deb" >/dev/null
echo "$deb"
