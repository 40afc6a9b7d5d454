"""stdin for fleets, and across a cut connection (docs/fleet.md "stdin",
docs/sessions.md "stdin"). Three to five real daemons on loopback are the
fleet."""
import hashlib
import os
import signal
import subprocess

import harness as H
import servers as S
from harness import PASSWORD, main

N = 3


def fleet(env, n=N):
    """n daemons web01..web0n in the inventory's [web], a client logged in to all."""
    ds = [env.daemon(f"web{i + 1:02d}") for i in range(n)]
    for d in ds:
        d.add_user("alice")
    c = env.client()
    inv = os.path.join(env.root, "inventory")
    with open(inv, "w") as f:
        f.write("[web]\n")
        for i, d in enumerate(ds):
            f.write(f"web{i + 1:02d} ansible_host=127.0.0.1 ansible_port={d.port}\n")
    os.environ["TETHER_INVENTORY"] = inv
    r = c.run("login", "@web", "--user", "alice", "--password-stdin", "--accept-new",
              input=PASSWORD + "\n", timeout=120)
    assert r.returncode == 0, r.stderr
    return ds, c


def invoke(c, args, data, timeout=120):
    """tether invoke ARGS with data (bytes) on a pipe as stdin."""
    return subprocess.run([H.TETHER, "invoke"] + list(args), input=data, capture_output=True,
                          env=c.env(), timeout=timeout)


def sums(out):
    """{host: first word} of "HOST: SUM  -" lines."""
    got = {}
    for line in out.decode().splitlines():
        host, _, rest = line.partition(": ")
        got[host] = rest.split()[0] if rest else ""
    return got


def test_same_stdin_to_every_host(env):
    """The same bytes reach every host's command, whole; -n sends none; a
    host that stops reading for a while paces the others and loses nothing;
    a fleet session (-s TARGETS/NAME) takes stdin too."""
    ds, c = fleet(env)
    r = invoke(c, ["-H", "@web", "--", "wc -l"], b"a\nb\n")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.decode().splitlines()) == [f"web{i + 1:02d}: 2" for i in range(N)], \
        r.stdout
    data = os.urandom(5 << 20)
    want = hashlib.sha256(data).hexdigest()
    r = invoke(c, ["-H", "@web", "--", "sha256sum"], data)
    assert r.returncode == 0, r.stderr
    assert sums(r.stdout) == {f"web{i + 1:02d}": want for i in range(N)}, r.stdout
    # -n: /dev/null, and the pipe is not read
    r = invoke(c, ["-n", "-H", "@web", "--", "cat; echo end"], b"not sent\n")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.decode().splitlines()) == [f"web{i + 1:02d}: end" for i in range(N)]
    # a fleet session in which web01 does not read for 5 s: all three get it all
    r = c.run("session", "new", "@web", "--name", "slow")
    assert r.returncode == 0, r.stderr
    r = c.run("invoke", "-s", f"{ds[0].host}/slow", "--", "SLOW=1")
    assert r.returncode == 0, r.stderr
    r = invoke(c, ["-s", "@web/slow", "--", '[ -n "$SLOW" ] && sleep 5; cat | sha256sum'],
               data)
    assert r.returncode == 0, r.stderr
    assert sums(r.stdout) == {f"web{i + 1:02d}": want for i in range(N)}, r.stdout
    # more hosts than --throttle: the hosts begun later get stdin from its
    # beginning too (kept in a spool file), each all of it once
    for throttle in ("1", "2"):
        r = invoke(c, ["--throttle", throttle, "-H", "@web", "--", "sha256sum"], data)
        assert r.returncode == 0, r.stderr
        assert sums(r.stdout) == {f"web{i + 1:02d}": want for i in range(N)}, r.stdout
    # ... and the spool is not left behind in TMPDIR
    tmp = os.path.join(env.root, "spooltmp")
    os.mkdir(tmp)
    r = subprocess.run([H.TETHER, "invoke", "--throttle", "1", "-H", "@web", "--", "wc -c"],
                       input=b"abc", capture_output=True, env=dict(c.env(), TMPDIR=tmp),
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.decode().split()) == sorted(
        [f"web{i + 1:02d}:" for i in range(N)] + ["3"] * N), r.stdout
    assert os.listdir(tmp) == [], os.listdir(tmp)
    # a TMPDIR where no file can be made: a clear error, no host run
    r = subprocess.run([H.TETHER, "invoke", "--throttle", "1", "-H", "@web", "--", "wc -c"],
                       input=b"abc", capture_output=True,
                       env=dict(c.env(), TMPDIR=os.path.join(tmp, "missing")), timeout=120)
    assert r.returncode != 0 and b"temporary file" in r.stderr, (r.returncode, r.stderr)
    assert r.stdout == b"", r.stdout
    for d in ds:
        assert d.healthy()


def test_dead_and_hanging_hosts_do_not_block_stdin(env):
    """Of five hosts, one is down (refused) and one hangs (stopped: the
    kernel accepts, nothing answers): both drop out, reported (exit 1), and
    the three live hosts get all of stdin."""
    ds, c = fleet(env, 5)
    ds[3].kill()
    os.kill(ds[4].proc.pid, signal.SIGSTOP)
    try:
        data = os.urandom(1 << 20)
        want = hashlib.sha256(data).hexdigest()
        r = invoke(c, ["-H", "@web", "--connect-timeout", "3", "--", "sha256sum"], data,
                   timeout=60)
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert sums(r.stdout) == {f"web{i + 1:02d}": want for i in range(3)}, \
            (r.stdout, r.stderr)
        err = r.stderr.decode()
        assert "2 of 5 hosts failed" in err and "web04:" in err and "web05:" in err, err
    finally:
        os.kill(ds[4].proc.pid, signal.SIGCONT)


def test_stdin_survives_cut_connections(env):
    """Every connection through the proxy is cut after 300 KB client ->
    server: stdin posts cut with it are posted again at their offset and
    the command gets each byte once (one host, and a fleet of one through
    the proxy beside a direct host)."""
    ds, c = fleet(env)
    data = os.urandom(2 << 20)
    want = hashlib.sha256(data).hexdigest()
    with S.FaultProxy(ds[0].port) as px:
        r = c.run("login", f"alice@127.0.0.1:{px.port}", "--password-stdin", "--accept-new",
                  input=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        r = c.run("session", "new", f"127.0.0.1:{px.port}", "--name", "cut")
        assert r.returncode == 0, r.stderr
        px.cut_up_after = 300 * 1000
        px.reset_counters()
        r = invoke(c, ["-s", f"127.0.0.1:{px.port}/cut", "--", "sha256sum"], data)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().split()[0] == want, (r.stdout, r.stderr)
        assert px.cuts >= 3, px.cuts
        px.reset_counters()
        r = invoke(c, ["-H", f"127.0.0.1:{px.port},{ds[1].host}", "--", "sha256sum"], data)
        assert r.returncode == 0, r.stderr
        got = sums(r.stdout)
        assert set(got.values()) == {want} and len(got) == 2, (r.stdout, r.stderr)
        assert px.cuts >= 3, px.cuts


if __name__ == "__main__":
    main(globals())
