#!/usr/bin/env bash
# Every benchmark in tests/bench, one after the other, at modest sizes, each
# one's summary (the lines after its runs: medians and ratios) printed as it
# ends and the full output kept in $OUT (default a temp dir). Run as root
# after building (build/ by default, or $TETHERD / $TETHER):
#   bash tests/bench/all.sh [--full]     # --full: each script's own defaults
# Absolute figures depend on what else the machine runs; the ratios are to a
# peer measured in the same run. Each script installs its peers if missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
full=0
[ "${1:-}" = "--full" ] && full=1
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/tether-bench-all-XXXXXX")}
mkdir -p "$OUT"
B=tests/bench

# name | modest arguments | the line(s) of its summary (grep -E)
benches=(
  "invoke_latency|$B/invoke_latency.py 20 3|^(invoke round trip|  |ratios)"
  "concurrency|$B/concurrency.py --clients 20 --invokes 10 --rounds 3|^(tether |tether-mux |ssh-mux |ratios)"
  "stream|$B/stream.py --size 256M --runs 3|^(tether |ssh-mux |ratios|daemon RSS)"
  "jobs_throughput|$B/jobs_throughput.py --jobs 1000 --runs 3 --no-profile|^(jobs started|  tether \\(|  task-spooler|ratio|target|CPU per job)"
  "job_memory|$B/job_memory.py --jobs 20 --rounds 3|^( +RSS|tether |tsp |tether/)"
  "job_wait_many|$B/job_wait_many.py --jobs 300|^(running:|  [a-z].*[0-9] /|CPU per second|after the last)"
  "transfer_throughput|$B/transfer_throughput.py --size 256M --runs 3|^(median MB/s|  [a-z0-9 +-]+ +[0-9.]+   \\(runs|  tether/)"
  "smallfiles|$B/smallfiles.py --files 2000 --runs 3|^(medians|  tether |  curl|tether/curl)"
  "sessions100k|$B/sessions100k.py --sessions 20000 --users 10 --runs 5|^([0-9]+ sessions|.tether session list|restart|nothing lost)"
)
[ -e $B/idle.py ] && benches+=("idle|$B/idle.py|.")
[ -e $B/idle.sh ] && benches+=("idle|bash $B/idle.sh|.")

rc=0
for b in "${benches[@]}"; do
  IFS='|' read -r name cmd pat <<<"$b"
  if [ $full = 1 ]; then cmd=${cmd%% -*}; cmd=${cmd%% [0-9]*}; fi
  echo "== $name: $cmd"
  start=$(date +%s)
  case $cmd in
    bash*) $cmd >"$OUT/$name.txt" 2>&1 ;;
    *)     python3 $cmd >"$OUT/$name.txt" 2>&1 ;;
  esac
  st=$?
  grep -E "$pat" "$OUT/$name.txt" | tail -n 12
  echo "   ($(( $(date +%s) - start )) s, exit $st, full output $OUT/$name.txt)"
  [ $st = 0 ] || rc=1
done
exit $rc
