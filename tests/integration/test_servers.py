"""Self-test of the real-server fixtures in servers.py, driven with curl: what
the transfer tests rely on (Range, If-Range, a server ignoring Range, basic
auth, PUT, Retry-After, a proxy cutting connections, FTP/FTPS, SFTP, SMB
downloads byte for byte, ENOSPC on a small file system), and that every
fixture leaves no process and no mount behind.

A fixture that cannot run here prints "UNAVAILABLE: reason" and its test
passes; with TETHER_REQUIRE_FIXTURES=1 it fails instead."""
import functools
import hashlib
import os
import re
import subprocess
import time

from harness import main
import servers
from servers import (FaultProxy, FixtureUnavailable, Nginx, Samba, Sftpd, SmallFs,
                     Vsftpd)

MiB = 1 << 20


def fixture_test(fn):
    """Report FixtureUnavailable as UNAVAILABLE (or fail under
    TETHER_REQUIRE_FIXTURES=1), then check nothing is left running."""
    @functools.wraps(fn)
    def wrapped(env):
        try:
            fn(env)
        except FixtureUnavailable as e:
            if os.environ.get("TETHER_REQUIRE_FIXTURES") == "1":
                raise
            print(f"UNAVAILABLE: {fn.__name__}: {e.reason}")
        assert_clean(env.root)
    return wrapped


def assert_clean(root):
    """No live process started from root (by command line) and no mount under it."""
    left = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            cmd = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if root in cmd and servers.alive(int(d)):
            left.append(f"{d}: {cmd}")
    with open("/proc/mounts") as f:
        mounts = [ln for ln in f if root in ln]
    assert not left and not mounts, f"left behind: {left} {mounts}"


def assert_stopped(fx):
    """stop() the fixture and check its whole process tree is gone."""
    pids = servers._tree(fx.proc.pid) if fx.proc else set()
    assert pids, "fixture was not running"
    fx.stop()
    alive = [p for p in pids if servers.alive(p)]
    assert not alive, f"still alive after stop(): {alive}"
    assert fx.proc is None


def curl(*args, timeout=60, env=None):
    """curl -sS ARGS (bounded); CompletedProcess with bytes stdout."""
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout)] + list(args),
                          capture_output=True, timeout=timeout + 30, env=env)


def status_of(*args):
    """(HTTP status, headers dict lower-cased, body) of one curl request."""
    r = curl("-i", *args)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    while re.match(rb"HTTP/[\d.]+ 1\d\d", head):   # 100 Continue before a PUT's answer
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/[\d.]+ (\d+)", lines[0]) if lines and lines[0] else None
    assert m, f"no HTTP status: exit {r.returncode} {r.stderr!r}"
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(m.group(1)), hdrs, body


def sha(b):
    return hashlib.sha256(b).hexdigest()


def payload(n):
    return os.urandom(n)


# -- nginx ---------------------------------------------------------------------------

@fixture_test
def test_nginx_download_range_if_range(env):
    data = payload(MiB + 123)
    with Nginx(env.root) as web:
        web.put_file("a.bin", data)
        web.put_file("sub/dir/b.bin", b"nested")
        ca = ["--cacert", web.cert_path]
        for args in (ca + [web.url("/files/a.bin")],
                     ca + [f"https://localhost:{web.https_port}/files/a.bin"],
                     [web.url("/files/a.bin", tls=False)]):
            r = curl(*args)
            assert r.returncode == 0 and sha(r.stdout) == sha(data), (args, r.stderr)
        assert curl(*ca, web.url("/files/sub/dir/b.bin")).stdout == b"nested"
        # without the CA file the certificate is not trusted
        assert curl(web.url("/files/a.bin")).returncode == 60

        st, h, body = status_of(*ca, "-r", "1000-1999", web.url("/files/a.bin"))
        assert st == 206 and body == data[1000:2000], (st, h)
        assert h["content-range"] == f"bytes 1000-1999/{len(data)}"
        etag, lm = h["etag"], h["last-modified"]
        st, h, body = status_of(*ca, "-r", f"{MiB}-", web.url("/files/a.bin"))
        assert st == 206 and body == data[MiB:]
        # If-Range: the right validator (ETag or date) gives the range, a wrong one all
        for validator in (etag, lm):
            st, _, body = status_of(*ca, "-r", "10-19", "-H", f"If-Range: {validator}",
                                    web.url("/files/a.bin"))
            assert st == 206 and body == data[10:20], (validator, st)
        st, _, body = status_of(*ca, "-r", "10-19", "-H", 'If-Range: "not-the-etag"',
                                web.url("/files/a.bin"))
        assert st == 200 and sha(body) == sha(data)
        # the file changes: new ETag, the old one no longer matches (nginx's
        # ETag is mtime-size: same size in the same second needs another mtime)
        web.put_file("a.bin", data[::-1], mtime=time.time() - 3600)
        st, h, body = status_of(*ca, "-r", "10-19", "-H", f"If-Range: {etag}",
                                web.url("/files/a.bin"))
        assert st == 200 and h["etag"] != etag and body == data[::-1]
        # /norange/ ignores Range: 200 and the whole body
        st, h, body = status_of(*ca, "-r", "10-19", web.url("/norange/a.bin"))
        assert st == 200 and body == data[::-1] and "content-range" not in h
        st, _, _ = status_of(*ca, web.url("/files/missing.bin"))
        assert st == 404
        assert_stopped(web)


@fixture_test
def test_nginx_auth_upload_status_slow(env):
    data = payload(300_000)
    with Nginx(env.root, slow_rate=100_000) as web:
        web.put_file("a.bin", data)
        ca = ["--cacert", web.cert_path]
        st, h, _ = status_of(*ca, web.url("/auth/a.bin"))
        assert st == 401 and h["www-authenticate"].startswith("Basic"), (st, h)
        st, _, _ = status_of(*ca, "-u", f"{web.user}:wrong", web.url("/auth/a.bin"))
        assert st == 401
        st, _, body = status_of(*ca, "-u", f"{web.user}:{web.password}", web.url("/auth/a.bin"))
        assert st == 200 and body == data

        src = os.path.join(env.root, "up.bin")
        with open(src, "wb") as f:
            f.write(data)
        st, _, _ = status_of(*ca, "-T", src, web.url("/upload/new/dir/up.bin"))
        assert st == 201, st
        with open(web.upload_path("new/dir/up.bin"), "rb") as f:
            assert f.read() == data
        st, _, _ = status_of(*ca, "-T", src, web.url("/upload/new/dir/up.bin"))
        assert st == 204, st   # replaced
        st, _, body = status_of(*ca, web.url("/upload/new/dir/up.bin"))
        assert st == 200 and body == data

        for code in (503, 429):
            st, h, _ = status_of(*ca, web.url(f"/status/{code}"))
            assert st == code and h["retry-after"] == "2", (code, st, h)
        st, h, body = status_of(*ca, web.url("/status/408"))
        assert st == 408 and body == b"request timeout\n" and "retry-after" not in h
        assert curl(*ca, web.url("/status/close")).returncode == 52   # empty reply

        # /slow/: 100 kB/s by default (after nginx's first burst), ?rate= per request
        t0 = time.monotonic()
        r = curl(*ca, web.url("/slow/a.bin"))
        slow = time.monotonic() - t0
        assert r.returncode == 0 and r.stdout == data
        assert 1.5 < slow < 10, slow
        t0 = time.monotonic()
        r = curl(*ca, web.url("/slow/a.bin?rate=10000000"))
        assert r.stdout == data and time.monotonic() - t0 < 1.0
        assert_stopped(web)


# -- the proxy --------------------------------------------------------------------------

@fixture_test
def test_fault_proxy(env):
    data = payload(MiB)
    with Nginx(env.root) as web, FaultProxy(web.http_port, cut_after=100_000) as px:
        web.put_file("a.bin", data)
        url = px.url("http", "/files/a.bin")
        r = curl(url)
        assert r.returncode == 18, r.stderr   # partial: the body was cut short
        assert 99_000 < len(r.stdout) < 100_000 and data.startswith(r.stdout)
        assert (px.connections, px.cuts, px.bytes_down) == (1, 1, 100_000)

        # curl -C - run again after every cut gets the whole file (curl's own
        # --retry does not resume: it truncates the output to where it began)
        px.reset_counters()
        out = os.path.join(env.root, "out.bin")
        for _ in range(30):
            r = curl("-C", "-", "-o", out, url)
            if r.returncode == 0:
                break
        assert r.returncode == 0, r.stderr
        with open(out, "rb") as f:
            assert sha(f.read()) == sha(data)
        assert px.cuts == 10 and px.connections == 11, (px.connections, px.cuts)
        assert len(data) < px.bytes_down < len(data) + px.connections * 1000, (px.bytes_down - len(data), px.connections)

        px.mode = "rst"
        px.reset_counters()
        r = curl(url)
        assert r.returncode in (18, 56), r.stderr
        assert px.cuts == 1 and px.bytes_down == 100_000

        px.refuse = True   # accepted, then reset at once: curl cannot connect
        r = curl(url)
        assert r.returncode in (7, 56) and px.refused == 1, r.stderr
        px.mode = "close"   # accepted, then closed: an empty reply
        r = curl(url)
        assert r.returncode == 52 and px.refused == 2, r.stderr

        px.refuse, px.cut_after = False, None
        px.reset_counters()
        assert curl(url).stdout == data and px.cuts == 0 and px.bytes_down > len(data)

    # TLS passes through untouched, and is cut like anything else
    with Nginx(env.root, name="nginx2") as web, FaultProxy(web.https_port) as px:
        web.put_file("a.bin", data)
        r = curl("--cacert", web.cert_path, px.url("https", "/files/a.bin"))
        assert r.returncode == 0 and r.stdout == data, r.stderr
        px.cut_after = 200_000
        r = curl("--cacert", web.cert_path, px.url("https", "/files/a.bin"))
        assert r.returncode in (18, 56) and px.cuts == 1, r.stderr
    assert px._listener is None


# -- ftp --------------------------------------------------------------------------------

@fixture_test
def test_vsftpd_ftp_and_ftps(env):
    data = payload(MiB + 7)
    with Vsftpd(env.root) as ftp:
        ftp.put_file("a.bin", data)
        r = curl(ftp.url("/a.bin"))
        assert r.returncode == 0 and sha(r.stdout) == sha(data), r.stderr
        r = curl("-r", "100-199", ftp.url("/a.bin"))
        assert r.stdout == data[100:200]
        r = curl("--ssl-reqd", "--cacert", ftp.cert_path, ftp.url("/a.bin"))
        assert r.returncode == 0 and sha(r.stdout) == sha(data), r.stderr
        r = curl("--ssl-reqd", "-k", "-r", "1000-", ftp.url("/a.bin"))
        assert r.stdout == data[1000:]
        r = curl(ftp.url("/missing.bin"))
        assert r.returncode == 78, r.stderr   # remote file not found

        src = os.path.join(env.root, "up.bin")
        with open(src, "wb") as f:
            f.write(data)
        for name, tls in (("plain.bin", []), ("tls.bin", ["--ssl-reqd", "--cacert",
                                                          ftp.cert_path])):
            r = curl(*tls, "-T", src, ftp.url(f"/{ftp.upload_subdir}/{name}"))
            assert r.returncode == 0, (name, r.stderr)
            with open(ftp.upload_path(name), "rb") as f:
                assert sha(f.read()) == sha(data), name
        # outside the upload dir anonymous users cannot write
        r = curl("-T", src, ftp.url("/nope.bin"))
        assert r.returncode == 25 and not os.path.exists(ftp.file_path("nope.bin"))
        assert_stopped(ftp)


# -- sftp ---------------------------------------------------------------------------------

@fixture_test
def test_sftpd(env):
    data = payload(MiB + 11)
    with Sftpd(env.root) as s:
        s.put_file("a.bin", data)
        auth = ["-u", f"{s.user}:{s.password}"]
        r = curl(*auth, "--hostpubsha256", s.host_key_sha256, s.url("a.bin"))
        assert r.returncode == 0 and sha(r.stdout) == sha(data), r.stderr
        r = curl(*auth, "-k", s.url(s.file_path("a.bin")))
        assert r.returncode == 0 and sha(r.stdout) == sha(data), r.stderr
        r = curl(*auth, "-k", "-r", "5-9", s.url("a.bin"))
        assert r.stdout == data[5:10]
        # known_hosts_line() is what libssh2 checks against ~/.ssh/known_hosts
        home = os.path.join(env.root, "home")
        os.makedirs(os.path.join(home, ".ssh"), exist_ok=True)
        with open(os.path.join(home, ".ssh", "known_hosts"), "w") as f:
            f.write(s.known_hosts_line() + "\n")
        r = curl(*auth, s.url("a.bin"), env=dict(os.environ, HOME=home))
        assert r.returncode == 0 and sha(r.stdout) == sha(data), r.stderr
        wrong = "A" + s.host_key_sha256[1:] if s.host_key_sha256[0] != "A" else \
            "B" + s.host_key_sha256[1:]
        assert curl(*auth, "--hostpubsha256", wrong, s.url("a.bin")).returncode == 60
        r = curl("-u", f"{s.user}:wrong", "-k", s.url("a.bin"))
        assert r.returncode == 67, r.stderr   # login denied

        src = os.path.join(env.root, "up.bin")
        with open(src, "wb") as f:
            f.write(data)
        r = curl(*auth, "-k", "-T", src, s.url("incoming/up.bin"))
        assert r.returncode == 0, r.stderr
        with open(s.upload_path("up.bin"), "rb") as f:
            assert sha(f.read()) == sha(data)
        assert_stopped(s)


# -- smb ------------------------------------------------------------------------------------

@fixture_test
def test_samba(env):
    data = payload(MiB + 13)
    with Samba(env.root) as smb:
        smb.put_file("a.bin", data)
        smb.put_file("dir/b.bin", b"nested")
        auth = ["-u", f"{smb.user}:{smb.password}"]
        r = curl(*auth, smb.url("a.bin"))
        assert r.returncode == 0 and sha(r.stdout) == sha(data), r.stderr
        assert curl(*auth, smb.url("dir/b.bin")).stdout == b"nested"
        r = curl("-u", f"{smb.user}:wrong", smb.url("a.bin"))
        assert r.returncode == 67, r.stderr   # login denied
        # libcurl's SMB client ignores both a resume offset and a byte range:
        # it always sends the file from byte 0 (a resumer must start over)
        out = os.path.join(env.root, "part.bin")
        with open(out, "wb") as f:
            f.write(data[:12345])
        r = curl(*auth, "-C", "-", "-o", out, smb.url("a.bin"))
        assert r.returncode == 0, r.stderr
        with open(out, "rb") as f:
            assert f.read() == data[:12345] + data   # appended from 0
        assert curl(*auth, "-r", "0-9", smb.url("a.bin")).stdout == data

        src = os.path.join(env.root, "up.bin")
        with open(src, "wb") as f:
            f.write(data)
        r = curl(*auth, "-T", src, smb.url("up.bin"))
        assert r.returncode == 0, r.stderr
        with open(smb.file_path("up.bin"), "rb") as f:
            assert sha(f.read()) == sha(data)
        assert_stopped(smb)


# -- small file system ---------------------------------------------------------------------

@fixture_test
def test_smallfs_enospc(env):
    fs = SmallFs(env.root, size=MiB)
    with fs:
        with open("/proc/mounts") as f:
            assert any(fs.mountpoint in ln for ln in f)
        p = os.path.join(fs.path, "big")
        err = None
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            for _ in range(4 * 16):
                os.write(fd, b"x" * (64 << 10))
        except OSError as e:
            err = e
        finally:
            os.close(fd)
        assert err is not None and err.errno == 28, err   # ENOSPC
        assert os.path.getsize(p) <= MiB
    with open("/proc/mounts") as f:
        assert not any(fs.mountpoint in ln for ln in f)
    assert not os.path.exists(fs.mountpoint)


if __name__ == "__main__":
    main(globals())
