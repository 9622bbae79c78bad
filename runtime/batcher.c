/*
 * batcher.c — the dynamic batcher of <tessera/batcher.h>: a request queue, one dispatcher thread
 * that forms batches and sends each to the device predicted to finish it first, one worker thread
 * per device that concatenates the rows into its pooled input buffers, runs the device's plan and
 * splits the outputs back per request. One lock (tsr_batcher.mu) guards the queue, the device
 * queues and the statistics; each request has its own lock for its completion.
 */
#include "tessera/batcher.h"
#include "tessera/sched.h"

#include "runtime/internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SIZES    (TSR_BATCHER_MAX_PREFERRED + 16) /* batch sizes a plan runs at */
#define ADAPT_WINDOW 64                               /* requests per controller step */

struct tsr_request {
    atomic_int refs; /* the batcher's (until completed and called back) + the caller's handle */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished; /* status and outputs set (the callback may read them) */
    int done;     /* callback returned: tsr_request_wait returns */
    tsr_status status;
    int outputs_taken;
    int64_t rows, submit_ns, start_ns, deadline_ns;
    tsr_request_done_fn fn;
    void *user;
    struct tsr_request *next; /* the batcher's queue */
    size_t n_in, n_out;
    struct tsr_tensor *inputs;  /* descs copied, data borrowed */
    struct tsr_tensor *outputs; /* owned until taken / freed */
};

struct batch {
    tsr_request **reqs;
    int n;
    int64_t rows;
    int size_idx;
    unsigned tried; /* bit d: device d has run it */
    double pred_ms; /* the chosen device's corrected prediction */
    struct batch *next;
};

struct dev {
    struct tsr_batcher *b;
    int idx;
    char id[32];
    tsr_plan *plan;
    double pred_ms[MAX_SIZES]; /* cost model, per batch size */
    double corr;               /* measured / predicted, exponential average */
    struct batch *head, *tail; /* batches waiting for the worker */
    int waiting;
    double waiting_ms;
    int running;
    double running_ms;
    int64_t running_start_ns;
    void **in_buf, **out_buf; /* pooled, at the largest batch size */
    pthread_t thread;
    int thread_started;
    pthread_cond_t cv;
    struct tsr_batcher_device_stats st;
};

struct tsr_batcher {
    tsr_context *ctx;
    int n_in, n_out;
    char **in_names, **out_names;
    struct tsr_tensor_desc *in_desc, *out_desc; /* at batch 1 */
    size_t *in_row_bytes, *out_row_bytes;
    int n_sizes;
    int sizes[MAX_SIZES];
    int max_batch, max_queue;
    int64_t max_wait_us, target_p99_us;
    /* TSR_BATCHER_FAULT=N[@device]: every N-th batch run (on that device only) fails with
     * TSR_E_DEVICE before it runs: fault injection for the tests. */
    int fault_every;
    char fault_dev[32];
    atomic_int_fast64_t run_count;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* the dispatcher's */
    tsr_request *q_head, *q_tail;
    int64_t q_len, q_rows;
    int stopping, workers_stop, drain;
    pthread_t dispatcher;
    int dispatcher_started;
    int n_dev;
    struct dev devs[TSR_BATCHER_MAX_DEVICES];

    /* statistics (under mu) */
    struct tsr_batcher_stats st;
    int64_t *wait_ring, *lat_ring;
    int64_t ring_n, ring_pos;
    int cur_max_batch;
    int64_t cur_wait_us;
    int64_t adapt_count;
};

int64_t tsr_batcher_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static struct timespec abs_ts(int64_t ns) {
    struct timespec t = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    return t;
}

struct tsr_batcher_options tsr_batcher_options_default(void) {
    struct tsr_batcher_options o;
    memset(&o, 0, sizeof o);
    o.devices = NULL;
    o.max_batch = 32;
    o.max_wait_us = 500;
    o.max_queue = 1024;
    o.compile = tsr_compile_options_default();
    return o;
}

/* ---- requests ------------------------------------------------------------------------------ */

static void request_unref(tsr_request *r) {
    if (atomic_fetch_sub(&r->refs, 1) != 1) return;
    for (size_t i = 0; i < r->n_out; i++)
        if (!r->outputs_taken) tsr_tensor_free(&r->outputs[i]);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

static int64_t pct(int64_t *v, int64_t n, double p) {
    if (n <= 0) return 0;
    int64_t k = (int64_t)ceil(p * (double)n) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int size_index_for(const tsr_batcher *b, int64_t rows) {
    for (int i = 0; i < b->n_sizes; i++)
        if (b->sizes[i] >= rows) return i;
    return b->n_sizes - 1;
}

/* The adaptive controller's step over the last ADAPT_WINDOW latencies (under mu). */
static void adapt_step(tsr_batcher *b) {
    int64_t w[ADAPT_WINDOW];
    for (int i = 0; i < ADAPT_WINDOW; i++) {
        int64_t k = (b->ring_pos - 1 - i + TSR_BATCHER_WINDOW) % TSR_BATCHER_WINDOW;
        w[i] = b->lat_ring[k];
    }
    qsort(w, ADAPT_WINDOW, sizeof w[0], cmp_i64);
    int64_t p99 = pct(w, ADAPT_WINDOW, 0.99), target = b->target_p99_us * 1000;
    if (p99 > target) {
        b->cur_wait_us /= 2;
        int m = b->cur_max_batch - b->cur_max_batch / 4;
        b->cur_max_batch = m < 1 ? 1 : m;
    } else if (p99 < target * 7 / 10) {
        int64_t wt = b->cur_wait_us + b->cur_wait_us / 4 + 20;
        b->cur_wait_us = wt > b->max_wait_us ? b->max_wait_us : wt;
        int k = size_index_for(b, b->cur_max_batch);
        if (b->sizes[k] <= b->cur_max_batch && k + 1 < b->n_sizes) k++;
        b->cur_max_batch = b->sizes[k] > b->max_batch ? b->max_batch : b->sizes[k];
    }
}

/* Completes r with `status` (outputs already set for TSR_OK): statistics, callback, wake-up. */
static void request_complete(tsr_batcher *b, tsr_request *r, tsr_status status) {
    int64_t now = tsr_batcher_now_ns();
    pthread_mutex_lock(&b->mu);
    if (status == TSR_OK)
        b->st.completed++;
    else if (status == TSR_E_TIMEOUT)
        b->st.timed_out++;
    else if (status == TSR_E_CANCELLED)
        b->st.cancelled++;
    else
        b->st.failed++;
    if (r->start_ns) b->st.in_flight--;
    if (status == TSR_OK) {
        b->wait_ring[b->ring_pos] = r->start_ns - r->submit_ns;
        b->lat_ring[b->ring_pos] = now - r->submit_ns;
        b->ring_pos = (b->ring_pos + 1) % TSR_BATCHER_WINDOW;
        if (b->ring_n < TSR_BATCHER_WINDOW) b->ring_n++;
        if (b->target_p99_us > 0 && ++b->adapt_count % ADAPT_WINDOW == 0 &&
            b->ring_n >= ADAPT_WINDOW)
            adapt_step(b);
    }
    pthread_mutex_unlock(&b->mu);

    pthread_mutex_lock(&r->mu);
    r->status = status;
    r->finished = 1;
    pthread_mutex_unlock(&r->mu);
    if (r->fn) r->fn(r->user, r);
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    request_unref(r);
}

tsr_status tsr_request_wait(tsr_request *r) {
    if (!r) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_request_wait: NULL request");
    pthread_mutex_lock(&r->mu);
    while (!r->done)
        pthread_cond_wait(&r->cv, &r->mu);
    tsr_status st = r->status;
    pthread_mutex_unlock(&r->mu);
    return st;
}

int tsr_request_done(const tsr_request *r) {
    if (!r) return 0;
    tsr_request *m = (tsr_request *)r;
    pthread_mutex_lock(&m->mu);
    int d = m->done;
    pthread_mutex_unlock(&m->mu);
    return d;
}

tsr_status tsr_request_status(const tsr_request *r) {
    if (!r) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_request_status: NULL request");
    tsr_request *m = (tsr_request *)r;
    pthread_mutex_lock(&m->mu);
    int f = m->finished;
    tsr_status st = m->status;
    pthread_mutex_unlock(&m->mu);
    if (!f) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_request_status: request not completed");
    return st;
}

static tsr_status outputs_ready(const tsr_request *r, const char *fn) {
    if (!r) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "%s: NULL request", fn);
    tsr_request *m = (tsr_request *)r;
    pthread_mutex_lock(&m->mu);
    int f = m->finished, taken = m->outputs_taken;
    tsr_status st = m->status;
    pthread_mutex_unlock(&m->mu);
    if (!f) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "%s: request not completed", fn);
    if (st != TSR_OK)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG, "%s: the request failed (%s): no outputs", fn,
                       tsr_status_name(st));
    if (taken) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "%s: the outputs were taken", fn);
    return TSR_OK;
}

tsr_status tsr_request_output(const tsr_request *r, int i, struct tsr_tensor *out) {
    tsr_status st = outputs_ready(r, "tsr_request_output");
    if (st != TSR_OK) return st;
    if (i < 0 || (size_t)i >= r->n_out || !out)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_request_output: no output %d (%zu outputs)", i,
                       r->n_out);
    *out = r->outputs[i];
    return TSR_OK;
}

tsr_status tsr_request_take_outputs(tsr_request *r, struct tsr_tensor *outputs, size_t n_outputs) {
    tsr_status st = outputs_ready(r, "tsr_request_take_outputs");
    if (st != TSR_OK) return st;
    if (!outputs || n_outputs != r->n_out)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG,
                       "tsr_request_take_outputs: %zu outputs asked, the model has %zu", n_outputs,
                       r->n_out);
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < n_outputs; i++) {
        outputs[i] = r->outputs[i];
        r->outputs[i].data = NULL;
    }
    r->outputs_taken = 1;
    pthread_mutex_unlock(&r->mu);
    return TSR_OK;
}

void tsr_request_free(tsr_request *r) {
    if (r) request_unref(r);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

/* Predicted ms left of device d's queued work (under mu). */
static double dev_queued_ms(const struct dev *d, int64_t now) {
    double left = 0.0;
    if (d->running) {
        left = d->running_ms - (double)(now - d->running_start_ns) * 1e-6;
        if (left < 0) left = 0;
    }
    return left + d->waiting_ms;
}

/* The device (not in `exclude`; with `limit`, one with at most one batch waiting) predicted to
 * finish a batch of size index k first; -1 when none. Under mu. */
static int pick_device(tsr_batcher *b, int k, unsigned exclude, int limit, double *pred) {
    int64_t now = tsr_batcher_now_ns();
    int best = -1;
    double best_t = HUGE_VAL;
    for (int i = 0; i < b->n_dev; i++) {
        struct dev *d = &b->devs[i];
        if ((exclude >> i) & 1u || (limit && d->waiting >= 2)) continue;
        double run = d->pred_ms[k] * d->corr;
        double t = dev_queued_ms(d, now) + run;
        if (best < 0 || t < best_t) {
            best = i;
            best_t = t;
            *pred = run;
        }
    }
    return best;
}

static void dev_push(struct dev *d, struct batch *bt) {
    bt->next = NULL;
    if (d->tail)
        d->tail->next = bt;
    else
        d->head = bt;
    d->tail = bt;
    d->waiting++;
    d->waiting_ms += bt->pred_ms;
    d->st.queued++;
    pthread_cond_signal(&d->cv);
}

static void batch_free(struct batch *bt) {
    if (!bt) return;
    free(bt->reqs);
    free(bt);
}

static void *dispatcher_main(void *arg) {
    tsr_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        if (!b->q_head) {
            if (b->stopping) break;
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        int free_dev = 0;
        for (int i = 0; i < b->n_dev; i++)
            if (b->devs[i].waiting == 0) free_dev = 1;
        if (!free_dev) {
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        int64_t now = tsr_batcher_now_ns();
        int64_t due = b->q_head->submit_ns + b->cur_wait_us * 1000;
        if (b->q_rows < b->cur_max_batch && now < due && !b->stopping) {
            struct timespec ts = abs_ts(due);
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            continue;
        }
        /* Take whole requests, oldest first, up to the batch cap. */
        struct batch *bt = calloc(1, sizeof *bt);
        tsr_request **reqs = bt ? malloc(sizeof *reqs * (size_t)b->cur_max_batch) : NULL;
        if (!reqs) {
            free(bt);
            /* Out of memory: retry shortly rather than drop anything. */
            struct timespec ts = abs_ts(now + 1000000);
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            continue;
        }
        bt->reqs = reqs;
        while (b->q_head && (bt->n == 0 || bt->rows + b->q_head->rows <= b->cur_max_batch)) {
            tsr_request *r = b->q_head;
            b->q_head = r->next;
            if (!b->q_head) b->q_tail = NULL;
            b->q_len--;
            b->q_rows -= r->rows;
            r->next = NULL;
            r->start_ns = now;
            b->st.in_flight++;
            bt->reqs[bt->n++] = r;
            bt->rows += r->rows;
        }
        bt->size_idx = size_index_for(b, bt->rows);
        double pred = 0.0;
        int d = pick_device(b, bt->size_idx, 0u, 1, &pred);
        bt->pred_ms = pred;
        dev_push(&b->devs[d < 0 ? 0 : d], bt);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- running a batch ----------------------------------------------------------------------- */

/* Runs bt on d: timed-out requests complete at once, the rest are concatenated into the pooled
 * input buffers (padding rows zero), run, split. Returns the run's status (TSR_OK also when
 * every request had timed out); on TSR_OK every request of bt has completed, on failure the
 * requests still to answer are left in bt (compacted). */
static tsr_status run_batch(tsr_batcher *b, struct dev *d, struct batch *bt) {
    int64_t now = tsr_batcher_now_ns();
    int kept = 0;
    bt->rows = 0;
    for (int i = 0; i < bt->n; i++) {
        tsr_request *r = bt->reqs[i];
        if (r->deadline_ns > 0 && now > r->deadline_ns) {
            request_complete(b, r, TSR_E_TIMEOUT);
            continue;
        }
        bt->reqs[kept++] = r;
        bt->rows += r->rows;
    }
    bt->n = kept;
    if (kept == 0) return TSR_OK;
    int k = size_index_for(b, bt->rows);
    int64_t size = b->sizes[k];
    struct tsr_tensor ins[b->n_in], outs[b->n_out];
    for (int i = 0; i < b->n_in; i++) {
        char *p = d->in_buf[i];
        size_t rb = b->in_row_bytes[i];
        for (int j = 0; j < bt->n; j++) {
            size_t n = rb * (size_t)bt->reqs[j]->rows;
            if (n) memcpy(p, bt->reqs[j]->inputs[i].data, n);
            p += n;
        }
        if (size > bt->rows) memset(p, 0, rb * (size_t)(size - bt->rows));
        ins[i].desc = b->in_desc[i];
        ins[i].desc.dims[0] = size;
        ins[i].data = d->in_buf[i];
    }
    for (int i = 0; i < b->n_out; i++) {
        outs[i].desc = b->out_desc[i];
        outs[i].desc.dims[0] = size;
        outs[i].data = d->out_buf[i];
    }
    int64_t t0 = tsr_batcher_now_ns();
    tsr_status st;
    int64_t nth = atomic_fetch_add(&b->run_count, 1) + 1;
    if (b->fault_every > 0 && nth % b->fault_every == 0 &&
        (!b->fault_dev[0] || !strcmp(b->fault_dev, d->id)))
        st = TSR_ERR(b->ctx, TSR_E_DEVICE, "batcher: injected fault (TSR_BATCHER_FAULT=%d) on %s",
                     b->fault_every, d->id);
    else
        st = tsr_plan_run(d->plan, ins, (size_t)b->n_in, outs, (size_t)b->n_out);
    int64_t t1 = tsr_batcher_now_ns();
    pthread_mutex_lock(&b->mu);
    d->st.batches++;
    b->st.batches++;
    if (st == TSR_OK) {
        double measured = (double)(t1 - t0) * 1e-6, pred = d->pred_ms[k];
        if (pred > 0) d->corr = 0.8 * d->corr + 0.2 * (measured / pred);
        d->st.requests += bt->n;
        d->st.rows += bt->rows;
        int64_t h = bt->rows < TSR_BATCHER_HIST - 1 ? bt->rows : TSR_BATCHER_HIST - 1;
        b->st.batch_hist[h]++;
    } else {
        d->st.failed++;
    }
    pthread_mutex_unlock(&b->mu);
    if (st != TSR_OK) return st;

    /* Split: each request gets its own output tensors of its rows. */
    int64_t row = 0;
    for (int j = 0; j < bt->n; j++) {
        tsr_request *r = bt->reqs[j];
        tsr_status rs = TSR_OK;
        for (int i = 0; i < b->n_out && rs == TSR_OK; i++) {
            struct tsr_tensor_desc od = b->out_desc[i];
            od.dims[0] = r->rows;
            rs = tsr_tensor_alloc(&od, &r->outputs[i]);
            if (rs == TSR_OK) {
                size_t rb = b->out_row_bytes[i];
                memcpy(r->outputs[i].data, (char *)d->out_buf[i] + rb * (size_t)row,
                       rb * (size_t)r->rows);
            }
        }
        if (rs != TSR_OK)
            for (int i = 0; i < b->n_out; i++)
                tsr_tensor_free(&r->outputs[i]);
        row += r->rows;
        request_complete(b, r, rs);
    }
    bt->n = 0;
    return TSR_OK;
}

static void *worker_main(void *arg) {
    struct dev *d = arg;
    tsr_batcher *b = d->b;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        if (!d->head) {
            if (b->workers_stop) break;
            pthread_cond_wait(&d->cv, &b->mu);
            continue;
        }
        struct batch *bt = d->head;
        d->head = bt->next;
        if (!d->head) d->tail = NULL;
        d->waiting--;
        d->waiting_ms -= bt->pred_ms;
        if (d->waiting == 0) d->waiting_ms = 0.0;
        d->running = 1;
        d->running_ms = bt->pred_ms;
        d->running_start_ns = tsr_batcher_now_ns();
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);

        bt->tried |= 1u << d->idx;
        tsr_status st = run_batch(b, d, bt);

        pthread_mutex_lock(&b->mu);
        d->running = 0;
        d->st.queued--;
        int retry = -1;
        double pred = 0.0;
        if (st != TSR_OK && bt->n > 0 && !b->workers_stop) {
            retry = pick_device(b, size_index_for(b, bt->rows), bt->tried, 0, &pred);
            if (retry >= 0) {
                bt->pred_ms = pred;
                b->st.retried++;
                dev_push(&b->devs[retry], bt);
            }
        }
        pthread_cond_signal(&b->cv);
        if (retry < 0) {
            pthread_mutex_unlock(&b->mu);
            for (int j = 0; j < bt->n; j++)
                request_complete(b, bt->reqs[j], st);
            batch_free(bt);
            pthread_mutex_lock(&b->mu);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- submit -------------------------------------------------------------------------------- */

tsr_status tsr_batcher_submit(tsr_batcher *b, const struct tsr_tensor *inputs, size_t n_inputs,
                              int64_t deadline_ns, tsr_request_done_fn done, void *user,
                              tsr_request **out) {
    if (!b || !inputs)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_batcher_submit: NULL %s",
                       b ? "inputs" : "batcher");
    if (n_inputs != (size_t)b->n_in)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG,
                       "tsr_batcher_submit: %zu inputs given, the model has %d", n_inputs, b->n_in);
    int64_t rows = -1;
    for (int i = 0; i < b->n_in; i++) {
        const struct tsr_tensor_desc *g = &inputs[i].desc, *m = &b->in_desc[i];
        char gs[128], ms[128];
        if (g->dtype != m->dtype)
            return TSR_ERR(NULL, TSR_E_DTYPE,
                           "tsr_batcher_submit: input '%s' is %s, the model's %s", b->in_names[i],
                           tsr_dtype_name(g->dtype), tsr_dtype_name(m->dtype));
        int bad = g->rank != m->rank || g->rank < 1 || !inputs[i].data;
        for (int k = 1; !bad && k < g->rank; k++)
            bad = g->dims[k] != m->dims[k];
        if (!bad && rows >= 0 && g->dims[0] != rows) bad = 1;
        if (bad || g->dims[0] < 1) {
            struct tsr_tensor_desc md = *m;
            tsr_desc_format(g, gs, sizeof gs);
            tsr_desc_format(&md, ms, sizeof ms);
            return TSR_ERR(NULL, inputs[i].data ? TSR_E_SHAPE : TSR_E_INVALID_ARG,
                           "tsr_batcher_submit: input '%s' is %s%s, the model's (batch 1) %s",
                           b->in_names[i], gs, inputs[i].data ? "" : " with NULL data", ms);
        }
        rows = g->dims[0];
    }
    if (rows > b->max_batch)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG,
                       "tsr_batcher_submit: %lld rows, more than max_batch %d", (long long)rows,
                       b->max_batch);
    size_t n_in = (size_t)b->n_in, n_out = (size_t)b->n_out;
    tsr_request *r = calloc(1, sizeof *r + sizeof(struct tsr_tensor) * (n_in + n_out));
    if (!r) return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_batcher_submit: out of memory");
    r->inputs = (struct tsr_tensor *)(r + 1);
    r->outputs = r->inputs + n_in;
    memcpy(r->inputs, inputs, sizeof *inputs * n_in);
    r->n_in = n_in;
    r->n_out = n_out;
    r->rows = rows;
    r->deadline_ns = deadline_ns;
    r->fn = done;
    r->user = user;
    atomic_init(&r->refs, out ? 2 : 1);
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_batcher_submit: cannot make a mutex");
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int cv_rc = pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (cv_rc != 0) {
        pthread_mutex_destroy(&r->mu);
        free(r);
        return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_batcher_submit: cannot make a condition variable");
    }
    pthread_mutex_lock(&b->mu);
    if (b->q_len >= b->max_queue) {
        b->st.rejected++;
        int64_t q = b->q_len;
        pthread_mutex_unlock(&b->mu);
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return TSR_ERR(NULL, TSR_E_QUEUE_FULL, "tsr_batcher_submit: queue full (%lld requests)",
                       (long long)q);
    }
    r->submit_ns = tsr_batcher_now_ns();
    if (b->q_tail)
        b->q_tail->next = r;
    else
        b->q_head = r;
    b->q_tail = r;
    b->q_len++;
    b->q_rows += rows;
    b->st.submitted++;
    if (out) *out = r;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return TSR_OK;
}

/* ---- create / destroy ---------------------------------------------------------------------- */

static tsr_status make_sizes(tsr_batcher *b, const struct tsr_batcher_options *o) {
    b->n_sizes = 0;
    if (o->n_preferred > 0) {
        for (int i = 0; i < o->n_preferred; i++) {
            int s = o->preferred_batch[i];
            if (s < 1 || s > o->max_batch || (i > 0 && s <= o->preferred_batch[i - 1]))
                return TSR_ERR(b->ctx, TSR_E_INVALID_ARG,
                               "tsr_batcher_create: preferred_batch[%d] = %d: sizes must increase "
                               "within 1 .. max_batch %d",
                               i, s, o->max_batch);
            b->sizes[b->n_sizes++] = s;
        }
    } else {
        for (int s = 1; s < o->max_batch && b->n_sizes < MAX_SIZES - 1; s *= 2)
            b->sizes[b->n_sizes++] = s;
    }
    if (b->n_sizes == 0 || b->sizes[b->n_sizes - 1] != o->max_batch)
        b->sizes[b->n_sizes++] = o->max_batch;
    return TSR_OK;
}

static void batcher_free(tsr_batcher *b) {
    for (int i = 0; i < b->n_dev; i++) {
        struct dev *d = &b->devs[i];
        for (int j = 0; d->in_buf && j < b->n_in; j++)
            free(d->in_buf[j]);
        for (int j = 0; d->out_buf && j < b->n_out; j++)
            free(d->out_buf[j]);
        free(d->in_buf);
        free(d->out_buf);
        tsr_plan_destroy(d->plan);
        pthread_cond_destroy(&d->cv);
    }
    for (int i = 0; b->in_names && i < b->n_in; i++)
        free(b->in_names[i]);
    for (int i = 0; b->out_names && i < b->n_out; i++)
        free(b->out_names[i]);
    free(b->in_names);
    free(b->out_names);
    free(b->in_desc);
    free(b->out_desc);
    free(b->in_row_bytes);
    free(b->out_row_bytes);
    free(b->wait_ring);
    free(b->lat_ring);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static size_t row_bytes(const struct tsr_tensor_desc *d) {
    size_t n = tsr_dtype_size(d->dtype);
    for (int k = 1; k < d->rank; k++)
        n *= (size_t)d->dims[k];
    return n;
}

/* Reads the model's inputs and outputs from plan 0 and checks dim 0 is the batch at every size
 * (specialising plan `p`, which every device's plan goes through). */
static tsr_status check_model(tsr_batcher *b, tsr_plan *p, int first,
                              const struct tsr_batcher_options *o) {
    char s1[128];
    if (first) {
        b->n_in = tsr_plan_input_count(p);
        b->n_out = tsr_plan_output_count(p);
        if (b->n_in < 1 || b->n_out < 1)
            return TSR_ERR(b->ctx, TSR_E_INVALID_ARG, "tsr_batcher_create: the model has no %s",
                           b->n_in < 1 ? "inputs" : "outputs");
        b->in_names = calloc((size_t)b->n_in, sizeof *b->in_names);
        b->out_names = calloc((size_t)b->n_out, sizeof *b->out_names);
        b->in_desc = calloc((size_t)b->n_in, sizeof *b->in_desc);
        b->out_desc = calloc((size_t)b->n_out, sizeof *b->out_desc);
        b->in_row_bytes = calloc((size_t)b->n_in, sizeof(size_t));
        b->out_row_bytes = calloc((size_t)b->n_out, sizeof(size_t));
        if (!b->in_names || !b->out_names || !b->in_desc || !b->out_desc || !b->in_row_bytes ||
            !b->out_row_bytes)
            return TSR_ERR(b->ctx, TSR_E_NOMEM, "tsr_batcher_create: out of memory");
        for (int i = 0; i < b->n_in; i++) {
            struct tsr_input_info info;
            tsr_status st = tsr_plan_input_info(p, i, &info);
            if (st != TSR_OK) return st;
            if (info.rank < 1 || info.dims[0] != -1) {
                struct tsr_tensor_desc dd = {.dtype = info.dtype, .rank = info.rank};
                for (int k = 0; k < info.rank; k++)
                    dd.dims[k] = info.dims[k];
                return TSR_ERR(b->ctx, TSR_E_SHAPE,
                               "tsr_batcher_create: input '%s' %s has no symbolic batch dim 0",
                               info.name, tsr_desc_format(&dd, s1, sizeof s1));
            }
            b->in_names[i] = strdup(info.name);
            if (!b->in_names[i]) return TSR_ERR(b->ctx, TSR_E_NOMEM, "tsr_batcher_create: oom");
            b->in_desc[i] = info.desc;
            b->in_desc[i].dims[0] = 1;
            /* the other symbolic dims take the values of o->dims, by name */
            for (int k = 1; k < info.rank; k++) {
                if (info.dims[k] != -1) continue;
                const char *nm = info.dim_names[k] ? info.dim_names[k] : "";
                int j = 0;
                while (j < o->n_dims && !(*nm && o->dims[j].name && !strcmp(o->dims[j].name, nm)))
                    j++;
                if (j == o->n_dims)
                    return TSR_ERR(b->ctx, TSR_E_SHAPE,
                                   "tsr_batcher_create: input '%s' dim %d%s%s%s is symbolic: the "
                                   "batcher needs its value (tsr_batcher_options.dims; tessera "
                                   "serve --dim NAME=N)",
                                   info.name, k, *nm ? " ('" : "", nm, *nm ? "')" : " (unnamed)");
                b->in_desc[i].dims[k] = o->dims[j].value;
            }
            b->in_row_bytes[i] = row_bytes(&b->in_desc[i]);
        }
    }
    struct tsr_tensor_desc descs[b->n_in];
    for (int k = 0; k < b->n_sizes; k++) {
        for (int i = 0; i < b->n_in; i++) {
            descs[i] = b->in_desc[i];
            descs[i].dims[0] = b->sizes[k];
        }
        tsr_status st = tsr_plan_specialize(p, descs, (size_t)b->n_in);
        if (st != TSR_OK) return st;
        for (int i = 0; i < b->n_out; i++) {
            const char *name;
            struct tsr_tensor_desc od;
            st = tsr_plan_output_desc(p, i, &name, &od);
            if (st != TSR_OK) return st;
            if (first && k == 0) {
                b->out_names[i] = strdup(name);
                if (!b->out_names[i]) return TSR_ERR(b->ctx, TSR_E_NOMEM, "oom");
                b->out_desc[i] = od;
                b->out_desc[i].dims[0] = 1;
                b->out_row_bytes[i] = row_bytes(&od);
            }
            int bad = od.rank < 1 || od.dims[0] != b->sizes[k] || od.rank != b->out_desc[i].rank;
            for (int j = 1; !bad && j < od.rank; j++)
                bad = od.dims[j] != b->out_desc[i].dims[j];
            if (bad)
                return TSR_ERR(b->ctx, TSR_E_SHAPE,
                               "tsr_batcher_create: output '%s' is %s at batch %d: dim 0 is not "
                               "the batch",
                               name, tsr_desc_format(&od, s1, sizeof s1), b->sizes[k]);
        }
    }
    return TSR_OK;
}

static tsr_status dev_setup(tsr_batcher *b, const tsr_graph *graph,
                            const struct tsr_batcher_options *o, struct dev *d, int first) {
    struct tsr_compile_options co = o->compile;
    co.device = d->id;
    co.placement = "single";
    tsr_status st = tsr_compile(b->ctx, graph, &co, &d->plan);
    if (st != TSR_OK) return st;
    st = check_model(b, d->plan, first, o);
    if (st != TSR_OK) return st;
    for (int k = 0; k < b->n_sizes; k++) {
        struct tsr_tensor_desc descs[b->n_in];
        for (int i = 0; i < b->n_in; i++) {
            descs[i] = b->in_desc[i];
            descs[i].dims[0] = b->sizes[k];
        }
        st = tsr_plan_specialize(d->plan, descs, (size_t)b->n_in);
        if (st != TSR_OK) return st;
        double ms = tsr_plan_predicted_ms(d->plan);
        /* No figures: a flat guess per row keeps the choice well defined. */
        d->pred_ms[k] = isfinite(ms) && ms > 0 ? ms : 1.0 + 0.01 * b->sizes[k];
    }
    d->corr = 1.0;
    size_t max = (size_t)b->sizes[b->n_sizes - 1];
    d->in_buf = calloc((size_t)b->n_in, sizeof(void *));
    d->out_buf = calloc((size_t)b->n_out, sizeof(void *));
    if (!d->in_buf || !d->out_buf) return TSR_ERR(b->ctx, TSR_E_NOMEM, "batcher: out of memory");
    for (int i = 0; i < b->n_in; i++)
        if (!(d->in_buf[i] = calloc(max, b->in_row_bytes[i] ? b->in_row_bytes[i] : 1)))
            return TSR_ERR(b->ctx, TSR_E_NOMEM, "batcher: out of memory");
    for (int i = 0; i < b->n_out; i++)
        if (!(d->out_buf[i] = calloc(max, b->out_row_bytes[i] ? b->out_row_bytes[i] : 1)))
            return TSR_ERR(b->ctx, TSR_E_NOMEM, "batcher: out of memory");
    return TSR_OK;
}

static void stop_threads(tsr_batcher *b, int drain) {
    tsr_request *cancel = NULL;
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    if (!drain) {
        cancel = b->q_head;
        b->q_head = b->q_tail = NULL;
        b->q_len = b->q_rows = 0;
    }
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    while (cancel) {
        tsr_request *n = cancel->next;
        request_complete(b, cancel, TSR_E_CANCELLED);
        cancel = n;
    }
    if (b->dispatcher_started) pthread_join(b->dispatcher, NULL);
    pthread_mutex_lock(&b->mu);
    b->workers_stop = 1;
    for (int i = 0; i < b->n_dev; i++)
        pthread_cond_broadcast(&b->devs[i].cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->n_dev; i++)
        if (b->devs[i].thread_started) pthread_join(b->devs[i].thread, NULL);
}

void tsr_batcher_destroy(tsr_batcher *b, int drain) {
    if (!b) return;
    stop_threads(b, drain);
    batcher_free(b);
}

tsr_status tsr_batcher_create(tsr_context *ctx, const tsr_graph *graph,
                              const struct tsr_batcher_options *opts, tsr_batcher **out) {
    if (!ctx || !graph || !out)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_batcher_create: NULL %s",
                       !ctx     ? "ctx"
                       : !graph ? "graph"
                                : "out");
    struct tsr_batcher_options o = opts ? *opts : tsr_batcher_options_default();
    if (o.max_batch < 1 || o.max_batch > TSR_BATCHER_MAX_BATCH || o.max_wait_us < 0 ||
        o.max_wait_us > 10000000 || o.max_queue < 1 || o.target_p99_us < 0 || o.n_preferred < 0 ||
        o.n_preferred > TSR_BATCHER_MAX_PREFERRED || o.n_dims < 0 ||
        o.n_dims > TSR_BATCHER_MAX_DIMS)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "tsr_batcher_create: option out of range (max_batch %d in 1..%d, "
                       "max_wait_us %lld in 0..1e7, max_queue %d >= 1, target_p99_us %lld >= 0, "
                       "n_preferred %d in 0..%d, n_dims %d in 0..%d)",
                       o.max_batch, TSR_BATCHER_MAX_BATCH, (long long)o.max_wait_us, o.max_queue,
                       (long long)o.target_p99_us, o.n_preferred, TSR_BATCHER_MAX_PREFERRED,
                       o.n_dims, TSR_BATCHER_MAX_DIMS);
    for (int j = 0; j < o.n_dims; j++)
        if (!o.dims[j].name || !o.dims[j].name[0] || o.dims[j].value < 1)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                           "tsr_batcher_create: dims[%d]: a name and a value >= 1 are needed", j);
    tsr_batcher *b = calloc(1, sizeof *b);
    if (!b) return TSR_ERR(ctx, TSR_E_NOMEM, "tsr_batcher_create: out of memory");
    b->ctx = ctx;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    b->max_batch = o.max_batch;
    b->max_queue = o.max_queue;
    b->max_wait_us = o.max_wait_us;
    b->target_p99_us = o.target_p99_us;
    b->cur_max_batch = o.max_batch;
    b->cur_wait_us = o.max_wait_us;
    const char *fe = tsr_getenv("TSR_BATCHER_FAULT");
    b->fault_every = fe ? atoi(fe) : 0;
    const char *at = fe ? strchr(fe, '@') : NULL;
    if (at) snprintf(b->fault_dev, sizeof b->fault_dev, "%s", at + 1);
    atomic_init(&b->run_count, 0);
    b->wait_ring = calloc(TSR_BATCHER_WINDOW, sizeof(int64_t));
    b->lat_ring = calloc(TSR_BATCHER_WINDOW, sizeof(int64_t));
    tsr_status st = (b->wait_ring && b->lat_ring)
                        ? make_sizes(b, &o)
                        : TSR_ERR(ctx, TSR_E_NOMEM, "tsr_batcher_create: out of memory");

    /* Devices: a comma list of tsr_device_find ids. */
    const char *list = o.devices ? o.devices : "cpu";
    const char *p = list;
    while (st == TSR_OK && *p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || n >= sizeof b->devs[0].id || b->n_dev == TSR_BATCHER_MAX_DEVICES) {
            st = TSR_ERR(ctx, TSR_E_INVALID_ARG,
                         "tsr_batcher_create: devices \"%s\": an empty or too long entry, or more "
                         "than %d",
                         list, TSR_BATCHER_MAX_DEVICES);
            break;
        }
        struct dev *d = &b->devs[b->n_dev];
        memcpy(d->id, p, n);
        d->id[n] = '\0';
        int index = -1;
        st = tsr_device_find(ctx, d->id, &index);
        for (int i = 0; st == TSR_OK && i < b->n_dev; i++)
            if (b->devs[i].idx == index)
                st = TSR_ERR(ctx, TSR_E_INVALID_ARG,
                             "tsr_batcher_create: devices \"%s\": device '%s' given twice", list,
                             d->id);
        if (st != TSR_OK) break;
        d->b = b;
        d->idx = index; /* the context's index until the setup below */
        pthread_cond_init(&d->cv, &ca);
        b->n_dev++;
        p = e ? e + 1 : p + n;
    }
    pthread_condattr_destroy(&ca);
    if (st == TSR_OK && b->n_dev == 0)
        st = TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_batcher_create: no devices in \"%s\"", list);
    for (int i = 0; st == TSR_OK && i < b->n_dev; i++) {
        struct dev *d = &b->devs[i];
        /* Same-size arrays (both 32 bytes, NUL-terminated above); memcpy rather than
         * snprintf, which GCC's -Wrestrict misreads under ASan as overlapping. */
        _Static_assert(sizeof d->st.id == sizeof d->id, "device id sizes differ");
        memcpy(d->st.id, d->id, sizeof d->id);
        st = dev_setup(b, graph, &o, d, i == 0);
    }
    for (int i = 0; i < b->n_dev; i++)
        b->devs[i].idx = i;
    if (st == TSR_OK) {
        if (pthread_create(&b->dispatcher, NULL, dispatcher_main, b) != 0)
            st = TSR_ERR(ctx, TSR_E_INTERNAL, "tsr_batcher_create: cannot start a thread");
        else
            b->dispatcher_started = 1;
    }
    for (int i = 0; st == TSR_OK && i < b->n_dev; i++) {
        if (pthread_create(&b->devs[i].thread, NULL, worker_main, &b->devs[i]) != 0)
            st = TSR_ERR(ctx, TSR_E_INTERNAL, "tsr_batcher_create: cannot start a thread");
        else
            b->devs[i].thread_started = 1;
    }
    if (st != TSR_OK) {
        stop_threads(b, 1);
        batcher_free(b);
        return st;
    }
    *out = b;
    return TSR_OK;
}

/* ---- queries ------------------------------------------------------------------------------- */

int tsr_batcher_input_count(const tsr_batcher *b) {
    return b ? b->n_in : 0;
}

int tsr_batcher_output_count(const tsr_batcher *b) {
    return b ? b->n_out : 0;
}

tsr_status tsr_batcher_input_desc(const tsr_batcher *b, int i, const char **name,
                                  struct tsr_tensor_desc *desc) {
    if (!b || i < 0 || i >= b->n_in)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_batcher_input_desc: no input %d", i);
    if (name) *name = b->in_names[i];
    if (desc) *desc = b->in_desc[i];
    return TSR_OK;
}

tsr_status tsr_batcher_output_desc(const tsr_batcher *b, int i, const char **name,
                                   struct tsr_tensor_desc *desc) {
    if (!b || i < 0 || i >= b->n_out)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_batcher_output_desc: no output %d", i);
    if (name) *name = b->out_names[i];
    if (desc) *desc = b->out_desc[i];
    return TSR_OK;
}

tsr_status tsr_batcher_get_stats(tsr_batcher *b, struct tsr_batcher_stats *out) {
    if (!b || !out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_batcher_get_stats: NULL");
    int64_t *tmp = malloc(sizeof(int64_t) * 2 * TSR_BATCHER_WINDOW);
    if (!tmp) return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_batcher_get_stats: out of memory");
    pthread_mutex_lock(&b->mu);
    *out = b->st;
    out->queue_depth = b->q_len;
    out->cur_max_batch = b->cur_max_batch;
    out->cur_wait_us = b->cur_wait_us;
    out->n_devices = b->n_dev;
    int64_t now = tsr_batcher_now_ns(), n = b->ring_n;
    for (int i = 0; i < b->n_dev; i++) {
        out->devices[i] = b->devs[i].st;
        out->devices[i].predicted_ms = dev_queued_ms(&b->devs[i], now);
        out->devices[i].correction = b->devs[i].corr;
    }
    memcpy(tmp, b->wait_ring, sizeof(int64_t) * (size_t)n);
    memcpy(tmp + TSR_BATCHER_WINDOW, b->lat_ring, sizeof(int64_t) * (size_t)n);
    pthread_mutex_unlock(&b->mu);
    qsort(tmp, (size_t)n, sizeof(int64_t), cmp_i64);
    qsort(tmp + TSR_BATCHER_WINDOW, (size_t)n, sizeof(int64_t), cmp_i64);
    out->queue_wait_p50_ns = pct(tmp, n, 0.50);
    out->queue_wait_p95_ns = pct(tmp, n, 0.95);
    out->queue_wait_p99_ns = pct(tmp, n, 0.99);
    out->latency_p50_ns = pct(tmp + TSR_BATCHER_WINDOW, n, 0.50);
    out->latency_p95_ns = pct(tmp + TSR_BATCHER_WINDOW, n, 0.95);
    out->latency_p99_ns = pct(tmp + TSR_BATCHER_WINDOW, n, 0.99);
    free(tmp);
    return TSR_OK;
}
