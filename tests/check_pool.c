/* check_pool.c — memory pools: alignment, class reuse, statistics, concurrency, the cap on
 * cached bytes and trimming (host pool directly; host and OpenCL pools through a context). */
#include "runtime/pool.h"
#include "runtime/profiler.h"
#include "test_support.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

static struct tsr_host_pool *pool_new_capped(uint64_t cache_bytes) {
    struct tsr_host_pool *p = NULL;
    ck_assert_int_eq(tsr_host_pool_create(NULL, NULL, cache_bytes, &p), TSR_OK);
    ck_assert_ptr_nonnull(p);
    return p;
}

static struct tsr_host_pool *pool_new(void) {
    struct tsr_host_pool *p = NULL;
    ck_assert_int_eq(tsr_host_pool_create(NULL, NULL, UINT64_MAX, &p), TSR_OK);
    ck_assert_ptr_nonnull(p);
    return p;
}

static struct tsr_pool_stats stats(struct tsr_host_pool *p) {
    struct tsr_pool_stats s;
    memset(&s, 0xff, sizeof s);
    tsr_host_pool_stats(p, &s);
    return s;
}

/* Independent reference for the class size: the smallest power of two >= max(bytes, 64). */
static uint64_t ref_class(size_t bytes) {
    uint64_t c = 64;
    while (c < bytes)
        c *= 2;
    return c;
}

START_TEST(test_alignment) {
    struct tsr_host_pool *p = pool_new();
    const size_t sizes[] = {0, 1, 63, 64, 65, 100, 4095, 4096, 1u << 20, (1u << 20) + 1};
    void *ptrs[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ptrs[i] = tsr_host_pool_alloc(p, NULL, sizes[i]);
        ck_assert_ptr_nonnull(ptrs[i]);
        ck_assert_uint_eq((uintptr_t)ptrs[i] % 64, 0);
        memset(ptrs[i], 0xab, sizes[i] ? sizes[i] : 1); /* whole request is writable */
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        tsr_host_pool_free(p, ptrs[i]);
    tsr_host_pool_free(p, NULL); /* no-op */
    ck_assert_ptr_null(tsr_host_pool_alloc(NULL, NULL, 16));
    ck_assert_ptr_null(tsr_host_pool_alloc(p, NULL, SIZE_MAX)); /* cannot be served */
    tsr_host_pool_destroy(p);
    tsr_host_pool_destroy(NULL);
}
END_TEST

START_TEST(test_reuse_same_class) {
    struct tsr_host_pool *p = pool_new();
    void *a = tsr_host_pool_alloc(p, NULL, 1000); /* class 1024 */
    ck_assert_ptr_nonnull(a);
    struct tsr_pool_stats s0 = stats(p);
    ck_assert_uint_eq(s0.system_allocs, 1);
    ck_assert_uint_eq(s0.reuses, 0);
    ck_assert_uint_eq(s0.allocs, 1);
    tsr_host_pool_free(p, a);
    void *b = tsr_host_pool_alloc(p, NULL, 600); /* same class (513..1024) */
    struct tsr_pool_stats s1 = stats(p);
    ck_assert_ptr_eq(a, b);
    ck_assert_uint_eq(s1.system_allocs, s0.system_allocs);
    ck_assert_uint_eq(s1.reuses, s0.reuses + 1);
    ck_assert_uint_eq(s1.allocs, 2);
    /* a different class is not served from the cached 1024 block */
    tsr_host_pool_free(p, b);
    void *c = tsr_host_pool_alloc(p, NULL, 2000);
    struct tsr_pool_stats s2 = stats(p);
    ck_assert_uint_eq(s2.system_allocs, 2);
    ck_assert_uint_eq(s2.reuses, 1);
    tsr_host_pool_free(p, c);
    /* large blocks are cached too */
    void *big = tsr_host_pool_alloc(p, NULL, 8u << 20);
    tsr_host_pool_free(p, big);
    void *big2 = tsr_host_pool_alloc(p, NULL, (8u << 20) - 5);
    ck_assert_ptr_eq(big, big2);
    ck_assert_uint_eq(stats(p).system_allocs, 3);
    tsr_host_pool_free(p, big2);
    tsr_host_pool_destroy(p);
}
END_TEST

START_TEST(test_stats_bytes) {
    struct tsr_host_pool *p = pool_new();
    struct tsr_pool_stats s = stats(p);
    ck_assert_uint_eq(s.bytes_in_use, 0);
    ck_assert_uint_eq(s.peak_bytes, 0);
    ck_assert_uint_eq(s.bytes_reserved, 0);
    const size_t req[4] = {10, 300, 5000, 70000};
    void *ptrs[4];
    uint64_t expect = 0;
    for (int i = 0; i < 4; i++) {
        ptrs[i] = tsr_host_pool_alloc(p, NULL, req[i]);
        expect += ref_class(req[i]);
        s = stats(p);
        ck_assert_uint_eq(s.bytes_in_use, expect);
        ck_assert_uint_eq(s.peak_bytes, expect);
        ck_assert_uint_eq(s.bytes_reserved, expect);
    }
    uint64_t peak = expect;
    tsr_host_pool_free(p, ptrs[3]);
    tsr_host_pool_free(p, ptrs[1]);
    expect -= ref_class(req[3]) + ref_class(req[1]);
    s = stats(p);
    ck_assert_uint_eq(s.bytes_in_use, expect);
    ck_assert_uint_eq(s.peak_bytes, peak);
    ck_assert_uint_eq(s.bytes_reserved, peak); /* freed blocks are kept */
    /* double free is detected and ignored: statistics do not move */
    tsr_host_pool_free(p, ptrs[1]);
    ck_assert_uint_eq(stats(p).bytes_in_use, expect);
    tsr_host_pool_free(p, ptrs[0]);
    tsr_host_pool_free(p, ptrs[2]);
    s = stats(p);
    ck_assert_uint_eq(s.bytes_in_use, 0);
    ck_assert_uint_eq(s.peak_bytes, peak);
    ck_assert_uint_eq(s.allocs, 4);
    tsr_host_pool_destroy(p);
}
END_TEST

START_TEST(test_alloc_event_recorded) {
    struct tsr_context ctx;
    memset(&ctx, 0, sizeof ctx);
    pthread_mutex_init(&ctx.mutex, NULL);
    ck_assert_int_eq(tsr_profiler_create(1, TSR_PROFILE_CAPACITY_DEFAULT, &ctx.prof), TSR_OK);
    struct tsr_host_pool *p = pool_new();
    void *a = tsr_host_pool_alloc(p, &ctx, 4096); /* grows: one record */
    tsr_host_pool_free(p, a);
    void *b = tsr_host_pool_alloc(p, &ctx, 4096); /* reuse: no record */
    ck_assert_uint_eq(tsr_profiler_count(&ctx), 1);
    struct tsr_profile_record r;
    ck_assert_int_eq(tsr_profiler_get(&ctx, 0, &r), TSR_OK);
    ck_assert_int_eq(r.kind, TSR_EVENT_ALLOC);
    ck_assert_uint_eq(r.bytes, 4096);
    ck_assert_str_eq(r.device, "cpu");
    tsr_host_pool_free(p, b);
    tsr_host_pool_destroy(p);
    tsr_profiler_destroy(ctx.prof);
    pthread_mutex_destroy(&ctx.mutex);
}
END_TEST

#define N_THREADS 4
#define ROUNDS    3000
#define LIVE      8

struct worker_arg {
    struct tsr_host_pool *pool;
    int id;
    int errors;
};

/* Each thread keeps LIVE blocks of varying sizes filled with a (thread, round) pattern, checks
 * a block's pattern before freeing it, and replaces it. Any overlap between threads' blocks
 * shows up as a wrong byte. */
static void *worker(void *p) {
    struct worker_arg *a = p;
    unsigned char *blk[LIVE] = {0};
    size_t len[LIVE] = {0};
    unsigned char tag[LIVE] = {0};
    uint64_t s = 0x9E3779B97F4A7C15ull * (uint64_t)(a->id + 1);
    for (int r = 0; r < ROUNDS; r++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        int k = (int)(s % LIVE);
        if (blk[k]) {
            for (size_t i = 0; i < len[k]; i++)
                if (blk[k][i] != tag[k]) {
                    a->errors++;
                    break;
                }
            tsr_host_pool_free(a->pool, blk[k]);
        }
        len[k] = 1 + (size_t)((s >> 20) % 20000);
        tag[k] = (unsigned char)(a->id * 61 + r);
        blk[k] = tsr_host_pool_alloc(a->pool, NULL, len[k]);
        if (!blk[k] || (uintptr_t)blk[k] % 64) {
            a->errors++;
            blk[k] = NULL;
            continue;
        }
        memset(blk[k], tag[k], len[k]);
    }
    for (int k = 0; k < LIVE; k++) {
        if (!blk[k]) continue;
        for (size_t i = 0; i < len[k]; i++)
            if (blk[k][i] != tag[k]) {
                a->errors++;
                break;
            }
        tsr_host_pool_free(a->pool, blk[k]);
    }
    return NULL;
}

START_TEST(test_concurrent) {
    struct tsr_host_pool *p = pool_new();
    pthread_t th[N_THREADS];
    struct worker_arg args[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        args[t] = (struct worker_arg){p, t, 0};
        ck_assert_int_eq(pthread_create(&th[t], NULL, worker, &args[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < N_THREADS; t++)
        ck_assert_int_eq(args[t].errors, 0);
    struct tsr_pool_stats s = stats(p);
    ck_assert_uint_eq(s.bytes_in_use, 0);
    ck_assert_uint_eq(s.allocs, (uint64_t)N_THREADS * ROUNDS);
    ck_assert_uint_eq(s.allocs, s.reuses + s.system_allocs);
    ck_assert_uint_gt(s.reuses, 0);
    ck_assert_uint_le(s.peak_bytes, s.bytes_reserved);
    tsr_host_pool_destroy(p);
}
END_TEST

/* The public wrapper through a real context (device 0 = host pool, bad index rejected). */
START_TEST(test_public_stats) {
    tsr_context *ctx = ts_context();
    struct tsr_pool_stats s;
    ck_assert_int_eq(tsr_pool_get_stats(ctx, 0, &s), TSR_OK);
    struct tsr_pool_stats direct;
    tsr_host_pool_stats(ctx->host_pool, &direct);
    ck_assert_uint_eq(s.allocs, direct.allocs);
    ck_assert_uint_eq(s.bytes_in_use, direct.bytes_in_use);
    int n = tsr_device_count(ctx);
    for (int i = 1; i < n; i++)
        ck_assert_int_eq(tsr_pool_get_stats(ctx, i, &s), TSR_OK);
    ck_assert_int_eq(tsr_pool_get_stats(ctx, n, &s), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_pool_get_stats(ctx, -1, &s), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_pool_get_stats(ctx, 0, NULL), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_pool_get_stats(NULL, 0, &s), TSR_E_INVALID_ARG);
    tsr_context_destroy(ctx);
}
END_TEST

/* The cap on cached bytes: frees keep blocks while the cached class bytes fit, then the largest
 * cached blocks go back to the system (later requests of that class grow again). */
START_TEST(test_cache_cap) {
    struct tsr_host_pool *p = pool_new_capped(10000);
    void *a = tsr_host_pool_alloc(p, NULL, 8000); /* class 8192 */
    void *b = tsr_host_pool_alloc(p, NULL, 1000); /* class 1024 */
    void *c = tsr_host_pool_alloc(p, NULL, 2000); /* class 2048 */
    ck_assert(a && b && c);
    ck_assert_uint_eq(stats(p).bytes_reserved, 8192 + 1024 + 2048);
    tsr_host_pool_free(p, a); /* cached 8192 <= 10000: kept */
    ck_assert_uint_eq(stats(p).bytes_reserved, 8192 + 1024 + 2048);
    tsr_host_pool_free(p, b); /* cached 9216: kept */
    ck_assert_uint_eq(stats(p).bytes_reserved, 8192 + 1024 + 2048);
    tsr_host_pool_free(p, c); /* cached 11264 > 10000: the 8192 block is released */
    struct tsr_pool_stats s = stats(p);
    ck_assert_uint_eq(s.bytes_in_use, 0);
    ck_assert_uint_eq(s.bytes_reserved, 1024 + 2048);
    uint64_t sys = s.system_allocs;
    void *a2 = tsr_host_pool_alloc(p, NULL, 8000); /* released: grows again */
    ck_assert_uint_eq(stats(p).system_allocs, sys + 1);
    void *b2 = tsr_host_pool_alloc(p, NULL, 600); /* class 1024 still cached: reused */
    ck_assert_uint_eq(stats(p).system_allocs, sys + 1);
    tsr_host_pool_free(p, a2);
    tsr_host_pool_free(p, b2);
    ck_assert_uint_le(stats(p).bytes_reserved - stats(p).bytes_in_use, 10000);
    tsr_host_pool_destroy(p);

    /* cap 0: nothing is kept */
    p = pool_new_capped(0);
    a = tsr_host_pool_alloc(p, NULL, 100);
    tsr_host_pool_free(p, a);
    ck_assert_uint_eq(stats(p).bytes_reserved, 0);
    a = tsr_host_pool_alloc(p, NULL, 100);
    ck_assert_uint_eq(stats(p).reuses, 0);
    ck_assert_uint_eq(stats(p).system_allocs, 2);
    tsr_host_pool_free(p, a);
    tsr_host_pool_destroy(p);
}
END_TEST

/* Trimming releases cached blocks largest first down to keep_bytes, never a block in use. */
START_TEST(test_trim) {
    struct tsr_host_pool *p = pool_new();
    const size_t req[] = {64, 4096, 65536, 1 << 20};
    void *ptrs[4];
    uint64_t total = 0;
    for (int i = 0; i < 4; i++) {
        ptrs[i] = tsr_host_pool_alloc(p, NULL, req[i]);
        total += ref_class(req[i]);
    }
    void *live = tsr_host_pool_alloc(p, NULL, 1 << 16);
    memset(live, 0x5a, 1 << 16);
    for (int i = 0; i < 4; i++)
        tsr_host_pool_free(p, ptrs[i]);
    ck_assert_uint_eq(stats(p).bytes_reserved, total + (1 << 16));
    /* keep 70000: the 1 MiB block goes (65536 + 4096 + 64 = 69696 fit) */
    ck_assert_uint_eq(tsr_host_pool_trim(p, 70000), 1 << 20);
    ck_assert_uint_eq(stats(p).bytes_reserved, 69696 + (1 << 16));
    ck_assert_uint_eq(tsr_host_pool_trim(p, 70000), 0); /* already within */
    ck_assert_uint_eq(tsr_host_pool_trim(p, 0), 69696);
    struct tsr_pool_stats s = stats(p);
    ck_assert_uint_eq(s.bytes_reserved, s.bytes_in_use);
    ck_assert_uint_eq(s.bytes_in_use, 1 << 16);
    for (int i = 0; i < (1 << 16); i++) /* the live block is untouched */
        ck_assert_uint_eq(((unsigned char *)live)[i], 0x5a);
    tsr_host_pool_free(p, live);
    ck_assert_uint_eq(tsr_host_pool_trim(NULL, 0), 0);
    tsr_host_pool_destroy(p);
}
END_TEST

/* A [1, 65536] -> Relu -> Relu plan: its arena holds one 256 KiB intermediate. */
static tsr_plan *relu_plan(tsr_context *ctx, const char *device) {
    tsr_graph *g = NULL;
    const struct tsr_tensor_desc d = {.dtype = TSR_F32, .rank = 2, .dims = {1, 65536}};
    tsr_value x, y, z;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    ck_assert_int_eq(tsr_graph_input(g, "x", &d, &x), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RELU, &x, 1, NULL, NULL, &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_TANH, &y, 1, NULL, NULL, &z), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "z", z), TSR_OK);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = device;
    o.allow_fallback = 0;
    o.disable_fusion = ~0u; /* two kernels and an intermediate, also on OpenCL */
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile(ctx, g, &o, &plan);
    ck_assert_msg(st == TSR_OK, "compile for %s: %s", device, tsr_last_error(ctx)->message);
    tsr_graph_destroy(g);
    return plan;
}

/* Through a context: pool_cache_bytes caps what destroyed plans leave cached, on the host pool
 * and on every OpenCL device; tsr_pool_trim empties the cache; bad arguments are refused. */
START_TEST(test_context_cap_and_trim) {
    struct tsr_context_options opts = {0};
    opts.pool_cache_bytes = -1;
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(&opts, &ctx), TSR_E_INVALID_ARG);
    ck_assert_ptr_null(ctx);
    opts.pool_cache_bytes = 1; /* keep (almost) nothing */
    ck_assert_int_eq(tsr_context_create(&opts, &ctx), TSR_OK);
    (void)ts_have_opencl(ctx); /* fails here when OpenCL is expected and missing */
    int n = tsr_device_count(ctx);
    for (int dev = 0; dev < n; dev++) {
        struct tsr_device_info info;
        ck_assert_int_eq(tsr_device_get_info(ctx, dev, &info), TSR_OK);
        struct tsr_pool_stats s0, s1, s2;
        ck_assert_int_eq(tsr_pool_get_stats(ctx, dev, &s0), TSR_OK);
        tsr_plan *plan = relu_plan(ctx, info.id);
        ck_assert_int_eq(tsr_pool_get_stats(ctx, dev, &s1), TSR_OK);
        ck_assert_uint_gt(s1.bytes_in_use, s0.bytes_in_use); /* the plan holds memory */
        tsr_plan_destroy(plan);
        ck_assert_int_eq(tsr_pool_get_stats(ctx, dev, &s2), TSR_OK);
        /* cap 1 byte: every freed block went back (the smallest class is 64 / 256 bytes) */
        ck_assert_msg(s2.bytes_reserved == s2.bytes_in_use, "%s: %llu reserved, %llu in use",
                      info.id, (unsigned long long)s2.bytes_reserved,
                      (unsigned long long)s2.bytes_in_use);
        uint64_t released = 99;
        ck_assert_int_eq(tsr_pool_trim(ctx, dev, 0, &released), TSR_OK);
        ck_assert_uint_eq(released, 0);
    }
    tsr_context_destroy(ctx);

    opts.pool_cache_bytes = 0; /* the default: 256 MiB, a destroyed plan stays cached */
    ck_assert_int_eq(tsr_context_create(&opts, &ctx), TSR_OK);
    for (int dev = 0; dev < tsr_device_count(ctx); dev++) {
        struct tsr_device_info info;
        ck_assert_int_eq(tsr_device_get_info(ctx, dev, &info), TSR_OK);
        tsr_plan_destroy(relu_plan(ctx, info.id));
        struct tsr_pool_stats s, t;
        ck_assert_int_eq(tsr_pool_get_stats(ctx, dev, &s), TSR_OK);
        uint64_t cached = s.bytes_reserved - s.bytes_in_use;
        ck_assert_msg(cached >= 65536 * 4, "%s: %llu bytes cached", info.id,
                      (unsigned long long)cached);
        uint64_t released = 0;
        ck_assert_int_eq(tsr_pool_trim(ctx, dev, 0, &released), TSR_OK);
        ck_assert_uint_eq(released, cached);
        ck_assert_int_eq(tsr_pool_get_stats(ctx, dev, &t), TSR_OK);
        ck_assert_uint_eq(t.bytes_reserved, t.bytes_in_use);
        /* a plan compiled after the trim runs as before */
        tsr_plan *plan = relu_plan(ctx, info.id);
        tsr_plan_destroy(plan);
    }
    ck_assert_int_eq(tsr_pool_trim(ctx, n, 0, NULL), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_pool_trim(ctx, -1, 0, NULL), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_pool_trim(NULL, 0, 0, NULL), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_pool_trim(ctx, 0, 0, NULL), TSR_OK);
    tsr_context_destroy(ctx);
}
END_TEST

static Suite *pool_suite(void) {
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_alignment);
    tcase_add_test(tc, test_reuse_same_class);
    tcase_add_test(tc, test_stats_bytes);
    tcase_add_test(tc, test_alloc_event_recorded);
    tcase_add_test(tc, test_concurrent);
    tcase_add_test(tc, test_public_stats);
    tcase_add_test(tc, test_cache_cap);
    tcase_add_test(tc, test_trim);
    tcase_add_test(tc, test_context_cap_and_trim);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(pool_suite());
}
