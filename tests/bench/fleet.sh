#!/usr/bin/env bash
# The fleet benchmark (tests/bench/fleet.py) inside a private network
# namespace that has only lo, where 127.1.x.y stand for N hosts. Installs the
# peer tools it compares with. Run as root after building:
#   bash tests/bench/fleet.sh [N...]      # default: 50 200 1000
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${TETHER_BENCH_NETNS:-}" ]; then
  need=()
  for p in pdsh clustershell ansible-core openssh-server openssh-client time iproute2; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
  exec unshare -n env TETHER_BENCH_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
ulimit -n 65536 2>/dev/null || true
exec python3 tests/bench/fleet.py "$@"
