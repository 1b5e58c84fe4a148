/*
 * The classifiers' per-row passes over a block's scores S (n, K), fused: what numpy runs
 * as a dozen passes over S (shift, gather, row sums, broadcast scaling, scatter, clip,
 * square, sum), each a walk through memory, runs here as one walk in which each row's K
 * cells stay in the first-level cache. The GIL is released meanwhile, so the blocks that
 * linfit.linalg.blocks.map_blocks spreads over threads run their passes side by side.
 *
 *   softmax_prepare  the min and max of S (the caller picks the shift from them) and
 *                    each row's true-class score, reading S only;
 *   softmax          S = exp(scores - shift) by an exp vectorized wide (see WIDE; where
 *                    the loops have no wide clones the caller runs numpy's exp first,
 *                    the faster there), each row's sum, then, with a gradient, the row
 *                    scaled to w_i p_i / n and w_i / n taken from its true class, a
 *                    chunk of rows at a time;
 *   hinge            the Weston-Watkins or one-vs-rest (squared) hinge: each row's loss,
 *                    and with a gradient, S overwritten by dloss/dS.
 *
 * S is float64, C-ordered; y int64 codes in [0, K) (checked where read: a code outside is
 * a ValueError and nothing is written past S); w float64 weights, or an empty buffer for
 * none. The arithmetic of each cell is the one linfit/models/softmax.py and svm.py do in
 * numpy, in the same order, so only the sums over a row (and numpy's sums over rows,
 * which the caller still takes) and the exp (within an ulp of numpy's) round differently.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
/* max(t, 0) as np.maximum has it, NaN staying NaN: maxsd(0, t) is 0 > t ? 0 : t, one
 * instruction, where the compiler leaves the same comparison in C as a branch, which
 * scores of random sign mispredict half the time (measured 3x slower at 8 classes). */
static inline double positive_part(double t)
{
    return _mm_cvtsd_f64(_mm_max_sd(_mm_setzero_pd(), _mm_set_sd(t)));
}
/* m > 0 ? c : 0, as a mask, for the same reason */
static inline double where_positive(double m, double c)
{
    return _mm_cvtsd_f64(_mm_and_pd(_mm_cmpgt_sd(_mm_set_sd(m), _mm_setzero_pd()), _mm_set_sd(c)));
}
#else
static inline double positive_part(double t) { return 0.0 > t ? 0.0 : t; }
static inline double where_positive(double m, double c) { return m > 0.0 ? c : 0.0; }
#endif

typedef struct {
    Py_buffer S, y, w, out;
    Py_ssize_t n, K;
} block_t;

/* Parses nothing: checks that S (n, K), y (n,), w (n,) or empty, and out (n,) agree. */
static int check_block(block_t *b, const char *name)
{
    const Py_ssize_t K = b->K;
    if (K < 1 || b->S.len % (8 * K) != 0) {
        PyErr_Format(PyExc_ValueError, "%s: S does not hold rows of %zd float64", name, K);
        return 0;
    }
    b->n = b->S.len / 8 / K;
    if (b->y.len != 8 * b->n || b->out.len != 8 * b->n ||
        (b->w.len != 0 && b->w.len != 8 * b->n)) {
        PyErr_Format(PyExc_ValueError, "%s: S (n, K), y (n,), w (n,) and out (n,) disagree",
                     name);
        return 0;
    }
    return 1;
}

static void release_block(block_t *b)
{
    PyBuffer_Release(&b->S);
    PyBuffer_Release(&b->y);
    PyBuffer_Release(&b->w);
    PyBuffer_Release(&b->out);
}

static PyObject *code_error(void)
{
    PyErr_SetString(PyExc_ValueError, "a class code is outside [0, K)");
    return NULL;
}

/* The codes checked in one pass before any cell is touched: an unsigned comparison each. */
static int codes_in_range(const int64_t *y, Py_ssize_t n, Py_ssize_t K)
{
    int bad = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        bad |= (uint64_t)y[i] >= (uint64_t)K;
    return !bad;
}

/* Rows go four at a time through the loops that sum along a row: a row's sum is a chain of
 * additions, each waiting for the last (4 cycles), and four rows give four chains the
 * core runs side by side. Each row is still summed in column order, so its sums do not
 * depend on which group it falls in. */
#define GROUP 4
/* Rows at a time in the softmax passes: 256 rows of up to 16 classes stay in the
 * first-level cache from one of a chunk's walks to the next (softmax_prepare: its cells,
 * then its true classes; softmax: its exp, its sums, then its scaling) */
#define CHUNK 256

/* *lo = min(*lo, x) and *hi = max(*hi, x) over x[0, m), NaN skipped (x < lo is false). */
static inline void extremes(const double *x, Py_ssize_t m, double *lo, double *hi)
{
    Py_ssize_t i = 0;
#if defined(__SSE2__)
    /* minpd(x, lo) is x < lo ? x : lo, the loop below in two lanes; four of each, for four
     * chains of comparisons at once */
    __m128d l[4], h[4];
    for (int k = 0; k < 4; k++)
        l[k] = _mm_set1_pd(*lo), h[k] = _mm_set1_pd(*hi);
    for (; i + 8 <= m; i += 8)
        for (int k = 0; k < 4; k++) {
            const __m128d v = _mm_loadu_pd(x + i + 2 * k);
            l[k] = _mm_min_pd(v, l[k]);
            h[k] = _mm_max_pd(v, h[k]);
        }
    double ls[8], hs[8];
    for (int k = 0; k < 4; k++)
        _mm_storeu_pd(ls + 2 * k, l[k]), _mm_storeu_pd(hs + 2 * k, h[k]);
    for (int k = 0; k < 8; k++) {
        *lo = ls[k] < *lo ? ls[k] : *lo;
        *hi = hs[k] > *hi ? hs[k] : *hi;
    }
#endif
    for (; i < m; i++) {
        *lo = x[i] < *lo ? x[i] : *lo;
        *hi = x[i] > *hi ? x[i] : *hi;
    }
}

/* softmax_prepare: S's extremes, from which the caller picks the shift, and each row's
 * true-class score, in one read of S: a chunk of rows at a time, its cells scanned and then
 * its true classes gathered from the first-level cache (numpy's min, max and take read S
 * three times). */
static PyObject *softmax_prepare(PyObject *self, PyObject *args)
{
    block_t b = {0};
    if (!PyArg_ParseTuple(args, "y*y*nw*", &b.S, &b.y, &b.K, &b.out))
        return NULL;
    PyObject *result = NULL;
    if (!check_block(&b, "softmax_prepare"))
        goto done;
    {
        const double *S = b.S.buf;
        const int64_t *y = b.y.buf;
        double *correct = b.out.buf;
        const Py_ssize_t n = b.n, K = b.K;
        double lo = INFINITY, hi = -INFINITY;
        int ok;
        Py_BEGIN_ALLOW_THREADS
        ok = codes_in_range(y, n, K);
        for (Py_ssize_t start = 0; ok && start < n; start += CHUNK) {
            const Py_ssize_t stop = start + CHUNK < n ? start + CHUNK : n;
            extremes(S + start * K, (stop - start) * K, &lo, &hi);
            for (Py_ssize_t i = start; i < stop; i++)
                correct[i] = S[i * K + y[i]];
        }
        Py_END_ALLOW_THREADS
        result = ok ? Py_BuildValue("dd", lo, hi) : code_error();
    }
done:
    release_block(&b);
    return result;
}

/* Clones of the loops for wider vectors, picked at load time by the processor (GCC's
 * target_clones, on x86-64 Linux): the exp below is arithmetic the compiler vectorizes,
 * 8 lanes with AVX-512 where the baseline's SSE2 has 2. Each clone gives the same bits on
 * every run; clones may differ from one another in the last bit (FMA contraction). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#if __GNUC__ >= 12 /* the levels as clone targets (with FMA); older GCCs take features */
#define WIDE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#else
#define WIDE
#endif

/* exp(t) for t in [-1022 ln 2, 1023 ln 2] (softmax's shifted scores lie in [-600, 300]),
 * within 1 ulp: t = k ln 2 + r with |r| <= ln 2 / 2 (ln 2 in two parts, Cody and Waite, so
 * k ln 2 is exact), exp(r) by its Taylor polynomial to degree 13 (the remainder
 * r^14 / 14! < 4e-18 relative), and 2^k built in the exponent's bits. No branch and no
 * table, so the loop over a chunk's cells vectorizes; numpy's exp is a call per array,
 * a pass over the block of its own. NaN stays NaN. */
static inline double exp_bounded(double t)
{
    const double LOG2E = 1.4426950408889634, ROUND = 6755399441055744.0; /* 1.5 * 2^52 */
    const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
    double kd = t * LOG2E + ROUND; /* k = round(t / ln 2) in kd's low bits */
    uint64_t bits;
    memcpy(&bits, &kd, sizeof bits);
    kd -= ROUND;
    const double r = (t - kd * LN2_HI) - kd * LN2_LO;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* ROUND's bits end in 2^51 + k: adding 1023 and shifting by 52 leaves k + 1023, the
     * biased exponent of 2^k, and shifts the rest out */
    const uint64_t scale_bits = (bits + 1023) << 52;
    double scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    return p * scale;
}

/* softmax on the rows [start, stop) of S (n, K): each cell to exp(s - shift) (with_exp; else
 * S holds them already, from numpy's exp), each row's sum to sums, and with grad each row
 * times factor_i = w_i / (n sum_i) (1 / (n sum_i) unweighted) and w_i / n off its true
 * class, as softmax.py has it. The rows sit in the first-level cache from the exp to the
 * scaling. always_inline: softmax_rows below compiles it for a few K as constants. */
static inline __attribute__((always_inline)) void
softmax_rows_of(double *S, Py_ssize_t start, Py_ssize_t stop, const Py_ssize_t K,
                const int64_t *y, const double *w, double shift, double n_rows, int grad,
                int with_exp, double *sums)
{
    double *cells = S + start * K;
    const Py_ssize_t m = (stop - start) * K;
    if (with_exp)
        for (Py_ssize_t c = 0; c < m; c++)
            cells[c] = exp_bounded(cells[c] - shift);
    Py_ssize_t i = start;
    for (; i + GROUP <= stop; i += GROUP) {
        const double *rows = S + i * K;
        double sum[GROUP] = {0.0};
        for (Py_ssize_t j = 0; j < K; j++)
            for (int r = 0; r < GROUP; r++)
                sum[r] += rows[r * K + j];
        for (int r = 0; r < GROUP; r++)
            sums[i + r] = sum[r];
    }
    for (; i < stop; i++) {
        double sum = 0.0;
        for (Py_ssize_t j = 0; j < K; j++)
            sum += S[i * K + j];
        sums[i] = sum;
    }
    if (!grad)
        return;
    /* the divisions in a loop of their own, which vectorizes: one per row among the row's
     * other work was what a row cost at 2 classes */
    double factor[CHUNK];
    if (w)
        for (i = start; i < stop; i++)
            factor[i - start] = w[i] / (sums[i] * n_rows);
    else
        for (i = start; i < stop; i++)
            factor[i - start] = 1.0 / (sums[i] * n_rows);
    const double inv_n = 1.0 / n_rows;
    for (i = start; i < stop; i++) {
        double *row = S + i * K;
        for (Py_ssize_t j = 0; j < K; j++)
            row[j] *= factor[i - start];
        row[y[i]] -= w ? inv_n * w[i] : inv_n;
    }
}

/* With K a constant the compiler unrolls the loops along a row, which at 2 classes cost
 * more than the rest (per 26,214-row block: 76 us for exp, sums and scaling, K a variable).
 * The same arithmetic in the same order for every K. */
#define BY_K(CALL_K)                                                                       \
    switch (K) {                                                                           \
    case 2: CALL_K(2); break;                                                              \
    case 3: CALL_K(3); break;                                                              \
    case 4: CALL_K(4); break;                                                              \
    case 8: CALL_K(8); break;                                                              \
    default: CALL_K(K); break;                                                             \
    }

WIDE static void softmax_rows(double *S, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t K,
                              const int64_t *y, const double *w, double shift, double n_rows,
                              int grad, int with_exp, double *sums)
{
#define SOFTMAX_ROWS(CONST_K)                                                              \
    softmax_rows_of(S, start, stop, CONST_K, y, w, shift, n_rows, grad, with_exp, sums)
    BY_K(SOFTMAX_ROWS)
#undef SOFTMAX_ROWS
}

static PyObject *softmax(PyObject *self, PyObject *args)
{
    block_t b = {0};
    double n_rows, shift;
    int grad, with_exp;
    if (!PyArg_ParseTuple(args, "w*y*y*nddppw*", &b.S, &b.y, &b.w, &b.K, &shift, &n_rows, &grad,
                          &with_exp, &b.out))
        return NULL;
    PyObject *result = NULL;
    if (!check_block(&b, "softmax"))
        goto done;
    {
        double *S = b.S.buf, *sums = b.out.buf;
        const int64_t *y = b.y.buf;
        const double *w = b.w.len ? b.w.buf : NULL;
        const Py_ssize_t n = b.n, K = b.K;
        int ok;
        Py_BEGIN_ALLOW_THREADS
        /* the codes are read by the gradient only; the loss alone (a line search's trial)
         * does not pass over them again after softmax_prepare's check */
        ok = !grad || codes_in_range(y, n, K);
        for (Py_ssize_t start = 0; ok && start < n; start += CHUNK)
            softmax_rows(S, start, start + CHUNK < n ? start + CHUNK : n, K, y, w, shift,
                         n_rows, grad, with_exp, sums);
        Py_END_ALLOW_THREADS
        result = ok ? Py_NewRef(Py_None) : code_error();
    }
done:
    release_block(&b);
    return result;
}

/* The hinge on one row: its loss, and with grad the row overwritten by dloss/ds times c (the
 * row's 2 w_i / n or w_i / n). Weston-Watkins: the terms h(s_j - (s_y - margin)) for
 * j != y, the true class collecting minus the others' derivatives; one-vs-rest:
 * h(margin + s_j) for j != y, then h(margin - s_y). The true class is left out of the loop
 * over the columns by parking -inf in its cell meanwhile: its term is then h(-inf) = 0
 * exactly, and adding 0 to a sum leaves it as skipping the cell would, without a branch
 * per cell that the random codes would mispredict. (Weston-Watkins with s_y = -inf would
 * make that -inf - shift = NaN: such a row skips the cell by a branch instead.)
 * always_inline here and below, so each combination of the constant flags compiles to
 * its own loops. */
#define HINGE_TERM(cell, shift, c, loss, total)                                           \
    do {                                                                                   \
        const double t_ = ovr ? *(cell) + margin : *(cell) - (shift);                      \
        const double m_ = positive_part(t_);                                               \
        loss += squared ? m_ * m_ : m_;                                                    \
        if (grad) {                                                                        \
            const double g_ = squared ? m_ * (c) : where_positive(m_, (c));                \
            *(cell) = g_;                                                                  \
            total += g_;                                                                   \
        }                                                                                  \
    } while (0)

/* the true class's cell once the others are done: one-vs-rest's own term, or minus the
 * others' derivatives; without grad, its score back */
#define HINGE_TRUE(row, y, sy, c, loss, total)                                             \
    do {                                                                                   \
        if (ovr) {                                                                         \
            const double m_ = positive_part(margin - (sy));                                \
            loss += squared ? m_ * m_ : m_;                                                \
            (row)[y] = grad ? -(squared ? m_ * (c) : where_positive(m_, (c))) : (sy);      \
        } else                                                                             \
            (row)[y] = grad ? -(total) : (sy);                                             \
    } while (0)

static inline __attribute__((always_inline)) double
hinge_row(double *row, Py_ssize_t K, Py_ssize_t y, double margin, double c, const int squared,
          const int ovr, const int grad)
{
    double loss = 0.0, total = 0.0;
    const double sy = row[y], shift = sy - margin;
    if (!ovr && sy == -INFINITY) {
        for (Py_ssize_t j = 0; j < K; j++)
            if (j != y)
                HINGE_TERM(row + j, shift, c, loss, total);
    } else {
        row[y] = -INFINITY;
        for (Py_ssize_t j = 0; j < K; j++)
            HINGE_TERM(row + j, shift, c, loss, total);
    }
    HINGE_TRUE(row, y, sy, c, loss, total);
    return loss;
}

/* Four rows side by side, each term computed as hinge_row computes it (so the same bits):
 * each row's two sums are chains of additions, each waiting for the last, and four rows
 * give the core four chains to run at once. Scalars, not arrays: the compiler keeps them
 * in registers. Returns 0, touching nothing, if a row needs hinge_row's branch. */
static inline __attribute__((always_inline)) int
hinge_rows4(double *rows, Py_ssize_t K, const int64_t *y, double margin, const double *c,
            double *losses, const int squared, const int ovr, const int grad)
{
    double *r0 = rows, *r1 = rows + K, *r2 = rows + 2 * K, *r3 = rows + 3 * K;
    const double s0 = r0[y[0]], s1 = r1[y[1]], s2 = r2[y[2]], s3 = r3[y[3]];
    if (!ovr && (s0 == -INFINITY || s1 == -INFINITY || s2 == -INFINITY || s3 == -INFINITY))
        return 0;
    const double h0 = s0 - margin, h1 = s1 - margin, h2 = s2 - margin, h3 = s3 - margin;
    double l0 = 0.0, l1 = 0.0, l2 = 0.0, l3 = 0.0, t0 = 0.0, t1 = 0.0, t2 = 0.0, t3 = 0.0;
    r0[y[0]] = r1[y[1]] = r2[y[2]] = r3[y[3]] = -INFINITY;
    for (Py_ssize_t j = 0; j < K; j++) {
        HINGE_TERM(r0 + j, h0, c[0], l0, t0);
        HINGE_TERM(r1 + j, h1, c[1], l1, t1);
        HINGE_TERM(r2 + j, h2, c[2], l2, t2);
        HINGE_TERM(r3 + j, h3, c[3], l3, t3);
    }
    HINGE_TRUE(r0, y[0], s0, c[0], l0, t0);
    HINGE_TRUE(r1, y[1], s1, c[1], l1, t1);
    HINGE_TRUE(r2, y[2], s2, c[2], l2, t2);
    HINGE_TRUE(r3, y[3], s3, c[3], l3, t3);
    losses[0] = l0, losses[1] = l1, losses[2] = l2, losses[3] = l3;
    return 1;
}

static inline __attribute__((always_inline)) void
hinge_all(double *S, Py_ssize_t n, Py_ssize_t K, const int64_t *y, const double *w,
          double scale, double margin, double *losses, const int squared, const int ovr,
          const int grad)
{
    Py_ssize_t i = 0;
    for (; i + GROUP <= n; i += GROUP) {
        double c[GROUP];
        for (int r = 0; r < GROUP; r++)
            c[r] = w ? scale * w[i + r] : scale;
        if (!hinge_rows4(S + i * K, K, y + i, margin, c, losses + i, squared, ovr, grad))
            for (int r = 0; r < GROUP; r++)
                losses[i + r] =
                    hinge_row(S + (i + r) * K, K, y[i + r], margin, c[r], squared, ovr, grad);
    }
    for (; i < n; i++)
        losses[i] =
            hinge_row(S + i * K, K, y[i], margin, w ? scale * w[i] : scale, squared, ovr, grad);
}

static PyObject *hinge(PyObject *self, PyObject *args)
{
    block_t b = {0};
    double n_rows, margin;
    int squared, ovr, grad;
    if (!PyArg_ParseTuple(args, "w*y*y*nddpppw*", &b.S, &b.y, &b.w, &b.K, &n_rows, &margin,
                          &squared, &ovr, &grad, &b.out))
        return NULL;
    PyObject *result = NULL;
    if (!check_block(&b, "hinge"))
        goto done;
    {
        double *S = b.S.buf, *losses = b.out.buf;
        const int64_t *y = b.y.buf;
        const double *w = b.w.len ? b.w.buf : NULL;
        const Py_ssize_t n = b.n, K = b.K;
        /* as svm.py's scale_rows: (2 / n) w_i for the squared hinge, (1 / n) w_i else */
        const double scale = (squared ? 2.0 : 1.0) / n_rows;
        int ok;
        Py_BEGIN_ALLOW_THREADS
        ok = codes_in_range(y, n, K);
        if (ok) {
/* K a constant at 2 and 3 classes only: unrolling the 4 rows' 8 columns measured slower
 * (177 against 137 us a 26,214-row block at 8 classes; 54 against 60 at 2) */
#define HINGE_K(CONST_K) hinge_all(S, n, CONST_K, y, w, scale, margin, losses, sq_, ovr_, grad_)
#define HINGE_ALL(SQUARED, OVR, GRAD)                                                      \
    do {                                                                                   \
        const int sq_ = SQUARED, ovr_ = OVR, grad_ = GRAD;                                 \
        if (K == 2)                                                                        \
            HINGE_K(2);                                                                    \
        else if (K == 3)                                                                   \
            HINGE_K(3);                                                                    \
        else                                                                               \
            HINGE_K(K);                                                                    \
    } while (0)
            switch (squared * 4 + ovr * 2 + grad) {
            case 0: HINGE_ALL(0, 0, 0); break;
            case 1: HINGE_ALL(0, 0, 1); break;
            case 2: HINGE_ALL(0, 1, 0); break;
            case 3: HINGE_ALL(0, 1, 1); break;
            case 4: HINGE_ALL(1, 0, 0); break;
            case 5: HINGE_ALL(1, 0, 1); break;
            case 6: HINGE_ALL(1, 1, 0); break;
            default: HINGE_ALL(1, 1, 1); break;
            }
#undef HINGE_ALL
#undef HINGE_K
        }
        Py_END_ALLOW_THREADS
        result = ok ? Py_NewRef(Py_None) : code_error();
    }
done:
    release_block(&b);
    return result;
}

static PyMethodDef methods[] = {
    {"softmax_prepare", softmax_prepare, METH_VARARGS,
     "softmax_prepare(S, y, K, correct) -> (min, max): S's extremes (NaN skipped; inf and "
     "-inf for no cells) and correct[i] = S[i, y[i]]; S is read only; GIL released."},
    {"softmax", softmax, METH_VARARGS,
     "softmax(S, y, w, K, shift, n, grad, exp, sums): with exp, S = exp(S - shift) (shifted "
     "scores in [-708, 708]; else S holds them); sums[i] = S[i].sum(); with grad, S[i] *= "
     "w_i / (n sums[i]) and S[i, y_i] -= w_i / n (w_i = 1 for an empty w; y is read, and "
     "checked, with grad only); GIL released."},
    {"hinge", hinge, METH_VARARGS,
     "hinge(S, y, w, K, n, margin, squared, one_vs_rest, grad, losses): losses[i] = row i's "
     "(squared) hinge loss, unweighted; with grad, S = dloss/dS of the weighted mean over n "
     "rows; GIL released."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rowpass",
    "The classifiers' per-row loss passes, fused (see linfit/models/rowpass.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__rowpass(void)
{
    PyObject *m = PyModule_Create(&module);
    /* whether softmax's loops have wide clones (else numpy's exp is the faster) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    const int wide = 1;
#else
    const int wide = 0;
#endif
    if (m && PyModule_AddIntConstant(m, "WIDE_EXP", wide) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
