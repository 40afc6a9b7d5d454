#!/usr/bin/env bash
# Installs what tether needs on Debian 12.
#   bash deploy/install-deps.sh          build and runtime dependencies only
#                                        (what the quick start needs)
#   bash deploy/install-deps.sh --test   also the real servers and tools the
#                                        test suite drives (tests/run.sh)
# Idempotent: packages already present are not fetched again, and the apt
# index is refreshed only when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev
  libjansson-dev libcmocka-dev
  # PAM, for tetherd's auth = pam (server/pamauth.c)
  libpam0g-dev
  # crypt(3) of libxcrypt: yescrypt password hashes (server/pwhash.c)
  libcrypt-dev
  python3 sqlite3 curl openssl procps
)

# One line per purpose, so that each part of the suite says what it needs.
TEST_PKGS=(
  # real servers for the transfer tests (tests/integration/servers.py) and the
  # peer tool of the transfer benchmark; nginx-light has the dav module (PUT).
  # The tests start their own instances; the system services these packages
  # enable (nginx, vsftpd, ssh, smbd/nmbd, tinyproxy) are not needed by them.
  nginx-light vsftpd openssh-server samba tinyproxy aria2 util-linux
  # stallfs (tests/tools): a user's file system that never answers a read
  libfuse3-dev fuse3
  # ansible-inventory: the reference that tests/integration/test_fleet_targets.py
  # checks tether's reading of Ansible INI inventories against
  ansible-core
  # the libFuzzer targets (tests/fuzz/run.sh): clang and its runtime libraries
  clang libclang-rt-dev
  # mandoc -T lint on the man pages (tests/structure/check-docs-man.sh)
  mandoc
  # node and npm: tests/integration/test_openapi.py validates live responses against
  # docs/api/openapi.yaml (npm ci in tests/api); npm unless node already has it (NodeSource)
  nodejs $(command -v npm >/dev/null || echo npm)
  # the package check (tests/package/check.sh): building, linting and installing the .debs
  lintian dpkg-dev file binutils systemd man-db
  # promtool (Prometheus' linter) checks GET /metrics (tests/integration/test_metrics.py)
  prometheus
)

if [ "${1:-}" = --test ]; then
  PKGS+=("${TEST_PKGS[@]}")
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--test]" >&2
  exit 2
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
