"""A newer client against an older tetherd: the client's fallbacks
(docs/api.md). A TLS proxy with the daemon's own key stands in front of it
and answers as a tetherd from before each addition would: it drops
`command` from a session's creation and `remove=1` from queries (which an
older tetherd ignored), refuses raw stdin bodies (415), and never says
X-Tether-Delivered. Each fallback must still give the user the same result:
the output, the exit status, stdin byte for byte, and no temporary session
left behind.
"""
import json
import os
import re
import socket
import ssl
import threading

from harness import main

DROPPED_HEADERS = ("x-tether-delivered",)


class OldTetherd:
    """The proxy: one thread per client connection, one upstream TLS
    connection each; requests are read whole, rewritten and forwarded, and
    replies relayed. `seen` lists (method, path, status) as forwarded."""

    def __init__(self, daemon):
        self.upstream = ("127.0.0.1", daemon.port)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(daemon.state, "cert.pem"),
                                 os.path.join(daemon.state, "key.pem"))
        self.up_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.up_ctx.check_hostname = False
        self.up_ctx.verify_mode = ssl.CERT_NONE
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        self.seen = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def close(self):
        self.sock.close()

    @staticmethod
    def read_head(f):
        line = f.readline(65536)
        if not line:
            return None, None
        headers = []
        while True:
            h = f.readline(65536)
            if h in (b"\r\n", b"\n", b""):
                break
            k, v = h.decode("latin-1").rstrip("\r\n").split(":", 1)
            headers.append((k.strip(), v.strip()))
        return line.decode("latin-1").rstrip("\r\n"), headers

    @staticmethod
    def read_body(f, headers):
        hd = {k.lower(): v for k, v in headers}
        if hd.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                n = int(f.readline().split(b";")[0], 16)
                chunk = f.read(n + 2)[:n]
                if n == 0:
                    while f.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += chunk
        return f.read(int(hd.get("content-length", "0")))

    def serve(self, raw):
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        up = None
        try:
            cf = conn.makefile("rb")
            while True:
                line, headers = self.read_head(cf)
                if line is None:
                    return
                method, path, _ = line.split(" ", 2)
                hd = {k.lower(): v for k, v in headers}
                raw_input = hd.get("content-type") == "application/octet-stream"
                if hd.get("expect", "").lower() == "100-continue":
                    if raw_input:   # refused before its body, as tetherd does
                        self.refuse(conn, method, path, close=True)
                        return
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = self.read_body(cf, headers)
                if raw_input:
                    self.refuse(conn, method, path, close=False)
                    continue
                # what an older tetherd did not know, it ignored
                path = re.sub(r"([?&])remove=1(&|$)", lambda m: m.group(1) if m.group(2) else "",
                              path).rstrip("?&")
                if method == "POST" and path.split("?")[0] == "/v1/sessions" and body:
                    doc = json.loads(body)
                    doc.pop("command", None)
                    doc.pop("keep_state", None)
                    body = json.dumps(doc).encode()
                    path = path.split("?")[0]
                if up is None:
                    up = self.up_ctx.wrap_socket(socket.create_connection(self.upstream))
                    uf = up.makefile("rb")
                out = [f"{method} {path} HTTP/1.1"]
                for k, v in headers:
                    if k.lower() not in ("content-length", "transfer-encoding", "expect"):
                        out.append(f"{k}: {v}")
                out.append(f"Content-Length: {len(body)}")
                up.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)
                status, rh = self.read_head(uf)
                rbody = self.read_body(uf, rh)
                code = int(status.split(" ")[1])
                self.note(method, path, code)
                reply = [status]
                for k, v in rh:
                    if k.lower() not in ("content-length", "transfer-encoding") + DROPPED_HEADERS:
                        reply.append(f"{k}: {v}")
                reply.append(f"Content-Length: {len(rbody)}")
                conn.sendall(("\r\n".join(reply) + "\r\n\r\n").encode("latin-1") + rbody)
        except (OSError, ValueError, ssl.SSLError):
            return
        finally:
            conn.close()
            if up is not None:
                up.close()

    def refuse(self, conn, method, path, close):
        """415, as a tetherd without raw stdin answered a byte body."""
        msg = b'{"error":{"code":"unsupported_media_type","message":"expected application/json"}}'
        conn.sendall(b"HTTP/1.1 415 Unsupported Media Type\r\nContent-Type: application/json\r\n"
                     + (b"Connection: close\r\n" if close else b"")
                     + b"Content-Length: %d\r\n\r\n%s" % (len(msg), msg))
        self.note(method, path, 415)

    def note(self, method, path, status):
        with self.lock:
            self.seen.append((method, path, status))


def setup(env, proxies=1):
    d = env.daemon()
    d.add_user("alice")
    olds = [OldTetherd(d) for _ in range(proxies)]
    c = env.client()
    for o in olds:
        c.login(o, "alice")
    return d, c, olds


def sessions_left(c, o):
    return [s["name"] for s in c.json("session", "list", o.host)]


def test_invoke_on_a_host(env):
    d, c, (o,) = setup(env)
    r = c.run("invoke", "-H", o.host, "--", "echo hi; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "hi\n", "err\n"), r
    methods = [(m, p.split("?")[0]) for m, p, _ in o.seen]
    # the session made without the command, the command invoked apart, and
    # the temporary session removed with a DELETE of its own
    assert ("DELETE", methods[-1][1]) == methods[-1] and "/v1/sessions/tether-run-" in \
        methods[-1][1], o.seen
    assert any(p.endswith("/invoke") for m, p in methods if m == "POST"), o.seen
    assert sessions_left(c, o) == [], "a temporary session was left behind"
    # a silent command: acknowledged without X-Tether-Delivered, and its
    # directory goes all the same
    r = c.run("session", "new", o.host, "--name", "S")
    assert r.returncode == 0, r.stderr
    r = c.run("invoke", "-s", f"{o.host}/S", "--", "true")
    assert r.returncode == 0 and r.stdout == "", r
    assert any(m == "GET" and "/output?offset=0" in p for m, p, _ in o.seen), o.seen
    job = c.json("job", "list", "-s", f"{o.host}/S")[-1]
    assert job["has_more_data"] is False
    assert not os.path.exists(os.path.join(d.state, "spool", "jobs", str(job["id"])))


def test_invoke_on_a_fleet(env):
    d, c, olds = setup(env, proxies=2)
    hosts = ",".join(o.host for o in olds)
    r = c.run("invoke", "-H", hosts, "--", "echo hi")
    assert r.returncode == 0, r
    assert sorted(r.stdout.splitlines()) == sorted(f"{o.host}: hi" for o in olds), r.stdout
    for o in olds:
        assert any(m == "DELETE" for m, _, _ in o.seen), o.seen
        assert sessions_left(c, o) == [], "a temporary session was left behind"


def test_stdin_in_json_pieces(env):
    d, c, (o,) = setup(env)
    r = c.run("session", "new", o.host, "--name", "S")
    assert r.returncode == 0, r.stderr
    data = "".join(f"line {i} {'x' * 50}\n" for i in range(3000))   # 170 KiB: several pieces
    r = c.run("invoke", "-s", f"{o.host}/S", "--", "sha256sum", input=data)
    import hashlib
    assert r.returncode == 0 and r.stdout.split()[0] == \
        hashlib.sha256(data.encode()).hexdigest(), r
    assert any(s == 415 for _, _, s in o.seen), "no raw piece was tried"
    pieces = [p for m, p, s in o.seen if m == "POST" and p.endswith("/input") and s == 200]
    assert len(pieces) >= 4, o.seen   # 45 KiB JSON pieces, and the eof


if __name__ == "__main__":
    main(globals())
