/*
 * kserve.c — the KServe v2 inference protocol's JSON (serve.h): metadata, infer request decode
 * (JSON tensors, binary tensor data extension), infer response encode. Parsing and printing go
 * through json-c.
 */
#include "serve.h"

#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    tsr_dtype dtype;
    const char *name;
} DATATYPES[] = {{TSR_BOOL, "BOOL"}, {TSR_U8, "UINT8"},  {TSR_U16, "UINT16"}, {TSR_U32, "UINT32"},
                 {TSR_I8, "INT8"},   {TSR_I16, "INT16"}, {TSR_I32, "INT32"},  {TSR_I64, "INT64"},
                 {TSR_F16, "FP16"},  {TSR_F32, "FP32"},  {TSR_F64, "FP64"}};
#define N_DATATYPES (sizeof DATATYPES / sizeof DATATYPES[0])

const char *tsv_datatype_name(tsr_dtype dtype) {
    for (size_t i = 0; i < N_DATATYPES; i++)
        if (DATATYPES[i].dtype == dtype) return DATATYPES[i].name;
    return NULL;
}

static int datatype_parse(const char *name, tsr_dtype *out) {
    for (size_t i = 0; i < N_DATATYPES; i++)
        if (!strcmp(DATATYPES[i].name, name)) {
            *out = DATATYPES[i].dtype;
            return 0;
        }
    return -1;
}

/* The malloc'd plain serialisation of obj (consumes obj). */
static char *to_string(json_object *obj) {
    if (!obj) return NULL;
    const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE);
    char *copy = s ? strdup(s) : NULL;
    json_object_put(obj);
    return copy;
}

char *tsv_server_metadata(void) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string("tessera"));
    json_object_object_add(o, "version", json_object_new_string(tsr_version()));
    json_object *ext = json_object_new_array();
    json_object_array_add(ext, json_object_new_string("binary_tensor_data"));
    json_object_object_add(o, "extensions", ext);
    return to_string(o);
}

static json_object *dims_json(int rank, const int64_t *dims) {
    json_object *a = json_object_new_array();
    for (int i = 0; i < rank; i++)
        json_object_array_add(a, json_object_new_int64(dims[i]));
    return a;
}

static json_object *io_list_json(int n, const struct tsv_io *io) {
    json_object *a = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *t = json_object_new_object();
        const char *dt = tsv_datatype_name(io[i].dtype);
        json_object_object_add(t, "name", json_object_new_string(io[i].name));
        json_object_object_add(t, "datatype", json_object_new_string(dt ? dt : "BYTES"));
        json_object_object_add(t, "shape", dims_json(io[i].rank, io[i].dims));
        json_object_array_add(a, t);
    }
    return a;
}

char *tsv_model_metadata(const struct tsv_model *model) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(model->name));
    json_object *versions = json_object_new_array();
    json_object_array_add(versions, json_object_new_string("1"));
    json_object_object_add(o, "versions", versions);
    json_object_object_add(o, "platform", json_object_new_string("tessera_onnx"));
    json_object_object_add(o, "inputs", io_list_json(model->n_inputs, model->inputs));
    json_object_object_add(o, "outputs", io_list_json(model->n_outputs, model->outputs));
    return to_string(o);
}

char *tsv_error_body(const char *message) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(message));
    return to_string(o);
}

/* ---- request decode ---------------------------------------------------------------------- */

static int fail(char *err, size_t err_size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t err_size, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return code;
}

static void format_dims(int rank, const int64_t *dims, char *buf, size_t size) {
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (k < size) snprintf(buf + k, size - k, "]");
}

static void list_names(int n, const struct tsv_io *io, char *buf, size_t size) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "", io[i].name);
}

/* Looks up key in obj; NULL when absent or JSON null. */
static json_object *member(json_object *obj, const char *key) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v)) return NULL;
    return v;
}

/* Counts the leaves of a (possibly nested) array. -1 when an element is an object. */
static int64_t count_leaves(json_object *v, int depth) {
    if (json_object_get_type(v) != json_type_array) return 1;
    if (depth > TSR_MAX_RANK + 1) return -1;
    int64_t n = 0;
    size_t len = json_object_array_length(v);
    for (size_t i = 0; i < len; i++) {
        int64_t c = count_leaves(json_object_array_get_idx(v, i), depth + 1);
        if (c < 0) return -1;
        n += c;
    }
    return n;
}

struct fill {
    void *dst;
    tsr_dtype dtype;
    int64_t next;
    const char *input;
    char *err;
    size_t err_size;
};

static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, mant = x & 0x7fffffu;
    int exp = (int)((x >> 23) & 0xff) - 127 + 15;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, x;
    if (exp == 0) {
        if (!mant) {
            x = sign;
        } else {
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000u | (mant << 13);
    } else {
        x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* Stores one JSON leaf as element fl->next. Returns 0 or 400 (a message in fl->err). */
static int store_leaf(struct fill *fl, json_object *v) {
    enum json_type t = json_object_get_type(v);
    int is_num = t == json_type_int || t == json_type_double;
    int64_t i = fl->next++;
    if (fl->dtype == TSR_BOOL) {
        if (t != json_type_boolean && t != json_type_int)
            return fail(fl->err, fl->err_size, 400,
                        "input '%s': data[%lld] is a %s, expected a boolean", fl->input,
                        (long long)i, json_type_to_name(t));
        ((uint8_t *)fl->dst)[i] = json_object_get_boolean(v) ? 1 : 0;
        return 0;
    }
    if (!is_num)
        return fail(fl->err, fl->err_size, 400, "input '%s': data[%lld] is a %s, expected a number",
                    fl->input, (long long)i, json_type_to_name(t));
    int is_float = fl->dtype == TSR_F32 || fl->dtype == TSR_F64 || fl->dtype == TSR_F16;
    if (!is_float && t == json_type_double)
        return fail(fl->err, fl->err_size, 400,
                    "input '%s': data[%lld] = %s is not an integer (datatype %s)", fl->input,
                    (long long)i, json_object_get_string(v), tsv_datatype_name(fl->dtype));
    double d = json_object_get_double(v);
    int64_t n = json_object_get_int64(v);
    switch (fl->dtype) {
    case TSR_F32:
        ((float *)fl->dst)[i] = (float)d;
        return 0;
    case TSR_F64:
        ((double *)fl->dst)[i] = d;
        return 0;
    case TSR_F16:
        ((uint16_t *)fl->dst)[i] = f32_to_f16((float)d);
        return 0;
    default:
        break;
    }
    int64_t lo, hi;
    switch (fl->dtype) {
    case TSR_U8:
        lo = 0, hi = UINT8_MAX;
        break;
    case TSR_U16:
        lo = 0, hi = UINT16_MAX;
        break;
    case TSR_U32:
        lo = 0, hi = UINT32_MAX;
        break;
    case TSR_I8:
        lo = INT8_MIN, hi = INT8_MAX;
        break;
    case TSR_I16:
        lo = INT16_MIN, hi = INT16_MAX;
        break;
    case TSR_I32:
        lo = INT32_MIN, hi = INT32_MAX;
        break;
    default:
        lo = INT64_MIN, hi = INT64_MAX;
        break;
    }
    if (n < lo || n > hi)
        return fail(fl->err, fl->err_size, 400,
                    "input '%s': data[%lld] = %s is out of range for %s", fl->input, (long long)i,
                    json_object_get_string(v), tsv_datatype_name(fl->dtype));
    switch (fl->dtype) {
    case TSR_U8:
        ((uint8_t *)fl->dst)[i] = (uint8_t)n;
        break;
    case TSR_U16:
        ((uint16_t *)fl->dst)[i] = (uint16_t)n;
        break;
    case TSR_U32:
        ((uint32_t *)fl->dst)[i] = (uint32_t)n;
        break;
    case TSR_I8:
        ((int8_t *)fl->dst)[i] = (int8_t)n;
        break;
    case TSR_I16:
        ((int16_t *)fl->dst)[i] = (int16_t)n;
        break;
    case TSR_I32:
        ((int32_t *)fl->dst)[i] = (int32_t)n;
        break;
    default:
        ((int64_t *)fl->dst)[i] = n;
        break;
    }
    return 0;
}

static int store_all(struct fill *fl, json_object *v) {
    if (json_object_get_type(v) != json_type_array) return store_leaf(fl, v);
    size_t len = json_object_array_length(v);
    for (size_t i = 0; i < len; i++) {
        int rc = store_all(fl, json_object_array_get_idx(v, i));
        if (rc) return rc;
    }
    return 0;
}

/* Reads parameters.<key> of obj as a boolean (0 when absent). */
static int param_bool(json_object *obj, const char *key) {
    json_object *p = member(obj, "parameters"), *v;
    if (!p || json_object_get_type(p) != json_type_object) return 0;
    v = member(p, key);
    return v && json_object_get_boolean(v);
}

/* Decodes one entry of "inputs". */
static int decode_input(const struct tsv_model *model, json_object *in, size_t k,
                        struct tsv_request *req, int *given, const char **bin, size_t *bin_left,
                        char *err, size_t err_size) {
    char names[2048];
    if (json_object_get_type(in) != json_type_object)
        return fail(err, err_size, 400, "inputs[%zu] is not an object", k);
    json_object *jn = member(in, "name"), *js = member(in, "shape"), *jd = member(in, "datatype");
    if (!jn || json_object_get_type(jn) != json_type_string)
        return fail(err, err_size, 400, "inputs[%zu] has no \"name\" string", k);
    const char *name = json_object_get_string(jn);
    int idx = -1;
    for (int i = 0; i < model->n_inputs; i++)
        if (!strcmp(model->inputs[i].name, name)) idx = i;
    if (idx < 0) {
        list_names(model->n_inputs, model->inputs, names, sizeof names);
        return fail(err, err_size, 400, "unknown input '%s' (the model's inputs: %s)", name, names);
    }
    if (given[idx]) return fail(err, err_size, 400, "input '%s' given twice", name);
    given[idx] = 1;
    const struct tsv_io *io = &model->inputs[idx];
    if (!jd || json_object_get_type(jd) != json_type_string)
        return fail(err, err_size, 400, "input '%s' has no \"datatype\" string", name);
    tsr_dtype dt;
    const char *dts = json_object_get_string(jd);
    const char *want = tsv_datatype_name(io->dtype);
    if (datatype_parse(dts, &dt))
        return fail(err, err_size, 400, "input '%s': unknown datatype '%s' (the model expects %s)",
                    name, dts, want ? want : "?");
    if (dt != io->dtype)
        return fail(err, err_size, 400, "input '%s': datatype %s, the model expects %s", name, dts,
                    want ? want : "?");
    if (!js || json_object_get_type(js) != json_type_array)
        return fail(err, err_size, 400, "input '%s' has no \"shape\" array", name);
    struct tsr_tensor_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.dtype = dt;
    size_t rank = json_object_array_length(js);
    char model_shape[256], got_shape[256];
    format_dims(io->rank, io->dims, model_shape, sizeof model_shape);
    if (rank > TSR_MAX_RANK)
        return fail(err, err_size, 400, "input '%s': shape of rank %zu (the model's: %s)", name,
                    rank, model_shape);
    desc.rank = (int)rank;
    for (size_t d = 0; d < rank; d++) {
        json_object *e = json_object_array_get_idx(js, d);
        if (json_object_get_type(e) != json_type_int || json_object_get_int64(e) < 0)
            return fail(err, err_size, 400, "input '%s': shape[%zu] is not a non-negative integer",
                        name, d);
        desc.dims[d] = json_object_get_int64(e);
    }
    format_dims(desc.rank, desc.dims, got_shape, sizeof got_shape);
    int ok = desc.rank == io->rank;
    for (int d = 0; ok && d < desc.rank; d++)
        ok = io->dims[d] < 0 || io->dims[d] == desc.dims[d];
    if (!ok)
        return fail(err, err_size, 400, "input '%s': shape %s does not match the model's %s", name,
                    got_shape, model_shape);
    int64_t elems = tsr_desc_elements(&desc);
    if (elems < 0 || elems > ((int64_t)1 << 40))
        return fail(err, err_size, 400, "input '%s': shape %s is too large", name, got_shape);
    size_t bytes = (size_t)elems * tsr_dtype_size(dt);
    json_object *params = member(in, "parameters"), *jbin = NULL;
    if (params && json_object_get_type(params) == json_type_object)
        jbin = member(params, "binary_data_size");
    json_object *data = member(in, "data");
    if (jbin) {
        int64_t nb = json_object_get_int64(jbin);
        if (json_object_get_type(jbin) != json_type_int || nb < 0)
            return fail(err, err_size, 400, "input '%s': binary_data_size is not a byte count",
                        name);
        if ((uint64_t)nb != bytes)
            return fail(err, err_size, 400,
                        "input '%s': binary_data_size %lld for shape %s of %s (%zu bytes expected)",
                        name, (long long)nb, got_shape, dts, bytes);
        if ((size_t)nb > *bin_left)
            return fail(err, err_size, 400,
                        "input '%s': binary_data_size %lld but only %zu bytes of binary data left",
                        name, (long long)nb, *bin_left);
        if (data) return fail(err, err_size, 400, "input '%s' has both data and binary data", name);
    } else if (!data) {
        return fail(err, err_size, 400, "input '%s' has no \"data\"", name);
    } else {
        int64_t n = count_leaves(data, 0);
        if (n < 0)
            return fail(err, err_size, 400, "input '%s': data holds an object, not numbers", name);
        if (n != elems)
            return fail(err, err_size, 400,
                        "input '%s': %lld data elements for shape %s (%lld expected)", name,
                        (long long)n, got_shape, (long long)elems);
    }
    if (tsr_tensor_alloc(&desc, &req->inputs[idx]) != TSR_OK)
        return fail(err, err_size, 500, "out of memory for input '%s' %s", name, got_shape);
    if (jbin) {
        memcpy(req->inputs[idx].data, *bin, bytes);
        *bin += bytes;
        *bin_left -= bytes;
        return 0;
    }
    struct fill fl = {req->inputs[idx].data, dt, 0, name, err, err_size};
    return store_all(&fl, data);
}

int tsv_request_decode(const struct tsv_model *model, const char *body, size_t size,
                       size_t json_size, struct tsv_request *req, char *err, size_t err_size) {
    memset(req, 0, sizeof *req);
    if (json_size > size)
        return fail(err, err_size, 400,
                    "Inference-Header-Content-Length %zu exceeds the body's %zu bytes", json_size,
                    size);
    if (json_size > INT32_MAX) return fail(err, err_size, 400, "JSON header too large");
    json_tokener *tok = json_tokener_new();
    if (!tok) return fail(err, err_size, 500, "out of memory");
    json_object *root = json_tokener_parse_ex(tok, body, (int)json_size);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        if (jerr == json_tokener_continue) jerr = json_tokener_error_parse_eof;
        return fail(err, err_size, 400, "malformed JSON at byte %zu: %s", end,
                    json_tokener_error_desc(jerr));
    }
    for (size_t i = end; i < json_size; i++)
        if (!strchr(" \t\r\n", body[i])) {
            json_object_put(root);
            return fail(err, err_size, 400, "malformed JSON: trailing data at byte %zu", i);
        }
    int rc = 0;
    char names[2048];
    const char *bin = body + json_size;
    size_t bin_left = size - json_size;
    int given[TSV_MAX_IO] = {0};
    json_object *inputs = member(root, "inputs"), *outputs = member(root, "outputs"),
                *id = member(root, "id");
    if (json_object_get_type(root) != json_type_object) {
        rc = fail(err, err_size, 400, "the request is not a JSON object");
        goto out;
    }
    if (id) {
        if (json_object_get_type(id) != json_type_string) {
            rc = fail(err, err_size, 400, "\"id\" is not a string");
            goto out;
        }
        if (!(req->id = strdup(json_object_get_string(id)))) {
            rc = fail(err, err_size, 500, "out of memory");
            goto out;
        }
    }
    req->all_binary = param_bool(root, "binary_data_output");
    if (!inputs || json_object_get_type(inputs) != json_type_array) {
        rc = fail(err, err_size, 400, "the request has no \"inputs\" array");
        goto out;
    }
    size_t n_in = json_object_array_length(inputs);
    for (size_t k = 0; k < n_in && !rc; k++)
        rc = decode_input(model, json_object_array_get_idx(inputs, k), k, req, given, &bin,
                          &bin_left, err, err_size);
    if (rc) goto out;
    for (int i = 0; i < model->n_inputs; i++)
        if (!given[i]) {
            list_names(model->n_inputs, model->inputs, names, sizeof names);
            rc = fail(err, err_size, 400, "input '%s' missing (the model's inputs: %s)",
                      model->inputs[i].name, names);
            goto out;
        }
    if (bin_left) {
        rc =
            fail(err, err_size, 400, "%zu bytes of binary data not claimed by any input", bin_left);
        goto out;
    }
    if (outputs) {
        if (json_object_get_type(outputs) != json_type_array) {
            rc = fail(err, err_size, 400, "\"outputs\" is not an array");
            goto out;
        }
        size_t n_out = json_object_array_length(outputs);
        if (n_out > TSV_MAX_IO) {
            rc = fail(err, err_size, 400, "%zu outputs requested (the model has %d)", n_out,
                      model->n_outputs);
            goto out;
        }
        for (size_t k = 0; k < n_out; k++) {
            json_object *o = json_object_array_get_idx(outputs, k);
            json_object *jn =
                json_object_get_type(o) == json_type_object ? member(o, "name") : NULL;
            if (!jn || json_object_get_type(jn) != json_type_string) {
                rc = fail(err, err_size, 400, "outputs[%zu] has no \"name\" string", k);
                goto out;
            }
            const char *name = json_object_get_string(jn);
            int idx = -1;
            for (int i = 0; i < model->n_outputs; i++)
                if (!strcmp(model->outputs[i].name, name)) idx = i;
            if (idx < 0) {
                list_names(model->n_outputs, model->outputs, names, sizeof names);
                rc = fail(err, err_size, 400, "unknown output '%s' (the model's outputs: %s)", name,
                          names);
                goto out;
            }
            req->selected[req->n_selected] = idx;
            req->selected_binary[req->n_selected++] = param_bool(o, "binary_data");
        }
    }
out:
    json_object_put(root);
    if (rc) tsv_request_free(req);
    return rc;
}

void tsv_request_free(struct tsv_request *req) {
    if (!req) return;
    free(req->id);
    req->id = NULL;
    for (int i = 0; i < TSV_MAX_IO; i++)
        tsr_tensor_free(&req->inputs[i]);
}

/* ---- response encode --------------------------------------------------------------------- */

static json_object *data_json(const struct tsr_tensor *t) {
    int64_t n = tsr_desc_elements(&t->desc);
    json_object *a = json_object_new_array_ext(n > 0 ? (int)n : 0);
    char buf[40];
    for (int64_t i = 0; i < n; i++) {
        json_object *v;
        switch (t->desc.dtype) {
        case TSR_F32:
        case TSR_F16: {
            float f = t->desc.dtype == TSR_F32 ? ((const float *)t->data)[i]
                                               : f16_to_f32(((const uint16_t *)t->data)[i]);
            if (isfinite(f)) {
                snprintf(buf, sizeof buf, "%.9g", (double)f);
                v = json_object_new_double_s((double)f, buf);
            } else {
                v = json_object_new_double((double)f); /* NaN / Infinity (not strict JSON) */
            }
            break;
        }
        case TSR_F64:
            v = json_object_new_double(((const double *)t->data)[i]);
            break;
        case TSR_BOOL:
            v = json_object_new_boolean(((const uint8_t *)t->data)[i] != 0);
            break;
        case TSR_U8:
            v = json_object_new_int64(((const uint8_t *)t->data)[i]);
            break;
        case TSR_U16:
            v = json_object_new_int64(((const uint16_t *)t->data)[i]);
            break;
        case TSR_U32:
            v = json_object_new_int64(((const uint32_t *)t->data)[i]);
            break;
        case TSR_I8:
            v = json_object_new_int64(((const int8_t *)t->data)[i]);
            break;
        case TSR_I16:
            v = json_object_new_int64(((const int16_t *)t->data)[i]);
            break;
        case TSR_I32:
            v = json_object_new_int64(((const int32_t *)t->data)[i]);
            break;
        default:
            v = json_object_new_int64(((const int64_t *)t->data)[i]);
            break;
        }
        json_object_array_add(a, v);
    }
    return a;
}

char *tsv_response_encode(const struct tsv_model *model, const struct tsv_request *req,
                          const struct tsr_tensor *outputs, size_t *size, size_t *json_size) {
    int order[TSV_MAX_IO], binary[TSV_MAX_IO], n = req->n_selected;
    for (int k = 0; k < (n ? n : model->n_outputs); k++) {
        order[k] = n ? req->selected[k] : k;
        binary[k] = req->all_binary || (n && req->selected_binary[k]);
    }
    if (!n) n = model->n_outputs;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "model_name", json_object_new_string(model->name));
    json_object_object_add(o, "model_version", json_object_new_string("1"));
    if (req->id) json_object_object_add(o, "id", json_object_new_string(req->id));
    json_object *outs = json_object_new_array();
    size_t bin_bytes = 0;
    for (int k = 0; k < n; k++) {
        const struct tsr_tensor *t = &outputs[order[k]];
        json_object *e = json_object_new_object();
        const char *dt = tsv_datatype_name(t->desc.dtype);
        json_object_object_add(e, "name", json_object_new_string(model->outputs[order[k]].name));
        json_object_object_add(e, "datatype", json_object_new_string(dt ? dt : "BYTES"));
        json_object_object_add(e, "shape", dims_json(t->desc.rank, t->desc.dims));
        if (binary[k]) {
            size_t nb = (size_t)tsr_desc_elements(&t->desc) * tsr_dtype_size(t->desc.dtype);
            json_object *p = json_object_new_object();
            json_object_object_add(p, "binary_data_size", json_object_new_int64((int64_t)nb));
            json_object_object_add(e, "parameters", p);
            bin_bytes += nb;
        } else {
            json_object_object_add(e, "data", data_json(t));
        }
        json_object_array_add(outs, e);
    }
    json_object_object_add(o, "outputs", outs);
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t js = s ? strlen(s) : 0;
    char *body = s ? malloc(js + bin_bytes + 1) : NULL;
    if (body) {
        memcpy(body, s, js);
        size_t at = js;
        for (int k = 0; k < n; k++) {
            if (!binary[k]) continue;
            const struct tsr_tensor *t = &outputs[order[k]];
            size_t nb = (size_t)tsr_desc_elements(&t->desc) * tsr_dtype_size(t->desc.dtype);
            memcpy(body + at, t->data, nb);
            at += nb;
        }
        body[at] = 0;
        *size = at;
        *json_size = js;
    }
    json_object_put(o);
    return body;
}
