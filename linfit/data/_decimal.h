/*
 * The correctly rounded decimal parser both compiled scanners share (_csvscan.c and
 * _libsvmscan.c): one copy, so a fix to the rounding reaches both.
 *
 * A number is read in two steps, so that each scanner applies its own policy between
 * them: decimal_syntax reads the plain decimal [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)? at p into
 * a decimal_parts (the CSV scanner then refuses the integers pandas reads otherwise; the
 * LIBSVM scanner requires the token to end at a separator), and decimal_value turns the
 * parts into the double.
 *
 * Numbers are correctly rounded, as Python's float() rounds them: a mantissa of at most 19
 * digits that fits in 53 bits, scaled by at most 10^22, is exact in double arithmetic and
 * takes one multiplication or division (Clinger's fast path); any other number goes to
 * strtod in the "C" locale, so that a process's locale never changes the decimal point.
 *
 * Include it after Python.h. Every function is static: each module has its own copy,
 * and its own C locale, set up by decimal_init_locale in the module's init.
 */
#ifndef LINFIT_DECIMAL_H
#define LINFIT_DECIMAL_H

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

/* The "C" locale for strtod; 0 when it cannot be made (out of memory). */
static int decimal_init_locale(void)
{
#if defined(_WIN32)
    c_locale = _create_locale(LC_NUMERIC, "C");
#else
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
#endif
    return c_locale != 0;
}

/* What the steps make of a number; each scanner maps these onto its own statuses. */
enum {
    DECIMAL_OK = 0,
    DECIMAL_NOT_NUMBER = 1, /* not a plain decimal, or one only strtod with a larger buffer
                               would read */
    DECIMAL_RANGE = 2,      /* overflows to infinity */
};

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
/* Longer numbers (0.000...01 with hundreds of zeros, 0.000...0001e100000) are left to the
 * general readers rather than copied into a larger buffer for strtod. */
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
 * ahead of s, never at or past safe_end. A mantissa that missed digits only reaches strtod's
 * path (digits > 19), where it is not used.
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

/* A number as decimal_syntax reads it: mantissa * 10^exp10 when digits <= 19. */
typedef struct {
    uint64_t mantissa; /* the first (at most 19) significant digits */
    int64_t digits;    /* significant digits; 64 bits: a field may be gigabytes of zeros */
    int64_t exp10;
    int negative;      /* a leading '-' */
    int integer;       /* no '.' and no exponent */
} decimal_parts;

/*
 * The plain decimal number at p (ending at most at limit) into *d, and the first byte
 * after it in *after: DECIMAL_OK, or DECIMAL_NOT_NUMBER where p holds none. Reads ahead at
 * most to safe_end (>= limit), 8 bytes at a time, never at or past it.
 */
static inline int decimal_syntax(const char *p, const char *limit, const char *safe_end,
                                 decimal_parts *d, const char **after)
{
    const char *s = p;
    int negative = 0;
    if (s < limit && (*s == '-' || *s == '+')) {
        negative = *s == '-';
        s++;
    }
    const char *first = s;
    uint64_t mantissa = 0;
    int64_t digits = 0, exp10 = 0;
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
        return DECIMAL_NOT_NUMBER;
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
            return DECIMAL_NOT_NUMBER;
        while (s < limit && is_digit(*s)) {
            if (exponent < 100000)
                exponent = exponent * 10 + (*s - '0');
            s++;
        }
        exp10 += exp_negative ? -exponent : exponent;
    }
    d->mantissa = mantissa;
    d->digits = digits;
    d->exp10 = exp10;
    d->negative = negative;
    d->integer = integer;
    *after = s;
    return DECIMAL_OK;
}

/*
 * The value of the number decimal_syntax read from [p, after) into *d: DECIMAL_OK with
 * *value, DECIMAL_NOT_NUMBER for a token longer than MAX_TOKEN (or one strtod reads
 * otherwise), DECIMAL_RANGE for one that overflows to infinity.
 */
static inline int decimal_value(const decimal_parts *d, const char *p, const char *after,
                                double *value)
{
    const size_t n = (size_t)(after - p);
    if (n > MAX_TOKEN)
        return DECIMAL_NOT_NUMBER; /* e.g. 0.000...0001e100000: only strtod reads it right */
    double v;
    if (d->digits == 0) {
        v = 0.0;
    } else if (EXACT_DOUBLES && d->digits <= 19 && d->mantissa <= MAX_EXACT_MANTISSA &&
               d->exp10 >= -22 && d->exp10 <= 22) {
        v = d->exp10 < 0 ? (double)d->mantissa / POW10[-d->exp10]
                         : (double)d->mantissa * POW10[d->exp10];
    } else {
        char token[MAX_TOKEN + 1];
        memcpy(token, p, n);
        token[n] = '\0';
        char *end;
        v = STRTOD_C(token, &end);
        if (end != token + n)
            return DECIMAL_NOT_NUMBER;
        if (isinf(v))
            return DECIMAL_RANGE;
        *value = v; /* strtod applied the sign */
        return DECIMAL_OK;
    }
    *value = d->negative ? -v : v;
    return DECIMAL_OK;
}

#endif /* LINFIT_DECIMAL_H */
