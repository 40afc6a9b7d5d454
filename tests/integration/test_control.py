"""Connection sharing (docs/cli.md): with ControlPersist, a first `tether`
starts a control master in the background and later ones hand their command
to it; the command runs on the front's descriptors, directory, umask and
environment, its exit status and signals come back, a front killed takes
its command with it, and a master that cannot run a command (another
build, replaced, busy, gone) makes the front run it itself, never twice.
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time

from harness import TETHER, main, wait_for
from servers import alive, children, running, unique_sleep

TETHER = os.path.abspath(TETHER)
# These tests start their masters themselves.
os.environ.pop("TETHER_CONTROL_PERSIST", None)

PERSIST = "60"


def setup(env, persist=PERSIST):
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    c.login(d, "alice")
    r = c.run("session", "new", d.host, "--name", "S")
    assert r.returncode == 0, r.stderr
    e = c.env()
    e["TETHER_CONTROL_PERSIST"] = persist
    return d, c, e


def run(e, *args, tether=TETHER, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([tether] + list(args), capture_output=True, text=True, env=e,
                          timeout=60, **kw)


def background(e, d, command, tether=TETHER):
    """invoke -s HOST/S -- command, in the background, with text pipes."""
    return subprocess.Popen([tether, "invoke", "-s", f"{d.host}/S", "--", command], env=e,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def master_pid(c, wait=10.0):
    """The running master's pid (from its lock file), once its socket is up."""
    end = time.time() + wait
    lock = os.path.join(c.home, "control.lock")
    while time.time() < end:
        try:
            with open(lock) as f:
                pid = int(f.read())
            if os.path.exists(os.path.join(c.home, "control")) and alive(pid):
                return pid
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return None


def stop_master(c):
    pid = master_pid(c, wait=0.1)
    if pid:
        os.kill(pid, signal.SIGTERM)


def start_master(c, d, e):
    r = run(e, "invoke", "-s", f"{d.host}/S", "--", "true")
    assert r.returncode == 0, r.stderr
    pid = master_pid(c)
    assert pid is not None, "no control master started"
    return pid


def test_commands_run_in_the_master(env):
    d, c, e = setup(env)
    m = start_master(c, d, e)
    try:
        # a running command is the master's child, not the front's
        p = background(e, d, "sleep 1; echo done")
        wait_for(lambda: children(m), 30, "the master's child")
        assert children(p.pid) == [], "the front ran the full client itself"
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0 and out == "done\n", (p.returncode, out, err)
        # exit status, stdout and stderr apart
        r = run(e, "invoke", "-s", f"{d.host}/S", "--", "echo out; echo err >&2; exit 7")
        assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n"), r
        # the front's stdin
        r = run(e, "invoke", "-s", f"{d.host}/S", "--", "cat", input="through stdin\n",
                stdin=None)
        assert r.returncode == 0 and r.stdout == "through stdin\n", r
        # a usage error is the full client's, word for word
        r = run(e, "invoke", "--no-such-flag")
        plain = run(dict(e, TETHER_CONTROL_PERSIST="no"), "invoke", "--no-such-flag")
        assert r.returncode == plain.returncode == 2 and r.stderr == plain.stderr, (r, plain)
        assert master_pid(c, wait=0.1) == m, "one master serves every command"
        # a later command finds the connection an earlier one left open
        r = run(e, "invoke", "-v", "-s", f"{d.host}/S", "--", "true")
        assert r.returncode == 0 and "Re-using existing connection" in r.stderr, r.stderr
    finally:
        stop_master(c)


def test_directory_and_environment_are_the_fronts(env):
    d, c, e = setup(env)
    start_master(c, d, e)
    try:
        work = os.path.join(env.root, "work")
        os.makedirs(work)
        with open(os.path.join(work, "inv"), "w") as f:
            f.write("[web]\nweb[1:3]\n")
        # a relative path resolves in the front's directory
        r = run(e, "targets", "@web", "--inventory", "inv", cwd=work)
        assert r.returncode == 0 and r.stdout.split() == ["web1", "web2", "web3"], r
        # the environment is the front's: an inventory named by it
        r = run(dict(e, TETHER_INVENTORY=os.path.join(work, "inv")), "targets", "@web")
        assert r.returncode == 0 and r.stdout.split() == ["web1", "web2", "web3"], r
    finally:
        stop_master(c)


def test_signals_reach_the_command(env):
    d, c, e = setup(env)
    m = start_master(c, d, e)
    try:
        results = []
        for persist in (PERSIST, "no"):
            nap = unique_sleep()
            p = background(dict(e, TETHER_CONTROL_PERSIST=persist), d, f"echo started; sleep {nap}")
            assert p.stdout.readline() == "started\n"
            # once sleep runs: an INT that meets bash's child between its fork
            # and exec is lost to it (bash's own race, not tether's)
            wait_for(lambda: running(["sleep", nap]), what="the sleep to run")
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=30)
            results.append((p.returncode, err))
        (rc_m, err_m), (rc_p, err_p) = results
        assert rc_m == rc_p == 130, results   # the same as without the master
        # the worker that ran it runs the next command as a new process would
        # (no interrupt left over from the last)
        r = run(e, "invoke", "-s", f"{d.host}/S", "--", "sleep 0.3; echo after")
        assert r.returncode == 0 and r.stdout == "after\n", r
        # SIGTERM, which the full client does not catch: the front ends by it too
        # (the remote command goes on: short, or the daemon's stop waits for it)
        p = background(e, d, "echo started; sleep 2")
        assert p.stdout.readline() == "started\n"
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
        assert p.returncode == -signal.SIGTERM, p.returncode
    finally:
        stop_master(c)


def kill_during_a_command(env, kill, word):
    """Run a command through the master and call kill(front, worker) while
    it runs; the master then serves the next command itself."""
    d, c, e = setup(env)
    m = start_master(c, d, e)
    try:
        p = background(e, d, "echo started; sleep 3")
        assert p.stdout.readline() == "started\n"
        (worker,) = children(m)
        kill(p, worker)
        r = run(e, "invoke", "-H", d.host, "--", f"echo {word}")
        assert r.returncode == 0 and r.stdout == f"{word}\n", r
        assert master_pid(c, wait=0.1) == m
    finally:
        stop_master(c)


def test_a_killed_front_takes_its_command(env):
    def kill(front, worker):
        front.kill()
        front.wait(timeout=10)
        wait_for(lambda: not alive(worker), 30, "the command to be killed with its front")
    kill_during_a_command(env, kill, "again")


def test_a_killed_worker_ends_its_front_the_same_way(env):
    def kill(front, worker):
        os.kill(worker, signal.SIGKILL)
        front.communicate(timeout=30)
        assert front.returncode == -signal.SIGKILL, front.returncode   # as a killed tether
    kill_during_a_command(env, kill, "next")   # the master forks another worker


def test_no_master_when_not_asked(env):
    d, c, e = setup(env)
    plain = dict(e)
    plain.pop("TETHER_CONTROL_PERSIST")
    r = run(plain, "invoke", "-s", f"{d.host}/S", "--", "true")
    assert r.returncode == 0, r.stderr
    time.sleep(0.3)
    assert master_pid(c, wait=0.2) is None, "a master without ControlPersist"
    # ControlPersist in the configuration file starts one
    with open(os.path.join(c.home, "config"), "w") as f:
        f.write("ControlPersist 30\n")
    r = run(plain, "invoke", "-s", f"{d.host}/S", "--", "true")
    assert r.returncode == 0, r.stderr
    m = master_pid(c)
    assert m is not None, "ControlPersist in config started no master"
    try:
        # TETHER_CONTROL_PERSIST=no: even a running master is not used
        no = dict(plain, TETHER_CONTROL_PERSIST="no")
        p = background(no, d, "sleep 1")
        time.sleep(0.5)
        assert children(m) == [], "TETHER_CONTROL_PERSIST=no used the master"
        p.communicate(timeout=30)
        assert p.returncode == 0
        # bad values are refused with the variable's or the file's name
        r = run(dict(plain, TETHER_CONTROL_PERSIST="soon"), "invoke", "-s", f"{d.host}/S",
                "--", "true")
        assert r.returncode == 2 and "TETHER_CONTROL_PERSIST" in r.stderr, r
    finally:
        stop_master(c)
    with open(os.path.join(c.home, "config"), "w") as f:
        f.write("ControlPersist forever\n")
    r = run(no, "invoke", "-s", f"{d.host}/S", "--", "true")
    assert r.returncode == 2 and "ControlPersist" in r.stderr, r


def test_free_workers_are_bounded(env):
    d, c, e = setup(env)
    m = start_master(c, d, e)
    try:
        # ten commands at once: ten workers, each in a session of its own
        for i in range(10):
            r = run(e, "session", "new", d.host, "--name", f"w{i}")
            assert r.returncode == 0, r.stderr
        ps = [subprocess.Popen([TETHER, "invoke", "-s", f"{d.host}/w{i}", "--", "sleep 1; echo w"],
                               env=e, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for i in range(10)]
        wait_for(lambda: len(children(m)) >= 10, 30, "ten workers")
        for p in ps:
            out, err = p.communicate(timeout=30)
            assert p.returncode == 0 and out == "w\n", (out, err)
        # once they are free, at most 8 stay (each holds its connections)
        wait_for(lambda: len(children(m)) <= 8, 30, "the workers beyond 8 to leave")
        r = run(e, "invoke", "-s", f"{d.host}/S", "--", "echo still")
        assert r.returncode == 0 and r.stdout == "still\n", r
    finally:
        stop_master(c)


def test_check_and_stop(env):
    d, c, e = setup(env)
    r = run(e, "control", "check")
    assert r.returncode == 1 and "no control master" in r.stderr, r
    m = start_master(c, d, e)
    r = run(e, "control", "check", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"running": True, "pid": m}, r
    # a command running when the master is told to stop ends whole
    p = background(e, d, "sleep 1; echo whole")
    wait_for(lambda: children(m), 30, "the command's worker")
    r = run(e, "control", "stop")
    assert r.returncode == 0 and f"(pid {m})" in r.stdout, r
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and out == "whole\n", (out, err)
    wait_for(lambda: not alive(m), 30, "the master to stop")
    r = run(e, "control", "check", "--json")
    assert r.returncode == 1 and json.loads(r.stdout) == {"running": False}, r
    r = run(e, "control", "stop")
    assert r.returncode == 1 and "no control master" in r.stderr, r


PROBE = r"""
import array, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
strings = b"\0".join(a.encode() for a in (sys.argv[2], "tether", "--version")) + b"\0"
head = struct.pack("=IIiIIIII", 0x54544331, 1, 0, 2, 0, 0o22, len(strings), 0)
null = os.open("/dev/null", os.O_RDWR)   # the command's own output goes there
fds = array.array("i", [null, null, null, os.open("/", os.O_RDONLY)])
s.settimeout(10)
try:
    s.sendmsg([head + strings], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    got = s.recv(32)
except (BrokenPipeError, ConnectionResetError):   # dropped, request unread
    got = b""
print(struct.unpack("=II", got[:8])[1] if got else "closed")
"""


def test_another_user_is_not_served(env):
    d, c, e = setup(env)
    m = start_master(c, d, e)
    try:
        sock = os.path.join(c.home, "control")
        # let anyone reach the socket, as a careless chmod would
        os.chmod(c.home, 0o711)
        os.chmod(sock, 0o666)
        client = os.path.realpath(os.path.join(os.path.dirname(TETHER), "tether-cli"))
        probe = ["python3", "-c", PROBE, sock, client]
        # the request is well formed: the master's own user gets it run
        r = subprocess.run(probe, capture_output=True, text=True, timeout=30)
        assert r.stdout.strip() == "3", r   # CTL_ACCEPTED
        # another user's is dropped unanswered (SO_PEERCRED), and runs nothing
        kids = set(children(m))
        r = subprocess.run(probe, capture_output=True, text=True, timeout=30, user="nobody",
                           cwd="/")
        assert r.stdout.strip() == "closed", r
        assert set(children(m)) <= kids, "a worker was started for another user"
    finally:
        stop_master(c)


def test_master_leaves_when_idle(env):
    d, c, e = setup(env, persist="1")
    m = start_master(c, d, e)
    wait_for(lambda: not alive(m), 15, "the idle master to leave")
    assert not os.path.exists(os.path.join(c.home, "control")), "socket left behind"
    # and the next command starts another
    r = run(e, "invoke", "-s", f"{d.host}/S", "--", "echo back")
    assert r.returncode == 0 and r.stdout == "back\n", r
    m2 = master_pid(c)
    assert m2 is not None and m2 != m
    stop_master(c)


def test_a_dead_or_foreign_master_is_not_used(env):
    d, c, e = setup(env)
    m = start_master(c, d, e)
    # a front of another build (its own tether-cli beside it) runs itself
    other = os.path.join(env.root, "other")
    os.makedirs(other)
    here = os.path.dirname(os.path.realpath(TETHER))
    for b in ("tether", "tether-cli"):
        shutil.copy2(os.path.join(here, b), other)
    p = background(e, d, "sleep 1; echo other", tether=os.path.join(other, "tether"))
    time.sleep(0.5)
    assert children(m) == [], "the master ran another build's command"
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and out == "other\n", (p.returncode, out, err)
    # a command line over the master's bounds (8,192 strings) runs in the front
    r = run(e, "invoke", "-s", f"{d.host}/S", "--", "echo", *(["x"] * 9000))
    assert r.returncode == 0 and r.stdout == " ".join(["x"] * 9000) + "\n", r.stderr
    # garbage on the socket changes nothing
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.path.join(c.home, "control"))
    s.sendall(struct.pack("=IIiIIIII", 0x54544331, 1, 0, 1, 0, 0, 99, 0) + b"x" * 99)
    s.settimeout(5)
    got = s.recv(100)
    assert got == b"" or struct.unpack("=II", got[:8])[1] == 4, "a request without descriptors was accepted"
    s.close()
    r = run(e, "invoke", "-s", f"{d.host}/S", "--", "echo fine")
    assert r.returncode == 0 and r.stdout == "fine\n", r
    # a master killed -9 leaves its socket: the front runs the command itself
    # and the full client starts a new master
    os.kill(m, signal.SIGKILL)
    wait_for(lambda: not alive(m), 30, "the master to die")
    r = run(e, "invoke", "-s", f"{d.host}/S", "--", "echo after")
    assert r.returncode == 0 and r.stdout == "after\n", r
    m2 = master_pid(c)
    assert m2 not in (None, m)
    # the master's executable replaced (an upgrade): it runs nothing more
    # and leaves; the command runs all the same
    stop_master(c)
    wait_for(lambda: not alive(m2), 30, "the master to stop")
    r = run(e, "invoke", "-s", f"{d.host}/S", "--", "true", tether=os.path.join(other, "tether"))
    assert r.returncode == 0, r.stderr
    m3 = master_pid(c)
    assert m3 is not None
    tmp = os.path.join(other, "tether-cli.new")
    shutil.copy2(os.path.join(other, "tether-cli"), tmp)
    os.rename(tmp, os.path.join(other, "tether-cli"))
    r = run(e, "invoke", "-s", f"{d.host}/S", "--", "echo upgraded",
            tether=os.path.join(other, "tether"))
    assert r.returncode == 0 and r.stdout == "upgraded\n", r
    wait_for(lambda: not alive(m3), 30, "the replaced master to leave")
    stop_master(c)


if __name__ == "__main__":
    main(globals())
