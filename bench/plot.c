/*
 * plot.c — `--plot FILE.png|FILE.svg`: one image (gnuplot multiplot) holding a grouped bar chart
 * per suite (x: cases, one bar per impl@device, y: the suite's throughput on a log axis) and a
 * roofline chart (Williams, Waterman, Patterson, "Roofline", CACM 2009): achieved GFLOP/s of the
 * tessera gemm/elementwise/reduction rows against arithmetic intensity (flops / minimum bytes),
 * with each device's measured ceilings: compute = its best GEMM GFLOP/s (any impl), bandwidth =
 * its best measured GB/s over arrays >= 32 MiB, i.e. beyond the caches (STREAM/memcpy on the CPU,
 * elementwise kernels on every device).
 * Figures use device time where the row has it (that is what the device ceilings bound).
 * Needs gnuplot (Debian gnuplot-nox, optional: tools/install-deps.sh --with-bench).
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const PLOT_SUITES[] = {"gemm",   "elementwise", "reduction",
                                          "memory", "model",       "fusion"};
#define N_PLOT_SUITES 6
#define MAX_SERIES    16
#define MAX_CASES     64

/* A colour per series (global order), distinguishable side by side. */
static const char *const COLOURS[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#000000"};
#define N_COLOURS (int)(sizeof COLOURS / sizeof COLOURS[0])

static int plottable(const struct tsr_bench_row *r, const char *suite) {
    return !strcmp(r->suite, suite) && r->status == TSR_BENCH_OK && r->value > 0 &&
           strcmp(r->metric, "us");
}

/* Every impl@device in plotting order (tessera on each device first, then variants and peers in
 * row order), so a series keeps its colour in every panel. Returns the count. */
static int global_series(const struct tsr_bench_run *run, char series[][64]) {
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < run->n_rows; i++) {
            const struct tsr_bench_row *r = &run->rows[i];
            if ((pass == 0) != !strcmp(r->impl, "tessera")) continue;
            char key[64];
            snprintf(key, sizeof key, "%s@%s", r->impl, r->device);
            int found = 0;
            for (int s = 0; s < n && !found; s++)
                found = !strcmp(series[s], key);
            if (!found && n < MAX_SERIES) snprintf(series[n++], 64, "%s", key);
        }
    return n;
}

/* Writes <dir>/<suite>.dat (tab separated: case, one column per impl@device present in the
 * suite, in global order); rank[k] = global index of column k. Returns the number of series
 * (0 = nothing to plot). */
static int write_suite_data(const struct tsr_bench_run *run, const char *dir, const char *suite,
                            char series[][64], int *rank, char *metric, size_t metric_size) {
    int ns = 0, nc = 0;
    const char *cases[MAX_CASES];
    char all[MAX_SERIES][64];
    int n_all = global_series(run, all);
    for (int g = 0; g < n_all; g++) {
        int used = 0;
        for (int i = 0; i < run->n_rows && !used; i++) {
            const struct tsr_bench_row *r = &run->rows[i];
            char key[64];
            snprintf(key, sizeof key, "%s@%s", r->impl, r->device);
            used = plottable(r, suite) && !strcmp(key, all[g]);
        }
        if (used) {
            rank[ns] = g;
            snprintf(series[ns++], 64, "%s", all[g]);
        }
    }
    for (int i = 0; i < run->n_rows; i++) {
        const struct tsr_bench_row *r = &run->rows[i];
        if (!plottable(r, suite)) continue;
        if (!metric[0])
            snprintf(metric, metric_size, "%s", r->metric);
        else if (!strstr(metric, r->metric) && strlen(metric) + strlen(r->metric) + 4 < metric_size)
            snprintf(metric + strlen(metric), metric_size - strlen(metric), " | %s", r->metric);
        int found = 0;
        for (int c = 0; c < nc && !found; c++)
            found = !strcmp(cases[c], r->name);
        if (!found && nc < MAX_CASES) cases[nc++] = r->name;
    }
    if (!ns) return 0;
    char path[1100];
    snprintf(path, sizeof path, "%s/%s.dat", dir, suite);
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fprintf(f, "case");
    for (int s = 0; s < ns; s++)
        fprintf(f, "\t%s", series[s]);
    fprintf(f, "\n");
    for (int c = 0; c < nc; c++) {
        fprintf(f, "%s", cases[c]);
        for (int s = 0; s < ns; s++) {
            double v = -1;
            for (int i = 0; i < run->n_rows; i++) {
                const struct tsr_bench_row *r = &run->rows[i];
                char key[64];
                snprintf(key, sizeof key, "%s@%s", r->impl, r->device);
                if (plottable(r, suite) && !strcmp(r->name, cases[c]) && !strcmp(key, series[s]))
                    v = r->value;
            }
            if (v > 0)
                fprintf(f, "\t%g", v);
            else
                fprintf(f, "\t?");
        }
        fprintf(f, "\n");
    }
    fclose(f);
    return ns;
}

static double fig(const struct tsr_bench_row *r) {
    return r->dev_value > 0 ? r->dev_value : r->value;
}

/* Roofline data: <dir>/roof_<k>.dat per device (intensity, GFLOP/s); fills ceilings. */
static int write_roofline(const struct tsr_bench_run *run, const char *dir, FILE *gp) {
    int nd = 0;
    fprintf(gp, "set title 'roofline: tessera kernels vs measured ceilings (device time)'\n"
                "set logscale xy\nset xlabel 'arithmetic intensity (flop/byte)'\n"
                "set ylabel 'GFLOP/s'\nset key top left\nset xrange [0.05:1000]\n"
                "unset xtics\nset xtics auto\nset style data points\n");
    char plot[4096] = "plot ";
    size_t off = strlen(plot);
    for (int d = 0; d < run->n_devices; d++) {
        const char *dev = run->devices[d];
        double peak = 0, bw = 0;
        for (int i = 0; i < run->n_rows; i++) {
            const struct tsr_bench_row *r = &run->rows[i];
            if (r->status != TSR_BENCH_OK || strcmp(r->device, dev)) continue;
            if (!strcmp(r->suite, "gemm") && fig(r) > peak) peak = fig(r);
            if (r->bytes >= 32.0 * 1048576.0 &&
                (!strcmp(r->suite, "elementwise") ||
                 (!strcmp(r->suite, "memory") && strcmp(r->impl, "opencl-direct") &&
                  !strcmp(r->metric, "GB/s"))) &&
                fig(r) > bw)
                bw = fig(r);
        }
        char path[1100];
        snprintf(path, sizeof path, "%s/roof_%d.dat", dir, d);
        FILE *f = fopen(path, "w");
        if (!f) continue;
        int pts = 0;
        for (int i = 0; i < run->n_rows; i++) {
            const struct tsr_bench_row *r = &run->rows[i];
            if (r->status != TSR_BENCH_OK || strcmp(r->device, dev) || strcmp(r->impl, "tessera") ||
                r->flops <= 0 || r->bytes <= 0 || fig(r) <= 0)
                continue;
            if (strcmp(r->suite, "gemm") && strcmp(r->suite, "elementwise") &&
                strcmp(r->suite, "reduction"))
                continue;
            double ms = r->dev.n ? r->dev.median_ms : r->host.median_ms;
            fprintf(f, "%g\t%g\n", r->flops / r->bytes, r->flops / (ms * 1e-3) / 1e9);
            pts++;
        }
        fclose(f);
        if (peak <= 0 || bw <= 0) continue;
        fprintf(gp, "P%d=%g\nB%d=%g\nroof%d(x)=(x*B%d<P%d)?x*B%d:P%d\n", d, peak, d, bw, d, d, d, d,
                d);
        off += (size_t)snprintf(plot + off, sizeof plot - off,
                                "%sroof%d(x) w l lw 2 dt %d lc %d t '%s ceiling: %.0f GFLOP/s, "
                                "%.1f GB/s'",
                                nd ? ", " : "", d, d + 1, d + 1, dev, peak, bw);
        if (pts)
            off += (size_t)snprintf(plot + off, sizeof plot - off,
                                    ", '%s' u 1:2 w p pt %d ps 1.5 lc %d t 'tessera@%s'", path,
                                    5 + 2 * d, d + 1, dev);
        nd++;
        if (off >= sizeof plot - 256) break;
    }
    if (nd) fprintf(gp, "set samples 400\n%s\n", plot);
    fprintf(gp, "unset logscale\n");
    return nd;
}

/* Copies file `from` to `to` (created or truncated). 0, or -1 with errno set. */
static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb");
    if (!in) return -1;
    FILE *out = fopen(to, "wb");
    if (!out) {
        int e = errno;
        fclose(in);
        errno = e;
        return -1;
    }
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) rc = -1;
    if (ferror(in)) rc = -1;
    int e = errno;
    fclose(in);
    if (fclose(out) != 0) rc = -1;
    errno = e;
    return rc;
}

int tsr_bench_write_plot(const struct tsr_bench_run *run, const char *path) {
    const char *ext = strrchr(path, '.');
    int svg = ext && !strcmp(ext, ".svg");
    if (!ext || (!svg && strcmp(ext, ".png"))) {
        fprintf(stderr, "tessera: error: --plot %s: the file must end in .png or .svg\n", path);
        return -1;
    }
    if (access("/usr/bin/gnuplot", X_OK) != 0 && system("command -v gnuplot >/dev/null 2>&1")) {
        fprintf(stderr, "tessera: error: --plot needs gnuplot (apt install gnuplot-nox, or "
                        "tools/install-deps.sh --with-bench)\n");
        return -1;
    }
    char dir[] = "/tmp/tsr_plot_XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "tessera: error: cannot create a temporary directory for the plot\n");
        return -1;
    }
    char gpath[1100];
    snprintf(gpath, sizeof gpath, "%s/plot.gp", dir);
    FILE *gp = fopen(gpath, "w");
    if (!gp) return -1;
    int n_panels = 1;
    char series[N_PLOT_SUITES][MAX_SERIES][64], metric[N_PLOT_SUITES][40];
    int ns[N_PLOT_SUITES], rank[N_PLOT_SUITES][MAX_SERIES];
    for (int s = 0; s < N_PLOT_SUITES; s++) {
        metric[s][0] = 0;
        ns[s] = write_suite_data(run, dir, PLOT_SUITES[s], series[s], rank[s], metric[s],
                                 sizeof metric[s]);
        if (ns[s]) n_panels++;
    }
    int rows = (n_panels + 1) / 2;
    /* gnuplot writes into our temporary folder (a name without quotes); the image is then copied
     * to `path`, which may hold any character (a quote would end a gnuplot string). */
    char image[1100];
    snprintf(image, sizeof image, "%s/plot.%s", dir, svg ? "svg" : "png");
    fprintf(gp, "set terminal %s size 1800,%d font 'Sans,10' noenhanced\nset output '%s'\n",
            svg ? "svg" : "pngcairo", 520 * rows, image);
    fprintf(gp,
            "set multiplot layout %d,2 title 'tessera bench%s: medians, higher is better "
            "(log scale)'\n",
            rows, run->quick ? " --quick" : "");
    fprintf(gp, "set datafile separator '\\t'\nset datafile missing '?'\nset style data "
                "histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 "
                "border -1\nset boxwidth 0.9\nset grid ytics\nset key outside right top "
                "vertical font ',8'\nset xtics rotate by -30 font ',8'\n");
    for (int s = 0; s < N_PLOT_SUITES; s++) {
        if (!ns[s]) continue;
        fprintf(gp, "set title '%s (%s)'\nset logscale y\nset ylabel '%s'\nunset xlabel\n",
                PLOT_SUITES[s], metric[s], metric[s]);
        fprintf(gp, "plot");
        for (int k = 0; k < ns[s]; k++)
            fprintf(gp, "%s '%s/%s.dat' using %d:xtic(1) title columnhead(%d) lc rgb '%s'",
                    k ? "," : "", dir, PLOT_SUITES[s], k + 2, k + 2,
                    COLOURS[rank[s][k] % N_COLOURS]);
        fprintf(gp, "\n");
        fprintf(gp, "unset logscale y\n");
    }
    fprintf(gp, "set datafile separator whitespace\nset key inside top left box opaque font ',9'\n"
                "set xtics norotate font ',9'\nunset style\n");
    write_roofline(run, dir, gp);
    fprintf(gp, "unset multiplot\n");
    fclose(gp);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>'%s/gnuplot.log'", gpath, dir);
    int rc = system(cmd);
    if (rc != 0) {
        char log[1200];
        snprintf(log, sizeof log, "%s/gnuplot.log", dir);
        fprintf(stderr, "tessera: error: gnuplot failed (exit %d); script and log kept in %s\n", rc,
                dir);
        return -1;
    }
    struct stat st;
    int result = 0;
    if (stat(image, &st) != 0 || st.st_size == 0) {
        fprintf(stderr, "tessera: error: gnuplot wrote no image (script kept in %s)\n", dir);
        return -1;
    }
    if (copy_file(image, path) != 0) {
        fprintf(stderr, "tessera: error: --plot %s: cannot write: %s\n", path, strerror(errno));
        result = -1;
    }
    /* Clean up the temporary files (names are ours). */
    char rm[1200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "tessera: warning: could not remove %s\n", dir);
    return result;
}
