"""The command line as every command parses it (client/cli/args.c), without
a daemon: repeated -H and -s add up to a fleet, any other value option given
twice is refused, and an unknown option or a missing value is a usage error
(exit 2, a "tether: ..." line, then the command's usage) before anything is
sent. Targets that pass get as far as the login lookup (not logged in).
"""
import os
import subprocess

from harness import TETHER, main


def run(env, *args):
    home = os.path.join(env.root, "home")
    os.makedirs(home, exist_ok=True)
    return subprocess.run([TETHER] + list(args), capture_output=True, text=True,
                          env=dict(os.environ, TETHER_HOME=home), timeout=30,
                          start_new_session=True, stdin=subprocess.DEVNULL)


def usage_error(env, args, expect):
    r = run(env, *args)
    assert r.returncode == 2, f"{args}: exit {r.returncode}: {r.stderr}"
    lines = r.stderr.splitlines()
    assert lines[0] == "tether: " + expect, f"{args}: {r.stderr!r}"
    assert lines[1].startswith("usage: tether "), f"{args}: {r.stderr!r}"
    assert r.stdout == "", r.stdout


def test_repeated_targets_accumulate(env):
    for args in (["-H", "a.invalid", "-H", "b.invalid"],
                 ["--hosts", "a.invalid", "--hosts=b.invalid"],
                 ["-s", "a.invalid/w", "-s", "b.invalid/w"]):
        r = run(env, "invoke", *args, "--", "true")
        assert r.returncode == 1, (args, r.returncode, r.stderr)
        assert "2 of 2 hosts failed" in r.stderr, (args, r.stderr)
        for h in ("a.invalid", "b.invalid"):
            assert f"  {h}: not logged in" in r.stderr, (args, r.stderr)


def test_usage_errors(env):
    S = "nohost.invalid:7443/S1"
    for args, expect in [
        (["invoke", "-s", S, "--bogus", "--", "true"], "unknown option --bogus"),
        (["invoke", "-s", S, "-x", "--", "true"], "unknown option -x"),
        (["invoke", "-s"], "option -s needs a value"),
        (["invoke", "-H", "a,b", "--throttle"], "option --throttle needs a value"),
        (["invoke", "-H", "a,b", "--gather", "--hide-host", "--", "true"],
         "--hide-host and --gather exclude each other"),
        (["session", "new", "h", "--name"], "option --name needs a value"),
        (["session", "new", "h", "--name", "a", "--name", "b"],
         "option --name given more than once"),
        (["login", "h", "--user", "a", "--user=b"], "option --user given more than once"),
        (["login", "h", "--accept-new=yes"], "option --accept-new takes no value"),
        (["logout", "h", "--bogus"], "unknown option --bogus"),
        (["job", "list", "-s", S, "-s", S], "option -s given more than once"),
        (["job", "start", S, "--name"], "option --name needs a value"),
        (["transfer", "list", "-s", S, "--priority", "low"], "unknown option --priority"),
        (["transfer", "set", "-s", S, "J", "--priority", "top"],
         "--priority takes foreground, high, normal or low"),
        (["targets", "-i"], "option -i needs a value"),
        (["enter", "h", "--bogus"], "unknown option --bogus"),
    ]:
        usage_error(env, args, expect)


def test_help_for_every_command(env):
    top = run(env, "--help")
    assert top.returncode == 0, top.stderr
    listed = top.stdout.split("Commands:\n")[1].split("\n\n")[0]
    names = [line[2:20].strip() for line in listed.splitlines()]
    assert "session new" in names and "transfer set" in names, names
    for name in names:
        r = run(env, *name.split(), "--help")
        assert r.returncode == 0, (name, r.stderr)
        assert r.stdout.startswith(f"usage: tether {name} "), (name, r.stdout)


if __name__ == "__main__":
    main(globals())
