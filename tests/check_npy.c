/*
 * check_npy.c — tsr_npy_load / tsr_npy_save: round trips of float32 and int64 tensors of
 * several ranks, files written by numpy itself (tests/data/np_*.npy, made by
 * tests/data/make_test_models.py; expected values are the formulas used there), and malformed
 * files, each of which must give its documented status and name the file.
 */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static void setup(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tsr_check_npy_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
}

static void tmp_path(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* A version 1.0 file with the given header dict (padded to 64 bytes) and payload. */
static void write_npy_raw(const char *path, const char *dict, const void *payload, size_t n) {
    char hdr[256];
    size_t dl = strlen(dict);
    size_t total = 10 + dl + 1, pad = (64 - total % 64) % 64;
    memcpy(hdr, dict, dl);
    memset(hdr + dl, ' ', pad);
    hdr[dl + pad] = '\n';
    size_t hl = dl + pad + 1;
    unsigned char buf[1024];
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)hl, 0};
    memcpy(buf, pre, 10);
    memcpy(buf + 10, hdr, hl);
    memcpy(buf + 10 + hl, payload, n);
    write_bytes(path, buf, 10 + hl + n);
}

static void expect_status(const char *path, tsr_status want, const char *substr) {
    struct tsr_tensor t;
    t.data = (void *)&t; /* must stay untouched on failure */
    tsr_status st = tsr_npy_load(path, &t);
    ck_assert_msg(st == want, "%s: got %s, want %s (%s)", path, tsr_status_name(st),
                  tsr_status_name(want), tsr_last_error(NULL)->message);
    ck_assert_ptr_eq(t.data, (void *)&t);
    const char *msg = tsr_last_error(NULL)->message;
    ck_assert_msg(strstr(msg, path) != NULL, "message '%s' does not name the file", msg);
    if (substr) ck_assert_msg(strstr(msg, substr) != NULL, "message '%s' lacks '%s'", msg, substr);
}

START_TEST(test_roundtrip_f32_ranks) {
    /* ranks 0..4 with distinct dims; rank 1 and a zero-sized dim included */
    static const int64_t dims[][4] = {{0}, {7}, {3, 5}, {2, 3, 4}, {2, 1, 3, 2}};
    for (int rank = 0; rank <= 4; rank++) {
        struct tsr_tensor_desc d = ts_desc(rank, dims[rank]);
        struct tsr_tensor t;
        ck_assert_int_eq(tsr_tensor_alloc(&d, &t), TSR_OK);
        size_t n = (size_t)tsr_desc_elements(&d);
        ts_fill_uniform(t.data, n, 100 + (uint64_t)rank, -3.0f, 3.0f);
        char p[300];
        snprintf(p, sizeof p, "%s/f32_r%d.npy", tmpdir, rank);
        ck_assert_int_eq(tsr_npy_save(p, &t), TSR_OK);
        struct tsr_tensor u;
        ck_assert_int_eq(tsr_npy_load(p, &u), TSR_OK);
        ck_assert_int_eq(u.desc.dtype, TSR_F32);
        ck_assert_int_eq(u.desc.rank, rank);
        for (int i = 0; i < rank; i++)
            ck_assert_int_eq(u.desc.dims[i], dims[rank][i]);
        ck_assert_int_eq(memcmp(u.data, t.data, n * 4), 0);
        /* the header is 64-byte aligned as numpy writes it */
        FILE *f = fopen(p, "rb");
        unsigned char pre[10];
        ck_assert_uint_eq(fread(pre, 1, 10, f), 10);
        fclose(f);
        ck_assert_int_eq((10 + (pre[8] | pre[9] << 8)) % 64, 0);
        tsr_tensor_free(&t);
        tsr_tensor_free(&u);
    }
}
END_TEST

START_TEST(test_roundtrip_empty_and_i64) {
    int64_t zd[2] = {0, 3};
    struct tsr_tensor_desc d = ts_desc(2, zd);
    struct tsr_tensor t;
    ck_assert_int_eq(tsr_tensor_alloc(&d, &t), TSR_OK);
    char p[300];
    tmp_path(p, sizeof p, "empty.npy");
    ck_assert_int_eq(tsr_npy_save(p, &t), TSR_OK);
    struct tsr_tensor u;
    ck_assert_int_eq(tsr_npy_load(p, &u), TSR_OK);
    ck_assert_int_eq(u.desc.rank, 2);
    ck_assert_int_eq(u.desc.dims[0], 0);
    ck_assert_int_eq(u.desc.dims[1], 3);
    tsr_tensor_free(&t);
    tsr_tensor_free(&u);

    for (int rank = 0; rank <= 3; rank++) {
        struct tsr_tensor_desc di = {.dtype = TSR_I64, .rank = rank, .dims = {2, 3, 2}};
        ck_assert_int_eq(tsr_tensor_alloc(&di, &t), TSR_OK);
        int64_t *v = t.data;
        int64_t n = tsr_desc_elements(&di);
        for (int64_t i = 0; i < n; i++)
            v[i] = (i - 3) * (INT64_C(1) << 40) + i;
        tmp_path(p, sizeof p, "i64.npy");
        ck_assert_int_eq(tsr_npy_save(p, &t), TSR_OK);
        ck_assert_int_eq(tsr_npy_load(p, &u), TSR_OK);
        ck_assert_int_eq(u.desc.dtype, TSR_I64);
        ck_assert_int_eq(u.desc.rank, rank);
        for (int64_t i = 0; i < n; i++)
            ck_assert_int_eq(((int64_t *)u.data)[i], v[i]);
        tsr_tensor_free(&t);
        tsr_tensor_free(&u);
    }
}
END_TEST

START_TEST(test_numpy_written) {
    char p[512];
    struct tsr_tensor t;
    /* np.arange(6, dtype=float32).reshape(2, 3) / 4 */
    snprintf(p, sizeof p, "%s/np_f32_2x3.npy", TSR_TEST_DATA_DIR);
    ck_assert_int_eq(tsr_npy_load(p, &t), TSR_OK);
    ck_assert_int_eq(t.desc.rank, 2);
    ck_assert_int_eq(t.desc.dims[0], 2);
    ck_assert_int_eq(t.desc.dims[1], 3);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(((float *)t.data)[i], (float)i / 4.0f);
    tsr_tensor_free(&t);

    /* int64 [-3, 0, 7, 1 << 40, -(1 << 50)] */
    snprintf(p, sizeof p, "%s/np_i64_5.npy", TSR_TEST_DATA_DIR);
    ck_assert_int_eq(tsr_npy_load(p, &t), TSR_OK);
    ck_assert_int_eq(t.desc.dtype, TSR_I64);
    ck_assert_int_eq(t.desc.rank, 1);
    ck_assert_int_eq(t.desc.dims[0], 5);
    const int64_t want[5] = {-3, 0, 7, INT64_C(1) << 40, -(INT64_C(1) << 50)};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(((int64_t *)t.data)[i], want[i]);
    tsr_tensor_free(&t);

    /* rank-0 scalar 2.5 */
    snprintf(p, sizeof p, "%s/np_f32_scalar.npy", TSR_TEST_DATA_DIR);
    ck_assert_int_eq(tsr_npy_load(p, &t), TSR_OK);
    ck_assert_int_eq(t.desc.rank, 0);
    ck_assert_float_eq(((float *)t.data)[0], 2.5f);
    tsr_tensor_free(&t);

    /* zeros((0, 3)) */
    snprintf(p, sizeof p, "%s/np_f32_empty.npy", TSR_TEST_DATA_DIR);
    ck_assert_int_eq(tsr_npy_load(p, &t), TSR_OK);
    ck_assert_int_eq(t.desc.rank, 2);
    ck_assert_int_eq(tsr_desc_elements(&t.desc), 0);
    tsr_tensor_free(&t);

    /* version 2.0 header: arange(24).reshape(2, 3, 4) - 5 */
    snprintf(p, sizeof p, "%s/np_f32_v2.npy", TSR_TEST_DATA_DIR);
    ck_assert_int_eq(tsr_npy_load(p, &t), TSR_OK);
    ck_assert_int_eq(t.desc.rank, 3);
    ck_assert_int_eq(t.desc.dims[2], 4);
    for (int i = 0; i < 24; i++)
        ck_assert_float_eq(((float *)t.data)[i], (float)(i - 5));
    tsr_tensor_free(&t);

    /* version 3.0 header: [1.5, -2.0] */
    snprintf(p, sizeof p, "%s/np_f32_v3.npy", TSR_TEST_DATA_DIR);
    ck_assert_int_eq(tsr_npy_load(p, &t), TSR_OK);
    ck_assert_int_eq(t.desc.dims[0], 2);
    ck_assert_float_eq(((float *)t.data)[1], -2.0f);
    tsr_tensor_free(&t);
}
END_TEST

START_TEST(test_numpy_rejected) {
    char p[512];
    struct tsr_tensor t;
    snprintf(p, sizeof p, "%s/np_f64.npy", TSR_TEST_DATA_DIR); /* float64: supported */
    ck_assert_int_eq(tsr_npy_load(p, &t), TSR_OK);
    ck_assert_int_eq(t.desc.dtype, TSR_F64);
    ck_assert(((double *)t.data)[2] == 1.0);
    tsr_tensor_free(&t);
    snprintf(p, sizeof p, "%s/np_fortran.npy", TSR_TEST_DATA_DIR);
    expect_status(p, TSR_E_DTYPE, "Fortran");
    snprintf(p, sizeof p, "%s/np_f32_be.npy", TSR_TEST_DATA_DIR);
    expect_status(p, TSR_E_DTYPE, ">f4");
}
END_TEST

START_TEST(test_bad_files) {
    char p[300];
    const float payload[6] = {1, 2, 3, 4, 5, 6};

    tmp_path(p, sizeof p, "missing.npy");
    expect_status(p, TSR_E_IO, NULL);

    tmp_path(p, sizeof p, "magic.npy");
    write_bytes(p, "\x93NUMPZ\x01\x00\x10\x00{}", 12);
    expect_status(p, TSR_E_PARSE, "magic");

    tmp_path(p, sizeof p, "zero.npy");
    write_bytes(p, "", 0);
    expect_status(p, TSR_E_PARSE, NULL);

    tmp_path(p, sizeof p, "version.npy");
    write_bytes(p, "\x93NUMPY\x04\x00\x10\x00", 10);
    expect_status(p, TSR_E_PARSE, "4.0");

    /* header length runs past the end of the file */
    tmp_path(p, sizeof p, "short_header.npy");
    write_bytes(p, "\x93NUMPY\x01\x00\x40\x00{'descr'", 17);
    expect_status(p, TSR_E_PARSE, "truncated");

    /* payload shorter than the shape */
    tmp_path(p, sizeof p, "short_data.npy");
    write_npy_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", payload, 20);
    expect_status(p, TSR_E_PARSE, "truncated");

    /* a header claiming 6.4e12 elements (25.6 TB) over 24 bytes: refused from the file size,
     * before any allocation (an allocation attempt would fail with TSR_E_NOMEM instead) */
    tmp_path(p, sizeof p, "huge_shape.npy");
    write_npy_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (80000, 80000, 1000), }",
                  payload, 24);
    expect_status(p, TSR_E_PARSE, "needs 25600000000000 bytes of data, the file has 24");

    /* payload longer than the shape */
    tmp_path(p, sizeof p, "long_data.npy");
    write_npy_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", payload, 24);
    expect_status(p, TSR_E_PARSE, NULL);

    tmp_path(p, sizeof p, "fortran.npy");
    write_npy_raw(p, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", payload, 24);
    expect_status(p, TSR_E_DTYPE, "Fortran");

    tmp_path(p, sizeof p, "u8.npy");
    write_npy_raw(p, "{'descr': '<u8', 'fortran_order': False, 'shape': (3,), }", payload, 24);
    expect_status(p, TSR_E_DTYPE, "<u8");

    static const char *garbage[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, }",  /* unclosed tuple */
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (6,), }",   /* bad bool */
        "{'descr': '<f4', 'shape': (6,), }",                           /* missing key */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }",  /* negative dim */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } x", /* trailing text */
        "['descr', '<f4']",                                            /* not a dict */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,6), }", /* rank 9 */
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }",       /* structured */
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        tmp_path(p, sizeof p, "garbage.npy");
        write_npy_raw(p, garbage[i], payload, 24);
        expect_status(p, TSR_E_PARSE, "header");
    }

    /* a header dict in another key order, double quotes and no trailing comma is accepted */
    tmp_path(p, sizeof p, "reordered.npy");
    write_npy_raw(p, "{\"shape\": (3, 2), \"fortran_order\": False, \"descr\": \"<f4\"}", payload,
                  24);
    struct tsr_tensor t;
    ck_assert_int_eq(tsr_npy_load(p, &t), TSR_OK);
    ck_assert_int_eq(t.desc.dims[0], 3);
    ck_assert_float_eq(((float *)t.data)[5], 6.0f);
    tsr_tensor_free(&t);
}
END_TEST

/* tsr_last_error(ctx) after a context-free call (tsr_npy_load) returns that newer error, not the
 * context's older one; a later error on the context wins again. */
START_TEST(test_last_error_after_context_free_call) {
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(NULL, &ctx), TSR_OK);
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", 12345), TSR_E_INVALID_ARG);
    char ctx_msg[1024];
    snprintf(ctx_msg, sizeof ctx_msg, "%s", tsr_last_error(ctx)->message);
    ck_assert_int_eq(tsr_last_error(ctx)->status, TSR_E_INVALID_ARG);

    char p[300];
    tmp_path(p, sizeof p, "missing-after-ctx.npy");
    struct tsr_tensor t;
    ck_assert_int_eq(tsr_npy_load(p, &t), TSR_E_IO);
    const struct tsr_error_info *e = tsr_last_error(ctx);
    ck_assert_int_eq(e->status, TSR_E_IO);
    ck_assert_msg(strstr(e->message, "missing-after-ctx.npy"), "got the older '%s'", e->message);

    ck_assert_int_eq(tsr_graph_output(g, "z", 54321), TSR_E_INVALID_ARG);
    e = tsr_last_error(ctx);
    ck_assert_int_eq(e->status, TSR_E_INVALID_ARG);
    ck_assert_str_eq(e->message, tsr_last_error(NULL)->message);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_save_errors) {
    char p[300];
    int64_t d3[1] = {3};
    struct tsr_tensor t = {.desc = ts_desc(1, d3), .data = NULL};
    tmp_path(p, sizeof p, "null.npy");
    ck_assert_int_eq(tsr_npy_save(p, &t), TSR_E_INVALID_ARG);
    ck_assert_int_eq(access(p, F_OK), -1);
    float x[3] = {1, 2, 3};
    t.data = x;
    t.desc.dtype = (tsr_dtype)13; /* UINT64 in ONNX numbering: not supported */
    ck_assert_int_eq(tsr_npy_save(p, &t), TSR_E_DTYPE);
    t.desc.dtype = TSR_F32;
    ck_assert_int_eq(tsr_npy_save("/nonexistent_dir_tsr/x.npy", &t), TSR_E_IO);
    ck_assert_int_eq(tsr_npy_save(NULL, &t), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_npy_load(NULL, &t), TSR_E_INVALID_ARG);
    /* nothing but the saved file is left in the directory (no temporary files) */
    tmp_path(p, sizeof p, "ok.npy");
    ck_assert_int_eq(tsr_npy_save(p, &t), TSR_OK);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test \"$(ls '%s' | wc -l)\" -eq 1", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *npy_suite(void) {
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("npy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_roundtrip_f32_ranks);
    tcase_add_test(tc, test_roundtrip_empty_and_i64);
    tcase_add_test(tc, test_numpy_written);
    tcase_add_test(tc, test_numpy_rejected);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_save_errors);
    tcase_add_test(tc, test_last_error_after_context_free_call);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(npy_suite());
}
