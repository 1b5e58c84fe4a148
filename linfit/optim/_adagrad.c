/*
 * A mini-batch of LazyAdaGrad (linfit/optim/adagrad.py) on CSR rows, in two walks of the
 * batch's stored values, where numpy takes a dozen calls on (nnz_B, K) arrays per batch:
 *
 *   scores:  each feature the batch reads is caught up to batch t (its lazy penalty-only
 *            steps, and their share of the mean, in closed form) the first time it is met,
 *            listed in feat, and the batch's scores S = X_B W + b are summed row by row;
 *   update:  the data gradient X_B^T G is summed into scratch (zero outside the batch's
 *            features), then each listed feature takes its AdaGrad step
 *            w <- (w - eta d) / (1 + 2 reg eta), eta = lr / sqrt(h + d^2), and scratch is
 *            zeroed again. Nothing is written to W or H when a step is not finite.
 *
 * Between the two, the model's loss turns S into G (Python). The arithmetic is
 * adagrad.py's, term by term, so the iterates equal its numpy path's to rounding.
 *
 * W, H, total, scratch are (d, K) float64 row-major; last and mark (d,) int64; the batch's
 * rows are index (m,) int64 into the CSR arrays (row pointers and column indices int32 or
 * int64). A column index outside [0, d) is a ValueError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>

typedef struct {
    Py_buffer indptr, indices, data, index;
    Py_ssize_t ptr_size, idx_size, n_rows, m, d, K;
} batch_t;

static int stored_range(const batch_t *b, Py_ssize_t r, int64_t *lo, int64_t *hi)
{
    const int64_t i = ((const int64_t *)b->index.buf)[r];
    if (i < 0 || i >= b->n_rows)
        return 0;
    if (b->ptr_size == 4) {
        *lo = ((const int32_t *)b->indptr.buf)[i];
        *hi = ((const int32_t *)b->indptr.buf)[i + 1];
    } else {
        *lo = ((const int64_t *)b->indptr.buf)[i];
        *hi = ((const int64_t *)b->indptr.buf)[i + 1];
    }
    const Py_ssize_t stored = b->data.len / 8;
    return 0 <= *lo && *lo <= *hi && *hi <= stored &&
           *hi <= b->indices.len / b->idx_size;
}

static inline int64_t column(const batch_t *b, int64_t k)
{
    return b->idx_size == 4 ? ((const int32_t *)b->indices.buf)[k]
                            : ((const int64_t *)b->indices.buf)[k];
}

static inline double rate(double h, double lr) { return h > 0.0 ? lr / sqrt(h) : 0.0; }

static int check_matrix(Py_buffer *buf, Py_ssize_t rows, Py_ssize_t K, const char *name)
{
    if (buf->len != rows * K * 8) {
        PyErr_Format(PyExc_ValueError, "%s must be (%zd, %zd) float64", name, rows, K);
        return 0;
    }
    return 1;
}

static void release_batch(batch_t *b)
{
    PyBuffer_Release(&b->indptr);
    PyBuffer_Release(&b->indices);
    PyBuffer_Release(&b->data);
    PyBuffer_Release(&b->index);
}

static int check_batch(batch_t *b)
{
    if ((b->ptr_size != 4 && b->ptr_size != 8) || (b->idx_size != 4 && b->idx_size != 8) ||
        b->K < 1 || b->d < 0 || b->index.len % 8 != 0 ||
        b->indptr.len / b->ptr_size < b->n_rows + 1) {
        PyErr_SetString(PyExc_ValueError, "adagrad: the batch's CSR arrays do not agree");
        return 0;
    }
    b->m = b->index.len / 8;
    return 1;
}

/* Feature j's catch-up from batch last[j] to batch `to` (adagrad.py's _catch_up): s =
 * to - last penalty-only steps multiply w by r^s, r = 1 / (1 + x), x = 2 reg eta, and the
 * n of them from the mean's start on add w r^a (1 + r + ... + r^(n-1)) to the mean's sum,
 * a = first - last. The transcendental calls are the kernel's cost (numpy vectorizes its
 * own), so: none for a feature stepped by the batch before (s = 0, most of a batch's
 * popular features) or for x = 0; r itself for s = 1; else log1p and exp, and with the
 * mean, exp and expm1 for r^a and r^n - 1, whence r^s = r^a r^n (1 + x) and r - 1 =
 * -x / (1 + x) (adagrad.py takes five calls: the same numbers to a few ulps). */
static void catch_up(double *Wj, const double *Hj, double *Tj, int64_t *last_j, int64_t to,
                     int64_t t0, int64_t n_mean, double reg, double lr, Py_ssize_t K)
{
    const int64_t last = *last_j, steps = to - last;
    if (steps == 0)
        return;
    const int64_t first = last + 1 > t0 ? last + 1 : t0;
    const int64_t n = n_mean && to - first + 1 > 0 ? to - first + 1 : 0;
    for (Py_ssize_t c = 0; c < K; c++) {
        const double x = 2.0 * reg * rate(Hj[c], lr), w = Wj[c];
        if (x == 0.0) { /* r = 1 */
            Tj[c] = Tj[c] + w * (double)n;
            continue;
        }
        if (n == 0) {
            Wj[c] = steps == 1 ? w / (1.0 + x) : w * exp((double)steps * -log1p(x));
            continue;
        }
        const double log_r = -log1p(x);
        const double r_a = exp((double)(first - last) * log_r), r_n1 = expm1((double)n * log_r);
        Tj[c] = Tj[c] + w * r_a * (r_n1 / (-x / (1.0 + x)));
        Wj[c] = w * r_a * (1.0 + r_n1) * (1.0 + x);
    }
    *last_j = to;
}

/* scores(indptr, indices, data, index, ptr_size, idx_size, n_rows, d, K, W, H, total, b,
 *        last, mark, feat, S, t, t0, n_mean, reg, lr) -> number of features listed */
static PyObject *scores(PyObject *self, PyObject *args)
{
    batch_t bt;
    Py_buffer W, H, T, bias, last, mark, feat, S;
    long long t, t0, n_mean;
    double reg, lr;
    if (!PyArg_ParseTuple(args, "y*y*y*y*nnnnnw*y*w*y*w*w*w*w*LLLdd", &bt.indptr, &bt.indices,
                          &bt.data, &bt.index, &bt.ptr_size, &bt.idx_size, &bt.n_rows, &bt.d,
                          &bt.K, &W, &H, &T, &bias, &last, &mark, &feat, &S, &t, &t0, &n_mean,
                          &reg, &lr))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t K = bt.K, d = bt.d;
    if (!check_batch(&bt) || !check_matrix(&W, d, K, "W") || !check_matrix(&H, d, K, "H") ||
        !check_matrix(&T, d, K, "total") || !check_matrix(&bias, 1, K, "b") ||
        !check_matrix(&S, bt.m, K, "S") || last.len != d * 8 || mark.len != d * 8 ||
        feat.len % 8 != 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "adagrad: last, mark or feat has the wrong size");
        goto done;
    }
    {
        double *w = W.buf, *tot = T.buf, *s = S.buf;
        const double *h = H.buf, *b = bias.buf, *val = bt.data.buf;
        int64_t *lst = last.buf, *mk = mark.buf, *ft = feat.buf;
        const Py_ssize_t capacity = feat.len / 8;
        const int64_t stamp = (int64_t)t + 1; /* mark[j] == stamp: met in this batch */
        Py_ssize_t nf = 0;
        int bad = 0;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t r = 0; r < bt.m && !bad; r++) {
            int64_t lo, hi;
            double *sr = s + r * K;
            for (Py_ssize_t c = 0; c < K; c++)
                sr[c] = 0.0;
            if (!stored_range(&bt, r, &lo, &hi)) {
                bad = 2;
                break;
            }
            for (int64_t k = lo; k < hi; k++) {
                const int64_t j = column(&bt, k);
                if ((uint64_t)j >= (uint64_t)d || (mk[j] != stamp && nf >= capacity)) {
                    bad = 1;
                    break;
                }
                if (mk[j] != stamp) {
                    mk[j] = stamp;
                    ft[nf++] = j;
                    catch_up(w + j * K, h + j * K, tot + j * K, lst + j, t, t0, n_mean, reg,
                             lr, K);
                }
                const double x = val[k], *wj = w + j * K;
                for (Py_ssize_t c = 0; c < K; c++)
                    sr[c] += x * wj[c];
            }
            for (Py_ssize_t c = 0; c < K; c++)
                sr[c] += b[c];
        }
        Py_END_ALLOW_THREADS
        if (bad)
            PyErr_SetString(PyExc_ValueError, bad == 1 ? "a column index is out of range"
                                                       : "a batch row is out of range");
        else
            result = PyLong_FromSsize_t(nf);
    }
done:
    release_batch(&bt);
    PyBuffer_Release(&W);
    PyBuffer_Release(&H);
    PyBuffer_Release(&T);
    PyBuffer_Release(&bias);
    PyBuffer_Release(&last);
    PyBuffer_Release(&mark);
    PyBuffer_Release(&feat);
    PyBuffer_Release(&S);
    return result;
}

/* update(indptr, indices, data, index, ptr_size, idx_size, n_rows, d, K, G, feat, nf,
 *        scratch, H, W, last, t1, reg, lr) -> True, or False (W, H untouched) when a step
 *        is not finite */
static PyObject *update(PyObject *self, PyObject *args)
{
    batch_t bt;
    Py_buffer G, feat, scratch, H, W, last;
    Py_ssize_t nf;
    long long t1;
    double reg, lr;
    if (!PyArg_ParseTuple(args, "y*y*y*y*nnnnny*y*nw*w*w*w*Ldd", &bt.indptr, &bt.indices,
                          &bt.data, &bt.index, &bt.ptr_size, &bt.idx_size, &bt.n_rows, &bt.d,
                          &bt.K, &G, &feat, &nf, &scratch, &H, &W, &last, &t1, &reg, &lr))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t K = bt.K, d = bt.d;
    if (!check_batch(&bt) || !check_matrix(&G, bt.m, K, "G") ||
        !check_matrix(&scratch, d, K, "scratch") || !check_matrix(&H, d, K, "H") ||
        !check_matrix(&W, d, K, "W") || last.len != d * 8 || nf < 0 || feat.len / 8 < nf) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "adagrad: last or feat has the wrong size");
        goto done;
    }
    {
        double *sc = scratch.buf, *h = H.buf, *w = W.buf;
        const double *g = G.buf, *val = bt.data.buf;
        const int64_t *ft = feat.buf;
        int64_t *lst = last.buf;
        int bad = 0, finite = 1;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t r = 0; r < bt.m && !bad; r++) {
            int64_t lo, hi;
            if (!stored_range(&bt, r, &lo, &hi)) {
                bad = 2;
                break;
            }
            const double *gr = g + r * K;
            for (int64_t k = lo; k < hi; k++) {
                const int64_t j = column(&bt, k);
                if ((uint64_t)j >= (uint64_t)d) {
                    bad = 1;
                    break;
                }
                const double x = val[k];
                double *sj = sc + j * K;
                for (Py_ssize_t c = 0; c < K; c++)
                    sj[c] += x * gr[c];
            }
        }
        for (Py_ssize_t f = 0; f < nf && !bad && finite; f++) { /* check before writing */
            const int64_t j = ft[f];
            if ((uint64_t)j >= (uint64_t)d) {
                bad = 1;
                break;
            }
            for (Py_ssize_t c = 0; c < K; c++) {
                const double data = sc[j * K + c], hn = h[j * K + c] + data * data;
                const double eta = rate(hn, lr);
                const double wn = (w[j * K + c] - eta * data) / (1.0 + 2.0 * reg * eta);
                finite &= isfinite(wn) && isfinite(hn);
            }
        }
        for (Py_ssize_t f = 0; f < nf && !bad; f++) {
            const int64_t j = ft[f];
            for (Py_ssize_t c = 0; c < K; c++) {
                const double data = sc[j * K + c];
                sc[j * K + c] = 0.0;
                if (!finite)
                    continue;
                const double hn = h[j * K + c] + data * data, eta = rate(hn, lr);
                h[j * K + c] = hn;
                w[j * K + c] = (w[j * K + c] - eta * data) / (1.0 + 2.0 * reg * eta);
            }
            if (finite)
                lst[j] = t1;
        }
        Py_END_ALLOW_THREADS
        if (bad)
            PyErr_SetString(PyExc_ValueError, bad == 1 ? "a column index is out of range"
                                                       : "a batch row is out of range");
        else
            result = PyBool_FromLong(finite);
    }
done:
    release_batch(&bt);
    PyBuffer_Release(&G);
    PyBuffer_Release(&feat);
    PyBuffer_Release(&scratch);
    PyBuffer_Release(&H);
    PyBuffer_Release(&W);
    PyBuffer_Release(&last);
    return result;
}

static PyMethodDef methods[] = {
    {"scores", scores, METH_VARARGS,
     "scores(indptr, indices, data, index, ptr_size, idx_size, n_rows, d, K, W, H, total, b, "
     "last, mark, feat, S, t, t0, n_mean, reg, lr) -> the count of features listed in feat: "
     "each caught up to batch t, and S = X_B W + b."},
    {"update", update, METH_VARARGS,
     "update(indptr, indices, data, index, ptr_size, idx_size, n_rows, d, K, G, feat, nf, "
     "scratch, H, W, last, t1, reg, lr) -> whether the AdaGrad steps were finite (taken)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_adagrad",
    "LazyAdaGrad's batch walks on CSR rows (see linfit/optim/adagrad.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__adagrad(void) { return PyModule_Create(&module); }
