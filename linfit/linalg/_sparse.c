/*
 * The Gauss-Newton product of a one-column model on CSR rows, in one pass over them:
 *
 *     out += sum_i c_i (x_i . v + vb) x_i        and returns  sum_i c_i (x_i . v + vb)
 *
 * for the rows [start, stop) of X (n, d): the Hessian-vector product X^T diag(c) (X v + vb)
 * of a linear model with one score column and per-sample curvature c (n,), and its bias
 * entry. scipy computes it as two products, X @ v and then X.T @ r, each reading every
 * stored value and index from memory; here each row is read once and its second use comes
 * from cache, so a product costs one pass over X instead of two (the passes are bound by
 * memory, not arithmetic). The caller splits the rows over threads, each with its own
 * out (d,); the GIL is released meanwhile.
 *
 * squares_times, for the diagonal that preconditions conjugate gradient, is the same walk
 * for out += sum_i c_i x_i^2 (elementwise): scipy squares a copy of every stored value
 * first.
 *
 * Row pointers and column indices come as int32 or int64 (scipy picks by size); values,
 * c, v and out as float64. A column index outside [0, d) is a ValueError (nothing past
 * out is written).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

/* Each column index is checked against d as it is read, before its one use: an unsigned
 * comparison per stored value, which costs nothing measurable in a pass bound by memory,
 * where a check of the whole matrix in numpy before each operator cost a pass more. */
#define GAUSS_NEWTON(PTR_T, IDX_T)                                                         \
    do {                                                                                   \
        const PTR_T *ip = (const PTR_T *)indptr.buf;                                       \
        const IDX_T *ix = (const IDX_T *)indices.buf;                                      \
        for (Py_ssize_t i = start; i < stop && !bad; i++) {                                \
            const PTR_T lo = ip[i], hi = ip[i + 1];                                        \
            double t = vb;                                                                 \
            for (PTR_T k = lo; k < hi; k++) {                                              \
                if ((uint64_t)ix[k] >= (uint64_t)d) {                                      \
                    bad = 1;                                                               \
                    break;                                                                 \
                }                                                                          \
                t += val[k] * v[ix[k]];                                                    \
            }                                                                              \
            const double r = c[i] * t;                                                     \
            bias += r;                                                                     \
            if (r != 0.0 && !bad)                                                          \
                for (PTR_T k = lo; k < hi; k++)                                            \
                    out[ix[k]] += r * val[k];                                              \
        }                                                                                  \
    } while (0)

#define SQUARES_TIMES(PTR_T, IDX_T)                                                        \
    do {                                                                                   \
        const PTR_T *ip = (const PTR_T *)indptr.buf;                                       \
        const IDX_T *ix = (const IDX_T *)indices.buf;                                      \
        for (Py_ssize_t i = start; i < stop && !bad; i++) {                                \
            const double r = c[i];                                                         \
            if (r != 0.0)                                                                  \
                for (PTR_T k = ip[i]; k < ip[i + 1]; k++) {                                \
                    if ((uint64_t)ix[k] >= (uint64_t)d) {                                  \
                        bad = 1;                                                           \
                        break;                                                             \
                    }                                                                      \
                    out[ix[k]] += r * val[k] * val[k];                                     \
                }                                                                          \
        }                                                                                  \
    } while (0)

/* LOOP instantiated for the row pointers' and column indices' widths (int32 or int64). */
#define BY_WIDTHS(LOOP, r)                                                                 \
    do {                                                                                   \
        if ((r).ptr_size == 4 && (r).idx_size == 4)                                        \
            LOOP(int32_t, int32_t);                                                        \
        else if ((r).ptr_size == 8 && (r).idx_size == 4)                                   \
            LOOP(int64_t, int32_t);                                                        \
        else if ((r).ptr_size == 4)                                                        \
            LOOP(int32_t, int64_t);                                                        \
        else                                                                               \
            LOOP(int64_t, int64_t);                                                        \
    } while (0)

static PyObject *index_error(void)
{
    PyErr_SetString(PyExc_ValueError, "a column index is out of range");
    return NULL;
}

static int check(Py_buffer *b, Py_ssize_t at_least, Py_ssize_t itemsize, const char *name)
{
    if (b->len % itemsize != 0 || b->len / itemsize < at_least) {
        PyErr_Format(PyExc_ValueError, "%s has %zd bytes, expected at least %zd items of %zd",
                     name, b->len, at_least, itemsize);
        return 0;
    }
    return 1;
}

/* The arrays both kernels read, checked: the rows [start, stop) and their pointers rising
 * within the stored values (O(rows), so checked on every call), c (n,) and out (d,). */
typedef struct {
    Py_buffer indptr, indices, data, c, out;
    Py_ssize_t start, stop, ptr_size, idx_size;
} rows_t;

static int check_rows(rows_t *r)
{
    if ((r->ptr_size != 4 && r->ptr_size != 8) || (r->idx_size != 4 && r->idx_size != 8)) {
        PyErr_SetString(PyExc_ValueError, "row pointers and indices must be int32 or int64");
        return 0;
    }
    if (r->start < 0 || r->stop < r->start || !check(&r->indptr, r->stop + 1, r->ptr_size, "indptr") ||
        !check(&r->c, r->stop, 8, "c") || !check(&r->out, 0, 8, "out"))
        return 0;
    const Py_ssize_t stored = r->indices.len / r->idx_size < r->data.len / 8
                                  ? r->indices.len / r->idx_size : r->data.len / 8;
    int64_t previous = 0;
    for (Py_ssize_t i = r->start; i <= r->stop; i++) {
        const int64_t p = r->ptr_size == 4 ? ((const int32_t *)r->indptr.buf)[i]
                                           : ((const int64_t *)r->indptr.buf)[i];
        if (p < previous || p > stored) {
            PyErr_SetString(PyExc_ValueError, "indptr does not rise within the stored values");
            return 0;
        }
        previous = p;
    }
    return 1;
}

static void release_rows(rows_t *r)
{
    PyBuffer_Release(&r->indptr);
    PyBuffer_Release(&r->indices);
    PyBuffer_Release(&r->data);
    PyBuffer_Release(&r->c);
    PyBuffer_Release(&r->out);
}

static PyObject *gauss_newton(PyObject *self, PyObject *args)
{
    rows_t r;
    Py_buffer vbuf;
    double vb;
    /* buffers are read as bytes: the integer widths come as arguments */
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*dw*nnnn", &r.indptr, &r.indices, &r.data, &r.c,
                          &vbuf, &vb, &r.out, &r.start, &r.stop, &r.ptr_size, &r.idx_size))
        return NULL;
    PyObject *result = NULL;
    if (!check_rows(&r))
        goto done;
    if (r.out.len != vbuf.len) {
        PyErr_SetString(PyExc_ValueError, "out and v must have the same length");
        goto done;
    }
    {
        const Py_buffer indptr = r.indptr, indices = r.indices;
        const Py_ssize_t start = r.start, stop = r.stop;
        const double *val = r.data.buf, *c = r.c.buf, *v = vbuf.buf;
        double *out = r.out.buf;
        const Py_ssize_t d = vbuf.len / 8;
        double bias = 0.0;
        int bad = 0;
        Py_BEGIN_ALLOW_THREADS
        BY_WIDTHS(GAUSS_NEWTON, r);
        Py_END_ALLOW_THREADS
        result = bad ? index_error() : PyFloat_FromDouble(bias);
    }
done:
    release_rows(&r);
    PyBuffer_Release(&vbuf);
    return result;
}

static PyObject *squares_times(PyObject *self, PyObject *args)
{
    rows_t r;
    Py_ssize_t d;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*nnnnn", &r.indptr, &r.indices, &r.data, &r.c,
                          &r.out, &r.start, &r.stop, &r.ptr_size, &r.idx_size, &d))
        return NULL;
    PyObject *result = NULL;
    if (!check_rows(&r))
        goto done;
    if (r.out.len != d * 8) {
        PyErr_SetString(PyExc_ValueError, "out must hold d values");
        goto done;
    }
    {
        const Py_buffer indptr = r.indptr, indices = r.indices;
        const Py_ssize_t start = r.start, stop = r.stop;
        const double *val = r.data.buf, *c = r.c.buf;
        double *out = r.out.buf;
        int bad = 0;
        Py_BEGIN_ALLOW_THREADS
        BY_WIDTHS(SQUARES_TIMES, r);
        Py_END_ALLOW_THREADS
        if (bad) {
            index_error();
            goto done;
        }
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    release_rows(&r);
    return result;
}

static PyMethodDef methods[] = {
    {"gauss_newton", gauss_newton, METH_VARARGS,
     "gauss_newton(indptr, indices, data, c, v, vb, out, start, stop, ptr_size, idx_size) "
     "-> bias: out += "
     "sum_i c_i (x_i.v + vb) x_i over rows [start, stop) of the CSR arrays, returning "
     "sum_i c_i (x_i.v + vb); one pass over the rows, GIL released."},
    {"squares_times", squares_times, METH_VARARGS,
     "squares_times(indptr, indices, data, c, out, start, stop, ptr_size, idx_size, d): "
     "out += sum_i c_i x_i**2 over rows [start, stop); GIL released."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sparse",
    "One-pass products on CSR rows (see linfit/linalg/sparse.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__sparse(void) { return PyModule_Create(&module); }
