/*
 * Dual coordinate descent for the Weston-Watkins multiclass linear SVM, one sample's block
 * of K - 1 variables at a time (dual_ww.py maps linfit's objective onto it).
 *
 * The dual solved, over alpha (n, K) (alpha_iy = 0 for the true class y = y_i), with
 * 0 <= alpha_ij <= upper_i:
 *
 *     min  1/2 |W|^2 + 1/2 |wb|^2 + 1/2 sum_ij diag_i alpha_ij^2 - sum_ij m_ij alpha_ij,
 *     W = sum_ij alpha_ij x_i (e_y - e_j)^T (d, K),  wb = bias_scale sum_ij alpha_ij (e_y - e_j)
 *
 * with margins m_ij = margin + shift_j - shift_y. The hinge has upper = C and diag = 0, the
 * squared hinge upper = inf and diag = 1 / (2 C); weighted samples have their own
 * upper_i = C u_i or diag_i = 1 / (2 C u_i) (arrays); a sample of upper_i = 0 (weight 0)
 * keeps alpha_i = 0 and is never visited.
 *
 * The gradient in alpha_ij is G_ij = s_y - s_j - m_ij + diag_i alpha_ij with the scores
 * s = W^T x_i + bias_scale wb (K,): one pass over the sample's row of X and the K
 * contiguous weights of each of its features. A step d on the sample's variables moves
 * s_y by q sum_j d_j and s_j by -q d_j (q = |x_i|^2 + bias_scale^2), so the block's
 * quadratic has Hessian r I + q 1 1^T (r = q + diag_i), and its minimizer over the box is
 * exact: with c_j = r alpha_j + q S_old - G_j and S = sum_j alpha_j (new),
 *
 *     alpha_j = clip((c_j - q S) / r, 0, upper_i),  S = S_fixed + sum_j alpha_j(S),
 *
 * where the right side is non-increasing in S: its one root is found by walking the
 * sorted breakpoints of the clips. The change is then written to the sample's rows of W
 * (every class's weight of each of its features, contiguous) in one more pass.
 *
 * Samples are visited in a random order each epoch (xorshift64*, seeded by the caller so
 * runs repeat). Each sample keeps a list of its active classes: a variable at a bound
 * whose gradient pushes it further out than the last epoch's extreme projected gradient
 * is shrunk away (Hsieh et al.'s shrinking, per variable), and a sample with none left is
 * not visited. The run stops when the projected gradient's spread over all the variables
 * that can move is at most eps (checked on all of them again, unshrunk, before stopping).
 * With move_centre, the bias's proximal steps (dual_ww.py) run inside, after every epoch:
 * while the bias feature's weights would move the margins by more than eps, the centre
 * `shift` moves by them and the epochs go on warm (centre_moved). The GIL is released for
 * the whole run.
 */
#include "_dual.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const int64_t *indptr;
    const int32_t *indices;
    const double *data;
    const int64_t *y;
    double *shift; /* (K,): margins m_ij = margin + shift_j - shift_y; the bias's centre */
    double *alpha, *W, *wb;
    Py_ssize_t n, K;
    double margin, bias_scale, upper, diag, eps;
    /* per-sample bounds and diagonal terms (n,), or NULL for the scalars above */
    const double *upper_each, *diag_each;
    Py_ssize_t max_epochs;
    uint64_t seed;
    int move_centre;
} problem_t;

/* Scratch for one sample's block (each K long; the events 2K). */
typedef struct {
    double *s, *G, *c, *v, *ev;
    int32_t *evj;
} scratch_t;

/* Whether to read or write c of a feature's K weights one by one (gathered) rather than all
 * K in one contiguous, vectorized pass: when they are at most half of them. Measured on
 * the news20-like rows (K = 20, CPU time of a hinge solve to eps 0.1, 5 interleaved
 * rounds): at most half 0.95x the time of at most a quarter, the same steps. */
#define GATHER(c, K) (2 * (c) <= (K))

/* How far ahead in the visiting order a sample's row of X is prefetched (its row pointers
 * twice as far), as _dualcd.c does: the order is random, so the hardware cannot guess.
 * The rows of W it reads are asked for one visit ahead, their column indices being in
 * cache by then. Measured on the news20-like rows (20 classes, a hinge solve to eps 0.1,
 * 5 interleaved rounds, the same epochs): 0.66x the CPU time without prefetching. */
#define AHEAD 4

/* Ask for sample i's row of X, its alphas and active classes, and for the row pointers of
 * sample j. Only hints: no result depends on them. */
static ALWAYS_INLINE void prefetch_sample(const problem_t *p, const int32_t *act, Py_ssize_t i,
                                          Py_ssize_t j)
{
    prefetch_row(p->indptr, p->indices, p->data, i, j);
    for (Py_ssize_t k = 0; k < p->K; k += 8)
        PREFETCH(&p->alpha[i * p->K + k]);
    PREFETCH(&act[i * p->K]);
}

/* Ask for the rows of W sample i reads (every line of each of its features' K weights). */
static ALWAYS_INLINE void prefetch_weights(const problem_t *p, Py_ssize_t i)
{
    const Py_ssize_t K = p->K;
    for (int64_t t = p->indptr[i]; t < p->indptr[i + 1]; t++) {
        const double *row = p->W + (Py_ssize_t)p->indices[t] * K;
        for (Py_ssize_t k = 0; k < K; k += 8)
            PREFETCH(row + k);
        PREFETCH(row + K - 1);
    }
}

/* Every class but y_i active, in increasing order. */
static void fill_active(const problem_t *p, Py_ssize_t i, int32_t *act)
{
    int32_t m = 0, y = (int32_t)p->y[i];
    for (int32_t j = 0; j < (int32_t)p->K; j++)
        if (j != y)
            act[m++] = j;
}

/* The block's new total S = sum_j alpha_j: the root of S = fixed + sum_j clip((c_j - q S)
 * / r, 0, upper) over the m classes of c. The right side is non-increasing in S and the
 * root is at least `fixed`, so each clip's state at S = fixed (upper, linear or 0) is
 * read first, and the breakpoints past it (where a clip turns from upper to linear, lo,
 * or from linear to 0, hi; at most 2m, insertion-sorted: m < K is small) are walked in
 * increasing order until the segment holding the root. */
static double block_total(const double *c, int32_t m, double q, double r, double upper,
                          double fixed, double *ev, int32_t *evj)
{
    int32_t ne = 0;
    double cst = 0.0, slope = 0.0; /* sum_j alpha_j(S) = cst - slope S on the segment */
    for (int32_t a = 0; a < m; a++) {
        double hi = c[a] / q, lo = hi - r * upper / q; /* lo: -inf when upper is inf */
        if (hi <= fixed) /* 0 on all of [fixed, inf) */
            continue;
        double e[2] = {hi, lo};
        int32_t tags[2] = {2 * a + 1, 2 * a}; /* odd: hi (linear -> 0), even: lo */
        int events = 1;
        if (lo <= fixed) { /* linear at fixed */
            cst += c[a] / r;
            slope += q / r;
        } else {
            cst += upper;
            events = 2;
        }
        for (int t = 0; t < events; t++) {
            int32_t s = ne++;
            while (s > 0 && ev[s - 1] > e[t]) {
                ev[s] = ev[s - 1];
                evj[s] = evj[s - 1];
                s--;
            }
            ev[s] = e[t];
            evj[s] = tags[t];
        }
    }
    for (int32_t s = 0; s < ne; s++) {
        double S = (fixed + cst) / (1.0 + slope);
        if (S <= ev[s])
            return S;
        int32_t a = evj[s] >> 1;
        if (evj[s] & 1) { /* past c_a / q: alpha_a is 0 from here */
            cst -= c[a] / r;
            slope -= q / r;
        } else { /* below upper from here: linear */
            cst += c[a] / r - upper;
            slope += q / r;
        }
    }
    return (fixed + cst) / (1.0 + slope);
}

/* The block's new total when it lies on the segment where the clips keep their states at
 * `guess` (the total before the step, which moves little near the solution; block_total's
 * sort and walk were a fifth of the loop's time): the one linear solve of that segment,
 * checked to fall inside it (the states agree at both ends, the clips being continuous);
 * NAN when it does not (block_total decides). Measured on the news20-like rows (20
 * classes, a cold solve to eps 1e-4): the segment held the root in 87% of the blocks, and
 * the solve took 0.91x the time. */
static double warm_total(const double *c, int32_t m, double q, double r, double upper,
                         double fixed, double guess)
{
    double cst = 0.0, slope = 0.0, left = -INFINITY, right = INFINITY;
    for (int32_t a = 0; a < m; a++) {
        double hi = c[a] / q, lo = hi - r * upper / q;
        if (hi <= guess) { /* 0 from hi on */
            left = hi > left ? hi : left;
        } else if (lo >= guess) { /* upper up to lo */
            cst += upper;
            right = lo < right ? lo : right;
        } else { /* linear between lo and hi */
            cst += c[a] / r;
            slope += q / r;
            left = lo > left ? lo : left;
            right = hi < right ? hi : right;
        }
    }
    double S = (fixed + cst) / (1.0 + slope);
    return S >= left && S <= right ? S : NAN;
}

/* s[c] = sum_t x_t W[col_t, c] + bias_scale wb_c over the row's stored values lo .. hi, for
 * the `width` classes c of cls (a constant at each call, at most 4), each summed in its
 * own register in one pass over the row: the classes' sums are independent chains the
 * processor overlaps, where one pass per class waited on each addition in turn. */
static ALWAYS_INLINE void gathered_block(const problem_t *p, int64_t lo, int64_t hi,
                                         const int32_t *cls, const int width, double *s)
{
    const Py_ssize_t K = p->K;
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    for (int64_t t = lo; t < hi; t++) {
        const double *row = p->W + (Py_ssize_t)p->indices[t] * K;
        const double x = p->data[t];
        for (int u = 0; u < width; u++)
            acc[u] += x * row[cls[u]];
    }
    for (int u = 0; u < width; u++)
        s[cls[u]] = acc[u] + p->bias_scale * p->wb[cls[u]];
}

/* The scores of the `count` classes of cls, 4 (then 2, then 1) at a time. */
static ALWAYS_INLINE void gathered_scores(const problem_t *p, int64_t lo, int64_t hi,
                                          const int32_t *cls, int32_t count, double *s)
{
    int32_t a = 0;
    for (; a + 4 <= count; a += 4)
        gathered_block(p, lo, hi, cls + a, 4, s);
    for (; a + 2 <= count; a += 2)
        gathered_block(p, lo, hi, cls + a, 2, s);
    for (; a < count; a++)
        gathered_block(p, lo, hi, cls + a, 1, s);
}

/* W[col_t, c] += x_t v_c over the row's stored values lo .. hi, for the `width` classes c
 * of cls (a constant at each call, at most 4) with their changes v, held in registers:
 * where they were read from memory, each store to the row (which might have been them)
 * made the compiler read them again. */
static ALWAYS_INLINE void update_block(const problem_t *p, int64_t lo, int64_t hi,
                                       const int32_t *cls, const double *v, const int width)
{
    const Py_ssize_t K = p->K;
    int32_t c[4] = {0, 0, 0, 0};
    double dv[4] = {0.0, 0.0, 0.0, 0.0};
    for (int u = 0; u < width; u++) {
        c[u] = cls[u];
        dv[u] = v[u];
    }
    for (int64_t t = lo; t < hi; t++) {
        double *row = p->W + (Py_ssize_t)p->indices[t] * K;
        const double x = p->data[t];
        for (int u = 0; u < width; u++)
            row[c[u]] += x * dv[u];
    }
}

/* The `count` classes of cls moved by v, 4 (then 2, then 1) at a time. */
static ALWAYS_INLINE void gathered_update(const problem_t *p, int64_t lo, int64_t hi,
                                          const int32_t *cls, const double *v, int32_t count)
{
    int32_t a = 0;
    for (; a + 4 <= count; a += 4)
        update_block(p, lo, hi, cls + a, v + a, 4);
    for (; a + 2 <= count; a += 2)
        update_block(p, lo, hi, cls + a, v + a, 2);
    for (; a < count; a++)
        update_block(p, lo, hi, cls + a, v + a, 1);
}

/* s[k0 .. k0 + width) = sum_t x_t W[col_t, k] over the row's stored values lo .. hi, summed
 * in registers (width, at most 8, is a constant at each call: the compiler unrolls it). */
static ALWAYS_INLINE void score_block(const problem_t *p, int64_t lo, int64_t hi, Py_ssize_t k0,
                                      const int width, double *s)
{
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    for (int64_t t = lo; t < hi; t++) {
        const double *row = p->W + (Py_ssize_t)p->indices[t] * p->K + k0;
        const double x = p->data[t];
        for (int u = 0; u < width; u++)
            acc[u] += x * row[u];
    }
    for (int u = 0; u < width; u++)
        s[k0 + u] = acc[u];
}

/* s[k] = sum_t x_t W[col_t, k] over the row's stored values lo .. hi, for all K classes:
 * 8 (then 4, then 1) classes at a time (a store to s per value, as a loop over all K makes
 * the compiler do, since s might alias W, costs more than reading the row's few indices
 * and values again from L1). */
static ALWAYS_INLINE void dense_scores(const problem_t *p, int64_t lo, int64_t hi, double *s)
{
    const Py_ssize_t K = p->K;
    Py_ssize_t k0 = 0;
    for (; k0 + 8 <= K; k0 += 8)
        score_block(p, lo, hi, k0, 8, s);
    for (; k0 + 4 <= K; k0 += 4)
        score_block(p, lo, hi, k0, 4, s);
    for (; k0 < K; k0++)
        score_block(p, lo, hi, k0, 1, s);
}

/* One visit of sample i: its scores, gradients and shrinking, then the exact block step on
 * its active classes act[0 .. *nact) (shrunk ones swapped past the end). The projected
 * gradients are folded into pg_cur (max, min). `weighted` is a constant at each call, so
 * the compiler makes two loops (as _dualcd.c, for the same reason). */
static ALWAYS_INLINE void visit(const problem_t *p, Py_ssize_t i, double q, int32_t *act,
                                int32_t *nact, const double pg_old[2], double pg_cur[2],
                                scratch_t *w, const int weighted)
{
    const Py_ssize_t K = p->K;
    const int64_t lo = p->indptr[i], hi = p->indptr[i + 1];
    const int32_t y = (int32_t)p->y[i];
    const double upper = weighted ? p->upper_each[i] : p->upper;
    const double diag = weighted ? p->diag_each[i] : p->diag;
    double *alpha = p->alpha + i * K, *s = w->s;
    int32_t m = *nact;
    if (GATHER(m + 1, K)) { /* few classes active: their scores alone, one at a time */
        int32_t *cls = w->evj; /* the events' tags are not needed yet */
        cls[0] = y;
        memcpy(cls + 1, act, (size_t)m * sizeof(int32_t));
        gathered_scores(p, lo, hi, cls, m + 1, s);
    } else {
        dense_scores(p, lo, hi, s);
        for (Py_ssize_t k = 0; k < K; k++)
            s[k] += p->bias_scale * p->wb[k];
    }
    const double base = s[y] - p->margin + p->shift[y];
    double spread = 0.0, fixed = 0.0;
    for (Py_ssize_t k = 0; k < K; k++)
        fixed += alpha[k]; /* alpha_iy = 0 */
    const double total = fixed;
    for (int32_t a = 0; a < m; a++) {
        int32_t j = act[a];
        double aj = alpha[j];
        double G = base - s[j] - p->shift[j] + diag * aj, pg;
        if (shrinks(aj, G, upper, pg_old, &pg)) {
            m--;
            act[a] = act[m];
            act[m] = j;
            a--;
            continue;
        }
        if (pg > pg_cur[0])
            pg_cur[0] = pg;
        if (pg < pg_cur[1])
            pg_cur[1] = pg;
        if (fabs(pg) > spread)
            spread = fabs(pg);
        w->G[a] = G;
    }
    *nact = m;
    const double r = q + diag;
    if (m == 0 || !(spread > 1e-12) || !(r > 0.0))
        return;
    for (int32_t a = 0; a < m; a++) {
        fixed -= alpha[act[a]];
        w->c[a] = r * alpha[act[a]] + q * total - w->G[a];
    }
    if (fixed < 0.0) /* rounding: the shrunk variables are each 0 or upper, never below */
        fixed = 0.0;
    double S = 0.0;
    if (q > 0.0) {
        S = warm_total(w->c, m, q, r, upper, fixed, total);
        if (isnan(S))
            S = block_total(w->c, m, q, r, upper, fixed, w->ev, w->evj);
    }
    /* the step's change to the scores' columns: +sum_j d_j on y, -d_j on each class j
     * moved; written to the sample's rows of W (and wb) */
    int32_t *moved = w->evj, nm = 0; /* the events' tags are not needed any more */
    double *v = w->v, vy = 0.0;
    for (int32_t a = 0; a < m; a++) {
        int32_t j = act[a];
        double an = (w->c[a] - q * S) / r;
        an = an < 0.0 ? 0.0 : (an > upper ? upper : an);
        double step = an - alpha[j];
        if (step == 0.0)
            continue;
        alpha[j] = an;
        v[nm] = -step;
        moved[nm++] = j;
        vy += step;
    }
    v[nm] = vy;
    moved[nm++] = y;
    if (GATHER(nm, K)) {
        gathered_update(p, lo, hi, moved, v, nm);
    } else {
        double *dense = w->s; /* the scores are not needed any more */
        memset(dense, 0, (size_t)K * sizeof(double));
        for (int32_t a = 0; a < nm; a++)
            dense[moved[a]] = v[a];
        for (int64_t t = lo; t < hi; t++) {
            double *row = p->W + (Py_ssize_t)p->indices[t] * K;
            const double x = p->data[t];
            for (Py_ssize_t k = 0; k < K; k++)
                row[k] += x * dense[k];
        }
    }
    for (int32_t a = 0; a < nm; a++)
        p->wb[moved[a]] += p->bias_scale * v[a];
}

/* The proximal step on the bias (dual_ww.py's rounds, run here), after every epoch: the bias
 * feature's weights wb (K,) are the round's correction to the centre. While they would move some
 * margin m_ij = margin + shift_j - shift_y by more than eps (their spread over the classes), the
 * centre moves by them and the epochs go on, with the samples and variables shrunk so far; returns
 * that spread when it moved, else 0. Each round is one epoch of the dual, not a solve to eps (an
 * inexact proximal point): the loop stops only on an epoch whose spread test holds with the centre
 * left in place. Measured (20 classes, news20-like rows, the dual to 0.1, 1e-2, 1e-3, 1e-4 warm,
 * bias_scale 0.3): 17, 31, 45, 59 epochs where rounds run only once the spread test held took 21,
 * 30, 49, 59; at bias_scale 1, 31, 60, 90, 118 (34, 60, 94, 118). On 90 samples of 2 to 5 classes
 * (eps 1e-4 and 1e-8, tests/test_dual_ww's problems), 217 to 517 epochs where 2,522 to 60,755 ran
 * at 0.3, and 373 to 3,244 where 1,237 to 12,448 at 1. */
static double centre_moved(problem_t *p)
{
    double hi = -INFINITY, lo = INFINITY;
    for (Py_ssize_t k = 0; k < p->K; k++) {
        double beta = p->bias_scale * p->wb[k];
        hi = beta > hi ? beta : hi;
        lo = beta < lo ? beta : lo;
    }
    if (!(hi - lo > p->eps))
        return 0.0;
    for (Py_ssize_t k = 0; k < p->K; k++)
        p->shift[k] += p->bias_scale * p->wb[k];
    return hi - lo;
}

/* Every live sample's classes active (the `live` first of order). */
static void unshrink(const problem_t *p, const Py_ssize_t *order, Py_ssize_t live,
                     int32_t *act, int32_t *nact)
{
    for (Py_ssize_t s = 0; s < live; s++) {
        fill_active(p, order[s], act + order[s] * p->K);
        nact[order[s]] = (int32_t)(p->K - 1);
    }
}

/* Returns the number of epochs run, or -1 when out of memory; *converged says whether the
 * projected-gradient test held over all the variables that can move, with the centre left
 * in place (centre_moved). */
static Py_ssize_t solve(problem_t *p, int *converged)
{
    Py_ssize_t n = p->n, K = p->K, epoch = 0;
    size_t nn = (size_t)(n > 0 ? n : 1);
    Py_ssize_t *order = malloc(nn * sizeof(Py_ssize_t));
    double *q = malloc(nn * sizeof(double));
    int32_t *act = malloc(nn * (size_t)K * sizeof(int32_t));
    int32_t *nact = malloc(nn * sizeof(int32_t));
    double *buf = malloc((size_t)K * 6 * sizeof(double));
    int32_t *evj = malloc((size_t)K * 2 * sizeof(int32_t));
    if (!order || !q || !act || !nact || !buf || !evj) {
        free(order), free(q), free(act), free(nact), free(buf), free(evj);
        return -1;
    }
    scratch_t w = {buf, buf + K, buf + 2 * K, buf + 3 * K, buf + 4 * K, evj};
    /* q_i = |x_i|^2 + bias_scale^2 (n,); diag_i enters each block as r = q + diag_i */
    Py_ssize_t live = live_samples(p->indptr, p->data, n, p->bias_scale, 0.0, p->upper_each,
                                   NULL, order, q),
               active = live;
    unshrink(p, order, live, act, nact);
    int weighted = p->upper_each != NULL;
    uint64_t state = seeded(p->seed);
    /* the thresholds, and the centre's drift since the last unshrink (a move's size: the
     * spread of its change to the classes' margins) */
    shrinking_t sh;
    shrinking_reset(&sh);
    *converged = 0;
    while (epoch < p->max_epochs) {
        shuffle(order, active, &state);
        double pg[2] = {-INFINITY, INFINITY};
        int full = 1; /* nothing shrunk this epoch */
        for (Py_ssize_t s = 0; s < active; s++) {
            Py_ssize_t i = order[s];
            if (s + 2 * AHEAD < active) /* shrinking may swap these in later: hints only */
                prefetch_sample(p, act, order[s + AHEAD], order[s + 2 * AHEAD]);
            else if (s + AHEAD < active)
                prefetch_sample(p, act, order[s + AHEAD], order[s + AHEAD]);
            if (s + 1 < active)
                prefetch_weights(p, order[s + 1]);
            int32_t before = nact[i];
            if (weighted)
                visit(p, i, q[i], act + i * K, &nact[i], sh.pg_old, pg, &w, 1);
            else
                visit(p, i, q[i], act + i * K, &nact[i], sh.pg_old, pg, &w, 0);
            if (nact[i] != before)
                full = 0;
            if (nact[i] == 0) { /* no variable left to move: the sample leaves the epochs */
                active--;
                order[s] = order[active];
                order[active] = i;
                s--;
            }
        }
        epoch++;
        if (pg[0] < pg[1]) /* nothing visited */
            pg[0] = pg[1] = 0.0;
        double moved = p->move_centre ? centre_moved(p) : 0.0; /* alpha, W and wb kept */
        if (!(moved > 0.0) && pg[0] - pg[1] <= p->eps) {
            int all = full && active == live;
            for (Py_ssize_t s = 0; s < live && all; s++)
                all = nact[order[s]] == (int32_t)(K - 1);
            if (all) {
                *converged = 1;
                break;
            }
            /* converged on the active variables: check every one again before stopping */
            unshrink(p, order, live, act, nact);
            shrinking_reset(&sh);
            active = live;
            continue;
        }
        if (shrinking_next(&sh, pg, moved)) { /* a shrunk gradient may have crossed 0 */
            unshrink(p, order, live, act, nact);
            active = live;
        }
    }
    free(order), free(q), free(act), free(nact), free(buf), free(evj);
    return epoch;
}

static PyObject *ww_dual(PyObject *self, PyObject *args)
{
    Py_buffer indptr, indices, data, y, shift, alpha, W, wb;
    Py_buffer upper_each = {0}, diag_each = {0};
    PyObject *upper_obj = Py_None, *diag_obj = Py_None;
    Py_ssize_t n, d, K, max_epochs;
    double margin, bias_scale, upper, diag, eps;
    unsigned long long seed;
    int move_centre = 0;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*w*w*w*nnndddddnK|OOp", &indptr, &indices, &data, &y,
                          &shift, &alpha, &W, &wb, &n, &d, &K, &margin, &bias_scale, &upper,
                          &diag, &eps, &max_epochs, &seed, &upper_obj, &diag_obj, &move_centre))
        return NULL;
    PyObject *result = NULL;
    Py_buffer *all[] = {&indptr, &indices, &data, &y, &shift, &alpha, &W, &wb};
    if (K < 2) { /* n and d: check_rows */
        PyErr_SetString(PyExc_ValueError, "need K >= 2 classes");
        goto done;
    }
    if (!check_rows(&indptr, &indices, &data, n, d) || !check(&y, n, 8, "y") ||
        !check(&shift, K, 8, "shift") || !check(&alpha, n * K, 8, "alpha") ||
        !check(&W, d * K, 8, "W") || !check(&wb, K, 8, "wb") ||
        !each_buffers(upper_obj, diag_obj, &upper_each, &diag_each, n))
        goto done;
    {
        const int64_t *yy = y.buf;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (yy[i] < 0 || yy[i] >= K) {
                PyErr_SetString(PyExc_ValueError, "a class code in y is out of range");
                goto done;
            }
        }
    }
    problem_t p = {indptr.buf, indices.buf, data.buf, y.buf, shift.buf, alpha.buf, W.buf,
                   wb.buf, n, K, margin, bias_scale, upper, diag, eps,
                   upper_each.obj ? upper_each.buf : NULL,
                   diag_each.obj ? diag_each.buf : NULL, max_epochs, (uint64_t)seed,
                   move_centre};
    Py_ssize_t epochs;
    int converged = 0;
    Py_BEGIN_ALLOW_THREADS
    epochs = solve(&p, &converged);
    Py_END_ALLOW_THREADS
    if (epochs < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_BuildValue("ni", epochs, converged);
done:
    release(all, sizeof all / sizeof all[0], &upper_each, &diag_each);
    return result;
}

static PyMethodDef methods[] = {
    {"ww_dual", ww_dual, METH_VARARGS,
     "ww_dual(indptr i8, indices i4, data f8, y i8, shift (K,), alpha (n, K), W (d, K), "
     "wb (K,), n, d, K, margin, bias_scale, upper, diag, eps, max_epochs, seed, "
     "upper_each=None, diag_each=None, move_centre=False) -> (epochs, converged): alpha, W, "
     "wb and shift in place. upper_each and diag_each (n,) replace upper and diag sample by "
     "sample (weights); a sample whose upper_each is 0 is never visited. move_centre: the "
     "bias's proximal steps run inside, each adding bias_scale wb to shift."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_wwdual",
    "Dual coordinate descent for the Weston-Watkins SVM (see dual_ww.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__wwdual(void) { return PyModule_Create(&module); }
