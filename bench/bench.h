/*
 * bench.h — `tessera bench`: suites, peers and reports on top of the harness (harness.h).
 *
 * A run collects rows. A row is one measurement of one case (suite, case name, shape) by one
 * implementation ("tessera" or a peer: "openblas", "clblast", "pytorch", "onnxruntime", "stream",
 * "memcpy", "opencl-direct") on one device ("cpu", "opencl:N"). Every row keeps the host
 * (end-to-end wall clock) statistics and, where the work has events, the device statistics (sum of
 * the run's kernel durations from profiler / OpenCL event records). Throughput uses the median.
 *
 * "vs best peer" of a row = best peer time / this row's time for the same case (speed ratio:
 * > 1 faster than the best peer, < 1 slower). It compares device times when both sides have one,
 * host times otherwise.
 *
 * Thread safety: a run belongs to one thread.
 */
#ifndef TSR_BENCH_BENCH_H
#define TSR_BENCH_BENCH_H

#include "harness.h"
#include "tessera.h"

#include <json-c/json.h>

enum tsr_bench_row_status {
    TSR_BENCH_OK = 0,
    TSR_BENCH_UNSUPPORTED, /* tessera (or the peer) cannot run this case yet */
    TSR_BENCH_ABSENT,      /* the peer is not installed / not usable here: note says why */
    TSR_BENCH_FAILED       /* the case ran and failed: note holds the error */
};

/* Suites (bit set). */
enum {
    TSR_SUITE_GEMM = 1 << 0,
    TSR_SUITE_ELEMENTWISE = 1 << 1,
    TSR_SUITE_REDUCTION = 1 << 2,
    TSR_SUITE_MEMORY = 1 << 3,
    TSR_SUITE_MODEL = 1 << 4,
    TSR_SUITE_FUSION = 1 << 5,
    TSR_SUITE_ALL = (1 << 6) - 1
};

/* An interleaved side-by-side measurement of one case by tessera and one peer (model suite,
 * ONNX Runtime as a co-process, peer_serve.c): after warm-up, `rounds` rounds alternate `reps`
 * timed tessera runs with `reps` timed peer runs (who goes first alternates by round) on the same
 * inputs and thread count. ratio = peer median / tessera median over every sample (> 1: tessera
 * faster); the per-round ratios (peer round median / tessera round median) give the spread.
 * rounds == 0: the row has no interleaved measurement. */
struct tsr_bench_pair {
    char peer[24];                      /* "onnxruntime" */
    int rounds, reps;                   /* of the measurement */
    int threads;                        /* tessera CPU workers = the peer's intra-op threads */
    double tessera_ms;                  /* median of the rounds * reps tessera samples */
    double peer_ms;                     /* median of the rounds * reps peer samples */
    double ratio;                       /* peer_ms / tessera_ms; 0 when either is not positive */
    double tessera_min_ms, peer_min_ms; /* fastest sample of each side */
    double min_ratio; /* peer_min_ms / tessera_min_ms: less sensitive than the medians to other
                         processes on the cores (each side's least disturbed run) */
    double round_min, round_q1, round_median, round_q3, round_max; /* per-round ratios; the
                              quartiles interpolate linearly between order statistics */
};

/* Fills out (peer, threads left as they are) from samples measured in rounds: t and p hold
 * rounds * reps samples each, round r at [r * reps, (r + 1) * reps). Returns 0, or -1 when
 * rounds or reps < 1 or out of memory (then out->rounds == 0). Pure; reentrant. */
int tsr_bench_pair_summary(const double *t, const double *p, int rounds, int reps,
                           struct tsr_bench_pair *out);

struct tsr_bench_row {
    char suite[16];
    char name[64];   /* case: "sgemm 512", "add 64MiB", ... */
    char impl[24];   /* "tessera" or a peer name */
    char device[24]; /* "cpu", "opencl:0" */
    char shape[96];  /* e.g. "[512x512]x[512x512]" */
    int status;      /* enum tsr_bench_row_status */
    char note[320];
    struct tsr_bench_stats host, dev; /* ms; dev.n == 0 when there are no device times */
    int noisy;
    double flops;       /* floating-point operations per run (multiply-add = 2); 0 if n/a */
    double bytes;       /* minimum bytes read + written per run; 0 if n/a */
    double items;       /* samples per run (model suite); 0 if n/a */
    char metric[12];    /* "GFLOP/s", "GB/s", "samples/s" or "us" (latency) */
    double value;       /* metric from the host median (for "us": the host median latency) */
    double dev_value;   /* metric from the device median; 0 without device times */
    double ratio;       /* speed vs the best peer of the same case; 0 when no peer measured it */
    char best_peer[56]; /* "pytorch@cpu" etc. */
    char pyspec[160];   /* tessera rows: the case for the Python peers ("gemm M N K", ...); "" */
    struct tsr_bench_pair pair; /* tessera rows measured interleaved with a peer; else zeroed */
};

struct tsr_bench_peer_info {
    char name[24];
    int available;
    char detail[256]; /* version when available, the reason when absent */
};

#define TSR_BENCH_MAX_DEVICES 8
#define TSR_BENCH_MAX_MODELS  32
#define TSR_BENCH_MAX_PEERS   8

struct tsr_bench_run {
    tsr_context *ctx;
    int quick;
    unsigned suites; /* TSR_SUITE_* bits */
    struct tsr_bench_config cfg;
    char devices[TSR_BENCH_MAX_DEVICES][24];
    int n_devices;
    const char *models[TSR_BENCH_MAX_MODELS]; /* ONNX files for the model suite */
    int n_models;
    const char *python;    /* interpreter for the Python peers; NULL = autodetect */
    const char *helper_py; /* path of bench_peers.py; NULL = installed, else the source's */
    int no_peers;          /* skip every peer (rows say absent: disabled) */
    /* Model suite: symbolic input dims (other than the batch, dim 0) set by name (--dim). */
    char dim_names[4][32];
    int64_t dim_values[4];
    int n_dims;
    int pair_rounds; /* interleaved model timing: rounds (0 = the default: 10, quick 5) */
    int pair_reps;   /* ... and timed runs per side per round (0 = the default: 3) */
    struct tsr_bench_serve *serve; /* the ONNX Runtime co-process (opened on first use) */
    int serve_tried;               /* 1 once opening it was attempted */
    int progress;                  /* draw the progress bar on stderr */
    struct tsr_bench_row *rows;
    int n_rows, cap_rows;
    struct tsr_bench_peer_info peers[TSR_BENCH_MAX_PEERS];
    int n_peers;
    int progress_done, progress_total;
    double duration_s; /* whole run, wall clock */
    /* 1-minute load average (/proc/loadavg) when the run started and ended; -1 when unknown.
     * Above the core count, other processes competed for the cores during the run. */
    double load_start, load_end;
};

/* Appends a zeroed row with the given identity; returns it or NULL when out of memory. The
 * pointer is valid until the next append. */
struct tsr_bench_row *tsr_bench_add_row(struct tsr_bench_run *run, const char *suite,
                                        const char *name, const char *impl, const char *device,
                                        const char *shape);
/* Fills a row's statistics, noise flag and metric values from a measurement (the row keeps no
 * pointer to r). */
void tsr_bench_row_set(struct tsr_bench_row *row, const struct tsr_bench_result *r);
/* Records a peer's availability (name, available, detail printf-style). */
void tsr_bench_peer_note(struct tsr_bench_run *run, const char *name, int available,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Advances and redraws the progress bar on stderr ("[#####.....] 12/40 label"). */
void tsr_bench_progress(struct tsr_bench_run *run, const char *label);

/* Helpers of the suites. */

/* Deterministic pseudo-random floats in [lo, hi) (xorshift64*, seeded by seed) into x[0..n). */
void tsr_bench_fill(float *x, size_t n, uint64_t seed, float lo, float hi);
/* Compiles `graph` for `device` (no fallback: a row labelled opencl:0 never measures the CPU)
 * with `disable_fusion` (TSR_FUSE_* bits), feeds random inputs and measures tsr_plan_run into
 * `row` (host: whole run; device: sum of the run's TSR_EVENT_KERNEL records on that device).
 * Compile failures become row->status UNSUPPORTED (TSR_E_UNSUPPORTED) or FAILED with the error in
 * row->note. Returns 0, or -1 when out of memory. */
int tsr_bench_measure_graph(struct tsr_bench_run *run, struct tsr_bench_row *row,
                            const tsr_graph *graph, const char *device, unsigned disable_fusion);

/* The tessera backend that the direct OpenCL peers (cl_direct.c: CLBlast, the opencl-direct
 * memory rows) stand beside: the only place the bench names it. */
#define TSR_BENCH_OPENCL_BACKEND "opencl"

/* Local index (tsr_device_info.index) of device `device_id` of ctx when it is a device of
 * tessera backend `backend` (the id parsed by tsr_device_find), else -1. */
int tsr_bench_device_of_backend(const tsr_context *ctx, const char *device_id, const char *backend);

/* A private OpenCL context + profiling in-order queue on the device ctx calls `device_id` (a
 * device of TSR_BENCH_OPENCL_BACKEND with local index N: the N-th device over platforms in
 * clGetPlatformIDs order, CL_DEVICE_TYPE_ALL, the enumeration of backends/opencl/cl_platform.c).
 * Opaque handles as void* so this header needs no OpenCL include. */
struct tsr_bench_cl {
    void *platform, *device, *context, *queue; /* cl_platform_id, cl_device_id, ... */
    char name[128];
};
/* Returns 0, or -1 with the reason in why (no platform, no such device, context failed). */
int tsr_bench_cl_open(const tsr_context *ctx, const char *device_id, struct tsr_bench_cl *out,
                      char *why, size_t why_size);
/* Releases the queue and context; NULL-safe on a zeroed struct. */
void tsr_bench_cl_close(struct tsr_bench_cl *cl);

/* Peers called directly from C (peer_blas.c): C[M,N] = A[M,K] B[K,N], row-major, f32. Each
 * appends one row (status ABSENT with the reason when the library/device is unusable). */
int tsr_bench_peer_openblas(struct tsr_bench_run *run, const char *suite, const char *name,
                            const char *shape, int M, int N, int K);
int tsr_bench_peer_clblast(struct tsr_bench_run *run, const char *suite, const char *name,
                           const char *shape, const char *device, int M, int N, int K);

/* Suites: each appends rows for every device of run->devices. Return 0, or -1 only when out of
 * memory (case failures become FAILED / UNSUPPORTED rows). */
int tsr_bench_suite_gemm(struct tsr_bench_run *run);
int tsr_bench_suite_elementwise(struct tsr_bench_run *run);
int tsr_bench_suite_reduction(struct tsr_bench_run *run);
int tsr_bench_suite_memory(struct tsr_bench_run *run);
int tsr_bench_suite_model(struct tsr_bench_run *run);
int tsr_bench_suite_fusion(struct tsr_bench_run *run);
/* Counts the cases the selected suites will measure (for the progress bar). */
int tsr_bench_count_cases(const struct tsr_bench_run *run);

/* Peers run from Python (PyTorch, ONNX Runtime): writes the case list, runs bench_peers.py once,
 * reads its JSON samples back into rows. Absent interpreters/modules become notes. Returns 0 or
 * -1 (out of memory). */
int tsr_bench_python_peers(struct tsr_bench_run *run);

/* The interpreter and helper script of the Python peers: run->python, else env
 * TSR_BENCH_PYTHON, else <source>/.venv/bin/python when executable, else /usr/bin/python3;
 * run->helper_py, else env TSR_BENCH_HELPER, else the installed copy next to the running binary
 * (<bindir>/../share/tessera/bench/bench_peers.py, when readable), else
 * <source>/bench/bench_peers.py. */
void tsr_bench_python_paths(const struct tsr_bench_run *run, char *python, size_t python_size,
                            char *helper, size_t helper_size);

/* The co-process peer (peer_serve.c): `python helper --serve`, one JSON command per line on its
 * stdin, one JSON reply per line on its stdout (protocol: bench_peers.py's doc). */
struct tsr_bench_serve;
/* Starts the co-process and says hello. Returns the handle (owned; tsr_bench_serve_close), or
 * NULL with the reason in why (cannot start, no reply). The handle's ONNX Runtime may still be
 * absent: see tsr_bench_serve_peer. SIGPIPE is ignored from here on (a dead co-process must
 * not kill tessera). */
struct tsr_bench_serve *tsr_bench_serve_open(const char *python, const char *helper, char *why,
                                             size_t why_size);
/* Whether the co-process's ONNX Runtime imported, and its version or the import error. */
int tsr_bench_serve_peer(const struct tsr_bench_serve *s, const char **detail);
/* Sends cmd (not consumed) as one line and reads one reply line. Returns the parsed reply (owned
 * by the caller: json_object_put), or NULL when the co-process is gone or replied garbage (then
 * every later call also returns NULL). One thread at a time. */
json_object *tsr_bench_serve_call(struct tsr_bench_serve *s, json_object *cmd);
/* Sends quit, waits for the process, frees the handle; NULL-safe. */
void tsr_bench_serve_close(struct tsr_bench_serve *s);

/* Interleaved measurement of a tessera graph on the CPU against the co-process (model suite):
 * compiles `graph` like tsr_bench_measure_graph, writes the inputs it feeds as .npy files into a
 * temporary directory, has the co-process load `model_path` with them and `threads` intra-op
 * threads, then measures as struct tsr_bench_pair describes (cfg.warmup untimed runs on each side
 * first). Fills `row` (tessera samples, row->pair) and appends the peer's row. When the peer
 * cannot load or run the case, measures tessera alone (tsr_bench_measure_graph) and appends a
 * FAILED peer row with the reason. Returns 0, or -1 when out of memory. */
int tsr_bench_measure_graph_paired(struct tsr_bench_run *run, int row_index, const tsr_graph *graph,
                                   const char *model_path, int threads);

/* After every suite: fills ratio / best_peer of every row. */
void tsr_bench_compute_ratios(struct tsr_bench_run *run);

/* Reports. Each returns 0, or -1 with a message on stderr (file cannot be written, gnuplot
 * missing or failed). */
void tsr_bench_print_table(const struct tsr_bench_run *run, FILE *out);
json_object *tsr_bench_to_json(const struct tsr_bench_run *run);
int tsr_bench_write_json(const struct tsr_bench_run *run, const char *path);
int tsr_bench_write_csv(const struct tsr_bench_run *run, const char *path);
int tsr_bench_write_plot(const struct tsr_bench_run *run, const char *path);

/* The 1-minute load average from /proc/loadavg, or -1 when it cannot be read. */
double tsr_bench_loadavg(void);

/* Frees the rows. */
void tsr_bench_run_free(struct tsr_bench_run *run);

#endif
