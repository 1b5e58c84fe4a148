/*
 * Dual coordinate descent for one binary linear SVM (Hsieh, Chang, Lin, Keerthi and
 * Sundararajan, "A dual coordinate descent method for large-scale linear SVM", ICML 2008,
 * Algorithm 3 with shrinking; LIBLINEAR's solve_l2r_l1l2_svc).
 *
 * The dual solved, over alpha (n,) with 0 <= alpha_i <= upper_i:
 *
 *     min  1/2 |sum_i t_i alpha_i xh_i|^2 + 1/2 sum_i diag_i alpha_i^2 - sum_i m_i alpha_i
 *
 * with xh_i = [x_i, bias_scale], labels t_i = +-1 and per-sample margins m_i. The hinge
 * (L1 loss) has upper = C and diag = 0; the squared hinge (L2 loss) upper = inf and
 * diag = 1 / (2 C). Weighted samples (cost C u_i, as LIBLINEAR's instance weights) have
 * their own upper_i = C u_i or diag_i = 1 / (2 C u_i), given as arrays; a sample of
 * weight 0 has upper_i = 0, its alpha_i stays 0 and it is never visited. The primal
 * weights w = sum_i t_i alpha_i x_i (d,) and the bias feature's weight
 * wb = bias_scale sum_i t_i alpha_i are kept up to date, so that each coordinate's
 * gradient G_i = t_i (w.x_i + wb bias_scale) - m_i + diag_i alpha_i costs one sparse dot
 * product, and each update one sparse axpy. linfit's unpenalized bias is a proximal point
 * method (dual_cd.py): the margins m_i and bias_scale, and with move_centre its rounds,
 * which move every margin by t_i shift after each epoch (see solve).
 *
 * Rows are visited in a random order each epoch (a xorshift generator seeded by the
 * caller, so runs repeat), variables stuck at a bound (each at its own) are shrunk away
 * from the epochs (Hsieh et al.'s shrinking), and the run stops when the projected
 * gradient's spread over all the variables that can move is at most eps with the centre
 * left in place. The GIL is released for the whole run.
 */
#include "_dual.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
    const int64_t *indptr;
    const int32_t *indices;
    const double *data;
    const double *t, *margin;
    double *alpha, *w, *wb;
    /* the bias centre moved within the call (added to every score), and whether the call
     * moves it (the proximal step; see solve) */
    double shift;
    int move_centre;
    Py_ssize_t n;
    double bias_scale, upper, diag, eps;
    /* per-sample bounds and diagonal terms (n,), or NULL for the scalars above */
    const double *upper_each, *diag_each;
    Py_ssize_t max_epochs;
    uint64_t seed;
} problem_t;

/* How far ahead in the visiting order the rows are prefetched. The order is random, so
 * the hardware cannot guess the next row; its row pointers are fetched twice as far ahead
 * as its values, which need them. Measured on the rcv1-like rows (78 values a row), 6
 * epochs from cold, 5 interleaved rounds: 4 and 8 ahead as fast (0.26 s), 2 and 16
 * slower (0.38 s, 0.29 s); without prefetching 3.4x the time of 4 ahead. */
#define AHEAD 4

/* Ask for sample i's row of X and per-sample scalars (the visit `AHEAD` samples later
 * reads them), and for the row pointers of sample j (needed by the prefetch of the next
 * round). Only hints: no result depends on them. */
static ALWAYS_INLINE void prefetch_sample(const problem_t *p, const double *qd, Py_ssize_t i,
                                         Py_ssize_t j)
{
    prefetch_row(p->indptr, p->indices, p->data, i, j);
    PREFETCH(&p->alpha[i]);
    PREFETCH(&p->t[i]);
    PREFETCH(&p->margin[i]);
    PREFETCH(&qd[i]);
}

/* One epoch over the `active` first samples of `order` (already shuffled): each one's
 * coordinate step, or its shrinking when it sits at its bound and the last epoch's
 * projected gradients (pg_old: max, min) say it stays there. Returns the new active count;
 * pg gets this epoch's (max, min). `weighted` is a constant at each call, so the compiler
 * makes two loops: the unweighted one reads the scalar bounds exactly as before. One loop
 * on arrays (the scalars repeated when unweighted) gives the same bits but two more
 * random reads per visit: measured 10-15% slower on 1e6 rows of 4 nonzeros. */
static ALWAYS_INLINE Py_ssize_t epoch_pass(const problem_t *p, Py_ssize_t *order,
                                           const double *qd, Py_ssize_t active, double *wb,
                                           const double pg_old[2], double pg_out[2],
                                           const int weighted)
{
    double pg_max = -INFINITY, pg_min = INFINITY, wbv = *wb;
    const double shift = p->shift; /* a local: the stores into w cannot be taken to change it */
    for (Py_ssize_t s = 0; s < active; s++) {
        Py_ssize_t i = order[s];
        if (s + 2 * AHEAD < active) /* shrinking may swap these in later: hints only */
            prefetch_sample(p, qd, order[s + AHEAD], order[s + 2 * AHEAD]);
        double ti = p->t[i], a = p->alpha[i];
        double upper = weighted ? p->upper_each[i] : p->upper;
        double diag = weighted ? p->diag_each[i] : p->diag;
        double dot = wbv * p->bias_scale;
        for (int64_t k = p->indptr[i]; k < p->indptr[i + 1]; k++)
            dot += p->w[p->indices[k]] * p->data[k];
        double G = ti * (dot + shift) - p->margin[i] + diag * a;
        double pg;
        if (shrinks(a, G, upper, pg_old, &pg)) { /* upper its own: C u_i, weighted hinge */
            active--;
            order[s] = order[active];
            order[active] = i;
            s--;
            continue;
        }
        if (pg > pg_max)
            pg_max = pg;
        if (pg < pg_min)
            pg_min = pg;
        if (fabs(pg) > 1e-12 && qd[i] > 0.0) {
            double a_new = a - G / qd[i];
            a_new = a_new < 0.0 ? 0.0 : (a_new > upper ? upper : a_new);
            double step = (a_new - a) * ti;
            p->alpha[i] = a_new;
            for (int64_t k = p->indptr[i]; k < p->indptr[i + 1]; k++)
                p->w[p->indices[k]] += step * p->data[k];
            wbv += step * p->bias_scale;
        }
    }
    *wb = wbv;
    pg_out[0] = pg_max;
    pg_out[1] = pg_min;
    return active;
}

/* Returns the number of epochs run, or -1 when out of memory; *converged says whether
 * the projected-gradient test held over all the samples that can move with the centre
 * left in place (moving it: the bias feature's weight wb within eps / bias_scale of 0).
 *
 * Moving the centre (dual_cd.py's proximal point method on the bias, its rounds run here),
 * after every epoch as _wwdual.c's: while the bias feature's weight would move the margins
 * by more than eps (|wb bias_scale|), the centre moves by it, shift += wb bias_scale
 * (every margin moves by t_i times it), and the epochs go on warm, alpha, w, wb and the
 * samples shrunk so far kept: each round is one epoch of the dual (an inexact proximal
 * point), and the loop stops only on an epoch whose spread test holds with the centre
 * left in place, checked last over all the samples. Rounds only once the spread test
 * held (before) took a solve to eps per round: with rows of norm 100 or 0.01 and the
 * bias far from 0, 1,000 epochs did not reach the optimum. */
static Py_ssize_t solve(problem_t *p, int *converged)
{
    Py_ssize_t n = p->n, epoch = 0;
    Py_ssize_t *order = malloc((size_t)(n > 0 ? n : 1) * sizeof(Py_ssize_t));
    double *qd = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    if (order == NULL || qd == NULL) {
        free(order);
        free(qd);
        return -1;
    }
    /* Q's diagonal qd (n,): bias_scale^2 + diag_i + |x_i|^2 */
    Py_ssize_t live = live_samples(p->indptr, p->data, n, p->bias_scale, p->diag,
                                   p->upper_each, p->diag_each, order, qd),
               active = live;
    int weighted = p->upper_each != NULL;
    uint64_t state = seeded(p->seed);
    double pg[2], wb = *p->wb;
    shrinking_t sh; /* the thresholds, and the centre's drift since the last unshrink */
    shrinking_reset(&sh);
    *converged = 0;
    while (epoch < p->max_epochs) {
        shuffle(order, active, &state);
        active = weighted ? epoch_pass(p, order, qd, active, &wb, sh.pg_old, pg, 1)
                          : epoch_pass(p, order, qd, active, &wb, sh.pg_old, pg, 0);
        epoch++;
        if (active == 0)
            pg[0] = pg[1] = 0.0;
        double moved = 0.0, beta = wb * p->bias_scale;
        if (p->move_centre && fabs(beta) > p->eps) {
            p->shift += beta; /* the proximal step; alpha, w and wb kept */
            moved = fabs(beta);
        }
        if (!(moved > 0.0) && pg[0] - pg[1] <= p->eps) {
            if (active == live) {
                *converged = 1;
                break;
            }
            /* converged on the active set: check every variable again before stopping */
            active = live;
            shrinking_reset(&sh);
            continue;
        }
        if (shrinking_next(&sh, pg, moved)) /* a shrunk gradient may have crossed 0 */
            active = live;
    }
    *p->wb = wb;
    free(order);
    free(qd);
    return epoch;
}

static PyObject *svm_dual(PyObject *self, PyObject *args)
{
    Py_buffer indptr, indices, data, t, margin, alpha, w;
    Py_buffer upper_each = {0}, diag_each = {0};
    PyObject *upper_obj = Py_None, *diag_obj = Py_None;
    Py_ssize_t n, d, max_epochs;
    double bias_scale, upper, diag, eps, wb;
    unsigned long long seed;
    int move_centre = 0;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*w*w*nnddddnKd|OOp", &indptr, &indices, &data, &t,
                          &margin, &alpha, &w, &n, &d, &bias_scale, &upper, &diag, &eps,
                          &max_epochs, &seed, &wb, &upper_obj, &diag_obj, &move_centre))
        return NULL;
    PyObject *result = NULL;
    Py_buffer *all[] = {&indptr, &indices, &data, &t, &margin, &alpha, &w};
    if (!check_rows(&indptr, &indices, &data, n, d) || !check(&t, n, 8, "t") ||
        !check(&margin, n, 8, "margin") || !check(&alpha, n, 8, "alpha") ||
        !check(&w, d, 8, "w") || !each_buffers(upper_obj, diag_obj, &upper_each, &diag_each, n))
        goto done;
    problem_t p = {indptr.buf, indices.buf, data.buf, t.buf, margin.buf, alpha.buf, w.buf,
                   &wb, 0.0, move_centre, n, bias_scale, upper, diag, eps,
                   upper_each.obj ? upper_each.buf : NULL,
                   diag_each.obj ? diag_each.buf : NULL, max_epochs, (uint64_t)seed};
    Py_ssize_t epochs;
    int converged = 0;
    Py_BEGIN_ALLOW_THREADS
    epochs = solve(&p, &converged);
    Py_END_ALLOW_THREADS
    if (epochs < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_BuildValue("ndid", epochs, wb, converged, p.shift);
done:
    release(all, sizeof all / sizeof all[0], &upper_each, &diag_each);
    return result;
}

static PyMethodDef methods[] = {
    {"svm_dual", svm_dual, METH_VARARGS,
     "svm_dual(indptr i8, indices i4, data f8, t, margin, alpha, w, n, d, bias_scale, upper, "
     "diag, eps, max_epochs, seed, wb, upper_each=None, diag_each=None, move_centre=False) "
     "-> (epochs, wb, converged, shift): alpha and w in place. upper_each and diag_each (n,) "
     "replace upper and diag sample by sample (weights); a sample whose upper_each is 0 is "
     "never visited. move_centre: the bias's proximal steps run inside, shift the centre's "
     "total move (every margin moved by t_i shift)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_dualcd",
    "Dual coordinate descent for linear SVMs (see dual_cd.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__dualcd(void) { return PyModule_Create(&module); }
