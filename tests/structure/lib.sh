# Shared by the check-*.sh scripts: cd to the source tree given as $1 and
# collect failures; `finish` exits 1 if any rule was broken.
set -uo pipefail
cd "${1:-$(dirname "$0")/../..}" || exit 2
broken=0

# fail MESSAGE: report one broken rule.
fail() { echo "structure: $*" >&2; broken=1; }

# code FILE: the file without its comments (one-line /* */ and // ones,
# and the lines of block comments), so prose never trips a rule.
code() {
  sed -E -e 's:/\*.*\*/::g' -e 's:(^|[[:space:]])//.*$:\1:' -e '/^[[:space:]]*\/\*/d' \
      -e '/^[[:space:]]*\*/d' "$1"
}

# has FILE PATTERN: true if the code of FILE matches PATTERN (grep -E).
# Not grep -q: its early exit would make sed die of SIGPIPE, and pipefail
# would then report no match.
has() { code "$1" | grep -E "$2" >/dev/null; }

# only_in PATTERN ALLOWED... : PATTERN (grep -E) may occur in the code of
# the C sources (those of $SCOPE: server, common and client by default)
# only in the ALLOWED files (paths relative to the tree).
only_in() {
  local pat=$1; shift
  local f
  for f in ${SCOPE:-server/*.c common/*.c client/*/*.c}; do
    has "$f" "$pat" || continue
    local ok=0 a
    for a in "$@"; do [ "$f" = "$a" ] && ok=1; done
    [ $ok = 1 ] || fail "$f: matches '$pat' (allowed only in: $*)"
  done
}

finish() { exit $broken; }
