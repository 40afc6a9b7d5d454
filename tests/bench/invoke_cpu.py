#!/usr/bin/env python3
"""The server side's CPU per invoke: the daemon and everything it starts
(launcher, supervisors, the jobs' bash) in one cgroup v2 group, metered
while whole `tether` client processes (outside the group) run

  - `invoke -H HOST -- true`: a temporary session per run (create, the
    invoke exchange, delete), what each host of a fleet costs;
  - `invoke -s HOST/S -- true` in an open session;
  - the same in a session with a saved state (a `cd /tmp` first): bash
    runs it with the prelude that restores and saves the state, where in
    a session without one `true` runs without bash (docs/architecture.md,
    "Commands without a shell").

Prints the median CPU per invoke over rounds of RUNS invokes each, the
client's own CPU per invoke, and with --perf a `perf record -g` of the
group during one more round, split by who (daemon, supervisors, bash) and
what (TLS, fork/exec, dynamic linking, sqlite, fsync, ...). Asserts nothing.

    python3 tests/bench/invoke_cpu.py [--runs N] [--rounds R] [--perf]
                                      [--compare OTHER_TETHERD]      # as root

Uses build/ (or $TETHERD / $TETHER); perf comes from Debian's linux-perf.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import HERE, TOP  # noqa: E402,F401  (sets the paths)
import harness  # noqa: E402
import benchlib  # noqa: E402
from jobs_throughput import classify_perf  # noqa: E402


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def round_of(cmd, env, runs, group):
    """Run cmd runs times; (server ms CPU, client ms CPU, wall ms) per invoke."""
    g0, c0, t0 = group.usage(), children_cpu(), time.perf_counter()
    for _ in range(runs):
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr.decode()[:300]}")
    wall = time.perf_counter() - t0
    return ((group.usage() - g0) * 1000 / runs, (children_cpu() - c0) * 1000 / runs,
            wall * 1000 / runs)


def profile(cmd, env, runs, group, tmp):
    """perf record -g of the group during runs invokes; prints the split."""
    data = os.path.join(tmp, "perf.data")
    p = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "1999", "-e", "cpu-clock",
                          "-G", group.name(), "-o", data],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    round_of(cmd, env, runs, group)
    p.send_signal(2)
    p.wait(timeout=120)
    prof = classify_perf(data, group.daemon_pid)
    total = sum(sum(v.values()) for v in prof.values()) or 1
    print(f"perf, {runs} x {' '.join(cmd[1:3])}: share of the server side's samples ({total})")
    allcat = {}
    for who, cats in sorted(prof.items(), key=lambda kv: -sum(kv[1].values())):
        n = sum(cats.values())
        top = sorted(cats.items(), key=lambda kv: -kv[1])[:6]
        print(f"  {100 * n / total:5.1f}%  {who}")
        print("          " + ", ".join(f"{w} {100 * c / total:.1f}%" for w, c in top))
        for w, c in cats.items():
            allcat[w] = allcat.get(w, 0) + c
    print("  by kind: " + ", ".join(f"{w} {100 * c / total:.0f}%" for w, c in
                                    sorted(allcat.items(), key=lambda kv: -kv[1])[:10]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50, help="invokes per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--perf", action="store_true")
    ap.add_argument("--compare", metavar="TETHERD",
                    help="also measure this tetherd binary (another build), interleaved")
    ap.add_argument("--perf-data", help="keep the last perf.data here (perf report -i)")
    a = ap.parse_args()
    env = harness.Env()
    builds = [("", os.environ["TETHERD"])] + \
        ([("other tetherd: ", a.compare)] if a.compare else [])
    groups = []
    tmp = tempfile.mkdtemp(prefix="tether-bench-", dir=os.environ.get("TMPDIR"))
    try:
        c = env.client()
        tether = os.environ["TETHER"]
        modes = []   # (label, command, environment, group)
        for i, (tag, path) in enumerate(builds):
            harness.TETHERD = path
            group = benchlib.CpuGroup(f"invoke{i}")
            if not group.path:
                raise SystemExit("needs a writable cgroup2 mount (run as root)")
            groups.append(group)
            d = env.daemon(f"d{i}")
            group.add(d.proc.pid)
            group.daemon_pid = d.proc.pid
            d.add_user("bench")
            c.login(d, "bench")
            c.json("session", "new", d.host, "--name", "b")
            h = [tether, "invoke", "-H", d.host, "--", "true"]
            s = [tether, "invoke", "-s", f"{d.host}/b", "--", "true"]
            c.json("session", "new", d.host, "--name", "st")
            r = c.run("invoke", "-s", f"{d.host}/st", "--", "cd /tmp")
            if r.returncode != 0:
                raise SystemExit(f"cd /tmp in session st: {r.stderr}")
            st = [tether, "invoke", "-s", f"{d.host}/st", "--", "true"]
            # TETHER_TLS_RESUME=0: a full handshake per process, as before
            # sessions were kept under $TETHER_HOME (docs/performance.md)
            full = dict(c.env(), TETHER_TLS_RESUME="0")
            modes += [(tag + "invoke -H HOST -- true", h, c.env(), group),
                      (tag + "  -H, full handshake each", h, full, group),
                      (tag + "invoke -s HOST/S -- true", s, c.env(), group),
                      (tag + "  -s, full handshake each", s, full, group),
                      (tag + "  -s, a session with a saved state", st, c.env(), group)]
        res = {m[0]: [] for m in modes}
        for m, cmd, e, g in modes:   # warm-up
            round_of(cmd, e, 5, g)
        for _ in range(a.rounds):
            for m, cmd, e, g in modes:   # interleaved
                res[m].append(round_of(cmd, e, a.runs, g))
        print(f"per invoke, medians of {a.rounds} rounds of {a.runs} (ms)")
        print(f"  {'':44s} {'server CPU':>10s} {'client CPU':>10s} {'wall':>8s}")
        for m, *_ in modes:
            sv, cl, w = (statistics.median(r[i] for r in res[m]) for i in range(3))
            print(f"  {m:44s} {sv:10.2f} {cl:10.2f} {w:8.2f}")
        if a.perf:
            for m, cmd, e, g in modes[:3:2]:
                profile(cmd, e, 4 * a.runs, g, tmp)
            if a.perf_data:
                os.replace(os.path.join(tmp, "perf.data"), a.perf_data)
    finally:
        env.close(True)
        for g in groups:
            g.remove()
        subprocess.run(["rm", "-rf", tmp])

if __name__ == "__main__":
    main()
