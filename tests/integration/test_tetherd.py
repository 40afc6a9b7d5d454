"""tetherd's host conventions: getopt_long options, `tetherd -t`, conf.d
drop-ins (also on SIGHUP), systemd's readiness protocol (Type=notify) and
journald-style log lines when stderr is the journal (JOURNAL_STREAM).

The notify tests listen on a unix datagram socket of their own, as systemd
would, and check what arrives and when: READY=1 only once the daemon
answers, RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM.
"""
import os
import signal
import socket
import subprocess
import time

from harness import TETHERD, main, wait_for


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def test_options_and_usage(env):
    d = env.daemon(start=False)
    r = subprocess.run([TETHERD, f"--state-dir={d.state}", "--listen=127.0.0.1:0", "-t"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "test is successful" in r.stdout, r
    r = subprocess.run([TETHERD, "--no-such-option"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2 and "unknown option '--no-such-option'" in r.stderr, r
    assert "usage: tetherd" in r.stderr and r.stdout == ""
    r = subprocess.run([TETHERD, "--state-dir"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--state-dir needs a value" in r.stderr, r
    # subcommands keep their words and options, wherever the globals are
    r = subprocess.run([TETHERD, "user", "add", "bob", "--password-stdin", "--admin",
                        f"--state-dir={d.state}"], input="a long password\n",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([TETHERD, "user", "list", "--json", "--state-dir", d.state],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and '"admin": true' in r.stdout, r


def test_test_config_checks_files_without_side_effects(env):
    d = env.daemon(start=False)
    conf = os.path.join(d.dir, "etc", "tetherd.conf")
    state = os.path.join(d.dir, "never-made")
    write(conf, "token_ttl = 3600\n")
    write(os.path.join(d.dir, "etc", "conf.d", "10-a.conf"), "max_sessions_per_user = 5\n")
    r = subprocess.run([TETHERD, "-t", "-c", conf, "--state-dir", state],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    assert r.stdout == f"tetherd: configuration file {conf} test is successful\n", r.stdout
    assert not os.path.exists(state), "tetherd -t made the state dir"
    bad = os.path.join(d.dir, "etc", "conf.d", "20-b.conf")
    write(bad, "# a comment\n\nno_such_key = 1\n")
    r = subprocess.run([TETHERD, "--test-config", "--config", conf, "--state-dir", state],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert f"{bad}: line 3: unknown setting 'no_such_key'" in r.stderr, r.stderr
    assert f"configuration file {conf} test failed" in r.stderr, r.stderr
    os.unlink(bad)
    # a certificate given that does not exist is an error
    r = subprocess.run([TETHERD, "-t", "-c", conf, "--state-dir", state,
                        "--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "test failed" in r.stderr, r
    assert not os.path.exists(state)


def idle(c, host, name):
    """Create a session and return its idle timeout."""
    return c.json("session", "new", host, "--name", name)["idle_timeout"]


def test_conf_d_order_and_reload(env):
    d = env.daemon(config={"idle_timeout": "100"}, start=False)
    confd = os.path.join(d.dir, "conf.d")
    write(os.path.join(confd, "10-a.conf"), "idle_timeout = 200\n")
    write(os.path.join(confd, "20-b.conf"), "idle_timeout = 300\n")
    write(os.path.join(confd, "30-c.conf.disabled"), "idle_timeout = 999\n")
    write(os.path.join(confd, ".40-hidden.conf"), "idle_timeout = 999\n")
    d.start(port=0)
    d.add_user("bob")
    c = env.client()
    c.login(d, "bob")
    assert idle(c, d.host, "s1") == 300      # the last drop-in wins
    write(os.path.join(confd, "20-b.conf"), "idle_timeout = 400\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.log_since_start().count("event=reloaded") == 1, what="reload")
    assert idle(c, d.host, "s2") == 400
    write(os.path.join(confd, "25-bad.conf"), "idle_timeout = many\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "event=reload_failed" in d.log_since_start(), what="failed reload")
    assert idle(c, d.host, "s3") == 400      # still the last good settings


def notify_socket(env):
    """A unix datagram socket where systemd's would be."""
    path = os.path.join(env.root, "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(30)
    return s, path


def test_notify_ready_reload_stopping(env):
    s, path = notify_socket(env)
    d = env.daemon(start=False)
    os.environ["NOTIFY_SOCKET"] = path
    try:
        d.start(port=0)
    finally:
        del os.environ["NOTIFY_SOCKET"]
    msg = s.recv(4096).decode()
    assert msg == "READY=1", msg
    assert d.healthy()                       # it did accept connections
    # the socket is the daemon's alone: jobs do not inherit it
    d.add_user("bob")
    c = env.client()
    c.login(d, "bob")
    c.run("session", "new", d.host, "--name", "w")
    r = c.run("invoke", "-s", f"{d.host}/w", "--", "env")
    assert r.returncode == 0 and "PATH=" in r.stdout, r
    assert "NOTIFY_SOCKET" not in r.stdout
    d.proc.send_signal(signal.SIGHUP)
    msg = s.recv(4096).decode()
    assert msg.startswith("RELOADING=1\nMONOTONIC_USEC="), msg
    assert s.recv(4096).decode() == "READY=1"
    assert d.stop() == 0
    assert s.recv(4096).decode() == "STOPPING=1"
    s.close()


def test_journal_stream_lines(env):
    d = env.daemon(start=False)
    open(d.logpath, "ab").close()
    st = os.stat(d.logpath)
    os.environ["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    try:
        d.start(port=0)
    finally:
        del os.environ["JOURNAL_STREAM"]
    lines = d.log().splitlines()
    started = [ln for ln in lines if "event=started" in ln]
    assert started and started[0].startswith("<6>level=info event=started "), lines
    assert not any(ln.startswith("ts=") for ln in lines), lines
    assert all(ln[:3] in ("<7>", "<6>", "<4>", "<3>") for ln in lines), lines
    # a stream that is not stderr's keeps the usual timestamps
    d.stop()
    os.environ["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino + 1}"
    try:
        d.start()
    finally:
        del os.environ["JOURNAL_STREAM"]
    assert d.log_since_start().startswith("ts="), d.log_since_start()[:200]


if __name__ == "__main__":
    main(globals())
