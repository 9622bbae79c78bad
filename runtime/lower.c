/*
 * lower.c — from the optimised graph to a tsr_program (runtime/program.h):
 *
 *   1. views: Reshape, Flatten and Identity outputs share their input's storage (no kernel);
 *   2. fusion: a Gemm/MatMul absorbs a following bias Add and activation into its epilogue;
 *      a chain of elementwise nodes becomes one region (one kernel) as long as every
 *      intermediate value has exactly one consumer, is not a graph output, and has the region's
 *      output shape (so nothing is recomputed);
 *   3. buffers: graph inputs, constants, kernel outputs; graph outputs are written in place into
 *      the caller's memory (a copy kernel only when an output is an input, a constant, or
 *      another output);
 *   4. memory plan: liveness interval [first write, last read] per intermediate buffer, offsets
 *      in one arena by greedy best-offset in decreasing size order (as in TensorFlow Lite's
 *      arena planner, "ArenaPlanner", and Pisarchyk & Lee, "Efficient Memory Management for
 *      Deep Neural Net Inference", 2020, greedy by size).
 */
#include "runtime/lower.h"
#include "runtime/memplan.h"
#include "runtime/ops/op_table.h"
#include "runtime/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */

struct region;

/* What lowering knows while it walks the graph (the tsr_lower_fn functions of op_table.h). */
struct tsr_lower_state {
    tsr_graph *g;
    tsr_context *ctx;
    unsigned disable;
    int *root;            /* value → value whose storage it shares (views) */
    int *n_uses;          /* value → live consumer nodes + graph-output uses */
    int *consumer;        /* value → the single consuming node when n_uses == 1, else -1 */
    int *is_output;       /* value → 1 when a graph output */
    int *absorbed;        /* node → 1 when fused into an earlier kernel (epilogue or region) */
    int *buf_of;          /* root value → buffer id, -1 none yet */
    unsigned char *ready; /* root value → computed by an already emitted kernel */
    struct tsr_program *p;
    int cap_buffers, cap_kernels;
    struct region *regions; /* elementwise regions, at most one per node */
    int n_regions;
    int *region_of_value; /* value → region whose current output it is, -1 none */
};

/* Epilogue activation of node n (TSR_ACT_NONE when n is none), with its parameters. */
static tsr_activation node_activation(const struct tsr_node *n, float *p0, float *p1) {
    return tsr_op_activation(n->op, &n->attrs, p0, p1);
}

static int root_of(struct tsr_lower_state *s, int v) {
    while (s->root[v] != v)
        v = s->root[v];
    return v;
}

/* Is v's data available at this point of the kernel order (input, constant, or written by a
 * kernel already emitted)? */
static int value_ready(struct tsr_lower_state *s, int v) {
    int r = root_of(s, v);
    const struct tsr_value_info *vi = &s->g->values[r];
    return vi->input_index >= 0 || vi->data != NULL || s->ready[r];
}

static int add_buffer(struct tsr_lower_state *s, tsr_buffer_kind kind,
                      const struct tsr_tensor_desc *desc) {
    struct tsr_program *p = s->p;
    if (p->n_buffers == s->cap_buffers) {
        int nc = s->cap_buffers ? s->cap_buffers * 2 : 32;
        void *q = realloc(p->buffers, (size_t)nc * sizeof *p->buffers);
        if (!q) return -1;
        p->buffers = q;
        s->cap_buffers = nc;
    }
    struct tsr_buffer *b = &p->buffers[p->n_buffers];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->desc = *desc; /* the value's dtype too */
    b->bytes = tsr_desc_bytes(&b->desc);
    b->io_index = -1;
    return p->n_buffers++;
}

/* Buffer holding value v's storage (inputs and constants on first use). -1 on OOM. */
static int buffer_for(struct tsr_lower_state *s, int v) {
    int r = root_of(s, v);
    if (s->buf_of[r] >= 0) return s->buf_of[r];
    const struct tsr_value_info *vi = &s->g->values[r];
    int b;
    if (vi->input_index >= 0) {
        b = add_buffer(s, TSR_BUF_INPUT, &vi->desc);
        if (b >= 0) s->p->buffers[b].io_index = vi->input_index;
    } else if (vi->data) {
        b = add_buffer(s, TSR_BUF_CONST, &vi->desc);
        if (b >= 0) {
            struct tsr_buffer *bf = &s->p->buffers[b];
            bf->const_data = tsr_aligned_alloc(bf->bytes);
            if (!bf->const_data) return -1;
            memcpy(bf->const_data, vi->data, bf->bytes);
        }
    } else {
        b = add_buffer(s, TSR_BUF_TEMP, &vi->desc);
    }
    if (b >= 0) s->buf_of[r] = b;
    return b;
}

static struct tsr_kernel *add_kernel(struct tsr_lower_state *s, tsr_kernel_kind kind) {
    struct tsr_program *p = s->p;
    if (p->n_kernels == s->cap_kernels) {
        int nc = s->cap_kernels ? s->cap_kernels * 2 : 32;
        void *q = realloc(p->kernels, (size_t)nc * sizeof *p->kernels);
        if (!q) return NULL;
        p->kernels = q;
        s->cap_kernels = nc;
    }
    struct tsr_kernel *k = &p->kernels[p->n_kernels++];
    memset(k, 0, sizeof *k);
    k->kind = kind;
    k->output = -1;
    return k;
}

/* Appends ",name" to k->nodes. */
static int kernel_add_name(struct tsr_kernel *k, const char *name) {
    size_t old = k->nodes ? strlen(k->nodes) : 0, add = strlen(name);
    char *q = realloc(k->nodes, old + add + 2);
    if (!q) return -1;
    if (old) q[old++] = ',';
    memcpy(q + old, name, add + 1);
    k->nodes = q;
    return 0;
}

/* Appends graph node n to k->nodes: its name, then the nodes passes folded into it (BN into a
 * Conv, a decomposed layer norm into its node), so --explain lists every source node. */
static int kernel_add_node(struct tsr_kernel *k, const struct tsr_node *n) {
    if (kernel_add_name(k, n->name)) return -1;
    return n->absorbed ? kernel_add_name(k, n->absorbed) : 0;
}

/* Strides (elements) of `in` broadcast to `out` shape, aligned right; 0 along broadcast dims. */
static void bcast_strides(const struct tsr_tensor_desc *in, const struct tsr_tensor_desc *out,
                          int64_t *strides) {
    int64_t st = 1;
    for (int i = out->rank - 1; i >= 0; i--) {
        int ii = i - (out->rank - in->rank);
        if (ii < 0) {
            strides[i] = 0;
            continue;
        }
        strides[i] = (in->dims[ii] == 1) ? 0 : st;
        st *= in->dims[ii];
    }
}

/* ---------------------------------------------------------------------------------------- */
/* GEMM / MatMul with epilogue                                                                */

#define LOWER_OOM() TSR_ERR(s->ctx, TSR_E_NOMEM, "lowering: out of memory")

/* Can `c` be the epilogue operand of an output of shape `y` (batch dims all 1 in c)? Fills the
 * strides. */
static int c_strides_for(const struct tsr_tensor_desc *c, const struct tsr_tensor_desc *y,
                         struct tsr_k_gemm *gm) {
    if (c->rank > y->rank) return 0;
    for (int i = 0; i < c->rank; i++) {
        int64_t dc = c->dims[c->rank - 1 - i], dy = y->dims[y->rank - 1 - i];
        if (dc != dy && dc != 1) return 0;
        if (i >= 2 && dc != 1) return 0; /* batch-varying bias: not an epilogue */
    }
    int64_t dn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    int64_t dm = c->rank >= 2 ? c->dims[c->rank - 2] : 1;
    int64_t ym = y->rank >= 2 ? y->dims[y->rank - 2] : 1;
    gm->c_stride_n = (dn == 1) ? 0 : 1;
    gm->c_stride_m = (dm == 1 || ym == 1) ? 0 : dn;
    gm->c_stride_b = 0;
    return 1;
}

/* The node consuming v when v has exactly one consumer, is not a graph output, and that node's
 * op is `op` (TSR_OP_COUNT: any op); else -1. */
static int single_consumer(struct tsr_lower_state *s, int v, tsr_op op) {
    if (s->n_uses[v] != 1 || s->is_output[v]) return -1;
    int ci = s->consumer[v];
    if (ci < 0 || s->g->nodes[ci].dead || s->absorbed[ci]) return -1;
    if (op != TSR_OP_COUNT && s->g->nodes[ci].op != op) return -1;
    return ci;
}

/* For Add node ci consuming v: its other operand when the Add's output keeps v's shape y and
 * the operand is already computed (so the fused kernel can read it); else -1. */
static int add_other(struct tsr_lower_state *s, int ci, int v, const struct tsr_tensor_desc *y) {
    const struct tsr_node *add = &s->g->nodes[ci];
    int other = add->inputs[0] == v ? add->inputs[1] : add->inputs[0];
    if (other == v || !tsr_desc_equal(&s->g->values[add->output].desc, y)) return -1;
    return value_ready(s, other) ? other : -1;
}

/* Marks node ci as fused into kernel k; *out_value becomes its output. 0, or -1 on OOM. */
static int absorb(struct tsr_lower_state *s, struct tsr_kernel *k, int ci, int *out_value) {
    s->absorbed[ci] = 1;
    *out_value = s->g->nodes[ci].output;
    return kernel_add_node(k, &s->g->nodes[ci]);
}

/* SiLU / Swish as exported (torch.onnx: Sigmoid(v), Mul(v, sigmoid)): when v, not a graph
 * output, has exactly these two consumers and the Sigmoid's output only feeds the Mul, the Mul
 * node (*mul) and the Sigmoid node (*sig); else 0. A Mul of v by the sigmoid of another value
 * (squeeze-excitation's per-channel gate) does not match. */
static int silu_nodes(struct tsr_lower_state *s, int v, int *sig, int *mul) {
    const tsr_graph *g = s->g;
    if (s->n_uses[v] != 2 || s->is_output[v]) return 0;
    *sig = *mul = -1;
    int readers = 0; /* live nodes reading v (n_uses counts x op x as 2) */
    for (int i = 0; i < g->n_nodes; i++) {
        const struct tsr_node *n = &g->nodes[i];
        if (n->dead) continue;
        int reads = 0;
        for (int q = 0; q < n->n_inputs; q++)
            reads |= n->inputs[q] == v;
        readers += reads;
        if (n->op == TSR_OP_SIGMOID && n->inputs[0] == v && !s->absorbed[i]) *sig = i;
    }
    if (*sig < 0 || readers != 2) return 0;
    const int sv = g->nodes[*sig].output;
    const int m = single_consumer(s, sv, TSR_OP_MUL);
    if (m < 0) return 0;
    const struct tsr_node *mn = &g->nodes[m];
    if (!((mn->inputs[0] == v && mn->inputs[1] == sv) ||
          (mn->inputs[0] == sv && mn->inputs[1] == v)))
        return 0;
    if (!tsr_desc_equal(&g->values[mn->output].desc, &g->values[v].desc)) return 0;
    *mul = m;
    return 1;
}

/* Epilogue activation of a kernel whose result is *out_value: a single consumer with an
 * activation (op table), or the SiLU pair (silu_nodes); the nodes are absorbed into k and
 * *out_value advances. 0, or -1 on OOM. */
static int absorb_activation(struct tsr_lower_state *s, struct tsr_kernel *k, int *out_value,
                             tsr_activation *act, float *p0, float *p1) {
    int ci = single_consumer(s, *out_value, TSR_OP_COUNT);
    if (ci >= 0 && node_activation(&s->g->nodes[ci], p0, p1) != TSR_ACT_NONE) {
        *act = node_activation(&s->g->nodes[ci], p0, p1);
        return absorb(s, k, ci, out_value);
    }
    int sig, mul;
    if (silu_nodes(s, *out_value, &sig, &mul)) {
        *act = TSR_ACT_SILU;
        *p0 = *p1 = 0.0f;
        if (absorb(s, k, sig, out_value)) return -1;
        return absorb(s, k, mul, out_value);
    }
    return 0;
}

/* "gemm_bias_residual_relu" style kernel names. */
static void epilogue_name(char *buf, size_t size, const char *base, int bias, int residual,
                          tsr_activation act) {
    snprintf(buf, size, "%s%s%s%s%s", base, bias ? "_bias" : "", residual ? "_residual" : "",
             act ? "_" : "", act ? tsr_activation_name(act) : "");
}

static int emit_broadcast_copy(struct tsr_lower_state *s, int v, const struct tsr_tensor_desc *to,
                               const char *node_name);

/* MatMul operand whose batch dims are neither all 1 nor the output's: expanded to the output's
 * batch dims (returns the TEMP buffer), else -1 (used as is) or -2 (OOM). */
static int matmul_expand(struct tsr_lower_state *s, const struct tsr_node *n, int which) {
    const struct tsr_tensor_desc *d = &s->g->values[n->inputs[which]].desc;
    const struct tsr_tensor_desc *yd = &s->g->values[n->output].desc;
    const struct tsr_tensor_desc *ad = &s->g->values[n->inputs[0]].desc;
    const struct tsr_tensor_desc *bd = &s->g->values[n->inputs[1]].desc;
    if (d->rank <= 2) return -1;
    int y_batch_rank = yd->rank - (ad->rank > 1) - (bd->rank > 1);
    int64_t batch = 1;
    for (int i = 0; i + 2 < d->rank; i++)
        batch *= d->dims[i];
    int same = d->rank - 2 == y_batch_rank;
    for (int i = 0; same && i < y_batch_rank; i++)
        same = d->dims[i] == yd->dims[i];
    if (batch == 1 || same) return -1;
    struct tsr_tensor_desc to = *d;
    to.rank = y_batch_rank + 2;
    for (int i = 0; i < y_batch_rank; i++)
        to.dims[i] = yd->dims[i];
    to.dims[to.rank - 2] = d->dims[d->rank - 2];
    to.dims[to.rank - 1] = d->dims[d->rank - 1];
    int b = emit_broadcast_copy(s, n->inputs[which], &to, n->name);
    return b < 0 ? -2 : b;
}

tsr_status tsr_lower_gemm(struct tsr_lower_state *s, int ni) {
    tsr_graph *g = s->g;
    struct tsr_node *n = &g->nodes[ni];
    int exp_a = -1, exp_b = -1;
    if (n->op == TSR_OP_MATMUL) {
        exp_a = matmul_expand(s, n, 0);
        exp_b = matmul_expand(s, n, 1);
        if (exp_a == -2 || exp_b == -2) return LOWER_OOM();
    }
    struct tsr_kernel *k = add_kernel(s, TSR_K_GEMM);
    if (!k) return LOWER_OOM();
    struct tsr_k_gemm *gm = &k->u.gemm;
    const struct tsr_tensor_desc *ad = &g->values[n->inputs[0]].desc;
    const struct tsr_tensor_desc *bd = &g->values[n->inputs[1]].desc;
    const struct tsr_tensor_desc *yd = &g->values[n->output].desc;
    int c_value = -1, r_value = -1;
    if (kernel_add_node(k, n)) return LOWER_OOM();
    if (n->op == TSR_OP_GEMM) {
        gm->batch = 1;
        gm->trans_a = n->attrs.trans_a;
        gm->trans_b = n->attrs.trans_b;
        gm->M = yd->dims[0];
        gm->N = yd->dims[1];
        gm->K = gm->trans_a ? ad->dims[0] : ad->dims[1];
        gm->lda = ad->dims[1];
        gm->ldb = bd->dims[1];
        gm->alpha = n->attrs.alpha;
        if (n->n_inputs == 3 && n->attrs.beta != 0.0f) {
            c_value = n->inputs[2];
            gm->has_c = 1;
            gm->beta = n->attrs.beta;
            c_strides_for(&g->values[c_value].desc, yd, gm);
        }
    } else {
        /* MatMul (numpy.matmul semantics). */
        int a1 = ad->rank == 1, b1 = bd->rank == 1;
        gm->K = ad->dims[ad->rank - 1];
        gm->M = a1 ? 1 : ad->dims[ad->rank - 2];
        gm->N = b1 ? 1 : bd->dims[bd->rank - 1];
        gm->lda = gm->K;
        gm->ldb = gm->N;
        gm->alpha = 1.0f;
        int64_t batch_a = 1, batch_b = 1, batch_y = 1;
        for (int i = 0; i + 2 < ad->rank; i++)
            batch_a *= ad->dims[i];
        for (int i = 0; i + 2 < bd->rank; i++)
            batch_b *= bd->dims[i];
        int yr = yd->rank - (a1 ? 0 : 1) - (b1 ? 0 : 1);
        for (int i = 0; i < yr; i++)
            batch_y *= yd->dims[i];
        if (exp_a >= 0) batch_a = batch_y; /* expanded by a broadcast copy */
        if (exp_b >= 0) batch_b = batch_y;
        gm->batch = batch_y;
        gm->stride_a = batch_a == 1 ? 0 : gm->M * gm->K;
        gm->stride_b = batch_b == 1 ? 0 : gm->K * gm->N;
        /* A batched against a shared B: one GEMM of batch*M rows is the same computation. */
        if (gm->batch > 1 && gm->stride_a && !gm->stride_b) {
            gm->M *= gm->batch;
            gm->batch = 1;
            gm->stride_a = 0;
        }
    }
    int out_value = n->output;
    const char *base = n->op == TSR_OP_GEMM ? "gemm" : "matmul";
    snprintf(k->name, sizeof k->name, "%s", base);
    /* Epilogue fusion: bias Add, residual Add, then activation. */
    if (!(s->disable & TSR_FUSE_EPILOGUE)) {
        int ci = single_consumer(s, out_value, TSR_OP_ADD);
        if (!gm->has_c && ci >= 0) {
            int other = add_other(s, ci, out_value, yd);
            struct tsr_k_gemm tmp = *gm;
            struct tsr_tensor_desc y2 = *yd;
            if (gm->M != (yd->rank >= 2 ? yd->dims[yd->rank - 2] : 1) && gm->batch == 1) {
                /* batch folded into M: bias may vary along N only. */
                y2.rank = 1;
                y2.dims[0] = gm->N;
            }
            if (other >= 0 && c_strides_for(&g->values[other].desc, &y2, &tmp)) {
                *gm = tmp;
                gm->has_c = 1;
                gm->beta = 1.0f;
                c_value = other;
                if (absorb(s, k, ci, &out_value)) return LOWER_OOM();
            }
        }
        ci = single_consumer(s, out_value, TSR_OP_ADD);
        int other = ci >= 0 ? add_other(s, ci, out_value, yd) : -1;
        if (other >= 0 && tsr_desc_equal(&g->values[other].desc, yd)) {
            gm->has_residual = 1;
            r_value = other;
            if (absorb(s, k, ci, &out_value)) return LOWER_OOM();
        }
        if (absorb_activation(s, k, &out_value, &gm->act, &gm->act_p0, &gm->act_p1))
            return LOWER_OOM();
    }
    epilogue_name(k->name, sizeof k->name, base, gm->has_c, gm->has_residual, gm->act);
    /* Operands. The output buffer is created before operand lookups could realloc. */
    int a = exp_a >= 0 ? exp_a : buffer_for(s, n->inputs[0]);
    int b = exp_b >= 0 ? exp_b : buffer_for(s, n->inputs[1]);
    int c = gm->has_c ? buffer_for(s, c_value) : -1;
    int rr = gm->has_residual ? buffer_for(s, r_value) : -1;
    int y = buffer_for(s, out_value);
    if (a < 0 || b < 0 || y < 0 || (gm->has_c && c < 0) || (gm->has_residual && rr < 0))
        return LOWER_OOM();
    k = &s->p->kernels[s->p->n_kernels - 1];
    k->inputs[0] = a;
    k->inputs[1] = b;
    k->n_inputs = 2;
    if (gm->has_c) k->inputs[k->n_inputs++] = c;
    if (gm->has_residual) k->inputs[k->n_inputs++] = rr;
    k->output = y;
    s->ready[root_of(s, out_value)] = 1;
    uint64_t mn = (uint64_t)gm->batch * gm->M * gm->N;
    k->flops = 2 * mn * (uint64_t)gm->K + (gm->has_c ? 2 * mn : 0) + (gm->has_residual ? mn : 0) +
               (gm->act ? mn : 0);
    k->bytes = s->p->buffers[a].bytes + s->p->buffers[b].bytes + 4 * mn +
               (gm->has_c ? s->p->buffers[c].bytes : 0) + (gm->has_residual ? 4 * mn : 0);
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Elementwise regions                                                                        */

struct region {
    int n_nodes;
    int n_instrs; /* instructions of its nodes (node_instrs) */
    int nodes[TSR_EW_MAX_INSTRS];
    int n_inputs;
    int inputs[TSR_EW_MAX_INPUTS]; /* value ids */
    int out_value;
    int pending; /* waiting for its output's consumer to join */
};

/* Instructions node n becomes in a region: 1, or for a variadic op (TSR_EW_VARIADIC) n - 1
 * folds of its n inputs (a COPY for one input) plus its finishing instruction. */
static int node_instrs(const struct tsr_node *n) {
    const struct tsr_op_def *d = tsr_op_def(n->op);
    if (!d || !d->has_variadic) return 1;
    return (n->n_inputs > 1 ? n->n_inputs - 1 : 1) + (d->ew_finish != TSR_EW_COPY);
}

/* Can node ni join the region that produced value v (its operand)? */
static int can_extend(struct tsr_lower_state *s, const struct region *r, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    if (r->n_nodes >= TSR_EW_MAX_INSTRS || r->n_instrs + node_instrs(n) > TSR_EW_MAX_INSTRS)
        return 0;
    int v = r->out_value;
    if (s->n_uses[v] != 1 || s->is_output[v] || s->consumer[v] != ni) return 0;
    if (!tsr_desc_equal(&s->g->values[v].desc, &s->g->values[n->output].desc)) return 0;
    int extra = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        int in = n->inputs[k];
        if (in == v) continue;
        int found = 0;
        for (int j = 0; j < r->n_inputs; j++)
            if (r->inputs[j] == in) found = 1;
        if (!found) extra++;
    }
    return r->n_inputs + extra <= TSR_EW_MAX_INPUTS;
}

/* Output dims and per-input broadcast strides of a region, coalesced: size-1 dims dropped and
 * adjacent dims merged where every input is contiguous (or broadcast) across both. */
static void ew_geometry(struct tsr_k_ew *ew, const struct tsr_tensor_desc *od,
                        const struct tsr_tensor_desc *const *in, int n_in) {
    int64_t st[TSR_EW_MAX_INPUTS][TSR_MAX_RANK];
    for (int j = 0; j < n_in; j++)
        bcast_strides(in[j], od, st[j]);
    int out_rank = 0;
    for (int i = 0; i < od->rank; i++) {
        int64_t d = od->dims[i];
        if (d == 1) continue; /* size-1 dims carry no index */
        if (out_rank > 0) {
            int merge = 1;
            for (int j = 0; j < n_in; j++)
                if (ew->strides[j][out_rank - 1] != st[j][i] * d) merge = 0;
            if (merge) {
                ew->dims[out_rank - 1] *= d;
                for (int j = 0; j < n_in; j++)
                    ew->strides[j][out_rank - 1] = st[j][i];
                continue;
            }
        }
        ew->dims[out_rank] = d;
        for (int j = 0; j < n_in; j++)
            ew->strides[j][out_rank] = st[j][i];
        out_rank++;
    }
    if (out_rank == 0) {
        ew->dims[0] = 1;
        for (int j = 0; j < n_in; j++)
            ew->strides[j][0] = 0;
        out_rank = 1;
    }
    ew->rank = out_rank;
}

/* Materialises `src` (value v) broadcast to `to` in a new TEMP buffer with a one-instruction COPY
 * region; returns the buffer id or -1 on OOM. Used for MatMul operands whose batch dims are only
 * partly broadcast ([2,2,M,K] x [2,K,N]): the GEMM kernel then sees plain batches. */
static int emit_broadcast_copy(struct tsr_lower_state *s, int v, const struct tsr_tensor_desc *to,
                               const char *node_name) {
    int src = buffer_for(s, v);
    int dst = src >= 0 ? add_buffer(s, TSR_BUF_TEMP, to) : -1;
    struct tsr_kernel *k = dst >= 0 ? add_kernel(s, TSR_K_EW) : NULL;
    if (!k || kernel_add_name(k, node_name)) return -1;
    snprintf(k->name, sizeof k->name, "broadcast_copy");
    const struct tsr_tensor_desc *in[1] = {&s->g->values[v].desc};
    ew_geometry(&k->u.ew, to, in, 1);
    k->u.ew.n_instrs = 1;
    k->u.ew.n_regs = 1;
    k->u.ew.instrs[0] = (struct tsr_ew_instr){.op = TSR_EW_COPY, .dst = 0, .a = -1, .b = 0};
    k->n_inputs = 1;
    k->inputs[0] = src;
    k->output = dst;
    k->bytes = s->p->buffers[src].bytes + s->p->buffers[dst].bytes;
    return dst;
}

/* Group "dtcompute": value v converted to `dtype` in a new TEMP buffer by a CAST kernel (Pow's
 * integer exponent of a float base: ONNX Pow computes in X's dtype); returns the buffer id or -1
 * on OOM. */
static int emit_cast_to(struct tsr_lower_state *s, int v, tsr_dtype dtype, const char *node_name) {
    int src = buffer_for(s, v);
    struct tsr_tensor_desc to = s->g->values[v].desc;
    to.dtype = dtype;
    int dst = src >= 0 ? add_buffer(s, TSR_BUF_TEMP, &to) : -1;
    struct tsr_kernel *k = dst >= 0 ? add_kernel(s, TSR_K_CAST) : NULL;
    if (!k || kernel_add_name(k, node_name)) return -1;
    snprintf(k->name, sizeof k->name, "cast_%s_%s", tsr_dtype_name(s->g->values[v].desc.dtype),
             tsr_dtype_name(dtype));
    k->u.cast.n = tsr_desc_elements(&to);
    k->n_inputs = 1;
    k->inputs[0] = src;
    k->output = dst;
    k->bytes = s->p->buffers[src].bytes + s->p->buffers[dst].bytes;
    return dst;
}

static tsr_status emit_region(struct tsr_lower_state *s, struct region *r) {
    tsr_graph *g = s->g;
    /* group "dtcompute": a region input of another dtype than the region's (Pow(float X,
     * integer Y)) is cast first; an integer region with a float input stays refused by the
     * backends' dtype check */
    int cast_of[TSR_EW_MAX_INPUTS];
    for (int j = 0; j < r->n_inputs; j++) {
        const tsr_dtype rd = g->values[r->out_value].desc.dtype;
        const tsr_dtype id = g->values[r->inputs[j]].desc.dtype;
        cast_of[j] = -1;
        if (id != rd && tsr_dtype_is_float(rd) && !tsr_dtype_is_float(id) && id != TSR_BOOL) {
            const char *nm = "";
            for (int i = 0; i < r->n_nodes; i++)
                for (int q = 0; q < g->nodes[r->nodes[i]].n_inputs; q++)
                    if (g->nodes[r->nodes[i]].inputs[q] == r->inputs[j])
                        nm = g->nodes[r->nodes[i]].name;
            cast_of[j] = emit_cast_to(s, r->inputs[j], rd, nm);
            if (cast_of[j] < 0) return LOWER_OOM();
        }
    }
    struct tsr_kernel *k = add_kernel(s, TSR_K_EW);
    if (!k) return LOWER_OOM();
    struct tsr_k_ew *ew = &k->u.ew;
    const struct tsr_tensor_desc *od = &g->values[r->out_value].desc;
    /* Register allocation: each intermediate has exactly one consumer (the next node in the
     * chain), so a register is free again once read. */
    int reg_of_node[TSR_EW_MAX_INSTRS];
    int busy[TSR_EW_MAX_REGS] = {0};
    int n_regs = 0;
    size_t name_len = (size_t)snprintf(k->name, sizeof k->name, "ew");
    int n_instrs = 0;
    for (int i = 0; i < r->n_nodes; i++) {
        struct tsr_node *n = &g->nodes[r->nodes[i]];
        const struct tsr_op_def *def = tsr_op_def(n->op);
        float p0, p1;
        const tsr_ew_op op = tsr_op_ew(n->op, &n->attrs, &p0, &p1);
        int16_t opnd[TSR_EW_MAX_INPUTS] = {0};
        if (n->n_inputs > TSR_EW_MAX_INPUTS || n_instrs + node_instrs(n) > TSR_EW_MAX_INSTRS)
            return TSR_ERR(s->ctx, TSR_E_UNSUPPORTED,
                           "node '%s' (%s): %d inputs / %d instructions exceed an elementwise "
                           "region's %d / %d",
                           n->name, tsr_op_name(n->op), n->n_inputs, n_instrs + node_instrs(n),
                           TSR_EW_MAX_INPUTS, TSR_EW_MAX_INSTRS);
        /* a register read by the node's first instruction is free for its result; one read
         * later (a variadic op's third input onwards) only after the node's last instruction */
        int late_free[TSR_EW_MAX_INPUTS], n_late = 0;
        for (int q = 0; q < n->n_inputs; q++) {
            int v = n->inputs[q];
            int from = -1;
            for (int j = 0; j < i; j++)
                if (g->nodes[r->nodes[j]].output == v) from = j;
            if (from >= 0) {
                opnd[q] = (int16_t)reg_of_node[from];
                if (q < 2)
                    busy[reg_of_node[from]] = 0;
                else
                    late_free[n_late++] = reg_of_node[from];
            } else {
                int idx = -1;
                for (int j = 0; j < r->n_inputs; j++)
                    if (r->inputs[j] == v) idx = j;
                opnd[q] = (int16_t)(-idx - 1);
            }
        }
        int d = 0;
        while (d < TSR_EW_MAX_REGS && busy[d])
            d++;
        if (d == TSR_EW_MAX_REGS) return TSR_ERR(s->ctx, TSR_E_INTERNAL, "region: registers");
        busy[d] = 1;
        reg_of_node[i] = d;
        if (d + 1 > n_regs) n_regs = d + 1;
        if (def && def->has_variadic) {
            /* fold: d = op(in0, in1), d = op(d, in2), ...; one input: d = in0 */
            if (n->n_inputs == 1)
                ew->instrs[n_instrs++] = (struct tsr_ew_instr){
                    .op = TSR_EW_COPY, .dst = (uint8_t)d, .a = opnd[0], .b = 0};
            for (int q = 1; q < n->n_inputs; q++)
                ew->instrs[n_instrs++] = (struct tsr_ew_instr){.op = (uint8_t)op,
                                                               .dst = (uint8_t)d,
                                                               .a = q == 1 ? opnd[0] : (int16_t)d,
                                                               .b = opnd[q],
                                                               .p0 = p0,
                                                               .p1 = p1};
            if (def->ew_finish != TSR_EW_COPY)
                ew->instrs[n_instrs++] = (struct tsr_ew_instr){.op = (uint8_t)def->ew_finish,
                                                               .dst = (uint8_t)d,
                                                               .a = (int16_t)d,
                                                               .b = 0,
                                                               .p0 = (float)n->n_inputs};
        } else {
            ew->instrs[n_instrs++] = (struct tsr_ew_instr){.op = (uint8_t)op,
                                                           .dst = (uint8_t)d,
                                                           .a = opnd[0],
                                                           .b = opnd[1],
                                                           .p0 = p0,
                                                           .p1 = p1};
        }
        for (int q = 0; q < n_late; q++)
            busy[late_free[q]] = 0;
        if (kernel_add_node(k, n)) return LOWER_OOM();
        if (name_len < sizeof k->name)
            name_len += (size_t)snprintf(k->name + name_len, sizeof k->name - name_len, "_%s",
                                         tsr_op_name(n->op));
    }
    for (char *c = k->name; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    ew->n_instrs = n_instrs;
    ew->n_regs = n_regs;
    const struct tsr_tensor_desc *in_descs[TSR_EW_MAX_INPUTS] = {0};
    for (int j = 0; j < r->n_inputs; j++)
        in_descs[j] = &g->values[r->inputs[j]].desc;
    ew_geometry(ew, od, in_descs, r->n_inputs);
    int ins[TSR_EW_MAX_INPUTS];
    for (int j = 0; j < r->n_inputs; j++) {
        ins[j] = cast_of[j] >= 0 ? cast_of[j] : buffer_for(s, r->inputs[j]);
        if (ins[j] < 0) return LOWER_OOM();
    }
    int y = buffer_for(s, r->out_value);
    if (y < 0) return LOWER_OOM();
    k = &s->p->kernels[s->p->n_kernels - 1];
    k->n_inputs = r->n_inputs;
    uint64_t n_out = (uint64_t)tsr_desc_elements(od);
    k->bytes = tsr_dtype_size(od->dtype) * n_out;
    for (int j = 0; j < r->n_inputs; j++) {
        k->inputs[j] = ins[j];
        k->bytes += s->p->buffers[ins[j]].bytes;
    }
    k->output = y;
    s->ready[root_of(s, r->out_value)] = 1;
    k->flops = n_out * (uint64_t)n_instrs;
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */

tsr_status tsr_lower_softmax(struct tsr_lower_state *s, int ni) {
    tsr_graph *g = s->g;
    struct tsr_node *n = &g->nodes[ni];
    const struct tsr_tensor_desc *xd = &g->values[n->inputs[0]].desc;
    int r = xd->rank;
    int64_t axis =
        n->attrs.axis == TSR_AXIS_DEFAULT ? (n->attrs.softmax_2d ? 1 : -1) : n->attrs.axis;
    if (axis < 0) axis += r;
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < axis)
            outer *= xd->dims[i];
        else if (i == axis || n->attrs.softmax_2d)
            len *= xd->dims[i];
        else
            inner *= xd->dims[i];
    }
    int x = buffer_for(s, n->inputs[0]), y = buffer_for(s, n->output);
    if (x < 0 || y < 0) return LOWER_OOM();
    struct tsr_kernel *k = add_kernel(s, TSR_K_SOFTMAX);
    if (!k) return LOWER_OOM();
    const int mode = n->op == TSR_OP_LOGSOFTMAX ? TSR_SOFTMAX_LOG
                     : n->op == TSR_OP_HARDMAX  ? TSR_SOFTMAX_HARD
                                                : TSR_SOFTMAX_PLAIN;
    snprintf(k->name, sizeof k->name, "%s",
             mode == TSR_SOFTMAX_LOG    ? "log_softmax"
             : mode == TSR_SOFTMAX_HARD ? "hardmax"
                                        : "softmax");
    k->u.softmax.mode = mode;
    if (kernel_add_node(k, n)) return LOWER_OOM();
    k->u.softmax.outer = outer;
    k->u.softmax.axis_len = len;
    k->u.softmax.inner = inner;
    k->n_inputs = 1;
    k->inputs[0] = x;
    k->output = y;
    s->ready[root_of(s, n->output)] = 1;
    uint64_t ne = (uint64_t)tsr_desc_elements(xd);
    k->flops = 5 * ne;
    k->bytes = 8 * ne;
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Convolution, pooling, reductions, layout ops                                                */

/* Adds a kernel of `kind` reading `n_in` values and writing value `out`; names it. NULL on OOM.
 * Buffer lookups happen before the kernel is appended, so the returned pointer stays valid. */
static struct tsr_kernel *simple_kernel(struct tsr_lower_state *s, tsr_kernel_kind kind,
                                        const char *name, const struct tsr_node *n,
                                        const int *in_values, int n_in, int out_value) {
    int bufs[TSR_KERNEL_MAX_INPUTS];
    for (int j = 0; j < n_in; j++)
        if ((bufs[j] = buffer_for(s, in_values[j])) < 0) return NULL;
    int y = buffer_for(s, out_value);
    struct tsr_kernel *k = y >= 0 ? add_kernel(s, kind) : NULL;
    if (!k || kernel_add_node(k, n)) return NULL;
    snprintf(k->name, sizeof k->name, "%s", name);
    k->n_inputs = n_in;
    uint64_t bytes = s->p->buffers[y].bytes;
    for (int j = 0; j < n_in; j++) {
        k->inputs[j] = bufs[j];
        bytes += s->p->buffers[bufs[j]].bytes;
    }
    k->output = y;
    k->bytes = bytes;
    s->ready[root_of(s, out_value)] = 1;
    return k;
}

tsr_status tsr_lower_conv(struct tsr_lower_state *s, int ni) {
    tsr_graph *g = s->g;
    struct tsr_node *n = &g->nodes[ni];
    const struct tsr_tensor_desc *xd = &g->values[n->inputs[0]].desc;
    const struct tsr_tensor_desc *wd = &g->values[n->inputs[1]].desc;
    const struct tsr_tensor_desc *yd = &g->values[n->output].desc;
    struct tsr_window_geometry wg;
    tsr_status st = tsr_window_geometry(s->ctx, n->op, &n->attrs, xd, wd, n->name, &wg);
    if (st != TSR_OK) return st;
    struct tsr_kernel *k = add_kernel(s, TSR_K_CONV);
    if (!k || kernel_add_node(k, n)) return LOWER_OOM();
    struct tsr_k_conv *cv = &k->u.conv;
    const int one_d = xd->rank == 3; /* 1-D (group "spatial"): 2-D with H = 1 */
    *cv = (struct tsr_k_conv){.N = xd->dims[0],
                              .C = xd->dims[1],
                              .H = one_d ? 1 : xd->dims[2],
                              .W = xd->dims[one_d ? 2 : 3],
                              .M = wd->dims[0],
                              .OH = wg.oh,
                              .OW = wg.ow,
                              .KH = wg.kh,
                              .KW = wg.kw,
                              .stride_h = n->attrs.strides[0],
                              .stride_w = n->attrs.strides[1],
                              .pad_t = wg.pad_t,
                              .pad_l = wg.pad_l,
                              .dil_h = n->attrs.dilations[0],
                              .dil_w = n->attrs.dilations[1],
                              .group = n->attrs.group};
    int bias_value = n->n_inputs == 3 ? n->inputs[2] : -1, r_value = -1, out_value = n->output;
    cv->has_bias = bias_value >= 0;
    if (!(s->disable & TSR_FUSE_EPILOGUE)) {
        int ci = single_consumer(s, out_value, TSR_OP_ADD);
        int other = ci >= 0 ? add_other(s, ci, out_value, yd) : -1;
        if (!cv->has_bias && other >= 0) {
            /* A per-channel bias: [M], [M,1,1] or [1,M,1,1] (M floats in channel order; 1-D:
             * [M,1] or [1,M,1]). */
            const struct tsr_tensor_desc *bd = &g->values[other].desc;
            int per_channel =
                tsr_desc_elements(bd) == cv->M && bd->rank <= yd->rank && bd->rank >= 1;
            for (int d = 0; per_channel && d < bd->rank; d++) {
                int yd_axis = d + (yd->rank - bd->rank);
                if (yd_axis != 1 && bd->dims[d] != 1) per_channel = 0;
            }
            if (per_channel && (bd->rank >= yd->rank - 1 || cv->M == 1)) {
                cv->has_bias = 1;
                bias_value = other;
                if (absorb(s, k, ci, &out_value)) return LOWER_OOM();
                ci = single_consumer(s, out_value, TSR_OP_ADD);
                other = ci >= 0 ? add_other(s, ci, out_value, yd) : -1;
            }
        }
        if (other >= 0 && tsr_desc_equal(&g->values[other].desc, yd)) {
            cv->has_residual = 1;
            r_value = other;
            if (absorb(s, k, ci, &out_value)) return LOWER_OOM();
        }
        if (absorb_activation(s, k, &out_value, &cv->act, &cv->act_p0, &cv->act_p1))
            return LOWER_OOM();
    }
    epilogue_name(k->name, sizeof k->name,
                  cv->group == cv->C && cv->group == cv->M && cv->group > 1 ? "conv_depthwise"
                                                                            : "conv",
                  cv->has_bias, cv->has_residual, cv->act);
    int x = buffer_for(s, n->inputs[0]), w = buffer_for(s, n->inputs[1]);
    int b = cv->has_bias ? buffer_for(s, bias_value) : -1;
    int rr = cv->has_residual ? buffer_for(s, r_value) : -1;
    int y = buffer_for(s, out_value);
    if (x < 0 || w < 0 || y < 0 || (cv->has_bias && b < 0) || (cv->has_residual && rr < 0))
        return LOWER_OOM();
    k = &s->p->kernels[s->p->n_kernels - 1];
    k->inputs[0] = x;
    k->inputs[1] = w;
    k->n_inputs = 2;
    if (cv->has_bias) k->inputs[k->n_inputs++] = b;
    if (cv->has_residual) k->inputs[k->n_inputs++] = rr;
    k->output = y;
    s->ready[root_of(s, out_value)] = 1;
    uint64_t ny = (uint64_t)(cv->N * cv->M * cv->OH * cv->OW);
    k->flops = 2 * ny * (uint64_t)(cv->C / cv->group * cv->KH * cv->KW) +
               ny * (uint64_t)(cv->has_bias + cv->has_residual + (cv->act != TSR_ACT_NONE));
    k->bytes = s->p->buffers[x].bytes + s->p->buffers[w].bytes + 4 * ny +
               (cv->has_residual ? 4 * ny : 0) + (cv->has_bias ? 4 * (uint64_t)cv->M : 0);
    return TSR_OK;
}

tsr_status tsr_lower_pool(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    struct tsr_window_geometry wg;
    tsr_status st = tsr_window_geometry(s->ctx, n->op, &n->attrs, xd, NULL, n->name, &wg);
    if (st != TSR_OK) return st;
    struct tsr_kernel *k =
        simple_kernel(s, TSR_K_POOL, n->op == TSR_OP_MAXPOOL ? "maxpool" : "avgpool", n,
                      &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    const int one_d = xd->rank == 3; /* 1-D (group "spatial"): 2-D with H = 1 */
    k->u.pool = (struct tsr_k_pool){
        .kind = n->op == TSR_OP_MAXPOOL
                    ? (n->attrs.pool_indices ? TSR_POOL_MAX_INDEX : TSR_POOL_MAX)
                    : TSR_POOL_AVG,
        .storage_order = n->attrs.storage_order,
        .N = xd->dims[0],
        .C = xd->dims[1],
        .H = one_d ? 1 : xd->dims[2],
        .W = xd->dims[one_d ? 2 : 3],
        .OH = wg.oh,
        .OW = wg.ow,
        .KH = wg.kh,
        .KW = wg.kw,
        .stride_h = n->attrs.strides[0],
        .stride_w = n->attrs.strides[1],
        .pad_t = wg.pad_t,
        .pad_l = wg.pad_l,
        .dil_h = n->attrs.dilations[0],
        .dil_w = n->attrs.dilations[1],
        .pad_b = wg.pad_b,
        .pad_r = wg.pad_r,
        .count_include_pad = n->attrs.count_include_pad};
    k->flops = (uint64_t)(xd->dims[0] * xd->dims[1] * wg.oh * wg.ow * wg.kh * wg.kw);
    return TSR_OK;
}

/* The reduction kind of a Reduce* op (GlobalAveragePool: mean). */
static tsr_reduce_kind reduce_kind_of(tsr_op op) {
    switch (op) {
    case TSR_OP_REDUCESUM:
        return TSR_REDUCE_SUM;
    case TSR_OP_REDUCEMAX:
    case TSR_OP_GLOBALMAXPOOL: /* group "spatial": a max over the spatial dims */
        return TSR_REDUCE_MAX;
    /* group "reduce" */
    case TSR_OP_REDUCEMIN:
        return TSR_REDUCE_MIN;
    case TSR_OP_REDUCEPROD:
        return TSR_REDUCE_PROD;
    case TSR_OP_REDUCESUMSQUARE:
        return TSR_REDUCE_SUM_SQUARE;
    case TSR_OP_REDUCEL1:
        return TSR_REDUCE_L1;
    case TSR_OP_REDUCEL2:
        return TSR_REDUCE_L2;
    case TSR_OP_REDUCELOGSUM:
        return TSR_REDUCE_LOG_SUM;
    case TSR_OP_REDUCELOGSUMEXP:
        return TSR_REDUCE_LOG_SUM_EXP;
    default:
        return TSR_REDUCE_MEAN;
    }
}

/* 1 when reducing a single element x gives x (so a reduction of size-1 dims is a copy). */
static int reduce_one_is_identity(tsr_reduce_kind kind) {
    return kind == TSR_REDUCE_SUM || kind == TSR_REDUCE_MEAN || kind == TSR_REDUCE_MAX ||
           kind == TSR_REDUCE_MIN || kind == TSR_REDUCE_PROD;
}

/* The kernel kind of one run of a chain (program.h: which kinds compose): the sum of squares
 * and L1 map their elements in the first kernel and sum after; log-sum sums and takes the log
 * in the last kernel; the others compose with themselves. */
static tsr_reduce_kind reduce_run_kind(tsr_reduce_kind kind, int first, int last) {
    if ((kind == TSR_REDUCE_SUM_SQUARE || kind == TSR_REDUCE_L1) && !first) return TSR_REDUCE_SUM;
    if (kind == TSR_REDUCE_LOG_SUM && !last) return TSR_REDUCE_SUM;
    return kind;
}

static const char *const reduce_names[TSR_REDUCE_KIND_COUNT] = {
    "reduce_sum",        "reduce_mean", "reduce_max", "reduce_min",     "reduce_prod",
    "reduce_sum_square", "reduce_l1",   "reduce_l2",  "reduce_log_sum", "reduce_log_sum_exp"};

/* Reduce* and GlobalAveragePool: one kernel per maximal run of adjacent reduced dims (size-1
 * dims ignored), chained through TEMP buffers; sums and maxima compose, and so do means of
 * equal-sized groups. */
tsr_status tsr_lower_reduce(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    unsigned mask = 0;
    if (n->op == TSR_OP_GLOBALAVGPOOL || n->op == TSR_OP_GLOBALMAXPOOL) {
        for (int d = 2; d < xd->rank; d++)
            mask |= 1u << d;
    } else if (tsr_reduce_mask(&n->attrs, xd->rank, &mask)) {
        return TSR_ERR(s->ctx, TSR_E_SHAPE, "node '%s': bad axes", n->name);
    }
    tsr_reduce_kind kind = reduce_kind_of(n->op);
    /* Current shape (dims shrink as runs are reduced) and which of its dims are reduced. */
    int64_t dims[TSR_MAX_RANK];
    int red[TSR_MAX_RANK], rank = 0;
    for (int d = 0; d < xd->rank; d++) {
        if (xd->dims[d] == 1) continue;
        dims[rank] = xd->dims[d];
        red[rank++] = (mask >> d) & 1u;
    }
    int src = buffer_for(s, n->inputs[0]);
    int final_buf = buffer_for(s, n->output);
    if (src < 0 || final_buf < 0) return LOWER_OOM();
    int runs = 0;
    for (int d = 0; d < rank; d++)
        if (red[d] && (d == 0 || !red[d - 1])) runs++;
    if (runs == 0 && mask != 0 && !reduce_one_is_identity(kind)) {
        /* Every reduced dim is 1, but the reduction of one element is not the element (|x|,
         * x^2, log x): one kernel over len 1. */
        struct tsr_kernel *k =
            simple_kernel(s, TSR_K_REDUCE, reduce_names[kind], n, &n->inputs[0], 1, n->output);
        if (!k) return LOWER_OOM();
        k->u.reduce = (struct tsr_k_reduce){
            .kind = kind, .outer = tsr_desc_elements(xd), .len = 1, .inner = 1};
        k->flops = (uint64_t)tsr_desc_elements(xd);
        return TSR_OK;
    }
    if (runs == 0) {
        /* Nothing to reduce (all reduced dims are 1, or noop): a copy. */
        struct tsr_kernel *k = simple_kernel(s, TSR_K_COPY, "copy", n, &n->inputs[0], 1, n->output);
        if (!k) return LOWER_OOM();
        k->u.copy.n = tsr_desc_elements(xd);
        return TSR_OK;
    }
    int done_runs = 0;
    for (int d = 0; d < rank;) {
        if (!red[d]) {
            d++;
            continue;
        }
        int e = d;
        while (e < rank && red[e])
            e++;
        int64_t outer = 1, len = 1, inner = 1;
        for (int q = 0; q < d; q++)
            outer *= dims[q];
        for (int q = d; q < e; q++)
            len *= dims[q];
        for (int q = e; q < rank; q++)
            inner *= dims[q];
        int first = done_runs == 0, last = ++done_runs == runs;
        tsr_reduce_kind run_kind = reduce_run_kind(kind, first, last);
        int dst = final_buf;
        if (!last) {
            struct tsr_tensor_desc td = {xd->dtype, 1, {outer * inner}};
            if ((dst = add_buffer(s, TSR_BUF_TEMP, &td)) < 0) return LOWER_OOM();
        }
        struct tsr_kernel *k = add_kernel(s, TSR_K_REDUCE);
        if (!k || kernel_add_node(k, n)) return LOWER_OOM();
        snprintf(k->name, sizeof k->name, "%s",
                 n->op == TSR_OP_GLOBALAVGPOOL   ? "global_avgpool"
                 : n->op == TSR_OP_GLOBALMAXPOOL ? "global_maxpool"
                                                 : reduce_names[run_kind]);
        k->u.reduce =
            (struct tsr_k_reduce){.kind = run_kind, .outer = outer, .len = len, .inner = inner};
        k->n_inputs = 1;
        k->inputs[0] = src;
        k->output = dst;
        k->flops = (uint64_t)(outer * len * inner);
        k->bytes = 4 * (uint64_t)(outer * len * inner + outer * inner);
        /* The reduced run collapses to nothing in the shape. */
        for (int q = e; q < rank; q++) {
            dims[d + q - e] = dims[q];
            red[d + q - e] = red[q];
        }
        rank -= e - d;
        src = dst;
    }
    s->ready[root_of(s, n->output)] = 1;
    return TSR_OK;
}

tsr_status tsr_lower_transpose(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    int64_t perm[TSR_MAX_RANK], xs[TSR_MAX_RANK], st = 1;
    tsr_transpose_perm(&n->attrs, xd->rank, perm);
    for (int d = xd->rank - 1; d >= 0; d--) {
        xs[d] = st;
        st *= xd->dims[d];
    }
    struct tsr_kernel *k =
        simple_kernel(s, TSR_K_TRANSPOSE, "transpose", n, &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    /* Output dims in order with their input strides; size-1 dims dropped, runs that stay
     * contiguous in the input merged. */
    struct tsr_k_transpose *t = &k->u.transpose;
    t->rank = 0;
    for (int d = 0; d < xd->rank; d++) {
        int64_t dim = xd->dims[perm[d]], stride = xs[perm[d]];
        if (dim == 1) continue;
        if (t->rank > 0 && t->in_strides[t->rank - 1] == stride * dim) {
            t->dims[t->rank - 1] *= dim;
            t->in_strides[t->rank - 1] = stride;
            continue;
        }
        t->dims[t->rank] = dim;
        t->in_strides[t->rank++] = stride;
    }
    if (t->rank == 0) {
        t->rank = 1;
        t->dims[0] = 1;
        t->in_strides[0] = 1;
    }
    return TSR_OK;
}

tsr_status tsr_lower_concat(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *yd = &s->g->values[n->output].desc;
    int64_t axis = n->attrs.axis == TSR_AXIS_DEFAULT ? 0 : n->attrs.axis;
    if (axis < 0) axis += yd->rank;
    struct tsr_kernel *k =
        simple_kernel(s, TSR_K_CONCAT, "concat", n, n->inputs, n->n_inputs, n->output);
    if (!k) return LOWER_OOM();
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= yd->dims[d];
    for (int d = (int)axis + 1; d < yd->rank; d++)
        inner *= yd->dims[d];
    k->u.concat.outer = outer;
    k->u.concat.n = n->n_inputs;
    for (int j = 0; j < n->n_inputs; j++)
        k->u.concat.inner[j] = s->g->values[n->inputs[j]].desc.dims[axis] * inner;
    return TSR_OK;
}

tsr_status tsr_lower_layernorm(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    int64_t axis = n->attrs.axis == TSR_AXIS_DEFAULT ? -1 : n->attrs.axis;
    if (axis < 0) axis += xd->rank;
    if (n->n_inputs < 2)
        return TSR_ERR(s->ctx, TSR_E_INVALID_ARG, "node '%s' (LayerNormalization): no scale",
                       n->name);
    struct tsr_kernel *k =
        simple_kernel(s, TSR_K_LAYERNORM, "layernorm", n, n->inputs, n->n_inputs, n->output);
    if (!k) return LOWER_OOM();
    int64_t len = 1;
    for (int d = (int)axis; d < xd->rank; d++)
        len *= xd->dims[d];
    k->u.layernorm.len = len;
    k->u.layernorm.outer = len ? tsr_desc_elements(xd) / len : 0;
    k->u.layernorm.epsilon = n->attrs.epsilon;
    k->u.layernorm.has_bias = n->n_inputs > 2;
    k->flops = 8 * (uint64_t)tsr_desc_elements(xd);
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */

/* Elementwise node: joins the region of an operand if allowed, else opens a new one. A region
 * is emitted when it can no longer grow: when its output's consumer is not joinable. */
tsr_status tsr_lower_elementwise(struct tsr_lower_state *s, int i) {
    tsr_graph *g = s->g;
    struct tsr_node *n = &g->nodes[i];
    struct region *regions = s->regions;
    int *region_of_value = s->region_of_value;
    tsr_status status;
    int joined = -1;
    if (!(s->disable & TSR_FUSE_ELEMENTWISE))
        for (int k = 0; k < n->n_inputs && joined < 0; k++) {
            int rv = region_of_value[n->inputs[k]];
            if (rv >= 0 && can_extend(s, &regions[rv], i)) joined = rv;
        }
    /* Other operands that are outputs of regions still waiting for this node: they
     * are complete now, emit them first. */
    for (int k = 0; k < n->n_inputs; k++) {
        int rv = region_of_value[n->inputs[k]];
        if (rv >= 0 && rv != joined && regions[rv].pending) {
            regions[rv].pending = 0;
            if ((status = emit_region(s, &regions[rv])) != TSR_OK) return status;
        }
    }
    struct region *r;
    if (joined >= 0) {
        r = &regions[joined];
    } else {
        joined = s->n_regions++;
        r = &regions[joined];
    }
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (v == r->out_value && r->n_nodes > 0) continue;
        int found = 0;
        for (int j = 0; j < r->n_inputs; j++)
            if (r->inputs[j] == v) found = 1;
        if (!found) r->inputs[r->n_inputs++] = v;
    }
    r->nodes[r->n_nodes++] = i;
    r->n_instrs += node_instrs(n);
    if (r->n_nodes > 1) region_of_value[r->out_value] = -1;
    r->out_value = n->output;
    region_of_value[n->output] = joined;
    /* Emit now unless the single consumer of the output can extend the region. */
    int v = n->output, next = s->consumer[v];
    int extend = !(s->disable & TSR_FUSE_ELEMENTWISE) && next >= 0 &&
                 tsr_op_is_elementwise(g->nodes[next].op) && can_extend(s, r, next);
    r->pending = extend;
    if (!extend) return emit_region(s, r);
    return TSR_OK;
}

/* Reshape, Flatten, Identity: no kernel (the output shares the input's buffer, see tsr_lower). */
tsr_status tsr_lower_view(struct tsr_lower_state *s, int ni) {
    (void)s, (void)ni;
    return TSR_OK;
}

/* ---- issue 9, group "dtypes" ----------------------------------------------------------- */

/* An op with no kernel (on non-constant data; constant inputs fold before lowering). */
tsr_status tsr_lower_refuse(struct tsr_lower_state *s, int ni) {
    const struct tsr_node *n = &s->g->nodes[ni];
    char s0[160];
    return TSR_ERR(s->ctx, TSR_E_UNSUPPORTED,
                   "node '%s' (%s): no kernel for this op on non-constant data (input 0 is %s); "
                   "it runs only when its inputs are constants or known shapes, so it folds at "
                   "compile time",
                   n->name, tsr_op_name(n->op),
                   tsr_desc_format(&s->g->values[n->inputs[0]].desc, s0, sizeof s0));
}

/* Cast to the same dtype is a copy (any dtype: a byte copy); any other pair a CAST kernel. */
tsr_status tsr_lower_cast(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    const struct tsr_tensor_desc *yd = &s->g->values[n->output].desc;
    int same = xd->dtype == yd->dtype;
    struct tsr_kernel *k = simple_kernel(s, same ? TSR_K_COPY : TSR_K_CAST, same ? "copy" : "cast",
                                         n, &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    if (same) {
        k->u.copy.n = tsr_desc_elements(xd);
    } else {
        k->u.cast.n = tsr_desc_elements(xd);
        snprintf(k->name, sizeof k->name, "cast_%s_%s", tsr_dtype_name(xd->dtype),
                 tsr_dtype_name(yd->dtype));
    }
    return TSR_OK;
}

/* ---- issue 9, group "tkern": Gather, Slice, Cast, comparisons / logic / Where, Pad ------- */

/* Fills a SLICE kernel's geometry from per-dim output sizes and input strides (elements; any
 * sign) and the base offset: size-1 dims dropped, adjacent dims merged where the outer stride is
 * the inner one times the inner size (so a contiguous run becomes one long row). */
static void slice_geometry(struct tsr_k_slice *sl, int rank, const int64_t *dims,
                           const int64_t *strides, int64_t offset) {
    sl->rank = 0;
    sl->offset = offset;
    for (int d = 0; d < rank; d++) {
        if (dims[d] == 0) { /* empty: one dim of 0 */
            sl->rank = 1;
            sl->dims[0] = 0;
            sl->in_strides[0] = 1;
            return;
        }
        if (dims[d] == 1) continue;
        if (sl->rank > 0 && sl->in_strides[sl->rank - 1] == strides[d] * dims[d]) {
            sl->dims[sl->rank - 1] *= dims[d];
            sl->in_strides[sl->rank - 1] = strides[d];
            continue;
        }
        sl->dims[sl->rank] = dims[d];
        sl->in_strides[sl->rank++] = strides[d];
    }
    if (sl->rank == 0) {
        sl->rank = 1;
        sl->dims[0] = 1;
        sl->in_strides[0] = 1;
    }
}

/* Row-major strides (elements) of desc. */
static void dense_strides(const struct tsr_tensor_desc *d, int64_t *xs) {
    int64_t st = 1;
    for (int i = d->rank - 1; i >= 0; i--) {
        xs[i] = st;
        st *= d->dims[i];
    }
}

/* Expand of a non-float32 value: a SLICE kernel whose broadcast dims have stride 0. */
static tsr_status lower_broadcast_slice(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    const struct tsr_tensor_desc *yd = &s->g->values[n->output].desc;
    int64_t st[TSR_MAX_RANK];
    bcast_strides(xd, yd, st);
    struct tsr_kernel *k = simple_kernel(s, TSR_K_SLICE, "expand", n, &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    slice_geometry(&k->u.slice, yd->rank, yd->dims, st, 0);
    return TSR_OK;
}

/* Slice (constant starts / ends / axes / steps): a strided copy with a base offset. */
tsr_status tsr_lower_slice(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    int64_t start[TSR_MAX_RANK], step[TSR_MAX_RANK], dims[TSR_MAX_RANK], xs[TSR_MAX_RANK];
    if (tsr_slice_geometry(&n->attrs, xd, start, step, dims))
        return TSR_ERR(s->ctx, TSR_E_SHAPE, "node '%s' (Slice): bad parameters", n->name);
    dense_strides(xd, xs);
    int64_t off = 0, st[TSR_MAX_RANK];
    for (int d = 0; d < xd->rank; d++) {
        off += start[d] * xs[d];
        st[d] = step[d] * xs[d];
    }
    struct tsr_kernel *k = simple_kernel(s, TSR_K_SLICE, "slice", n, &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    slice_geometry(&k->u.slice, xd->rank, dims, st, off);
    return TSR_OK;
}

/* Gather along an axis: X [outer, axis_len, inner] by the indices (any shape). */
tsr_status tsr_lower_gather(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    const struct tsr_tensor_desc *id = &s->g->values[n->inputs[1]].desc;
    int64_t axis = n->attrs.axis == TSR_AXIS_DEFAULT ? 0 : n->attrs.axis;
    if (axis < 0) axis += xd->rank;
    if (axis < 0 || axis >= xd->rank)
        return TSR_ERR(s->ctx, TSR_E_SHAPE, "node '%s' (Gather): axis %lld out of range", n->name,
                       (long long)n->attrs.axis);
    struct tsr_kernel *k = simple_kernel(s, TSR_K_GATHER, "gather", n, n->inputs, 2, n->output);
    if (!k) return LOWER_OOM();
    struct tsr_k_gather *gk = &k->u.gather;
    gk->outer = 1;
    gk->inner = 1;
    for (int d = 0; d < axis; d++)
        gk->outer *= xd->dims[d];
    for (int d = (int)axis + 1; d < xd->rank; d++)
        gk->inner *= xd->dims[d];
    gk->axis_len = xd->dims[axis];
    gk->n_idx = tsr_desc_elements(id);
    /* only the rows gathered are read */
    k->bytes = 2 * (uint64_t)(gk->outer * gk->n_idx * gk->inner) * tsr_dtype_size(xd->dtype) +
               (uint64_t)tsr_desc_bytes(id);
    return TSR_OK;
}

/* Comparisons, Not / And / Or / Xor, Where: one MIXED kernel over broadcast inputs. */
tsr_status tsr_lower_mixed(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    tsr_mixed_op op;
    switch (n->op) {
    case TSR_OP_EQUAL:
        op = TSR_MX_EQUAL;
        break;
    case TSR_OP_LESS:
        op = TSR_MX_LESS;
        break;
    case TSR_OP_GREATER:
        op = TSR_MX_GREATER;
        break;
    case TSR_OP_LESSOREQUAL:
        op = TSR_MX_LESS_OR_EQUAL;
        break;
    case TSR_OP_GREATEROREQUAL:
        op = TSR_MX_GREATER_OR_EQUAL;
        break;
    case TSR_OP_NOT:
        op = TSR_MX_NOT;
        break;
    case TSR_OP_AND:
        op = TSR_MX_AND;
        break;
    case TSR_OP_OR:
        op = TSR_MX_OR;
        break;
    case TSR_OP_XOR:
        op = TSR_MX_XOR;
        break;
    case TSR_OP_WHERE:
        op = TSR_MX_WHERE;
        break;
    case TSR_OP_ISNAN: /* group "dtcompute" */
        op = TSR_MX_ISNAN;
        break;
    case TSR_OP_ISINF:
        if (!n->attrs.isinf_positive && !n->attrs.isinf_negative)
            return TSR_ERR(s->ctx, TSR_E_UNSUPPORTED,
                           "node '%s' (IsInf): detect_positive = detect_negative = 0 (always "
                           "false) is not supported",
                           n->name);
        op = n->attrs.isinf_positive && n->attrs.isinf_negative ? TSR_MX_ISINF
             : n->attrs.isinf_positive                          ? TSR_MX_ISINF_POS
                                                                : TSR_MX_ISINF_NEG;
        break;
    default:
        return TSR_ERR(s->ctx, TSR_E_INTERNAL, "node '%s': %s is not a mixed elementwise op",
                       n->name, tsr_op_name(n->op));
    }
    if (n->n_inputs != tsr_mixed_arity(op))
        return TSR_ERR(s->ctx, TSR_E_INVALID_ARG, "node '%s' (%s): %d inputs", n->name,
                       tsr_op_name(n->op), n->n_inputs);
    const struct tsr_tensor_desc *yd = &s->g->values[n->output].desc;
    const struct tsr_tensor_desc *in[3];
    for (int i = 0; i < n->n_inputs; i++)
        in[i] = &s->g->values[n->inputs[i]].desc;
    struct tsr_k_ew geo;
    memset(&geo, 0, sizeof geo);
    ew_geometry(&geo, yd, in, n->n_inputs);
    char name[32];
    snprintf(name, sizeof name, "%s", tsr_mixed_name(op));
    for (char *c = name; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    struct tsr_kernel *k =
        simple_kernel(s, TSR_K_MIXED, name, n, n->inputs, n->n_inputs, n->output);
    if (!k) return LOWER_OOM();
    struct tsr_k_mixed *m = &k->u.mixed;
    m->op = op;
    m->rank = geo.rank;
    memcpy(m->dims, geo.dims, sizeof m->dims);
    for (int i = 0; i < n->n_inputs; i++)
        memcpy(m->strides[i], geo.strides[i], sizeof m->strides[i]);
    k->flops = (uint64_t)tsr_desc_elements(yd);
    return TSR_OK;
}

/* Pad (constant / reflect / edge) of any dtype; the constant converted to the data's dtype. */
tsr_status tsr_lower_pad(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    int64_t b[TSR_MAX_RANK], e[TSR_MAX_RANK], dims[TSR_MAX_RANK];
    if (tsr_pad_geometry(&n->attrs, xd, b, e, dims))
        return TSR_ERR(s->ctx, TSR_E_SHAPE, "node '%s' (Pad): bad pads", n->name);
    static const char *const names[] = {"pad_constant", "pad_reflect", "pad_edge"};
    int mode = n->attrs.pad_mode >= 0 && n->attrs.pad_mode <= 2 ? n->attrs.pad_mode : 0;
    struct tsr_kernel *k = simple_kernel(s, TSR_K_PAD, names[mode], n, &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    struct tsr_k_pad *p = &k->u.pad;
    p->mode = (tsr_pad_mode)mode;
    p->rank = xd->rank;
    for (int d = 0; d < xd->rank; d++) {
        p->in_dims[d] = xd->dims[d];
        p->out_dims[d] = dims[d];
        p->pad_begin[d] = b[d];
    }
    memset(p->value, 0, sizeof p->value);
    tsr_elem_set_f64(xd->dtype, p->value, 0, n->attrs.pad_value);
    return TSR_OK;
}

/* Expand: a broadcast copy region (float32), a strided copy with broadcast (0) strides for any
 * other dtype. */
tsr_status tsr_lower_expand(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *yd = &s->g->values[n->output].desc;
    if (yd->dtype != TSR_F32) return lower_broadcast_slice(s, ni);
    int src = buffer_for(s, n->inputs[0]);
    int dst = src >= 0 ? buffer_for(s, n->output) : -1;
    struct tsr_kernel *k = dst >= 0 ? add_kernel(s, TSR_K_EW) : NULL;
    if (!k || kernel_add_node(k, n)) return LOWER_OOM();
    snprintf(k->name, sizeof k->name, "expand");
    const struct tsr_tensor_desc *in[1] = {&s->g->values[n->inputs[0]].desc};
    ew_geometry(&k->u.ew, yd, in, 1);
    k->u.ew.n_instrs = 1;
    k->u.ew.n_regs = 1;
    k->u.ew.instrs[0] = (struct tsr_ew_instr){.op = TSR_EW_COPY, .dst = 0, .a = -1, .b = 0};
    k->n_inputs = 1;
    k->inputs[0] = src;
    k->output = dst;
    k->bytes = s->p->buffers[src].bytes + s->p->buffers[dst].bytes;
    s->ready[root_of(s, n->output)] = 1;
    return TSR_OK;
}

/* BatchNormalization reaches lowering only when the BN pass did not run on it (the pass
 * rewrites every BN: folded, affine or elementwise). */
tsr_status tsr_lower_batchnorm(struct tsr_lower_state *s, int ni) {
    return TSR_ERR(s->ctx, TSR_E_UNSUPPORTED,
                   "node '%s' (BatchNormalization): scale, B, mean and var must be "
                   "constants (they are folded at compile time)",
                   s->g->nodes[ni].name);
}

/* ---------------------------------------------------------------------------------------- */

tsr_status tsr_lower(tsr_graph *g, unsigned disable_fusion, struct tsr_program *out,
                     int **value_buffer) {
    struct tsr_lower_state st;
    memset(&st, 0, sizeof st);
    struct tsr_lower_state *s = &st;
    s->g = g;
    s->ctx = g->ctx;
    s->disable = disable_fusion;
    struct tsr_program prog;
    memset(&prog, 0, sizeof prog);
    s->p = &prog;
    tsr_status status = TSR_OK;
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    s->root = malloc(nv * sizeof(int));
    s->n_uses = calloc(nv, sizeof(int));
    s->consumer = malloc(nv * sizeof(int));
    s->is_output = calloc(nv, sizeof(int));
    s->buf_of = malloc(nv * sizeof(int));
    s->ready = calloc(nv, 1);
    s->absorbed = calloc(nn, sizeof(int));
    s->regions = calloc(nn, sizeof *s->regions);
    s->region_of_value = malloc(nv * sizeof(int));
    if (!s->root || !s->n_uses || !s->consumer || !s->is_output || !s->buf_of || !s->ready ||
        !s->absorbed || !s->regions || !s->region_of_value) {
        status = LOWER_OOM();
        goto done;
    }
    for (int v = 0; v < g->n_values; v++) {
        s->root[v] = v;
        s->consumer[v] = -1;
        s->buf_of[v] = -1;
        s->region_of_value[v] = -1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        struct tsr_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_inputs; k++) {
            if (tsr_op_const_input(n->op, k, NULL, NULL)) continue; /* e.g. Reshape's shape */
            int v = n->inputs[k];
            int dup = 0;
            for (int q = 0; q < k; q++)
                if (n->inputs[q] == v) dup = 1;
            if (dup) {
                s->n_uses[v] = 2; /* x op x: never fuse x's producer into this node as a chain */
                continue;
            }
            s->n_uses[v]++;
            s->consumer[v] = i;
        }
        if (tsr_op_is_view(n->op)) s->root[n->output] = n->inputs[0];
    }
    for (int o = 0; o < g->n_outputs; o++) {
        s->is_output[g->outputs[o].value] = 1;
        s->n_uses[g->outputs[o].value]++;
    }
    /* A view counts as a consumer of its input and is no fusable op, so fusion never looks
     * through a view. */
    /* Walk nodes in order; each op's lowering (op_table.inc) emits its kernels, absorbing
     * epilogues and growing elementwise regions. */
    for (int i = 0; i < g->n_nodes; i++) {
        struct tsr_node *n = &g->nodes[i];
        if (n->dead || s->absorbed[i]) continue;
        if ((status = tsr_op_def(n->op)->lower(s, i)) != TSR_OK) goto done;
    }
    /* Graph outputs: write in place, or copy. */
    prog.n_outputs = g->n_outputs;
    prog.n_inputs = g->n_inputs;
    prog.output_buffers = calloc((size_t)g->n_outputs + 1, sizeof(int));
    prog.input_buffers = calloc((size_t)g->n_inputs + 1, sizeof(int));
    if (!prog.output_buffers || !prog.input_buffers) {
        status = LOWER_OOM();
        goto done;
    }
    for (int o = 0; o < g->n_outputs; o++) {
        int v = g->outputs[o].value;
        int b = buffer_for(s, v);
        if (b < 0) {
            status = LOWER_OOM();
            goto done;
        }
        if (prog.buffers[b].kind == TSR_BUF_TEMP) {
            prog.buffers[b].kind = TSR_BUF_OUTPUT;
            prog.buffers[b].io_index = o;
            prog.output_buffers[o] = b;
            continue;
        }
        int y = add_buffer(s, TSR_BUF_OUTPUT, &g->values[v].desc);
        struct tsr_kernel *k = y >= 0 ? add_kernel(s, TSR_K_COPY) : NULL;
        if (!k) {
            status = LOWER_OOM();
            goto done;
        }
        prog.buffers[y].io_index = o;
        snprintf(k->name, sizeof k->name, "copy");
        if (kernel_add_name(k, g->outputs[o].name)) {
            status = LOWER_OOM();
            goto done;
        }
        k->n_inputs = 1;
        k->inputs[0] = b;
        k->output = y;
        k->u.copy.n = tsr_desc_elements(&g->values[v].desc);
        k->bytes = 2 * (uint64_t)tsr_desc_bytes(&g->values[v].desc);
        prog.output_buffers[o] = y;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        int b = buffer_for(s, g->inputs[i]);
        if (b < 0) {
            status = LOWER_OOM();
            goto done;
        }
        prog.input_buffers[i] = b;
    }
    /* Every kernel computes in its output's dtype (its inputs' too: tsr_program_check_dtypes). */
    for (int i = 0; i < prog.n_kernels; i++) {
        const struct tsr_kernel *ki = &prog.kernels[i];
        const int idx_out = ki->kind == TSR_K_ARG || /* MaxPool Indices: group "multiout" */
                            (ki->kind == TSR_K_POOL && ki->u.pool.kind == TSR_POOL_MAX_INDEX);
        prog.kernels[i].dtype = prog.buffers[idx_out ? ki->inputs[0] : ki->output]
                                    .desc.dtype; /* ArgMax / ArgMin: int64 indices of floats */
    }
    status = tsr_memplan(s->ctx, s->p);
    if (status == TSR_OK && value_buffer) {
        *value_buffer = malloc(nv * sizeof(int));
        if (!*value_buffer) {
            status = LOWER_OOM();
        } else {
            for (int v = 0; v < g->n_values; v++)
                (*value_buffer)[v] = s->buf_of[root_of(s, v)];
        }
    }
done:
    free(s->root);
    free(s->n_uses);
    free(s->consumer);
    free(s->is_output);
    free(s->buf_of);
    free(s->ready);
    free(s->absorbed);
    free(s->regions);
    free(s->region_of_value);
    if (status != TSR_OK) {
        tsr_program_free(&prog);
        return status;
    }
    *out = prog;
    return TSR_OK;
}

/* ---- issue 9, group "spatial": Resize / Upsample ------------------------------------------- */

/* A constant [out_len, in_len] interpolation matrix of one resized dim (transposed: [in_len,
 * out_len]), from tsr_resize_taps. Returns the buffer id, -1 on OOM. */
static int resize_matrix(struct tsr_lower_state *s, const struct tsr_op_attrs *at, int64_t in_len,
                         int64_t out_len, double scale, int transposed) {
    struct tsr_tensor_desc d = {
        TSR_F32, 2, {transposed ? in_len : out_len, transposed ? out_len : in_len}};
    int b = add_buffer(s, TSR_BUF_CONST, &d);
    if (b < 0) return -1;
    struct tsr_buffer *bf = &s->p->buffers[b];
    bf->const_data = tsr_aligned_alloc(bf->bytes ? bf->bytes : 4);
    if (!bf->const_data) return -1;
    float *m = bf->const_data;
    memset(m, 0, bf->bytes);
    for (int64_t o = 0; o < out_len; o++) {
        int64_t idx[4];
        double w[4];
        int n = tsr_resize_taps(at, in_len, out_len, scale, o, idx, w);
        for (int t = 0; t < n; t++) {
            float *e = transposed ? &m[idx[t] * out_len + o] : &m[o * in_len + idx[t]];
            *e = (float)((double)*e + w[t]);
        }
    }
    return b;
}

/* Appends GEMM y = a . b (batch of `batch`, [M, K] x [K, N]; stride 0: shared). */
static tsr_status resize_gemm(struct tsr_lower_state *s, const struct tsr_node *n, int a, int b,
                              int y, int64_t batch, int64_t M, int64_t K, int64_t N,
                              int64_t stride_a, int64_t stride_b, const char *name) {
    struct tsr_kernel *k = add_kernel(s, TSR_K_GEMM);
    if (!k || kernel_add_node(k, n)) return LOWER_OOM();
    snprintf(k->name, sizeof k->name, "%s", name);
    k->u.gemm = (struct tsr_k_gemm){.batch = batch,
                                    .M = M,
                                    .N = N,
                                    .K = K,
                                    .lda = K,
                                    .ldb = N,
                                    .stride_a = stride_a,
                                    .stride_b = stride_b,
                                    .alpha = 1.0f,
                                    .act = TSR_ACT_NONE};
    k->n_inputs = 2;
    k->inputs[0] = a;
    k->inputs[1] = b;
    k->output = y;
    k->flops = 2 * (uint64_t)(batch * M * N * K);
    k->bytes = s->p->buffers[a].bytes + s->p->buffers[b].bytes + s->p->buffers[y].bytes;
    return TSR_OK;
}

/* Resize / Upsample: every mode is separable, so Y = Ah . X . Aw^T per [H, W] plane, with the
 * constant interpolation matrices Ah [OH, H] and Aw [OW, W] (tsr_resize_taps) built here: one
 * GEMM [planes x H, W] x Aw^T for the width, one batched GEMM Ah x [H, OW] per plane (Ah shared)
 * for the height; a dim that does not change needs none (neither: a copy). The dense matrices
 * cost O(W) per output instead of the taps' O(1): the price of running on every backend's GEMM. */
tsr_status tsr_lower_resize(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *descs[TSR_NODE_MAX_INPUTS];
    const void *data[TSR_NODE_MAX_INPUTS];
    for (int i = 0; i < n->n_inputs; i++) {
        descs[i] = &s->g->values[n->inputs[i]].desc;
        data[i] = s->g->values[n->inputs[i]].data;
    }
    struct tsr_resize_geometry rg;
    tsr_status st =
        tsr_resize_geometry(s->ctx, n->op, &n->attrs, descs, data, n->n_inputs, n->name, &rg);
    if (st != TSR_OK) return st;
    const struct tsr_tensor_desc *xd = descs[0];
    const int r = xd->rank;
    const int64_t W = xd->dims[r - 1], OW = rg.out.dims[r - 1];
    const int64_t H = r >= 2 ? xd->dims[r - 2] : 1, OH = r >= 2 ? rg.out.dims[r - 2] : 1;
    const int do_w = OW != W || rg.scale[r - 1] != 1.0;
    const int do_h = r >= 2 && (OH != H || rg.scale[r - 2] != 1.0);
    const int64_t planes = (H * W) != 0 ? tsr_desc_elements(xd) / (H * W) : 0;
    const int64_t n_out = tsr_desc_elements(&rg.out);
    if ((!do_w && !do_h) || n_out == 0) { /* nothing to interpolate: a copy (of nothing when the
                                             output is empty) */
        struct tsr_kernel *k = simple_kernel(s, TSR_K_COPY, "copy", n, &n->inputs[0], 1, n->output);
        if (!k) return LOWER_OOM();
        k->u.copy.n = n_out ? tsr_desc_elements(xd) : 0;
        return TSR_OK;
    }
    int x = buffer_for(s, n->inputs[0]), y = buffer_for(s, n->output);
    if (x < 0 || y < 0) return LOWER_OOM();
    int src = x;
    if (do_w) {
        int aw = resize_matrix(s, &n->attrs, W, OW, rg.scale[r - 1], 1);
        int dst = y;
        if (do_h) {
            struct tsr_tensor_desc td = {TSR_F32, 1, {planes * H * OW}};
            dst = add_buffer(s, TSR_BUF_TEMP, &td);
        }
        if (aw < 0 || dst < 0) return LOWER_OOM();
        st = resize_gemm(s, n, src, aw, dst, 1, planes * H, W, OW, 0, 0, "resize_w_gemm");
        if (st != TSR_OK) return st;
        src = dst;
    }
    if (do_h) {
        int ah = resize_matrix(s, &n->attrs, H, OH, rg.scale[r - 2], 0);
        if (ah < 0) return LOWER_OOM();
        st = resize_gemm(s, n, ah, src, y, planes, OH, H, OW, 0, H * OW, "resize_h_gemm");
        if (st != TSR_OK) return st;
    }
    s->ready[root_of(s, n->output)] = 1;
    return TSR_OK;
}

/* ---- group "spatial": DepthToSpace, SpaceToDepth, Tile as strided copies -------------------- */

/* One TSR_K_TRANSPOSE kernel: output dims dims[0 .. rank-1] (row-major) reading input strides
 * in_strides; size-1 dims dropped and runs contiguous in the input merged (as Transpose). */
static tsr_status strided_copy(struct tsr_lower_state *s, struct tsr_node *n, const char *name,
                               int rank, const int64_t *dims, const int64_t *in_strides) {
    struct tsr_kernel *k = simple_kernel(s, TSR_K_TRANSPOSE, name, n, &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    struct tsr_k_transpose *t = &k->u.transpose;
    t->rank = 0;
    for (int d = 0; d < rank; d++) {
        if (dims[d] == 1) continue;
        if (t->rank > 0 && t->in_strides[t->rank - 1] == in_strides[d] * dims[d]) {
            t->dims[t->rank - 1] *= dims[d];
            t->in_strides[t->rank - 1] = in_strides[d];
            continue;
        }
        if (t->rank == TSR_MAX_RANK)
            return TSR_ERR(s->ctx, TSR_E_UNSUPPORTED,
                           "node '%s' (%s): the strided copy needs more than %d dims", n->name,
                           tsr_op_name(n->op), TSR_MAX_RANK);
        t->dims[t->rank] = dims[d];
        t->in_strides[t->rank++] = in_strides[d];
    }
    if (t->rank == 0) {
        t->rank = 1;
        t->dims[0] = 1;
        t->in_strides[0] = 1;
    }
    return TSR_OK;
}

tsr_status tsr_lower_depth_space(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    int64_t v[6], vs[6], dims[6], st[6];
    int perm[6];
    struct tsr_tensor_desc od;
    tsr_status rc = tsr_depth_space_view(s->ctx, n->op, &n->attrs, &s->g->values[n->inputs[0]].desc,
                                         n->name, v, perm, &od);
    if (rc != TSR_OK) return rc;
    int64_t acc = 1;
    for (int d = 5; d >= 0; d--) {
        vs[d] = acc;
        acc *= v[d];
    }
    for (int d = 0; d < 6; d++) {
        dims[d] = v[perm[d]];
        st[d] = vs[perm[d]];
    }
    return strided_copy(s, n, n->op == TSR_OP_DEPTHTOSPACE ? "depth_to_space" : "space_to_depth", 6,
                        dims, st);
}

/* Tile: the output seen as [r_0, d_0, r_1, d_1, ...] reads the input with stride 0 along each
 * repeat r_d (dims with repeat 1 and size-1 dims drop out, so ranks up to 4 always fit). */
tsr_status tsr_lower_tile(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    const int64_t *rep = s->g->values[n->inputs[1]].data;
    int64_t dims[2 * TSR_MAX_RANK], st[2 * TSR_MAX_RANK], xs[TSR_MAX_RANK], acc = 1;
    for (int d = xd->rank - 1; d >= 0; d--) {
        xs[d] = acc;
        acc *= xd->dims[d];
    }
    int r = 0;
    for (int d = 0; d < xd->rank; d++) {
        if (rep[d] != 1) {
            dims[r] = rep[d];
            st[r++] = 0;
        }
        dims[r] = xd->dims[d];
        st[r++] = xs[d];
    }
    /* strided_copy refuses a view of more than TSR_MAX_RANK dims that do not merge */
    int64_t cd[2 * TSR_MAX_RANK], cs[2 * TSR_MAX_RANK];
    int cr = 0;
    for (int d = 0; d < r; d++) {
        if (dims[d] == 1) continue;
        if (cr > 0 && cs[cr - 1] == st[d] * dims[d]) {
            cd[cr - 1] *= dims[d];
            cs[cr - 1] = st[d];
            continue;
        }
        cd[cr] = dims[d];
        cs[cr++] = st[d];
    }
    if (cr > TSR_MAX_RANK)
        return TSR_ERR(s->ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (Tile): the tiled copy of %d-D input needs %d strided dims (at "
                       "most %d)",
                       n->name, xd->rank, cr, TSR_MAX_RANK);
    return strided_copy(s, n, "tile", cr, cd, cs);
}

/* ---- issue 9, group "reduce" ------------------------------------------------------------ */

/* ArgMax / ArgMin: one TSR_K_ARG kernel over [outer, len, inner] (float32 in, int64 out). */
tsr_status tsr_lower_arg(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    int64_t axis = n->attrs.axis == TSR_AXIS_DEFAULT ? 0 : n->attrs.axis;
    if (axis < 0) axis += xd->rank;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < xd->rank; d++) {
        if (d < axis) outer *= xd->dims[d];
        if (d > axis) inner *= xd->dims[d];
    }
    struct tsr_kernel *k = simple_kernel(s, TSR_K_ARG, n->op == TSR_OP_ARGMIN ? "argmin" : "argmax",
                                         n, &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    k->u.arg = (struct tsr_k_arg){.outer = outer,
                                  .len = xd->dims[axis],
                                  .inner = inner,
                                  .is_min = n->op == TSR_OP_ARGMIN,
                                  .select_last = n->attrs.select_last_index != 0,
                                  .k = 1};
    k->flops = (uint64_t)tsr_desc_elements(xd);
    k->bytes = 4 * (uint64_t)tsr_desc_elements(xd) + 8 * (uint64_t)(outer * inner);
    return TSR_OK;
}

/* InstanceNormalization: the layer-norm kernel over each (n, c) row with per-row scale / bias. */
tsr_status tsr_lower_instancenorm(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    struct tsr_kernel *k =
        simple_kernel(s, TSR_K_LAYERNORM, "instancenorm", n, n->inputs, 3, n->output);
    if (!k) return LOWER_OOM();
    int64_t len = 1;
    for (int d = 2; d < xd->rank; d++)
        len *= xd->dims[d];
    k->u.layernorm.len = len;
    k->u.layernorm.outer = xd->dims[0] * xd->dims[1];
    k->u.layernorm.epsilon = n->attrs.epsilon;
    k->u.layernorm.has_bias = 1;
    k->u.layernorm.channels = xd->dims[1];
    k->u.layernorm.per_row = 1;
    k->u.layernorm.spatial = len;
    k->flops = 8 * (uint64_t)tsr_desc_elements(xd);
    return TSR_OK;
}

/* GroupNormalization: the layer-norm kernel over each (n, group) row; scale / bias per channel
 * ([C], opset 21) or per group ([num_groups], opset 18). */
tsr_status tsr_lower_groupnorm(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    const struct tsr_tensor_desc *sd = &s->g->values[n->inputs[1]].desc;
    const int64_t C = xd->dims[1], G = n->attrs.num_groups;
    struct tsr_kernel *k =
        simple_kernel(s, TSR_K_LAYERNORM, "groupnorm", n, n->inputs, 3, n->output);
    if (!k) return LOWER_OOM();
    int64_t sp = 1;
    for (int d = 2; d < xd->rank; d++)
        sp *= xd->dims[d];
    const int per_channel = sd->dims[0] == C;
    k->u.layernorm.len = C / G * sp;
    k->u.layernorm.outer = xd->dims[0] * G;
    k->u.layernorm.epsilon = n->attrs.epsilon;
    k->u.layernorm.has_bias = 1;
    k->u.layernorm.channels = G;
    k->u.layernorm.per_row = per_channel ? C / G : 1;
    k->u.layernorm.spatial = per_channel ? sp : C / G * sp;
    k->flops = 8 * (uint64_t)tsr_desc_elements(xd);
    return TSR_OK;
}

/* CumSum: one TSR_K_CUMSUM kernel over [outer, len, inner]. */
tsr_status tsr_lower_cumsum(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    int64_t axis = n->attrs.cumsum_axis[0];
    if (axis < 0) axis += xd->rank;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < xd->rank; d++) {
        if (d < axis) outer *= xd->dims[d];
        if (d > axis) inner *= xd->dims[d];
    }
    struct tsr_kernel *k = simple_kernel(s, TSR_K_CUMSUM, "cumsum", n, &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    k->u.cumsum = (struct tsr_k_cumsum){.outer = outer,
                                        .len = xd->dims[axis],
                                        .inner = inner,
                                        .exclusive = n->attrs.cumsum_exclusive != 0,
                                        .reverse = n->attrs.cumsum_reverse != 0};
    k->flops = (uint64_t)tsr_desc_elements(xd);
    return TSR_OK;
}

/* ---- preproc: tessera-domain preprocessing ops ("ai.tessera", docs/PREPROC.md) ------------- */

/* RollingMean / RollingStd / EMA: one TSR_K_CUMSUM kernel with its scan mode over [outer, len,
 * inner] around the axis (default -1). */
tsr_status tsr_lower_scan(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    int64_t axis = n->attrs.axis == TSR_AXIS_DEFAULT ? -1 : n->attrs.axis;
    if (axis < 0) axis += xd->rank;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < xd->rank; d++) {
        if (d < axis) outer *= xd->dims[d];
        if (d > axis) inner *= xd->dims[d];
    }
    const int scan = n->op == TSR_OP_EMA          ? TSR_SCAN_EMA
                     : n->op == TSR_OP_ROLLINGSTD ? TSR_SCAN_ROLLING_STD
                                                  : TSR_SCAN_ROLLING_MEAN;
    struct tsr_kernel *k = simple_kernel(s, TSR_K_CUMSUM, scan == TSR_SCAN_EMA ? "ema" : "rolling",
                                         n, &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    const int64_t W = scan == TSR_SCAN_EMA ? 1 : n->attrs.scan_window;
    k->u.cumsum = (struct tsr_k_cumsum){
        .outer = outer,
        .len = xd->dims[axis],
        .inner = inner,
        .scan = scan,
        .window = W,
        .min_periods = n->attrs.scan_min_periods ? n->attrs.scan_min_periods : W,
        .ddof = n->attrs.scan_ddof,
        .alpha = n->attrs.ema_alpha};
    k->flops = (uint64_t)tsr_desc_elements(xd) * (uint64_t)(scan == TSR_SCAN_EMA ? 3 : 3 * W);
    return TSR_OK;
}

/* ZScore: the layer-norm kernel over dims axis .. rank-1 with a constant scale of ones. The ones
 * are as many as the normalised length, never more than the input's elements: an empty input
 * ([0, 1, 2, 2^31] from fuzz_graph) gets none instead of 8 GiB of them (outer = 0, a no-op). */
tsr_status tsr_lower_zscore(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    int64_t axis = n->attrs.axis == TSR_AXIS_DEFAULT ? -1 : n->attrs.axis;
    if (axis < 0) axis += xd->rank;
    int64_t len = 1;
    for (int d = (int)axis; d < xd->rank; d++)
        len *= xd->dims[d];
    if (tsr_desc_elements(xd) == 0) len = 0;
    struct tsr_tensor_desc od = {TSR_F32, 1, {len}};
    int x = buffer_for(s, n->inputs[0]), y = buffer_for(s, n->output);
    int ones = x >= 0 && y >= 0 ? add_buffer(s, TSR_BUF_CONST, &od) : -1;
    if (ones < 0) return LOWER_OOM();
    struct tsr_buffer *bf = &s->p->buffers[ones];
    bf->const_data = tsr_aligned_alloc(bf->bytes ? bf->bytes : 4);
    if (!bf->const_data) return LOWER_OOM();
    for (int64_t i = 0; i < len; i++)
        ((float *)bf->const_data)[i] = 1.0f;
    struct tsr_kernel *k = add_kernel(s, TSR_K_LAYERNORM);
    if (!k || kernel_add_node(k, n)) return LOWER_OOM();
    snprintf(k->name, sizeof k->name, "zscore");
    k->n_inputs = 2;
    k->inputs[0] = x;
    k->inputs[1] = ones;
    k->output = y;
    k->u.layernorm.len = len;
    k->u.layernorm.outer = len ? tsr_desc_elements(xd) / len : 0;
    k->u.layernorm.epsilon = n->attrs.zscore_epsilon;
    k->u.layernorm.has_bias = 0;
    k->flops = 8 * (uint64_t)tsr_desc_elements(xd);
    k->bytes = s->p->buffers[x].bytes + bf->bytes + s->p->buffers[y].bytes;
    s->ready[root_of(s, n->output)] = 1;
    return TSR_OK;
}

/* Appends a kernel of `kind` (TSR_K_CAST, or TSR_K_EW running the one instruction `ew_op`) from
 * buffer `in` to buffer `out` of n elements, for node n. TSR_OK or TSR_E_NOMEM. */
static tsr_status preproc_unary_kernel(struct tsr_lower_state *s, const struct tsr_node *n,
                                       tsr_kernel_kind kind, tsr_ew_op ew_op, int in, int out,
                                       const char *name) {
    struct tsr_kernel *k = add_kernel(s, kind);
    if (!k || kernel_add_node(k, n)) return LOWER_OOM();
    snprintf(k->name, sizeof k->name, "%s", name);
    const struct tsr_tensor_desc *od = &s->p->buffers[out].desc;
    if (kind == TSR_K_CAST) {
        k->u.cast.n = tsr_desc_elements(od);
    } else {
        const struct tsr_tensor_desc *ind[1] = {od};
        ew_geometry(&k->u.ew, od, ind, 1);
        k->u.ew.n_instrs = 1;
        k->u.ew.n_regs = 1;
        k->u.ew.instrs[0] = (struct tsr_ew_instr){.op = (uint8_t)ew_op, .dst = 0, .a = -1, .b = 0};
    }
    k->n_inputs = 1;
    k->inputs[0] = in;
    k->output = out;
    k->bytes = s->p->buffers[in].bytes + s->p->buffers[out].bytes;
    return TSR_OK;
}

/* RGBToGray: one batched GEMM Y[n] = w [1, 3] . X[n] [3, P] per image (w = the BT.601 weights,
 * a constant shared by every image: stride 0). uint8: X cast to float32 first, the GEMM's result
 * rounded half to even (ROUND) and cast back (exact: integers in [0, 255]). */
/* The BT.601 GEMM of RGBToGray from buffer src to dst around the channel axis of [outer, 3,
 * inner]: inner 1 (channels last) one GEMM X [outer, 3] . w [3, 1]; else a batch of outer GEMMs
 * w [1, 3] . X[o] [3, inner] (w shared: stride 0; [1, 3] and [3, 1] are the same floats). */
static tsr_status rgb_gemm(struct tsr_lower_state *s, const struct tsr_node *n, int w, int src,
                           int dst, int64_t outer, int64_t inner) {
    if (inner == 1) return resize_gemm(s, n, src, w, dst, 1, outer, 3, 1, 0, 0, "rgb_to_gray_gemm");
    return resize_gemm(s, n, w, src, dst, outer, 1, 3, inner, 0, 3 * inner, "rgb_to_gray_gemm");
}

tsr_status tsr_lower_rgb_to_gray(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    int64_t axis = n->attrs.axis == TSR_AXIS_DEFAULT ? 1 : n->attrs.axis;
    if (axis < 0) axis += xd->rank;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < xd->rank; d++) {
        if (d < axis) outer *= xd->dims[d];
        if (d > axis) inner *= xd->dims[d];
    }
    if (outer * inner == 0) { /* an empty output: nothing to compute */
        struct tsr_kernel *k = simple_kernel(s, TSR_K_COPY, "copy", n, &n->inputs[0], 1, n->output);
        if (!k) return LOWER_OOM();
        k->u.copy.n = 0;
        return TSR_OK;
    }
    struct tsr_tensor_desc wd = {TSR_F32, 2, {1, 3}};
    int x = buffer_for(s, n->inputs[0]), y = buffer_for(s, n->output);
    int w = x >= 0 && y >= 0 ? add_buffer(s, TSR_BUF_CONST, &wd) : -1;
    if (w < 0) return LOWER_OOM();
    struct tsr_buffer *bf = &s->p->buffers[w];
    bf->const_data = tsr_aligned_alloc(bf->bytes);
    if (!bf->const_data) return LOWER_OOM();
    float *wv = bf->const_data;
    wv[0] = 0.299f, wv[1] = 0.587f, wv[2] = 0.114f;
    tsr_status st;
    if (xd->dtype == TSR_U8) {
        struct tsr_tensor_desc xf = *xd, yf = s->g->values[n->output].desc;
        xf.dtype = yf.dtype = TSR_F32;
        const int xt = add_buffer(s, TSR_BUF_TEMP, &xf), gt = add_buffer(s, TSR_BUF_TEMP, &yf);
        const int rt = add_buffer(s, TSR_BUF_TEMP, &yf);
        if (xt < 0 || gt < 0 || rt < 0) return LOWER_OOM();
        st = preproc_unary_kernel(s, n, TSR_K_CAST, TSR_EW_COPY, x, xt, "cast_uint8_float32");
        if (st == TSR_OK) st = rgb_gemm(s, n, w, xt, gt, outer, inner);
        if (st == TSR_OK)
            st = preproc_unary_kernel(s, n, TSR_K_EW, TSR_EW_ROUND, gt, rt, "ew_round");
        if (st == TSR_OK)
            st = preproc_unary_kernel(s, n, TSR_K_CAST, TSR_EW_COPY, rt, y, "cast_float32_uint8");
    } else {
        st = rgb_gemm(s, n, w, x, y, outer, inner);
    }
    if (st != TSR_OK) return st;
    s->ready[root_of(s, n->output)] = 1;
    return TSR_OK;
}

/* ---- multiout: TopK ------------------------------------------------------------------------ */

/* TopK: one TSR_K_ARG kernel selecting k per column of [outer, len, inner] (float32 in; values
 * float32 out, or int64 indices with topk_indices). */
tsr_status tsr_lower_topk(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    int64_t axis = n->attrs.axis == TSR_AXIS_DEFAULT ? -1 : n->attrs.axis;
    if (axis < 0) axis += xd->rank;
    int64_t outer = 1, inner = 1, kk = s->g->values[n->output].desc.dims[axis];
    for (int d = 0; d < xd->rank; d++) {
        if (d < axis) outer *= xd->dims[d];
        if (d > axis) inner *= xd->dims[d];
    }
    struct tsr_kernel *k =
        simple_kernel(s, TSR_K_ARG, n->attrs.topk_indices ? "topk_indices" : "topk_values", n,
                      &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    k->u.arg = (struct tsr_k_arg){.outer = outer,
                                  .len = xd->dims[axis],
                                  .inner = inner,
                                  .is_min = !n->attrs.topk_largest,
                                  .k = kk,
                                  .values = !n->attrs.topk_indices};
    k->flops = (uint64_t)(tsr_desc_elements(xd) * (kk ? kk : 1));
    k->bytes = 4 * (uint64_t)tsr_desc_elements(xd) +
               (n->attrs.topk_indices ? 8 : 4) * (uint64_t)(outer * inner * kk);
    return TSR_OK;
}

/* ---- multiout: NegativeLogLikelihoodLoss ------------------------------------------------- */

/* NegativeLogLikelihoodLoss: one TSR_K_NLL kernel over [N, C, D] (D the product of d1..dk). */
tsr_status tsr_lower_nll(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    struct tsr_kernel *k =
        simple_kernel(s, TSR_K_NLL, "nll_loss", n, n->inputs, n->n_inputs, n->output);
    if (!k) return LOWER_OOM();
    int64_t D = 1;
    for (int a = 2; a < xd->rank; a++)
        D *= xd->dims[a];
    k->u.nll = (struct tsr_k_nll){.N = xd->dims[0],
                                  .C = xd->dims[1],
                                  .D = D,
                                  .has_weight = n->n_inputs == 3,
                                  .reduction = n->attrs.nll_reduction,
                                  .has_ignore = n->attrs.nll_ignore_index != INT64_MIN,
                                  .ignore_index = n->attrs.nll_ignore_index,
                                  .target_i32 = s->g->values[n->inputs[1]].desc.dtype == TSR_I32};
    k->flops = (uint64_t)(xd->dims[0] * D * 2);
    k->bytes = (uint64_t)(xd->dims[0] * D) * 16;
    return TSR_OK;
}

/* ---- issue 9, group "index": indexing operators ------------------------------------------- */

/* A zero-filled constant buffer of desc (owned by the program); *data receives its storage.
 * Returns the buffer id, -1 on OOM. */
static int zero_const_buffer(struct tsr_lower_state *s, const struct tsr_tensor_desc *desc,
                             void **data) {
    int b = add_buffer(s, TSR_BUF_CONST, desc);
    if (b < 0) return -1;
    struct tsr_buffer *bf = &s->p->buffers[b];
    bf->const_data = tsr_aligned_alloc(bf->bytes ? bf->bytes : 8);
    if (!bf->const_data) return -1;
    memset(bf->const_data, 0, bf->bytes ? bf->bytes : 8);
    *data = bf->const_data;
    return b;
}

/* Trilu (ONNX Trilu): Y = Where(mask, X, 0), one MIXED kernel with a constant bool mask [N, M]
 * (1 where j - i >= k for upper, j - i <= k for lower) broadcast over the batch dims and a
 * 0-D zero of X's dtype. */
tsr_status tsr_lower_trilu(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    const struct tsr_tensor_desc *yd = &s->g->values[n->output].desc;
    const int64_t N = xd->dims[xd->rank - 2], M = xd->dims[xd->rank - 1];
    const int64_t k = n->attrs.n_trilu_k ? n->attrs.trilu_k[0] : 0;
    struct tsr_tensor_desc md = {TSR_BOOL, 2, {N, M}}, zd = {xd->dtype, 0, {0}};
    void *mask, *zero;
    int bx = buffer_for(s, n->inputs[0]), by = buffer_for(s, n->output);
    int bm = bx >= 0 && by >= 0 ? zero_const_buffer(s, &md, &mask) : -1;
    int bz = bm >= 0 ? zero_const_buffer(s, &zd, &zero) : -1;
    if (bz < 0) return LOWER_OOM();
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < M; j++)
            ((uint8_t *)mask)[i * M + j] = n->attrs.trilu_upper ? j - i >= k : j - i <= k;
    struct tsr_kernel *kn = add_kernel(s, TSR_K_MIXED);
    if (!kn || kernel_add_node(kn, n)) return LOWER_OOM();
    snprintf(kn->name, sizeof kn->name, "%s", n->attrs.trilu_upper ? "triu" : "tril");
    const struct tsr_tensor_desc *in[3] = {&md, xd, &zd};
    struct tsr_k_ew geo;
    memset(&geo, 0, sizeof geo);
    ew_geometry(&geo, yd, in, 3);
    struct tsr_k_mixed *m = &kn->u.mixed;
    m->op = TSR_MX_WHERE;
    m->rank = geo.rank;
    memcpy(m->dims, geo.dims, sizeof m->dims);
    for (int i = 0; i < 3; i++)
        memcpy(m->strides[i], geo.strides[i], sizeof m->strides[i]);
    kn->n_inputs = 3;
    kn->inputs[0] = bm;
    kn->inputs[1] = bx;
    kn->inputs[2] = bz;
    kn->output = by;
    kn->bytes = s->p->buffers[bx].bytes + s->p->buffers[bm].bytes + s->p->buffers[by].bytes;
    kn->flops = (uint64_t)tsr_desc_elements(yd);
    s->ready[root_of(s, n->output)] = 1;
    return TSR_OK;
}

/* EyeLike (ONNX EyeLike): the output depends only on shapes, so it is built here as a constant
 * (tsr_elem_set of 1 where j - i == k) and copied to Y by one COPY kernel. */
tsr_status tsr_lower_eyelike(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *yd = &s->g->values[n->output].desc;
    void *eye;
    int by = buffer_for(s, n->output);
    int be = by >= 0 ? zero_const_buffer(s, yd, &eye) : -1;
    if (be < 0) return LOWER_OOM();
    const int64_t N = yd->dims[0], M = yd->dims[1];
    for (int64_t i = 0; i < N; i++) {
        int64_t j = i + n->attrs.eye_k;
        if (j < 0 || j >= M) continue;
        if (tsr_dtype_is_float(yd->dtype))
            tsr_elem_set_f64(yd->dtype, eye, i * M + j, 1.0);
        else
            tsr_elem_set_i64(yd->dtype, eye, i * M + j, 1);
    }
    struct tsr_kernel *kn = add_kernel(s, TSR_K_COPY);
    if (!kn || kernel_add_node(kn, n)) return LOWER_OOM();
    snprintf(kn->name, sizeof kn->name, "eyelike");
    kn->n_inputs = 1;
    kn->inputs[0] = be;
    kn->output = by;
    kn->u.copy.n = N * M;
    kn->bytes = 2 * (uint64_t)s->p->buffers[by].bytes;
    s->ready[root_of(s, n->output)] = 1;
    return TSR_OK;
}

/* OneHot: indices of a non-index dtype are first cast to int64 (a CAST kernel into a temporary;
 * truncation as ONNX), then one ONE_HOT index kernel reads values [off, on] and the indices. */
static tsr_status lower_onehot(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *id = &s->g->values[n->inputs[0]].desc;
    const struct tsr_tensor_desc *yd = &s->g->values[n->output].desc;
    const int r = yd->rank;
    int64_t axis = n->attrs.axis == TSR_AXIS_DEFAULT ? -1 : n->attrs.axis;
    if (axis < 0) axis += r;
    struct tsr_k_index g;
    memset(&g, 0, sizeof g);
    g.mode = TSR_INDEX_ONE_HOT;
    g.x_dims[0] = 1;
    g.x_dims[1] = yd->dims[axis];
    g.inner = 1;
    for (int d = 0; d < axis; d++)
        g.x_dims[0] *= yd->dims[d];
    for (int d = (int)axis + 1; d < r; d++)
        g.inner *= yd->dims[d];
    int bv = buffer_for(s, n->inputs[2]), bi = buffer_for(s, n->inputs[0]);
    int by = buffer_for(s, n->output);
    if (bv < 0 || bi < 0 || by < 0) return LOWER_OOM();
    if (id->dtype != TSR_I64 && id->dtype != TSR_I32) {
        struct tsr_tensor_desc cd = *id;
        cd.dtype = TSR_I64;
        int bc = add_buffer(s, TSR_BUF_TEMP, &cd);
        struct tsr_kernel *ck = bc >= 0 ? add_kernel(s, TSR_K_CAST) : NULL;
        if (!ck || kernel_add_node(ck, n)) return LOWER_OOM();
        snprintf(ck->name, sizeof ck->name, "cast_%s_int64", tsr_dtype_name(id->dtype));
        ck->n_inputs = 1;
        ck->inputs[0] = bi;
        ck->output = bc;
        ck->u.cast.n = tsr_desc_elements(id);
        ck->bytes = s->p->buffers[bi].bytes + s->p->buffers[bc].bytes;
        bi = bc;
    }
    struct tsr_kernel *k = add_kernel(s, TSR_K_INDEX);
    if (!k || kernel_add_node(k, n)) return LOWER_OOM();
    snprintf(k->name, sizeof k->name, "one_hot");
    k->n_inputs = 2;
    k->inputs[0] = bv;
    k->inputs[1] = bi;
    k->output = by;
    k->u.index = g;
    k->bytes = s->p->buffers[bi].bytes + s->p->buffers[by].bytes;
    s->ready[root_of(s, n->output)] = 1;
    return TSR_OK;
}

/* GatherElements, ScatterElements / Scatter, GatherND, ScatterND: one TSR_K_INDEX kernel
 * (program.h) reading X, the indices (and the updates). */
tsr_status tsr_lower_index(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    const struct tsr_tensor_desc *id = &s->g->values[n->inputs[1]].desc;
    struct tsr_k_index g;
    memset(&g, 0, sizeof g);
    g.reduction = (tsr_scatter_reduction)n->attrs.scatter_reduction;
    const char *name;
    switch (n->op) {
    case TSR_OP_GATHERELEMENTS:
    case TSR_OP_SCATTERELEMENTS:
    case TSR_OP_SCATTER: {
        int gather = n->op == TSR_OP_GATHERELEMENTS;
        g.mode = gather ? TSR_INDEX_GATHER_ELEMENTS : TSR_INDEX_SCATTER_ELEMENTS;
        if (gather || n->op == TSR_OP_SCATTER) g.reduction = TSR_SCATTER_NONE;
        int64_t axis = n->attrs.axis == TSR_AXIS_DEFAULT ? 0 : n->attrs.axis;
        if (axis < 0) axis += xd->rank;
        g.rank = xd->rank;
        g.axis = (int)axis;
        memcpy(g.x_dims, xd->dims, sizeof g.x_dims);
        memcpy(g.idx_dims, id->dims, sizeof g.idx_dims);
        name = gather ? "gather_elements" : "scatter_elements";
        break;
    }
    case TSR_OP_ONEHOT:
        return lower_onehot(s, ni);
    case TSR_OP_REVERSESEQUENCE: {
        g.mode = TSR_INDEX_REVERSE_SEQUENCE;
        g.reduction = TSR_SCATTER_NONE;
        g.axis = (int)n->attrs.rs_time_axis;
        g.x_dims[0] = xd->dims[0];
        g.x_dims[1] = xd->dims[1];
        g.inner = 1;
        for (int d = 2; d < xd->rank; d++)
            g.inner *= xd->dims[d];
        name = "reverse_sequence";
        break;
    }
    default: { /* GatherND, ScatterND */
        int gather = n->op == TSR_OP_GATHERND;
        g.mode = gather ? TSR_INDEX_GATHER_ND : TSR_INDEX_SCATTER_ND;
        if (gather) g.reduction = TSR_SCATTER_NONE;
        const int b = gather ? (int)n->attrs.batch_dims : 0;
        g.q = (int)id->dims[id->rank - 1];
        g.batch = 1;
        g.inner = 1;
        for (int d = 0; d < b; d++)
            g.batch *= xd->dims[d];
        for (int k = 0; k < g.q; k++)
            g.nd_dims[k] = xd->dims[b + k];
        for (int d = b + g.q; d < xd->rank; d++)
            g.inner *= xd->dims[d];
        g.n_tuples = g.batch ? tsr_desc_elements(id) / g.q / g.batch : 0;
        name = gather ? "gather_nd" : "scatter_nd";
        break;
    }
    }
    struct tsr_kernel *k =
        simple_kernel(s, TSR_K_INDEX, name, n, n->inputs, n->n_inputs, n->output);
    if (!k) return LOWER_OOM();
    k->u.index = g;
    return TSR_OK;
}

/* CenterCropPad: one constant-mode PAD kernel (zero fill; a negative pad crops). */
tsr_status tsr_lower_center_crop_pad(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    int64_t b[TSR_MAX_RANK], dims[TSR_MAX_RANK];
    if (tsr_center_crop_pad_geometry(&n->attrs, xd, b, dims))
        return TSR_ERR(s->ctx, TSR_E_SHAPE, "node '%s' (CenterCropPad): bad shape", n->name);
    struct tsr_kernel *k =
        simple_kernel(s, TSR_K_PAD, "center_crop_pad", n, &n->inputs[0], 1, n->output);
    if (!k) return LOWER_OOM();
    struct tsr_k_pad *p = &k->u.pad;
    p->mode = TSR_PAD_CONSTANT;
    p->rank = xd->rank;
    for (int d = 0; d < xd->rank; d++) {
        p->in_dims[d] = xd->dims[d];
        p->out_dims[d] = dims[d];
        p->pad_begin[d] = b[d];
    }
    memset(p->value, 0, sizeof p->value);
    return TSR_OK;
}

/* Compress with a constant condition: a GATHER along axis (absent: of X flattened) by the
 * constant int64 indices of the condition's true entries, built here. */
tsr_status tsr_lower_compress(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *xd = &s->g->values[n->inputs[0]].desc;
    const struct tsr_value_info *cv = &s->g->values[root_of(s, n->inputs[1])];
    if (!cv->data)
        return TSR_ERR(s->ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (Compress): the condition input must be a constant", n->name);
    const uint8_t *c = cv->data;
    int64_t outer = 1, len = tsr_desc_elements(xd), inner = 1, kept = 0;
    if (n->attrs.axis != TSR_AXIS_DEFAULT) {
        int64_t a = n->attrs.axis < 0 ? n->attrs.axis + xd->rank : n->attrs.axis;
        len = xd->dims[a];
        for (int d = 0; d < a; d++)
            outer *= xd->dims[d];
        for (int d = (int)a + 1; d < xd->rank; d++)
            inner *= xd->dims[d];
    }
    const int64_t nc = cv->desc.dims[0] < len ? cv->desc.dims[0] : len;
    for (int64_t i = 0; i < nc; i++)
        kept += c[i] != 0;
    struct tsr_tensor_desc id = {TSR_I64, 1, {kept}};
    void *ids;
    int bx = buffer_for(s, n->inputs[0]), by = buffer_for(s, n->output);
    int bi = bx >= 0 && by >= 0 ? zero_const_buffer(s, &id, &ids) : -1;
    if (bi < 0) return LOWER_OOM();
    for (int64_t i = 0, j = 0; i < nc; i++)
        if (c[i]) ((int64_t *)ids)[j++] = i;
    struct tsr_kernel *k = add_kernel(s, TSR_K_GATHER);
    if (!k || kernel_add_node(k, n)) return LOWER_OOM();
    snprintf(k->name, sizeof k->name, "compress");
    k->n_inputs = 2;
    k->inputs[0] = bx;
    k->inputs[1] = bi;
    k->output = by;
    k->u.gather = (struct tsr_k_gather){outer, len, kept, inner};
    k->bytes = 2 * (uint64_t)s->p->buffers[by].bytes + (uint64_t)s->p->buffers[bi].bytes;
    s->ready[root_of(s, n->output)] = 1;
    return TSR_OK;
}

/* ---- issue 13: quantization (runtime/quant.h) ---------------------------------------------- */

/* For the Mul / Add node ci reading v (float32, last dim N): its other operand when that is a
 * float32 value already computed of 1 element or of N elements along the last dim (all other
 * dims 1), and ci's output keeps v's shape; *len its element count. Else -1. */
static int deq_operand(struct tsr_lower_state *s, int ci, int v, int64_t N, int64_t *len) {
    const struct tsr_node *nd = &s->g->nodes[ci];
    if (nd->n_inputs != 2) return -1;
    const int other = nd->inputs[0] == v ? nd->inputs[1] : nd->inputs[0];
    const struct tsr_tensor_desc *od = &s->g->values[other].desc;
    if (other == v || od->dtype != TSR_F32 || !value_ready(s, other) ||
        !tsr_desc_equal(&s->g->values[nd->output].desc, &s->g->values[v].desc))
        return -1;
    const int64_t e = tsr_desc_elements(od);
    if (e != 1 && !(e == N && od->rank >= 1 && od->dims[od->rank - 1] == N)) return -1;
    *len = e;
    return other;
}

/* QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, QLinearMatMul: one
 * TSR_K_QUANT kernel over the node's inputs (ONNX order), geometry from runtime/quant_ops.c. */
tsr_status tsr_lower_quant(struct tsr_lower_state *s, int ni) {
    struct tsr_node *n = &s->g->nodes[ni];
    const struct tsr_tensor_desc *d[TSR_NODE_MAX_INPUTS];
    for (int i = 0; i < n->n_inputs; i++)
        d[i] = &s->g->values[n->inputs[i]].desc;
    struct tsr_k_quant q;
    memset(&q, 0, sizeof q);
    q.a_zp = q.b_zp = -1;
    const char *name = "quantize_linear";
    int ok = 1;
    switch (n->op) {
    case TSR_OP_QUANTIZELINEAR:
    case TSR_OP_DEQUANTIZELINEAR: {
        struct tsr_quant_layout l;
        ok = tsr_quant_layout_of(d[0], d[1], n->attrs.axis, &l);
        q.op = n->op == TSR_OP_QUANTIZELINEAR ? TSR_QK_QUANTIZE : TSR_QK_DEQUANTIZE;
        if (q.op == TSR_QK_DEQUANTIZE) name = "dequantize_linear";
        q.outer = l.outer, q.axis_len = l.axis_len, q.inner = l.inner, q.per_axis = l.per_axis;
        q.has_zp = n->n_inputs > 2;
        break;
    }
    case TSR_OP_DYNAMICQUANTIZELINEAR:
        q.op = TSR_QK_DYNAMIC;
        name = "dynamic_quantize_linear";
        q.outer = tsr_desc_elements(d[0]), q.axis_len = q.inner = 1;
        q.dyn_output = n->attrs.q_output;
        break;
    case TSR_OP_MATMULINTEGER:
        q.op = TSR_QK_MATMUL_INTEGER;
        name = "matmul_integer";
        ok =
            tsr_quant_mmi_inputs(n->attrs.q_inputs, n->n_inputs, &q.a_zp, &q.b_zp) &&
            tsr_quant_mm_geometry(d[0], d[1], &q.batch, &q.M, &q.K, &q.N, &q.a_stride, &q.b_stride);
        q.a_zp_len = q.a_zp >= 0 ? tsr_desc_elements(d[q.a_zp]) : 1;
        q.b_zp_len = q.b_zp >= 0 ? tsr_desc_elements(d[q.b_zp]) : 1;
        break;
    case TSR_OP_QLINEARMATMUL:
        q.op = TSR_QK_QLINEAR_MATMUL;
        name = "qlinear_matmul";
        ok =
            tsr_quant_mm_geometry(d[0], d[3], &q.batch, &q.M, &q.K, &q.N, &q.a_stride, &q.b_stride);
        q.a_zp = 2, q.b_zp = 5;
        q.a_scale_len = tsr_desc_elements(d[1]), q.a_zp_len = tsr_desc_elements(d[2]);
        q.b_scale_len = tsr_desc_elements(d[4]), q.b_zp_len = tsr_desc_elements(d[5]);
        break;
    default:
        ok = 0;
    }
    if (!ok)
        return TSR_ERR(s->ctx, TSR_E_INTERNAL, "node '%s' (%s): no quantized kernel geometry",
                       n->name, tsr_op_name(n->op));
    int in_values[TSR_KERNEL_MAX_INPUTS], n_in = n->n_inputs, out_value = n->output;
    int fused[4], n_fused = 0;
    memcpy(in_values, n->inputs, (size_t)n_in * sizeof *in_values);
    if (q.op == TSR_QK_DYNAMIC && q.dyn_output == 0) {
        /* y_scale and y_zero_point of the same DynamicQuantizeLinear (the importer's sibling
         * nodes, right after this one): lowered first, so y's kernel takes them and skips its
         * own range pass */
        int sib[3] = {-1, -1, -1};
        for (int j = ni + 1; j < s->g->n_nodes && j <= ni + 8; j++) {
            const struct tsr_node *m = &s->g->nodes[j];
            if (m->op == TSR_OP_DYNAMICQUANTIZELINEAR && !m->dead && !s->absorbed[j] &&
                root_of(s, m->inputs[0]) == root_of(s, n->inputs[0]) && m->attrs.q_output >= 1 &&
                m->attrs.q_output <= 2 && sib[m->attrs.q_output] < 0)
                sib[m->attrs.q_output] = j;
        }
        if (sib[1] >= 0 && sib[2] >= 0) {
            for (int t = 1; t <= 2; t++) {
                tsr_status st = tsr_lower_quant(s, sib[t]);
                if (st != TSR_OK) return st;
                s->absorbed[sib[t]] = 1; /* lowered: the node walk skips it */
                in_values[n_in++] = s->g->nodes[sib[t]].output;
            }
            q.dyn_given = 1;
            n = &s->g->nodes[ni];
        }
    }
    q.deq_scale = q.deq_bias = -1;
    q.deq_scale_len = q.deq_bias_len = 1;
    if (q.op == TSR_QK_MATMUL_INTEGER && !(s->disable & TSR_FUSE_EPILOGUE) &&
        n_in + 2 <= TSR_KERNEL_MAX_INPUTS) {
        /* the dequantize epilogue (program.h): Cast to float32, then a Mul by a scale and an
         * Add of a bias, each of 1 or N float32 values, when each is v's only consumer */
        int ci = single_consumer(s, out_value, TSR_OP_CAST);
        if (ci >= 0 && s->g->values[s->g->nodes[ci].output].desc.dtype == TSR_F32) {
            q.deq = 1;
            fused[n_fused++] = ci;
            out_value = s->g->nodes[ci].output;
            const tsr_op steps[2] = {TSR_OP_MUL, TSR_OP_ADD};
            for (int st = 0; st < 2; st++) {
                int64_t len = 0;
                ci = single_consumer(s, out_value, steps[st]);
                const int other = ci >= 0 ? deq_operand(s, ci, out_value, q.N, &len) : -1;
                if (other < 0) break;
                if (st == 0)
                    q.deq_scale = n_in, q.deq_scale_len = len;
                else
                    q.deq_bias = n_in, q.deq_bias_len = len;
                in_values[n_in++] = other;
                fused[n_fused++] = ci;
                out_value = s->g->nodes[ci].output;
            }
            ci = single_consumer(s, out_value, TSR_OP_COUNT);
            if (ci >= 0)
                q.deq_act = node_activation(&s->g->nodes[ci], &q.deq_act_p0, &q.deq_act_p1);
            if (q.deq_act != TSR_ACT_NONE) {
                fused[n_fused++] = ci;
                out_value = s->g->nodes[ci].output;
            }
        }
    }
    struct tsr_kernel *k = simple_kernel(s, TSR_K_QUANT, name, n, in_values, n_in, out_value);
    if (!k) return LOWER_OOM();
    for (int i = 0; i < n_fused; i++) {
        s->absorbed[fused[i]] = 1;
        if (kernel_add_node(k, &s->g->nodes[fused[i]])) return LOWER_OOM();
    }
    if (q.deq)
        snprintf(k->name, sizeof k->name, "matmul_integer_deq%s%s%s",
                 q.deq_scale >= 0 ? "_scale" : "", q.deq_bias >= 0 ? "_bias" : "",
                 q.deq_act != TSR_ACT_NONE ? "_act" : "");
    k->u.quant = q;
    k->flops = q.op >= TSR_QK_MATMUL_INTEGER ? (uint64_t)(2 * q.batch * q.M * q.K * q.N)
                                             : (uint64_t)(q.outer * q.axis_len * q.inner);
    return TSR_OK;
}
