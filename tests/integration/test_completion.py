"""The bash completion (deploy/completion/tether.bash) against a real
daemon: verbs and sub-verbs, a verb's options and an option's words, hosts
this client knows, session names after HOST/ and job ids asked of the
daemon, @GROUPs of the inventory; and silence when the daemon is away."""
import os
import subprocess

from harness import TETHER, main

COMPLETION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                          "deploy", "completion", "tether.bash")
# Sourced by a bash without rc files; COMP_WORDS is the tether binary and
# the words given, the last one being completed. $LINE, if set, is the
# COMP_LINE readline would give (and the words are split as it splits them).
SCRIPT = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
          'if [ -n "$LINE" ]; then COMP_LINE=$LINE; COMP_POINT=${#LINE}; '
          'else COMP_WORDBREAKS=${COMP_WORDBREAKS//[:=]}; fi; '
          '_tether tether "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"; '
          'printf "%s\\n" "${COMPREPLY[@]}"')


def complete(c, *words, line=""):
    """The replies for the command line `tether WORDS` (TAB after the last)."""
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", SCRIPT, "bash", COMPLETION,
                        TETHER, *words], env=dict(c.env(), LINE=line), capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 0 and r.stderr == "", (words, r.returncode, r.stderr)
    return sorted(w for w in r.stdout.split("\n") if w)


def setup(env):
    d = env.daemon()
    c = env.client()
    d.add_user("alice")
    c.login(d, "alice")
    c.json("session", "new", d.host, "--name", "build")
    c.json("session", "new", d.host, "--name", "other")
    return d, c


def test_verbs_and_options(env):
    c = env.client()
    listed = subprocess.run([TETHER, "--help"], capture_output=True, text=True).stdout
    verbs = sorted({line.split()[0] for line in listed.split("\n")
                    if line.startswith("  ") and line[2:3].isalpha()})
    assert len(verbs) >= 8 and complete(c, "") == verbs, (complete(c, ""), verbs)
    assert complete(c, "se") == ["session"]
    assert complete(c, "--json", "tra") == ["transfer"]   # after a global option
    assert "disconnect" in complete(c, "session", "")
    assert complete(c, "session", "re") == ["receive", "remove"]
    # invoke's options come from its table; a value of a word list
    assert complete(c, "invoke", "--in-d") == ["--in-disconnected-session"]
    opts = complete(c, "invoke", "--")
    assert {"--as-job", "--gather", "--hosts", "--json", "--session"} <= set(opts), opts
    assert "--force" not in opts   # not invoke's
    assert complete(c, "session", "new", "h", "--output-buffering", "") == ["block", "drop"]
    assert complete(c, "transfer", "start", "--priority", "l") == ["low"]
    assert complete(c, "transfer", "set", "--priority=h") == ["--priority=high"]
    # after "--" the words are the remote command's
    assert complete(c, "invoke", "-s", "x/y", "--", "--g") == []


def test_hosts_sessions_and_jobs(env):
    d, c = setup(env)
    host = d.host
    # the host logged in to (credentials.json, known_hosts)
    assert host in complete(c, "logout", ""), complete(c, "logout", "")
    assert complete(c, "session", "connect", host[:3]) == [host + "/"]
    # session names asked of the daemon
    assert complete(c, "enter", f"{host}/b") == [f"{host}/build"]
    assert complete(c, "session", "receive", f"{host}/") == [f"{host}/build", f"{host}/other"]
    assert complete(c, "invoke", "-s", f"{host}/o") == [f"{host}/other"]
    # as readline gives it: HOST:PORT cut at ':', and only the part after
    # the ':' is replaced
    addr, port = host.rsplit(":", 1)
    assert complete(c, "enter", addr, ":", f"{port}/b",
                    line=f"{TETHER} enter {host}/b") == [f"{port}/build"]
    assert complete(c, "transfer", "set", "--priority", "=", "h",
                    line=f"{TETHER} transfer set --priority=h") == ["high"]
    # job ids and names: the session's remote jobs with -s, local ones without
    j = c.json("job", "start", f"{host}/build", "--name", "bgjob", "--", "sleep 60")
    got = complete(c, "job", "receive", "-s", f"{host}/build", "")
    assert str(j["id"]) in got and "bgjob" in got, (j, got)
    assert complete(c, "job", "stop", "-s", f"{host}/build", "bg") == ["bgjob"]
    assert complete(c, "job", "stop", "-s", f"{host}/other", "") == []
    loc = c.json("invoke", "-s", f"{host}/other", "--as-job", "--job-name", "mine", "--",
                 "true")
    got = complete(c, "job", "wait", "")
    assert str(loc["id"]) in got and "mine" in got and "bgjob" not in got, (loc, got)
    c.run("job", "stop", "-s", f"{host}/build", "bgjob")
    # an unreachable host: nothing, quietly, within the timeout
    d.stop()
    assert complete(c, "enter", f"{host}/b") == []


def test_inventory_groups(env):
    c = env.client()
    with open(os.path.join(c.home, "inventory"), "w") as f:
        f.write("[webfarm]\nweb1.example\nweb2.example ansible_port=7444\n\n"
                "[dbs]\ndb1.example\n\n[everything:children]\nwebfarm\ndbs\n")
    assert complete(c, "invoke", "-H", "@w") == ["@webfarm"]
    assert complete(c, "targets", "@") == ["@all", "@dbs", "@everything", "@webfarm"]
    assert complete(c, "session", "new", "@d") == ["@dbs"]
    # the inventory's hosts (by `tether targets @all`)
    assert complete(c, "login", "web") == ["web1.example", "web2.example"]
    # --inventory on the line wins over $TETHER_HOME/inventory
    other = os.path.join(c.home, "inv2")
    with open(other, "w") as f:
        f.write("[cache]\nc1\n")
    assert complete(c, "--inventory", other, "targets", "@") == ["@all", "@cache"]


if __name__ == "__main__":
    main(globals())
