/*
 * serve.h — `tessera serve`: an HTTP inference server (libmicrohttpd) speaking the KServe v2 /
 * Triton inference protocol (https://kserve.github.io/website/latest/modelserving/data_plane/
 * v2_protocol/). Three concerns, one file each:
 *   kserve.c    the protocol's JSON: model and server metadata, infer request decode (JSON tensors
 *               and the binary tensor data extension), infer response encode, error bodies;
 *   metrics.c   counters, histograms and gauges, rendered in the Prometheus text format;
 *   server.c    the HTTP daemon: routing, body limits, admission (queue limit), running the plan,
 *               graceful drain.
 * Everything here uses the public API only (include/tessera.h). Names are tsv_ (tessera serve).
 */
#ifndef TSR_SERVE_H
#define TSR_SERVE_H

#include "tessera.h"
#include "tessera/batcher.h"

#include <stddef.h>
#include <stdint.h>

#define TSV_MAX_IO 16 /* most inputs / outputs of a served model */

/* One input or output of the served model as the protocol shows it: dims outermost-first, -1 for
 * a dynamic (symbolic) dim. */
struct tsv_io {
    char name[256];
    tsr_dtype dtype;
    int rank;
    int64_t dims[TSR_MAX_RANK];
};

/* The served model's description (filled by the caller from the plan; read-only afterwards). */
struct tsv_model {
    char name[256];  /* the NAME in /v2/models/NAME */
    char device[32]; /* the plan's device id ("cpu", "opencl:0") */
    int n_inputs;
    struct tsv_io inputs[TSV_MAX_IO]; /* plan input order */
    int n_outputs;
    struct tsv_io outputs[TSV_MAX_IO]; /* plan output order */
};

/* ---- kserve.c ------------------------------------------------------------------------------ */

/* KServe v2 datatype of a tessera dtype: "BOOL", "UINT8", "UINT16", "UINT32", "INT8", "INT16",
 * "INT32", "INT64", "FP16", "FP32", "FP64"; NULL for a dtype the protocol has no name for.
 * Static storage. */
const char *tsv_datatype_name(tsr_dtype dtype);

/* Body of GET /v2: {"name": "tessera", "version": ..., "extensions": [...]}. Returns a malloc'd
 * NUL-terminated string (caller frees) or NULL when out of memory. */
char *tsv_server_metadata(void);
/* Body of GET /v2/models/NAME: {"name", "versions", "platform", "inputs": [{name, datatype,
 * shape}], "outputs": [...]} with -1 for dynamic dims. malloc'd (caller frees) or NULL (memory). */
char *tsv_model_metadata(const struct tsv_model *model);
/* {"error": message} as a malloc'd string (caller frees), or NULL when out of memory. */
char *tsv_error_body(const char *message);

/* A decoded infer request, its tensors in the model's input order. Owns everything in it. */
struct tsv_request {
    char *id;                             /* the request's "id" (NULL when absent) */
    struct tsr_tensor inputs[TSV_MAX_IO]; /* model->n_inputs tensors (tsr_tensor_alloc'd) */
    int n_selected;                       /* outputs asked for; 0 = all */
    int selected[TSV_MAX_IO];             /* their indices into model->outputs */
    int selected_binary[TSV_MAX_IO];      /* 1: send that output as binary data */
    int all_binary;                       /* parameters.binary_data_output: every output binary */
};

/* Decodes the body of POST /v2/models/NAME/infer against the model. body[0 .. size-1]: the JSON
 * object, or with the binary tensor data extension (json_size < size, from the request's
 * Inference-Header-Content-Length header) body[0 .. json_size-1] the JSON and the rest the input
 * tensors' bytes, in input order, one per input whose parameters give "binary_data_size". Pass
 * json_size = size without the extension. Checks every input: known name (each once, every
 * model input given), datatype equal to the model's, rank and every fixed dim equal, element
 * count of "data" (flat or nested arrays; numbers, booleans for BOOL) or binary_data_size equal
 * to the shape's; and every requested output name. Returns 0 and fills *req (free it with
 * tsv_request_free), or an HTTP status (400 for a bad request, 500 when out of memory) with the
 * problem written into err (NUL-terminated, at most err_size bytes): "malformed JSON at byte 12:
 * unexpected character", "input 'x': shape [1, 63] does not match the model's [-1, 64]",
 * "input 'x': datatype INT64, the model expects FP32", "unknown input 'y' (the model's inputs:
 * x)", "input 'x': 63 data elements for shape [1, 64] (64 expected)". Thread-safe. */
int tsv_request_decode(const struct tsv_model *model, const char *body, size_t size,
                       size_t json_size, struct tsv_request *req, char *err, size_t err_size);
/* Frees what tsv_request_decode allocated in *req (NULL-safe, idempotent). */
void tsv_request_free(struct tsv_request *req);

/* Encodes the infer response: {"model_name", "id" (when the request had one), "outputs":
 * [{name, datatype, shape, data}]} with the outputs the request selected (all when none),
 * outputs[i] the model's output i as the run produced it. Outputs marked binary get
 * "parameters": {"binary_data_size": N} instead of "data" and their bytes appended after the
 * JSON in order; *json_size is then the JSON's length (the Inference-Header-Content-Length
 * header), else equal to *size. FP32 values are printed with 9 significant digits (exact round
 * trip), FP64 with 17. Returns a malloc'd body (caller frees; *size bytes) or NULL when out of
 * memory. Thread-safe. */
char *tsv_response_encode(const struct tsv_model *model, const struct tsv_request *req,
                          const struct tsr_tensor *outputs, size_t *size, size_t *json_size);

/* ---- metrics.c ----------------------------------------------------------------------------- */

typedef struct tsv_metrics tsv_metrics;

/* Creates the metrics of a server whose model runs on `device` (a device id, copied). NULL when
 * out of memory. Every function below is thread-safe (one mutex). */
tsv_metrics *tsv_metrics_create(const char *device);
void tsv_metrics_destroy(tsv_metrics *m); /* NULL-safe */
/* Counts one answered request: endpoint "infer", "metadata", "health", "metrics" or "other",
 * its HTTP status code, and (infer only, else ignored) its latency in seconds from the first
 * byte handled to the response queued. */
void tsv_metrics_request(tsv_metrics *m, const char *endpoint, int code, double seconds);
/* Counts one executed batch of `rows` rows (the size of dim 0; 1 for rank-0 inputs). */
void tsv_metrics_batch(tsv_metrics *m, int64_t rows);
/* Adds delta (+1 admitted, -1 finished) to the requests queued or running on the device. */
void tsv_metrics_queue(tsv_metrics *m, int delta);
/* Adds delta to the HTTP requests being handled (+1 headers received, -1 response sent). */
void tsv_metrics_in_flight(tsv_metrics *m, int delta);
/* Requests rejected because the queue was full. */
void tsv_metrics_reject(tsv_metrics *m);
/* The Prometheus text exposition (format 0.0.4) of every metric: tessera_requests_total
 * {endpoint, code}, tessera_request_duration_seconds (histogram), tessera_batch_size (histogram),
 * tessera_queue_depth{device}, tessera_requests_in_flight, tessera_rejected_total; given the
 * batcher's statistics (bs; NULL without a batcher), its batches join the batch-size histogram
 * and tessera_batcher_queue_depth, tessera_batcher_device_queued_batches{device} and
 * tessera_batcher_device_batches_total{device} are added. malloc'd (caller frees) or NULL. */
char *tsv_metrics_render(tsv_metrics *m, const struct tsr_batcher_stats *bs);

/* ---- server.c ------------------------------------------------------------------------------ */

struct tsv_options {
    const char *host;         /* numeric IPv4 or IPv6 address to bind ("127.0.0.1") */
    int port;                 /* 0: any free port (tsv_server_port tells which) */
    size_t max_body_bytes;    /* larger request bodies get 413 */
    unsigned max_connections; /* more concurrent connections are refused by the daemon */
    int max_queue;            /* infer requests at once, counted from their headers to their
                                 response sent; beyond: 503 with Retry-After */
    unsigned timeout_s;       /* idle connection timeout (seconds) */
    /* Batching on: infer requests of 1 .. max_batch rows go through this batcher (not owned;
     * it must outlive the server), larger ones run on the plan directly. NULL: batching off,
     * every request runs tsr_plan_run on the plan. */
    tsr_batcher *batcher;
    int max_batch;
};

typedef struct tsv_server tsv_server;

/* Starts serving `plan` (shared, not owned; it must outlive the server) described by `model`
 * (copied) on its own threads (one per connection). Returns 0 and *out, or -1 with the reason
 * in err ("cannot bind 127.0.0.1:8000 ...", "bad --host"). */
int tsv_server_start(const struct tsv_options *opts, tsr_plan *plan, const struct tsv_model *model,
                     tsv_server **out, char *err, size_t err_size);
/* The TCP port the server listens on. */
int tsv_server_port(const tsv_server *s);
/* Graceful stop: stops accepting connections, waits up to drain_ms for every request being
 * handled to be answered (responses sent during the drain carry "Connection: close"), then
 * closes every connection and frees the server. Returns the number of requests still in
 * flight when it gave up (0: all answered). NULL-safe (returns 0). */
int tsv_server_stop(tsv_server *s, int drain_ms);

#endif
