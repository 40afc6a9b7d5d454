#!/usr/bin/env bash
# The HTTP layer asks the engines and never reaches into the spool or a
# job's output files itself (docs/architecture.md "Layers").
. "$(dirname "$0")/lib.sh"
# only the job-log module knows the output log's files
SCOPE='server/*.c' only_in '"(output\.log|delivered|drops|marks|blocked)"' server/joblog.c
for f in server/api-*.c server/http.c server/routes.c; do
  has "$f" '#include "(spool|store-int)\.h"|\bspool_[a-z_]+\(' &&
    fail "$f: the HTTP layer uses spool paths (ask jobs.c, joblog.c or xfer.c)"
done
# layers go one way: HTTP (http.c, routes.c, api-*.c) -> engines -> stores,
# spool, accounts; below the HTTP layer nothing includes its headers
for f in server/*.c; do
  case $f in server/api-*.c|server/http.c|server/routes.c|server/router.c|server/main.c) continue ;; esac
  has "$f" '#include "(api|http|router)\.h"' && fail "$f: includes the HTTP layer's headers"
done
# the job engine does not reach up into sessions or transfers
for f in server/jobs.c server/joblog.c server/account.c server/spool.c server/store*.c; do
  has "$f" '#include "(session|xfer|upload)\.h"' && fail "$f: includes a higher engine's header"
done
# libtether never includes the CLI's headers
for f in client/lib/*.c; do
  has "$f" '#include "(cmd|transfer-util)\.h"' && fail "$f: libtether includes a CLI header"
done
finish
