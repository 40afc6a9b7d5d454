#!/usr/bin/env python3
"""Transfer throughput: one large file over HTTPS from a local nginx, fetched
by curl, aria2c and a tether transfer job, in the same run and alternating
order; and, with --interrupt, how much each re-downloads per interruption
when every connection is cut after --cut-bytes. Prints MB/s per tool per run,
medians, the tether/curl, tether/(curl + fsync) and tether/aria2c ratios,
and where each command's time went. Asserts nothing.

    python3 tests/bench/transfer_throughput.py [--size 1G] [--runs 3]
        [--interrupt] [--cut-bytes 64M] [--dir /tmp] [--time-cap 600]
        [--no-tether]                                        # run as root

The file (--size, default 1 GiB) is 16 MiB of os.urandom repeated, each
16 MiB block with its own 32-byte header (its index's SHA-256), so no two
blocks are equal; it is served by the Nginx fixture of the integration tests
(tests/integration/servers.py: its own config, self-signed certificate,
loopback ports, 2 workers) at https://127.0.0.1:PORT/files/big.bin.

Per run, in an order rotated by one each run:
  curl    curl -sS --fail --cacert CERT -o OUT URL (the headline peer)
  curl + fsync  the same, then fsync(2) of OUT inside the timing: tether's
          job counts as Transferred only once its file is fsync'd, curl
          never syncs, so this is the like-for-like peer
  aria2c  aria2c --ca-certificate=CERT -x1 -s1 -d DIR -o NAME URL (one
          connection, like the others; --file-allocation=none as curl), and
          -x4 -s4 as an extra row
  tether  a tetherd started with the integration harness (own state dir,
          loopback); the client logs in, `tether session new`, then the
          synchronous `tether transfer start -s HOST/SESSION URL DEST
          --cacert CERT` (docs/cli.md): the download runs in tetherd's transfer
          worker, DEST is a path on this machine (owned by the bench user's
          OS account). The time is the whole command: job creation, the
          transfer, the client seeing it done and completing it.
Each output's SHA-256 is checked (not timed) and the output deleted, and
sync(2) run, before the next tool. The page cache is not dropped: the source file stays cached, so
this measures the HTTPS + write path, not the disk (curl's dirty pages are
deleted before they are ever written back; tether and curl + fsync pay for
the write to disk).

Phases: from the output file's birth, modification and status-change times
(coreutils stat; a few ms of granularity) against the command's start and
end, the medians of: until the file is created (tether: job creation, the
worker's start, just before it connects; curl: the first byte), the data
(until the last byte is written), then for tether the fsync, the job being
settled and seen by the client and Complete's rename (which sets the
status-change time), and the exit.

--interrupt: the same URL through servers.FaultProxy, which cuts every
connection (FIN) after --cut-bytes server->client bytes. Re-downloaded per
interruption = (bytes the proxy forwarded - file size) / cuts (the brief's
figure, TLS records and headers included), and the same with the bytes of an
uncut download through the proxy subtracted instead of the file size (what
the resumption itself costs). tether: synchronous start with --retry-delay 1
(each cut is a TransientError; the next attempt should resume with a Range
request). curl: `curl -C - -o OUT URL` run again after each failure, at most
--max-attempts times: curl's own `--retry N --retry-all-errors -C -` does not
resume (curl 7.88 truncates the output back to where the first attempt
started and fetches that again, "Throwing away N bytes"), so it never gets
past a cut. aria2c: `--max-tries=0 --retry-wait=1 -x1 -s1`, which resumes by
itself.

`tether transfer` is detected (`tether transfer start --help` must exit 0);
if the CLI has no transfer commands, or the daemon has no transfer API, the
tether rows say "tether: transfer not available in this build" and the
curl/aria2c figures are still printed. Uses build/ by default, or $TETHERD /
$TETHER.
"""
# Measured on the 2-CPU development VM (Debian 12, curl 7.88.1 / OpenSSL 3,
# aria2 1.36 / GnuTLS, nginx 1.22 with 2 workers, 1 GiB, 3 runs, Nov 2026):
# see tests/bench/README.md for the figures.
import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import HERE, TOP  # noqa: E402,F401  (sets the paths)
import harness  # noqa: E402
from servers import FaultProxy, FixtureUnavailable, Nginx  # noqa: E402

MiB = 1 << 20
BLOCK = 16 * MiB
NOT_AVAILABLE = "tether: transfer not available in this build"


def size_arg(text):
    """1073741824, 1G, 512M, 64K (powers of 1024)."""
    t = text.strip().upper().rstrip("B").rstrip("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    if t[-1:] in "KMGT":
        t = t[:-1]
    try:
        n = int(float(t) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive: {text}")
    return n


def args_parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=size_arg, default=1 << 30,
                   help="file size, e.g. 1G, 256M (default 1G)")
    p.add_argument("--runs", type=int, default=3, help="runs of each tool (default 3)")
    p.add_argument("--interrupt", action="store_true",
                   help="also measure bytes re-downloaded per interruption")
    p.add_argument("--cut-bytes", type=size_arg, default=64 * MiB,
                   help="--interrupt: cut each connection after this many bytes (default 64M)")
    p.add_argument("--max-attempts", type=int, default=200,
                   help="--interrupt: curl -C - reruns at most (default 200)")
    p.add_argument("--dir", default=None,
                   help="where the file and the outputs go (default: a temp dir in $TMPDIR)")
    p.add_argument("--time-cap", type=float, default=600,
                   help="seconds one download may take before it is stopped (default 600)")
    p.add_argument("--no-tether", action="store_true", help="curl and aria2c only")
    a = p.parse_args()
    if a.runs < 1 or a.max_attempts < 1:
        p.error("--runs and --max-attempts must be at least 1")
    return a


# -- the file ---------------------------------------------------------------------

def make_file(path, size):
    """size bytes: 16 MiB of urandom repeated, each block with its own header;
    returns the SHA-256 (computed while writing)."""
    base = bytearray(os.urandom(min(BLOCK, size)))
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left, i = size, 0
        while left > 0:
            base[:32] = hashlib.sha256(i.to_bytes(8, "big")).digest()[:min(32, len(base))]
            chunk = memoryview(base)[:min(len(base), left)]
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
            i += 1
    os.chmod(path, 0o644)
    return h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                return h.hexdigest()
            h.update(b)


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def timed(argv, cap, env=None):
    """(seconds, CompletedProcess or None if it hit the time cap)."""
    t0 = time.perf_counter()
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=cap, env=env)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, None
    return time.perf_counter() - t0, r


def why(r):
    if r is None:
        return "hit the time cap"
    text = (r.stderr or r.stdout or "").strip().splitlines()
    return f"exit {r.returncode}: {text[-1] if text else ''}"


# -- peers ----------------------------------------------------------------------------

class Curl:
    name = "curl"

    def __init__(self, cert):
        self.cert = cert

    def fetch(self, url, out, cap):
        return timed(["curl", "-sS", "--fail", "--cacert", self.cert, "-o", out, url], cap)


class CurlFsync(Curl):
    """curl, then fsync(2) of its output, inside the same timing: the fair
    peer for tether, whose job counts as Transferred only once the file is
    fsync'd (curl never syncs; the dirty pages it leaves are not its cost)."""

    name = "curl + fsync"

    def fetch(self, url, out, cap):
        t0 = time.perf_counter()
        _, r = super().fetch(url, out, cap)
        if r is not None and r.returncode == 0:
            fd = os.open(out, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return time.perf_counter() - t0, r


class Aria2:
    def __init__(self, cert, conns):
        self.cert, self.conns = cert, conns
        self.name = f"aria2c -x{conns}"

    def argv(self, url, out, *extra):
        return ["aria2c", "-q", f"--ca-certificate={self.cert}", f"-x{self.conns}",
                f"-s{self.conns}", "--file-allocation=none", "--allow-overwrite=true",
                "--auto-file-renaming=false", "--console-log-level=error",
                *extra, "-d", os.path.dirname(out), "-o", os.path.basename(out), url]

    def fetch(self, url, out, cap):
        return timed(self.argv(url, out), cap)


class Tether:
    """A tetherd from the integration harness, a logged-in client and a session."""

    name = "tether"

    def __init__(self, root, cert):
        self.cert = cert
        self.available, self.reason = self.cli_has_transfer()
        self.env = None
        if not self.available:
            return
        self.env = harness.Env()
        self.daemon = self.env.daemon()
        self.daemon.add_user("bench")
        self.client = self.env.client()
        self.client.login(self.daemon, "bench")
        self.client.json("session", "new", self.daemon.host, "--name", "xfer")
        self.session = f"{self.daemon.host}/xfer"
        # the transfer worker writes as the user's OS account when tetherd is root
        self.outdir = os.path.join(root, "tether-out")
        os.makedirs(self.outdir, exist_ok=True)
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam(harness.os_account("bench"))
            os.chown(self.outdir, pw.pw_uid, pw.pw_gid)

    @staticmethod
    def cli_has_transfer():
        tether = os.environ["TETHER"]
        if not os.access(tether, os.X_OK):
            return False, f"{tether} not built"
        try:
            r = subprocess.run([tether, "transfer", "start", "--help"], capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
        except OSError as e:
            return False, str(e)
        if r.returncode != 0:
            return False, "the CLI has no `transfer` commands"
        return True, None

    def out_path(self, name):
        return os.path.join(self.outdir, name)

    def fetch(self, url, out, cap, *extra):
        dt, r = timed([harness.TETHER, "transfer", "start", "-s", self.session, url, out,
                       "--cacert", self.cert, *extra], cap, env=self.client.env())
        if r is None or r.returncode != 0:
            self.last_state = self.state()
        return dt, r

    def state(self):
        """The session's transfers (tether transfer list --json), for diagnostics."""
        try:
            r = self.client.run("transfer", "list", "-s", self.session, "--json", timeout=30)
            doc = json.loads(r.stdout) if r.returncode == 0 else None
        except (ValueError, subprocess.TimeoutExpired):
            doc = None
        if not doc:
            return "(no transfer listing)"
        return "; ".join(f"{t.get('name')} {t.get('state')} {t.get('bytes_transferred')}/"
                         f"{t.get('bytes_total')} error={t.get('error')}" for t in doc)

    def clear(self):
        """Cancel whatever transfers are left (after a failure or a time cap)."""
        r = self.client.run("transfer", "list", "-s", self.session, "--json", timeout=30)
        try:
            for t in json.loads(r.stdout) if r.returncode == 0 else []:
                self.client.run("transfer", "remove", "-s", self.session, str(t["id"]),
                                timeout=30)
        except ValueError:
            pass

    def close(self):
        if self.env:
            self.env.close(True)


# -- part 1: throughput -------------------------------------------------------------------

def file_times(path):
    """(birth, modification, status change) times of a file in seconds, from
    coreutils stat (birth 0 where the filesystem does not keep it), or None."""
    try:
        r = subprocess.run(["stat", "-c", "%.9W %.9Y %.9Z", path], capture_output=True,
                           text=True, timeout=30)
        b, m, c = (float(x) for x in r.stdout.split())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    return b, m, c


def throughput(a, web, tools, tether, expect, outdir):
    url = web.url("/files/big.bin")
    rates = {t.name: [] for t in tools}
    errors = {t.name: [] for t in tools}
    phases = {t.name: [] for t in tools}
    for run in range(a.runs):
        order = tools[run % len(tools):] + tools[:run % len(tools)]
        cells = []
        for t in order:
            if t is tether and not tether.available:
                continue
            out = tether.out_path("big.bin") if t is tether else os.path.join(outdir, "big.bin")
            remove(out)
            os.sync()   # the previous output's write-back is not charged to this tool
            w0 = time.time()
            dt, r = t.fetch(url, out, a.time_cap)
            w1 = time.time()
            ft = file_times(out) if r is not None and r.returncode == 0 else None
            if r is not None and r.returncode == 0 and os.path.exists(out) and \
                    sha256_file(out) == expect:
                rate = a.size / dt / 1e6
                rates[t.name].append(rate)
                if ft:
                    phases[t.name].append((w0, *ft, w1))
                cells.append(f"{t.name} {rate:7.1f}")
            else:
                err = why(r) if r is None or r.returncode != 0 else "SHA-256 mismatch"
                if t is tether:
                    err += f" [{tether.last_state if r is None or r.returncode else ''}]"
                    if r is not None and run == 0 and not rates[t.name]:
                        # the daemon has no transfer API (or it fails): say so once
                        tether.available = False
                        tether.reason = err
                        tether.clear()
                errors[t.name].append(err)
                cells.append(f"{t.name} FAILED")
            remove(out)
        print(f"  run {run + 1} (MB/s): " + ", ".join(cells), flush=True)
    return rates, errors, phases


def report_phases(phases):
    """Where the time went, from the output file's own timestamps (kernel
    coarse clock: a few ms of granularity) against the command's start and
    end: tether's partial is created by the worker just before it connects,
    written until the last byte, fsync'd, and renamed into place by
    Complete (which sets its status-change time); curl creates its output at
    the first byte."""
    rows = [("tether", "partial created", "renamed into place by Complete"),
            ("curl", "output created", None), ("curl + fsync", "output created", None)]
    printed = False
    for name, born, renamed in rows:
        v = phases.get(name) or []
        if not v:
            continue
        if not printed:
            print("phases, median ms since the command started (file timestamps):")
            printed = True
        med = lambda f: statistics.median(f(x) for x in v) * 1000  # noqa: E731
        birth = med(lambda x: x[1] - x[0]) if all(x[1] > 0 for x in v) else None
        last = med(lambda x: x[2] - x[0])
        end = med(lambda x: x[4] - x[0])
        text = f"  {name:12s} "
        if birth is not None:
            text += f"{born} {birth:6.1f}, data {last - birth:7.1f}, "
        text += f"last byte written {last:7.1f}"
        if renamed:
            ren = med(lambda x: x[3] - x[0])
            text += f", {renamed} {ren:7.1f} (+{ren - last:.1f}: fsync, settling, Complete)"
        text += f", exit {end:7.1f}"
        print(text)


def report_throughput(a, rates, errors, tether):
    print(f"median MB/s (10^6 bytes/s) over {a.runs} runs, {a.size / MiB:.0f} MiB over "
          f"HTTPS on loopback:")
    med = {}
    for name, v in rates.items():
        if v:
            med[name] = statistics.median(v)
            print(f"  {name:12s} {med[name]:8.1f}   (runs: "
                  f"{', '.join(f'{x:.1f}' for x in v)})")
        elif name == "tether" and not tether.available:
            print(f"  {name:12s}      -     {NOT_AVAILABLE} ({tether.reason})")
        else:
            print(f"  {name:12s}      -     failed: {errors[name][-1] if errors[name] else ''}")
    t = med.get("tether")
    if t:
        for peer in ("curl", "curl + fsync", "aria2c -x1", "aria2c -x4"):
            if med.get(peer):
                print(f"  tether/{peer:12s} = {t / med[peer]:.3f}x")
    for name, errs in errors.items():
        if name == "tether" and not tether.available:
            continue   # said above
        for e in errs[:3]:
            print(f"  ({name} error: {e})")


# -- part 2: interruptions ---------------------------------------------------------------

def through_proxy(proxy, cut, fn):
    """Run fn() with the proxy cutting after cut bytes (None: not at all);
    returns (fn's result, bytes forwarded server->client, cuts, connections)."""
    proxy.cut_after = cut
    proxy.reset_counters()
    res = fn()
    return res, proxy.bytes_down, proxy.cuts, proxy.connections


def interrupt(a, web, curl, aria, tether, expect, outdir):
    print(f"interruptions: every connection cut after {a.cut_bytes / MiB:g} MiB "
          f"(FaultProxy, FIN), file {a.size / MiB:.0f} MiB:")
    proxy = FaultProxy(web.https_port).start()
    url = proxy.url("https", "/files/big.bin")
    rows = []
    try:
        def curl_loop(out):
            def go():
                remove(out)
                t0 = time.perf_counter()
                attempts = 0
                r = None
                while attempts < a.max_attempts:
                    attempts += 1
                    _, r = timed(["curl", "-sS", "--cacert", curl.cert, "-C", "-", "-o", out,
                                  url], a.time_cap)
                    if r is not None and r.returncode == 0:
                        break
                return time.perf_counter() - t0, r, attempts
            return go

        def aria_go(out):
            def go():
                remove(out)
                t0 = time.perf_counter()
                _, r = timed(aria.argv(url, out, "--max-tries=0", "--retry-wait=1"),
                             a.time_cap)
                return time.perf_counter() - t0, r, None
            return go

        def tether_go(out):
            def go():
                remove(out)
                t0 = time.perf_counter()
                _, r = tether.fetch(url, out, a.time_cap, "--retry-delay", "1")
                return time.perf_counter() - t0, r, None
            return go

        tools = [("curl -C - (rerun)", curl_loop, os.path.join(outdir, "big.bin")),
                 ("aria2c -x1", aria_go, os.path.join(outdir, "big.bin"))]
        if tether.available:
            tools.append(("tether", tether_go, tether.out_path("big.bin")))
        for name, make, out in tools:
            (_, r0, _), clean, _, _ = through_proxy(proxy, None, make(out))
            ok0 = r0 is not None and r0.returncode == 0 and sha256_file(out) == expect
            (dt, r, attempts), fwd, cuts, conns = through_proxy(proxy, a.cut_bytes, make(out))
            ok = r is not None and r.returncode == 0 and os.path.exists(out) and \
                sha256_file(out) == expect
            remove(out)
            if not ok:
                extra = f" [{tether.state()}]" if name == "tether" else ""
                print(f"  {name:18s} FAILED after {dt:.1f} s, {cuts} cuts, {fwd / MiB:.1f} MiB "
                      f"forwarded: {why(r) if r is None or r.returncode else 'SHA-256 mismatch'}"
                      f"{extra}")
                if name == "tether":
                    tether.clear()
                continue
            raw = (fwd - a.size) / cuts if cuts else 0
            net = (fwd - clean) / cuts if cuts and ok0 else None
            rows.append(name)
            print(f"  {name:18s} {cuts:3d} cuts, {conns:3d} connections"
                  f"{f', {attempts} runs' if attempts else ''}, {dt:6.1f} s; re-downloaded per "
                  f"interruption: {raw / 1024:9.1f} KiB (forwarded - size), "
                  + (f"{net / 1024:9.1f} KiB (forwarded - uncut {clean / MiB:.2f} MiB)"
                     if net is not None else "(uncut baseline failed)"))
        if not tether.available:
            print(f"  tether             {NOT_AVAILABLE} ({tether.reason})")
    finally:
        proxy.stop()
    return rows


# -- main ----------------------------------------------------------------------------

def main():
    a = args_parse()
    for tool, pkg in (("curl", "curl"), ("aria2c", "aria2")):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install {pkg}")
    tmp = tempfile.mkdtemp(prefix="tether-bench-xfer-", dir=a.dir)
    os.chmod(tmp, 0o711)
    web = tether = None
    try:
        try:
            web = Nginx(tmp, workers=2).start()
        except FixtureUnavailable as e:
            raise SystemExit(f"nginx UNAVAILABLE: {e.reason}")
        t0 = time.perf_counter()
        expect = make_file(web.file_path("big.bin"), a.size)
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"{a.size / MiB:.0f} MiB file written in {time.perf_counter() - t0:.1f} s "
              f"(sha256 {expect[:16]}...), {os.cpu_count()} CPUs, nginx 2 workers, "
              f"{a.runs} runs, load average before: {load}")
        outdir = os.path.join(tmp, "out")
        os.makedirs(outdir)
        curl = Curl(web.cert_path)
        curl_fsync = CurlFsync(web.cert_path)
        aria1, aria4 = Aria2(web.cert_path, 1), Aria2(web.cert_path, 4)
        if a.no_tether:
            tether = Tether.__new__(Tether)
            tether.available, tether.reason, tether.env = False, "--no-tether", None
        else:
            tether = Tether(tmp, web.cert_path)
        if not tether.available:
            print(f"{NOT_AVAILABLE} ({tether.reason}): curl and aria2c only")
        tools = [curl, curl_fsync, aria1, tether, aria4]
        rates, errors, phases = throughput(a, web, tools, tether, expect, outdir)
        report_throughput(a, rates, errors, tether)
        report_phases(phases)
        if a.interrupt:
            interrupt(a, web, curl, aria1, tether, expect, outdir)
    finally:
        if tether:
            tether.close()
        if web:
            web.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
