/*
 * What the two dual coordinate descent loops share (_dualcd.c: one binary SVM's dual;
 * _wwdual.c: the Weston-Watkins SVM's): the seeded shuffle's generator, the inlining and
 * prefetch hints, and the checks of the arrays Python hands them. Included by both.
 */
#ifndef LINFIT_DUAL_H
#define LINFIT_DUAL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define PREFETCH(address) __builtin_prefetch((address), 0, 3)
#else
#define ALWAYS_INLINE inline
#define PREFETCH(address) ((void)0)
#endif

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

#endif
