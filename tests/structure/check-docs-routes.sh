#!/usr/bin/env bash
# docs/api.md's route list is the one tools/gendocs.py makes from
# server/routes.c: a route added, removed or changed without regenerating
# (python3 tools/gendocs.py) fails here, with the diff.
. "$(dirname "$0")/lib.sh"
python3 tools/gendocs.py --check routes ||
  fail "docs/api.md: the route list differs from server/routes.c (run: python3 tools/gendocs.py)"
finish
