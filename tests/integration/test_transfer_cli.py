"""The transfer commands' command line, without a daemon: every verb's
--help, and the usage errors (exit 2, one "tether: ..." line and the usage)
that must be caught before any request is made. Input that passes the
local checks gets as far as the login lookup (exit 255, not_logged_in),
which shows it was not refused here.

Runs tether in a new session (no controlling terminal), so nothing can
prompt for a password.
"""
import json
import os
import subprocess

from harness import TETHER, main

S = "nohost.invalid:7443/S1"
HEX = "ab" * 32


def run(env, *args, input=None):
    home = os.path.join(env.root, "home")
    os.makedirs(home, exist_ok=True)
    return subprocess.run([TETHER] + list(args), input=input, capture_output=True, text=True,
                          env=dict(os.environ, TETHER_HOME=home), timeout=30,
                          start_new_session=True,
                          stdin=None if input is not None else subprocess.DEVNULL)


def write(env, name, text):
    path = os.path.join(env.root, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def usage_error(env, args, expect, input=None):
    r = run(env, *args, input=input)
    assert r.returncode == 2, f"{args}: exit {r.returncode}: {r.stderr}"
    first = r.stderr.splitlines()[0]
    assert first.startswith("tether: ") and expect in first, f"{args}: {r.stderr!r}"
    assert r.stdout == "", r.stdout


def test_help(env):
    for verb in ("start", "list", "show", "complete", "suspend", "resume", "remove", "set",
                 "wait"):
        r = run(env, "transfer", verb, "--help")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"usage: tether transfer {verb} -s SESSION"), r.stdout
        assert "Example:\n  tether transfer " + verb in r.stdout, r.stdout
    r = run(env, "transfer", "start", "-h")
    for opt in ("--upload", "--async", "--suspended", "--name", "--priority", "--user",
                "--password-stdin", "--auth", "--proxy-usage", "--proxy-list",
                "--proxy-bypass", "--proxy-user", "--csv", "--sha256", "--cacert", "--insecure",
                "--notify-cmd", "--retry-delay", "--no-progress-timeout", "--max-rate"):
        assert f"  {opt}" in r.stdout, opt
    assert "foreground when waiting, normal with --async" in r.stdout
    top = run(env, "--help").stdout
    assert "transfer start" in top and "transfer set" in top


def test_usage_errors(env):
    pem = write(env, "not.pem", "hello\n")
    bad_csv = write(env, "bad.csv", "Source, Destination\nhttps://h/a, /d/\nhttps://h/b\n")
    head_csv = write(env, "head.csv", "source,destination\n\n")
    cases = [
        (["transfer", "start", "https://h/a", "/d/"], "-s SESSION is required"),
        (["transfer", "start", "-s", S, "https://h/a"], "expected SOURCE... DESTINATION"),
        (["transfer", "start", "-s", S, "https://h/*.iso", "/d/"], "not allowed in a URL"),
        (["transfer", "start", "-s", S, "https://h/a[1].iso", "/d/"], "not allowed in a URL"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/x?"], "not allowed in the destination"),
        (["transfer", "start", "-s", S, "--upload", "/srv/a", "/d/"], "must be a URL"),
        (["transfer", "start", "-s", S, "--upload", "/srv/a", "https://h/*"], "not allowed in a URL"),
        (["transfer", "start", "-s", S, "https://h/a", "https://h/b"], "not a URL"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--priority", "urgent"], "--priority"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--auth", "ntlm"], "--auth goes with --user"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--user", "u", "--auth", "x",
          "--password-stdin"], "--auth takes"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--user", "u"], "--password-stdin"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--password-stdin"], "goes with --user"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--proxy-usage", "auto"], "--proxy-usage takes"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--proxy-usage", "override"], "needs --proxy-list"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--proxy-usage", "none",
          "--proxy-list", "http://p:1"], "go with --proxy-usage override"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--proxy-list", "a,,b"], "empty"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--sha256", "abc"], "64 hexadecimal"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--sha256", "g" * 64], "64 hexadecimal"),
        (["transfer", "start", "-s", S, "https://h/a", "https://h/b", "/d/", "--sha256", HEX], "single SOURCE"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--cacert", pem, "--insecure"], "exclude each other"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--cacert", pem], "not a PEM"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--cacert", "/nonexistent"], "cannot read"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--retry-delay", "0"], "--retry-delay takes"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--max-rate", "-1"], "--max-rate takes"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--no-progress-timeout", "1h"], "--no-progress-timeout"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--name", "1st"], "invalid --name"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--bogus"], "--bogus"),
        (["transfer", "start", "-s", S, "--csv", bad_csv], "line 3: expected two fields"),
        (["transfer", "start", "-s", S, "--csv", head_csv], "has no Source, Destination rows"),
        (["transfer", "start", "-s", S, "--csv", bad_csv, "/d/"], "no SOURCE or DESTINATION"),
        (["transfer", "start", "-s", S, "--csv", bad_csv, "--sha256", HEX], "not with --csv"),
        (["transfer", "start", "-s", S, "--csv", env.root], "not a regular file"),
        (["transfer", "list"], "expected -s SESSION or one HOST"),
        (["transfer", "list", "-s", S, "extra"], "expected -s SESSION or one HOST"),
        (["transfer", "list", "h1", "h2"], "expected -s SESSION or one HOST"),
        (["transfer", "list", S], "is a SESSION: give it with -s"),
        (["transfer", "wait", "-s", S], "at least one JOB"),
        (["transfer", "wait", "-s", S, "J", "--timeout", "1.2345"], "--timeout"),
        (["transfer", "start", "-s", S, "https://h/a", "/d/", "--proxy-usage", "none",
          "--proxy-user", "u"], "not with --proxy-usage none"),
        (["transfer", "list", "-s", S, "--priority", "low"], "--priority"),
        (["transfer", "show", "-s", S], "exactly one JOB"),
        (["transfer", "show", "-s", S, "a", "b"], "exactly one JOB"),
        (["transfer", "complete", "-s", S], "at least one JOB"),
        (["transfer", "remove", "-s", S], "at least one JOB"),
        (["transfer", "set", "-s", S, "Job1"], "nothing to change"),
        (["transfer", "set", "-s", S, "Job1", "--priority", "top"], "--priority"),
        (["transfer", "set", "-s", S, "Job1", "--name", "x"], "--name"),
        (["transfer", "set", "-s", S, "Job1", "Job2", "--priority", "low"], "exactly one JOB"),
    ]
    for args, expect in cases:
        usage_error(env, args, expect)
    # an empty stdin is no password line
    usage_error(env, ["transfer", "start", "-s", S, "https://h/a", "/d/", "--user", "u",
                      "--password-stdin"], "no password line", input="")
    # a job reference that cannot be one is refused before any request
    r = run(env, "transfer", "show", "-s", S, "a/b", "--json")
    assert r.returncode == 2, r.stderr
    assert json.loads(r.stdout)["error"]["code"] == "usage"


def test_valid_input_gets_to_login(env):
    """What passes the local checks is sent on (here: refused for want of a
    login), including a URL with a query string and an IPv6 literal."""
    csv = write(env, "ok.csv", '\ufeffSource, Destination\r\n"https://h/a,b.iso", " /d/x y/"\r\n')
    cert = write(env, "ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    for args, stdin in [
        (["https://h/a.iso?sig=a*b[1]", "https://[::1]:8443/b.iso", "/data/"], None),
        (["--csv", csv, "--name", "nightly", "--async"], None),
        (["--upload", "/srv/*.log", "https://h/up/", "--priority", "low", "--max-rate", "0"], None),
        (["https://h/a", "/d/", "--user", "u", "--password-stdin", "--auth", "any",
          "--proxy-list", "http://p:3128, http://q:3128", "--proxy-bypass", "a,b",
          "--sha256", HEX.upper(), "--cacert", cert, "--notify-cmd", "echo done",
          "--retry-delay", "60", "--no-progress-timeout", "0", "--suspended"], "pw\n"),
    ]:
        r = run(env, "transfer", "start", "-s", S, *args, "--json", input=stdin)
        assert r.returncode == 255, f"{args}: exit {r.returncode}: {r.stderr}"
        assert json.loads(r.stdout)["error"]["code"] == "not_logged_in", r.stdout
        assert "pw" not in r.stderr + r.stdout
    r = run(env, "transfer", "start", "-s", S, "https://h/a", "/d/", "--insecure")
    assert r.returncode == 255
    assert "WARNING: --insecure" in r.stderr, r.stderr


if __name__ == "__main__":
    main(globals())
