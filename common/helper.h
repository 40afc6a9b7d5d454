/*
 * helper.h - finding a helper program of ours: the one beside the running
 * binary (a build tree, or an install that keeps them together), else the
 * installed one (PREFIX/libexec/tether). libc only: the `tether` front
 * links it too.
 */
#ifndef TETHER_HELPER_H
#define TETHER_HELPER_H

#include <stddef.h>

/* Into out: NAME beside /proc/self/exe if it is there and executable, else
 * installed (a full path). 0, or -1 if out is too small. */
int helper_path(const char *name, const char *installed, char *out, size_t outsz);

#endif
