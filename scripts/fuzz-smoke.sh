#!/usr/bin/env bash
# Builds every libFuzzer target with clang-14 (ASan+UBSan) and runs each for a bounded number
# of iterations (FUZZ_RUNS, default 200,000) and at most FUZZ_SECONDS (default 60) each, so CI
# stays inside its budget: the segment-scan target runs ~1,000 inputs/s. Any finding fails
# the run. Longer campaigns: FUZZ_RUNS=10000000 FUZZ_SECONDS=3600 scripts/fuzz-smoke.sh
set -euo pipefail
dir=${1:-build/fuzz}
runs=${FUZZ_RUNS:-200000}
seconds=${FUZZ_SECONDS:-60}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DIRONBUS_FUZZ=ON -DIRONBUS_TESTS=OFF -DIRONBUS_BENCH=OFF >/dev/null
# Only the fuzz targets: the broker (asio C++20 coroutines) is built and tested with g++ by the
# unit and sanitizer stages; clang-14 with libstdc++ 12 does not compile asio's coroutines.
targets=()
for src in fuzz/*_fuzz.cc; do targets+=("$(basename "$src" .cc)"); done
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"
shopt -s nullglob
for src in fuzz/*_fuzz.cc; do
  name=$(basename "$src" .cc)
  corpus="$dir/corpus-$name"
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/seeds/$name" ] && seeds+=("fuzz/seeds/$name")
  echo "fuzz: $name (up to $runs runs or ${seconds}s)"
  "$dir/fuzz/$name" -runs="$runs" -max_total_time="$seconds" -max_len=70000 -seed=1 -print_final_stats=1 \
    -artifact_prefix="$dir/$name-" "$corpus" "${seeds[@]}" 2>&1 | tail -n 4
  test "${PIPESTATUS[0]}" -eq 0
done
