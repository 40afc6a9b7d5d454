#!/usr/bin/env bash
# Only the store (server/store*.c) prepares or runs SQL.
. "$(dirname "$0")/lib.sh"
only_in 'sqlite3_(prepare|exec)' server/store.c server/store-job.c server/store-session.c \
  server/store-transfer.c server/store-upload.c server/store-user.c
finish
