/*
 * fuzz_config.c - the daemon's config file (tetherd.conf): config_parse
 * (common/config.c) feeding every setting to srvconf_set, as a reload does.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "srvconf.h"

/* config_cb: apply a setting the way srvconf_load does. */
static int apply(void *ctx, const char *key, const char *value, char *err, size_t errsz)
{
	return srvconf_set(ctx, key, value, err, errsz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct srvconf c;
	char err[300];
	srvconf_defaults(&c);
	config_parse((const char *)data, size, apply, &c, err, sizeof err);
	return 0;
}
