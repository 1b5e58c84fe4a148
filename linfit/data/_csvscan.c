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
 * Numbers are correctly rounded: a mantissa of at most 19 digits that fits in 53 bits,
 * scaled by at most 10^22, is exact in double arithmetic and takes one multiplication or
 * division (Clinger's fast path); any other number goes to strtod in the "C" locale.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__APPLE__)
#include <xlocale.h>
#endif

#if defined(_WIN32)
typedef _locale_t c_locale_t;
#define STRTOD_C(s, end) _strtod_l((s), (end), c_locale)
#else
typedef locale_t c_locale_t;
#define STRTOD_C(s, end) strtod_l((s), (end), c_locale)
#endif

static c_locale_t c_locale;

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

static const double POW10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};
#define MAX_EXACT_MANTISSA 9007199254740992ULL /* 2^53 */
/* The fast path's one multiplication or division rounds once only where doubles are
 * evaluated as doubles (not in x87's extended registers). */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define EXACT_DOUBLES 1
#else
#define EXACT_DOUBLES 0
#endif
#define MAX_TOKEN 400

static const uint64_t POW10_INT[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                       100000000};

static inline int is_digit(char c) { return (unsigned char)(c - '0') < 10; }

/* Eight digits at a time where bytes load little-endian and a 64-bit bit scan exists;
 * a digit at a time elsewhere. */
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64))
#include <intrin.h>
#define EIGHT_AT_A_TIME 1
static inline int trailing_zeros(uint64_t x)
{
    unsigned long i;
    _BitScanForward64(&i, x);
    return (int)i;
}
#elif !defined(_MSC_VER) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define EIGHT_AT_A_TIME 1
#define trailing_zeros(x) __builtin_ctzll(x)
#endif

#ifdef EIGHT_AT_A_TIME
#define ALL_ZEROS 0x3030303030303030ULL /* "00000000" */
#define HIGH_NIBBLES 0xF0F0F0F0F0F0F0F0ULL

/* How many of the 8 bytes in x (first byte lowest) are digits before the first that is not. */
static inline int leading_digits(uint64_t x)
{
    /* A digit byte is 0x30-0x39: its high nibble is 3, and still 3 after adding 6. A carry
     * out of a byte >= 0xFA only reaches the bytes after it, which are past the run. */
    const uint64_t other = ((x & HIGH_NIBBLES) ^ ALL_ZEROS) |
                           (((x + 0x0606060606060606ULL) & HIGH_NIBBLES) ^ ALL_ZEROS);
    return other ? trailing_zeros(other) >> 3 : 8;
}

/* The value of the first n (1-8) digit bytes of x. */
static inline uint64_t digits_value(uint64_t x, int n)
{
    if (n < 8) /* shift the digits to the end, with '0's in front */
        x = (x << (8 * (8 - n))) | (ALL_ZEROS >> (8 * n));
    x -= ALL_ZEROS;
    /* Each byte i becomes 10 d_i + d_(i+1), so bytes 0, 2, 4, 6 hold the four 2-digit
     * groups; then each 16-bit lane 0, 2 holds 100 g_j + g_(j+1); then the two 4-digit
     * groups join. No step carries across the lanes it reads. */
    x = x * 10 + (x >> 8);
    x &= 0x00FF00FF00FF00FFULL;
    x = x * 100 + (x >> 16);
    return (x & 0xFFFF) * 10000 + ((x >> 32) & 0xFFFF);
}
#endif

/*
 * The digits from s on (stopping at limit): appended to *mantissa while it holds at most 19
 * of them, and counted in *digits. Returns the first byte after them. Reads up to 8 bytes
 * ahead of s, never at or past safe_end.
 */
static inline const char *digit_run(const char *s, const char *limit, const char *safe_end,
                                    uint64_t *mantissa, int64_t *digits)
{
#ifdef EIGHT_AT_A_TIME
    while (safe_end - s >= 8) {
        uint64_t x;
        memcpy(&x, s, 8);
        int n = leading_digits(x);
        if (n > limit - s)
            n = (int)(limit - s);
        if (n == 0)
            return s;
        if (*digits + n <= 19)
            *mantissa = *mantissa * POW10_INT[n] + digits_value(x, n);
        *digits += n;
        s += n;
        if (n < 8)
            return s;
    }
#endif
    while (s < limit && is_digit(*s)) {
        if (*digits < 19)
            *mantissa = *mantissa * 10 + (uint64_t)(*s - '0');
        ++*digits;
        s++;
    }
    return s;
}

/*
 * The number at p (ending at most at limit): its value in *value and the first byte after
 * it in *after. pandas reads an integer of 19 digits or more as uint64 or as text, so such
 * a token is left to it (SCAN_RANGE); so are overflows to infinity.
 */
static int parse_number(const char *p, const char *limit, const char *safe_end, double *value,
                        const char **after)
{
    const char *s = p;
    int negative = 0;
    if (s < limit && (*s == '-' || *s == '+')) {
        negative = *s == '-';
        s++;
    }
    const char *first = s;
    uint64_t mantissa = 0;
    int64_t digits = 0, exp10 = 0; /* 64 bits: a field may be gigabytes of zeros */
    int integer = 1;
    while (s < limit && *s == '0') /* leading zeros are not significant digits */
        s++;
    s = digit_run(s, limit, safe_end, &mantissa, &digits);
    int seen = s != first;
    if (s < limit && *s == '.') {
        integer = 0;
        const char *fraction = ++s;
        if (digits == 0) {
            while (s < limit && *s == '0') {
                s++;
                exp10--;
            }
        }
        const int64_t before = digits;
        s = digit_run(s, limit, safe_end, &mantissa, &digits);
        exp10 -= digits - before;
        seen |= s != fraction;
    }
    if (!seen)
        return SCAN_NOT_NUMBER;
    if (s < limit && (*s == 'e' || *s == 'E')) {
        integer = 0;
        s++;
        int exp_negative = 0;
        int64_t exponent = 0;
        if (s < limit && (*s == '-' || *s == '+')) {
            exp_negative = *s == '-';
            s++;
        }
        if (s >= limit || !is_digit(*s))
            return SCAN_NOT_NUMBER;
        while (s < limit && is_digit(*s)) {
            if (exponent < 100000)
                exponent = exponent * 10 + (*s - '0');
            s++;
        }
        exp10 += exp_negative ? -exponent : exponent;
    }
    *after = s;
    if (s - p > MAX_TOKEN)
        return SCAN_NOT_NUMBER; /* e.g. 0.000...0001e100000: only strtod reads it right */
    if (integer && digits > 18)
        return SCAN_RANGE;
    if (integer && negative && digits == 0)
        return SCAN_SIGNED_ZERO;
    double v;
    if (digits == 0) {
        v = 0.0;
    } else if (EXACT_DOUBLES && digits <= 19 && mantissa <= MAX_EXACT_MANTISSA && exp10 >= -22 &&
               exp10 <= 22) {
        v = exp10 < 0 ? (double)mantissa / POW10[-exp10] : (double)mantissa * POW10[exp10];
    } else {
        const size_t n = (size_t)(s - p);
        char token[MAX_TOKEN + 1];
        memcpy(token, p, n);
        token[n] = '\0';
        char *end;
        v = STRTOD_C(token, &end);
        if (end != token + n)
            return SCAN_NOT_NUMBER;
        if (isinf(v))
            return SCAN_RANGE;
        *value = v; /* strtod applied the sign */
        return SCAN_OK;
    }
    *value = negative ? -v : v;
    return SCAN_OK;
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
#if defined(_WIN32)
    c_locale = _create_locale(LC_NUMERIC, "C");
#else
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
#endif
    if (!c_locale)
        return PyErr_NoMemory();
    return PyModule_Create(&module);
}
