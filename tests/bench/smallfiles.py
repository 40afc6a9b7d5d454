#!/usr/bin/env python3
"""Many small files: one tether transfer job of FILES files of 4-64 KiB over
HTTPS from nginx on loopback (the integration tests' Nginx fixture), against
`curl --parallel --parallel-max 16` fetching the same URLs into a directory.
Runs alternate between the two; prints files/s and MB/s per run, medians and
the tether/curl ratio. Asserts nothing.

    python3 tests/bench/smallfiles.py [--files 10000] [--runs 3] [--time-cap 600]

The files (sizes uniform in 4-64 KiB, fixed seed) are written once into the
fixture's docroot. tether: `tether transfer start -s S URL... DIR/ --cacert
CERT` (synchronous: it returns once every file is Transferred and moved into
place; the daemon's `transfer_files_per_job` is raised to FILES). curl: the URLs and outputs in a config file (`-K`), `--parallel
--parallel-max 16`, one connection pool; and, as an extra row, the same
config without --parallel (one file after the other on one connection, as
a tether job fetched them before it took up to transfer_parallel_files at a
time). Every output's count and total size are checked, untimed, and the
outputs deleted before the next run; the load average is printed before
and after (the machine is shared: read the ratios, not the times).
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import HERE, TOP  # noqa: E402,F401  (sets the paths)
import harness  # noqa: E402
from servers import FixtureUnavailable, Nginx  # noqa: E402


def args_parse():
    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, default=10000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--time-cap", type=float, default=600)
    return p.parse_args()


def make_files(docroot, n):
    """n files of 4-64 KiB under docroot/small; returns (names, total bytes)."""
    d = os.path.join(docroot, "small")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    rnd = random.Random(17)
    block = os.urandom(64 * 1024)
    names, total = [], 0
    for i in range(n):
        size = rnd.randint(4 * 1024, 64 * 1024)
        name = f"f{i:05d}.bin"
        with open(os.path.join(d, name), "wb") as f:
            f.write(block[:size])
        names.append(name)
        total += size
    return names, total


def check(outdir, names, total):
    """'' when outdir holds every name with the right total size, else what is wrong."""
    have = os.listdir(outdir)
    size = sum(os.path.getsize(os.path.join(outdir, n)) for n in have)
    if len(have) != len(names) or size != total:
        return f"{len(have)} files, {size} bytes (expected {len(names)}, {total})"
    return ""


def clear(outdir):
    for n in os.listdir(outdir):
        os.unlink(os.path.join(outdir, n))


def cpu_s(pid):
    """utime + stime of pid (the daemon's own threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(cmd, cap, env=None):
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=cap)
    except subprocess.TimeoutExpired:
        return None, "time cap reached"
    dt = time.perf_counter() - t0
    return (dt, "") if r.returncode == 0 else (None, (r.stderr or r.stdout)[-300:])


def main():
    a = args_parse()
    if not shutil.which("curl"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "curl"], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    tmp = tempfile.mkdtemp(prefix="tether-bench-small-")
    os.chmod(tmp, 0o711)
    web = env = None
    try:
        try:
            web = Nginx(tmp, workers=2).start()
        except FixtureUnavailable as e:
            raise SystemExit(f"nginx UNAVAILABLE: {e.reason}")
        names, total = make_files(web.docroot, a.files)
        base = f"https://127.0.0.1:{web.https_port}/files/small/"
        urls = [base + n for n in names]
        curl_out = os.path.join(tmp, "curl-out")
        os.makedirs(curl_out)
        cfg = os.path.join(tmp, "curl.cfg")
        with open(cfg, "w") as f:
            for u, n in zip(urls, names):
                f.write(f'url = "{u}"\noutput = "{os.path.join(curl_out, n)}"\n')
        curl = ["curl", "-sS", "--fail", "--parallel", "--parallel-max", "16",
                "--cacert", web.cert_path, "-K", cfg]
        # one file after the other on one kept connection: what the
        # parallelism is worth
        serial = ["curl", "-sS", "--fail", "--cacert", web.cert_path, "-K", cfg]

        env = harness.Env()
        # one job holds every file: BITS' MaxFilesPerJob, 200 by default
        d = env.daemon(config={"transfer_files_per_job": max(200, a.files)})
        d.add_user("bench")
        c = env.client()
        c.login(d, "bench")
        c.json("session", "new", d.host, "--name", "small")
        t_out = os.path.join(tmp, "tether-out")
        os.makedirs(t_out)
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam(harness.os_account("bench"))
            os.chown(t_out, pw.pw_uid, pw.pw_gid)
        tether = [harness.TETHER, "transfer", "start", "-s", f"{d.host}/small", *urls,
                  t_out + "/", "--cacert", web.cert_path]

        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"{a.files} files, {total / 1e6:.1f} MB in all, {os.cpu_count()} CPUs, "
              f"nginx 2 workers, {a.runs} runs, load average before: {load}")
        times = {"tether": [], "curl": [], "curl-serial": []}
        ratios, ratios_serial, daemon_cpu = [], [], []
        errors = {"tether": 0, "curl": 0, "curl-serial": 0}
        for i in range(a.runs):
            order = [("curl", curl, None, curl_out), ("tether", tether, c.env(), t_out)]
            if i % 2:
                order.reverse()
            order.append(("curl-serial", serial, None, curl_out))
            got = {}
            for name, cmd, e, out in order:
                subprocess.run(["sync"])
                cpu0 = cpu_s(d.proc.pid)
                dt, err = run(cmd, a.time_cap, e)
                if name == "tether":   # the scheduler's passes, the API
                    daemon_cpu.append(cpu_s(d.proc.pid) - cpu0)
                bad = err or check(out, names, total)
                clear(out)
                if bad:
                    errors[name] += 1
                    print(f"  run {i + 1} {name}: FAILED: {bad}")
                    continue
                got[name] = dt
                times[name].append(dt)
                print(f"  run {i + 1} {name:11s} {dt:7.2f} s  {a.files / dt:8.0f} files/s  "
                      f"{total / dt / 1e6:7.1f} MB/s")
            if "curl" in got and "tether" in got:
                ratios.append(got["curl"] / got["tether"])
            if "curl-serial" in got and "tether" in got:
                ratios_serial.append(got["curl-serial"] / got["tether"])
        print("medians:")
        for name in ("tether", "curl", "curl-serial"):
            if times[name]:
                m = statistics.median(times[name])
                print(f"  {name:11s} {m:7.2f} s  {a.files / m:8.0f} files/s  "
                      f"{total / m / 1e6:7.1f} MB/s  errors {errors[name]}")
        if ratios:
            print(f"tether/curl (throughput, per-run ratios' median) = "
                  f"{statistics.median(ratios):.2f}x  (runs: "
                  + ", ".join(f"{r:.2f}" for r in ratios) + "); target >= 1.0")
        if ratios_serial:
            print(f"tether/curl-serial = {statistics.median(ratios_serial):.2f}x")
        if daemon_cpu:
            print(f"tetherd's own CPU per tether run (not its transfer worker's): median "
                  f"{statistics.median(daemon_cpu):.2f} s (runs: "
                  + ", ".join(f"{x:.2f}" for x in daemon_cpu) + ")")
        with open("/proc/loadavg") as f:
            print("load average after: " + " ".join(f.read().split()[:3]))
        if errors["tether"]:
            r = c.run("transfer", "list", "-s", f"{d.host}/small", "--json", timeout=60)
            print("  transfers left:", r.stdout[:500])
    finally:
        if env:
            env.close(True)
        if web:
            web.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
