/*
 * test_support.h — helpers shared by the Check suites: deterministic data, comparisons against
 * the scalar reference, OpenCL presence (expected or not), device backends.
 */
#ifndef TSR_TEST_SUPPORT_H
#define TSR_TEST_SUPPORT_H

#include "tessera.h"

#include <check.h>

/* Deterministic pseudo-random floats in [lo, hi) (xorshift64*, seeded by `seed`). */
void ts_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);

/* max |a[i] - b[i]|; +inf when either side holds a NaN where the other does not. */
double ts_max_abs_diff(const float *a, const float *b, size_t n);

/* Creates a context with default options; fails the test on error. */
tsr_context *ts_context(void);

/* Whether this run expects OpenCL to come up: 0 when the environment says TSR_EXPECT_OPENCL=0
 * (tools/test.sh sets it for its pass with OpenCL hidden), 1 when it is unset or 1. Any other
 * value fails the test. */
int ts_opencl_expected(void);

/* To call when a test finds no OpenCL (`what` says what is missing, e.g. "no OpenCL device").
 * When OpenCL is expected (ts_opencl_expected), the test FAILS here, naming `what`: a discovery
 * regression must not pass as a skip. Otherwise notes it once on stderr and returns 0. */
int ts_opencl_missing(const char *what);

/* 1 when ctx has an OpenCL device (so OpenCL tests run). Without one: ts_opencl_missing (fails
 * unless OpenCL is expected absent, then 0: the test checks the CPU-only behaviour). */
int ts_have_opencl(tsr_context *ctx);

/* Name of the backend of a device ("cpu", "opencl"): the one place tests tell backends apart. */
const char *ts_device_backend(const struct tsr_device_info *info);

/* Runs suite `s` with CK_NORMAL output; returns the process exit status (0 iff no failure). */
int ts_run_suite(Suite *s);

/* Removes the directory tree `dir` (files, subdirectories, links themselves; never follows a
 * link) — the temporary cache directories the suites make with mkdtemp. Returns 0, or -1 with
 * errno set by the first failing call (a missing `dir` is not an error). */
int ts_remove_tree(const char *dir);

/* desc helper: f32 tensor of the given rank and dims. */
struct tsr_tensor_desc ts_desc(int rank, const int64_t *dims);

#endif
