"""Integration test harness: a real tetherd on loopback, the real tether CLI.

Each Daemon gets its own temporary state dir and a free loopback port (the
daemon binds port 0 and logs the port it got). Each Client is a separate
$TETHER_HOME, i.e. a separate client machine. Raw HTTPS requests (for the
bad-input suite) go through Python's ssl with the daemon's own certificate
as the trust anchor. Only the Python standard library is used.
"""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

TETHERD = os.environ.get("TETHERD", "build/server/tetherd")
TETHER = os.environ.get("TETHER", "build/client/tether")
PASSWORD = "correct horse battery"


class Declared:
    """A body of n bytes announced in Content-Length but never sent: the
    daemon must decide from the headers alone."""

    def __init__(self, n):
        self.n = n


class Chunked:
    """A body sent with Transfer-Encoding: chunked (no Content-Length)."""

    def __init__(self, data, size=4096):
        self.data, self.size = data, size

    def chunks(self):
        for i in range(0, len(self.data), self.size):
            yield self.data[i:i + self.size]


def os_account(name):
    """An OS account for tether user NAME (created once, when running as root)."""
    acct = "tt-" + name
    if subprocess.run(["id", "-u", acct], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/bash",
                        acct], check=True, capture_output=True)
    return acct


class Daemon:
    """One tetherd process with its own state dir."""

    def __init__(self, root, name="d", config=None):
        self.dir = os.path.join(root, name)
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.state, exist_ok=True)
        os.chmod(self.dir, 0o711)
        self.config = None
        if config:
            self.config = os.path.join(self.dir, "tetherd.conf")
            with open(self.config, "w") as f:
                for k, v in config.items():
                    f.write(f"{k} = {v}\n")
        self.logpath = os.path.join(self.dir, "tetherd.log")
        self.proc = None
        self.port = 0

    def args(self, *extra):
        a = [TETHERD, "--state-dir", self.state]
        if self.config:
            a += ["--config", self.config]
        return a + list(extra)

    def start(self, port=None):
        """Start (on the previous port if restarting) and wait until it serves."""
        port = self.port if port is None else port
        self.log_offset = os.path.getsize(self.logpath) if os.path.exists(self.logpath) else 0
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            self.args("--listen", f"127.0.0.1:{port}", "--log-level", "debug"),
            stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = self.log_since_start()
            m = re.search(r"event=listening addr=\"127.0.0.1\" port=(\d+)", text)
            if m and "event=started" in text:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"tetherd exited {self.proc.returncode}:\n{text}")
            time.sleep(0.02)
        raise AssertionError("tetherd did not start:\n" + self.log_since_start())

    def log_since_start(self):
        with open(self.logpath, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM):
        """Stop with sig and return the exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=30)
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def admin(self, *args, input=None):
        return subprocess.run(self.args(*args), input=input, capture_output=True,
                              text=True, timeout=60)

    def add_user(self, name, password=PASSWORD, admin=False):
        extra = ["--admin"] if admin else []
        if os.geteuid() == 0:
            # a root daemon runs jobs as the user's OS account, never as root
            extra += ["--os-user", os_account(name)]
        r = self.admin("user", "add", name, "--password-stdin", *extra,
                       input=password + "\n")
        assert r.returncode == 0, r.stderr
        return name

    def fingerprint(self):
        r = self.admin("fingerprint")
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def db(self):
        """A read connection to the daemon's database."""
        return sqlite3.connect(os.path.join(self.state, "tether.db"), timeout=10)

    def query(self, sql, *params):
        c = self.db()
        try:
            return c.execute(sql, params).fetchall()
        finally:
            c.close()

    # -- raw HTTPS, for tests that must craft requests tether would never send
    def conn(self, **kw):
        ctx = ssl.create_default_context(cafile=os.path.join(self.state, "cert.pem"))
        ctx.check_hostname = False
        for k, v in kw.items():
            setattr(ctx, k, v)
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)

    def request(self, method, path, body=None, token=None, headers=None,
                content_type="application/json"):
        """Send one request on a fresh connection; returns (status, headers
        dict, parsed JSON or text). body may be a dict (sent as JSON), bytes,
        str, Declared or Chunked; a header given as None is left out."""
        h = {}
        if token:
            h["Authorization"] = "Bearer " + token
        if body is not None:
            if not isinstance(body, (bytes, str, Declared, Chunked)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode("utf-8")   # http.client would send latin-1
            if content_type:
                h["Content-Type"] = content_type
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        c = self.conn()
        try:
            if isinstance(body, Declared):
                c.putrequest(method, path, skip_accept_encoding=True)
                for k, v in h.items():
                    c.putheader(k, v)
                c.putheader("Content-Length", str(body.n))
                c.endheaders()
            elif isinstance(body, Chunked):
                c.request(method, path, body=body.chunks(), headers=h, encode_chunked=True)
            else:
                c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if os.environ.get("TETHER_API_RECORD"):
            record_exchange(method, path, body, r.status, hdrs, data)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = data.decode("utf-8", "replace")
        return r.status, hdrs, doc

    def token_for(self, user, password=PASSWORD):
        st, _, doc = self.request("POST", "/v1/login", {"user": user, "password": password})
        assert st == 200, (st, doc)
        return doc["token"]

    def healthy(self):
        st, _, doc = self.request("GET", "/v1/health")
        return st == 200 and doc["status"] == "ok"


class Client:
    """One client machine: a $TETHER_HOME."""

    def __init__(self, root, name="c"):
        self.home = os.path.join(root, "home-" + name)
        os.makedirs(self.home, exist_ok=True)

    def env(self):
        e = dict(os.environ)
        e["TETHER_HOME"] = self.home
        # an agent of whoever runs the tests must not turn password logins
        # into key logins (test_keylogin.py gives its own agents)
        e.pop("SSH_AUTH_SOCK", None)
        return e

    def run(self, *args, input=None, timeout=60):
        return subprocess.run([TETHER] + list(args), input=input, capture_output=True,
                              text=True, env=self.env(), timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def popen(self, *args):
        """Start tether in the background with pipes for stdout and stderr."""
        return subprocess.Popen([TETHER] + list(args), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.env())

    def json(self, *args, input=None):
        args = list(args)
        # --json belongs before a "--" (after it, words are the remote command's)
        at = args.index("--") if "--" in args else len(args)
        r = self.run(*args[:at], "--json", *args[at:], input=input)
        assert r.returncode == 0, f"tether {args} exit {r.returncode}: {r.stderr}{r.stdout}"
        return json.loads(r.stdout)

    def login(self, daemon, user, password=PASSWORD, *extra):
        r = self.run("login", f"{user}@{daemon.host}", "--password-stdin", "--accept-new",
                     *extra, input=password + "\n")
        assert r.returncode == 0, r.stderr
        return r

    def token(self, daemon, user):
        with open(os.path.join(self.home, "credentials.json")) as f:
            return json.load(f)[daemon.host]["tokens"][user]["token"]


def record_exchange(method, path, body, status, hdrs, data):
    """Append one raw exchange to the file $TETHER_API_RECORD names (JSON
    lines), for tests/api/validate.mjs; test_openapi.py sets it."""
    ct = hdrs.get("content-type")
    rec = {"method": method, "path": path.split("?")[0], "status": status,
           "headers": hdrs, "content_type": ct}
    if isinstance(body, bytes):
        try:
            rec["request"] = json.loads(body)
        except ValueError:
            pass
    if ct is not None and ct.startswith(("application/json", "text/")):
        rec["body"] = data.decode("utf-8", "replace")
    else:
        rec["body_b64"] = base64.b64encode(data).decode()
    with open(os.environ["TETHER_API_RECORD"], "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


def expect_error(doc, code):
    """Assert doc is {"error": {"code": code, "message": non-empty}}."""
    assert isinstance(doc, dict) and set(doc) == {"error"}, doc
    err = doc["error"]
    assert err["code"] == code, f"expected {code}, got {err}"
    assert isinstance(err["message"], str) and err["message"], err


class Env:
    """Per-test scratch space; daemons are stopped at the end."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="tether-it-")
        os.chmod(self.root, 0o711)   # job accounts traverse to their session dirs
        self.daemons = []

    def daemon(self, name="d", config=None, start=True):
        d = Daemon(self.root, name, config)
        self.daemons.append(d)
        return d.start() if start else d

    def client(self, name="c"):
        return Client(self.root, name)

    def close(self, ok):
        for d in self.daemons:
            if d.proc is not None:
                rc = d.stop()
                assert rc == 0, f"tetherd exited {rc} on SIGTERM"
        if ok:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            print(f"  (kept {self.root})")
            for d in self.daemons:
                print("  --- log of", d.dir, "(last 40 lines)")
                print("\n".join(d.log().splitlines()[-40:]))


def main(module_globals):
    """Run every test_* function in the calling module with a fresh Env."""
    only = sys.argv[1:]
    tests = [(n, f) for n, f in module_globals.items()
             if n.startswith("test_") and callable(f) and (not only or n in only)]
    passed = failed = 0
    for name, fn in tests:
        env = Env()
        ok = False
        t0 = time.monotonic()
        try:
            fn(env)
            ok = True
        except Exception:
            traceback.print_exc()
        try:
            env.close(ok)
        except Exception:
            traceback.print_exc()
            ok = False
        print(f"{'ok  ' if ok else 'FAIL'} {name} ({time.monotonic() - t0:.2f}s)", flush=True)
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not tests else 0)


def node_tools():
    """node, with tests/api/node_modules installed from the lock file (the
    npm packages of the OpenAPI check and the tus client test); tests that
    run side by side take turns at installing."""
    import fcntl
    import hashlib
    api_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api")
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, ("node and npm are needed here "
                          "(deploy/install-deps.sh --test installs them)")
    with open(os.path.join(api_dir, "package-lock.json"), "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(api_dir, "node_modules", ".tether-lock-sha256")
    with open(os.path.join(api_dir, ".install-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(stamp) as f:
                have = f.read().strip()
        except OSError:
            have = ""
        if have != want:
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                               cwd=api_dir, capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, f"npm ci in tests/api failed:\n{r.stdout}\n{r.stderr}"
            with open(stamp, "w") as f:
                f.write(want + "\n")
    return node


def put_file(directory, name, data, mode=0o644):
    """Write data to directory/name with mode; returns the path."""
    p = os.path.join(directory, name)
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, mode)
    return p


def on_terminal(env, *args, timeout=120):
    """Run tether ARGS (env: the client's environment) with stderr on a
    terminal (a pty), stdin /dev/null; returns (exit code, stdout bytes,
    the bytes drawn on the terminal)."""
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen([TETHER] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    out = p.stdout.read()
    p.stdout.close()
    p.wait(timeout)
    return p.returncode, out, seen


def unix_answers(path):
    """True if something accepts connections on the unix socket path (its
    file appears at bind(), before the listen() that makes it answer)."""
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def wait_for(pred, timeout=30, what="condition"):
    """Poll pred until it is true (bounded); returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
