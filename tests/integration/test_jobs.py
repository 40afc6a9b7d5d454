"""Background jobs kept on the remote host: the job verbs, receive/keep,
wait, stop of a process tree, remove --force, and jobs across a daemon
SIGKILL and a change of client machine."""
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from harness import PASSWORD, expect_error, main, os_account, wait_for
from test_invoke import inv, setup



def test_a_supervisor_writing_its_status_has_not_vanished(env):
    """A supervisor ends by writing the status over the pids in its run file,
    then syncing and renaming it; on a busy disk the sync takes long. A job
    looked at in that window (older than the 10 s a start may take, so the
    daemon looks for its supervisor among the processes) is still Running,
    not Failed with "supervisor vanished", and ends Completed once the
    status lands."""
    d, c, s = setup(env)
    j = c.json("job", "start", s, "--", "sleep 3")

    def job():
        return next(x for x in c.json("job", "list", "-s", s) if x["id"] == j["id"])
    run = os.path.join(d.state, "spool", "jobs", str(j["id"]), "pid")
    wait_for(lambda: os.path.exists(run), 30, "the run file")
    assert job()["state"] == "Running"
    db = d.db()   # as if it had started long ago
    try:
        db.execute("UPDATE jobs SET started = started - 60 WHERE id = ?", (j["id"],))
        db.commit()
    finally:
        db.close()
    pids = open(run).read()
    with open(run, "r+") as f:   # the status half-way: over the pids, not renamed
        f.write('{"exit_code":0}' + " " * max(0, len(pids) - 15))
    assert job()["state"] == "Running", job()
    r = c.run("job", "receive", "-s", s, str(j["id"]), "--wait")
    assert r.returncode == 0, r.stderr
    done = job()
    assert done["state"] == "Completed" and done["exit_code"] == 0, done


def test_start_list_and_snapshot(env):
    d, c, s = setup(env)
    inv(c, s, "cd /tmp; GREETING=snap")
    j = c.json("job", "start", s, "--name", "bg1", "--", 'echo "$GREETING from $PWD"; cd /; sleep 1')
    assert j["name"] == "bg1" and j["type"] == "background" and j["state"] == "Running"
    # a background job does not make the session busy
    assert inv(c, s, "echo concurrent").stdout == "concurrent\n"
    lst = c.json("job", "list", "-s", s)
    assert [(x["name"], x["type"]) for x in lst if x["type"] == "background"] == [("bg1", "background")]
    r = c.run("job", "list", "-s", s)
    assert "HASMOREDATA" in r.stdout and "bg1" in r.stdout
    r = c.run("job", "receive", "-s", s, "bg1", "--wait")
    assert r.returncode == 0 and r.stdout == "snap from /tmp\n", (r.stdout, r.stderr)
    # the job's cd did not touch the session state
    assert inv(c, s, "pwd").stdout == "/tmp\n"
    r = c.run("job", "start", s, "--name", "bg1", "--", "true")
    assert r.returncode == 255 and "already has a job named 'bg1'" in r.stderr


def test_jobs_run_as_the_owner_with_its_groups(env):
    """A job's process is the session owner's account with exactly that
    account's groups (looked up by the daemon, set by the supervisor's
    child before exec), for invokes, background jobs and shells alike."""
    if os.geteuid() != 0:
        print("SKIPPED: needs root to run jobs as another account")
        return
    d, c, s = setup(env)
    acct = os_account("alice")
    for g in ("tt-grp-a", "tt-grp-b"):
        subprocess.run(["groupadd", "-f", g], check=True, capture_output=True)
    subprocess.run(["usermod", "-a", "-G", "tt-grp-a,tt-grp-b", acct], check=True,
                   capture_output=True)
    pw = pwd.getpwnam(acct)
    want = f"{pw.pw_uid} {pw.pw_gid}\n{' '.join(map(str, sorted(os.getgrouplist(acct, pw.pw_gid))))}\n"
    cmd = ("echo $(id -u) $(id -g); id -G | tr ' ' '\\n' | sort -n | paste -sd ' '; "
           "python3 -c 'import os; os.setuid(0)' 2>/dev/null && echo ROOT; true")
    r = inv(c, s, cmd)
    assert r.returncode == 0 and r.stdout == want, (r.stdout, want, r.stderr)
    j = c.json("job", "start", s, "--", cmd)
    r = c.run("job", "receive", "-s", s, str(j["id"]), "--wait")
    assert r.stdout == want, (r.stdout, want)


def test_user_remove_stops_the_users_work(env):
    """`tetherd user remove` beside a running daemon stops the user's jobs
    (whose processes run detached and would otherwise live on as the
    account) and removes their sessions and spool; another user's work is
    untouched."""
    d, c, s = setup(env, users=("alice", "bob"))
    b = env.client("b")
    b.login(d, "bob")
    b.json("session", "new", d.host, "--name", "keep")
    bj = b.json("job", "start", f"{d.host}/keep", "--", "sleep 300")
    c.json("session", "new", d.host, "--name", "second")
    pids = []
    for sess in (s, f"{d.host}/second"):
        j = c.json("job", "start", sess, "--", "sleep 300 & echo $!; wait")
        jdir = os.path.join(d.state, "spool", "jobs", str(j["id"]))
        pids.append(int(wait_for(lambda: c.run("job", "receive", "-s", sess, str(j["id"]),
                                                "--keep").stdout, what="child pid")))
        assert os.path.isdir(jdir)
    r = d.admin("user", "remove", "alice")
    assert r.returncode == 0 and "stopped the work of 2 sessions of alice" in r.stdout, \
        (r.stdout, r.stderr)
    for pid in pids:
        wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                 open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
                 what="job process gone")
    users = {u for (u,) in d.query("SELECT s.name FROM sessions s")}
    assert users == {"keep"}, users
    remaining = d.query("SELECT id, state FROM jobs")
    assert remaining == [(bj["id"], 1)], remaining
    assert os.listdir(os.path.join(d.state, "spool", "jobs")) == [str(bj["id"])]
    # the daemon carries on; bob's job still runs
    assert d.healthy()
    got = b.json("job", "list", "-s", f"{d.host}/keep")
    assert [(x["id"], x["state"]) for x in got] == [(bj["id"], "Running")], got


def test_user_remove_without_a_daemon_and_through_one(env):
    """With no daemon serving, `tetherd user remove` stops the user's work
    itself (holding the state dir's lock, so none starts meanwhile); beside
    a serving daemon it asks the daemon, whose monitor does it, and waits
    for it; either way nothing of the request is left behind."""
    d, c, s = setup(env, users=("alice", "bob"))
    j = c.json("job", "start", s, "--", "sleep 300 & echo $!; wait")
    pid = int(wait_for(lambda: c.run("job", "receive", "-s", s, str(j["id"]),
                                      "--keep").stdout, what="child pid"))
    d.stop()
    r = d.admin("user", "remove", "alice")
    assert r.returncode == 0 and "stopped the work of 1 session of alice" in r.stdout \
        and "removed user alice" in r.stdout, (r.stdout, r.stderr)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
             open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
             what="job process gone")
    assert d.query("SELECT count(*) FROM sessions") == [(0,)]
    assert d.query("SELECT count(*) FROM user_removals") == [(0,)]
    # a second daemon can start: the verb let go of the lock
    d.start()
    b = env.client("b")
    b.login(d, "bob")
    b.json("session", "new", d.host, "--name", "w")
    before = d.query("SELECT count(*) FROM audit WHERE event = 'user_remove'")[0][0]
    r = d.admin("user", "remove", "bob")
    assert r.returncode == 0 and "stopped the work of 1 session of bob" in r.stdout, \
        (r.stdout, r.stderr)
    st, _, _ = d.request("POST", "/v1/login", {"user": "bob", "password": PASSWORD})
    assert st == 401
    assert d.query("SELECT count(*) FROM audit WHERE event = 'user_remove'")[0][0] == before + 1
    assert d.query("SELECT count(*) FROM users WHERE name = 'bob'") == [(0,)]
    assert d.query("SELECT count(*) FROM user_removals") == [(0,)]
    r = d.admin("user", "remove", "bob")
    assert r.returncode == 1 and "no user 'bob'" in r.stderr
    assert d.healthy()
    # a daemon that stops before doing the removal asked of it: the verb
    # takes the lock as soon as it is free and does the work itself
    d.add_user("carol")
    d.proc.send_signal(signal.SIGSTOP)
    p = subprocess.Popen(d.args("user", "remove", "carol"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: d.query("SELECT count(*) FROM user_removals") == [(1,)],
                 what="the removal request")
        d.kill()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0 and "removed user carol" in out, (out, err)
    assert d.query("SELECT count(*) FROM users WHERE name = 'carol'") == [(0,)]
    assert d.query("SELECT count(*) FROM user_removals") == [(0,)]


def test_receive_consumes_unless_keep(env):
    d, c, s = setup(env)
    j = c.json("job", "start", s, "--", "echo one; echo two >&2")
    c.run("job", "wait", "-s", s, str(j["id"]))
    r = c.run("job", "receive", "-s", s, str(j["id"]), "--keep")
    assert r.stdout == "one\n" and r.stderr == "two\n"
    got = c.json("job", "list", "-s", s)[0]
    assert got["has_more_data"] is True and got["state"] == "Completed" and got["exit_code"] == 0
    r = c.run("job", "receive", "-s", s, j["name"])
    assert r.stdout == "one\n" and r.stderr == "two\n"
    assert c.json("job", "list", "-s", s)[0]["has_more_data"] is False
    r = c.run("job", "receive", "-s", s, j["name"])
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""


def test_receive_json_reports_how_the_job_ended(env):
    d, c, s = setup(env)
    j = c.json("job", "start", s, "--", "echo out; exit 5")
    c.run("job", "wait", "-s", s, str(j["id"]))
    r = c.run("job", "receive", "-s", s, str(j["id"]), "--json", "--keep")
    assert r.returncode == 0, r.stderr   # without --wait, receiving succeeded
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 5 and doc["stdout"] == "out\n", doc
    r = c.run("job", "receive", "-s", s, str(j["id"]), "--json", "--wait")
    assert r.returncode == 5 and json.loads(r.stdout)["exit_code"] == 5
    running = c.json("job", "start", s, "--", "echo started; sleep 30")
    wait_for(lambda: c.json("job", "list", "-s", s)[-1]["has_more_data"], 30, "output")
    doc = json.loads(c.run("job", "receive", "-s", s, str(running["id"]), "--json").stdout)
    assert doc["exit_code"] is None and doc["stdout"] == "started\n", doc
    c.run("job", "stop", "-s", s, str(running["id"]))


def test_wait_any_and_timeout(env):
    d, c, s = setup(env)
    fast = c.json("job", "start", s, "--", "exit 3")
    slow = c.json("job", "start", s, "--", "sleep 30")
    r = c.run("job", "wait", "-s", s, str(fast["id"]), str(slow["id"]), "--any", "--json")
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    assert [x["id"] for x in done] == [fast["id"]] and done[0]["state"] == "Failed"
    assert done[0]["exit_code"] == 3
    # the time asked for, to the millisecond, not rounded to whole seconds
    for asked in ("1", "0.5", "1.25"):
        t0 = time.monotonic()
        r = c.run("job", "wait", "-s", s, str(slow["id"]), "--timeout", asked)
        waited = time.monotonic() - t0
        assert r.returncode == 1 and "timed out" in r.stderr, r.stderr
        assert waited >= float(asked), (asked, waited)
    for bad in ("0", "-1", "1.2345", "1.", "x", ".5s"):
        r = c.run("job", "wait", "-s", s, str(slow["id"]), "--timeout", bad)
        assert r.returncode == 2 and "--timeout" in r.stderr, (bad, r.stderr)
    r = c.run("job", "remove", "-s", s, str(slow["id"]))
    assert r.returncode == 255 and "--force" in r.stderr
    r = c.run("job", "remove", "-s", s, str(slow["id"]), "--force")
    assert r.returncode == 0, r.stderr
    assert [x["id"] for x in c.json("job", "list", "-s", s)] == [fast["id"]]


def test_stop_kills_the_tree(env):
    d, c, s = setup(env)
    j = c.json("job", "start", s, "--", "sleep 100 & echo $!; sleep 100 & echo $!; wait")
    pids = []
    wait_for(lambda: len(pids) == 2 or pids.extend(
        int(x) for x in c.run("job", "receive", "-s", s, str(j["id"])).stdout.split()) or
        len(pids) == 2, what="child pids")
    stopped = c.json("job", "stop", "-s", s, str(j["id"]))
    assert stopped[0]["state"] == "Stopped", stopped

    def gone(p):
        try:
            return open(f"/proc/{p}/stat").read().split()[2] == "Z"
        except FileNotFoundError:
            return True
    wait_for(lambda: all(gone(p) for p in pids), what="children gone")


def test_jobs_survive_daemon_kill_and_client_change(env):
    d, c, s = setup(env)
    j = c.json("job", "start", s, "--", "echo before; sleep 1.5; echo after")
    d.kill()
    time.sleep(2)
    d.start()
    b = env.client("b")
    b.login(d, "alice")
    assert b.run("session", "connect", s, "--force").returncode == 0
    got = wait_for(lambda: next((x for x in b.json("job", "list", "-s", s)
                                 if x["id"] == j["id"] and x["state"] == "Completed"), None),
                   what="job completed")
    assert got["has_more_data"] is True
    r = b.run("job", "receive", "-s", s, str(j["id"]))
    assert r.stdout == "before\nafter\n", r.stdout


def test_a_slow_starting_supervisor_is_not_lost(env):
    """On a busy machine a job's supervisor may take more than 10 s to write
    its pid file. While the process the launcher started lives, the job is
    starting, not lost (it was failed as "supervisor vanished" under load)."""
    d, c, s = setup(env)
    j = c.json("job", "start", s, "--", "sleep 60")
    jdir = os.path.join(d.state, "spool", "jobs", str(j["id"]))
    pidfile = os.path.join(jdir, "pid")
    wait_for(lambda: os.path.exists(pidfile), what="the pid file")
    # one file for the pids and the status to come; which process the
    # launcher made is kept in the daemon's memory, not in a file, and the
    # spec came with the start request, not through a file; a command that
    # has written nothing has no log yet
    assert sorted(os.listdir(jdir)) == ["pid"], os.listdir(jdir)
    kept = open(pidfile).read()
    # the pids, and the uid whose leftovers a vanished supervisor's cleanup kills
    shim, child, uid = (int(x) for x in kept.split())
    assert uid == os.stat(f"/proc/{child}").st_uid and uid != 0, (kept, uid)
    os.unlink(pidfile)   # as if the supervisor had not got that far yet
    time.sleep(12)       # past the 10 s a job without any word gets
    # this daemon remembers the process its launcher made
    got = next(x for x in c.json("job", "list", "-s", s) if x["id"] == j["id"])
    assert got["state"] == "Running", got
    d.restart()          # a fresh look at every job, as after a crash: the
    b = env.client("b")  # new daemon finds the supervisor among the processes
    b.login(d, "alice")
    assert b.run("session", "connect", s, "--force").returncode == 0
    got = next(x for x in b.json("job", "list", "-s", s) if x["id"] == j["id"])
    assert got["state"] == "Running", got
    with open(pidfile, "w") as f:
        f.write(kept)
    assert b.json("job", "stop", "-s", s, str(j["id"]))[0]["state"] == "Stopped"


def test_job_that_closes_its_output_does_not_busy_its_supervisor(env):
    d, c, s = setup(env)
    j = c.json("job", "start", s, "--", "exec >&- 2>&-; sleep 3")
    pidfile = os.path.join(d.state, "spool", "jobs", str(j["id"]), "pid")
    wait_for(lambda: os.path.exists(pidfile), what="pid file")
    shim = int(open(pidfile).read().split()[0])
    time.sleep(2)
    fields = open(f"/proc/{shim}/stat").read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])     # utime + stime
    # a supervisor that spins burns ~all of 2 s; one that waits, almost nothing
    assert ticks < os.sysconf("SC_CLK_TCK") // 2, f"supervisor used {ticks} ticks"
    r = c.run("job", "wait", "-s", s, str(j["id"]), "--timeout", "30")
    assert r.returncode == 0 and c.json("job", "list", "-s", s)[0]["state"] == "Completed"


def test_wait_on_many_jobs_in_one_call(env):
    d, c, s = setup(env)
    ids = [str(c.json("job", "start", s, "--", "true")["id"]) for _ in range(5)]
    # more arguments than the CLI once held (255), most of them one job again
    r = c.run("job", "wait", "-s", s, *(ids * 60), "--json", "--timeout", "60")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 300


def test_account_changes_are_seen_by_the_next_job(env):
    """The daemon keeps the accounts it looked up while /etc/passwd and
    /etc/group are unchanged: a home or a group changed there is the next
    job's, and a removed account's job start is refused, not run as the
    account it was."""
    if os.geteuid() != 0:
        print("SKIPPED: needs root to change accounts")
        return
    d, c, s = setup(env, users=("acache",))
    acct = os_account("acache")
    grp = "tt-acache-g"
    home = tempfile.mkdtemp(prefix="tt-acache-home-")
    os.chmod(home, 0o755)
    os.chown(home, pwd.getpwnam(acct).pw_uid, -1)
    try:
        def job(cmd):
            j = c.json("job", "start", s, "--", cmd)
            r = c.run("job", "receive", "-s", s, str(j["id"]), "--wait")
            assert r.returncode == 0, r.stderr
            return r.stdout
        first = job('echo "$HOME"; id -Gn').split("\n")
        assert first[0] != home and grp not in first[1].split(), first
        assert job('echo "$HOME"') == first[0] + "\n"   # the kept entry
        subprocess.run(["groupadd", "-f", grp], check=True, capture_output=True)
        subprocess.run(["usermod", "-d", home, "-a", "-G", grp, acct],
                       check=True, capture_output=True)
        got = job('echo "$HOME"; id -Gn').split("\n")
        assert got[0] == home and grp in got[1].split(), got
        ran = os.path.join(home, "ran")
        subprocess.run(["userdel", acct], check=True, capture_output=True)
        r = c.run("job", "start", s, "--", f"id -u > {ran}")
        assert r.returncode != 0 and "no OS account" in r.stderr, (r.returncode, r.stderr)
        time.sleep(0.2)
        assert not os.path.exists(ran)
    finally:
        subprocess.run(["userdel", acct], capture_output=True)
        subprocess.run(["groupdel", grp], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def test_bad_input(env):
    d, c, s = setup(env, users=("alice", "bob"))
    j = c.json("job", "start", s, "--", "true")
    for ref in ("999", "nosuch"):
        r = c.run("job", "receive", "-s", s, ref, "--json")
        assert r.returncode == 255
        expect_error(json.loads(r.stdout), "not_found")
    r = c.run("job", "receive", "-s", s, "../x")
    assert r.returncode == 2
    r = c.run("job", "start", s, "--name", "9bad", "--", "true")
    assert r.returncode == 255 and "invalid job name" in r.stderr
    r = c.run("job", "list", "extra")
    assert r.returncode == 2 and "unexpected argument extra" in r.stderr
    btok = d.token_for("bob")
    st, _, doc = d.request("GET", f"/v1/sessions/1/jobs/{j['id']}", token=btok)
    assert st == 404
    st, _, doc = d.request("DELETE", f"/v1/sessions/1/jobs/{j['id']}?force=1", token=btok)
    assert st == 404
    c.run("job", "wait", "-s", s, str(j["id"]))
    assert c.run("job", "remove", "-s", s, str(j["id"])).returncode == 0
    r = c.run("job", "receive", "-s", s, str(j["id"]))
    assert r.returncode == 255 and "no job" in r.stderr
    assert not os.path.exists(os.path.join(d.state, "spool", "jobs", str(j["id"])))


if __name__ == "__main__":
    main(globals())
