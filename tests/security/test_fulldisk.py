"""A full state filesystem: nothing may be acknowledged that was not saved.
The daemon's state dir is a small tmpfs that the test fills; a write the
database cannot commit must answer a 5xx JSON error (507
insufficient_storage), and after space returns and the daemon restarts,
what was acknowledged is there and nothing else. (A failed COMMIT used to be
ignored: 201 for a session that never reached the disk.) See
docs/security.md."""
import os
import sqlite3
import subprocess

import harness as H

CID = {"X-Tether-Client": "c" * 32}


def mount_small(d, size="24m"):
    os.makedirs(d.state, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", d.state],
                   check=True)


def fill(path):
    """Fill the filesystem holding path; returns the filler's name."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        except OSError:
            pass
    return filler


def checkpoint(d):
    """Empty the WAL, so the next commit must grow it."""
    c = sqlite3.connect(os.path.join(d.state, "tether.db"), timeout=10)
    try:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        c.close()


def test_full_disk_acknowledges_nothing_unsaved(env):
    if os.geteuid() != 0:
        print("SKIPPED: needs root to mount a small tmpfs")
        return
    d = env.daemon(start=False)
    mount_small(d)
    try:
        d.start()
        d.add_user("alice")
        tok = d.token_for("alice")
        answers = {}
        checkpoint(d)
        filler = fill(d.state)
        for i in range(5):
            name = f"full{i}"
            st, _, doc = d.request("POST", "/v1/sessions", {"name": name}, token=tok,
                                   headers=CID)
            answers[name] = (st, doc)
            assert st in (201, 507), (st, doc)
            if st == 507:
                H.expect_error(doc, "insufficient_storage")
        print(f"  on a full disk: {sorted(st for st, _ in answers.values())}")
        assert any(st == 507 for st, _ in answers.values()), answers
        assert d.healthy()
        os.unlink(filler)
        d.restart()
        saved = {r[0] for r in d.query("SELECT name FROM sessions")}
        for name, (st, _) in answers.items():
            assert (name in saved) == (st == 201), (name, st, saved)
        # space is back: writes work again
        st, _, doc = d.request("POST", "/v1/sessions", {"name": "after"},
                               token=d.token_for("alice"), headers=CID)
        assert st == 201, (st, doc)
    finally:
        if d.proc is not None:
            d.stop()
        subprocess.run(["umount", "-l", d.state], check=False)



def records_whole(path):
    """True if the output log is a sequence of whole records (common/outlog.h:
    a stream byte and a 4-byte little-endian payload length, then it)."""
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        if len(data) - pos < 5 or data[pos] not in (1, 2, 3, 4):
            return False
        pos += 5 + int.from_bytes(data[pos + 1:pos + 5], "little")
    return pos == len(data)


def test_job_output_on_a_full_disk(env):
    if os.geteuid() != 0:
        print("SKIPPED: needs root to mount a small tmpfs")
        return
    d = env.daemon(start=False)
    mount_small(d, "16m")
    try:
        d.start()
        d.add_user("alice")
        c = env.client()
        c.login(d, "alice")
        c.json("session", "new", d.host, "--name", "w")
        s = f"{d.host}/w"
        # 40 MB of output into a 16 MB filesystem, nobody reading it
        j = c.json("job", "start", s, "--name", "big", "--",
                   "yes x | head -c 40000000; exit 3")
        done = H.wait_for(lambda: (lambda x: x if x["state"] != "Running" else None)(
            {y["name"]: y for y in c.json("job", "list", "-s", s)}["big"]), 60,
            "the job to end on the full disk")
        print(f"  job on a full disk: {done['state']}, exit {done.get('exit_code')}, "
              f"error {done.get('error')!r}")
        assert done["exit_code"] == 3, done
        assert "could not be kept" in (done.get("error") or ""), done
        log = os.path.join(d.state, "spool", "jobs", str(j["id"]), "output.log")
        assert os.path.getsize(log) > 0 and records_whole(log), "half a record in the log"
        # what was written is readable, and receive ends
        r = c.run("job", "receive", "-s", s, "big", "--wait", timeout=60)
        assert len(r.stdout) > 1000000 and set(r.stdout) == {"x", "\n"}, (len(r.stdout), r.stderr)
        # ... with the command's status, and says that output was lost
        assert r.returncode == 3, r.returncode
        assert "could not be kept" in r.stderr, r.stderr[-300:]
    finally:
        if d.proc is not None:
            d.stop()
        subprocess.run(["umount", "-l", d.state], check=False)


if __name__ == "__main__":
    H.main(globals())
