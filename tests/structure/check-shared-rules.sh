#!/usr/bin/env bash
# Client and daemon apply the same transfer rules: what is a URL or a
# wildcard is decided only in common/xferplan.c, and both sides check URLs
# through it (docs/architecture.md "common/"); and the transfer worker
# speaks tether's API only through libtether.
. "$(dirname "$0")/lib.sh"
only_in '"://"|"\*\?\["' common/xferplan.c
for f in client/cli/transfer-spec.c server/xfer-create.c; do
  has "$f" '\bxferplan_check_url\(' || fail "$f: does not check URLs with xferplan_check_url"
done
# libtether is the one client of tether's API: only client/lib/request.c
# sends a bearer token (the server reads one in http.c)
only_in '"Authorization: Bearer|Bearer %s' client/lib/request.c server/http.c
finish
