/*
 * helper.c - finding a helper program of ours (see helper.h).
 */
#include "helper.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int helper_path(const char *name, const char *installed, char *out, size_t outsz)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			int w = snprintf(out, outsz, "%s/%s", self, name);
			if (w > 0 && (size_t)w < outsz && access(out, X_OK) == 0)
				return 0;
		}
	}
	int w = snprintf(out, outsz, "%s", installed);
	return w > 0 && (size_t)w < outsz ? 0 : -1;
}
