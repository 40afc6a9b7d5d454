#!/usr/bin/env bash
# Quick start: install dependencies, build, start tetherd on its embedded
# defaults (127.0.0.1:7443, sqlite state dir, self-generated certificate),
# then show it working: a user, a login pinned to the server's fingerprint,
# a session created and listed. Safe to run again: it restarts the daemon it
# started last time and reuses the demo user.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

bash deploy/install-deps.sh
cmake -S . -B build -DTETHER_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
tetherd=$top/build/server/tetherd
tether=$top/build/client/tether

if [ "$(id -u)" -eq 0 ]; then state=/var/lib/tether; else state=$HOME/.local/state/tetherd; fi
mkdir -p "$state"
pidfile=$state/quickstart.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "stopping the tetherd started by the last quick start (pid $(cat "$pidfile"))"
  kill "$(cat "$pidfile")"
  for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
fi

# The demo user's password lives in a 0600 file, never in argv.
pwfile=$state/quickstart-demo-password
if [ ! -s "$pwfile" ]; then
  (umask 077; openssl rand -base64 18 > "$pwfile")
fi
if ! "$tetherd" user list | awk 'NR>1 {print $1}' | grep -qx demo; then
  "$tetherd" user add demo --password-stdin < "$pwfile"
fi

echo "starting tetherd (log: $state/tetherd.log)"
nohup "$tetherd" >> "$state/tetherd.log" 2>&1 &
echo $! > "$pidfile"
for _ in $(seq 100); do
  grep -q "event=started.*pid=$(cat "$pidfile")" "$state/tetherd.log" 2>/dev/null && break
  kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -5 "$state/tetherd.log"; exit 1; }
  sleep 0.1
done

fp=$("$tetherd" fingerprint)
echo "server key fingerprint: $fp"
set -x
"$tether" login demo@127.0.0.1 --password-stdin --fingerprint "$fp" < "$pwfile"
"$tether" session remove 127.0.0.1/quickstart >/dev/null 2>&1 || true
"$tether" session new 127.0.0.1 --name quickstart
"$tether" session list
{ set +x; } 2>/dev/null
cat <<MSG

tetherd is running (pid $(cat "$pidfile")) on 127.0.0.1:7443 with state in $state.
  tether:  $tether  (try: $tether --help)
  stop:    kill \$(cat $pidfile)
MSG
