"""Pieces the benchmarks share: the paths to the tree and its build (set on
import, so `import harness` works after it), a cgroup that meters and cleans
up a process tree, and a keep-alive API connection."""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
os.environ.setdefault("TETHERD", os.path.join(TOP, "build", "server", "tetherd"))
os.environ.setdefault("TETHER", os.path.join(TOP, "build", "client", "tether"))


def descendants(pid):
    """The pids below pid in the process tree now (from /proc)."""
    parent = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                parent[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


class CpuGroup:
    """A cgroup v2 group (cpu.stat exists whatever controllers are on) that
    counts the CPU of a whole process tree: the daemon and every supervisor
    and job it forks, or tsp's server, clients and jobs. Other work on the
    machine is left out. None of this is available without a writable
    cgroup2 mount; then figures fall back to machine-wide /proc/stat."""

    def __init__(self, tag):
        self.path = None
        for base in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
            if not os.path.exists(os.path.join(base, "cgroup.procs")) or \
               not os.path.exists(os.path.join(base, "cgroup.controllers")):
                continue
            path = os.path.join(base, f"tether-bench-{os.getpid()}-{tag}")
            try:
                os.mkdir(path)
            except OSError:
                continue
            if os.path.exists(os.path.join(path, "cpu.stat")):
                self.base, self.path = base, path
                break
            os.rmdir(path)

    def add(self, pid):
        """Move pid and the processes it already started into the group
        (tetherd's launcher, which starts the supervisors, is forked before
        the daemon can be moved); what they start later inherits it."""
        if not self.path:
            return
        for p in [pid] + descendants(pid):
            try:
                with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                    f.write(str(p))
            except OSError:
                if p == pid:
                    raise   # a child may have exited meanwhile; pid may not

    def leave(self, pid):
        with open(os.path.join(self.base, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def usage(self):
        """CPU seconds used by the group so far."""
        with open(os.path.join(self.path, "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                if k == "usage_usec":
                    return int(v) / 1e6
        return 0.0

    def name(self):
        return os.path.relpath(self.path, self.base)

    def remove(self):
        """Kill whatever is left in the group (only our own processes), then
        remove it (bounded)."""
        if not self.path:
            return
        for _ in range(100):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                try:
                    with open(os.path.join(self.path, "cgroup.kill"), "w") as f:
                        f.write("1")
                except OSError:
                    pass
                time.sleep(0.05)
        print(f"  (could not remove cgroup {self.path})")


class Api:
    """One keep-alive HTTPS connection to the daemon, with a token and a client id."""

    def __init__(self, daemon, token, client_id):
        self.conn = daemon.conn()
        self.hdrs = {"Authorization": "Bearer " + token, "X-Tether-Client": client_id}

    def call(self, method, path, body=None):
        h = dict(self.hdrs)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=h)
        r = self.conn.getresponse()
        out = r.read()
        return r.status, r, out

    def call_json(self, method, path, body=None):
        """call(), with the reply body parsed as JSON where it is JSON."""
        st, _, out = self.call(method, path, body)
        try:
            return st, json.loads(out) if out else None
        except ValueError:
            return st, out.decode("utf-8", "replace")

    def close(self):
        self.conn.close()


def ssh_keys(tmp):
    """A fresh ed25519 host key and user key in tmp: (hostkey, userkey) paths."""
    keys = os.path.join(tmp, "hostkey"), os.path.join(tmp, "userkey")
    for k in keys:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k], check=True)
    return keys


def run_sshd(tmp, sshd, settings):
    """Start sshd in the foreground on tmp/sshd_config with settings (lines
    of sshd_config) plus a pid file and a log in tmp; returns the process."""
    conf = os.path.join(tmp, "sshd_config")
    with open(conf, "w") as f:
        f.write("\n".join(settings) + f"\nPidFile {tmp}/sshd.pid\n")
    p = subprocess.Popen([sshd, "-D", "-f", conf, "-E", os.path.join(tmp, "sshd.log")])
    time.sleep(0.5)
    return p
