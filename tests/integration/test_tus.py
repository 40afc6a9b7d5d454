"""Uploads with a stock tus 1.0 client (tus-js-client from npm, driven by
tests/api/tus-upload.mjs under node): creation, chunked appends, a cut and
a resume from the server's offset, the file in place with the owner's
rights; and the protocol's edges by hand: OPTIONS discovery, a foreign
Tus-Resumable version (412), sha1 checksums, a checksum mismatch (460)."""
import base64
import hashlib
import json
import os
import pwd
import subprocess

import harness as H
from harness import main

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api",
                      "tus-upload.mjs")
MiB = 1 << 20


def run_client(node, d, token, src, remote, *extra):
    env = dict(os.environ, NODE_TLS_REJECT_UNAUTHORIZED="0")   # the daemon's own cert
    r = subprocess.run([node, SCRIPT, f"https://127.0.0.1:{d.port}/v1/uploads", token, src,
                        remote, str(MiB), *extra], capture_output=True, text=True, env=env,
                       timeout=120)
    events = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    return r, events


def test_stock_tus_client_uploads_and_resumes(env):
    node = H.node_tools()
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    c.login(d, "alice")
    token = c.token(d, "alice")
    src = os.path.join(env.root, "src.bin")
    data = os.urandom(3 * MiB + 12345)
    with open(src, "wb") as f:
        f.write(data)
    dest_dir = os.path.join(env.root, "in")
    os.makedirs(dest_dir)
    if os.geteuid() == 0:
        acct = pwd.getpwnam(H.os_account("alice"))
        os.chown(dest_dir, acct.pw_uid, acct.pw_gid)
    dest = os.path.join(dest_dir, "copy.bin")
    # the first run is cut after two chunks
    r, ev = run_client(node, d, token, src, dest, "--stop-after", "2")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert [e["event"] for e in ev][-1] == "aborted", ev
    url = next(e["url"] for e in ev if e["event"] == "created")
    assert not os.path.exists(dest)
    upload_id = url.rstrip("/").rsplit("/", 1)[1]
    st, hdrs, _ = d.request("HEAD", f"/v1/uploads/{upload_id}", token=token,
                            headers={"Tus-Resumable": "1.0.0"})
    assert st == 200 and hdrs["upload-offset"] == str(2 * MiB), (st, hdrs)
    assert hdrs["tus-resumable"] == "1.0.0" and hdrs["upload-length"] == str(len(data))
    # the second run picks it up where the server says
    r, ev = run_client(node, d, token, src, dest, "--resume", url)
    assert r.returncode == 0, (r.stdout, r.stderr)
    chunks = [e for e in ev if e["event"] == "chunk"]
    assert chunks[0]["sent"] == 3 * MiB and ev[-1]["event"] == "done", ev   # not from 0
    with open(dest, "rb") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()
    if os.geteuid() == 0:
        assert os.stat(dest).st_uid == acct.pw_uid   # written as the owner
    assert [n for n in os.listdir(dest_dir) if n != "copy.bin"] == [], os.listdir(dest_dir)


def test_tus_protocol_edges(env):
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    c.login(d, "alice")
    tok = c.token(d, "alice")
    st, hdrs, _ = d.request("OPTIONS", "/v1/uploads")   # discovery needs no login
    assert st == 204, st
    assert hdrs["tus-version"] == "1.0.0" and hdrs["tus-resumable"] == "1.0.0", hdrs
    assert set(hdrs["tus-extension"].split(",")) == {"creation", "termination", "checksum"}
    assert "sha1" in hdrs["tus-checksum-algorithm"].split(","), hdrs
    home = os.path.join(env.root, "tus-home")
    path = os.path.join(home, "f.txt")
    os.makedirs(home)
    if os.geteuid() == 0:
        acct = pwd.getpwnam(H.os_account("alice"))
        os.chown(home, acct.pw_uid, acct.pw_gid)
    meta = "path " + base64.b64encode(path.encode()).decode()
    # another protocol version: 412, nothing created
    n = d.query("SELECT count(*) FROM uploads")
    st, hdrs, doc = d.request("POST", "/v1/uploads", b"", token=tok, content_type=None,
                              headers={"Tus-Resumable": "0.2.2", "Upload-Length": "5",
                                       "Upload-Metadata": meta})
    assert st == 412 and hdrs["tus-version"] == "1.0.0", (st, hdrs)
    H.expect_error(doc, "precondition_failed")
    assert d.query("SELECT count(*) FROM uploads") == n
    # no path in the metadata: 400
    st, _, doc = d.request("POST", "/v1/uploads", b"", token=tok, content_type=None,
                           headers={"Tus-Resumable": "1.0.0", "Upload-Length": "5",
                                    "Upload-Metadata": "filetype dGV4dA=="})
    assert st == 400, st
    st, hdrs, _ = d.request("POST", "/v1/uploads", b"", token=tok, content_type=None,
                            headers={"Tus-Resumable": "1.0.0", "Upload-Length": "5",
                                     "Upload-Metadata": meta})
    assert st == 201 and hdrs["tus-resumable"] == "1.0.0", (st, hdrs)
    loc = hdrs["location"]
    stream = {"Tus-Resumable": "1.0.0", "Upload-Offset": "0"}
    bad = dict(stream, **{"Upload-Checksum": "sha1 " + base64.b64encode(
        hashlib.sha1(b"other").digest()).decode()})
    st, hdrs, doc = d.request("PATCH", loc, b"hello", token=tok, headers=bad,
                              content_type="application/offset+octet-stream")
    assert st == 460, (st, doc)
    H.expect_error(doc, "checksum_mismatch")
    good = dict(stream, **{"Upload-Checksum": "sha1 " + base64.b64encode(
        hashlib.sha1(b"hello").digest()).decode()})
    st, hdrs, _ = d.request("PATCH", loc, b"hello", token=tok, headers=good,
                            content_type="application/offset+octet-stream")
    assert st == 204 and hdrs["upload-offset"] == "5" and hdrs["tus-resumable"] == "1.0.0"
    with open(path) as f:
        assert f.read() == "hello"
    st, hdrs, _ = d.request("DELETE", loc, token=tok, headers={"Tus-Resumable": "1.0.0"})
    assert st == 204 and hdrs["tus-resumable"] == "1.0.0", st


if __name__ == "__main__":
    main(globals())
