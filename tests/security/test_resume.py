"""Output after a daemon kill -9 is delivered at most once: a receive that
resumes a stream broken by the crash continues at the exact byte this
client had written, not at the server's last acknowledged cursor (which
lags by up to a reply: about 0.5 MB came twice, resumed mid-line).
See docs/security.md."""
import os
import subprocess
import time

import harness as H

LINES = 3_000_000   # about 21 MB of numbered lines


def test_receive_after_daemon_kill_resumes_at_the_exact_byte(env):
    d = env.daemon()
    d.add_user("alice")
    c = env.client()
    c.login(d, "alice")
    assert c.run("session", "new", d.host, "--name", "w").returncode == 0
    first = os.path.join(env.root, "first.out")
    with open(first, "wb") as f:
        p = subprocess.Popen([H.TETHER, "invoke", "-s", f"{d.host}/w", "--",
                              f"seq 1 {LINES}"], stdout=f, stderr=subprocess.PIPE,
                             env=c.env(), stdin=subprocess.DEVNULL)
        H.wait_for(lambda: os.path.getsize(first) > 3 << 20, timeout=60,
                   what="the first megabytes")
        d.kill()
        p.wait(timeout=60)
    assert p.returncode == 255, p.returncode   # the stream broke
    d.start()
    r = subprocess.run([H.TETHER, "session", "receive", f"{d.host}/w"], env=c.env(),
                       capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-300:]
    with open(first, "rb") as f:
        head = f.read()
    whole = head + r.stdout
    expect = b"".join(b"%d\n" % i for i in range(1, LINES + 1))
    if whole != expect:
        at = next((i for i in range(min(len(whole), len(expect)))
                   if whole[i] != expect[i]), min(len(whole), len(expect)))
        raise AssertionError(f"{len(head)} + {len(r.stdout)} bytes received, expected "
                             f"{len(expect)}; they differ from byte {at}: "
                             f"{whole[at:at + 40]!r}")
    print(f"  broken after {len(head)} bytes; the receive resumed there exactly")


if __name__ == "__main__":
    H.main(globals())
