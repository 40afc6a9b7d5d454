#!/usr/bin/env python3
"""Output streaming: `tether invoke -s S -- head -c SIZE /dev/zero` with its
output to /dev/null, against the same command through ssh with a warm
ControlMaster (logged in as the job account, as invoke_latency.py does).
Runs alternate between the two. Prints MB/s (10^6 B/s), the client's CPU
(user+sys of the tether process; of the ssh mux client and its master,
which writes the output itself), and the daemon's RSS sampled every
100 ms during tether's streams (first, max, last: flat or growing?), then
medians and ratios. Asserts nothing.

    python3 tests/bench/stream.py [--size 1G] [--runs 3]

Installs openssh-server if sshd is missing.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import HERE, TOP  # noqa: E402,F401  (sets the paths)
import harness  # noqa: E402
_argv, sys.argv = sys.argv, sys.argv[:1]   # invoke_latency reads its RUNS on import
from invoke_latency import start_sshd  # noqa: E402
sys.argv = _argv


def size_arg(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * units[s[-1].upper()] if s[-1].upper() in units else int(s)


def args_parse():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=size_arg, default=1 << 30)
    p.add_argument("--runs", type=int, default=3)
    return p.parse_args()


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu(pid):
    """utime+stime of pid in seconds (0 if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def stream(cmd, env, size, daemon_pid=None, extra_pid=None):
    """Run cmd with stdout to /dev/null: (seconds, client CPU s, RSS samples KiB)
    or (None, error text, [])."""
    samples, stop = [], threading.Event()

    def sampler():
        while not stop.is_set():
            samples.append(rss_kib(daemon_pid))
            stop.wait(0.1)

    th = threading.Thread(target=sampler) if daemon_pid else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    extra = proc_cpu(extra_pid) if extra_pid else 0.0
    if th:
        th.start()
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=null,
                           stderr=subprocess.PIPE, timeout=600)
    dt = time.perf_counter() - t0
    stop.set()
    if th:
        th.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if extra_pid:
        cpu += proc_cpu(extra_pid) - extra
    if r.returncode != 0:
        return None, r.stderr.decode(errors="replace")[:300], []
    return dt, cpu, samples


def main():
    a = args_parse()
    env = harness.Env()
    tmp = tempfile.mkdtemp(prefix="tether-bench-stream-")
    sshd = None
    ssh_base = target = None
    try:
        d = env.daemon()
        c = env.client()
        d.add_user("bench")
        c.login(d, "bench")
        c.json("session", "new", d.host, "--name", "st")
        remote = ["head", "-c", str(a.size), "/dev/zero"]
        tether = [os.environ["TETHER"], "invoke", "-s", f"{d.host}/st", "--"] + remote
        sshd, key = start_sshd(tmp)
        who = harness.os_account("bench") if os.geteuid() == 0 else os.environ["USER"]
        if os.geteuid() == 0:
            subprocess.run(["usermod", "-p", "*", who], check=True)
        target = f"{who}@127.0.0.1"
        ssh_base = ["ssh", "-q", "-p", "2222", "-i", key, "-o", "StrictHostKeyChecking=no",
                    "-o", f"UserKnownHostsFile={tmp}/known", "-o", "BatchMode=yes",
                    "-o", "ControlMaster=auto", "-o", f"ControlPath={tmp}/cm",
                    "-o", "ControlPersist=300"]
        subprocess.run(ssh_base + [target, "true"], check=True, capture_output=True)
        ssh = ssh_base + [target, " ".join(remote)]
        # the master, not the mux client, moves the bytes (it is handed the
        # client's stdout): its CPU counts as the client's
        chk = subprocess.run(ssh_base + ["-O", "check", target], capture_output=True, text=True)
        master = int(chk.stderr.split("pid=")[1].split(")")[0]) if "pid=" in chk.stderr else None
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"{a.size / 2**20:.0f} MiB of output per run, {a.runs} runs each, alternating; "
              f"{os.cpu_count()} CPUs, load average before: {load}")
        res = {"tether": [], "ssh-mux": []}
        rss_all = []
        for i in range(a.runs):
            order = [("tether", tether, c.env(), d.proc.pid, None),
                     ("ssh-mux", ssh, None, None, master)]
            if i % 2:
                order.reverse()
            for name, cmd, e, pid, extra in order:
                dt, cpu, rss = stream(cmd, e, a.size, pid, extra)
                if dt is None:
                    print(f"  run {i + 1} {name}: FAILED: {cpu}")
                    continue
                res[name].append((a.size / dt / 1e6, cpu))
                line = (f"  run {i + 1} {name:8s} {a.size / dt / 1e6:7.1f} MB/s  "
                        f"client CPU {cpu:6.2f} s")
                if rss:
                    rss_all.append(rss)
                    line += (f"  daemon RSS first/max/last {rss[0] / 1024:.1f}/"
                             f"{max(rss) / 1024:.1f}/{rss[-1] / 1024:.1f} MiB ({len(rss)} samples)")
                print(line)
        med = {k: (statistics.median(r for r, _ in v), statistics.median(cp for _, cp in v))
               for k, v in res.items() if v}
        for k, (rate, cpu) in med.items():
            print(f"{k:8s} median {rate:7.1f} MB/s, client CPU {cpu:.2f} s")
        if len(med) == 2:
            t, s = med["tether"], med["ssh-mux"]
            print(f"ratios: throughput tether/ssh-mux = {t[0] / s[0]:.2f}x (target >= 1.0), "
                  f"client CPU tether/ssh-mux = {t[1] / s[1]:.2f}x")
        if rss_all:
            growth = max(max(r) - r[0] for r in rss_all) / 1024
            print(f"daemon RSS during the streams: {min(r[0] for r in rss_all) / 1024:.1f}-"
                  f"{max(max(r) for r in rss_all) / 1024:.1f} MiB, largest rise within a "
                  f"stream {growth:.1f} MiB")
    finally:
        if ssh_base:
            subprocess.run(ssh_base + ["-O", "exit", target], capture_output=True)
        if sshd:
            sshd.terminate()
            sshd.wait(timeout=30)
        env.close(True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
