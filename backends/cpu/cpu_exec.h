/*
 * cpu_exec.h — executors of the program kernels (runtime/program.h) on the CPU, callable
 * without a tsr_context (the tests drive them directly).
 *
 * An executor reads its inputs from host pointers and writes one contiguous output. Everything
 * it needs besides the operands is in struct tsr_cpu_env: the ISA's kernel table, the thread
 * pool (NULL = run on the calling thread), the cache sizes that set the tiling, and per-thread
 * scratch allocated once (at prepare) so that a run allocates nothing.
 */
#ifndef TSR_CPU_EXEC_H
#define TSR_CPU_EXEC_H

#include "backends/cpu/ew_kernels.h"
#include "backends/cpu/threadpool.h"
#include "runtime/program.h"

struct tsr_cpu_env {
    const struct tsr_cpu_ew_kernels *ew; /* ISA kernel table, never NULL */
    struct tsr_cpu_pool *pool;           /* NULL: everything inline on the caller */
    size_t l1d_bytes;                    /* per-core L1 data cache (tsr_topology_l1d_bytes) */
    size_t panel_cache_bytes;            /* cache for one GEMM panel: per-core L2, else LLC */
    float *scratch;                      /* n_threads * scratch_floats, 64-byte aligned */
    size_t scratch_floats;               /* per thread, multiple of 16 */
    int n_threads;                       /* == tsr_cpu_pool_threads(pool) */
    /* 1: at the AVX2 tier, non-depthwise convs other than 1x1 stride 1 run on the GEMM register
     * tile over im2col column blocks (conv.c, "register-tile path") instead of im2col +
     * OpenBLAS; set at prepare unless TSR_CPU_PACK=0. */
    int conv_tile;
};

/* ---- GEMM (gemm.c) ---- */

/* Rows of Y per panel for an M x N x K GEMM given the cache `panel_cache_bytes` (0 = 1 MiB): the
 * panel of Y (rows x N) plus the rows of A it consumes (rows x K) take at most half the cache, so
 * the epilogue finds the panel still cached; at least 1 row, at most M. */
int64_t tsr_cpu_gemm_panel_rows(int64_t M, int64_t N, int64_t K, size_t panel_cache_bytes);

/* Checks the geometry of `g` (positive sizes, leading dims large enough, activation known,
 * C strides non-negative). Returns TSR_OK or TSR_E_INVALID_ARG / TSR_E_UNSUPPORTED with a
 * message naming the kernel `name` (error recorded on ctx, which may be NULL). */
tsr_status tsr_cpu_gemm_check(tsr_context *ctx, const char *name, const struct tsr_k_gemm *g);

/* Y = act(alpha * op(A) op(B) + beta * C + R) for every batch (runtime/program.h, struct
 * tsr_k_gemm). A, B, C (NULL when !g->has_c), R (NULL when !g->has_residual; [batch, M, N]
 * contiguous like Y) and Y are host pointers with the layouts of tsr_k_gemm; Y must not overlap
 * A, B or C; it may be exactly R (in-place residual: sgemm then accumulates onto R with
 * beta = 1, so the sum's rounding order differs, not its value beyond float rounding). Y is cut
 * into blocks (tsr_cpu_gemm_split); each block is one task on env->pool: a single-threaded
 * cblas_sgemm (row-major) into the block, then the epilogue on that block while it is in the
 * core's cache. OpenBLAS runs with 1 thread meanwhile (tsr_cpu_blas_single_enter). `g` must have
 * passed tsr_cpu_gemm_check. Thread-safe for disjoint Y. */
void tsr_cpu_gemm_run(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g, const float *A,
                      const float *B, const float *C, const float *R, float *Y);

/* 1 when B (K*N floats) exceeds 4x env->panel_cache_bytes and the pool has several threads: the
 * GEMM then runs as one sgemm per batch with OpenBLAS's own threads (which share one packed B;
 * the process's OpenBLAS thread setting applies, normally one per core), the epilogue after it over
 * the pool in 64-row panels. Otherwise the blocks of tsr_cpu_gemm_split run on the pool. */
int tsr_cpu_gemm_blas_threaded(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g);

/* Block of Y one GEMM task computes: *mb rows x *nb columns (per batch). Without an epilogue
 * (no C, no residual, no activation) one block per thread (rows of M split evenly: every thread
 * packs B once, as OpenBLAS's own threading); with one, at least 4 blocks per thread (dynamic
 * claiming absorbs a core taken by another process) of at most tsr_cpu_gemm_panel_rows rows (the
 * block stays cached for the epilogue). Blocks have >= 16 rows unless M < 16; when M is too small
 * to give every thread a block, N is split in multiples of 16 columns. Products below
 * TSR_CPU_GEMM_PARALLEL_FLOPS, or a single thread, give whole-N blocks of panel rows (epilogue) or
 * all of M. Pure function. */
void tsr_cpu_gemm_split(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g, int64_t *mb,
                        int64_t *nb);
/* 1 when the GEMM's output (batch*M*N floats) has at least TSR_CPU_EW_STREAM_MIN_BYTES: its
 * blocks are then computed in per-thread scratch (sized like epilogue panels, so they stay in the
 * core's cache), get their epilogue there and go to Y with streaming stores (no read for ownership
 * of Y's lines: 1/3 less memory traffic for a large output), when env->scratch_floats >=
 * tsr_cpu_gemm_scratch_floats and Y is not the residual (in place). */
int tsr_cpu_gemm_streams(const struct tsr_k_gemm *g);
/* Scratch (floats per thread) the streaming path needs: the block size mb * nb of
 * tsr_cpu_gemm_split; 0 when the GEMM does not stream. */
size_t tsr_cpu_gemm_scratch_floats(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g);
/* 2*M*N*K*batch below which a GEMM runs on the calling thread: ~10 us of work at this machine's
 * single-core rate, against a pool hand-off of ~1-2 us when the workers spin, 10-50 us when they
 * sleep. */
#define TSR_CPU_GEMM_PARALLEL_FLOPS 1.0e6

/* OpenBLAS's thread count is process-wide. tessera parallelises GEMMs and convolutions over its
 * own pool, each task calling sgemm, so it needs OpenBLAS single-threaded while it runs: enter
 * sets 1 thread (remembering the previous count) when no other tessera GEMM is running, leave
 * restores it when the last one finishes (a process-wide count under a mutex). Other users of
 * OpenBLAS in the process (the bench's openblas peer) keep their setting between tessera runs; one
 * calling OpenBLAS concurrently with a tessera GEMM runs single-threaded (still correct).
 * Thread-safe. Every enter must be paired with a leave. */
void tsr_cpu_blas_single_enter(void);
void tsr_cpu_blas_single_leave(void);

/* 1 when `act` is one of the tsr_activation values this backend implements. */
int tsr_cpu_act_valid(tsr_activation act);
/* y[i] = act(y[i]) for i < n in place with the ISA's kernels (p0, p1: LEAKY_RELU alpha, CLIP
 * min / max). NONE does nothing. Thread-safe for disjoint y. */
void tsr_cpu_act_apply(const struct tsr_cpu_env *env, tsr_activation act, float p0, float p1,
                       size_t n, float *y);
/* 1 when `act` is a clamp the register tiles apply themselves (RELU: [0, +inf), CLIP: [p0, p1]),
 * with the bounds in *lo, *hi; 0 otherwise (the caller runs tsr_cpu_act_apply after the tile,
 * *lo = *hi = 0). */
int tsr_cpu_act_clamp(tsr_activation act, float p0, float p1, float *lo, float *hi);

/* Register epilogue of the AVX-512 GEMM / conv tiles (their `clamp` argument): none, clamp to
 * [lo, hi] (ReLU, Clip), or HardSwish (act_avx512.h). */
enum { TSR_EP_NONE = 0, TSR_EP_CLAMP = 1, TSR_EP_HSWISH = 2 };
/* The tile epilogue for act: TSR_EP_CLAMP with *lo, *hi as tsr_cpu_act_clamp sets them,
 * TSR_EP_HSWISH for HardSwish, else TSR_EP_NONE (the caller applies act after the tiles). */
int tsr_cpu_act_epilogue(tsr_activation act, float p0, float p1, float *lo, float *hi);

/* ---- fused elementwise regions (ew_exec.c) ---- */

/* Tile length (elements of the innermost dim, multiple of 16, 16 .. 4096) such that the
 * region's n_regs register tiles, one output tile and one tile of each vector input (innermost
 * stride != 0) take about l1d_bytes; a row longer than that is cut into tiles of equal length. */
size_t tsr_cpu_ew_tile(const struct tsr_k_ew *k, size_t l1d_bytes);
/* Per-thread scratch (floats) the region needs: n_regs * tile. */
size_t tsr_cpu_ew_scratch_floats(const struct tsr_k_ew *k, size_t l1d_bytes);

/* Checks a region: rank in 1 .. TSR_MAX_RANK, dims >= 0, 1 <= n_instrs <= TSR_EW_MAX_INSTRS,
 * 1 <= n_regs <= TSR_EW_MAX_REGS, known ops, operands in range (registers < n_regs, inputs <
 * n_inputs), and every used input's innermost stride is 0 or 1 (the CPU reads the innermost dim
 * as a vector or a broadcast scalar). Returns TSR_OK, TSR_E_INVALID_ARG or TSR_E_UNSUPPORTED
 * with a message naming `name` (recorded on ctx, may be NULL). */
tsr_status tsr_cpu_ew_check(tsr_context *ctx, const char *name, const struct tsr_k_ew *k,
                            int n_inputs);

/* Runs the region: y (contiguous, dims of k) = program of k over inputs[i] (strided as k says).
 * Tile by tile; registers live in env->scratch (needs tsr_cpu_ew_scratch_floats(k,
 * env->l1d_bytes) floats per thread); parallel over tiles when the region has more than
 * TSR_CPU_EW_PARALLEL_MIN elements and the pool has several threads. y may be exactly one of the
 * inputs when that input has the output's layout (in-place). `k` must have passed
 * tsr_cpu_ew_check. */
void tsr_cpu_ew_run(const struct tsr_cpu_env *env, const struct tsr_k_ew *k,
                    const float *const *inputs, float *y);
#define TSR_CPU_EW_PARALLEL_MIN ((int64_t)64 * 1024)

/* ---- group "dtcompute": regions of other dtypes (ew_typed.c) ---- */

/* 1 when the typed interpreter has regions of dtype (float64, float16, int64, int32, int8,
 * uint8), else 0. Pure. */
int tsr_cpu_ew_typed_dtype(tsr_dtype dtype);
/* Checks that a region of float dtype has no integer-only instruction (tsr_ew_has_float).
 * Returns TSR_OK or TSR_E_DTYPE naming `name` and the instruction (on ctx). */
tsr_status tsr_cpu_ew_float_check(tsr_context *ctx, const char *name, const struct tsr_k_ew *k,
                                  tsr_dtype dtype);
/* Checks that a region (already passed tsr_cpu_ew_check) can run in dtype: a dtype of
 * tsr_cpu_ew_typed_dtype, and for an integer dtype every instruction in TSR_EW_INT_OP_LIST.
 * Returns TSR_OK or TSR_E_DTYPE naming `name`, the instruction and the dtype (on ctx). */
tsr_status tsr_cpu_ew_typed_check(tsr_context *ctx, const char *name, const struct tsr_k_ew *k,
                                  tsr_dtype dtype);
/* Runs the region in dtype: y (contiguous, dims of k, elements of dtype) = program of k over
 * inputs[i] (elements of dtype, strided as k says). Floats compute in double, integers in int64
 * wrapped to the dtype after every instruction (program.h). Parallel over output rows when large;
 * no scratch; y may be an input of the output's layout (in place). `k` must have passed
 * tsr_cpu_ew_typed_check. */
void tsr_cpu_ew_typed_run(const struct tsr_cpu_env *env, const struct tsr_k_ew *k, tsr_dtype dtype,
                          const void *const *inputs, void *y);
/* Elements per task of the parallel loop (contiguous tiles; 256 KiB of output). */
#define TSR_CPU_EW_TASK_ELEMS ((int64_t)64 * 1024)
/* Regions whose output has at least this many bytes write it with streaming stores
 * (tsr_cpu_ew_kernels.stream_copy): far larger than the private caches, so it would reach memory
 * anyway, and streaming saves the write-allocate read. 16 MiB: measured on the 2-core
 * development VM (copy with one thread: plain and streaming stores are equal (~30 GB/s) while
 * source + destination fit the VM's share of the L3, about 32 MiB each; at 64 MiB each
 * streaming gives 18 GB/s against 12 GB/s plain). */
#define TSR_CPU_EW_STREAM_MIN_BYTES ((uint64_t)16 << 20)

/* ---- softmax (softmax.c) ---- */

/* y = softmax of x over the middle axis of [outer, axis_len, inner] (both contiguous; y may equal
 * x). inner == 1 uses env->ew->softmax_row per row; inner > 1 works on column chunks with the
 * vector kernels. Parallel over `outer` when large. Needs no scratch. */
void tsr_cpu_softmax_run(const struct tsr_cpu_env *env, const struct tsr_k_softmax *k,
                         const float *x, float *y);

/* ---- convolution (conv.c) ---- */

/* Checks a conv geometry: positive N C H W M KH KW strides dilations group, OH OW >= 0, pads
 * >= 0, C and M divisible by group, activation known. Returns TSR_OK or TSR_E_INVALID_ARG /
 * TSR_E_UNSUPPORTED naming `name` (recorded on ctx, may be NULL). */
tsr_status tsr_cpu_conv_check(tsr_context *ctx, const char *name, const struct tsr_k_conv *c);
/* Columns of the output plane (OH*OW) per im2col panel, given panel_cache_bytes (0 = 1 MiB):
 * the panel of the column matrix ((C/group)*KH*KW x cols) plus the Y panel ((M/group) x cols)
 * take at most half of that cache; a multiple of 16 (or all of OH*OW), at least 16. */
int64_t tsr_cpu_conv_panel_cols(const struct tsr_k_conv *c, size_t panel_cache_bytes);
/* Floats of one column block of the register-tile path: TSR_CPU_CONV_TILE_KB reduction rows of
 * TSR_GEMMP_NR (48) output pixels, 24 KiB, so that it stays in L1d while every row tile of
 * output channels streams over it. */
#define TSR_CPU_CONV_TILE_KB     128
#define TSR_CPU_CONV_TILE_FLOATS (TSR_CPU_CONV_TILE_KB * 48)
/* Scratch (floats per thread: every thread's slice of env->scratch holds one panel)
 * tsr_cpu_conv_run needs: 0 for 1x1 stride-1 unpadded convs (OpenBLAS multiplies the NCHW
 * data directly, on every tier); for the other non-depthwise convs the larger of
 * (C/group)*KH*KW * tsr_cpu_conv_panel_cols (im2col path) and TSR_CPU_CONV_TILE_FLOATS
 * (register-tile path); the depthwise block path's block, or 0, for depthwise ones. */
size_t tsr_cpu_conv_scratch_floats(const struct tsr_k_conv *c, size_t panel_cache_bytes);
/* Y = act(conv(X, Wt) + bias + R) (runtime/program.h, struct tsr_k_conv). bias / R NULL when
 * absent. Y must not overlap X, Wt or bias; it may be exactly R (in place). Needs
 * tsr_cpu_conv_scratch_floats(c, env->panel_cache_bytes) <= env->scratch_floats, with
 * env->n_threads slices of env->scratch_floats in env->scratch. The (image, group, panel) tasks
 * run on env->pool with OpenBLAS held at 1 thread (tsr_cpu_blas_single_enter). `c` must have
 * passed tsr_cpu_conv_check. */
void tsr_cpu_conv_run(const struct tsr_cpu_env *env, const struct tsr_k_conv *c, const float *X,
                      const float *Wt, const float *bias, const float *R, float *Y);

/* ---- pooling (pool.c) ---- */

/* Checks a pool geometry (positive sizes, strides, dilations; pads >= 0; known kind). Returns
 * TSR_OK or TSR_E_INVALID_ARG naming `name` (recorded on ctx, may be NULL). */
tsr_status tsr_cpu_pool_check(tsr_context *ctx, const char *name, const struct tsr_k_pool *p);
/* Y [N,C,OH,OW] = max / average pool of X [N,C,H,W] (struct tsr_k_pool). Parallel over the N*C
 * planes when large. Average with count_include_pad divides by the taps inside the padded input
 * [-pad_t, H + pad_b) x [-pad_l, W + pad_r). A max window with no input position gives -inf, an
 * average one with nothing to count 0. Y must not overlap X. */
void tsr_cpu_pool_run(const struct tsr_cpu_env *env, const struct tsr_k_pool *p, const float *X,
                      float *Y);
/* Per-thread scratch (floats) tsr_cpu_pool_run needs for its vector path on env's ISA: the padded
 * plane and the average's counts (pool_avx512.c; AVX-512, MAX / AVG with stride_w 1 or 2, plane
 * under 1 Mi floats: 4 MiB a thread); 0 when the kernel takes the scalar path. The run falls back
 * to the scalar path when env->scratch_floats is smaller. */
size_t tsr_cpu_pool_scratch_floats(const struct tsr_cpu_env *env, const struct tsr_k_pool *p);

/* One plane of the AVX-512 pooling path (pool_avx512.c). */
struct tsr_cpu_pool_plane {
    int64_t Wp;                     /* row stride of the padded plane (floats) */
    int64_t KH, KW, sh, sw, dh, dw; /* window, strides (sw 1 or 2), dilations */
    int64_t OH, OW;
    int is_max;                   /* 1: max, 0: average */
    const float *rowcnt, *colcnt; /* average: taps counted per output row [OH] / column [OW] */
};
/* y[oh][ow] (OH x OW, row stride OW) = max / average over kh < KH, kw < KW of
 * xp[(oh * sh + kh * dh) * Wp + ow * sw + kw * dw]; average: sum / (rowcnt[oh] * colcnt[ow]), 0
 * for a count of 0. xp is a padded plane (-inf for max, 0 for average) holding every tap, followed
 * by readable floats up to index ((OH - 1) * sh + (KH - 1) * dh) * Wp + 16 * sw * ceil(OW / 16) +
 * (KW - 1) * dw (vector loads past OW; those lanes are discarded). Max folds NaN away as the
 * scalar path (a window of only NaN / padding: -inf); both results are bit-identical to pool.c's
 * scalar loop. Reentrant; needs an AVX-512F CPU. */
void tsr_cpu_pool_plane_avx512(const struct tsr_cpu_pool_plane *pp, const float *xp, float *y);
/* The padded plane of tsr_cpu_pool_plane_avx512: xp[(pad_t + h) * Wp + pad_l + w] = x[h * W + w]
 * for h < H, w < W (x: one [H][W] plane, read only inside it), every other float of xp[0, total)
 * = padv. Wp >= pad_l + W, total >= (pad_t + H) * Wp. Reentrant; needs an AVX-512F CPU. */
void tsr_cpu_pool_pad_avx512(const float *x, int64_t H, int64_t W, int64_t pad_t, int64_t pad_l,
                             int64_t Wp, int64_t total, float padv, float *xp);

/* ---- reductions (reduce.c) ---- */

/* y [outer, inner] = sum / mean / max of x [outer, len, inner] over len (struct tsr_k_reduce;
 * len 0: sum 0, mean NaN, max -inf). Vectorised along inner (rows of x accumulated into y) when
 * inner > 1, along len (env->ew->sum_row / max_row) when inner == 1; parallel over outer when
 * large. y must not overlap x. */
void tsr_cpu_reduce_run(const struct tsr_cpu_env *env, const struct tsr_k_reduce *k, const float *x,
                        float *y);
/* Group "reduce": y [outer, inner] (int64) = the index along len of the first (select_last:
 * last) maximum (is_min: minimum) of x [outer, len, inner] (struct tsr_k_arg); group
 * "multiout" (TopK): y [outer, k, inner], int64 indices or (values) float32 values of the first k
 * in that order. Serial; y must not overlap x. */
void tsr_cpu_arg_run(const struct tsr_k_arg *k, const float *x, void *y);
/* Group "multiout": NegativeLogLikelihoodLoss (struct tsr_k_nll): x [N, C, D], target [N, D]
 * int64 (target_i32: int32), w [C] or NULL; y [N, D] (reduction none) or y[0]. Serial, sums in
 * double. */
void tsr_cpu_nll_run(const struct tsr_k_nll *k, const float *x, const void *target, const float *w,
                     float *y);
/* Group "reduce": y = CumSum of x [outer, len, inner] along len (struct tsr_k_cumsum), rows
 * added in axis order with the ISA's vector add along inner. Serial; y must not overlap x. */
void tsr_cpu_cumsum_run(const struct tsr_cpu_env *env, const struct tsr_k_cumsum *k, const float *x,
                        float *y);
/* Group "reduce" (zoo2): y = CumSum of x [outer, len, inner] along len for integer dtypes: is64
 * 1: int64, 0: int32 (both x and y); exact, wrapping two's-complement sums (the int64 result
 * modulo 2^32 for int32, as ONNX Runtime's int32 adds). Serial; y must not overlap x. */
void tsr_cpu_cumsum_int_run(const struct tsr_k_cumsum *k, int is64, const void *x, void *y);
/* Group "preproc" (scan.c): y = the scan k->scan (RollingMean, RollingStd, EMA; not CumSum) of x
 * [outer, len, inner] along len (struct tsr_k_cumsum), vectorised across inner. Serial; y must
 * not overlap x. */
void tsr_cpu_scan_run(const struct tsr_cpu_env *env, const struct tsr_k_cumsum *k, const float *x,
                      float *y);

/* ---- transpose (transpose.c) ---- */

/* y (contiguous over k->dims) = x read with k->in_strides (struct tsr_k_transpose). The two
 * innermost dims are copied in TSR_CPU_TRANSPOSE_BLOCK-square blocks (rows of the block when the
 * innermost input stride is 1: memcpy). Parallel over blocks when large. y must not overlap x. */
void tsr_cpu_transpose_run(const struct tsr_cpu_env *env, const struct tsr_k_transpose *k,
                           const float *x, float *y);
#define TSR_CPU_TRANSPOSE_BLOCK 32

/* ---- concat (concat.c) ---- */

/* y [outer, sum inner] = inputs side by side (struct tsr_k_concat); parallel over outer when
 * large. y must not overlap the inputs. */
void tsr_cpu_concat_run(const struct tsr_cpu_env *env, const struct tsr_k_concat *k,
                        const float *const *inputs, float *y);

/* ---- layer normalisation (layernorm.c) ---- */

/* y = layernorm of x [outer, len] (struct tsr_k_layernorm); scale [len], bias [len] or NULL.
 * Corrected two-pass per row (mean, then the sums of deviations and squared deviations: no
 * cancellation, unlike the one-pass E[x^2] - E[x]^2); the row is re-read from cache. y may equal x.
 * Parallel over rows. */
void tsr_cpu_layernorm_run(const struct tsr_cpu_env *env, const struct tsr_k_layernorm *k,
                           const float *x, const float *scale, const float *bias, float *y);

/* ---- kernels of any dtype (data.c; issue 9, group "tkern") ---- */

/* Checks a GATHER / SLICE / CAST / MIXED / PAD kernel against the program's buffers (in bytes:
 * element sizes from the dtypes) and its own geometry (runtime/program.h). Returns TSR_OK or
 * TSR_E_INVALID_ARG / TSR_E_SHAPE / TSR_E_DTYPE naming the kernel (recorded on ctx). */
tsr_status tsr_cpu_data_check(tsr_context *ctx, const struct tsr_program *prog,
                              const struct tsr_kernel *kn);
/* Runs such a kernel: in[i] (dtype in_dtypes[i]) → y (kn->dtype), layouts of program.h. GATHER
 * copies rows with memcpy; SLICE and PAD copy contiguous runs with memcpy; CAST is one loop per
 * dtype pair; parallel over output rows when the output has >= 256 KiB. Returns 0, or for GATHER
 * 1 when an index was out of range (its row is left zero, nothing is read out of bounds;
 * *bad_index, may be NULL, receives one such index). y must not overlap the inputs. `kn` must
 * have passed tsr_cpu_data_check. */
int tsr_cpu_data_run(const struct tsr_cpu_env *env, const struct tsr_kernel *kn,
                     const tsr_dtype *in_dtypes, const void *const *in, void *y,
                     int64_t *bad_index);

/* Runs a TSR_K_INDEX kernel (backends/cpu/index.c; program.h): in[i] of dtype in_dtypes[i] → y
 * (kn->dtype). Returns 0, or 1 when an index was out of range (that element is skipped: zero in
 * a gather, no store in a scatter; *bad_index, may be NULL, receives one such index). `kn` must
 * have passed tsr_cpu_data_check. */
int tsr_cpu_index_run(const struct tsr_kernel *kn, const tsr_dtype *in_dtypes,
                      const void *const *in, void *y, int64_t *bad_index);

#endif
