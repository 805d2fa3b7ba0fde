#!/usr/bin/env bash
# make test-asan / make test-tsan: the unit and e2e tests built under a sanitizer in their own
# build folder (build-asan, build-tsan), with g++ (the compiler of the normal build).
#   scripts/test_sanitizers.sh asan|tsan [ctest args...]
# asan: AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer), every report fatal.
# tsan: ThreadSanitizer, every report fatal. ONNX Runtime and OpenCV are prebuilt, not
# instrumented: tests/sanitizers/*.supp names what of theirs the sanitizer cannot see into.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: $0 asan|tsan [ctest args]}
shift
case "$kind" in
  asan) flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" ;;
  tsan) flags="-fsanitize=thread -fno-omit-frame-pointer" ;;
  *) echo "unknown sanitizer: $kind (asan or tsan)" >&2; exit 2 ;;
esac
build="build-$kind"
supp="$PWD/tests/sanitizers"
# Warnings are errors in the normal build (make test); here the sanitizer adds its own (GCC's
# -Wtsan on the atomic fences inside Boost.Asio), which say nothing about our code.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUTOUT_WERROR=OFF \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$build"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# OpenCV's parallel_for_ hands work to TBB in code ThreadSanitizer cannot see, so under TSan it
# runs serially: what is left to check is our own threading (HTTP, engine, pools, stores).
[[ "$kind" == tsan ]] && export OPENCV_FOR_THREADS_NUM=1
# The sanitizers' slowdown (a process request takes 3x as long under ASan, 10x under TSan) would
# outlast the slow-client test's deadlines before its measurement ends; it stretches them.
export CUTOUT_TEST_TIME_SCALE=3
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=7:suppressions=$supp/tsan.supp"
cd "$build"
start=$(date +%s)
# Under TSan, the tests that set OpenCV's thread count on purpose (to show the bytes do not depend
# on it) are left out: they run OpenCV's TBB pool, which ThreadSanitizer cannot see into.
exclude=()
[[ "$kind" == tsan ]] && exclude=(-E 'SameBytes.*ThreadCount')
ctest -L 'unit|e2e' "${exclude[@]}" --output-on-failure --timeout 1500 "$@"
echo "test-$kind: unit and e2e passed in $(( $(date +%s) - start )) s"
