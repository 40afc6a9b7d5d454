#!/usr/bin/env bash
# tests/package/check.sh - the Debian packages, built and installed for real
# (docs/install.md): builds the .debs from a fresh build directory, runs
# lintian on each (errors fail, warnings are printed), installs them with
# dpkg -i on this machine, and checks what an administrator and a library
# user meet: tetherd and tether run, the unit passes systemd-analyze verify,
# the state directory is 0700 root, the man pages are found, the example
# program builds with pkg-config against the installed libtether.so.0, links
# it, and lists a session from a tetherd on loopback; then purges the
# packages and checks that the state directory went with them. The packages
# are purged and the scratch directory removed on every exit, failure too.
#
# Run as root on Debian 12 (.ci/run): bash tests/package/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
PKGS=(tether-server tether-client libtether-dev libtether0)

fail() { echo "package: FAIL: $*" >&2; exit 1; }
step() { echo "-- $*"; }

[ "$(id -u)" -eq 0 ] || { echo "package: needs root (dpkg -i)" >&2; exit 2; }
bash deploy/install-deps.sh --test >/dev/null   # lintian, dpkg-dev, systemd, man-db...
# The check installs and purges these packages and /var/lib/tether: it
# refuses to run where they already are rather than remove someone's.
for p in "${PKGS[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$'; then
    echo "package: $p is installed here; not touching it" >&2; exit 2
  fi
done
for d in /var/lib/tether /etc/tether; do
  [ ! -e "$d" ] || { echo "package: $d exists here; not touching it" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tether-package.XXXXXX")
chmod 0711 "$work"
daemon=
installed=0
cleanup() {
  local rc=$?
  if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
  if [ "$installed" = 1 ]; then dpkg --purge "${PKGS[@]}" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  if [ $rc -eq 0 ]; then echo "package: OK"; else echo "package: FAILED (exit $rc)"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "build the packages (fresh build directory, Debian's build flags)"
eval "$(dpkg-buildflags --export=sh)"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTETHER_WERROR=ON \
  -DTETHER_TESTS=OFF -DTETHER_DEB=ON -DCMAKE_INSTALL_PREFIX=/usr >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; fail "cmake configure"; }
cmake --build "$work/build" -j2 >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; fail "build"; }
(cd "$work/build" && cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
version=$(sed -n 's/^project(tether VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)
debs=()
for p in "${PKGS[@]}"; do
  f="$work/build/${p}_${version}_${arch}.deb"
  [ -f "$f" ] || fail "no $f"
  debs+=("$f")
done

step "lintian (errors fail; warnings shown)"
# (lintian leaves its temporary files behind: they go with $work)
TMPDIR=$work lintian --fail-on error "${debs[@]}" || fail "lintian found errors"

step "dpkg -i"
installed=1
if ! dpkg -i "${debs[@]}"; then
  DEBIAN_FRONTEND=noninteractive apt-get install -f -y -qq --no-install-recommends
fi
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" | grep -q ' installed$' || fail "$p is not installed"
done

step "the programs and the unit"
[ "$(command -v tetherd)" = /usr/sbin/tetherd ] || fail "tetherd is not /usr/sbin/tetherd"
[ "$(command -v tether)" = /usr/bin/tether ] || fail "tether is not /usr/bin/tether"
tetherd --version | grep -qx "tetherd $version .*" || fail "tetherd --version: $(tetherd --version)"
tether --version | grep -qx "tether $version .*" || fail "tether --version: $(tether --version)"
unit=/lib/systemd/system/tetherd.service
grep -q '^ExecStart=/usr/sbin/tetherd ' "$unit" || fail "$unit does not start /usr/sbin/tetherd"
systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
[ "$(stat -c '%a %U' /var/lib/tether)" = "700 root" ] || fail "/var/lib/tether is not 0700 root"
tetherd --config /etc/tether/tetherd.conf --state-dir "$work/state-t" fingerprint >/dev/null ||
  fail "tetherd does not accept the installed /etc/tether/tetherd.conf"
dpkg-query -W -f='${Conffiles}\n' tether-server | grep -q '/etc/tether/tetherd.conf' ||
  fail "/etc/tether/tetherd.conf is not a conffile"
if [ -f "$src/docs/man/tether.1" ]; then
  man -w tether >/dev/null && man -w 8 tetherd >/dev/null && man -w 5 tetherd.conf >/dev/null ||
    fail "man -w does not find the installed pages"
else
  echo "(no docs/man/tether.1 in this tree: man pages not checked)"
fi

step "libtether: header, exports, the example via pkg-config"
lib=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libtether.so.0
[ -e "$lib" ] || fail "no $lib"
bash "$src/tests/package/check-api.sh" "$lib" /usr/include || fail "the installed library"
ex=/usr/share/doc/libtether-dev/examples/list-sessions.c
cc -Wall -Wextra -Werror "$ex" $(pkg-config --cflags --libs tether) -o "$work/list-sessions" ||
  fail "the example does not build with pkg-config"
# the loader finds the packaged library (/lib is /usr/lib on merged-/usr
# Debian 12, and ldd may name either)
loaded=$(ldd "$work/list-sessions" | sed -n 's/^[[:space:]]*libtether\.so\.0 => \([^ ]*\) .*/\1/p')
echo "list-sessions loads $loaded"
[ -n "$loaded" ] && [ "$(readlink -f "$loaded")" = "$(readlink -f "$lib")" ] ||
  fail "the example does not load $lib: $(ldd "$work/list-sessions")"

step "the example lists a session of an installed tetherd on loopback"
state="$work/state"
tetherd --state-dir "$state" --listen 127.0.0.1:0 >"$work/tetherd.log" 2>&1 &
daemon=$!
port=
for _ in $(seq 300); do
  port=$(sed -n 's/.*event=listening addr="127.0.0.1" port=\([0-9]*\).*/\1/p' "$work/tetherd.log" | head -1)
  [ -n "$port" ] && grep -q 'event=started' "$work/tetherd.log" && break
  kill -0 "$daemon" 2>/dev/null || { cat "$work/tetherd.log"; fail "tetherd exited"; }
  port=
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/tetherd.log"; fail "tetherd did not start"; }
# its launcher is the packaged small program, not tetherd itself
launcher=$(pgrep -P "$daemon" -f '^tetherd __launcher ' | head -1)
[ "$(readlink "/proc/$launcher/exe")" = /usr/libexec/tether/tetherd-launcher ] ||
  fail "the launcher is not /usr/libexec/tether/tetherd-launcher: $(readlink "/proc/$launcher/exe")"
host="pkgcheck@127.0.0.1:$port"
echo pkgcheck-password | tetherd --state-dir "$state" user add pkgcheck --password-stdin \
  --os-user nobody >/dev/null || fail "tetherd user add"
export TETHER_HOME="$work/home"
echo pkgcheck-password | tether login "$host" --password-stdin --accept-new >/dev/null ||
  fail "tether login"
tether session new "$host" --name pkgsession >/dev/null || fail "tether session new"
out=$("$work/list-sessions" "$host") || fail "list-sessions failed"
echo "$out"
echo "$out" | grep -Eq '^[0-9]+ pkgsession ' || fail "list-sessions did not list pkgsession"
kill "$daemon"; wait "$daemon" || true; daemon=

step "dpkg --purge"
dpkg --purge "${PKGS[@]}"
installed=0
[ ! -e /var/lib/tether ] || fail "/var/lib/tether is still there after purge"
[ ! -e /etc/tether/tetherd.conf ] || fail "/etc/tether/tetherd.conf is still there after purge"
[ ! -e /usr/sbin/tetherd ] || fail "/usr/sbin/tetherd is still there after purge"
