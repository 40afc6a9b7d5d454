#!/usr/bin/env bash
# docs/config.md's key table is the one tools/gendocs.py makes from the key
# table in server/srvconf.c: a key, default, range or reload flag changed
# without regenerating (python3 tools/gendocs.py) fails here, with the diff.
# Then the built tetherd ($TETHERD) is asked about every documented key (a
# config file giving it a value no key accepts, read by `tetherd user
# list`, which stops at the config): it must refuse the value, not the key,
# and for a number key name the range the docs give, so a table the
# generator misreads fails too.
. "$(dirname "$0")/lib.sh"
python3 tools/gendocs.py --check config ||
  fail "docs/config.md: the key table differs from server/srvconf.c (run: python3 tools/gendocs.py)"
if [ -n "${TETHERD:-}" ]; then
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-docs-config.XXXXXX") || exit 2
  trap 'rm -rf "$tmp"' EXIT
  n=0
  while read -r key min max; do
    printf '%s = [x\n' "$key" > "$tmp/conf"
    said=$("$TETHERD" --config "$tmp/conf" --state-dir "$tmp/state" user list 2>&1 >/dev/null)
    case $said in
      *"line 1: $key: "* | *"line 1: $key '"*) ;;
      *) fail "$key: documented, but tetherd says: ${said%%$'\n'*}" ;;
    esac
    if [ "$min" != - ]; then
      case $said in
        *"$key: expected a number between $min and $max"*) ;;
        *) fail "$key: documented range $min..$max, tetherd says: ${said%%$'\n'*}" ;;
      esac
    fi
    n=$((n + 1))
  done < <(python3 tools/gendocs.py --print config-keys)
  [ "$n" -gt 20 ] || fail "only $n config keys documented"
  [ ! -e "$tmp/state" ] || fail "tetherd took a bad value (it made the state dir)"
fi
finish
