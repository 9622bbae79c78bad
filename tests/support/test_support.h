/*
 * test_support.h — helpers shared by the Check suites: deterministic data, comparisons against
 * the scalar reference, OpenCL presence.
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

/* 1 when ctx has an OpenCL device (so OpenCL tests run), 0 otherwise (they are skipped with a
 * note on stderr: the suite must also pass with OpenCL hidden). */
int ts_have_opencl(tsr_context *ctx);

/* Runs suite `s` with CK_NORMAL output; returns the process exit status (0 iff no failure). */
int ts_run_suite(Suite *s);

/* desc helper: f32 tensor of the given rank and dims. */
struct tsr_tensor_desc ts_desc(int rank, const int64_t *dims);

#endif
