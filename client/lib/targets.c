/*
 * targets.c - TARGETS to hosts (nodesets, @GROUP, @PATH), and names back
 * to a nodeset (docs/fleet.md "Targets").
 *
 * Three small parsers feed one de-duplicated output list. Nodeset items
 * (web[01-40], rack[1-3]-n[01-16], admin@web[1-2]:8443) are counted before
 * anything is allocated, so x[0-999999999] fails at once instead of eating
 * memory. Host files are read line by line as more TARGETS. Inventories
 * follow what Ansible's INI plugin does, which is the reference for every
 * edge case: sections, shlex-style host lines, [a:b:step] ranges with their
 * padding rule, children declared before or after their section, cycles
 * refused. Folding groups names by the text around their digit runs and
 * merges one axis at a time, last first, which gives ClusterShell's
 * `nodeset -f` answer for the shapes fleets have (web[01-40],
 * rack[1-3]-n[01-16]). Everything is bounded: hosts, names generated,
 * file sizes, nesting.
 */
#include "targets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "bounds.h"
#include "buf.h"
#include "fileio.h"

#define TARGETS_FILE_MAX  (16u * 1024 * 1024) /* a host file or an inventory */
#define TARGETS_GENERATED (8u * TARGETS_MAX)  /* names made, duplicates included */
#define TARGETS_DEPTH     8u                  /* @file inside @file */
#define TARGETS_BRACKETS  16u                 /* ranges in one name */
#define INV_ENTRIES       (10u * TARGETS_MAX) /* host definitions in an inventory */
#define INV_GROUPS        TARGETS_MAX
#define NUM_DIGITS        18u                 /* always fits a uint64_t */
#define NAME_MAX_LEN      BOUND_HOSTSPEC

static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Write a formatted reason into err; returns -1. */
__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errsz > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Put "prefix: " in front of the reason already in err. */
static void err_prefix(char *err, size_t errsz, const char *path, size_t line)
{
	char tmp[512];

	if (err == NULL || errsz == 0)
		return;
	snprintf(tmp, sizeof tmp, "%s", err);
	snprintf(err, errsz, "%s:%zu: %s", path, line, tmp);
}

/* True for the whitespace Python's str.strip() removes (ASCII part). */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* True for an ASCII digit. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Trim whitespace at both ends of a line in place; returns its start. */
static char *trim(char *s)
{
	size_t n;

	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Parse n (1..NUM_DIGITS) ASCII digits; 0, or -1 if they are not that. */
static int parse_digits(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > NUM_DIGITS)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Read a whole text file (symlinks allowed: these are the user's own
 * files), refusing FIFOs and devices without blocking on them. NULL with
 * errno set on failure; the caller frees the result. */
static char *read_text(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	char *data;
	int saved;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	data = fileio_read_fd(fd, TARGETS_FILE_MAX, NULL);
	saved = errno;
	close(fd);
	errno = saved;
	return data;
}

/* Explain why read_text failed on path. */
static int read_fail(char *err, size_t errsz, const char *what, const char *path)
{
	if (errno == EINVAL)
		return fail(err, errsz, "%s %s is not a regular file", what, path);
	if (errno == EFBIG)
		return fail(err, errsz, "%s %s is larger than %u bytes", what, path,
		            TARGETS_FILE_MAX);
	return fail(err, errsz, "cannot read %s %s: %s", what, path, strerror(errno));
}

/* ---- a string -> index hash map (keys borrowed, never removed) ---- */

struct strmap {
	const char **key;
	size_t      *val;
	size_t       cap, n;
};

/* FNV-1a of a string. */
static uint64_t str_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

/* The slot holding k, or the empty slot where it would go. */
static size_t strmap_slot(const struct strmap *m, const char *k)
{
	size_t i = (size_t)str_hash(k) & (m->cap - 1);

	while (m->key[i] != NULL && strcmp(m->key[i], k) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* True if k is present (its value in *val when val is not NULL). */
static bool strmap_get(const struct strmap *m, const char *k, size_t *val)
{
	size_t i;

	if (m->cap == 0)
		return false;
	i = strmap_slot(m, k);
	if (m->key[i] == NULL)
		return false;
	if (val != NULL)
		*val = m->val[i];
	return true;
}

/* Double the table; 0 or -1 out of memory. */
static int strmap_grow(struct strmap *m)
{
	struct strmap nm = { 0 };

	nm.cap = m->cap ? m->cap * 2 : 64;
	nm.key = calloc(nm.cap, sizeof *nm.key);
	nm.val = calloc(nm.cap, sizeof *nm.val);
	if (nm.key == NULL || nm.val == NULL) {
		free(nm.key);
		free(nm.val);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (m->key[i] == NULL)
			continue;
		size_t j = strmap_slot(&nm, m->key[i]);
		nm.key[j] = m->key[i];
		nm.val[j] = m->val[i];
		nm.n++;
	}
	free(m->key);
	free(m->val);
	*m = nm;
	return 0;
}

/* Add k (absent; borrowed, so it must outlive the map); 0 or -1. */
static int strmap_put(struct strmap *m, const char *k, size_t val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap && strmap_grow(m) < 0)
		return -1;
	i = strmap_slot(m, k);
	m->key[i] = k;
	m->val[i] = val;
	m->n++;
	return 0;
}

/* Release the table (not the keys). */
static void strmap_free(struct strmap *m)
{
	free(m->key);
	free(m->val);
	memset(m, 0, sizeof *m);
}

/* ---- range patterns, shared by nodesets and inventory lines ---- */

struct rng {
	uint64_t lo, hi, step;  /* lo <= hi for nodesets; lo > hi means empty */
	int      pad;           /* zero-padded width, 0 for none */
	bool     alpha;         /* lo..hi index letters[] */
};

struct brk {
	struct rng *r;
	size_t      nr;
	uint64_t    count;
};

/* A name with up to TARGETS_BRACKETS ranges: lit[0] b[0] lit[1] ... */
struct pattern {
	const char *lit[TARGETS_BRACKETS + 1];
	size_t      litlen[TARGETS_BRACKETS + 1];
	struct brk  b[TARGETS_BRACKETS];
	size_t      nb;
	uint64_t    count;      /* names it expands to */
};

/* Names made from a pattern go to emit(ctx, name): 0, or -1 with err set. */
struct gen {
	int   (*emit)(void *ctx, const char *name);
	void   *ctx;
	const char *what;       /* the text expanded, for messages */
	char   *err;
	size_t  errsz;
};

/* Number of values a range yields. */
static uint64_t rng_count(const struct rng *r)
{
	return r->lo > r->hi ? 0 : (r->hi - r->lo) / r->step + 1;
}

/* Release a pattern's range arrays. */
static void pattern_free(struct pattern *pt)
{
	for (size_t i = 0; i < pt->nb; i++)
		free(pt->b[i].r);
	pt->nb = 0;
}

/* Emit every name of pt from bracket k on, with buf[0..len) made so far. */
static int pattern_gen(const struct pattern *pt, size_t k, char *buf, size_t len,
                       const struct gen *g)
{
	if (len + pt->litlen[k] > NAME_MAX_LEN)
		return fail(g->err, g->errsz, "'%.80s' makes names longer than %u bytes",
		            g->what, NAME_MAX_LEN);
	memcpy(buf + len, pt->lit[k], pt->litlen[k]);
	len += pt->litlen[k];
	if (k == pt->nb) {
		buf[len] = '\0';
		return g->emit(g->ctx, buf);
	}
	for (size_t i = 0; i < pt->b[k].nr; i++) {
		const struct rng *r = &pt->b[k].r[i];
		for (uint64_t v = r->lo; v <= r->hi; v += r->step) {
			char num[32];
			int n;
			if (r->alpha)
				n = snprintf(num, sizeof num, "%c", letters[v]);
			else
				n = snprintf(num, sizeof num, "%0*llu", r->pad, (unsigned long long)v);
			if (n < 0 || len + (size_t)n > NAME_MAX_LEN)
				return fail(g->err, g->errsz, "'%.80s' makes names longer than %u "
				            "bytes", g->what, NAME_MAX_LEN);
			memcpy(buf + len, num, (size_t)n);
			if (pattern_gen(pt, k + 1, buf, len + (size_t)n, g) < 0)
				return -1;
		}
	}
	return 0;
}

/* Emit every name of pt. */
static int pattern_emit(const struct pattern *pt, const struct gen *g)
{
	char buf[NAME_MAX_LEN + 1];

	return pattern_gen(pt, 0, buf, 0, g);
}

/* ---- ClusterShell nodesets ---- */

/* Parse one nodeset bracket's content s[0..n) ("1-3,7,10-12/2") of item. */
static int nodeset_bracket(const char *s, size_t n, const char *item, struct brk *b,
                           char *err, size_t errsz)
{
	size_t pieces = 1;

	if (n == 0)
		return fail(err, errsz, "empty range '[]' in '%.80s'", item);
	for (size_t i = 0; i < n; i++)
		pieces += s[i] == ',';
	b->r = calloc(pieces, sizeof *b->r);
	if (b->r == NULL)
		return fail(err, errsz, "out of memory");
	b->nr = 0;
	b->count = 0;
	for (size_t i = 0; i <= n; ) {
		size_t j = i, d;
		struct rng r = { .step = 1 };
		while (j < n && s[j] != ',')
			j++;
		const char *p = s + i, *end = s + j;
		for (d = 0; p + d < end && is_digit(p[d]); d++)
			;
		if (parse_digits(p, d, &r.lo) < 0)
			goto malformed;
		r.pad = d > 1 && p[0] == '0' ? (int)d : 0;
		r.hi = r.lo;
		p += d;
		if (p < end && *p == '-') {
			p++;
			for (d = 0; p + d < end && is_digit(p[d]); d++)
				;
			if (parse_digits(p, d, &r.hi) < 0)
				goto malformed;
			p += d;
			if (p < end && *p == '/') {
				p++;
				for (d = 0; p + d < end && is_digit(p[d]); d++)
					;
				if (parse_digits(p, d, &r.step) < 0 || r.step == 0)
					goto malformed;
				p += d;
			}
		}
		if (p != end)
			goto malformed;
		if (r.hi < r.lo)
			return fail(err, errsz, "range '%.*s' in '%.80s' ends before it starts",
			            (int)(j - i), s + i, item);
		uint64_t c = rng_count(&r);
		if (c > TARGETS_MAX || b->count + c > TARGETS_MAX)
			return fail(err, errsz, "range '[%.*s]' in '%.80s' has more than %u hosts",
			            (int)(n > 60 ? 60 : n), s, item, TARGETS_MAX);
		b->count += c;
		b->r[b->nr++] = r;
		i = j + 1;
	}
	return 0;
malformed:
	return fail(err, errsz, "malformed range '[%.*s]' in '%.80s': expected N, N-M or "
	            "N-M/STEP separated by commas%s", (int)(n > 60 ? 60 : n), s, item,
	            memchr(s, ':', n) ? " (A:B ranges are for inventories; write A-B)" : "");
}

/* Parse a nodeset item (brackets anywhere in it) into pt. */
static int nodeset_parse(const char *item, struct pattern *pt, char *err, size_t errsz)
{
	const char *lit = item, *p;

	memset(pt, 0, sizeof *pt);
	pt->count = 1;
	for (p = item; *p; p++) {
		if (*p == ']')
			return fail(err, errsz, "unmatched ']' in '%.80s'", item);
		if (*p != '[')
			continue;
		const char *q = p + 1;
		while (*q && *q != ']' && *q != '[')
			q++;
		if (*q == '[')
			return fail(err, errsz, "'[' inside a range in '%.80s'", item);
		if (*q != ']')
			return fail(err, errsz, "missing ']' in '%.80s'", item);
		if (pt->nb == TARGETS_BRACKETS)
			return fail(err, errsz, "more than %u ranges in '%.80s'", TARGETS_BRACKETS,
			            item);
		pt->lit[pt->nb] = lit;
		pt->litlen[pt->nb] = (size_t)(p - lit);
		if (nodeset_bracket(p + 1, (size_t)(q - p - 1), item, &pt->b[pt->nb], err,
		                    errsz) < 0) {
			pt->nb++;
			return -1;
		}
		uint64_t c = pt->b[pt->nb].count;
		pt->nb++;
		if (c != 0 && pt->count > TARGETS_MAX / c)
			return fail(err, errsz, "'%.80s' expands to more than %u hosts", item,
			            TARGETS_MAX);
		pt->count *= c;
		lit = q + 1;
		p = q;
	}
	pt->lit[pt->nb] = lit;
	pt->litlen[pt->nb] = strlen(lit);
	return 0;
}

/* ---- Ansible INI inventories ---- */

struct idxv {
	size_t *v;
	size_t  n, cap;
};

struct inv_host {
	char *name;
	char *host;     /* ansible_host, or NULL */
	char *port;     /* ansible_port, or the :PORT of its first line, or NULL */
	bool  grouped;  /* in a group other than all and ungrouped */
};

struct inv_group {
	char       *name;
	struct idxv hosts, kids;
	bool        declared;    /* by [name] or [name:children] */
	size_t      ref_line;    /* first use before being declared, 0 if none */
	size_t      ref_parent;  /* SIZE_MAX: [name:vars]; else [parent:children] */
};

struct inventory {
	char              path[BOUND_PATH];
	struct inv_host  *h;
	size_t            nh, caph;
	struct inv_group *g;
	size_t            ng, capg;
	struct strmap     hmap, gmap;
	size_t            entries;
};

#define INV_ALL       0u
#define INV_UNGROUPED 1u

struct inv_parse {
	struct inventory *inv;
	size_t            line;
	char             *err;
	size_t            errsz;
};

/* Record a reason with the inventory's path and line; returns -1. */
__attribute__((format(printf, 2, 3)))
static int inv_fail(struct inv_parse *p, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return fail(p->err, p->errsz, "inventory %s:%zu: %s", p->inv->path, p->line, msg);
}

/* Append i to x; 0 or -1. */
static int idxv_push(struct idxv *x, size_t i)
{
	if (x->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 8;
		size_t *nv = realloc(x->v, ncap * sizeof *nv);
		if (nv == NULL)
			return -1;
		x->v = nv;
		x->cap = ncap;
	}
	x->v[x->n++] = i;
	return 0;
}

/* Grow an array of elements of size sz to hold one more; 0 or -1. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, ncap * sz);
	if (nv == NULL)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* The index of group name, added (undeclared) if new; 0 or -1. */
static int inv_group(struct inv_parse *p, const char *name, size_t *out)
{
	struct inventory *inv = p->inv;
	struct inv_group *g;

	if (strmap_get(&inv->gmap, name, out))
		return 0;
	if (inv->ng >= INV_GROUPS)
		return inv_fail(p, "more than %u groups", INV_GROUPS);
	if (grow((void **)&inv->g, &inv->capg, inv->ng, sizeof *inv->g) < 0)
		return inv_fail(p, "out of memory");
	g = &inv->g[inv->ng];
	memset(g, 0, sizeof *g);
	g->name = strdup(name);
	if (g->name == NULL || strmap_put(&inv->gmap, g->name, inv->ng) < 0) {
		free(g->name);
		return inv_fail(p, "out of memory");
	}
	*out = inv->ng++;
	return 0;
}

/* The index of host name, added if new (*isnew says so); 0 or -1. */
static int inv_host(struct inv_parse *p, const char *name, size_t *out, bool *isnew)
{
	struct inventory *inv = p->inv;
	struct inv_host *h;

	*isnew = false;
	if (strmap_get(&inv->hmap, name, out))
		return 0;
	if (inv->nh >= TARGETS_MAX)
		return inv_fail(p, "more than %u hosts", TARGETS_MAX);
	if (grow((void **)&inv->h, &inv->caph, inv->nh, sizeof *inv->h) < 0)
		return inv_fail(p, "out of memory");
	h = &inv->h[inv->nh];
	memset(h, 0, sizeof *h);
	h->name = strdup(name);
	if (h->name == NULL || strmap_put(&inv->hmap, h->name, inv->nh) < 0) {
		free(h->name);
		return inv_fail(p, "out of memory");
	}
	*out = inv->nh++;
	*isnew = true;
	return 0;
}

/* Release an inventory. */
static void inv_free(struct inventory *inv)
{
	if (inv == NULL)
		return;
	for (size_t i = 0; i < inv->nh; i++) {
		free(inv->h[i].name);
		free(inv->h[i].host);
		free(inv->h[i].port);
	}
	for (size_t i = 0; i < inv->ng; i++) {
		free(inv->g[i].name);
		free(inv->g[i].hosts.v);
		free(inv->g[i].kids.v);
	}
	free(inv->h);
	free(inv->g);
	strmap_free(&inv->hmap);
	strmap_free(&inv->gmap);
	free(inv);
}

/* Split s as Python's shlex.split(s, comments=True) does (how Ansible reads
 * host lines): whitespace separates, quotes group, a backslash escapes, '#'
 * starts a comment. Tokens go into out (2 * strlen(s) + 2 bytes), pointers
 * into tok (strlen(s) + 1 slots). 0, or -1 for an open quote. */
static int shlex_split(const char *s, char *out, char **tok, size_t *ntok)
{
	const char *p = s;
	char *o = out;
	size_t n = 0;

	while (*p) {
		if (is_space(*p)) {
			p++;
			continue;
		}
		if (*p == '#')
			break;
		tok[n++] = o;
		while (*p && !is_space(*p) && *p != '#') {
			if (*p == '\'') {
				for (p++; *p && *p != '\''; )
					*o++ = *p++;
				if (*p++ == '\0')
					return -1;
			} else if (*p == '"') {
				for (p++; *p && *p != '"'; ) {
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					*o++ = *p++;
				}
				if (*p++ == '\0')
					return -1;
			} else if (*p == '\\') {
				if (*++p == '\0')
					return -1;
				*o++ = *p++;
			} else {
				*o++ = *p++;
			}
		}
		*o++ = '\0';
	}
	*ntok = n;
	return 0;
}

/* A variable's value as Ansible keeps it: one layer of Python quotes off. */
static char *inv_value(const char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0])
		return strndup(v + 1, n - 2);
	return strdup(v);
}

/* True if s[0..n) is a range Ansible's address patterns accept inside a
 * hostname ("[a:f]", "[01:10]", "[0:20:5]"). */
static bool ans_range_ok(const char *s, size_t n)
{
	size_t i = 0, d;

	if (n >= 3 && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') && s[1] == ':' &&
	    ((s[2] | 0x20) >= 'a' && (s[2] | 0x20) <= 'z')) {
		i = 3;
	} else {
		for (d = 0; i < n && is_digit(s[i]); i++, d++)
			;
		if (d == 0 || i >= n || s[i++] != ':')
			return false;
		for (d = 0; i < n && is_digit(s[i]); i++, d++)
			;
		if (d == 0)
			return false;
	}
	if (i == n)
		return true;
	if (s[i++] != ':')
		return false;
	for (d = 0; i < n && is_digit(s[i]); i++, d++)
		;
	return d > 0 && i == n;
}

/* True if a is a host name (labels of word characters and '-', ranges
 * allowed, no label ending in '-' or '_') or an IPv6 address, the test
 * Ansible's parse_address applies before it believes a ":PORT". */
static bool ans_address_ok(const char *a)
{
	size_t colons = 0;
	bool v6 = true;

	for (const char *p = a; *p; p++) {
		if (*p == ':')
			colons++;
		else if (*p == '[') {
			const char *q = strchr(p, ']');
			if (q == NULL)
				return false;
			p = q;
		} else if (!(is_digit(*p) || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f') ||
		             *p == '.'))
			v6 = false;
	}
	if (colons >= 2 && v6)
		return true;
	const char *p = a;
	for (;;) {
		const char *start = p;
		char last = '\0';
		while (*p && *p != '.') {
			if (*p == '[') {
				const char *q = strchr(p, ']');
				if (q == NULL || !ans_range_ok(p + 1, (size_t)(q - p - 1)))
					return false;
				p = q;
			} else if (!(is_digit(*p) || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') ||
			             *p == '_' || *p == '-' || (unsigned char)*p >= 0x80)) {
				return false;
			} else if (p == start && *p == '-') {
				return false;
			}
			last = *p++;
		}
		if (p == start || last == '-' || last == '_')
			return false;
		if (*p == '\0')
			return true;
		p++;
	}
}

/* Split an inventory host pattern into name pattern and port the way
 * Ansible's parse_address does: "[ADDR]:PORT", or "NAME:PORT" where NAME
 * has no ':' outside brackets; a pattern that does not then look like an
 * address is taken whole, without a port. pat is cut in place. */
static void ans_split_port(char *pat, char **name, char **port)
{
	char *a = pat, *pt = NULL, *c, *cut[2];
	char was[2];
	int ncut = 0;

	*name = pat;
	*port = NULL;
	c = strrchr(a, ':');
	if (a[0] == '[' && c != NULL && c > a + 2 && c[-1] == ']' && c[1] != '\0' &&
	    strspn(c + 1, "0123456789") == strlen(c + 1)) {
		cut[ncut] = c - 1;
		was[ncut++] = c[-1];
		c[-1] = '\0';
		pt = c + 1;
		a++;
	}
	char *q = a;
	while (*q && *q != ':' && *q != ']') {
		if (*q == '[') {
			char *r = strchr(q, ']');
			if (r == NULL)
				break;
			q = r;
		}
		q++;
	}
	if (*q == ':' && q[1] != '\0' && strspn(q + 1, "0123456789") == strlen(q + 1)) {
		cut[ncut] = q;
		was[ncut++] = *q;
		*q = '\0';
		pt = q + 1;
	}
	if (!ans_address_ok(a)) {
		/* not an address: Ansible keeps the text as written, no port */
		while (ncut > 0) {
			ncut--;
			*cut[ncut] = was[ncut];
		}
		return;
	}
	*name = a;
	*port = pt;
}

/* Parse one Ansible range "beg:end[:step]" (s[0..n)) of pat into b. */
static int ans_bracket(struct inv_parse *p, const char *s, size_t n, const char *pat,
                       struct brk *b)
{
	const char *part[3];
	size_t plen[3], np = 0;
	struct rng r = { .step = 1 };
	const char *beg, *end;
	size_t blen, elen;

	part[0] = s;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == ':') {
			if (np < 3)
				plen[np] = (size_t)(s + i - part[np]);
			np++;
			if (i < n && np < 3)
				part[np] = s + i + 1;
		}
	}
	if (np != 2 && np != 3)
		return inv_fail(p, "host range '[%.*s]' in '%.80s' must be begin:end or "
		                "begin:end:step", (int)(n > 60 ? 60 : n), s, pat);
	beg = plen[0] ? part[0] : "0";
	blen = plen[0] ? plen[0] : 1;
	end = part[1];
	elen = plen[1];
	if (elen == 0)
		return inv_fail(p, "host range '[%.*s]' in '%.80s' must specify an end value",
		                (int)n, s, pat);
	if (np == 3 && (parse_digits(part[2], plen[2], &r.step) < 0 || r.step == 0))
		return inv_fail(p, "invalid step in host range '[%.*s]' of '%.80s'", (int)n, s,
		                pat);
	if (beg[0] == '0' && blen > 1) {
		r.pad = (int)blen;
		if (elen != blen)
			return inv_fail(p, "host range '[%.*s]' in '%.80s' must specify equal-length "
			                "begin and end formats", (int)n, s, pat);
	}
	const char *lb = blen == 1 ? memchr(letters, beg[0], sizeof letters - 1) : NULL;
	const char *le = elen == 1 ? memchr(letters, end[0], sizeof letters - 1) : NULL;
	if (lb != NULL && le != NULL) {
		if (lb > le)
			return inv_fail(p, "host range '[%.*s]' in '%.80s' must have begin <= end",
			                (int)n, s, pat);
		r.alpha = true;
		r.lo = (uint64_t)(lb - letters);
		r.hi = (uint64_t)(le - letters);
	} else if (parse_digits(beg, blen, &r.lo) < 0 || parse_digits(end, elen, &r.hi) < 0) {
		return inv_fail(p, "invalid host range '[%.*s]' in '%.80s'", (int)n, s, pat);
	}
	b->r = malloc(sizeof *b->r);
	if (b->r == NULL)
		return inv_fail(p, "out of memory");
	b->r[0] = r;
	b->nr = 1;
	b->count = rng_count(&r);
	if (b->count > TARGETS_MAX)
		return inv_fail(p, "host range '[%.*s]' in '%.80s' has more than %u hosts",
		                (int)n, s, pat, TARGETS_MAX);
	return 0;
}

/* Parse an inventory host pattern with Ansible ranges into pt. */
static int ans_parse(struct inv_parse *p, const char *pat, struct pattern *pt)
{
	const char *lit = pat;

	memset(pt, 0, sizeof *pt);
	pt->count = 1;
	for (;;) {
		const char *lb = strchr(lit, '['), *rb = strchr(lit, ']');
		if (lb == NULL && rb == NULL)
			break;
		if (lb == NULL || rb == NULL || rb < lb || memchr(lb + 1, '[', (size_t)(rb - lb - 1)))
			return inv_fail(p, "malformed host range in '%.80s'", pat);
		if (pt->nb == TARGETS_BRACKETS)
			return inv_fail(p, "more than %u ranges in '%.80s'", TARGETS_BRACKETS, pat);
		pt->lit[pt->nb] = lit;
		pt->litlen[pt->nb] = (size_t)(lb - lit);
		if (ans_bracket(p, lb + 1, (size_t)(rb - lb - 1), pat, &pt->b[pt->nb]) < 0) {
			pt->nb++;
			return -1;
		}
		uint64_t c = pt->b[pt->nb].count;
		pt->nb++;
		if (c != 0 && pt->count > TARGETS_MAX / c)
			return inv_fail(p, "'%.80s' expands to more than %u hosts", pat, TARGETS_MAX);
		pt->count *= c;
		lit = rb + 1;
	}
	pt->lit[pt->nb] = lit;
	pt->litlen[pt->nb] = strlen(lit);
	return 0;
}

/* What one host line assigns to each host it names. */
struct inv_line {
	struct inv_parse *p;
	size_t            group;
	const char       *port;      /* :PORT of the pattern, or NULL */
	const char       *host_var;  /* ansible_host=, or NULL */
	const char       *port_var;  /* ansible_port=, or NULL */
};

/* Replace *slot with a copy of v (quotes as Ansible strips them); 0 or -1. */
static int set_var(char **slot, const char *v, bool unquote)
{
	char *c = unquote ? inv_value(v) : strdup(v);

	if (c == NULL)
		return -1;
	free(*slot);
	*slot = c;
	return 0;
}

/* Add one host of a host line to its group (gen callback). */
static int inv_line_host(void *ctx, const char *name)
{
	struct inv_line *l = ctx;
	struct inventory *inv = l->p->inv;
	size_t hi = 0;
	bool isnew;

	if (name[0] == '\0')
		return inv_fail(l->p, "empty host name");
	if (++inv->entries > INV_ENTRIES)
		return inv_fail(l->p, "more than %u host entries", INV_ENTRIES);
	if (inv_host(l->p, name, &hi, &isnew) < 0)
		return -1;
	struct inv_host *h = &inv->h[hi];
	/* like Ansible: a :PORT counts where the host is first seen, variables
	 * always (the last one wins) */
	if ((isnew && l->port != NULL && set_var(&h->port, l->port, false) < 0) ||
	    (l->host_var != NULL && set_var(&h->host, l->host_var, true) < 0) ||
	    (l->port_var != NULL && set_var(&h->port, l->port_var, true) < 0) ||
	    idxv_push(&inv->g[l->group].hosts, hi) < 0)
		return inv_fail(l->p, "out of memory");
	if (l->group != INV_ALL && l->group != INV_UNGROUPED)
		h->grouped = true;
	return 0;
}

/* Parse a host line "PATTERN [key=value ...]" of group gi. */
static int inv_host_line(struct inv_parse *p, const char *line, size_t gi)
{
	size_t len = strlen(line), ntok = 0;
	char *out = malloc(2 * len + 2), **tok = calloc(len + 1, sizeof *tok);
	struct inv_line l = { .p = p, .group = gi };
	struct pattern pt = { 0 };
	int rc = -1;

	if (out == NULL || tok == NULL) {
		inv_fail(p, "out of memory");
		goto done;
	}
	if (shlex_split(line, out, tok, &ntok) < 0) {
		inv_fail(p, "no closing quotation in '%.80s'", line);
		goto done;
	}
	if (ntok == 0) {
		rc = 0;
		goto done;
	}
	for (size_t i = 1; i < ntok; i++) {
		char *eq = strchr(tok[i], '=');
		if (eq == NULL) {
			inv_fail(p, "expected key=value host variable assignment, got: %.80s", tok[i]);
			goto done;
		}
		*eq = '\0';
		if (strcmp(tok[i], "ansible_host") == 0)
			l.host_var = eq + 1;
		else if (strcmp(tok[i], "ansible_port") == 0)
			l.port_var = eq + 1;
	}
	char *pat = tok[0], *name, *port;
	size_t plen = strlen(pat);
	ans_split_port(pat, &name, &port);
	if (port == NULL && plen > 0 && pat[plen - 1] == ':') {
		inv_fail(p, "invalid host pattern '%.80s': ending in ':' is not allowed", pat);
		goto done;
	}
	l.port = port;
	if (ans_parse(p, name, &pt) < 0)
		goto done;
	struct gen g = { inv_line_host, &l, name, p->err, p->errsz };
	if (pattern_emit(&pt, &g) < 0) {
		/* a name too long is reported without the line: add it */
		if (strncmp(p->err, "inventory ", 10) != 0)
			err_prefix(p->err, p->errsz, p->inv->path, p->line);
		goto done;
	}
	rc = 0;
done:
	pattern_free(&pt);
	free(out);
	free(tok);
	return rc;
}

/* Parse "[name]" or "[name:tag]" with an optional trailing comment, as
 * Ansible's section pattern; true if line is one (name and tag cut in
 * place, tag NULL if absent). */
static bool inv_section(char *line, char **name, char **tag)
{
	char *p = line + 1, *nend, *t = NULL, *tend = NULL;

	while (*p && *p != ':' && *p != ']' && !is_space(*p))
		p++;
	if (p == line + 1)
		return false;
	nend = p;
	if (*p == ':') {
		t = ++p;
		while (is_digit(*p) || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') || *p == '_')
			p++;
		if (p == t)
			return false;
		tend = p;
	}
	if (*p++ != ']')
		return false;
	while (is_space(*p))
		p++;
	if (*p != '\0' && *p != '#')
		return false;
	*nend = '\0';
	if (tend != NULL)
		*tend = '\0';
	*name = line + 1;
	*tag = t;
	return true;
}

/* A [group:children] line: the child's name (cut in place) or NULL. */
static char *inv_child_name(char *line)
{
	char *p = line, *end;

	while (*p && *p != ':' && *p != ']' && !is_space(*p))
		p++;
	if (p == line)
		return NULL;
	end = p;
	while (is_space(*p))
		p++;
	if (*p != '\0' && *p != '#')
		return NULL;
	*end = '\0';
	return line;
}

/* Refuse a group that contains itself through [children] (as Ansible does). */
static int inv_check_cycles(struct inv_parse *p)
{
	struct inventory *inv = p->inv;
	unsigned char *color = calloc(inv->ng, 1);
	size_t (*stack)[2] = calloc(inv->ng, sizeof *stack), top = 0;
	int rc = 0;

	if (color == NULL || stack == NULL) {
		free(color);
		free(stack);
		return fail(p->err, p->errsz, "out of memory");
	}
	for (size_t s = 0; s < inv->ng && rc == 0; s++) {
		if (color[s] != 0)
			continue;
		color[s] = 1;
		stack[top][0] = s;
		stack[top++][1] = 0;
		while (top > 0 && rc == 0) {
			size_t u = stack[top - 1][0], k = stack[top - 1][1];
			if (k == inv->g[u].kids.n) {
				color[u] = 2;
				top--;
				continue;
			}
			stack[top - 1][1]++;
			size_t v = inv->g[u].kids.v[k];
			if (color[v] == 1) {
				rc = fail(p->err, p->errsz, "inventory %s: group '%s' contains itself "
				          "(through [%s:children])", inv->path, inv->g[v].name,
				          inv->g[u].name);
			} else if (color[v] == 0) {
				color[v] = 1;
				stack[top][0] = v;
				stack[top++][1] = 0;
			}
		}
	}
	free(color);
	free(stack);
	return rc;
}

/* Parse an Ansible INI inventory (data is cut in place) into inv. */
static int inv_parse(struct inventory *inv, char *data, char *err, size_t errsz)
{
	struct inv_parse p = { inv, 0, err, errsz };
	enum { ST_HOSTS, ST_CHILDREN, ST_VARS } st = ST_HOSTS;
	size_t cur = INV_UNGROUPED, gi = 0;
	char *next = data;

	if (inv_group(&p, "all", &gi) < 0 || inv_group(&p, "ungrouped", &cur) < 0)
		return -1;
	inv->g[INV_ALL].declared = inv->g[INV_UNGROUPED].declared = true;
	while (next != NULL) {
		char *line = next, *nl = strchr(next, '\n'), *name, *tag;
		if (nl != NULL)
			*nl = '\0';
		next = nl ? nl + 1 : NULL;
		p.line++;
		line = trim(line);
		if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == '[' && inv_section(line, &name, &tag)) {
			if (tag == NULL || strcmp(tag, "hosts") == 0)
				st = ST_HOSTS;
			else if (strcmp(tag, "children") == 0)
				st = ST_CHILDREN;
			else if (strcmp(tag, "vars") == 0)
				st = ST_VARS;
			else
				return inv_fail(&p, "section [%s:%s] has unknown type: %s", name, tag,
				                tag);
			if (inv_group(&p, name, &cur) < 0)
				return -1;
			if (st != ST_VARS) {
				inv->g[cur].declared = true;
			} else if (!inv->g[cur].declared && inv->g[cur].ref_line == 0) {
				inv->g[cur].ref_line = p.line;
				inv->g[cur].ref_parent = SIZE_MAX;
			}
			continue;
		}
		if (line[0] == '[' && line[strlen(line) - 1] == ']')
			return inv_fail(&p, "invalid section entry '%.80s': a section name has no "
			                "spaces or other invalid characters", line);
		if (st == ST_HOSTS) {
			if (inv_host_line(&p, line, cur) < 0)
				return -1;
		} else if (st == ST_CHILDREN) {
			char *child = inv_child_name(line);
			if (child == NULL)
				return inv_fail(&p, "expected a group name, got: %.80s", line);
			if (inv_group(&p, child, &gi) < 0)
				return -1;
			if (gi == cur)
				return inv_fail(&p, "group '%s' cannot be its own child", child);
			if (!inv->g[gi].declared && inv->g[gi].ref_line == 0) {
				inv->g[gi].ref_line = p.line;
				inv->g[gi].ref_parent = cur;
			}
			if (idxv_push(&inv->g[cur].kids, gi) < 0)
				return inv_fail(&p, "out of memory");
		} else if (strchr(line, '=') == NULL) {
			return inv_fail(&p, "expected key=value, got: %.80s", line);
		}
	}
	/* a group used before any [name] or [name:children] must get one */
	size_t first = SIZE_MAX;
	for (size_t i = 0; i < inv->ng; i++)
		if (!inv->g[i].declared && inv->g[i].ref_line != 0 &&
		    (first == SIZE_MAX || inv->g[i].ref_line < inv->g[first].ref_line))
			first = i;
	if (first != SIZE_MAX) {
		const struct inv_group *g = &inv->g[first];
		p.line = g->ref_line;
		if (g->ref_parent == SIZE_MAX)
			return inv_fail(&p, "section [%s:vars] is for an undefined group: %s",
			                g->name, g->name);
		return inv_fail(&p, "section [%s:children] includes undefined group: %s",
		                inv->g[g->ref_parent].name, g->name);
	}
	return inv_check_cycles(&p);
}

/* ---- expansion ---- */

struct expand {
	struct fleet_hosts *out;
	size_t              cap;
	struct strmap       seen;
	size_t              generated;
	const char         *inv_arg, *home;
	struct inventory   *inv;
	unsigned            depth;
	char               *err;
	size_t              errsz;
};

static int expand_list(struct expand *ex, const char *s, size_t len);

/* Add a host unless its name is already there; its address must parse. */
static int out_add(struct expand *ex, const char *name, const char *addr, const char *hint)
{
	struct fleet_hosts *o = ex->out;
	struct hostspec hs;
	char why[300];

	if (++ex->generated > TARGETS_GENERATED)
		return fail(ex->err, ex->errsz, "TARGETS name more than %u hosts, duplicates "
		            "included", TARGETS_GENERATED);
	if (strmap_get(&ex->seen, name, NULL))
		return 0;
	if (o->n >= TARGETS_MAX)
		return fail(ex->err, ex->errsz, "TARGETS name more than %u hosts", TARGETS_MAX);
	if (addr_parse_host(addr, &hs, why, sizeof why) < 0) {
		if (strcmp(name, addr) == 0 && hint == NULL)
			return fail(ex->err, ex->errsz, "%s", why);
		return fail(ex->err, ex->errsz, "host '%.80s': %s%s", name, why, hint ? hint : "");
	}
	if (grow((void **)&o->v, &ex->cap, o->n, sizeof *o->v) < 0)
		return fail(ex->err, ex->errsz, "out of memory");
	o->v[o->n].name = strdup(name);
	o->v[o->n].addr = strdup(addr);
	if (o->v[o->n].name == NULL || o->v[o->n].addr == NULL ||
	    strmap_put(&ex->seen, o->v[o->n].name, o->n) < 0) {
		free(o->v[o->n].name);
		free(o->v[o->n].addr);
		return fail(ex->err, ex->errsz, "out of memory");
	}
	o->n++;
	return 0;
}

/* gen callback: a nodeset name is its own address. */
static int emit_plain(void *ctx, const char *name)
{
	return out_add(ctx, name, name, NULL);
}

/* Expand one nodeset item (HOST, ranges, USER@ and :PORT around them). */
static int expand_nodeset(struct expand *ex, const char *item)
{
	const char *p = item, *at = strchr(item, '@'), *lb = strchr(item, '[');
	struct pattern pt;
	int rc;

	if (at != NULL && (lb == NULL || at < lb))
		p = at + 1;
	if (p[0] == '[') {
		/* [::1]:4433 is an IPv6 address, not a range */
		const char *rb = strchr(p, ']');
		if (rb != NULL && memchr(p, ':', (size_t)(rb - p)) != NULL)
			return out_add(ex, item, item, NULL);
	}
	rc = nodeset_parse(item, &pt, ex->err, ex->errsz);
	if (rc == 0 && ex->generated + pt.count > TARGETS_GENERATED)
		rc = fail(ex->err, ex->errsz, "TARGETS name more than %u hosts, duplicates "
		          "included", TARGETS_GENERATED);
	if (rc == 0) {
		struct gen g = { emit_plain, ex, item, ex->err, ex->errsz };
		rc = pattern_emit(&pt, &g);
	}
	pattern_free(&pt);
	return rc;
}

/* Expand @PATH: every line of the file is more TARGETS. */
static int expand_file(struct expand *ex, const char *path)
{
	char full[BOUND_PATH];
	const char *home = getenv("HOME");
	char *data, *next;
	size_t line = 0;
	int rc = 0;

	if (strncmp(path, "~/", 2) == 0 && home != NULL && home[0] == '/') {
		if ((size_t)snprintf(full, sizeof full, "%s/%s", home, path + 2) >= sizeof full)
			return fail(ex->err, ex->errsz, "host file path too long");
	} else if (strlen(path) >= sizeof full) {
		return fail(ex->err, ex->errsz, "host file path too long");
	} else {
		snprintf(full, sizeof full, "%s", path);
	}
	if (ex->depth >= TARGETS_DEPTH)
		return fail(ex->err, ex->errsz, "host files nested more than %u deep at %s",
		            TARGETS_DEPTH, full);
	data = read_text(full);
	if (data == NULL)
		return read_fail(ex->err, ex->errsz, "host file", full);
	for (next = data; next != NULL && rc == 0; ) {
		char *l = next, *nl = strchr(next, '\n'), *hash;
		if (nl != NULL)
			*nl = '\0';
		next = nl ? nl + 1 : NULL;
		line++;
		if ((hash = strchr(l, '#')) != NULL)
			*hash = '\0';
		l = trim(l);
		if (l[0] == '\0')
			continue;
		ex->depth++;
		rc = expand_list(ex, l, strlen(l));
		ex->depth--;
		if (rc < 0)
			err_prefix(ex->err, ex->errsz, full, line);
	}
	free(data);
	return rc;
}

/* Load the inventory @group needs, once. */
static int inv_load(struct expand *ex, const char *group)
{
	const char *env = getenv("TETHER_INVENTORY");
	char path[BOUND_PATH];
	bool dflt = false;
	char *data;

	if (ex->inv != NULL)
		return 0;
	if (ex->inv_arg != NULL)
		snprintf(path, sizeof path, "%s", ex->inv_arg);
	else if (env != NULL && env[0] != '\0')
		snprintf(path, sizeof path, "%s", env);
	else if (ex->home != NULL) {
		snprintf(path, sizeof path, "%s/inventory", ex->home);
		dflt = true;
	} else
		return fail(ex->err, ex->errsz, "@%s needs an inventory: give --inventory FILE or "
		            "set TETHER_INVENTORY", group);
	data = read_text(path);
	if (data == NULL) {
		if (dflt && errno == ENOENT)
			return fail(ex->err, ex->errsz, "unknown group '@%s': no inventory at %s "
			            "(give --inventory FILE or set TETHER_INVENTORY)", group, path);
		return read_fail(ex->err, ex->errsz, "inventory", path);
	}
	ex->inv = calloc(1, sizeof *ex->inv);
	if (ex->inv == NULL) {
		free(data);
		return fail(ex->err, ex->errsz, "out of memory");
	}
	snprintf(ex->inv->path, sizeof ex->inv->path, "%s", path);
	int rc = inv_parse(ex->inv, data, ex->err, ex->errsz);
	free(data);
	if (rc < 0) {
		inv_free(ex->inv);
		ex->inv = NULL;
	}
	return rc;
}

/* Add one inventory host, its address from ansible_host/ansible_port. */
static int add_inv_host(struct expand *ex, const struct inv_host *h)
{
	const char *hp = h->host ? h->host : h->name;
	bool v6 = hp[0] != '[' && strchr(hp, ':') != NULL;
	char addr[NAME_MAX_LEN + 1];

	if ((size_t)snprintf(addr, sizeof addr, "%s%s%s%s%s", v6 ? "[" : "", hp, v6 ? "]" : "",
	                     h->port ? ":" : "", h->port ? h->port : "") >= sizeof addr)
		return fail(ex->err, ex->errsz, "inventory host '%.80s': address too long",
		            h->name);
	return out_add(ex, h->name, addr, h->host ? " (check its ansible_host/ansible_port)"
	               : " (give it ansible_host=)");
}

/* Expand @GROUP: its hosts, then its children's, depth first. */
static int expand_group(struct expand *ex, const char *group)
{
	struct inventory *inv;
	size_t gi = 0, top = 0;
	size_t *stack;
	unsigned char *seen;
	int rc = 0;

	if (inv_load(ex, group) < 0)
		return -1;
	inv = ex->inv;
	if (!strmap_get(&inv->gmap, group, &gi))
		return fail(ex->err, ex->errsz, "unknown group '@%s' (not in inventory %s)", group,
		            inv->path);
	if (gi == INV_ALL) {
		for (size_t i = 0; i < inv->nh && rc == 0; i++)
			rc = add_inv_host(ex, &inv->h[i]);
		return rc;
	}
	stack = calloc(inv->ng, sizeof *stack);
	seen = calloc(inv->ng, 1);
	if (stack == NULL || seen == NULL) {
		free(stack);
		free(seen);
		return fail(ex->err, ex->errsz, "out of memory");
	}
	stack[top++] = gi;
	seen[gi] = 1;
	while (top > 0 && rc == 0) {
		const struct inv_group *g = &inv->g[stack[--top]];
		if (g == &inv->g[INV_UNGROUPED]) {
			/* as Ansible reconciles it: hosts in no other group */
			for (size_t i = 0; i < inv->nh && rc == 0; i++)
				if (!inv->h[i].grouped)
					rc = add_inv_host(ex, &inv->h[i]);
		} else {
			for (size_t i = 0; i < g->hosts.n && rc == 0; i++)
				rc = add_inv_host(ex, &inv->h[g->hosts.v[i]]);
		}
		for (size_t i = g->kids.n; i > 0; i--) {
			size_t k = g->kids.v[i - 1];
			if (!seen[k]) {
				seen[k] = 1;
				stack[top++] = k;
			}
		}
	}
	free(stack);
	free(seen);
	return rc;
}

/* Expand one item of a TARGETS list. */
static int expand_item(struct expand *ex, const char *s, size_t len)
{
	char item[BOUND_PATH + 1];

	if (len > BOUND_PATH)
		return fail(ex->err, ex->errsz, "target '%.60s...' is too long", s);
	memcpy(item, s, len);
	item[len] = '\0';
	if (item[0] != '@')
		return expand_nodeset(ex, item);
	if (item[1] == '\0')
		return fail(ex->err, ex->errsz, "'@' needs a GROUP or a PATH");
	if (strchr(item, '/') != NULL)
		return expand_file(ex, item + 1);
	return expand_group(ex, item + 1);
}

/* Expand a comma-separated TARGETS list (commas inside brackets do not split). */
static int expand_list(struct expand *ex, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t j = i, depth = 0;
		while (j < len && (s[j] != ',' || depth > 0)) {
			if (s[j] == '[')
				depth++;
			else if (s[j] == ']' && depth > 0)
				depth--;
			j++;
		}
		size_t a = i, b = j;
		while (a < b && is_space(s[a]))
			a++;
		while (b > a && is_space(s[b - 1]))
			b--;
		if (b > a && expand_item(ex, s + a, b - a) < 0)
			return -1;
		i = j + 1;
	}
	return 0;
}

/* Expand TARGETS into hosts. */
int targets_expand(const char *spec, const char *inventory, const char *home,
                   struct fleet_hosts *out, char *err, size_t errsz)
{
	struct expand ex = { .out = out, .inv_arg = inventory, .home = home, .err = err,
	                     .errsz = errsz };
	int rc;

	out->v = NULL;
	out->n = 0;
	if (spec == NULL)
		spec = "";
	rc = expand_list(&ex, spec, strlen(spec));
	if (rc == 0 && out->n == 0)
		rc = strspn(spec, " \t,") == strlen(spec) ? fail(err, errsz, "empty TARGETS")
		     : fail(err, errsz, "no hosts in TARGETS '%.80s'", spec);
	strmap_free(&ex.seen);
	inv_free(ex.inv);
	if (rc < 0)
		fleet_hosts_free(out);
	return rc;
}

/* Release the hosts. */
void fleet_hosts_free(struct fleet_hosts *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].addr);
	}
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

/* ---- folding ---- */

/* A digit run: its value and how it is written (natural, or zero-padded). */
struct fnum {
	uint64_t v;
	unsigned len;
	bool     lead0;
};

/* A sorted set of digit runs, one axis of a folded element. */
struct fset {
	struct fnum *v;
	size_t       n;
};

/* A name (or after folding, a set of names): the text with '\1' where each
 * axis goes, and one set per axis. nd == 0: key is the name verbatim. */
struct felem {
	char        *key;
	size_t       nd;
	struct fset *ax;
};

/* Order digit runs by value, then natural before padded, shorter first. */
static int fnum_cmp(const struct fnum *a, const struct fnum *b)
{
	if (a->v != b->v)
		return a->v < b->v ? -1 : 1;
	if (a->lead0 != b->lead0)
		return a->lead0 ? 1 : -1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

/* Order sets lexicographically. */
static int fset_cmp(const struct fset *a, const struct fset *b)
{
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		int c = fnum_cmp(&a->v[i], &b->v[i]);
		if (c != 0)
			return c;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

/* Order elements by pattern, then by every axis but skip. */
static int felem_cmp(const struct felem *a, const struct felem *b, size_t skip)
{
	int c = strcmp(a->key, b->key);

	if (c != 0)
		return c;
	if (a->nd != b->nd)
		return a->nd < b->nd ? -1 : 1;
	for (size_t i = 0; i < a->nd; i++) {
		if (i == skip)
			continue;
		if ((c = fset_cmp(&a->ax[i], &b->ax[i])) != 0)
			return c;
	}
	return 0;
}

/* Stable merge sort of v[0..n) by felem_cmp(skip), tmp of n slots. */
static void felem_sort(struct felem **v, struct felem **tmp, size_t n, size_t skip)
{
	size_t h = n / 2, i = 0, j = h, k = 0;

	if (n < 2)
		return;
	felem_sort(v, tmp, h, skip);
	felem_sort(v + h, tmp, n - h, skip);
	while (i < h && j < n)
		tmp[k++] = felem_cmp(v[j], v[i], skip) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof *v);
}

/* qsort adapter for fnum_cmp. */
static int fnum_qcmp(const void *a, const void *b)
{
	return fnum_cmp(a, b);
}

/* Replace v[0]'s axis a with the union of axis a over v[0..n), in one
 * sort (merging pairwise would be quadratic for a long run); 0 or -1. */
static int fset_union_all(struct felem **v, size_t n, size_t a)
{
	size_t total = 0, k = 0;
	struct fnum *m;

	for (size_t i = 0; i < n; i++)
		total += v[i]->ax[a].n;
	m = malloc(total * sizeof *m);
	if (m == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		memcpy(m + k, v[i]->ax[a].v, v[i]->ax[a].n * sizeof *m);
		k += v[i]->ax[a].n;
	}
	qsort(m, total, sizeof *m, fnum_qcmp);
	k = 0;
	for (size_t i = 0; i < total; i++)
		if (k == 0 || fnum_cmp(&m[k - 1], &m[i]) != 0)
			m[k++] = m[i];
	free(v[0]->ax[a].v);
	v[0]->ax[a].v = m;
	v[0]->ax[a].n = k;
	return 0;
}

/* Read name into e: digit runs of the host part become axes; a name that
 * could not be read back from a nodeset stays whole. 0 or -1. */
static int felem_init(struct felem *e, const char *name)
{
	size_t n = strlen(name), lo = 0, hi = n, colons = 0;
	const char *at = strchr(name, '@');
	bool literal = false;

	memset(e, 0, sizeof *e);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '[' || c == ']' || c == ',')
			literal = true;
		colons += c == ':';
	}
	if (literal || colons > 1) {
		e->key = strdup(name);
		return e->key ? 0 : -1;
	}
	if (at != NULL)
		lo = (size_t)(at - name) + 1;
	const char *colon = strchr(name, ':');
	if (colons == 1 && (at == NULL || colon > at))
		hi = (size_t)(colon - name);
	e->key = malloc(n + 1);
	e->ax = calloc(n / 2 + 1, sizeof *e->ax);
	if (e->key == NULL || e->ax == NULL)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < n; ) {
		size_t j = i;
		if (i >= lo && i < hi)
			while (j < hi && is_digit(name[j]))
				j++;
		struct fnum f;
		if (j > i && parse_digits(name + i, j - i, &f.v) == 0) {
			f.len = (unsigned)(j - i);
			f.lead0 = f.len > 1 && name[i] == '0';
			e->ax[e->nd].v = malloc(sizeof f);
			if (e->ax[e->nd].v == NULL)
				return -1;
			e->ax[e->nd].v[0] = f;
			e->ax[e->nd++].n = 1;
			e->key[k++] = '\1';
			i = j;
		} else {
			if (j == i)
				j = i + 1;
			memcpy(e->key + k, name + i, j - i);
			k += j - i;
			i = j;
		}
	}
	e->key[k] = '\0';
	return 0;
}

/* Release an element. */
static void felem_free(struct felem *e)
{
	for (size_t i = 0; i < e->nd; i++)
		free(e->ax[i].v);
	free(e->ax);
	free(e->key);
}

/* Append a digit run as written. */
static int fnum_print(struct buf *b, const struct fnum *f)
{
	return buf_printf(b, "%0*llu", f->lead0 ? (int)f->len : 0, (unsigned long long)f->v);
}

/* True if f is written the way width w (0: natural) would write its value. */
static bool fnum_fits(const struct fnum *f, unsigned w)
{
	return f->lead0 ? f->len == w : (w == 0 || f->len >= w);
}

/* Append a set: "7", or "[01-03,07]". */
static int fset_print(struct buf *b, const struct fset *s)
{
	int rc = 0;

	if (s->n == 1)
		return fnum_print(b, &s->v[0]);
	rc |= buf_puts(b, "[");
	for (size_t i = 0; i < s->n; ) {
		unsigned w = s->v[i].lead0 ? s->v[i].len : 0;
		size_t k = i;
		while (k + 1 < s->n && s->v[k + 1].v == s->v[k].v + 1 && fnum_fits(&s->v[k + 1], w))
			k++;
		if (i > 0)
			rc |= buf_puts(b, ",");
		rc |= fnum_print(b, &s->v[i]);
		if (k > i) {
			rc |= buf_puts(b, "-");
			rc |= buf_printf(b, "%0*llu", (int)w, (unsigned long long)s->v[k].v);
		}
		i = k + 1;
	}
	rc |= buf_puts(b, "]");
	return rc;
}

/* Append an element: its text with each axis's set in place. */
static int felem_print(struct buf *b, const struct felem *e)
{
	size_t ax = 0;
	int rc = 0;

	if (e->nd == 0)
		return buf_puts(b, e->key);
	for (const char *p = e->key; *p && rc == 0; p++)
		rc = *p == '\1' ? fset_print(b, &e->ax[ax++]) : buf_append(b, p, 1);
	return rc;
}

/* Fold the elements g[0..n) of one pattern, one axis at a time from the
 * last, merging elements equal on every other axis; returns how many are
 * left, or SIZE_MAX out of memory. */
static size_t fold_group(struct felem **g, struct felem **tmp, size_t n)
{
	size_t nd = g[0]->nd;

	for (size_t a = nd; a-- > 0; ) {
		size_t w = 0;
		felem_sort(g, tmp, n, a);
		for (size_t r = 0; r < n; ) {
			size_t e = r + 1;
			while (e < n && felem_cmp(g[r], g[e], a) == 0)
				e++;
			if (e - r > 1 && fset_union_all(g + r, e - r, a) < 0)
				return SIZE_MAX;
			g[w++] = g[r];
			r = e;
		}
		n = w;
	}
	if (nd == 0)
		n = 1;   /* the same name, given more than once */
	felem_sort(g, tmp, n, SIZE_MAX);
	return n;
}

/* Fold names into the shortest nodeset notation. */
int nodeset_fold(char *const *names, size_t n, char **out)
{
	struct felem *e = calloc(n ? n : 1, sizeof *e);
	struct felem **p = calloc(n ? n : 1, sizeof *p), **tmp = calloc(n ? n : 1, sizeof *tmp);
	size_t total = 64;
	struct buf b;
	int rc = -1;

	*out = NULL;
	if (e == NULL || p == NULL || tmp == NULL)
		goto done;
	for (size_t i = 0; i < n; i++) {
		if (felem_init(&e[i], names[i]) < 0)
			goto done;
		p[i] = &e[i];
		total += 2 * strlen(names[i]) + 4;
	}
	buf_init(&b, total);
	felem_sort(p, tmp, n, SIZE_MAX);
	for (size_t i = 0; i < n; ) {
		size_t j = i + 1;
		while (j < n && strcmp(p[j]->key, p[i]->key) == 0 && p[j]->nd == p[i]->nd)
			j++;
		size_t m = fold_group(p + i, tmp, j - i);
		if (m == SIZE_MAX) {
			buf_free(&b);
			goto done;
		}
		for (size_t k = i; k < i + m; k++)
			if ((b.len > 0 && buf_puts(&b, ",") < 0) || felem_print(&b, p[k]) < 0) {
				buf_free(&b);
				goto done;
			}
		i = j;
	}
	*out = buf_take(&b, NULL);
	rc = *out ? 0 : -1;
done:
	for (size_t i = 0; e != NULL && i < n; i++)
		felem_free(&e[i]);
	free(e);
	free(p);
	free(tmp);
	return rc;
}
