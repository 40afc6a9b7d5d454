"""The launcher that starts job supervisors for tetherd (server/launcher.c):
supervisors it starts look and behave like exec'd ones, jobs still start
when it is gone, it never outlives the daemon, and the supervisors it
started outlive both."""
import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import threading
import time

from harness import TETHERD, main, wait_for
from test_invoke import setup


def argv_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().rstrip(b"\0").split(b"\0")]
    except OSError:
        return []


def stat_of(pid):
    """(state, ppid, session) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1]), int(fields[3])


def gone(pid):
    st = stat_of(pid)
    return st is None or st[0] == "Z"


def launchers_of(daemon_pid):
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and
            (stat_of(p) or ("", 0, 0))[1] == daemon_pid and argv_of(p)[1:2] == ["__launcher"]]


def fd_targets(pid):
    d = f"/proc/{pid}/fd"
    return {int(fd): os.readlink(os.path.join(d, fd)) for fd in os.listdir(d)}


def running_job(d, c, s, cmd):
    """Start a job; returns (job, its dir, the supervisor's pid) once the
    supervisor has written its pid file."""
    j = c.json("job", "start", s, "--", cmd)
    jdir = os.path.join(d.state, "spool", "jobs", str(j["id"]))
    pidfile = os.path.join(jdir, "pid")
    wait_for(lambda: os.path.exists(pidfile), what="pid file")
    return j, jdir, int(open(pidfile).read().split()[0])


def finished(c, s, j):
    return next((x for x in c.json("job", "list", "-s", s)
                 if x["id"] == j["id"] and x["state"] not in ("Running", "Blocked")), None)


def test_supervisors_come_from_the_launcher(env):
    d, c, s = setup(env)
    ls = launchers_of(d.proc.pid)
    assert len(ls) == 1, ls
    # the launcher holds nothing of the daemon's but its socket and the log
    fds = fd_targets(ls[0])
    assert sorted(fds) == [0, 1, 2, 3] and fds[0] == fds[1] == "/dev/null", fds
    assert fds[3].startswith("socket:"), fds
    # the small launcher beside tetherd: its supervisors map none of the
    # daemon's libraries
    small = os.path.join(os.path.dirname(os.path.realpath(TETHERD)), "tetherd-launcher")
    assert os.readlink(f"/proc/{ls[0]}/exe") == small, os.readlink(f"/proc/{ls[0]}/exe")
    j, jdir, shim = running_job(d, c, s, "echo started; sleep 3")
    assert not big_libraries(shim), big_libraries(shim)
    assert big_libraries(d.proc.pid), "the daemon maps them (the check can fail)"
    # what the daemon (and ps) recognise a live supervisor by
    assert argv_of(shim) == ["tetherd", "__shim", jdir], argv_of(shim)
    assert open(f"/proc/{shim}/comm").read() == "tetherd\n"
    # in a session of its own; the launcher's child (one fork), not the daemon's
    _, ppid, sid = stat_of(shim)
    assert sid == shim and sid != stat_of(d.proc.pid)[2] and ppid == ls[0], (sid, ppid)
    # the spec came on a descriptor the supervisor has closed, and the
    # launcher kept no copy of it
    assert not any("tether-spec" in t for t in fds_or_empty(shim)), fd_targets(shim)
    assert sorted(fd_targets(ls[0])) == [0, 1, 2, 3], fd_targets(ls[0])
    # one supervisor per job: a second one for the same job, with a spec
    # that would run, leaves at once
    uid = int(open(os.path.join(jdir, "pid")).read().split()[2])
    assert run_shim(jdir, spec_for(uid, "echo second")).returncode == 1
    got = wait_for(lambda: finished(c, s, j), what="job end")
    assert got["state"] == "Completed", got
    # the launcher leaves no zombie behind (it ignores SIGCHLD)
    wait_for(lambda: stat_of(shim) is None, what="supervisor reaped")
    # ...and one for a job that has ended runs nothing
    size = os.path.getsize(os.path.join(jdir, "output.log"))
    assert run_shim(jdir, spec_for(uid, "echo second")).returncode == 1
    assert os.path.getsize(os.path.join(jdir, "output.log")) == size


def big_libraries(pid):
    """The daemon's libraries that process pid maps."""
    with open(f"/proc/{pid}/maps") as f:
        return {os.path.basename(line.split()[-1]).split(".so")[0] for line in f
                if re.search(r"/lib(curl|ssl|crypto|microhttpd|sqlite3|gnutls)[^/]*\.so", line)}


def start_from(env, name, launcher_mode=None, dir_mode=0o755):
    """A daemon run from a copy of tetherd in its own directory (of
    dir_mode), with a copy of tetherd-launcher beside it (of that mode)
    unless launcher_mode is None, or a FIFO of that name if it is "fifo".
    Returns (copy of tetherd, d, c, s)."""
    import harness
    bindir = os.path.join(env.root, name)
    os.makedirs(bindir)
    os.chmod(bindir, dir_mode)
    tetherd = os.path.join(bindir, "tetherd")
    shutil.copy2(TETHERD, tetherd)
    if launcher_mode == "fifo":
        os.mkfifo(os.path.join(bindir, "tetherd-launcher"))
        os.chmod(os.path.join(bindir, "tetherd-launcher"), 0o777)   # looks runnable
    elif launcher_mode is not None:
        small = os.path.join(bindir, "tetherd-launcher")
        shutil.copy2(os.path.join(os.path.dirname(os.path.realpath(TETHERD)),
                                  "tetherd-launcher"), small)
        os.chmod(small, launcher_mode)
    saved, harness.TETHERD = harness.TETHERD, tetherd
    try:
        d = env.daemon(name=name + "-d")
    finally:
        harness.TETHERD = saved
    c = env.client(name + "-c")
    d.add_user("alice")
    c.login(d, "alice")
    c.json("session", "new", d.host, "--name", "w")
    return tetherd, d, c, f"{d.host}/w"


def launcher_exe(d):
    (launcher,) = launchers_of(d.proc.pid)
    return launcher, os.readlink(f"/proc/{launcher}/exe")


def test_tetherd_is_its_own_launcher_without_the_small_one(env):
    """A tetherd with no tetherd-launcher beside it (nor installed), or one
    that others may write to, execs itself as the launcher, and jobs run as
    before; a trusted one beside it is used."""
    alone, d, c, s = start_from(env, "alone")
    launcher, exe = launcher_exe(d)
    assert exe == alone or exe.endswith("/libexec/tether/tetherd-launcher"), exe
    j, jdir, shim = running_job(d, c, s, "echo started; sleep 1")
    assert argv_of(shim) == ["tetherd", "__shim", jdir] and stat_of(shim)[1] == launcher
    assert wait_for(lambda: finished(c, s, j), what="job end")["state"] == "Completed"
    assert c.run("job", "receive", "-s", s, str(j["id"])).stdout == "started\n"
    d.stop()
    # writable by others: not run, and said
    tetherd, d, c, s = start_from(env, "writable", 0o777)
    assert launcher_exe(d)[1] == tetherd, launcher_exe(d)
    assert 'event=launcher_untrusted path="%s-launcher"' % tetherd in d.log(), d.log()
    j = c.json("job", "start", s, "--", "echo ran")
    assert wait_for(lambda: finished(c, s, j), what="job end")["state"] == "Completed"
    d.stop()
    # in a directory others may write to, whatever is there is not opened
    # (a FIFO would block the daemon's start): not run, and said
    tetherd, d, c, s = start_from(env, "fifo", "fifo", 0o777)
    assert launcher_exe(d)[1] == tetherd, launcher_exe(d)
    assert 'event=launcher_untrusted path="%s-launcher"' % tetherd in d.log(), d.log()
    d.stop()
    # the same program, as tetherd's own file is: used
    tetherd, d, c, s = start_from(env, "trusted", 0o755)
    assert launcher_exe(d)[1] == tetherd + "-launcher", launcher_exe(d)
    assert "launcher_untrusted" not in d.log()


def test_small_launcher_runs_only_for_its_own_build(env):
    """tetherd-launcher serves only a tetherd of its own build: another
    build's stamp hands the whole command line to that tetherd (EXE), and
    anything else (run by hand) is refused with 127, running nothing."""
    small = os.path.join(os.path.dirname(os.path.realpath(TETHERD)), "tetherd-launcher")
    r = subprocess.run([small, "__launcher", "/bin/echo", "another-build", "pad"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout == "__launcher /bin/echo another-build pad\n", r
    for argv in ([], ["__shim", "/tmp"], ["__launcher", "echo", "another-build", "pad"],
                 ["__transfer", "/bin/echo", "x", "pad"]):
        r = subprocess.run([small] + argv, capture_output=True, text=True, timeout=30)
        assert r.returncode == 127 and r.stdout == "", (argv, r)


def spec_for(uid, command):
    return json.dumps({"argv": ["/bin/sh", "-c", command], "env": ["PATH=/usr/bin:/bin"],
                       "cwd": "/", "uid": uid, "gid": pwd.getpwuid(uid).pw_gid,
                       "user": pwd.getpwuid(uid).pw_name})


def run_shim(jdir, spec, seal=True):
    """tetherd __shim JOBDIR by hand, with spec (unless None) on fd 3 as a
    memory file, sealed as tetherd seals it unless seal is False."""
    if spec is None:
        return subprocess.run([TETHERD, "__shim", jdir], timeout=30)
    fd = os.memfd_create("spec", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.write(fd, spec.encode())
        if seal:
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                        fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
        return subprocess.run(["sh", "-c", f'exec "$0" __shim "$1" 3<&{fd}', TETHERD, jdir],
                              pass_fds=(fd,), timeout=30)
    finally:
        os.close(fd)


def test_a_supervisor_runs_only_a_sealed_spec(env):
    """The supervisor takes its spec from the sealed memory file on fd 3
    that tetherd made, nothing else: no descriptor, or a file anyone could
    still change, and it runs nothing."""
    d, c, s = setup(env)
    j, jdir, shim = running_job(d, c, s, "sleep 30")   # its pid file stays
    uid = int(open(os.path.join(jdir, "pid")).read().split()[2])
    spool = os.path.dirname(jdir)
    for i, (spec, seal) in enumerate([(None, True), (spec_for(uid, "echo ran"), False),
                                      ("{not json", True)]):
        fresh = os.path.join(spool, f"hand-{i}")
        os.mkdir(fresh, 0o700)
        assert run_shim(fresh, spec, seal).returncode == 1, (spec, seal)
        assert os.listdir(fresh) == [], os.listdir(fresh)
    # the control: the same, sealed, runs as the uid it names
    fresh = os.path.join(spool, "hand-ok")
    os.mkdir(fresh, 0o700)
    assert run_shim(fresh, spec_for(uid, "echo ran; id -u")).returncode == 0
    assert json.load(open(os.path.join(fresh, "status"))) == {"exit_code": 0}
    log = open(os.path.join(fresh, "output.log"), "rb").read()
    assert b"ran" in log and str(uid).encode() in log, log


def fds_or_empty(pid):
    try:
        return fd_targets(pid).values()
    except OSError:
        return []


def test_jobs_start_without_the_launcher(env):
    d, c, s = setup(env)
    (launcher,) = launchers_of(d.proc.pid)
    os.kill(launcher, signal.SIGKILL)
    wait_for(lambda: gone(launcher), what="launcher gone")
    for i in range(3):
        j = c.json("job", "start", s, "--", f"echo run{i}")
        got = wait_for(lambda: finished(c, s, j), what="job end")
        assert got["state"] == "Completed", got
        r = c.run("job", "receive", "-s", s, str(j["id"]))
        assert r.stdout == f"run{i}\n", r.stdout
    assert "event=launcher_lost" in d.log_since_start()
    # the daemon reaped it, and started none behind our back
    assert stat_of(launcher) is None and launchers_of(d.proc.pid) == []
    # the exec'd supervisor is recognised as before
    j, jdir, shim = running_job(d, c, s, "sleep 1")
    assert argv_of(shim) == ["tetherd", "__shim", jdir]
    assert wait_for(lambda: finished(c, s, j), what="job end")["state"] == "Completed"


def test_requests_in_flight_when_the_launcher_dies(env):
    """Job starts wait for the launcher together (their requests are
    pipelined); when it dies under them, each is started the old way,
    exactly once."""
    d, c, s = setup(env)
    (launcher,) = launchers_of(d.proc.pid)
    sessions = [s]
    for i in range(4):
        c.json("session", "new", d.host, "--name", f"f{i}")
        sessions.append(f"{d.host}/f{i}")
    os.kill(launcher, signal.SIGSTOP)   # it takes the requests, and answers none
    out = {}

    def start(sess):
        out[sess] = c.json("job", "start", sess, "--", "echo once")
    threads = [threading.Thread(target=start, args=(n,)) for n in sessions]
    for t in threads:
        t.start()
    time.sleep(1)   # every request is sent and waits for its answer
    assert all(t.is_alive() for t in threads)
    os.kill(launcher, signal.SIGKILL)
    for t in threads:
        t.join(timeout=60)
    assert sorted(out) == sorted(sessions), out
    assert "event=launcher_lost" in d.log_since_start()
    for sess, j in out.items():
        got = wait_for(lambda: finished(c, sess, j), what="job end")
        assert got["state"] == "Completed", got
        r = c.run("job", "receive", "-s", sess, str(j["id"]))
        assert r.stdout == "once\n", r.stdout


def test_launcher_dies_with_the_daemon_and_supervisors_live_on(env):
    d, c, s = setup(env)
    (launcher,) = launchers_of(d.proc.pid)
    j, jdir, shim = running_job(d, c, s, "echo before; sleep 2; echo after")
    d.kill()
    wait_for(lambda: gone(launcher), timeout=10, what="launcher gone with the daemon")
    assert not gone(shim) and argv_of(shim) == ["tetherd", "__shim", jdir]
    d.start()
    assert len(launchers_of(d.proc.pid)) == 1
    got = wait_for(lambda: finished(c, s, j), what="adopted job end")
    assert got["state"] == "Completed", got
    r = c.run("job", "receive", "-s", s, str(j["id"]))
    assert r.stdout == "before\nafter\n", r.stdout
    # a clean stop takes the launcher along too
    (launcher,) = launchers_of(d.proc.pid)
    assert d.stop() == 0
    assert stat_of(launcher) is None   # reaped by the daemon before it exited


def test_many_jobs_at_once(env):
    d, c, s = setup(env)
    ids = [str(c.json("job", "start", s, "--", f"echo {i}")["id"]) for i in range(40)]
    r = c.run("job", "wait", "-s", s, *ids, "--timeout", "60")
    assert r.returncode == 0, r.stderr
    states = {x["state"] for x in c.json("job", "list", "-s", s)}
    assert states == {"Completed"}, states
    time.sleep(0.2)
    assert len(launchers_of(d.proc.pid)) == 1


if __name__ == "__main__":
    main(globals())
