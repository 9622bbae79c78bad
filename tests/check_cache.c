/*
 * check_cache.c — the OpenCL program cache cannot hurt (issue 12, item 5): swapped, truncated,
 * forged, garbage and non-regular entries, an old-format entry, an entry without the expected
 * kernel, and a cache directory that is a file or read-only all end with the CPU reference's
 * outputs, a warning through the context's log function (except a plain miss), no hang, and a
 * rewritten valid entry where the directory allows it.
 *
 * One small graph (x[4,16]: Sigmoid·c → Softmax → Tanh − x → ReduceMean-free tail) gives several
 * entries: two generated elementwise programs (both with entry point tsr_ew, so a swap that went
 * unnoticed would run the wrong region) and the Softmax program. Each run creates a fresh plan
 * after dropping the device's in-memory program table (tsr_cl_program_cache_clear), so the disk
 * entries are read again; fallback is disallowed, so a rejected entry must be rebuilt, not
 * hidden by a CPU run. Without OpenCL (TSR_EXPECT_OPENCL=0) every case notes it and passes.
 */
#include "backends/opencl/cl_internal.h"
#include "test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROWS        4
#define COLS        16
#define N           (ROWS * COLS)
#define TOL         1e-5
#define MAX_ENTRIES 16

/* ---- log capture ------------------------------------------------------------------------ */

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_warnings;
static char g_last_warning[1024];

static void log_fn(void *user, tsr_log_level level, const char *message) {
    (void)user;
    if (level != TSR_LOG_WARN) return;
    pthread_mutex_lock(&g_log_lock);
    g_warnings++;
    snprintf(g_last_warning, sizeof g_last_warning, "%s", message);
    pthread_mutex_unlock(&g_log_lock);
}

static int warnings(void) {
    pthread_mutex_lock(&g_log_lock);
    int n = g_warnings;
    pthread_mutex_unlock(&g_log_lock);
    return n;
}

/* ---- the model -------------------------------------------------------------------------- */

static float g_x[N], g_c[COLS];

static tsr_graph *make_graph(tsr_context *ctx) {
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    int64_t dims[2] = {ROWS, COLS}, cdims[1] = {COLS};
    struct tsr_tensor_desc xd = ts_desc(2, dims), cd = ts_desc(1, cdims);
    tsr_value x, c, a, b, s, t, u;
    struct tsr_op_attrs at = tsr_op_attrs_default();
    ck_assert_int_eq(tsr_graph_input(g, "x", &xd, &x), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "c", &cd, g_c, &c), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SIGMOID, &x, 1, &at, "sig", &a), TSR_OK);
    tsr_value ac[2] = {a, c};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MUL, ac, 2, &at, "mul", &b), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SOFTMAX, &b, 1, &at, "softmax", &s), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_TANH, &s, 1, &at, "tanh", &t), TSR_OK);
    tsr_value tx[2] = {t, x};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SUB, tx, 2, &at, "sub", &u), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", u), TSR_OK);
    return g;
}

/* Compiles for `device` (no fallback) and runs once on g_x into y[N]. */
static tsr_status run_model(tsr_context *ctx, const char *device, float *y) {
    tsr_graph *g = make_graph(ctx);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = device;
    o.allow_fallback = 0;
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile(ctx, g, &o, &plan);
    tsr_graph_destroy(g);
    if (st != TSR_OK) return st;
    int64_t dims[2] = {ROWS, COLS};
    struct tsr_tensor in = {.desc = ts_desc(2, dims), .data = g_x};
    struct tsr_tensor out = {.desc = ts_desc(2, dims), .data = y};
    st = tsr_plan_run(plan, &in, 1, &out, 1);
    tsr_plan_destroy(plan);
    return st;
}

static float g_ref[N];

/* Inputs and the CPU reference, once per process. */
static void load_reference(void) {
    ts_fill_uniform(g_x, N, 7, -3.0f, 3.0f);
    ts_fill_uniform(g_c, COLS, 8, -2.0f, 2.0f);
    tsr_context *ctx = ts_context();
    ck_assert_int_eq(run_model(ctx, "cpu", g_ref), TSR_OK);
    tsr_context_destroy(ctx);
}

/* ---- a context on a cache directory ------------------------------------------------------ */

struct fixture {
    char dir[64];
    tsr_context *ctx;
    struct tsr_cl_device *dev;
};

/* Context with cache_dir = path and the log capture; 0 when there is no OpenCL device. */
static int open_ctx(struct fixture *f, const char *path) {
    struct tsr_context_options o = {0};
    o.cache_dir = path;
    o.log_fn = log_fn;
    o.calibration = TSR_CALIBRATE_SKIP;
    ck_assert_int_eq(tsr_context_create(&o, &f->ctx), TSR_OK);
    if (!ts_have_opencl(f->ctx)) return 0;
    ck_assert_int_eq(tsr_cl_device_ready(f->ctx, 0, &f->dev), TSR_OK);
    return 1;
}

static int fixture_open(struct fixture *f) {
    load_reference();
    snprintf(f->dir, sizeof f->dir, "/tmp/tsr_cache_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    return open_ctx(f, f->dir);
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) rmdir(path);
    }
    if (d) closedir(d);
    rmdir(dir);
}

static void fixture_close(struct fixture *f) {
    tsr_context_destroy(f->ctx);
    chmod(f->dir, 0755);
    remove_tree(f->dir);
}

static struct tsr_cl_program_stats stats(struct fixture *f) {
    struct tsr_cl_program_stats s;
    ck_assert_int_eq(tsr_opencl_program_stats(tsr_opencl_backend_of(f->ctx), 0, &s), TSR_OK);
    return s;
}

/* Drops the in-memory programs, compiles and runs on opencl:0; the outputs must be the CPU
 * reference's. */
static void run_checked(struct fixture *f, const char *what) {
    tsr_cl_program_cache_clear(f->dev);
    float y[N];
    for (int i = 0; i < N; i++)
        y[i] = -12345.0f;
    tsr_status st = run_model(f->ctx, "opencl:0", y);
    ck_assert_msg(st == TSR_OK, "%s: %s: %s", what, tsr_status_name(st),
                  tsr_last_error(f->ctx)->message);
    double err = ts_max_abs_diff(y, g_ref, N);
    ck_assert_msg(err <= TOL, "%s: max abs error %g against the CPU", what, err);
}

/* ---- entries ------------------------------------------------------------------------------ */

struct entries {
    int n;
    char path[MAX_ENTRIES][512];
};

static int cmp_str(const void *a, const void *b) {
    return strcmp(a, b);
}

/* The *.bin entries of dir, sorted by name. */
static struct entries list_entries(const char *dir) {
    struct entries es = {0};
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len != 64 + 4 || strcmp(e->d_name + 64, ".bin") != 0) continue;
        ck_assert_int_lt(es.n, MAX_ENTRIES);
        snprintf(es.path[es.n++], sizeof es.path[0], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(es.path, (size_t)es.n, sizeof es.path[0], cmp_str);
    return es;
}

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    *n = (size_t)size;
    return buf;
}

static void write_all(const char *path, const unsigned char *buf, size_t n) {
    unlink(path);
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(buf, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

/* The entry at path is a regular file in format 2 whose recorded key is its name's. */
static void expect_valid_entry(const char *path, const char *what) {
    struct stat sb;
    ck_assert_msg(lstat(path, &sb) == 0 && S_ISREG(sb.st_mode), "%s: %s not a regular file", what,
                  path);
    size_t n = 0;
    unsigned char *buf = read_all(path, &n);
    ck_assert_msg(n > TSR_CL_CACHE_HEADER_BYTES && memcmp(buf, "TSRCLBN2", 8) == 0,
                  "%s: %s not rewritten in format 2", what, path);
    const char *name = strrchr(path, '/') + 1;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        ck_assert_int_eq(sscanf(name + 2 * i, "%2x", &v), 1);
        ck_assert_msg(buf[8 + i] == v, "%s: %s records another key", what, path);
    }
    uint64_t size;
    memcpy(&size, buf + 40, 8);
    ck_assert_uint_eq(size, n - TSR_CL_CACHE_HEADER_BYTES);
    free(buf);
}

/* ---- the cases ------------------------------------------------------------------------------ */

/* Warm cache: every entry loaded from disk, nothing built, no warning. Then every pair of
 * entries swapped: both rejected (the recorded key differs), rebuilt and rewritten; outputs
 * exact. */
START_TEST(test_swapped_entries) {
    struct fixture f;
    if (fixture_open(&f)) {
        run_checked(&f, "cold");
        struct entries es = list_entries(f.dir);
        ck_assert_int_ge(es.n, 3);
        struct tsr_cl_program_stats s0 = stats(&f);
        ck_assert_uint_eq(s0.builds, (uint64_t)es.n);
        ck_assert_uint_eq(s0.disk_writes, (uint64_t)es.n);
        int w0 = warnings();
        run_checked(&f, "warm");
        struct tsr_cl_program_stats s1 = stats(&f);
        ck_assert_uint_eq(s1.builds, s0.builds);
        ck_assert_uint_eq(s1.disk_hits, s0.disk_hits + (uint64_t)es.n);
        ck_assert_int_eq(warnings(), w0);
        for (int i = 0; i < es.n; i++)
            for (int j = i + 1; j < es.n; j++) {
                char what[64];
                snprintf(what, sizeof what, "swap %d-%d", i, j);
                size_t ni, nj;
                unsigned char *bi = read_all(es.path[i], &ni), *bj = read_all(es.path[j], &nj);
                write_all(es.path[i], bj, nj);
                write_all(es.path[j], bi, ni);
                free(bi);
                free(bj);
                struct tsr_cl_program_stats a = stats(&f);
                int w = warnings();
                run_checked(&f, what);
                struct tsr_cl_program_stats b = stats(&f);
                ck_assert_uint_eq(b.disk_rejects, a.disk_rejects + 2);
                ck_assert_uint_eq(b.builds, a.builds + 2);
                ck_assert_uint_eq(b.disk_writes, a.disk_writes + 2);
                ck_assert_int_eq(warnings(), w + 2);
                expect_valid_entry(es.path[i], what);
                expect_valid_entry(es.path[j], what);
            }
        /* The rewritten entries are hits again. */
        struct tsr_cl_program_stats a = stats(&f);
        run_checked(&f, "after swaps");
        struct tsr_cl_program_stats b = stats(&f);
        ck_assert_uint_eq(b.builds, a.builds);
        ck_assert_uint_eq(b.disk_hits, a.disk_hits + (uint64_t)es.n);
    }
    fixture_close(&f);
}
END_TEST

/* SHA-256 of buf[0..n-1]. */
static void sha256(const unsigned char *buf, size_t n, unsigned char *out) {
    unsigned int len = 0;
    ck_assert_int_eq(EVP_Digest(buf, n, out, &len, EVP_sha256(), NULL), 1);
}

enum corruption {
    C_TRUNCATE_HALF,
    C_TRUNCATE_HEADER,
    C_EMPTY,
    C_FLIP_BINARY,
    C_FLIP_KEY,
    C_FLIP_SIZE,
    C_GARBAGE,
    C_FORGED_TRUNCATION, /* binary truncated, size and a plain SHA-256 of it rewritten */
    C_FORGED_KEY,        /* another entry's file with this entry's key written in */
    C_TRAILING,
    C_FIFO,
    C_DEV_ZERO,
    C_DIRECTORY,
    C_HUGE,
    C_OLD_FORMAT, /* a plain miss: info, not warn */
    C_COUNT
};

static const char *const g_names[C_COUNT] = {
    "truncated to half", "truncated in the header", "empty",     "flipped binary bytes",
    "flipped key byte",  "flipped size byte",       "garbage",   "forged truncation",
    "forged key",        "trailing bytes",          "FIFO",      "symlink to /dev/zero",
    "directory",         "huge sparse file",        "old format"};

static void corrupt(enum corruption c, const char *path, const char *other) {
    size_t n = 0;
    unsigned char *buf = read_all(path, &n);
    const size_t H = TSR_CL_CACHE_HEADER_BYTES;
    switch (c) {
    case C_TRUNCATE_HALF:
        write_all(path, buf, H + (n - H) / 2);
        break;
    case C_TRUNCATE_HEADER:
        write_all(path, buf, 30);
        break;
    case C_EMPTY:
        write_all(path, buf, 0);
        break;
    case C_FLIP_BINARY:
        for (size_t p = H + 5; p < n; p += 509)
            buf[p] ^= 0x41;
        write_all(path, buf, n);
        break;
    case C_FLIP_KEY:
        buf[12] ^= 0x01;
        write_all(path, buf, n);
        break;
    case C_FLIP_SIZE:
        buf[41] ^= 0x10;
        write_all(path, buf, n);
        break;
    case C_GARBAGE:
        ts_fill_uniform((float *)buf, n / sizeof(float), 99, -1e30f, 1e30f);
        write_all(path, buf, n);
        break;
    case C_FORGED_TRUNCATION: {
        uint64_t size = (n - H) / 3;
        memcpy(buf + 40, &size, 8);
        sha256(buf + H, (size_t)size, buf + 48);
        write_all(path, buf, H + (size_t)size);
        break;
    }
    case C_FORGED_KEY: {
        size_t m = 0;
        unsigned char *o = read_all(other, &m);
        memcpy(o + 8, buf + 8, 32);
        write_all(path, o, m);
        free(o);
        break;
    }
    case C_TRAILING: {
        unsigned char *b2 = realloc(buf, n + 3);
        ck_assert_ptr_nonnull(b2);
        buf = b2;
        memcpy(buf + n, "xyz", 3);
        write_all(path, buf, n + 3);
        break;
    }
    case C_FIFO:
        unlink(path);
        ck_assert_int_eq(mkfifo(path, 0644), 0);
        break;
    case C_DEV_ZERO:
        unlink(path);
        ck_assert_int_eq(symlink("/dev/zero", path), 0);
        break;
    case C_DIRECTORY:
        unlink(path);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        break;
    case C_HUGE: { /* sparse: no disk used */
        int fd = open(path, O_WRONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, (off_t)1 << 32), 0);
        close(fd);
        break;
    }
    case C_OLD_FORMAT:
        memcpy(buf, "TSRCLBN1", 8);
        write_all(path, buf, n);
        break;
    case C_COUNT:
        break;
    }
    free(buf);
}

/* Each corruption of one entry (taken in turn): correct outputs, that entry rejected with a
 * warning and rewritten valid (a directory in its place cannot be replaced: warned twice, the
 * directory stays), the other entries still hits. */
START_TEST(test_corrupt_entries) {
    struct fixture f;
    if (fixture_open(&f)) {
        run_checked(&f, "cold");
        struct entries es = list_entries(f.dir);
        ck_assert_int_ge(es.n, 2);
        for (int c = 0; c < C_COUNT; c++) {
            const char *path = es.path[c % es.n], *other = es.path[(c + 1) % es.n];
            corrupt((enum corruption)c, path, other);
            struct tsr_cl_program_stats a = stats(&f);
            int w = warnings();
            run_checked(&f, g_names[c]);
            struct tsr_cl_program_stats b = stats(&f);
            ck_assert_msg(b.builds == a.builds + 1, "%s: %llu builds", g_names[c],
                          (unsigned long long)(b.builds - a.builds));
            ck_assert_uint_eq(b.disk_hits, a.disk_hits + (uint64_t)es.n - 1);
            if (c == C_OLD_FORMAT) {
                ck_assert_uint_eq(b.disk_rejects, a.disk_rejects); /* a plain miss */
                ck_assert_int_eq(warnings(), w);
            } else {
                ck_assert_uint_eq(b.disk_rejects, a.disk_rejects + 1);
                ck_assert_msg(warnings() >= w + 1, "%s: no warning", g_names[c]);
                pthread_mutex_lock(&g_log_lock);
                ck_assert_msg(strstr(g_last_warning, "program cache") != NULL, "%s: warned '%s'",
                              g_names[c], g_last_warning);
                pthread_mutex_unlock(&g_log_lock);
            }
            if (c == C_DIRECTORY) {
                ck_assert_uint_eq(b.disk_writes, a.disk_writes);
                ck_assert_int_eq(rmdir(path), 0);
                run_checked(&f, "directory removed"); /* rewritten now */
            } else {
                ck_assert_uint_eq(b.disk_writes, a.disk_writes + 1);
            }
            expect_valid_entry(path, g_names[c]);
        }
    }
    fixture_close(&f);
}
END_TEST

/* A valid entry (right key, right checksum) whose program lacks the entry point asked for is
 * dropped and rebuilt from source (the kernel-creation check). */
START_TEST(test_entry_without_kernel) {
    struct fixture f;
    if (fixture_open(&f)) {
        const char *src =
            "__kernel void tsr_a(__global float *x) { x[get_global_id(0)] = 1.0f; }\n"
            "__kernel void tsr_b(__global float *x) { x[get_global_id(0)] = 2.0f; }\n";
        cl_program p = NULL;
        ck_assert_int_eq(tsr_cl_program_get(f.ctx, f.dev, "ab", src, "", "tsr_a", &p), TSR_OK);
        struct tsr_cl_program_stats a = stats(&f);
        tsr_cl_program_cache_clear(f.dev);
        ck_assert_int_eq(tsr_cl_program_get(f.ctx, f.dev, "ab", src, "", "tsr_b", &p), TSR_OK);
        struct tsr_cl_program_stats b = stats(&f);
        ck_assert_uint_eq(b.disk_hits, a.disk_hits + 1); /* same key, both kernels there */
        tsr_cl_program_cache_clear(f.dev);
        int w = warnings();
        ck_assert_int_eq(tsr_cl_program_get(f.ctx, f.dev, "ab", src, "", "tsr_missing", &p),
                         TSR_OK);
        struct tsr_cl_program_stats c = stats(&f);
        ck_assert_uint_eq(c.disk_rejects, b.disk_rejects + 1);
        ck_assert_uint_eq(c.builds, b.builds + 1);
        ck_assert_uint_eq(c.disk_writes, b.disk_writes + 1);
        ck_assert_int_eq(warnings(), w + 1);
        /* and the kernel helper reports the missing kernel as a device error, naming it */
        cl_kernel k = NULL;
        ck_assert_int_eq(tsr_cl_kernel_get(f.ctx, f.dev, "ab", src, "", "tsr_missing", "k0", &k),
                         TSR_E_DEVICE);
        ck_assert_ptr_null(k);
        ck_assert_ptr_nonnull(strstr(tsr_last_error(f.ctx)->message, "tsr_missing"));
    }
    fixture_close(&f);
}
END_TEST

/* The cache directory path is a regular file: nothing can be cached, the run is correct, one
 * warning (not one per program). Then a read-only directory (skipped as root, where permissions
 * do not bind). */
START_TEST(test_unusable_directory) {
    struct fixture f;
    if (!fixture_open(&f)) {
        fixture_close(&f);
        return;
    }
    tsr_context_destroy(f.ctx);
    char file[128];
    snprintf(file, sizeof file, "%s/not-a-dir", f.dir);
    write_all(file, (const unsigned char *)"x", 1);
    ck_assert(open_ctx(&f, file));
    int w = warnings();
    run_checked(&f, "cache path is a file");
    struct tsr_cl_program_stats s = stats(&f);
    ck_assert_uint_ge(s.builds, 3);
    ck_assert_uint_eq(s.disk_writes, 0);
    ck_assert_int_eq(warnings(), w + 1);
    pthread_mutex_lock(&g_log_lock);
    ck_assert_ptr_nonnull(strstr(g_last_warning, "could not write"));
    pthread_mutex_unlock(&g_log_lock);
    tsr_context_destroy(f.ctx);
    unlink(file);

    ck_assert(open_ctx(&f, f.dir));
    if (geteuid() == 0) {
        fprintf(stderr, "check_cache: read-only directory case skipped (running as root: "
                        "permissions do not bind)\n");
    } else {
        run_checked(&f, "warm-up");
        struct entries es = list_entries(f.dir);
        corrupt(C_FLIP_BINARY, es.path[0], NULL);
        ck_assert_int_eq(chmod(f.dir, 0555), 0);
        w = warnings();
        run_checked(&f, "read-only directory");
        ck_assert_int_ge(warnings(), w + 2); /* the rejected entry, the failed write */
    }
    fixture_close(&f);
}
END_TEST

static Suite *cache_suite(void) {
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("program_cache");
    tcase_set_timeout(tc, 120); /* a FIFO or /dev/zero that blocked would hit this */
    tcase_add_test(tc, test_swapped_entries);
    tcase_add_test(tc, test_corrupt_entries);
    tcase_add_test(tc, test_entry_without_kernel);
    tcase_add_test(tc, test_unusable_directory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(cache_suite());
}
