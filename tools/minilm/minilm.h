/*
 * minilm.h — runs the MiniLM-L6 sentence encoder that models/make_minilm.py makes (the
 * all-MiniLM-L6-v2 weights exported by torch.onnx) through the public API only (tessera.h),
 * and pools its output into sentence embeddings. Shared by the demo program tessera-minilm
 * (tools/minilm/main.c) and the test suite tests/check_minilm.c.
 *
 * Files (in the directory make_minilm.py writes, see mlm_dir): minilm_op<N>.onnx,
 * <case>_{input_ids,attention_mask,token_type_ids}.npy (int64 [batch, sequence]),
 * <case>_last_hidden_state.npy (float32 [batch, sequence, 384]), <case>_embeddings.npy
 * (float32 [batch, 384]), sentences.txt, pairs.txt.
 */
#ifndef TSR_MINILM_H
#define TSR_MINILM_H

#include "tessera.h"

#include <stddef.h>
#include <stdint.h>

#define MLM_WIDTH    384 /* hidden size of MiniLM-L6 */
#define MLM_N_INPUTS 3

/* The model's graph inputs, in the order of mlm_case.inputs. */
extern const char *const mlm_input_names[MLM_N_INPUTS];

/* Directory of the generated files: env TSR_MINILM_DIR when set and not empty, else `fallback`
 * (the build's default, <repo>/build/models/minilm, the same as make_minilm.py's). */
const char *mlm_dir(const char *fallback);

/* One batch of tokenized sentences and PyTorch's outputs for it. Owns its tensors. */
struct mlm_case {
    char name[16];
    int64_t batch, seq;
    int64_t width;                          /* hidden size: MLM_WIDTH for MiniLM, from the
                                               reference file (other BERT-style models) */
    struct tsr_tensor inputs[MLM_N_INPUTS]; /* int64 [batch, seq], mlm_input_names order */
    struct tsr_tensor hidden_ref;           /* float32 [batch, seq, width] */
    struct tsr_tensor emb_ref;              /* float32 [batch, width] */
};

/* Loads <dir>/<name>_*.npy into *c (zeroed first) and checks their dtypes and shapes agree (the
 * hidden size is taken from <name>_last_hidden_state.npy: any BERT-style encoder's files work).
 * Returns 0, or -1 with a message naming the file in err (err_size bytes, NUL-terminated) and
 * nothing left allocated. */
int mlm_case_load(const char *dir, const char *name, struct mlm_case *c, char *err,
                  size_t err_size);
/* Frees what mlm_case_load allocated. NULL-safe. */
void mlm_case_free(struct mlm_case *c);

/* What happened to one run of a model on one device. */
struct mlm_result {
    const char *stage;     /* where it stopped: "import", "compile", "run"; "done" on success */
    tsr_status status;     /* TSR_OK on success, else the failing call's status */
    char message[2048];    /* that call's tsr_last_error message; "" on success */
    char device[24];       /* device the plan ran on ("" before compile) */
    int kernels;           /* tsr_plan_kernel_count */
    double import_ms;      /* tsr_onnx_import_file, wall time */
    double compile_ms;     /* tsr_compile, wall time */
    double first_run_ms;   /* first tsr_plan_run (includes lazy device work) */
    double run_ms;         /* median of the `repeat` timed runs after the first */
    struct tsr_tensor out; /* float32 last_hidden_state [batch, seq, width]; owned
                              (mlm_result_free); data NULL unless status is TSR_OK */
};

/* Imports the ONNX model at `model` with the case's input shapes, compiles it for `device`
 * ("cpu", "opencl:0", ...; placement single, no fallback: the plan must run where asked), runs it
 * once and then `repeat` more times (repeat >= 0) timing each, and fills *r. Returns r->status.
 * Statuses: those of tsr_onnx_import_file, tsr_compile and tsr_plan_run; TSR_E_SHAPE when the
 * output is not [batch, seq, c->width] float32 (message says so). */
tsr_status mlm_run(tsr_context *ctx, const char *model, const char *device,
                   const struct mlm_case *c, int repeat, struct mlm_result *r);
/* Frees r->out. NULL-safe. */
void mlm_result_free(struct mlm_result *r);

/* sentence-transformers' pooling for this model: for each of `batch` sentences, the mean of
 * hidden[b, t, :] over the tokens t with mask[b, t] != 0 (hidden: [batch, seq, width] row-major,
 * mask: [batch, seq]), then divided by its L2 norm. Writes emb[batch, width]. */
void mlm_mean_pool(const float *hidden, const int64_t *mask, int64_t batch, int64_t seq,
                   int64_t width, float *emb);
/* ||x - ref||_2 / ||ref||_2 over n elements, in double; +inf when ref is all zero and x is not,
 * or when either holds a NaN. */
double mlm_rel_l2(const float *x, const float *ref, size_t n);
/* Dot product of two n-vectors, in double (the cosine of two L2-normalised embeddings). */
double mlm_dot(const float *a, const float *b, int64_t n);

#endif
