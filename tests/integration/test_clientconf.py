"""The client's configuration file ($TETHER_HOME/config, ssh_config-like):
Host aliases with HostName, Port and User, IdentityFile and CACert used by
login, fleet defaults, errors that name the file and line, and the XDG base
directories when TETHER_HOME is unset."""
import json
import os
import subprocess

from harness import PASSWORD, TETHER, main


def write_config(c, text):
    with open(os.path.join(c.home, "config"), "w") as f:
        f.write(text)


def test_alias_hostname_port_user(env):
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    write_config(c, f"# the build box\nHost box\n  HostName 127.0.0.1\n  Port {d.port}\n"
                 "  User alice\n\nHost *\n  Port 1\n")
    r = c.run("login", "box", "--password-stdin", "--accept-new", "--json",
              input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["user"] == "alice" and doc["host"] == d.host, doc   # the real address
    r = c.run("session", "new", "box", "--name", "s1")
    assert r.returncode == 0, r.stderr
    r = c.run("invoke", "-s", "box/s1", "--", "echo via-alias")
    assert r.returncode == 0 and r.stdout == "via-alias\n", (r.stdout, r.stderr)
    # the alias and the address are one host: one token, one pin
    names = [s["name"] for s in c.json("session", "list", d.host)]
    assert names == ["s1"], names
    # an explicit port beats the config's; "Host *" gives port 1 to others
    r = c.run("session", "list", "box:1")
    assert r.returncode != 0, r.stdout
    r = c.run("session", "list", "elsewhere")
    assert r.returncode == 255 and "elsewhere:1" in r.stderr, r.stderr


def test_identity_file_and_cacert_from_config(env):
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    key = os.path.join(env.root, "id_box")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True,
                   timeout=60)
    r = d.admin("user", "key", "add", "alice", key + ".pub")
    assert r.returncode == 0, r.stderr
    write_config(c, f"Host box\n  HostName 127.0.0.1\n  Port {d.port}\n  User alice\n"
                 f"  IdentityFile {key}\n"
                 f"Host nocert\n  HostName 127.0.0.1\n  Port {d.port}\n"
                 f"  CACert {env.root}/missing-ca.pem\n")
    r = c.run("login", "box", "--accept-new", "--json")   # no password, no -i
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["method"] == "publickey", r.stdout
    # CACert decides for a host not yet known (here: missing, so refused)
    c2 = env.client("c2")
    write_config(c2, open(os.path.join(c.home, "config")).read())
    r = c2.run("login", "nocert", "--user", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 2 and "CACert in the config file" in r.stderr, r.stderr


def test_fleet_defaults_and_errors(env):
    ds = [env.daemon(f"d{i}") for i in range(2)]
    c = env.client()
    for d in ds:
        d.add_user("alice")
        c.login(d, "alice")
    spec = ",".join(d.host for d in ds)
    write_config(c, "Host *\n  Throttle 1\n  Timeout 1\n")
    r = c.run("invoke", "-H", spec, "--", "sleep 5")   # Timeout 1 applies to each host
    assert r.returncode == 1 and r.stderr.count("timed out") >= 2, r.stderr
    r = c.run("invoke", "-H", spec, "--timeout", "20", "--", "echo ok")   # flags win
    assert r.returncode == 0 and r.stdout.count(": ok") == 2, (r.stdout, r.stderr)
    for bad, words in (("Host *\n  Throttle 0\n", "line 2: Throttle"),
                       ("Port 7443\nNoSuchKeyword yes\n", "line 2: unknown keyword"),
                       ("Host x\n  Port\n", "line 2: expected")):
        write_config(c, bad)
        r = c.run("session", "list", ds[0].host)
        assert r.returncode == 2, (bad, r.returncode, r.stderr)
        assert os.path.join(c.home, "config") + ": " + words in r.stderr, r.stderr


def test_xdg_directories_without_tether_home(env):
    d = env.daemon()
    d.add_user("alice")
    home = os.path.join(env.root, "userhome")
    os.makedirs(home)
    e = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, "xc"),
             XDG_STATE_HOME=os.path.join(home, "xs"))
    e.pop("TETHER_HOME", None)
    e.pop("SSH_AUTH_SOCK", None)
    r = subprocess.run([TETHER, "login", f"alice@{d.host}", "--password-stdin",
                        "--accept-new"], input=PASSWORD + "\n", capture_output=True,
                       text=True, env=e, timeout=60)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(home, "xc", "tether", "known_hosts"))
    assert os.path.exists(os.path.join(home, "xs", "tether", "credentials.json"))
    assert not os.path.exists(os.path.join(home, ".config", "tether"))
    # relative XDG paths are ignored, as the specification says
    e["XDG_CONFIG_HOME"] = "relative"
    r = subprocess.run([TETHER, "session", "list", d.host], capture_output=True, text=True,
                       env=e, timeout=60)
    assert os.path.exists(os.path.join(home, ".config", "tether", "client_id")), r.stderr


def test_verbose_shows_the_connection_not_the_secrets(env):
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    r = c.run("login", f"alice@{d.host}", "--password-stdin", "--accept-new", "-v",
              input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert PASSWORD not in r.stderr and PASSWORD not in r.stdout
    fp = d.fingerprint()
    assert f"tether: * server key {fp}" in r.stderr, r.stderr
    assert "POST https://" in r.stderr and "/v1/login: HTTP 200 in" in r.stderr, r.stderr
    assert "TLSv1.3" in r.stderr or "TLSv1.2" in r.stderr, r.stderr
    token = c.token(d, "alice")
    r = c.run("session", "list", d.host, "--json", "-v")
    assert r.returncode == 0 and json.loads(r.stdout) == [], (r.stdout, r.stderr)
    assert "tether: > Authorization:" in r.stderr and "the token is not shown" in r.stderr
    assert token not in r.stderr, "the token leaked into -v"
    # --json: the whole list in one reply (a table comes a page at a time)
    assert "/v1/sessions?all_users=0: HTTP 200 in" in r.stderr, r.stderr
    r = c.run("session", "list", d.host)   # without -v: nothing of the sort
    assert "tether: *" not in r.stderr, r.stderr


if __name__ == "__main__":
    main(globals())
