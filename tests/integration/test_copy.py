"""tether copy: files to and from a session's host through the real CLI and
a root daemon (docs/copy.md). Files land owned by the user's OS account;
a copy cut by a proxy goes on from the server's offset when run again; a
partial file left here is resumed with a Range request; a tampered partial
(either side) is caught by the SHA-256 check; a missing file is not_found,
a directory without -r a 400; another user's file and a symlink out of the
account's reach are the account's rights to judge; -r and -p both ways;
fleets through -H TARGETS and -s TARGETS/NAME."""
import hashlib
import json
import os
import pwd
import stat
import subprocess

import harness as H
import servers as S

# The fault proxy cuts each new connection: every `tether` here makes its
# own (a control master, docs/cli.md "Connection sharing", would reuse one).
os.environ["TETHER_CONTROL_PERSIST"] = "no"

MiB = 1 << 20


def blob(n, seed=1):
    """n bytes that differ everywhere (a misplaced chunk is caught)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest() * 64
        i += 1
    return bytes(out[:n])


def sha(b):
    return hashlib.sha256(b).hexdigest()


def read(p):
    with open(p, "rb") as f:
        return f.read()


class Setup:
    """A daemon with alice, her session, a remote directory her OS account
    owns, and a local directory for this client."""

    def __init__(self, env, proxy=None, config=None):
        self.d = env.daemon(config=config)
        if proxy is not None:   # everything goes through it
            proxy.target = ("127.0.0.1", self.d.port)
        self.d.add_user("alice")
        self.acct = H.os_account("alice")
        self.uid = pwd.getpwnam(self.acct).pw_uid
        self.c = env.client()
        self.host = f"127.0.0.1:{proxy.port}" if proxy else self.d.host
        r = self.c.run("login", f"alice@{self.host}", "--password-stdin", "--accept-new",
                       input=H.PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        self.c.json("session", "new", self.host, "--name", "cp")
        self.s = f"{self.host}/cp"
        self.remote = os.path.join(env.root, "remote")
        os.makedirs(self.remote)
        subprocess.run(["chown", self.acct, self.remote], check=True)
        self.local = os.path.join(env.root, "local")
        os.makedirs(self.local)

    def copy(self, *args):
        return self.c.run("copy", "-s", self.s, *args, timeout=120)

    def copy_json(self, *args):
        r = self.c.run("copy", "-s", self.s, *args, "--json", timeout=120)
        assert r.returncode == 0, (r.returncode, r.stderr, r.stdout)
        return json.loads(r.stdout)

    def error(self, *args, code, rc=255):
        r = self.c.run("copy", "-s", self.s, *args, "--json", timeout=120)
        assert r.returncode == rc, (r.returncode, r.stderr, r.stdout)
        doc = json.loads(r.stdout)
        assert doc["error"]["code"] == code, doc
        return doc["error"]["message"]


def test_to_and_from_a_session(env):
    t = Setup(env)
    data = blob(3 * MiB + 7, 1)
    src = H.put_file(t.local, "a.bin", data, 0o640)
    # into a directory (the name kept), then under another name
    done = t.copy_json("--to", src, t.remote + "/")
    dst = os.path.join(t.remote, "a.bin")
    assert done == [{"source": src, "destination": dst, "size": len(data),
                     "resumed_from": 0}], done
    assert read(dst) == data
    st = os.stat(dst)
    assert st.st_uid == t.uid, (st.st_uid, t.uid)   # written as the account
    assert stat.S_IMODE(st.st_mode) == 0o640, oct(st.st_mode)
    t.copy_json("--to", src, os.path.join(t.remote, "b.bin"))
    assert read(os.path.join(t.remote, "b.bin")) == data
    # no partial files left on the far side
    assert sorted(os.listdir(t.remote)) == ["a.bin", "b.bin"], os.listdir(t.remote)
    # and back: into a directory, then to a file name
    back = os.path.join(t.local, "back")
    os.makedirs(back)
    done = t.copy_json("--from", dst, back)
    assert done[0]["destination"] == os.path.join(back, "a.bin"), done
    assert read(os.path.join(back, "a.bin")) == data
    t.copy_json("--from", os.path.join(t.remote, "b.bin"), os.path.join(back, "c.bin"))
    assert read(os.path.join(back, "c.bin")) == data
    assert sorted(os.listdir(back)) == ["a.bin", "c.bin"], os.listdir(back)
    # an empty file both ways
    e = H.put_file(t.local, "empty", b"")
    t.copy_json("--to", e, t.remote)
    assert read(os.path.join(t.remote, "empty")) == b""
    t.copy_json("--from", os.path.join(t.remote, "empty"), os.path.join(back, "e2"))
    assert read(os.path.join(back, "e2")) == b""
    # progress on a terminal only: none on a pipe, a line on a pty (stderr)
    r = t.copy("--to", src, os.path.join(t.remote, "b.bin"))
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r
    rc, out, shown = H.on_terminal(t.c.env(), "copy", "-s", t.s, "--from", dst,
                                   os.path.join(back, "tty.bin"))
    assert rc == 0 and out == b"", shown
    assert b"\r" in shown and b"100%" in shown, shown
    os.unlink(os.path.join(back, "tty.bin"))
    # several sources need a directory
    r = t.copy("--to", src, e, os.path.join(t.remote, "nodir"))
    assert r.returncode == 2 and "several sources" in r.stderr, (r.returncode, r.stderr)


def test_to_resumes_after_a_cut(env):
    # a proxy that cuts each connection after 6 MiB client -> server: the
    # first 4 MiB append goes in whole, the second is cut mid-request
    px = S.FaultProxy(0).start()
    try:
        t = Setup(env, proxy=px)
        data = blob(12 * MiB + 3, 2)
        src = H.put_file(t.local, "big.bin", data)
        dst = os.path.join(t.remote, "big.bin")
        px.cut_up_after = 6 * MiB
        r = t.copy("--to", src, dst)
        assert r.returncode == 255, (r.returncode, r.stderr)
        assert not os.path.exists(dst)
        parts = [n for n in os.listdir(t.remote) if n.startswith(".big.bin.tether-up-")]
        assert len(parts) == 1, os.listdir(t.remote)
        # (the cut append's bytes may sit past the offset until the next one)
        assert os.stat(os.path.join(t.remote, parts[0])).st_size >= 4 * MiB
        px.cut_up_after = None
        done = t.copy_json("--to", src, dst)
        assert done[0]["resumed_from"] == 4 * MiB, done
        assert read(dst) == data
        assert os.stat(dst).st_uid == t.uid
        assert os.listdir(t.remote) == ["big.bin"], os.listdir(t.remote)

        # a tampered partial on the far side: the whole file's SHA-256 fails
        src2 = H.put_file(t.local, "two.bin", blob(12 * MiB, 3))
        dst2 = os.path.join(t.remote, "two.bin")
        px.cut_up_after = 6 * MiB
        assert t.copy("--to", src2, dst2).returncode == 255
        part = [n for n in os.listdir(t.remote) if n.startswith(".two.bin.tether-up-")][0]
        with open(os.path.join(t.remote, part), "r+b") as f:
            f.write(b"X" * 16)
        px.cut_up_after = None
        msg = t.error("--to", src2, dst2, code="checksum_mismatch")
        assert "SHA-256" in msg, msg
        assert not os.path.exists(dst2)
        # the upload started again: the next copy is a true one
        done = t.copy_json("--to", src2, dst2)
        assert done[0]["resumed_from"] == 0, done
        assert read(dst2) == read(src2)
    finally:
        px.stop()


def test_from_resumes_a_partial_and_catches_tampering(env):
    t = Setup(env)
    data = blob(5 * MiB + 11, 4)
    H.put_file(t.remote, "f.bin", data)
    os.chown(os.path.join(t.remote, "f.bin"), t.uid, -1)
    out = os.path.join(t.local, "f.bin")
    part = os.path.join(t.local, ".f.bin.tether-part")
    # a first run that stopped after 2 MiB: the next goes on from there
    H.put_file(t.local, ".f.bin.tether-part", data[:2 * MiB])
    done = t.copy_json("--from", os.path.join(t.remote, "f.bin"), out)
    assert done[0]["resumed_from"] == 2 * MiB, done
    assert read(out) == data
    assert not os.path.exists(part)
    # a partial with wrong bytes: caught, deleted, nothing put in place
    out2 = os.path.join(t.local, "g.bin")
    H.put_file(t.local, ".g.bin.tether-part", b"\0" * MiB)
    msg = t.error("--from", os.path.join(t.remote, "f.bin"), out2, code="checksum_mismatch")
    assert "deleted" in msg, msg
    assert not os.path.exists(out2)
    assert not os.path.exists(os.path.join(t.local, ".g.bin.tether-part"))
    done = t.copy_json("--from", os.path.join(t.remote, "f.bin"), out2)
    assert done[0]["resumed_from"] == 0 and read(out2) == data, done


def test_bad_input(env):
    t = Setup(env)
    tok = t.d.token_for("alice")
    sub = os.path.join(t.remote, "sub")
    os.makedirs(sub)
    os.chown(sub, t.uid, -1)
    # a missing file: 404 not_found, from the route and through the CLI
    st, _, doc = t.d.request("GET", "/v1/files?path=" + t.remote + "/nope", token=tok)
    assert st == 404, (st, doc)
    H.expect_error(doc, "not_found")
    st, _, doc = t.d.request("GET", "/v1/files/content?path=" + t.remote + "/nope", token=tok)
    assert st == 404, (st, doc)
    t.error("--from", t.remote + "/nope", t.local, code="not_found")
    # a relative path is under the account's home
    home = pwd.getpwnam(t.acct).pw_dir
    st, _, doc = t.d.request("GET", "/v1/files?path=no%20such", token=tok)
    assert st == 404 and home + "/no such" in doc["error"]["message"], (st, doc)
    # a directory without -r: 400 there, refused here
    st, _, doc = t.d.request("GET", "/v1/files/content?path=" + sub, token=tok)
    assert st == 400, (st, doc)
    H.expect_error(doc, "invalid_argument")
    assert "-r" in doc["error"]["message"], doc
    t.error("--from", sub, t.local, code="invalid_argument")
    t.error("--to", t.local, t.remote, code="usage", rc=2)
    # malformed requests change nothing
    for q in ("", "?path=", "?path=%zz", "?path=a%00b", "?path=x&sha256=2"):
        st, _, doc = t.d.request("GET", "/v1/files" + q, token=tok)
        assert st == 400, (q, st, doc)
    st, _, doc = t.d.request("GET", "/v1/files/content?path=" + t.remote, token=tok,
                             headers={"Range": "bytes=9-3"})
    assert st == 400, (st, doc)
    st, _, doc = t.d.request("GET", "/v1/files?path=/", token=None)
    assert st == 401, (st, doc)
    st, _, doc = t.d.request("POST", "/v1/files", {"path": sub + "/x", "type": "file"},
                             token=tok)
    assert st == 400 and not os.path.exists(sub + "/x"), (st, doc)
    # another user's file, and a symlink to one: the account's rights decide
    secret = H.put_file(env.root, "secret", b"root only", 0o600)
    os.symlink(secret, os.path.join(t.remote, "link"))
    t.error("--from", secret, t.local, code="forbidden")
    t.error("--from", os.path.join(t.remote, "link"), t.local, code="forbidden")
    assert os.listdir(t.local) == [], os.listdir(t.local)
    # a symlink to what the account may read is followed
    ok = H.put_file(env.root, "public", b"anyone", 0o644)
    os.symlink(ok, os.path.join(t.remote, "plink"))
    t.copy_json("--from", os.path.join(t.remote, "plink"), os.path.join(t.local, "p"))
    assert read(os.path.join(t.local, "p")) == b"anyone"
    # writing where the account may not
    rootdir = os.path.join(env.root, "rootdir")
    os.makedirs(rootdir)
    t.error("--to", ok, rootdir + "/", code="forbidden")
    assert os.listdir(rootdir) == []
    # a session that does not exist
    r = t.c.run("copy", "-s", t.d.host + "/nosuch", "--to", ok, "x", "--json")
    assert r.returncode == 255 and json.loads(r.stdout)["error"]["code"] == "not_found", r
    # -H HOST needs no session; a relative REMOTE is under the account's home
    r = t.c.run("copy", "-H", t.d.host, "--to", ok, "tether-copy-test-x")
    home_x = os.path.join(pwd.getpwnam(t.acct).pw_dir, "tether-copy-test-x")
    assert r.returncode == 0 and os.path.isfile(home_x), (r.returncode, r.stderr)
    os.unlink(home_x)
    r = t.c.run("copy", "-s", t.s, ok, "x")
    assert r.returncode == 2 and "--to" in r.stderr, (r.returncode, r.stderr)


def test_recursive_and_preserve(env):
    t = Setup(env)
    tree = os.path.join(t.local, "tree")
    os.makedirs(os.path.join(tree, "sub", "deeper"))
    H.put_file(tree, "x.sh", b"#!/bin/sh\necho x\n", 0o750)
    H.put_file(os.path.join(tree, "sub"), "y.txt", blob(100000, 5), 0o600)
    H.put_file(os.path.join(tree, "sub", "deeper"), "z", b"z", 0o644)
    os.utime(os.path.join(tree, "x.sh"), (1500000000, 1500000000))
    os.chmod(os.path.join(tree, "sub"), 0o750)
    os.utime(os.path.join(tree, "sub"), (1400000000, 1400000000))
    done = t.copy_json("--to", "-r", "-p", tree, t.remote)
    assert len(done) == 3, done
    rt = os.path.join(t.remote, "tree")
    for rel in ("x.sh", "sub/y.txt", "sub/deeper/z"):
        a, b = os.path.join(tree, rel), os.path.join(rt, rel)
        assert read(a) == read(b), rel
        assert stat.S_IMODE(os.stat(a).st_mode) == stat.S_IMODE(os.stat(b).st_mode), rel
        assert os.stat(b).st_uid == t.uid, rel
    assert int(os.stat(os.path.join(rt, "x.sh")).st_mtime) == 1500000000
    assert stat.S_IMODE(os.stat(os.path.join(rt, "sub")).st_mode) == 0o750
    assert int(os.stat(os.path.join(rt, "sub")).st_mtime) == 1400000000
    assert os.stat(os.path.join(rt, "sub")).st_uid == t.uid
    # a long listing comes a page at a time (the client gathers the pages)
    many = os.path.join(t.remote, "many")
    os.makedirs(many)
    for i in range(520):
        open(os.path.join(many, f"f{i:04d}"), "wb").close()
    tok = t.d.token_for("alice")
    st, _, doc = t.d.request("GET", f"/v1/files?path={many}&entries=1", token=tok)
    assert st == 200 and len(doc["entries"]) == 500 and doc["more"], (st, len(doc["entries"]))
    st, _, doc = t.d.request("GET", f"/v1/files?path={many}&entries=1&after=f0499", token=tok)
    assert st == 200 and [e["name"] for e in doc["entries"]] == \
        [f"f{i:04d}" for i in range(500, 520)] and not doc["more"], doc
    done = t.copy_json("--from", "-r", many, os.path.join(t.local, "many"))
    assert len(done) == 520 and len(os.listdir(os.path.join(t.local, "many"))) == 520
    # and back, under another name
    back = os.path.join(t.local, "back")
    done = t.copy_json("--from", "-r", "-p", rt, back)
    assert len(done) == 3, done
    for rel in ("x.sh", "sub/y.txt", "sub/deeper/z"):
        a, b = os.path.join(tree, rel), os.path.join(back, rel)
        assert read(a) == read(b), rel
        assert stat.S_IMODE(os.stat(a).st_mode) == stat.S_IMODE(os.stat(b).st_mode), rel
    assert int(os.stat(os.path.join(back, "x.sh")).st_mtime) == 1500000000
    assert int(os.stat(os.path.join(back, "sub")).st_mtime) == 1400000000


STALLFS = os.environ.get("STALLFS", "build/tests/tools/stallfs")


def test_a_stalled_file_system_costs_user_io_timeout(env):
    """A FUSE mount whose files never answer a read or a write (a hung NFS
    server looks the same): copy --from, a checksum and an upload into it
    fail within user_io_timeout (2 s here) with a message naming it, and
    the daemon answers other requests all along."""
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse") or not os.path.exists(STALLFS):
        print("  (skipped: needs root, /dev/fuse and tests/tools/stallfs)")
        return
    t = Setup(env, config={"user_io_timeout": 2})
    mnt = os.path.join(t.remote, "stall")
    os.makedirs(mnt)
    pw = pwd.getpwnam(t.acct)
    before = set(S.children(t.d.proc.pid))
    fs = subprocess.Popen([STALLFS, mnt, str(pw.pw_uid), str(pw.pw_gid), "f.bin"],
                          stderr=subprocess.PIPE)
    try:
        H.wait_for(lambda: os.path.ismount(mnt), 10, "stallfs to mount")
        p = subprocess.Popen([H.TETHER, "copy", "-s", t.s, "--from", mnt + "/f.bin",
                              os.path.join(t.local, "f.bin")], env=t.c.env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        # while it waits on the file, the daemon serves the rest
        r = t.c.run("session", "list", t.host)
        assert r.returncode == 0 and "cp" in r.stdout, r
        out, err = p.communicate(timeout=120)
        assert p.returncode == 255, (p.returncode, out, err)
        assert b"f.bin to its end in time" in err, err
        assert not os.path.exists(os.path.join(t.local, "f.bin"))
        # its checksum: 503, the file system named as the cause
        tok = t.d.token_for("alice")
        st, _, doc = t.d.request("GET", "/v1/files?sha256=1&path=" + mnt + "/f.bin", token=tok)
        assert st == 503, (st, doc)
        H.expect_error(doc, "unavailable")
        assert "user_io_timeout" in doc["error"]["message"], doc
        # an upload into it: its first append's write never returns
        src = H.put_file(t.local, "up.bin", b"u" * 100000)
        r = t.c.run("copy", "-s", t.s, "--to", src, mnt + "/", timeout=120)
        assert r.returncode == 255, (r.returncode, r.stderr)
        assert "no answer from its file system within 2 s (user_io_timeout)" in r.stderr, r
        assert t.d.healthy()
        r = t.c.run("session", "list", t.host)
        assert r.returncode == 0, r
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        fs.kill()
        fs.wait(timeout=30)
    # the owner's children that stalled were given up on and are reaped
    # later (as the next child of the daemon ends): none stays for good
    tok = t.d.token_for("alice")

    def reaped():
        t.d.request("GET", "/v1/files?path=" + t.remote, token=tok)
        return not set(S.children(t.d.proc.pid)) - before
    H.wait_for(reaped, 30, "the stalled children to be reaped")


def test_fleet_to_and_from(env):
    """-H TARGETS and -s TARGETS/NAME: --to reaches every live host, --from
    writes LOCAL/HOST/...; a host that fails is reported by name and the
    others still copy; exit 1, as invoke on several targets."""
    ds = [env.daemon(f"web{i}") for i in (1, 2, 3)]
    for d in ds:
        d.add_user("alice")
    acct = H.os_account("alice")
    c = env.client()
    inv = os.path.join(env.root, "inventory")
    with open(inv, "w") as f:
        f.write("[web]\n")
        for i, d in enumerate(ds):
            f.write(f"web{i + 1} ansible_host=127.0.0.1 ansible_port={d.port}\n")
        f.write("[all4:children]\nweb\n[all4]\nweb4 ansible_host=127.0.0.1 ansible_port=1\n")
        f.write("[two]\n" + "".join(f"web{i + 1} ansible_host=127.0.0.1 ansible_port={d.port}\n"
                                      for i, d in enumerate(ds[:2])))
    os.environ["TETHER_INVENTORY"] = inv
    r = c.run("login", "@web", "--user", "alice", "--password-stdin", "--accept-new",
              input=H.PASSWORD + "\n", timeout=120)
    assert r.returncode == 0, r.stderr
    # each host writes its own directory (the daemons share this machine)
    remote = os.path.join(env.root, "remote")
    for i in (1, 2, 3):
        os.makedirs(os.path.join(remote, f"h{i}"))
    subprocess.run(["chown", "-R", acct, remote], check=True)
    local = os.path.join(env.root, "local")
    os.makedirs(local)
    data = blob(MiB + 3, 7)
    src = H.put_file(local, "f.bin", data)
    # --to every host of @web, into one shared directory
    r = c.run("copy", "-H", "@web", "--to", src, remote + "/", "--json", timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr)
    done = json.loads(r.stdout)
    assert sorted(x["host"] for x in done) == ["web1", "web2", "web3"], done
    assert read(os.path.join(remote, "f.bin")) == data
    # per-host files to copy back: each host's own name under h1..h3
    for i in (1, 2, 3):
        H.put_file(os.path.join(remote, f"h{i}"), "own.txt", f"host {i}\n".encode())
    subprocess.run(["chown", "-R", acct, remote], check=True)
    # --from with a dead host among them: the others copy, it is named
    back = os.path.join(local, "back")
    r = c.run("copy", "-H", "@all4", "--from", os.path.join(remote, "f.bin"), back,
              timeout=120)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "web4: " in r.stderr and "copy failed on 1 of 4 hosts: web4" in r.stderr, r.stderr
    for h in ("web1", "web2", "web3"):
        assert read(os.path.join(back, h, "f.bin")) == data, h
    # on a terminal: a status line of hosts done and failed, wiped before
    # a host's message and at the end
    rc, _, seen = H.on_terminal(c.env(), "copy", "-H", "@all4", "--from",
                                os.path.join(remote, "f.bin"), os.path.join(local, "tty"))
    assert rc == 1, (rc, seen[-600:])
    assert b"4 of 4 hosts done, 1 failed" in seen, seen[-600:]
    starts = [i for i in range(len(seen)) if seen.startswith(b"tether: web", i)]
    assert starts, seen[-600:]
    for i in starts:   # never after a status line left standing
        assert i == 0 or seen[:i].endswith((b"\r\x1b[K", b"\n")), seen[max(0, i - 80):i + 40]
    assert seen.endswith(b"\r\x1b[Ktether: copy failed on 1 of 4 hosts: web4\r\n"), seen[-200:]
    # -s TARGETS/NAME: the session must be on each host
    r = c.run("session", "new", "@two", "--name", "cp", timeout=60)
    assert r.returncode == 0, r.stderr
    r = c.run("copy", "-s", "@web/cp", "--from", "-r", remote, os.path.join(local, "s"),
              "--json", timeout=120)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "web3: " in r.stderr, r.stderr
    for h in ("web1", "web2"):
        got = os.path.join(local, "s", h, "remote")
        assert read(os.path.join(got, "f.bin")) == data
        assert sorted(os.listdir(got)) == ["f.bin", "h1", "h2", "h3"], os.listdir(got)
    assert not os.path.exists(os.path.join(local, "s", "web3", "remote"))
    # usage: both -s and -H, and a malformed nodeset
    r = c.run("copy", "-s", "web1/cp", "-H", "web1", "--to", src, "x")
    assert r.returncode == 2 and "not both" in r.stderr, r.stderr
    r = c.run("copy", "-H", "web[1-", "--to", src, "x")
    assert r.returncode == 2, r.stderr


if __name__ == "__main__":
    H.main(globals())
