"""Verified servers: a tetherd whose certificate an organisation's CA signed
(through an intermediate), and clients that verify it with --cacert or
TETHER_CACERT instead of pinning its key (docs/security.md, "Verified
servers").

Each test makes a throwaway CA with openssl: a root, an intermediate it
signs, and server certificates the intermediate signs; the daemon is given
the server certificate followed by the intermediate (--cert) and its key.
"""
import base64
import hashlib
import os
import re
import subprocess

from harness import PASSWORD, TETHER, TETHERD, main
from test_pinning import known_hosts, login_requests, tokens

OPENSSL_TIMEOUT = 60


def openssl(*args, input=None):
    r = subprocess.run(["openssl"] + list(args), input=input, capture_output=True,
                       timeout=OPENSSL_TIMEOUT)
    assert r.returncode == 0, (args, r.stderr.decode(errors="replace"))
    return r.stdout


def new_key(path):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", path)
    return path


def sign(directory, name, subject, issuer, exts):
    """A key and a certificate for subject with the extensions exts (lines of
    an openssl extension file), signed by issuer ((cert, key), or None:
    self-signed). Returns (cert path, key path)."""
    base = os.path.join(directory, name)
    key = new_key(base + ".key")
    with open(base + ".ext", "w") as f:
        f.write("\n".join(exts) + "\n")
    if issuer is None:
        openssl("req", "-x509", "-new", "-key", key, "-subj", subject, "-days", "2",
                "-extensions", "v3", "-config", config_file(directory, exts),
                "-out", base + ".pem")
    else:
        openssl("req", "-new", "-key", key, "-subj", subject, "-out", base + ".csr")
        openssl("x509", "-req", "-in", base + ".csr", "-CA", issuer[0], "-CAkey",
                issuer[1], "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
                "-days", "2", "-extfile", base + ".ext", "-out", base + ".pem")
    return base + ".pem", key


def config_file(directory, exts):
    """A minimal openssl req config whose [v3] section is exts."""
    path = os.path.join(directory, "req.cnf")
    with open(path, "w") as f:
        f.write("[req]\ndistinguished_name = dn\n[dn]\n[v3]\n" + "\n".join(exts) + "\n")
    return path


CA_EXTS = ["basicConstraints = critical, CA:TRUE", "keyUsage = critical, keyCertSign, cRLSign",
           "subjectKeyIdentifier = hash"]
INTER_EXTS = ["basicConstraints = critical, CA:TRUE, pathlen:0",
              "keyUsage = critical, keyCertSign, cRLSign", "subjectKeyIdentifier = hash",
              "authorityKeyIdentifier = keyid"]


def server_exts(san):
    return ["basicConstraints = critical, CA:FALSE", "keyUsage = critical, digitalSignature",
            "extendedKeyUsage = serverAuth", "subjectAltName = " + san]


class CA:
    """A root and an intermediate; server() issues a daemon's certificate."""

    def __init__(self, root, name):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.root = sign(self.dir, "root", f"/CN={name} root", None, CA_EXTS)
        self.inter = sign(self.dir, "inter", f"/CN={name} intermediate", self.root,
                          INTER_EXTS)

    @property
    def pem(self):
        return self.root[0]

    def server(self, name, san):
        """(chain file: server certificate then intermediate, key file)."""
        cert, key = sign(self.dir, name, f"/CN={name}", self.inter, server_exts(san))
        chain = os.path.join(self.dir, name + "-chain.pem")
        with open(chain, "w") as out:
            for p in (cert, self.inter[0]):
                with open(p) as f:
                    out.write(f.read())
        return chain, key, cert


def spki_fingerprint(cert):
    """tetherd's fingerprint of a certificate file: SHA256 of its public key."""
    der = openssl("x509", "-in", cert, "-noout", "-pubkey")
    der = openssl("pkey", "-pubin", "-outform", "DER", input=der)
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def tether(c, *args, input=None, extra_env=None):
    """Run tether without a terminal, with extra environment variables."""
    env = c.env()
    env.pop("TETHER_CACERT", None)
    env.update(extra_env or {})
    return subprocess.run([os.path.abspath(TETHER)] + list(args), input=input,
                          capture_output=True, text=True, env=env, timeout=60,
                          start_new_session=True,
                          stdin=None if input is not None else subprocess.DEVNULL)


def login(c, d, *extra, extra_env=None):
    return tether(c, "login", f"alice@{d.host}", "--password-stdin", *extra,
                  input=PASSWORD + "\n", extra_env=extra_env)


def ca_daemon(env, ca, name="d", san="IP:127.0.0.1, DNS:localhost"):
    chain, key, cert = ca.server(name, san)
    d = env.daemon(name, config={"cert": chain, "key": key})
    d.add_user("alice")
    d.leaf = cert
    return d


def served_chain(d):
    """The subjects of the certificates the daemon sends, in order."""
    r = subprocess.run(["openssl", "s_client", "-connect", d.host, "-showcerts"],
                       input=b"", capture_output=True, timeout=OPENSSL_TIMEOUT)
    return re.findall(r"^ *\d+ s:\s*(.*)$", r.stdout.decode(errors="replace"), re.M)


def assert_refused_cleanly(r, c, d, before):
    assert r.returncode == 255, (r.returncode, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert known_hosts(c) == {} and tokens(c) == {}, (known_hosts(c), tokens(c))
    assert len(login_requests(d.log())) == before, "a password was sent"


# -- the daemon ---------------------------------------------------------------

def test_daemon_serves_the_chain_and_fingerprints_the_leaf(env):
    ca = CA(env.root, "org")
    d = ca_daemon(env, ca)
    fp = spki_fingerprint(d.leaf)
    assert d.fingerprint() == fp
    assert re.search(r"event=key_loaded fingerprint=\"%s\" certs=2\b" % re.escape(fp),
                     d.log()), d.log()
    assert served_chain(d) == ["CN = d", "CN = org intermediate"], served_chain(d)


def test_key_that_does_not_match_is_refused_at_start(env):
    ca = CA(env.root, "org")
    chain, key, cert = ca.server("d", "IP:127.0.0.1")
    other = new_key(os.path.join(env.root, "other.key"))
    reversed_chain = os.path.join(env.root, "reversed.pem")
    with open(reversed_chain, "w") as out:
        for p in (ca.inter[0], cert):
            with open(p) as f:
                out.write(f.read())
    state = os.path.join(env.root, "state")
    for c, k in ((chain, other), (reversed_chain, key), (chain, ca.inter[1])):
        r = subprocess.run([TETHERD, "--state-dir", state, "--cert", c, "--key", k,
                            "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode != 0, (c, k, r.stderr)
        assert f"the key in {k} does not match the certificate in {c}" in r.stderr, r.stderr
        assert "event=listening" not in r.stderr, r.stderr


# -- the client -----------------------------------------------------------------

def test_cacert_with_the_root_only(env):
    """Only the root is given: the login verifies, so the daemon served the
    intermediate; the session commands then use the recorded CA."""
    ca = CA(env.root, "org")
    d = ca_daemon(env, ca)
    c = env.client()
    r = login(c, d, "--cacert", ca.pem, "--json")
    assert r.returncode == 0, r.stderr
    assert known_hosts(c) == {d.host: "cacert:" + os.path.realpath(ca.pem)}
    assert tokens(c)[d.host]["alice"]
    r = tether(c, "session", "new", d.host, "--name", "web", "--json")
    assert r.returncode == 0, r.stderr
    r = tether(c, "session", "list", d.host)
    assert r.returncode == 0 and "web" in r.stdout, r.stderr
    # the same CA verifies the daemon by name as well as by address
    c2 = env.client("c2")
    r = tether(c2, "login", f"alice@localhost:{d.port}", "--password-stdin", "--cacert",
               ca.pem, input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr


def test_tether_cacert_environment(env):
    ca = CA(env.root, "org")
    d = ca_daemon(env, ca)
    c = env.client()
    r = login(c, d, extra_env={"TETHER_CACERT": ca.pem})
    assert r.returncode == 0, r.stderr
    assert known_hosts(c) == {d.host: "cacert:" + os.path.realpath(ca.pem)}
    r = tether(c, "session", "list", d.host)
    assert r.returncode == 0, r.stderr
    # flags beat it: --accept-new pins the key although TETHER_CACERT is set
    other = CA(env.root, "other")
    c2 = env.client("c2")
    r = login(c2, d, "--accept-new", extra_env={"TETHER_CACERT": other.pem})
    assert r.returncode == 0, r.stderr
    assert known_hosts(c2) == {d.host: d.fingerprint()}
    # and a pin already made still holds: a wrong TETHER_CACERT is not used
    r = login(c2, d, extra_env={"TETHER_CACERT": other.pem})
    assert r.returncode == 0, r.stderr
    assert known_hosts(c2) == {d.host: d.fingerprint()}
    # --cacert given explicitly does replace the pin
    r = login(c2, d, "--cacert", ca.pem)
    assert r.returncode == 0, r.stderr
    assert known_hosts(c2) == {d.host: "cacert:" + os.path.realpath(ca.pem)}
    # a TETHER_CACERT that is not there is a usage error, before any contact
    c3 = env.client("c3")
    r = login(c3, d, extra_env={"TETHER_CACERT": os.path.join(env.root, "missing.pem")})
    assert r.returncode == 2 and "TETHER_CACERT" in r.stderr, (r.returncode, r.stderr)
    assert known_hosts(c3) == {} and tokens(c3) == {}


def test_other_ca_is_refused(env):
    ca = CA(env.root, "org")
    d = ca_daemon(env, ca)
    other = CA(env.root, "other")
    for i, how in enumerate((("--cacert", other.pem), ())):
        c = env.client(f"c{i}")
        before = len(login_requests(d.log()))
        r = login(c, d, *how, extra_env={"TETHER_CACERT": other.pem})
        assert_refused_cleanly(r, c, d, before)
        assert f"certificate is not signed by {os.path.realpath(other.pem)}" in r.stderr, \
            r.stderr
    # the intermediate that signed the daemon's certificate is a CA too
    # (libcurl accepts a chain that ends at any certificate in the file)
    c = env.client("inter")
    r = login(c, d, "--cacert", ca.inter[0])
    assert r.returncode == 0, r.stderr


def test_certificate_for_another_name_is_refused(env):
    ca = CA(env.root, "org")
    d = ca_daemon(env, ca, san="IP:127.0.0.2, DNS:other")
    c = env.client()
    r = login(c, d, "--cacert", ca.pem)
    assert_refused_cleanly(r, c, d, 0)
    assert "certificate is not for the name '127.0.0.1'" in r.stderr, r.stderr
    r = tether(c, "login", f"alice@localhost:{d.port}", "--password-stdin", "--cacert",
               ca.pem, input=PASSWORD + "\n")
    assert_refused_cleanly(r, c, d, 0)
    assert "certificate is not for the name 'localhost'" in r.stderr, r.stderr


if __name__ == "__main__":
    main(globals())
