#!/usr/bin/env python3
"""Fleet dispatch: `tether invoke -H HOSTS -- true` on N hosts against the
tools administrators use for the same job, measured in the same run.

Run through tests/bench/fleet.sh (it enters a private network namespace in
which N loopback addresses 127.1.x.y stand for N hosts). One tetherd listens
on every address, as one sshd does for the peers:

    bash tests/bench/fleet.sh [N...]       # default 50 200 1000; as root

Peers: pdsh -R ssh with a fresh connection per host; pdsh through warm ssh
ControlMasters (one per host, opened before timing); clush (ClusterShell);
ansible -m raw (forks 32). All at fan-out 32; the peers only up to PEERS_MAX
hosts (env; default all). Prints the median wall time of
RUNS runs (env RUNS, default 3), the client's CPU per host and peak RSS, and
tether's ratio to each. Then a fleet where 10% of hosts are dead (no
listener) and 10% hang (accept, never answer). Asserts nothing.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import HERE, TOP  # noqa: E402,F401  (sets the paths)
import harness  # noqa: E402
import benchlib  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
# the peers are measured up to this many hosts (env PEERS_MAX; default: all
# sizes): at 1,000 hosts they take about 15 minutes a round
PEERS_MAX = int(os.environ.get("PEERS_MAX", "1000000"))
FANOUT = 32
PORT, DEAD_PORT, HUNG_PORT, SSH_PORT = 4433, 4434, 4435, 2222
ACCOUNT = "tetherbench"   # every tool runs the command as this plain account
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-p", str(SSH_PORT)]


def addresses(n):
    return [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(n)]


def measure(cmd, env=None, runs=RUNS):
    """Median wall s, median client CPU s and max peak RSS KiB over runs; a
    run that fails is reported (its figures would flatter the tool)."""
    walls, cpus, rss = [], [], 0
    for _ in range(runs):
        r = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M"] + cmd, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        last = r.stderr.strip().splitlines()[-1].split()
        wall, user, sys_, maxrss = float(last[0]), float(last[1]), float(last[2]), int(last[3])
        if r.returncode != 0 or "Permission denied" in r.stderr:
            print(f"    FAILED RUN: {cmd[0]} exited {r.returncode}: {r.stderr.strip()[:300]}")
        walls.append(wall)
        cpus.append(user + sys_)
        rss = max(rss, maxrss)
    return statistics.median(walls), statistics.median(cpus), rss


def start_tetherd(root, port, name, userkey):
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "state"))
    os.chmod(d, 0o711)
    log = open(os.path.join(d, "log"), "wb")
    # one daemon stands for every host, and every host's connections come
    # from the one client address: its per-address and pre-login caps are
    # the whole fleet's here, so they are raised to the connection limit;
    # so is the lockout threshold, which counts the logins in flight for a
    # user name and an address (32 at once here, one per host in a fleet)
    conf = os.path.join(d, "tetherd.conf")
    with open(conf, "w") as f:
        f.write("max_connections_per_address = 512\nmax_unauthenticated = 512\n"
                "lockout_threshold = 1000\n")
    p = subprocess.Popen([os.environ["TETHERD"], "--state-dir", os.path.join(d, "state"),
                          "--config", conf, "--listen", f"0.0.0.0:{port}",
                          "--log-level", "warn"],
                         stdout=log, stderr=log)
    for _ in range(300):
        if subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"],
                          capture_output=True).returncode == 0:
            break
        if p.poll() is not None:
            raise SystemExit(f"tetherd exited {p.returncode}; see {d}/log")
        time.sleep(0.05)
    subprocess.run([os.environ["TETHERD"], "--state-dir", os.path.join(d, "state"), "user",
                    "add", "bench", "--os-user", ACCOUNT, "--password-stdin"],
                   input=harness.PASSWORD + "\n", text=True, check=True, capture_output=True)
    subprocess.run([os.environ["TETHERD"], "--state-dir", os.path.join(d, "state"), "user",
                    "key", "add", "bench", userkey + ".pub"], check=True, capture_output=True)
    return p


def make_account():
    """A plain login account with the distribution's default shell files, so
    that no tool pays for root's shell start-up."""
    if subprocess.run(["id", ACCOUNT], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", ACCOUNT],
                       check=True)
    # no password, but not locked ("!"), which sshd without PAM refuses outright
    subprocess.run(["usermod", "-p", "*", ACCOUNT], check=True)


def start_sshd(tmp):
    os.makedirs("/run/sshd", exist_ok=True)
    hostkey, userkey = benchlib.ssh_keys(tmp)
    ssh_dir = os.path.expanduser(f"~{ACCOUNT}/.ssh")   # sshd reads it as the account
    os.makedirs(ssh_dir, exist_ok=True)
    auth = os.path.join(ssh_dir, "authorized_keys")
    shutil.copy(userkey + ".pub", auth)
    os.chmod(auth, 0o600)
    subprocess.run(["chown", "-R", f"{ACCOUNT}:", ssh_dir], check=True)
    p = benchlib.run_sshd(tmp, "/usr/sbin/sshd", [
        f"Port {SSH_PORT}", "ListenAddress 0.0.0.0", f"HostKey {hostkey}",
        "AuthorizedKeysFile .ssh/authorized_keys", "PermitRootLogin no", "UsePAM no",
        "MaxStartups 2000:30:2000", "MaxSessions 100", "StrictModes no"])
    return p, userkey


def login_all(env, hosts, port, userkey):
    """Log the bench client in to every host (the fleet form of login), with
    the key the ssh peers use."""
    spec = ",".join(f"{h}:{port}" for h in hosts)
    t0 = time.monotonic()
    r = subprocess.run([os.environ["TETHER"], "login", spec, "--user", "bench", "-i", userkey,
                        "--accept-new"], stdin=subprocess.DEVNULL,
                       text=True, env=env, capture_output=True)
    if r.returncode != 0:
        raise SystemExit("login failed: " + r.stderr[-500:])
    return time.monotonic() - t0


def bench(n, tmp, env, userkey):
    hosts = addresses(n)
    hostfile = os.path.join(tmp, f"hosts-{n}")
    with open(hostfile, "w") as f:
        f.write("\n".join(hosts) + "\n")
    took = login_all(env, hosts, PORT, userkey)
    print(f"\n== {n} hosts (fan-out {FANOUT}; login to all took {took:.1f} s) ==")
    spec = ",".join(f"{h}:{PORT}" for h in hosts)
    ssh_args = " ".join(SSH_OPTS + ["-i", userkey, "-l", ACCOUNT])
    rows = [("tether invoke -H", measure([os.environ["TETHER"], "invoke", "-H", spec,
                                          "--throttle", str(FANOUT), "--", "true"], env))]
    if n > PEERS_MAX:
        report(n, rows)
        return
    penv = dict(os.environ, PDSH_SSH_ARGS_APPEND=ssh_args)
    rows.append(("pdsh -R ssh (fresh)", measure(["pdsh", "-R", "ssh", "-f", str(FANOUT),
                                                 "-w", "^" + hostfile, "true"], penv)))
    cm = os.path.join(tmp, "cm")
    os.makedirs(cm, exist_ok=True)
    cm_opts = ["-o", f"ControlPath={cm}/%h", "-o", "ControlPersist=600"]
    masters = []
    for i in range(0, n, FANOUT):   # open the masters FANOUT at a time
        batch = [subprocess.Popen(["ssh", *SSH_OPTS, "-i", userkey, "-l", ACCOUNT, *cm_opts,
                                   "-o", "ControlMaster=yes", "-fN", h])
                 for h in hosts[i:i + FANOUT]]
        for p in batch:
            p.wait()
        masters += batch
    wenv = dict(os.environ, PDSH_SSH_ARGS_APPEND=ssh_args + " " + " ".join(
        ["-o", f"ControlPath={cm}/%h", "-o", "ControlMaster=no"]))
    rows.append(("pdsh, warm ControlMaster", measure(["pdsh", "-R", "ssh", "-f", str(FANOUT),
                                                      "-w", "^" + hostfile, "true"], wenv)))
    rows.append(("clush", measure(["clush", "-f", str(FANOUT), "--hostfile", hostfile,
                                   "-l", ACCOUNT, "-o", ssh_args, "true"])))
    inv = os.path.join(tmp, f"ansible-{n}")
    with open(inv, "w") as f:
        f.write("[all]\n" + "\n".join(hosts) + "\n[all:vars]\n"
                f"ansible_port={SSH_PORT}\nansible_user={ACCOUNT}\n"
                f"ansible_ssh_private_key_file={userkey}\n")
    aenv = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_STDOUT_CALLBACK="oneline")
    runs = 1 if n >= 500 else RUNS   # ansible at 1,000 hosts takes minutes a run
    rows.append(("ansible -m raw -f 32", measure(["ansible", "all", "-i", inv, "-m", "raw",
                                                  "-a", "true", "-f", str(FANOUT)], aenv,
                                                 runs=runs)))
    subprocess.run(["bash", "-c", f"for s in {cm}/*; do ssh -o ControlPath=$s -O exit x "
                    "2>/dev/null; done"], capture_output=True)
    report(n, rows)


def report(n, rows):
    """The table: each tool's figures and tether's ratio to it."""
    base = rows[0][1][0]
    print(f"{'tool':28} {'wall s':>8} {'ms CPU/host':>12} {'peak RSS MB':>12} {'tether/x':>9}")
    for name, (wall, cpu, rss) in rows:
        print(f"{name:28} {wall:8.2f} {cpu * 1000 / n:12.2f} {rss / 1024:12.1f} "
              f"{base / wall if wall else 0:9.2f}")


def bench_failures(n, tmp, env, daemons, userkey):
    """10% dead and 10% hanging hosts among n."""
    hosts = addresses(n)
    k = n // 10
    dead, hung, good = hosts[:k], hosts[k:2 * k], hosts[2 * k:]
    login_all(env, dead, DEAD_PORT, userkey)
    login_all(env, hung, HUNG_PORT, userkey)
    daemons["dead"].kill()
    daemons["dead"].wait()
    daemons["hung"].send_signal(19)   # SIGSTOP: the kernel still accepts
    spec = ",".join([f"{h}:{DEAD_PORT}" for h in dead] + [f"{h}:{HUNG_PORT}" for h in hung] +
                    [f"{h}:{PORT}" for h in good])
    healthy = measure([os.environ["TETHER"], "invoke", "-H", ",".join(
        f"{h}:{PORT}" for h in good), "--", "true"], env, runs=1)[0]
    t0 = time.monotonic()
    r = subprocess.run([os.environ["TETHER"], "invoke", "-H", spec, "--connect-timeout", "3",
                        "--", "echo ok"], env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    daemons["hung"].send_signal(18)
    oks = r.stdout.count(": ok")
    print(f"\n== {n} hosts, {k} dead + {k} hanging, --connect-timeout 3 ==\n"
          f"wall {wall:.2f} s (healthy hosts alone {healthy:.2f} s + timeout 3 s = "
          f"{healthy + 3:.2f} s); healthy output complete: {oks == len(good)} "
          f"({oks}/{len(good)}); exit {r.returncode}")


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [50, 200, 1000]
    make_account()
    tmp = tempfile.mkdtemp(prefix="tether-fleet-bench-")
    os.chmod(tmp, 0o711)
    env = dict(os.environ, TETHER_HOME=os.path.join(tmp, "home"))
    sshd, userkey = start_sshd(tmp)
    daemons = {"main": start_tetherd(tmp, PORT, "main", userkey),
               "dead": start_tetherd(tmp, DEAD_PORT, "dead", userkey),
               "hung": start_tetherd(tmp, HUNG_PORT, "hung", userkey)}
    try:
        for n in sizes:
            bench(n, tmp, env, userkey)
        bench_failures(max(sizes), tmp, env, daemons, userkey)
    finally:
        for p in list(daemons.values()) + [sshd]:
            if p.poll() is None:
                p.send_signal(18)
                p.terminate()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
