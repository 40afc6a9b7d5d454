"""Account mapping: a root tetherd maps a tether user with no --os-user to
the OS account of the same name only if that is a login account (uid in
login.defs' UID_MIN..UID_MAX, a shell in /etc/shells). A tether user named
"daemon" or "bin" must not run as that system account; an administrator may
still map one explicitly. See docs/security.md."""
import os
import pwd
import subprocess

from harness import PASSWORD, main, os_account


def add_unmapped(d, name):
    """`tetherd user add NAME` with no --os-user; returns its stderr."""
    r = d.admin("user", "add", name, "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    return r.stderr


def login_account(name, shell):
    """An OS account NAME (uid >= UID_MIN, not --system) with shell."""
    if subprocess.run(["id", "-u", name], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--no-create-home", "--shell", shell, name],
                       check=True, capture_output=True)
    assert pwd.getpwnam(name).pw_uid >= 1000
    return name


def run_as(c, d, name):
    """Log NAME in, open a session and invoke `id -un`: the CompletedProcess."""
    c.login(d, name)
    r = c.run("session", "new", d.host, "--name", "s")
    assert r.returncode == 0, r.stderr
    return c.run("invoke", "-s", f"{d.host}/s", "--", "id -un")


def test_system_accounts_are_not_mapped_by_name(env):
    if os.geteuid() != 0:
        print("SKIPPED: the mapping applies to a root daemon")
        return
    d = env.daemon()
    for name in ("daemon", "bin"):
        note = add_unmapped(d, name)
        r = run_as(env.client("c-" + name), d, name)
        assert r.returncode != 0 and r.stdout != name + "\n", (r.returncode, r.stdout, r.stderr)
        assert "system account" in r.stderr and "--os-user" in r.stderr, r.stderr
        assert "system account" in note and "--os-user" in note, note


def test_nologin_account_is_not_mapped_by_name(env):
    if os.geteuid() != 0:
        print("SKIPPED: the mapping applies to a root daemon")
        return
    name = login_account("ttnologin", "/usr/sbin/nologin")
    d = env.daemon()
    note = add_unmapped(d, name)
    r = run_as(env.client(), d, name)
    assert r.returncode != 0 and "no login shell" in r.stderr, (r.stdout, r.stderr)
    assert "no login shell" in note, note


def test_login_account_and_explicit_mapping_still_work(env):
    if os.geteuid() != 0:
        print("SKIPPED: the mapping applies to a root daemon")
        return
    name = login_account("ttlogin", "/bin/bash")
    d = env.daemon()
    assert add_unmapped(d, name) == ""
    r = run_as(env.client("c1"), d, name)
    assert r.returncode == 0 and r.stdout == name + "\n", (r.stdout, r.stderr)
    # an administrator's explicit mapping to a system account is honoured
    acct = os_account("mapped")
    assert pwd.getpwnam(acct).pw_uid < 1000
    r = d.admin("user", "add", "mapped", "--password-stdin", "--os-user", acct,
                input=PASSWORD + "\n")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = run_as(env.client("c2"), d, "mapped")
    assert r.returncode == 0 and r.stdout == acct + "\n", (r.stdout, r.stderr)


if __name__ == "__main__":
    main(globals())
