#!/usr/bin/env python3
"""Many clients at once: CLIENTS concurrent clients, each running INVOKES
`tether invoke -s S -- true` one after the other in a session of its own
(each `tether` by itself, and all through one control master:
TETHER_CONTROL_PERSIST), against the same load through ssh with a warm
ControlMaster per client (logged in as the job account, as
invoke_latency.py does). Rounds rotate among the three. ssh's 50 masters
each make their connection before the rounds and keep it; tether's master
makes one per worker, and keeps at most 8 free workers past a second, so
each through-the-master round follows one untimed command per client (its
workers and connections made, as ssh's are), whose p50/p99 are printed as
the cold start. Prints throughput (invokes/s), p50/p99 latency of single
invokes (whole client process), errors, and the ratios. Asserts nothing.

    python3 tests/bench/concurrency.py [--clients 50] [--invokes 20] [--rounds 3]

Installs openssh-server if sshd is missing. sshd gets `MaxSessions` and
`MaxStartups` raised so that 50 masters and their sessions are not refused.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

from benchlib import HERE, TOP  # noqa: E402,F401  (sets the paths)
import benchlib  # noqa: E402
import harness  # noqa: E402
import sys  # noqa: E402
_argv, sys.argv = sys.argv, sys.argv[:1]   # invoke_latency reads its RUNS on import
from invoke_latency import start_sshd  # noqa: E402
sys.argv = _argv


def args_parse():
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--invokes", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    return p.parse_args()


def pct(xs, q):
    """The q-th percentile (nearest rank) of xs."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * len(s) + 0.5)) - 1))]


def round_of(cmds, invokes, env=None):
    """Every client runs its command `invokes` times, all clients at once:
    (wall seconds, latencies in ms, errors, first error text)."""
    lat, errs, first = [], [0], []
    lock = threading.Lock()
    start = threading.Barrier(len(cmds) + 1)

    def client(cmd):
        start.wait()
        for _ in range(invokes):
            t0 = time.perf_counter()
            try:
                r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=120)
                ok = r.returncode == 0
                why = r.stderr.decode(errors="replace")[:200]
            except subprocess.TimeoutExpired:
                ok, why = False, "timeout"
            dt = (time.perf_counter() - t0) * 1000
            with lock:
                if ok:
                    lat.append(dt)
                else:
                    errs[0] += 1
                    if not first:
                        first.append(why)

    threads = [threading.Thread(target=client, args=(c,)) for c in cmds]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, lat, errs[0], first[0] if first else ""


def main():
    a = args_parse()
    env = harness.Env()
    tmp = tempfile.mkdtemp(prefix="tether-bench-conc-")
    sshd = None
    ssh_base = target = None
    try:
        d = env.daemon()
        c = env.client()
        d.add_user("bench")
        c.login(d, "bench")
        tether = []
        for i in range(a.clients):
            c.json("session", "new", d.host, "--name", f"c{i}")
            tether.append([os.environ["TETHER"], "invoke", "-s", f"{d.host}/c{i}", "--", "true"])
        plain_env = dict(c.env(), TETHER_CONTROL_PERSIST="no")
        mux_env = dict(c.env(), TETHER_CONTROL_PERSIST="600")
        subprocess.run(tether[0], env=mux_env, check=True, capture_output=True,
                       stdin=subprocess.DEVNULL)
        sshd, key = start_sshd_many(tmp, a.clients)
        who = harness.os_account("bench") if os.geteuid() == 0 else os.environ["USER"]
        if os.geteuid() == 0:
            subprocess.run(["usermod", "-p", "*", who], check=True)
        target = f"{who}@127.0.0.1"
        ssh_base = ["ssh", "-q", "-p", "2222", "-i", key, "-o", "StrictHostKeyChecking=no",
                    "-o", f"UserKnownHostsFile={tmp}/known", "-o", "BatchMode=yes"]
        ssh = []
        for i in range(a.clients):
            cm = ["-o", "ControlMaster=auto", "-o", f"ControlPath={tmp}/cm{i}",
                  "-o", "ControlPersist=300"]
            subprocess.run(ssh_base + cm + [target, "true"], check=True, timeout=60,
                           capture_output=True)
            ssh.append(ssh_base + cm + [target, "true"])
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        n = a.clients * a.invokes
        print(f"{a.clients} clients x {a.invokes} invokes ({n} per round), {a.rounds} rounds "
              f"each, alternating; {os.cpu_count()} CPUs, load average before: {load}")
        res = {"tether": [], "tether-mux": [], "ssh-mux": []}
        for r in range(a.rounds):
            order = [("tether", tether, plain_env), ("tether-mux", tether, mux_env),
                     ("ssh-mux", ssh, None)]
            order = order[r % 3:] + order[:r % 3]
            for name, cmds, e in order:
                if name == "tether-mux":
                    _, cold, _, _ = round_of(cmds, 1, e)
                    if cold:
                        print(f"  round {r + 1} {'(cold)':10s} one command per client first, "
                              f"untimed: p50 {pct(cold, 50):.1f} ms  p99 {pct(cold, 99):.1f} ms")
                wall, lat, errs, why = round_of(cmds, a.invokes, e)
                res[name].append((wall, lat, errs))
                print(f"  round {r + 1} {name:10s} {len(lat) / wall:7.1f} invokes/s  "
                      f"p50 {pct(lat, 50) if lat else 0:7.1f} ms  p99 "
                      f"{pct(lat, 99) if lat else 0:7.1f} ms  errors {errs}"
                      + (f" ({why.strip()})" if why else ""))
        summary = {}
        for name, rs in res.items():
            lat = [x for _, ls, _ in rs for x in ls]
            thr = statistics.median(len(ls) / w for w, ls, _ in rs)
            errs = sum(e for _, _, e in rs)
            summary[name] = (thr, pct(lat, 50), pct(lat, 99), errs)
            print(f"{name:10s} median {thr:7.1f} invokes/s, p50 {summary[name][1]:.1f} ms, "
                  f"p99 {summary[name][2]:.1f} ms (all rounds' invokes), errors {errs}")
        s = summary["ssh-mux"]
        for name in ("tether", "tether-mux"):
            t = summary[name]
            print(f"ratios: throughput {name}/ssh-mux = {t[0] / s[0]:.2f}x (target >= 1.0), "
                  f"p99 {name}/ssh-mux = {t[2] / s[2]:.2f}x (target <= 1.0), "
                  f"p50 {t[1] / s[1]:.2f}x; errors {name} {t[3]}, ssh {s[3]}")
    finally:
        try:
            with open(os.path.join(c.home, "control.lock")) as f:
                os.kill(int(f.read()), 15)
        except (OSError, ValueError, NameError):
            pass
        if ssh_base:
            for i in range(a.clients):
                subprocess.run(ssh_base + ["-o", f"ControlPath={tmp}/cm{i}", "-O", "exit",
                                           target], capture_output=True)
        if sshd:
            sshd.terminate()
            sshd.wait(timeout=30)
        env.close(True)
        shutil.rmtree(tmp, ignore_errors=True)


def start_sshd_many(tmp, clients):
    """invoke_latency's sshd, with room for `clients` masters."""
    p, key = start_sshd(tmp)
    p.terminate()
    p.wait(timeout=30)
    conf = os.path.join(tmp, "sshd_config")
    with open(conf) as f:
        settings = [ln for ln in f.read().splitlines() if not ln.startswith("PidFile")]
    settings += [f"MaxStartups {clients * 2}", "MaxSessions 100"]
    return benchlib.run_sshd(tmp, shutil.which("sshd") or "/usr/sbin/sshd", settings), key


if __name__ == "__main__":
    main()
