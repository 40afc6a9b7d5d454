"""The execution core: invoke in persistent sessions, supervised commands with
durable output, disconnect/connect/receive, and nothing lost when a client or
the daemon dies."""
import hashlib
import json
import os
import signal
import subprocess
import time

import harness as H
from harness import Declared, expect_error, main, wait_for
from servers import alive, running, unique_sleep


# a file no refused request may make (unique to this run)
NEVER = f"/tmp/tether-never-{os.getpid()}"


def setup(env, config=None, users=("alice",)):
    d = env.daemon(config=config)
    c = env.client()
    for u in users:
        d.add_user(u)
    c.login(d, users[0])
    s = c.json("session", "new", d.host, "--name", "w")
    return d, c, f"{d.host}/w"


def inv(c, sess, cmd, input=None):
    return c.run("invoke", "-s", sess, "--", cmd, input=input)


def test_state_persists_across_invokes_restart_and_clients(env):
    d, c, s = setup(env)
    r = inv(c, s, "cd /tmp && mkdir -p tt-$$ && cd tt-$$ && X='quote \" and '\\'' both'; "
                  "export EXP=$'line1\\nline2'; U='ünïcødé ✓'; f() { echo \"fn:$1\"; }; "
                  "alias hi='echo hi-alias'; declare -a ARR=(1 'two words' 3)")
    assert r.returncode == 0, r.stderr
    where = inv(c, s, "pwd").stdout.strip()
    assert where.startswith("/tmp/tt-")
    r = inv(c, s, 'echo "$X"; printf "%s|" "$EXP"; echo; echo "$U"; f arg; hi; '
                  'echo "${ARR[1]}"; env | grep -c ^EXP=')
    assert r.stdout.splitlines() == ['quote " and \' both', "line1", "line2|", "ünïcødé ✓",
                                     "fn:arg", "hi-alias", "two words", "1"], r.stdout
    # exit inside the command still saves state
    r = inv(c, s, "Y=after-exit; exit 4")
    assert r.returncode == 4
    d.restart()
    c2 = env.client("other")
    c2.login(d, "alice")
    # tether's own helpers are not part of the saved state
    state = open(os.path.join(d.state, "spool", "sessions", "1", "state.sh")).read()
    assert "__tether" not in state and "f ()" in state
    r = c2.run("session", "connect", s, "--force")
    assert r.returncode == 0, r.stderr
    r = inv(c2, s, 'pwd; echo "$Y"; f again')
    assert r.stdout.splitlines() == [where, "after-exit", "fn:again"], (r.stdout, r.stderr)
    # a shell killed before it could save keeps the session's last state,
    # and no half-saved file is left behind
    r = inv(c2, s, "Y=lost; kill -9 $$")
    assert r.returncode == 137, r
    assert inv(c2, s, 'echo "$Y"').stdout == "after-exit\n"
    # ...nor one killed with its state half written: a state is taken only
    # when its last line says the save finished
    r = inv(c2, s, 'Y=half; printf "Y=half\\n" > "$__tether_state_out"; kill -9 $$')
    assert r.returncode == 137, r
    assert inv(c2, s, 'echo "$Y"').stdout == "after-exit\n"
    r = inv(c2, s, 'printf "Y=whole\\n# tether: end of saved state\\n" > "$__tether_state_out"; '
                   'kill -9 $$')
    assert inv(c2, s, 'echo "$Y"').stdout == "whole\n"
    assert open(os.path.join(d.state, "spool", "sessions", "1", "state.sh")).read() \
        .endswith("\n# tether: end of saved state\n")
    sdir = os.path.join(d.state, "spool", "sessions", "1")
    assert sorted(os.listdir(sdir)) == ["state.sh"], os.listdir(sdir)


def test_a_command_that_changes_nothing_saves_nothing(env):
    """A simple command running a program (or true, echo, pwd ...) cannot
    change the session's state and leaves it as it was, without a save;
    anything that could change it saves as before, including a program's
    name that an alias or a function of the session shadows."""
    d, c, s = setup(env)
    r = inv(c, s, "cd /tmp; X=1; ls() { LSRAN=yes; }; alias hi='HI=yes'; alias uname='UN=yes; command uname'")
    assert r.returncode == 0, r.stderr
    state = os.path.join(d.state, "spool", "sessions", "1", "state.sh")

    def ino():
        return os.stat(state).st_ino
    before = ino()
    for cmd in ["true", "df -h /", "/bin/true", "echo hello", "pwd",
                "dd if=/dev/null of=/dev/null status=none", "sh -c exit"]:
        r = inv(c, s, cmd)
        assert r.returncode == 0, (cmd, r.stderr)
        assert ino() == before, cmd
    assert inv(c, s, "pwd").stdout == "/tmp\n"
    # each of these changes the state, though it looks like a plain command
    for cmd, check, want in [("ls", "echo $LSRAN", "yes"), ("hi", "echo $HI", "yes"),
                             ("uname -r", "echo $UN", "yes"),
                             ("time cd /", "pwd", "/"), ("export X=2", "echo $X", "2")]:
        r = inv(c, s, cmd)
        assert r.returncode == 0, (cmd, r.stderr)
        assert ino() != before, cmd
        before = ino()
        assert inv(c, s, check).stdout == want + "\n", (cmd, check)
        before = ino()


def test_exit_codes_and_streams(env):
    d, c, s = setup(env)
    assert inv(c, s, "true").returncode == 0
    assert inv(c, s, "exit 42").returncode == 42
    assert inv(c, s, "kill -TERM $$").returncode == 128 + 15
    assert inv(c, s, "kill -KILL $$").returncode == 128 + 9
    r = inv(c, s, "echo out1; echo err1 >&2; echo out2")
    assert r.stdout == "out1\nout2\n" and r.stderr == "err1\n"
    # output that starts while the client already waits for it (the log is
    # made by the first output)
    r = inv(c, s, "sleep 0.5; echo late >&2; echo later")
    assert r.stdout == "later\n" and r.stderr == "late\n", r
    # interleaving survives: --json keeps streams apart, the job log keeps order
    r = c.run("invoke", "-s", s, "--json", "--",
              "for i in 1 2 3; do echo o$i; echo e$i >&2; sleep 0.01; done")
    r = json.loads(r.stdout)
    assert r["stdout"] == "o1\no2\no3\n" and r["stderr"] == "e1\ne2\ne3\n"
    assert r["exit_code"] == 0 and r["job"]["state"] == "Completed"
    assert r["job"]["has_more_data"] is False
    # a failed command is Failed with its exit code
    r = c.run("invoke", "-s", s, "--json", "--", "exit 3")
    doc = json.loads(r.stdout)
    assert r.returncode == 3 and doc["job"]["state"] == "Failed" and doc["job"]["exit_code"] == 3


def test_command_is_bashs_own_script(env):
    """bash's messages read as ssh's would, ps shows the command, and the
    prelude leaves nothing behind (no fd 3, no BASH_ENV)."""
    d, c, s = setup(env)
    r = inv(c, s, "no_such_command_xyz")
    assert r.returncode == 127, r
    assert r.stderr == "bash: line 1: no_such_command_xyz: command not found\n", r.stderr
    r = inv(c, s, "true\n(")
    assert r.returncode == 2 and r.stderr.startswith("bash: -c: line "), r.stderr
    assert "tether" not in r.stderr, r.stderr
    r = inv(c, s, 'ps -o args= -p $$; [ -e /dev/fd/3 ] && echo fd3; echo "[$BASH_ENV]"; '
                  'bash -c \'echo "[$BASH_ENV]"\'')
    lines = r.stdout.splitlines()
    assert lines[0].startswith("/bin/bash --noprofile --norc -c ps -o args= -p $$;"), lines
    assert lines[1:] == ["[]", "[]"], lines


def test_binary_output_is_byte_exact(env):
    d, c, s = setup(env)
    r = subprocess.run(["head", "-c", "3000000", "/dev/urandom"], capture_output=True)
    blob = r.stdout
    path = os.path.join(env.root, "blob.bin")
    with open(path, "wb") as f:
        f.write(blob)
    os.chmod(env.root, 0o711)
    os.chmod(path, 0o644)
    p = subprocess.run([os.environ.get("TETHER", "tether"),
                       "invoke", "-s", s, "--", f"cat {path}"],
                       capture_output=True, env=c.env(), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert p.stdout == blob


def test_busy_and_contention(env):
    d, c, s = setup(env)
    p = c.popen("invoke", "-s", s, "--", "echo started; sleep 2")
    assert p.stdout.readline() == b"started\n"
    r = inv(c, s, "true")
    assert r.returncode == 255 and "busy" in r.stderr, r.stderr
    lst = c.json("session", "list", d.host)
    assert lst[0]["availability"] == "Busy"
    assert p.wait(timeout=30) == 0
    # another client of the same user is refused until it forces
    b = env.client("b")
    b.login(d, "alice")
    r = inv(b, s, "true")
    assert r.returncode == 255 and "in use by another client" in r.stderr, r.stderr
    r = b.run("session", "connect", s)
    assert r.returncode == 255 and "in use" in r.stderr
    assert b.run("session", "connect", s, "--force").returncode == 0
    assert inv(b, s, "true").returncode == 0
    r = inv(c, s, "true")
    assert r.returncode == 255 and "in use by another client" in r.stderr
    # disconnected: nobody may invoke without connecting first
    assert b.run("session", "disconnect", s).returncode == 0
    r = inv(b, s, "true")
    assert r.returncode == 255 and "disconnected" in r.stderr
    st = c.json("session", "list", d.host)[0]
    assert st["state"] == "Disconnected" and st["availability"] == "None"


def full_lines(n):
    return "".join(f"line{i}\n" for i in range(1, n + 1))


def test_client_killed_mid_invoke_loses_nothing(env):
    d, a, s = setup(env)
    p = a.popen("invoke", "-s", s, "--", "for i in $(seq 1 60); do echo line$i; sleep 0.02; done")
    got = b""
    while b"line10\n" not in got:
        got += os.read(p.stdout.fileno(), 4096)
    p.send_signal(signal.SIGKILL)
    p.wait()
    b = env.client("b")
    b.login(d, "alice")
    assert b.run("session", "connect", s, "--force").returncode == 0
    r = b.run("session", "receive", s)
    assert r.returncode == 0, r.stderr
    full = full_lines(60)
    assert full.endswith(r.stdout), r.stdout[:200]            # in order, up to the end
    assert len(got) + len(r.stdout) >= len(full)              # no gap
    # everything is now delivered; another receive shows nothing more
    r2 = b.run("session", "receive", s)
    assert r2.returncode == 0 and r2.stdout == ""


def test_daemon_killed_mid_invoke(env):
    d, c, s = setup(env)
    p = c.popen("invoke", "-s", s, "--",
                "cd /tmp; Z=zed; for i in $(seq 1 40); do echo line$i; sleep 0.05; done; exit 5")
    got = b""
    while b"line5\n" not in got:
        got += os.read(p.stdout.fileno(), 4096)
    d.kill()
    assert p.wait(timeout=30) == 255       # the client loses its server...
    rest = p.stdout.read()
    time.sleep(2.5)                         # ...while the command runs on and ends
    d.start()
    r = c.run("session", "receive", s)
    assert r.returncode == 5, (r.returncode, r.stderr)
    full = full_lines(40)
    seen = (got + rest).decode()
    assert full.endswith(r.stdout) and len(seen) + len(r.stdout) >= len(full)
    r = inv(c, s, 'pwd; echo "$Z"')
    assert r.stdout == "/tmp\nzed\n", r.stdout
    job = c.json("session", "list", d.host)[0]
    assert job["availability"] == "Available"


def test_daemon_down_for_whole_command(env):
    d, c, s = setup(env)
    p = c.popen("invoke", "-s", s, "--", "echo go; sleep 1; echo done-while-down")
    assert p.stdout.readline() == b"go\n"
    d.kill()
    p.wait(timeout=30)
    time.sleep(1.5)
    d.start()
    r = c.run("session", "receive", s)
    assert r.returncode == 0 and r.stdout.endswith("done-while-down\n"), (r.stdout, r.stderr)


def lose_the_supervisor(env, also_the_command):
    """An invoke whose supervisor is SIGKILLed while the daemon is down
    (and its command too, if also_the_command): no status will ever be
    written. The restarted daemon settles it as vanished; returns the
    command's pid."""
    d, c, s = setup(env)
    p = c.popen("invoke", "-s", s, "--", "echo $$; sleep 60")
    pid = int(p.stdout.readline())
    d.kill()
    p.wait(timeout=30)
    shim = int(open(f"/proc/{pid}/stat").read().split(")")[1].split()[1])
    os.kill(shim, signal.SIGKILL)
    if also_the_command:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(shim), what="the supervisor gone")
    assert also_the_command or alive(pid)   # the command lives on without it
    d.start()
    (state, code, err) = wait_for(lambda: next(iter(
        [r for r in d.query("SELECT state, exit_code, error FROM jobs") if r[0] != 1]), None),
        what="job settled")
    assert state == 3 and code is None and "vanished" in err, (state, code, err)
    return pid


def test_vanished_supervisor_is_reported(env):
    lose_the_supervisor(env, also_the_command=True)


def test_vanished_supervisors_command_is_killed(env):
    """What the supervisor left running is killed at the settle: the
    processes of the job's group that run as the uid its pid file names."""
    pid = lose_the_supervisor(env, also_the_command=False)
    wait_for(lambda: not alive(pid), what="the command killed")


def early_ctrl_c(c, args, mark, code):
    """Ctrl-C to `tether invoke ARGS -- CMD` once CMD has started but
    printed nothing (the request that started it is still held for its
    first output, and knows no job id yet): CMD's INT trap runs, says so
    and exits with code, and tether exits with it."""
    nap = unique_sleep()
    p = c.popen("invoke", *args, "--",
                f"trap 'echo got-int-{code}; exit {code}' INT; touch /tmp/{mark}-$PPID; "
                f"sleep {nap}")
    try:
        wait_for(lambda: any(f.startswith(f"{mark}-") for f in os.listdir("/tmp")), 30,
                 "the command to start")
        wait_for(lambda: running(["sleep", nap]), what="the sleep to run")
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=30) == code
        assert p.stdout.read() == f"got-int-{code}\n".encode()
    finally:
        for f in os.listdir("/tmp"):
            if f.startswith(f"{mark}-"):
                os.unlink(os.path.join("/tmp", f))


def test_ctrl_c_stops_remote_group(env):
    d, c, s = setup(env)
    mark = f"tt-early-{os.getpid()}-{time.monotonic_ns()}"   # this run's own
    nap = unique_sleep()
    p = c.popen("invoke", "-s", s, "--",
                f"trap 'echo got-int; exit 7' INT; echo ready; sleep {nap}")
    assert p.stdout.readline() == b"ready\n"
    # once sleep runs (an INT between bash's fork and exec is lost to the child)
    wait_for(lambda: running(["sleep", nap]), what="the sleep to run")
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=30) == 7
    assert p.stdout.read() == b"got-int\n"
    early_ctrl_c(c, ("-s", s), mark + "-s", 9)
    assert [j["state"] for j in c.json("job", "list", "-s", s)][-1] == "Stopped"
    # the same with -H: the temporary session was made with its command in
    # one exchange, under a name the client chose, and goes afterwards
    early_ctrl_c(c, ("-H", d.host), mark + "-h", 5)
    assert [x["name"] for x in c.json("session", "list", d.host)] == ["w"]


def test_remove_while_running_kills_group(env):
    d, c, s = setup(env)
    p = c.popen("invoke", "-s", s, "--", "sleep 60 & echo $!; wait")
    child = int(p.stdout.readline())
    assert os.path.exists(f"/proc/{child}")
    r = c.run("session", "remove", s)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: not os.path.exists(f"/proc/{child}") or
             open(f"/proc/{child}/stat").read().split()[2] == "Z", what="child gone")
    p.wait(timeout=30)
    assert d.query("SELECT count(*) FROM jobs") == [(0,)]
    assert os.listdir(os.path.join(d.state, "spool", "jobs")) == []
    assert os.listdir(os.path.join(d.state, "spool", "sessions")) == []


def test_keepalive_and_idle_timeout(env):
    d, c, s = setup(env, config={"keepalive": 1})
    wait_for(lambda: c.json("session", "list", d.host)[0]["state"] == "Disconnected",
             what="keepalive disconnect")
    # another client may not just use it...
    b = env.client("b")
    b.login(d, "alice")
    r = inv(b, s, "true")
    assert r.returncode == 255 and "disconnected" in r.stderr
    # ...but the client that went quiet carries on without reconnecting
    r = inv(c, s, "echo back")
    assert r.returncode == 0 and r.stdout == "back\n", r.stderr
    # a disconnected session with something running is kept past its idle
    # timeout (set once the command runs: a slow client start must not let
    # the empty session expire first)
    short = c.json("session", "new", d.host, "--name", "short")
    p = c.popen("invoke", "-s", f"{d.host}/short", "--", "echo x; sleep 6")
    assert p.stdout.readline() == b"x\n"
    p.kill()
    p.wait()
    r = c.run("session", "set", f"{d.host}/short", "--idle-timeout", "1")
    assert r.returncode == 0, r.stderr
    c.run("session", "disconnect", f"{d.host}/short")
    time.sleep(2)
    assert "short" in [x["name"] for x in c.json("session", "list", d.host)]
    wait_for(lambda: "short" not in [x["name"] for x in c.json("session", "list", d.host)],
             what="idle removal")
    assert short["id"] not in [i for (i,) in d.query("SELECT id FROM sessions")]


def test_temporary_and_disconnected_sessions(env):
    d, c, s = setup(env)
    r = c.run("invoke", "-H", d.host, "--", "echo temp; exit 6")
    assert r.returncode == 6 and r.stdout == "temp\n", (r.returncode, r.stderr)
    assert [x["name"] for x in c.json("session", "list", d.host)] == ["w"]   # removed
    r = c.run("invoke", "-H", d.host, "--in-disconnected-session", "--session-name", "bg",
              "--json", "--", "sleep 1; echo finished-alone")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["name"] == "bg" and doc["state"] == "Disconnected" and doc["availability"] == "Busy"
    # from another client machine, later
    b = env.client("b")
    b.login(d, "alice")
    r = b.run("session", "receive", f"{d.host}/bg")
    assert r.returncode == 0 and r.stdout == "finished-alone\n", (r.stdout, r.stderr)
    for bad in (["-H", "@nosuchgroup"], ["-s", s, "-H", d.host],
                ["--session-name", "x", "-s", s], []):
        r = c.run("invoke", *bad, "--", "true")
        assert r.returncode == 2, (bad, r.stderr)


def test_bad_input(env):
    d, c, s = setup(env, users=("alice", "bob"))
    tok = c.token(d, "alice")
    cid = {"X-Tether-Client": open(os.path.join(c.home, "client_id")).read().strip()}
    # an oversized command is refused from its Content-Length alone
    st, _, doc = d.request("POST", "/v1/sessions/w/invoke", Declared(300000),
                           token=tok, headers=cid)
    assert st == 413
    expect_error(doc, "payload_too_large")
    st, _, doc = d.request("POST", "/v1/sessions/w/invoke", {"command": 5}, token=tok,
                           headers=cid)
    assert st == 400
    expect_error(doc, "invalid_argument")
    st, _, doc = d.request("POST", "/v1/sessions/w/invoke", {"command": "true"}, token=tok)
    assert st == 400   # no client id: nobody holds the session
    st, _, doc = d.request("POST", "/v1/sessions/nosuch/invoke", {"command": "true"},
                           token=tok, headers=cid)
    assert st == 404
    st, _, doc = d.request("GET", "/v1/sessions/w/jobs/999/output", token=tok)
    assert st == 404
    expect_error(doc, "not_found")
    inv(c, s, "echo hi")
    # the invoke's output was delivered and released: re-reading it says so
    st, _, doc = d.request("GET", "/v1/sessions/w/jobs/1/output?offset=1", token=tok)
    assert st == 200 and "no longer kept" in doc, (st, doc)
    st, _, doc = d.request("GET", "/v1/sessions/w/jobs/1/output?offset=99999", token=tok)
    assert st == 400
    # output nobody received: an offset inside a record is refused
    job = c.json("job", "start", s, "--", "echo hi")
    assert c.run("job", "wait", "-s", s, str(job["id"])).returncode == 0
    out = f"/v1/sessions/w/jobs/{job['id']}/output"
    st, _, doc = d.request("GET", out + "?offset=1", token=tok)
    assert st == 400 and "record boundary" in doc["error"]["message"]
    st, _, doc = d.request("GET", out + "?offset=99999", token=tok)
    assert st == 400
    # a refused offset acknowledged nothing: receive still works from the start
    assert d.query(f"SELECT delivered FROM output_cursors WHERE job_id={job['id']}") in \
        ([], [(0,)])
    r = c.run("session", "receive", s)
    assert r.returncode == 0, r.stderr
    # a session created by no particular client is held by nobody
    st, _, doc = d.request("POST", "/v1/sessions", {"name": "nobodys"}, token=tok)
    assert st == 201 and doc["state"] == "Disconnected", doc
    st, _, doc = d.request("GET", "/v1/sessions/w/jobs/1/output?wait=abc", token=tok)
    assert st == 400
    # another user's session and job are invisible
    btok = d.token_for("bob")
    for path in ("/v1/sessions/1/jobs/1", "/v1/sessions/w/jobs/1/output"):
        st, _, doc = d.request("GET", path, token=btok)
        assert st == 404, path
    st, _, _ = d.request("POST", "/v1/sessions/1/jobs/1/stop", {"signal": "KILL"}, token=btok)
    assert st == 404
    st, _, doc = d.request("POST", "/v1/sessions/w/jobs/1/stop", {"signal": "NOPE"}, token=tok)
    assert st == 400
    # a wait out of range is refused before anything starts
    jobs = d.query("SELECT count(*) FROM jobs")
    for wait in ("61", "-1", "x"):
        st, _, doc = d.request("POST", f"/v1/sessions/w/invoke?wait={wait}",
                               {"command": "true"}, token=tok, headers=cid)
        assert st == 400, (wait, st, doc)
        expect_error(doc, "invalid_argument")
    assert d.query("SELECT count(*) FROM jobs") == jobs
    # invoke?wait answers with the output and the job's id in a header
    st, hdrs, body = d.request("POST", "/v1/sessions/w/invoke?wait=5", {"command": "exit 3"},
                               token=tok, headers=cid)
    assert st == 201 and hdrs["x-tether-done"] == "1", (st, hdrs)
    assert hdrs["x-tether-exit-code"] == "3" and int(hdrs["x-tether-job"]) > 0, hdrs
    # keep_state: a boolean, nothing started when it is not one
    jobs = d.query("SELECT count(*) FROM jobs")
    st, _, doc = d.request("POST", "/v1/sessions/w/invoke",
                           {"command": "true", "keep_state": "no"}, token=tok, headers=cid)
    assert st == 400, (st, doc)
    expect_error(doc, "invalid_argument")
    assert d.query("SELECT count(*) FROM jobs") == jobs
    assert d.healthy()


def test_keep_state_false_leaves_the_session_as_it_was(env):
    """An invoke with keep_state false starts from the session's state but
    saves nothing back (what invoke -H's temporary sessions send)."""
    d, c, s = setup(env)
    assert c.run("invoke", "-s", s, "--", "A=kept; cd /tmp").returncode == 0
    tok = c.token(d, "alice")
    cid = {"X-Tether-Client": open(os.path.join(c.home, "client_id")).read().strip()}
    st, hdrs, body = d.request("POST", "/v1/sessions/w/invoke?wait=10",
                               {"command": 'echo "$A $PWD"; A=lost; cd /', "keep_state": False},
                               token=tok, headers=cid)
    assert st == 201, (st, hdrs)
    assert b"kept /tmp" in (body if isinstance(body, bytes) else body.encode()), body
    job, off = hdrs["x-tether-job"], hdrs["x-tether-next"]
    while hdrs["x-tether-done"] != "1":   # the first output may come before the end
        st, hdrs, _ = d.request("GET", f"/v1/sessions/w/jobs/{job}/output?offset={off}"
                                "&wait=10", token=tok)
        assert st == 200, st
        off = hdrs["x-tether-next"]
    r = c.run("invoke", "-s", s, "--", 'echo "$A $PWD"')
    assert r.returncode == 0 and r.stdout == "kept /tmp\n", (r.stdout, r.stderr)
    st, hdrs, _ = d.request("POST", "/v1/sessions/w/invoke?wait=10",
                            {"command": "B=saved", "keep_state": True}, token=tok, headers=cid)
    assert st == 201, st
    job = hdrs["x-tether-job"]
    while hdrs["x-tether-done"] != "1":
        st, hdrs, _ = d.request("GET", f"/v1/sessions/w/jobs/{job}/output?offset=0&wait=10",
                                token=tok)
    r = c.run("invoke", "-s", s, "--", 'echo "$B"')
    assert r.returncode == 0 and r.stdout == "saved\n", (r.stdout, r.stderr)


def test_state_reaches_jobs_once_there_is_some(env):
    """A command with no state to restore and none to save runs without the
    state prelude; once an invoke has saved state, every later job and
    invoke starts from it (variables, aliases, directory), and invoke -H
    (a temporary session, keep_state false) still runs commands whole."""
    d, c, s = setup(env)

    def job(cmd):
        j = c.json("job", "start", s, "--", cmd)
        r = c.run("job", "receive", "-s", s, str(j["id"]), "--wait")
        assert r.returncode == 0, r.stderr
        return r.stdout

    assert job('echo "${A-unset} $TETHER_SESSION"; env | grep -c ^TETHER_STATE_; true') == \
        "unset w\n0\n"
    assert inv(c, s, "A=1; alias hi='echo hello'; cd /tmp").returncode == 0
    assert job('echo "$A $PWD"; hi') == "1 /tmp\nhello\n"
    r = inv(c, s, 'echo "$A $PWD"; hi; env | grep -c ^TETHER_STATE_; true')
    assert r.stdout == "1 /tmp\nhello\n0\n", r.stdout
    r = c.run("invoke", "-H", d.host, "--", 'echo "${A-unset}"; exit 3')
    assert r.returncode == 3 and r.stdout == "unset\n", (r.returncode, r.stdout)


def test_remove_goes_with_the_reply_that_ends_the_output(env):
    """?remove=1 on an invoke or an output read removes the session with the
    reply that ends its command's output (what invoke -H's temporary
    sessions ask: no DELETE after each host); not before the end; bad
    values are 400 and change nothing; another user's remove=1 reaches
    nothing."""
    d, c, s = setup(env, users=("alice", "bob"))
    tok = c.token(d, "alice")
    cid = {"X-Tether-Client": open(os.path.join(c.home, "client_id")).read().strip()}

    def new(name):
        st, _, doc = d.request("POST", "/v1/sessions", {"name": name}, token=tok, headers=cid)
        assert st == 201, doc

    def exists(name):
        return d.request("GET", f"/v1/sessions/{name}", token=tok)[0] == 200

    def as_bytes(body):
        return body if isinstance(body, bytes) else (body or "").encode()

    def run(name, command, wait):
        """Invoke with remove=1 and read to the end; the replies' headers."""
        new(name)
        st, hdrs, body = d.request("POST", f"/v1/sessions/{name}/invoke?wait={wait}&remove=1",
                                   {"command": command, "keep_state": False},
                                   token=tok, headers=cid)
        assert st == 201, (st, hdrs)
        seen, out = [hdrs], as_bytes(body)
        job = hdrs["x-tether-job"]
        while seen[-1]["x-tether-done"] != "1":
            assert "x-tether-removed" not in seen[-1] and exists(name), seen
            st, hdrs, got = d.request("GET", f"/v1/sessions/{name}/jobs/{job}/output?offset="
                                      f"{seen[-1]['x-tether-next']}&wait=10&remove=1",
                                      token=tok)
            assert st == 200, st
            seen.append(hdrs)
            out += as_bytes(got)
        return seen, out

    seen, out = run("q", "echo quick; exit 4", 10)
    assert seen[-1].get("x-tether-removed") == "1" and seen[-1]["x-tether-exit-code"] == "4"
    assert b"quick" in out, out
    assert not exists("q")
    # a command that outlasts the first wait: the session stays until the end
    seen, out = run("slow", "sleep 2; echo late", 1)
    assert len(seen) >= 2 and seen[-1].get("x-tether-removed") == "1" and b"late" in out
    assert not exists("slow")
    # bad values: 400, nothing started, nothing removed
    for q in ("remove=2", "remove=yes", "remove=-1"):
        st, _, doc = d.request("POST", f"/v1/sessions/w/invoke?wait=1&{q}",
                               {"command": f"touch {NEVER}"}, token=tok, headers=cid)
        assert st == 400, (q, st, doc)
    assert exists("w")
    assert d.query("SELECT count(*) FROM jobs j JOIN sessions s ON j.session_id = s.id "
                   "WHERE s.name = 'w'") == [(0,)]
    # a client that went away while its request was held (an interrupted
    # one) does not take the session with it: it reads the output again
    mark = f"/tmp/tt-gone-{os.getpid()}-{time.monotonic_ns()}"
    conn = d.conn()
    conn.request("POST", "/v1/sessions?wait=30&remove=1", body=json.dumps(
        {"name": "gone", "command": f"while [ ! -e {mark} ]; do sleep 0.05; done; exit 6",
         "keep_state": False}),
        headers=dict(cid, **{"Authorization": "Bearer " + tok,
                             "Content-Type": "application/json"}))
    wait_for(lambda: d.query("SELECT count(*) FROM jobs j JOIN sessions s ON "
                             "j.session_id = s.id WHERE s.name = 'gone'") == [(1,)],
             30, "the command to start")
    conn.close()   # gone, the request held for the command's first output
    open(mark, "w").close()
    try:
        wait_for(lambda: d.query("SELECT j.exit_code FROM jobs j JOIN sessions s ON "
                                 "j.session_id = s.id WHERE s.name = 'gone'") in ([(6,)], []),
                 30, "the command to end")   # or its session to go, wrongly
        time.sleep(0.5)   # the held request has woken by now
    finally:
        os.unlink(mark)
    assert exists("gone")
    st, _, _ = d.request("DELETE", "/v1/sessions/gone", token=tok)
    assert st == 200
    # without remove the session stays, as before
    st, hdrs, _ = d.request("POST", "/v1/sessions/w/invoke?wait=10", {"command": "true"},
                            token=tok, headers=cid)
    assert st == 201 and "x-tether-removed" not in hdrs, hdrs
    assert exists("w")
    # another user asking for that output with remove=1: 404, nothing removed
    sid = d.query("SELECT id FROM sessions WHERE name = 'w'")[0][0]
    for ref in ("w", str(sid)):
        st, _, doc = d.request("GET", f"/v1/sessions/{ref}/jobs/{hdrs['x-tether-job']}/output"
                               "?wait=1&remove=1", token=d.token_for("bob"))
        assert st == 404, (ref, st, doc)
    assert exists("w")
    # invoke -H HOST: its temporary session goes with the last reply, no DELETE
    deletes = d.log().count('method="DELETE"')
    r = c.run("invoke", "-H", d.host, "--", "echo hi; sleep 1; echo there; exit 3")
    assert r.returncode == 3 and r.stdout == "hi\nthere\n", (r.returncode, r.stdout)
    assert r.stderr == "", r.stderr
    assert d.log().count('method="DELETE"') == deletes
    assert [x["name"] for x in c.json("session", "list", d.host)] == ["w"]
    # stdin the command leaves unread is dropped quietly, as with ssh, though
    # the session went with the last reply
    r = c.run("invoke", "-H", d.host, "--", "head -c 10 | wc -c", input="x" * (8 << 20))
    assert r.returncode == 0 and r.stdout.strip() == "10" and r.stderr == "", r.stderr
    assert d.log().count('method="DELETE"') == deletes
    # --json wants the job object afterwards: removed by a DELETE then
    r = c.run("invoke", "-H", d.host, "--json", "--", "echo hi")
    assert r.returncode == 0 and json.loads(r.stdout)["exit_code"] == 0, r.stdout
    assert d.log().count('method="DELETE"') == deletes + 1
    assert [x["name"] for x in c.json("session", "list", d.host)] == ["w"]


def test_session_made_with_its_command(env):
    """POST /v1/sessions with a command makes the session and runs the
    command in it, in one exchange (what invoke -H over several hosts
    sends): the reply is the invoke's, the session named in
    X-Tether-Session; with remove=1 the session goes with the end of the
    output. Bad input makes nothing."""
    d, c, s = setup(env)
    tok = c.token(d, "alice")
    cid = {"X-Tether-Client": open(os.path.join(c.home, "client_id")).read().strip()}

    def count():
        return d.query("SELECT count(*) FROM sessions")[0][0]

    st, hdrs, body = d.request("POST", "/v1/sessions?wait=10&remove=1",
                               {"name": "run1", "command": "echo made", "keep_state": False},
                               token=tok, headers=cid)
    assert st == 201 and hdrs["x-tether-session"].isdigit() and "x-tether-job" in hdrs, hdrs
    out, job = body if isinstance(body, bytes) else (body or "").encode(), hdrs["x-tether-job"]
    while hdrs["x-tether-done"] != "1":
        st, hdrs, got = d.request("GET", f"/v1/sessions/run1/jobs/{job}/output?offset="
                                  f"{hdrs['x-tether-next']}&wait=10&remove=1", token=tok)
        assert st == 200, st
        out += got if isinstance(got, bytes) else (got or "").encode()
    assert b"made" in out and hdrs.get("x-tether-removed") == "1", (out, hdrs)
    assert count() == 1   # only "w"
    # without wait: the job comes back; the session stays, held by the caller
    st, hdrs, doc = d.request("POST", "/v1/sessions", {"name": "run2", "command": "exit 3"},
                              token=tok, headers=cid)
    assert st == 201 and doc["type"] == "invoke" and doc["state"] == "Running", doc
    assert hdrs["x-tether-session"] == str(d.query(
        "SELECT id FROM sessions WHERE name = 'run2'")[0][0])
    r = c.run("session", "receive", f"{d.host}/run2")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert count() == 2
    # bad input: 400, no session made, nothing run
    for q, body, hd in (("?wait=61", {"command": f"touch {NEVER}"}, cid),
                        ("?remove=2", {"command": f"touch {NEVER}"}, cid),
                        ("", {"command": 5}, cid),
                        ("", {"command": "x", "keep_state": "no"}, cid),
                        ("", {"command": f"touch {NEVER}"}, {})):
        st, _, doc = d.request("POST", "/v1/sessions" + q, body, token=tok, headers=hd)
        assert st == 400, (q, body, st, doc)
        expect_error(doc, "invalid_argument")
    assert count() == 2 and not os.path.exists(NEVER), (count(), os.path.exists(NEVER))
    # a name taken: 409, nothing run
    st, _, doc = d.request("POST", "/v1/sessions?wait=5", {"name": "w", "command": "exit 9"},
                           token=tok, headers=cid)
    assert st == 409, (st, doc)
    assert d.query("SELECT count(*) FROM jobs WHERE command = 'exit 9'") == [(0,)]


def test_stdin_is_streamed_to_the_command(env):
    """A pipe on tether's stdin is the command's stdin, as with ssh: whole,
    in order, ended by its end; -n (and a terminal or /dev/null) sends
    none; a command that stops reading does not hang the client."""
    d, c, s = setup(env)
    r = c.run("invoke", "-s", s, "--", "wc -l", input="a\nb\n")
    assert r.returncode == 0 and r.stdout.strip() == "2", (r.stdout, r.stderr)
    data = os.urandom(3 << 20)   # past the pipes' and the FIFO's buffers
    p = subprocess.run([H.TETHER, "invoke", "-s", s, "--", "sha256sum"], input=data,
                       capture_output=True, env=c.env(), timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    # the state is kept as for any invoke
    r = c.run("invoke", "-s", s, "--", "read X; echo got $X", input="line\n")
    assert r.returncode == 0 and r.stdout == "got line\n", (r.stdout, r.stderr)
    r = c.run("invoke", "-n", "-s", s, "--", "cat; echo end", input="not sent\n")
    assert r.returncode == 0 and r.stdout == "end\n", (r.stdout, r.stderr)
    with open(os.devnull) as null:   # /dev/null: the fast path, nothing sent
        p = subprocess.run([H.TETHER, "invoke", "-s", s, "--", "cat; echo end"], stdin=null,
                           capture_output=True, text=True, env=c.env(), timeout=60)
    assert p.returncode == 0 and p.stdout == "end\n", (p.stdout, p.stderr)
    # endless input, a command that reads two lines: it ends, and so do we
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        p = subprocess.run([H.TETHER, "invoke", "-s", s, "--", "head -2"], stdin=yes.stdout,
                           capture_output=True, text=True, env=c.env(), timeout=60)
    finally:
        yes.kill()
        yes.wait()
    assert p.returncode == 0 and p.stdout == "y\ny\n", (p.returncode, p.stdout, p.stderr)


def test_stdin_as_raw_bytes(env):
    """The input route takes a command's stdin as the bytes themselves
    (application/octet-stream, offset and eof in the query): a repeated
    piece is skipped by its offset, eof ends it, bad query values are 400
    and feed nothing, another content type is 415."""
    d, c, s = setup(env)
    tok = c.token(d, "alice")
    cid = {"X-Tether-Client": open(os.path.join(c.home, "client_id")).read().strip()}
    st, _, doc = d.request("POST", "/v1/sessions/w/invoke", {"command": "sha256sum",
                                                          "stdin": True},
                           token=tok, headers=cid)
    assert st == 201, (st, doc)
    path = f"/v1/sessions/w/jobs/{doc['id']}/input"
    raw = {"Content-Type": "application/octet-stream", **cid}
    data = bytes(range(256)) * 1024 + b"\0\n\"{}"   # 256 KiB and a tail no JSON would carry raw
    for q in ("?offset=-1", "?offset=x", "?eof=2", "?eof=yes"):
        st, _, e = d.request("POST", path + q, data, token=tok, headers=raw, content_type=None)
        assert st == 400 and e["error"]["code"] == "invalid_argument", (q, st, e)
    st, _, e = d.request("POST", path, b"hi", token=tok, content_type="text/plain", headers=cid)
    assert st == 415, (st, e)
    sent = 0
    while sent < len(data):
        st, _, r = d.request("POST", f"{path}?offset={sent}", data[sent:], token=tok,
                             headers=raw, content_type=None)
        assert st == 200, (st, r)
        sent += r["written"]
        if r["written"] == 0:
            time.sleep(0.05)
    # the same piece again, cut off before its answer: nothing is written twice
    st, _, r = d.request("POST", f"{path}?offset=0", data[:1000], token=tok, headers=raw,
                         content_type=None)
    assert st == 200 and r["written"] == 1000 and r["received"] == len(data), r
    # another user's job by the same path: not found, and nothing fed
    d.add_user("bob")
    st, _, e = d.request("POST", f"{path}?offset={len(data)}", b"intruder", token=d.token_for("bob"),
                         headers={"Content-Type": "application/octet-stream",
                                  "X-Tether-Client": "b" * 32}, content_type=None)
    assert st == 404, (st, e)
    st, _, r = d.request("POST", path, {"eof": True, "offset": len(data)}, token=tok,
                         headers=cid)
    assert st == 200 and r["received"] == len(data), (st, r)
    r = c.run("session", "receive", s)
    assert r.stdout.split()[0] == hashlib.sha256(data).hexdigest(), (r.stdout, r.stderr)


def test_stdin_route_bad_input(env):
    d, c, s = setup(env, users=("alice", "bob"))
    tok = c.token(d, "alice")
    cid = {"X-Tether-Client": open(os.path.join(c.home, "client_id")).read().strip()}
    st, hdrs, _ = d.request("POST", "/v1/sessions/w/invoke", {"command": "sleep 30"},
                            token=tok, headers=cid)
    assert st == 201, st
    job = d.request("GET", "/v1/sessions/w/jobs", token=tok)[2]["jobs"][-1]["id"]
    path = f"/v1/sessions/w/jobs/{job}/input"
    st, _, doc = d.request("POST", path, {"data": "aGk="}, token=tok, headers=cid)
    assert st == 409 and "without stdin" in doc["error"]["message"], (st, doc)
    for bad in ({"eof": "yes"}, {"data": 5}, {}):
        st, _, doc = d.request("POST", path, bad, token=tok, headers=cid)
        assert st == 400, (bad, st, doc)
    # another user's job, by the same path: not found, not fed
    st, _, doc = d.request("POST", path, {"eof": True}, token=d.token_for("bob"),
                           headers={"X-Tether-Client": "b" * 32})
    assert st == 404, (st, doc)
    d.request("POST", f"/v1/sessions/w/jobs/{job}/stop", {"signal": "KILL"}, token=tok,
              headers=cid)
    assert d.healthy()


def test_home_is_the_accounts_else_the_sessions_directory(env):
    """A command starts in its account's home, with HOME set to it; when
    that directory is missing, in its session's directory instead, made
    for it as the account's (the supervisor looks, not the daemon)."""
    if os.geteuid() != 0:
        print("SKIPPED: needs root to change accounts")
        return
    import pwd
    import shutil
    import tempfile
    d, c, s = setup(env, users=("homer",))
    acct = H.os_account("homer")
    uid = pwd.getpwnam(acct).pw_uid
    home = tempfile.mkdtemp(prefix="tt-homer-home-")
    os.chmod(home, 0o755)
    os.chown(home, uid, -1)
    try:
        subprocess.run(["usermod", "-d", home, acct], check=True, capture_output=True)
        r = inv(c, s, 'echo "$HOME"; pwd')
        assert r.returncode == 0 and r.stdout == f"{home}\n{home}\n", r
        os.rmdir(home)
        # a new session (the first one's saved state keeps its HOME), and a
        # background job, which saves no state: nothing made the session's
        # directory before the supervisor
        sid = c.json("session", "new", d.host, "--name", "w2")["id"]
        sdir = os.path.join(d.state, "spool", "sessions", str(sid))
        assert not os.path.exists(sdir)
        j = c.json("job", "start", f"{d.host}/w2", "--", 'echo "$HOME"; pwd')
        r = c.run("job", "receive", "-s", f"{d.host}/w2", str(j["id"]), "--wait")
        assert r.returncode == 0 and r.stdout == f"{sdir}\n{sdir}\n", r
        st = os.stat(sdir)
        assert st.st_uid == uid and st.st_mode & 0o777 == 0o700, oct(st.st_mode)
    finally:
        subprocess.run(["usermod", "-d", "/nonexistent", acct], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def test_plain_commands_run_without_bash_as_bash_would(env):
    """A plain command in a session with no saved state runs without bash
    (the daemon logs run="direct"), and nothing tells it from bash's run of
    it: the same environment (with bash's PWD, SHLVL and _), the words as
    they are, the exit code; and what the supervisor cannot exec itself (a
    command not found, a file that is not executable, a script without a
    #! line, a directory) is bash's to run or report, in its own words."""
    import shutil
    import tempfile
    d, c, s = setup(env)
    c.json("session", "new", d.host, "--name", "b")
    b = f"{d.host}/b"
    tmp = tempfile.mkdtemp(prefix="tt-direct-")
    os.chmod(tmp, 0o755)
    files = {"noshebang": ("echo from bash $# \"$@\"\n", 0o755),
             "shebang": ("#!/bin/sh\necho from sh \"$@\"\n", 0o755),
             "noexec": ("echo never\n", 0o644)}
    for name, (text, mode) in files.items():
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(tmp, name), mode)

    def runs(kind):
        return sum(1 for x in d.log().splitlines()
                   if "event=job_start " in x and f'run="{kind}"' in x)

    def both(cmd, quoted):
        """cmd invoked in session w (plain) and quoted as a background job
        of session b (bash, and no prelude: a job saves nothing): the two
        results, and whether w's ran direct."""
        before = runs("direct")
        r1 = inv(c, s, cmd)
        direct = runs("direct") == before + 1
        bash_before = runs("bash")
        j = c.json("job", "start", b, "--", quoted)
        r2 = c.run("job", "receive", "-s", b, str(j["id"]), "--wait")
        assert runs("bash") == bash_before + 1, quoted
        return r1, r2, direct

    try:
        def norm(text):
            return sorted(x for x in text.splitlines()
                          if not x.startswith(("TETHER_JOB=", "TETHER_SESSION=")))
        r1, r2, direct = both("env", "'env'")
        assert direct and r1.returncode == 0 and r2.returncode == 0, (r1, r2)
        assert norm(r1.stdout) == norm(r2.stdout), (r1.stdout, r2.stdout)
        assert "SHLVL=0" in r1.stdout and "_=/usr/bin/env" in r1.stdout, r1.stdout
        r1, r2, direct = both("/usr/bin/printf %s, a=b c:d,e@f%g ./x -x --",
                              "/usr/bin/printf '%s,' a=b c:d,e@f%g ./x -x --")
        assert direct and r1.stdout == "a=b,c:d,e@f%g,./x,-x,--," == r2.stdout, (r1, r2)
        r1, r2, direct = both("false", "'false'")
        assert direct and r1.returncode == 1 == r2.returncode, (r1, r2)
        before = runs("direct")
        r1 = inv(c, s, "cat", input="typed\n")
        assert runs("direct") == before + 1 and r1.stdout == "typed\n", r1
        for name, rc, out in [("noshebang", 0, "from bash 2 a1 b2\n"),
                              ("shebang", 0, "from sh a1 b2\n"),
                              ("noexec", 126, ""), ("", 126, "")]:
            path = os.path.join(tmp, name) if name else tmp
            r1, r2, direct = both(f"{path} a1 b2", f"'{path}' a1 b2")
            assert direct, name
            assert (r1.returncode, r1.stdout) == (rc, out), (name, r1)
            assert (r1.returncode, r1.stdout, r1.stderr) == \
                (r2.returncode, r2.stdout, r2.stderr), (name, r1, r2)
            assert rc == 0 or r1.stderr.startswith(f"bash: line 1: {path}: "), r1.stderr
        before = runs("direct")
        r1 = inv(c, s, "no_such_command_xyz --flag")
        assert runs("direct") == before + 1
        assert r1.returncode == 127, r1
        assert r1.stderr == "bash: line 1: no_such_command_xyz: command not found\n", r1.stderr
        # builtins and keywords are bash's, and once the session has a saved
        # state every command runs through bash (its prelude restores it)
        state = os.path.join(d.state, "spool", "sessions", "1", "state.sh")
        for cmd in ["echo hi", "true --help", "pwd"]:
            assert inv(c, s, cmd).returncode == 0, cmd
        assert runs("direct") == before + 1 and not os.path.exists(state)
        assert inv(c, s, "true").returncode == 0
        assert runs("direct") == before + 2
        assert inv(c, s, "cd /").returncode == 0 and os.path.exists(state)
        assert inv(c, s, "pwd").stdout == "/\n"
        assert inv(c, s, "true").returncode == 0
        assert runs("direct") == before + 2
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_large_output_comes_four_mib_a_reply(env):
    """With more than 4 MiB of output pending, a reply carries 4 MiB of it
    (1 MiB always, the rest from the daemon's shared pool: fewer round
    trips); ?max= asks for less, 1 MiB to 4 MiB (anything else is refused
    and acknowledges nothing); either way whole records come, byte-exact
    and in order, and the client gets all of it."""
    import struct
    d, c, s = setup(env)
    tok = c.token(d, "alice")
    job = c.json("job", "start", s, "--", "seq 1 1500000")   # 10.9 MB
    assert c.run("job", "wait", "-s", s, str(job["id"])).returncode == 0
    want = "".join(f"{i}\n" for i in range(1, 1500001)).encode()
    out = f"/v1/sessions/w/jobs/{job['id']}/output"

    def get(query):
        conn = d.conn()
        try:
            conn.request("GET", out + query, headers={"Authorization": "Bearer " + tok})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def payload(data):
        got, off = b"", 0
        while off < len(data):
            stream, n = data[off], struct.unpack("<I", data[off + 1:off + 5])[0]
            assert stream == 1 and n <= 65536, (stream, n)
            got += data[off + 5:off + 5 + n]
            off += 5 + n
        assert off == len(data)
        return got

    st, h, body = get("?keep=1")
    assert st == 200 and 4 * 2**20 - 65541 <= len(body) <= 4 * 2**20, len(body)
    assert int(h["x-tether-next"]) == len(body) and h["x-tether-done"] == "0", h
    # a bad max at an offset that would acknowledge the first reply is
    # refused before anything moves
    for bad in ["1048575", "4194305", "x", "-1"]:
        st, _, body = get(f"?offset={h['x-tether-next']}&max={bad}")
        assert st == 400 and b"max" in body, (bad, st, body[:200])
    assert d.query(f"SELECT delivered FROM output_cursors WHERE job_id={job['id']}") in \
        ([], [(0,)])
    # what a reply takes from the pool comes back when it is sent: 25
    # replies in turn (3 MiB each from the pool, 75 MiB) all get 4 MiB from
    # a 64 MiB pool
    for _ in range(24):
        st, h, body = get("?keep=1")
        assert st == 200 and len(body) > 3 * 2**20, len(body)
    st, h, body = get("?keep=1&max=1048576")
    assert st == 200 and 2**20 - 65541 <= len(body) <= 2**20, len(body)
    st, h, body2 = get("?keep=1&max=2097152")
    assert st == 200 and 2**20 < len(body2) <= 2 * 2**20 and body2.startswith(body)
    # read it all, 4 MiB at a time, acknowledging as a receiver does
    got, off, replies = b"", 0, 0
    while True:
        st, h, body = get(f"?offset={off}")
        assert st == 200, st
        got += payload(body)
        replies += 1
        off = int(h["x-tether-next"])
        if h["x-tether-done"] == "1":
            break
    assert got == want and replies == 3, (len(got), replies)   # 1 MiB each: 11
    # and the client, on a second job, gets the same bytes
    r = c.run("invoke", "-s", s, "--", "seq 1 1500000")
    assert r.returncode == 0 and r.stdout.encode() == want


if __name__ == "__main__":
    main(globals())
