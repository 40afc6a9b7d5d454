"""The administrator's view (docs/security.md "Administrators"): session,
job and transfer list --all-users show every owner's objects with an OWNER
column (and "owner" in JSON) to an admin user, and are refused (403
forbidden, exit 255) for anyone else; an admin stops and removes another
user's job and transfer by the session's numeric id, each action audited;
a non-admin naming another user's session id gets not_found and nothing
changes."""
import json
import os
import subprocess

import harness as H
from harness import expect_error, main, wait_for


class World:
    """alice and bob (plain users) each with a session W holding a sleeping
    background job and a suspended transfer; admin (an admin user) with no
    session of its own. One client machine per user."""

    def __init__(self, env):
        self.d = env.daemon()
        self.c = {}
        for u, admin in (("alice", False), ("bob", False), ("admin", True)):
            self.d.add_user(u, admin=admin)
            self.c[u] = env.client(u)
            self.c[u].login(self.d, u)
        src = os.path.join(env.root, "src")
        os.makedirs(src)
        os.chmod(src, 0o755)
        f = H.put_file(src, "f.bin", os.urandom(4096))
        self.sid = {}
        for u in ("alice", "bob"):
            s = self.c[u].json("session", "new", self.d.host, "--name", "W")
            self.sid[u] = s["id"]
            j = self.c[u].json("job", "start", f"{self.d.host}/W", "--name", "nap",
                               "--", "sleep", "300")
            assert j["state"] == "Running", j
            dst = os.path.join(env.root, "dst-" + u)
            os.makedirs(dst)
            if os.geteuid() == 0:
                subprocess.run(["chown", H.os_account(u), dst], check=True)
            r = self.c[u].run("transfer", "start", "-s", f"{self.d.host}/W", f,
                              dst + "/f.bin", "--suspended", "--name", "held", "--json")
            assert r.returncode == 0, r.stderr

    def by_id(self, owner):
        """The address of owner's session for --all-users verbs: HOST/ID."""
        return f"{self.d.host}/{self.sid[owner]}"


def test_admin_lists_every_owner(env):
    w = World(env)
    a = w.c["admin"]
    ss = a.json("session", "list", w.d.host, "--all-users")
    assert sorted((s["owner"], s["name"]) for s in ss) == [("alice", "W"), ("bob", "W")], ss
    r = a.run("session", "list", w.d.host, "--all-users")
    assert r.returncode == 0, r.stderr
    head = r.stdout.splitlines()[0].split()
    assert head[0] == "OWNER", r.stdout
    assert {ln.split()[0] for ln in r.stdout.splitlines()[1:]} == {"alice", "bob"}, r.stdout
    # without --all-users the admin sees only its own (none)
    assert a.json("session", "list", w.d.host) == []
    for u in ("alice", "bob"):
        jobs = a.json("job", "list", "-s", w.by_id(u), "--all-users")
        names = sorted((j["owner"], j["name"]) for j in jobs)
        assert names == [(u, "held"), (u, "nap")], jobs
        r = a.run("job", "list", "-s", w.by_id(u), "--all-users")
        assert r.stdout.split()[0] == "OWNER" and f"{u} " in r.stdout, r.stdout
        ts = a.json("transfer", "list", "-s", w.by_id(u), "--all-users")
        assert [(t["owner"], t["name"], t["state"]) for t in ts] == [(u, "held", "Suspended")], ts
    # the host form: every session of every user there
    ts = a.json("transfer", "list", w.d.host, "--all-users")
    assert sorted((t["owner"], t["session"]) for t in ts) == [("alice", "W"), ("bob", "W")], ts
    r = a.run("transfer", "list", w.d.host, "--all-users")
    assert r.returncode == 0 and r.stdout.split()[:2] == ["OWNER", "SESSION"], r.stdout


def test_non_admin_all_users_is_forbidden(env):
    w = World(env)
    c = w.c["alice"]
    for args in (("session", "list", w.d.host), ("job", "list", "-s", w.by_id("alice")),
                 ("transfer", "list", "-s", w.by_id("alice")),
                 ("transfer", "list", w.d.host)):
        r = c.run(*args, "--all-users")
        assert r.returncode == 255, (args, r.returncode, r.stderr)
        assert "--all-users needs an administrator account" in r.stderr, (args, r.stderr)
        r = c.run(*args, "--all-users", "--json")
        assert r.returncode == 255
        expect_error(json.loads(r.stdout), "forbidden")
    # the raw API says the same
    tok = c.token(w.d, "alice")
    st, _, doc = w.d.request("GET", "/v1/sessions?all_users=1", token=tok)
    assert st == 403, (st, doc)
    expect_error(doc, "forbidden")
    # --all-users with a local job list is a usage error
    r = c.run("job", "list", "--all-users")
    assert r.returncode == 2 and "needs -s SESSION" in r.stderr, r.stderr


def audit(d, event):
    return d.query("SELECT user_name, detail FROM audit WHERE event = ?", event)


def test_admin_stops_and_removes_another_users_job(env):
    w = World(env)
    a = w.c["admin"]
    s = w.by_id("bob")
    j = a.json("job", "stop", "-s", s, "nap", "--all-users")[0]
    assert j["name"] == "nap" and j["state"] in ("Stopped", "Failed", "Completed"), j
    rows = audit(w.d, "admin_job_stop")
    assert len(rows) == 1 and rows[0][0] == "admin", rows
    assert "owner=bob" in rows[0][1] and "object=nap" in rows[0][1], rows
    # bob sees his job stopped
    mine = {x["name"]: x for x in w.c["bob"].json("job", "list", "-s", f"{w.d.host}/W")}
    assert mine["nap"]["state"] == j["state"], mine
    a.json("job", "remove", "-s", s, "nap", "--all-users")
    rows = audit(w.d, "admin_job_remove")
    assert len(rows) == 1 and rows[0][0] == "admin" and "owner=bob" in rows[0][1], rows
    mine = [x["name"] for x in w.c["bob"].json("job", "list", "-s", f"{w.d.host}/W")]
    assert "nap" not in mine, mine
    # and a transfer
    r = a.run("transfer", "remove", "-s", s, "held", "--all-users")
    assert r.returncode == 0, r.stderr
    rows = audit(w.d, "admin_transfer_remove")
    assert len(rows) == 1 and "owner=bob" in rows[0][1] and "object=held" in rows[0][1], rows
    assert w.c["bob"].json("transfer", "list", "-s", f"{w.d.host}/W") == []
    # the daemon's log says it too
    wait_for(lambda: "admin_job_remove" in w.d.log(), 10, "the log line")
    # alice's were untouched
    mine = {x["name"]: x["state"] for x in w.c["alice"].json("job", "list", "-s",
                                                              f"{w.d.host}/W")}
    assert mine == {"nap": "Running", "held": "Suspended"}, mine


def test_non_admin_cannot_reach_another_users_job(env):
    w = World(env)
    c = w.c["alice"]
    s = w.by_id("bob")
    before = w.d.query("SELECT COUNT(*) FROM audit")[0][0]
    for args in (("job", "stop", "-s", s, "nap"), ("job", "remove", "-s", s, "nap", "--force"),
                 ("job", "list", "-s", s), ("transfer", "remove", "-s", s, "held")):
        r = c.run(*args, "--json")
        assert r.returncode == 255, (args, r.stderr)
        expect_error(json.loads(r.stdout), "not_found")
    # with --all-users: refused outright, still nothing done
    r = c.run("job", "stop", "-s", s, "nap", "--all-users")
    assert r.returncode == 255 and "administrator" in r.stderr, r.stderr
    assert w.d.query("SELECT COUNT(*) FROM audit")[0][0] == before
    mine = {x["name"]: x["state"] for x in w.c["bob"].json("job", "list", "-s",
                                                            f"{w.d.host}/W")}
    assert mine == {"nap": "Running", "held": "Suspended"}, mine


if __name__ == "__main__":
    main(globals())
