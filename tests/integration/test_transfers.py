"""Transfer jobs through the HTTP API with local sources (no network server
needed): the lifecycle, durability across a daemon SIGKILL, the owner's
rights on paths, and bad input. Network protocols are in test_transfer_net.py."""
import hashlib
import json
import os
import signal
import subprocess
import threading
import time

import harness as H
import servers as S

CID = {"X-Tether-Client": "a" * 32}
CID_B = {"X-Tether-Client": "b" * 32}


sha = S.sha256_file


class World:
    """A daemon, user alice with session S, a source dir and a destination
    dir owned by alice's OS account."""

    def __init__(self, env, config=None):
        self.env = env
        self.d = env.daemon(config=config)
        self.d.add_user("alice")
        self.tok = self.d.token_for("alice")
        st, _, _ = self.d.request("POST", "/v1/sessions", {"name": "S"}, token=self.tok,
                                  headers=CID)
        assert st == 201
        self.acct = H.os_account("alice")
        self.src = self.mkdir("src", owner=None)
        self.dst = self.mkdir("dst", owner=self.acct)

    def mkdir(self, name, owner=None, mode=0o755):
        p = os.path.join(self.env.root, name)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)
        if owner:
            subprocess.run(["chown", owner, p], check=True)
        return p

    def put(self, name, data):
        return H.put_file(self.src, name, data)

    def req(self, method, path, body=None, tok=None, headers=None):
        return self.d.request(method, "/v1/sessions/S/transfers" + path, body,
                              token=tok or self.tok, headers=headers or CID)

    def start(self, body, expect=201):
        st, _, doc = self.req("POST", "", body)
        assert st == expect, (st, doc)
        return doc

    def show(self, job):
        st, _, doc = self.req("GET", f"/{job}")
        assert st == 200, (st, doc)
        return doc

    def wait_state(self, job, states, timeout=30):
        return H.wait_for(lambda: (lambda t: t if t["state"] in states else None)(self.show(job)),
                          timeout, f"transfer {job} in {states}")

    def count(self):
        return self.d.query("SELECT count(*) FROM transfers")[0][0]


def test_local_wildcard_download_complete(env):
    w = World(env)
    a = w.put("a.bin", os.urandom(2 << 20))
    b = w.put("b.bin", os.urandom(1000))
    w.put("c.txt", b"not matched")
    t = w.start({"sources": [w.src + "/*.bin"], "destination": w.dst + "/",
                 "priority": "foreground", "name": "pull"})
    assert t["name"] == "pull" and t["type"] == "transfer" and t["direction"] == "download"
    assert t["files_total"] == 2, t
    assert [f["destination"] for f in t["files"]] == [w.dst + "/a.bin", w.dst + "/b.bin"]
    t = w.wait_state(t["id"], ("Transferred",))
    assert t["bytes_transferred"] == t["bytes_total"] == (2 << 20) + 1000, t
    assert t["files_transferred"] == 2 and t["completed"] is not None
    # nothing visible at the destination before Complete: only hidden partials
    names = sorted(os.listdir(w.dst))
    assert all(n.startswith(".") and n.endswith(".part") for n in names), names
    st, _, done = w.req("POST", "/pull/complete")
    assert st == 200 and done["state"] == "Acknowledged", done
    assert sorted(os.listdir(w.dst)) == ["a.bin", "b.bin"]
    assert sha(w.dst + "/a.bin") == sha(a) and sha(w.dst + "/b.bin") == sha(b)
    st_ = os.stat(w.dst + "/a.bin")
    assert st_.st_uid == int(subprocess.check_output(["id", "-u", w.acct])), "owned by the user"
    assert w.count() == 0
    st, _, doc = w.req("GET", "/pull")
    assert st == 404, doc


def test_single_file_destination_and_sha256(env):
    w = World(env)
    data = os.urandom(100000)
    a = w.put("one.bin", data)
    good = hashlib.sha256(data).hexdigest()
    t = w.start({"sources": [a], "destination": w.dst + "/renamed.bin", "sha256": good,
                 "priority": "foreground"})
    w.wait_state(t["id"], ("Transferred",))
    w.req("POST", f"/{t['id']}/complete")
    assert sha(w.dst + "/renamed.bin") == good
    # a wrong checksum is an Error naming the file, and nothing is committed
    t = w.start({"sources": [a], "destination": w.dst + "/bad.bin", "sha256": "0" * 64,
                 "priority": "foreground"})
    t = w.wait_state(t["id"], ("Error",))
    assert t["error"]["code"] == "checksum_mismatch", t
    assert t["error"]["file"].endswith("one.bin"), t
    st, _, _ = w.req("DELETE", f"/{t['id']}")
    assert st == 200
    assert not any(n.startswith(".bad.bin") or n == "bad.bin" for n in os.listdir(w.dst))


def test_suspend_resume_remove_and_refused_partial_complete(env):
    w = World(env)
    big = w.put("big.bin", os.urandom(4 << 20))
    small = w.put("small.bin", os.urandom(5000))
    # suspended at creation: nothing moves
    t = w.start({"sources": [small, big], "destination": w.dst + "/", "suspended": True,
                 "max_rate": 512 * 1024})
    assert t["state"] == "Suspended"
    time.sleep(1.5)
    assert w.show(t["id"])["state"] == "Suspended"
    assert os.listdir(w.dst) == []
    st, _, r = w.req("POST", f"/{t['id']}/resume")
    assert st == 200 and r["state"] == "Queued", r
    # the small file finishes, the big one crawls at 512 KiB/s
    H.wait_for(lambda: w.show(t["id"])["files_transferred"] == 1, 30, "first file done")
    H.wait_for(lambda: w.show(t["id"])["files"][1]["bytes_transferred"] > 0, 30, "progress")
    st, _, r = w.req("POST", f"/{t['id']}/suspend")
    assert st == 200 and r["state"] == "Suspended", r
    n1 = w.show(t["id"])["files"][1]["bytes_transferred"]
    time.sleep(1.5)
    n2 = w.show(t["id"])["files"][1]["bytes_transferred"]
    assert n1 == n2 and 0 < n2 < (4 << 20), (n1, n2)
    # Complete on a partly done job is refused (409) and changes nothing
    before = sorted(os.listdir(w.dst))
    st, _, r = w.req("POST", f"/{t['id']}/complete")
    assert st == 409 and r["error"]["code"] == "conflict", r
    assert "Suspended" in r["error"]["message"], r
    assert w.show(t["id"])["state"] == "Suspended"
    assert sorted(os.listdir(w.dst)) == before and "small.bin" not in before, before
    # let it finish: then Complete takes both files
    st, _, r = w.req("PATCH", f"/{t['id']}", {"max_rate": 0})
    assert st == 200, r
    st, _, r = w.req("POST", f"/{t['id']}/resume")
    assert st == 200, r
    w.wait_state(t["id"], ("Transferred",))
    st, _, r = w.req("POST", f"/{t['id']}/complete")
    assert st == 200 and r["state"] == "Acknowledged", r
    assert sorted(os.listdir(w.dst)) == ["big.bin", "small.bin"], os.listdir(w.dst)
    assert sha(w.dst + "/small.bin") == sha(small) and sha(w.dst + "/big.bin") == sha(big)
    os.unlink(w.dst + "/big.bin")
    # Remove deletes partials and commits nothing
    t = w.start({"sources": [big], "destination": w.dst + "/", "max_rate": 256 * 1024})
    H.wait_for(lambda: w.show(t["id"])["bytes_transferred"] > 0, 30, "progress")
    st, _, r = w.req("DELETE", f"/{t['id']}")
    assert st == 200 and r["state"] == "Cancelled", r
    assert os.listdir(w.dst) == ["small.bin"], os.listdir(w.dst)
    assert w.count() == 0


def test_wait_holds_the_answer_until_the_worker_ends(env):
    """GET .../transfers/{job}?wait=S answers once the worker has ended (the
    job settled), at once for a job that is not running, and 404 for a job
    removed while someone waits on it."""
    w = World(env)
    src = w.put("w.bin", os.urandom(1 << 20))
    t = w.start({"sources": [src], "destination": w.dst + "/w.bin", "max_rate": 512 * 1024,
                 "priority": "foreground"})
    st, _, doc = w.req("GET", f"/{t['id']}?wait=20")
    assert st == 200 and doc["state"] == "Transferred", doc
    assert doc["bytes_transferred"] == 1 << 20, doc
    st, _, doc = w.req("GET", f"/{t['id']}?wait=20")   # not running: at once, as it is
    assert st == 200 and doc["state"] == "Transferred", doc
    st, _, doc = w.req("POST", f"/{t['id']}/complete")
    assert st == 200 and sha(w.dst + "/w.bin") == sha(src), doc
    t = w.start({"sources": [src], "destination": w.dst + "/s.bin", "suspended": True})
    st, _, doc = w.req("GET", f"/{t['id']}?wait=20")
    assert st == 200 and doc["state"] == "Suspended", doc
    for bad in ("61", "-1", "soon"):
        st, _, doc = w.req("GET", f"/{t['id']}?wait={bad}")
        assert st == 400 and doc["error"]["code"] == "invalid_argument", (bad, doc)
    # a waiter on a job that is removed meanwhile learns it is gone
    st, _, doc = w.req("PATCH", f"/{t['id']}", {"max_rate": 64 * 1024})   # 16 s
    assert st == 200, doc
    st, _, doc = w.req("POST", f"/{t['id']}/resume")
    assert st == 200, doc
    w.wait_state(t["id"], ("Connecting", "Transferring"))
    got = {}
    waiter = threading.Thread(target=lambda: got.update(
        r=w.req("GET", f"/{t['id']}?wait=20")))
    waiter.start()
    time.sleep(0.5)
    st, _, doc = w.req("DELETE", f"/{t['id']}")
    assert st == 200 and doc["state"] == "Cancelled", doc
    waiter.join(30)
    assert got["r"][0] == 404, got
    assert os.listdir(w.dst) == ["w.bin"], os.listdir(w.dst)


def test_large_download_suspended_and_resumed(env):
    """A download past the worker's 16 MiB writeback step: its partial keeps
    the size of the data (blocks reserved ahead of it stay within 16 MiB),
    and it resumes and completes whole."""
    w = World(env)
    data = os.urandom(1 << 20) * 40   # 40 MiB
    src = w.put("large.bin", data)
    t = w.start({"sources": [src], "destination": w.dst + "/", "max_rate": 16 << 20,
                 "priority": "foreground"})
    H.wait_for(lambda: w.show(t["id"])["bytes_transferred"] > (20 << 20), 60, "20 MiB in")
    st, _, doc = w.req("POST", f"/{t['id']}/suspend")
    assert st == 200 and doc["state"] == "Suspended", doc
    part = [n for n in os.listdir(w.dst) if n.endswith(".part")]
    assert len(part) == 1, os.listdir(w.dst)
    sb = os.stat(os.path.join(w.dst, part[0]))
    assert doc["bytes_transferred"] == sb.st_size < len(data), (doc, sb.st_size)
    assert sb.st_blocks * 512 <= sb.st_size + (17 << 20), (sb.st_blocks, sb.st_size)
    st, _, doc = w.req("POST", f"/{t['id']}/resume")
    assert st == 200, doc
    done = w.wait_state(t["id"], ("Transferred",), timeout=60)
    assert done["bytes_transferred"] == len(data), done
    st, _, _ = w.req("POST", f"/{t['id']}/complete")
    assert st == 200
    assert sha(w.dst + "/large.bin") == hashlib.sha256(data).hexdigest()
    assert os.path.getsize(w.dst + "/large.bin") == len(data)


def test_survives_daemon_sigkill(env):
    """The worker outlives a SIGKILLed daemon; a restarted daemon adopts it,
    and a worker killed too resumes from the partial's bytes."""
    w = World(env)
    # 8 s at this rate: room for a kill, a restart and a second kill even on
    # a busy machine
    data = os.urandom(8 << 20)
    src = w.put("big.bin", data)
    t = w.start({"sources": [src], "destination": w.dst + "/", "max_rate": 1 << 20,
                 "priority": "foreground"})
    H.wait_for(lambda: w.show(t["id"])["bytes_transferred"] > (1 << 20), 30, "progress")
    w.d.kill()
    part = [n for n in os.listdir(w.dst) if n.endswith(".part")]
    assert len(part) == 1
    size1 = os.path.getsize(os.path.join(w.dst, part[0]))
    time.sleep(1)
    assert os.path.getsize(os.path.join(w.dst, part[0])) > size1, "worker kept going"
    w.d.start()
    w.tok = w.d.token_for("alice")
    # now kill the worker as a reboot would; the scheduler starts it again
    # (only this daemon's worker: other suites may be running transfers)
    pids = subprocess.run(["pgrep", "-f", "__transfer " + w.d.state],
                          capture_output=True, text=True)
    assert pids.stdout.split(), "the worker survived the daemon"
    for p in pids.stdout.split():
        os.kill(int(p), signal.SIGKILL)
    done = w.wait_state(t["id"], ("Transferred",), timeout=60)
    assert done["bytes_transferred"] == len(data)
    st, _, _ = w.req("POST", f"/{t['id']}/complete")
    assert st == 200
    assert sha(w.dst + "/big.bin") == hashlib.sha256(data).hexdigest()


def test_priorities_foreground_overtakes_low(env):
    w = World(env, config={"transfer_concurrency": 1})
    slow = w.put("slow.bin", os.urandom(3 << 20))
    fast = w.put("fast.bin", os.urandom(200000))
    low = w.start({"sources": [slow], "destination": w.dst + "/", "priority": "low",
                   "max_rate": 512 * 1024})
    H.wait_for(lambda: w.show(low["id"])["state"] == "Transferring", 30, "low running")
    fg = w.start({"sources": [fast], "destination": w.dst + "/fg.bin",
                  "priority": "foreground"})
    # the low job yields while the foreground one runs
    H.wait_for(lambda: w.show(low["id"])["state"] == "Queued", 30, "low preempted")
    w.wait_state(fg["id"], ("Transferred",))
    assert w.show(low["id"])["state"] != "Transferred"
    w.wait_state(low["id"], ("Transferred",), timeout=60)
    for j in (fg, low):
        w.req("POST", f"/{j['id']}/complete")
    assert sha(w.dst + "/slow.bin") == sha(slow) and sha(w.dst + "/fg.bin") == sha(fast)
    # set: priority and rate change on a live job
    t = w.start({"sources": [slow], "destination": w.dst + "/again.bin", "priority": "low",
                 "suspended": True})
    st, _, r = w.req("PATCH", f"/{t['id']}", {"priority": "high", "max_rate": 1000,
                                               "retry_delay": 5})
    assert st == 200 and r["priority"] == "high" and r["options"]["max_rate"] == 1000, r
    assert r["options"]["retry_delay"] == 5


def cancelled_by(env, remove):
    """remove(w) stops a running worker, deletes its partial file and
    forgets the transfer."""
    w = World(env)
    src = w.put("big.bin", os.urandom(4 << 20))
    t = w.start({"sources": [src], "destination": w.dst + "/", "max_rate": 256 * 1024,
                 "priority": "foreground"})
    H.wait_for(lambda: w.show(t["id"])["bytes_transferred"] > 0, 30, "progress")
    assert any(n.endswith(".part") for n in os.listdir(w.dst))
    remove(w)
    assert w.count() == 0
    assert os.listdir(w.dst) == [], os.listdir(w.dst)
    workers = subprocess.run(["pgrep", "-f", "__transfer " + w.d.state],
                             capture_output=True, text=True)
    assert workers.stdout.strip() == "", "the worker was stopped"


def test_session_remove_cancels_transfers(env):
    def remove(w):
        st, _, doc = w.d.request("DELETE", "/v1/sessions/S", token=w.tok, headers=CID)
        assert st == 200, doc
    cancelled_by(env, remove)


def test_user_remove_cancels_transfers(env):
    """`tetherd user remove` beside the running daemon does the same."""
    def remove(w):
        r = w.d.admin("user", "remove", "alice")
        assert r.returncode == 0 and "stopped the work of 1 session" in r.stdout, \
            (r.stdout, r.stderr)
    cancelled_by(env, remove)


def test_notify_cmd_runs(env):
    w = World(env)
    src = w.put("n.bin", b"x" * 1000)
    flag = os.path.join(w.dst, "notified")
    t = w.start({"sources": [src], "destination": w.dst + "/n.bin", "priority": "foreground",
                 "notify_cmd": f"echo $TETHER_TRANSFER_STATE $TETHER_TRANSFER_ID > {flag}"})
    w.wait_state(t["id"], ("Transferred",))
    H.wait_for(lambda: os.path.exists(flag) and open(flag).read().strip(), 30, "notify ran")
    assert open(flag).read().split() == ["Transferred", str(t["id"])]


def test_owner_rights_and_hostile_paths(env):
    w = World(env)
    src = w.put("f.bin", b"data")
    secret = w.mkdir("rootonly", mode=0o700)
    # a destination the owner cannot write: refused at creation, as the owner
    st, _, doc = w.req("POST", "", {"sources": [src], "destination": secret + "/x"})
    assert st == 403 and doc["error"]["code"] == "forbidden", doc
    assert "cannot write" in doc["error"]["message"], doc
    # through a symlink into it: the same, the kernel judges with the owner's rights
    link = os.path.join(w.dst, "link")
    os.symlink(secret, link)
    st, _, doc = w.req("POST", "", {"sources": [src], "destination": link + "/x"})
    assert st == 403, doc
    # a source the owner cannot read
    hidden = os.path.join(secret, "h.bin")
    open(hidden, "w").write("secret")
    st, _, doc = w.req("POST", "", {"sources": [hidden], "destination": w.dst + "/"})
    assert st == 403 and "Permission denied" in doc["error"]["message"], doc
    st, _, doc = w.req("POST", "", {"sources": [secret + "/*"], "destination": w.dst + "/"})
    assert st == 400, doc
    # '..' in a destination
    st, _, doc = w.req("POST", "", {"sources": [src], "destination": w.dst + "/../dst/x"})
    assert st == 400 and ".." in doc["error"]["message"], doc
    assert w.count() == 0
    assert os.listdir(secret) == ["h.bin"]


def test_credentials_sealed_never_shown(env):
    w = World(env)
    src = w.put("c.bin", b"c")
    password = "hunter2-very-secret"
    t = w.start({"sources": [src], "destination": w.dst + "/", "suspended": True,
                 "credentials": {"user": "bob", "password": password, "auth": "basic"}})
    text = json.dumps(t)
    assert password not in text and t["options"]["user"] == "bob", text
    assert password not in json.dumps(w.show(t["id"]))
    blob = w.d.query("SELECT credentials FROM transfers")[0][0]
    assert blob and password not in blob
    key = os.path.join(w.d.state, "secret.key")
    assert os.stat(key).st_mode & 0o777 == 0o600
    w.req("POST", f"/{t['id']}/resume")
    w.wait_state(t["id"], ("Transferred",))
    for root, _, files in os.walk(w.d.dir):
        for f in files:
            p = os.path.join(root, f)
            if os.path.isfile(p) and not os.path.islink(p):
                assert password.encode() not in open(p, "rb").read(), p


def test_bad_input(env):
    w = World(env)
    src = w.put("b.bin", b"b")
    cases = [
        ({"sources": ["htp://nope/x"], "destination": w.dst + "/"}, "unsupported scheme"),
        ({"sources": ["http://[::1"], "destination": w.dst + "/"}, "malformed URL"),
        ({"sources": ["gopher://127.0.0.1/x"], "destination": w.dst + "/"}, "unsupported"),
        ({"sources": ["http://127.0.0.1/*.iso"], "destination": w.dst + "/"}, "wildcards"),
        ({"sources": [src], "destination": w.dst + "/*.bin"}, "wildcards"),
        ({"sources": [src], "destination": "http://127.0.0.1/x"}, "not a URL"),
        ({"sources": [src], "destination": "http://127.0.0.1/", "direction": "upload",
          "priority": "urgent"}, "priority"),
        ({"sources": ["http://127.0.0.1/a"], "destination": "http://127.0.0.1/",
          "direction": "upload"}, "paths on this host"),
        ({"sources": [src], "destination": w.dst + "/", "direction": "sideways"}, "direction"),
        ({"sources": [], "destination": w.dst + "/"}, "sources"),
        ({"sources": "x", "destination": w.dst + "/"}, "sources"),
        ({"sources": [7], "destination": w.dst + "/"}, "strings"),
        ({"sources": [src]}, "destination"),
        ({"sources": [src], "destination": w.dst + "/", "sha256": "abc"}, "sha256"),
        ({"sources": [src], "destination": w.dst + "/", "max_rate": -1}, "max_rate"),
        ({"sources": [src], "destination": w.dst + "/", "retry_delay": "soon"}, "retry_delay"),
        ({"sources": [src], "destination": w.dst + "/", "insecure": True,
          "cacert": "-----BEGIN CERTIFICATE-----\nx\n"}, "exclude"),
        ({"sources": [src], "destination": w.dst + "/", "cacert": "not pem"}, "PEM"),
        ({"sources": [src], "destination": w.dst + "/", "credentials": {"password": "p"}},
         "user"),
        ({"sources": [src], "destination": w.dst + "/",
          "credentials": {"user": "u", "auth": "kerberos5"}}, "auth"),
        ({"sources": [src], "destination": w.dst + "/", "proxy": {"usage": "override"}},
         "proxy list"),
        ({"sources": [src], "destination": w.dst + "/", "name": "bad name!"}, "name"),
        ({"sources": [src, src], "destination": w.dst + "/one.bin"}, "directory"),
        ({"sources": [src, src], "destination": w.dst + "/"}, "both"),
        ({"sources": [w.src + "/*.nomatch"], "destination": w.dst + "/"}, "no files match"),
        ({"sources": ["file:///etc/passwd\n"], "destination": w.dst + "/"}, "control"),
    ]
    for body, words in cases:
        st, _, doc = w.req("POST", "", body)
        assert st == 400, (body, st, doc)
        assert doc["error"]["code"] == "invalid_argument", doc
        assert words.lower() in doc["error"]["message"].lower(), (body, doc)
    st, _, doc = w.req("POST", "", {"sources": [src], "destination": w.dst + "/nodir/x"})
    assert st == 404 and "destination directory" in doc["error"]["message"], doc
    # not a URL: a relative path of the owner's, and there is none
    st, _, doc = w.req("POST", "", {"sources": ["htp:/nope"], "destination": w.dst + "/"})
    assert st == 404 and doc["error"]["code"] == "not_found", doc
    assert "cannot read 'htp:/nope'" in doc["error"]["message"], doc
    st, _, doc = w.req("POST", "", "{not json")
    assert st == 400, doc
    assert w.count() == 0
    # unknown ids and names, and verbs on them
    for path, method in (("/999", "GET"), ("/nope", "GET"), ("/999/complete", "POST"),
                         ("/999", "DELETE"), ("/999/resume", "POST")):
        st, _, doc = w.req(method, path)
        assert st == 404 and doc["error"]["code"] == "not_found", (path, doc)
    st, _, doc = w.req("PATCH", "/999", {"priority": "low"})
    assert st == 404, doc
    # another user's transfer is not there for them
    t = w.start({"sources": [src], "destination": w.dst + "/", "suspended": True})
    w.d.add_user("mallory")
    mt = w.d.token_for("mallory")
    w.d.request("POST", "/v1/sessions", {"name": "S"}, token=mt, headers=CID_B)
    for method, path in (("GET", f"/{t['id']}"), ("POST", f"/{t['id']}/resume"),
                         ("DELETE", f"/{t['id']}"), ("POST", f"/{t['id']}/complete")):
        st, _, doc = w.req(method, path, tok=mt, headers=CID_B)
        assert st == 404, (method, path, doc)
    st, _, doc = w.req("GET", "", tok=mt, headers=CID_B)
    assert st == 200 and doc["transfers"] == [], doc
    assert w.show(t["id"])["state"] == "Suspended"
    # the job verbs point at the transfer verbs instead of half-doing them
    st, _, doc = w.d.request("DELETE", f"/v1/sessions/S/jobs/{t['id']}", token=w.tok)
    assert st == 409 and "transfer" in doc["error"]["message"], doc
    # set refuses bad values and leaves the job as it was
    st, _, doc = w.req("PATCH", f"/{t['id']}", {"priority": "top"})
    assert st == 400, doc
    assert w.d.healthy()


def test_limits(env):
    w = World(env, config={"transfer_jobs_per_user": 2, "transfer_files_per_job": 3})
    for i in range(4):
        w.put(f"f{i}.bin", b"x")
    st, _, doc = w.req("POST", "", {"sources": [w.src + "/*.bin"], "destination": w.dst + "/"})
    assert st == 429 and "too many files" in doc["error"]["message"], doc
    for i in range(2):
        w.start({"sources": [w.src + f"/f{i}.bin"], "destination": w.dst + "/", "suspended": True})
    st, _, doc = w.req("POST", "", {"sources": [w.src + "/f3.bin"], "destination": w.dst + "/"})
    assert st == 429 and doc["error"]["code"] == "limit_exceeded", doc
    assert w.count() == 2


if __name__ == "__main__":
    H.main(globals())
