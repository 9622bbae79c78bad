/*
 * tessera/batcher.h — dynamic batching (issue 14): callers on any number of threads submit single
 * requests (input tensors of a few rows, an optional deadline); the batcher gathers them into
 * batches along dim 0, runs each batch on the configured device predicted to finish it first,
 * splits the outputs back per request and completes every request exactly once (a callback
 * and/or a waitable handle). The knobs follow NVIDIA Triton's dynamic_batching and TensorFlow
 * Serving's batching parameters: max_batch, preferred (allowed) batch sizes, max_wait_us,
 * max_queue.
 *
 * A separate topic header: include it next to (or instead of) tessera.h, which it includes.
 * The conventions of tessera.h apply (statuses, ownership, units in the names, thread safety).
 *
 * The model: a graph whose every input and output has dim 0 as its batch dimension — symbolic in
 * the inputs (an ONNX import with a dim_param, e.g. models/digits.onnx's [batch, 64]) — and whose
 * output row r depends only on input row r (no op mixes the rows of a batch). The batcher
 * compiles one plan per device and specialises it (tsr_plan_specialize) at each *batch size*
 * it runs, all made when the batcher is created (so serving never re-plans). A batch of n rows
 * runs at the smallest batch size >= n and its padding rows are zeros whose outputs are dropped
 * (TensorFlow Serving's allowed_batch_sizes): the sizes are the preferred list plus max_batch,
 * or, with no preferred list, the powers of two below max_batch and max_batch.
 *
 * Forming a batch (one dispatcher thread): when a device has no batch waiting for it (it may be
 * running one) and requests are queued, the dispatcher waits until max_batch rows are queued or
 * the oldest request has waited max_wait_us (or the batcher is being destroyed), then takes the
 * queued requests, oldest first and whole (a request's rows are never split), up to max_batch
 * rows. A request whose deadline has passed when its device starts the batch completes with
 * TSR_E_TIMEOUT instead of being run. Keep the number of batch sizes within the plan's
 * specialisation cache (TSR_PLAN_CACHE, default 8), or runs re-plan. The batch goes to the
 * device with the least predicted finish time: the device's queued work (the predicted time left
 * of its running batch plus the batches waiting for it) plus its predicted time for this batch
 * size — the cost model's tsr_plan_predicted_ms of that device's plan at that size
 * (<tessera/sched.h>), scaled by the measured / predicted ratio of the device's batches so far
 * (an exponential average, so a model that is off by a constant factor is corrected). Each device
 * has one worker thread that runs its batches in order.
 *
 * Statuses a request completes with: TSR_OK; TSR_E_TIMEOUT (its deadline passed before its batch
 * ran); TSR_E_CANCELLED (tsr_batcher_destroy with drain = 0); every status of tsr_plan_run for a
 * batch that failed (each request of the batch gets it, with the error's message on the context;
 * a failed batch is retried once on another device first when the batcher has one, and an
 * OpenCL device fault is already covered by the plan's own fallback to the CPU).
 *
 * Adaptive mode (options.target_p99_us > 0): a feedback controller over windows of 64 completed
 * requests holds the end-to-end p99 latency at the target by adjusting the wait and the batch
 * cap: a window p99 above the target halves the current wait and lowers the batch cap by a
 * quarter (not below 1); a window p99 under 70% of the target raises the wait by a quarter plus
 * 20 us (up to max_wait_us) and the batch cap by one size step (up to max_batch). The current
 * values are in the statistics.
 *
 * Units: times in ns (_ns) or µs (_us) as the names say, all CLOCK_MONOTONIC; sizes in rows
 * (batch dim 0) unless _bytes.
 */
#ifndef TESSERA_BATCHER_H
#define TESSERA_BATCHER_H

#include "tessera.h"

#ifdef __cplusplus
extern "C" {
#endif
TSR_API_BEGIN

typedef struct tsr_batcher tsr_batcher;
typedef struct tsr_request tsr_request;

#define TSR_BATCHER_MAX_DEVICES   8    /* devices one batcher runs on */
#define TSR_BATCHER_MAX_PREFERRED 16   /* entries of tsr_batcher_options.preferred_batch */
#define TSR_BATCHER_MAX_BATCH     4096 /* the largest max_batch */
#define TSR_BATCHER_HIST          65   /* bins of tsr_batcher_stats.batch_hist */
#define TSR_BATCHER_WINDOW        4096 /* requests the latency percentiles are taken over */
#define TSR_BATCHER_MAX_DIMS      8    /* entries of tsr_batcher_options.dims */

/* Completion callback: called exactly once per accepted request, on a batcher thread (a device
 * worker, the dispatcher, or the thread in tsr_batcher_destroy), after the request's status and
 * outputs are set and before tsr_request_wait returns. It may call tsr_request_status,
 * tsr_request_output and tsr_request_take_outputs on `req`, and tsr_request_free when the request
 * was submitted with a handle that the callback's owner holds; it must not call
 * tsr_batcher_destroy. It should return quickly (it delays the batch's other requests). */
typedef void (*tsr_request_done_fn)(void *user, tsr_request *req);

struct tsr_batcher_options {
    /* Devices to run on, comma-separated tsr_device_find ids: "cpu", "opencl:0", "cpu,opencl:0"
     * (one plan and one worker each, at most TSR_BATCHER_MAX_DEVICES). NULL: "cpu". */
    const char *devices;
    /* Most rows in one batch, 1 .. TSR_BATCHER_MAX_BATCH (1: batching off, every request runs
     * alone). Default 32. */
    int max_batch;
    /* Preferred batch sizes (rows), increasing, each 1 .. max_batch; n_preferred 0 ..
     * TSR_BATCHER_MAX_PREFERRED (0: powers of two). The batch sizes the plans run at. */
    int preferred_batch[TSR_BATCHER_MAX_PREFERRED];
    int n_preferred;
    /* Longest a request waits for others to fill a batch, µs, 0 .. 10^7. Default 500. */
    int64_t max_wait_us;
    /* Most requests queued (accepted, not yet dispatched to a device), >= 1; a submit beyond it
     * fails at once with TSR_E_QUEUE_FULL. Default 1024. */
    int max_queue;
    /* > 0: adaptive mode (see above), holding the end-to-end p99 at this many µs. Default 0. */
    int64_t target_p99_us;
    /* Values of the symbolic input dims other than the batch dim 0, by name (tsr_input_info
     * dim_names: "sequence" of a transformer's [batch, sequence] inputs), n_dims 0 ..
     * TSR_BATCHER_MAX_DIMS, each value >= 1: the batcher runs one shape per batch size, so every
     * request must have these dims. A symbolic dim past dim 0 without a value here is refused
     * at create. The names are read during tsr_batcher_create only. Default none. */
    struct tsr_batcher_dim {
        const char *name;
        int64_t value;
    } dims[TSR_BATCHER_MAX_DIMS];
    int n_dims;
    /* Options for the plans (device is overridden by each entry of `devices`; placement is
     * "single"). Default tsr_compile_options_default(). */
    struct tsr_compile_options compile;
};
/* The defaults above. Thread-safe; cannot fail. */
struct tsr_batcher_options tsr_batcher_options_default(void);

/* Creates a batcher for `graph` (see the header comment for what the model must be): compiles
 * one plan per device and specialises each at every batch size (the time of that many compiles),
 * then starts the dispatcher and one worker thread per device. The batcher copies what it needs
 * and is independent of the graph and opts afterwards; ctx must outlive it. Returns TSR_OK,
 * TSR_E_INVALID_ARG (NULL argument, an option out of range, a device given twice or
 * unparsable, preferred sizes not increasing: the message names it), TSR_E_NOT_FOUND (no such
 * device), TSR_E_SHAPE (an input or output whose dim 0 is not a batch dimension: the message
 * names it and its shape; also a symbolic dim past dim 0 that options.dims does not give, naming
 * the input, the dim and its name), every status of tsr_compile and tsr_plan_specialize,
 * TSR_E_NOMEM, TSR_E_INTERNAL (a thread could not be started). Thread-safe with respect to ctx. */
tsr_status tsr_batcher_create(tsr_context *ctx, const tsr_graph *graph,
                              const struct tsr_batcher_options *opts, tsr_batcher **out);

/* Stops the batcher: refuses nothing new (no submit may race with this call or follow it), then
 * with drain = 1 runs every queued request as usual (deadlines still apply), with drain = 0
 * completes every queued request not yet dispatched with TSR_E_CANCELLED (batches already handed
 * to a device finish); joins the threads and frees the plans. Every accepted request is completed
 * (its callback called) before it returns; request handles stay valid until tsr_request_free.
 * NULL is a no-op. Not thread-safe: no other call on the batcher may run concurrently. */
void tsr_batcher_destroy(tsr_batcher *batcher, int drain);

/* Submits one request: `inputs` are n_inputs tensors in the plan's input order
 * (tsr_batcher_input_desc), each with the same number of rows b >= 1 in dim 0 (b <= max_batch)
 * and the other dims and the dtype of the model. The batcher borrows inputs[i].data (the descs
 * are copied) until the request completes: keep it valid and unchanged until then. deadline_ns:
 * CLOCK_MONOTONIC time (tsr_batcher_now_ns) after which the request, if not yet running,
 * completes with TSR_E_TIMEOUT; 0 for none. done (may be NULL) is called with `user` when it
 * completes. out: NULL, and the request frees itself after its callback returns (the callback
 * then has the only access to its outputs); or receives the request's handle, which the caller
 * frees with tsr_request_free (also legal before completion: the request still runs and calls
 * back). Returns TSR_OK (accepted: it will complete exactly once), TSR_E_QUEUE_FULL (max_queue
 * requests are queued: nothing accepted, done not called; retry later), TSR_E_INVALID_ARG (NULL
 * batcher or inputs, a wrong count, b out of range), TSR_E_SHAPE / TSR_E_DTYPE (an input that does
 * not match the model: the message names it and both shapes), TSR_E_NOMEM. On an error nothing
 * is accepted and *out is untouched. Thread-safe. */
tsr_status tsr_batcher_submit(tsr_batcher *batcher, const struct tsr_tensor *inputs,
                              size_t n_inputs, int64_t deadline_ns, tsr_request_done_fn done,
                              void *user, tsr_request **out);

/* Blocks until `req` has completed and returns its status (TSR_OK, TSR_E_TIMEOUT,
 * TSR_E_CANCELLED, or the failed batch's status). TSR_E_INVALID_ARG for NULL. Thread-safe (any
 * number of threads may wait); not from inside the request's own callback (it has completed
 * then: call tsr_request_status). */
tsr_status tsr_request_wait(tsr_request *req);
/* 1 when `req` has completed, else 0 (also for NULL). Does not block. Thread-safe. */
int tsr_request_done(const tsr_request *req);
/* Completion status of a completed request; TSR_E_INVALID_ARG for NULL or one not completed. */
tsr_status tsr_request_status(const tsr_request *req);
/* Output i (0 .. tsr_batcher_output_count - 1) of a completed request with status TSR_OK: desc
 * (dim 0 = the request's rows b) and data, owned by the request (valid until tsr_request_free or
 * tsr_request_take_outputs). Returns TSR_OK, TSR_E_INVALID_ARG (NULL, i out of range, not
 * completed, not TSR_OK, or the outputs were taken). */
tsr_status tsr_request_output(const tsr_request *req, int i, struct tsr_tensor *out);
/* Moves the n_outputs outputs of a completed TSR_OK request into outputs[] (the caller then owns
 * each outputs[i].data: free it with tsr_tensor_free); the request keeps none. Returns TSR_OK,
 * TSR_E_INVALID_ARG (as tsr_request_output, or n_outputs not the model's output count). One
 * thread at a time per request. */
tsr_status tsr_request_take_outputs(tsr_request *req, struct tsr_tensor *outputs, size_t n_outputs);
/* Releases the caller's handle: frees the request and the outputs it still owns if it has
 * completed, else lets it free itself when it completes (its callback still runs). NULL is a
 * no-op. Call once per handle, and use the handle no more afterwards. */
void tsr_request_free(tsr_request *req);

/* Number of model inputs / outputs, and the desc of input / output i at batch size 1 (dim 0 = 1)
 * with its name (owned by the batcher). Returns TSR_OK or TSR_E_INVALID_ARG. Thread-safe. */
int tsr_batcher_input_count(const tsr_batcher *batcher);
int tsr_batcher_output_count(const tsr_batcher *batcher);
tsr_status tsr_batcher_input_desc(const tsr_batcher *batcher, int i, const char **name,
                                  struct tsr_tensor_desc *desc);
tsr_status tsr_batcher_output_desc(const tsr_batcher *batcher, int i, const char **name,
                                   struct tsr_tensor_desc *desc);

/* The CLOCK_MONOTONIC time in ns, the clock of deadline_ns. Thread-safe; cannot fail. */
int64_t tsr_batcher_now_ns(void);

/* Per-device figures of tsr_batcher_stats. */
struct tsr_batcher_device_stats {
    char id[32];         /* "cpu", "opencl:0" (as given in options.devices) */
    int64_t batches;     /* batches run (successfully or not) */
    int64_t requests;    /* requests in those batches */
    int64_t rows;        /* rows in those batches (padding not counted) */
    int64_t failed;      /* batches that failed here */
    int64_t queued;      /* batches handed to it, not yet finished (running included) */
    double predicted_ms; /* its queued work now, by the (corrected) cost model, ms */
    double correction;   /* measured / predicted run time ratio (exponential average) */
};

/* The batcher's statistics since it was created (counters) or over its last TSR_BATCHER_WINDOW
 * completed requests (percentiles; 0 when there were none). */
struct tsr_batcher_stats {
    int64_t queue_depth; /* requests queued now, not yet dispatched to a device */
    int64_t in_flight;   /* requests dispatched, not yet completed */
    int64_t submitted;   /* accepted submits */
    int64_t completed;   /* completed with TSR_OK */
    int64_t rejected;    /* submits refused with TSR_E_QUEUE_FULL */
    int64_t timed_out;   /* completed with TSR_E_TIMEOUT */
    int64_t failed;      /* completed with a failed batch's status */
    int64_t cancelled;   /* completed with TSR_E_CANCELLED */
    int64_t batches;     /* batches run */
    int64_t retried;     /* batches retried on another device after a failure */
    /* batch_hist[k]: batches of k rows (padding not counted), k = 1 .. TSR_BATCHER_HIST - 2;
     * batch_hist[TSR_BATCHER_HIST - 1]: batches of more rows. [0] is unused (0). */
    int64_t batch_hist[TSR_BATCHER_HIST];
    int64_t queue_wait_p50_ns, queue_wait_p95_ns, queue_wait_p99_ns; /* submit → batch start */
    int64_t latency_p50_ns, latency_p95_ns, latency_p99_ns;          /* submit → completion */
    int cur_max_batch;   /* the batch cap now (max_batch unless adaptive) */
    int64_t cur_wait_us; /* the wait now (max_wait_us unless adaptive) */
    int n_devices;
    struct tsr_batcher_device_stats devices[TSR_BATCHER_MAX_DEVICES];
};

/* Fills *out with a consistent snapshot (taken under the batcher's lock; the percentiles sort
 * a copy of the window). Returns TSR_OK, TSR_E_INVALID_ARG (NULL), TSR_E_NOMEM. Thread-safe. */
tsr_status tsr_batcher_get_stats(tsr_batcher *batcher, struct tsr_batcher_stats *out);

TSR_API_END
#ifdef __cplusplus
}
#endif

#endif /* TESSERA_BATCHER_H */
