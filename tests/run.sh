#!/usr/bin/env bash
# Runs the whole test suite: installs dependencies (idempotent), builds from
# scratch into build/ (or build-sanitize/ with TETHER_SANITIZE=1) and runs
# every ctest test (cmocka unit tests and the integration suites that start
# real tetherd daemons on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh --test

dir=build
flags=(-DTETHER_WERROR=ON -DTETHER_TESTS=ON)
if [ "${TETHER_SANITIZE:-0}" = 1 ]; then
  dir=build-sanitize
  flags+=(-DTETHER_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

cmake -S . -B "$dir" "${flags[@]}"
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
# twice the CPUs: the integration tests mostly wait on daemons, sockets and
# child processes (at 2 on 2 CPUs the load stayed under 2)
ctest --output-on-failure -j"${TETHER_TEST_JOBS:-$(( $(nproc) * 2 ))}" "$@"
