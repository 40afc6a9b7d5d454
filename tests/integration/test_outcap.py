"""Output that does not grow without bound (docs/jobs.md, "Output caps"):
delivered output is released from the log (its disk blocks go, its size
stays) unless received with --keep; a finished invoke whose output was all
delivered loses its job directory but not its record; per-session caps on
unreceived output block (the next job waits, Blocked, until a receive frees
room) or drop (with the exact count); session list --json says how many
bytes each session holds; a per-user cap spans sessions."""
import json
import os
import re
import subprocess

from harness import TETHER, main, wait_for
from test_invoke import inv, setup

MB50 = 50_000_000
STEP = 8 * 1024 * 1024      # JOBLOG_RELEASE_STEP
SESSION_CAP = 2 * 1024 * 1024


def job_dir(d, job):
    return os.path.join(d.state, "spool", "jobs", str(job))


def log_of(d, job):
    return os.path.join(job_dir(d, job), "output.log")


def log_size(d, job):
    try:
        return os.path.getsize(log_of(d, job))
    except FileNotFoundError:
        return 0


def job_state(c, s, job):
    return next(x for x in c.json("job", "list", "-s", s) if x["id"] == job)


def receive(c, s, job, *flags):
    """Receive with stdout as bytes (the output is large)."""
    return subprocess.run([TETHER, "job", "receive", "-s", s, str(job), *flags],
                          env=c.env(), capture_output=True, timeout=300)


def held(c, d):
    return c.json("session", "list", d.host)[0]["output_bytes"]


def test_delivered_output_is_released_kept_output_stays(env):
    d, c, s = setup(env)
    # two jobs write 50 MB each and stay running, so their logs stay
    cmd = f"head -c {MB50} /dev/zero; sleep 60"
    a = c.json("job", "start", s, "--", cmd)["id"]
    b = c.json("job", "start", s, "--", cmd)["id"]
    for j in (a, b):
        wait_for(lambda: log_size(d, j) >= MB50, timeout=120, what=f"job {j}'s output")
    total = log_size(d, a) + log_size(d, b)
    assert held(c, d) == total
    r = receive(c, s, a)
    assert r.returncode == 0 and len(r.stdout) == MB50, (r.returncode, r.stderr)
    r = receive(c, s, b, "--keep")
    assert r.returncode == 0 and len(r.stdout) == MB50, (r.returncode, r.stderr)
    sa, sb = os.stat(log_of(d, a)), os.stat(log_of(d, b))
    print(f"received: size {sa.st_size}, on disk {sa.st_blocks * 512}; kept: size "
          f"{sb.st_size}, on disk {sb.st_blocks * 512}")
    # received: the size (and so every offset) stays, the blocks are gone
    # (released in 8 MiB steps: at most one step's worth stays)
    assert sa.st_size >= MB50 and sa.st_blocks * 512 <= STEP + 64 * 1024
    # --keep: still all there, and still held
    assert sb.st_blocks * 512 >= MB50
    assert held(c, d) == sb.st_size
    assert job_state(c, s, a)["has_more_data"] is False
    assert job_state(c, s, b)["has_more_data"] is True
    # re-reading released output says it is gone, never hands out zeros
    st, hdrs, body = d.request("GET", f"/v1/sessions/w/jobs/{a}/output?offset=0&keep=1",
                               token=d.token_for("alice"))
    assert st == 200 and "no longer kept" in body and "\0\0\0\0" not in body, body[:200]
    assert sa.st_size - STEP <= int(hdrs["x-tether-next"]) <= sa.st_size
    r = receive(c, s, b)   # now without --keep: released as well
    assert r.returncode == 0 and len(r.stdout) == MB50
    assert os.stat(log_of(d, b)).st_blocks * 512 <= STEP + 64 * 1024
    assert held(c, d) == 0
    for j in (a, b):
        c.run("job", "remove", "-s", s, str(j), "--force")


def test_finished_delivered_invoke_leaves_no_directory(env):
    d, c, s = setup(env)
    r = inv(c, s, "seq 1 100000; exit 3")
    assert r.returncode == 3 and r.stdout.endswith("\n100000\n")
    jobs = c.json("job", "list", "-s", s)
    assert len(jobs) == 1
    j = jobs[0]
    # the record stays, with its end; the directory went with its output
    assert j["type"] == "invoke" and j["state"] == "Failed" and j["exit_code"] == 3
    assert j["has_more_data"] is False
    assert not os.path.exists(job_dir(d, j["id"]))
    assert held(c, d) == 0
    # receiving it again: nothing, not an error
    r = c.run("session", "receive", s)
    assert r.returncode == 3 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    # an invoke that was not received keeps its directory until it is
    p = c.popen("invoke", "-s", s, "--", "echo one; sleep 2; echo two")
    wait_for(lambda: len(c.json("job", "list", "-s", s)) == 2, what="the invoke")
    p.kill()
    p.wait()
    wait_for(lambda: job_state(c, s, 2)["state"] == "Completed", timeout=30, what="end")
    assert os.path.isdir(job_dir(d, 2))
    r = c.run("session", "receive", s)
    assert r.returncode == 0 and "two" in r.stdout, r.stderr
    assert not os.path.exists(job_dir(d, 2))


def test_a_silent_invoke_is_delivered_by_its_reply(env):
    d, c, s = setup(env)
    r = inv(c, s, "exit 4")
    assert r.returncode == 4 and r.stdout == "" and r.stderr == "", r
    j = c.json("job", "list", "-s", s)[0]
    assert j["state"] == "Failed" and j["exit_code"] == 4 and j["has_more_data"] is False
    # cleaned by the reply that said it ended, with no acknowledgement
    assert not os.path.exists(job_dir(d, j["id"]))
    assert f"/jobs/{j['id']}/output" not in d.log(), "an acknowledgement was sent"
    # one that wrote something still waits for its acknowledgement
    r = inv(c, s, "echo said")
    assert r.returncode == 0 and r.stdout == "said\n"
    j2 = max(c.json("job", "list", "-s", s), key=lambda x: x["id"])
    assert f"/jobs/{j2['id']}/output" in d.log()
    assert not os.path.exists(job_dir(d, j2["id"]))


def test_session_cap_blocks_the_next_job_until_a_receive(env):
    d, c, s = setup(env, config={"session_output_cap": SESSION_CAP})
    first = 1_500_000
    a = c.json("job", "start", s, "--", f"head -c {first} /dev/zero")["id"]
    assert c.run("job", "wait", "-s", s, str(a)).returncode == 0
    b = c.json("job", "start", s, "--", "head -c 6000000 /dev/zero")["id"]
    wait_for(lambda: job_state(c, s, b)["state"] == "Blocked", timeout=60, what="Blocked")
    stuck = log_size(d, b)
    # held: the cap, give or take one read and the refresh step (docs)
    total = log_size(d, a) + stuck
    assert held(c, d) == total
    assert total <= SESSION_CAP + 320 * 1024, total
    # receiving the first job's output frees room: the second goes on
    r = receive(c, s, a)
    assert r.returncode == 0 and len(r.stdout) == first
    wait_for(lambda: log_size(d, b) > stuck, timeout=30, what="the job going on")
    r = receive(c, s, b, "--wait")
    assert r.returncode == 0 and len(r.stdout) == 6_000_000, (len(r.stdout), r.stderr)
    st = job_state(c, s, b)
    assert st["state"] == "Completed" and st["has_more_data"] is False
    assert held(c, d) == 0


def test_session_cap_drop_counts_exactly(env):
    d, c, s = setup(env, config={"session_output_cap": SESSION_CAP})
    c.run("session", "set", s, "--output-buffering", "drop")
    a = c.json("job", "start", s, "--", "seq 1 200000")["id"]   # 1,288,895 bytes
    assert c.run("job", "wait", "-s", s, str(a)).returncode == 0
    lines = 1_000_000
    b = c.json("job", "start", s, "--", f"seq 1 {lines}")["id"]
    assert c.run("job", "wait", "-s", s, str(b), "--timeout", "120").returncode == 0
    assert held(c, d) <= SESSION_CAP + 320 * 1024
    want = "".join(f"{i}\n" for i in range(1, lines + 1)).encode()
    r = receive(c, s, b)
    assert r.returncode == 0, r.stderr
    got = re.findall(rb"tether: (\d+) bytes of output were dropped here", r.stderr)
    lost = sum(int(x) for x in got)
    assert got and lost + len(r.stdout) == len(want), (lost, len(r.stdout), len(want))
    assert want.endswith(r.stdout)
    # the first job's output, held within the cap, is all there
    r = receive(c, s, a)
    assert r.returncode == 0 and r.stdout.endswith(b"\n200000\n") and b"dropped" not in r.stderr
    assert len(r.stdout) == 1_288_895


def test_concurrent_starts_leave_every_job_the_same_share(env):
    """Jobs started at once each get an equal part of the session's cap,
    whatever order the starts' rebalances (which look at the jobs' files
    with the caps' lock let go) finish in: the last one's shares stand."""
    d, c, s = setup(env, config={"session_output_cap": SESSION_CAP})
    n = 12
    procs = [c.popen("job", "start", s, "--json", "--", "sleep 30") for _ in range(n)]
    jobs = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0, out
        jobs.append(json.loads(out)["id"])

    def limit(job):
        with open(os.path.join(job_dir(d, job), "limit")) as f:
            return int(f.read())
    assert [limit(j) for j in jobs] == [SESSION_CAP // n] * n, [limit(j) for j in jobs]
    for j in jobs:
        c.run("job", "stop", "-s", s, str(j))


def test_user_cap_spans_sessions(env):
    d, c, s = setup(env, config={"user_output_cap": SESSION_CAP})
    c.json("session", "new", d.host, "--name", "w2")
    s2 = f"{d.host}/w2"
    a = c.json("job", "start", s, "--", "head -c 1500000 /dev/zero")["id"]
    assert c.run("job", "wait", "-s", s, str(a)).returncode == 0
    b = c.json("job", "start", s2, "--", "head -c 3000000 /dev/zero")["id"]
    wait_for(lambda: job_state(c, s2, b)["state"] == "Blocked", timeout=60, what="Blocked")
    stuck = log_size(d, b)
    by_name = {x["name"]: x["output_bytes"] for x in c.json("session", "list", d.host)}
    assert by_name == {"w": log_size(d, a), "w2": stuck}, by_name
    r = receive(c, s, a)
    assert r.returncode == 0 and len(r.stdout) == 1_500_000
    wait_for(lambda: log_size(d, b) > stuck, timeout=30, what="the job going on")
    r = receive(c, s2, b, "--wait")
    assert r.returncode == 0 and len(r.stdout) == 3_000_000, (len(r.stdout), r.stderr)


if __name__ == "__main__":
    main(globals())
