"""Fleet targets (docs/fleet.md "Targets"): `tether targets` resolves
nodesets, @GROUP and @PATH, and reads an Ansible INI inventory the way
Ansible does. The reference is Ansible itself: `ansible-inventory --list`
on the same file must give the same hosts for every group, with the same
ansible_host and ansible_port. Nothing here needs a daemon."""
import json
import os
import shutil
import subprocess
import time

from harness import main

# Children of children, children declared before their section, ranges
# (padding, stride, letters, several in one name), ports on the pattern and
# as variables, ansible_host as IPv4, IPv6 and a name, quoted values, vars
# sections (other variables; ansible_host/port there are not read by tether,
# so none are set), hosts before any section, a host in several groups, a
# section given twice, both comment styles.
INVENTORY = """\
# hosts before any section are 'ungrouped'
bastion.example.com ansible_host=192.0.2.10
jump ansible_port=2022
web01

[web]
web[01:04]
web-canary.example.com:8443 ansible_user=deploy   # user is ignored by tether
api[a:c]-[1:2] tier=frontend

[db]
db[00:12:4] ansible_host=10.0.0.20 ansible_port=5432
db-replica ansible_host="fd00::20" ansible_port='15432'
[2001:db8::7]:4433

; a section given twice adds to the group
[web]
static[1:3].cdn.example.com

[cache]
redis[1:2]:6380
redis1:7000
memcache ansible_port=11211
memcache ansible_port=11212

[backend:children]
db
cache
queue

[queue]
mq[1:2] ansible_host=mq.internal

[prod:children]
web
backend

[staging]
stage[01:03].example.com
jump

[everything:children]
prod
staging

[web:vars]
http_port=80
[backend:vars]
ansible_user=ops
[all:vars]
ntp_server=pool.ntp.org
"""

GROUPS = ["all", "ungrouped", "web", "db", "cache", "queue", "backend", "prod",
          "staging", "everything"]


def ansible_view(path, home):
    """{group: set of hosts}, {host: (ansible_host, ansible_port)} per Ansible."""
    env = dict(os.environ, HOME=home, ANSIBLE_LOCAL_TEMP=os.path.join(home, "tmp"),
               ANSIBLE_NOCOLOR="1")
    r = subprocess.run(["ansible-inventory", "-i", path, "--list"], capture_output=True,
                       text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    hostvars = doc.get("_meta", {}).get("hostvars", {})

    def members(g, seen):
        if g in seen:
            return set()
        seen.add(g)
        out = set(doc.get(g, {}).get("hosts", []))
        for kid in doc.get(g, {}).get("children", []):
            out |= members(kid, seen)
        return out

    groups = {g: members(g, set()) for g in GROUPS}
    addrs = {}
    for h, v in hostvars.items():
        addrs[h] = (v.get("ansible_host"), v.get("ansible_port"))
    for h in groups["all"]:
        addrs.setdefault(h, (None, None))
    return groups, addrs


def expected_address(name, host, port):
    """The HOST spec tether should connect to for an inventory host."""
    h = str(host) if host is not None else name
    if ":" in h and not h.startswith("["):
        h = f"[{h}]"
    return h if port is None else f"{h}:{port}"


def targets(c, *args, env=None):
    e = c.env()
    if env:
        e.update(env)
    r = subprocess.run([os.environ.get("TETHER", "build/client/tether"), "targets", *args],
                       capture_output=True, text=True, env=e, timeout=60,
                       stdin=subprocess.DEVNULL)
    return r


def test_inventory_matches_ansible(env):
    if shutil.which("ansible-inventory") is None:
        print("  skip: ansible-inventory is not installed (deploy/install-deps.sh)")
        return
    c = env.client()
    path = os.path.join(env.root, "hosts.ini")
    with open(path, "w") as f:
        f.write(INVENTORY)
    home = os.path.join(env.root, "ansible-home")
    os.makedirs(home)
    groups, addrs = ansible_view(path, home)
    # the file is non-trivial as Ansible reads it
    assert len(groups["all"]) >= 30, groups["all"]
    assert groups["ungrouped"] == {"bastion.example.com"}, groups["ungrouped"]
    assert "db08" in groups["everything"] and "api-c-2" not in groups["all"]
    assert "apic-2" in groups["web"] and "mq2" in groups["prod"]
    checked_addrs = 0
    for g in GROUPS:
        r = targets(c, f"@{g}", "--inventory", path, "--json")
        assert r.returncode == 0, f"@{g}: {r.stderr}"
        mine = json.loads(r.stdout)
        names = [h["host"] for h in mine]
        assert len(names) == len(set(names)), f"@{g}: duplicates {names}"
        assert set(names) == groups[g], (f"@{g}: tether {sorted(names)} "
                                         f"ansible {sorted(groups[g])}")
        for h in mine:
            want = expected_address(h["host"], *addrs[h["host"]])
            assert h["address"] == want, f"@{g} {h['host']}: {h['address']} != {want}"
            checked_addrs += want != h["host"]
    # the addresses that differ from names were really exercised
    assert checked_addrs >= 10, checked_addrs
    for h, want in [("db08", "10.0.0.20:5432"), ("db-replica", "[fd00::20]:15432"),
                    ("2001:db8::7", "[2001:db8::7]:4433"), ("redis1", "redis1:6380"),
                    ("memcache", "memcache:11212"), ("mq1", "mq.internal"),
                    ("jump", "jump:2022")]:
        assert expected_address(h, *addrs[h]) == want, (h, addrs[h])

    # plain output: NAME, then ADDR when it differs
    r = targets(c, "@cache", "--inventory", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["redis1 redis1:6380", "redis2 redis2:6380",
                                     "memcache memcache:11212"], r.stdout


def test_inventory_locations(env):
    c = env.client()
    a = os.path.join(env.root, "a.ini")
    b = os.path.join(env.root, "b.ini")
    with open(a, "w") as f:
        f.write("[g]\nfrom-a[1:2]\n")
    with open(b, "w") as f:
        f.write("[g]\nfrom-env\n")
    with open(os.path.join(c.home, "inventory"), "w") as f:
        f.write("[g]\nfrom-home\n")
    # $TETHER_HOME/inventory by default
    r = targets(c, "@g")
    assert r.returncode == 0 and r.stdout == "from-home\n", (r.stdout, r.stderr)
    # TETHER_INVENTORY before it
    r = targets(c, "@g", env={"TETHER_INVENTORY": b})
    assert r.returncode == 0 and r.stdout == "from-env\n", (r.stdout, r.stderr)
    # --inventory before both
    r = targets(c, "@g", "-i", a, env={"TETHER_INVENTORY": b})
    assert r.returncode == 0 and r.stdout == "from-a1\nfrom-a2\n", (r.stdout, r.stderr)
    # no inventory anywhere: a clear message naming where it looked
    os.unlink(os.path.join(c.home, "inventory"))
    r = targets(c, "@g")
    assert r.returncode == 2, r
    assert "no inventory at " + os.path.join(c.home, "inventory") in r.stderr, r.stderr
    r = targets(c, "@nosuch", "-i", a)
    assert r.returncode == 2 and "unknown group '@nosuch'" in r.stderr, r.stderr


def test_malformed_targets_exit_2(env):
    c = env.client()
    for spec, words in [("web[3-1]", "range '3-1' in 'web[3-1]' ends before it starts"),
                        ("web[1-", "missing ']' in 'web[1-'"),
                        ("web[a-b]", "malformed range '[a-b]' in 'web[a-b]'"),
                        ("x[0-999999999]", "has more than 100000 hosts"),
                        ("bad_host", "invalid host name")]:
        t0 = time.monotonic()
        r = targets(c, spec)
        assert r.returncode == 2, (spec, r.returncode, r.stdout, r.stderr)
        assert words in r.stderr, (spec, r.stderr)
        assert r.stdout == "", (spec, r.stdout)
        assert len(r.stderr.splitlines()) == 1, r.stderr
    r = targets(c)
    assert r.returncode == 2 and "no TARGETS" in r.stderr, r.stderr
    r = targets(c, "a", "--bogus")
    assert r.returncode == 2, r


def test_nodesets_files_and_fold(env):
    c = env.client()
    hosts = os.path.join(env.root, "hosts.txt")
    with open(hosts, "w") as f:
        f.write("# rack one\nrack1-n[01-02]\n\nadmin@gw:2222  # the gateway\n")
    r = targets(c, "rack[1-2]-n[01-02]", f"@{hosts}", "web[01-03,07],db1", "--json")
    assert r.returncode == 0, r.stderr
    names = [h["host"] for h in json.loads(r.stdout)]
    assert names == ["rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02", "admin@gw:2222",
                     "web01", "web02", "web03", "web07", "db1"], names
    r = targets(c, "web[01-03]", "web07,db1", "rack[1-3]-n[01-16]", "--fold")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "db1,rack[1-3]-n[01-16],web[01-03,07]\n", r.stdout
    # the fold expands back to the same hosts
    r2 = targets(c, r.stdout.strip(), "--json")
    assert len(json.loads(r2.stdout)) == 4 + 1 + 48, r2.stdout
    r = targets(c, "[::1]:4433,admin@web[1-2]:8443", "--fold", "--json")
    doc = json.loads(r.stdout)
    assert doc["count"] == 3, doc
    r = targets(c, "--help")
    assert r.returncode == 0 and "--inventory" in r.stdout and "--fold" in r.stdout


if __name__ == "__main__":
    main(globals())
