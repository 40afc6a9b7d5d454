"""A job's supervisor killed with SIGKILL (the OOM killer, an
administrator's mistake: the supervisor is root's) used to leave the
job's command running untracked: it survived `job stop` and `session
remove`. Now the job is marked ("supervisor vanished") and what is left of
its process group, running as the job's account, is killed: by job stop, by
session remove, and by the daemon's monitor on its own. See
docs/security.md."""
import os
import signal
import sys
import time

import harness as H

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from test_invoke import setup  # noqa: E402


def group_of(d, job_id):
    """(shim pid, process group) of a running job, from its pid file."""
    path = os.path.join(d.state, "spool", "jobs", str(job_id), "pid")
    H.wait_for(lambda: os.path.exists(path), 10, "the job's pid file")
    shim, child = map(int, open(path).read().split()[:2])
    return shim, child


def members(pgid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            fields = st[st.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(p))
    return out


def start_orphan(c, d, s, name):
    """A background job with two sleeping processes; its shim SIGKILLed."""
    j = c.json("job", "start", s, "--name", name, "--",
               "sleep 1000 & sleep 1000; wait")
    shim, pgid = group_of(d, j["id"])
    H.wait_for(lambda: len(members(pgid)) >= 3, 10, "the job's processes")
    os.kill(shim, signal.SIGKILL)
    return j, pgid


def test_job_stop_after_supervisor_killed(env):
    d, c, s = setup(env)
    j, pgid = start_orphan(c, d, s, "orphan")
    c.run("job", "stop", "-s", s, "orphan")
    H.wait_for(lambda: not members(pgid), 10, "the orphaned command to be killed")
    jobs = {x["name"]: x for x in c.json("job", "list", "-s", s)}
    assert jobs["orphan"]["state"] == "Failed", jobs["orphan"]
    assert "supervisor vanished" in (jobs["orphan"].get("error") or ""), jobs["orphan"]


def test_session_remove_after_supervisor_killed(env):
    d, c, s = setup(env)
    _, pgid = start_orphan(c, d, s, "orphan")
    r = c.run("session", "remove", s)
    assert r.returncode == 0, r.stderr
    H.wait_for(lambda: not members(pgid), 10, "the orphaned command to be killed")


def test_monitor_reaps_on_its_own(env):
    d, c, s = setup(env)
    _, pgid = start_orphan(c, d, s, "orphan")
    H.wait_for(lambda: not members(pgid), 15, "the monitor to kill the orphaned command")
    assert "job_orphans_killed" in d.log()


if __name__ == "__main__":
    H.main(globals())
