"""Output buffering at the per-job cap: block (the job waits, Blocked, until
a receive drains it, and every byte arrives) and drop (the oldest unreceived
output is discarded and the receiver is told exactly how much), a policy
change that frees a blocked job, and bad input to session set."""
import hashlib
import os
import re

from harness import expect_error, main, wait_for
from test_invoke import setup

CAP = 1024 * 1024
LINES = 13_000_000          # seq 1 LINES: about 106 MB, every line distinct
CONFIG = {"output_cap": CAP}


def expected(lines=LINES):
    return "".join(f"{i}\n" for i in range(1, lines + 1)).encode()


def job_state(c, s, job):
    return next(x for x in c.json("job", "list", "-s", s) if x["id"] == job["id"])


def log_size(d, job):
    return os.path.getsize(os.path.join(d.state, "spool", "jobs", str(job["id"]),
                                        "output.log"))


def run_bytes(c, *args, timeout=600):
    """Run tether with stdout captured as bytes (the output is large)."""
    import subprocess
    from harness import TETHER
    return subprocess.run([TETHER, *args], env=c.env(), capture_output=True,
                          timeout=timeout)


def dropped_of(stderr):
    got = re.findall(rb"tether: (\d+) bytes of output were dropped here", stderr)
    return sum(int(x) for x in got), len(got)


def test_block_holds_the_job_then_delivers_every_byte(env):
    d, c, s = setup(env, config=CONFIG)
    job = c.json("job", "start", s, "--", f"seq 1 {LINES}")
    wait_for(lambda: job_state(c, s, job)["state"] == "Blocked", what="Blocked")
    st = job_state(c, s, job)
    assert st["has_more_data"] is True
    size = log_size(d, job)
    # held at the cap: at most one more read (64 KiB + header) past it
    assert CAP <= size <= CAP + 65536 + 5, size
    r = run_bytes(c, "job", "receive", "-s", s, str(job["id"]), "--wait")
    assert r.returncode == 0, r.stderr[-500:]
    want = expected()
    assert len(r.stdout) == len(want), (len(r.stdout), len(want))
    assert hashlib.sha256(r.stdout).digest() == hashlib.sha256(want).digest()
    assert b"dropped" not in r.stderr
    st = job_state(c, s, job)
    assert st["state"] == "Completed" and st["exit_code"] == 0
    assert st["has_more_data"] is False


def test_drop_discards_oldest_and_says_how_much(env):
    d, c, s = setup(env, config=CONFIG)
    c.run("session", "set", s, "--output-buffering", "drop")
    assert c.json("session", "list", d.host)[0]["output_buffering"] == "drop"
    job = c.json("job", "start", s, "--", f"seq 1 {LINES}")
    r = c.run("job", "wait", "-s", s, str(job["id"]), "--timeout", "300")
    assert r.returncode == 0, r.stderr
    st = job_state(c, s, job)
    assert st["state"] == "Completed" and st["has_more_data"] is True
    # the log's discarded range no longer takes disk space (where the
    # filesystem can punch holes; reported, not asserted); the receive below
    # delivers all of it, and the finished job's directory then goes
    p = os.path.join(d.state, "spool", "jobs", str(job["id"]), "output.log")
    print(f"drop: log size {os.path.getsize(p)} bytes, on disk "
          f"{os.stat(p).st_blocks * 512} bytes")
    r = run_bytes(c, "job", "receive", "-s", s, str(job["id"]))
    assert r.returncode == 0, r.stderr[-500:]
    want = expected()
    lost, markers = dropped_of(r.stderr)
    assert markers >= 1 and lost > 0
    # nothing silently lost: what was dropped plus what arrived is everything,
    # and what arrived is the newest output, whole lines in order
    assert lost + len(r.stdout) == len(want), (lost, len(r.stdout), len(want))
    assert len(r.stdout) <= CAP
    assert want.endswith(r.stdout)
    assert not os.path.exists(p)
    # a second receive has nothing left, and no marker again
    r = run_bytes(c, "job", "receive", "-s", s, str(job["id"]))
    assert r.returncode == 0 and r.stdout == b"" and b"dropped" not in r.stderr


def test_switching_to_drop_frees_a_blocked_job(env):
    d, c, s = setup(env, config=CONFIG)
    lines = 2_000_000
    job = c.json("job", "start", s, "--", f"seq 1 {lines}; echo done >&2")
    wait_for(lambda: job_state(c, s, job)["state"] == "Blocked", what="Blocked")
    got = c.json("session", "set", s, "--output-buffering", "drop")
    assert got["output_buffering"] == "drop"
    r = c.run("job", "wait", "-s", s, str(job["id"]), "--timeout", "120")
    assert r.returncode == 0, r.stderr
    r = run_bytes(c, "job", "receive", "-s", s, str(job["id"]))
    lost, _ = dropped_of(r.stderr)
    want = expected(lines)
    assert lost + len(r.stdout) == len(want) and want.endswith(r.stdout)
    assert r.stderr.endswith(b"done\n")


def test_block_job_can_still_be_stopped(env):
    d, c, s = setup(env, config=CONFIG)
    job = c.json("job", "start", s, "--", "yes")
    wait_for(lambda: job_state(c, s, job)["state"] == "Blocked", what="Blocked")
    r = c.run("job", "stop", "-s", s, str(job["id"]))
    assert r.returncode == 0, r.stderr
    assert job_state(c, s, job)["state"] == "Stopped"


def test_session_set_bad_input(env):
    d, c, s = setup(env, users=("alice", "bob"))
    r = c.run("session", "new", d.host, "--output-buffering", "maybe")
    assert r.returncode == 2 and "block or drop" in r.stderr
    r = c.run("session", "set", s, "--output-buffering", "sometimes")
    assert r.returncode == 2
    r = c.run("session", "set", s)
    assert r.returncode == 2 and "nothing to change" in r.stderr
    r = c.run("session", "set", s, "--name", "x", "--idle-timeout", "5")
    assert r.returncode == 2 and "cannot be changed" in r.stderr
    r = c.run("session", "set", f"{d.host}/nosuch", "--idle-timeout", "5")
    assert r.returncode == 255 and "no session 'nosuch'" in r.stderr
    tok = d.token_for("alice")
    for body, what in [({"output_buffering": "maybe"}, "block' or 'drop"),
                       ({"output_buffering": 3}, "output_buffering"),
                       ({"idle_timeout": "long"}, "idle_timeout"),
                       ({"idle_timeout": 0}, "idle_timeout"),
                       ([1, 2], "object")]:
        st, _, doc = d.request("PATCH", "/v1/sessions/w", body, token=tok)
        assert st == 400, (body, st, doc)
        assert doc["error"]["code"] in ("invalid_argument", "bad_request"), doc
        assert what in doc["error"]["message"], doc
    # another user's session is not found, and unchanged
    st, _, doc = d.request("PATCH", "/v1/sessions/w", {"output_buffering": "drop"},
                        token=d.token_for("bob"))
    assert st == 404
    expect_error(doc, "not_found")
    got = c.json("session", "list", d.host)[0]
    assert got["output_buffering"] == "block" and got["idle_timeout"] == 7200
    got = c.json("session", "set", s, "--idle-timeout", "60")
    assert got["idle_timeout"] == 60 and got["output_buffering"] == "block"


if __name__ == "__main__":
    main(globals())
