/*
 * fuzz_outlog.c - job output records (common/outlog.c): what a client
 * receives from a server and reads back from its own local copies.
 */
#include <stddef.h>
#include <stdint.h>

#include "outlog.h"

/* outlog_cb: touch every byte the parser hands out. */
static int sink(void *ctx, int stream, const uint8_t *data, size_t len)
{
	unsigned *sum = ctx;
	for (size_t i = 0; i < len; i++)
		*sum += data[i] + (unsigned)stream;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned sum = 0;
	long used = outlog_parse(data, size, sink, &sum);
	if (used > (long)size)
		__builtin_trap();   /* it may never claim more than it was given */
	return 0;
}
