/* fuzz_support.c — the shared context, input filling and compile-and-run of the fuzz targets. */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void quiet_log(void *user, tsr_log_level level, const char *message) {
    (void)user, (void)level, (void)message;
}

static tsr_context *ctx;

/* Between inputs the host pool keeps at most TSR_FUZZ_POOL_CACHE bytes of free blocks for reuse
 * (the context's pool_cache_bytes), so millions of inputs of all sizes do not add up in one
 * process; a block still in use after an input (a leak) is left for LeakSanitizer to report. */
#define TSR_FUZZ_POOL_CACHE (INT64_C(64) << 20)

tsr_context *tsr_fuzz_context(void) {
    if (ctx) return ctx;
    struct tsr_context_options o = {0};
    o.cpu_threads = 1;
    o.disable_opencl = 1;
    o.calibration = TSR_CALIBRATE_SKIP;
    o.log_level = TSR_LOG_ERROR;
    o.log_fn = quiet_log;
    o.cache_dir = tsr_fuzz_temp_dir();
    o.pool_cache_bytes = TSR_FUZZ_POOL_CACHE;
    if (tsr_context_create(&o, &ctx) != TSR_OK) {
        fprintf(stderr, "fuzz: cannot create a context: %s\n", tsr_last_error(NULL)->message);
        abort();
    }
    return ctx;
}

void tsr_fuzz_note(const char *stage, tsr_status st) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("TSR_FUZZ_VERBOSE") != NULL;
    if (!verbose) return;
    fprintf(stderr, "fuzz: %s: %s%s%s\n", stage, tsr_status_name(st), st ? ": " : "",
            st ? tsr_last_error(tsr_fuzz_context())->message : "");
}

size_t tsr_fuzz_desc_bytes(const struct tsr_tensor_desc *desc) {
    size_t n = tsr_dtype_size(desc->dtype);
    if (!n || desc->rank < 0 || desc->rank > TSR_MAX_RANK) return SIZE_MAX;
    for (int i = 0; i < desc->rank; i++) {
        if (desc->dims[i] < 0 || __builtin_mul_overflow(n, (size_t)desc->dims[i], &n))
            return SIZE_MAX;
    }
    return n;
}

void tsr_fuzz_fill(struct tsr_tensor *t, const uint8_t *data, size_t size, size_t *pos) {
    int64_t n = tsr_desc_elements(&t->desc);
    for (int64_t i = 0; i < n; i++) {
        uint8_t b = size ? data[(*pos)++ % size] : (uint8_t)i;
        /* floats in [-8, 8); integers mostly small (indices, shapes, axes), one in 16 wide */
        int64_t v = (b & 0xf0) == 0xf0 ? ((int64_t)b - 248) * 2000 : (int64_t)(b & 0x0f) - 4;
        switch (t->desc.dtype) {
        case TSR_F32:
            ((float *)t->data)[i] = (float)((int)b - 128) / 16.0f;
            break;
        case TSR_F64:
            ((double *)t->data)[i] = (double)((int)b - 128) / 16.0;
            break;
        case TSR_F16:
            ((uint16_t *)t->data)[i] = (uint16_t)(0x3c00u + (b & 0x3ffu));
            break;
        case TSR_BOOL:
            ((uint8_t *)t->data)[i] = b & 1;
            break;
        case TSR_U8:
            ((uint8_t *)t->data)[i] = b;
            break;
        case TSR_I8:
            ((int8_t *)t->data)[i] = (int8_t)((int)b - 128);
            break;
        case TSR_I16:
            ((int16_t *)t->data)[i] = (int16_t)v;
            break;
        case TSR_U16:
            ((uint16_t *)t->data)[i] = b;
            break;
        case TSR_I32:
            ((int32_t *)t->data)[i] = (int32_t)v;
            break;
        case TSR_U32:
            ((uint32_t *)t->data)[i] = b;
            break;
        case TSR_I64:
            ((int64_t *)t->data)[i] = v;
            break;
        }
    }
}

void tsr_fuzz_compile_run(tsr_graph *graph, const uint8_t *data, size_t size) {
    tsr_context *ctx = tsr_fuzz_context();
    int n_in = tsr_graph_input_count(graph);
    if (n_in < 0 || n_in > 64) return;
    size_t total = 0;
    for (int i = 0; i < n_in; i++) {
        struct tsr_input_info info;
        if (tsr_graph_input_info(graph, i, &info) != TSR_OK) return;
        size_t b = tsr_fuzz_desc_bytes(&info.desc);
        if (b > TSR_FUZZ_RUN_CAP || (total += b) > TSR_FUZZ_RUN_CAP) return;
    }
    /* The arena holds the intermediates: a graph with a value over the cap (or all of them over
     * 16 x the cap) is not compiled, so that compile never allocates what the run would skip.
     * (Tiny models with huge intermediates are bounded by the resource limits, not here.) */
    total = 0;
    struct tsr_tensor_desc vd;
    for (tsr_value v = 0; tsr_graph_value_desc(graph, v, &vd) == TSR_OK; v++) {
        size_t b = tsr_fuzz_desc_bytes(&vd);
        if (b > TSR_FUZZ_RUN_CAP || (total += b) > 16 * TSR_FUZZ_RUN_CAP) {
            tsr_fuzz_note("skip (a value over the size cap)", TSR_OK);
            return;
        }
    }
    struct tsr_compile_options co = tsr_compile_options_default();
    co.device = "cpu";
    co.placement = "single";
    co.allow_fallback = 0;
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile(ctx, graph, &co, &plan);
    tsr_fuzz_note("compile", st);
    if (st != TSR_OK) return;
    struct tsr_tensor in[64], out[64];
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    int n_out = tsr_plan_output_count(plan);
    size_t pos = 0;
    if (tsr_plan_input_count(plan) != n_in || n_out < 0 || n_out > 64 ||
        tsr_plan_arena_bytes(plan) > TSR_FUZZ_RUN_CAP)
        goto done;
    for (int i = 0; i < n_in; i++) {
        struct tsr_tensor_desc d;
        if (tsr_plan_input_desc(plan, i, NULL, &d) != TSR_OK || tsr_tensor_alloc(&d, &in[i]))
            goto done;
        tsr_fuzz_fill(&in[i], data, size, &pos);
        /* a zero-size tensor may come with data NULL (tsr_plan_run): exercise that */
        if (tsr_fuzz_desc_bytes(&d) == 0) tsr_tensor_free(&in[i]);
    }
    /* A deferred plan learns its output shapes here; a fixed one checks its own shapes. */
    st = tsr_plan_specialize_inputs(plan, in, (size_t)n_in);
    tsr_fuzz_note("specialize", st);
    if (st != TSR_OK || tsr_plan_arena_bytes(plan) > TSR_FUZZ_RUN_CAP) goto done;
    double flops = 0.0;
    for (int k = 0; k < tsr_plan_kernel_count(plan); k++) {
        struct tsr_kernel_info ki;
        if (tsr_plan_kernel_info(plan, k, &ki) != TSR_OK) goto done;
        flops += (double)(ki.flops > ki.core_flops ? ki.flops : ki.core_flops);
    }
    if (flops > TSR_FUZZ_RUN_FLOPS) {
        tsr_fuzz_note("skip (over the FLOP cap)", TSR_OK);
        goto done;
    }
    total = 0;
    for (int i = 0; i < n_out; i++) {
        struct tsr_tensor_desc d;
        if (tsr_plan_output_desc(plan, i, NULL, &d) != TSR_OK) goto done;
        size_t b = tsr_fuzz_desc_bytes(&d);
        if (b > TSR_FUZZ_RUN_CAP || (total += b) > TSR_FUZZ_RUN_CAP) goto done;
        if (tsr_tensor_alloc(&d, &out[i]) != TSR_OK) goto done;
        if (b == 0) tsr_tensor_free(&out[i]);
    }
    tsr_fuzz_note("run", tsr_plan_run(plan, in, (size_t)n_in, out, (size_t)n_out));
done:
    for (int i = 0; i < 64; i++) {
        tsr_tensor_free(&in[i]);
        tsr_tensor_free(&out[i]);
    }
    tsr_plan_destroy(plan);
}

static char temp_dir[256];

/* Removes the private directory and the files in it (atexit). */
static void remove_temp_dir(void) {
    DIR *d = opendir(temp_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", temp_dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(temp_dir);
}

const char *tsr_fuzz_temp_dir(void) {
    char *dir = temp_dir;
    if (dir[0]) return dir;
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof temp_dir, "%s/tsr-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "fuzz: cannot create a temporary directory\n");
        abort();
    }
    atexit(remove_temp_dir);
    return dir;
}

const char *tsr_fuzz_write_temp(const char *name, const uint8_t *data, size_t size) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tsr_fuzz_temp_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    int ok = fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0 || !ok) return NULL;
    return path;
}
