/*
 * tessera_module.c — tessera._tessera, the C extension behind the Python module `tessera`
 * (python/tessera/__init__.py wraps it in ONNX Runtime's conventions).
 *
 * Written against the CPython C API and the NumPy C API; uses only the public C API of tessera
 * (include/tessera.h, tessera/sched.h), linked statically from the localised libtessera.a, plus
 * its own copy of the protobuf-c ONNX decoder to read the declared output shapes of a model
 * (ONNX Runtime reports graph.output's dims; tessera's plan knows concrete shapes only).
 *
 * Memory: inputs that are C-contiguous, aligned, native-endian arrays of the model's dtype are
 * passed to tsr_plan_run without a copy; outputs are allocated by tsr_tensor_alloc and handed to
 * NumPy as the array's memory (a capsule base frees them with tsr_tensor_free), no copy.
 * Threads: run() releases the GIL; one lock per session serialises runs of its plan (a tsr_plan
 * is used by one thread at a time).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#if NPY_ABI_VERSION < 0x02000000 /* NumPy 1.x headers (NumPy 2 made the descr field private) */
#define PyDataType_ELSIZE(d) ((d)->elsize)
#endif

#include <tessera.h>
#include <tessera/sched.h>

#include "onnx/onnx.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* Exceptions                                                                                */
/* ---------------------------------------------------------------------------------------- */

static PyObject *err_base;        /* tessera.Error (RuntimeError) */
static PyObject *err_invalid_arg; /* TSR_E_INVALID_ARG, TSR_E_SHAPE, TSR_E_DTYPE (and ValueError) */
static PyObject *err_invalid_graph; /* TSR_E_PARSE */
static PyObject *err_unsupported;   /* TSR_E_UNSUPPORTED */
static PyObject *err_file;          /* TSR_E_IO */
static PyObject *err_nomem;         /* TSR_E_NOMEM, TSR_E_DEVICE_NOMEM */
static PyObject *err_device;        /* TSR_E_DEVICE, TSR_E_BUILD */
static PyObject *err_not_found;     /* TSR_E_NOT_FOUND */
static PyObject *err_internal;      /* TSR_E_INTERNAL and unknown values */

static PyObject *exc_class(tsr_status st) {
    switch (st) {
    case TSR_E_INVALID_ARG:
    case TSR_E_SHAPE:
    case TSR_E_DTYPE:
        return err_invalid_arg;
    case TSR_E_PARSE:
        return err_invalid_graph;
    case TSR_E_UNSUPPORTED:
        return err_unsupported;
    case TSR_E_IO:
        return err_file;
    case TSR_E_NOMEM:
    case TSR_E_DEVICE_NOMEM:
        return err_nomem;
    case TSR_E_DEVICE:
    case TSR_E_BUILD:
        return err_device;
    case TSR_E_NOT_FOUND:
        return err_not_found;
    default:
        return err_internal;
    }
}

/* Raises the exception of `st` with `msg` and attributes status (name), code, message. */
static PyObject *raise_msg(tsr_status st, const char *msg) {
    PyObject *cls = exc_class(st);
    PyObject *exc = PyObject_CallFunction(cls, "s", msg);
    if (!exc) return NULL;
    PyObject *name = PyUnicode_FromString(tsr_status_name(st));
    PyObject *code = PyLong_FromLong((long)st);
    PyObject *m = PyUnicode_FromString(msg);
    if (name && code && m) {
        PyObject_SetAttrString(exc, "status", name);
        PyObject_SetAttrString(exc, "code", code);
        PyObject_SetAttrString(exc, "message", m);
    }
    Py_XDECREF(name);
    Py_XDECREF(code);
    Py_XDECREF(m);
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

/* Raises for a failed tessera call of this thread: the thread's last error record. */
static PyObject *raise_status(tsr_status st) {
    const struct tsr_error_info *e = tsr_last_error(NULL);
    const char *msg = tsr_status_str(st);
    if (e && e->status == st && e->message && e->message[0]) msg = e->message;
    return raise_msg(st, msg);
}

/* ---------------------------------------------------------------------------------------- */
/* dtypes                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static int npy_type_of(tsr_dtype dt) {
    switch (dt) {
    case TSR_F32:
        return NPY_FLOAT32;
    case TSR_F16:
        return NPY_FLOAT16;
    case TSR_F64:
        return NPY_FLOAT64;
    case TSR_I8:
        return NPY_INT8;
    case TSR_I16:
        return NPY_INT16;
    case TSR_I32:
        return NPY_INT32;
    case TSR_I64:
        return NPY_INT64;
    case TSR_U8:
        return NPY_UINT8;
    case TSR_U16:
        return NPY_UINT16;
    case TSR_U32:
        return NPY_UINT32;
    case TSR_BOOL:
        return NPY_BOOL;
    }
    return -1;
}

/* tsr_dtype of a NumPy dtype by kind and size (int64 is NPY_LONG or NPY_LONGLONG); 0: none. */
static tsr_dtype tsr_dtype_of_descr(PyArray_Descr *d) {
    int es = (int)PyDataType_ELSIZE(d);
    switch (d->kind) {
    case 'f':
        return es == 4 ? TSR_F32 : es == 2 ? TSR_F16 : es == 8 ? TSR_F64 : 0;
    case 'i':
        return es == 1 ? TSR_I8 : es == 2 ? TSR_I16 : es == 4 ? TSR_I32 : es == 8 ? TSR_I64 : 0;
    case 'u':
        return es == 1 ? TSR_U8 : es == 2 ? TSR_U16 : es == 4 ? TSR_U32 : 0;
    case 'b':
        return TSR_BOOL;
    }
    return 0;
}

/* ONNX Runtime's type string, "tensor(float)". */
static const char *ort_type_of(tsr_dtype dt) {
    switch (dt) {
    case TSR_F32:
        return "tensor(float)";
    case TSR_F16:
        return "tensor(float16)";
    case TSR_F64:
        return "tensor(double)";
    case TSR_I8:
        return "tensor(int8)";
    case TSR_I16:
        return "tensor(int16)";
    case TSR_I32:
        return "tensor(int32)";
    case TSR_I64:
        return "tensor(int64)";
    case TSR_U8:
        return "tensor(uint8)";
    case TSR_U16:
        return "tensor(uint16)";
    case TSR_U32:
        return "tensor(uint32)";
    case TSR_BOOL:
        return "tensor(bool)";
    }
    return "tensor(unknown)";
}

/* ---------------------------------------------------------------------------------------- */
/* Session                                                                                   */
/* ---------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD tsr_context *ctx;
    tsr_plan *plan;
    PyThread_type_lock lock;
    int n_in, n_out;
    PyObject *in_names;  /* tuple of str, plan input order */
    PyObject *out_names; /* tuple of str, plan output order */
    PyObject *out_decl;  /* list: declared shape of each output (list) or None */
    int input_copies;    /* inputs the last run had to convert (not zero-copy) */
} SessionObject;

static void session_dealloc(SessionObject *s) {
    tsr_plan_destroy(s->plan);
    tsr_context_destroy(s->ctx);
    if (s->lock) PyThread_free_lock(s->lock);
    Py_XDECREF(s->in_names);
    Py_XDECREF(s->out_names);
    Py_XDECREF(s->out_decl);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* The declared shape of each graph output (ONNX Runtime's NodeArg.shape: int dim_value, str
 * dim_param, None when neither), matched by name; None for an output the file gives no shape. */
static PyObject *declared_output_shapes(const void *bytes, size_t size, PyObject *out_names) {
    Py_ssize_t n = PyTuple_GET_SIZE(out_names);
    PyObject *list = PyList_New(n);
    if (!list) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_INCREF(Py_None);
        PyList_SET_ITEM(list, i, Py_None);
    }
    Onnx__ModelProto *m = bytes ? onnx__model_proto__unpack(NULL, size, bytes) : NULL;
    if (!m || !m->graph) goto done;
    for (size_t o = 0; o < m->graph->n_output; o++) {
        Onnx__ValueInfoProto *vi = m->graph->output[o];
        if (!vi || !vi->name || !vi->type ||
            vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type ||
            !vi->type->tensor_type->shape)
            continue;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (strcmp(PyUnicode_AsUTF8(PyTuple_GET_ITEM(out_names, i)), vi->name) != 0) continue;
            Onnx__TensorShapeProto *sh = vi->type->tensor_type->shape;
            PyObject *dims = PyList_New((Py_ssize_t)sh->n_dim);
            if (!dims) goto fail;
            for (size_t d = 0; d < sh->n_dim; d++) {
                Onnx__TensorShapeProto__Dimension *dim = sh->dim[d];
                PyObject *v;
                if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
                    v = PyLong_FromLongLong((long long)dim->dim_value);
                else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
                    v = PyUnicode_FromString(dim->dim_param);
                else {
                    Py_INCREF(Py_None);
                    v = Py_None;
                }
                if (!v) {
                    Py_DECREF(dims);
                    goto fail;
                }
                PyList_SET_ITEM(dims, (Py_ssize_t)d, v);
            }
            PyList_SetItem(list, i, dims); /* steals dims */
        }
    }
done:
    if (m) onnx__model_proto__free_unpacked(m, NULL);
    return list;
fail:
    if (m) onnx__model_proto__free_unpacked(m, NULL);
    Py_DECREF(list);
    return NULL;
}

static void *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    void *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) != NULL) {
            if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
            } else {
                *size = (size_t)n;
            }
        }
    }
    fclose(f);
    return buf;
}

static int session_init(SessionObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"model",     "device",         "placement",        "threads",
                             "profiling", "disable_fusion", "pool_cache_bytes", NULL};
    PyObject *model;
    const char *device = "auto", *placement = NULL;
    int threads = 0, profiling = 0;
    unsigned int disable_fusion = 0; /* TSR_FUSE_* bits */
    long long pool_cache_bytes = 0;  /* 0: TSR_POOL_CACHE_BYTES, else the default */
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|zzipIL", kwlist, &model, &device, &placement,
                                     &threads, &profiling, &disable_fusion, &pool_cache_bytes))
        return -1;
    if (pool_cache_bytes < 0) {
        raise_msg(TSR_E_INVALID_ARG,
                  "pool_cache_bytes must be >= 0 (0: TSR_POOL_CACHE_BYTES, else 256 MiB)");
        return -1;
    }
    if (s->plan || s->ctx) {
        PyErr_SetString(PyExc_RuntimeError, "Session already initialised");
        return -1;
    }
    if (threads < 0) {
        raise_msg(TSR_E_INVALID_ARG, "threads must be >= 0 (0: one per physical core)");
        return -1;
    }
    Py_buffer view = {0};
    PyObject *path_bytes = NULL;
    if (PyBytes_Check(model) || PyByteArray_Check(model) || PyMemoryView_Check(model)) {
        if (PyObject_GetBuffer(model, &view, PyBUF_SIMPLE) < 0) return -1;
    } else if (!PyUnicode_FSConverter(model, &path_bytes)) {
        return -1;
    }
    const char *path = path_bytes ? PyBytes_AS_STRING(path_bytes) : NULL;
    struct tsr_context_options copts = {0};
    copts.cpu_threads = threads;
    copts.profile = profiling;
    copts.pool_cache_bytes = (int64_t)pool_cache_bytes;
    copts.disable_opencl = device && strcmp(device, "cpu") == 0;
    tsr_status st;
    tsr_context *ctx = NULL;
    tsr_graph *graph = NULL;
    tsr_plan *plan = NULL;
    void *file_bytes = NULL;
    size_t file_size = 0;
    Py_BEGIN_ALLOW_THREADS;
    st = tsr_context_create(&copts, &ctx);
    if (st == TSR_OK) {
        if (path)
            st = tsr_onnx_import_file(ctx, path, NULL, 0, &graph);
        else
            st =
                tsr_onnx_import_buffer(ctx, view.buf, (size_t)view.len, "<bytes>", NULL, 0, &graph);
    }
    if (st == TSR_OK) {
        struct tsr_compile_options o = tsr_compile_options_default();
        o.device = device;
        o.placement = placement;
        o.disable_fusion = disable_fusion;
        st = tsr_compile(ctx, graph, &o, &plan);
    }
    tsr_graph_destroy(graph);
    if (st == TSR_OK && path) file_bytes = read_file(path, &file_size);
    Py_END_ALLOW_THREADS;
    if (st != TSR_OK) {
        raise_status(st);
        tsr_plan_destroy(plan);
        tsr_context_destroy(ctx);
        if (view.obj) PyBuffer_Release(&view);
        Py_XDECREF(path_bytes);
        return -1;
    }
    s->ctx = ctx;
    s->plan = plan;
    s->n_in = tsr_plan_input_count(plan);
    s->n_out = tsr_plan_output_count(plan);
    s->lock = PyThread_allocate_lock();
    s->in_names = PyTuple_New(s->n_in);
    s->out_names = PyTuple_New(s->n_out);
    int ok = s->lock && s->in_names && s->out_names;
    for (int i = 0; ok && i < s->n_in; i++) {
        const char *name = NULL;
        struct tsr_tensor_desc d;
        tsr_plan_input_desc(plan, i, &name, &d);
        PyObject *u = PyUnicode_FromString(name ? name : "");
        ok = u != NULL;
        if (ok) PyTuple_SET_ITEM(s->in_names, i, u);
    }
    for (int i = 0; ok && i < s->n_out; i++) {
        const char *name = NULL;
        struct tsr_tensor_desc d;
        tsr_plan_output_desc(plan, i, &name, &d);
        PyObject *u = PyUnicode_FromString(name ? name : "");
        ok = u != NULL;
        if (ok) PyTuple_SET_ITEM(s->out_names, i, u);
    }
    if (ok) {
        s->out_decl = declared_output_shapes(path ? file_bytes : view.buf,
                                             path ? file_size : (size_t)view.len, s->out_names);
        ok = s->out_decl != NULL;
    }
    free(file_bytes);
    if (view.obj) PyBuffer_Release(&view);
    Py_XDECREF(path_bytes);
    if (!ok && !PyErr_Occurred()) PyErr_NoMemory();
    return ok ? 0 : -1;
}

/* A Session made with __new__ alone (no __init__) has no plan. */
static int session_ready(SessionObject *s) {
    if (s->plan) return 1;
    PyErr_SetString(PyExc_RuntimeError, "tessera Session is not initialised");
    return 0;
}

static PyObject *shape_list(const struct tsr_input_info *info) {
    PyObject *l = PyList_New(info->rank);
    if (!l) return NULL;
    for (int d = 0; d < info->rank; d++) {
        PyObject *v;
        if (info->dims[d] >= 0)
            v = PyLong_FromLongLong((long long)info->dims[d]);
        else if (info->dim_names[d] && info->dim_names[d][0])
            v = PyUnicode_FromString(info->dim_names[d]);
        else {
            Py_INCREF(Py_None);
            v = Py_None;
        }
        if (!v) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, d, v);
    }
    return l;
}

/* [(name, ort type, numpy dtype, shape)] of the model inputs. */
static PyObject *session_inputs(SessionObject *s, PyObject *unused) {
    if (!session_ready(s)) return NULL;
    PyObject *list = PyList_New(s->n_in);
    if (!list) return NULL;
    for (int i = 0; i < s->n_in; i++) {
        struct tsr_input_info info;
        tsr_status st = tsr_plan_input_info(s->plan, i, &info);
        if (st != TSR_OK) {
            Py_DECREF(list);
            return raise_status(st);
        }
        PyObject *shape = shape_list(&info);
        PyObject *dt = shape ? (PyObject *)PyArray_DescrFromType(npy_type_of(info.dtype)) : NULL;
        PyObject *t = dt ? Py_BuildValue("(OsNN)", PyTuple_GET_ITEM(s->in_names, i),
                                         ort_type_of(info.dtype), dt, shape)
                         : NULL;
        if (!t) {
            Py_XDECREF(shape);
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

/* [(name, ort type, numpy dtype, shape)] of the model outputs: the declared shape from the
 * file where it has one, else the shape of the plan's current specialisation. */
static PyObject *session_outputs(SessionObject *s, PyObject *unused) {
    if (!session_ready(s)) return NULL;
    PyObject *list = PyList_New(s->n_out);
    if (!list) return NULL;
    for (int i = 0; i < s->n_out; i++) {
        struct tsr_tensor_desc d;
        tsr_status st = tsr_plan_output_desc(s->plan, i, NULL, &d);
        if (st != TSR_OK) {
            Py_DECREF(list);
            return raise_status(st);
        }
        PyObject *shape = PyList_GET_ITEM(s->out_decl, i);
        if (shape == Py_None) {
            shape = PyList_New(d.rank);
            for (int k = 0; shape && k < d.rank; k++)
                PyList_SET_ITEM(shape, k, PyLong_FromLongLong((long long)d.dims[k]));
        } else {
            shape = PyList_GetSlice(shape, 0, PY_SSIZE_T_MAX);
        }
        PyObject *dt = shape ? (PyObject *)PyArray_DescrFromType(npy_type_of(d.dtype)) : NULL;
        PyObject *t = dt ? Py_BuildValue("(OsNN)", PyTuple_GET_ITEM(s->out_names, i),
                                         ort_type_of(d.dtype), dt, shape)
                         : NULL;
        if (!t) {
            Py_XDECREF(shape);
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

static void capsule_free(PyObject *cap) {
    struct tsr_tensor t;
    memset(&t, 0, sizeof t);
    t.data = PyCapsule_GetPointer(cap, "tessera.tensor");
    tsr_tensor_free(&t);
}

/* A NumPy array over tessera-allocated t->data; takes ownership of it (also on failure). */
static PyObject *wrap_output(struct tsr_tensor *t) {
    npy_intp dims[TSR_MAX_RANK];
    for (int d = 0; d < t->desc.rank; d++)
        dims[d] = (npy_intp)t->desc.dims[d];
    PyObject *cap = PyCapsule_New(t->data, "tessera.tensor", capsule_free);
    if (!cap) {
        tsr_tensor_free(t);
        return NULL;
    }
    t->data = NULL;
    PyObject *arr = PyArray_SimpleNewFromData(t->desc.rank, dims, npy_type_of(t->desc.dtype),
                                              PyCapsule_GetPointer(cap, "tessera.tensor"));
    if (!arr) {
        Py_DECREF(cap);
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)arr, cap) < 0) { /* steals cap */
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

static PyObject *quoted_names(PyObject *names) {
    PyObject *sep = PyUnicode_FromString("', '");
    if (!sep) return NULL;
    PyObject *j = PyUnicode_Join(sep, names);
    Py_DECREF(sep);
    return j;
}

/* run(output_names or None, {name: array}) -> [ndarray] */
static PyObject *session_run(SessionObject *s, PyObject *args) {
    if (!session_ready(s)) return NULL;
    PyObject *want, *feed;
    if (!PyArg_ParseTuple(args, "OO", &want, &feed)) return NULL;
    if (!PyDict_Check(feed))
        return raise_msg(TSR_E_INVALID_ARG, "input_feed must be a dict {input name: array}");
    /* Requested outputs, as plan output indices. */
    Py_ssize_t n_want = s->n_out;
    int *want_idx = NULL;
    PyArrayObject **arrs = NULL;
    struct tsr_tensor *in = NULL, *out = NULL;
    PyObject *result = NULL;
    if (want != Py_None) {
        PyObject *seq = PySequence_Fast(want, "output_names must be a list of str or None");
        if (!seq) return NULL;
        n_want = PySequence_Fast_GET_SIZE(seq);
        want_idx = calloc((size_t)n_want + 1, sizeof *want_idx);
        if (!want_idx) {
            Py_DECREF(seq);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t k = 0; k < n_want; k++) {
            PyObject *nm = PySequence_Fast_GET_ITEM(seq, k);
            int found = -1;
            for (int i = 0; i < s->n_out && PyUnicode_Check(nm); i++)
                if (PyUnicode_Compare(nm, PyTuple_GET_ITEM(s->out_names, i)) == 0) found = i;
            if (found < 0) {
                PyObject *list = quoted_names(s->out_names);
                PyObject *msg =
                    list ? PyUnicode_FromFormat("output %R is not an output of the model; its "
                                                "outputs are: '%U'",
                                                nm, list)
                         : NULL;
                if (msg) raise_msg(TSR_E_INVALID_ARG, PyUnicode_AsUTF8(msg));
                Py_XDECREF(msg);
                Py_XDECREF(list);
                Py_DECREF(seq);
                free(want_idx);
                return NULL;
            }
            want_idx[k] = found;
        }
        Py_DECREF(seq);
    }
    /* Feed keys must all be model inputs. */
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (PyDict_Next(feed, &pos, &key, &val)) {
        int found = 0;
        for (int i = 0; i < s->n_in && PyUnicode_Check(key); i++)
            if (PyUnicode_Compare(key, PyTuple_GET_ITEM(s->in_names, i)) == 0) found = 1;
        if (!found) {
            PyObject *list = quoted_names(s->in_names);
            PyObject *msg = list ? PyUnicode_FromFormat("input %R is not an input of the model; "
                                                        "its inputs are: '%U'",
                                                        key, list)
                                 : NULL;
            if (msg) raise_msg(TSR_E_INVALID_ARG, PyUnicode_AsUTF8(msg));
            Py_XDECREF(msg);
            Py_XDECREF(list);
            free(want_idx);
            return NULL;
        }
    }
    arrs = calloc((size_t)s->n_in + 1, sizeof *arrs);
    in = calloc((size_t)s->n_in + 1, sizeof *in);
    out = calloc((size_t)s->n_out + 1, sizeof *out);
    if (!arrs || !in || !out) {
        PyErr_NoMemory();
        goto cleanup;
    }
    int copies = 0;
    for (int i = 0; i < s->n_in; i++) {
        PyObject *name = PyTuple_GET_ITEM(s->in_names, i);
        PyObject *obj = PyDict_GetItemWithError(feed, name);
        if (!obj) {
            if (!PyErr_Occurred()) {
                PyObject *msg = PyUnicode_FromFormat("missing input '%U' (the model's inputs "
                                                     "are all required)",
                                                     name);
                if (msg) raise_msg(TSR_E_INVALID_ARG, PyUnicode_AsUTF8(msg));
                Py_XDECREF(msg);
            }
            goto cleanup;
        }
        struct tsr_input_info info;
        tsr_plan_input_info(s->plan, i, &info);
        PyArrayObject *a0 = (PyArrayObject *)PyArray_FROM_O(obj);
        if (!a0) goto cleanup;
        tsr_dtype got = tsr_dtype_of_descr(PyArray_DESCR(a0));
        if (got != info.dtype) {
            PyObject *dstr = PyObject_Str((PyObject *)PyArray_DESCR(a0));
            PyObject *msg =
                dstr
                    ? PyUnicode_FromFormat("input '%U': dtype %U (%s), the model expects %s (%s)",
                                           name, dstr, got ? ort_type_of(got) : "not a tensor type",
                                           tsr_dtype_name(info.dtype), ort_type_of(info.dtype))
                    : NULL;
            if (msg) raise_msg(TSR_E_DTYPE, PyUnicode_AsUTF8(msg));
            Py_XDECREF(msg);
            Py_XDECREF(dstr);
            Py_DECREF(a0);
            goto cleanup;
        }
        if (PyArray_NDIM(a0) > TSR_MAX_RANK) {
            PyObject *msg = PyUnicode_FromFormat("input '%U': rank %d, the model expects rank %d",
                                                 name, PyArray_NDIM(a0), info.rank);
            if (msg) raise_msg(TSR_E_SHAPE, PyUnicode_AsUTF8(msg));
            Py_XDECREF(msg);
            Py_DECREF(a0);
            goto cleanup;
        }
        /* Zero-copy when a0 is already C-contiguous, aligned and native-endian. */
        PyArrayObject *a = (PyArrayObject *)PyArray_FromAny(
            (PyObject *)a0, PyArray_DescrFromType(npy_type_of(info.dtype)), 0, 0,
            NPY_ARRAY_IN_ARRAY, NULL);
        if (a != a0) copies++;
        Py_DECREF(a0);
        if (!a) goto cleanup;
        arrs[i] = a;
        in[i].desc.dtype = info.dtype;
        in[i].desc.rank = PyArray_NDIM(a);
        for (int d = 0; d < in[i].desc.rank; d++)
            in[i].desc.dims[d] = PyArray_DIM(a, d);
        in[i].data = PyArray_DATA(a);
    }
    s->input_copies = copies;
    tsr_status st = TSR_OK;
    Py_BEGIN_ALLOW_THREADS;
    PyThread_acquire_lock(s->lock, WAIT_LOCK);
    st = tsr_plan_specialize_inputs(s->plan, in, (size_t)s->n_in);
    for (int i = 0; st == TSR_OK && i < s->n_out; i++) {
        struct tsr_tensor_desc d;
        st = tsr_plan_output_desc(s->plan, i, NULL, &d);
        if (st == TSR_OK) st = tsr_tensor_alloc(&d, &out[i]);
    }
    if (st == TSR_OK) st = tsr_plan_run(s->plan, in, (size_t)s->n_in, out, (size_t)s->n_out);
    PyThread_release_lock(s->lock);
    Py_END_ALLOW_THREADS;
    if (st != TSR_OK) {
        raise_status(st);
        goto cleanup;
    }
    result = PyList_New(n_want);
    if (!result) goto cleanup;
    for (Py_ssize_t k = 0; k < n_want; k++) {
        int i = want_idx ? want_idx[k] : (int)k;
        PyObject *arr;
        if (out[i].data) {
            arr = wrap_output(&out[i]); /* takes out[i].data */
        } else {                        /* the same output asked for twice: a copy */
            PyObject *first = NULL;
            for (Py_ssize_t j = 0; j < k; j++)
                if (want_idx[j] == i) first = PyList_GET_ITEM(result, j);
            arr = first ? PyArray_NewCopy((PyArrayObject *)first, NPY_CORDER) : NULL;
        }
        if (!arr) {
            Py_CLEAR(result);
            goto cleanup;
        }
        PyList_SET_ITEM(result, k, arr);
    }
cleanup:
    for (int i = 0; out && i < s->n_out; i++)
        tsr_tensor_free(&out[i]);
    for (int i = 0; arrs && i < s->n_in; i++)
        Py_XDECREF(arrs[i]);
    free(out);
    free(in);
    free(arrs);
    free(want_idx);
    return result;
}

static PyObject *device_dict(const struct tsr_device_info *d) {
    return Py_BuildValue(
        "{s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:i,s:i,s:K,s:K,s:i,s:s,s:d,s:d,s:d,s:d}", "id",
        d->id, "backend", d->backend, "index", d->index, "name", d->name, "vendor", d->vendor,
        "type", d->device_type, "driver_version", d->driver_version, "platform", d->platform, "isa",
        d->isa, "host_memory", d->host_memory ? Py_True : Py_False, "compute_units",
        d->compute_units, "max_clock_mhz", d->max_clock_mhz, "global_mem_bytes",
        (unsigned long long)d->global_mem_bytes, "max_alloc_bytes",
        (unsigned long long)d->max_alloc_bytes, "numa_node", d->numa_node, "locality", d->locality,
        "est_gflops", d->est_gflops, "est_gbps", d->est_gbps, "est_launch_us", d->est_launch_us,
        "est_transfer_gbps", d->est_transfer_gbps);
}

/* {"device": {...}, "reason": str, "placement": str, "kernels": int, "arena_bytes": int} */
static PyObject *session_plan_info(SessionObject *s, PyObject *unused) {
    if (!session_ready(s)) return NULL;
    /* The plan's current specialisation: not while another thread runs (re-specialises) it. */
    struct tsr_device_info d;
    tsr_status st;
    const char *reason, *placement;
    int kernels;
    size_t arena;
    double predicted;
    Py_BEGIN_ALLOW_THREADS;
    PyThread_acquire_lock(s->lock, WAIT_LOCK);
    st = tsr_plan_device(s->plan, &d);
    reason = tsr_plan_device_reason(s->plan);
    placement = tsr_plan_placement(s->plan);
    kernels = tsr_plan_kernel_count(s->plan);
    arena = tsr_plan_arena_bytes(s->plan);
    predicted = tsr_plan_predicted_ms(s->plan);
    Py_END_ALLOW_THREADS;
    /* reason / placement are owned by the plan: copied below before the lock is released */
    PyObject *r = NULL;
    if (st != TSR_OK) {
        raise_status(st);
    } else {
        PyObject *dev = device_dict(&d);
        if (dev)
            r = Py_BuildValue("{s:N,s:s,s:s,s:i,s:n,s:d}", "device", dev, "reason",
                              reason ? reason : "", "placement", placement ? placement : "",
                              "kernels", kernels, "arena_bytes", (Py_ssize_t)arena, "predicted_ms",
                              predicted);
    }
    PyThread_release_lock(s->lock);
    return r;
}

static PyObject *session_profiling(SessionObject *s, PyObject *arg) {
    if (!session_ready(s)) return NULL;
    int on = PyObject_IsTrue(arg);
    if (on < 0) return NULL;
    tsr_profiler_enable(s->ctx, on);
    Py_RETURN_NONE;
}

static PyObject *session_profile_clear(SessionObject *s, PyObject *unused) {
    if (!session_ready(s)) return NULL;
    tsr_profiler_clear(s->ctx);
    Py_RETURN_NONE;
}

/* [{"kind", "name", "nodes", "device", "queue", "start_ns", "end_ns", "dur_ns", "bytes",
 *   "flops"}] */
static PyObject *session_profile_records(SessionObject *s, PyObject *unused) {
    if (!session_ready(s)) return NULL;
    size_t n = tsr_profiler_count(s->ctx);
    PyObject *list = PyList_New(0);
    if (!list) return NULL;
    for (size_t i = 0; i < n; i++) {
        struct tsr_profile_record r;
        if (tsr_profiler_get(s->ctx, i, &r) != TSR_OK) break; /* cleared meanwhile */
        PyObject *d = Py_BuildValue(
            "{s:s,s:s,s:s,s:s,s:i,s:K,s:K,s:K,s:K,s:K}", "kind", tsr_event_kind_name(r.kind),
            "name", r.name ? r.name : "", "nodes", r.nodes ? r.nodes : "", "device",
            r.device ? r.device : "", "queue", r.queue, "start_ns", (unsigned long long)r.start_ns,
            "end_ns", (unsigned long long)r.end_ns, "dur_ns",
            (unsigned long long)(r.end_ns - r.start_ns), "bytes", (unsigned long long)r.bytes,
            "flops", (unsigned long long)r.flops);
        if (!d || PyList_Append(list, d) < 0) {
            Py_XDECREF(d);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(d);
    }
    return list;
}

static PyObject *session_write_trace(SessionObject *s, PyObject *arg) {
    if (!session_ready(s)) return NULL;
    PyObject *pb = NULL;
    if (!PyUnicode_FSConverter(arg, &pb)) return NULL;
    tsr_status st = tsr_profiler_write_trace(s->ctx, PyBytes_AS_STRING(pb));
    Py_DECREF(pb);
    if (st != TSR_OK) return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *session_profile_table(SessionObject *s, PyObject *unused) {
    if (!session_ready(s)) return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return PyErr_NoMemory();
    tsr_status st = tsr_profiler_print_table(s->ctx, f);
    fclose(f);
    PyObject *r = st == TSR_OK ? PyUnicode_DecodeUTF8(buf ? buf : "", (Py_ssize_t)len, "replace")
                               : raise_status(st);
    free(buf);
    return r;
}

static PyObject *session_input_copies(SessionObject *s, void *unused) {
    return PyLong_FromLong(s->input_copies);
}

static PyMethodDef session_methods[] = {
    {"inputs", (PyCFunction)session_inputs, METH_NOARGS, "[(name, type, dtype, shape)]"},
    {"outputs", (PyCFunction)session_outputs, METH_NOARGS, "[(name, type, dtype, shape)]"},
    {"run", (PyCFunction)session_run, METH_VARARGS, "run(output_names or None, feed) -> list"},
    {"plan_info", (PyCFunction)session_plan_info, METH_NOARGS, "device, reason, placement"},
    {"set_profiling", (PyCFunction)session_profiling, METH_O, "profiler on/off"},
    {"profile_clear", (PyCFunction)session_profile_clear, METH_NOARGS, "discard records"},
    {"profile_records", (PyCFunction)session_profile_records, METH_NOARGS, "list of dicts"},
    {"profile_table", (PyCFunction)session_profile_table, METH_NOARGS, "summary table (str)"},
    {"write_trace", (PyCFunction)session_write_trace, METH_O, "write a Chrome trace"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef session_getset[] = {
    {"input_copies", (getter)session_input_copies, NULL,
     "inputs the last run converted (0: all passed without a copy)", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject SessionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tessera._tessera.Session",
    .tp_basicsize = sizeof(SessionObject),
    .tp_dealloc = (destructor)session_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Session(model, device='auto', placement=None, threads=0, profiling=False): an "
              "imported and compiled ONNX model (path or bytes).",
    .tp_methods = session_methods,
    .tp_getset = session_getset,
    .tp_init = (initproc)session_init,
    .tp_new = PyType_GenericNew,
};

/* ---------------------------------------------------------------------------------------- */
/* Devices                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static PyObject *calibration_dict(const struct tsr_calibration_info *c) {
    PyObject *bw = PyList_New(0), *gemm = PyList_New(0);
    for (int i = 0; bw && i < c->n_bw; i++) {
        PyObject *p = Py_BuildValue("{s:d,s:d}", "bytes", c->bw[i].bytes, "gbps", c->bw[i].gbps);
        if (p) PyList_Append(bw, p);
        Py_XDECREF(p);
    }
    for (int i = 0; gemm && i < c->n_gemm; i++) {
        PyObject *p = Py_BuildValue("{s:L,s:L,s:L,s:d}", "m", (long long)c->gemm[i].m, "n",
                                    (long long)c->gemm[i].n, "k", (long long)c->gemm[i].k, "gflops",
                                    c->gemm[i].gflops);
        if (p) PyList_Append(gemm, p);
        Py_XDECREF(p);
    }
    if (!bw || !gemm) {
        Py_XDECREF(bw);
        Py_XDECREF(gemm);
        return NULL;
    }
    return Py_BuildValue(
        "{s:s,s:d,s:N,s:N,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:L}", "key", c->key,
        "bandwidth_gbps", c->bandwidth_gbps, "bandwidth", bw, "gemm", gemm, "launch_us",
        c->launch_us, "run_overhead_us", c->run_overhead_us, "h2d_gbps", c->h2d_gbps, "d2h_gbps",
        c->d2h_gbps, "h2d_small_gbps", c->h2d_small_gbps, "d2h_small_gbps", c->d2h_small_gbps,
        "latency_us", c->latency_us, "trans_gops", c->trans_gops, "trans_slow_gops",
        c->trans_slow_gops, "conv_gflops", c->conv_gflops, "dwconv_gflops", c->dwconv_gflops,
        "seconds", c->seconds, "created_unix", (long long)c->created_unix);
}

/* devices(calibrate=False) -> [dict]: every device with its figures; "calibration" is the
 * measured calibration (None when none is known and calibrate is False). */
static PyObject *mod_devices(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"calibrate", NULL};
    int calibrate = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p", kwlist, &calibrate)) return NULL;
    tsr_context *ctx = NULL;
    tsr_status st;
    Py_BEGIN_ALLOW_THREADS;
    st = tsr_context_create(NULL, &ctx);
    Py_END_ALLOW_THREADS;
    if (st != TSR_OK) return raise_status(st);
    int n = tsr_device_count(ctx);
    PyObject *list = PyList_New(0);
    for (int i = 0; list && i < n; i++) {
        struct tsr_calibration_info cal;
        if (calibrate) {
            Py_BEGIN_ALLOW_THREADS;
            st = tsr_device_calibrate(ctx, i, 0, &cal);
            Py_END_ALLOW_THREADS;
        } else {
            st = tsr_device_calibration(ctx, i, &cal);
        }
        struct tsr_device_info d; /* after calibrating: est_* follow the figures */
        if (tsr_device_get_info(ctx, i, &d) != TSR_OK) continue;
        PyObject *dd = device_dict(&d);
        PyObject *cd = NULL;
        if (st == TSR_OK) {
            cd = calibration_dict(&cal);
        } else {
            Py_INCREF(Py_None);
            cd = Py_None;
        }
        if (!dd || !cd || PyDict_SetItemString(dd, "calibration", cd) < 0 ||
            PyList_Append(list, dd) < 0)
            Py_CLEAR(list);
        Py_XDECREF(dd);
        Py_XDECREF(cd);
    }
    tsr_context_destroy(ctx);
    return list;
}

static PyObject *mod_status_name(PyObject *self, PyObject *arg) {
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(tsr_status_name((tsr_status)v));
}

static PyMethodDef mod_methods[] = {
    {"devices", (PyCFunction)(void (*)(void))mod_devices, METH_VARARGS | METH_KEYWORDS,
     "devices(calibrate=False) -> list of dict"},
    {"status_name", mod_status_name, METH_O, "status_name(code) -> 'TSR_E_SHAPE'"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef mod_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_tessera",
    .m_doc = "tessera's C extension (use the package `tessera`).",
    .m_size = -1,
    .m_methods = mod_methods,
};

static PyObject *new_exc(PyObject *m, const char *name, PyObject *bases, const char *doc) {
    char full[96];
    snprintf(full, sizeof full, "tessera.%s", name);
    PyObject *e = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    if (e && PyModule_AddObjectRef(m, name, e) < 0) Py_CLEAR(e);
    return e;
}

PyMODINIT_FUNC PyInit__tessera(void) {
    import_array();
    if (PyType_Ready(&SessionType) < 0) return NULL;
    PyObject *m = PyModule_Create(&mod_def);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Session", (PyObject *)&SessionType) < 0) goto fail;
    err_base = new_exc(m, "Error", PyExc_RuntimeError,
                       "Base of tessera's errors: .status (e.g. 'TSR_E_SHAPE'), .code (the "
                       "tsr_status value), .message (names the problem).");
    if (!err_base) goto fail;
    PyObject *b = PyTuple_Pack(2, err_base, PyExc_ValueError);
    err_invalid_arg = b ? new_exc(m, "InvalidArgument", b,
                                  "TSR_E_INVALID_ARG, TSR_E_SHAPE, TSR_E_DTYPE: a bad argument, "
                                  "input name, shape or dtype.")
                        : NULL;
    Py_XDECREF(b);
    err_invalid_graph =
        new_exc(m, "InvalidGraph", err_base, "TSR_E_PARSE: a malformed model file.");
    err_unsupported = new_exc(m, "Unsupported", err_base,
                              "TSR_E_UNSUPPORTED: an operator or feature tessera lacks.");
    err_file = new_exc(m, "FileError", err_base, "TSR_E_IO: a file could not be read or written.");
    err_nomem = new_exc(m, "OutOfMemory", err_base,
                        "TSR_E_NOMEM, TSR_E_DEVICE_NOMEM: out of host or device memory.");
    err_device = new_exc(m, "DeviceError", err_base,
                         "TSR_E_DEVICE, TSR_E_BUILD: a device failed or a kernel did not build.");
    err_not_found =
        new_exc(m, "NotFound", err_base, "TSR_E_NOT_FOUND: e.g. a device that is not there.");
    err_internal = new_exc(m, "InternalError", err_base, "TSR_E_INTERNAL: a bug in tessera.");
    if (!err_invalid_arg || !err_invalid_graph || !err_unsupported || !err_file || !err_nomem ||
        !err_device || !err_not_found || !err_internal)
        goto fail;
    if (PyModule_AddStringConstant(m, "VERSION", TSR_VERSION_STRING) < 0 ||
        PyModule_AddIntConstant(m, "FUSE_ALL", (long)TSR_FUSE_ALL) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
