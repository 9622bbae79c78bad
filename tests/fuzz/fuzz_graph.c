/*
 * fuzz_graph.c — the graph builder API driven by a byte stream: inputs (dtype, rank, dims),
 * constants (int64 or float32 vectors, for shapes, axes, pads, ...) and up to 24 nodes whose op,
 * inputs and attributes the bytes choose; the last values become outputs, and the graph is
 * compiled for the CPU and run once (fuzz_support.c, within TSR_FUZZ_RUN_CAP).
 * Stream: see next() and the step loop below; an exhausted stream reads zeros.
 */
#include "fuzz.h"

#include <string.h>

struct stream {
    const uint8_t *p;
    size_t n, pos;
};

static uint8_t next(struct stream *s) {
    return s->pos < s->n ? s->p[s->pos++] : 0;
}

/* A dimension or a shape value: mostly small, sometimes 0, -1 or huge (overflow checks). */
static int64_t pick_dim(struct stream *s) {
    static const int64_t table[16] = {1,
                                      2,
                                      3,
                                      4,
                                      0,
                                      5,
                                      1,
                                      2,
                                      -1,
                                      6,
                                      8,
                                      3,
                                      INT64_C(65536),
                                      INT64_C(1) << 31,
                                      INT64_C(1) << 40,
                                      INT64_MAX};
    return table[next(s) % 16];
}

static tsr_dtype pick_dtype(struct stream *s) {
    static const tsr_dtype table[8] = {TSR_F32,  TSR_F32, TSR_F32, TSR_I64,
                                       TSR_BOOL, TSR_I32, TSR_U8,  TSR_F16};
    return table[next(s) % 8];
}

/* Sets one attribute field, chosen by the stream, to a value from the stream. */
static void mutate_attr(struct stream *s, struct tsr_op_attrs *a) {
    uint8_t field = next(s), v = next(s);
    int64_t sv = (int64_t)(int8_t)v;      /* -128 .. 127 */
    int64_t small = (int64_t)(v % 9) - 2; /* -2 .. 6 */
    switch (field % 24) {
    case 0:
        a->axis = small;
        break;
    case 1:
        a->keepdims = v & 1;
        break;
    case 2:
        a->n_axes = v % (TSR_MAX_RANK + 1);
        for (int i = 0; i < a->n_axes; i++)
            a->axes[i] = (int64_t)(next(s) % 9) - 4;
        break;
    case 3:
        a->n_perm = v % (TSR_MAX_RANK + 1);
        for (int i = 0; i < a->n_perm; i++)
            a->perm[i] = next(s) % 9;
        break;
    case 4:
        a->kernel_shape[0] = small;
        a->kernel_shape[1] = (int64_t)(next(s) % 9) - 2;
        break;
    case 5:
        a->strides[0] = small;
        a->strides[1] = (int64_t)(next(s) % 9) - 2;
        break;
    case 6:
        for (int i = 0; i < 4; i++)
            a->pads[i] = (int64_t)(next(s) % 9) - 2;
        break;
    case 7:
        a->dilations[0] = small;
        a->dilations[1] = (int64_t)(next(s) % 9) - 2;
        break;
    case 8:
        a->group = small;
        break;
    case 9:
        a->allowzero = v & 1;
        break;
    case 10:
        a->cast_to = pick_dtype(s);
        break;
    case 11:
        a->shape_start = small;
        a->shape_end = sv;
        break;
    case 12:
        a->blocksize = small;
        break;
    case 13:
        a->trans_a = v & 1, a->trans_b = (v >> 1) & 1;
        break;
    case 14:
        a->noop_with_empty_axes = v & 1;
        break;
    case 15:
        a->auto_pad = v % 4;
        break;
    case 16:
        a->ceil_mode = v & 1, a->count_include_pad = (v >> 1) & 1;
        break;
    case 17:
        a->n_starts = a->n_ends = v % 4;
        for (int i = 0; i < a->n_starts; i++) {
            a->starts[i] = (int64_t)(int8_t)next(s);
            a->ends[i] = (int64_t)(int8_t)next(s);
        }
        a->n_steps = next(s) % (a->n_starts + 1);
        for (int i = 0; i < a->n_steps; i++)
            a->steps[i] = (int64_t)(next(s) % 7) - 3;
        break;
    case 18:
        a->n_pad_pads = 2 * (v % 5);
        for (int i = 0; i < a->n_pad_pads; i++)
            a->pad_pads[i] = (int64_t)(next(s) % 7) - 2;
        a->pad_mode = next(s) % 3;
        break;
    case 19:
        a->fill_dtype = pick_dtype(s), a->fill_i64 = sv, a->fill_f64 = (double)sv;
        break;
    case 20:
        a->num_groups = small;
        break;
    case 21:
        a->scan_window = small, a->ema_alpha = (float)(v % 11) / 10.0f;
        break;
    case 22:
        a->select_last_index = v & 1, a->softmax_2d = (v >> 1) & 1;
        break;
    case 23:
        a->n_topk_k = 1, a->topk_k[0] = small;
        break;
    }
}

#define MAX_VALUES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct stream s = {data, size, 0};
    tsr_graph *g = NULL;
    if (tsr_graph_create(tsr_fuzz_context(), &g) != TSR_OK) return 0;
    tsr_value vals[MAX_VALUES];
    int n_vals = 0;
    int n_inputs = 1 + next(&s) % 2;
    for (int i = 0; i < n_inputs; i++) {
        struct tsr_tensor_desc d;
        memset(&d, 0, sizeof d);
        d.dtype = pick_dtype(&s);
        d.rank = next(&s) % 5;
        for (int k = 0; k < d.rank; k++)
            d.dims[k] = pick_dim(&s);
        char name[16] = {'x', (char)('0' + i), 0};
        if (tsr_graph_input(g, name, &d, &vals[n_vals]) == TSR_OK) n_vals++;
    }
    for (int step = 0; step < 24 && s.pos < s.n && n_vals < MAX_VALUES; step++) {
        uint8_t kind = next(&s);
        if (kind >= 224 || n_vals == 0) { /* a constant vector */
            int64_t i64[8];
            float f32[8];
            struct tsr_tensor_desc d;
            memset(&d, 0, sizeof d);
            d.dtype = (kind & 1) ? TSR_F32 : TSR_I64;
            d.rank = (kind & 2) ? 0 : 1;
            d.dims[0] = d.rank ? next(&s) % 9 : 1;
            for (int k = 0; k < d.dims[0]; k++) {
                i64[k] = pick_dim(&s);
                f32[k] = (float)(int8_t)next(&s) / 4.0f;
            }
            if (tsr_graph_constant(g, NULL, &d, d.dtype == TSR_F32 ? (void *)f32 : (void *)i64,
                                   &vals[n_vals]) == TSR_OK)
                n_vals++;
            continue;
        }
        tsr_op op = (tsr_op)(next(&s) % TSR_OP_COUNT);
        int n_in = 1 + kind % 4;
        tsr_value in[4];
        for (int k = 0; k < n_in; k++)
            in[k] = vals[next(&s) % n_vals];
        struct tsr_op_attrs a = tsr_op_attrs_default();
        int n_mut = (kind >> 2) % 4;
        for (int k = 0; k < n_mut; k++)
            mutate_attr(&s, &a);
        tsr_status st = tsr_graph_op(g, op, in, n_in, &a, NULL, &vals[n_vals]);
        tsr_fuzz_note(tsr_op_name(op), st);
        if (st == TSR_OK) n_vals++;
    }
    int outs = 0;
    for (int i = n_vals - 1; i >= n_inputs && outs < 2; i--)
        if (tsr_graph_output(g, NULL, vals[i]) == TSR_OK) outs++;
    if (outs) tsr_fuzz_compile_run(g, data, size);
    tsr_graph_destroy(g);
    return 0;
}
