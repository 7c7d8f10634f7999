#!/usr/bin/env bash
# Builds every libFuzzer target with clang-14 (ASan+UBSan) and runs each for a bounded number
# of iterations (FUZZ_RUNS, default 200,000) and at most FUZZ_SECONDS (default 60) each, so CI
# stays inside its budget: the segment-scan target runs ~1,000 inputs/s. Any finding fails
# the run.
#
# Corpus dirs, in the order libFuzzer gets them (it writes new inputs into the FIRST dir only):
#   $dir/corpus-<name>     scratch corpus in the build dir, the only dir written to
#   fuzz/corpus/<name>     committed minimized corpus, read-only seeds (never first)
#   fuzz/seeds/<name>      hand-made / encoder-made seeds, read-only
#
# Long run (FUZZ_LONG=1): at least 10 million executions per target, no time cap:
#   FUZZ_LONG=1 scripts/fuzz-smoke.sh build/fuzz
# which is FUZZ_RUNS=10000000 FUZZ_SECONDS=0 (0 = no time limit), plus what makes a long run
# several times faster without weakening a check (docs/reliability.md "Fuzzing"): -entropic=0
# (libFuzzer's entropic scheduler spent 60 % of the time on its own bookkeeping once the corpus
# was large), -max_len=8192 (no target needs more: frames are capped at 2,041 bytes by the
# target, segments at 4,096) and ASAN_OPTIONS=malloc_context_size=0 (no allocation stack is
# recorded; a finding still reports where it happened). Slow targets take hours
# (segment_scan_fuzz ~900 exec/s, config_fuzz ~2,100 exec/s on one core); run them alone, on
# FUZZ_JOBS cores with libFuzzer's -jobs (FUZZ_RUNS is then the total, split over the jobs):
#   FUZZ_ONLY=segment_scan_fuzz FUZZ_JOBS=2 FUZZ_LONG=1 scripts/fuzz-smoke.sh build/fuzz
# To grow the committed corpus after a long run, minimize the scratch corpus into a fresh dir
# and replace fuzz/corpus/<name> with it (keep it small, < 2 MB in all):
#   build/fuzz/fuzz/<name> -merge=1 -max_len=70000 /tmp/new-<name> build/fuzz/corpus-<name> fuzz/corpus/<name>
# (add -use_counters=0 when that is too large: edge coverage only, several times fewer files).
#
# FUZZ_CXXFLAGS adds compiler flags to the build in $dir (use a dir of its own). The long run of
# segment_scan_fuzz uses it to drop libFuzzer's compare tracing, which took a third of that
# target's time (docs/reliability.md "Fuzzing"); ASan, UBSan and coverage guidance stay:
#   FUZZ_ONLY=segment_scan_fuzz FUZZ_JOBS=2 FUZZ_LONG=1 \
#     FUZZ_CXXFLAGS=-fno-sanitize-coverage=trace-cmp scripts/fuzz-smoke.sh build/fuzz-nocmp
set -euo pipefail
dir=${1:-build/fuzz}
long_flags=()
jobs=${FUZZ_JOBS:-1}
if [ -n "${FUZZ_LONG:-}" ]; then
  runs=${FUZZ_RUNS:-10000000}
  seconds=${FUZZ_SECONDS:-0}
  long_flags=(-entropic=0)
  max_len=8192
  export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0}
else
  runs=${FUZZ_RUNS:-200000}
  seconds=${FUZZ_SECONDS:-60}
  max_len=70000
fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DIRONBUS_FUZZ=ON -DIRONBUS_TESTS=OFF -DIRONBUS_BENCH=OFF -DCMAKE_CXX_FLAGS="${FUZZ_CXXFLAGS:-}" >/dev/null
# Only the fuzz targets: the broker (asio C++20 coroutines) is built and tested with g++ by the
# unit and sanitizer stages; clang-14 with libstdc++ 12 does not compile asio's coroutines.
targets=()
for src in fuzz/*_fuzz.cc; do targets+=("$(basename "$src" .cc)"); done
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"
shopt -s nullglob
for src in fuzz/*_fuzz.cc; do
  name=$(basename "$src" .cc)
  [ -n "${FUZZ_ONLY:-}" ] && [ "$name" != "$FUZZ_ONLY" ] && continue
  corpus="$dir/corpus-$name"  # first dir: the only one libFuzzer writes to
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/corpus/$name" ] && seeds+=("fuzz/corpus/$name")  # read-only
  [ -d "fuzz/seeds/$name" ] && seeds+=("fuzz/seeds/$name")    # read-only
  echo "fuzz: $name (up to $runs runs or ${seconds}s; 0 = no limit)"
  if [ "$jobs" -gt 1 ]; then
    # -jobs: independent processes with their own random seeds, sharing the scratch corpus.
    # libFuzzer writes each job's log as fuzz-<n>.log in the working directory: run it in
    # $dir/jobs-<name> (so absolute paths).
    root=$(pwd)
    abs_seeds=()
    for s in "${seeds[@]}"; do abs_seeds+=("$root/$s"); done
    mkdir -p "$dir/jobs-$name"
    (cd "$dir/jobs-$name" && "$root/$dir/fuzz/$name" -jobs="$jobs" -workers="$jobs" \
      -runs=$(( (runs + jobs - 1) / jobs )) -max_total_time="$seconds" -max_len="$max_len" "${long_flags[@]}" \
      -print_final_stats=1 -artifact_prefix="$root/$dir/$name-" "$root/$corpus" "${abs_seeds[@]}") 2>&1 | tail -n 4
    grep -h "stat::number_of_executed_units" "$dir/jobs-$name"/fuzz-*.log || true
  else
    "$dir/fuzz/$name" -runs="$runs" -max_total_time="$seconds" -max_len="$max_len" "${long_flags[@]}" -seed=1 \
      -print_final_stats=1 -artifact_prefix="$dir/$name-" "$corpus" "${seeds[@]}" 2>&1 | tail -n 4
  fi
  test "${PIPESTATUS[0]}" -eq 0
done
