#!/usr/bin/env bash
# docs/api/openapi.yaml has an operation for every route of server/routes.c
# and none that is not one (method, path and path parameter names): a route
# added, removed or renamed without its description fails here. The spec's
# OpenAPI validity and the live responses are tests/integration/test_openapi.py's.
. "$(dirname "$0")/lib.sh"
python3 tests/api/check-spec.py ||
  fail "docs/api/openapi.yaml differs from server/routes.c (see above)"
finish
