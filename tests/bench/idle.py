"""What an idle tetherd costs: wake-ups, CPU and memory over a quiet minute.

A real daemon (the integration harness) with a user logged in and a few
idle sessions (each has run one command; nothing runs now) is left alone
for SECONDS (60 by default). Printed, per thread: context switches
(voluntary + nonvoluntary, from /proc/PID/task/*/status) over the window;
for the process: CPU (utime + stime), VmRSS, and where the resident memory
is (heap, thread stacks, other anonymous memory, the binary, each library,
from /proc/PID/smaps). With --strace, the same window is also traced with
`strace -f -c` (syscalls by count), installed with apt-get if missing.
Asserts nothing: run it before and after a change and compare.

    python3 tests/bench/idle.py [--seconds 60] [--sessions 4] [--strace]
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import benchlib  # noqa: F401  (sets up the paths to the build and the harness)
import harness as H


def threads(pid):
    """{tid: (name, context switches)} for every thread of pid now."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                text = f.read()
        except OSError:
            continue
        name = re.search(r"^Name:\s*(.*)$", text, re.M).group(1)
        sw = sum(int(v) for v in re.findall(r"^(?:non)?voluntary_ctxt_switches:\s*(\d+)$",
                                            text, re.M))
        out[int(tid)] = (name, sw)
    return out


def cpu_ms(pid):
    """utime + stime of the whole process, in ms."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def stack_ranges(pid):
    """Address ranges that are thread stacks: the mapping holding each
    thread's saved stack pointer (field 29 of /proc/PID/task/TID/stat)."""
    sps = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                sps.append(int(f.read().rsplit(")", 1)[1].split()[26]))
        except (OSError, ValueError, IndexError):
            continue
    return sps


def memory(pid):
    """({class: resident KiB}, VmRSS KiB, {class: private KiB}): the resident
    set split by mapping, and the part of each class that is the process's
    own (Private_Clean + Private_Dirty: not shared with any other process)."""
    sps = [sp for sp in stack_ranges(pid) if sp]
    classes, private, cur = {}, {}, None
    exe = os.readlink(f"/proc/{pid}/exe")
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", line)
            if m:
                lo, hi, name = int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip()
                if name == exe:
                    cur = "binary"
                elif name == "[heap]":
                    cur = "heap (brk)"
                elif name == "[stack]":
                    cur = "main stack"
                elif name.startswith("/"):
                    cur = os.path.basename(name)
                elif name.startswith("["):
                    cur = name
                elif any(lo <= sp < hi for sp in sps):
                    cur = "thread stacks"
                else:
                    cur = "anonymous (malloc arenas, mmap)"
                continue
            m = re.match(r"^Rss:\s+(\d+) kB", line)
            if m and cur is not None:
                classes[cur] = classes.get(cur, 0) + int(m.group(1))
            m = re.match(r"^Private_(?:Clean|Dirty):\s+(\d+) kB", line)
            if m and cur is not None:
                private[cur] = private.get(cur, 0) + int(m.group(1))
    with open(f"/proc/{pid}/status") as f:
        rss = int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))
    return classes, rss, private


def children(pid):
    """[(pid, command line)] of the processes whose parent is pid (the
    launcher, and any worker it has not handed on)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != pid:
                continue
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue
        out.append((int(p), cmd))
    return out


def rollup(pid):
    """/proc/PID/smaps_rollup as {field: KiB}."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            m = re.match(r"^(\w+):\s+(\d+) kB", line)
            if m:
                out[m.group(1)] = int(m.group(2))
    return out


def strace_available():
    if shutil.which("strace"):
        return True
    subprocess.run(["apt-get", "install", "-y", "-q", "strace"], capture_output=True)
    return shutil.which("strace") is not None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--restart", action="store_true",
                    help="measure a restarted daemon (its key loaded, not generated)")
    a = ap.parse_args()
    env = H.Env()
    ok = False
    try:
        d = env.daemon()
        c = env.client()
        d.add_user("alice")
        c.login(d, "alice")
        for i in range(a.sessions):
            c.json("session", "new", d.host, "--name", f"s{i}")
            r = c.run("invoke", "-s", f"{d.host}/s{i}", "--", "true")
            assert r.returncode == 0, r.stderr
        if a.restart:
            d.restart()
            c.run("session", "list", d.host)
        pid = d.proc.pid
        time.sleep(2)   # the last request's aftermath
        mem0, rss0, _ = memory(pid)
        print(f"tetherd pid {pid}: {len(threads(pid))} threads, {a.sessions} idle sessions, "
              f"VmRSS {rss0} KiB after start")
        tracer = None
        if a.strace and strace_available():
            out = os.path.join(env.root, "strace.txt")
            tracer = subprocess.Popen(["strace", "-f", "-c", "-o", out, "-p", str(pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        t0, c0 = threads(pid), cpu_ms(pid)
        time.sleep(a.seconds)
        t1, c1 = threads(pid), cpu_ms(pid)
        if tracer is not None:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=30)
        print(f"\nover {a.seconds:g} s idle:")
        total = 0
        for tid, (name, sw) in sorted(t1.items()):
            before = t0.get(tid, (name, 0))[1]
            total += sw - before
            print(f"  thread {tid:>7} {name:<16} context switches {sw - before:>6}")
        print(f"  all threads: {total} context switches ({total / a.seconds:.2f}/s)")
        print(f"  CPU (utime+stime): {c1 - c0:.0f} ms ({(c1 - c0) / a.seconds:.2f} ms/s)")
        mem, rss, priv = memory(pid)
        print(f"\nresident memory: VmRSS {rss} KiB (resident, of which private to tetherd)")
        for k, v in sorted(mem.items(), key=lambda kv: -kv[1]):
            if v >= 64:
                print(f"  {v:>7} KiB {priv.get(k, 0):>7} KiB  {k}")
        rest = [k for k, v in mem.items() if v < 64]
        print(f"  {sum(mem[k] for k in rest):>7} KiB {sum(priv.get(k, 0) for k in rest):>7} KiB"
              "  (the rest, each < 64 KiB)")
        r = rollup(pid)
        print("smaps_rollup: " + ", ".join(f"{k} {r.get(k, 0)} KiB" for k in (
            "Rss", "Pss", "Shared_Clean", "Private_Clean", "Private_Dirty", "Anonymous")))
        for cpid, cmd in children(pid):
            try:
                cr = rollup(cpid)
            except OSError:
                continue
            print(f"child {cpid} ({cmd[:40]}): " + ", ".join(
                f"{k} {cr.get(k, 0)} KiB" for k in ("Rss", "Pss", "Private_Dirty")))
        if tracer is not None:
            with open(out) as f:
                print("\nstrace -f -c over the window:\n" + f.read())
        ok = True
    finally:
        env.close(ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
