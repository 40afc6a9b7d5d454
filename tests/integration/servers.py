"""Real servers on loopback for the transfer tests (Python 3 standard library only).

Each fixture is a class with start()/stop() that is also a context manager:

    with Nginx(root) as web, FaultProxy(web.https_port) as proxy:
        ...

Everything a fixture writes lives under ROOT/NAME (configs, keys, logs, pid
files, docroots), ports are picked free on 127.0.0.1 just before the server
starts, stop() kills the server's whole process tree and waits for it, and
every wait is bounded. A server that does not come up raises FixtureError
with the tail of its log; a fixture that cannot run on this machine (tool
not installed, not root, ...) raises FixtureUnavailable(reason), which tests
report as "UNAVAILABLE: reason" instead of skipping silently.

A fixture's server gets SIGTERM if the process that started it dies (setpriv
--pdeathsig), so a killed test run leaves no servers behind.

Fixtures: Nginx (HTTP and HTTPS: static files with Range, a server that
ignores Range, basic auth, PUT uploads, 503/429/408, rate-limited files),
FaultProxy (a TCP proxy that cuts connections after N bytes), Vsftpd (FTP
and explicit FTPS, anonymous), Sftpd (a second sshd with internal-sftp and
one password account), Samba (smbd speaking SMB1/NT1 for libcurl's SMB
client), SmallFs (a size-limited tmpfs for disk-full tests).
"""
import base64
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time

LOOPBACK = "127.0.0.1"
SETPRIV = shutil.which("setpriv")   # util-linux


class FixtureUnavailable(Exception):
    """This fixture cannot run here; .reason says precisely why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class FixtureError(RuntimeError):
    """The server was started but did not come up (message has its log tail)."""


# -- helpers -------------------------------------------------------------------

def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
            return True
        except OSError:
            return False


def free_port_range(n, lo=30000, hi=60000, tries=200):
    """(first, last) of n consecutive ports that were all free a moment ago."""
    for _ in range(tries):
        first = random.randrange(lo, hi - n)
        if all(port_free(p) for p in range(first, first + n)):
            return first, first + n - 1
    raise FixtureError(f"no {n} consecutive free ports in {lo}-{hi}")


def run(argv, input=None, timeout=60, check=True):
    """Run a helper command (bounded); raise FixtureError with its output if it fails."""
    try:
        r = subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                           text=isinstance(input, str) or input is None)
    except FileNotFoundError as e:
        raise FixtureUnavailable(f"{argv[0]} is not installed ({e})") from None
    except subprocess.TimeoutExpired:
        raise FixtureError(f"{' '.join(argv)} timed out after {timeout}s") from None
    if check and r.returncode != 0:
        raise FixtureError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr}{r.stdout}")
    return r


def need_binary(path, package):
    """path if executable, else FixtureUnavailable naming the Debian package."""
    found = path if os.path.isabs(path) else shutil.which(path)
    if not found or not os.access(found, os.X_OK):
        raise FixtureUnavailable(f"{path} not found (apt-get install {package})")
    return found


def need_root(what):
    if os.geteuid() != 0:
        raise FixtureUnavailable(f"{what} needs root (running as uid {os.geteuid()})")


def make_cert(directory, name="server"):
    """A self-signed RSA certificate for CN 127.0.0.1 with SAN IP:127.0.0.1 and
    DNS:localhost; returns (cert_path, key_path). The certificate is its own
    CA (basicConstraints CA:TRUE), so it works as a --cacert file."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
         "-days", "3650", "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-addext", "basicConstraints=critical,CA:TRUE"])
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


def os_account(name, password=None, shell="/bin/bash"):
    """An OS account (created once, idempotently; root only); sets its password
    with chpasswd if one is given."""
    need_root(f"creating OS account {name}")
    if subprocess.run(["id", "-u", name], capture_output=True).returncode != 0:
        r = run(["useradd", "--system", "--no-create-home", "--shell", shell, name],
                check=False)
        # a concurrent creator may have won the race
        if r.returncode != 0 and \
                subprocess.run(["id", "-u", name], capture_output=True).returncode != 0:
            raise FixtureError(f"useradd {name}: {r.stderr}")
    if password is not None:
        run(["chpasswd"], input=f"{name}:{password}\n")
    return name


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _proc_table():
    """{pid: (ppid, pgrp)} of every process now."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            out[int(d)] = (int(rest[1]), int(rest[2]))
        except (OSError, IndexError, ValueError):
            pass
    return out


def _tree(pid):
    """pid, every descendant of it, and every process in its process group."""
    table = _proc_table()
    found = {pid} | {p for p, (_, g) in table.items() if g == pid}
    grew = True
    while grew:
        grew = False
        for p, (pp, _) in table.items():
            if pp in found and p not in found:
                found.add(p)
                grew = True
    return found


def children(pid):
    """The processes whose parent is pid (zombies not yet reaped included)."""
    return [p for p, (pp, _) in _proc_table().items() if pp == pid]


def running(argv):
    """The pids of the processes whose command line is argv: ones that have
    exec'd it (a shell's child between its fork and exec has the shell's)."""
    want = b"\0".join(a.encode() for a in argv) + b"\0"
    found = []
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if f.read() == want:
                    found.append(int(d))
        except OSError:
            pass
    return found


_naps = 0


def unique_sleep(seconds=30):
    """A sleep length no other process of the test run uses, as text, so
    running(["sleep", it]) finds this test's sleep and no other."""
    global _naps
    _naps += 1
    return f"{seconds}.{os.getpid()}{_naps}"


def alive(pid):
    """Whether pid runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


# -- base ------------------------------------------------------------------------

class Fixture:
    """A server process run in its own process group under DIR = root/name."""

    name = "fixture"
    start_timeout = 30

    def __init__(self, root, name=None):
        self.name = name or self.name
        self.dir = os.path.join(root, self.name)
        os.makedirs(self.dir, exist_ok=True)
        # servers that drop privileges must be able to reach their docroots
        os.chmod(root, os.stat(root).st_mode | 0o711)
        os.chmod(self.dir, 0o755)
        self.logpath = os.path.join(self.dir, self.name + ".log")
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        raise NotImplementedError

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def log_tail(self, n=40, paths=None):
        out = []
        for p in paths or self.log_paths():
            try:
                with open(p, "rb") as f:
                    f.seek(max(0, os.path.getsize(p) - 65536))
                    lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
            except OSError:
                continue
            out.append(f"--- {p} (last {len(lines)} lines)")
            out.extend(lines)
        return "\n".join(out) or "(no log)"

    def log_paths(self):
        return [self.logpath]

    def _spawn(self, argv, env=None, cwd=None):
        # if this process dies without stop() (a ctest timeout, a kill), the
        # server gets SIGTERM instead of living on; it follows the spawning
        # thread, so start fixtures from a thread that outlives them
        if SETPRIV:
            argv = [SETPRIV, "--pdeathsig", "TERM", "--"] + list(argv)
        log = open(self.logpath, "ab")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                         start_new_session=True)
        finally:
            log.close()
        return self.proc

    def _fail(self, what):
        rc = self.proc.poll() if self.proc else None
        tail = self.log_tail()
        self._kill_tree()
        state = f"exited {rc}" if rc is not None else "still running"
        raise FixtureError(f"{self.name}: {what} ({state})\n{tail}")

    def _wait_ready(self, probe, what, timeout=None):
        """Poll probe() until true; fail with the log tail if the process dies
        or the time is up."""
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail(f"exited before {what}")
            try:
                if probe():
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self._fail(f"timed out waiting for {what}")

    def _wait_port(self, port, banner=None):
        """Wait until 127.0.0.1:port accepts (and, if banner, sends a line
        starting with it)."""
        def probe():
            with socket.create_connection((LOOPBACK, port), timeout=2) as s:
                if banner is None:
                    return True
                s.settimeout(5)
                return s.recv(256).startswith(banner)
        self._wait_ready(probe, f"port {port}")

    def _kill_tree(self, timeout=15):
        """SIGTERM the process, its descendants and its process group; SIGKILL
        what is left after timeout; reap the leader."""
        if self.proc is None:
            return None
        pids = _tree(self.proc.pid)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in pids:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 10)
            while time.monotonic() < deadline:
                self.proc.poll()
                pids = {p for p in pids | _tree(self.proc.pid) if alive(p)}
                if not pids:
                    break
                time.sleep(0.05)
            if not pids:
                break
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        self.proc = None
        return rc

    def stop(self):
        """Kill the server's whole process tree and wait for it (idempotent)."""
        return self._kill_tree()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None


def _with_port_retry(fixture, attempt, tries=3):
    """Run attempt() (pick ports, write config, spawn, wait); retry with new
    ports if the server lost a port race."""
    for i in range(tries):
        try:
            return attempt()
        except FixtureError as e:
            text = str(e).lower()
            # nginx/sshd: "Address already in use"; vsftpd: "could not bind
            # listening IPv4 socket"; smbd: "NT_STATUS_ADDRESS_ALREADY_ASSOCIATED"
            if i == tries - 1 or not any(w in text for w in ("in use", "could not bind",
                                                             "already_associated")):
                raise


# -- servers of files ------------------------------------------------------------------

class FileServer(Fixture):
    """A fixture serving files from self.docroot (and taking uploads into
    self.upload_dir, where it does)."""

    def put_file(self, name, data, mtime=None):
        """Create (or replace, atomically) docroot/NAME with data; returns its
        path. nginx's ETag is only mtime (seconds) and size: to make a change
        of a file visible to If-Range within the same second and at the same
        size, give a different mtime (seconds since the epoch)."""
        return self._write(self.docroot, name, data, mtime)

    def file_path(self, name):
        """Path in the docroot of a file served as NAME."""
        return os.path.join(self.docroot, name)

    def upload_path(self, name):
        """Path where an upload of NAME lands."""
        return os.path.join(self.upload_dir, name)

    @staticmethod
    def _write(base, name, data, mtime=None):
        p = os.path.join(base, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        tmp = p + ".tmp-fixture"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.rename(tmp, p)
        return p


# -- nginx ----------------------------------------------------------------------------

class Nginx(FileServer):
    """nginx on one HTTP and one HTTPS port of 127.0.0.1.

    Nginx(root, name="nginx", slow_rate=65536, retry_after=2, workers=1,
          user="tt", password="tt-secret")

    Locations (all on both ports):
      /files/NAME    static from docroot (Range, ETag, Last-Modified, If-Range)
      /norange/NAME  same files, Range ignored (max_ranges 0): always 200, full body
      /auth/NAME     same files behind basic auth (self.user / self.password)
      /upload/NAME   PUT stores into upload_dir (missing dirs created; no size
                     limit); GET/HEAD read back; DELETE removes
      /status/503    503 with "Retry-After: <retry_after>"
      /status/429    429 with "Retry-After: <retry_after>"
      /status/408    a real 408 response (body "request timeout\n")
      /status/close  closes the connection without any response (nginx 444)
      /slow/NAME     same files at slow_rate bytes/s (0 = unlimited); a query
                     ?rate=N sets the rate of one request (e.g. /slow/f?rate=1000)
    Attributes: docroot, upload_dir, http_port, https_port, cert_path (the
    self-signed certificate, use it as the CA file), key_path, user, password,
    access_log, error_log, slow_rate, retry_after.
    """

    name = "nginx"
    binary = "/usr/sbin/nginx"

    def __init__(self, root, name=None, slow_rate=65536, retry_after=2, workers=1,
                 user="tt", password="tt-secret"):
        super().__init__(root, name)
        self.slow_rate, self.retry_after, self.workers = slow_rate, retry_after, workers
        self.user, self.password = user, password
        self.docroot = self.path("docroot")
        self.upload_dir = self.path("upload")
        self.conf = self.path("nginx.conf")
        self.error_log = self.path("error.log")
        self.access_log = self.path("access.log")
        self.http_port = self.https_port = 0
        self.cert_path = self.key_path = None

    def log_paths(self):
        return [self.logpath, self.error_log]

    def start(self):
        need_binary(self.binary, "nginx-light")
        for d in (self.docroot, self.upload_dir, self.path("tmp")):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        self.cert_path, self.key_path = make_cert(self.dir)
        hashed = run(["openssl", "passwd", "-apr1", self.password]).stdout.strip()
        with open(self.path("htpasswd"), "w") as f:
            f.write(f"{self.user}:{hashed}\n")
        os.chmod(self.path("htpasswd"), 0o644)
        _with_port_retry(self, self._attempt)
        return self

    def _attempt(self):
        self.http_port, self.https_port = free_port(), free_port()
        while self.https_port == self.http_port:
            self.https_port = free_port()
        self._write_conf()
        r = run([self.binary, "-t", "-p", self.dir, "-e", self.error_log, "-c", self.conf],
                check=False)
        if r.returncode != 0:
            raise FixtureError(f"nginx -t: {r.stderr}")
        self._spawn([self.binary, "-p", self.dir, "-e", self.error_log, "-c", self.conf])
        self._wait_port(self.http_port)
        self._wait_port(self.https_port)

    def _write_conf(self):
        d, tmp = self.dir, self.path("tmp")
        docroot = self.docroot + "/"
        # workers run as root when we are root: the docroot needs no opening up
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = f"""# tether test fixture (generated)
daemon off;
master_process on;
worker_processes {self.workers};
{user}
pid {d}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 512; }}
http {{
    default_type application/octet-stream;
    access_log {self.access_log};
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    server_tokens off;
    map $arg_rate $tt_slow_rate {{
        "" {int(self.slow_rate)};
        default $arg_rate;
    }}
    server {{
        listen {LOOPBACK}:{self.http_port};
        listen {LOOPBACK}:{self.https_port} ssl;
        server_name localhost 127.0.0.1;
        ssl_certificate {self.cert_path};
        ssl_certificate_key {self.key_path};
        root {self.docroot};
        location /files/ {{ alias {docroot}; }}
        location /norange/ {{ alias {docroot}; max_ranges 0; }}
        location /auth/ {{
            alias {docroot};
            auth_basic "tether test";
            auth_basic_user_file {d}/htpasswd;
        }}
        location /upload/ {{
            alias {self.upload_dir}/;
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            client_max_body_size 0;
            client_body_temp_path {tmp}/upload;
        }}
        location = /status/503 {{ add_header Retry-After {self.retry_after} always; return 503; }}
        location = /status/429 {{ add_header Retry-After {self.retry_after} always; return 429; }}
        # a plain "return 408" makes nginx close without answering: send a real 408
        location = /status/408 {{ error_page 418 =408 @tt_408; return 418; }}
        location @tt_408 {{ default_type text/plain; return 200 "request timeout\n"; }}
        location = /status/close {{ return 444; }}
        location /slow/ {{ alias {docroot}; limit_rate $tt_slow_rate; }}
    }}
}}
"""
        with open(self.conf, "w") as f:
            f.write(conf)

    def url(self, path, tls=True):
        """URL of path on this server, e.g. url("/files/a.bin")."""
        if not path.startswith("/"):
            path = "/" + path
        if tls:
            return f"https://{LOOPBACK}:{self.https_port}{path}"
        return f"http://{LOOPBACK}:{self.http_port}{path}"


# -- fault-injecting TCP proxy ------------------------------------------------------

class FaultProxy:
    """A threaded TCP proxy on 127.0.0.1 in front of target_port.

    FaultProxy(target_port, cut_after=None, mode="close", target_host="127.0.0.1")

    Each connection forwards both ways; after cut_after bytes have gone server
    -> client on it, the connection is cut: both sides closed ("close": FIN)
    or reset ("rst": SO_LINGER 0). cut_up_after does the same for bytes
    client -> server (an upload cut mid-request). None = pass-through.
    cut_after, cut_up_after, mode and refuse may be changed at any time; a
    connection uses the values in force when it was accepted. refuse=True closes each connection on
    accept, before connecting to the target, the way mode says (curl then
    reports "empty reply" for close, "couldn't connect" for rst). TLS passes
    through untouched.

    Attributes: port (listening), cut_after, mode, refuse, and the counters
    connections (accepted), cuts, refused, bytes_down (server -> client, all
    connections), bytes_up. Methods: start(), stop(), reset_counters(),
    url(scheme, path) (e.g. proxy.url("https", "/files/a")).
    """

    def __init__(self, target_port, cut_after=None, mode="close", target_host=LOOPBACK):
        self.target = (target_host, target_port)
        self.cut_after, self.mode, self.refuse = cut_after, mode, False
        self.cut_up_after = None
        self.port = 0
        self._lock = threading.Lock()
        self._socks = set()
        self._threads = []
        self._listener = None
        self._stopping = False
        self.reset_counters()

    def reset_counters(self):
        with getattr(self, "_lock", threading.Lock()):
            self.connections = self.cuts = self.refused = 0
            self.bytes_down = self.bytes_up = 0

    @property
    def bytes_forwarded(self):
        """Bytes forwarded server -> client, all connections."""
        return self.bytes_down

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LOOPBACK, 0))
        s.listen(128)
        s.settimeout(0.2)
        self._listener, self.port = s, s.getsockname()[1]
        self._stopping = False
        t = threading.Thread(target=self._accept_loop, name="faultproxy-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def url(self, scheme, path="/"):
        return f"{scheme}://{LOOPBACK}:{self.port}{path}"

    def _accept_loop(self):
        while not self._stopping:
            try:
                c, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                refuse, cut, mode = self.refuse, self.cut_after, self.mode
                cut_up = self.cut_up_after
            if refuse:
                with self._lock:
                    self.refused += 1
                self._close(c, mode)
                continue
            t = threading.Thread(target=self._serve, args=(c, cut, mode, cut_up),
                                 name="faultproxy-conn", daemon=True)
            t.start()
            with self._lock:
                self._threads = [x for x in self._threads if x.is_alive()] + [t]

    def _track(self, *socks):
        with self._lock:
            self._socks.update(socks)

    def _close(self, s, mode="close"):
        try:
            if mode == "rst":
                # linger 0: the close sends RST; SHUT_RD only wakes a thread
                # blocked in recv on it (a close alone would not, and the
                # socket would live on until that recv returned)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.shutdown(socket.SHUT_RD)
            else:
                s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
        with self._lock:
            self._socks.discard(s)

    def _serve(self, client, cut, mode, cut_up=None):
        self._track(client)
        try:
            server = socket.create_connection(self.target, timeout=10)
        except OSError:
            self._close(client, mode)
            return
        server.settimeout(None)
        self._track(server)
        done = threading.Event()
        state = {"down": 0}

        def up():   # client -> server
            sent = 0
            try:
                while not done.is_set():
                    want = 65536 if cut_up is None else min(65536, cut_up - sent)
                    if want <= 0:
                        # cut: closing the server side ends the down loop,
                        # which closes the client the way mode says
                        with self._lock:
                            self.cuts += 1
                        state["cut_up"] = True
                        server.shutdown(socket.SHUT_RDWR)
                        return
                    b = client.recv(want)
                    if not b:
                        break
                    sent += len(b)
                    with self._lock:   # counted before they go, as below
                        self.bytes_up += len(b)
                    server.sendall(b)
            except OSError:
                pass
            if not done.is_set():
                try:
                    server.shutdown(socket.SHUT_WR)   # half-close, as a client may
                except OSError:
                    pass

        t = threading.Thread(target=up, name="faultproxy-up", daemon=True)
        t.start()
        cutting = False
        try:
            while True:
                want = 65536
                if cut is not None:
                    want = min(want, cut - state["down"])
                    if want <= 0:
                        cutting = True
                        break
                b = server.recv(want)
                if not b:
                    break
                # counted before they go: a client that has had them all
                # may be checked against the count at once
                state["down"] += len(b)
                with self._lock:
                    self.bytes_down += len(b)
                client.sendall(b)
        except OSError:
            pass
        done.set()
        if cutting:
            with self._lock:
                self.cuts += 1
        self._close(client, mode if cutting or state.get("cut_up") else "close")
        self._close(server, "close")
        t.join(timeout=10)

    def stop(self):
        self._stopping = True
        if self._listener:
            self._listener.close()
            self._listener = None
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            self._close(s)
        for t in list(self._threads):
            t.join(timeout=10)
        self._threads = []


# -- tinyproxy -------------------------------------------------------------------------

class Tinyproxy(Fixture):
    """tinyproxy in the foreground: an HTTP forward proxy (absolute-URI
    requests and CONNECT to any port) on 127.0.0.1 that serves only
    127.0.0.1 clients.

    Tinyproxy(root, name="tinyproxy", auth=None)

    auth=(USER, PASSWORD): every request must carry them as Basic
    Proxy-Authorization (tinyproxy's BasicAuth; 407 otherwise).
    Attributes: port, url ("http://127.0.0.1:PORT"). requests() counts the
    requests it has logged so far (CONNECT or plain).
    """

    name = "tinyproxy"
    binary = "/usr/bin/tinyproxy"

    def __init__(self, root, name=None, auth=None):
        super().__init__(root, name)
        self.auth = auth

    def start(self):
        need_binary(self.binary, "tinyproxy")
        _with_port_retry(self, self._attempt)
        return self

    def _attempt(self):
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.tp_log = self.path("tinyproxy-requests.log")
        conf = self.path("tinyproxy.conf")
        lines = [f"Port {self.port}", f"Listen {LOOPBACK}", f"Allow {LOOPBACK}",
                 "Timeout 120", "MaxClients 50", "LogLevel Info",
                 f"LogFile \"{self.tp_log}\"", "DisableViaHeader Yes"]
        if self.auth:
            lines.append(f"BasicAuth {self.auth[0]} {self.auth[1]}")
        if os.geteuid() == 0:
            os.chmod(self.dir, 0o777)   # it logs after dropping to nobody
            lines += ["User nobody", "Group nogroup"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")   # no ConnectPort: CONNECT to any port
        self._spawn([self.binary, "-d", "-c", conf])
        self._wait_port(self.port)

    def log_paths(self):
        return [self.logpath, self.tp_log]

    def requests(self):
        try:
            with open(self.tp_log, errors="replace") as f:
                return sum(1 for line in f if "Request (file descriptor" in line)
        except OSError:
            return 0


# -- vsftpd ---------------------------------------------------------------------------

class Vsftpd(FileServer):
    """vsftpd in the foreground: anonymous FTP on 127.0.0.1, plus explicit FTPS
    (AUTH TLS on the same port) with a self-signed certificate.

    Vsftpd(root, name="vsftpd", pasv_ports=8, tls=True, uploads=True, tls_max="1.2")

    Anonymous login (user "anonymous" or "ftp", no password asked) sees
    docroot as "/"; uploads (STOR, MKD) go into docroot/upload_subdir
    ("incoming", owned by the ftp account); plain FTP and FTPS both allowed
    (TLS is optional, not forced). Passive mode only on 127.0.0.1, ports
    pasv_range (first, last). TLS is capped at tls_max (an OpenSSL config given
    to vsftpd only): vsftpd 3.0.3 fails every upload over TLS 1.3 with "426
    Failure reading network stream"; tls_max=None keeps that behaviour.
    Attributes: port, docroot, upload_dir, upload_subdir, cert_path, key_path,
    pasv_range, user ("anonymous"), password ("").
    Methods: url(path, tls=False) -> ftp:// (or ftps:// is NOT used: explicit
    TLS is ftp:// with curl --ssl-reqd), put_file(name, data), file_path(name),
    upload_path(name).
    """

    name = "vsftpd"
    binary = "/usr/sbin/vsftpd"
    upload_subdir = "incoming"
    ftp_account = "ftp"

    def __init__(self, root, name=None, pasv_ports=8, tls=True, uploads=True,
                 tls_max="1.2"):
        super().__init__(root, name)
        self.pasv_ports, self.tls, self.uploads = pasv_ports, tls, uploads
        self.tls_max = tls_max
        self.docroot = self.path("docroot")
        self.upload_dir = os.path.join(self.docroot, self.upload_subdir)
        self.conf = self.path("vsftpd.conf")
        self.vsftpd_log = self.path("vsftpd-xfer.log")
        self.port = 0
        self.pasv_range = None
        self.cert_path = self.key_path = None
        self.user, self.password = "anonymous", ""

    def log_paths(self):
        return [self.logpath, self.vsftpd_log]

    def start(self):
        need_binary(self.binary, "vsftpd")
        need_root("vsftpd (it chroots anonymous users)")
        os_account(self.ftp_account, shell="/usr/sbin/nologin")
        empty = self.path("empty")
        for d in (self.docroot, empty):
            os.makedirs(d, exist_ok=True)
            os.chown(d, 0, 0)
            os.chmod(d, 0o755)   # vsftpd refuses a chroot writable by the ftp user
        if self.uploads:
            os.makedirs(self.upload_dir, exist_ok=True)
            import pwd
            pw = pwd.getpwnam(self.ftp_account)
            os.chown(self.upload_dir, pw.pw_uid, pw.pw_gid)
            os.chmod(self.upload_dir, 0o755)
        if self.tls:
            self.cert_path, self.key_path = make_cert(self.dir)
        _with_port_retry(self, self._attempt)
        return self

    def _attempt(self):
        self.port = free_port()
        self.pasv_range = free_port_range(self.pasv_ports)
        lines = {
            "listen": "YES", "listen_ipv6": "NO", "listen_address": LOOPBACK,
            "listen_port": self.port, "background": "NO",
            "anonymous_enable": "YES", "anon_root": self.docroot,
            "no_anon_password": "YES", "local_enable": "NO",
            "ftp_username": self.ftp_account, "guest_enable": "NO",
            "write_enable": "YES" if self.uploads else "NO",
            "anon_upload_enable": "YES" if self.uploads else "NO",
            "anon_mkdir_write_enable": "YES" if self.uploads else "NO",
            "anon_other_write_enable": "YES" if self.uploads else "NO",
            "anon_umask": "022", "anon_world_readable_only": "YES",
            "pasv_enable": "YES", "pasv_address": LOOPBACK,
            "pasv_min_port": self.pasv_range[0], "pasv_max_port": self.pasv_range[1],
            "port_enable": "YES", "connect_from_port_20": "NO",
            "secure_chroot_dir": self.path("empty"),
            "xferlog_enable": "YES", "xferlog_std_format": "NO",
            "vsftpd_log_file": self.vsftpd_log, "log_ftp_protocol": "YES",
            "seccomp_sandbox": "NO", "hide_ids": "YES", "use_sendfile": "YES",
            "max_clients": 50, "max_per_ip": 0,
            "idle_session_timeout": 120, "data_connection_timeout": 120,
            "accept_timeout": 30, "connect_timeout": 30,
            "pam_service_name": "vsftpd", "dirmessage_enable": "NO",
            "ls_recurse_enable": "NO",
            # one process per session: no privileged parent left behind
            "one_process_model": "YES",
        }
        if self.tls:
            lines.update({
                "ssl_enable": "YES", "allow_anon_ssl": "YES",
                "force_anon_logins_ssl": "NO", "force_anon_data_ssl": "NO",
                "force_local_logins_ssl": "NO", "force_local_data_ssl": "NO",
                "ssl_tlsv1": "YES", "ssl_sslv2": "NO", "ssl_sslv3": "NO",
                # the built-in default (DES-CBC3-SHA) is gone from OpenSSL 3
                "ssl_ciphers": "HIGH",
                "require_ssl_reuse": "NO", "strict_ssl_read_eof": "NO",
                "rsa_cert_file": self.cert_path, "rsa_private_key_file": self.key_path,
            })
        with open(self.conf, "w") as f:
            for k, v in lines.items():
                f.write(f"{k}={v}\n")
        os.chmod(self.conf, 0o600)
        env = dict(os.environ)
        if self.tls and self.tls_max:
            # vsftpd 3.0.3 has no TLS version option; over TLS 1.3 (OpenSSL 3)
            # every FTPS upload ends "426 Failure reading network stream"
            ossl = self.path("openssl.cnf")
            with open(ossl, "w") as f:
                f.write("openssl_conf = tt_conf\n[tt_conf]\nssl_conf = tt_ssl\n"
                        "[tt_ssl]\nsystem_default = tt_sys\n"
                        f"[tt_sys]\nMaxProtocol = TLSv{self.tls_max}\n")
            env["OPENSSL_CONF"] = ossl
        self._spawn([self.binary, self.conf], env=env)
        try:
            self._wait_port(self.port, banner=b"220")
        except FixtureError as e:
            # vsftpd exits 2 without a word when its port is taken
            if not port_free(self.port):
                raise FixtureError(f"{e}\n(port {self.port} is taken: could not bind)") \
                    from None
            raise

    def url(self, path, tls=False):
        """ftp://127.0.0.1:PORT/path. With tls=True the same ftp:// URL is meant
        to be used with explicit TLS (curl --ssl-reqd); ftps:// (implicit TLS) is
        not served."""
        if not path.startswith("/"):
            path = "/" + path
        return f"ftp://{LOOPBACK}:{self.port}{path}"



# -- sftp (second sshd) ------------------------------------------------------------

class Sftpd(FileServer):
    """A second sshd on 127.0.0.1 with its own ed25519 host key, serving
    internal-sftp only, to one OS account by password.

    Sftpd(root, name="sftpd", user="tt-sftp", password="tt-sftp-secret")

    The account (created idempotently, password set with chpasswd at every
    start) sees the real file system (no chroot), so files are addressed by
    absolute path: sftp://127.0.0.1:PORT/<docroot>/NAME. docroot is
    world-readable; upload_dir (docroot/incoming) is owned by the account.
    Attributes: host ("127.0.0.1"), port, user, password, docroot, upload_dir,
    host_key_path (private), host_pub (the "ssh-ed25519 AAAA..." line),
    host_key_sha256 (base64 SHA-256 of the key blob, no padding: curl
    --hostpubsha256), known_hosts_path (a file holding known_hosts_line()).
    Methods: url(path) (path relative to docroot, or absolute), put_file(name,
    data), file_path(name), upload_path(name), known_hosts_line().
    """

    name = "sftpd"
    binary = "/usr/sbin/sshd"

    def __init__(self, root, name=None, user="tt-sftp", password="tt-sftp-secret"):
        super().__init__(root, name)
        self.host, self.user, self.password = LOOPBACK, user, password
        self.docroot = self.path("docroot")
        self.upload_dir = os.path.join(self.docroot, "incoming")
        self.conf = self.path("sshd_config")
        self.host_key_path = self.path("ssh_host_ed25519_key")
        self.known_hosts_path = self.path("known_hosts")
        self.port = 0
        self.host_pub = self.host_key_sha256 = None

    def start(self):
        need_binary(self.binary, "openssh-server")
        need_root("sshd (password login for another account)")
        os_account(self.user, self.password)
        import pwd
        pw = pwd.getpwnam(self.user)
        os.makedirs(self.docroot, exist_ok=True)
        os.chmod(self.docroot, 0o755)
        os.makedirs(self.upload_dir, exist_ok=True)
        os.chown(self.upload_dir, pw.pw_uid, pw.pw_gid)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)   # privilege separation dir
        if not os.path.exists(self.host_key_path):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tether-test",
                 "-f", self.host_key_path])
        with open(self.host_key_path + ".pub") as f:
            kind, blob = f.read().split()[:2]
        self.host_pub = f"{kind} {blob}"
        digest = hashlib.sha256(base64.b64decode(blob)).digest()
        self.host_key_sha256 = base64.b64encode(digest).decode().rstrip("=")
        _with_port_retry(self, self._attempt)
        return self

    def _attempt(self):
        self.port = free_port()
        with open(self.conf, "w") as f:
            f.write(f"""# tether test fixture (generated)
Port {self.port}
ListenAddress {LOOPBACK}
AddressFamily inet
HostKey {self.host_key_path}
PidFile {self.path('sshd.pid')}
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitEmptyPasswords no
PermitRootLogin no
AllowUsers {self.user}
AuthorizedKeysFile none
StrictModes no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTTY no
PrintMotd no
MaxStartups 64
MaxSessions 32
LoginGraceTime 30
LogLevel VERBOSE
Subsystem sftp internal-sftp
ForceCommand internal-sftp
""")
        with open(self.known_hosts_path, "w") as f:
            f.write(self.known_hosts_line() + "\n")
        r = run([self.binary, "-t", "-f", self.conf], check=False)
        if r.returncode != 0:
            raise FixtureError(f"sshd -t: {r.stderr}")
        self._spawn([self.binary, "-D", "-e", "-f", self.conf])
        self._wait_port(self.port, banner=b"SSH-")

    def known_hosts_line(self):
        """The host key in known_hosts format for [127.0.0.1]:PORT."""
        return f"[{LOOPBACK}]:{self.port} {self.host_pub}"

    def url(self, path, scheme="sftp"):
        """sftp://127.0.0.1:PORT/ABSOLUTE; a relative path is taken in docroot."""
        if not path.startswith("/"):
            path = os.path.join(self.docroot, path)
        return f"{scheme}://{LOOPBACK}:{self.port}{path}"



# -- samba ----------------------------------------------------------------------------

class Samba(FileServer):
    """smbd in the foreground on 127.0.0.1:PORT with one share, set up for
    libcurl's SMB client (SMB1/NT1 with NTLMv1 only).

    Samba(root, name="samba", share="share", user="tt-smb", password="tt-smb-secret")

    The share is docroot (writable by the user): smb://127.0.0.1:PORT/share/NAME.
    Attributes: port, share, user, password, docroot, conf.
    Methods: url(name), put_file(name, data), file_path(name).
    """

    name = "samba"
    binary = "/usr/sbin/smbd"

    def __init__(self, root, name=None, share="share", user="tt-smb",
                 password="tt-smb-secret"):
        super().__init__(root, name)
        self.share, self.user, self.password = share, user, password
        self.docroot = self.path("docroot")
        self.conf = self.path("smb.conf")
        self.port = 0

    def start(self):
        need_binary(self.binary, "samba")
        need_binary("smbpasswd", "samba-common-bin")
        need_root("smbd (it switches to the share user)")
        os_account(self.user, shell="/usr/sbin/nologin")
        import pwd
        pw = pwd.getpwnam(self.user)
        os.makedirs(self.docroot, exist_ok=True)
        os.chown(self.docroot, pw.pw_uid, pw.pw_gid)
        os.chmod(self.docroot, 0o755)
        for d in ("private", "lock", "state", "cache", "run", "ncalrpc", "bind-dns", "logs"):
            os.makedirs(self.path(d), exist_ok=True)
        os.chmod(self.path("private"), 0o700)
        _with_port_retry(self, self._attempt)
        return self

    def _attempt(self):
        self.port = free_port()
        p = self.path
        with open(self.conf, "w") as f:
            f.write(f"""# tether test fixture (generated)
[global]
    server role = standalone server
    workgroup = TETHER
    netbios name = TETHERTEST
    smb ports = {self.port}
    interfaces = {LOOPBACK}
    bind interfaces only = yes
    disable netbios = yes
    private dir = {p('private')}
    lock directory = {p('lock')}
    state directory = {p('state')}
    cache directory = {p('cache')}
    pid directory = {p('run')}
    ncalrpc dir = {p('ncalrpc')}
    binddns dir = {p('bind-dns')}
    log file = {p('logs')}/log.%m
    max log size = 1000
    log level = 1
    passdb backend = tdbsam:{p('private')}/passdb.tdb
    # libcurl's SMB client speaks SMB1 (NT LM 0.12) with NTLMv1 responses only
    server min protocol = NT1
    ntlm auth = ntlmv1-permitted
    server signing = auto
    map to guest = never
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    usershare max shares = 0
    unix extensions = no

[{self.share}]
    path = {self.docroot}
    read only = no
    guest ok = no
    valid users = {self.user}
    create mask = 0644
""")
        r = run(["smbpasswd", "-c", self.conf, "-a", "-s", self.user],
                input=f"{self.password}\n{self.password}\n", check=False)
        if r.returncode != 0:
            raise FixtureError(f"smbpasswd -a: {r.stderr}{r.stdout}")
        self._spawn([self.binary, "-F", "--no-process-group", "-s", self.conf,
                     "--debug-stdout", "-d", "1"])
        self._wait_port(self.port)

    def url(self, name):
        return f"smb://{LOOPBACK}:{self.port}/{self.share}/{name.lstrip('/')}"



# -- small file system ----------------------------------------------------------------

class SmallFs:
    """A tmpfs of size bytes mounted on ROOT/NAME/mnt, for disk-full tests;
    fstype="ramfs" mounts a ramfs instead (no size limit, and no O_DIRECT).

    SmallFs(root, size=1 << 20, name="smallfs", mode=0o1777, fstype="tmpfs")

    Attributes: mountpoint (also .path), size. stop() unmounts (lazily if
    busy) and removes the mount point. Needs root (FixtureUnavailable otherwise).
    """

    def __init__(self, root, size=1 << 20, name="smallfs", mode=0o1777, fstype="tmpfs"):
        self.dir = os.path.join(root, name)
        self.mountpoint = self.path = os.path.join(self.dir, "mnt")
        self.size, self.mode, self.fstype = size, mode, fstype
        self.mounted = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        need_root(f"mount -t {self.fstype}")
        os.makedirs(self.mountpoint, exist_ok=True)
        opts = f"mode={self.mode:o}" if self.fstype == "ramfs" else \
            f"size={self.size},mode={self.mode:o}"
        r = run(["mount", "-t", self.fstype, "-o", opts, "tether-smallfs", self.mountpoint],
                check=False, timeout=30)
        if r.returncode != 0:
            raise FixtureUnavailable(f"mount -t {self.fstype} failed: {r.stderr.strip()}")
        self.mounted = True
        return self

    def stop(self):
        if not self.mounted:
            return
        r = run(["umount", self.mountpoint], check=False, timeout=30)
        if r.returncode != 0:
            run(["umount", "-l", self.mountpoint], check=False, timeout=30)
        self.mounted = False
        try:
            os.rmdir(self.mountpoint)
        except OSError:
            pass
