"""TLS session resumption across client processes: tetherd issues tickets,
the client keeps one session per host:port under $TETHER_HOME/tls-sessions,
a second `tether` process resumes instead of a full handshake, and a
resumed session never gets past the known_hosts pin (docs/security.md,
"Session resumption").
"""
import base64
import json
import os
import stat
import subprocess

from harness import main

# Each `tether` here is a process of its own with its own TLS handshake:
# a control master (docs/cli.md, "Connection sharing") would reuse one.
os.environ["TETHER_CONTROL_PERSIST"] = "no"

FULL = "TLS handshake, Certificate (11)"   # libcurl's -v line of a full handshake
RESUMED = "TLS session resumed"
BANNER = "REMOTE HOST IDENTIFICATION HAS CHANGED"


def session_file(c, d):
    return os.path.join(c.home, "tls-sessions", d.host.replace(":", "_"))


def invoke(c, d, *extra, env=None):
    r = subprocess.run([os.environ["TETHER"], "invoke", "-v", *extra, "-H", d.host, "--",
                        "echo", "hi"], capture_output=True, text=True, timeout=60,
                       env=env or c.env(), stdin=subprocess.DEVNULL, start_new_session=True)
    return r


def setup(env):
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    c.login(d, "alice")
    return d, c


def test_second_process_resumes(env):
    d, c = setup(env)
    path = session_file(c, d)
    assert os.path.exists(path), "the login's full handshake saved no session"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert 0 < os.path.getsize(path) <= 16384
    for _ in range(2):
        r = invoke(c, d)
        assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
        assert RESUMED in r.stderr and FULL not in r.stderr, r.stderr
    # switched off: a full handshake, and the server's certificate is sent
    r = invoke(c, d, env=dict(c.env(), TETHER_TLS_RESUME="0"))
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
    assert FULL in r.stderr and RESUMED not in r.stderr, r.stderr


def test_server_resumes_the_saved_ticket(env):
    """openssl s_client, not tether, offers the client's saved session."""
    d, c = setup(env)
    tmp = os.path.join(env.root, "sess.pem")
    subprocess.run(["openssl", "sess_id", "-inform", "DER", "-in", session_file(c, d),
                    "-outform", "PEM", "-out", tmp], check=True, capture_output=True)
    r = subprocess.run(["openssl", "s_client", "-connect", d.host, "-sess_in", tmp],
                       input="", capture_output=True, text=True, timeout=30)
    assert "Reused, TLSv1.3" in r.stdout, r.stdout[-2000:]


def test_changed_pin_is_refused_with_a_live_ticket(env):
    """The server still accepts the ticket, but known_hosts now pins another
    key: the saved session is not offered, and the request is refused."""
    d, c = setup(env)
    assert RESUMED in invoke(c, d).stderr
    kh = os.path.join(c.home, "known_hosts")
    with open(kh) as f:
        lines = f.read()
    other = "SHA256:" + base64.b64encode(os.urandom(32)).decode().rstrip("=")
    assert d.fingerprint() in lines
    with open(kh, "w") as f:
        f.write(lines.replace(d.fingerprint(), other))
    before = d.log_since_start().count('path="/v1/sessions')
    r = invoke(c, d)
    assert r.returncode == 255 and BANNER in r.stderr, (r.returncode, r.stderr)
    assert RESUMED not in r.stderr, r.stderr
    assert "hi" not in r.stdout
    assert d.log_since_start().count('path="/v1/sessions') == before   # nothing sent


def test_changed_server_key_is_refused_with_a_ticket_on_file(env):
    d, c = setup(env)
    assert RESUMED in invoke(c, d).stderr
    old = d.fingerprint()
    port = d.port
    d.stop()
    os.remove(os.path.join(d.state, "cert.pem"))
    os.remove(os.path.join(d.state, "key.pem"))
    d.start()
    assert d.port == port and d.fingerprint() != old
    assert os.path.exists(session_file(c, d))
    r = invoke(c, d)
    assert r.returncode == 255 and BANNER in r.stderr, (r.returncode, r.stderr)
    assert RESUMED not in r.stderr
    assert 'path="/v1/sessions' not in d.log_since_start()


def test_bad_session_files_are_ignored(env):
    d, c = setup(env)
    path = session_file(c, d)
    for junk in (b"\x30\x82garbage", os.urandom(20000)):
        with open(path, "wb") as f:
            f.write(junk)
        r = invoke(c, d)
        assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
        assert FULL in r.stderr, r.stderr
        assert os.path.getsize(path) <= 16384   # replaced by a good one
        assert RESUMED in invoke(c, d).stderr
    # a symlink in its place is not followed
    os.remove(path)
    os.symlink(os.path.join(c.home, "known_hosts"), path)
    r = invoke(c, d)
    assert r.returncode == 0 and FULL in r.stderr, r.stderr
    assert not os.path.islink(path)   # replaced by a regular file, not written through
    with open(os.path.join(c.home, "known_hosts")) as f:
        assert d.fingerprint() in f.read()


if __name__ == "__main__":
    main(globals())
