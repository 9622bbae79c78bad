#!/usr/bin/env bash
# fuzz.sh — builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan, build-fuzz/) and runs
# each for a bounded time, one process at a time (docs/RELIABILITY.md, "Fuzzing").
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   default: 30 s each, every target
# Targets: onnx npy graph calib clcache. Each starts from tests/fuzz/corpus/<target> plus what
# earlier runs found (build-fuzz/corpus/<target>, not committed) and writes a crashing input to
# build-fuzz/findings/<target>/; the first finding fails the run (exit 1) after every target ran.
# Without clang's libFuzzer runtime (Debian: clang, libclang-rt-14-dev; tools/install-deps.sh)
# it prints why and exits 0 with "SKIPPED" (the replay of the corpora runs in ctest anyway).
# TSR_FUZZ_ARGS adds libFuzzer options (e.g. "-jobs=1 -workers=1", "-max_len=4096").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
secs="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(onnx npy graph calib clcache)
cc="${TSR_FUZZ_CC:-clang}"

probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$probe/p.c"
if ! command -v "$cc" >/dev/null 2>&1 ||
  ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >"$probe/log" 2>&1; then
  echo "fuzz.sh: SKIPPED: $cc cannot link -fsanitize=fuzzer,address,undefined (install clang and" \
    "libclang-rt-14-dev: tools/install-deps.sh)" >&2
  sed 's/^/  /' "$probe/log" >&2 || true
  exit 0
fi

build="$root/build-fuzz"
CC="$cc" cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTSR_FUZZ=ON >/dev/null
exes=()
for t in "${targets[@]}"; do exes+=("fuzz_$t"); done
cmake --build "$build" -j"$(nproc)" --target "${exes[@]}" >/dev/null
read -r -a extra <<<"${TSR_FUZZ_ARGS:-}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSR_CALIBRATE=off OCL_ICD_VENDORS=/nonexistent-dir
failed=()
for t in "${targets[@]}"; do
  work="$build/corpus/$t" findings="$build/findings/$t"
  mkdir -p "$work" "$findings"
  start=$(date +%s)
  # -rss_limit_mb: a tiny input that wants more memory is a finding too
  if "$build/bin/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$findings/" "${extra[@]}" \
    "$work" "tests/fuzz/corpus/$t" >"$build/fuzz_$t.log" 2>&1; then
    echo "fuzz $t: $(($(date +%s) - start)) s, $(grep -o 'stat::number_of_executed_units: [0-9]*' \
      "$build/fuzz_$t.log" | grep -o '[0-9]*$') inputs, no finding"
  else
    echo "fuzz $t: FINDING after $(($(date +%s) - start)) s: $(find "$findings" -type f -newermt "@$start" | head -1)" \
      "(log: $build/fuzz_$t.log)"
    grep -E 'ERROR|runtime error|SUMMARY' "$build/fuzz_$t.log" | head -5 | sed 's/^/  /'
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]} (reproduce: build-fuzz/bin/fuzz_TARGET FILE; add the" \
    "file to tests/fuzz/regressions/TARGET once fixed)" >&2
  exit 1
fi
