#!/usr/bin/env bash
# tests/package/check-api.sh LIB INCLUDEDIR - libtether's public face
# (docs/install.md): LIB's SONAME is libtether.so.0, it exports exactly the
# functions that INCLUDEDIR/tether/*.h declare (no internal helper leaks out,
# no declared function is missing), and <tether/tether.h> compiles on its own
# as C99 (jansson's header being the only other one it needs).
# ctest runs it on the build tree (package.public-api); check.sh on the
# installed library.
set -euo pipefail
lib=$1 inc=$2
cc=${CC:-cc}
fail() { echo "check-api: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tether-api.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = libtether.so.0 ] || fail "$lib: SONAME is '$soname', not libtether.so.0"

nm -D --defined-only "$lib" | awk '$2 == "T" {sub(/@.*/, "", $3); print $3}' | sort >"$tmp/exported"
nm -D --defined-only "$lib" | awk '$2 != "T" && $2 != "A"' >"$tmp/other"
# a declaration starts a line: "<type> [*]tether_name("
grep -hEo '^[A-Za-z_][A-Za-z0-9_ ]*[ *]tether_[a-z0-9_]+\(' "$inc"/tether/*.h |
  sed -E 's/.*[ *](tether_[a-z0-9_]+)\($/\1/' | sort -u >"$tmp/declared"
[ -s "$tmp/declared" ] || fail "no declarations found in $inc/tether"
[ ! -s "$tmp/other" ] || fail "$lib exports data or other symbols: $(cat "$tmp/other")"
extra=$(comm -23 "$tmp/exported" "$tmp/declared" | tr '\n' ' ')
missing=$(comm -13 "$tmp/exported" "$tmp/declared" | tr '\n' ' ')
[ -z "$extra" ] || fail "$lib exports functions the headers do not declare: $extra"
[ -z "$missing" ] || fail "$lib lacks functions the headers declare: $missing"
nm -D --defined-only "$lib" | grep -q '@@TETHER_0$' || fail "$lib: no TETHER_0 symbol version"

printf '#include <tether/tether.h>\nint main(void) { return tether_strerror(TETHER_E_OK) == 0; }\n' >"$tmp/alone.c"
"$cc" -std=c99 -Wall -Wextra -pedantic -Werror -I"$inc" -c "$tmp/alone.c" -o "$tmp/alone.o" ||
  fail "<tether/tether.h> does not compile on its own"
echo "check-api: $lib: $(wc -l <"$tmp/exported") functions exported, all declared in $inc/tether"
