#!/usr/bin/env python3
"""Many idle sessions: SESSIONS sessions created through the API (POST
/v1/sessions on keep-alive connections, CLIENTS threads, spread over USERS
users), then the time of `tether session list HOST` for one user (the CLI,
whole process), the daemon's restart (SIGTERM, start) until it answers an
authenticated GET /v1/sessions/NAME, and whether anything was lost (the count
per user and a sample of ids and names, before and after). Asserts nothing.

    python3 tests/bench/sessions100k.py [--sessions 100000] [--users 10]
        [--clients 4] [--runs 5] [--time-cap 900]

The daemon gets a bench-only config: `max_sessions_per_user` raised to the
sessions per user (the default is 1000) and `idle_timeout` 31536000 (a year:
nothing expires during the run). Creation stops at --time-cap; the figures
are then for the sessions made, and the script says so.
"""
import argparse
import random
import statistics
import subprocess
import threading
import time

from benchlib import HERE, TOP  # noqa: E402,F401  (sets the paths)
import benchlib  # noqa: E402
import harness  # noqa: E402


def args_parse():
    p = argparse.ArgumentParser()
    p.add_argument("--sessions", type=int, default=100000)
    p.add_argument("--users", type=int, default=10)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--time-cap", type=float, default=900)
    return p.parse_args()


def create(d, tokens, per_user, a):
    """Create the sessions; returns {user: [(id, name)]} of what was made."""
    made = {u: [] for u in tokens}
    work = [(u, i) for u in tokens for i in range(per_user)]
    lock = threading.Lock()
    errors = []
    deadline = time.monotonic() + a.time_cap

    def worker(k):
        apis = {}
        for idx in range(k, len(work), a.clients):
            if time.monotonic() > deadline or len(errors) > 10:
                return
            u, i = work[idx]
            api = apis.get(u)
            if api is None:
                api = apis[u] = benchlib.Api(d, tokens[u], f"{k:032x}")
            name = f"s{i:06d}"
            try:
                st, doc = api.call_json("POST", "/v1/sessions", {"name": name})
            except OSError as e:
                api.close()
                apis[u] = None
                st, doc = 0, str(e)
            with lock:
                if st == 201:
                    made[u].append((doc["id"], name))
                else:
                    errors.append((st, doc))
        for api in apis.values():
            if api:
                api.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return made, errors


def listing(d, token):
    """{id: name} of the user's sessions, by the API."""
    api = benchlib.Api(d, token, "f" * 32)
    try:
        st, doc = api.call_json("GET", "/v1/sessions")
    finally:
        api.close()
    if st != 200:
        raise SystemExit(f"GET /v1/sessions: {st} {str(doc)[:200]}")
    return {s["id"]: s["name"] for s in doc["sessions"]}


def ready_after_restart(d, token):
    """SIGTERM, start again on the same port: (stop s, start-to-serving s),
    serving meaning one session read by name (authenticated, from the store)."""
    port = d.port
    t0 = time.perf_counter()
    d.stop()
    t1 = time.perf_counter()
    log = open(d.logpath, "ab")
    d.proc = subprocess.Popen(d.args("--listen", f"127.0.0.1:{port}", "--log-level", "info"),
                              stdout=log, stderr=log)
    log.close()
    deadline = t1 + 60
    while time.perf_counter() < deadline:
        try:
            st, _, _ = d.request("GET", "/v1/sessions/s000000", token=token)
            if st == 200:
                return t1 - t0, time.perf_counter() - t1
        except OSError:
            pass
        time.sleep(0.005)
    raise SystemExit("tetherd did not serve within 60 s of its restart")


def main():
    a = args_parse()
    per_user = -(-a.sessions // a.users)
    env = harness.Env()
    try:
        d = env.daemon(config={"max_sessions_per_user": max(1000, per_user),
                               "idle_timeout": 31536000})
        users = [f"bench{u}" for u in range(a.users)]
        for u in users:
            d.add_user(u)
        tokens = {u: d.token_for(u) for u in users}
        c = env.client()
        c.login(d, users[0])
        t0 = time.perf_counter()
        made, errors = create(d, tokens, per_user, a)
        dt = time.perf_counter() - t0
        total = sum(len(v) for v in made.values())
        print(f"{total} sessions created in {dt:.1f} s ({total / dt:.0f}/s), {a.users} users, "
              f"{a.clients} clients, errors {len(errors)}"
              + (f" (first: {errors[0]})" if errors else ""))
        if total < a.users * per_user:
            print(f"  (time cap or errors: {a.users * per_user - total} not made; "
                  f"figures below are for {total})")
        mine = len(made[users[0]])

        def list_times():
            out = []
            for i in range(a.runs + 1):
                s = time.perf_counter()
                r = c.run("session", "list", d.host, timeout=120)
                e = time.perf_counter() - s
                if r.returncode != 0:
                    raise SystemExit(f"session list failed: {r.stderr[:300]}")
                if i:
                    out.append(e * 1000)
            return out

        before = {u: listing(d, tokens[u]) for u in users}
        lt = list_times()
        rnd = random.Random(1)
        sample = {u: rnd.sample(made[u], min(50, len(made[u]))) for u in users}
        stops, starts = [], []
        for _ in range(3):
            s, t = ready_after_restart(d, tokens[users[0]])
            stops.append(s)
            starts.append(t)
        after = {u: listing(d, tokens[u]) for u in users}
        lt2 = list_times()
        lost = sum(len(set(before[u]) - set(after[u])) for u in users)
        bad = sum(1 for u in users for i, n in sample[u] if after[u].get(i) != n)
        count_b = sum(len(v) for v in before.values())
        count_a = sum(len(v) for v in after.values())
        print(f"`tether session list` of one user with {mine} sessions, median of {a.runs} "
              f"(min-max), ms: {statistics.median(lt):.0f} ({min(lt):.0f}-{max(lt):.0f}) "
              f"before restart, {statistics.median(lt2):.0f} ({min(lt2):.0f}-{max(lt2):.0f}) "
              f"after; target <= 100")
        print(f"restart (3 times): SIGTERM to exit {statistics.median(stops) * 1000:.0f} ms, "
              f"start to serving GET /v1/sessions/NAME {statistics.median(starts) * 1000:.0f} ms "
              f"(runs: " + ", ".join(f"{x * 1000:.0f}" for x in starts) + "); target <= 1000")
        print(f"nothing lost: sessions {count_b} before, {count_a} after, {lost} missing, "
              f"{bad} of {sum(len(v) for v in sample.values())} sampled ids/names wrong")
    finally:
        env.close(True)


if __name__ == "__main__":
    main()
