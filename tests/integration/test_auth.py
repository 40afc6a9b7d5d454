"""Users, passwords, tokens, lockout, audit, and secrets kept out of sight."""
import base64
import hashlib
import json
import os
import subprocess
import stat
import time

from harness import PASSWORD, expect_error, main


def test_login_right_and_wrong(env):
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    r = c.run("login", f"alice@{d.host}", "--password-stdin", "--accept-new",
              input="not the password\n")
    assert r.returncode == 255 and "wrong user name or password" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(c.home, "credentials.json")) or \
        "tokens" not in open(os.path.join(c.home, "credentials.json")).read()
    # an unknown user gets exactly the same answer
    r2 = c.run("login", f"mallory@{d.host}", "--password-stdin", input=PASSWORD + "\n")
    assert r2.returncode == 255 and r2.stderr == r.stderr.replace("alice", "mallory"), r2.stderr
    info = c.json("login", f"alice@{d.host}", "--password-stdin", input=PASSWORD + "\n")
    assert info["user"] == "alice" and info["host"] == d.host
    assert info["fingerprint"] == d.fingerprint()
    creds = os.path.join(c.home, "credentials.json")
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    token = c.token(d, "alice")
    assert token.startswith("tt_") and len(token) >= 43
    st, _, doc = d.request("GET", "/v1/whoami", token=token)
    assert st == 200 and doc["user"] == "alice"
    events = [e for (e,) in d.query("SELECT event FROM audit WHERE event LIKE 'login%' ORDER BY id")]
    assert events == ["login_failed", "login_failed", "login"], events


def test_secrets_hashed_at_rest_and_absent_from_logs(env):
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    c.login(d, "alice")
    token = c.token(d, "alice")
    (pwhash,) = d.query("SELECT pwhash FROM users WHERE name='alice'")[0]
    assert pwhash.startswith("$y$") and PASSWORD not in pwhash   # yescrypt, as in shadow
    hashes = [h for (h,) in d.query("SELECT hash FROM tokens")]
    assert hashes == [hashlib.sha256(token.encode()).hexdigest()]
    raw = open(os.path.join(d.state, "tether.db"), "rb").read()
    for f in ("tether.db", "tether.db-wal"):
        p = os.path.join(d.state, f)
        if os.path.exists(p):
            blob = open(p, "rb").read()
            assert token.encode() not in blob and PASSWORD.encode() not in blob
    assert raw
    log = d.log()
    assert token not in log and PASSWORD not in log
    for f in ("tether.db", "key.pem"):
        assert stat.S_IMODE(os.stat(os.path.join(d.state, f)).st_mode) == 0o600, f


def test_lockout_per_user_and_address(env):
    d = env.daemon(config={"lockout_threshold": 3, "lockout_window": 60,
                           "lockout_duration": 3})
    d.add_user("alice")
    d.add_user("bob")
    for _ in range(3):
        st, _, doc = d.request("POST", "/v1/login", {"user": "alice", "password": "nope"})
        assert st == 401
        expect_error(doc, "auth_failed")
    # now locked: even the right password is refused, with Retry-After
    st, hdrs, doc = d.request("POST", "/v1/login", {"user": "alice", "password": PASSWORD})
    assert st == 429, (st, doc)
    expect_error(doc, "locked_out")
    assert 1 <= int(hdrs["retry-after"]) <= 3
    c = env.client()
    r = c.run("login", f"alice@{d.host}", "--password-stdin", "--accept-new",
              input=PASSWORD + "\n")
    assert r.returncode == 255 and "too many failed logins" in r.stderr
    # the address is locked too (3 failures from 127.0.0.1), so bob waits as well
    st, _, _ = d.request("POST", "/v1/login", {"user": "bob", "password": PASSWORD})
    assert st == 429
    time.sleep(3.5)   # let the lockout lapse (a wait, not a timing assertion)
    st, _, doc = d.request("POST", "/v1/login", {"user": "alice", "password": PASSWORD})
    assert st == 200, doc
    audit = [e for (e,) in d.query("SELECT event FROM audit WHERE user_name='alice'")]
    assert audit.count("login_failed") == 3 and "login_locked" in audit and "lockout" in audit


def test_logout_revokes(env):
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    c.login(d, "alice")
    token = c.token(d, "alice")
    r = c.run("logout", d.host)
    assert r.returncode == 0, r.stderr
    st, _, doc = d.request("GET", "/v1/sessions", token=token)
    assert st == 401
    expect_error(doc, "unauthorized")
    assert d.query("SELECT revoked FROM tokens") == [(1,)]
    r = c.run("session", "list", d.host)
    assert r.returncode == 255 and "not logged in" in r.stderr
    r = c.run("logout", d.host)
    assert r.returncode == 255


def test_expired_token(env):
    d = env.daemon(config={"token_ttl": 1})
    d.add_user("alice")
    c = env.client()
    c.login(d, "alice")
    time.sleep(2.2)
    r = c.run("session", "list", d.host, "--json")
    assert r.returncode == 255
    expect_error(json.loads(r.stdout), "unauthorized")


def test_user_admin_commands(env):
    d = env.daemon()
    d.add_user("alice", admin=True)
    d.add_user("bob")
    r = d.admin("user", "add", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 1 and "already exists" in r.stderr
    r = d.admin("user", "add", "carol", "--password-stdin", input="short\n")
    assert r.returncode == 1 and "too short" in r.stderr
    r = d.admin("user", "add", "1bad", "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 2
    r = d.admin("user", "add", "carol")   # no terminal, no --password-stdin
    assert r.returncode == 1 and "--password-stdin" in r.stderr
    r = d.admin("user", "list", "--json")
    users = json.loads(r.stdout)["users"]
    assert [(u["name"], u["admin"]) for u in users] == [("alice", True), ("bob", False)]
    # passwd changes the password and revokes the user's tokens
    c = env.client()
    c.login(d, "bob")
    old = c.token(d, "bob")
    r = d.admin("user", "passwd", "bob", "--password-stdin", input="a new password\n")
    assert r.returncode == 0, r.stderr
    st, _, _ = d.request("GET", "/v1/whoami", token=old)
    assert st == 401
    st, _, _ = d.request("POST", "/v1/login", {"user": "bob", "password": PASSWORD})
    assert st == 401
    assert d.token_for("bob", "a new password")
    r = d.admin("user", "remove", "bob")
    assert r.returncode == 0
    r = d.admin("user", "remove", "bob")
    assert r.returncode == 1 and "no user" in r.stderr
    st, _, _ = d.request("POST", "/v1/login", {"user": "bob", "password": "a new password"})
    assert st == 401


def test_sigterm_is_clean_and_sighup_reloads(env):
    import signal
    d = env.daemon(config={"log_level": "info"})
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "event=reloaded" not in d.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "event=reloaded" in d.log()
    assert d.healthy()
    assert d.stop() == 0
    assert "event=shutdown" in d.log()
    # a second daemon on the same state dir is refused
    d.start(port=0)
    r = d.admin("--listen", "127.0.0.1:0")
    assert r.returncode == 1 and "another tetherd" in r.stderr


def test_log_lines_escape_client_strings(env):
    d = env.daemon()
    st, _, _ = d.request("POST", "/v1/login",
                         {"user": "x\nts=forged level=info event=login", "password": "p"})
    assert st in (400, 401)
    for line in d.log().splitlines():
        assert not line.startswith("ts=forged"), line


def legacy_scrypt(password):
    """A hash in the format tetherd wrote before yescrypt."""
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=2 ** 15, r=8, p=1, dklen=32,
                         maxmem=64 << 20)
    b64 = lambda b: base64.b64encode(b).decode().rstrip("=")   # noqa: E731
    return f"$scrypt$ln=15,r=8,p=1${b64(salt)}${b64(key)}"


def test_old_and_foreign_hashes_verify_and_are_upgraded(env):
    """Hashes of the old scrypt format and sha512crypt (from a shadow file)
    still log in, and become yescrypt at that login; a weak format (MD5,
    DES) never logs in, whatever the password."""
    d = env.daemon()
    for u in ("olds", "sha", "weak"):
        d.add_user(u)
    d.stop()
    six = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=PASSWORD + "\n",
                         capture_output=True, text=True, check=True).stdout.strip()
    md5 = subprocess.run(["openssl", "passwd", "-1", "-stdin"], input=PASSWORD + "\n",
                         capture_output=True, text=True, check=True).stdout.strip()
    db = d.db()
    for user, h in (("olds", legacy_scrypt(PASSWORD)), ("sha", six), ("weak", md5)):
        db.execute("UPDATE users SET pwhash = ? WHERE name = ?", (h, user))
    db.commit()
    db.close()
    assert d.query("SELECT pwhash FROM users WHERE name = 'sha'")[0][0] == six
    d.start()
    c = env.client()
    for user in ("olds", "sha"):
        c.login(d, user)
        (h,) = d.query("SELECT pwhash FROM users WHERE name = ?", user)[0]
        assert h.startswith("$y$"), (user, h)
        c.run("logout", d.host)
        c.login(d, user)   # the new hash works too
    r = c.run("login", f"weak@{d.host}", "--password-stdin", "--accept-new",
              input=PASSWORD + "\n")
    assert r.returncode == 255, r.stderr
    (h,) = d.query("SELECT pwhash FROM users WHERE name = 'weak'")[0]
    assert h == md5, h
    assert "password_hash_upgraded" in d.log()


if __name__ == "__main__":
    main(globals())
