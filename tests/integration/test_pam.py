"""PAM as tetherd's password backend (auth = pam; docs/security.md,
"Password backends").

Needs root: each test writes a throwaway PAM service /etc/pam.d/tether-test-*
(pam_unix for auth and account) and throwaway OS accounts with passwords,
and removes them at the end whatever happens.
"""
import contextlib
import os
import subprocess
import threading

from harness import expect_error, main

OS_PASSWORD = "os side password 1"
BUILTIN_PASSWORD = "tether side password 2"


def run(*args, input=None):
    r = subprocess.run(list(args), input=input, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (args, r.stderr)
    return r


@contextlib.contextmanager
def pam_service(nodelay=True, lines=None):
    """A PAM service file of pam_unix (nodelay: without its ~2 s failure
    delay); yields its name."""
    name = "tether-test-" + os.urandom(4).hex()
    path = os.path.join("/etc/pam.d", name)
    opt = " nodelay" if nodelay else ""
    text = lines or [f"auth required pam_unix.so{opt}", "account required pam_unix.so"]
    with open(path, "x") as f:
        f.write("\n".join(text) + "\n")
    try:
        yield name
    finally:
        os.remove(path)


@contextlib.contextmanager
def os_accounts(*specs):
    """Throwaway OS accounts with OS_PASSWORD: specs are "login" (a login
    account: uid from UID_MIN, bash) or "system"; yields their names."""
    names = []
    try:
        for kind in specs:
            name = "tp" + os.urandom(4).hex()
            extra = ["--system", "--shell", "/usr/sbin/nologin"] if kind == "system" \
                else ["--shell", "/bin/bash"]
            run("useradd", "--no-create-home", *extra, name)
            names.append(name)
            run("chpasswd", input=f"{name}:{OS_PASSWORD}\n")
        yield names
    finally:
        for name in names:
            subprocess.run(["userdel", name], capture_output=True, timeout=60)


def needs_root():
    if os.geteuid() != 0:
        print("SKIPPED: needs root (PAM service files and OS accounts with passwords)")
        return True
    return False


def pam_daemon(env, service, name="d", **extra):
    conf = {"auth": "pam", "pam_service": service}
    conf.update(extra)
    return env.daemon(name, config=conf)


def login(d, user, password):
    return d.request("POST", "/v1/login", {"user": user, "password": password})


def users(d):
    return {n: (a, o, h) for n, a, o, h in
            d.query("SELECT name, admin, os_user, pwhash FROM users")}


def audit(d, event):
    return d.query("SELECT user_name FROM audit WHERE event = ?", event)


def test_first_pam_login_creates_the_user(env):
    if needs_root():
        return
    with pam_service() as svc, os_accounts("login") as (name,):
        d = pam_daemon(env, svc)
        assert f'event=auth_pam service="{svc}"' in d.log()
        c = env.client()
        c.login(d, name, OS_PASSWORD)
        # a non-admin user acting as the OS account of its name, with no
        # password of tether's own
        assert users(d) == {name: (0, "", "-pam")}
        assert audit(d, "user_created_pam") == [(name,)]
        s = c.json("session", "new", d.host, "--name", "w")
        assert s["name"] == "w"
        out = c.run("invoke", "-s", f"{d.host}/w", "--", "id", "-un")
        assert out.returncode == 0 and out.stdout.strip() == name, (out.stdout, out.stderr)
        # the next login finds the user
        st, _, doc = login(d, name, OS_PASSWORD)
        assert st == 200 and doc["user"] == name and doc["admin"] is False, (st, doc)
        assert len(audit(d, "user_created_pam")) == 1
        st, _, doc = d.request("GET", "/v1/whoami", token=doc["token"])
        assert st == 200 and doc["user"] == name, doc


def test_wrong_password_is_refused_and_counted(env):
    if needs_root():
        return
    with pam_service() as svc, os_accounts("login") as (name,):
        d = pam_daemon(env, svc, lockout_threshold=3)
        # a name PAM does not know is refused as a wrong password, and not created
        st, _, doc = login(d, "nosuch" + os.urandom(3).hex(), OS_PASSWORD)
        assert st == 401, (st, doc)
        expect_error(doc, "auth_failed")
        for _ in range(2):
            st, _, doc = login(d, name, "not the password")
            assert st == 401, (st, doc)
            expect_error(doc, "auth_failed")
        # three failures from this address: locked, even the right password
        # is not evaluated now
        st, hdrs, doc = login(d, name, OS_PASSWORD)
        assert st == 429 and "retry-after" in hdrs, (st, doc)
        assert len(audit(d, "login_failed")) == 3
        assert users(d) == {}
        assert d.query("SELECT count(*) FROM tokens") == [(0,)]


def test_builtin_password_is_not_used_under_pam(env):
    if needs_root():
        return
    with pam_service() as svc, os_accounts("login") as (name,):
        d = pam_daemon(env, svc)
        r = d.admin("user", "add", name, "--password-stdin", "--os-user", name,
                    input=BUILTIN_PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        st, _, doc = login(d, name, BUILTIN_PASSWORD)
        assert st == 401, (st, doc)
        st, _, doc = login(d, name, OS_PASSWORD)
        assert st == 200 and doc["user"] == name, (st, doc)
        assert audit(d, "user_created_pam") == []   # it was there already


def test_builtin_backend_does_not_take_the_os_password(env):
    if needs_root():
        return
    with pam_service() as svc, os_accounts("login", "login") as (known, created):
        d = pam_daemon(env, svc)
        r = d.admin("user", "add", known, "--password-stdin", "--os-user", known,
                    input=BUILTIN_PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        st, _, _ = login(d, created, OS_PASSWORD)   # made by PAM
        assert st == 200
        # the same daemon back on the built-in backend (the default)
        d.stop()
        with open(d.config, "w") as f:
            f.write(f"pam_service = {svc}\n")
        d.start()
        assert "event=auth_pam" not in d.log_since_start()
        for user in (known, created):
            st, _, doc = login(d, user, OS_PASSWORD)
            assert st == 401, (user, st, doc)
        st, _, doc = login(d, known, BUILTIN_PASSWORD)
        assert st == 200, (st, doc)


def test_system_account_is_not_admitted(env):
    """PAM accepts the password of a system account, but tether would run
    its jobs as that account: refused with the reason, nothing created."""
    if needs_root():
        return
    with pam_service() as svc, os_accounts("system") as (name,):
        d = pam_daemon(env, svc)
        st, _, doc = login(d, name, OS_PASSWORD)
        assert st == 403, (st, doc)
        expect_error(doc, "forbidden")
        assert "system account" in doc["error"]["message"] and "--os-user" in \
            doc["error"]["message"], doc
        assert users(d) == {}
        assert audit(d, "pam_user_refused") == [(name,)]
        # an administrator's explicit mapping admits it
        r = d.admin("user", "add", name, "--password-stdin", "--os-user", name,
                    input=BUILTIN_PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        st, _, doc = login(d, name, OS_PASSWORD)
        assert st == 200, (st, doc)


def test_failure_delay_and_a_broken_stack(env):
    """pam_unix's own failure delay (about 2 s) holds one login slot, and a
    right password beside it still logs in; a stack PAM cannot run is a 503
    with the service named, and does not count as a failed login."""
    if needs_root():
        return
    with pam_service(nodelay=False) as svc, os_accounts("login") as (name,):
        d = pam_daemon(env, svc, login_concurrency=2)
        results = {}

        def wrong():
            results["wrong"] = login(d, name, "wrong")[0]
        t = threading.Thread(target=wrong)
        t.start()
        st, _, doc = login(d, name, OS_PASSWORD)
        t.join(60)
        assert not t.is_alive()
        assert st == 200, (st, doc)
        assert results["wrong"] == 401, results
        assert d.healthy()
        d.stop()
    with pam_service(lines=["auth required pam_no_such_module_xyz.so",
                            "account required pam_unix.so"]) as svc, \
            os_accounts("login") as (name,):
        d = pam_daemon(env, svc, "broken", lockout_threshold=1)
        st, _, doc = login(d, name, OS_PASSWORD)
        assert st == 503, (st, doc)
        expect_error(doc, "unavailable")
        assert svc in doc["error"]["message"], doc
        assert "event=pam_failed" in d.log(), d.log()
        # not a failed login: the lockout (threshold 1) did not start
        st, _, doc = login(d, name, OS_PASSWORD)
        assert st == 503, (st, doc)
        assert audit(d, "login_failed") == []
        assert users(d) == {}
    d = pam_daemon(env, "tether-test-missing-" + os.urandom(3).hex(), "missing")
    assert "event=pam_service_missing" in d.log()


if __name__ == "__main__":
    main(globals())
