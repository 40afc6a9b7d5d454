/*
 * idlist.c - a growable list of row ids (idlist.h).
 */
#include <stdlib.h>

#include "idlist.h"

#define IDLIST_MAX (1u << 22)

void idlist_add(struct idlist *l, int64_t id)
{
	if (l->n == l->cap && l->cap < IDLIST_MAX) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		int64_t *ids = realloc(l->ids, cap * sizeof *ids);
		if (ids == NULL)
			return;
		l->ids = ids;
		l->cap = cap;
	}
	if (l->n < l->cap)
		l->ids[l->n++] = id;
}
