/*
 * cl_program_cache.c — OpenCL program build with an in-memory table and an on-disk binary cache.
 *
 * Key: SHA-256 (OpenSSL EVP) over the length-prefixed fields (source, build options,
 * CL_DEVICE_NAME, CL_DRIVER_VERSION, TSR_VERSION_STRING), as 64 hex digits. A change of any of
 * them (new driver, new tessera) is a different key, so stale binaries are never loaded.
 *
 * Disk: <dir>/<key>.bin where dir is $TSR_CACHE_DIR, else $XDG_CACHE_HOME/tessera/cl, else
 * $HOME/.cache/tessera/cl. File format (host byte order; the cache is per machine):
 *   "TSRCLBN1" (8 bytes) | uint64 binary size | SHA-256 of the binary (32 bytes) | binary
 * The checksum is verified before the binary reaches the driver, so a truncated or corrupted
 * file is rejected (counted in disk_rejects, logged at info) and the program is rebuilt from
 * source and the entry rewritten. Writes go to a unique temp file in the same directory, then
 * rename(2), which is atomic on POSIX file systems: readers see the old file or the new one,
 * never a partial one. Disk errors never fail a build: the cache is best effort.
 */
#include "backends/opencl/cl_fault.h"
#include "backends/opencl/cl_internal.h"

#include "runtime/profiler.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TSR_CL_CACHE_MAGIC  "TSRCLBN1"
#define TSR_CL_HEADER_BYTES (8 + 8 + 32)

int tsr_cl_cache_dir(const tsr_context *ctx, char *buf, size_t size) {
    const char *d = tsr_context_cache_dir(ctx);
    int n;
    if (d)
        n = snprintf(buf, size, "%s", d);
    else if ((d = tsr_getenv("XDG_CACHE_HOME")))
        n = snprintf(buf, size, "%s/tessera/cl", d);
    else if ((d = tsr_getenv("HOME")))
        n = snprintf(buf, size, "%s/.cache/tessera/cl", d);
    else
        return -1;
    return (n > 0 && (size_t)n < size) ? 0 : -1;
}

/* mkdir -p. Returns 0 on success (or already there). */
static int make_dirs(const char *path) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(tmp, 0755) == 0 || errno == EEXIST) ? 0 : -1;
}

static void sha_field(EVP_MD_CTX *md, const void *data, size_t n) {
    uint64_t len = n;
    EVP_DigestUpdate(md, &len, sizeof len);
    if (n) EVP_DigestUpdate(md, data, n);
}

/* SHA-256 of `n` fields into out[32]. Returns 0 or -1 (OpenSSL failure). */
static int sha256_fields(const void *const *data, const size_t *len, int n, unsigned char *out) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return -1;
    int ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    for (int i = 0; ok && i < n; i++)
        sha_field(md, data[i], len[i]);
    unsigned int olen = 0;
    ok = ok && EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 32;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

static int sha256_bytes(const void *data, size_t n, unsigned char *out) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return -1;
    unsigned int olen = 0;
    int ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, data, n) == 1 &&
             EVP_DigestFinal_ex(md, out, &olen) == 1;
    EVP_MD_CTX_free(md);
    return ok && olen == 32 ? 0 : -1;
}

/* Reads the whole cache file and verifies it. Returns a malloc'd binary (size in *n) or NULL. */
static unsigned char *read_entry(const char *path, size_t *n, const char **why) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = NULL; /* absent: a plain miss */
        return NULL;
    }
    unsigned char hdr[TSR_CL_HEADER_BYTES];
    unsigned char *bin = NULL;
    uint64_t size = 0;
    *why = "unreadable header";
    if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr) goto fail;
    *why = "bad magic";
    if (memcmp(hdr, TSR_CL_CACHE_MAGIC, 8) != 0) goto fail;
    memcpy(&size, hdr + 8, 8);
    *why = "bad size";
    if (size == 0 || size > ((uint64_t)1 << 31)) goto fail;
    /* checked against the file before allocating: a 48-byte file claiming 2 GiB is rejected
     * without the allocation (found by tests/fuzz/fuzz_clcache) */
    struct stat sb;
    *why = "size does not match the file";
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) ||
        (uint64_t)sb.st_size != TSR_CL_HEADER_BYTES + size)
        goto fail;
    bin = malloc((size_t)size);
    *why = "out of memory";
    if (!bin) goto fail;
    *why = "truncated";
    if (fread(bin, 1, (size_t)size, f) != size) goto fail;
    *why = "trailing bytes";
    if (fgetc(f) != EOF) goto fail;
    unsigned char sum[32];
    *why = "checksum mismatch";
    if (sha256_bytes(bin, (size_t)size, sum) != 0 || memcmp(sum, hdr + 16, 32) != 0) goto fail;
    fclose(f);
    *n = (size_t)size;
    *why = NULL;
    return bin;
fail:
    free(bin);
    fclose(f);
    return NULL;
}

/* Writes the entry atomically (temp + rename). Returns 0 or -1. */
static int write_entry(const char *dir, const char *path, const unsigned char *bin, size_t n) {
    static atomic_uint counter;
    unsigned char hdr[TSR_CL_HEADER_BYTES];
    uint64_t size = n;
    memcpy(hdr, TSR_CL_CACHE_MAGIC, 8);
    memcpy(hdr + 8, &size, 8);
    if (sha256_bytes(bin, n, hdr + 16) != 0) return -1;
    if (make_dirs(dir) != 0) return -1;
    char tmp[4200];
    int w = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(),
                     atomic_fetch_add(&counter, 1u));
    if (w < 0 || (size_t)w >= sizeof tmp) return -1;
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    int ok = fwrite(hdr, 1, sizeof hdr, f) == sizeof hdr && fwrite(bin, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Fetches the binary of a built single-device program (malloc'd) or NULL. */
static unsigned char *program_binary(cl_program prog, size_t *n) {
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS ||
        size == 0)
        return NULL;
    unsigned char *bin = malloc(size);
    if (!bin) return NULL;
    unsigned char *ptrs[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof ptrs, ptrs, NULL) != CL_SUCCESS) {
        free(bin);
        return NULL;
    }
    *n = size;
    return bin;
}

/* Tries to create + build a program from an on-disk binary. Returns the program or NULL. */
static cl_program load_binary(struct tsr_cl_device *dev, const unsigned char *bin, size_t n,
                              const char *options) {
    cl_int err = CL_SUCCESS, bin_status = CL_SUCCESS;
    const unsigned char *bins[1] = {bin};
    cl_program p =
        clCreateProgramWithBinary(dev->context, 1, &dev->device, &n, bins, &bin_status, &err);
    if (!p) return NULL;
    if (err != CL_SUCCESS || bin_status != CL_SUCCESS ||
        clBuildProgram(p, 1, &dev->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(p);
        return NULL;
    }
    return p;
}

/* Builds from source; on failure records TSR_E_BUILD with the build log and returns NULL. */
static cl_program build_source(tsr_context *ctx, struct tsr_cl_device *dev, const char *label,
                               const char *source, const char *options, tsr_status *st) {
    cl_int err = CL_SUCCESS;
    size_t len = strlen(source);
    cl_program p = clCreateProgramWithSource(dev->context, 1, &source, &len, &err);
    if (!p) {
        *st = TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                         "OpenCL %s: clCreateProgramWithSource(%s): %s (%d)", dev->id, label,
                         tsr_cl_error_name(err), (int)err);
        return NULL;
    }
    err = clBuildProgram(p, 1, &dev->device, options, NULL, NULL);
    if (err == CL_SUCCESS) return p;
    char *log = NULL;
    size_t log_size = 0;
    if (clGetProgramBuildInfo(p, dev->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size) ==
            CL_SUCCESS &&
        log_size > 0 && (log = malloc(log_size + 1)) != NULL) {
        if (clGetProgramBuildInfo(p, dev->device, CL_PROGRAM_BUILD_LOG, log_size, log, NULL) !=
            CL_SUCCESS)
            log[0] = '\0';
        log[log_size] = '\0';
    }
    tsr_status s = (err == CL_BUILD_PROGRAM_FAILURE || err == CL_INVALID_BUILD_OPTIONS ||
                    err == CL_COMPILER_NOT_AVAILABLE)
                       ? TSR_E_BUILD
                       : tsr_cl_status(err);
    *st =
        TSR_ERR_CL(ctx, s, err, "OpenCL %s: build of '%s' failed: %s (%d); build log:\n%s", dev->id,
                   label, tsr_cl_error_name(err), (int)err, log && log[0] ? log : "(empty)");
    /* The context message is bounded; keep the full log available at debug level. */
    tsr_log(ctx, TSR_LOG_DEBUG, "build log of '%s':\n%s", label, log ? log : "(none)");
    free(log);
    clReleaseProgram(p);
    return NULL;
}

tsr_status tsr_cl_program_get(tsr_context *ctx, struct tsr_cl_device *dev, const char *label,
                              const char *source, const char *options, cl_program *out) {
    if (!source || !out)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_cl_program_get(%s): NULL source/out",
                       label ? label : "?");
    if (!options) options = "";
    if (!label) label = "program";
    unsigned char digest[32];
    const void *fields[5] = {source, options, dev->name, dev->driver, TSR_VERSION_STRING};
    size_t lens[5] = {strlen(source), strlen(options), strlen(dev->name), strlen(dev->driver),
                      strlen(TSR_VERSION_STRING)};
    if (sha256_fields(fields, lens, 5, digest) != 0)
        return TSR_ERR(ctx, TSR_E_INTERNAL, "OpenCL: SHA-256 (OpenSSL EVP) failed for '%s'", label);
    char key[65];
    for (int i = 0; i < 32; i++)
        snprintf(key + 2 * i, 3, "%02x", digest[i]);

    tsr_status st = TSR_OK;
    pthread_mutex_lock(&dev->lock);
    for (struct tsr_cl_program_entry *e = dev->programs; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            dev->prog_stats.memory_hits++;
            *out = e->program;
            pthread_mutex_unlock(&dev->lock);
            return TSR_OK;
        }
    }
    if ((st = tsr_cl_fault_build(ctx, dev->id, label)) != TSR_OK) { /* TSR_FAULT=cl_build:N */
        pthread_mutex_unlock(&dev->lock);
        return st;
    }
    struct tsr_cl_program_entry *entry = calloc(1, sizeof *entry);
    if (!entry) {
        pthread_mutex_unlock(&dev->lock);
        return TSR_ERR(ctx, TSR_E_NOMEM, "OpenCL: out of host memory for program '%s'", label);
    }
    memcpy(entry->key, key, sizeof key);

    char dir[4096], path[4200];
    int have_dir = tsr_cl_cache_dir(ctx, dir, sizeof dir) == 0;
    if (have_dir) snprintf(path, sizeof path, "%s/%s.bin", dir, key);
    char rec[160];
    uint64_t t0 = tsr_now_ns();
    cl_program prog = NULL;
    if (have_dir) {
        size_t n = 0;
        const char *why = NULL;
        unsigned char *bin = read_entry(path, &n, &why);
        if (bin) {
            prog = load_binary(dev, bin, n, options);
            if (!prog) why = "rejected by the driver";
            free(bin);
        }
        if (prog) {
            dev->prog_stats.disk_hits++;
            snprintf(rec, sizeof rec, "cache hit %s", label);
        } else if (why) {
            dev->prog_stats.disk_rejects++;
            tsr_log(ctx, TSR_LOG_INFO, "OpenCL program cache: ignoring %s (%s); rebuilding", path,
                    why);
        }
    }
    if (!prog) {
        prog = build_source(ctx, dev, label, source, options, &st);
        if (!prog) {
            free(entry);
            pthread_mutex_unlock(&dev->lock);
            return st;
        }
        dev->prog_stats.builds++;
        snprintf(rec, sizeof rec, "build %s", label);
        if (have_dir) {
            size_t n = 0;
            unsigned char *bin = program_binary(prog, &n);
            if (bin && write_entry(dir, path, bin, n) == 0)
                dev->prog_stats.disk_writes++;
            else
                tsr_log(ctx, TSR_LOG_INFO, "OpenCL program cache: could not write %s", path);
            free(bin);
        }
    }
    uint64_t t1 = tsr_now_ns();
    if (tsr_prof_enabled(ctx))
        tsr_prof_add(ctx, TSR_EVENT_COMPILE, rec, "", dev->id, 0, t0, t1, strlen(source), 0);
    entry->program = prog;
    entry->next = dev->programs;
    dev->programs = entry;
    *out = prog;
    pthread_mutex_unlock(&dev->lock);
    return TSR_OK;
}

void tsr_cl_program_cache_clear(struct tsr_cl_device *dev) {
    pthread_mutex_lock(&dev->lock);
    struct tsr_cl_program_entry *e = dev->programs;
    while (e) {
        struct tsr_cl_program_entry *n = e->next;
        clReleaseProgram(e->program);
        free(e);
        e = n;
    }
    dev->programs = NULL;
    pthread_mutex_unlock(&dev->lock);
}

tsr_status tsr_opencl_program_stats(const struct tsr_opencl_backend *ocl, int i,
                                    struct tsr_cl_program_stats *out) {
    if (!ocl || i < 0 || i >= ocl->n_devices || !out) return TSR_E_INVALID_ARG;
    struct tsr_cl_device *d = &ocl->devices[i];
    pthread_mutex_lock(&d->lock);
    *out = d->prog_stats;
    pthread_mutex_unlock(&d->lock);
    return TSR_OK;
}

unsigned char *tsr_cl_cache_read_file(const char *path, size_t *n, const char **why) {
    return read_entry(path, n, why);
}
