/*
 * xferplan.c - sources and destinations of transfers (xferplan.h).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "xferplan.h"

bool xferplan_is_url(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
	return n > 0 && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') &&
	       strncmp(s + n, "://", 3) == 0;
}

bool xferplan_has_wildcard(const char *s)
{
	if (!xferplan_is_url(s))
		return strpbrk(s, "*?[") != NULL;
	const char *path = strchr(strstr(s, "://") + 3, '/');
	if (path == NULL)
		return false;
	size_t n = strcspn(path, "?#");
	for (size_t i = 0; i < n; i++)
		if (path[i] == '*' || path[i] == '[')
			return true;
	return false;
}

static const char *const schemes[] = { "http", "https", "ftp", "ftps", "sftp", "smb",
                                       "smbs", "file" };

int xferplan_check_url(const char *url, bool upload_dest, char *err, size_t errsz)
{
	if (xferplan_has_wildcard(url)) {
		snprintf(err, errsz, "wildcards are only allowed in local paths, not in URLs: %s",
		         url);
		return -1;
	}
	CURLU *u = curl_url();
	char *scheme = NULL;
	CURLUcode rc = u ? curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)
	                 : CURLUE_OUT_OF_MEMORY;
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	int ok = -1;
	if (rc != CURLUE_OK) {
		snprintf(err, errsz, "malformed URL '%s': %s", url, curl_url_strerror(rc));
	} else {
		for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
			if (strcasecmp(scheme, schemes[i]) == 0)
				ok = 0;
		if (upload_dest && strcasecmp(scheme, "tether") == 0)
			ok = 0;
		if (ok != 0)
			snprintf(err, errsz, "unsupported scheme '%s' (use http, https, ftp, ftps, "
			         "sftp, smb, smbs or file%s)", scheme,
			         upload_dest ? "; or tether to upload to another tetherd" : "");
	}
	curl_free(scheme);
	curl_url_cleanup(u);
	return ok;
}

void xferplan_url_name(const char *url, char *out, size_t outsz)
{
	out[0] = '\0';
	CURLU *u = curl_url();
	char *path = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK && path) {
		const char *slash = strrchr(path, '/');
		snprintf(out, outsz, "%s", slash ? slash + 1 : path);
	}
	curl_free(path);
	curl_url_cleanup(u);
}

bool xferplan_good_name(const char *n)
{
	return n[0] && strcmp(n, ".") != 0 && strcmp(n, "..") != 0 && !strchr(n, '/');
}
