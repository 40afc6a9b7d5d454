"""A server that accepts and never answers must not hold the client: the
connection (TLS included) is bounded by TETHER_CONNECT_TIMEOUT (default
10 s) and a request that receives nothing by TETHER_IO_TIMEOUT (default
90 s, beyond the longest long poll); the client then exits 255 with a clear
message. (It used to wait for ever.) Also: SIGTERM ends a waiting client at
once; and a server whose output long poll answers at once with nothing new
(a server in trouble) is asked again after a growing pause, not ~2,600
times a second. See docs/sessions.md and docs/security.md."""
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness as H
import servers as S


class Silent:
    """A listener on 127.0.0.1 that accepts and then says nothing: with
    tls, it completes the handshake first (a daemon frozen in a handler)."""

    def __init__(self, root, tls):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.ctx = None
        if tls:
            cert, key = S.make_cert(root, "silent")
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert, key)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
                if self.ctx:
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                self.held.append(conn)
            except OSError:
                return

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def run_client(c, args, extra_env, timeout):
    env = c.env()
    env.update(extra_env)
    t0 = time.monotonic()
    r = subprocess.run([H.TETHER] + args, capture_output=True, text=True, env=env,
                       input="x" * 8 + "\n", timeout=timeout)
    return r, time.monotonic() - t0


def login_to_silent(env, tls, limits):
    """tether login against a Silent server with the given limits: the
    CompletedProcess and how long it took (the test fails past 30 s)."""
    srv = Silent(env.root, tls)
    try:
        try:
            r, took = run_client(env.client(), ["login", f"alice@127.0.0.1:{srv.port}",
                                                "--password-stdin", "--accept-new"], limits, 30)
        except subprocess.TimeoutExpired:
            raise AssertionError("tether waited on a silent server past 30 s")
        print(f"  silent server ({'after TLS' if tls else 'no TLS'}): exit {r.returncode} "
              f"after {took:.1f} s")
        return r
    finally:
        srv.close()


def test_silent_server_after_tls(env):
    r = login_to_silent(env, True, {"TETHER_IO_TIMEOUT": "2"})
    assert r.returncode == 255, (r.returncode, r.stderr)
    assert "no answer from" in r.stderr and "TETHER_IO_TIMEOUT" in r.stderr, r.stderr


def test_silent_server_before_tls(env):
    r = login_to_silent(env, False, {"TETHER_CONNECT_TIMEOUT": "2"})
    assert r.returncode == 255 and "127.0.0.1" in r.stderr, (r.returncode, r.stderr)


def test_bad_timeout_value_is_a_usage_error(env):
    c = env.client()
    r, _ = run_client(c, ["session", "list"], {"TETHER_IO_TIMEOUT": "soon"}, 30)
    assert r.returncode != 0 and "TETHER_IO_TIMEOUT" in r.stderr, (r.returncode, r.stderr)


def test_sigterm_ends_a_waiting_client(env):
    srv = Silent(env.root, tls=True)
    try:
        c = env.client()
        e = c.env()
        p = subprocess.Popen([H.TETHER, "login", f"alice@127.0.0.1:{srv.port}",
                              "--password-stdin", "--accept-new"], env=e,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(b"x" * 8 + b"\n")
        p.stdin.close()
        H.wait_for(lambda: len(srv.held) > 0, 10, "the client to connect")
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            raise AssertionError("SIGTERM did not end the client")
        assert rc != 0, rc
    finally:
        srv.close()


class Hasty(BaseHTTPRequestHandler):
    """A daemon in trouble: an invoke is accepted, and every output request
    is answered at once with nothing new and the job still running."""
    protocol_version = "HTTP/1.1"
    count = 0

    def reply(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if body else
                         "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.reply(201, b'{"id": 1, "name": "Job1", "state": "Running"}')

    def do_GET(self):
        Hasty.count += 1
        self.reply(200, b"", [("X-Tether-Next", "0"), ("X-Tether-Size", "0"),
                              ("X-Tether-State", "Running")])

    def log_message(self, *args):
        pass


def test_output_polls_back_off_when_the_server_answers_at_once(env):
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    c.login(d, "alice")
    assert c.run("session", "new", d.host, "--name", "w").returncode == 0
    port = d.port
    d.stop()   # the same address and key, now a server in trouble
    srv = ThreadingHTTPServer(("127.0.0.1", port), Hasty)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{d.state}/cert.pem", f"{d.state}/key.pem")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        p = subprocess.Popen([H.TETHER, "invoke", "-s", f"{d.host}/w", "--", "true"],
                             env=c.env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(4)
        p.kill()
        p.wait()
    finally:
        srv.shutdown()
        srv.server_close()
    print(f"  output requests in 4 s to a server answering at once: {Hasty.count}")
    # pauses of 50 ms doubling to 2 s: about 8; at full speed, thousands
    assert 3 <= Hasty.count <= 40, Hasty.count


if __name__ == "__main__":
    H.main(globals())
