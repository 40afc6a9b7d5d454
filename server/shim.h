/*
 * shim.h - the per-job supervisor ("shim").
 *
 * tetherd starts one shim per running job, fully detached (double fork,
 * setsid), so it outlives a killed daemon. The shim reads the job's
 * spec.json, starts the command in its own process group with the
 * session owner's identity, copies the command's stdout and stderr into
 * output.log as framed records, and when the command ends writes the exit
 * status atomically. tetherd never has to be there for any of it.
 */
#ifndef TETHER_SHIM_H
#define TETHER_SHIM_H

/* Entry point of "tetherd __shim JOBDIR"; returns the process exit status. */
int shim_main(const char *jobdir);

#endif
