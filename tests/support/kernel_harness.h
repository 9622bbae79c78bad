/*
 * kernel_harness.h — the one kernel harness (in the style of ggml's test-backend-ops): a graph is
 * compiled with tsr_compile for every device of the context (every registered backend) and, on
 * the CPU, for every ISA tier the machine has, run, and compared with the one scalar reference
 * (runtime/reference.c, tsr_ref_eval_graph).
 *
 * Error measure (the only one the kernel tests use). For every output element i, with y_i the
 * device's value and r_i the reference's (both f32):
 *
 *     pass  <=>  r_i is NaN and y_i is NaN
 *            or  r_i is +-inf and y_i == r_i
 *            or  |y_i - r_i| <= atol + rtol * s_i
 *
 *   Outputs of another dtype than float32 are compared as their values converted to float32
 *   (integers and bool exactly while |v| < 2^24; bool by its byte, so a poisoned 0xff shows).
 *
 *   where s_i = |r_i| (KH_REL_ELEMENT, the kernel cases) or s_i = max_j |r_j| over the finite
 *   reference values of that output (KH_REL_MAX, the operator suites through graph_check.h).
 *   atol and rtol are given per case. atol = rtol = 0 demands bit-identical results (data
 *   movement, max, exactly rounded IEEE operations). For an accumulation of K products of
 *   magnitude <= m (GEMM, Conv), f32 summation in a different order than the reference's double
 *   sum gives |y - r| <= ~K * m * 2^-24 in the worst case: the cases set atol to cover that.
 *   Transcendental functions are judged in relative terms (rtol of a few ulp: 1 ulp of f32 is
 *   2^-23 ~ 1.2e-7 relative), plus an atol for results near zero (where a relative bound is
 *   meaningless: 1 + erf(x) for x << 0, for instance).
 *
 * A failure is reported on stderr as one line per failing configuration: case, device, ISA tier,
 * fusion, output, worst element (flat index and multi-index), device value, reference value,
 * error and bound. The worst element is the one with the largest error / bound. With
 * TSR_KH_VERBOSE=1 every passing comparison also notes its worst error and bound (to choose
 * tolerances from measurements).
 */
#ifndef TSR_TEST_KERNEL_HARNESS_H
#define TSR_TEST_KERNEL_HARNESS_H

#include "tessera.h"

#include <stddef.h>

#define KH_MAX_IO      8  /* graph inputs / outputs per case */
#define KH_MAX_CONFIGS 16 /* device x ISA-tier configurations per context */

/* What s_i is in the error measure above. */
typedef enum { KH_REL_ELEMENT = 0, KH_REL_MAX = 1 } kh_rel;

struct kh_tol {
    double atol;
    double rtol;
    kh_rel rel;
};

/* The worst element of a comparison: the largest error / bound (0 / 0 counts as 0). */
struct kh_worst {
    size_t index; /* flat, row-major */
    double got, want, err, bound;
};

/* Compares n floats y with the reference r by the measure above. Returns 1 when every element
 * passes, else 0. *worst (may be NULL) receives the worst element either way (n > 0).
 * Thread-safe. */
int kh_compare(const float *y, const float *r, size_t n, const struct kh_tol *tol,
               struct kh_worst *worst);

/* One device configuration: a device id for tsr_compile_options.device, and for the CPU the ISA
 * tier it runs with (-1 for other backends). */
struct kh_config {
    char backend[16]; /* "cpu", "opencl" (ts_device_backend) */
    char device[24];  /* "cpu", "opencl:0", ... */
    char label[48];   /* "cpu/avx2", "opencl:0" */
    int isa;          /* tsr_cpu_isa for the CPU, -1 otherwise */
};

/* Fills out[0 .. return-1] with every configuration of ctx: each CPU ISA tier the machine
 * supports (scalar first), then every other device in context order. At most max entries.
 * Without an OpenCL device: ts_opencl_missing (the test fails unless OpenCL is expected
 * absent). */
int kh_configs(tsr_context *ctx, struct kh_config *out, int max);

/* Number of configurations of ctx whose backend is `backend` ("cpu", "opencl"). */
int kh_config_count(tsr_context *ctx, const char *backend);

/* Evaluates g with the reference on `in` (one tensor per graph input, in order); allocates
 * ref[0 .. outputs-1] (free with tsr_tensor_free). Fails the test (Check) on error. */
void kh_reference(const tsr_graph *g, const struct tsr_tensor *in, struct tsr_tensor *ref);

/* Runs g on every configuration of ctx with fusion switches `disable_fusion` (TSR_FUSE_* bits
 * turned off) and no fallback, twice per configuration (the second run checks that a steady-state
 * run recomputes every output; outputs are poisoned before each run: NaN, then a finite value), and
 * compares every output with ref by `tol`. expect_kernel, when not NULL, must be a substring of
 * some kernel name of every plan (e.g. "gemm_bias_residual_relu": the fused path is the one
 * tested). Every failing configuration is reported on stderr (see above); the first report is
 * copied to first_failure (first_size bytes, may be NULL/0) unless it already holds one.
 * *configs_run (may be NULL) receives the number of configurations run. wide_backend / wide_tol
 * (may be NULL): the bound for the configurations of that backend instead of tol. Returns the
 * number of failing configurations. A compile or run error counts as a failure (never as a skip).
 */
int kh_check(tsr_context *ctx, const tsr_graph *g, const char *label, const struct tsr_tensor *in,
             const struct tsr_tensor *ref, unsigned disable_fusion, const struct kh_tol *tol,
             const char *wide_backend, const struct kh_tol *wide_tol, const char *expect_kernel,
             int *configs_run, char *first_failure, size_t first_size);

/* ---- the case table ---------------------------------------------------------------------- */

/* Input generator: fills x[0 .. n-1] deterministically from seed. */
typedef void (*kh_gen_fn)(float *x, size_t n, uint64_t seed);

/* Graph under construction for one case variant. */
struct kh_builder {
    tsr_graph *g;
    int variant;     /* 0 .. case.variants - 1 */
    char label[128]; /* variant description; builders append to it with kh_label */
    int n_inputs;
    float lo[KH_MAX_IO], hi[KH_MAX_IO]; /* uniform range of input i */
    kh_gen_fn gen[KH_MAX_IO];           /* or its generator (NULL: uniform) */
    uint64_t seed;                      /* next constant's seed */
    const void *arg;                    /* the case's arg */
    char kernel[64]; /* expected kernel name (substring; "=name": exactly) with fusion on; "" =
                      * the case's */
};

/* Declares graph input "x<i>" of the given shape, filled uniformly in [lo, hi). */
tsr_value kh_input(struct kh_builder *b, int rank, const int64_t *dims, float lo, float hi);
/* Same, filled by gen. */
tsr_value kh_input_gen(struct kh_builder *b, int rank, const int64_t *dims, kh_gen_fn gen);
/* Declares graph input "x<i>" of `dtype` (issue 9, group "tkern"): uniform in [lo, hi) drawn
 * as float32, then stored in the dtype: floats rounded, integers floor(v), bool v >= 0.5. */
tsr_value kh_input_dt(struct kh_builder *b, tsr_dtype dtype, int rank, const int64_t *dims,
                      float lo, float hi);
/* Adds a constant (weights) uniform in [lo, hi). */
tsr_value kh_const(struct kh_builder *b, int rank, const int64_t *dims, float lo, float hi);
/* Adds node op on n inputs (attrs may be NULL: defaults); fails the test on error. */
tsr_value kh_op(struct kh_builder *b, tsr_op op, const struct tsr_op_attrs *attrs, int n,
                const tsr_value *inputs);
/* Shorthands of kh_op for one and two inputs, default attributes. */
tsr_value kh_op1(struct kh_builder *b, tsr_op op, tsr_value a);
tsr_value kh_op2(struct kh_builder *b, tsr_op op, tsr_value a, tsr_value c);
/* Marks v as the next graph output. */
void kh_output(struct kh_builder *b, tsr_value v);
/* Appends printf-style text to b->label. */
void kh_label(struct kh_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Which fusion settings a case runs with. */
enum {
    KH_FUSED = 1u,   /* all fusion on (the fused kernels: epilogues, regions, layernorm) */
    KH_UNFUSED = 2u, /* TSR_FUSE_ALL disabled (one kernel per node) */
    KH_BOTH = 3u
};

/* One row of the kernel table. */
struct kh_case {
    const char *name;
    void (*build)(struct kh_builder *b); /* builds variant b->variant */
    int variants;                        /* >= 1 */
    double atol, rtol;                   /* error measure, KH_REL_ELEMENT */
    unsigned fusion;                     /* KH_FUSED / KH_UNFUSED / KH_BOTH */
    const char *kernel; /* with fusion on: substring of some kernel name, or NULL */
    const void *arg;    /* parameters for build (b->arg), e.g. a table indexed by variant */
    /* A wider bound for one backend whose kernel is less precise by design (the row's comment
     * says why): wide_backend ("opencl") and its atol / rtol; NULL: none. */
    const char *wide_backend;
    double wide_atol, wide_rtol;
};

/* Totals over kh_run_case calls. */
struct kh_stats {
    int cases, variants, runs, failures; /* runs: (variant, fusion, configuration) triples */
};

/* Runs every variant of c with every fusion setting it asks for on every configuration of ctx
 * (kh_check); accumulates into *stats. Failures are reported on stderr, the first one also into
 * first (first_size bytes) unless it already holds one. Returns the number of failing
 * configurations; a builder or reference error fails the test (Check) at once. */
int kh_run_case(tsr_context *ctx, const struct kh_case *c, struct kh_stats *stats, char *first,
                size_t first_size);

/* kh_run_case with special values in every float32 graph input (not the constants): after the
 * case's own fill, element i with i % 97 == 41 becomes NaN, +inf, -inf in turn ((i / 97) % 3),
 * so about 1% of each input (none in inputs under 42 elements) and the NaN / +-inf outputs
 * they cause are compared with the reference's (the error measure above: a NaN where the
 * reference has one, the same infinity). Variant labels end in " +NaN/inf". */
int kh_run_case_specials(tsr_context *ctx, const struct kh_case *c, struct kh_stats *stats,
                         char *first, size_t first_size);

#endif
