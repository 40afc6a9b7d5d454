"""Request framing: a request with two Content-Length headers, or one
beside Transfer-Encoding, is the stuff of request smuggling; it gets a 400
JSON error on its headers alone and nothing is done. (They were accepted.)
See docs/api.md and docs/security.md."""
import json
import socket
import ssl

import harness as H


def raw(d, head, body=b""):
    """Send raw request bytes over TLS; returns (status, parsed JSON body)."""
    ctx = ssl.create_default_context(cafile=f"{d.state}/cert.pem")
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        with ctx.wrap_socket(s) as t:
            t.sendall(head.replace(b"\n", b"\r\n") + b"\r\n" + body)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = t.recv(65536)
                if not chunk:
                    break
                data += chunk
            head_end = data.index(b"\r\n\r\n")
            status = int(data.split(b" ", 2)[1])
            hdrs = {k.lower(): v for k, v in (l.split(b": ", 1) for l in
                    data[:head_end].split(b"\r\n")[1:])}
            n = int(hdrs.get(b"content-length", b"0"))
            rest = data[head_end + 4:]
            while len(rest) < n:
                chunk = t.recv(65536)
                if not chunk:
                    break
                rest += chunk
            return status, json.loads(rest[:n]) if n else None


def test_two_content_lengths_refused(env):
    d = env.daemon()
    d.add_user("alice")
    tok = d.token_for("alice")
    body = json.dumps({"name": "smuggled"}).encode()
    for lens in ((len(body), len(body)), (len(body), 2)):
        head = (b"POST /v1/sessions HTTP/1.1\nHost: x\nAuthorization: Bearer " +
                tok.encode() + b"\nContent-Type: application/json\nX-Tether-Client: " +
                b"d" * 32 + b"\n" + b"".join(b"Content-Length: %d\n" % n for n in lens))
        st, doc = raw(d, head, body)
        assert st == 400, (lens, st, doc)
        H.expect_error(doc, "bad_request")
    assert d.query("SELECT count(*) FROM sessions")[0][0] == 0


def test_length_beside_chunked_refused(env):
    d = env.daemon()
    d.add_user("alice")
    tok = d.token_for("alice")
    body = json.dumps({"name": "smuggled"}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    head = (b"POST /v1/sessions HTTP/1.1\nHost: x\nAuthorization: Bearer " + tok.encode() +
            b"\nContent-Type: application/json\nX-Tether-Client: " + b"d" * 32 +
            b"\nTransfer-Encoding: chunked\nContent-Length: %d\n" % len(chunked))
    st, doc = raw(d, head, chunked)
    assert st == 400, (st, doc)
    assert d.query("SELECT count(*) FROM sessions")[0][0] == 0


if __name__ == "__main__":
    H.main(globals())
