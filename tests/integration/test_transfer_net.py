"""Transfer jobs over real servers on loopback, driven through the real
tether CLI: nginx (http, https, Range, PUT, auth, errors), a fault-injecting
proxy that cuts connections, vsftpd (ftp, ftps), sshd (sftp), samba (smb),
a full small filesystem, and the BITS seed workflow across two client
machines with a daemon SIGKILL in the middle. Every result is compared by
SHA-256. A server that cannot run here is reported as UNAVAILABLE with the
reason, never skipped silently."""
import hashlib
import json
import os
import pwd
import signal
import subprocess
import time

import harness as H
import servers as S

DEST_OWNER = "alice"


def sha_bytes(b):
    return hashlib.sha256(b).hexdigest()


def sha(path):
    return S.sha256_file(path)


def blob(n, seed=1):
    """n bytes that differ everywhere (so a misplaced range is caught)."""
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest() * 2048   # 64 KiB
    i = 0
    while len(out) < n:
        out += hashlib.sha256(block[:64] + i.to_bytes(8, "little")).digest() + block[32:]
        i += 1
    return bytes(out[:n])


class World:
    """A daemon, user alice logged in from client c with session S, and a
    destination directory owned by alice's OS account."""

    def __init__(self, env, config=None):
        self.env = env
        self.d = env.daemon(config=config)
        self.d.add_user(DEST_OWNER)
        self.c = env.client("c")
        self.c.login(self.d, DEST_OWNER)
        self.session = f"{DEST_OWNER}@{self.d.host}/S"
        r = self.c.run("session", "new", f"{DEST_OWNER}@{self.d.host}", "--name", "S")
        assert r.returncode == 0, r.stderr
        self.acct = H.os_account(DEST_OWNER)
        self.dst = os.path.join(env.root, "dst")
        os.makedirs(self.dst)
        subprocess.run(["chown", self.acct, self.dst], check=True)

    def tether(self, *args, input=None, timeout=120):
        return self.c.run(*args, input=input, timeout=timeout)

    def start(self, *args, input=None, expect=0, timeout=120):
        r = self.tether("transfer", "start", "-s", self.session, *args, "--json", input=input,
                        timeout=timeout)
        assert r.returncode == expect, (args, r.returncode, r.stderr, r.stdout)
        return json.loads(r.stdout) if r.stdout.strip() else None

    def show(self, job):
        r = self.tether("transfer", "show", "-s", self.session, str(job), "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def wait(self, job, states, timeout=60):
        return H.wait_for(lambda: (lambda t: t if t["state"] in states else None)(self.show(job)),
                          timeout, f"transfer {job} in {states}")

    def act(self, verb, job, expect=0):
        r = self.tether("transfer", verb, "-s", self.session, str(job), "--json")
        assert r.returncode == expect, (verb, r.returncode, r.stderr)
        return r

    def listing(self):
        r = self.tether("transfer", "list", "-s", self.session, "--json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        return doc if isinstance(doc, list) else doc.get("transfers", doc)

    def out(self, name):
        return os.path.join(self.dst, name)


def one(doc):
    """The job object of a start (a list for several jobs)."""
    return doc[0] if isinstance(doc, list) else doc


def unavailable(what, why):
    print(f"UNAVAILABLE: {what}: {why}", flush=True)


def test_https_sync_download_and_trust(env):
    w = World(env)
    with S.Nginx(env.root) as ng:
        data = blob(5 << 20)
        ng.put_file("a.bin", data)
        t = one(w.start(ng.url("/files/a.bin"), w.dst + "/", "--cacert", ng.cert_path))
        assert t["state"] == "Acknowledged", t
        assert sha(w.out("a.bin")) == sha_bytes(data)
        assert w.listing() == []
        # without the CA the certificate is refused: Error, job kept, exit 255
        r = w.tether("transfer", "start", "-s", w.session, ng.url("/files/a.bin"),
                     w.dst + "/b.bin")
        assert r.returncode == 255, (r.returncode, r.stderr)
        jobs = w.listing()
        assert len(jobs) == 1 and jobs[0]["state"] == "Error", jobs
        assert jobs[0]["error"]["code"] == "tls_verify_failed", jobs[0]["error"]
        # --insecure says so loudly, and works
        w.act("remove", jobs[0]["id"])
        r = w.tether("transfer", "start", "-s", w.session, ng.url("/files/a.bin"),
                     w.dst + "/c.bin", "--insecure")
        assert r.returncode == 0 and "insecure" in r.stderr.lower(), r.stderr
        assert sha(w.out("c.bin")) == sha_bytes(data)
        assert not os.path.exists(w.out("b.bin"))


def test_presigned_url_and_ipv6_upload_target_reach_the_daemon(env):
    """The daemon takes every URL the client does: a presigned URL (its
    query full of '*', '[' and '='; the file is named after the path), and
    an IPv6 literal tether:// upload target (refused by neither side; here
    nothing listens there, so the job ends in a connection Error, not a
    400 at the start)."""
    w = World(env)
    with S.Nginx(env.root) as ng:
        data = blob(300000, 7)
        ng.put_file("signed.bin", data)
        url = ng.url("/files/signed.bin") + "?X-Amz-Signature=ab*cd[1]&X-Amz-Expires=60"
        t = one(w.start(url, w.dst + "/", "--cacert", ng.cert_path))
        assert t["state"] == "Acknowledged", t
        assert sha(w.out("signed.bin")) == sha_bytes(data)
    src = os.path.join(env.root, "up.bin")
    with open(src, "wb") as f:
        f.write(b"x" * 1000)
    t = one(w.start("--upload", src, f"tether://[::1]:{S.free_port()}/in/", "--user", "alice",
                    "--password-stdin", "--async", input=H.PASSWORD + "\n"))
    assert t["direction"] == "upload", t
    t = w.wait(t["id"], ("Error", "TransientError"), timeout=60)
    assert t["error"]["code"] not in ("invalid_argument", "bad_request"), t


def test_resume_through_repeated_cuts(env):
    w = World(env)
    with S.Nginx(env.root) as ng:
        size = 6 << 20
        data = blob(size, 2)
        ng.put_file("big.bin", data)
        with S.FaultProxy(ng.https_port, cut_after=1 << 20) as px:
            t = one(w.start(px.url("https", "/files/big.bin"), w.dst + "/", "--cacert",
                            ng.cert_path, "--async", "--retry-delay", "1"))
            done = w.wait(t["id"], ("Transferred",), timeout=120)
            assert px.cuts >= 4, px.cuts
            per_cut = (px.bytes_down - size) / px.cuts
            print(f"  cuts={px.cuts} bytes through proxy={px.bytes_down} file={size} "
                  f"re-downloaded per interruption={per_cut:.0f} B", flush=True)
            assert per_cut < (1 << 20), per_cut
        assert done["bytes_transferred"] == size
        w.act("complete", t["id"])
        assert sha(w.out("big.bin")) == sha_bytes(data)


def test_unaligned_cuts_and_no_direct_io(env):
    """Downloads go to disk with O_DIRECT in whole 4 KiB blocks and the
    rest buffered. Over plain http the proxy's cut counts header bytes too,
    so every cut lands mid-block and every resume starts with a partial
    block (test_resume_through_repeated_cuts, over https, does too); the same
    on a ramfs, which refuses O_DIRECT (all buffered). Byte-identical either
    way, and no more than 1 MiB fetched again per cut."""
    w = World(env)
    try:
        ram = S.SmallFs(env.root, name="ramfs", fstype="ramfs").start()
        subprocess.run(["chown", w.acct, ram.path], check=True)
        dests = [w.dst, ram.path]
    except S.FixtureUnavailable as e:
        unavailable("download to a filesystem without O_DIRECT (ramfs)", e.reason)
        ram, dests = None, [w.dst]
    try:
        with S.Nginx(env.root) as ng:
            size = (5 << 20) + 777
            data = blob(size, 7)
            ng.put_file("odd.bin", data)
            with S.FaultProxy(ng.http_port, cut_after=(1 << 20) + 1237) as px:
                for i, d in enumerate(dests):
                    px.reset_counters()
                    t = one(w.start(px.url("http", "/files/odd.bin"), f"{d}/odd{i}.bin",
                                    "--async", "--retry-delay", "1"))
                    done = w.wait(t["id"], ("Transferred",), timeout=120)
                    assert done["bytes_transferred"] == size, done
                    assert px.cuts >= 4, px.cuts
                    assert (px.bytes_down - size) / px.cuts < (1 << 20), (px.bytes_down, px.cuts)
                    w.act("complete", t["id"])
                    assert sha(f"{d}/odd{i}.bin") == sha_bytes(data), d
    finally:
        if ram is not None:
            ram.stop()


def test_remote_change_and_no_range(env):
    w = World(env)
    with S.Nginx(env.root) as ng:
        old, new = blob(3 << 20, 3), blob(3 << 20, 4)
        ng.put_file("c.bin", old)
        ng.put_file("n.bin", old)
        # the file changes while we are away: If-Range fails, restart from zero
        t = one(w.start(ng.url("/slow/c.bin?rate=500000"), w.dst + "/c.bin", "--cacert",
                        ng.cert_path, "--async"))
        H.wait_for(lambda: w.show(t["id"])["bytes_transferred"] > 300000, 30, "progress")
        w.act("suspend", t["id"])
        time.sleep(1.1)   # a new Last-Modified second, and a new ETag
        ng.put_file("c.bin", new)
        w.act("resume", t["id"])
        done = w.wait(t["id"], ("Transferred",), timeout=60)
        assert any("changed" in n for n in done["notes"]), done["notes"]
        w.act("complete", t["id"])
        assert sha(w.out("c.bin")) == sha_bytes(new), "a mixed file"
        # a server that ignores Range: the file restarts from zero and says so
        t = one(w.start(ng.url("/norange/n.bin"), w.dst + "/n.bin", "--cacert",
                        ng.cert_path, "--async", "--max-rate", "600000"))
        H.wait_for(lambda: w.show(t["id"])["bytes_transferred"] > 300000, 30, "progress")
        w.act("suspend", t["id"])
        w.act("resume", t["id"])
        done = w.wait(t["id"], ("Transferred",), timeout=60)
        assert any("ignored Range" in n for n in done["notes"]), done["notes"]
        w.act("complete", t["id"])
        assert sha(w.out("n.bin")) == sha_bytes(old)


def test_http_errors_auth_and_retry(env):
    w = World(env)
    with S.Nginx(env.root, retry_after=1) as ng:
        data = blob(200000, 5)
        ng.put_file("p.bin", data)
        ca = ("--cacert", ng.cert_path)
        # 404: Error at once, with the code and the file
        t = one(w.start(ng.url("/files/missing.bin"), w.dst + "/", *ca, "--async"))
        e = w.wait(t["id"], ("Error",))["error"]
        assert e["code"] == "http_404" and e["file"].endswith("/files/missing.bin"), e
        w.act("remove", t["id"])
        # 401 without credentials, then with wrong ones, then right ones
        t = one(w.start(ng.url("/auth/p.bin"), w.dst + "/", *ca, "--async"))
        e = w.wait(t["id"], ("Error",))["error"]
        assert e["code"] == "http_401" and "requires credentials" in e["message"], e
        w.act("remove", t["id"])
        t = one(w.start(ng.url("/auth/p.bin"), w.dst + "/", *ca, "--async", "--user", ng.user,
                        "--password-stdin", input="wrong\n"))
        e = w.wait(t["id"], ("Error",))["error"]
        assert e["code"] == "http_401" and "refused the credentials" in e["message"], e
        w.act("remove", t["id"])
        t = one(w.start(ng.url("/auth/p.bin"), w.dst + "/", *ca, "--user", ng.user,
                        "--password-stdin", "--auth", "basic", input=ng.password + "\n"))
        assert t["state"] == "Acknowledged" and sha(w.out("p.bin")) == sha_bytes(data)
        # 503 with Retry-After: TransientError with a retry time, then retried
        t = one(w.start(ng.url("/status/503"), w.dst + "/s.bin", *ca, "--async",
                        "--retry-delay", "1"))
        tr = w.wait(t["id"], ("TransientError",))
        assert tr["error"]["code"] == "http_503" and tr["retry_at"], tr
        H.wait_for(lambda: len(open(ng.access_log).read().split("/status/503")) > 3, 30,
                   "retries")
        # no progress for no_progress_timeout: Error
        r = w.tether("transfer", "set", "-s", w.session, str(t["id"]),
                     "--no-progress-timeout", "1")
        assert r.returncode == 0, r.stderr
        e = w.wait(t["id"], ("Error",), timeout=30)["error"]
        assert "no progress" in e["message"], e
        w.act("remove", t["id"])
        # connection refused is transient too, and recovers
        with S.FaultProxy(ng.http_port) as px:
            px.refuse = True
            t = one(w.start(px.url("http", "/files/p.bin"), w.dst + "/r.bin", "--async",
                            "--retry-delay", "1"))
            e = w.wait(t["id"], ("TransientError",))["error"]
            assert e["code"] in ("connect_failed", "connection_cut"), e
            px.refuse = False
            w.wait(t["id"], ("Transferred",), timeout=30)
            w.act("complete", t["id"])
        assert sha(w.out("r.bin")) == sha_bytes(data)


def test_proxy_list_fallback(env):
    """--proxy-list: a proxy that cannot be reached is skipped for the next
    (a real tinyproxy), for HTTPS (CONNECT) and plain HTTP; with none
    reachable the job is in TransientError."""
    w = World(env)
    try:
        tp = S.Tinyproxy(env.root).start()
    except S.FixtureUnavailable as e:
        unavailable("proxy fallback (tinyproxy)", e.reason)
        return
    try:
        with S.Nginx(env.root) as ng:
            data = blob(300000, 8)
            ng.put_file("x.bin", data)
            dead = f"http://127.0.0.1:{S.free_port()}"
            t = one(w.start(ng.url("/files/x.bin"), w.dst + "/x.bin", "--cacert", ng.cert_path,
                            "--proxy-list", f"{dead},{tp.url}"))
            assert t["state"] == "Acknowledged", t
            assert sha(w.out("x.bin")) == sha_bytes(data)
            assert tp.requests() == 1, tp.requests()
            assert any(dead in n and tp.url in n for n in t["notes"]), t["notes"]
            plain = f"http://127.0.0.1:{ng.http_port}/files/x.bin"
            t = one(w.start(plain, w.dst + "/y.bin", "--proxy-list", f"{dead},{tp.url}"))
            assert t["state"] == "Acknowledged" and sha(w.out("y.bin")) == sha_bytes(data)
            assert tp.requests() == 2, tp.requests()
            # every proxy unreachable: a transient error, the file untouched
            t = one(w.start(plain, w.dst + "/z.bin", "--async", "--proxy-list",
                            f"{dead},http://127.0.0.1:{S.free_port()}"))
            e = w.wait(t["id"], ("TransientError",))["error"]
            assert e["code"] == "connect_failed", e
            assert not os.path.exists(w.out("z.bin"))
    finally:
        tp.stop()


def test_disk_full(env):
    w = World(env)
    try:
        fs = S.SmallFs(env.root, size=1 << 20).start()
    except S.FixtureUnavailable as e:
        unavailable("disk full (tmpfs)", e.reason)
        return
    try:
        subprocess.run(["chown", w.acct, fs.path], check=True)
        with S.Nginx(env.root) as ng:
            ng.put_file("big.bin", blob(3 << 20, 6))
            t = one(w.start(ng.url("/files/big.bin"), fs.path + "/", "--cacert", ng.cert_path,
                            "--async"))
            e = w.wait(t["id"], ("Error",))["error"]
            assert e["code"] == "disk_full", e
            w.act("remove", t["id"])
            assert os.listdir(fs.path) == [], os.listdir(fs.path)
    finally:
        fs.stop()


def test_upload_put_and_wildcards_csv(env):
    w = World(env)
    src = os.path.join(env.root, "up")
    os.makedirs(src)
    os.chmod(src, 0o755)
    files = {f"u{i}.bin": blob(100000 + i, 10 + i) for i in range(3)}
    for n, b in files.items():
        with open(os.path.join(src, n), "wb") as f:
            f.write(b)
        os.chmod(os.path.join(src, n), 0o644)
    with S.Nginx(env.root) as ng:
        t = one(w.start("--upload", src + "/*.bin", ng.url("/upload/in/"), "--cacert",
                        ng.cert_path))
        assert t["state"] == "Acknowledged" and t["files_total"] == 3, t
        for n, b in files.items():
            assert sha(ng.upload_path("in/" + n)) == sha_bytes(b), n
        # CSV: one job per row, header skipped
        for n, b in files.items():
            ng.put_file(n, b)
        csv = os.path.join(env.root, "list.csv")
        with open(csv, "w") as f:
            f.write("Source, Destination\n")
            for n in files:
                f.write(f"{ng.url('/files/' + n)}, {w.dst}/csv-{n}\n")
        doc = w.start("--csv", csv, "--cacert", ng.cert_path)
        assert isinstance(doc, list) and len(doc) == 3, doc
        for n, b in files.items():
            assert sha(w.out("csv-" + n)) == sha_bytes(b)
        # wildcards in a URL or the destination are refused before anything starts
        r = w.tether("transfer", "start", "-s", w.session, ng.url("/files/*.bin"), w.dst + "/")
        assert r.returncode == 2 and "wildcard" in r.stderr.lower(), r.stderr
        r = w.tether("transfer", "start", "-s", w.session, ng.url("/files/u0.bin"),
                     w.dst + "/*.bin")
        assert r.returncode == 2, r.stderr
        # the client applies the daemon's URL rules (common/xferplan.c) before
        # sending (test_transfers has the daemon refusing it)
        r = w.tether("transfer", "start", "-s", w.session, "gopher://127.0.0.1/x", w.dst + "/")
        assert r.returncode == 2 and "unsupported scheme 'gopher'" in r.stderr, r.stderr
        assert w.listing() == []


def test_sync_ctrl_c_cancels(env):
    w = World(env)
    with S.Nginx(env.root) as ng:
        ng.put_file("slow.bin", blob(2 << 20, 7))
        p = subprocess.Popen([H.TETHER, "transfer", "start", "-s", w.session,
                              ng.url("/slow/slow.bin?rate=100000"), w.dst + "/", "--cacert",
                              ng.cert_path], env=w.c.env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        H.wait_for(lambda: any(t["bytes_transferred"] > 0 for t in w.listing()), 30, "progress")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 130, (p.returncode, err)
        assert w.listing() == []
        assert os.listdir(w.dst) == [], os.listdir(w.dst)


def test_ftp_ftps_sftp_smb(env):
    w = World(env)
    data = blob(1 << 20, 8)
    ran = []
    try:
        with S.Vsftpd(env.root, tls=False) as ftp:
            ftp.put_file("f.bin", data)
            t = one(w.start(ftp.url("/f.bin"), w.dst + "/ftp.bin"))
            assert t["state"] == "Acknowledged" and sha(w.out("ftp.bin")) == sha_bytes(data)
            ran.append("ftp")
        with S.Vsftpd(env.root, name="vsftpd-tls", tls=True) as ftp:
            # explicit FTPS: ftp:// is upgraded with AUTH TLS when the server
            # offers it, and the certificate is checked like https'
            ftp.put_file("f.bin", data)
            t = one(w.start(ftp.url("/f.bin"), w.dst + "/ftps.bin", "--async"))
            e = w.wait(t["id"], ("Error",))["error"]
            assert e["code"] == "tls_verify_failed", e
            w.act("remove", t["id"])
            w.start(ftp.url("/f.bin"), w.dst + "/ftps.bin", "--cacert", ftp.cert_path)
            assert sha(w.out("ftps.bin")) == sha_bytes(data)
            ran.append("ftp+TLS(explicit)")
            unavailable("implicit ftps:// (port 990 style)", "the vsftpd fixture serves "
                        "explicit FTPS only")
    except S.FixtureUnavailable as e:
        unavailable("ftp (vsftpd)", e.reason)
    try:
        with S.Sftpd(env.root) as sf:
            sf.put_file("s.bin", data)
            # host keys are checked against the owner's known_hosts
            t = one(w.start(sf.url("s.bin"), w.dst + "/nokey.bin", "--user", sf.user,
                            "--password-stdin", "--async", input=sf.password + "\n"))
            e = w.wait(t["id"], ("Error",))["error"]
            assert e["code"] == "tls_verify_failed", e   # the unknown host key
            w.act("remove", t["id"])
            home = pwd.getpwnam(w.acct).pw_dir
            os.makedirs(home + "/.ssh", exist_ok=True)
            kh = home + "/.ssh/known_hosts"
            with open(kh, "w") as f:
                f.write(sf.known_hosts_line() + "\n")
            subprocess.run(["chown", "-R", w.acct, home], check=True)
            try:
                t = one(w.start(sf.url("s.bin"), w.dst + "/sftp.bin", "--user", sf.user,
                                "--password-stdin", input=sf.password + "\n"))
            finally:
                os.unlink(kh)
            assert sha(w.out("sftp.bin")) == sha_bytes(data), e
            ran.append("sftp")
    except S.FixtureUnavailable as e:
        unavailable("sftp (sshd)", e.reason)
    try:
        with S.Samba(env.root) as smb:
            smb.put_file("m.bin", data)
            t = one(w.start(smb.url("m.bin"), w.dst + "/smb.bin", "--user", smb.user,
                            "--password-stdin", input=smb.password + "\n"))
            assert sha(w.out("smb.bin")) == sha_bytes(data)
            ran.append("smb")
    except S.FixtureUnavailable as e:
        unavailable("smb (samba)", e.reason)
    # file: a plain local path
    local = os.path.join(env.root, "local.bin")
    with open(local, "wb") as f:
        f.write(data)
    os.chmod(local, 0o644)
    w.start(local, w.dst + "/file.bin")
    assert sha(w.out("file.bin")) == sha_bytes(data)
    ran.append("file")
    print("  protocols run:", " ".join(ran), flush=True)


def test_seed_workflow_two_clients_daemon_sigkill(env):
    """The BITS reference workflow: a named session, an asynchronous
    transfer in it, disconnect, the client machine gone, the daemon killed,
    connect from another client machine, list, complete, remove."""
    w = World(env)
    with S.Nginx(env.root) as ng:
        data = blob(4 << 20, 9)
        ng.put_file("File1.zip", data)
        t = one(w.start(ng.url("/slow/File1.zip?rate=800000"), w.dst + "/", "--cacert",
                        ng.cert_path, "--async", "--name", "seed"))
        assert t["state"] in ("Queued", "Connecting", "Transferring"), t
        r = w.tether("session", "disconnect", w.session)
        assert r.returncode == 0, r.stderr
        H.wait_for(lambda: w.show("seed")["bytes_transferred"] > 500000, 30, "progress")
        w.d.kill()                       # the daemon dies mid-transfer
        time.sleep(1)
        w.d.start()
        other = env.client("other")      # another client machine
        other.login(w.d, DEST_OWNER)
        w.c = other
        r = w.tether("session", "connect", w.session)
        assert r.returncode == 0, r.stderr
        jobs = w.listing()
        assert [j["name"] for j in jobs] == ["seed"], jobs
        done = w.wait("seed", ("Transferred",), timeout=90)
        assert done["bytes_transferred"] == len(data)
        assert not os.path.exists(w.out("File1.zip")), "visible before Complete"
        r = w.tether("transfer", "complete", "-s", w.session, "seed")
        assert r.returncode == 0, r.stderr
        assert sha(w.out("File1.zip")) == sha_bytes(data)
        r = w.tether("session", "remove", w.session)
        assert r.returncode == 0, r.stderr


if __name__ == "__main__":
    H.main(globals())
