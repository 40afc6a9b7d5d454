#!/usr/bin/env python3
"""Round-trip latency: `tether invoke -s S -- true` against ssh to an sshd on
loopback, with a fresh connection per run and with ControlMaster reusing one,
all measured in the same run. Prints medians of repeated runs and ratios;
asserts nothing (benchmarks never fail a build).

    python3 tests/bench/invoke_latency.py [RUNS]     # default 30; run as root

Builds with `bash tests/run.sh` or cmake first (uses build/ by default, or
$TETHERD / $TETHER). Installs openssh-server if sshd is missing.
"""
import os
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


def timed(cmd, env=None, runs=RUNS):
    """Median and quartiles (ms) of running cmd `runs` times (after 3 warm-ups)."""
    out = []
    for i in range(runs + 3):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
        dt = (time.perf_counter() - t0) * 1000
        if r.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed: {r.stderr.decode()[:300]}")
        if i >= 3:
            out.append(dt)
    q = statistics.quantiles(out, n=4)
    return statistics.median(out), q[0], q[2]


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
        t = timed(tether, env=c.env())
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
        fresh = timed(base + [target, "true"])
        cm = ["-o", "ControlMaster=auto", "-o", f"ControlPath={tmp}/cm",
              "-o", "ControlPersist=120"]
        subprocess.run(base + cm + [target, "true"], check=True)
        reused = timed(base + cm + [target, "true"])
        print(f"invoke round trip, median of {RUNS} runs (quartiles), ms")
        print(f"  tether invoke -s S -- true        {t[0]:7.2f}  ({t[1]:.2f}-{t[2]:.2f})")
        print(f"  ssh, ControlMaster reused         {reused[0]:7.2f}  ({reused[1]:.2f}-{reused[2]:.2f})")
        print(f"  ssh, fresh connection             {fresh[0]:7.2f}  ({fresh[1]:.2f}-{fresh[2]:.2f})")
        print(f"ratios: tether / ssh-ControlMaster = {t[0] / reused[0]:.2f}x, "
              f"ssh-fresh / tether = {fresh[0] / t[0]:.2f}x")
        subprocess.run(base + ["-o", f"ControlPath={tmp}/cm", "-O", "exit", target],
                       capture_output=True)
    finally:
        if sshd:
            sshd.terminate()
        env.close(True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
