/*
 * What the two dual coordinate descent loops share (_dualcd.c: one binary SVM's dual;
 * _wwdual.c: the Weston-Watkins SVM's): the seeded shuffle, the inlining and prefetch
 * hints, Hsieh et al.'s shrinking test, its thresholds and the unshrinking when the bias's
 * centre drifts, and the checks and release of the arrays Python hands them. Included by
 * both.
 */
#ifndef LINFIT_DUAL_H
#define LINFIT_DUAL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>

static inline uint64_t next_random(uint64_t *state)
{
    /* xorshift64*: plenty for shuffling, and the same sequence on every platform */
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* The generator's state for the caller's seed (never 0, xorshift's fixed point). */
static inline uint64_t seeded(uint64_t seed)
{
    uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
    return state == 0 ? 1 : state;
}

/* Fisher-Yates over the `active` first entries of order, in place. */
static inline void shuffle(Py_ssize_t *order, Py_ssize_t active, uint64_t *state)
{
    for (Py_ssize_t s = active - 1; s > 0; s--) {
        Py_ssize_t j = (Py_ssize_t)(next_random(state) % (uint64_t)(s + 1));
        Py_ssize_t tmp = order[s];
        order[s] = order[j];
        order[j] = tmp;
    }
}

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define PREFETCH(address) __builtin_prefetch((address), 0, 3)
#else
#define ALWAYS_INLINE inline
#define PREFETCH(address) ((void)0)
#endif

/* Ask for the cache lines of CSR row i's values and column indices, and for the row
 * pointers of row j (which the next such call needs). Only hints: no result depends on
 * them. */
static ALWAYS_INLINE void prefetch_row(const int64_t *indptr, const int32_t *indices,
                                       const double *data, Py_ssize_t i, Py_ssize_t j)
{
    PREFETCH(&indptr[j]);
    int64_t lo = indptr[i], hi = indptr[i + 1];
    for (int64_t k = lo; k < hi; k += 8) /* a 64-byte line holds 8 values */
        PREFETCH(&data[k]);
    for (int64_t k = lo; k < hi; k += 16) /* and 16 column indices */
        PREFETCH(&indices[k]);
}

/* The samples that can move listed first in `order` (all n unweighted; weighted, those of
 * bound upper_each_i > 0: a weight-0 sample keeps alpha_i = 0, is never visited, and its
 * 1/(2 C u_i) never formed), and for each its curvature
 * sq_i = bias_scale^2 + diag_i + |x_i|^2 (diag_i from diag_each, or the scalar diag);
 * returns their count. */
static Py_ssize_t live_samples(const int64_t *indptr, const double *data, Py_ssize_t n,
                               double bias_scale, double diag, const double *upper_each,
                               const double *diag_each, Py_ssize_t *order, double *sq)
{
    double b2 = bias_scale * bias_scale;
    Py_ssize_t live = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (upper_each != NULL && !(upper_each[i] > 0.0))
            continue;
        double s = b2 + (diag_each != NULL ? diag_each[i] : diag);
        for (int64_t k = indptr[i]; k < indptr[i + 1]; k++)
            s += data[k] * data[k];
        sq[i] = s;
        order[live++] = i;
    }
    return live;
}

/* Hsieh et al.'s shrinking, for a variable a in [0, upper] of gradient G: 1 when it sits
 * at a bound that G pushes it further past than the last epoch's extreme projected
 * gradient (pg_old: max, min) says it will stay at (it is shrunk away); else 0, *pg the
 * projected gradient. */
static ALWAYS_INLINE int shrinks(double a, double G, double upper, const double pg_old[2],
                                 double *pg)
{
    *pg = G;
    if (a == 0.0) {
        if (G > pg_old[0])
            return 1;
        if (!(G < 0.0))
            *pg = 0.0;
    } else if (a == upper) {
        if (G < pg_old[1])
            return 1;
        if (!(G > 0.0))
            *pg = 0.0;
    }
    return 0;
}

/* The shrinking's state from one epoch to the next: the last epoch's extreme projected
 * gradients (pg_old: max, min), the thresholds of shrinks; and, for the bias's proximal
 * steps after each epoch, the centre's moves since the last unshrink (summed in `drift`)
 * and the least threshold since (`floor`). A variable was shrunk when its gradient pushed
 * past a threshold, at least floor; each move of the centre shifts every gradient by at
 * most its size. Once the drift may have carried a shrunk gradient back across 0, every
 * variable is active again: else, while the centre moved every epoch, no spread test ran
 * to unshrink them, and the rounds drifted with the variables that would have stopped
 * them left out (Weston-Watkins, 3,000 rows of norm 0.01, 5 classes: the bias went to 684
 * where its optimum is within 1; 8739553). */
typedef struct {
    double pg_old[2], drift, floor;
} shrinking_t;

/* Every variable active again: no threshold, no drift to account for. */
static inline void shrinking_reset(shrinking_t *sh)
{
    sh->pg_old[0] = INFINITY;
    sh->pg_old[1] = -INFINITY;
    sh->drift = 0.0;
    sh->floor = INFINITY;
}

/* After an epoch that does not stop the loop: the next thresholds from its projected
 * gradients pg (max, min; none on a side where no gradient pointed out of the box), and
 * the centre's move `moved` (0: none) added to the drift. Returns 1, the state reset,
 * when every variable must be active again (the caller unshrinks them). */
static inline int shrinking_next(shrinking_t *sh, const double pg[2], double moved)
{
    sh->pg_old[0] = pg[0] <= 0.0 ? INFINITY : pg[0];
    sh->pg_old[1] = pg[1] >= 0.0 ? -INFINITY : pg[1];
    sh->floor = fmin(sh->floor, fmin(sh->pg_old[0], -sh->pg_old[1]));
    sh->drift += moved;
    if (!(sh->drift > sh->floor))
        return 0;
    shrinking_reset(sh);
    return 1;
}

static inline int check(Py_buffer *b, Py_ssize_t items, Py_ssize_t itemsize, const char *name)
{
    if (b->len != items * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s has %zd bytes, expected %zd", name, b->len,
                     items * itemsize);
        return 0;
    }
    return 1;
}

/* The per-sample bounds and diagonal terms: both None (the scalars) or both n doubles. */
static inline int each_buffers(PyObject *upper, PyObject *diag, Py_buffer *ub, Py_buffer *db,
                        Py_ssize_t n)
{
    if ((upper == Py_None) != (diag == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "upper_each and diag_each go together");
        return 0;
    }
    if (upper == Py_None)
        return 1;
    if (PyObject_GetBuffer(upper, ub, PyBUF_SIMPLE) < 0)
        return 0;
    if (PyObject_GetBuffer(diag, db, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(ub);
        ub->obj = NULL;
        return 0;
    }
    return check(ub, n, 8, "upper_each") && check(db, n, 8, "diag_each");
}

/* The CSR rows (n, d): int64 row pointers from 0 to the stored values, never decreasing,
 * int32 column indices in [0, d) and as many double values; every loop reads and writes
 * only inside the arrays once these hold. */
static int check_rows(Py_buffer *indptr, Py_buffer *indices, Py_buffer *data, Py_ssize_t n,
                      Py_ssize_t d)
{
    Py_ssize_t nnz = indices->len / 4;
    if (n < 0 || d < 0) {
        PyErr_SetString(PyExc_ValueError, "n and d must be >= 0");
        return 0;
    }
    if (!check(indptr, n + 1, 8, "indptr") || !check(indices, nnz, 4, "indices") ||
        !check(data, nnz, 8, "data"))
        return 0;
    const int64_t *ip = indptr->buf;
    int ok = ip[0] == 0 && ip[n] == (int64_t)nnz;
    for (Py_ssize_t i = 0; i < n && ok; i++)
        ok = ip[i + 1] >= ip[i];
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "indptr does not span the stored values");
        return 0;
    }
    const int32_t *ix = indices->buf;
    for (Py_ssize_t k = 0; k < nnz; k++) { /* never write outside the weights */
        if (ix[k] < 0 || ix[k] >= d) {
            PyErr_SetString(PyExc_ValueError, "a column index is out of range");
            return 0;
        }
    }
    return 1;
}

/* Release the `count` buffers in all, and the per-sample ones where they were taken. */
static void release(Py_buffer **all, size_t count, Py_buffer *upper_each, Py_buffer *diag_each)
{
    for (size_t k = 0; k < count; k++)
        PyBuffer_Release(all[k]);
    if (upper_each->obj)
        PyBuffer_Release(upper_each);
    if (diag_each->obj)
        PyBuffer_Release(diag_each);
}

#endif
