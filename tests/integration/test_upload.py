"""Resumable uploads to another tetherd (tether://HOST:PORT/PATH): the
receiving endpoint (POST /v1/uploads, HEAD/GET, PATCH with Upload-Offset and
Upload-Checksum, DELETE) driven by raw requests, bad input included; then
transfer jobs on one daemon uploading to another through the real CLI,
through a proxy that cuts the upload mid-request and across a SIGKILL of the
sending daemon. Every result is compared by SHA-256."""
import base64
import hashlib
import json
import os
import signal
import subprocess
import time

import harness as H
import servers as S

STREAM = "application/offset+octet-stream"
MiB = 1 << 20


def sha_bytes(b):
    return hashlib.sha256(b).hexdigest()


def blob(n, seed=1):
    """n bytes that differ everywhere (a misplaced chunk is caught)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest() * 64
        out[-32:] = i.to_bytes(32, "little")
        i += 1
    return bytes(out[:n])


def checksum(b):
    return "sha256 " + base64.b64encode(hashlib.sha256(b).digest()).decode()


class Receiver:
    """Daemon B with user alice (and bob), and a directory alice owns."""

    def __init__(self, env, name="b", config=None):
        self.d = env.daemon(name, config=config)
        self.d.add_user("alice")
        self.d.add_user("bob")
        self.tok = self.d.token_for("alice")
        self.acct = H.os_account("alice")
        self.dir = os.path.join(env.root, name + "-in")
        os.makedirs(self.dir)
        subprocess.run(["chown", self.acct, self.dir], check=True)

    def create(self, path, length, sha=None, tok=None, expect=201):
        body = {"path": path, "length": length}
        if sha:
            body["sha256"] = sha
        st, hdrs, doc = self.d.request("POST", "/v1/uploads", body, token=tok or self.tok)
        assert st == expect, (st, doc)
        if st == 201:
            assert hdrs["location"] == "/v1/uploads/" + doc["id"], hdrs
        return doc

    def append(self, uid, offset, data, tok=None, csum=True, headers=None):
        h = {"Upload-Offset": str(offset)}
        if csum:
            h["Upload-Checksum"] = checksum(data) if csum is True else csum
        h.update(headers or {})
        return self.d.request("PATCH", "/v1/uploads/" + uid, data, token=tok or self.tok,
                              headers=h, content_type=STREAM)

    def offset(self, uid, tok=None):
        st, hdrs, _ = self.d.request("HEAD", "/v1/uploads/" + uid, token=tok or self.tok)
        assert st == 200, st
        return int(hdrs["upload-offset"])

    def get(self, uid, tok=None):
        st, _, doc = self.d.request("GET", "/v1/uploads/" + uid, token=tok or self.tok)
        return st, doc


def partials(d):
    return [n for n in os.listdir(d) if n.endswith(".part")]


def test_api_append_protocol(env):
    b = Receiver(env)
    data = blob(3 * MiB + 123)
    dest = os.path.join(b.dir, "f.bin")
    up = b.create(dest, len(data), sha=sha_bytes(data))
    assert up["offset"] == 0 and up["done"] is False and up["length"] == len(data)
    assert b.offset(up["id"]) == 0
    assert len(partials(b.dir)) == 1 and not os.path.exists(dest)

    # a good chunk moves the offset; the reply says where it is
    st, hdrs, _ = b.append(up["id"], 0, data[:MiB])
    assert st == 204 and hdrs["upload-offset"] == str(MiB), (st, hdrs)
    # the wrong offset: 409, the server's offset in the reply, nothing written
    st, hdrs, doc = b.append(up["id"], 0, data[:MiB])
    assert st == 409 and hdrs["upload-offset"] == str(MiB), (st, doc)
    H.expect_error(doc, "conflict")
    # a chunk whose checksum is wrong: refused, offset unchanged
    bad = bytearray(data[MiB:2 * MiB])
    bad[5] ^= 1
    st, _, doc = b.append(up["id"], MiB, bytes(bad), csum=checksum(data[MiB:2 * MiB]))
    assert st == 460, (st, doc)
    H.expect_error(doc, "checksum_mismatch")
    assert b.offset(up["id"]) == MiB
    # an append cut short (Content-Length promised, connection closed):
    # the offset stays; the bytes that came are cut off by the next append
    c = b.d.conn()
    c.putrequest("PATCH", "/v1/uploads/" + up["id"])
    for k, v in {"Authorization": "Bearer " + b.tok, "Content-Type": STREAM,
                 "Upload-Offset": str(MiB), "Content-Length": str(MiB)}.items():
        c.putheader(k, v)
    c.endheaders()
    c.send(b"x" * (MiB // 2))
    c.close()
    time.sleep(0.3)
    assert b.offset(up["id"]) == MiB
    # without a checksum an append is still accepted (plain tus clients)
    st, _, _ = b.append(up["id"], MiB, data[MiB:2 * MiB], csum=False)
    assert st == 204
    st, hdrs, _ = b.append(up["id"], 2 * MiB, data[2 * MiB:])
    assert st == 204 and hdrs["upload-offset"] == str(len(data))
    # done: the file is in place, whole, the owner's, and no partial is left
    with open(dest, "rb") as f:
        assert sha_bytes(f.read()) == sha_bytes(data)
    assert os.stat(dest).st_uid == int(subprocess.check_output(["id", "-u", b.acct]))
    assert partials(b.dir) == []
    st, doc = b.get(up["id"])
    assert st == 200 and doc["done"] is True and doc["offset"] == len(data), doc
    st, _, doc = b.append(up["id"], len(data), b"")
    assert st == 409, (st, doc)   # complete: nothing more to append
    # an empty file is done at once
    e = b.create(os.path.join(b.dir, "empty"), 0)
    assert e["done"] is True and os.path.getsize(os.path.join(b.dir, "empty")) == 0
    # delete forgets it
    st, _, _ = b.d.request("DELETE", "/v1/uploads/" + up["id"], token=b.tok)
    assert st == 204
    assert b.get(up["id"])[0] == 404


def test_api_whole_file_checksum_and_delete(env):
    b = Receiver(env)
    data = blob(MiB, 3)
    dest = os.path.join(b.dir, "g.bin")
    # the declared SHA-256 is not the file's: every chunk is fine, the end
    # is not; the upload goes back to 0 and no file appears
    up = b.create(dest, len(data), sha=sha_bytes(b"other"))
    st, hdrs, doc = b.append(up["id"], 0, data)
    assert st == 460 and hdrs["upload-offset"] == "0", (st, hdrs, doc)
    H.expect_error(doc, "checksum_mismatch")
    assert not os.path.exists(dest) and b.offset(up["id"]) == 0
    # abandoning an upload deletes its partial
    half = b.create(os.path.join(b.dir, "h.bin"), 2 * MiB)
    assert b.append(half["id"], 0, data)[0] == 204
    assert len(partials(b.dir)) == 2
    st, _, _ = b.d.request("DELETE", "/v1/uploads/" + half["id"], token=b.tok)
    assert st == 204 and len(partials(b.dir)) == 1
    # one left untouched past upload_expiry is swept, partial and all
    c = b.d.db()
    c.execute("UPDATE uploads SET modified = modified - 8 * 86400 WHERE id = ?", (up["id"],))
    c.commit()
    c.close()
    H.wait_for(lambda: b.get(up["id"])[0] == 404 and partials(b.dir) == [], 30, "expiry")
    assert "event=upload_expired" in b.d.log()


def test_api_bad_input(env):
    b = Receiver(env, config={"uploads_per_user": 2})
    d = b.d
    ok = os.path.join(b.dir, "x")
    for body, code in [
            ({"path": b.dir + "/../etc/x", "length": 1}, "invalid_argument"),
            ({"path": b.dir + "/", "length": 1}, "invalid_argument"),
            ({"path": ok, "length": -1}, "invalid_argument"),
            ({"path": ok, "length": "1"}, "invalid_argument"),
            ({"path": ok}, "invalid_argument"),
            ({"path": ok, "length": 1, "sha256": "abc"}, "invalid_argument"),
            ({"path": ok + "\u0001", "length": 1}, "invalid_argument"),
            ({"path": "/nonexistent-dir/x", "length": 1}, "not_found"),
            ({"path": "/etc/tether-upload-test", "length": 1}, "forbidden"),
            ({"path": b.dir, "length": 1}, "conflict")]:
        st, _, doc = d.request("POST", "/v1/uploads", body, token=b.tok)
        assert 400 <= st < 500, (body, st, doc)
        H.expect_error(doc, code)
    assert not os.path.exists("/etc/tether-upload-test")
    st, _, doc = d.request("POST", "/v1/uploads", "{not json", token=b.tok)
    assert st == 400
    st, _, doc = d.request("POST", "/v1/uploads", {"path": ok, "length": 1})
    assert st == 401
    H.expect_error(doc, "unauthorized")
    assert partials(b.dir) == []

    up = b.create(ok, 10)
    uid = up["id"]
    # another user's upload is not there for them
    bob = d.token_for("bob")
    assert b.get(uid, tok=bob)[0] == 404
    st, _, doc = b.append(uid, 0, b"0123456789", tok=bob)
    assert st == 404, (st, doc)
    assert d.request("DELETE", "/v1/uploads/" + uid, token=bob)[0] == 404
    assert b.get("0" * 32)[0] == 404
    assert b.get("..")[0] == 404
    # appends: no offset, past the length, a bad checksum header, wrong type
    st, _, doc = d.request("PATCH", "/v1/uploads/" + uid, b"abc", token=b.tok,
                           content_type=STREAM)
    assert st == 400, (st, doc)
    st, _, doc = b.append(uid, 0, b"0123456789X")
    assert st == 400, (st, doc)
    st, _, doc = b.append(uid, 0, b"abc", csum="md5 AAAA")
    assert st == 400, (st, doc)
    st, _, doc = d.request("PATCH", "/v1/uploads/" + uid, b"abc", token=b.tok,
                           headers={"Upload-Offset": "0"}, content_type="application/json")
    assert st == 415, (st, doc)
    st, _, doc = d.request("PATCH", "/v1/uploads/" + uid, H.Declared(65 * MiB), token=b.tok,
                           headers={"Upload-Offset": "0"}, content_type=STREAM)
    assert st == 413, (st, doc)
    # chunked: the length must be declared (it bounds what is read); the
    # answer comes on the headers alone, before any of the body
    c = d.conn()
    c.putrequest("PATCH", "/v1/uploads/" + uid)
    for k, v in {"Authorization": "Bearer " + b.tok, "Content-Type": STREAM,
                 "Upload-Offset": "0", "Transfer-Encoding": "chunked"}.items():
        c.putheader(k, v)
    c.endheaders()
    resp = c.getresponse()
    doc = json.loads(resp.read())
    c.close()
    assert resp.status == 400, (resp.status, doc)
    H.expect_error(doc, "bad_request")
    assert b.offset(uid) == 0
    # the per-user limit of unfinished uploads
    b.create(os.path.join(b.dir, "y"), 10)
    doc = b.create(os.path.join(b.dir, "z"), 10, expect=429)
    H.expect_error(doc, "limit_exceeded")
    assert len(partials(b.dir)) == 2


class Sender:
    """Daemon A with alice logged in from client c, session S, and a source
    directory alice can read."""

    def __init__(self, env):
        self.env = env
        self.d = env.daemon("a")
        self.d.add_user("alice")
        self.c = env.client("c")
        self.c.login(self.d, "alice")
        self.session = f"alice@{self.d.host}/S"
        r = self.c.run("session", "new", f"alice@{self.d.host}", "--name", "S")
        assert r.returncode == 0, r.stderr
        self.src = os.path.join(env.root, "src")
        os.makedirs(self.src, exist_ok=True)

    def put(self, name, data):
        return H.put_file(self.src, name, data)

    def start(self, *args, expect=0, password=H.PASSWORD, timeout=120):
        r = self.c.run("transfer", "start", "-s", self.session, "--upload", *args,
                       "--user", "alice", "--password-stdin", "--json",
                       input=password + "\n", timeout=timeout)
        assert r.returncode == expect, (args, r.returncode, r.stderr, r.stdout)
        doc = json.loads(r.stdout) if r.stdout.strip() else None
        return doc[0] if isinstance(doc, list) else doc

    def show(self, job):
        r = self.c.run("transfer", "show", "-s", self.session, str(job), "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def wait(self, job, states, timeout=90):
        return H.wait_for(lambda: (lambda t: t if t["state"] in states else None)(self.show(job)),
                          timeout, f"transfer {job} in {states}")


def cert(d):
    return os.path.join(d.state, "cert.pem")


def test_upload_to_tetherd_sync_and_errors(env):
    b = Receiver(env)
    a = Sender(env)
    data = blob(5 * MiB + 7, 5)
    src = a.put("one.bin", data)
    url = f"tether://127.0.0.1:{b.d.port}{b.dir}/"
    # synchronous: exit 0 once the file is on the receiving host
    t = a.start(src, url, "--cacert", cert(b.d), "--sha256", sha_bytes(data))
    assert t["state"] == "Acknowledged", t
    with open(os.path.join(b.dir, "one.bin"), "rb") as f:
        assert sha_bytes(f.read()) == sha_bytes(data)
    assert partials(b.dir) == []
    # "~/" paths are under the account's home on the receiving host
    # (not tested here: the test accounts have no home directory)

    # the wrong password: Error, auth_failed, nothing created there
    t = a.start(src, url, "--cacert", cert(b.d), "--async", password="wrong")
    t = a.wait(t["id"], ("Error",))
    assert t["error"]["code"] == "auth_failed", t
    # a directory alice cannot write there: Error with the server's reason
    t = a.start(src, f"tether://127.0.0.1:{b.d.port}/etc/", "--cacert", cert(b.d), "--async")
    t = a.wait(t["id"], ("Error",))
    assert t["error"]["code"] == "http_403", t
    assert "/etc" in t["error"]["message"], t
    # a source alice's account may not read: forbidden, not not_found, at
    # start (checked as the owner), and in the job's error if it turns
    # unreadable once the job is made
    secret = a.put("secret.bin", b"x" * 100)
    os.chown(secret, 0, 0)
    os.chmod(secret, 0o600)
    doc = a.start(secret, url, "--cacert", cert(b.d), "--async", expect=255)
    assert doc["error"]["code"] == "forbidden" and "Permission denied" in \
        doc["error"]["message"], doc
    later = a.put("later.bin", b"x" * 100)
    t = a.start(later, url, "--cacert", cert(b.d), "--async", "--suspended")
    os.chown(later, 0, 0)
    os.chmod(later, 0o600)
    assert a.c.run("transfer", "resume", "-s", a.session, str(t["id"])).returncode == 0
    t = a.wait(t["id"], ("Error",))
    assert t["error"]["code"] == "forbidden" and "Permission denied" in t["error"]["message"], t
    # an untrusted certificate: Error, TLS verification
    t = a.start(src, url, "--async")
    t = a.wait(t["id"], ("Error",))
    assert t["error"]["code"] == "tls_verify_failed", t
    # without an account for the receiving side the start is refused
    r = a.c.run("transfer", "start", "-s", a.session, "--upload", src, url, "--cacert",
                cert(b.d))
    assert r.returncode != 0 and "user" in r.stderr, (r.returncode, r.stderr)
    # tether:// is an upload destination only
    r = a.c.run("transfer", "start", "-s", a.session, f"tether://127.0.0.1:{b.d.port}/x",
                os.path.join(env.root, "dl") + "/")
    assert r.returncode != 0 and "scheme" in r.stderr, r.stderr
    assert [n for n in os.listdir(b.dir)] == ["one.bin"]


def test_upload_to_tetherd_through_cuts(env):
    b = Receiver(env)
    a = Sender(env)
    size = 9 * MiB + 5
    data = blob(size, 6)
    src = a.put("cut.bin", data)
    # every connection is cut after 2.5 MiB client -> server: an attempt
    # gets its 256 KiB, 512 KiB and 1 MiB chunks in, the next (2 MiB) is
    # cut mid-request
    with S.FaultProxy(b.d.port) as px:
        px.cut_up_after = 5 * MiB // 2
        t = a.start(src, f"tether://127.0.0.1:{px.port}{b.dir}/", "--cacert", cert(b.d),
                    "--async", "--retry-delay", "1")
        done = a.wait(t["id"], ("Transferred",), timeout=150)
        cuts, up = px.cuts, px.bytes_up
    assert done["bytes_transferred"] == size, done
    assert cuts >= 3, cuts
    per_cut = (up - size) / cuts
    print(f"  cuts={cuts} bytes sent through proxy={up} file={size} "
          f"re-sent per interruption={per_cut:.0f} B", flush=True)
    assert per_cut < 2 * MiB, per_cut     # at most the chunk in flight
    # one upload on the receiving side, resumed each time, never restarted
    assert len(b.d.query("SELECT id FROM uploads")) == 1
    r = a.c.run("transfer", "complete", "-s", a.session, str(t["id"]))
    assert r.returncode == 0, r.stderr
    with open(os.path.join(b.dir, "cut.bin"), "rb") as f:
        assert sha_bytes(f.read()) == sha_bytes(data)
    assert partials(b.dir) == []


def test_upload_to_tetherd_sender_sigkill(env):
    b = Receiver(env)
    a = Sender(env)
    size = 6 * MiB
    data = blob(size, 7)
    src = a.put("slow.bin", data)
    t = a.start(src, f"tether://127.0.0.1:{b.d.port}{b.dir}/slow.bin", "--cacert",
                cert(b.d), "--async", "--max-rate", str(2 * MiB), "--retry-delay", "1")
    H.wait_for(lambda: a.show(t["id"])["bytes_transferred"] >= 2 * MiB, 60, "progress")
    # the sending daemon and its worker die; the receiver keeps what it has
    a.d.kill()
    for pid in subprocess.run(["pgrep", "-f", f"__transfer {a.d.state}"],
                              capture_output=True, text=True).stdout.split():
        os.kill(int(pid), signal.SIGKILL)
    held = b.d.query("SELECT received FROM uploads")[0][0]
    assert 0 < held < size, held
    a.d.start()
    done = a.wait(t["id"], ("Transferred",), timeout=120)
    assert done["bytes_transferred"] == size
    assert len(b.d.query("SELECT id FROM uploads")) == 1
    assert not any("restarted from zero" in n for n in done.get("notes", [])), done
    r = a.c.run("transfer", "complete", "-s", a.session, str(t["id"]))
    assert r.returncode == 0, r.stderr
    with open(os.path.join(b.dir, "slow.bin"), "rb") as f:
        assert sha_bytes(f.read()) == sha_bytes(data)


def test_upload_to_tetherd_source_changed_or_upload_gone(env):
    """Between attempts the local file changes (a new upload, the old one
    deleted on the receiver), or the receiver loses the upload (a new one):
    either way the job says so in its notes and the result is the file as
    it is now, never a mix."""
    b = Receiver(env)
    a = Sender(env)
    size = 4 * MiB
    src = a.put("chg.bin", blob(size, 8))
    url = f"tether://127.0.0.1:{b.d.port}{b.dir}/chg.bin"
    t = a.start(src, url, "--cacert", cert(b.d), "--async", "--max-rate", str(MiB))

    def pause_after_progress(old=()):
        # bytes in an upload other than the old ones (a quick resume and
        # suspend can come before the sender has replaced the old upload)
        H.wait_for(lambda: [u for u in b.d.query("SELECT id FROM uploads WHERE done = 0 AND "
                                                 "received > 0") if u not in old],
                   60, "bytes at the receiver")
        r = a.c.run("transfer", "suspend", "-s", a.session, str(t["id"]))
        assert r.returncode == 0, r.stderr
        a.wait(t["id"], ("Suspended",))
        return b.d.query("SELECT id FROM uploads WHERE done = 0")

    first = pause_after_progress()
    assert len(first) == 1, first
    new = blob(size, 9)   # same size, other bytes, a later mtime
    time.sleep(0.01)
    a.put("chg.bin", new)
    assert a.c.run("transfer", "set", "-s", a.session, str(t["id"]), "--max-rate",
                   str(MiB)).returncode == 0
    assert a.c.run("transfer", "resume", "-s", a.session, str(t["id"])).returncode == 0
    second = pause_after_progress(first)
    # the old upload was deleted on the receiver, with its partial
    assert len(second) == 1 and second != first, (first, second)
    assert len(partials(b.dir)) == 1
    # now the receiver loses the upload (deleted there)
    st, _, _ = b.d.request("DELETE", "/v1/uploads/" + second[0][0], token=b.tok)
    assert st == 204
    assert a.c.run("transfer", "set", "-s", a.session, str(t["id"]), "--max-rate",
                   "0").returncode == 0
    assert a.c.run("transfer", "resume", "-s", a.session, str(t["id"])).returncode == 0
    done = a.wait(t["id"], ("Transferred",))
    notes = " | ".join(done["notes"])
    assert "local file changed" in notes and "no longer had the upload" in notes, notes
    assert a.c.run("transfer", "complete", "-s", a.session, str(t["id"])).returncode == 0
    with open(os.path.join(b.dir, "chg.bin"), "rb") as f:
        assert sha_bytes(f.read()) == sha_bytes(new)
    assert partials(b.dir) == []


def test_upload_to_tetherd_through_an_authenticating_proxy(env):
    """--proxy-user reaches libtether too: a tether:// upload through a
    proxy that requires a login (tinyproxy BasicAuth, CONNECT), the proxy
    password on stdin after --user's."""
    try:
        tp = S.Tinyproxy(env.root, auth=("pu", "pp-secret")).start()
    except S.FixtureUnavailable as e:
        print(f"UNAVAILABLE: proxy authentication (tinyproxy): {e.reason}", flush=True)
        return
    try:
        b = Receiver(env)
        a = Sender(env)
        data = blob(MiB + 3, 8)
        src = a.put("px.bin", data)
        url = f"tether://127.0.0.1:{b.d.port}{b.dir}/"
        r = a.c.run("transfer", "start", "-s", a.session, "--upload", src, url, "--cacert",
                    cert(b.d), "--proxy-list", f"127.0.0.1:{tp.port}", "--proxy-user", "pu",
                    "--user", "alice", "--password-stdin", "--json",
                    input=f"{H.PASSWORD}\npp-secret\n", timeout=120)
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert json.loads(r.stdout)["state"] == "Acknowledged", r.stdout
        with open(os.path.join(b.dir, "px.bin"), "rb") as f:
            assert sha_bytes(f.read()) == sha_bytes(data)
        assert tp.requests() >= 1, tp.requests()
    finally:
        tp.stop()


if __name__ == "__main__":
    H.main(globals())
