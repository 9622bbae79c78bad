/*
 * cl_embedded.h — the OpenCL C sources of kernels_cl/ (*.cl, *.clh), embedded into the library at
 * build time by cmake/embed_sources.cmake (generated file:
 * <build>/generated/kernels_cl_embedded.c).
 */
#ifndef TSR_OPENCL_CL_EMBEDDED_H
#define TSR_OPENCL_CL_EMBEDDED_H

#include <stddef.h>

/* One embedded file. data holds size bytes followed by a NUL (so it is also a C string). */
struct tsr_cl_embedded_file {
    const char *name; /* file name without directory, e.g. "softmax.cl" */
    const unsigned char *data;
    size_t size; /* bytes, without the trailing NUL */
};

/* Looks up an embedded file by name ("common.clh"). Returns NULL when absent. Thread-safe. */
const struct tsr_cl_embedded_file *tsr_cl_embedded_find(const char *name);

/* Number of embedded files and file i (0 .. count-1), for listing. */
size_t tsr_cl_embedded_count(void);
const struct tsr_cl_embedded_file *tsr_cl_embedded_at(size_t i);

#endif
