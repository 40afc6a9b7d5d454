#!/usr/bin/env bash
# The man pages and the bash completion are kept true to the code:
# tether(1)'s COMMANDS list and tether.bash's option table are the ones
# tools/gendocs.py makes from the CLI's command table (client/cli), and
# tetherd.conf(5)'s keyword list the one it makes from srvconf_keys
# (server/srvconf.c); a verb, an option or a key changed without
# regenerating (python3 tools/gendocs.py) fails here, with the diff. Then
# mandoc checks the three pages (no warnings), and every verb of the built
# tether ($TETHER) must be in tether(1).
. "$(dirname "$0")/lib.sh"
python3 tools/gendocs.py --check man-verbs man-keys completion ||
  fail "docs/man or deploy/completion differ from the code (run: python3 tools/gendocs.py)"
pages=(docs/man/tether.1 docs/man/tetherd.8 docs/man/tetherd.conf.5)
if command -v mandoc >/dev/null; then
  out=$(mandoc -T lint -W warning "${pages[@]}" 2>&1) || fail "mandoc -T lint: ${out:-exit status $?}"
else
  fail "mandoc is not installed (deploy/install-deps.sh --test)"
fi
if [ -n "${TETHER:-}" ]; then
  # the verbs `tether --help` lists (main.c prints each name in 18 columns):
  # each must be documented
  n=0
  while read -r verb; do
    grep -qx "\.Cm $verb" docs/man/tether.1 || fail "tether $verb: not in docs/man/tether.1"
    n=$((n + 1))
  done < <("$TETHER" --help | sed -nE 's/^  ([a-z][a-z ]{17}) .*/\1/p' | sed 's/ *$//')
  [ "$n" -gt 20 ] || fail "only $n verbs in tether --help"
fi
finish
