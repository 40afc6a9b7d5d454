"""Sessions, first slice: new/list/remove, names, isolation, persistence."""
import json
import os
import signal

from harness import PASSWORD, expect_error, main, wait_for


def setup(env, users=("alice",)):
    d = env.daemon()
    c = env.client()
    for u in users:
        d.add_user(u)
    c.login(d, users[0])
    return d, c


def test_new_list_remove(env):
    d, c = setup(env)
    s = c.json("session", "new", d.host, "--name", "web")
    for k in ("id", "name", "host", "owner", "state", "availability", "created",
              "last_activity", "idle_timeout", "output_buffering", "jobs"):
        assert k in s, k
    assert s["name"] == "web" and s["owner"] == "alice" and s["host"] == d.host
    assert s["state"] == "Opened" and s["availability"] == "Available"
    assert s["idle_timeout"] == 7200 and s["output_buffering"] == "block"
    assert s["created"].endswith("Z") and "T" in s["created"]
    g = c.json("session", "new", d.host, "--idle-timeout", "60", "--output-buffering", "drop")
    assert g["name"] == f"Session{g['id']}", g
    assert g["idle_timeout"] == 60 and g["output_buffering"] == "drop"
    lst = c.json("session", "list", d.host)
    assert [x["name"] for x in lst] == ["web", g["name"]]
    # the table form names both
    r = c.run("session", "list", d.host)
    assert r.returncode == 0 and "web" in r.stdout and g["name"] in r.stdout
    # remove by name and by id
    rm = c.json("session", "remove", f"{d.host}/web", f"{d.host}/{g['id']}")
    assert [x["state"] for x in rm] == ["Closed", "Closed"]
    assert c.json("session", "list", d.host) == []
    assert d.query("SELECT count(*) FROM sessions") == [(0,)]
    # none left: a note on stderr, nothing a script would read as a row
    r = c.run("session", "list", d.host)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "no sessions\n"), r


def test_duplicate_and_invalid_names(env):
    d, c = setup(env)
    c.json("session", "new", d.host, "--name", "db")
    r = c.run("session", "new", d.host, "--name", "db")
    assert r.returncode == 255 and "already have a session named 'db'" in r.stderr, r.stderr
    r = c.run("session", "new", d.host, "--name", "9lives", "--json")
    assert r.returncode == 255
    import json
    expect_error(json.loads(r.stdout), "invalid_argument")
    r = c.run("session", "new", d.host, "--output-buffering", "sometimes")
    assert r.returncode == 2 and "block or drop" in r.stderr
    r = c.run("session", "new", d.host, "--idle-timeout", "-5")
    assert r.returncode == 2
    r = c.run("session", "remove", f"{d.host}/nosuch")
    assert r.returncode == 255 and "no session 'nosuch'" in r.stderr
    assert [x["name"] for x in c.json("session", "list", d.host)] == ["db"]


def test_multi_target_json_is_one_document(env):
    import json
    d, c = setup(env)
    c.json("session", "new", d.host, "--name", "a")
    r = c.run("session", "remove", f"{d.host}/a", f"{d.host}/nosuch", "--json")
    assert r.returncode == 255
    doc = json.loads(r.stdout)              # exactly one document
    expect_error({"error": doc["error"]}, "not_found")
    assert [x["name"] for x in doc["results"]] == ["a"]
    assert "no session 'nosuch'" in r.stderr


def test_generated_name_skips_taken(env):
    d, c = setup(env)
    # take the name the next session would get
    c.json("session", "new", d.host, "--name", "Session2")
    g = c.json("session", "new", d.host)
    assert g["id"] == 2 and g["name"] != "Session2" and g["name"].startswith("Session2")


def test_users_are_isolated(env):
    d, a = setup(env, users=("alice", "bob"))
    b = env.client("b")
    b.login(d, "bob")
    s = a.json("session", "new", d.host, "--name", "secret")
    b.json("session", "new", d.host, "--name", "secret")   # names are per user
    assert [x["owner"] for x in b.json("session", "list", d.host)] == ["bob"]
    r = b.run("session", "remove", f"{d.host}/{s['id']}")
    assert r.returncode == 255 and "no session" in r.stderr
    tok = b.token(d, "bob")
    st, _, doc = d.request("GET", f"/v1/sessions/{s['id']}", token=tok)
    assert st == 404
    expect_error(doc, "not_found")
    st, _, doc = d.request("DELETE", f"/v1/sessions/{s['id']}", token=tok)
    assert st == 404
    assert [x["id"] for x in a.json("session", "list", d.host)] == [s["id"]]


def test_list_pages(env):
    """GET /v1/sessions?limit=N&after=ID: pages in id order that together
    are the whole list once, "next" while a page is full; an administrator's
    all_users pages the same; bad values are 400 and change nothing; a
    single read's JSON is the list's."""
    d, a = setup(env, users=("alice", "bob"))
    d.add_user("root2", admin=True)
    b = env.client("b")
    b.login(d, "bob")
    for i in range(7):
        a.json("session", "new", d.host, "--name", f"a{i}")
    b.json("session", "new", d.host, "--name", "b0")
    tok = a.token(d, "alice")
    st, _, whole = d.request("GET", "/v1/sessions", token=tok)
    assert st == 200 and "next" not in whole and len(whole["sessions"]) == 7, whole
    got, after, pages = [], 0, 0
    while True:
        st, _, doc = d.request("GET", f"/v1/sessions?limit=3&after={after}", token=tok)
        assert st == 200, doc
        pages += 1
        got += doc["sessions"]
        if "next" not in doc:
            break
        assert len(doc["sessions"]) == 3 and doc["next"] == doc["sessions"][-1]["id"], doc
        after = doc["next"]
        assert pages < 10
    assert got == whole["sessions"] and pages == 3, (pages, got)
    # every user's, paged by an administrator
    admin = d.token_for("root2")
    st, _, doc = d.request("GET", "/v1/sessions?all_users=1&limit=7", token=admin)
    assert st == 200 and [s["owner"] for s in doc["sessions"]] == ["alice"] * 7, doc
    st, _, doc = d.request("GET", f"/v1/sessions?all_users=1&after={doc['next']}", token=admin)
    assert st == 200 and [(s["owner"], s["name"]) for s in doc["sessions"]] == [("bob", "b0")]
    assert "next" not in doc, doc
    for q in ("limit=0", "limit=-1", "limit=x", "limit=100001", "after=-1", "after=abc",
              "limit=", "limit=1e3"):
        st, _, doc = d.request("GET", f"/v1/sessions?{q}", token=tok)
        assert st == 400, (q, st, doc)
        expect_error(doc, "invalid_argument")
        assert "query parameter" in doc["error"]["message"], doc
    # ?fields= picks some of each session's fields, in their usual order
    st, _, doc = d.request("GET", "/v1/sessions?fields=state,id,name&limit=2", token=tok)
    assert st == 200 and doc["sessions"] == [
        {k: s[k] for k in ("id", "name", "state")} for s in whole["sessions"][:2]], doc
    assert list(doc["sessions"][0]) == ["id", "name", "state"], doc
    st, _, doc = d.request("GET", "/v1/sessions?all_users=1&fields=owner,output_bytes",
                           token=admin)
    assert st == 200 and doc["sessions"][-1] == {"owner": "bob", "output_bytes": 0}, doc
    for q in ("fields=", "fields=id,bogus", "fields=ID", "fields=,", "fields=id%00"):
        st, _, doc = d.request("GET", f"/v1/sessions?{q}", token=tok)
        assert st == 400, (q, st, doc)
        expect_error(doc, "invalid_argument")
    st, _, doc = d.request("GET", "/v1/sessions?fields=bogus", token=tok)
    assert "unknown session field 'bogus'" in doc["error"]["message"], doc
    st, _, doc = d.request("GET", "/v1/sessions", token=tok)
    assert doc == whole, doc
    # the session JSON of a single read is the list's
    st, _, one = d.request("GET", f"/v1/sessions/{whole['sessions'][0]['id']}", token=tok)
    assert st == 200 and one == whole["sessions"][0], (one, whole["sessions"][0])


def test_a_sessions_jobs(env):
    """A session's `jobs` lists its jobs newest first (id, name, type,
    state), the newest 100 of them; in a single read as in the list, on
    their own with ?fields=jobs, and not another session's."""
    d, c = setup(env)
    c.json("session", "new", d.host, "--name", "a")
    c.json("session", "new", d.host, "--name", "b")
    tok = c.token(d, "alice")
    cid = {"X-Tether-Client": open(os.path.join(c.home, "client_id")).read().strip()}
    assert c.json("session", "list", d.host)[0]["jobs"] == []
    r = c.run("invoke", "-s", f"{d.host}/a", "--", "exit 3")
    assert r.returncode == 3, r.stderr
    conn = d.conn()
    try:   # 104 background jobs more, on one keep-alive connection
        for i in range(104):
            conn.request("POST", "/v1/sessions/a/jobs", body=json.dumps(
                {"command": "true", "name": f"j{i:03d}"}), headers=dict(
                cid, **{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}))
            resp = conn.getresponse()
            assert resp.status == 201, (i, resp.status, resp.read())
            resp.read()
    finally:
        conn.close()
    c.json("job", "start", f"{d.host}/b", "--name", "other", "--", "sleep 30")
    wait_for(lambda: all(j["state"] in ("Completed", "Failed") for j in
                         c.json("job", "list", "-s", f"{d.host}/a")), 60, "the jobs to end")
    st, _, doc = d.request("GET", "/v1/sessions", token=tok)
    a, b = doc["sessions"]
    assert len(a["jobs"]) == 100, len(a["jobs"])
    assert a["jobs"][0] == {"id": a["jobs"][0]["id"], "name": "j103", "type": "background",
                            "state": "Completed"}, a["jobs"][0]
    assert [j["name"] for j in a["jobs"]] == [f"j{i:03d}" for i in range(103, 3, -1)]
    assert [j["name"] for j in b["jobs"]] == ["other"] and b["jobs"][0]["state"] == "Running"
    # a single read is the list's; ?fields=jobs gives them alone
    st, _, one = d.request("GET", "/v1/sessions/a", token=tok)
    assert st == 200 and one == a, (one["jobs"][:2], a["jobs"][:2])
    st, _, doc = d.request("GET", "/v1/sessions?fields=id,jobs", token=tok)
    assert doc["sessions"][1] == {"id": b["id"], "jobs": b["jobs"]}, doc["sessions"][1]
    # the invoke is there while it is among the newest 100
    c.run("job", "remove", "-s", f"{d.host}/a", *[f"j{i:03d}" for i in range(100)])
    st, _, doc = d.request("GET", "/v1/sessions/a", token=tok)
    assert [(j["type"], j["state"]) for j in doc["jobs"]][-1] == ("invoke", "Failed"), \
        doc["jobs"]
    c.run("job", "stop", "-s", f"{d.host}/b", "other")


def test_list_table_across_pages(env):
    """More sessions than the CLI asks for in one page (2,000): the table
    has every one once, in id order, under one header; --json too."""
    d = env.daemon(config={"max_sessions_per_user": 3000})
    d.add_user("alice")
    c = env.client()
    c.login(d, "alice")
    tok = c.token(d, "alice")
    conn = d.conn()
    try:   # one keep-alive connection: a few seconds, not one handshake each
        for i in range(2100):
            conn.request("POST", "/v1/sessions", body=json.dumps({"name": f"p{i:04d}"}),
                         headers={"Authorization": "Bearer " + tok,
                                  "Content-Type": "application/json"})
            r = conn.getresponse()
            assert r.status == 201, (i, r.status, r.read())
            r.read()
    finally:
        conn.close()
    r = c.run("session", "list", d.host, timeout=120)
    assert r.returncode == 0 and r.stderr == "", (r.returncode, r.stderr)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "HOST", "STATE", "AVAILABILITY",
                                "IDLE_TIMEOUT"], lines[0]
    # the table asks for its columns only, and they are all filled
    assert lines[1].split()[1:] == ["p0000", d.host, "Disconnected", "None", "7200s"], lines[1]
    assert [ln.split()[1] for ln in lines[1:]] == [f"p{i:04d}" for i in range(2100)], \
        (len(lines), lines[1:3], lines[-2:])
    ids = [int(ln.split()[0]) for ln in lines[1:]]
    assert ids == sorted(ids), "not in id order"
    docs = c.json("session", "list", d.host)
    assert [x["name"] for x in docs] == [f"p{i:04d}" for i in range(2100)]


def test_sessions_persist_across_restart_and_kill(env):
    d, c = setup(env)
    a = c.json("session", "new", d.host, "--name", "keep1")
    d.restart()
    b = c.json("session", "new", d.host, "--name", "keep2")
    d.restart(signal.SIGKILL)
    lst = c.json("session", "list", d.host)
    assert [(x["id"], x["name"]) for x in lst] == [(a["id"], "keep1"), (b["id"], "keep2")]
    assert lst[0]["created"] == a["created"]


def test_list_without_host_covers_every_login(env):
    d1 = env.daemon("d1")
    d2 = env.daemon("d2")
    c = env.client()
    for d in (d1, d2):
        d.add_user("alice")
        c.login(d, "alice")
    c.json("session", "new", d1.host, "--name", "one")
    c.json("session", "new", d2.host, "--name", "two")
    names = sorted((x["host"], x["name"]) for x in c.json("session", "list"))
    assert names == sorted([(d1.host, "one"), (d2.host, "two")])


def test_host_without_user_means_last_login(env):
    d, c = setup(env, users=("alice", "bob"))
    c.login(d, "bob")
    s = c.json("session", "new", d.host)
    assert s["owner"] == "bob"
    s = c.json("session", "new", f"alice@{d.host}")
    assert s["owner"] == "alice"


def test_not_logged_in(env):
    d = env.daemon()
    c = env.client()
    r = c.run("session", "list", d.host)
    assert r.returncode == 255 and "not logged in" in r.stderr, r.stderr


if __name__ == "__main__":
    main(globals())
