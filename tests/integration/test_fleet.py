"""Fleets: one command on many real daemons (docs/fleet.md).

Each host is a real tetherd with its own state dir on loopback; the
inventory names them web01..webNN with ansible_host/ansible_port.
"""
import ctypes
import ctypes.util
import json
import os
import re
import signal
import struct
import subprocess
import time

import harness as H
from harness import PASSWORD, main, wait_for

FLEET = 50   # daemons in the big test (the issue asks for >= 50)


def fleet(env, n, user="alice"):
    """n daemons with user, an inventory [web] naming them, a client logged in to all."""
    ds = [env.daemon(f"web{i + 1:02d}") for i in range(n)]
    for d in ds:
        d.add_user(user)
    c = env.client()
    inv = os.path.join(env.root, "inventory")
    with open(inv, "w") as f:
        f.write("# the fleet of this test\n[web]\n")
        for i, d in enumerate(ds):
            f.write(f"web{i + 1:02d} ansible_host=127.0.0.1 ansible_port={d.port} "
                    f"ansible_user=ignored\n")
        f.write("\n[front:children]\nweb\n[web:vars]\nsome_var=1\n")
    os.environ["TETHER_INVENTORY"] = inv
    # the daemons share this machine's cores and a password check is a
    # scrypt of 32 MiB: a few at a time (hosts of a real fleet check their
    # own), or the slowest would outlast the daemons' pre-login deadline
    r = c.run("login", "@web", "--user", user, "--password-stdin", "--accept-new",
              "--throttle", "4", input=PASSWORD + "\n", timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("logged in as alice") == n, r.stdout
    return ds, c


def names(n):
    return [f"web{i + 1:02d}" for i in range(n)]


def test_fifty_daemons(env):
    """Targets from an inventory, the three output forms, fleet jobs, fleet
    sessions picked up by another client, dead and hanging hosts."""
    ds, c = fleet(env, FLEET)
    r = c.run("invoke", "-H", "@web", "--", "echo out-$((20+22)); echo err-line >&2",
              timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert sorted(out) == sorted(f"{h}: out-42" for h in names(FLEET)), out[:5]
    err = [l for l in r.stderr.splitlines() if l.startswith("web")]
    assert sorted(err) == sorted(f"{h}: err-line" for h in names(FLEET)), err[:5]
    # --gather: one block for all fifty, under their folded nodeset
    r = c.run("invoke", "-H", "@front", "--gather", "--", "echo same", timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"web[01-{FLEET}] ({FLEET} hosts, exit 0)" in r.stdout, r.stdout
    assert r.stdout.count("same\n") == 1, r.stdout
    # --json: one object per host, in target order
    r = c.run("invoke", "-H", "@web", "--json", "--", "printf x; exit 3",
              timeout=120)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert [o["host"] for o in doc] == names(FLEET)
    for o in doc:
        assert o["exit_code"] == 3 and o["stdout"] == "x" and o["stderr"] == "", o
        assert o["error"] is None and o["started"].endswith("Z") and o["ended"], o
    assert "50 of 50 hosts failed" in r.stderr and "web07: exit 3" in r.stderr
    # no temporary session is left behind on any host
    for d in ds[:5]:
        assert d.query("SELECT count(*) FROM sessions") == [(0,)]
    check_parent_and_child_jobs(env, ds, c)
    check_fleet_session_from_another_client(env, ds, c)
    check_dead_and_hanging_hosts(env, ds, c)


def test_lines_are_never_torn(env):
    ds, c = fleet(env, 4)
    # many long lines written in pieces, on both streams, from every host at once
    cmd = ("for i in $(seq 1 300); do printf 'line-%04d-' $i; printf '%0500d' 0; "
           "echo; printf 'e%d\\n' $i >&2; done")
    r = c.run("invoke", "-H", "@web", "--", cmd, timeout=120)
    assert r.returncode == 0, r.stderr
    pat = re.compile(r"^web0[1-4]: line-(\d{4})-0{500}$")
    seen = {}
    for line in r.stdout.splitlines():
        m = pat.match(line)
        assert m, line[:80]
        seen.setdefault(line[:5], []).append(int(m.group(1)))
    assert sorted(seen) == names(4)
    for h, nums in seen.items():
        assert nums == list(range(1, 301)), h   # in order, none lost or doubled
    errs = [l for l in r.stderr.splitlines() if l.startswith("web")]
    assert len(errs) == 4 * 300 and all(re.match(r"^web0[1-4]: e\d+$", l) for l in errs)
    # --hide-host: whole lines, no prefix
    r = c.run("invoke", "-H", "@web", "--hide-host", "--", "echo plain", timeout=60)
    assert r.returncode == 0 and r.stdout == "plain\n" * 4, r.stdout


def check_dead_and_hanging_hosts(env, ds, c):
    """Hosts 2 and 3 die and hang; the others answer at once."""
    n = len(ds)
    dead, hung = ds[1], ds[2]
    dead.stop()                          # nothing listens there any more
    os.kill(hung.proc.pid, signal.SIGSTOP)   # accepts (kernel backlog), never answers
    try:
        t0 = time.monotonic()
        r = c.run("invoke", "-H", "@web", "--connect-timeout", "4", "--timeout", "20",
                  "--", "echo alive", timeout=120)
        took = time.monotonic() - t0
    finally:
        os.kill(hung.proc.pid, signal.SIGCONT)
    assert r.returncode == 1, r.stderr
    good = [h for h in names(n) if h not in ("web02", "web03")]
    assert sorted(r.stdout.splitlines()) == [f"{h}: alive" for h in good], r.stdout
    assert f"2 of {n} hosts failed" in r.stderr, r.stderr
    assert re.search(r"web02: cannot reach .*", r.stderr), r.stderr
    assert re.search(r"web03: no answer from .*", r.stderr), r.stderr
    print(f"  {n} hosts, one dead and one hanging, --connect-timeout 4: {took:.2f} s")
    # --json names the failure per host
    os.kill(hung.proc.pid, signal.SIGSTOP)
    try:
        r = c.run("invoke", "-H", "@web", "--connect-timeout", "4", "--json", "--", "true",
                  timeout=120)
    finally:
        os.kill(hung.proc.pid, signal.SIGCONT)
    doc = {o["host"]: o for o in json.loads(r.stdout)}
    assert doc["web02"]["error"]["code"] == "connect_failed", doc["web02"]
    assert doc["web03"]["error"]["code"] == "connect_failed", doc["web03"]
    assert doc["web03"]["exit_code"] is None and doc["web01"]["exit_code"] == 0


def test_timeout_stops_the_command(env):
    ds, c = fleet(env, 3)
    mark = os.path.join(env.root, "marks")
    os.makedirs(mark, mode=0o1777)
    os.chmod(mark, 0o1777)
    c.run("session", "new", "@web", "--name", "slow", timeout=60)
    r = c.run("invoke", "-s", "@web/slow", "--timeout", "2", "--",
              f"sleep 30; touch {mark}/$$", timeout=60)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("timed out after 2 s") == 3, r.stderr
    # the remote commands were stopped: the sessions are free again
    for d in ds:
        wait_for(lambda: all(j["state"] != "Running" for j in
                             c.json("job", "list", "-s", f"{d.host}/slow")),
                 timeout=30, what="jobs stopped")
    r = c.run("invoke", "-s", "@web/slow", "--", "echo free", timeout=60)
    assert r.returncode == 0 and r.stdout.count(": free") == 3, r.stderr
    # temporary sessions (-H), made with their command in one exchange: a
    # timeout that may come before that exchange's answer still removes
    # each one by the name the client gave it, which stops the command
    t0 = time.monotonic()
    r = c.run("invoke", "-H", "@web", "--timeout", "2", "--",
              f"sleep 30; touch {mark}/t$$", timeout=60)
    print(f"  -H --timeout 2: {time.monotonic() - t0:.2f} s")
    assert r.returncode == 1 and r.stderr.count("timed out after 2 s") == 3, r.stderr
    for d in ds:
        wait_for(lambda: d.query("SELECT count(*) FROM sessions WHERE name != 'slow'") == [(0,)],
                 timeout=30, what="the temporary sessions removed")
    time.sleep(1)
    assert os.listdir(mark) == []


def test_throttle_caps_hosts_in_flight(env):
    ds, c = fleet(env, 8)
    log = os.path.join(env.root, "spans")
    os.makedirs(log, mode=0o1777)
    os.chmod(log, 0o1777)
    cmd = (f"s=$(date +%s.%N); sleep 1; e=$(date +%s.%N); "
           f"echo $s $e > {log}/$RANDOM$RANDOM")
    r = c.run("invoke", "-H", "@web", "--throttle", "3", "--", cmd, timeout=120)
    assert r.returncode == 0, r.stderr
    spans = []
    for name in os.listdir(log):
        with open(os.path.join(log, name)) as f:
            s, e = map(float, f.read().split())
            spans.append((s, e))
    assert len(spans) == 8
    peak = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert 2 <= peak <= 3, peak
    print(f"  --throttle 3: at most {peak} commands ran at once")
    r = c.run("invoke", "-H", "@web", "--throttle", "0", "--", "true")
    assert r.returncode == 2 and "--throttle" in r.stderr


def test_hanging_hosts_do_not_hold_the_throttle(env):
    """Three hanging hosts come first and --throttle is 1: each stops
    holding the one place once it is seen stalling, so the healthy hosts
    run long before the hanging ones' connect timeout ends (before, two
    hanging hosts filled every place until the first timed out)."""
    ds, c = fleet(env, 6)
    hung = ds[:3]
    for d in hung:
        os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.time()
        r = c.run("invoke", "-H", "@web", "--throttle", "1", "--connect-timeout", "10",
                  "--", "date +%s.%N", timeout=120)
        t1 = time.time()
    finally:
        for d in hung:
            os.kill(d.proc.pid, signal.SIGCONT)
    assert r.returncode == 1 and "3 of 6 hosts failed" in r.stderr, r.stderr
    ran = dict(l.split(": ", 1) for l in r.stdout.splitlines())
    assert sorted(ran) == names(6)[3:], r.stdout
    # every healthy command ran before the first hanging host gave up
    assert all(float(v) < t0 + 10 for v in ran.values()), (t0, ran)
    assert t1 >= t0 + 10   # and the hanging ones did cost their timeout,
    # once: a host never reached has no temporary session to remove (a
    # removal would have cost a second connect timeout, 20 s in all)
    assert t1 < t0 + 20, t1 - t0
    # the temporary sessions went with the replies that ended their output
    # (?remove=1): no DELETE request, nothing left behind
    for d in ds[3:]:
        assert 'method="DELETE"' not in d.log(), d.port
        assert d.query("SELECT count(*) FROM sessions") == [(0,)]
    print(f"  healthy hosts ran {max(float(v) for v in ran.values()) - t0:.2f} s in, "
          f"the hanging ones ended at {t1 - t0:.2f} s")


def check_fleet_session_from_another_client(env, ds, c):
    n = len(ds)
    r = c.run("session", "new", "@web", "--name", "deploy", "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [o["host"] for o in doc] == names(n)
    assert all(o["session"]["name"] == "deploy" and o["error"] is None for o in doc)
    r = c.run("invoke", "-s", "@web/deploy", "--", "X=kept; cd /", timeout=60)
    assert r.returncode == 0, r.stderr
    # an invoke the client walks away from keeps running on every host
    p = c.popen("invoke", "-s", "@web/deploy", "--throttle", str(n), "--",
                "sleep 3; echo late-$X")
    q = ("SELECT count(*) FROM jobs j JOIN sessions s ON j.session_id = s.id "
         "WHERE s.name = 'deploy'")
    for d in ds:   # started everywhere (the earlier invoke is the first job)
        wait_for(lambda: d.query(q) == [(2,)], timeout=60, what="the invoke started")
    p.kill()
    p.wait()
    r = c.run("session", "disconnect", "@web/deploy", timeout=60)
    assert r.returncode == 0, r.stderr
    per_host = c.json("session", "list", "@web")
    assert [o["host"] for o in per_host] == names(n), per_host
    assert {s["state"] for o in per_host for s in o["sessions"]} == {"Disconnected"}, per_host
    # another client machine picks up every host's session and its output
    b = env.client("b")
    r = b.run("login", "@web", "--user", "alice", "--password-stdin", "--accept-new",
              "--throttle", "4", input=PASSWORD + "\n", timeout=120)
    assert r.returncode == 0, r.stderr
    r = b.run("session", "connect", "@web/deploy", timeout=60)
    assert r.returncode == 0, r.stderr
    r = b.run("session", "receive", "@web/deploy", timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == [f"{h}: late-kept" for h in names(n)], \
        r.stdout[-300:]
    # partial failure is reported per host, never hidden
    ds[3].stop()
    r = b.run("session", "remove", "@web/deploy", timeout=60)
    assert r.returncode == 1 and "web04: cannot reach" in r.stderr, r.stderr
    assert f"1 of {n} hosts failed" in r.stderr, r.stderr
    for d in ds[:3]:
        assert d.query("SELECT count(*) FROM sessions") == [(0,)]
    ds[3].start()


def test_job_start_on_fleet_and_argument_mistakes(env):
    ds, c = fleet(env, 3)
    c.run("session", "new", "@web", "--name", "w", timeout=60)
    r = c.run("job", "start", "@web/w", "--name", "bg", "--json", "--", "echo bg-out",
              timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [o["job"]["name"] for o in doc] == ["bg"] * 3, doc
    # two sessions before "--" is a mistake, not "S2 cmd" run in S1
    s1 = f"{ds[0].host}/w"
    s2 = f"{ds[1].host}/w"
    r = c.run("job", "start", s1, s2, "--", "echo", "hi")
    assert r.returncode == 2 and "one SESSION" in r.stderr, r.stderr
    # repeated -H and -s accumulate
    r = c.run("invoke", "-H", ds[0].host, "-H", ds[1].host, "--", "echo acc")
    assert r.returncode == 0 and r.stdout.count(": acc") == 2, (r.stdout, r.stderr)
    r = c.run("invoke", "-s", s1, "-s", s2, "--", "echo acc2")
    assert r.returncode == 0 and r.stdout.count(": acc2") == 2, (r.stdout, r.stderr)
    # enter goes to one host only
    r = c.run("enter", "@web/w")
    assert r.returncode == 2 and "one host" in r.stderr, r.stderr
    # bad targets are usage errors that name the problem
    r = c.run("invoke", "-H", "web[3-1]", "--", "true")
    assert r.returncode == 2, r.stderr
    r = c.run("invoke", "-H", "@nosuchgroup", "--", "true")
    assert r.returncode == 2 and "nosuchgroup" in r.stderr, r.stderr


def check_parent_and_child_jobs(env, ds, c):
    n = len(ds)
    r = c.run("invoke", "-H", "@web", "--as-job", "--job-name", "roll", "--json", "--",
              "echo from-$((3*3)); sleep 1; echo done >&2", timeout=60)
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    # children start one after another: the first may be done before the last starts
    assert job["name"] == "roll" and job["state"] in ("Running", "Completed"), job["state"]
    kids = job["children"]
    assert sorted(k["host"] for k in kids) == names(n) and all(k["parent"] == job["id"]
                                                                 for k in kids), len(kids)
    # the parent is listed once, its children under it
    listed = c.json("job", "list")
    assert [j["name"] for j in listed] == ["roll"] and len(listed[0]["children"]) == n
    r = c.run("job", "wait", "roll", "--timeout", "60", timeout=90)
    assert r.returncode == 0, r.stderr
    assert c.json("job", "list")[0]["state"] == "Completed"
    # one host's output, then everyone's, prefixed
    r = c.run("job", "receive", "roll", "--host", "web02", "--keep")
    assert r.returncode == 0 and r.stdout == "web02: from-9\n", (r.stdout, r.stderr)
    assert "web02: done" in r.stderr
    r = c.run("job", "receive", "roll")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == [f"{h}: from-9" for h in names(n)], r.stdout
    # a failing child makes the parent Failed; stop and remove act on every child
    r = c.run("invoke", "-H", "@web", "--as-job", "--job-name", "bad", "--",
              "[ -e /nonexistent-$((1)) ] || sleep 30", timeout=60)
    assert r.returncode == 0, r.stderr
    r = c.json("job", "stop", "bad")
    assert r[0]["state"] in ("Stopped", "Failed"), r
    assert {k["state"] for k in r[0]["children"]} <= {"Stopped", "Failed"}, r
    for name in ("roll", "bad"):
        r = c.run("job", "remove", name)
        assert r.returncode == 0, r.stderr
    assert c.json("job", "list") == []
    # the sessions made for the jobs went with them
    for d in ds:
        assert d.query("SELECT count(*) FROM sessions") == [(0,)]


def test_transfer_start_on_a_fleet_session(env):
    if os.geteuid() != 0:
        print("SKIPPED: needs root (transfers run as the owner's account)")
        return
    ds, c = fleet(env, 2)
    acct = H.os_account("alice")
    src = os.path.join(env.root, "payload.bin")
    with open(src, "wb") as f:
        f.write(os.urandom(300000))
    os.chmod(src, 0o644)
    dst = os.path.join(env.root, "dst")
    os.makedirs(dst)
    subprocess.run(["chown", acct, dst], check=True)
    assert c.run("session", "new", "@web", "--name", "t").returncode == 0
    # the hosts share this machine's disk: keep their partial files apart by
    # giving web02's transfer another job id
    assert c.run("job", "start", f"{ds[1].host}/t", "--", "true").returncode == 0
    r = c.run("transfer", "start", "-s", "@web/t", src, dst + "/payload.bin", "--json",
              timeout=120)
    assert r.returncode == 0, r.stderr[-400:]
    doc = json.loads(r.stdout)
    assert [o["host"] for o in doc] == names(2), doc
    for o in doc:
        assert o["error"] is None and len(o["transfers"]) == 1, o
        assert o["transfers"][0]["state"] == "Acknowledged", o["transfers"][0]["state"]
    with open(src, "rb") as a, open(dst + "/payload.bin", "rb") as b:
        assert a.read() == b.read()
    # a host that is down is named; the others go ahead
    ds[1].stop()
    r = c.run("transfer", "start", "-s", "@web/t", src, dst + "/again.bin", timeout=120)
    assert r.returncode == 1 and "web02" in r.stderr and "1 of 2 hosts failed" in r.stderr, \
        r.stderr[-400:]
    assert "web01: transfer" in r.stdout and os.path.exists(dst + "/again.bin"), r.stdout


def test_status_line_on_a_terminal_only(env):
    ds, c = fleet(env, 3)
    cmd = f"{H.TETHER} invoke -H @web --throttle 1 -- 'sleep 0.7; echo fin'"
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], env=c.env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout[-300:]
    # on a terminal: the live line (counts and the slowest host), cleared again
    assert "running, 2 waiting; slowest: web01" in r.stdout, r.stdout[-500:]
    assert "\x1b[K" in r.stdout and r.stdout.count(": fin") == 3
    # not a terminal: no live line at all
    r = c.run("invoke", "-H", "@web", "--throttle", "1", "--", "sleep 0.5")
    assert r.returncode == 0 and "waiting" not in r.stderr and "\x1b" not in r.stderr, r.stderr


def table_writes(home, run):
    """How many times run() replaced home/jobs.json: each write creates a
    temporary file and renames it onto jobs.json (fileio_write_atomic), which
    inotify queues as IN_CREATE, IN_MOVED_TO. The queue is read once run()
    has returned, so the count is exact (the creates keep inotify from
    merging the repeated IN_MOVED_TO events into one)."""
    IN_CREATE, IN_MOVED_TO = 0x100, 0x80
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    assert fd >= 0, ctypes.get_errno()
    try:
        assert libc.inotify_add_watch(fd, home.encode(), IN_CREATE | IN_MOVED_TO) >= 0
        result = run()
        data = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            data += chunk
    finally:
        os.close(fd)
    writes, at = 0, 0
    while at < len(data):
        _, mask, _, n = struct.unpack_from("iIII", data, at)
        name = data[at + 16:at + 16 + n].rstrip(b"\0")
        writes += mask & IN_MOVED_TO != 0 and name == b"jobs.json"
        at += 16 + n
    return result, writes


def test_fleet_job_operations_write_the_table_once(env):
    """A fleet job of many children (several names per daemon): stop and
    remove each rewrite jobs.json once, not once per child."""
    per, ds = 6, [env.daemon(f"d{i}") for i in range(2)]
    for d in ds:
        d.add_user("alice")
    c = env.client()
    inv = os.path.join(env.root, "inventory")
    with open(inv, "w") as f:
        f.write("[many]\n")
        for i in range(per * len(ds)):
            f.write(f"h{i + 1:02d} ansible_host=127.0.0.1 ansible_port={ds[i % 2].port}\n")
    os.environ["TETHER_INVENTORY"] = inv
    r = c.run("login", "@many", "--user", "alice", "--password-stdin", "--accept-new",
              "--throttle", "4", input=PASSWORD + "\n", timeout=120)
    assert r.returncode == 0, r.stderr
    n = per * len(ds)
    r = c.run("invoke", "-H", "@many", "--as-job", "--job-name", "many", "--json", "--",
              "sleep 30", timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["children"]) == n, r.stdout
    # every child is running: stop asks each host and stores what it said
    r, writes = table_writes(c.home, lambda: c.run("job", "stop", "many", "--json",
                                                   timeout=120))
    assert r.returncode == 0, r.stderr
    kids = json.loads(r.stdout)[0]["children"]
    assert len(kids) == n and {k["state"] for k in kids} <= {"Stopped", "Failed"}, kids
    assert writes == 1, writes
    # every child has ended: wait has nothing to store, remove drops all at once
    r, writes = table_writes(c.home, lambda: c.run("job", "wait", "many", "--timeout", "30",
                                                   timeout=60))
    assert r.returncode == 0 and writes == 0, (r.stderr, writes)
    r, writes = table_writes(c.home, lambda: c.run("job", "remove", "many", timeout=120))
    assert r.returncode == 0, r.stderr
    assert writes == 1, writes
    assert c.json("job", "list") == []
    for d in ds:   # the sessions made for the children went with them
        assert d.query("SELECT count(*) FROM sessions") == [(0,)]


if __name__ == "__main__":
    main(globals())
