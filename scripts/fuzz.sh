#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan) into build-fuzz/ and runs each for a
# while, one after the other; prints a summary table and exits 1 when any target failed.
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [TARGET...]
#
#   --seconds N   run each target for N seconds (libFuzzer -max_total_time; default 60)
#   --jobs J      compile jobs for the build (default 2)
#   TARGET        e.g. multipart or multipart_fuzz (default: every fuzz/*_fuzz.cpp)
#
# Each target's working corpus is build-fuzz/corpus/<target>/, seeded from fuzz/corpus/<target>/
# (never written to) and kept between runs, so later runs start where earlier ones stopped.
# Findings (crash, timeout, out-of-memory, leak) go to build-fuzz/artifacts/<target>/; the table
# names the file. Reproduce one with: build-fuzz/<target>_fuzz <file>. Logs: build-fuzz/logs/.
# Environment: CC / CXX (default clang-14 / clang++-14), FUZZ_BUILD_DIR (default build-fuzz).
set -euo pipefail

usage() {
  sed -n '2,16s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

seconds=60
jobs=2
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) [[ $# -ge 2 ]] || usage; seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --jobs) [[ $# -ge 2 ]] || usage; jobs=$2; shift 2 ;;
    --jobs=*) jobs=${1#*=}; shift ;;
    -h|--help) usage ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
    *) targets+=("${1%_fuzz}"); shift ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "fuzz.sh: --seconds wants a positive integer" >&2; exit 2; }
[[ "$jobs" =~ ^[0-9]+$ && "$jobs" -gt 0 ]] || { echo "fuzz.sh: --jobs wants a positive integer" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
[[ "$build" = /* ]] || build=$root/$build

if [[ ${#targets[@]} -eq 0 ]]; then
  for source in "$root"/fuzz/*_fuzz.cpp; do
    name=$(basename "$source" .cpp)
    targets+=("${name%_fuzz}")
  done
fi
for t in "${targets[@]}"; do
  [[ -f "$root/fuzz/${t}_fuzz.cpp" ]] || { echo "fuzz.sh: no target $t (fuzz/${t}_fuzz.cpp)" >&2; exit 2; }
done

cmake -S "$root/fuzz" -B "$build" -G Ninja -DCMAKE_C_COMPILER="${CC:-clang-14}" \
  -DCMAKE_CXX_COMPILER="${CXX:-clang++-14}" >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]/%/_fuzz}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:symbolize=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/logs"
rows=()
failed=0
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  artifacts=$build/artifacts/$t
  log=$build/logs/$t.log
  mkdir -p "$corpus" "$artifacts"
  if [[ -d "$root/fuzz/corpus/$t" ]]; then
    cp -n "$root/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  fi
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [[ -f "$root/fuzz/dict/$t.dict" ]] && args+=(-dict="$root/fuzz/dict/$t.dict")
  echo "== $t: ${seconds}s ($log)"
  status=ok
  # Findings end the run early; libFuzzer exits non-zero and names the input it wrote.
  "$build/${t}_fuzz" "${args[@]}" "$corpus" >"$log" 2>&1 || status=failed

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  files=$(find "$corpus" -type f | wc -l)
  kib=$(( ($(find "$corpus" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}') + 1023) / 1024 ))
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
  if [[ $status == failed ]]; then
    failed=1
    kind=$(grep -oE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer): [a-z-]+|runtime error|FUZZ_CHECK failed|deadly signal|timeout|out-of-memory' "$log" | head -1 || true)
    status="FAILED${kind:+ ($kind)}"
    grep -E 'runtime error|FUZZ_CHECK failed|ERROR: ' "$log" | head -3 | sed 's/^/   /' || true
    echo "   artifact: ${artifact:-none written (see $log)}"
  fi
  rows+=("$t|$status|${execs:-?}|${cov:-?}|${ft:-?}|$files files, $kib KiB|${artifact:--}")
done

echo
printf '%-16s %-10s %12s %7s %7s %-22s %s\n' target status executions cov ft corpus artifact
for row in "${rows[@]}"; do
  IFS='|' read -r t status execs cov ft corpus artifact <<<"$row"
  printf '%-16s %-10s %12s %7s %7s %-22s %s\n' "$t" "${status%% *}" "$execs" "$cov" "$ft" "$corpus" "$artifact"
done
for row in "${rows[@]}"; do
  IFS='|' read -r t status _ <<<"$row"
  [[ $status == FAILED* ]] && echo "$t: $status (log: $build/logs/$t.log)"
done
exit "$failed"
