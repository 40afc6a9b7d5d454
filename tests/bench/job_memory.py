#!/usr/bin/env python3
"""Memory per running job: what the process that watches a running job
costs, tether's supervisor (`tetherd __shim`) against task-spooler's (the
`tsp` client process that runs its job and waits for it), measured on the
same machine in the same run. Prints medians and ratios; asserts nothing.

    python3 tests/bench/job_memory.py [--jobs 20] [--rounds 3]
        [--compare TETHERD]   # run as root

Each round starts JOBS `sleep` jobs in a fresh tetherd (harness.Env: own
state dir, loopback) and JOBS in a fresh tsp server (TS_SLOTS = JOBS, so
all run at once), waits until every sleep runs, and reads each sleep's
parent (the supervisor, or tsp's job process) from /proc: VmRSS, the
private part (Private_Clean + Private_Dirty of smaps_rollup, what only that
process pays for), Pss, and its page tables (VmPTE). `sleep N` is a simple
command naming a program, so tether's bash execs it and the sleep's parent
is the supervisor itself. --compare runs another tetherd build the same
way in each round. Installs task-spooler with apt-get if tsp is missing.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import benchlib  # noqa: F401  (sets the paths first)
import harness
from jobs_throughput import find_tsp


def args_parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=20, help="jobs running at once (default 20)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of each (default 3)")
    p.add_argument("--compare", metavar="TETHERD", help="another tetherd build, measured alike")
    a = p.parse_args()
    if not 1 <= a.jobs <= 200 or not 1 <= a.rounds <= 20:
        p.error("--jobs 1..200, --rounds 1..20")
    return a


def sleeps_of(nap):
    """pid -> parent pid of every `sleep NAP` running now."""
    want = b"sleep\0" + nap.encode() + b"\0"
    out = {}
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if f.read() != want:
                    continue
            with open(f"/proc/{d}/stat") as f:
                out[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return out


def memory_of(pid):
    """KiB: rss, private, pss, pte of one process."""
    fields = {}
    for name in ("status", "smaps_rollup"):
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                k, _, v = line.partition(":")
                if v.strip().endswith("kB"):
                    fields[k] = int(v.split()[0])
    return {"rss": fields["VmRSS"], "private": fields["Private_Clean"] + fields["Private_Dirty"],
            "pss": fields["Pss"], "pte": fields["VmPTE"]}


def wait_sleeps(nap, n, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = sleeps_of(nap)
        if len(s) >= n:
            return s
        time.sleep(0.05)
    raise SystemExit(f"only {len(sleeps_of(nap))} of {n} sleeps started")


def measure(nap, n):
    """Once n `sleep NAP` run: the medians of their parents' memory. The
    sleeps are killed either way."""
    try:
        rows = [memory_of(p) for p in set(wait_sleeps(nap, n).values())]
        return {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    finally:
        for pid in sleeps_of(nap):
            try:
                os.kill(pid, 9)
            except OSError:
                pass


def tether_round(a, nap, tetherd=None):
    if tetherd:
        saved, harness.TETHERD = harness.TETHERD, tetherd
        try:
            return tether_round(a, nap)
        finally:
            harness.TETHERD = saved
    env = harness.Env()
    try:
        d = env.daemon()
        d.add_user("bench")
        c = env.client()
        c.login(d, "bench")
        r = c.run("session", "new", d.host, "--name", "S")
        if r.returncode != 0:
            raise SystemExit(f"session new: {r.stderr}")
        for _ in range(a.jobs):
            r = c.run("job", "start", f"{d.host}/S", "--", f"sleep {nap}")
            if r.returncode != 0:
                raise SystemExit(f"job start: {r.stderr}")
        return measure(nap, a.jobs)
    finally:
        env.close(True)


def tsp_round(a, tsp, nap):
    tmp = tempfile.mkdtemp(prefix="tether-bench-tsp-")
    env = dict(os.environ, TS_SOCKET=os.path.join(tmp, "socket"), TMPDIR=tmp,
               TS_SLOTS=str(a.jobs))
    env.pop("TS_ENV", None)
    env.pop("TS_ONFINISH", None)
    try:
        subprocess.run([tsp, "-S", str(a.jobs)], env=env, capture_output=True, timeout=30)
        for _ in range(a.jobs):
            subprocess.run([tsp, "sleep", nap], env=env, capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        return measure(nap, a.jobs)
    finally:
        subprocess.run([tsp, "-K"], env=env, capture_output=True, timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    a = args_parse()
    tsp, _ = find_tsp()
    print(f"memory per running job: {a.jobs} sleep jobs at once, {a.rounds} rounds "
          f"(medians over the jobs, then over the rounds; KiB)")
    sides = {"tether": [], "tsp": [], "compare": []}
    for i in range(a.rounds):
        nap = f"300.{os.getpid()}{i}"
        sides["tether"].append(tether_round(a, nap + "1"))
        if a.compare:
            sides["compare"].append(tether_round(a, nap + "2", a.compare))
        if tsp:
            sides["tsp"].append(tsp_round(a, tsp, nap + "3"))
        print(f"  round {i + 1}: " + "   ".join(
            f"{k} rss {v[-1]['rss']:.0f} private {v[-1]['private']:.0f}"
            for k, v in sides.items() if v))
    med = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in sides.items() if v}
    print(f"\n{'':10} {'RSS':>8} {'private':>8} {'Pss':>8} {'PTE':>6}")
    for k, m in med.items():
        name = "compare" if k == "compare" else k
        print(f"{name:10} {m['rss']:8.0f} {m['private']:8.0f} {m['pss']:8.0f} {m['pte']:6.0f}")
    if "tsp" in med:
        t, s = med["tether"], med["tsp"]
        print(f"tether/tsp: RSS {t['rss'] / s['rss']:.2f}x, private {t['private'] / s['private']:.2f}x,"
              f" Pss {t['pss'] / s['pss']:.2f}x")
    else:
        print("tsp: not installed and could not be (apt-get); no ratio")
    if "compare" in med:
        t, o = med["tether"], med["compare"]
        print(f"tether/compare: RSS {t['rss'] / o['rss']:.2f}x, private "
              f"{t['private'] / o['private']:.2f}x")


if __name__ == "__main__":
    main()
