/* check_pool.c — host memory pool: alignment, class reuse, statistics, concurrency. */
#include "runtime/pool.h"
#include "runtime/profiler.h"
#include "test_support.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

static struct tsr_host_pool *pool_new(void) {
    struct tsr_host_pool *p = NULL;
    ck_assert_int_eq(tsr_host_pool_create(NULL, NULL, &p), TSR_OK);
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

static Suite *pool_suite(void) {
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_alignment);
    tcase_add_test(tc, test_reuse_same_class);
    tcase_add_test(tc, test_stats_bytes);
    tcase_add_test(tc, test_alloc_event_recorded);
    tcase_add_test(tc, test_concurrent);
    tcase_add_test(tc, test_public_stats);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(pool_suite());
}
