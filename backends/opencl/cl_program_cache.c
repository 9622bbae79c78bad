/*
 * cl_program_cache.c — OpenCL program build with an in-memory table and an on-disk binary cache.
 *
 * Key: K = SHA-256 (OpenSSL EVP) over the length-prefixed fields (file magic, source, build
 * options, CL_DEVICE_NAME, CL_DRIVER_VERSION, TSR_VERSION_STRING), as 64 hex digits. A change of
 * any of them (new driver, new tessera, new file format) is a different key, so stale binaries
 * are never loaded, and processes of an older format (other file names) never overwrite these
 * entries or read them.
 *
 * Disk: <dir>/<K>.bin where dir is $TSR_CACHE_DIR, else $XDG_CACHE_HOME/tessera/cl, else
 * $HOME/.cache/tessera/cl. File format 2 (host byte order; the cache is per machine):
 *   "TSRCLBN2" (8) | K (32) | uint64 binary size (8) | checksum (32) | binary
 * where checksum = SHA-256(B, binary) and B = SHA-256 over ("tessera program binding", source,
 * options, device, driver, version): the checksum binds the binary to the full key material, and
 * B is never stored, so a file cannot be made to pass for another key by editing its header
 * (a swapped, truncated-and-resummed or otherwise forged entry fails the checksum). The name is
 * not trusted: the recorded K must equal the K looked up.
 *
 * What is validated before the binary reaches the driver (tsr_cl_cache_entry_parse; the file is
 * read by runtime/cache_file.c: a regular file of at most TSR_CL_CACHE_MAX_FILE bytes, opened
 * without following links or blocking): magic, recorded key, size = the rest of the file,
 * checksum. After clCreateProgramWithBinary: the binary status, clBuildProgram, the build status
 * CL_BUILD_SUCCESS, CL_PROGRAM_BINARY_SIZES = the recorded size, and clCreateKernel of the
 * caller's entry point. Any failure rejects the entry
 * (counted in disk_rejects, logged at warn with the path and the reason; an entry of an older
 * format is a plain miss, logged at info), the program is built from source and the entry
 * rewritten (atomically: runtime/cache_file.h). Disk errors never fail a build: the cache is
 * best effort (a directory that cannot be written is warned about once per device).
 */
#include "backends/opencl/cl_fault.h"
#include "backends/opencl/cl_internal.h"

#include "runtime/cache_file.h"
#include "runtime/profiler.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TSR_CL_CACHE_MAGIC     "TSRCLBN2"
#define TSR_CL_CACHE_MAGIC_OLD "TSRCLBN" /* any earlier format: a plain miss */
#define TSR_CL_BINDING_TAG     "tessera program binding"

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

/* SHA-256 of `n` length-prefixed fields into out[32]. Returns 0 or -1 (OpenSSL failure). */
static int sha256_fields(const void *const *data, const size_t *len, int n, unsigned char *out) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return -1;
    int ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    for (int i = 0; ok && i < n; i++) {
        uint64_t l = len[i];
        ok = EVP_DigestUpdate(md, &l, sizeof l) == 1 &&
             (len[i] == 0 || EVP_DigestUpdate(md, data[i], len[i]) == 1);
    }
    unsigned int olen = 0;
    ok = ok && EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 32;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

/* The entry's checksum: SHA-256 of the fields (binding, binary). */
static int entry_checksum(const unsigned char *binding, const unsigned char *bin, size_t n,
                          unsigned char *out) {
    const void *f[2] = {binding, bin};
    size_t l[2] = {32, n};
    return sha256_fields(f, l, 2, out);
}

tsr_cl_cache_parse_result tsr_cl_cache_entry_parse(const unsigned char *buf, size_t n,
                                                   const unsigned char *key,
                                                   const unsigned char *binding,
                                                   const unsigned char **bin, size_t *bin_n,
                                                   const char **why) {
    *bin = NULL;
    *bin_n = 0;
    if (n >= 8 && memcmp(buf, TSR_CL_CACHE_MAGIC_OLD, 7) == 0 &&
        memcmp(buf, TSR_CL_CACHE_MAGIC, 8) != 0) {
        *why = "entry of an older format";
        return TSR_CL_CACHE_OLD;
    }
    *why = "shorter than the header";
    if (n < TSR_CL_CACHE_HEADER_BYTES) return TSR_CL_CACHE_BAD;
    *why = "bad magic";
    if (memcmp(buf, TSR_CL_CACHE_MAGIC, 8) != 0) return TSR_CL_CACHE_BAD;
    *why = "entry of another key (swapped or renamed file)";
    if (memcmp(buf + 8, key, 32) != 0) return TSR_CL_CACHE_BAD;
    uint64_t size;
    memcpy(&size, buf + 40, 8);
    *why = "recorded size differs from the file's";
    if (size == 0 || size != (uint64_t)(n - TSR_CL_CACHE_HEADER_BYTES)) return TSR_CL_CACHE_BAD;
    unsigned char sum[32];
    const unsigned char *b = buf + TSR_CL_CACHE_HEADER_BYTES;
    *why = "checksum mismatch (corrupt, truncated or forged binary)";
    if (entry_checksum(binding, b, (size_t)size, sum) != 0 || memcmp(sum, buf + 48, 32) != 0)
        return TSR_CL_CACHE_BAD;
    *bin = b;
    *bin_n = (size_t)size;
    *why = NULL;
    return TSR_CL_CACHE_VALID;
}

/* Writes the entry of (key, binding) for binary bin[0..n-1] atomically. Returns 0 or -1 with
 * *why. */
static int write_entry(const char *dir, const char *path, const unsigned char *key,
                       const unsigned char *binding, const unsigned char *bin, size_t n,
                       const char **why) {
    unsigned char hdr[TSR_CL_CACHE_HEADER_BYTES];
    uint64_t size = n;
    memcpy(hdr, TSR_CL_CACHE_MAGIC, 8);
    memcpy(hdr + 8, key, 32);
    memcpy(hdr + 40, &size, 8);
    *why = "checksum failed";
    if (entry_checksum(binding, bin, n, hdr + 48) != 0) return -1;
    const void *parts[2] = {hdr, bin};
    size_t lens[2] = {sizeof hdr, n};
    return tsr_cache_file_write(dir, path, parts, lens, 2, why);
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

/* Creates + builds a program from a validated on-disk binary and checks that it built and has
 * kernel `entry`. Returns the program, or NULL with *why (static string). */
static cl_program load_binary(struct tsr_cl_device *dev, const unsigned char *bin, size_t n,
                              const char *options, const char *entry, const char **why) {
    cl_int err = CL_SUCCESS, bin_status = CL_SUCCESS;
    const unsigned char *bins[1] = {bin};
    *why = "rejected by the driver (clCreateProgramWithBinary)";
    cl_program p =
        clCreateProgramWithBinary(dev->context, 1, &dev->device, &n, bins, &bin_status, &err);
    if (!p) return NULL;
    if (err != CL_SUCCESS || bin_status != CL_SUCCESS) goto fail;
    *why = "rejected by the driver (clBuildProgram)";
    if (clBuildProgram(p, 1, &dev->device, options, NULL, NULL) != CL_SUCCESS) goto fail;
    cl_build_status bs = CL_BUILD_ERROR;
    *why = "build status is not CL_BUILD_SUCCESS";
    if (clGetProgramBuildInfo(p, dev->device, CL_PROGRAM_BUILD_STATUS, sizeof bs, &bs, NULL) !=
            CL_SUCCESS ||
        bs != CL_BUILD_SUCCESS)
        goto fail;
    size_t got = 0;
    *why = "the driver reports another binary size";
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof got, &got, NULL) != CL_SUCCESS ||
        got != n)
        goto fail;
    *why = "no kernel of the expected entry point (clCreateKernel failed)";
    cl_kernel k = clCreateKernel(p, entry, &err);
    if (!k) goto fail;
    clReleaseKernel(k);
    *why = NULL;
    return p;
fail:
    clReleaseProgram(p);
    return NULL;
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
                              const char *source, const char *options, const char *entry,
                              cl_program *out) {
    if (!source || !entry || !out)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_cl_program_get(%s): NULL source/entry/out",
                       label ? label : "?");
    if (!options) options = "";
    if (!label) label = "program";
    /* K over (magic, source, options, device, driver, version); B over (binding tag, the same). */
    unsigned char digest[32], binding[32];
    const void *fields[6] = {TSR_CL_CACHE_MAGIC, source,      options,
                             dev->name,          dev->driver, TSR_VERSION_STRING};
    size_t lens[6] = {strlen(TSR_CL_CACHE_MAGIC), strlen(source),      strlen(options),
                      strlen(dev->name),          strlen(dev->driver), strlen(TSR_VERSION_STRING)};
    int hashed = sha256_fields(fields, lens, 6, digest) == 0;
    fields[0] = TSR_CL_BINDING_TAG;
    lens[0] = strlen(TSR_CL_BINDING_TAG);
    hashed = hashed && sha256_fields(fields, lens, 6, binding) == 0;
    if (!hashed)
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
    struct tsr_cl_program_entry *entry_rec = calloc(1, sizeof *entry_rec);
    if (!entry_rec) {
        pthread_mutex_unlock(&dev->lock);
        return TSR_ERR(ctx, TSR_E_NOMEM, "OpenCL: out of host memory for program '%s'", label);
    }
    memcpy(entry_rec->key, key, sizeof key);

    char dir[4096], path[4200];
    int have_dir = tsr_cl_cache_dir(ctx, dir, sizeof dir) == 0 &&
                   snprintf(path, sizeof path, "%s/%s.bin", dir, key) < (int)sizeof path;
    char rec[160];
    uint64_t t0 = tsr_now_ns();
    cl_program prog = NULL;
    if (have_dir) {
        unsigned char *file = NULL;
        size_t file_n = 0;
        const char *why = NULL;
        tsr_cache_file_result fr =
            tsr_cache_file_read(path, TSR_CL_CACHE_MAX_FILE, &file, &file_n, &why);
        if (fr == TSR_CACHE_FILE_OK) {
            const unsigned char *bin = NULL;
            size_t n = 0;
            tsr_cl_cache_parse_result pr =
                tsr_cl_cache_entry_parse(file, file_n, digest, binding, &bin, &n, &why);
            if (pr == TSR_CL_CACHE_VALID) {
                prog = load_binary(dev, bin, n, options, entry, &why);
            } else if (pr == TSR_CL_CACHE_OLD) {
                tsr_log(ctx, TSR_LOG_INFO, "OpenCL program cache: %s is an %s; rebuilding", path,
                        why);
                why = NULL;
            }
            free(file);
        }
        if (prog) {
            dev->prog_stats.disk_hits++;
            snprintf(rec, sizeof rec, "cache hit %s", label);
        } else if (why) {
            dev->prog_stats.disk_rejects++;
            tsr_log(ctx, TSR_LOG_WARN,
                    "OpenCL program cache: ignoring %s (%s); rebuilding '%s' from source", path,
                    why, label);
        }
    }
    if (!prog) {
        prog = build_source(ctx, dev, label, source, options, &st);
        if (!prog) {
            free(entry_rec);
            pthread_mutex_unlock(&dev->lock);
            return st;
        }
        dev->prog_stats.builds++;
        snprintf(rec, sizeof rec, "build %s", label);
        if (have_dir) {
            size_t n = 0;
            const char *why = "the driver gave no binary";
            unsigned char *bin = program_binary(prog, &n);
            if (bin && write_entry(dir, path, digest, binding, bin, n, &why) == 0) {
                dev->prog_stats.disk_writes++;
            } else {
                /* Once per device at warn (an unwritable directory fails every entry). */
                tsr_log(ctx, dev->cache_write_warned ? TSR_LOG_INFO : TSR_LOG_WARN,
                        "OpenCL program cache: could not write %s (%s); programs are rebuilt in "
                        "every process",
                        path, why);
                dev->cache_write_warned = 1;
            }
            free(bin);
        }
    }
    uint64_t t1 = tsr_now_ns();
    if (tsr_prof_enabled(ctx))
        tsr_prof_add(ctx, TSR_EVENT_COMPILE, rec, "", dev->id, 0, t0, t1, strlen(source), 0);
    entry_rec->program = prog;
    entry_rec->next = dev->programs;
    dev->programs = entry_rec;
    *out = prog;
    pthread_mutex_unlock(&dev->lock);
    return TSR_OK;
}

tsr_status tsr_cl_kernel_get(tsr_context *ctx, struct tsr_cl_device *dev, const char *label,
                             const char *source, const char *options, const char *entry,
                             const char *kernel_name, cl_kernel *out) {
    cl_program prog;
    *out = NULL;
    tsr_status st = tsr_cl_program_get(ctx, dev, label, source, options, entry, &prog);
    if (st != TSR_OK) return st;
    cl_int err = CL_SUCCESS;
    *out = clCreateKernel(prog, entry, &err);
    if (!*out)
        return TSR_ERR_CL(ctx, tsr_cl_status(err), err, "kernel '%s': clCreateKernel(%s): %s (%d)",
                          kernel_name ? kernel_name : label, entry, tsr_cl_error_name(err),
                          (int)err);
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
