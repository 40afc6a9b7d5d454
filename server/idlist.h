/*
 * idlist.h - a growable list of row ids, for collecting in a store
 * callback (which must not call the store) and acting afterwards.
 */
#ifndef TETHER_IDLIST_H
#define TETHER_IDLIST_H

#include <stddef.h>
#include <stdint.h>

struct idlist {
	int64_t *ids;
	size_t   n, cap;
};

/* Add id (silently full past a bound no real host reaches, or without
 * memory). Release with free(l->ids). */
void idlist_add(struct idlist *l, int64_t id);

#endif
