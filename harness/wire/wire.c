/* Small slice helpers shared by the wire parsers (see wire.h). */
#include "wire.h"

#include <stdarg.h>
#include <stdio.h>

#include <string.h>

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
