"""Transfer jobs as BITS users expect them (issue 18), through the real
tether CLI against a real tetherd: Complete only on a Transferred job, one
state model in the job list, transfer wait, transfer list HOST, removal
that leaves no worker and no partial file, credentials inside URLs, and
proxy credentials. Sources are files on the daemon's host (rate-limited
with --max-rate where a transfer must still be running), or nginx/tinyproxy
from servers.py where a web server or proxy is needed."""
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import time

import harness as H
import servers as S

OWNER = "alice"


class World:
    """A daemon, user alice logged in from client c with session S, a
    root-owned source dir anyone can read, and a destination dir owned by
    alice's OS account."""

    def __init__(self, env, config=None):
        self.env = env
        self.d = env.daemon(config=config)
        self.d.add_user(OWNER)
        self.c = env.client("c")
        self.c.login(self.d, OWNER)
        self.host = f"{OWNER}@{self.d.host}"
        self.session = f"{self.host}/S"
        r = self.c.run("session", "new", self.host, "--name", "S")
        assert r.returncode == 0, r.stderr
        self.acct = H.os_account(OWNER)
        self.src = os.path.join(env.root, "src")
        os.makedirs(self.src)
        os.chmod(self.src, 0o755)
        self.dst = os.path.join(env.root, "dst")
        os.makedirs(self.dst)
        subprocess.run(["chown", self.acct, self.dst], check=True)

    def tether(self, *args, input=None, timeout=120):
        return self.c.run(*args, input=input, timeout=timeout)

    def put(self, name, data):
        return H.put_file(self.src, name, data)

    def start(self, *args, session=None, input=None):
        r = self.tether("transfer", "start", "-s", session or self.session, *args, "--json",
                        input=input)
        assert r.returncode == 0, (args, r.returncode, r.stderr, r.stdout)
        doc = json.loads(r.stdout)
        return doc[0] if isinstance(doc, list) else doc

    def show(self, job, session=None):
        r = self.tether("transfer", "show", "-s", session or self.session, str(job), "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def wait(self, job, states, timeout=60):
        return H.wait_for(lambda: (lambda t: t if t["state"] in states else None)(self.show(job)),
                          timeout, f"transfer {job} in {states}")

    def act(self, verb, job, session=None):
        return self.tether("transfer", verb, "-s", session or self.session, str(job), "--json")


def test_complete_only_a_transferred_job(env):
    """complete on a Transferring, Suspended or Error job is refused (409
    conflict naming the state, exit 255) and changes nothing: the job stays,
    its partial file too; once Transferred, complete takes the file."""
    w = World(env)
    data = os.urandom(1 << 20)
    src = w.put("a.bin", data)
    t = w.start(src, w.dst + "/a.bin", "--async", "--max-rate", "200000", "--name", "slow")
    H.wait_for(lambda: w.show("slow")["bytes_transferred"] > 0, 30, "progress")
    r = w.act("complete", "slow")
    assert r.returncode == 255, (r.returncode, r.stderr)
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "conflict" and "Transferring" in err["message"], err
    r = w.tether("transfer", "complete", "-s", w.session, "slow")
    assert r.returncode == 255 and "Transferring" in r.stderr, r.stderr
    now = w.show("slow")
    assert now["state"] in ("Transferring", "Connecting"), now
    parts = [n for n in os.listdir(w.dst) if n.endswith(".part")]
    assert len(parts) == 1 and "a.bin" not in os.listdir(w.dst), os.listdir(w.dst)
    # suspended: refused too, and it resumes from where it was
    assert w.act("suspend", "slow").returncode == 0
    r = w.act("complete", "slow")
    assert r.returncode == 255 and "Suspended" in json.loads(r.stdout)["error"]["message"], r
    assert w.show("slow")["state"] == "Suspended"
    assert [n for n in os.listdir(w.dst) if n.endswith(".part")] == parts
    assert w.tether("transfer", "set", "-s", w.session, "slow", "--max-rate", "0").returncode == 0
    assert w.act("resume", "slow").returncode == 0
    w.wait("slow", ("Transferred",))
    r = w.act("complete", "slow")
    assert r.returncode == 0 and json.loads(r.stdout)[0]["state"] == "Acknowledged", r.stdout
    assert open(w.dst + "/a.bin", "rb").read() == data
    # Error (checksum mismatch): refused, the job kept for resume or remove
    t = w.start(src, w.dst + "/bad.bin", "--async", "--sha256", "0" * 64)
    w.wait(t["id"], ("Error",))
    r = w.act("complete", t["id"])
    assert r.returncode == 255 and "Error" in json.loads(r.stdout)["error"]["message"], r
    assert w.show(t["id"])["state"] == "Error"
    assert w.act("remove", t["id"]).returncode == 0
    assert os.listdir(w.dst) == ["a.bin"], os.listdir(w.dst)


def test_permission_refused_is_forbidden_not_not_found(env):
    """A local source or destination the owner may not use is 403
    forbidden, one that is missing 404 not_found, at start (nothing made)
    and, for a source that turns unreadable later, in the job's error."""
    w = World(env)
    src = w.put("ok.bin", os.urandom(5000))
    secret = w.put("secret.bin", b"x")
    os.chmod(secret, 0o600)
    rootonly = os.path.join(env.root, "rootonly")
    os.mkdir(rootonly, 0o755)
    for args, code in (([secret, w.dst + "/s.bin"], "forbidden"),
                       ([src, rootonly + "/o.bin"], "forbidden"),
                       ([src, "/root/nope/o.bin"], "forbidden"),
                       ([w.src + "/missing.bin", w.dst + "/m.bin"], "not_found"),
                       ([src, w.dst + "/no/such/dir/o.bin"], "not_found")):
        r = w.tether("transfer", "start", "-s", w.session, *args, "--json")
        assert r.returncode == 255, (args, r.returncode, r.stderr)
        assert json.loads(r.stdout)["error"]["code"] == code, (args, r.stdout)
    r = w.tether("transfer", "list", "-s", w.session, "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == [], r.stdout
    # readable at start, not when the worker opens it
    w.start(src, w.dst + "/late.bin", "--suspended", "--name", "late")
    os.chmod(src, 0o600)
    assert w.act("resume", "late").returncode == 0
    t = w.wait("late", ("Error",))
    assert t["error"]["code"] == "forbidden" and "Permission denied" in t["error"]["message"], t
    assert not os.path.exists(w.dst + "/late.bin")


def test_job_list_shows_transfer_states(env):
    """job list -s shows a transfer job in its transfer state (Error,
    Transferred, Suspended, Transferring...), in JSON and in the table,
    beside a background job in a job state."""
    w = World(env)
    src = w.put("b.bin", os.urandom(300000))
    w.start(src, w.dst + "/ok.bin", "--async", "--name", "ok")
    w.start(src, w.dst + "/bad.bin", "--async", "--name", "bad", "--sha256", "0" * 64)
    w.start(src, w.dst + "/held.bin", "--suspended", "--name", "held")
    big = w.put("big.bin", os.urandom(4 << 20))
    w.start(big, w.dst + "/slow.bin", "--async", "--name", "slow", "--max-rate", "200000")
    r = w.tether("job", "start", w.session, "--name", "bg", "--", "sleep", "30")
    assert r.returncode == 0, r.stderr
    w.wait("ok", ("Transferred",))
    w.wait("bad", ("Error",))
    H.wait_for(lambda: w.show("slow")["bytes_transferred"] > 0, 30, "progress")
    want = {"ok": "Transferred", "bad": "Error", "held": "Suspended", "slow": "Transferring",
            "bg": "Running"}
    jobs = {j["name"]: j for j in json.loads(w.tether("job", "list", "-s", w.session,
                                                      "--json").stdout)}
    assert {n: j["state"] for n, j in jobs.items()} == want, jobs
    assert jobs["ok"]["type"] == "transfer" and jobs["ok"]["ended"] is not None, jobs["ok"]
    r = w.tether("job", "list", "-s", w.session)
    assert r.returncode == 0, r.stderr
    rows = {l.split()[1]: l.split()[3] for l in r.stdout.splitlines()[1:]}
    assert rows == want, r.stdout
    # the session's own JSON lists the same jobs, newest first, in the same states
    host = w.session.rsplit("/", 1)[0]
    sess = [s for s in json.loads(w.tether("session", "list", host, "--json").stdout)
            if s["name"] == w.session.rsplit("/", 1)[1]][0]
    assert [j["name"] for j in sess["jobs"]] == ["bg", "slow", "held", "bad", "ok"], sess
    assert {j["name"]: j["state"] for j in sess["jobs"]} == want, sess["jobs"]
    assert {j["type"] for j in sess["jobs"]} == {"transfer", "background"}, sess["jobs"]
    r = w.tether("job", "stop", "-s", w.session, "bg")
    assert r.returncode == 0, r.stderr


def test_progress_line_moves_while_bytes_come(env):
    """A local file copied at 100 KB/s (3 s): the terminal's progress line
    shows the bytes as they come, not "Connecting 0 B" until the end (the
    file:// reader delivers a file without calling libcurl's progress
    function)."""
    w = World(env)
    src = w.put("p.bin", os.urandom(300000))
    rc, _, seen = H.on_terminal(w.c.env(), "transfer", "start", "-s", w.session, src,
                                w.dst + "/p.bin", "--max-rate", "100000", "--name", "prog")
    assert rc == 0, (rc, seen[-400:])
    draws = [d for d in seen.split(b"\r") if d.startswith(b"prog")]
    moving = [d for d in draws if b"%" in d and b" 100%" not in d]
    assert moving, draws
    assert not any(b"Connecting" in d for d in draws[1:]), draws
    with open(w.dst + "/p.bin", "rb") as f:
        assert f.read() == open(src, "rb").read()


def test_transfer_wait(env):
    """transfer wait: exit 0 once every job is Transferred (and completes
    nothing), 1 if one is in Error, 1 with "timed out" when --timeout (in
    fractions of a second) runs out with the job left running; --json
    prints the jobs as they ended; a progress line on a terminal."""
    w = World(env)
    small = w.put("s.bin", os.urandom(200000))
    big = w.put("big.bin", os.urandom(4 << 20))
    w.start(small, w.dst + "/one.bin", "--async", "--name", "one", "--max-rate", "100000")
    w.start(small, w.dst + "/two.bin", "--async", "--name", "two")
    r = w.tether("transfer", "wait", "-s", w.session, "one", "two", "--json")
    assert r.returncode == 0, (r.returncode, r.stderr)
    jobs = json.loads(r.stdout)
    assert [(j["name"], j["state"]) for j in jobs] == [("one", "Transferred"),
                                                       ("two", "Transferred")], jobs
    assert jobs[0]["bytes_transferred"] == 200000, jobs[0]
    assert w.show("one")["state"] == "Transferred", "wait completed the job"
    assert not os.path.exists(w.dst + "/one.bin")
    # one in Error: exit 1, the jobs' final objects
    w.start(small, w.dst + "/bad.bin", "--async", "--name", "bad", "--sha256", "0" * 64)
    r = w.tether("transfer", "wait", "-s", w.session, "two", "bad", "--json")
    assert r.returncode == 1, (r.returncode, r.stderr)
    states = {j["name"]: j["state"] for j in json.loads(r.stdout)}
    assert states == {"two": "Transferred", "bad": "Error"}, states
    assert "checksum_mismatch" in r.stderr, r.stderr
    r = w.tether("transfer", "wait", "-s", w.session, "bad")
    assert r.returncode == 1 and "Error" in r.stdout, (r.returncode, r.stdout)
    # a timeout in fractions of a second: exit 1 as job wait, the job goes on
    w.start(big, w.dst + "/big.bin", "--async", "--name", "slow", "--max-rate", "100000")
    t0 = time.monotonic()
    r = w.tether("transfer", "wait", "-s", w.session, "slow", "one", "--timeout", "0.7",
                 "--json")
    took = time.monotonic() - t0
    assert r.returncode == 1 and "timed out" in r.stderr, (r.returncode, r.stderr)
    assert took >= 0.7, took
    now = {j["name"]: j["state"] for j in json.loads(r.stdout)}
    assert now["one"] == "Transferred" and now["slow"] in ("Queued", "Connecting",
                                                          "Transferring"), now
    assert w.show("slow")["state"] in ("Queued", "Connecting", "Transferring")
    r = w.tether("job", "wait", "-s", w.session, "slow", "--timeout", "0.3")
    assert r.returncode == 1 and "timed out" in r.stderr, (r.returncode, r.stderr)
    for bad in ("soon", "-1", "0", "1.5555", ".5"):
        r = w.tether("transfer", "wait", "-s", w.session, "slow", "--timeout", bad)
        assert r.returncode == 2 and "--timeout" in r.stderr, (bad, r.returncode, r.stderr)
    r = w.tether("transfer", "wait", "-s", w.session, "nosuch")
    assert r.returncode == 255 and "nosuch" in r.stderr, (r.returncode, r.stderr)
    # on a terminal: the progress line of transfer start
    rc, _, seen = H.on_terminal(w.c.env(), "transfer", "wait", "-s", w.session, "slow",
                                "--timeout", "2.5")
    assert rc == 1, rc
    assert b"\rslow " in seen and b"files 0/1" in seen and b"timed out" in seen, seen[-400:]
    assert w.act("remove", "slow").returncode == 0


def test_transfer_list_host(env):
    """transfer list HOST: the user's transfers in every session there, with
    their session (a SESSION column; "session" in JSON); -s SESSION still
    lists one session; HOST and -s together, or neither, is a usage error."""
    w = World(env)
    r = w.tether("session", "new", w.host, "--name", "T")
    assert r.returncode == 0, r.stderr
    r = w.tether("session", "new", w.host, "--name", "Empty")
    assert r.returncode == 0, r.stderr
    src = w.put("l.bin", os.urandom(1000))
    w.start(src, w.dst + "/s1.bin", "--suspended", "--name", "inS")
    w.start(src, w.dst + "/t1.bin", "--suspended", "--name", "inT1", session=w.host + "/T")
    w.start(src, w.dst + "/t2.bin", "--suspended", "--name", "inT2", session=w.host + "/T")
    r = w.tether("transfer", "list", w.host, "--json")
    assert r.returncode == 0, r.stderr
    got = sorted((j["session"], j["name"], j["state"]) for j in json.loads(r.stdout))
    assert got == [("S", "inS", "Suspended"), ("T", "inT1", "Suspended"),
                   ("T", "inT2", "Suspended")], got
    r = w.tether("transfer", "list", w.host)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["SESSION", "ID", "NAME"], lines
    assert sorted((l.split()[0], l.split()[2]) for l in lines[1:]) == [
        ("S", "inS"), ("T", "inT1"), ("T", "inT2")], r.stdout
    r = w.tether("transfer", "list", "-s", w.host + "/T", "--json")
    assert sorted(j["name"] for j in json.loads(r.stdout)) == ["inT1", "inT2"], r.stdout
    for args in ([w.host, "-s", w.session], [], [w.session]):
        r = w.tether("transfer", "list", *args)
        assert r.returncode == 2 and r.stderr.startswith("tether: "), (args, r.stderr)
    # another user's sessions there are not listed
    w.d.add_user("bob")
    bob = env.client("bob")
    bob.login(w.d, "bob")
    r = bob.run("transfer", "list", f"bob@{w.d.host}", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == [], (r.stderr, r.stdout)


def workers_of(d):
    """Pids of transfer workers (tetherd __transfer DIR) of daemon d."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) >= 3 and argv[1] == b"__transfer" and \
                argv[2].decode(errors="replace").startswith(d.dir):
            pids.append(int(p))
    return pids


def test_remove_stops_the_worker_and_its_partials(env):
    """transfer remove of a running job, mid-transfer or just after its
    start (its worker still starting), stops the worker and deletes its
    partial file, every time: no worker process and no hidden file left."""
    w = World(env)
    big = w.put("big.bin", os.urandom(8 << 20))
    for i in range(3):   # mid-transfer, through the CLI
        t = w.start(big, w.dst + f"/m{i}.bin", "--async", "--max-rate", "400000",
                    "--priority", "foreground")
        H.wait_for(lambda: w.show(t["id"])["bytes_transferred"] > 0, 30, "progress")
        r = w.act("remove", t["id"])
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)[0]["state"] == "Cancelled", r.stdout
        assert workers_of(w.d) == [], (i, workers_of(w.d))
        assert os.listdir(w.dst) == [], (i, os.listdir(w.dst))
    # just after the start: the scheduler is spawning the worker meanwhile
    tok = w.d.token_for(OWNER)
    cid = {"X-Tether-Client": "e" * 32}
    st, _, doc = w.d.request("POST", "/v1/sessions", {"name": "R"}, token=tok, headers=cid)
    assert st == 201, doc
    for i in range(16):
        st, _, t = w.d.request("POST", "/v1/sessions/R/transfers",
                               {"sources": [big], "destination": w.dst + f"/q{i}.bin",
                                "priority": "foreground", "max_rate": 400000},
                               token=tok, headers=cid)
        assert st == 201, t
        time.sleep((i % 4) * 0.005)
        st, _, r = w.d.request("DELETE", f"/v1/sessions/R/transfers/{t['id']}", token=tok,
                               headers=cid)
        assert st == 200 and r["state"] == "Cancelled", r
    time.sleep(1.5)   # what an orphan would have written by now
    assert workers_of(w.d) == [], workers_of(w.d)
    assert os.listdir(w.dst) == [], os.listdir(w.dst)

def files_holding(top, needle):
    """Paths under top whose bytes contain needle."""
    found = []
    for dirpath, _, names in os.walk(top):
        for n in names:
            p = os.path.join(dirpath, n)
            try:
                with open(p, "rb") as f:
                    if needle in f.read():
                        found.append(p)
            except OSError:
                pass
    return found


def test_password_in_url_is_sealed_and_hidden(env):
    """A password inside a source URL (http://user:pass@host/f) authenticates
    the download (nginx basic auth) but is kept only sealed: list, show, job
    list, JSON and the daemon's log and state dir show http://user@host/f."""
    w = World(env)
    with S.Nginx(env.root) as ng:
        data = os.urandom(300000)
        ng.put_file("a.bin", data)
        secret = ng.password
        url = f"http://{ng.user}:{secret}@127.0.0.1:{ng.http_port}/auth/a.bin"
        shown = f"http://{ng.user}@127.0.0.1:{ng.http_port}/auth/a.bin"
        t = w.start(url, w.dst + "/a.bin", "--async", "--name", "auth")
        assert t["files"][0]["source"] == shown, t["files"]
        done = w.wait("auth", ("Transferred", "Error"))
        assert done["state"] == "Transferred", done
        outputs = [json.dumps(done)]
        for args in (["transfer", "list", "-s", w.session], ["transfer", "list", "-s", w.session,
                     "--json"], ["transfer", "show", "-s", w.session, "auth"],
                     ["job", "list", "-s", w.session, "--json"]):
            r = w.tether(*args)
            assert r.returncode == 0, r.stderr
            outputs.append(r.stdout)
        assert all(secret not in o for o in outputs), outputs
        assert shown in outputs[3], outputs[3]
        r = w.act("complete", "auth")
        assert r.returncode == 0, r.stderr
        assert open(w.dst + "/a.bin", "rb").read() == data
        # a wrong password is the server's refusal, and is hidden too
        bad = f"http://{ng.user}:wrong-{secret}@127.0.0.1:{ng.http_port}/auth/a.bin"
        t = w.start(bad, w.dst + "/b.bin", "--async")
        e = w.wait(t["id"], ("Error",))["error"]
        assert e["code"] in ("auth_failed", "http_401"), e
        assert secret not in json.dumps(e), e
        # a URL without the password: 401 (the password was not kept anywhere else)
        t = w.start(shown, w.dst + "/c.bin", "--async")
        assert w.wait(t["id"], ("Error",))["error"]["code"] in ("auth_failed", "http_401")
    assert files_holding(w.d.dir, secret.encode()) == [], files_holding(w.d.dir, secret.encode())


def test_proxy_user_and_bare_proxy_entries(env):
    """--proxy-user USER (the password from stdin, after --user's) logs in to
    a proxy that requires it (tinyproxy BasicAuth), for http and for https
    (CONNECT); a bare HOST:PORT in --proxy-list is http://HOST:PORT; the
    proxy password is never shown nor kept in clear."""
    w = World(env)
    try:
        tp = S.Tinyproxy(env.root, auth=("pu", "pp-secret")).start()
    except S.FixtureUnavailable as e:
        print(f"UNAVAILABLE: proxy authentication (tinyproxy): {e.reason}", flush=True)
        return
    try:
        with S.Nginx(env.root) as ng:
            data = os.urandom(200000)
            ng.put_file("p.bin", data)
            bare = f"127.0.0.1:{tp.port}"
            plain = f"http://127.0.0.1:{ng.http_port}/files/p.bin"
            # without the proxy's credentials: refused by the proxy
            t = w.start(plain, w.dst + "/no.bin", "--async", "--proxy-list", bare)
            t = w.wait(t["id"], ("Error", "TransientError"))
            assert w.act("remove", t["id"]).returncode == 0
            assert t["options"]["proxy"]["list"] == [f"http://{bare}"], t["options"]
            # with them: http, and https through CONNECT
            t = w.start(plain, w.dst + "/a.bin", "--proxy-list", bare, "--proxy-user", "pu",
                        input="pp-secret\n")
            assert t["state"] == "Acknowledged", t
            assert open(w.dst + "/a.bin", "rb").read() == data
            assert t["options"]["proxy"]["user"] == "pu", t["options"]
            seen = tp.requests()
            assert seen >= 2, seen
            auth = f"https://127.0.0.1:{ng.https_port}/auth/p.bin"
            t = w.start(auth, w.dst + "/b.bin", "--cacert", ng.cert_path, "--proxy-list",
                        f"http://{bare}", "--proxy-user", "pu", "--user", ng.user,
                        "--password-stdin", input=f"{ng.password}\npp-secret\n")
            assert t["state"] == "Acknowledged", t
            assert open(w.dst + "/b.bin", "rb").read() == data
            assert tp.requests() > seen
            # a wrong proxy password does not get through
            t = w.start(plain, w.dst + "/c.bin", "--async", "--proxy-list", bare,
                        "--proxy-user", "pu", input="wrong\n")
            t = w.wait(t["id"], ("Error", "TransientError"))
            out = w.tether("transfer", "show", "-s", w.session, str(t["id"]), "--json").stdout
            assert "pp-secret" not in out and "wrong" not in json.dumps(t["options"]), out
            assert w.act("remove", t["id"]).returncode == 0
            r = w.tether("transfer", "start", "-s", w.session, plain, w.dst + "/d.bin",
                         "--proxy-usage", "none", "--proxy-user", "pu", input="x\n")
            assert r.returncode == 2 and "--proxy-user" in r.stderr, r.stderr
            r = w.tether("transfer", "start", "-s", w.session, plain, w.dst + "/d.bin",
                         "--proxy-list", bare, "--proxy-user", "pu")   # stdin: nothing
            assert r.returncode == 2 and "no password line" in r.stderr, r.stderr
    finally:
        tp.stop()
    assert files_holding(w.d.dir, b"pp-secret") == [], files_holding(w.d.dir, b"pp-secret")


def nginx_or_none(env, what):
    """A started nginx fixture, or None (said so) where it cannot run."""
    try:
        return S.Nginx(env.root).start()
    except S.FixtureUnavailable as e:
        print(f"UNAVAILABLE: {what} (nginx): {e.reason}", flush=True)
        return None


def test_many_small_files_in_parallel_worker_killed(env):
    """A download job of 200 small files over HTTPS, with one over 4 MiB and
    one local file among them, fetched several at a time (the large one and
    the local one alone afterwards): its worker SIGKILLed mid-job, then
    stopped by a suspend mid-job, then resumed, it completes with every file
    exactly right and no partial left; the files the stopped worker had
    recorded done are counted done at once and never fetched again."""
    w = World(env, config={"transfer_files_per_job": 300})
    ng = nginx_or_none(env, "many small files")
    if ng is None:
        return
    try:
        rnd = random.Random(17)
        want, srcs = {}, []
        for i in range(200):
            name = f"s{i:03d}.bin"
            data = rnd.randbytes(rnd.randint(4 << 10, 32 << 10))
            ng.put_file(name, data)
            want[name] = data
            srcs.append(f"https://127.0.0.1:{ng.https_port}/files/{name}")
        want["big.bin"] = os.urandom((4 << 20) + 12345)
        ng.put_file("big.bin", want["big.bin"])
        srcs.insert(60, f"https://127.0.0.1:{ng.https_port}/files/big.bin")
        want["local.bin"] = os.urandom(30000)
        srcs.insert(120, w.put("local.bin", want["local.bin"]))
        total = sum(len(v) for v in want.values())
        t = w.start(*srcs, w.dst + "/", "--cacert", ng.cert_path, "--async",
                    "--max-rate", "2000000")
        job = t["id"]
        # SIGKILL mid-job: the daemon sees the worker gone and starts another
        H.wait_for(lambda: w.show(job)["bytes_transferred"] > 600000, 30, "progress")
        first = workers_of(w.d)
        assert len(first) == 1, first
        os.kill(first[0], signal.SIGKILL)
        H.wait_for(lambda: (lambda p: p and p != first)(workers_of(w.d)), 30, "a new worker")
        # a stop mid-job (suspend): the worker syncs and records what it has
        H.wait_for(lambda: w.show(job)["files_transferred"] >= 40, 30, "files done")
        r = w.act("suspend", job)
        assert r.returncode == 0, r.stderr
        t = w.show(job)
        assert t["state"] == "Suspended", t
        done = [os.path.basename(f["destination"]) for f in t["files"] if f["done"]]
        assert 40 <= len(done) < len(want), (len(done), t["files_transferred"])
        with open(ng.access_log) as f:
            before = f.read()
        r = w.tether("transfer", "set", "-s", w.session, str(job), "--max-rate", "0")
        assert r.returncode == 0, r.stderr
        assert w.act("resume", job).returncode == 0
        t = w.wait(job, ("Transferred", "Error", "TransientError"), timeout=60)
        assert t["state"] == "Transferred", t
        assert t["files_transferred"] == len(want) and t["bytes_transferred"] == total, t
        with open(ng.access_log) as f:
            after = f.read()[len(before):]
        fetched = set(re.findall(r'"GET /files/(\S+) HTTP', after))
        assert not fetched & set(done), sorted(fetched & set(done))[:5]
        r = w.act("complete", job)
        assert r.returncode == 0, r.stderr
        got = sorted(os.listdir(w.dst))
        assert got == sorted(want), [n for n in got if n not in want][:5]
        for name, data in want.items():
            with open(os.path.join(w.dst, name), "rb") as f:
                b = f.read()
            assert len(b) == len(data) and \
                hashlib.sha256(b).digest() == hashlib.sha256(data).digest(), name
    finally:
        ng.stop()


def test_parallel_files_one_missing(env):
    """Among small files fetched in parallel, a 404 fails the job (Error,
    naming that file); the files that finished are recorded done and the
    rest are not; once the file is there, resume fetches only what is
    missing and the job completes exactly."""
    w = World(env)
    ng = nginx_or_none(env, "parallel files")
    if ng is None:
        return
    try:
        want, srcs = {}, []
        for i in range(40):
            name = f"p{i:02d}.bin"
            want[name] = os.urandom(5000 + i)
            if i != 20:
                ng.put_file(name, want[name])
            srcs.append(f"https://127.0.0.1:{ng.https_port}/files/{name}")
        t = w.start(*srcs, w.dst + "/", "--cacert", ng.cert_path, "--async")
        t = w.wait(t["id"], ("Error", "Transferred"))
        assert t["state"] == "Error" and t["error"]["code"] == "http_404", t
        assert t["error"]["file"].endswith("/p20.bin"), t["error"]
        done = {os.path.basename(f["destination"]) for f in t["files"] if f["done"]}
        assert "p20.bin" not in done and {f"p{i:02d}.bin" for i in range(20)} <= done, done
        with open(ng.access_log) as f:
            before = f.read()
        ng.put_file("p20.bin", want["p20.bin"])
        assert w.act("resume", t["id"]).returncode == 0
        t = w.wait(t["id"], ("Error", "Transferred"))
        assert t["state"] == "Transferred", t
        with open(ng.access_log) as f:
            again = set(re.findall(r'"GET /files/(\S+) HTTP', f.read()[len(before):]))
        assert "p20.bin" in again and not again & done, sorted(again)
        assert w.act("complete", t["id"]).returncode == 0
        assert sorted(os.listdir(w.dst)) == sorted(want), os.listdir(w.dst)
        for name, data in want.items():
            with open(os.path.join(w.dst, name), "rb") as f:
                assert f.read() == data, name
    finally:
        ng.stop()


if __name__ == "__main__":
    H.main(globals())
