"""Bad input: every malformed, oversized, unauthorised or hostile request is
refused with the exact status and a JSON error {"error": {"code", "message"}},
changes nothing in the database (audit rows aside), and leaves the daemon
serving.

Most cases are data (CASES) run by test_table against one daemon; cases that
need their own setup (expired, revoked, orphaned tokens; a path whose decoding
would hit another session) are separate functions.
"""
import base64
import json
import os
import socket
import ssl
import time

from harness import PASSWORD, Chunked, Declared, expect_error, main


# -- helpers ------------------------------------------------------------------

def snapshot(d):
    """Every table but audit, every row; tokens without last_used (a use
    timestamp any authenticated request may refresh)."""
    snap = {}
    db = d.db()
    try:
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                            "name NOT LIKE 'sqlite%' AND name != 'audit' ORDER BY name")
        for (t,) in tables.fetchall():
            cols = [c[1] for c in db.execute(f"PRAGMA table_info({t})").fetchall()
                    if not (t == "tokens" and c[1] == "last_used")]
            snap[t] = db.execute(f"SELECT {', '.join(cols)} FROM {t} ORDER BY rowid").fetchall()
    finally:
        db.close()
    assert {"users", "tokens", "sessions"} <= set(snap), snap.keys()
    return snap


def send(d, method, path, body=None, headers=None):
    """One request on a fresh connection; returns (status, headers, doc)."""
    return d.request(method, path, body, headers=headers)


def refused(d, method, path, body=None, headers=None, status=None, code=None,
            resp_headers=None):
    """Send a bad request and check all four properties; returns the doc."""
    before = snapshot(d)
    st, hdrs, doc = send(d, method, path, body, headers)
    assert st == status, f"{method} {path}: expected HTTP {status}, got {st}: {doc}"
    assert hdrs.get("content-type", "").startswith("application/json"), hdrs
    expect_error(doc, code)
    for k, v in (resp_headers or {}).items():
        assert hdrs.get(k.lower()) == v, f"header {k}: expected {v!r}, got {hdrs.get(k.lower())!r}"
    after = snapshot(d)
    assert after == before, f"{method} {path} changed the database:\n{before}\n->\n{after}"
    assert d.healthy(), "daemon stopped serving"
    return doc


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def vmrss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# -- the table ----------------------------------------------------------------

def C(name, method, path, body=None, headers=None, token="alice", status=400,
      code="bad_request", resp_headers=None):
    return (name, method, path, body, headers, token, status, code, resp_headers)


S = "/v1/sessions"
NEED_BEARER = {"WWW-Authenticate": "Bearer"}

CASES = [
    # malformed JSON bodies -> 400 bad_request
    C("malformed_json", "POST", S, b'{"name": web}'),
    C("truncated_json", "POST", S, b'{"name": "a",'),
    C("truncated_string", "POST", S, b'{"name": "ab'),
    C("json_array", "POST", S, b'["web"]'),
    C("json_string", "POST", S, b'"web"'),
    C("json_number", "POST", S, b'42'),
    C("json_null", "POST", S, b'null'),
    C("trailing_garbage", "POST", S, b'{"name": "t1"} x'),
    C("two_objects", "POST", S, b'{"name": "t1"}{"name": "t2"}'),
    C("duplicate_keys", "POST", S, b'{"name": "t1", "name": "t2"}'),
    C("nul_escape_in_string", "POST", S, b'{"name": "a\\u0000b"}'),
    C("invalid_utf8", "POST", S, b'{"name": "\xff\xfe"}'),
    C("whitespace_only_body", "POST", S, b'   '),
    C("login_malformed_json", "POST", "/v1/login", b'{"user": "alice", "password": ',
      token=None),
    C("login_not_object", "POST", "/v1/login", b'["alice", "x"]', token=None),
    C("login_empty_body", "POST", "/v1/login", None, token=None),
    # well-formed JSON, wrong types or values -> 400 invalid_argument
    C("name_number", "POST", S, {"name": 5}, code="invalid_argument"),
    C("name_null", "POST", S, {"name": None}, code="invalid_argument"),
    C("name_object", "POST", S, {"name": {"x": 1}}, code="invalid_argument"),
    C("name_empty", "POST", S, {"name": ""}, code="invalid_argument"),
    C("idle_timeout_string", "POST", S, {"idle_timeout": "60"}, code="invalid_argument"),
    C("idle_timeout_float", "POST", S, {"idle_timeout": 60.5}, code="invalid_argument"),
    C("idle_timeout_integral_float", "POST", S, b'{"idle_timeout": 60.0}',
      code="invalid_argument"),
    C("idle_timeout_bool", "POST", S, {"idle_timeout": True}, code="invalid_argument"),
    C("idle_timeout_null", "POST", S, {"idle_timeout": None}, code="invalid_argument"),
    C("idle_timeout_zero", "POST", S, {"idle_timeout": 0}, code="invalid_argument"),
    C("idle_timeout_negative", "POST", S, {"idle_timeout": -1}, code="invalid_argument"),
    C("idle_timeout_over_max", "POST", S, {"idle_timeout": 365 * 86400 + 1},
      code="invalid_argument"),
    C("idle_timeout_huge", "POST", S, {"idle_timeout": 2 ** 62}, code="invalid_argument"),
    C("output_buffering_invalid", "POST", S, {"output_buffering": "sometimes"},
      code="invalid_argument"),
    C("output_buffering_number", "POST", S, {"output_buffering": 1},
      code="invalid_argument"),
    C("name_leading_digit", "POST", S, {"name": "9lives"}, code="invalid_argument"),
    C("name_65_chars", "POST", S, {"name": "a" * 65}, code="invalid_argument"),
    C("name_with_slash", "POST", S, {"name": "a/b"}, code="invalid_argument"),
    C("name_with_space", "POST", S, {"name": "a b"}, code="invalid_argument"),
    C("name_unicode", "POST", S, {"name": "caf\u00e9"}, code="invalid_argument"),
    C("name_dotdot", "POST", S, {"name": ".."}, code="invalid_argument"),
    C("login_missing_password", "POST", "/v1/login", {"user": "alice"}, token=None,
      code="invalid_argument"),
    C("login_missing_user", "POST", "/v1/login", {"password": PASSWORD}, token=None,
      code="invalid_argument"),
    C("login_password_number", "POST", "/v1/login", {"user": "alice", "password": 1234},
      token=None, code="invalid_argument"),
    C("login_password_null", "POST", "/v1/login", {"user": "alice", "password": None},
      token=None, code="invalid_argument"),
    C("login_user_array", "POST", "/v1/login", {"user": ["alice"], "password": PASSWORD},
      token=None, code="invalid_argument"),
    C("login_user_65_chars", "POST", "/v1/login", {"user": "a" * 65, "password": PASSWORD},
      token=None, code="invalid_argument"),
    C("login_password_1025_bytes", "POST", "/v1/login",
      {"user": "alice", "password": "p" * 1025}, token=None, code="invalid_argument"),
    # bodies too large, or where none is taken -> 413
    # (a session may be made with its command: the invoke's 256 KiB)
    C("sessions_content_length_over_256k", "POST", S, Declared(256 * 1024 + 1),
      status=413, code="payload_too_large"),
    C("login_content_length_over_32k", "POST", "/v1/login", Declared(32 * 1024 + 1),
      token=None, status=413, code="payload_too_large"),
    C("login_content_length_huge", "POST", "/v1/login", Declared(2 ** 40), token=None,
      status=413, code="payload_too_large"),
    C("sessions_chunked_over_256k", "POST", S,
      Chunked(('{"name": "%s"}' % ("a" * 270000)).encode()), status=413,
      code="payload_too_large"),
    C("login_chunked_over_32k", "POST", "/v1/login",
      Chunked(json.dumps({"user": "alice", "password": "p" * 33000}).encode()),
      token=None, status=413, code="payload_too_large"),
    C("body_on_get_sessions", "GET", S, {"name": "x"}, status=413,
      code="payload_too_large"),
    C("chunked_body_on_get_sessions", "GET", S, Chunked(b'{"name": "x"}'), status=413,
      code="payload_too_large"),
    C("body_on_health", "GET", "/v1/health", b'{}', token=None, status=413,
      code="payload_too_large"),
    C("body_on_logout", "POST", "/v1/logout", b'{}', token="alice_spare", status=413,
      code="payload_too_large"),
    # wrong media type -> 415
    C("text_plain", "POST", S, b'{"name": "t1"}', headers={"Content-Type": "text/plain"},
      status=415, code="unsupported_media_type"),
    C("no_content_type", "POST", S, b'{"name": "t1"}', headers={"Content-Type": None},
      status=415, code="unsupported_media_type"),
    C("content_type_jsonx", "POST", S, b'{"name": "t1"}',
      headers={"Content-Type": "application/jsonx"}, status=415,
      code="unsupported_media_type"),
    C("login_form_urlencoded", "POST", "/v1/login", b"user=alice&password=x",
      headers={"Content-Type": "application/x-www-form-urlencoded"}, token=None,
      status=415, code="unsupported_media_type"),
    # routing -> 404 / 405
    C("unknown_route", "GET", "/v1/nosuch", token=None, status=404, code="not_found"),
    C("unknown_route_authed", "GET", "/v1/nosuch", status=404, code="not_found"),
    C("root_path", "GET", "/", token=None, status=404, code="not_found"),
    C("unversioned_path", "GET", "/sessions", status=404, code="not_found"),
    C("put_sessions", "PUT", S, b'{}', status=405, code="method_not_allowed",
      resp_headers={"Allow": "GET, POST"}),
    C("delete_sessions_collection", "DELETE", S, status=405, code="method_not_allowed",
      resp_headers={"Allow": "GET, POST"}),
    C("put_session", "PUT", S + "/web", b'{}', status=405, code="method_not_allowed",
      resp_headers={"Allow": "GET, DELETE, PATCH"}),
    C("unknown_method", "BREW", S, status=405, code="method_not_allowed",
      resp_headers={"Allow": "GET, POST"}),
    C("get_login", "GET", "/v1/login", token=None, status=405, code="method_not_allowed",
      resp_headers={"Allow": "POST"}),
    C("path_dotdot_etc_passwd", "GET", S + "/../../etc/passwd", status=404,
      code="not_found"),
    C("path_encoded_dotdot", "GET", S + "/%2e%2e", status=404, code="not_found"),
    C("path_encoded_dotdot_delete", "DELETE", S + "/%2e%2e", status=404, code="not_found"),
    C("path_encoded_slash", "GET", S + "/web%2Fx", status=404, code="not_found"),
    C("path_encoded_nul", "GET", S + "/web%00xyz", status=404, code="not_found"),
    C("path_very_long", "GET", S + "/" + "a" * 3000, status=404, code="not_found"),
    C("path_segment_65_chars", "GET", S + "/" + "a" * 65, status=404, code="not_found"),
    C("path_trailing_slash", "DELETE", S + "/web/", status=404, code="not_found"),
    C("path_double_slash", "DELETE", S + "//web", status=404, code="not_found"),
    # authentication -> 401 with WWW-Authenticate
    C("missing_token", "GET", S, token=None, status=401, code="unauthorized",
      resp_headers=NEED_BEARER),
    C("missing_token_create", "POST", S, {"name": "t1"}, token=None, status=401,
      code="unauthorized", resp_headers=NEED_BEARER),
    C("missing_token_delete", "DELETE", S + "/web", token=None, status=401,
      code="unauthorized", resp_headers=NEED_BEARER),
    C("garbage_token", "GET", S, token="garbage", status=401, code="unauthorized",
      resp_headers=NEED_BEARER),
    C("garbage_token_delete", "DELETE", S + "/web", token="garbage", status=401,
      code="unauthorized", resp_headers=NEED_BEARER),
    C("basic_scheme", "GET", S, token="basic", status=401, code="unauthorized",
      resp_headers=NEED_BEARER),
    C("bearer_without_token", "GET", S, token="empty_bearer", status=401,
      code="unauthorized", resp_headers=NEED_BEARER),
    C("overlong_token", "GET", S, token="overlong", status=401, code="unauthorized",
      resp_headers=NEED_BEARER),
    C("tampered_token", "POST", S, {"name": "t1"}, token="tampered", status=401,
      code="unauthorized", resp_headers=NEED_BEARER),
    # another user's session, unknown sessions -> 404
    C("other_users_session_get_by_id", "GET", S + "/{bob_id}", status=404,
      code="not_found"),
    C("other_users_session_get_by_name", "GET", S + "/secret", status=404,
      code="not_found"),
    C("other_users_session_delete_by_id", "DELETE", S + "/{bob_id}", status=404,
      code="not_found"),
    C("other_users_session_delete_by_name", "DELETE", S + "/secret", status=404,
      code="not_found"),
    C("unknown_session_id", "GET", S + "/999", status=404, code="not_found"),
    C("unknown_session_id_delete", "DELETE", S + "/999", status=404, code="not_found"),
    C("unknown_session_name", "GET", S + "/nosuch", status=404, code="not_found"),
    C("unknown_session_name_delete", "DELETE", S + "/nosuch", status=404,
      code="not_found"),
    C("session_id_zero", "GET", S + "/0", status=404, code="not_found"),
    C("session_id_beyond_int64", "DELETE", S + "/99999999999999999999", status=404,
      code="not_found"),
    # protocol headers -> 400
    C("client_id_not_hex", "GET", S, headers={"X-Tether-Client": "zz"}),
    C("client_id_upper_hex", "POST", S, {"name": "t1"},
      headers={"X-Tether-Client": "ABCDEF0123456789ABCDEF0123456789"}),
    C("client_id_33_chars", "GET", S, headers={"X-Tether-Client": "a" * 33}),
    C("client_id_on_login", "POST", "/v1/login", {"user": "alice", "password": PASSWORD},
      headers={"X-Tether-Client": "../../etc"}, token=None),
    C("api_version_2", "GET", S, headers={"X-Tether-Api": "2"}, code="version_mismatch"),
    C("api_version_0", "POST", S, {"name": "t1"}, headers={"X-Tether-Api": "0"},
      code="version_mismatch"),
    C("api_version_text", "GET", S, headers={"X-Tether-Api": "one"},
      code="version_mismatch"),
    C("api_version_2_on_login", "POST", "/v1/login",
      {"user": "alice", "password": PASSWORD}, headers={"X-Tether-Api": "2"}, token=None,
      code="version_mismatch"),
]


def auth_headers(kind, toks):
    if kind is None:
        return {}
    if kind in toks:
        return bearer(toks[kind])
    return {
        "garbage": bearer(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")),
        "tampered": bearer(toks["alice"][:-1] + ("A" if toks["alice"][-1] != "A" else "B")),
        "basic": {"Authorization": "Basic " +
                  base64.b64encode(f"alice:{PASSWORD}".encode()).decode()},
        "empty_bearer": {"Authorization": "Bearer "},
        "overlong": bearer("A" * 4000),
    }[kind]


def test_table(env):
    d = env.daemon()
    d.add_user("alice")
    d.add_user("bob")
    toks = {"alice": d.token_for("alice"), "alice_spare": d.token_for("alice"),
            "bob": d.token_for("bob")}
    st, _, web = send(d, "POST", S, {"name": "web"}, bearer(toks["alice"]))
    assert st == 201, web
    st, _, secret = send(d, "POST", S, {"name": "secret"}, bearer(toks["bob"]))
    assert st == 201, secret
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    failures = []
    for name, method, path, body, headers, token, status, code, resp_hdrs in CASES:
        h = auth_headers(token, toks)
        h.update(headers or {})
        try:
            refused(d, method, path.format(bob_id=secret["id"]), body, h, status, code,
                    resp_hdrs)
        except Exception as e:   # collect, so one bug does not hide the rest
            failures.append(f"{name}: {type(e).__name__}: {str(e)[:400]}")
            print(f"  case {name} FAILED: {str(e)[:400]}")
    # the other user's session survived every attempt on it
    st, _, doc = send(d, "GET", f"{S}/{secret['id']}", headers=bearer(toks["bob"]))
    assert st == 200 and doc["name"] == "secret", (st, doc)
    st, _, doc = send(d, "GET", S, headers=bearer(toks["alice"]))
    assert st == 200 and [s["name"] for s in doc["sessions"]] == ["web"], doc
    # the spare token was not revoked by the refused logout
    st, _, _ = send(d, "GET", "/v1/whoami", headers=bearer(toks["alice_spare"]))
    assert st == 200
    assert not failures, f"{len(failures)} of {len(CASES)} cases failed:\n" + "\n".join(failures)


# -- cases that need their own setup -----------------------------------------

def test_expired_token(env):
    d = env.daemon(config={"token_ttl": 1})
    d.add_user("alice")
    tok = d.token_for("alice")
    [(created, expires)] = d.query("SELECT created, expires FROM tokens")
    assert expires - created == 1, (created, expires)
    time.sleep(2.2)
    for method, path, body in (("GET", S, None), ("POST", S, {"name": "late"}),
                               ("GET", "/v1/whoami", None), ("POST", "/v1/logout", None)):
        refused(d, method, path, body, bearer(tok), 401, "unauthorized", NEED_BEARER)
    assert d.query("SELECT count(*) FROM sessions") == [(0,)]


def test_revoked_token(env):
    d = env.daemon()
    d.add_user("alice")
    tok = d.token_for("alice")
    keep = d.token_for("alice")
    st, _, doc = send(d, "POST", S, {"name": "web"}, bearer(tok))
    assert st == 201, doc
    st, _, doc = send(d, "POST", "/v1/logout", headers=bearer(tok))
    assert st == 200 and doc == {"revoked": True}, (st, doc)
    for method, path, body in (("GET", S, None), ("POST", S, {"name": "again"}),
                               ("DELETE", S + "/web", None), ("POST", "/v1/logout", None)):
        refused(d, method, path, body, bearer(tok), 401, "unauthorized", NEED_BEARER)
    # only that token was revoked
    st, _, doc = send(d, "GET", S, headers=bearer(keep))
    assert st == 200 and [s["name"] for s in doc["sessions"]] == ["web"], doc


def test_token_of_removed_user(env):
    d = env.daemon()
    d.add_user("alice")
    d.add_user("bob")
    tok = d.token_for("bob")
    st, _, doc = send(d, "POST", S, {"name": "gone"}, bearer(tok))
    assert st == 201, doc
    r = d.admin("user", "remove", "bob")          # while the daemon runs
    assert r.returncode == 0, r.stderr
    for method, path, body in (("GET", S, None), ("POST", S, {"name": "ghost"}),
                               ("GET", S + "/gone", None), ("GET", "/v1/whoami", None)):
        refused(d, method, path, body, bearer(tok), 401, "unauthorized", NEED_BEARER)
    # a new account with the same name does not inherit the old token
    d.add_user("bob")
    refused(d, "GET", "/v1/whoami", None, bearer(tok), 401, "unauthorized", NEED_BEARER)
    assert d.query("SELECT name FROM sessions") == []


def test_encoded_nul_in_path_does_not_reach_another_session(env):
    """DELETE /v1/sessions/web%00xyz names no session; it must not remove 'web'."""
    d = env.daemon()
    d.add_user("alice")
    tok = d.token_for("alice")
    st, _, doc = send(d, "POST", S, {"name": "web"}, bearer(tok))
    assert st == 201, doc
    refused(d, "DELETE", S + "/web%00xyz", None, bearer(tok), 404, "not_found")
    refused(d, "DELETE", S + "/1%00", None, bearer(tok), 404, "not_found")
    assert [r[0] for r in d.query("SELECT name FROM sessions")] == ["web"]


def test_many_malformed_requests_keep_memory_bounded(env):
    d = env.daemon()
    d.add_user("alice")
    tok = d.token_for("alice")
    ctx = ssl.create_default_context(cafile=os.path.join(d.state, "cert.pem"))
    ctx.check_hostname = False

    def raw(data, wait_reply):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.port), timeout=30))
        try:
            s.sendall(data)
            while wait_reply and s.recv(65536):
                pass
        except (OSError, ssl.SSLError):
            pass
        finally:
            s.close()

    def one(i):
        k = i % 6
        if k == 0:
            st, _, doc = send(d, "POST", S, b'{"name": [' * 50, bearer(tok))
            assert st == 400, st
            expect_error(doc, "bad_request")
        elif k == 1:
            st, _, doc = send(d, "POST", "/v1/login", Chunked(b"x" * 33000))
            assert st == 413, st
            expect_error(doc, "payload_too_large")
        elif k == 2:
            st, _, doc = send(d, "GET", S + "/" + "z" * 2500, headers=bearer(tok))
            assert st == 404, st
            expect_error(doc, "not_found")
        elif k == 3:
            st, _, doc = send(d, "GET", S, headers=bearer("x" * 43))
            assert st == 401, st
            expect_error(doc, "unauthorized")
        elif k == 4:
            raw(b"GARBAGE \x00\xff\r\n\r\n", True)
        else:
            raw(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                b"\r\nAuthorization: Bearer " + tok.encode() +
                b"\r\nContent-Length: 40\r\n\r\n{\"name\":", False)   # then hang up

    for i in range(60):                  # warm up thread stacks, TLS caches
        one(i)
    assert d.healthy()
    before = vmrss_kb(d.proc.pid)
    before_rows = snapshot(d)
    for i in range(300):
        one(i)
    assert d.healthy()
    after = vmrss_kb(d.proc.pid)
    if "ASAN_OPTIONS" in os.environ:
        # AddressSanitizer keeps freed memory in quarantine, so RSS says nothing
        # here; LeakSanitizer checks for leaks when the daemon exits instead.
        print(f"  note: RSS bound not checked under ASan ({before} -> {after} kB)")
    else:
        assert after - before < 20 * 1024, f"VmRSS grew from {before} kB to {after} kB"
    assert snapshot(d) == before_rows
    assert d.proc.poll() is None


if __name__ == "__main__":
    main(globals())
