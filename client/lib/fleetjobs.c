/*
 * fleetjobs.c - fleet jobs: invoke --as-job on several hosts (docs/fleet.md).
 *
 * PowerShell's Invoke-Command -ComputerName a,b -AsJob gives one parent job
 * with a child job per computer. Here the parent is an entry of the local
 * job table with no remote of its own, listing its children's ids; each
 * child is an ordinary local job (localjobs.c) that also knows its parent
 * and the host's name as the user gave it. The parent's view is worked out
 * from its children's each time it is shown.
 *
 * An operation on a parent reads the table once, talks to every child's
 * host without holding the lock, then writes the table once: per child
 * writes would make removing a parent of n children rewrite a table of n
 * entries n times.
 */
#include <stdlib.h>
#include <string.h>

#include "client-int.h"
#include "localjobs-int.h"
#include "targets.h"

/* The state a parent shows, from its children's (PowerShell's rule):
 * Running while any may still run, then Disconnected if any host cannot be
 * asked, then Failed if any failed, Stopped if any stopped, else Completed. */
static const char *parent_state(json_t *kids)
{
	bool running = false, down = false, failed = false, stopped = false;
	size_t i;
	json_t *k;
	json_array_foreach(kids, i, k) {
		const char *st = json_string_value(json_object_get(k, "state"));
		st = st ? st : "";
		running |= !localjobs_final_state(st) && strcmp(st, "Disconnected") != 0;
		down |= strcmp(st, "Disconnected") == 0;
		failed |= strcmp(st, "Failed") == 0;
		stopped |= strcmp(st, "Stopped") == 0;
	}
	return running ? "Running" : down ? "Disconnected" : failed ? "Failed"
	       : stopped ? "Stopped" : "Completed";
}

/* A parent's view from its children's views (kids is taken). */
static json_t *parent_view(const struct ljob *p, json_t *kids)
{
	char *labels[64], *where = NULL;
	const char *first = NULL, *last = NULL;
	bool more = false, ended = true;
	size_t i, nl = 0;
	json_t *k;
	json_array_foreach(kids, i, k) {
		const char *st = json_string_value(json_object_get(k, "started"));
		const char *en = json_string_value(json_object_get(k, "ended"));
		const char *h = json_string_value(json_object_get(k, "host"));
		more |= json_is_true(json_object_get(k, "has_more_data"));
		if (st != NULL && (first == NULL || strcmp(st, first) < 0))
			first = st;   /* RFC 3339 UTC strings order as times */
		if (en == NULL)
			ended = false;
		else if (last == NULL || strcmp(en, last) > 0)
			last = en;
		if (h != NULL && nl < sizeof labels / sizeof labels[0])
			labels[nl++] = (char *)h;
	}
	if (nl > 0 && nl == json_array_size(kids))
		nodeset_fold(labels, nl, &where);
	char session[BOUND_HOSTSPEC + BOUND_NAME + 8];
	snprintf(session, sizeof session, "%s/%s", where ? where : "(fleet)", p->session);
	json_t *v = json_pack("{s:I,s:s,s:s,s:s,s:b,s:s,s:s,s:n,s:o,s:o,s:s}",
	                      "id", (json_int_t)p->id, "name", p->name, "type", "invoke",
	                      "state", parent_state(kids), "has_more_data", more,
	                      "location", where ? where : "(fleet)", "command", p->command,
	                      "exit_code",
	                      "started", first ? json_string(first) : json_null(),
	                      "ended", ended && last ? json_string(last) : json_null(),
	                      "session", session);
	free(where);
	if (v != NULL)
		json_object_set(v, "children", kids);
	json_decref(kids);
	return v;
}

/* list: put each child's view under its parent (in the parent's order);
 * children whose parent is gone stay at the top. */
json_t *fleetjobs_nest(const struct ltable *t, json_t *views)
{
	json_t *top = json_array();
	for (size_t i = 0; i < t->n && top != NULL; i++) {
		const struct ljob *j = &t->jobs[i];
		bool orphan = true;
		for (size_t k = 0; j->parent > 0 && k < t->n && orphan; k++)
			orphan = !(t->jobs[k].fleet && t->jobs[k].id == j->parent);
		if (j->parent > 0 && !orphan)
			continue;
		if (!j->fleet) {
			json_array_append(top, json_array_get(views, i));
			continue;
		}
		json_t *kids = json_array();
		for (size_t c = 0; c < j->nchildren; c++)
			for (size_t k = 0; k < t->n; k++)
				if (t->jobs[k].id == j->children[c])
					json_array_append(kids, json_array_get(views, k));
		json_array_append_new(top, parent_view(j, kids));
	}
	return top;
}

/* localjobs_edit: what a fleet operation found out, and (remove) its parent. */
struct fleet_update {
	struct ltable_update u;
	int64_t parent;        /* drop this parent too; 0: keep it */
	bool    parent_gone;   /* out: it had been removed meanwhile */
};
static tether_err edit_fleet(tether_client *c, struct ltable *t, void *arg)
{
	struct fleet_update *f = arg;
	localjobs_update(c, t, &f->u);
	if (f->parent > 0 && localjobs_find(t, f->parent) == NULL)
		f->parent_gone = true;
	else if (f->parent > 0)
		localjobs_drop(c, t, &f->parent);
	return TETHER_E_OK;
}

/* Get, stop or remove child k (in a copy of the table) as its own local job
 * would be; *v its view, or NULL with the failure recorded on c; *store:
 * what the remote said must be stored. */
static tether_err child_op(tether_client *c, struct ljob *k, enum fleetjobs_op op,
                           int force, bool *store, json_t **v)
{
	char warning[600] = "";
	*store = false;
	*v = NULL;
	tether_err e = op == FLEETJOBS_STOP ? localjobs_stop_remote(c, k, store)
	               : op == FLEETJOBS_REMOVE
	                 ? localjobs_remove_remote(c, k, force, warning, sizeof warning)
	                 : localjobs_look(c, k, store);
	if (e != TETHER_E_OK) {
		if (op == FLEETJOBS_GET)   /* its host could not be asked: Disconnected */
			*v = localjobs_view(k, tether_last_error(c));
		return e;
	}
	*v = localjobs_view(k, NULL);
	if (warning[0] && *v != NULL)
		json_object_set_new(*v, "warning", json_string(warning));
	return TETHER_E_OK;
}

/* Get, stop or remove every child of p, then p's view; a child that fails
 * is reported, the others go on. The table is read once and written once. */
tether_err fleetjobs_each(tether_client *c, const struct ljob *p, enum fleetjobs_op op,
                          int force, json_t **out)
{
	struct ltable t;
	tether_err first = TETHER_E_OK;
	char why[sizeof c->errmsg] = "";
	*out = NULL;
	tether_err e = localjobs_read(c, &t);
	if (e != TETHER_E_OK)
		return e;
	bool *fresh = calloc(t.n + 1, sizeof *fresh), *drop = calloc(t.n + 1, sizeof *drop);
	size_t *at = calloc(p->nchildren + 1, sizeof *at);
	json_t **views = calloc(p->nchildren + 1, sizeof *views), *kids = json_array();
	struct fleet_update f = { { &t, fresh, drop }, 0, false };
	bool write = false;
	if (fresh == NULL || drop == NULL || at == NULL || views == NULL || kids == NULL) {
		e = client_fail(c, TETHER_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < p->nchildren; i++) {
		struct ljob *k = localjobs_find(&t, p->children[i]);
		if (k == NULL)
			continue;   /* removed meanwhile */
		at[i] = (size_t)(k - t.jobs);
		e = child_op(c, k, op, force, &fresh[at[i]], &views[i]);
		drop[at[i]] = op == FLEETJOBS_REMOVE && e == TETHER_E_OK;
		if (e != TETHER_E_OK && first == TETHER_E_OK && views[i] == NULL) {
			first = e;
			snprintf(why, sizeof why, "%s", c->errmsg);
		}
		write = write || fresh[at[i]] || drop[at[i]];
	}
	if (op == FLEETJOBS_REMOVE && first == TETHER_E_OK)
		f.parent = p->id;   /* every child has gone: the parent goes too */
	e = write || f.parent > 0 ? localjobs_edit(c, edit_fleet, &f) : TETHER_E_OK;
	if (e != TETHER_E_OK && first == TETHER_E_OK) {
		first = e;
		snprintf(why, sizeof why, "%s", c->errmsg);
	}
	for (size_t i = 0; i < p->nchildren; i++) {
		bool stored = views[i] != NULL && (fresh[at[i]] || drop[at[i]]);
		if (stored && e != TETHER_E_OK) {   /* not stored: as if it had failed */
			json_decref(views[i]);
			views[i] = NULL;
		} else if (stored && drop[at[i]]) {
			localjobs_forget(c, &t.jobs[at[i]]);
		}
		if (views[i] != NULL)
			json_array_append_new(kids, views[i]);
		views[i] = NULL;
	}
	*out = parent_view(p, kids);
	kids = NULL;
	if (first != TETHER_E_OK)
		e = client_fail(c, first, "%s", why);
	else if (f.parent_gone)
		e = client_fail(c, TETHER_E_NOT_FOUND, "local job %lld was removed meanwhile",
		                (long long)p->id);
	else if (*out == NULL)
		e = client_fail(c, TETHER_E_NOMEM, "out of memory");
	else
		c->errmsg[0] = '\0';
out:
	for (size_t i = 0; views != NULL && i < p->nchildren; i++)
		json_decref(views[i]);
	json_decref(kids);
	free(views);
	free(at);
	free(fresh);
	free(drop);
	localjobs_free(&t);
	return e;
}

/* localjobs_edit: link the started children to their parent. */
struct fleet_link {
	int64_t             parent;
	const int64_t      *ids;
	const char *const  *labels;
	const bool         *own;
	size_t              n;
};
static tether_err edit_link(tether_client *c, struct ltable *t, void *arg)
{
	const struct fleet_link *l = arg;
	struct ljob *p = localjobs_find(t, l->parent);
	if (p == NULL)
		return client_fail(c, TETHER_E_CONFLICT, "local job %lld was removed while it "
		                   "started", (long long)l->parent);
	free(p->children);
	p->children = calloc(l->n + 1, sizeof *p->children);
	if (p->children == NULL)
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	p->nchildren = 0;
	for (size_t i = 0; i < l->n; i++) {
		struct ljob *k = l->ids[i] > 0 ? localjobs_find(t, l->ids[i]) : NULL;
		if (k == NULL)
			continue;
		k->parent = l->parent;
		snprintf(k->label, sizeof k->label, "%s", l->labels[i]);
		k->own_session = l->own[i];
		p->children[p->nchildren++] = l->ids[i];
	}
	return TETHER_E_OK;
}

/* Start a fleet job: a parent and a child per session. */
tether_err tether_local_job_start_fleet(tether_client *c, size_t n,
                                        const char *const *sessions,
                                        const char *const *labels, const bool *own,
                                        const char *name, const char *command,
                                        json_t **job, json_t **failures)
{
	struct ljob p;
	*job = NULL;
	*failures = json_array();
	if (name != NULL && !addr_valid_name(name))
		return client_fail(c, TETHER_E_USAGE, "invalid job name '%s': a letter, then "
		                   "letters, digits, '.', '_' or '-', at most %u bytes", name,
		                   BOUND_NAME);
	if (n == 0 || n > FLEET_CHILDREN_MAX)
		return client_fail(c, TETHER_E_USAGE, "a fleet job takes 1 to %d hosts",
		                   FLEET_CHILDREN_MAX);
	memset(&p, 0, sizeof p);
	p.fleet = true;
	p.exit_code = -1;
	snprintf(p.state, sizeof p.state, "NotStarted");
	snprintf(p.name, sizeof p.name, "%s", name ? name : "");
	p.command = strdup(command);
	int64_t *ids = calloc(n, sizeof *ids);
	if (p.command == NULL || ids == NULL) {
		free(ids);
		localjobs_clear(&p);
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	}
	tether_err e = localjobs_edit(c, localjobs_reserve, &p);
	size_t started = 0;
	for (size_t i = 0; e == TETHER_E_OK && i < n; i++) {
		char kid[BOUND_NAME + 1];
		json_t *v = NULL;
		int room = (int)(BOUND_NAME - 8);
		snprintf(kid, sizeof kid, "%.*s.%zu", room, p.name, i + 1);
		tether_err ke = tether_local_job_start(c, sessions[i], kid, command, &v);
		if (ke == TETHER_E_OK) {
			ids[i] = json_integer_value(json_object_get(v, "id"));
			started++;
		} else {
			json_array_append_new(*failures, json_pack("{s:I,s:s,s:{s:s,s:s}}", "index",
			                      (json_int_t)i, "host", labels[i], "error", "code",
			                      c->errcode[0] ? c->errcode : tether_err_code(ke),
			                      "message", c->errmsg));
		}
		json_decref(v);
	}
	if (e == TETHER_E_OK) {
		struct fleet_link l = { p.id, ids, labels, own, n };
		e = localjobs_edit(c, edit_link, &l);
	}
	if (e == TETHER_E_OK && started == 0) {
		localjobs_edit(c, localjobs_drop, &p.id);
		e = client_fail(c, TETHER_E_CONNECT, "the job started on none of its %zu hosts", n);
	} else if (e == TETHER_E_OK) {
		char id[24];
		snprintf(id, sizeof id, "%lld", (long long)p.id);
		e = tether_local_job_get(c, id, job);
		if (e != TETHER_E_OK && *job != NULL)
			e = TETHER_E_OK;   /* a child's host went quiet: it shows Disconnected */
	}
	free(ids);
	localjobs_clear(&p);
	return e;
}

/* The children of a fleet job, or NULL for any other job. */
tether_err tether_local_job_children(tether_client *c, const char *job, json_t **kids)
{
	struct ljob j;
	*kids = NULL;
	tether_err e = localjobs_snapshot(c, job, &j);
	if (e != TETHER_E_OK || !j.fleet) {
		if (e == TETHER_E_OK)
			localjobs_clear(&j);
		return e;
	}
	struct ltable t;
	if ((e = localjobs_read(c, &t)) == TETHER_E_OK) {
		*kids = json_array();
		for (size_t i = 0; i < j.nchildren; i++) {
			const struct ljob *k = localjobs_find(&t, j.children[i]);
			if (k != NULL)
				json_array_append_new(*kids, json_pack("{s:I,s:s,s:s}", "id",
				                      (json_int_t)k->id, "name", k->name, "host",
				                      k->label[0] ? k->label : k->host));
		}
		localjobs_free(&t);
	}
	localjobs_clear(&j);
	return e;
}
