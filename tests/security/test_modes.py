"""File modes of transferred files: a download that replaces an existing
file keeps that file's mode (a 0640 file stayed readable by its group only
until a transfer made it 0644, world-readable); a fresh file gets the
owner's umask as a login sets it, login.defs' UMASK (it was always 022).
See docs/transfers.md."""
import os
import subprocess
import sys

import harness as H

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from test_transfers import World  # noqa: E402


def test_replaced_file_keeps_its_mode(env):
    if os.geteuid() != 0:
        print("SKIPPED: needs root (transfers run as the owner's account)")
        return
    w = World(env)
    src = w.put("data.bin", os.urandom(5000))
    old = os.path.join(w.dst, "data.bin")
    with open(old, "wb") as f:
        f.write(b"old")
    subprocess.run(["chown", w.acct, old], check=True)
    os.chmod(old, 0o640)
    t = w.start({"sources": [src], "destination": old, "priority": "foreground"})
    w.wait_state(t["id"], ("Transferred",))
    st, _, doc = w.req("POST", f"/{t['id']}/complete")
    assert st == 200, (st, doc)
    assert open(old, "rb").read() == open(src, "rb").read()
    mode = os.stat(old).st_mode & 0o7777
    assert mode == 0o640, oct(mode)
    # a fresh file: the umask's mode
    t = w.start({"sources": [src], "destination": w.dst + "/fresh.bin",
                 "priority": "foreground"})
    w.wait_state(t["id"], ("Transferred",))
    st, _, doc = w.req("POST", f"/{t['id']}/complete")
    assert st == 200, (st, doc)
    mode = os.stat(w.dst + "/fresh.bin").st_mode & 0o7777
    assert mode == 0o644, oct(mode)


def test_fresh_file_follows_the_login_umask(env):
    if os.geteuid() != 0:
        print("SKIPPED: needs root (transfers run as the owner's account)")
        return
    defs = "/etc/login.defs"
    saved = open(defs).read() if os.path.exists(defs) else None
    lines = [l for l in (saved or "").splitlines() if not l.strip().startswith("UMASK")]
    try:
        with open(defs, "w") as f:
            f.write("\n".join(lines + ["UMASK\t\t027", ""]))
        w = World(env)
        src = w.put("data.bin", os.urandom(3000))
        t = w.start({"sources": [src], "destination": w.dst + "/private.bin",
                     "priority": "foreground"})
        w.wait_state(t["id"], ("Transferred",))
        st, _, doc = w.req("POST", f"/{t['id']}/complete")
        assert st == 200, (st, doc)
        mode = os.stat(w.dst + "/private.bin").st_mode & 0o7777
        assert mode == 0o640, oct(mode)
    finally:
        if saved is None:
            os.unlink(defs)
        else:
            with open(defs, "w") as f:
                f.write(saved)


def test_upload_is_never_wider_than_its_source(env):
    if os.geteuid() != 0:
        print("SKIPPED: needs root (uploads are made as the owner's account)")
        return
    from test_upload import Receiver, STREAM
    b = Receiver(env)
    for mode, want in ((0o600, 0o600), (0o640, 0o640), (0o755, 0o644), (None, 0o644)):
        dest = os.path.join(b.dir, f"f{mode}.bin")
        body = {"path": dest, "length": 5}
        if mode is not None:
            body["mode"] = mode
        st, _, doc = b.d.request("POST", "/v1/uploads", body, token=b.tok)
        assert st == 201, (st, doc)
        st, _, _ = b.d.request("PATCH", "/v1/uploads/" + doc["id"], b"hello", token=b.tok,
                               headers={"Upload-Offset": "0"}, content_type=STREAM)
        assert st == 204, st
        got = os.stat(dest).st_mode & 0o7777
        assert got == want, (oct(mode or 0), oct(got))
    st, _, doc = b.d.request("POST", "/v1/uploads", {"path": b.dir + "/x", "length": 1,
                                                     "mode": 0o4755}, token=b.tok)
    assert st == 400, (st, doc)


if __name__ == "__main__":
    H.main(globals())
