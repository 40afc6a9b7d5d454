"""ssh-like key pinning in the tether CLI: first contact, --fingerprint,
--accept-new, a changed key, the terminal prompt, --cacert, the modes of the
client's state files, and TLS-only serving.

tether is run without a controlling terminal (its own session) unless a test
gives it a pseudo-terminal on purpose, so it can never prompt the person
running the tests.
"""
import base64
import http.client
import json
import os
import pty
import re
import select
import signal
import socket
import ssl
import stat
import subprocess
import time
import warnings

from harness import PASSWORD, TETHER, main

BANNER = "REMOTE HOST IDENTIFICATION HAS CHANGED"
QUESTION = b"Are you sure you want to continue connecting (yes/no)?"


# -- helpers ------------------------------------------------------------------

def tether(c, *args, input=None, cwd=None):
    """Run tether in a new session: no controlling terminal, no /dev/tty."""
    return subprocess.run([os.path.abspath(TETHER)] + list(args), input=input,
                          capture_output=True, text=True, env=c.env(), cwd=cwd,
                          timeout=60, start_new_session=True,
                          stdin=None if input is not None else subprocess.DEVNULL)


def login(c, d, *extra, user="alice", password=PASSWORD, cwd=None):
    return tether(c, "login", f"{user}@{d.host}", "--password-stdin", *extra,
                  input=password + "\n", cwd=cwd)


def known_hosts(c):
    """The known_hosts lines ({} if there is no file)."""
    path = os.path.join(c.home, "known_hosts")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return dict(line.rstrip("\n").split(" ", 1) for line in f
                    if line.strip() and not line.startswith("#"))


def tokens(c):
    """{host: {user: token}} from credentials.json ({} if there is none)."""
    path = os.path.join(c.home, "credentials.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        doc = json.load(f)
    return {h: {u: t["token"] for u, t in v.get("tokens", {}).items()}
            for h, v in doc.items()}


def login_requests(text):
    """Lines of a daemon log showing a login was attempted."""
    return [l for l in text.splitlines()
            if re.search(r"\bevent=login", l) or 'path="/v1/login"' in l]


def other_fingerprint(d):
    """A well-formed fingerprint of some other key."""
    while True:
        fp = "SHA256:" + base64.b64encode(os.urandom(32)).decode().rstrip("=")
        if fp != d.fingerprint():
            return fp


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def run_on_pty(c, args, answer, timeout=30):
    """Run tether with a pseudo-terminal as its controlling terminal.

    Answers the host-key question with `answer` and the password prompt with
    PASSWORD, in whatever order they come. Returns (exit code, transcript,
    order of the prompts seen). Every read is bounded: a hang fails."""
    pid, fd = pty.fork()          # the child is a session leader on the pty
    if pid == 0:
        try:
            os.execve(os.path.abspath(TETHER), [TETHER] + args, c.env())
        finally:
            os._exit(127)
    out, order = b"", []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"tether on a pty timed out; transcript: {out!r}"
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:       # EIO: the child closed the terminal
                data = b""
            if not data:
                break
            out += data
            if "question" not in order and QUESTION in out:
                order.append("question")
                os.write(fd, answer.encode() + b"\n")
            if "password" not in order and b"Password for" in out:
                order.append("password")
                os.write(fd, PASSWORD.encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        pid = 0
        return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace"), order
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def setup(env, name="d"):
    d = env.daemon(name)
    d.add_user("alice")
    return d


# -- first contact ------------------------------------------------------------

def test_first_contact_without_terminal_is_refused(env):
    d = setup(env)
    c = env.client()
    fp = d.fingerprint()
    r = login(c, d)
    assert r.returncode == 255, (r.returncode, r.stderr)
    assert fp in r.stderr, r.stderr
    assert "--fingerprint" in r.stderr and "--accept-new" in r.stderr, r.stderr
    assert r.stdout == ""
    assert d.host not in known_hosts(c)
    assert d.host not in tokens(c)
    log = d.log()
    assert 'path="/v1/health"' in log, "the client never probed the key"
    assert login_requests(log) == [], login_requests(log)
    assert d.query("SELECT count(*) FROM tokens") == [(0,)]
    # and nothing else works without a login either
    r = tether(c, "session", "list", d.host)
    assert r.returncode == 255 and "not logged in" in r.stderr, r.stderr


def test_fingerprint_option(env):
    d = setup(env)
    fp = d.fingerprint()
    # wrong (well-formed) fingerprint: refused before any password is sent
    c2 = env.client("c2")
    wrong = other_fingerprint(d)
    r = login(c2, d, "--fingerprint", wrong)
    assert r.returncode == 255, (r.returncode, r.stderr)
    assert wrong in r.stderr and fp in r.stderr, r.stderr
    assert known_hosts(c2) == {} and tokens(c2) == {}
    assert login_requests(d.log()) == []
    # the right one logs in and pins
    c = env.client()
    r = login(c, d, "--fingerprint", fp, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["fingerprint"] == fp and info["user"] == "alice" and info["host"] == d.host
    assert known_hosts(c) == {d.host: fp}
    assert tokens(c)[d.host]["alice"]
    r = tether(c, "session", "list", d.host, "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == [], r.stderr


def test_malformed_fingerprint_is_a_usage_error(env):
    d = setup(env)
    c = env.client()
    fp = d.fingerprint()
    for value in ("deadbeef", "MD5:" + fp[7:], fp[7:], "sha256:" + fp[7:]):
        r = login(c, d, "--fingerprint", value)
        assert r.returncode == 2, f"--fingerprint {value!r}: exit {r.returncode}: {r.stderr}"
        assert "usage: tether login" in r.stderr, r.stderr
    r = login(c, d, "--fingerprint", fp, "--accept-new")
    assert r.returncode == 2 and "usage: tether login" in r.stderr, r.stderr
    assert known_hosts(c) == {} and tokens(c) == {}
    assert login_requests(d.log()) == []


def test_fingerprint_that_is_not_sha256_base64_is_a_usage_error(env):
    """SHA256: followed by anything but the base64 of 32 bytes is a typo, not
    a key: exit 2 (usage), not 255 with a 'presented key ... not the
    expected ...' warning after contacting the server."""
    d = setup(env)
    c = env.client()
    fp = d.fingerprint()
    wrong = []
    for value in ("SHA256:", "SHA256:not*base64!", "SHA256:AAAA", fp + "AAAA"):
        r = login(c, d, "--fingerprint", value)
        if r.returncode != 2:
            wrong.append(f"--fingerprint {value!r}: exit {r.returncode}: {r.stderr.strip()}")
    assert known_hosts(c) == {} and tokens(c) == {}
    assert login_requests(d.log()) == []
    assert not wrong, "\n".join(wrong)


def test_accept_new_pins_and_is_then_not_needed(env):
    d = setup(env)
    c = env.client()
    fp = d.fingerprint()
    r = login(c, d, "--accept-new")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(c.home, "known_hosts")) as f:
        assert f.read() == f"{d.host} {fp}\n"
    first = tokens(c)[d.host]["alice"]
    # second login: already pinned, no flag, no terminal, no question
    r = login(c, d)
    assert r.returncode == 0, r.stderr
    assert "authenticity" not in r.stderr and "yes/no" not in r.stderr, r.stderr
    assert known_hosts(c) == {d.host: fp}
    assert tokens(c)[d.host]["alice"] not in ("", first)
    assert d.query("SELECT count(*) FROM tokens") == [(2,)]
    assert len([l for l in d.log().splitlines() if re.search(r"\bevent=login\b", l)]) == 2


# -- a changed key ------------------------------------------------------------

def test_changed_key_is_refused_loudly(env):
    d = setup(env)
    c = env.client()
    old = d.fingerprint()
    assert login(c, d, "--accept-new").returncode == 0
    r = tether(c, "session", "new", d.host, "--name", "web", "--json")
    assert r.returncode == 0, r.stderr
    port = d.port
    d.stop()
    os.remove(os.path.join(d.state, "cert.pem"))
    os.remove(os.path.join(d.state, "key.pem"))
    d.start()
    assert d.port == port
    new = d.fingerprint()
    assert new != old
    for args in (("session", "list", d.host),
                 ("session", "new", d.host, "--name", "other")):
        r = tether(c, *args)
        assert r.returncode == 255, (args, r.returncode, r.stderr)
        assert BANNER in r.stderr and old in r.stderr and new in r.stderr, r.stderr
    # --json still shouts on stderr and reports the code on stdout
    r = tether(c, "session", "list", d.host, "--json")
    assert r.returncode == 255 and BANNER in r.stderr, r.stderr
    assert json.loads(r.stdout)["error"]["code"] == "hostkey_changed", r.stdout
    for extra in ((), ("--accept-new",)):
        r = login(c, d, *extra)
        assert r.returncode == 255, (extra, r.returncode, r.stderr)
        assert BANNER in r.stderr and new in r.stderr, r.stderr
    log = d.log_since_start()
    assert 'path="/v1/sessions' not in log, log
    assert login_requests(log) == [], log
    assert known_hosts(c) == {d.host: old}
    assert d.query("SELECT name FROM sessions") == [("web",)]


# -- the terminal prompt ------------------------------------------------------

def test_first_contact_on_a_terminal_asks(env):
    d = setup(env)
    c = env.client()
    fp = d.fingerprint()
    rc, out, order = run_on_pty(c, ["login", f"alice@{d.host}"], "yes")
    assert rc == 0, (rc, out)
    assert "question" in order and "password" in order, (order, out)
    assert fp in out and f"logged in to {d.host} as alice" in out, out
    assert PASSWORD not in out, "the password was echoed"
    assert known_hosts(c) == {d.host: fp}
    assert tokens(c)[d.host]["alice"]
    # ssh's order: the key is settled before a password is asked for
    assert order == ["question", "password"], f"prompt order {order}: {out!r}"


def test_answering_no_on_a_terminal_pins_nothing(env):
    d = setup(env, "d2")
    c = env.client()
    fp = d.fingerprint()
    rc, out, order = run_on_pty(c, ["login", f"alice@{d.host}"], "no")
    assert rc == 255, (rc, out)
    assert "question" in order and fp in out, (order, out)
    assert known_hosts(c) == {} and tokens(c) == {}
    assert login_requests(d.log()) == []
    # a key the user refused should not have cost them their password
    assert "password" not in order, f"asked for a password first: {out!r}"


# -- --cacert -------------------------------------------------------------------

def test_cacert(env):
    d = setup(env)
    c = env.client()
    # a relative path, recorded as an absolute one
    r = login(c, d, "--cacert", "cert.pem", cwd=d.state)
    assert r.returncode == 0, r.stderr
    cert = os.path.realpath(os.path.join(d.state, "cert.pem"))
    assert known_hosts(c) == {d.host: "cacert:" + cert}
    r = tether(c, "session", "new", d.host, "--name", "web", "--json")
    assert r.returncode == 0, r.stderr
    r = tether(c, "session", "list", d.host, "--json")
    assert r.returncode == 0 and [s["name"] for s in json.loads(r.stdout)] == ["web"]
    # a CA that did not sign the server's certificate
    other = os.path.join(env.root, "other")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=other",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", other + ".key",
                    "-out", other + ".pem"], check=True, capture_output=True, timeout=60)
    c2 = env.client("c2")
    before = len(login_requests(d.log()))
    r = login(c2, d, "--cacert", other + ".pem")
    assert r.returncode == 255, (r.returncode, r.stderr)
    assert "TLS" in r.stderr, r.stderr
    assert known_hosts(c2) == {} and tokens(c2) == {}
    assert len(login_requests(d.log())) == before


# -- client state files -------------------------------------------------------

def test_state_file_modes_and_client_id(env):
    d = setup(env)
    c = env.client()
    os.rmdir(c.home)              # let tether create its own home
    assert login(c, d, "--accept-new").returncode == 0
    assert mode(c.home) == 0o700, oct(mode(c.home))
    for name in ("credentials.json", "client_id", "known_hosts"):
        assert mode(os.path.join(c.home, name)) == 0o600, (name, oct(mode(os.path.join(c.home, name))))
    with open(os.path.join(c.home, "client_id")) as f:
        cid = f.read().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", cid), cid
    assert login(c, d).returncode == 0
    with open(os.path.join(c.home, "client_id")) as f:
        assert f.read().strip() == cid
    assert mode(os.path.join(c.home, "credentials.json")) == 0o600
    c2 = env.client("c2")
    assert login(c2, d, "--accept-new").returncode == 0
    with open(os.path.join(c2.home, "client_id")) as f:
        cid2 = f.read().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", cid2) and cid2 != cid
    # the server saw each client's id with its logins
    assert d.query("SELECT client_id FROM tokens ORDER BY id") == [(cid,), (cid,), (cid2,)]


# -- TLS only -----------------------------------------------------------------

def test_tls_only(env):
    d = setup(env)
    # plaintext HTTP gets no HTTP answer
    h = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    try:
        h.request("GET", "/v1/health")
        resp = h.getresponse()
        status = resp.status
    except (OSError, http.client.HTTPException):
        status = None
    finally:
        h.close()
    assert status != 200, "plaintext HTTP was served"
    s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    try:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    finally:
        s.close()
    assert not data.startswith(b"HTTP/"), data[:200]
    assert b'"status"' not in data
    # TLS 1.1 at most: the handshake fails on the server's side
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():          # TLS 1.0/1.1 are deprecated, on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.options &= ~getattr(ssl, "OP_NO_TLSv1_1", 0)
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    try:
        t = ctx.wrap_socket(raw)
        version = t.version()
        t.close()
        raise AssertionError(f"a {version} handshake succeeded")
    except (ssl.SSLError, ConnectionError) as e:
        # the client really offered TLS 1.1 (not refused locally to try)
        assert "NO_PROTOCOLS_AVAILABLE" not in str(e) and "no protocols" not in str(e), e
    finally:
        raw.close()
    # TLS 1.2 only and TLS 1.3 only both serve
    for v, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        c = d.conn(minimum_version=v, maximum_version=v)
        try:
            c.request("GET", "/v1/health")
            r = c.getresponse()
            doc = json.loads(r.read())
            assert c.sock.version() == name, c.sock.version()
        finally:
            c.close()
        assert r.status == 200 and doc["status"] == "ok", (name, r.status, doc)
    assert d.healthy()


if __name__ == "__main__":
    main(globals())
