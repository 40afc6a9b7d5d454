/*
 * sysacct.c - which OS accounts a tether user may run as by default, and
 * the umask their files are made with (see sysacct.h). The two files read
 * are root's (/etc/login.defs, /etc/shells), bounded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "strparse.h"
#include "sysacct.h"

#define SYSACCT_FILE_MAX (64 * 1024)

/* The value of the last "KEY value" line of text into v; 0, or -1 if none
 * (or too long for v). */
static int defs_value(const char *text, const char *key, char *v, size_t vsz)
{
	size_t kl = strlen(key);
	int found = -1;
	for (const char *line = text; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		while (len > 0 && (*line == ' ' || *line == '\t')) {
			line++;
			len--;
		}
		if (len > kl && strncmp(line, key, kl) == 0 && (line[kl] == ' ' || line[kl] == '\t')) {
			const char *p = line + kl;
			size_t vl = len - kl;
			while (vl > 0 && (*p == ' ' || *p == '\t')) {
				p++;
				vl--;
			}
			while (vl > 0 && (p[vl - 1] == ' ' || p[vl - 1] == '\t' || p[vl - 1] == '\r'))
				vl--;
			if (vl > 0 && vl < vsz) {
				memcpy(v, p, vl);
				v[vl] = '\0';
				found = 0;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return found;
}

/* The value of KEY in text as a uid; def if none. */
static uid_t defs_uid(const char *text, const char *key, uid_t def)
{
	char v[32];
	int64_t n;
	if (defs_value(text, key, v, sizeof v) == 0 && strparse_i64(v, 0, UINT32_MAX - 1, &n) == 0)
		return (uid_t)n;
	return def;
}

mode_t sysacct_umask(const char *login_defs)
{
	char v[8];
	if (defs_value(login_defs ? login_defs : "", "UMASK", v, sizeof v) != 0 ||
	    v[strspn(v, "01234567")] != '\0' || strlen(v) > 4)
		return SYSACCT_UMASK_DEFAULT;
	return (mode_t)(strtoul(v, NULL, 8) & 0777);
}

mode_t sysacct_login_umask(void)
{
	char *defs = fileio_read("/etc/login.defs", SYSACCT_FILE_MAX, NULL);
	mode_t m = sysacct_umask(defs);
	free(defs);
	return m;
}

void sysacct_uid_range(const char *login_defs, uid_t *min, uid_t *max)
{
	*min = defs_uid(login_defs ? login_defs : "", "UID_MIN", SYSACCT_UID_MIN_DEFAULT);
	*max = defs_uid(login_defs ? login_defs : "", "UID_MAX", SYSACCT_UID_MAX_DEFAULT);
}

bool sysacct_shell_listed(const char *shells, const char *shell)
{
	size_t sl = strlen(shell);
	if (sl == 0)
		return false;
	for (const char *line = shells; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' ||
		                   line[len - 1] == '\r'))
			len--;
		if (line[0] != '#' && len == sl && memcmp(line, shell, sl) == 0)
			return true;
		line = end ? end + 1 : NULL;
	}
	return false;
}

bool sysacct_default_ok(const struct passwd *pw, char *why, size_t whysz)
{
	char *defs = fileio_read("/etc/login.defs", SYSACCT_FILE_MAX, NULL);
	char *shells = fileio_read("/etc/shells", SYSACCT_FILE_MAX, NULL);
	uid_t min, max;
	sysacct_uid_range(defs, &min, &max);
	/* an empty shell field means /bin/sh (passwd(5)) */
	const char *shell = pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh";
	bool ok = false;
	if (pw->pw_uid < min || pw->pw_uid > max)
		snprintf(why, whysz, "OS account '%s' is a system account (uid %u, outside "
		         "%u..%u)", pw->pw_name, (unsigned)pw->pw_uid, (unsigned)min, (unsigned)max);
	else if (shells != NULL && !sysacct_shell_listed(shells, shell))
		snprintf(why, whysz, "OS account '%s' has no login shell (%s is not in "
		         "/etc/shells)", pw->pw_name, shell);
	else
		ok = true;
	free(defs);
	free(shells);
	return ok;
}
