/*
 * fuzz_addr.c - names and addresses from users and clients: HOST and
 * SESSION specs (common/addr.c), names in request paths, and listen
 * addresses (server/srvconf.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "srvconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[200], ref[BOUND_NAME + 1], key[400], addr[80];
	struct hostspec hs, hs2;
	uint16_t port;
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (addr_parse_host(s, &hs, err, sizeof err) == 0)
		addr_host_key(&hs, key, sizeof key);
	addr_parse_session(s, &hs2, ref, err, sizeof err);
	addr_valid_name(s);
	srvconf_parse_listen(s, addr, sizeof addr, &port, err, sizeof err);
	free(s);
	return 0;
}
