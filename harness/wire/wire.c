/* Small helpers shared by the parsers: slices, numbers, the regex budget (see wire.h). */
#include "wire.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include <string.h>
#include <errno.h>
#include <stdlib.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool wire_str_eq(struct wire_str a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && (n == 0 || memcmp(a.ptr, s, n) == 0);
}

bool wire_str_caseeq(struct wire_str a, const char *s)
{
    size_t n = strlen(s);
    if (a.len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(a.ptr[i]) != ascii_lower(s[i]))
            return false;
    return true;
}

struct wire_str wire_str_trim(struct wire_str a)
{
    while (a.len > 0 && (a.ptr[0] == ' ' || a.ptr[0] == '\t')) {
        a.ptr++;
        a.len--;
    }
    while (a.len > 0 && (a.ptr[a.len - 1] == ' ' || a.ptr[a.len - 1] == '\t'))
        a.len--;
    return a;
}

int wire_errf(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

bool wire_parse_u64(struct wire_str a, uint64_t max, uint64_t *out)
{
    if (a.len == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < a.len; i++) {
        char c = a.ptr[i];
        if (c < '0' || c > '9')
            return false;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int wire_read_file(const char *path, size_t max_bytes, char **data, size_t *len, char *err, size_t cap)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return wire_errf(err, cap, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return wire_errf(err, cap, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return wire_errf(err, cap, "%s: larger than %zu bytes", path, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return wire_errf(err, cap, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, n, f);
    int read_err = ferror(f);
    fclose(f);
    if (got != n || read_err) {
        free(buf);
        return wire_errf(err, cap, "%s: read error", path);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

int wire_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

bool wire_parse_bytes(const char *s, uint64_t *out)
{
    uint64_t n = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (p == s)
        return false;
    unsigned shift = 0;
    switch (*p) {
    case 'K': case 'k': shift = 10; p++; break;
    case 'M': case 'm': shift = 20; p++; break;
    case 'G': case 'g': shift = 30; p++; break;
    default: break;
    }
    if (*p || (shift && n > (UINT64_MAX >> shift)))
        return false;
    *out = n << shift;
    return true;
}

int64_t wire_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Largest parse tree a regex may need, in nodes (an estimate). */
#define REGEX_NODE_BUDGET 8192

/* glibc's regcomp expands x+ into x x* and x{n,m} into m copies of x, so
 * stacked or nested repetitions grow the tree exponentially ("a+++++"
 * doubles it with each '+'). This walks the regex like an ERE parser and
 * estimates the tree's size, so that such patterns are refused before
 * regcomp sees them. */
struct re_scan {
    const char *s;   /* the regex */
    size_t n;        /* its length */
    size_t i;        /* position */
    int depth;       /* open groups */
    const char *why; /* set when the regex is refused */
};

static double re_alternation(struct re_scan *r);

static double re_atom(struct re_scan *r)
{
    char c = r->s[r->i];
    if (c == '(') {
        if (++r->depth > 32) {
            r->why = "regex groups nested more than 32 deep";
            return 1;
        }
        r->i++;
        double v = re_alternation(r);
        if (r->i < r->n && r->s[r->i] == ')')
            r->i++;
        r->depth--;
        return v + 1;
    }
    if (c == '[') {
        r->i++;
        if (r->i < r->n && r->s[r->i] == '^')
            r->i++;
        if (r->i < r->n && r->s[r->i] == ']')
            r->i++;
        while (r->i < r->n && r->s[r->i] != ']') {
            if (r->s[r->i] == '[' && r->i + 1 < r->n && strchr(":.=", r->s[r->i + 1])) {
                char close = r->s[r->i + 1];
                r->i += 2;
                while (r->i + 1 < r->n && !(r->s[r->i] == close && r->s[r->i + 1] == ']'))
                    r->i++;
                r->i += 2;
                continue;
            }
            r->i++;
        }
        r->i++;
        return 1;
    }
    if (c == '\\') {
        if (r->i + 1 < r->n && r->s[r->i + 1] >= '1' && r->s[r->i + 1] <= '9')
            r->why = "back-references are not supported";
        r->i += 2;
        return 1;
    }
    r->i++;
    return 1;
}

static double re_piece(struct re_scan *r)
{
    double v = re_atom(r);
    while (r->i < r->n && !r->why) {
        char c = r->s[r->i];
        if (c == '*' || c == '?') {
            v += 1;
            r->i++;
        } else if (c == '+') {
            v = 2 * v + 1;
            r->i++;
        } else if (c == '{' && r->i + 1 < r->n && isdigit((unsigned char)r->s[r->i + 1])) {
            size_t j = r->i + 1;
            unsigned long lo = 0, hi;
            while (j < r->n && isdigit((unsigned char)r->s[j]) && lo <= 100000)
                lo = lo * 10 + (unsigned long)(r->s[j++] - '0');
            hi = lo;
            if (j < r->n && r->s[j] == ',') {
                j++;
                hi = 0;
                bool digits = false;
                while (j < r->n && isdigit((unsigned char)r->s[j]) && hi <= 100000) {
                    hi = hi * 10 + (unsigned long)(r->s[j++] - '0');
                    digits = true;
                }
                if (!digits)
                    hi = lo + 1; /* {n,}: n copies and a star */
            }
            if (lo > 255 || hi > 255) {
                r->why = "regex interval above 255";
                return v;
            }
            v = v * (double)(hi > lo ? hi : lo > 0 ? lo : 1) + 1;
            r->i = j < r->n && r->s[j] == '}' ? j + 1 : j;
        } else {
            break;
        }
        if (v > REGEX_NODE_BUDGET)
            r->why = "regex repetitions too large (nested or stacked repetitions)";
    }
    return v;
}

static double re_alternation(struct re_scan *r)
{
    double total = 0;
    while (r->i < r->n && !r->why && r->s[r->i] != ')') {
        if (r->s[r->i] == '|') {
            r->i++;
            total += 1;
            continue;
        }
        total += re_piece(r);
        if (total > REGEX_NODE_BUDGET && !r->why)
            r->why = "regex repetitions too large (nested or stacked repetitions)";
    }
    return total;
}

/* Reject what makes glibc's regcomp slow or huge: large intervals, stacked
 * and nested repetitions, back-references. */
const char *wire_regex_budget(const char *re, size_t len)
{
    struct re_scan r = {.s = re, .n = len};
    while (r.i < r.n && !r.why) {
        re_alternation(&r);
        if (r.i < r.n)
            r.i++; /* an unmatched ')': regcomp will say */
    }
    return r.why;
}
