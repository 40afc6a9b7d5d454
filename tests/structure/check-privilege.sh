#!/usr/bin/env bash
# Only the account module (server/account.c) changes privileges; and the
# lookups of an OS account by name happen there or in the admin verbs
# (docs/architecture.md "account.c").
. "$(dirname "$0")/lib.sh"
only_in '\b(setuid|setgid|setgroups|initgroups|setresuid|setresgid|setreuid|setregid|seteuid|setegid)[[:space:]]*\(' \
  server/account.c
only_in '\bgetgrouplist[[:space:]]*\(' server/account.c
finish
