/*
 * shim.h - the per-job supervisor ("shim").
 *
 * tetherd starts one shim per running job, fully detached (double fork,
 * setsid), so it outlives a killed daemon. The shim reads the job's spec
 * from SHIM_SPEC_FD, starts the command in its own process group with the
 * session owner's identity, copies the command's stdout and stderr into
 * output.log as framed records, and when the command ends writes the exit
 * status atomically. tetherd never has to be there for any of it.
 */
#ifndef TETHER_SHIM_H
#define TETHER_SHIM_H

#include "launcher.h"

/* The spec (JSON: argv, env, home_fallback, the account, ...) is a sealed
 * memory file tetherd hands the supervisor on this descriptor, with its
 * start request (launcher.h), not a file in the job directory. */
#define SHIM_SPEC_FD LAUNCHER_WORKER_FD

/* A shell job (spec "pty") runs on a pseudo-terminal the shim owns. Its
 * input comes through the FIFO "input" in the job directory, as records of
 * a type byte, a 16-bit little-endian length and the payload; tetherd
 * writes each record with one write() of at most PIPE_BUF bytes, so
 * records from concurrent requests never interleave. */
#define SHIM_INPUT_HDR     3
#define SHIM_INPUT_DATA    1      /* bytes typed at the terminal */
#define SHIM_INPUT_WINSIZE 2      /* rows, cols: two 16-bit LE numbers */
#define SHIM_INPUT_EOF     3      /* the end of a command's stdin (no payload) */
#define SHIM_INPUT_MAX     (4096 - SHIM_INPUT_HDR)   /* payload per record */

/* Entry point of "tetherd __shim JOBDIR"; returns the process exit status. */
int shim_main(const char *jobdir);

#endif
