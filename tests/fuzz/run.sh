#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, AddressSanitizer and
# UndefinedBehaviorSanitizer) into build-fuzz/ and runs each for SECONDS
# (default 20) from its seed corpus (copied to a scratch dir: the
# repository is not written). Exits 1 if any target finds a crash, a leak,
# undefined behaviour or a timeout, naming the reproducer. See README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
targets=(${FUZZ_TARGETS:-router json config addr outlog targets report api transfer sshkey cmdline})
dir=build-fuzz
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
flags+=" -fno-omit-frame-pointer -g"
CC=clang cmake -S . -B "$dir" -DTETHER_FUZZ=ON -DTETHER_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$flags" > "$dir.configure.log" 2>&1 ||
  { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" > "$dir.build.log" 2>&1 ||
  { tail -40 "$dir.build.log"; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
fail=0
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  scratch=$(mktemp -d)   # the state dir of targets that need the daemon's context
  cp tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  log="$dir/fuzz_$t.log"
  if TMPDIR="$scratch" "$dir/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -max_len=8192 -artifact_prefix="$dir/fuzz_$t-" -print_final_stats=1 "$work" \
       > "$log" 2>&1; then
    runs=$(grep -o 'number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz_$t: ok, $runs inputs in ${secs} s"
  else
    echo "fuzz_$t: FAILED (reproducer: $(ls "$dir"/fuzz_"$t"-* 2>/dev/null | head -1))"
    tail -40 "$log"
    fail=1
  fi
  rm -rf "$work" "$scratch"
done
exit $fail
