/*
 * fuzz_common.h - what the libFuzzer targets needing the daemon share.
 *
 * Each target is one file with LLVMFuzzerTestOneInput; a target that needs
 * the daemon's context gets a struct server whose state directory (with
 * its sqlite store and spool) is a private directory under $TMPDIR, made
 * once per process, so no input can reach a real installation. Targets
 * check invariants with fuzz_check(), which aborts (a crash libFuzzer
 * records with its reproducer) when one does not hold.
 */
#ifndef TETHER_FUZZ_COMMON_H
#define TETHER_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "tetherd.h"

/* The user the API targets act as: its OS account does not exist, so every
 * handler stops at account_of() before it could touch a file or start work. */
#define FUZZ_OS_USER "tether-fuzz-no-such-account"

/* Abort with a message when cond is false. */
#define fuzz_check(cond) \
	((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond))

/* Report a broken invariant and abort. */
void fuzz_fail(const char *file, int line, const char *what)
	__attribute__((noreturn));

/* A malloc'd, NUL-terminated copy of data (caller frees; never NULL). */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* Send the daemon's log to /dev/null (a target's inputs are mostly errors). */
void fuzz_quiet(void);

/* A private directory under $TMPDIR for this process, made on first use. */
const char *fuzz_state_dir(void);

/* The daemon context: default settings, the state dir above, the store
 * opened and the spool made; made on first use, never freed. */
struct server *fuzz_server(void);

/* True if the fuzz user's account is refused by account_of(), so handlers
 * that check it do nothing past their input validation. */
int fuzz_owner_refused(void);

#endif
