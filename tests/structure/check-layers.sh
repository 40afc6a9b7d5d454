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
finish
