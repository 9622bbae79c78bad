#define _XOPEN_SOURCE 700 /* nftw */
#include "test_support.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ts_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
    uint64_t s = seed * 2654435761u + 0x9E3779B97F4A7C15ull;
    if (s == 0) s = 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        uint64_t r = s * 2685821657736338717ull;
        double u = (double)(r >> 11) / 9007199254740992.0; /* [0, 1) */
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

double ts_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) != isnan(b[i])) return INFINITY;
        if (isnan(a[i])) continue;
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m) m = d;
    }
    return m;
}

tsr_context *ts_context(void) {
    tsr_context *ctx = NULL;
    tsr_status st = tsr_context_create(NULL, &ctx);
    ck_assert_msg(st == TSR_OK, "tsr_context_create: %s: %s", tsr_status_name(st),
                  tsr_last_error(NULL)->message);
    return ctx;
}

int ts_opencl_expected(void) {
    const char *e = getenv("TSR_EXPECT_OPENCL");
    if (!e || !strcmp(e, "1")) return 1;
    ck_assert_msg(!strcmp(e, "0"), "TSR_EXPECT_OPENCL=%s: expected 0 or 1", e);
    return 0;
}

int ts_opencl_missing(const char *what) {
    ck_assert_msg(!ts_opencl_expected(),
                  "%s, yet OpenCL is expected (set TSR_EXPECT_OPENCL=0 where it is absent on "
                  "purpose, as tools/test.sh does with OpenCL hidden)",
                  what);
    static int noted;
    if (!noted) {
        fprintf(stderr, "note: %s (TSR_EXPECT_OPENCL=0): OpenCL cases check the CPU path only\n",
                what);
        noted = 1;
    }
    return 0;
}

int ts_have_opencl(tsr_context *ctx) {
    int idx;
    if (tsr_device_find(ctx, "opencl:0", &idx) == TSR_OK) return 1;
    return ts_opencl_missing("no OpenCL device");
}

const char *ts_device_backend(const struct tsr_device_info *info) {
    return info->backend;
}

int ts_run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

struct tsr_tensor_desc ts_desc(int rank, const int64_t *dims) {
    struct tsr_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.dtype = TSR_F32;
    d.rank = rank;
    for (int i = 0; i < rank; i++)
        d.dims[i] = dims[i];
    return d;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int ts_remove_tree(const char *dir) {
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0) return 0;
    return errno == ENOENT ? 0 : -1;
}
