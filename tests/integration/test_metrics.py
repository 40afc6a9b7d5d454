"""GET /metrics: Prometheus' text format for admins only.

The page must pass `promtool check metrics` (the Prometheus project's own
linter, Debian's prometheus package; tests/run.sh installs it), and its
figures must follow what happens: a session created raises the Opened
sessions gauge, a failed login the failures counter. A user without the
admin flag gets 403, no token 401, both as JSON errors.
"""
import re
import shutil
import subprocess

from harness import PASSWORD, expect_error, main


def scrape(d, token):
    """GET /metrics as token; returns (status, headers, text)."""
    return d.request("GET", "/metrics", token=token)


def value(text, series):
    """The value of one series line ('name{labels}'), as a float."""
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
    assert m, f"no series {series} in:\n{text}"
    return float(m.group(1))


def test_admin_scrape_passes_promtool_and_moves(env):
    d = env.daemon()
    d.add_user("root-admin", admin=True)
    d.add_user("bob")
    admin = d.token_for("root-admin")
    st, hdrs, text = scrape(d, admin)
    assert st == 200, (st, text)
    assert hdrs["content-type"].startswith("text/plain; version=0.0.4"), hdrs
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: deploy/install-deps.sh --test installs prometheus"
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, f"promtool: {r.stdout}{r.stderr}\n{text}"
    for name in ("tether_sessions", "tether_jobs", "tether_transfers",
                 "tether_transferred_bytes_total", "tether_login_failures_total",
                 "tether_open_connections", "tether_http_request_duration_seconds",
                 "tether_build_info"):
        assert f"# TYPE {name} " in text, name
    opened = value(text, 'tether_sessions{state="Opened"}')
    failures = value(text, "tether_login_failures_total")
    answered = value(text, "tether_http_request_duration_seconds_count")
    assert value(text, "tether_open_connections") >= 1   # this very scrape's

    c = env.client()
    c.login(d, "bob")
    r = c.run("session", "new", d.host, "--name", "web")
    assert r.returncode == 0, r.stderr
    st, _, doc = d.request("POST", "/v1/login", {"user": "bob", "password": "wrong " + PASSWORD})
    assert st == 401, (st, doc)

    st, _, text = scrape(d, admin)
    assert st == 200
    assert value(text, 'tether_sessions{state="Opened"}') == opened + 1, text
    assert value(text, "tether_login_failures_total") == failures + 1, text
    assert value(text, "tether_http_request_duration_seconds_count") > answered
    assert value(text, 'tether_http_requests_total{code="4xx"}') >= 1


def test_non_admin_403_and_no_token_401(env):
    d = env.daemon()
    d.add_user("bob")
    st, hdrs, doc = scrape(d, d.token_for("bob"))
    assert st == 403, (st, doc)
    assert hdrs["content-type"].startswith("application/json")
    expect_error(doc, "forbidden")
    st, hdrs, doc = scrape(d, None)
    assert st == 401, (st, doc)
    expect_error(doc, "unauthorized")
    st, _, doc = d.request("POST", "/metrics", token=d.token_for("bob"))
    assert st == 405, (st, doc)


if __name__ == "__main__":
    main(globals())
