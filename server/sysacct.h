/*
 * sysacct.h - which OS accounts a tether user may run as by default.
 *
 * A root daemon runs a user's jobs as an OS account: the one an
 * administrator named (`tetherd user add --os-user`), else the account of
 * the same name. That default must not hand a tether user called "daemon",
 * "bin" or "www-data" a system account, so by default only login accounts
 * qualify, drawn where useradd draws the line: a uid within login.defs'
 * UID_MIN..UID_MAX and a shell listed in /etc/shells. An explicit mapping
 * is the administrator's decision and holds for any account but root.
 * See docs/security.md.
 */
#ifndef TETHER_SYSACCT_H
#define TETHER_SYSACCT_H

#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define SYSACCT_UID_MIN_DEFAULT 1000
#define SYSACCT_UID_MAX_DEFAULT 60000
#define SYSACCT_UMASK_DEFAULT   022

/* UID_MIN and UID_MAX from the text of a login.defs file (the defaults
 * above for a key that is absent or not a number). */
void sysacct_uid_range(const char *login_defs, uid_t *min, uid_t *max);

/* UMASK from the text of a login.defs file (octal; SYSACCT_UMASK_DEFAULT
 * if absent or malformed): the umask a login session gets (pam_umask), and
 * so the one files made for an owner get (docs/transfers.md). */
mode_t sysacct_umask(const char *login_defs);
/* The same from /etc/login.defs. */
mode_t sysacct_login_umask(void);

/* True if shell is a line of the text of an /etc/shells file. */
bool sysacct_shell_listed(const char *shells, const char *shell);

/* True if the account may be used without an explicit mapping; if not, why
 * (for the user) is written to why. Reads /etc/login.defs and /etc/shells. */
bool sysacct_default_ok(const struct passwd *pw, char *why, size_t whysz);

#endif
