/*
 * check_opencl.c — the OpenCL backend below the graph, on hand-built programs (struct
 * tsr_program): code generation (constants baked in per instruction, operands validated), the
 * embedded kernel sources, the program cache (hit, corrupt entry, build error with log), pool
 * reuse, steady-state runs and profiler records, bad geometry, discovery without a platform. The
 * numbers of every kernel are checked against runtime/reference.c by the kernel harness
 * (check_kernels.c); here a run is compared with another run of the same program (bit for bit).
 *
 * OpenCL is expected: without a device the device cases FAIL, unless TSR_EXPECT_OPENCL=0 (the
 * pass with OpenCL hidden), where they check nothing and the cases that need no device still run
 * (no-platform discovery, code generation, embedding).
 */
#include "backends/opencl/cl_embedded.h"
#include "backends/opencl/cl_internal.h"
#include "runtime/profiler.h"
#include "test_support.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- hand-built programs ---------------------------------------------------------------- */

#define TP_MAX_BUF 16
#define TP_MAX_KER 8

struct tprog {
    struct tsr_program p;
    struct tsr_buffer bufs[TP_MAX_BUF];
    struct tsr_kernel kers[TP_MAX_KER];
    int in_ids[TP_MAX_BUF], out_ids[TP_MAX_BUF];
};

static void tp_init(struct tprog *t) {
    memset(t, 0, sizeof *t);
    t->p.buffers = t->bufs;
    t->p.kernels = t->kers;
    t->p.input_buffers = t->in_ids;
    t->p.output_buffers = t->out_ids;
}

/* Adds a 1-D f32 buffer of n elements. CONST copies `data` (aligned, freed by tp_free); TEMP
 * is placed at the end of the arena (64-byte aligned). Returns the buffer id. */
static int tp_buf(struct tprog *t, tsr_buffer_kind kind, int64_t n, const float *data) {
    ck_assert_int_lt(t->p.n_buffers, TP_MAX_BUF);
    int id = t->p.n_buffers++;
    struct tsr_buffer *b = &t->bufs[id];
    b->kind = kind;
    b->desc = ts_desc(1, &n);
    b->bytes = (size_t)n * sizeof(float);
    if (kind == TSR_BUF_INPUT) {
        b->io_index = t->p.n_inputs;
        t->in_ids[t->p.n_inputs++] = id;
    } else if (kind == TSR_BUF_OUTPUT) {
        b->io_index = t->p.n_outputs;
        t->out_ids[t->p.n_outputs++] = id;
    } else if (kind == TSR_BUF_CONST) {
        b->const_data = tsr_aligned_alloc(b->bytes ? b->bytes : 64);
        memcpy(b->const_data, data, b->bytes);
    } else {
        b->offset = t->p.arena_bytes;
        t->p.arena_bytes += (b->bytes + 63) / 64 * 64;
    }
    return id;
}

static struct tsr_kernel *tp_kernel(struct tprog *t, tsr_kernel_kind kind, const char *name,
                                    int out, int n_in, const int *in) {
    ck_assert_int_lt(t->p.n_kernels, TP_MAX_KER);
    struct tsr_kernel *k = &t->kers[t->p.n_kernels++];
    k->kind = kind;
    k->dtype = TSR_F32;
    snprintf(k->name, sizeof k->name, "%s", name);
    k->nodes = NULL;
    k->output = out;
    k->n_inputs = n_in;
    for (int i = 0; i < n_in; i++)
        k->inputs[i] = in[i];
    return k;
}

static void tp_free(struct tprog *t) {
    for (int i = 0; i < t->p.n_buffers; i++)
        tsr_aligned_free(t->bufs[i].const_data);
}

/* prepare + execute + release on opencl:0; returns the status of the first failing step. */
static tsr_status run_prog(tsr_context *ctx, const struct tprog *t, float **ins, float **outs) {
    struct tsr_tensor in[TP_MAX_BUF], out[TP_MAX_BUF];
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    for (int i = 0; i < t->p.n_inputs; i++)
        in[i].data = ins[i];
    for (int i = 0; i < t->p.n_outputs; i++)
        out[i].data = outs[i];
    void *exec = NULL;
    tsr_status st = tsr_opencl_backend_ops.prepare(ctx, 0, &t->p, &exec);
    if (st != TSR_OK) return st;
    st = tsr_opencl_backend_ops.execute(exec, in, out);
    tsr_opencl_backend_ops.release(exec);
    return st;
}

static void expect_ok(tsr_context *ctx, tsr_status st, const char *what) {
    ck_assert_msg(st == TSR_OK, "%s: %s: %s", what, tsr_status_name(st),
                  tsr_last_error(ctx)->message);
}

/* |y - ref| <= 1e-5 * max(1, |ref|) for all i (elementwise / softmax tolerance). */
/* y equals y0 bit for bit (NaN where y0 has NaN). */
static void expect_same(const float *y, const float *y0, size_t n, const char *what) {
    ck_assert_msg(ts_max_abs_diff(y, y0, n) == 0.0, "%s: differs by %g", what,
                  ts_max_abs_diff(y, y0, n));
}

/* ---- fused elementwise region: [3,1,5] (+) [1,4,5] (+) [5] -> [3,4,5] ------------------- */

enum { EW_D0 = 3, EW_D1 = 4, EW_D2 = 5, EW_N = EW_D0 * EW_D1 * EW_D2 };

/* Region: r0 = x0 + x1; r1 = sigmoid(r0); r2 = r1 / x2; r0 = tanh(r2); r1 = r0 - x0.
 * x0: [3,1,5] strides (5,0,1); x1: [1,4,5] strides (0,5,1) (CONST); x2: [5] strides (0,0,1).
 * Writes into a TEMP buffer of the arena, then a COPY kernel moves it to the OUTPUT. */
static void ew_program(struct tprog *t, const float *x1) {
    tp_init(t);
    int b0 = tp_buf(t, TSR_BUF_INPUT, EW_D0 * EW_D2, NULL);
    int b1 = tp_buf(t, TSR_BUF_CONST, EW_D1 * EW_D2, x1);
    int b2 = tp_buf(t, TSR_BUF_INPUT, EW_D2, NULL);
    int pad = tp_buf(t, TSR_BUF_TEMP, 7, NULL); /* forces a non-zero arena offset below */
    (void)pad;
    int tmp = tp_buf(t, TSR_BUF_TEMP, EW_N, NULL);
    int out = tp_buf(t, TSR_BUF_OUTPUT, EW_N, NULL);
    int ins[3] = {b0, b1, b2};
    struct tsr_kernel *k = tp_kernel(t, TSR_K_EW, "ew_add_sigmoid_div_tanh_sub", tmp, 3, ins);
    struct tsr_k_ew *ew = &k->u.ew;
    ew->rank = 3;
    ew->dims[0] = EW_D0, ew->dims[1] = EW_D1, ew->dims[2] = EW_D2;
    int64_t s0[3] = {EW_D2, 0, 1}, s1[3] = {0, EW_D2, 1}, s2[3] = {0, 0, 1};
    memcpy(ew->strides[0], s0, sizeof s0);
    memcpy(ew->strides[1], s1, sizeof s1);
    memcpy(ew->strides[2], s2, sizeof s2);
    struct tsr_ew_instr code[5] = {{TSR_EW_ADD, 0, -1, -2, 0, 0},
                                   {TSR_EW_SIGMOID, 1, 0, 0, 0, 0},
                                   {TSR_EW_DIV, 2, 1, -3, 0, 0},
                                   {TSR_EW_TANH, 0, 2, 0, 0, 0},
                                   {TSR_EW_SUB, 1, 0, -1, 0, 0}};
    ew->n_instrs = 5;
    ew->n_regs = 3;
    memcpy(ew->instrs, code, sizeof code);
    k->flops = 5 * EW_N;
    k->bytes = 4 * (EW_N + EW_D0 * EW_D2 + EW_D1 * EW_D2 + EW_D2);
    int cin[1] = {tmp};
    struct tsr_kernel *c = tp_kernel(t, TSR_K_COPY, "copy_out", out, 1, cin);
    c->u.copy.n = EW_N;
    c->bytes = 8 * EW_N;
}

struct ew_data {
    float x0[EW_D0 * EW_D2], x1[EW_D1 * EW_D2], x2[EW_D2], y[EW_N];
};

static void ew_data_init(struct ew_data *d) {
    ts_fill_uniform(d->x0, EW_D0 * EW_D2, 1, -2.0f, 2.0f);
    ts_fill_uniform(d->x1, EW_D1 * EW_D2, 2, -2.0f, 2.0f);
    ts_fill_uniform(d->x2, EW_D2, 3, 0.5f, 2.0f);
    for (int i = 0; i < EW_N; i++)
        d->y[i] = NAN;
}

static tsr_status ew_run(tsr_context *ctx, struct ew_data *d) {
    struct tprog t;
    ew_program(&t, d->x1);
    float *ins[2] = {d->x0, d->x2}, *outs[1] = {d->y};
    tsr_status st = run_prog(ctx, &t, ins, outs);
    tp_free(&t);
    return st;
}

enum { OP_N = 257 }; /* odd, so no size is a multiple of a vector width */

/* Immediates are per instruction: r0 = LeakyRelu(x0, 0.2); r1 = Clip(r0, -0.25, 0.75);
 * r0 = r1 + r0. A generator sharing p0/p1 across instructions gives a wrong Clip. */
START_TEST(test_ew_immediates_chain) {
    struct tprog t;
    tp_init(&t);
    int bx = tp_buf(&t, TSR_BUF_INPUT, OP_N, NULL);
    int by = tp_buf(&t, TSR_BUF_OUTPUT, OP_N, NULL);
    struct tsr_kernel *k = tp_kernel(&t, TSR_K_EW, "ew_leaky_clip_add", by, 1, &bx);
    struct tsr_k_ew *ew = &k->u.ew;
    ew->rank = 1;
    ew->dims[0] = OP_N;
    ew->strides[0][0] = 1;
    ew->n_instrs = 3;
    ew->n_regs = 2;
    ew->instrs[0] = (struct tsr_ew_instr){TSR_EW_LEAKY_RELU, 0, -1, 0, 0.2f, 0};
    ew->instrs[1] = (struct tsr_ew_instr){TSR_EW_CLIP, 1, 0, 0, -0.25f, 0.75f};
    ew->instrs[2] = (struct tsr_ew_instr){TSR_EW_ADD, 0, 1, 0, 0, 0};
    /* source: exact hex literals per instruction */
    char *src = NULL;
    ck_assert_int_eq(tsr_cl_codegen_ew(NULL, k, &src), TSR_OK);
    ck_assert_msg(strstr(src, "p0 = 0x1.99999ap-3f") != NULL, "0.2f not exact in:\n%s", src);
    ck_assert_msg(strstr(src, "p0 = -0x1p-2f, p1 = 0x1.8p-1f") != NULL, "clip bounds in:\n%s", src);
    free(src);
    ew->instrs[1].p0 = -INFINITY;
    ck_assert_int_eq(tsr_cl_codegen_ew(NULL, k, &src), TSR_OK);
    ck_assert_ptr_nonnull(strstr(src, "p0 = -INFINITY"));
    free(src);
    tp_free(&t);
}
END_TEST

/* Code generation needs no device: constants are baked in and operands are validated. */
START_TEST(test_codegen_source) {
    struct tprog t;
    float x1[EW_D1 * EW_D2] = {0};
    ew_program(&t, x1);
    char *src = NULL;
    ck_assert_int_eq(tsr_cl_codegen_ew(NULL, &t.kers[0], &src), TSR_OK);
    ck_assert_ptr_nonnull(strstr(src, "__kernel void tsr_ew("));
    ck_assert_ptr_nonnull(strstr(src, "gid < 60u")); /* N = 3*4*5 folded */
    ck_assert_ptr_nonnull(strstr(src, "q % 5u"));    /* innermost dim */
    ck_assert_ptr_nonnull(strstr(src, "tanh(a)"));   /* tsr_ew_cl_expr(TANH) */
    ck_assert_ptr_null(strstr(src, "i1 += c * 0"));  /* broadcast dims contribute nothing */
    free(src);
    t.kers[0].u.ew.instrs[2].b = -9; /* input 8 of 3 */
    ck_assert_int_eq(tsr_cl_codegen_ew(NULL, &t.kers[0], &src), TSR_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "ew_add_sigmoid_div_tanh_sub"));
    tp_free(&t);
}
END_TEST

/* The embedded sources are the files of kernels_cl/, byte for byte. */
START_TEST(test_embedded_sources) {
    const char *names[] = {"common.clh", "softmax.cl", "epilogue.cl", "copy.cl",
                           "conv.cl",    "pool.cl",    "reduce.cl",   "layernorm.cl"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const struct tsr_cl_embedded_file *f = tsr_cl_embedded_find(names[i]);
        ck_assert_msg(f != NULL, "%s not embedded", names[i]);
        char path[1024];
        snprintf(path, sizeof path, "%s/kernels_cl/%s", TSR_SOURCE_DIR, names[i]);
        FILE *fp = fopen(path, "rb");
        ck_assert_ptr_nonnull(fp);
        char *buf = malloc(f->size + 1);
        size_t n = fread(buf, 1, f->size + 1, fp);
        fclose(fp);
        ck_assert_uint_eq(n, f->size);
        ck_assert_int_eq(memcmp(buf, f->data, n), 0);
        ck_assert_int_eq(f->data[f->size], 0);
        free(buf);
    }
    ck_assert_ptr_null(tsr_cl_embedded_find("nope.cl"));
}
END_TEST

/* ---- convolution: steady state ----------------------------------------------------------- */

/* Output extent (ONNX Conv / pooling): floor((H + pads - dil*(K-1) - 1) / stride) + 1. */
static int64_t out_dim(int64_t h, int64_t pads, int64_t k, int64_t stride, int64_t dil) {
    return (h + pads - dil * (k - 1) - 1) / stride + 1;
}

/* Fills the derived fields: OH/OW from the pads (pad_b/pad_r given separately). */
static struct tsr_k_conv conv_geom(struct tsr_k_conv c, int64_t pad_b, int64_t pad_r) {
    c.OH = out_dim(c.H, c.pad_t + pad_b, c.KH, c.stride_h, c.dil_h);
    c.OW = out_dim(c.W, c.pad_l + pad_r, c.KW, c.stride_w, c.dil_w);
    return c;
}

/* Prepares one conv program (X and R INPUTs; W and bias CONSTs), executes it, then twice more
 * with the profiler on: execute takes nothing from the pool (the im2col scratch comes from
 * prepare), each run gives one kernel record, and every run gives the first run's output. (The
 * numbers themselves are checked against the reference by check_kernels.) */
static void conv_steady(tsr_context *ctx, const struct tsr_k_conv *c, const char *what) {
    int64_t nx = c->N * c->C * c->H * c->W, nw = c->M * (c->C / c->group) * c->KH * c->KW;
    int64_t ny = c->N * c->M * c->OH * c->OW;
    float *X = malloc(sizeof(float) * (size_t)nx), *Wt = malloc(sizeof(float) * (size_t)nw);
    float *B = malloc(sizeof(float) * (size_t)c->M), *R = malloc(sizeof(float) * (size_t)ny);
    float *Y = malloc(sizeof(float) * (size_t)ny), *Y0 = malloc(sizeof(float) * (size_t)ny);
    ts_fill_uniform(X, (size_t)nx, 71, -1.0f, 1.0f);
    ts_fill_uniform(Wt, (size_t)nw, 72, -1.0f, 1.0f);
    ts_fill_uniform(B, (size_t)c->M, 73, -1.0f, 1.0f);
    ts_fill_uniform(R, (size_t)ny, 74, -1.0f, 1.0f);
    struct tprog t;
    tp_init(&t);
    int ins[4], n = 0;
    ins[n++] = tp_buf(&t, TSR_BUF_INPUT, nx, NULL);
    ins[n++] = tp_buf(&t, TSR_BUF_CONST, nw, Wt);
    if (c->has_bias) ins[n++] = tp_buf(&t, TSR_BUF_CONST, c->M, B);
    if (c->has_residual) ins[n++] = tp_buf(&t, TSR_BUF_INPUT, ny, NULL);
    int by = tp_buf(&t, TSR_BUF_OUTPUT, ny, NULL);
    struct tsr_kernel *k = tp_kernel(&t, TSR_K_CONV, what, by, n, ins);
    k->u.conv = *c;
    struct tsr_tensor in[2] = {{.data = X}, {.data = R}}, out[1] = {{.data = Y0}};
    void *exec = NULL;
    expect_ok(ctx, tsr_opencl_backend_ops.prepare(ctx, 0, &t.p, &exec), what);
    expect_ok(ctx, tsr_opencl_backend_ops.execute(exec, in, out), what);
    struct tsr_pool_stats p0, p1;
    tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p0);
    tsr_profiler_enable(ctx, 1);
    tsr_profiler_clear(ctx);
    out[0].data = Y;
    for (int r = 0; r < 2; r++) {
        for (int64_t i = 0; i < ny; i++)
            Y[i] = NAN;
        expect_ok(ctx, tsr_opencl_backend_ops.execute(exec, in, out), what);
        ck_assert_msg(ts_max_abs_diff(Y, Y0, (size_t)ny) == 0.0, "%s: run %d differs", what, r + 2);
    }
    tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p1);
    ck_assert_uint_eq(p1.allocs, p0.allocs);
    ck_assert_uint_eq(p1.bytes_reserved, p0.bytes_reserved);
    int kernels = 0;
    for (size_t i = 0; i < tsr_profiler_count(ctx); i++) {
        struct tsr_profile_record r;
        tsr_profiler_get(ctx, i, &r);
        if (r.kind != TSR_EVENT_KERNEL) continue;
        kernels++;
        ck_assert_str_eq(r.name, what);
        ck_assert_uint_le(r.start_ns, r.end_ns);
    }
    ck_assert_int_eq(kernels, 2);
    tsr_profiler_enable(ctx, 0);
    tsr_opencl_backend_ops.release(exec);
    tp_free(&t);
    free(X), free(Wt), free(B), free(R), free(Y), free(Y0);
}

START_TEST(test_conv_steady) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        /* im2col + Sgemm: 3x3, pad 1, bias, relu; 2 images */
        struct tsr_k_conv c1 = {.N = 2,
                                .C = 3,
                                .H = 7,
                                .W = 6,
                                .M = 4,
                                .KH = 3,
                                .KW = 3,
                                .stride_h = 1,
                                .stride_w = 1,
                                .pad_t = 1,
                                .pad_l = 1,
                                .dil_h = 1,
                                .dil_w = 1,
                                .group = 1,
                                .has_bias = 1,
                                .act = TSR_ACT_RELU};
        struct tsr_k_conv g1 = conv_geom(c1, 1, 1);
        conv_steady(ctx, &g1, "conv_3x3_bias_relu");
        /* depthwise (direct kernel): C = M = group = 5, 3x3, pad 1, bias + residual, clip */
        struct tsr_k_conv c3 = {.N = 2,
                                .C = 5,
                                .H = 6,
                                .W = 7,
                                .M = 5,
                                .KH = 3,
                                .KW = 3,
                                .stride_h = 1,
                                .stride_w = 2,
                                .pad_t = 1,
                                .pad_l = 1,
                                .dil_h = 1,
                                .dil_w = 1,
                                .group = 5,
                                .has_bias = 1,
                                .has_residual = 1,
                                .act = TSR_ACT_CLIP,
                                .act_p0 = -0.5f,
                                .act_p1 = 1.0f};
        struct tsr_k_conv g3 = conv_geom(c3, 1, 1);
        conv_steady(ctx, &g3, "conv_depthwise");
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* Bad geometry is a status naming the kernel, before any device work. */
START_TEST(test_conv_bad_geometry) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        struct tprog t;
        tp_init(&t);
        int ins[2] = {tp_buf(&t, TSR_BUF_INPUT, 16, NULL), tp_buf(&t, TSR_BUF_INPUT, 9, NULL)};
        int by = tp_buf(&t, TSR_BUF_OUTPUT, 16, NULL);
        struct tsr_kernel *k = tp_kernel(&t, TSR_K_CONV, "conv_bad", by, 2, ins);
        k->u.conv = (struct tsr_k_conv){.N = 1,
                                        .C = 3,
                                        .H = 4,
                                        .W = 4,
                                        .M = 2,
                                        .OH = 4,
                                        .OW = 4,
                                        .KH = 3,
                                        .KW = 3,
                                        .stride_h = 1,
                                        .stride_w = 1,
                                        .pad_t = 1,
                                        .pad_l = 1,
                                        .dil_h = 1,
                                        .dil_w = 1,
                                        .group = 2}; /* 2 does not divide C = 3 */
        void *exec = NULL;
        ck_assert_int_eq(tsr_opencl_backend_ops.prepare(ctx, 0, &t.p, &exec), TSR_E_INVALID_ARG);
        ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "conv_bad"));
        ck_assert_ptr_null(exec);
        tp_free(&t);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ---- program cache ---------------------------------------------------------------------- */

/* Fresh cache directory for this test process (TSR_CACHE_DIR). */
static void fresh_cache_dir(char *dir, size_t size) {
    snprintf(dir, size, "/tmp/tsr_clcache_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("TSR_CACHE_DIR", dir, 1);
}

/* Applies fn to every *.bin file of dir; returns how many there were. */
static int for_each_bin(const char *dir, void (*fn)(const char *path, int i)) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".bin") != 0) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (fn) fn(path, n);
        n++;
    }
    closedir(d);
    return n;
}

/* Corrupts a cache file: odd ones are truncated, even ones get flipped bytes in the binary. */
static void corrupt(const char *path, int i) {
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    if (i % 2) {
        ck_assert_int_eq(ftruncate(fileno(f), 60), 0);
    } else {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        for (long p = 64; p < size; p += 97) {
            fseek(f, p, SEEK_SET);
            fputc(0x5a, f);
        }
    }
    fclose(f);
}

static void remove_file(const char *path, int i) {
    (void)i;
    unlink(path);
}

static int count_compile_records(tsr_context *ctx, const char *prefix) {
    int n = 0;
    for (size_t i = 0; i < tsr_profiler_count(ctx); i++) {
        struct tsr_profile_record r;
        ck_assert_int_eq(tsr_profiler_get(ctx, i, &r), TSR_OK);
        if (r.kind == TSR_EVENT_COMPILE && strncmp(r.name, prefix, strlen(prefix)) == 0) n++;
    }
    return n;
}

START_TEST(test_program_cache) {
    char dir[64];
    fresh_cache_dir(dir, sizeof dir);
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        tsr_profiler_enable(ctx, 1);
        struct tsr_cl_device *dev;
        expect_ok(ctx, tsr_cl_device_ready(ctx, 0, &dev), "device");
        struct tsr_cl_program_stats s0, s1, s2, s3;
        struct ew_data d;

        /* 1. Fresh directory: everything is built from source and written to disk. */
        ew_data_init(&d);
        expect_ok(ctx, ew_run(ctx, &d), "first run");
        float built[EW_N]; /* checked against the reference by check_kernels (ew_chain_broadcast) */
        memcpy(built, d.y, sizeof built);
        tsr_opencl_program_stats(tsr_opencl_backend_of(ctx), 0, &s0);
        ck_assert_uint_eq(s0.disk_hits, 0);
        ck_assert_uint_ge(s0.builds, 2); /* generated region + copy kernel */
        ck_assert_uint_eq(s0.disk_writes, s0.builds);
        ck_assert_int_eq(for_each_bin(dir, NULL), (int)s0.builds);
        ck_assert_int_eq(count_compile_records(ctx, "build "), (int)s0.builds);

        /* 2. Same process, same sources: served from memory, nothing rebuilt. */
        ew_data_init(&d);
        expect_ok(ctx, ew_run(ctx, &d), "second run");
        tsr_opencl_program_stats(tsr_opencl_backend_of(ctx), 0, &s1);
        ck_assert_uint_eq(s1.builds, s0.builds);
        ck_assert_uint_ge(s1.memory_hits, s0.memory_hits + 2);

        /* 3. In-memory table dropped: every program is a disk cache hit. */
        tsr_cl_program_cache_clear(dev);
        ew_data_init(&d);
        expect_ok(ctx, ew_run(ctx, &d), "cached run");
        expect_same(d.y, built, EW_N, "ew (cache hit)");
        tsr_opencl_program_stats(tsr_opencl_backend_of(ctx), 0, &s2);
        ck_assert_uint_eq(s2.builds, s0.builds);
        ck_assert_uint_eq(s2.disk_hits, s0.builds);
        ck_assert_int_eq(count_compile_records(ctx, "cache hit "), (int)s0.builds);

        /* 4. Corrupted entries: rejected, rebuilt, rewritten, still correct. */
        tsr_cl_program_cache_clear(dev);
        ck_assert_int_eq(for_each_bin(dir, corrupt), (int)s0.builds);
        ew_data_init(&d);
        expect_ok(ctx, ew_run(ctx, &d), "run after corruption");
        expect_same(d.y, built, EW_N, "ew (rebuilt)");
        tsr_opencl_program_stats(tsr_opencl_backend_of(ctx), 0, &s3);
        ck_assert_uint_eq(s3.disk_rejects, s0.builds);
        ck_assert_uint_eq(s3.builds, 2 * s0.builds);
        ck_assert_uint_eq(s3.disk_hits, s2.disk_hits);
        for_each_bin(dir, remove_file);
    }
    tsr_context_destroy(ctx);
    rmdir(dir);
}
END_TEST

START_TEST(test_build_error_has_log) {
    char dir[64];
    fresh_cache_dir(dir, sizeof dir);
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        struct tsr_cl_device *dev;
        expect_ok(ctx, tsr_cl_device_ready(ctx, 0, &dev), "device");
        const char *bad =
            "__kernel void broken(__global float *x) { x[0] = undeclared_thing + ; }\n";
        cl_program p = NULL;
        tsr_status st = tsr_cl_program_get(ctx, dev, "broken", bad, "", "broken", &p);
        ck_assert_int_eq(st, TSR_E_BUILD);
        const struct tsr_error_info *e = tsr_last_error(ctx);
        ck_assert_int_eq(e->status, TSR_E_BUILD);
        ck_assert_int_eq(e->native_code, CL_BUILD_PROGRAM_FAILURE);
        ck_assert_str_eq(e->backend, "opencl");
        const char *log = strstr(e->message, "build log:");
        ck_assert_msg(log != NULL, "no build log in: %s", e->message);
        /* The compiler's own diagnostic (clang/PoCL names the undeclared identifier). */
        ck_assert_msg(strstr(log, "undeclared_thing") != NULL || strstr(log, "error") != NULL,
                      "build log without a diagnostic: %s", e->message);
        ck_assert_int_eq(for_each_bin(dir, NULL), 0); /* nothing cached for a failed build */
    }
    tsr_context_destroy(ctx);
    rmdir(dir);
}
END_TEST

/* ---- pool, profiler --------------------------------------------------------------------- */

START_TEST(test_pool_reuse_and_profile) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        struct ew_data d;
        ew_data_init(&d);
        struct tprog t;
        ew_program(&t, d.x1);
        float *ins[2] = {d.x0, d.x2}, *outs[1] = {d.y};
        struct tsr_tensor in[2] = {{.data = d.x0}, {.data = d.x2}}, out[1] = {{.data = d.y}};
        (void)ins, (void)outs;
        struct tsr_pool_stats p0, p1, p2, p3;
        ck_assert_int_eq(tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p0), TSR_OK);
        void *exec = NULL;
        expect_ok(ctx, tsr_opencl_backend_ops.prepare(ctx, 0, &t.p, &exec), "prepare 1");
        tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p1);
        /* arena + const + 2 inputs + output = 5 blocks, all new */
        ck_assert_uint_eq(p1.system_allocs - p0.system_allocs, 5);
        ck_assert_uint_gt(p1.bytes_in_use, p0.bytes_in_use);

        /* Steady state: executes take nothing from the pool. Profiled: one record each. */
        tsr_profiler_enable(ctx, 1);
        tsr_profiler_clear(ctx);
        uint64_t h0 = tsr_now_ns();
        for (int r = 0; r < 3; r++)
            expect_ok(ctx, tsr_opencl_backend_ops.execute(exec, in, out), "execute");
        uint64_t h1 = tsr_now_ns();
        tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p2);
        ck_assert_uint_eq(p2.allocs, p1.allocs);
        ck_assert_uint_eq(p2.bytes_reserved, p1.bytes_reserved);
        int kernels = 0, transfers = 0;
        struct tsr_cl_device *dev = &tsr_opencl_backend_of(ctx)->devices[0];
        /* mapped times lie inside the host window, within the calibration bound + 5 ms */
        uint64_t slack = dev->clock_error_ns + 5000000u;
        for (size_t i = 0; i < tsr_profiler_count(ctx); i++) {
            struct tsr_profile_record r;
            tsr_profiler_get(ctx, i, &r);
            if (r.kind == TSR_EVENT_KERNEL) {
                kernels++;
                ck_assert_str_eq(r.device, "opencl:0");
                ck_assert(!strcmp(r.name, "ew_add_sigmoid_div_tanh_sub") ||
                          !strcmp(r.name, "copy_out"));
            } else if (r.kind == TSR_EVENT_TRANSFER) {
                transfers++;
            } else {
                continue;
            }
            ck_assert_uint_le(r.start_ns, r.end_ns);
            ck_assert_uint_ge(r.start_ns + slack, h0);
            ck_assert_uint_le(r.end_ns, h1 + slack);
        }
        ck_assert_int_eq(kernels, 3 * 2);
        ck_assert_int_eq(transfers, 3 * 3); /* 2 writes + 1 read per run */
        tsr_profiler_enable(ctx, 0);
        tsr_opencl_backend_ops.release(exec);

        /* Second prepare of the same program: everything comes back from the pool. */
        expect_ok(ctx, tsr_opencl_backend_ops.prepare(ctx, 0, &t.p, &exec), "prepare 2");
        tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p3);
        ck_assert_uint_eq(p3.system_allocs, p1.system_allocs);
        ck_assert_uint_eq(p3.bytes_reserved, p1.bytes_reserved);
        ck_assert_uint_eq(p3.reuses - p2.reuses, 5);
        tsr_opencl_backend_ops.release(exec);
        /* the executes gave what a fresh prepare + execute gives */
        struct ew_data d2;
        ew_data_init(&d2);
        expect_ok(ctx, ew_run(ctx, &d2), "fresh run");
        expect_same(d.y, d2.y, EW_N, "ew (pool test)");
        tp_free(&t);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ---- no OpenCL platform ----------------------------------------------------------------- */

/* With the ICD loader pointed at an empty vendor directory, discovery reports no device and
 * succeeds. Runs in its own forked process (Check's default), as the loader reads the
 * environment once per process. */
START_TEST(test_no_platform) {
    if (getenv("CK_FORK") && strcmp(getenv("CK_FORK"), "no") == 0) return; /* would leak env */
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/tsr_noicd_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("OCL_ICD_VENDORS", dir, 1);
    setenv("OPENCL_VENDOR_PATH", dir, 1);
    struct tsr_opencl_backend *ocl = (struct tsr_opencl_backend *)0x1;
    ck_assert_int_eq(tsr_opencl_backend_create(NULL, &ocl), TSR_OK);
    ck_assert_ptr_null(ocl);
    ck_assert_int_eq(tsr_opencl_device_count(ocl), 0);
    struct tsr_pool_stats ps;
    ck_assert_int_eq(tsr_opencl_pool_stats(ocl, 0, &ps), TSR_E_INVALID_ARG);
    /* The whole context then has the CPU only, and prepare on OpenCL fails cleanly. */
    tsr_context *ctx = ts_context();
    int idx;
    ck_assert_int_eq(tsr_device_find(ctx, "opencl", &idx), TSR_E_NOT_FOUND);
    struct tprog t;
    float x1[EW_D1 * EW_D2] = {0};
    ew_program(&t, x1);
    void *exec = NULL;
    ck_assert_int_eq(tsr_opencl_backend_ops.prepare(ctx, 0, &t.p, &exec), TSR_E_DEVICE);
    ck_assert_ptr_null(exec);
    tp_free(&t);
    tsr_context_destroy(ctx);
    rmdir(dir);
}
END_TEST

static Suite *opencl_suite(void) {
    Suite *s = suite_create("opencl");
    TCase *tc = tcase_create("opencl");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_no_platform);
    tcase_add_test(tc, test_codegen_source);
    tcase_add_test(tc, test_embedded_sources);
    tcase_add_test(tc, test_program_cache);
    tcase_add_test(tc, test_build_error_has_log);
    tcase_add_test(tc, test_pool_reuse_and_profile);
    tcase_add_test(tc, test_ew_immediates_chain);
    tcase_add_test(tc, test_conv_steady);
    tcase_add_test(tc, test_conv_bad_geometry);
    suite_add_tcase(s, tc);
    return s;
}

/* Every case that does not choose its own cache directory uses a private temporary one, so the
 * suite never writes into the user's ~/.cache. Removed (best effort) at the end. */
int main(void) {
    char dir[64] = "";
    if (!getenv("TSR_CACHE_DIR")) {
        snprintf(dir, sizeof dir, "/tmp/tsr_clcache_suite_XXXXXX");
        if (mkdtemp(dir))
            setenv("TSR_CACHE_DIR", dir, 1);
        else
            dir[0] = '\0';
    }
    int rc = ts_run_suite(opencl_suite());
    if (dir[0]) {
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (e->d_name[0] != '.') unlink(path);
        }
        if (d) closedir(d);
        rmdir(dir);
    }
    return rc;
}
