"""OpenSSH keys and ssh-agent, held against the real OpenSSH tools.

tests/tools/sshkey-tool (env SSHKEY_TOOL) drives common/sshkey.c and
client/lib/agent.c. For ed25519, ECDSA P-256/384/521 and RSA 3072 keys made
by ssh-keygen (with and without a passphrase, OpenSSH format, and PEM /
PKCS#8 for some): our fingerprint is ssh-keygen -l's; ssh-keygen -Y sign's
signatures verify with sshkey_verify over sshkey_sshsig_data, and ours with
ssh-keygen -Y verify; a wrong message, namespace or key is refused; a wrong
passphrase is SSHKEY_E_PASSPHRASE. A real ssh-agent lists the keys we add
and signs; fake agents (a huge length, silence, a hang-up) fail bounded.
No daemon is needed. Every agent started here is killed.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from harness import unix_answers

TOOL = os.environ.get("SSHKEY_TOOL", "sshkey-tool")
NS = "tether-login@example"
PASS = "correct horse"
KEYS = {  # name: ssh-keygen arguments
    "ed25519": ["-t", "ed25519"],
    "p256": ["-t", "ecdsa", "-b", "256"],
    "p384": ["-t", "ecdsa", "-b", "384"],
    "p521": ["-t", "ecdsa", "-b", "521"],
    "rsa": ["-t", "rsa", "-b", "3072"],
}
TYPES = {"ed25519": "ssh-ed25519", "p256": "ecdsa-sha2-nistp256",
         "p384": "ecdsa-sha2-nistp384", "p521": "ecdsa-sha2-nistp521", "rsa": "ssh-rsa"}


def run(args, stdin=None, check=True):
    """Run a command (bounded in time); returns (rc, stdout, stderr)."""
    p = subprocess.run(args, input=stdin, capture_output=True, timeout=60)
    out, err = p.stdout.decode(), p.stderr.decode()
    if check and p.returncode != 0:
        raise AssertionError(f"{args} exited {p.returncode}: {out}{err}")
    return p.returncode, out, err


def tool(*args, check=True):
    return run([TOOL, *args], check=check)


def keygen_fp(pub):
    """ssh-keygen -l's SHA256 fingerprint of a key file."""
    return run(["ssh-keygen", "-l", "-E", "sha256", "-f", pub])[1].split()[1]


class Keys:
    """Keys made once by ssh-keygen in a scratch dir."""

    def __init__(self, d):
        self.d = d
        self.msg = self.put("msg", b"log me in, nonce 0123456789\n")
        self.other = self.put("other", b"log me in, nonce 9876543210\n")
        for name, args in KEYS.items():
            # the passphrase copies use few bcrypt rounds (but ed25519 the
            # default), so that the test stays quick under sanitizers
            rounds = [] if name == "ed25519" else ["-a", "4"]
            self.keygen(name, args, "")
            self.keygen(name + "-pw", args + rounds, PASS)
        self.keygen("ed25519-b", KEYS["ed25519"], "")
        self.keygen("pem-p384", KEYS["p384"] + ["-m", "PEM"], "")
        self.keygen("pem-rsa-pw", ["-t", "rsa", "-b", "2048", "-m", "PEM"], PASS)
        self.keygen("pkcs8-p256-pw", KEYS["p256"] + ["-m", "PKCS8"], PASS)

    def put(self, name, data):
        p = os.path.join(self.d, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def keygen(self, name, args, passphrase):
        run(["ssh-keygen", "-q", *args, "-N", passphrase, "-C", f"comment of {name}",
             "-f", self.path(name)])

    def path(self, name):
        return os.path.join(self.d, name)


def keygen_sign(keys, name, msg):
    """ssh-keygen -Y sign msg with key name; returns the .sig path."""
    sig = msg + ".sig"
    if os.path.exists(sig):
        os.unlink(sig)
    run(["ssh-keygen", "-Y", "sign", "-n", NS, "-f", keys.path(name), msg])
    out = keys.path(f"{name}-{os.path.basename(msg)}.sig")
    os.replace(sig, out)
    return out


def keygen_verify(keys, name, msg, sig):
    """Does ssh-keygen -Y verify accept sig over msg by key name?"""
    with open(keys.path(name) + ".pub") as f:
        kt, kb = f.read().split()[:2]
    allowed = keys.put("allowed_signers", f"signer@example {kt} {kb}\n".encode())
    with open(msg, "rb") as f:
        rc, out, err = run(["ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "signer@example",
                            "-n", NS, "-s", sig], stdin=f.read(), check=False)
    return rc == 0


# -- keys and signatures ------------------------------------------------------

def test_fingerprints(keys):
    for name in KEYS:
        for variant in (name, name + "-pw"):
            want = keygen_fp(keys.path(variant) + ".pub")
            fp, typ, bits, *comment = tool("fp", keys.path(variant) + ".pub")[1].split()
            assert fp == want, (variant, fp, want)
            assert typ == TYPES[name], (variant, typ)
            assert " ".join(comment) == f"comment of {variant}", comment
            pw = [PASS] if variant.endswith("-pw") else []
            out = tool("priv", keys.path(variant), *pw)[1].split()
            assert out[0] == want and out[1] == TYPES[name], (variant, out)
        assert tool("fp", keys.path("rsa") + ".pub")[1].split()[2] == "3072"


def test_keygen_signs_we_verify(keys):
    for name in KEYS:
        pub = keys.path(name) + ".pub"
        sig = keygen_sign(keys, name, keys.msg)
        assert tool("verify", pub, NS, keys.msg, sig)[1].strip() == "verified", name
        # another message, another namespace, another key: refused
        rc, _, err = tool("verify", pub, NS, keys.other, sig, check=False)
        assert rc == 1 and "does not verify" in err, (name, rc, err)
        rc, _, err = tool("verify", pub, "other-namespace", keys.msg, sig, check=False)
        assert rc == 1, (name, rc, err)
        other = "p256" if name != "p256" else "p384"
        rc, _, err = tool("verify", keys.path(other) + ".pub", NS, keys.msg, sig, check=False)
        assert rc == 1 and "refused" in err, (name, rc, err)
    # the same type, another key
    sig = keygen_sign(keys, "ed25519-b", keys.msg)
    rc, _, err = tool("verify", keys.path("ed25519") + ".pub", NS, keys.msg, sig, check=False)
    assert rc == 1 and "does not verify" in err, err


def test_we_sign_keygen_verifies(keys):
    for name in list(KEYS) + [n + "-pw" for n in KEYS] + ["pem-p384", "pem-rsa-pw",
                                                           "pkcs8-p256-pw"]:
        sig = keys.path(name + ".our.sig")
        pw = PASS if name.endswith("-pw") else ""
        tool("sign", keys.path(name), pw, NS, keys.msg, sig)
        assert keygen_verify(keys, name, keys.msg, sig), f"ssh-keygen refused our {name} signature"
        assert not keygen_verify(keys, name, keys.other, sig), name
        # and ours agrees with itself
        assert tool("verify", keys.path(name) + ".pub", NS, keys.msg, sig)[0] == 0


def test_passphrases(keys):
    for name in KEYS:
        for pw in ("wrong horse", ""):
            rc, out, err = tool("priv", keys.path(name + "-pw"), pw, check=False)
            assert rc == 1 and out.strip() == "E_PASSPHRASE", (name, pw, out, err)
            assert PASS not in err and "wrong horse" not in err, err
    # every cipher ssh-keygen -Z can write that we read
    for cipher in ("aes256-ctr", "aes128-ctr", "aes256-cbc", "aes256-gcm@openssh.com"):
        p = keys.path("z-" + cipher)
        shutil.copy(keys.path("p256"), p)
        run(["ssh-keygen", "-q", "-p", "-a", "4", "-Z", cipher, "-P", "", "-N", PASS, "-f", p])
        assert tool("priv", p, PASS)[1].split()[0] == keygen_fp(keys.path("p256") + ".pub")
        rc, out, _ = tool("priv", p, "nope", check=False)
        assert rc == 1 and out.strip() == "E_PASSPHRASE", (cipher, out)
    # an unsupported cipher is said so
    p = keys.path("z-chacha")
    shutil.copy(keys.path("p256"), p)
    run(["ssh-keygen", "-q", "-p", "-a", "4", "-Z", "chacha20-poly1305@openssh.com", "-P", "",
         "-N", PASS, "-f", p])
    rc, out, _ = tool("priv", p, PASS, check=False)
    assert rc == 1 and out.strip() == "E_UNSUPPORTED", out


def test_pem(keys):
    for name in ("pem-p384", "pem-rsa-pw", "pkcs8-p256-pw"):
        with open(keys.path(name)) as f:
            head = f.readline()
        assert "OPENSSH" not in head, head   # really PEM / PKCS#8
        pw = [PASS] if name.endswith("-pw") else []
        out = tool("priv", keys.path(name), *pw)[1].split()
        assert out[0] == keygen_fp(keys.path(name) + ".pub"), (name, out)
    for name in ("pem-rsa-pw", "pkcs8-p256-pw"):
        for pw in ("wrong horse", ""):
            rc, out, _ = tool("priv", keys.path(name), pw, check=False)
            assert rc == 1 and out.strip() == "E_PASSPHRASE", (name, out)


# -- ssh-agent ------------------------------------------------------------------

def start_agent(d):
    """A real ssh-agent on a socket in d; returns (process, socket path)."""
    sock = os.path.join(d, "agent.sock")
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not unix_answers(sock):   # not the file: it is there before listen()
        assert time.monotonic() < deadline and proc.poll() is None, "ssh-agent did not start"
        time.sleep(0.02)
    return proc, sock


def test_agent(keys):
    d = tempfile.mkdtemp(prefix="agent-", dir=keys.d)
    proc, sock = start_agent(d)
    try:
        env = dict(os.environ, SSH_AUTH_SOCK=sock)
        # an empty agent: no keys, no error
        assert tool("agent-list", sock)[1] == ""
        added = ["ed25519", "p384", "rsa"]
        for name in added:
            subprocess.run(["ssh-add", "-q", keys.path(name)], env=env, check=True, timeout=30,
                           capture_output=True)
        lines = tool("agent-list", sock)[1].splitlines()
        assert len(lines) == len(added), lines
        for name, line in zip(added, lines):
            fp, typ, _bits, *comment = line.split()
            assert fp == keygen_fp(keys.path(name) + ".pub"), (name, line)
            assert typ == TYPES[name] and " ".join(comment) == f"comment of {name}", line
        pubs = {n: keys.path(n) + ".pub" for n in KEYS}
        for name, flags, alg in (("ed25519", "0", "ssh-ed25519"),
                                 ("p384", "0", "ecdsa-sha2-nistp384"),
                                 ("rsa", "4", "rsa-sha2-512"), ("rsa", "2", "rsa-sha2-256")):
            out = tool("agent-sign", sock, pubs[name], NS, keys.msg, flags)[1].split("\n")
            assert out[0] == f"alg {alg}" and out[1] == "verified", (name, out)
        # RSA without a SHA-2 flag: the agent signs with SHA-1, which we refuse
        rc, out, err = tool("agent-sign", sock, pubs["rsa"], NS, keys.msg, "0", check=False)
        assert rc == 1 and "alg ssh-rsa" in out and "SHA-1" in err, (out, err)
        # a key the agent does not hold
        rc, _, err = tool("agent-sign", sock, pubs["p256"], NS, keys.msg, "0", check=False)
        assert rc == 1 and "refused to sign" in err, err
    finally:
        proc.kill()
        proc.wait(timeout=10)
    # the agent is gone: a clear error, for listing and signing
    rc, _, err = tool("agent-list", sock, check=False)
    assert rc == 1 and "cannot connect" in err, err
    rc, _, err = tool("agent-list", os.path.join(d, "no-such-socket"), check=False)
    assert rc == 1 and "cannot connect" in err, err
    rc, _, err = tool("agent-sign", os.path.join(d, "x"), keys.path("p256") + ".pub", NS,
                      keys.msg, "0", check=False)
    assert rc == 1 and "cannot connect" in err, err


class FakeAgent:
    """A unix socket server that answers every connection with reply(conn)."""

    def __init__(self, d, name, reply):
        self.path = os.path.join(d, name)
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(4)
        self.reply = reply
        self.conns = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(conn)
            try:
                self.read_request(conn)
                self.reply(conn)
            except OSError:
                pass

    @staticmethod
    def read_request(conn):
        """Read one framed request (uint32 length, then the body)."""
        def exactly(n):
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    raise OSError("client hung up")
                data += chunk
            return data
        exactly(int.from_bytes(exactly(4), "big"))

    def close(self):
        self.srv.close()
        for c in self.conns:
            c.close()


def test_fake_agents(keys):
    d = tempfile.mkdtemp(prefix="fake-", dir=keys.d)
    pub = keys.path("p256") + ".pub"
    cases = [
        # (name, what the "agent" does, expected error fragment)
        ("huge", lambda c: c.sendall(b"\xff\xff\xff\xf0\x0c" + b"x" * 1000), "too long"),
        ("hangup", lambda c: c.close(), "closed the connection"),
        ("silent", lambda c: None, "in time"),
        ("short", lambda c: c.sendall(b"\x00\x00\x01\x00\x0c\x00\x00"), "in time"),
        ("count", lambda c: c.sendall(b"\x00\x00\x00\x09\x0c\x7f\xff\xff\xff\x00\x00\x00\x00"),
         "unexpected reply"),
        ("failure", lambda c: c.sendall(b"\x00\x00\x00\x01\x05"), "refused"),
    ]
    fakes = []
    try:
        for name, reply, want in cases:
            fake = FakeAgent(d, name, reply)
            fakes.append(fake)
            t0 = time.monotonic()
            # the tool's deadline is lowered to 1 s (agent_set_timeout)
            rc, _, err = tool("agent-sign", fake.path, pub, NS, keys.msg, "0", "1000",
                              check=False)
            assert rc == 1 and want in err, (name, err)
            assert time.monotonic() - t0 < 20, name   # bounded by the 1 s deadline
        # the list request against a bogus count
        rc, _, err = tool("agent-list", fakes[4].path, check=False)
        assert rc == 1 and "malformed" in err, err
        rc, _, err = tool("agent-list", fakes[0].path, check=False)
        assert rc == 1 and "too long" in err, err
    finally:
        for f in fakes:
            f.close()


def main():
    only = sys.argv[1:]
    tests = [(n, f) for n, f in globals().items()
             if n.startswith("test_") and callable(f) and (not only or n in only)]
    tmp = tempfile.mkdtemp(prefix="test-sshkey-")
    failed = 0
    try:
        t0 = time.monotonic()
        keys = Keys(tmp)
        print(f"keys made ({time.monotonic() - t0:.2f}s)", flush=True)
        for name, fn in tests:
            t0 = time.monotonic()
            try:
                fn(keys)
                ok = True
            except Exception:
                traceback.print_exc()
                ok = False
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name} ({time.monotonic() - t0:.2f}s)", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(tests) - failed} passed, {failed} failed")
    sys.exit(1 if failed or not tests else 0)


if __name__ == "__main__":
    main()
