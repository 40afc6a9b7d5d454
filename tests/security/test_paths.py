"""Root and user-writable paths: a transfer worker's directory
(spool/jobs/N/w) belongs to the job's OS account, which can put anything
there while the root daemon works on it. These reproduce the attacks:

- the removal race: while root removes a job's directory, the owner keeps
  swapping a subdirectory of w/ for a symlink to a directory of root-only
  files; a by-path walk (nftw) deleted them through the symlink;
- a FIFO (or symlink, or foreign hard link) in place of w/pid: a blocking
  open under the scheduler's lock froze every user's transfers and even
  shutdown.

See docs/security.md."""
import os
import signal
import subprocess
import sys
import time

import harness as H

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from test_transfers import CID, World  # noqa: E402

NFILES = 400
# the swapper runs as another account: the system interpreter, which it can run
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# Runs as the job's OS account: fill W/d with files named like the victim's
# (W/filled says it is done), then swap W/d for a symlink to the victim dir and back, as fast as it can,
# until W is gone or the deadline passes; prints the number of swaps.
SWAPPER = r"""
import os, sys, time
w, victim, n, until = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
d, real = os.path.join(w, "d"), os.path.join(w, "d.real")
try:
    os.mkdir(d)
    for i in range(n):
        open(os.path.join(d, "f%04d" % i), "w").close()
    open(os.path.join(w, "filled"), "w").close()   # the test removes the job now
except OSError:
    print(0); sys.exit(0)
swaps = 0
while time.time() < until and os.path.isdir(w):
    try:
        os.rename(d, real); os.symlink(victim, d)
        os.unlink(d); os.rename(real, d)
        swaps += 1
    except OSError:
        try:
            os.unlink(d)
        except OSError:
            pass
        try:
            os.rename(real, d)
        except OSError:
            pass
print(swaps)
"""


def need_root():
    if os.geteuid() != 0:
        print("SKIPPED: needs root (the daemon must run as root, jobs as an account)")
        return False
    return True


def victim_dir(env):
    """A root-owned directory of NFILES root-only files outside the spool."""
    v = os.path.join(env.root, "victim")
    os.makedirs(v, exist_ok=True)
    os.chmod(v, 0o755)
    for i in range(NFILES):
        p = os.path.join(v, "f%04d" % i)
        with open(p, "w") as f:
            f.write("root only\n")
        os.chmod(p, 0o600)
    return v


def workdir(w, job):
    return os.path.join(w.d.state, "spool", "jobs", str(job), "w")


def slow_transfer(w, src):
    """A download crawling at 64 KiB/s, whose worker directory exists."""
    t = w.start({"sources": [src], "destination": w.dst + "/", "max_rate": 64 * 1024,
                 "priority": "foreground"})
    H.wait_for(lambda: os.path.exists(os.path.join(workdir(w, t["id"]), "pid")), 30,
               "the worker's pid file")
    return t


def test_removal_race_deletes_nothing_outside_the_tree(env):
    if not need_root():
        return
    w = World(env)
    victim = victim_dir(env)
    src = w.put("big.bin", os.urandom(8 << 20))
    deadline = time.monotonic() + 25
    rounds = swaps = 0
    while time.monotonic() < deadline and rounds < 200:
        t = slow_transfer(w, src)
        sw = subprocess.Popen(["runuser", "-u", w.acct, "--", PY, "-c", SWAPPER,
                               workdir(w, t["id"]), victim, str(NFILES),
                               str(time.time() + 10)],
                              stdout=subprocess.PIPE, text=True)
        # the tree filled (on a loaded machine that takes a while), or the
        # swapper gave up
        H.wait_for(lambda: os.path.exists(os.path.join(workdir(w, t["id"]), "filled")) or
                   sw.poll() is not None, 10, "the swapper's tree")
        time.sleep(0.05)
        st, _, doc = w.req("DELETE", f"/{t['id']}")
        assert st == 200, (st, doc)
        jobdir = os.path.dirname(workdir(w, t["id"]))
        gone = not os.path.exists(jobdir)
        out, _ = sw.communicate(timeout=30)
        assert gone, f"the job dir outlived its removal in round {rounds + 1}"
        swaps += int(out.strip() or 0)
        rounds += 1
        left = len(os.listdir(victim))
        assert left == NFILES, f"root deleted {NFILES - left} files outside the spool " \
                               f"in round {rounds}"
    print(f"  {rounds} removals raced by {swaps} symlink swaps: 0 files lost")
    assert rounds >= 5 and swaps > 0, (rounds, swaps)


def replace_pid(w, job, how, target):
    """As the owner, put a FIFO / symlink / hard link where w/pid is."""
    pid = os.path.join(workdir(w, job), "pid")
    os.unlink(pid)
    if how == "fifo":
        subprocess.run(["runuser", "-u", w.acct, "--", "mkfifo", pid], check=True)
    elif how == "symlink":
        subprocess.run(["runuser", "-u", w.acct, "--", "ln", "-s", target, pid], check=True)
    else:   # a hard link to a file the owner does not own (made as root: the
        os.link(target, pid)   # kernel's protected_hardlinks may refuse the user)


def test_fifo_symlink_hardlink_pid_do_not_stall_or_mislead(env):
    if not need_root():
        return
    w = World(env)
    d = w.d
    # bob: another user, whose transfer must keep moving
    d.add_user("bob")
    btok = d.token_for("bob")
    st, _, _ = d.request("POST", "/v1/sessions", {"name": "B"}, token=btok, headers=CID)
    assert st == 201
    bacct = H.os_account("bob")
    bdst = w.mkdir("bdst", owner=bacct)
    src = w.put("big.bin", os.urandom(4 << 20))
    # a root-only file holding a live pid: following it would mislead the
    # scheduler into signalling or waiting on that process
    secret = os.path.join(env.root, "root-pid")
    with open(secret, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.chmod(secret, 0o600)
    jobs = []
    for how in ("fifo", "symlink", "hardlink"):
        t = slow_transfer(w, src)
        replace_pid(w, t["id"], how, secret)
        jobs.append(t)
    # the scheduler keeps serving: bob's download starts and completes
    bsrc = w.put("b.bin", os.urandom(256 * 1024))
    st, _, bt = d.request("POST", "/v1/sessions/B/transfers",
                          {"sources": [bsrc], "destination": bdst + "/",
                           "priority": "foreground"}, token=btok, headers=CID)
    assert st == 201, bt

    def bob_state():
        st, _, doc = d.request("GET", f"/v1/sessions/B/transfers/{bt['id']}", token=btok,
                               headers=CID)
        return doc["state"] if st == 200 and doc["state"] == "Transferred" else None
    H.wait_for(bob_state, 30, "bob's transfer to finish beside the FIFO")
    # alice's jobs can still be removed, and the daemon still stops
    for t in jobs:
        st, _, doc = w.req("DELETE", f"/{t['id']}")
        assert st == 200, (st, doc)
    assert os.path.exists(secret), "root followed the link"
    d.proc.send_signal(signal.SIGTERM)
    rc = d.proc.wait(timeout=30)
    d.proc = None
    assert rc == 0, rc


if __name__ == "__main__":
    H.main(globals())
