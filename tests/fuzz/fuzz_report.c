/*
 * fuzz_report.c - the transfer worker's report files (file-N.json,
 * done-K.json, progress.json, result.json), which the daemon reads from the job's work
 * directory, where the job's owner can write anything: parsed as
 * server/xfer.c reads them, then folded into a transfer of three files.
 * The first input byte picks the report, the rest is its content.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "xfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	json_t *doc = json_loadb((const char *)data + 1, size - 1, 0, NULL);
	if (!json_is_object(doc)) {   /* as read_report: an object or nothing */
		json_decref(doc);
		doc = NULL;
	}
	struct xfer_rec t;
	memset(&t, 0, sizeof t);
	t.options = json_pack("{s:i}", "retry_delay", 60);
	t.notes = json_array();
	t.nfiles = 3;
	t.files = calloc(t.nfiles, sizeof *t.files);
	for (size_t i = 0; t.files != NULL && i < t.nfiles; i++) {
		t.files[i].source = strdup("/src/a");
		t.files[i].destination = strdup("/dst/a");
		t.files[i].bytes_total = -1;
	}
	if (t.files == NULL)
		t.nfiles = 0;
	switch (data[0] % 4) {
	case 0:
		for (size_t i = 0; i < t.nfiles; i++)
			xfer_fold_file_report(&t, i, doc);
		break;
	case 1:
		xfer_fold_progress(&t, doc);
		break;
	case 2:
		xfer_fold_done_batch(&t, doc);
		break;
	default:
		xfer_fold_result(&t, doc, 1700000000);
		break;
	}
	json_decref(doc);
	xfer_rec_clear(&t);
	return 0;
}
