"""Public-key login: keys in a real ssh-agent, --identity key files, RSA and
ECDSA as well as ed25519, fallback to the password, `tetherd user key`, a
replayed signature refused, and authorized_keys = yes with OpenSSH's rules.

tether runs in its own session (no controlling terminal) unless a test gives
it a pseudo-terminal, so it can never prompt the person running the tests.
"""
import base64
import json
import os
import pwd
import pty
import re
import select
import shutil
import signal
import subprocess
import time

from harness import PASSWORD, TETHER, main, unix_answers, wait_for

PROBE = os.environ.get("KEYLOGIN_PROBE", "build/tests/tools/keylogin-probe")


# -- helpers ------------------------------------------------------------------

def keygen(env, name, kind="ed25519", bits=None, passphrase="", fmt=None):
    """An OpenSSH key pair made by ssh-keygen; returns the private key path."""
    path = os.path.join(env.root, name)
    args = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", f"{name}@test",
            "-f", path]
    if bits:
        args += ["-b", str(bits)]
    if fmt:
        args += ["-m", fmt]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return path


def fingerprint(path):
    """ssh-keygen's SHA256 fingerprint of a key file."""
    r = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", path], check=True,
                       capture_output=True, text=True, timeout=30)
    return r.stdout.split()[1]


class Agent:
    """A real ssh-agent on a socket of its own."""

    def __init__(self, env):
        self.sock = os.path.join(env.root, f"agent-{len(os.listdir(env.root))}.sock")
        self.proc = subprocess.Popen(["ssh-agent", "-D", "-a", self.sock],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: unix_answers(self.sock), 10, "ssh-agent's socket")

    def add(self, *keys):
        e = dict(os.environ, SSH_AUTH_SOCK=self.sock)
        for k in keys:
            subprocess.run(["ssh-add", "-q", k], check=True, capture_output=True, env=e,
                           timeout=30, stdin=subprocess.DEVNULL)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def tether(c, *args, agent=None, input=None):
    """Run tether without a terminal; with agent's socket (else none)."""
    e = c.env()
    e.pop("SSH_AUTH_SOCK", None)
    if agent is not None:
        e["SSH_AUTH_SOCK"] = agent.sock
    return subprocess.run([os.path.abspath(TETHER)] + list(args), input=input,
                          capture_output=True, text=True, env=e, timeout=60,
                          start_new_session=True,
                          stdin=None if input is not None else subprocess.DEVNULL)


def key_add(d, user, *pubs):
    for p in pubs:
        r = d.admin("user", "key", "add", user, p)
        assert r.returncode == 0, r.stderr


def login(c, d, *extra, agent=None, user="alice", password=None):
    args = ["login", f"{user}@{d.host}", "--accept-new", "--json", *extra]
    if password is not None:
        args.append("--password-stdin")
    return tether(c, *args, agent=agent, input=None if password is None else password + "\n")


def audit(d, event):
    return d.query("SELECT user_name, detail FROM audit WHERE event = ? ORDER BY id", event)


def works(c, d, name="s"):
    r = tether(c, "session", "new", d.host, "--name", name, "--json")
    assert r.returncode == 0, r.stderr


# -- ssh-agent ----------------------------------------------------------------

def test_agent_ed25519_no_password_no_prompt(env):
    d = env.daemon()
    d.add_user("alice")
    k = keygen(env, "ed")
    key_add(d, "alice", k + ".pub")
    agent = Agent(env)
    try:
        agent.add(k)
        c = env.client()
        r = login(c, d, agent=agent)
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        assert info["method"] == "publickey" and info["key"] == fingerprint(k), info
        assert "assword" not in r.stderr, r.stderr
        works(c, d)
        # the audit row names the key used, never its bytes
        rows = audit(d, "login")
        assert rows[-1] == ("alice", f"{fingerprint(k)} (tether)"), rows
        # the key's own bytes (past the type header every ed25519 key shares)
        blob = open(k + ".pub").read().split()[1]
        log = d.log()
        assert blob[-32:] not in log
        assert fingerprint(k) in log
        # plain output says so too
        c2 = env.client("c2")
        r = tether(c2, "login", f"alice@{d.host}", "--accept-new", agent=agent)
        assert r.returncode == 0 and "with key " + fingerprint(k) in r.stdout, r
    finally:
        agent.stop()


def test_rsa_and_ecdsa_keys(env):
    d = env.daemon()
    d.add_user("alice")
    rsa = keygen(env, "rsa", "rsa", 3072)
    ec = keygen(env, "ec", "ecdsa", 256)
    ec384 = keygen(env, "ec384", "ecdsa", 384)
    agent = Agent(env)
    try:
        agent.add(rsa, ec, ec384)
        for k in (rsa, ec, ec384):
            key_add(d, "alice", k + ".pub")
            c = env.client("c-" + os.path.basename(k))
            r = login(c, d, agent=agent)
            assert r.returncode == 0, (k, r.stderr)
            assert json.loads(r.stdout)["key"] == fingerprint(k)
            works(c, d, os.path.basename(k))
            fp = fingerprint(k)
            assert d.admin("user", "key", "remove", "alice", fp).returncode == 0
    finally:
        agent.stop()


def test_identity_with_and_without_agent(env):
    d = env.daemon()
    d.add_user("alice")
    plain = keygen(env, "plain", "ecdsa", 256)
    locked = keygen(env, "locked", passphrase="correct horse")
    key_add(d, "alice", plain + ".pub", locked + ".pub")
    # an unencrypted key file, no agent at all
    c = env.client("c1")
    r = login(c, d, "--identity", plain)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["key"] == fingerprint(plain)
    works(c, d)
    # an encrypted key file the agent holds: the agent signs, nothing is asked
    agent = Agent(env)
    try:
        askpass = os.path.join(env.root, "askpass")
        with open(askpass, "w") as f:
            f.write("#!/bin/sh\necho 'correct horse'\n")
        os.chmod(askpass, 0o700)
        e = dict(os.environ, SSH_AUTH_SOCK=agent.sock, SSH_ASKPASS=askpass,
                 SSH_ASKPASS_REQUIRE="force", DISPLAY="")
        subprocess.run(["ssh-add", "-q", locked], check=True, capture_output=True, env=e,
                       timeout=30, stdin=subprocess.DEVNULL, start_new_session=True)
        c2 = env.client("c2")
        r = login(c2, d, "--identity", locked, agent=agent)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["key"] == fingerprint(locked)
    finally:
        agent.stop()
    # an encrypted key file, no agent, no terminal: no passphrase to be had,
    # so the password is used instead
    c3 = env.client("c3")
    r = login(c3, d, "--identity", locked, password=PASSWORD)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["method"] == "password"
    # ... and on a terminal the passphrase is asked for
    c4 = env.client("c4")
    code, out = run_on_pty(c4, ["login", f"alice@{d.host}", "--accept-new", "-i", locked],
                           {b"Enter passphrase for key": b"correct horse\n"})
    assert code == 0, out
    assert "Password for" not in out and "with key " + fingerprint(locked) in out, out


def run_on_pty(c, args, answers, timeout=30):
    """Run tether on a pseudo-terminal, answering prompts (bytes -> bytes);
    (exit code, transcript). A hang fails."""
    e = c.env()
    e.pop("SSH_AUTH_SOCK", None)
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(os.path.abspath(TETHER), [TETHER] + args, e)
        finally:
            os._exit(127)
    out, done = b"", set()
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"tether on a pty timed out: {out!r}"
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                break
            out += data
            for prompt, answer in answers.items():
                if prompt not in done and prompt in out:
                    done.add(prompt)
                    os.write(fd, answer)
        _, status = os.waitpid(pid, 0)
        pid = 0
        return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def test_unknown_key_falls_back_to_password_or_fails_clearly(env):
    d = env.daemon()
    d.add_user("alice")
    k = keygen(env, "stranger")
    agent = Agent(env)
    try:
        agent.add(k)
        c = env.client()
        r = login(c, d, agent=agent, password=PASSWORD)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["method"] == "password"
        c2 = env.client("c2")
        r = login(c2, d, agent=agent)
        assert r.returncode == 255, (r.returncode, r.stderr)
        assert "accepted none of the 1 key offered" in r.stdout, r.stdout
        assert "--password-stdin" in r.stdout, r.stdout
        # no agent, no key, no password: says so
        r = login(c2, d)
        assert r.returncode == 255 and "no key to offer" in r.stdout, r.stdout
        # an unknown user is answered like a known one without the key
        r = login(c2, d, agent=agent, user="nobody")
        assert r.returncode == 255 and "accepted none" in r.stdout, r.stdout
        # without --json, the one line is on stderr
        r = tether(c2, "login", f"alice@{d.host}", agent=agent)
        assert r.returncode == 255 and r.stderr.count("\n") == 1, r.stderr
        assert "accepted none" in r.stderr, r.stderr
    finally:
        agent.stop()


def test_removed_key_stops_working(env):
    d = env.daemon()
    d.add_user("alice")
    k = keygen(env, "ed")
    key_add(d, "alice", k + ".pub")
    c = env.client()
    assert login(c, d, "-i", k).returncode == 0
    r = d.admin("user", "key", "remove", "alice", fingerprint(k))
    assert r.returncode == 0 and "removed" in r.stdout, r
    r = login(env.client("c2"), d, "-i", k)
    assert r.returncode == 255 and "accepted none" in r.stdout, r.stdout
    works(c, d)   # a token issued before lives out its time (docs/authentication.md)


def test_fleet_login_with_agent_key(env):
    """login TARGETS with a key in the agent: every host, no prompt, no
    password; a host without the key fails alone."""
    ds = [env.daemon(f"web{i}") for i in range(4)]
    k = keygen(env, "ed")
    for d in ds:
        d.add_user("alice")
    for d in ds[:3]:
        key_add(d, "alice", k + ".pub")
    agent = Agent(env)
    try:
        agent.add(k)
        c = env.client()
        targets = ",".join(d.host for d in ds)
        r = tether(c, "login", targets, "--user", "alice", "--accept-new", "--json",
                   agent=agent)
        assert r.returncode == 1, (r.returncode, r.stderr)
        hosts = json.loads(r.stdout)
        assert [h["method"] for h in hosts[:3]] == ["publickey"] * 3, hosts
        assert hosts[3]["error"]["code"] == "auth_failed", hosts[3]
        assert "1 of 4 hosts failed" in r.stderr, r.stderr
        for d in ds[:3]:
            works(c, d)
    finally:
        agent.stop()


def test_fleet_login_runs_hosts_at_once(env):
    """login TARGETS logs hosts in side by side: with a hanging host first
    in the list, the others are logged in while it still hangs (one after
    another, they would wait for its connect timeout); two inventory names
    for one server both log in with the key, the challenge and the signed
    login each on their own connection."""
    ds = [env.daemon(f"w{i}") for i in range(4)]
    k = keygen(env, "ed")
    for d in ds:
        d.add_user("alice")
        key_add(d, "alice", k + ".pub")
    hung = ds[0]
    inv = os.path.join(env.root, "inventory")
    with open(inv, "w") as f:
        f.write("[web]\n")
        f.write(f"stuck ansible_host=127.0.0.1 ansible_port={hung.port}\n")
        for i, d in enumerate(ds[1:]):
            f.write(f"w{i + 1} ansible_host=127.0.0.1 ansible_port={d.port}\n")
        f.write(f"alias ansible_host=127.0.0.1 ansible_port={ds[1].port}\n")
    agent = Agent(env)
    c = env.client()
    e = c.env()
    e.update(SSH_AUTH_SOCK=agent.sock, TETHER_INVENTORY=inv, TETHER_CONNECT_TIMEOUT="60")
    hung.proc.send_signal(signal.SIGSTOP)   # the kernel still accepts its connections
    p = None
    try:
        agent.add(k)
        p = subprocess.Popen([os.path.abspath(TETHER), "login", "@web", "--user", "alice",
                              "--accept-new"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=e,
                             start_new_session=True)
        # the pipe's own fd, read unbuffered: lines that come in one read
        # would sit unseen in a buffered readline()'s buffer, where select()
        # does not look
        out, fd = b"", p.stdout.fileno()
        deadline = time.monotonic() + 50
        while out.count(b"\n") < 4 and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                data = os.read(fd, 4096)
                if not data:
                    break
                out += data
        lines = out.decode().splitlines(keepends=True)
        assert sorted(x.split(":")[0] for x in lines) == ["alias", "w1", "w2", "w3"], lines
        assert all("logged in as alice" in x for x in lines), lines
        assert p.poll() is None, "the hanging host should still be pending"
        assert not audit(ds[1], "login_failed"), audit(ds[1], "login_failed")
        for d in ds[1:]:
            works(c, d)
    finally:
        if p is not None:
            p.kill()
            p.communicate()
        hung.proc.send_signal(signal.SIGCONT)
        agent.stop()


def test_another_users_key_is_not_yours(env):
    d = env.daemon()
    d.add_user("alice")
    d.add_user("bob")
    k = keygen(env, "bobs")
    key_add(d, "bob", k + ".pub")
    r = login(env.client("c1"), d, "-i", k)   # as alice
    assert r.returncode == 255 and "accepted none" in r.stdout, r.stdout
    # signed anyway, for alice, with bob's key: the daemon refuses it
    assert probe(d, k, "same", user="alice") == [("challenge", 200), ("login", 401)]
    assert login(env.client("c2"), d, "-i", k, user="bob").returncode == 0
    assert [u for u, _ in audit(d, "login")] == ["bob"]


# -- the protocol: replays and bad input ---------------------------------------

def probe(d, key, mode, user="alice"):
    r = subprocess.run([PROBE, str(d.port), user, key, mode], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return [(l.split(" ", 2)[0], int(l.split(" ", 2)[1])) for l in r.stdout.splitlines()]


def test_replayed_signature_is_refused(env):
    d = env.daemon()
    d.add_user("alice")
    k = keygen(env, "ed")
    key_add(d, "alice", k + ".pub")
    # the signed login as it should go: on the connection it was made for
    assert probe(d, k, "same") == [("challenge", 200), ("login", 200)]
    # the same, sent on another TLS connection: refused (and the nonce is
    # spent, so the original connection cannot use it afterwards either)
    assert probe(d, k, "fresh") == [("challenge", 200), ("login", 401), ("login", 401)]
    # a nonce is good once
    assert probe(d, k, "twice") == [("challenge", 200), ("login", 200), ("login", 401)]
    refused = [l for l in d.log().splitlines() if "key_login_refused" in l]
    assert len(refused) == 3 and all("nonce" in l for l in refused), refused
    assert len(d.query("SELECT id FROM tokens")) == 2
    # the same over another server with the same user and key: its nonces
    # are its own
    d2 = env.daemon("d2")
    d2.add_user("alice")
    key_add(d2, "alice", k + ".pub")
    assert probe(d2, k, "same") == [("challenge", 200), ("login", 200)]


def test_challenge_and_login_bad_input(env):
    d = env.daemon()
    d.add_user("alice")
    k = keygen(env, "ed")
    key_add(d, "alice", k + ".pub")
    blob = open(k + ".pub").read().split()[1]
    bad = [
        {"user": "alice"},
        {"user": "alice", "keys": []},
        {"user": "alice", "keys": blob},
        {"user": "alice", "keys": [blob] * 17},
        {"user": "alice", "keys": ["%%%not base64"]},
        {"user": "alice", "keys": [7]},
        {"user": 7, "keys": [blob]},
    ]
    for body in bad:
        st, _, doc = d.request("POST", "/v1/login/challenge", body)
        assert st == 400 and doc["error"]["code"] == "invalid_argument", (body, st, doc)
    # a key we cannot parse is simply not accepted; an unknown user looks
    # like a known user without that key
    for user, keys, accept in (("alice", [blob, "AAAA"], [0]), ("nobody", [blob], []),
                               ("alice", [base64.b64encode(b"x" * 40).decode()], [])):
        st, _, doc = d.request("POST", "/v1/login/challenge", {"user": user, "keys": keys})
        assert st == 200 and doc["accept"] == accept, (user, st, doc)
        assert len(base64.b64decode(doc["nonce"])) == 32
    sig = base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x40" + b"s" * 64).decode()
    nonce = base64.b64encode(os.urandom(32)).decode()
    for body, code in (({"user": "alice", "key": blob, "nonce": "short", "signature": sig},
                        "invalid_argument"),
                       ({"user": "alice", "key": "AAAA", "nonce": nonce, "signature": sig},
                        "invalid_argument"),
                       ({"user": "alice", "key": blob, "nonce": nonce, "signature": 5},
                        "invalid_argument"),
                       ({"user": "alice", "key": blob, "nonce": nonce, "signature": sig},
                        "auth_failed")):
        st, _, doc = d.request("POST", "/v1/login", body)
        assert doc["error"]["code"] == code, (body, st, doc)
    # refused key logins count toward the lockout like wrong passwords
    for _ in range(6):
        st, _, doc = d.request("POST", "/v1/login", {"user": "alice", "key": blob,
                                                     "nonce": nonce, "signature": sig})
    assert st == 429, (st, doc)
    assert d.query("SELECT count(*) FROM tokens") == [(0,)]


# -- tetherd user key ----------------------------------------------------------

def test_key_admin_commands(env):
    d = env.daemon()
    d.add_user("alice")
    a = keygen(env, "a")
    b = keygen(env, "b", "rsa", 2048)
    both = open(a + ".pub").read() + "\n# a comment line\n" + open(b + ".pub").read()
    r = d.admin("user", "key", "add", "alice", input=both)
    assert r.returncode == 0, r.stderr
    assert fingerprint(a) in r.stdout and fingerprint(b) in r.stdout
    r = d.admin("user", "key", "add", "alice", a + ".pub")
    assert r.returncode == 0 and "already has" in r.stdout, r
    r = d.admin("user", "key", "list", "alice", "--json")
    keys = json.loads(r.stdout)["keys"]
    assert [(k["type"], k["fingerprint"], k["comment"]) for k in keys] == [
        ("ssh-ed25519", fingerprint(a), "a@test"), ("ssh-rsa", fingerprint(b), "b@test")]
    assert keys[1]["bits"] == 2048 and re.match(r"\d{4}-\d\d-\d\dT", keys[0]["added"])
    r = d.admin("user", "key", "list", "alice")
    assert r.returncode == 0 and fingerprint(a) in r.stdout and "FINGERPRINT" in r.stdout
    # a line with options, or a malformed one: nothing at all is added
    c = keygen(env, "c")
    for text in ('command="/bin/true" ' + open(c + ".pub").read(),
                 open(c + ".pub").read() + "ssh-ed25519 AAAA broken\n",
                 "ssh-dss AAAAB3NzaC1kc3MAAACBAP== old\n", ""):
        r = d.admin("user", "key", "add", "alice", input=text)
        assert r.returncode == 1, (text, r)
        assert "no key added" in r.stderr or "no public key" in r.stderr, r.stderr
    assert len(json.loads(d.admin("user", "key", "list", "alice", "--json").stdout)["keys"]) == 2
    assert d.admin("user", "key", "add", "bob", a + ".pub").returncode == 1
    assert d.admin("user", "key", "remove", "alice", "SHA256:" + "A" * 43).returncode == 1
    assert d.admin("user", "key", "remove", "alice", "MD5:00").returncode == 2
    assert d.admin("user", "key", "frob", "alice").returncode == 2
    r = d.admin("user", "key", "remove", "alice", fingerprint(a))
    assert r.returncode == 0
    assert [e[1] for e in audit(d, "key_add")] == [fingerprint(a), fingerprint(b)]
    assert [e[1] for e in audit(d, "key_remove")] == [fingerprint(a)]


# -- authorized_keys = yes -------------------------------------------------------

def account_with_home(name):
    """A throwaway login account with a home under /home (root only)."""
    subprocess.run(["userdel", "-r", name], capture_output=True)
    subprocess.run(["useradd", "-m", "-d", f"/home/{name}", "-s", "/bin/bash", name],
                   check=True, capture_output=True, timeout=30)
    return f"/home/{name}"


def test_authorized_keys(env):
    if os.geteuid() != 0:
        print("  (skipped: needs root for an OS account with a home)")
        return
    acct = "tt-akeys"
    home = account_with_home(acct)
    try:
        plain = keygen(env, "plain")
        forced = keygen(env, "forced", "ecdsa", 256)
        ssh = os.path.join(home, ".ssh")
        os.makedirs(ssh, mode=0o700, exist_ok=True)
        ak = os.path.join(ssh, "authorized_keys")
        with open(ak, "w") as f:
            f.write("# keys\n" + open(plain + ".pub").read() +
                    'command="/usr/bin/uptime",no-pty ' + open(forced + ".pub").read())
        shutil.chown(ssh, acct, acct)
        shutil.chown(ak, acct, acct)
        os.chmod(ak, 0o600)
        d = env.daemon(config={"authorized_keys": "yes"})
        r = d.admin("user", "add", "carol", "--password-stdin", "--os-user", acct,
                    input=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        r = login(env.client("c1"), d, "-i", plain, user="carol")
        assert r.returncode == 0, r.stderr
        assert audit(d, "login")[-1] == ("carol", f"{fingerprint(plain)} (authorized_keys)")
        r = login(env.client("c2"), d, "-i", forced, user="carol")
        assert r.returncode == 255, r.stderr
        assert re.search(r"authorized_keys_option_refused.*line=3", d.log()), d.log()
        # OpenSSH's modes: a group-writable file is not read
        os.chmod(ak, 0o620)
        r = login(env.client("c3"), d, "-i", plain, user="carol")
        assert r.returncode == 255, r.stderr
        assert "authorized_keys_refused" in d.log()
        os.chmod(ak, 0o600)
        # a symlink in place of the file is not followed
        os.rename(ak, ak + ".real")
        os.symlink(ak + ".real", ak)
        r = login(env.client("c4"), d, "-i", plain, user="carol")
        assert r.returncode == 255, r.stderr
        assert "symlink" in d.log()
        os.unlink(ak)
        os.rename(ak + ".real", ak)
        assert login(env.client("c5"), d, "-i", plain, user="carol").returncode == 0
        # without authorized_keys = yes the file is not looked at
        d2 = env.daemon("d2")
        assert d2.admin("user", "add", "carol", "--password-stdin", "--os-user", acct,
                        input=PASSWORD + "\n").returncode == 0
        r = login(env.client("c6"), d2, "-i", plain, user="carol")
        assert r.returncode == 255, r.stderr
    finally:
        subprocess.run(["userdel", "-r", acct], capture_output=True)


STALLFS = os.environ.get("STALLFS", "build/tests/tools/stallfs")


def test_authorized_keys_on_a_stalled_file_system(env):
    """A ~/.ssh on a FUSE mount whose authorized_keys never answers a read:
    the login goes on without the file (the owner's child that reads it is
    given up after its deadline) and the daemon keeps logging people in.
    Reading it as root, the login would wait for good."""
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse") or not os.path.exists(STALLFS):
        print("  (skipped: needs root, /dev/fuse and tests/tools/stallfs)")
        return
    acct = "tt-stall"
    home = account_with_home(acct)
    ssh = os.path.join(home, ".ssh")
    os.makedirs(ssh, exist_ok=True)
    pw = pwd.getpwnam(acct)
    fs = subprocess.Popen([STALLFS, ssh, str(pw.pw_uid), str(pw.pw_gid)],
                          stderr=subprocess.PIPE)
    try:
        wait_for(lambda: os.path.ismount(ssh), 10, "stallfs to mount")
        d = env.daemon(config={"authorized_keys": "yes"})
        r = d.admin("user", "add", "dave", "--password-stdin", "--os-user", acct,
                    input=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        plain = keygen(env, "plain")
        for i in (1, 2):   # the daemon is not wedged by the first
            r = login(env.client(f"s{i}"), d, "-i", plain, user="dave", password=PASSWORD)
            assert r.returncode == 0, (i, r.returncode, r.stderr, r.stdout)
        assert "authorized_keys_truncated" in d.log() or "authorized_keys_refused" in d.log(), \
            d.log()
        assert d.request("GET", "/v1/health")[0] == 200
    finally:
        subprocess.run(["umount", "-l", ssh], capture_output=True)
        fs.kill()
        fs.wait(timeout=30)
        subprocess.run(["userdel", "-r", acct], capture_output=True)


if __name__ == "__main__":
    main(globals())
