/*
 * Products with CSR rows, each a walk of rows [start, stop) of X (n, d) that the caller
 * splits over threads (each part with its own output where parts add up); the GIL is
 * released meanwhile.
 *
 * curved_product, the Hessian-vector product of a linear model with K score columns:
 *
 *     out += sum_i x_i r_i^T,  r_i = C_i (V^T x_i + vb),  C_i = u_i (diag(a_i) - b_i b_i^T)
 *
 * and the bias entry sum_i r_i. scipy computes it as two products, X @ V and then X.T @ R,
 * each reading every stored value and index from memory; here each row is read once and
 * its second use comes from cache, so a product costs one pass over X instead of two (the
 * passes are bound by memory, not arithmetic).
 *
 * squares_times, for the diagonal that preconditions conjugate gradient, is the same walk
 * for out += sum_i c_i x_i^2 (elementwise): scipy squares a copy of every stored value
 * first. times and transposed_times are the plain products X @ W and X.T @ G.
 *
 * Row pointers and column indices come as int32 or int64 (scipy picks by size); values
 * and the dense arrays as float64. Each column index is checked against d as it is read,
 * before its one use: an unsigned comparison per stored value, which costs nothing
 * measurable in a pass bound by memory, where a check of the whole matrix in numpy before
 * each operator cost a pass more. One outside [0, d) is a ValueError (nothing past out is
 * written).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

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

/* The walks of a row's stored values [lo, hi) that the K-column kernels share: GATHER_ROW
 * adds x_i's products with the rows of M (d, K) to s (K,); SCATTER_ROW adds x_ij s to row j
 * of out (d, K). Both check each column index as they read it (bad = 1, the row left),
 * SCATTER_ROW unless `checked` (a constant: the row's gather checked them already; the
 * second check cost curved_product 5% of a one-column product). */
#define GATHER_ROW(PTR_T, lo, hi, M, K, s)                                                 \
    do {                                                                                   \
        for (PTR_T k = (lo); k < (hi); k++) {                                              \
            if ((uint64_t)ix[k] >= (uint64_t)d) {                                          \
                bad = 1;                                                                   \
                break;                                                                     \
            }                                                                              \
            const double x = val[k], *Mj = (M) + (Py_ssize_t)ix[k] * (K);                  \
            for (Py_ssize_t c = 0; c < (K); c++)                                           \
                (s)[c] += x * Mj[c];                                                       \
        }                                                                                  \
    } while (0)

#define SCATTER_ROW(PTR_T, lo, hi, out, K, s, checked)                                     \
    do {                                                                                   \
        for (PTR_T k = (lo); k < (hi); k++) {                                              \
            if (!(checked) && (uint64_t)ix[k] >= (uint64_t)d) {                            \
                bad = 1;                                                                   \
                break;                                                                     \
            }                                                                              \
            const double x = val[k];                                                       \
            double *Oj = (out) + (Py_ssize_t)ix[k] * (K);                                  \
            for (Py_ssize_t c = 0; c < (K); c++)                                           \
                Oj[c] += x * (s)[c];                                                       \
        }                                                                                  \
    } while (0)

/* curved_product: the Hessian product of a K-column model in one pass over the rows,
 *
 *     s_i = V^T x_i + vb (K,),  r_i = u_i (a_i * s_i - b_i (b_i . s_i)),
 *     out[:d] += sum_i x_i r_i^T (d, K)  and  out[d] += sum_i r_i (the bias row),
 *
 * for per-sample curvatures of the form diag(a_i) - b_i b_i^T times u_i: softmax's
 * (a = b = p_i, u_i = w_i / n), a one-vs-rest loss's diagonal (no b), a one-column model's
 * number (K = 1). V and out are (d, K) row-major, a feature's K numbers contiguous. b and
 * u may be empty (absent). */
#define CURVED_ROWS(PTR_T, IDX_T, K, s)                                                    \
    do {                                                                                   \
        const PTR_T *ip = (const PTR_T *)indptr.buf;                                       \
        const IDX_T *ix = (const IDX_T *)indices.buf;                                      \
        for (Py_ssize_t i = start; i < stop && !bad; i++) {                                \
            const PTR_T lo = ip[i], hi = ip[i + 1];                                        \
            for (Py_ssize_t c = 0; c < K; c++)                                             \
                s[c] = vb[c];                                                              \
            GATHER_ROW(PTR_T, lo, hi, V, K, s);                                            \
            if (bad)                                                                       \
                break;                                                                     \
            const double *ai = a + i * K;                                                  \
            const double ui = u ? u[i] : 1.0;                                              \
            int any = 0;                                                                   \
            if (b) {                                                                       \
                const double *bi = b + i * K;                                              \
                double dot = 0.0;                                                          \
                for (Py_ssize_t c = 0; c < K; c++)                                         \
                    dot += bi[c] * s[c];                                                   \
                for (Py_ssize_t c = 0; c < K; c++)                                         \
                    any |= (s[c] = (ai[c] * s[c] - bi[c] * dot) * ui) != 0.0;              \
            } else                                                                         \
                for (Py_ssize_t c = 0; c < K; c++)                                         \
                    any |= (s[c] = ai[c] * s[c] * ui) != 0.0;                              \
            if (!any)                                                                      \
                continue;                                                                  \
            for (Py_ssize_t c = 0; c < K; c++)                                             \
                bias[c] += s[c];                                                           \
            SCATTER_ROW(PTR_T, lo, hi, out, K, s, 1);                                      \
        }                                                                                  \
    } while (0)

/* times: out[i] = W^T x_i (K,) for the rows [start, stop), out (n, K) shared by the
 * threads, each writing its own rows. transposed_times: out (d, K) += x_i g_i^T, g_i = G[i]
 * (K,), each thread with its own out. scipy's products walk the same way, on one thread. */
#define TIMES_ROWS(PTR_T, IDX_T, K, s)                                                     \
    do {                                                                                   \
        const PTR_T *ip = (const PTR_T *)indptr.buf;                                       \
        const IDX_T *ix = (const IDX_T *)indices.buf;                                      \
        for (Py_ssize_t i = start; i < stop && !bad; i++) {                                \
            for (Py_ssize_t c = 0; c < K; c++)                                             \
                s[c] = 0.0;                                                                \
            GATHER_ROW(PTR_T, ip[i], ip[i + 1], W, K, s);                                  \
            double *oi = out + i * K;                                                      \
            for (Py_ssize_t c = 0; c < K; c++)                                             \
                oi[c] = s[c];                                                              \
        }                                                                                  \
    } while (0)

#define TRANSPOSED_ROWS(PTR_T, IDX_T, K, s)                                                \
    do {                                                                                   \
        const PTR_T *ip = (const PTR_T *)indptr.buf;                                       \
        const IDX_T *ix = (const IDX_T *)indices.buf;                                      \
        for (Py_ssize_t i = start; i < stop && !bad; i++) {                                \
            const double *gi = G + i * K;                                                  \
            int any = 0;                                                                   \
            for (Py_ssize_t c = 0; c < K; c++)                                             \
                any |= (s[c] = gi[c]) != 0.0;                                              \
            if (any)                                                                       \
                SCATTER_ROW(PTR_T, ip[i], ip[i + 1], out, K, s, 0);                        \
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

/* A ROWS loop with K a constant of the compiler's for the usual output counts, so that a
 * row's K numbers stay in registers and the K-loops unroll (measured on the one-hot
 * workload's 480,000 x 3,017 on one thread: curved_product took 19 ms at K = 4 and 30 ms
 * at K = 7, where K as a variable took 50 ms at K = 7, and scipy's two products and the
 * curvature 43-69 ms), else with K as given and s (K,) on the heap. FIXED_K, the largest
 * constant, is the module's FIXED_K too (linalg/sparse.py reads it there). */
#define FIXED_K 10
#define BY_K(ROWS, PTR_T, IDX_T)                                                           \
    do {                                                                                   \
        double fixed[FIXED_K];                                                             \
        switch (K) {                                                                       \
        case 1: ROWS(PTR_T, IDX_T, 1, fixed); break;                                       \
        case 2: ROWS(PTR_T, IDX_T, 2, fixed); break;                                       \
        case 3: ROWS(PTR_T, IDX_T, 3, fixed); break;                                       \
        case 4: ROWS(PTR_T, IDX_T, 4, fixed); break;                                       \
        case 5: ROWS(PTR_T, IDX_T, 5, fixed); break;                                       \
        case 6: ROWS(PTR_T, IDX_T, 6, fixed); break;                                       \
        case 7: ROWS(PTR_T, IDX_T, 7, fixed); break;                                       \
        case 8: ROWS(PTR_T, IDX_T, 8, fixed); break;                                       \
        case 9: ROWS(PTR_T, IDX_T, 9, fixed); break;                                       \
        case 10: ROWS(PTR_T, IDX_T, 10, fixed); break;                                     \
        default: ROWS(PTR_T, IDX_T, K, s);                                                 \
        }                                                                                  \
    } while (0)

#define CURVED_PRODUCT(PTR_T, IDX_T) BY_K(CURVED_ROWS, PTR_T, IDX_T)
#define ROWS_TIMES(PTR_T, IDX_T) BY_K(TIMES_ROWS, PTR_T, IDX_T)
#define TRANSPOSED_TIMES(PTR_T, IDX_T) BY_K(TRANSPOSED_ROWS, PTR_T, IDX_T)

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
 * within the stored values (O(rows), so checked on every call), c (n,) when given, out. */
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
        (r->c.buf && !check(&r->c, r->stop, 8, "c")) || !check(&r->out, 0, 8, "out"))
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

static PyObject *curved_product(PyObject *self, PyObject *args)
{
    rows_t r;
    Py_buffer vbuf, vbbuf, bbuf, ubuf;
    Py_ssize_t K;
    /* r.c holds a (n, K); out holds (d + 1, K), its last row the bias's */
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*w*nnnnn", &r.indptr, &r.indices, &r.data,
                          &r.c, &bbuf, &ubuf, &vbuf, &vbbuf, &r.out, &r.start, &r.stop,
                          &r.ptr_size, &r.idx_size, &K))
        return NULL;
    PyObject *result = NULL;
    double *restrict s = NULL;
    if (!check_rows(&r))
        goto done;
    if (K < 1 || vbuf.len % (8 * K) != 0 || vbbuf.len != 8 * K ||
        r.out.len != vbuf.len + 8 * K || r.c.len / 8 / K < r.stop ||
        (bbuf.len != 0 && bbuf.len != r.c.len) || (ubuf.len != 0 && ubuf.len / 8 < r.stop)) {
        PyErr_SetString(PyExc_ValueError,
                        "curved_product: V (d, K), vb (K,), out (d + 1, K), a and b (n, K), "
                        "u (n,) do not agree");
        goto done;
    }
    if (!(s = PyMem_Malloc(8 * K))) {
        PyErr_NoMemory();
        goto done;
    }
    {
        const Py_buffer indptr = r.indptr, indices = r.indices;
        const Py_ssize_t start = r.start, stop = r.stop, d = vbuf.len / 8 / K;
        const double *val = r.data.buf, *a = r.c.buf, *V = vbuf.buf, *vb = vbbuf.buf;
        const double *b = bbuf.len ? bbuf.buf : NULL, *u = ubuf.len ? ubuf.buf : NULL;
        double *out = r.out.buf, *bias = out + d * K;
        int bad = 0;
        Py_BEGIN_ALLOW_THREADS
        BY_WIDTHS(CURVED_PRODUCT, r);
        Py_END_ALLOW_THREADS
        if (bad) {
            index_error();
            goto done;
        }
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    PyMem_Free(s);
    release_rows(&r);
    PyBuffer_Release(&vbuf);
    PyBuffer_Release(&vbbuf);
    PyBuffer_Release(&bbuf);
    PyBuffer_Release(&ubuf);
    return result;
}

/* times (transposed = 0) and transposed_times (transposed = 1): M is W (d, K) or G (n, K),
 * out (n, K) or (d, K). */
static PyObject *products(PyObject *args, int transposed)
{
    rows_t r;
    Py_buffer mbuf;
    Py_ssize_t K, d;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*nnnnnn", &r.indptr, &r.indices, &r.data, &mbuf,
                          &r.out, &r.start, &r.stop, &r.ptr_size, &r.idx_size, &d, &K))
        return NULL;
    PyObject *result = NULL;
    double *restrict s = NULL;
    r.c.buf = NULL; /* no per-row numbers: check_rows skips c, release_rows ignores it */
    r.c.obj = NULL;
    if (!check_rows(&r))
        goto done;
    const Py_ssize_t m_rows = transposed ? r.stop : d, out_rows = transposed ? d : r.stop;
    if (K < 1 || d < 0 || mbuf.len / 8 / K < m_rows || r.out.len / 8 / K < out_rows) {
        PyErr_SetString(PyExc_ValueError, "times: the factor or out is too short for (rows, K)");
        goto done;
    }
    if (!(s = PyMem_Malloc(8 * K))) {
        PyErr_NoMemory();
        goto done;
    }
    {
        const Py_buffer indptr = r.indptr, indices = r.indices;
        const Py_ssize_t start = r.start, stop = r.stop;
        const double *val = r.data.buf, *W = mbuf.buf, *G = mbuf.buf;
        double *out = r.out.buf;
        int bad = 0;
        (void)W;
        (void)G;
        Py_BEGIN_ALLOW_THREADS
        if (transposed)
            BY_WIDTHS(TRANSPOSED_TIMES, r);
        else
            BY_WIDTHS(ROWS_TIMES, r);
        Py_END_ALLOW_THREADS
        if (bad) {
            index_error();
            goto done;
        }
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    PyMem_Free(s);
    release_rows(&r);
    PyBuffer_Release(&mbuf);
    return result;
}

static PyObject *times(PyObject *self, PyObject *args) { return products(args, 0); }

static PyObject *transposed_times(PyObject *self, PyObject *args) { return products(args, 1); }

static PyMethodDef methods[] = {
    {"squares_times", squares_times, METH_VARARGS,
     "squares_times(indptr, indices, data, c, out, start, stop, ptr_size, idx_size, d): "
     "out += sum_i c_i x_i**2 over rows [start, stop); GIL released."},
    {"curved_product", curved_product, METH_VARARGS,
     "curved_product(indptr, indices, data, a, b, u, V, vb, out, start, stop, ptr_size, "
     "idx_size, K): out[:d] += sum_i x_i r_i^T and out[d] += sum_i r_i, r_i = u_i (a_i * s_i - "
     "b_i (b_i . s_i)), s_i = V^T x_i + vb, over rows [start, stop); GIL released."},
    {"times", times, METH_VARARGS,
     "times(indptr, indices, data, W, out, start, stop, ptr_size, idx_size, d, K): out[i] = "
     "W^T x_i for rows [start, stop), W (d, K), out (n, K); GIL released."},
    {"transposed_times", transposed_times, METH_VARARGS,
     "transposed_times(indptr, indices, data, G, out, start, stop, ptr_size, idx_size, d, K): "
     "out += sum_i x_i G[i]^T over rows [start, stop), G (n, K), out (d, K); GIL released."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sparse",
    "One-pass products on CSR rows (see linfit/linalg/sparse.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__sparse(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddIntConstant(m, "FIXED_K", FIXED_K) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
