/*
 * Parsing the lines of a LIBSVM/svmlight file straight into CSR arrays.
 *
 * The reader's fast path (linfit/data/libsvm_fast.py): scikit-learn's load_svmlight_file
 * splits every line into Python bytes objects and converts each token with int() and
 * float(), a few hundred nanoseconds a value. Here each line is parsed once, in C, and
 * each label, index and value is written to its place in the output arrays, which the
 * caller grows when they are full. The GIL is released for the whole scan.
 *
 * A line is read as scikit-learn reads it, with zero_based=True: it ends at '\n'; a '#'
 * starts a comment to the end of the line; tokens are separated by runs of the bytes
 * bytes.split() takes for whitespace (space, \t, \r, \v, \f); a line with no token is no
 * sample; the first token is the label, every other one is "index:value" with indices
 * strictly increasing. Anything else stops the scan with a nonzero status: a byte the
 * grammar below does not have (a "qid:" token, NUL, a comma), a label or value that is
 * not a plain decimal number (NaN, inf, hexadecimal, underscores), an index that is not
 * plain digits up to 2^31 - 1, indices out of order, a value that overflows to infinity.
 * The caller then reads the file through scikit-learn, which gives it its usual errors.
 * So this file never decides what a messy file means; it only reads the files whose
 * meaning is not in doubt.
 *
 * Numbers are correctly rounded, as Python's float() rounds them, by the parser the CSV
 * scanner shares (_decimal.h). float32 values are the double rounded to float, as
 * scikit-learn's array.array('f') stores them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_decimal.h"

/* Why a scan stopped. SCAN_FULL asks the caller for larger arrays; every other status but
 * SCAN_OK sends the file to scikit-learn. */
enum {
    SCAN_OK = 0,
    SCAN_FULL = 1,       /* the output arrays are full: grow them and scan on from offset */
    SCAN_NOT_NUMBER = 2, /* a label or value that is not a plain decimal number */
    SCAN_INDEX = 3,      /* an index that is not plain digits up to 2^31 - 1, or no ':' */
    SCAN_ORDER = 4,      /* a line's indices not strictly increasing */
    SCAN_RANGE = 5,      /* a label or value that overflows to infinity (in its dtype) */
};

#define MAX_INDEX 2147483647LL /* scikit-learn keeps an index in a C int */

/* Byte classes: what may follow a number, and where a line's tokens end. */
enum { BYTE_OTHER = 0, BYTE_SPACE = 1, BYTE_END = 2 };
static unsigned char byte_class[256];

/* Whether a number ending at s ends its token: at a separator, a line end, a comment or
 * the end of the data. */
static inline int token_ends(const char *s, const char *end)
{
    return s == end || byte_class[(unsigned char)*s] != BYTE_OTHER;
}

/*
 * The plain decimal number at p, a subset of what float() reads, ending its token: its
 * value in *value and the first byte after it in *after. end is both the limit and the
 * read-ahead bound: scan's end is the end of parse's data buffer, so the 8-at-a-time
 * digit runs never read past it.
 */
static int parse_number(const char *p, const char *end, double *value, const char **after)
{
    decimal_parts d;
    if (decimal_syntax(p, end, end, &d, after) != DECIMAL_OK || !token_ends(*after, end))
        return SCAN_NOT_NUMBER; /* "1.5x", "1:2" as a label, "nan" after a sign... */
    const int status = decimal_value(&d, p, *after, value);
    return status == DECIMAL_OK      ? SCAN_OK
           : status == DECIMAL_RANGE ? SCAN_RANGE
                                     : SCAN_NOT_NUMBER;
}

/* The first byte after the line end at or after p (or end). */
static inline const char *next_line(const char *p, const char *end)
{
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    return eol == NULL ? end : eol + 1;
}

typedef struct {
    double *labels;    /* row capacity */
    int64_t *indptr;   /* row capacity + 1; indptr[row] holds nnz on entry */
    int64_t *indices;  /* nnz capacity */
    double *values;    /* nnz capacity, float64 output */
    float *values32;   /* or float32 output (the other is NULL) */
    Py_ssize_t row_capacity, nnz_capacity;
} csr_out;

/* Where a scan got to: the next row and stored value, the offset it stopped at (the
 * start of the line it could not take, or the end), the largest index read. */
typedef struct {
    Py_ssize_t row, nnz;
    const char *stop;
    int64_t max_index;
} scan_state;

/* The lines in [p, end) into out, from st->row and st->nnz on. */
static int scan(const char *p, const char *end, const csr_out *out, scan_state *st)
{
    Py_ssize_t row = st->row, nnz = st->nnz;
    int64_t max_index = st->max_index;
    int status = SCAN_OK;
    const char *line = p;
    while (p < end) {
        line = p;
        while (p < end && byte_class[(unsigned char)*p] == BYTE_SPACE)
            p++;
        if (p == end)
            break;
        if (*p == '\n' || *p == '#') { /* a blank or comment line is no sample */
            p = next_line(p, end);
            continue;
        }
        if (row >= out->row_capacity) {
            status = SCAN_FULL;
            break;
        }
        double label;
        status = parse_number(p, end, &label, &p);
        if (status != SCAN_OK)
            break;
        Py_ssize_t k = nnz;
        int64_t previous = -1;
        for (;;) {
            while (p < end && byte_class[(unsigned char)*p] == BYTE_SPACE)
                p++;
            if (p == end)
                break;
            if (*p == '\n' || *p == '#') {
                p = next_line(p, end);
                break;
            }
            const char *digits = p;
            while (p < end && *p == '0')
                p++;
            const char *significant = p;
            int64_t index = 0;
            /* 11 digits are past 2^31 - 1 already: stop there, and fail on the colon */
            for (; p < end && is_digit(*p) && p - significant < 11; p++)
                index = index * 10 + (*p - '0');
            if (p == digits || p == end || *p != ':' || index > MAX_INDEX) {
                status = SCAN_INDEX;
                break;
            }
            if (index <= previous) {
                status = SCAN_ORDER;
                break;
            }
            if (k >= out->nnz_capacity) {
                status = SCAN_FULL;
                break;
            }
            double v;
            status = parse_number(p + 1, end, &v, &p);
            if (status != SCAN_OK)
                break;
            out->indices[k] = index;
            if (out->values32 != NULL) {
                const float f = (float)v;
                if (isinf(f)) {
                    status = SCAN_RANGE;
                    break;
                }
                out->values32[k] = f;
            } else {
                out->values[k] = v;
            }
            k++;
            previous = index;
        }
        if (status != SCAN_OK)
            break;
        out->labels[row] = label;
        out->indptr[++row] = (int64_t)k;
        nnz = k;
        if (previous > max_index)
            max_index = previous; /* a line's last index is its largest */
    }
    st->row = row;
    st->nnz = nnz;
    st->stop = status == SCAN_OK ? end : line;
    st->max_index = max_index;
    return status;
}

/* A C-contiguous 1-D array's buffer of itemsize bytes of one of the format codes. */
static int get_array(PyObject *object, Py_buffer *view, const char *name, Py_ssize_t itemsize,
                     const char *codes)
{
    if (PyObject_GetBuffer(object, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        return -1;
    const char *code = view->format + strlen(view->format) - 1;
    if (view->ndim != 1 || view->itemsize != itemsize || strchr(codes, *code) == NULL) {
        PyErr_Format(PyExc_ValueError, "%s must be a writable 1-D array of %zd-byte items (%s)",
                     name, itemsize, codes);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(parse_doc,
             "parse(data, start, labels, indptr, indices, values, row, nnz, max_index)\n"
             "    -> (status, offset, row, nnz, max_index)\n\n"
             "Parse the LIBSVM lines of data[start:] (the last may lack its newline) into\n"
             "rows row, row + 1, ... of a CSR matrix: labels (float64, capacity r), indptr\n"
             "(int64, at least r + 1 long, indptr[row] == nnz), indices (int64, capacity z)\n"
             "and values (float64 or float32, z long), stored values from nnz on. Returns\n"
             "status 0 when every line parsed, 1 when the arrays are full (offset is the\n"
             "line to go on from once they are grown), otherwise the reason the file needs\n"
             "scikit-learn's reader (offset is the line that stopped the scan); the rows and\n"
             "stored values written so far, and the largest index among them (max_index\n"
             "if none is larger). The GIL is released meanwhile.");

static PyObject *parse(PyObject *self, PyObject *args)
{
    Py_buffer data, labels, indptr, indices, values;
    PyObject *labels_object, *indptr_object, *indices_object, *values_object;
    Py_ssize_t start, row, nnz;
    long long max_index;
    if (!PyArg_ParseTuple(args, "y*nOOOOnnL", &data, &start, &labels_object, &indptr_object,
                          &indices_object, &values_object, &row, &nnz, &max_index))
        return NULL;
    PyObject *result = NULL;
    int have = 0;
    if (start < 0 || start > data.len) {
        PyErr_Format(PyExc_ValueError, "start %zd is outside the %zd bytes", start, data.len);
        goto done;
    }
    if (get_array(labels_object, &labels, "labels", 8, "d") < 0)
        goto done;
    have = 1;
    if (get_array(indptr_object, &indptr, "indptr", 8, "ql") < 0)
        goto done;
    have = 2;
    if (get_array(indices_object, &indices, "indices", 8, "ql") < 0)
        goto done;
    have = 3;
    if (PyObject_GetBuffer(values_object, &values,
                           PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        goto done;
    have = 4;
    const int single = strcmp(values.format, "f") == 0;
    if ((!single && strcmp(values.format, "d") != 0) || values.ndim != 1) {
        PyErr_SetString(PyExc_ValueError, "values must be a 1-D float64 or float32 array");
        goto done;
    }
    const Py_ssize_t row_capacity = labels.len / 8, nnz_capacity = indices.len / 8;
    if (indptr.len / 8 < row_capacity + 1 || values.len / values.itemsize != nnz_capacity) {
        PyErr_SetString(PyExc_ValueError,
                        "indptr must be one longer than labels, values as long as indices");
        goto done;
    }
    if (row < 0 || row > row_capacity || nnz < 0 || nnz > nnz_capacity ||
        ((int64_t *)indptr.buf)[row] != nnz) {
        PyErr_Format(PyExc_ValueError, "row %zd and nnz %zd do not fit the arrays", row, nnz);
        goto done;
    }
    const csr_out out = {labels.buf,
                         indptr.buf,
                         indices.buf,
                         single ? NULL : values.buf,
                         single ? values.buf : NULL,
                         row_capacity,
                         nnz_capacity};
    const char *base = data.buf;
    scan_state st = {row, nnz, NULL, max_index};
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = scan(base + start, base + data.len, &out, &st);
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("innnL", status, (Py_ssize_t)(st.stop - base), st.row, st.nnz,
                           (long long)st.max_index);
done:
    if (have >= 4)
        PyBuffer_Release(&values);
    if (have >= 3)
        PyBuffer_Release(&indices);
    if (have >= 2)
        PyBuffer_Release(&indptr);
    if (have >= 1)
        PyBuffer_Release(&labels);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"parse", parse, METH_VARARGS, parse_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_libsvmscan",
    "Parsing LIBSVM lines into CSR arrays (see linfit/data/libsvm_fast.py).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__libsvmscan(void)
{
    if (!decimal_init_locale())
        return PyErr_NoMemory();
    /* bytes.split()'s whitespace but the newline, which ends a line here, as '#' does */
    const char *spaces = " \t\r\v\f";
    for (const char *s = spaces; *s; s++)
        byte_class[(unsigned char)*s] = BYTE_SPACE;
    byte_class['\n'] = BYTE_END;
    byte_class['#'] = BYTE_END;
    return PyModule_Create(&module);
}
