#!/usr/bin/env bash
# ctest-lsan.sh [CTEST ARGS...] — runs ctest (with --output-on-failure) in the current build tree
# for a LeakSanitizer pass, and runs the failed suites once more when LeakSanitizer itself failed.
#
# LeakSanitizer's leak check at a process's exit stops every thread with a ptrace-based tracer.
# That tracer sometimes crashes on its own ("Tracer caught signal 11" ... "LeakSanitizer has
# encountered a fatal error"), racing threads that a driver (PoCL, OpenBLAS) still runs at exit:
# google/sanitizers#723, #1170, #1353. No leak check ran, so it is not a finding. The CI run of
# 6b4187d failed that way once in check_dynshape's forked test_alternating_shapes (its test body
# had passed); the conformance runner handles the same failure in C (tests/conformance/
# conformance.c, tool_retried).
#
# The failed suites run once more (ctest --rerun-failed) only when every failure is of that kind:
# at least one tracer failure message per failed suite, and none of: a leak report, an ASan or
# UBSan error, a failed Check assertion (":F:"), a ctest timeout. Anything else, or a second
# failure of the rerun, stands. Exit status: ctest's (0 when the rerun passes).
set -uo pipefail
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
ctest --output-on-failure "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] && exit 0

failed_list=Testing/Temporary/LastTestsFailed.log
n_failed=0
[ -f "$failed_list" ] && n_failed=$(grep -c . "$failed_list")
n_tracer=$(grep -c 'LeakSanitizer has encountered a fatal error' "$log")
if [ "$n_failed" -gt 0 ] && [ "$n_tracer" -ge "$n_failed" ] &&
  ! grep -q -E 'ERROR: LeakSanitizer: detected memory leaks|ERROR: AddressSanitizer|runtime error:|:F:|\*\*\*Timeout' "$log"; then
  echo "ctest-lsan.sh: LeakSanitizer itself failed at exit in $n_failed suite(s), no leak reported" \
    "(google/sanitizers#723): running them once more: $(cut -d: -f2 "$failed_list" | tr '\n' ' ')"
  ctest --output-on-failure --rerun-failed "$@"
  exit $?
fi
exit "$rc"
