"""Local jobs (invoke --as-job): the job object lives in this client's job
table while the command runs as an invoke in a remote session; receive
copies its output to this client, where --keep can read it again even when
the host is down. The job verbs without -s act on this table."""
import json
import os
import stat
import subprocess
import time

from harness import expect_error, main, wait_for
from test_buffering import dropped_of, expected, run_bytes
from test_invoke import inv, setup


def as_job(c, s, cmd, *extra):
    return c.json("invoke", "-s", s, "--as-job", *extra, "--", cmd)


def local_jobs(c):
    return {j["name"]: j for j in c.json("job", "list")}


def second_session(c, d, name="w2"):
    c.json("session", "new", d.host, "--name", name)
    return f"{d.host}/{name}"


def gone(pid):
    try:
        return open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_as_job_returns_at_once_and_lists(env):
    d, c, s = setup(env)
    t0 = time.monotonic()
    j = as_job(c, s, "echo started; sleep 30")
    assert time.monotonic() - t0 < 10, "invoke --as-job waited for the command"
    assert (j["id"], j["name"], j["type"], j["state"]) == (1, "Job1", "invoke", "Running"), j
    assert j["location"] == d.host and j["session"] == f"{d.host}/w", j
    assert j["command"] == "echo started; sleep 30" and j["children"] == []
    assert j["exit_code"] is None and j["ended"] is None and j["started"]
    # the local job points at the remote invoke
    remote = [x for x in c.json("job", "list", "-s", s) if x["id"] == j["remote"]["job_id"]]
    assert len(remote) == 1 and remote[0]["type"] == "invoke", remote
    assert remote[0]["state"] == "Running"
    # job list without -s: the same table as with -s, state refreshed (once
    # the command's first line is there: on a loaded machine it may not be yet)
    wait_for(lambda: c.json("job", "list")[0]["has_more_data"], 30, "the first output")
    r = c.run("job", "list")
    assert r.returncode == 0, r.stderr
    head, row = r.stdout.splitlines()
    assert head.split() == ["ID", "NAME", "TYPE", "STATE", "HASMOREDATA", "LOCATION", "COMMAND"]
    assert row.split()[:6] == ["1", "Job1", "invoke", "Running", "True", d.host], row
    lst = c.json("job", "list")
    assert len(lst) == 1
    assert {"id", "name", "type", "state", "has_more_data", "location", "command", "exit_code",
            "started", "ended", "session", "children"} <= set(lst[0]), lst[0]
    # the invoke holds the session: a second one is refused and leaves no local job
    r = c.run("invoke", "-s", s, "--as-job", "--", "true")
    assert r.returncode == 255 and "busy" in r.stderr, (r.returncode, r.stderr)
    assert [x["name"] for x in c.json("job", "list")] == ["Job1"]
    # the table form of invoke --as-job
    s2 = second_session(c, d)
    r = c.run("invoke", "-s", s2, "--as-job", "--job-name", "two", "--", "sleep 30")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split()[:4] == ["2", "two", "invoke", "Running"], r.stdout
    stopped = c.json("job", "stop", "1", "two")
    assert [x["state"] for x in stopped] == ["Stopped", "Stopped"], stopped


def test_receive_consumes_unless_keep(env):
    d, c, s = setup(env)
    j = as_job(c, s, "echo one; echo two >&2; exit 3", "--job-name", "r1")
    assert c.run("job", "wait", "r1").returncode == 0
    got = local_jobs(c)["r1"]
    assert got["state"] == "Failed" and got["exit_code"] == 3 and got["has_more_data"] is True
    r = c.run("job", "receive", "r1", "--keep")
    assert (r.returncode, r.stdout, r.stderr) == (0, "one\n", "two\n"), r
    # copied here, so acknowledged on the remote side; still undelivered here
    remote = [x for x in c.json("job", "list", "-s", s) if x["id"] == j["remote"]["job_id"]]
    assert remote[0]["has_more_data"] is False, remote
    assert local_jobs(c)["r1"]["has_more_data"] is True
    r = c.run("job", "receive", str(j["id"]))
    assert (r.returncode, r.stdout, r.stderr) == (0, "one\n", "two\n"), r
    assert local_jobs(c)["r1"]["has_more_data"] is False
    r = c.run("job", "receive", "r1")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r
    # --json: the remote form's document
    as_job(c, s, "printf 'a\\nb'; echo e >&2", "--job-name", "js")
    c.run("job", "wait", "js")
    doc = c.json("job", "receive", "js")
    assert doc["stdout"] == "a\nb" and doc["stderr"] == "e\n" and doc["exit_code"] == 0, doc
    assert doc["job"]["name"] == "js" and doc["job"]["has_more_data"] is False


def test_receive_wait_to_completion(env):
    d, c, s = setup(env)
    as_job(c, s, "echo a; sleep 1.5; echo b; exit 7", "--job-name", "w7")
    # part of the output first, then the rest with --wait: nothing repeated
    wait_for(lambda: c.run("job", "receive", "w7").stdout == "a\n", what="first line")
    r = c.run("job", "receive", "w7", "--wait")
    assert (r.returncode, r.stdout) == (7, "b\n"), (r.returncode, r.stdout, r.stderr)
    got = local_jobs(c)["w7"]
    assert got["state"] == "Failed" and got["exit_code"] == 7 and got["ended"], got
    # once everything is here, --wait answers from the copy
    r = c.run("job", "receive", "w7", "--wait")
    assert (r.returncode, r.stdout) == (7, ""), (r.returncode, r.stdout, r.stderr)
    as_job(c, s, "echo x; kill -TERM $$", "--job-name", "sig")
    r = c.run("job", "receive", "sig", "--wait", "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 143 and doc["exit_code"] == 143 and doc["stdout"] == "x\n", r


def test_wait_any_timeout_and_remove(env):
    d, c, s = setup(env)
    s2 = second_session(c, d)
    fast = as_job(c, s, "exit 3")
    slow = as_job(c, s2, "sleep 30")
    r = c.run("job", "wait", str(fast["id"]), str(slow["id"]), "--any", "--json")
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    assert [x["id"] for x in done] == [fast["id"]] and done[0]["state"] == "Failed"
    assert done[0]["exit_code"] == 3
    r = c.run("job", "wait", slow["name"], "--timeout", "1")
    assert r.returncode == 1 and "timed out" in r.stderr, (r.returncode, r.stderr)
    r = c.run("job", "remove", slow["name"])
    assert r.returncode == 255 and "is running" in r.stderr and "--force" in r.stderr, r.stderr
    assert slow["name"] in local_jobs(c)
    r = c.run("job", "remove", slow["name"], "--force")
    assert r.returncode == 0, r.stderr
    assert list(local_jobs(c)) == [fast["name"]]
    # removed on the remote host too, and its process is gone
    assert all(x["id"] != slow["remote"]["job_id"] for x in c.json("job", "list", "-s", s2))
    assert inv(c, s2, "echo free").stdout == "free\n"
    # ids come from the table and are not reused
    r = c.run("job", "remove", fast["name"])
    assert r.returncode == 0, r.stderr
    assert as_job(c, s, "true")["id"] == slow["id"] + 1
    assert not os.path.exists(os.path.join(c.home, "jobs", f"{fast['id']}.log"))


def test_stop_kills_the_tree(env):
    d, c, s = setup(env)
    j = as_job(c, s, "sleep 100 & echo $!; sleep 100 & echo $!; wait")
    pids = []

    def more():
        pids.extend(int(x) for x in c.run("job", "receive", str(j["id"])).stdout.split())
        return len(pids) == 2
    wait_for(more, what="child pids")
    stopped = c.json("job", "stop", str(j["id"]))
    assert stopped[0]["state"] == "Stopped", stopped
    wait_for(lambda: all(gone(p) for p in pids), what="children gone")
    r = c.run("job", "receive", str(j["id"]), "--wait")
    assert r.returncode == 143, (r.returncode, r.stderr)
    # stopping a job that has ended leaves it as it is
    assert c.json("job", "stop", str(j["id"]))[0]["state"] == "Stopped"


def test_unknown_and_bad_references(env):
    d, c, s = setup(env)
    for verb in (["receive"], ["wait"], ["stop"], ["remove"]):
        for ref in ("7", "nosuch"):
            r = c.run("job", *verb, ref)
            assert r.returncode == 255, (verb, ref, r.returncode)
            assert f"no local job '{ref}'" in r.stderr, r.stderr
    r = c.run("job", "receive", "nosuch", "--json")
    assert r.returncode == 255
    expect_error(json.loads(r.stdout), "not_found")
    r = c.run("job", "receive", "../x")
    assert r.returncode == 2 and "invalid job" in r.stderr
    r = c.run("invoke", "-s", s, "--as-job", "--job-name", "9bad", "--", "true")
    assert r.returncode == 2 and "invalid job name" in r.stderr, r.stderr
    r = c.run("invoke", "-s", s, "--job-name", "x", "--", "true")
    assert r.returncode == 2 and "--as-job" in r.stderr
    r = c.run("invoke", "-H", d.host, "--as-job", "--", "true")
    assert r.returncode == 2 and "--as-job goes with -s" in r.stderr, r.stderr
    # a duplicate name is refused before anything runs remotely
    as_job(c, s, "true", "--job-name", "dup")
    c.run("job", "wait", "dup")
    before = len(c.json("job", "list", "-s", s))
    r = c.run("invoke", "-s", s, "--as-job", "--job-name", "dup", "--", "touch /tmp/never")
    assert r.returncode == 255 and "already has a local job named 'dup'" in r.stderr, r.stderr
    assert len(c.json("job", "list", "-s", s)) == before
    assert list(local_jobs(c)) == ["dup"]
    # a session that does not exist makes no local job
    r = c.run("invoke", "-s", f"{d.host}/nosuch", "--as-job", "--", "true")
    assert r.returncode == 255 and list(local_jobs(c)) == ["dup"]


def test_keep_works_offline(env):
    d, c, s = setup(env)
    s2 = second_session(c, d)
    done = as_job(c, s2, "echo done-output", "--job-name", "done")
    c.run("job", "wait", "done")
    assert c.run("job", "receive", "done", "--keep").stdout == "done-output\n"
    run = as_job(c, s, "echo first; echo on-err >&2; sleep 30", "--job-name", "run")
    wait_for(lambda: c.run("job", "receive", "run", "--keep").stdout == "first\n",
             what="first output")
    assert d.stop() == 0
    r = c.run("job", "receive", "run", "--keep")
    assert (r.returncode, r.stdout) == (0, "first\n"), (r.returncode, r.stdout, r.stderr)
    assert "on-err\n" in r.stderr and "warning" in r.stderr and "cannot reach" in r.stderr
    # a job whose output is all here needs no host at all
    r = c.run("job", "receive", "done", "--keep")
    assert (r.returncode, r.stdout, r.stderr) == (0, "done-output\n", ""), r
    # the list goes on: last known state as Disconnected, finished jobs as they were
    r = c.run("job", "list")
    assert r.returncode == 0, r.stderr
    rows = {ln.split()[1]: ln.split() for ln in r.stdout.splitlines()[1:]}
    assert rows["run"][3] == "Disconnected" and rows["done"][3] == "Completed", r.stdout
    got = local_jobs(c)["run"]
    assert got["state"] == "Disconnected" and got["last_known_state"] == "Running"
    assert "cannot reach" in got["error"]
    # following needs the host; so does waiting
    r = c.run("job", "receive", "run", "--wait", "--keep")
    assert r.returncode == 255 and r.stdout == "first\n" and "cannot reach" in r.stderr
    r = c.run("job", "wait", "run")
    assert r.returncode == 255 and "cannot reach" in r.stderr
    r = c.run("job", "stop", "run")
    assert r.returncode == 255 and "cannot reach" in r.stderr
    # consume offline; then there is nothing to show, which is a failure
    r = c.run("job", "receive", "run")
    assert (r.returncode, r.stdout) == (0, "first\n"), r
    r = c.run("job", "receive", "run")
    assert r.returncode == 255 and r.stdout == "" and "cannot reach" in r.stderr, r
    # removing needs the host, unless --force (which only forgets it here)
    r = c.run("job", "remove", "run")
    assert r.returncode == 255 and "kept" in r.stderr, r.stderr
    d.start()
    r = c.run("job", "list")
    assert "Running" in r.stdout, r.stdout
    assert d.stop() == 0
    r = c.run("job", "remove", "run", "--force")
    assert r.returncode == 0 and "was not removed" in r.stderr, r.stderr
    assert list(local_jobs(c)) == ["done"]
    d.start()
    remote = [x for x in c.json("job", "list", "-s", s) if x["id"] == run["remote"]["job_id"]]
    assert remote and remote[0]["state"] == "Running", remote
    c.json("job", "stop", "-s", s, str(run["remote"]["job_id"]))


def test_table_files_and_client_isolation(env):
    d, c, s = setup(env)
    j = as_job(c, s, "printf out; printf err >&2", "--job-name", "files")
    r = c.run("job", "receive", "files", "--wait", "--keep")
    assert (r.returncode, r.stdout, r.stderr) == (0, "out", "err"), r
    mode = lambda p: stat.S_IMODE(os.stat(os.path.join(c.home, p)).st_mode)
    assert mode("jobs.json") == 0o600 and mode("jobs.lock") == 0o600
    assert mode("jobs") == 0o700 and mode("jobs/1.log") == 0o600
    table = json.load(open(os.path.join(c.home, "jobs.json")))
    e = table["jobs"][0]
    assert table["version"] == 1 and (e["name"], e["host"], e["session"]) == ("files", d.host, "w")
    assert e["remote_id"] == j["remote"]["job_id"] and e["fetched"] == e["log_size"] == 16
    # the copy uses the output log's framing: stream byte, 32-bit LE length, payload
    raw = open(os.path.join(c.home, "jobs", "1.log"), "rb").read()
    assert raw == b"\x01\x03\x00\x00\x00out\x02\x03\x00\x00\x00err", raw
    # another TETHER_HOME is another client machine: it has no local jobs
    b = env.client("b")
    b.login(d, "alice")
    r = b.run("job", "list")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "no jobs\n"), r
    assert b.json("job", "list") == []
    r = b.run("job", "receive", "files")
    assert r.returncode == 255 and "no local job 'files'" in r.stderr
    assert [x["name"] for x in c.json("job", "list")] == ["files"]
    # a damaged table is reported, not silently replaced
    with open(os.path.join(b.home, "jobs.json"), "w") as f:
        f.write('{"version": 1, "next_id": 1, "jobs": [{"id": "x"}]}')
    r = b.run("job", "list")
    assert r.returncode == 255 and "damaged" in r.stderr, r.stderr


def test_remote_job_gone(env):
    d, c, s = setup(env)
    as_job(c, s, "echo kept-here; sleep 30", "--job-name", "g")
    wait_for(lambda: c.run("job", "receive", "g", "--keep").stdout == "kept-here\n",
             what="output copied")
    assert c.run("session", "remove", s).returncode == 0
    got = local_jobs(c)["g"]
    assert got["state"] == "Failed" and "no longer exists" in got["error"], got
    # what was copied is still here, without asking the host
    r = c.run("job", "receive", "g", "--wait")
    assert (r.returncode, r.stdout) == (255, "kept-here\n"), (r.returncode, r.stdout, r.stderr)
    assert "no longer exists" in r.stderr
    assert c.run("job", "remove", "g").returncode == 0
    assert local_jobs(c) == {}


def test_dropped_output_is_noted_in_the_copy(env):
    d, c, s = setup(env, config={"output_cap": 1024 * 1024})
    c.json("session", "new", d.host, "--name", "dr", "--output-buffering", "drop")
    lines = 600_000   # about 4.5 MB, nobody receiving while it runs
    as_job(c, f"{d.host}/dr", f"seq 1 {lines}", "--job-name", "big")
    assert c.run("job", "wait", "big", timeout=120).returncode == 0
    r = run_bytes(c, "job", "receive", "big", "--wait", "--keep")
    assert r.returncode == 0, r.stderr[-500:]
    want = expected(lines)
    lost, notes = dropped_of(r.stderr)
    assert notes >= 1 and lost > 0 and len(r.stdout) + lost == len(want), (lost, notes)
    assert want.endswith(r.stdout)
    # the notice is part of the copy: shown again with the same bytes
    again = run_bytes(c, "job", "receive", "big")
    assert again.returncode == 0 and again.stdout == r.stdout
    assert dropped_of(again.stderr) == (lost, notes)


def test_state_is_saved_after_as_job(env):
    d, c, s = setup(env)
    as_job(c, s, "export SETBYJOB=from-job; cd /tmp; echo set", "--job-name", "st")
    assert c.run("job", "wait", "st").returncode == 0
    assert inv(c, s, 'echo "$SETBYJOB $PWD"').stdout == "from-job /tmp\n"


def test_concurrent_receivers_copy_once(env):
    d, c, s = setup(env)
    as_job(c, s, "for i in $(seq 1 60); do echo line$i; sleep 0.02; done", "--job-name", "cc")
    procs = [c.popen("job", "receive", "cc", "--wait", "--keep") for _ in range(3)]
    want = "".join(f"line{i}\n" for i in range(1, 61))
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0 and out.decode() == want, (p.returncode, out, err)
    r = c.run("job", "receive", "cc")
    assert r.stdout == want
    assert c.run("job", "receive", "cc").stdout == ""


def test_help_describes_both_forms(env):
    c = env.client()
    for verb in ("list", "receive", "wait", "stop", "remove"):
        r = c.run("job", verb, "-h")
        assert r.returncode == 0 and "-s, --session" in r.stdout, (verb, r.stdout)
        assert "local jobs" in r.stdout and "--as-job" in r.stdout, (verb, r.stdout)
    r = c.run("invoke", "-h")
    assert "--as-job" in r.stdout and "--job-name" in r.stdout and "job list" in r.stdout


if __name__ == "__main__":
    main(globals())
