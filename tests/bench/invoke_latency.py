#!/usr/bin/env python3
"""Round-trip latency: `tether invoke -s S -- true`, run by itself and through
a control master (TETHER_CONTROL_PERSIST), against ssh to an sshd on
loopback with a fresh connection per run and with a ControlMaster reusing
one, all measured in the same run, the four alternating in ROUNDS rounds.
Prints medians of every run and ratios, wall time and the client side's
CPU per run: the client process with its children, plus what its master
spent meanwhile (tether's control master and its workers; ssh's
ControlMaster process). Asserts nothing (benchmarks never fail a build).

    python3 tests/bench/invoke_latency.py [RUNS] [ROUNDS]  # default 30, 3; as root

Builds with `bash tests/run.sh` or cmake first (uses build/ by default, or
$TETHERD / $TETHER). Installs openssh-server if sshd is missing.
"""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import HERE, TOP  # noqa: E402,F401  (sets the paths)
import harness  # noqa: E402
import benchlib  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def proc_cpu(pid):
    """CPU seconds of pid, its reaped children and its live ones (a tether
    control master's workers), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return 0.0
    own = sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(proc_cpu(k) for k in kids)


def timed(cmd, env=None, runs=RUNS, master=None, warm=3):
    """Wall times (ms) of running cmd `runs` times (after warm-ups), and the
    client side's CPU per run (ms): the processes' own, plus master()'s."""
    out = []
    for _ in range(warm):
        subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    mpid = master() if master else None
    m0 = proc_cpu(mpid) if mpid else 0.0
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for i in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
        dt = (time.perf_counter() - t0) * 1000
        if r.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed: {r.stderr.decode()[:300]}")
        out.append(dt)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m1 = proc_cpu(mpid) if mpid else 0.0
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime + m1 - m0) * 1000 / runs
    return out, cpu


def summary(walls):
    q = statistics.quantiles(walls, n=4)
    return statistics.median(walls), q[0], q[2]


def start_sshd(tmp):
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(sshd):
        subprocess.run(["apt-get", "install", "-y", "-qq", "openssh-server", "openssh-client"],
                       check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    os.makedirs("/run/sshd", exist_ok=True)
    hostkey, userkey = benchlib.ssh_keys(tmp)
    auth = os.path.join(tmp, "authorized_keys")
    shutil.copy(userkey + ".pub", auth)
    os.chmod(auth, 0o644)   # sshd reads it as the (non-root) account logging in
    os.chmod(tmp, 0o711)
    p = benchlib.run_sshd(tmp, sshd, [
        "Port 2222", "ListenAddress 127.0.0.1", f"HostKey {hostkey}",
        f"AuthorizedKeysFile {auth}", "PasswordAuthentication no",
        "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no"])
    return p, userkey


def main():
    env = harness.Env()
    tmp = tempfile.mkdtemp(prefix="tether-bench-")
    sshd = None
    try:
        d = env.daemon()
        c = env.client()
        d.add_user("bench")
        c.login(d, "bench")
        c.json("session", "new", d.host, "--name", "b")
        tether = [os.environ["TETHER"], "invoke", "-s", f"{d.host}/b", "--", "true"]
        plain_env = c.env()
        plain_env["TETHER_CONTROL_PERSIST"] = "no"
        mux_env = dict(plain_env, TETHER_CONTROL_PERSIST="600")
        lock = os.path.join(plain_env["TETHER_HOME"], "control.lock")

        def tether_master():
            with open(lock) as f:
                return int(f.read())
        sshd, key = start_sshd(tmp)
        # ssh runs the command with the account's shell, and Debian's bash
        # reads ~/.bashrc under sshd: log in as the account tether's jobs run
        # as (no home, so no rc file), not as root, whose rc may do anything
        who = harness.os_account("bench") if os.geteuid() == 0 else os.environ["USER"]
        if os.geteuid() == 0:   # not locked ('!'), or sshd refuses it without PAM
            subprocess.run(["usermod", "-p", "*", who], check=True)
        target = f"{who}@127.0.0.1"
        base = ["ssh", "-q", "-p", "2222", "-i", key, "-o", "StrictHostKeyChecking=no",
                "-o", f"UserKnownHostsFile={tmp}/known", "-o", "BatchMode=yes"]
        cm = ["-o", "ControlMaster=auto", "-o", f"ControlPath={tmp}/cm",
              "-o", "ControlPersist=600"]

        def ssh_master():
            r = subprocess.run(base + ["-o", f"ControlPath={tmp}/cm", "-O", "check", target],
                               capture_output=True, text=True)
            return int(r.stderr.split("pid=")[1].split(")")[0])
        subprocess.run(base + cm + [target, "true"], check=True)
        subprocess.run(tether, env=mux_env, check=True, stdin=subprocess.DEVNULL)
        time.sleep(0.5)   # the master starts in the background
        kinds = [("tether invoke -s S -- true", tether, plain_env, None),
                 ("  the same, through its control master", tether, mux_env, tether_master),
                 ("ssh, ControlMaster reused", base + cm + [target, "true"], None, ssh_master),
                 ("ssh, fresh connection", base + [target, "true"], None, None)]
        res = {k[0]: ([], []) for k in kinds}
        for _ in range(ROUNDS):
            for name, cmd, e, m in kinds:
                walls, cpu = timed(cmd, env=e, master=m)
                res[name][0].extend(walls)
                res[name][1].append(cpu)
        print(f"invoke round trip, median of {RUNS} x {ROUNDS} runs (quartiles), ms; "
              f"client-side CPU per run (median of the rounds), ms")
        med = {}
        for name, (walls, cpus) in res.items():
            m, q1, q3 = summary(walls)
            med[name] = (m, statistics.median(cpus))
            print(f"  {name:40s} {m:7.2f}  ({q1:.2f}-{q3:.2f})   CPU {med[name][1]:6.2f}")
        t, tm, cmx, fr = (med[k[0]] for k in kinds)
        print(f"ratios: tether / ssh-ControlMaster = {t[0] / cmx[0]:.2f}x, "
              f"through its master {tm[0] / cmx[0]:.2f}x (target <= 1.0); "
              f"client CPU through its master / ssh-mux = {tm[1] / cmx[1]:.2f}x "
              f"(target <= 1.0); ssh-fresh / tether = {fr[0] / t[0]:.2f}x")
        subprocess.run(base + ["-o", f"ControlPath={tmp}/cm", "-O", "exit", target],
                       capture_output=True)
        try:
            os.kill(tether_master(), 15)
        except (OSError, ValueError):
            pass
    finally:
        if sshd:
            sshd.terminate()
        env.close(True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
