/*
 * Dual coordinate descent for one binary linear SVM (Hsieh, Chang, Lin, Keerthi and
 * Sundararajan, "A dual coordinate descent method for large-scale linear SVM", ICML 2008,
 * Algorithm 3 with shrinking; LIBLINEAR's solve_l2r_l1l2_svc).
 *
 * The dual solved, over alpha (n,) with 0 <= alpha_i <= upper:
 *
 *     min  1/2 |sum_i t_i alpha_i xh_i|^2 + diag/2 sum_i alpha_i^2 - sum_i m_i alpha_i
 *
 * with xh_i = [x_i, bias_scale], labels t_i = +-1 and per-sample margins m_i. The hinge
 * (L1 loss) has upper = C and diag = 0; the squared hinge (L2 loss) upper = inf and
 * diag = 1 / (2 C). The primal weights w = sum_i t_i alpha_i x_i (d,) and the bias
 * feature's weight wb = bias_scale sum_i t_i alpha_i are kept up to date, so that each
 * coordinate's gradient G_i = t_i (w.x_i + wb bias_scale) - m_i + diag alpha_i costs one
 * sparse dot product, and each update one sparse axpy. The Python side (dual_cd.py) turns
 * linfit's unpenalized bias into the margins m_i and bias_scale (a proximal point method).
 *
 * Rows are visited in a random order each epoch (a xorshift generator seeded by the
 * caller, so runs repeat), variables stuck at a bound are shrunk away from the epochs
 * (Hsieh et al.'s shrinking), and the run stops when the projected gradient's spread over
 * all variables is at most eps. The GIL is released for the whole run.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t next_random(uint64_t *state)
{
    /* xorshift64*: plenty for shuffling, and the same sequence on every platform */
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

typedef struct {
    const int64_t *indptr;
    const int32_t *indices;
    const double *data;
    const double *t, *margin;
    double *alpha, *w, *wb;
    Py_ssize_t n;
    double bias_scale, upper, diag, eps;
    Py_ssize_t max_epochs;
    uint64_t seed;
} problem_t;

/* Returns the number of epochs run, or -1 when out of memory; *converged says whether
 * the projected-gradient test held over all variables. */
static Py_ssize_t solve(problem_t *p, int *converged)
{
    Py_ssize_t n = p->n, active = n, epoch = 0;
    Py_ssize_t *order = malloc((size_t)(n > 0 ? n : 1) * sizeof(Py_ssize_t));
    double *qd = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    if (order == NULL || qd == NULL) {
        free(order);
        free(qd);
        return -1;
    }
    double b2 = p->bias_scale * p->bias_scale;
    for (Py_ssize_t i = 0; i < n; i++) {
        double sq = b2 + p->diag;
        for (int64_t k = p->indptr[i]; k < p->indptr[i + 1]; k++)
            sq += p->data[k] * p->data[k];
        qd[i] = sq;
        order[i] = i;
    }
    uint64_t state = p->seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
    if (state == 0)
        state = 1;
    double pg_max_old = INFINITY, pg_min_old = -INFINITY;
    double wb = *p->wb;
    *converged = 0;
    while (epoch < p->max_epochs) {
        double pg_max = -INFINITY, pg_min = INFINITY;
        for (Py_ssize_t s = active - 1; s > 0; s--) { /* Fisher-Yates over the active */
            Py_ssize_t j = (Py_ssize_t)(next_random(&state) % (uint64_t)(s + 1));
            Py_ssize_t tmp = order[s];
            order[s] = order[j];
            order[j] = tmp;
        }
        for (Py_ssize_t s = 0; s < active; s++) {
            Py_ssize_t i = order[s];
            double ti = p->t[i], a = p->alpha[i];
            double dot = wb * p->bias_scale;
            for (int64_t k = p->indptr[i]; k < p->indptr[i + 1]; k++)
                dot += p->w[p->indices[k]] * p->data[k];
            double G = ti * dot - p->margin[i] + p->diag * a;
            double pg = 0.0;
            if (a == 0.0) {
                if (G > pg_max_old) { /* at its bound and likely to stay: shrink */
                    active--;
                    order[s] = order[active];
                    order[active] = i;
                    s--;
                    continue;
                }
                if (G < 0.0)
                    pg = G;
            } else if (a == p->upper) {
                if (G < pg_min_old) {
                    active--;
                    order[s] = order[active];
                    order[active] = i;
                    s--;
                    continue;
                }
                if (G > 0.0)
                    pg = G;
            } else {
                pg = G;
            }
            if (pg > pg_max)
                pg_max = pg;
            if (pg < pg_min)
                pg_min = pg;
            if (fabs(pg) > 1e-12 && qd[i] > 0.0) {
                double a_new = a - G / qd[i];
                a_new = a_new < 0.0 ? 0.0 : (a_new > p->upper ? p->upper : a_new);
                double step = (a_new - a) * ti;
                p->alpha[i] = a_new;
                for (int64_t k = p->indptr[i]; k < p->indptr[i + 1]; k++)
                    p->w[p->indices[k]] += step * p->data[k];
                wb += step * p->bias_scale;
            }
        }
        epoch++;
        if (active == 0)
            pg_max = pg_min = 0.0;
        if (pg_max - pg_min <= p->eps) {
            if (active == n) {
                *converged = 1;
                break;
            }
            /* converged on the active set: check every variable again before stopping */
            active = n;
            pg_max_old = INFINITY;
            pg_min_old = -INFINITY;
            continue;
        }
        pg_max_old = pg_max <= 0.0 ? INFINITY : pg_max;
        pg_min_old = pg_min >= 0.0 ? -INFINITY : pg_min;
    }
    *p->wb = wb;
    free(order);
    free(qd);
    return epoch;
}

static int check(Py_buffer *b, Py_ssize_t items, Py_ssize_t itemsize, const char *name)
{
    if (b->len != items * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s has %zd bytes, expected %zd", name, b->len,
                     items * itemsize);
        return 0;
    }
    return 1;
}

static PyObject *svm_dual(PyObject *self, PyObject *args)
{
    Py_buffer indptr, indices, data, t, margin, alpha, w;
    Py_ssize_t n, d, max_epochs;
    double bias_scale, upper, diag, eps, wb;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*w*w*nnddddnKd", &indptr, &indices, &data, &t,
                          &margin, &alpha, &w, &n, &d, &bias_scale, &upper, &diag, &eps,
                          &max_epochs, &seed, &wb))
        return NULL;
    PyObject *result = NULL;
    Py_buffer *all[] = {&indptr, &indices, &data, &t, &margin, &alpha, &w};
    if (!check(&indptr, n + 1, 8, "indptr") || !check(&t, n, 8, "t") ||
        !check(&margin, n, 8, "margin") || !check(&alpha, n, 8, "alpha") ||
        !check(&w, d, 8, "w") || !check(&indices, indices.len / 4, 4, "indices") ||
        !check(&data, indices.len / 4, 8, "data"))
        goto done;
    {
        const int64_t *ip = indptr.buf;
        if (ip[0] != 0 || ip[n] != (int64_t)(indices.len / 4)) {
            PyErr_SetString(PyExc_ValueError, "indptr does not span the stored values");
            goto done;
        }
        const int32_t *ix = indices.buf;
        for (Py_ssize_t k = 0; k < indices.len / 4; k++) { /* never write outside w */
            if (ix[k] < 0 || ix[k] >= d) {
                PyErr_SetString(PyExc_ValueError, "a column index is out of range");
                goto done;
            }
        }
    }
    problem_t p = {indptr.buf, indices.buf, data.buf, t.buf, margin.buf, alpha.buf, w.buf,
                   &wb, n, bias_scale, upper, diag, eps, max_epochs, (uint64_t)seed};
    Py_ssize_t epochs;
    int converged = 0;
    Py_BEGIN_ALLOW_THREADS
    epochs = solve(&p, &converged);
    Py_END_ALLOW_THREADS
    if (epochs < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_BuildValue("ndi", epochs, wb, converged);
done:
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        PyBuffer_Release(all[k]);
    return result;
}

static PyMethodDef methods[] = {
    {"svm_dual", svm_dual, METH_VARARGS,
     "svm_dual(indptr i8, indices i4, data f8, t, margin, alpha, w, n, d, bias_scale, upper, "
     "diag, eps, max_epochs, seed, wb) -> (epochs, wb, converged): alpha and w in place."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_dualcd",
    "Dual coordinate descent for linear SVMs (see dual_cd.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__dualcd(void) { return PyModule_Create(&module); }
