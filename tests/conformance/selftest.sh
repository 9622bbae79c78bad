#!/usr/bin/env bash
# selftest.sh BUILD_DIR — tests the conformance runner itself (ctest check_conformance_runner) on
# a made-up data folder built from real node tests: a pass, a wrong result (test_add's inputs
# with test_sub's output), a refusal (a corrupt model), an exclusion (a sequence test), a crash
# and a hang injected into the worker (TSR_CONFORMANCE_INJECT), and a pass after them. Checks
# the counts, the gate (exit 1, FAIL lines), known_wrong.txt tolerating, --update-lists, and
# a LeakSanitizer failure at the worker's exit (rerun once) against a leak report (fails).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(cd "$1" && pwd)/bin/conformance"
if [ "${TSR_CONFORMANCE:-}" = "off" ]; then
  echo "conformance runner self-test: skipped: TSR_CONFORMANCE=off"
  exit 77
fi
data="$("$root/tools/conformance-data.sh")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/data" "$tmp/lists"
cp -r "$data/test_relu" "$tmp/data/test_a_pass"
cp -r "$data/test_add" "$tmp/data/test_b_wrong"
cp "$data/test_sub/test_data_set_0/output_0.pb" "$tmp/data/test_b_wrong/test_data_set_0/"
cp -r "$data/test_relu" "$tmp/data/test_c_refused"
printf 'not a model' >"$tmp/data/test_c_refused/model.onnx"
cp -r "$data/test_relu" "$tmp/data/test_d_crash"
cp -r "$data/test_relu" "$tmp/data/test_e_hang"
cp -r "$data/test_relu" "$tmp/data/test_f_pass"
cp -r "$data/test_sequence_insert_at_back" "$tmp/data/test_g_excluded"
printf 'test_a_pass\ntest_c_refused\n' >"$tmp/lists/expected_cpu.txt"
export TSR_CONFORMANCE_INJECT="crash:test_d_crash,hang:test_e_hang"
run() { "$bin" --data "$tmp/data" --device cpu --lists "$tmp/lists" --timeout 2 \
  --log "$tmp/log" --report "$tmp/report.json" "$@" >"$tmp/out" 2>&1; }
fail() {
  echo "selftest: FAIL: $*"
  cat "$tmp/out"
  exit 1
}
expect_line() { grep -qF -- "$1" "$tmp/out" || fail "no line: $1"; }

rc=0; run || rc=$?
[ "$rc" = 1 ] || fail "gate: exit $rc, expected 1"
expect_line "conformance cpu: 2 passed, 1 wrong, 1 refused, 2 crashed, 1 excluded (of 7)"
expect_line "FAIL test_b_wrong: wrong"
expect_line "FAIL test_c_refused: expected to pass, refused"
expect_line "FAIL test_d_crash: crash"
expect_line "FAIL test_e_hang: crash"
grep -q '"outcome":"wrong"\|"outcome": "wrong"' "$tmp/report.json" || fail "report has no wrong test"

# Later runs without the hang (it costs 2 + 12 s): test_e_hang passes then.
export TSR_CONFORMANCE_INJECT="crash:test_d_crash"
printf 'test_b_wrong cpu made up\ntest_d_crash * made up\n' >"$tmp/lists/known_wrong.txt"
printf 'test_a_pass\n' >"$tmp/lists/expected_cpu.txt"
rc=0; run || rc=$?
[ "$rc" = 0 ] || fail "known_wrong.txt: exit $rc, expected 0"
expect_line "newly passing on cpu (2;"
expect_line "  test_e_hang"
expect_line "  test_f_pass"
rc=0; run --update-lists || rc=$?
[ "$rc" = 0 ] || fail "--update-lists: exit $rc"
[ "$(cat "$tmp/lists/expected_cpu.txt")" = "$(printf 'test_a_pass\ntest_e_hang\ntest_f_pass')" ] ||
  fail "--update-lists wrote: $(cat "$tmp/lists/expected_cpu.txt")"

# LeakSanitizer's own failure at the worker's exit (injected once): the range runs again and
# passes; a leak report at exit fails the run (exit 2) and its log tail is printed.
export TSR_CONFORMANCE_INJECT="crash:test_d_crash,exitfail:end"
export TSR_CONFORMANCE_INJECT_ONCE="$tmp/exitfail-once"
rc=0; run || rc=$?
[ "$rc" = 0 ] || fail "LeakSanitizer failure at exit: exit $rc, expected 0 after a rerun"
expect_line "LeakSanitizer itself failed (no leak reported): running tests"
[ -e "$tmp/exitfail-once" ] || fail "the exit failure was not injected"
export TSR_CONFORMANCE_INJECT="crash:test_d_crash,leakreport:end"
rc=0; run || rc=$?
[ "$rc" = 2 ] || fail "leak report at exit: exit $rc, expected 2"
expect_line "ERROR: LeakSanitizer: detected memory leaks (injected)"
grep -qF "running tests" "$tmp/out" && fail "a leak report was rerun"
echo "conformance runner self-test: 1 passed, 0 failed"
