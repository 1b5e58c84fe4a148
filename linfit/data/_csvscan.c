/*
 * Parsing the rows of a clean numeric CSV straight into a C-ordered matrix.
 *
 * The loader's fast path (linfit/data/fastcsv.py): pandas tokenizes every field into a
 * buffer, converts each column into an array and gathers the arrays into a block, and the
 * loader then copies the block into the C-ordered X the models need. Here each line is
 * parsed once, while it is in cache, and each number is written to its place in X. The
 * Python side splits the file into byte ranges at line ends and calls `parse` on them from
 * several threads; the GIL is released for the whole scan.
 *
 * Anything but plain decimal numbers in the feature columns (an empty or quoted field,
 * NaN, inf, spaces, a blank line, a ragged row, a value out of range) stops the scan with
 * a nonzero status, and the caller reads the file through pandas instead, which gives that
 * file its usual policies and messages. So this file never decides what a messy file
 * means; it only reads the files whose meaning is not in doubt.
 *
 * Numbers are correctly rounded by the parser the LIBSVM scanner shares (_decimal.h);
 * parse_number below adds this scanner's policy, the integers pandas reads otherwise.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_decimal.h"

/* Why a scan stopped; every status but SCAN_OK sends the file to pandas. */
enum {
    SCAN_OK = 0,
    SCAN_NOT_NUMBER = 1,  /* a feature field that is not a plain finite decimal number */
    SCAN_FIELDS = 2,      /* a row with more or fewer fields than the header */
    SCAN_TEXT = 3,        /* a quote or a bare carriage return in a text field, or a byte
                             beyond ASCII in a skipped one */
    SCAN_BLANK = 4,       /* a blank line (pandas skips it) */
    SCAN_NO_TARGET = 5,   /* an empty target field */
    SCAN_RANGE = 6,       /* a value beyond the output dtype, or a very long integer */
    SCAN_ROWS = 7,        /* the range holds another number of rows than counted */
    SCAN_MEMORY = 8,      /* out of memory for the target's text */
    SCAN_SIGNED_ZERO = 9, /* "-0": pandas reads it as 0 in an integer column, -0.0 in others */
};

/* Roles of a file column, besides a column index of the output matrix. */
#define ROLE_TARGET (-1)
#define ROLE_SKIP (-2)

/*
 * The number at p (ending at most at limit, read ahead at most to safe_end): its value in
 * *value and the first byte after it in *after. pandas reads an integer of 19 digits or
 * more as uint64 or as text, so such a token is left to it (SCAN_RANGE); so are "-0",
 * which it reads as 0 in an integer column but -0.0 in others (SCAN_SIGNED_ZERO), and
 * overflows to infinity.
 */
static int parse_number(const char *p, const char *limit, const char *safe_end, double *value,
                        const char **after)
{
    decimal_parts d;
    if (decimal_syntax(p, limit, safe_end, &d, after) != DECIMAL_OK)
        return SCAN_NOT_NUMBER;
    if (d.integer && *after - p <= MAX_TOKEN) { /* longer: not a number, as any long token */
        if (d.digits > 18)
            return SCAN_RANGE;
        if (d.negative && d.digits == 0)
            return SCAN_SIGNED_ZERO;
    }
    const int status = decimal_value(&d, p, *after, value);
    return status == DECIMAL_OK      ? SCAN_OK
           : status == DECIMAL_RANGE ? SCAN_RANGE
                                     : SCAN_NOT_NUMBER;
}

static int is_ascii(const char *s, size_t n)
{
    unsigned char any = 0;
    for (size_t i = 0; i < n; i++)
        any |= (unsigned char)s[i];
    return any < 0x80;
}

/* The target column's fields, each followed by a newline, grown as rows come. */
typedef struct {
    char *data;
    size_t size, capacity;
} text_buffer;

static int append_field(text_buffer *text, const char *field, size_t n)
{
    if (text->size + n + 1 > text->capacity) {
        size_t capacity = text->capacity ? text->capacity : 4096;
        while (text->size + n + 1 > capacity)
            capacity *= 2;
        char *grown = realloc(text->data, capacity);
        if (grown == NULL)
            return SCAN_MEMORY;
        text->data = grown;
        text->capacity = capacity;
    }
    memcpy(text->data + text->size, field, n);
    text->data[text->size + n] = '\n';
    text->size += n + 1;
    return SCAN_OK;
}

typedef struct {
    char sep;
    const int32_t *roles; /* one per file column */
    Py_ssize_t n_columns;
    char *out;            /* first byte of the range's first row */
    Py_ssize_t row_bytes; /* bytes per row of the output */
    int single;           /* float32 output */
    Py_ssize_t rows;      /* rows the range must hold */
    const char *safe_end; /* the end of the data: reads may go up to here */
} scan_plan;

/* The rows in [p, stop) into the output, the target's fields into text. */
static int scan(const char *p, const char *stop, const scan_plan *plan, text_buffer *text)
{
    Py_ssize_t row = 0;
    while (p < stop) {
        const char *eol = memchr(p, '\n', (size_t)(stop - p));
        if (eol == NULL)
            eol = stop;
        const char *line_end = (eol > p && eol[-1] == '\r') ? eol - 1 : eol;
        if (line_end == p)
            return SCAN_BLANK;
        if (row >= plan->rows)
            return SCAN_ROWS;
        char *out = plan->out + row * plan->row_bytes;
        const char *field = p;
        for (Py_ssize_t j = 0; j < plan->n_columns; j++) {
            const int32_t role = plan->roles[j];
            const char *field_end;
            int status;
            if (role >= 0) {
                double v;
                status = parse_number(field, line_end, plan->safe_end, &v, &field_end);
                if (status != SCAN_OK)
                    return status;
                if (plan->single) {
                    if (fabs(v) > FLT_MAX)
                        return SCAN_RANGE;
                    ((float *)out)[role] = (float)v;
                } else {
                    ((double *)out)[role] = v;
                }
            } else {
                field_end = memchr(field, plan->sep, (size_t)(line_end - field));
                if (field_end == NULL)
                    field_end = line_end;
                const size_t n = (size_t)(field_end - field);
                if (memchr(field, '"', n) != NULL || memchr(field, '\r', n) != NULL)
                    return SCAN_TEXT;
                if (role == ROLE_SKIP && !is_ascii(field, n))
                    return SCAN_TEXT; /* pandas would check its encoding; nothing reads it here */
                if (role == ROLE_TARGET) {
                    status = n == 0 ? SCAN_NO_TARGET : append_field(text, field, n);
                    if (status != SCAN_OK)
                        return status;
                }
            }
            const int last = j == plan->n_columns - 1;
            if (last ? field_end != line_end : (field_end == line_end || *field_end != plan->sep))
                return (field_end < line_end && *field_end != plan->sep) ? SCAN_NOT_NUMBER
                                                                         : SCAN_FIELDS;
            field = field_end + 1;
        }
        row++;
        p = eol + 1;
    }
    return row == plan->rows ? SCAN_OK : SCAN_ROWS;
}

static int get_range(Py_buffer *data, Py_ssize_t start, Py_ssize_t end)
{
    if (start < 0 || end < start || end > data->len) {
        PyErr_Format(PyExc_ValueError, "range [%zd, %zd) is outside the %zd bytes", start, end,
                     data->len);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(count_lines_doc,
             "count_lines(data, start, end) -> int\n\n"
             "Lines in data[start:end]: its newlines, plus one for a last line without one.");

static PyObject *count_lines(PyObject *self, PyObject *args)
{
    Py_buffer data;
    Py_ssize_t start, end, lines = 0;
    if (!PyArg_ParseTuple(args, "y*nn", &data, &start, &end))
        return NULL;
    if (get_range(&data, start, end) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    const char *p = (const char *)data.buf + start, *stop = (const char *)data.buf + end;
    Py_BEGIN_ALLOW_THREADS
    while (p < stop) {
        const char *eol = memchr(p, '\n', (size_t)(stop - p));
        lines++;
        if (eol == NULL)
            break;
        p = eol + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(lines);
}

PyDoc_STRVAR(parse_doc,
             "parse(data, start, end, sep, roles, out, first_row, rows) -> (status, target)\n\n"
             "Parse the lines of data[start:end] into rows first_row, ..., first_row + rows - 1 of\n"
             "out, an (n, k) C-contiguous float64 or float32 matrix. roles (int32, one per\n"
             "file column) gives each column's index in out, or -1 for the target, whose\n"
             "fields come back as text (each followed by a newline), or -2 to skip it.\n"
             "status is 0 when every line parsed; otherwise the reason the file needs the\n"
             "general reader (a range holding another number of lines than rows is one).\n"
             "The GIL is released meanwhile.");

static PyObject *parse(PyObject *self, PyObject *args)
{
    Py_buffer data, roles, out;
    PyObject *roles_object, *out_object;
    Py_ssize_t start, end, first_row, rows;
    char sep;
    if (!PyArg_ParseTuple(args, "y*nncOOnn", &data, &start, &end, &sep, &roles_object,
                          &out_object, &first_row, &rows))
        return NULL;
    PyObject *result = NULL;
    int have_roles = 0, have_out = 0;
    if (get_range(&data, start, end) < 0)
        goto done;
    if (PyObject_GetBuffer(roles_object, &roles, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto done;
    have_roles = 1;
    const char *code = roles.format + strlen(roles.format) - 1;
    if (roles.ndim != 1 || roles.len == 0 || roles.itemsize != (Py_ssize_t)sizeof(int32_t) ||
        (*code != 'i' && *code != 'l')) {
        PyErr_SetString(PyExc_ValueError, "roles must be a non-empty 1-D int32 array");
        goto done;
    }
    if (PyObject_GetBuffer(out_object, &out,
                           PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        goto done;
    have_out = 1;
    const int single = strcmp(out.format, "f") == 0;
    if ((!single && strcmp(out.format, "d") != 0) || out.ndim != 2) {
        PyErr_SetString(PyExc_ValueError, "out must be a 2-D float64 or float32 matrix");
        goto done;
    }
    const Py_ssize_t n_rows = out.shape[0], k = out.shape[1];
    const Py_ssize_t n_columns = roles.len / (Py_ssize_t)sizeof(int32_t);
    const int32_t *role = (const int32_t *)roles.buf;
    for (Py_ssize_t j = 0; j < n_columns; j++) {
        if (role[j] >= k || role[j] < ROLE_SKIP) {
            PyErr_Format(PyExc_ValueError, "role %d of column %zd is not in [-2, %zd)",
                         (int)role[j], j, k);
            goto done;
        }
    }
    if (first_row < 0 || rows < 0 || first_row > n_rows || rows > n_rows - first_row) {
        PyErr_Format(PyExc_ValueError, "rows [%zd, %zd) are outside the %zd rows", first_row,
                     first_row + rows, n_rows);
        goto done;
    }
    const char *base = (const char *)data.buf;
    const scan_plan plan = {sep,
                            role,
                            n_columns,
                            (char *)out.buf + first_row * out.strides[0],
                            out.strides[0],
                            single,
                            rows,
                            base + data.len};
    text_buffer text = {NULL, 0, 0};
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = scan(base + start, base + end, &plan, &text);
    Py_END_ALLOW_THREADS
    PyObject *target;
    if (status == SCAN_OK && text.data != NULL) {
        target = PyBytes_FromStringAndSize(text.data, (Py_ssize_t)text.size);
    } else {
        target = Py_None;
        Py_INCREF(target);
    }
    free(text.data);
    if (target != NULL)
        result = Py_BuildValue("iN", status, target);
done:
    if (have_out)
        PyBuffer_Release(&out);
    if (have_roles)
        PyBuffer_Release(&roles);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"count_lines", count_lines, METH_VARARGS, count_lines_doc},
    {"parse", parse, METH_VARARGS, parse_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_csvscan",
    "Parsing a clean numeric CSV into a C-ordered matrix (see linfit/data/fastcsv.py).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__csvscan(void)
{
    if (!decimal_init_locale())
        return PyErr_NoMemory();
    return PyModule_Create(&module);
}
