/*
 * main.c — tessera-minilm: the MiniLM-L6 sentence-embedding demo (tools/demo.sh runs it).
 *
 * Runs the all-MiniLM-L6-v2 encoder made by models/make_minilm.sh on the 8 bundled sentences
 * (batch 8, 128 tokens) on every device, pools each sentence's tokens (mean over the attention
 * mask, L2-normalised) and prints, per device, the cosine similarity of each sentence pair of
 * pairs.txt next to PyTorch's, the embeddings' relative L2 error against PyTorch's, and the time
 * per batch. Uses only the public API (tessera.h). A device where tessera refuses the model
 * gets one line saying where it stopped (import or compile) and tessera's message.
 *
 * Exit status: 0 every device ran; 2 a device refused the model or the files are missing (one
 * line says which); 1 internal failure.
 */
#include "minilm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SENTENCES 8
#define MAX_PAIRS     16
#define MAX_DEVICES   8

static const char *const USAGE =
    "usage: tessera-minilm [--dir DIR] [--opset 14|17] [--device D|all] [--repeat N]\n"
    "  --dir DIR     files made by models/make_minilm.sh (default $TSR_MINILM_DIR, else\n"
    "                " TSR_MINILM_DEFAULT_DIR ")\n"
    "  --opset N     which export to run (default 17)\n"
    "  --device D    cpu, opencl, opencl:N or all (default all)\n"
    "  --repeat N    timed runs per device after one warm-up (default 5; the median is shown)\n";

struct pair {
    int a, b;
    char kind[16];
};

static int read_lines(const char *path, char lines[][256], int max) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0;
    while (n < max && fgets(lines[n], 256, f)) {
        lines[n][strcspn(lines[n], "\n")] = '\0';
        n++;
    }
    fclose(f);
    return n;
}

static int read_pairs(const char *path, struct pair *p, int max, int n_sentences) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0;
    while (n < max && fscanf(f, "%d %d %15s", &p[n].a, &p[n].b, p[n].kind) == 3) {
        if (p[n].a < 0 || p[n].b < 0 || p[n].a >= n_sentences || p[n].b >= n_sentences) {
            fclose(f);
            return -1;
        }
        n++;
    }
    fclose(f);
    return n;
}

int main(int argc, char **argv) {
    const char *dir = mlm_dir(TSR_MINILM_DEFAULT_DIR);
    const char *device = "all";
    int opset = 17, repeat = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--opset") && i + 1 < argc)
            opset = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--device") && i + 1 < argc)
            device = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else {
            fputs(USAGE, !strcmp(argv[i], "--help") ? stdout : stderr);
            return !strcmp(argv[i], "--help") ? 0 : 2;
        }
    }
    if ((opset != 14 && opset != 17) || repeat < 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    char path[4096], model[4096], err[4352];
    char sentences[MAX_SENTENCES][256];
    struct pair pairs[MAX_PAIRS];
    snprintf(path, sizeof path, "%s/sentences.txt", dir);
    int n_sent = read_lines(path, sentences, MAX_SENTENCES);
    snprintf(path, sizeof path, "%s/pairs.txt", dir);
    int n_pairs = n_sent > 0 ? read_pairs(path, pairs, MAX_PAIRS, n_sent) : -1;
    snprintf(model, sizeof model, "%s/minilm_op%d.onnx", dir, opset);
    struct mlm_case c;
    if (n_sent <= 0 || n_pairs <= 0 || mlm_case_load(dir, "b8", &c, err, sizeof err) != 0) {
        fprintf(stderr,
                "tessera-minilm: error: the MiniLM files are missing or unreadable in %s (%s); "
                "models/make_minilm.sh makes them\n",
                dir, n_sent <= 0 || n_pairs <= 0 ? path : err);
        return 2;
    }
    if (c.batch != n_sent) {
        fprintf(stderr, "tessera-minilm: error: %s/b8_*.npy has %lld sentences, %s %d\n", dir,
                (long long)c.batch, "sentences.txt", n_sent);
        mlm_case_free(&c);
        return 2;
    }

    tsr_context *ctx = NULL;
    tsr_status st = tsr_context_create(NULL, &ctx);
    if (st != TSR_OK) {
        fprintf(stderr, "tessera-minilm: error: context: %s\n", tsr_last_error(NULL)->message);
        mlm_case_free(&c);
        return 1;
    }
    char ids[MAX_DEVICES][24];
    int n_dev = 0;
    if (!strcmp(device, "all")) {
        for (int i = 0; i < tsr_device_count(ctx) && n_dev < MAX_DEVICES; i++) {
            struct tsr_device_info info;
            if (tsr_device_get_info(ctx, i, &info) == TSR_OK)
                snprintf(ids[n_dev++], sizeof ids[0], "%s", info.id);
        }
    } else {
        snprintf(ids[n_dev++], sizeof ids[0], "%s", device);
    }

    printf("MiniLM-L6 (all-MiniLM-L6-v2, %s): batch %lld x %lld tokens, mean pooling\n", model,
           (long long)c.batch, (long long)c.seq);
    for (int i = 0; i < n_sent; i++)
        printf("  [%d] %s\n", i, sentences[i]);

    float *emb_dev[MAX_DEVICES] = {0};
    double ms[MAX_DEVICES], rel_emb[MAX_DEVICES], rel_hidden[MAX_DEVICES];
    int kernels[MAX_DEVICES];
    int refused = 0, failed = 0;
    size_t n_emb = (size_t)c.batch * MLM_WIDTH;
    for (int d = 0; d < n_dev; d++) {
        struct mlm_result r;
        st = mlm_run(ctx, model, ids[d], &c, repeat, &r);
        if (st != TSR_OK) {
            printf("  %-9s tessera stops at %s: %s: %s\n", ids[d], r.stage, tsr_status_name(st),
                   r.message);
            if (st == TSR_E_UNSUPPORTED || st == TSR_E_DTYPE || st == TSR_E_SHAPE ||
                st == TSR_E_NOT_FOUND || st == TSR_E_INVALID_ARG)
                refused = 1;
            else
                failed = 1;
            continue;
        }
        emb_dev[d] = malloc(n_emb * sizeof(float));
        if (!emb_dev[d]) {
            mlm_result_free(&r);
            failed = 1;
            continue;
        }
        mlm_mean_pool(r.out.data, c.inputs[1].data, c.batch, c.seq, MLM_WIDTH, emb_dev[d]);
        rel_hidden[d] = mlm_rel_l2(r.out.data, c.hidden_ref.data, n_emb * (size_t)c.seq);
        rel_emb[d] = mlm_rel_l2(emb_dev[d], c.emb_ref.data, n_emb);
        ms[d] = repeat > 0 ? r.run_ms : r.first_run_ms;
        kernels[d] = r.kernels;
        mlm_result_free(&r);
    }

    /* One table: a row per pair, a column for PyTorch and for each device that ran. */
    printf("\n  %-16s %8s", "pair (cosine)", "PyTorch");
    for (int d = 0; d < n_dev; d++)
        if (emb_dev[d]) printf(" %9s", ids[d]);
    printf("\n");
    const float *ref = c.emb_ref.data;
    for (int p = 0; p < n_pairs; p++) {
        char label[32];
        snprintf(label, sizeof label, "%d-%d %s", pairs[p].a, pairs[p].b, pairs[p].kind);
        printf("  %-16s %8.4f", label,
               mlm_dot(ref + pairs[p].a * MLM_WIDTH, ref + pairs[p].b * MLM_WIDTH, MLM_WIDTH));
        for (int d = 0; d < n_dev; d++)
            if (emb_dev[d])
                printf(" %9.4f", mlm_dot(emb_dev[d] + pairs[p].a * MLM_WIDTH,
                                         emb_dev[d] + pairs[p].b * MLM_WIDTH, MLM_WIDTH));
        printf("\n");
    }
    for (int d = 0; d < n_dev; d++)
        if (emb_dev[d])
            printf("  %-9s %.1f ms per batch (median of %d), %d kernels; relative L2 error vs "
                   "PyTorch: last_hidden_state %.2e, embeddings %.2e\n",
                   ids[d], ms[d], repeat > 0 ? repeat : 1, kernels[d], rel_hidden[d], rel_emb[d]);
    for (int d = 0; d < n_dev; d++)
        free(emb_dev[d]);
    mlm_case_free(&c);
    tsr_context_destroy(ctx);
    return failed ? 1 : refused ? 2 : 0;
}
