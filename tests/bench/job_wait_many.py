#!/usr/bin/env python3
"""`tether job wait` on 1,000 running background jobs: what waiting costs the
daemon and the client. Starts JOBS `sleep 3600` jobs in one session, then runs
`tether job wait -s SESSION <every id>` and, while it waits, samples the
daemon's and the tether client's RSS (/proc/PID/status VmRSS) and CPU
(utime+stime from /proc/PID/stat, as % of one core over the window), the
total RSS (and PSS) of the supervisors (`tetherd __shim`) and of the jobs'
processes, and how many requests per second the daemon serves. Baselines:
the idle daemon before any job, and the daemon with every job running but
no client. Then every job is stopped (KILL, through the API) and the time
the wait takes to notice is measured. Asserts nothing.

    python3 tests/bench/job_wait_many.py [--jobs 1000] [--window 15] [--idle 5]
        [--config KEY=VALUE]...        # run as root

A fresh tetherd (harness.Env: own state dir, loopback, random port); the
jobs are started through the HTTP API from a few threads (one keep-alive
connection each, with the logged-in client's token and client id, so the
CLI holds the session); the wait, the removal (`tether job remove --force`)
and the login are the real CLI. Every phase is bounded (--time-cap), and
cleanup always runs: jobs stopped and removed, daemon stopped, and any
process left in the daemon's tree killed (the tree is a cgroup when a
writable cgroup2 mount exists; otherwise leftovers are found in /proc).

Limits: tetherd has no per-user job limit at this writing (srvconf.c has
max_sessions_per_user only); a 429 on start is reported as a limit that
blocked the run, with its message. --config passes settings to the daemon's
config file if one ever needs raising. Uses build/ by default, or $TETHERD /
$TETHER.
"""
# What it showed first (2-CPU VM, commit 9766607, Nov 2026; since fixed: the
# CLI takes any number of ids and job wait -s polls one listing a round, which
# took the daemon from ~77% to ~29% of a core): no server limit
# blocks 1,000 jobs, but `tether job wait` refused 1,000 ids (the CLI kept
# at most 255 arguments), so 4 waits of 250 ran at once. Daemon: 12 MiB RSS
# idle, 13 MiB with 1,000 jobs; CPU ~0% idle, ~8% of a core with 1,000
# running jobs and no client (the monitor re-settles every running job every
# 500 ms: a query plus status, pid and /proc/PID/cmdline reads each), ~77%
# while the waits poll (~1,500-1,900 GETs/s: the CLI GETs every job, one
# request at a time, then sleeps 200 ms). Clients ~18% and 47 MiB for the
# four. Supervisors ~6.3 MiB RSS / ~1 MiB PSS each (~1 GiB PSS for 1,000),
# the jobs' bash+sleep ~0.4 MiB PSS per job. Ending all jobs is noticed by
# the waits within ~0.3 s.
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

from benchlib import HERE, TOP  # noqa: E402,F401  (sets the paths)
import harness  # noqa: E402
from benchlib import Api, CpuGroup  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
# the split used if the CLI refuses all ids in one call (older CLIs kept at
# most 255 arguments)
CLI_MAX_IDS = 250
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def args_parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=1000, help="jobs to wait on (default 1000)")
    p.add_argument("--window", type=float, default=15,
                   help="seconds to sample while the wait runs (default 15)")
    p.add_argument("--idle", type=float, default=5,
                   help="seconds of each baseline (default 5)")
    p.add_argument("--interval", type=float, default=0.5, help="sampling interval (0.5 s)")
    p.add_argument("--starters", type=int, default=4,
                   help="API connections starting the jobs (default 4)")
    p.add_argument("--time-cap", type=float, default=180,
                   help="seconds any one phase may take (default 180)")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="a tetherd config setting (repeatable)")
    a = p.parse_args()
    if a.jobs < 1 or a.window <= 0 or a.idle <= 0 or a.starters < 1:
        p.error("--jobs, --window, --idle and --starters must be positive")
    try:
        a.conf = dict(kv.split("=", 1) for kv in a.config)
    except ValueError:
        p.error("--config takes KEY=VALUE")
    return a


# -- /proc ---------------------------------------------------------------------------

def status_kb(pid, key="VmRSS"):
    """A kB figure from /proc/PID/status (0 if gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def stat_fields(pid):
    """(ppid, ticks, rss kB) from /proc/PID/stat, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[21]) * PAGE_KB


def ticks(pid):
    s = stat_fields(pid)
    return s[1] if s else 0


def tree(state_dir):
    """The supervisors of this daemon's jobs and their descendants:
    {"shims": [pids], "children": [pids], "grandchildren": [pids]}."""
    spool = os.path.join(state_dir, "spool") + "/"
    parent, shims = {}, []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        s = stat_fields(pid)
        if s is None:
            continue
        parent[pid] = s[0]
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) >= 3 and argv[1] == b"__shim" and argv[2].decode(
                "utf-8", "replace").startswith(spool):
            shims.append(pid)
    s = set(shims)
    kids = [p for p, pp in parent.items() if pp in s]
    k = set(kids)
    grand = [p for p, pp in parent.items() if pp in k]
    return {"shims": shims, "children": kids, "grandchildren": grand}


def kill_leftovers(state_dir):
    """Without a cgroup: kill the process groups of any job still running."""
    t = tree(state_dir)
    for pid in t["children"]:   # each job's process group leader
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


class Sampler:
    """Samples RSS of some pids every interval in a thread; CPU from the ticks
    at start and stop."""

    def __init__(self, pids, interval):
        self.pids, self.interval = pids, interval
        self.rss = {p: [] for p in pids}
        self.threads = {p: [] for p in pids}
        self.halt = threading.Event()

    def start(self):
        self.t0 = time.monotonic()
        self.c0 = {p: ticks(p) for p in self.pids}
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()
        return self

    def loop(self):
        while not self.halt.is_set():
            for p in self.pids:
                self.rss[p].append(status_kb(p))
                self.threads[p].append(status_kb(p, "Threads"))
            self.halt.wait(self.interval)

    def stop(self):
        self.halt.set()
        self.thread.join(timeout=10)
        self.secs = time.monotonic() - self.t0
        c1 = {p: ticks(p) for p in self.pids}
        self.cpu = {p: 100.0 * (c1[p] - self.c0[p]) / HZ / self.secs for p in self.pids}
        return self

    def summary(self, pid):
        """(median RSS MiB, max RSS MiB, CPU % of one core, max threads)."""
        r = [x for x in self.rss[pid] if x] or [0]
        th = [x for x in self.threads[pid] if x] or [0]
        return statistics.median(r) / 1024, max(r) / 1024, self.cpu[pid], max(th)


# -- the API -----------------------------------------------------------------------

def fan_out(d, token, cid, items, fn, threads, deadline):
    """Run fn(api, item) over items from several connections; stops at the
    first error or the deadline. Returns (results, first error or None)."""
    lock = threading.Lock()
    queue = list(items)
    queue.reverse()
    results, errors = [], []

    def run():
        api = Api(d, token, cid)
        try:
            while True:
                with lock:
                    if errors or not queue:
                        return
                    if time.monotonic() > deadline:
                        errors.append("time cap reached")
                        return
                    item = queue.pop()
                out = fn(api, item)
                with lock:
                    results.append(out)
        except Exception as e:
            with lock:
                errors.append(str(e))
        finally:
            api.close()

    ts = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=max(1, deadline - time.monotonic()) + 60)
    return results, (errors[0] if errors else None)


def count_requests(d, start, end, path_prefix):
    """Requests logged in [start, end) bytes of the daemon log under a path."""
    with open(d.logpath, "rb") as f:
        f.seek(start)
        text = f.read(end - start).decode("utf-8", "replace")
    pat = re.compile(r'event=request .*path="' + re.escape(path_prefix))
    return sum(1 for line in text.splitlines() if pat.search(line))


def mib(kb):
    return kb / 1024


# -- main ------------------------------------------------------------------------------

def main():
    a = args_parse()
    env = harness.Env()
    group = CpuGroup("wait")
    d = None
    ok = False
    ids = []
    try:
        d = env.daemon(config=a.conf or None)
        group.add(d.proc.pid)
        c = env.client()
        d.add_user("bench")
        c.login(d, "bench")
        c.json("session", "new", d.host, "--name", "w")
        sess = f"{d.host}/w"
        token = c.token(d, "bench")
        with open(os.path.join(c.home, "client_id")) as f:
            cid = f.read().strip()
        dpid = d.proc.pid
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"{a.jobs} background jobs (`sleep 3600`), one session; sampling every "
              f"{a.interval:g} s; {os.cpu_count()} CPUs, load average before: {load}")

        # baseline 1: the idle daemon
        time.sleep(1)
        base = Sampler([dpid], a.interval).start()
        time.sleep(a.idle)
        base.stop()

        # start the jobs through the API
        def start(api, i):
            st, doc = api.call_json("POST", "/v1/sessions/w/jobs", {"command": "sleep 3600"})
            if st == 429:
                raise RuntimeError(f"a limit blocked job {i + 1}: {doc}")
            if st != 201:
                raise RuntimeError(f"job {i + 1}: HTTP {st} {doc}")
            return doc["id"]

        t0 = time.monotonic()
        ids, err = fan_out(d, token, cid, range(a.jobs), start, a.starters,
                           t0 + a.time_cap)
        t_start = time.monotonic() - t0
        ids.sort()
        print(f"started {len(ids)} jobs in {t_start:.1f} s ({len(ids) / t_start:.0f} jobs/s)")
        if err:
            print(f"  STOPPED EARLY: {err}")
        if not ids:
            raise SystemExit("no job started")

        # every supervisor and every job process up (bounded)
        deadline = time.monotonic() + a.time_cap
        while True:
            t = tree(d.state)
            if len(t["shims"]) >= len(ids) and len(t["grandchildren"]) >= len(ids):
                break
            if time.monotonic() > deadline:
                print(f"  only {len(t['shims'])} supervisors and {len(t['grandchildren'])} "
                      f"sleeps are up after {a.time_cap:g} s")
                break
            time.sleep(0.5)
        st, doc = Api(d, token, cid).call_json("GET", "/v1/sessions/w/jobs")
        running = sum(1 for j in doc["jobs"] if j["state"] == "Running") if st == 200 else -1
        print(f"running: {running} jobs per the daemon; {len(t['shims'])} supervisors, "
              f"{len(t['children'])} bash, {len(t['grandchildren'])} sleep processes")

        # baseline 2: the daemon with every job running, no client asking
        time.sleep(1)
        busy = Sampler([dpid], a.interval).start()
        time.sleep(a.idle)
        busy.stop()

        # the wait: one process with every id if the CLI takes them all, else
        # several at once, each with as many as it takes
        def waits(chunk):
            procs = []
            for k in range(0, len(ids), chunk):
                procs.append(c.popen("job", "wait", "-s", sess, "--json", "--timeout",
                                     str(int(a.window + a.time_cap)),
                                     *[str(i) for i in ids[k:k + chunk]]))
            time.sleep(0.5)
            for w in procs:
                if w.poll() is not None:
                    out, errtext = w.communicate(timeout=10)
                    for other in procs:
                        if other.poll() is None:
                            other.kill()
                            other.communicate(timeout=10)
                    return None, f"exit {w.returncode}: {errtext.decode().splitlines()[0]}"
            return procs, None

        log0 = os.path.getsize(d.logpath)
        procs, why = waits(len(ids))
        if procs:
            print(f"tether job wait: all {len(ids)} ids on one command line: accepted")
        else:
            chunk = CLI_MAX_IDS
            print(f"tether job wait with all {len(ids)} ids REFUSED ({why});")
            while procs is None and chunk >= 1:
                procs, why = waits(chunk)
                if procs is None:
                    chunk //= 2
            if procs is None:
                raise SystemExit(f"tether job wait refuses even one id: {why}")
            print(f"  so {len(procs)} waits run at once, {chunk} ids each (the CLI keeps at "
                  f"most 255 arguments: client/cli/main.c, args[256])")
        samp = Sampler([dpid] + [w.pid for w in procs], a.interval).start()
        time.sleep(a.window / 2)
        t = tree(d.state)   # once, mid-window: reading 3,000 /proc entries is not free
        shim_rss = sum(status_kb(p) for p in t["shims"])
        shim_pss = sum(pss_kb(p) for p in t["shims"])
        kid_rss = sum(status_kb(p) for p in t["children"] + t["grandchildren"])
        kid_pss = sum(pss_kb(p) for p in t["children"] + t["grandchildren"])
        time.sleep(a.window / 2)
        samp.stop()
        log1 = os.path.getsize(d.logpath)
        nreq = count_requests(d, log0, log1, "/v1/sessions/w/jobs/")   # one job each
        nlist = count_requests(d, log0, log1, '/v1/sessions/w/jobs"')  # all jobs each
        still = all(w.poll() is None for w in procs)

        # end every job; how long until the wait notices
        def stop(api, jid):
            st, doc = api.call_json("POST", f"/v1/sessions/w/jobs/{jid}/stop", {"signal": "KILL"})
            if st != 200:
                raise RuntimeError(f"stop {jid}: HTTP {st} {doc}")
        t0 = time.monotonic()
        _, err = fan_out(d, token, cid, ids, stop, a.starters, t0 + a.time_cap)
        t_stopped = time.monotonic()
        if err:
            print(f"  stopping: {err}")
        n_ended, rcs, errs = 0, [], []
        for w in procs:
            try:
                out, errtext = w.communicate(timeout=max(1, t_stopped + a.time_cap
                                                         - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.kill()
                out, errtext = w.communicate(timeout=10)
            rcs.append(w.returncode)
            if w.returncode != 0:
                errs.append(errtext.decode()[:200])
            try:
                waited = json.loads(out)
                n_ended += len(waited) if isinstance(waited, list) else len(waited["jobs"])
            except (ValueError, KeyError, TypeError):
                pass
        t_done = time.monotonic()

        # report
        b = base.summary(dpid)
        r = busy.summary(dpid)
        s = samp.summary(dpid)
        per = [samp.summary(w.pid) for w in procs]
        cl = (sum(v[0] for v in per), sum(v[1] for v in per), sum(v[2] for v in per),
              max(v[3] for v in per))
        print(f"\n{'':44s}{'RSS MiB (median/max)':>22s}{'CPU % of a core':>17s}{'threads':>9s}")
        rows = [("daemon, idle (no jobs)", b),
                (f"daemon, {len(ids)} jobs running, no client", r),
                (f"daemon, while `job wait` polls", s),
                ("tether job wait (the client)" if len(procs) == 1 else
                 f"{len(procs)} tether job waits, summed", cl)]
        for name, v in rows:
            print(f"  {name:42s}{v[0]:12.1f} /{v[1]:7.1f}{v[2]:15.1f}{v[3]:9d}")
        n = max(len(t["shims"]), 1)
        print(f"  {len(t['shims'])} supervisors (tetherd __shim): RSS {mib(shim_rss):.0f} MiB "
              f"in all "
              f"({mib(shim_rss) / n * 1024:.0f} KiB each), PSS {mib(shim_pss):.0f} MiB")
        print(f"  their jobs ({len(t['children'])} bash + {len(t['grandchildren'])} sleep): RSS "
              f"{mib(kid_rss):.0f} MiB in all, PSS {mib(kid_pss):.0f} MiB")
        passes = nlist + nreq / len(ids)
        print(f"while waiting: the daemon served {nlist / samp.secs:.1f} job listings/s and "
              f"{nreq / samp.secs:.0f} single-job requests/s ({nlist} + {nreq} in "
              f"{samp.secs:.1f} s), i.e. about one look at all {len(ids)} jobs every "
              f"{samp.secs / max(passes, 1e-9):.2f} s")
        print(f"CPU per second of waiting: daemon {s[2] - r[2]:+.1f}% of a core over its "
              f"no-client figure, client {cl[2]:.1f}%")
        if not still:
            print("  NOTE: a wait had already exited during the window")
        print(f"after the last stop reply the wait{'s' if len(procs) > 1 else ''} returned in "
              f"{t_done - t_stopped:.2f} s (exit {','.join(map(str, sorted(set(rcs))))}, "
              f"{n_ended} jobs reported ended; stopping {len(ids)} jobs took "
              f"{t_stopped - t0:.1f} s)")
        for e in errs:
            print(f"  wait stderr: {e}")
        ok = not errs and n_ended == len(ids)
    finally:
        # cleanup, bounded: remove the jobs (force), stop the daemon, kill leftovers
        if d is not None and d.proc is not None and ids:
            t0 = time.monotonic()
            rcs = set()
            try:
                for k in range(0, len(ids), CLI_MAX_IDS):
                    rr = c.run("job", "remove", "-s", f"{d.host}/w", "--force",
                               *[str(i) for i in ids[k:k + CLI_MAX_IDS]],
                               timeout=max(1, t0 + a.time_cap - time.monotonic()))
                    rcs.add(rr.returncode)
                print(f"cleanup: tether job remove --force of {len(ids)} jobs "
                      f"({CLI_MAX_IDS} per call): exit {','.join(map(str, sorted(rcs)))} in "
                      f"{time.monotonic() - t0:.1f} s")
            except subprocess.TimeoutExpired:
                print(f"cleanup: tether job remove --force timed out after {a.time_cap:g} s")
        try:
            env.close(ok)
        finally:
            if d is not None:
                if group.path:
                    group.remove()
                else:
                    kill_leftovers(d.state)


if __name__ == "__main__":
    main()
