/* Conventions shared by every parser and builder in harness/wire.
 *
 * Parsers take the picohttpparser shape: the caller owns the buffer, a
 * parse function returns the number of bytes consumed (> 0, or >= 0 where
 * an empty input is a complete value), WIRE_INCOMPLETE when more bytes are
 * needed, or WIRE_ERROR with a struct wire_error saying where and why.
 * Parsers never allocate per header and never read past the buffer;
 * results are slices (struct wire_str) that point into the caller's bytes.
 */
#ifndef RTSP_HARNESS_WIRE_H
#define RTSP_HARNESS_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define WIRE_ERROR (-1)      /* input is malformed; see struct wire_error */
#define WIRE_INCOMPLETE (-2) /* input is a valid prefix; call again with more */

/* Where and why a parse failed. */
struct wire_error {
    size_t offset;      /* byte offset into the buffer given to the parser */
    const char *reason; /* static string, e.g. "CSeq value is not a number" */
};

/* A slice of the caller's buffer; not NUL-terminated. */
struct wire_str {
    const char *ptr; /* first byte, or NULL when absent */
    size_t len;      /* number of bytes */
};

/* Record an error and return WIRE_ERROR; err may be NULL. */
static inline int wire_fail(struct wire_error *err, size_t offset, const char *reason)
{
    if (err) {
        err->offset = offset;
        err->reason = reason;
    }
    return WIRE_ERROR;
}

/* True when the slice equals the NUL-terminated string s exactly. */
bool wire_str_eq(struct wire_str a, const char *s);
/* True when the slice equals s ignoring ASCII case. */
bool wire_str_caseeq(struct wire_str a, const char *s);
/* Slice with leading and trailing spaces and tabs removed. */
struct wire_str wire_str_trim(struct wire_str a);
/* Write a formatted message into a caller's error buffer (err may be NULL,
 * the text is cut at cap) and return -1: `return wire_errf(err, cap, ...)`
 * for functions that report errors as text rather than a wire_error. */
int wire_errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read a whole regular file of at most max_bytes into a malloc'd buffer
 * (*data, NUL-terminated after *len bytes; free() it). Returns 0, or -1
 * with err naming the path: cannot open, not a regular file, larger than
 * max_bytes, out of memory, read error. For the project's text inputs
 * (scenarios, dialects, rubrics). */
int wire_read_file(const char *path, size_t max_bytes, char **data, size_t *len, char *err, size_t cap);

/* mkdir -p: every missing folder of path (0755). 0, or -1 with errno. */
int wire_mkdirs(const char *path);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t wire_mono_ms(void);

/* A size in bytes: decimal digits with an optional K, M or G suffix
 * (powers of 1024). false on anything else or on overflow. */
bool wire_parse_bytes(const char *s, uint64_t *out);

/* Parse an unsigned decimal of at most max; false on empty, non-digit or overflow. */
bool wire_parse_u64(struct wire_str a, uint64_t max, uint64_t *out);

/* Why glibc's regcomp would take exponential time or memory on the POSIX
 * extended regex re (len bytes): stacked or nested repetitions ("a+++",
 * "((a{9}){9}){9}"), intervals above 255, groups nested more than 32 deep,
 * back-references; NULL when it is within budget. Regexes from files
 * (scenarios, rubrics) go through this before regcomp. */
const char *wire_regex_budget(const char *re, size_t len);

/* Big-endian loads and stores on byte buffers (no alignment assumed). */
static inline uint16_t wire_get_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t wire_get_be24(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}
static inline uint32_t wire_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void wire_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void wire_put_be24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}
static inline void wire_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
