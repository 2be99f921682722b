/* Request dialects of the lab profile (see dialect.h and docs/scenarios.md,
 * "Dialects"): the description parser, the lookup of a dialect by name
 * next to the scenarios, the compiled-in canonical lab dialect, and the
 * renderer the replay engine writes lab requests with. Template lines are
 * checked when they are read (placeholders known, braces closed), so
 * rendering a parsed dialect cannot fail on its text. */
#include "dialect.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const field_names[DIALECT_FIELD_COUNT] = {
    [DIALECT_METHOD] = "method",       [DIALECT_MEDIA] = "media",     [DIALECT_URL] = "url",
    [DIALECT_CSEQ] = "cseq",           [DIALECT_SESSION] = "session", [DIALECT_RTP_PORT] = "rtp_port",
    [DIALECT_RTCP_PORT] = "rtcp_port", [DIALECT_HOST] = "host",       [DIALECT_PORT] = "port",
};

/* The canonical lab dialect, as scenarios/lab/dialects/lab.dialect has it:
 * a scenario outside the tree still speaks it. */
static const char lab_text[] = "@dialect lab\n"
                               "@line-end lf\n"
                               "@last-line-end no\n"
                               "@blank-line no\n"
                               "request SETUP\n"
                               "  {method} {media} RTSP/1.0\n"
                               "  CSeq: {cseq}\n"
                               "  Transport: RTP/UDP; client_port= {rtp_port}\n"
                               "request *\n"
                               "  {method} {media} RTSP/1.0\n"
                               "  CSeq: {cseq}\n"
                               "  Session: {session}\n";

const char *dialect_field_name(enum dialect_field f)
{
    return (unsigned)f < DIALECT_FIELD_COUNT ? field_names[f] : NULL;
}

static int field_of(const char *s, size_t n)
{
    for (int f = 0; f < DIALECT_FIELD_COUNT; f++)
        if (strlen(field_names[f]) == n && memcmp(field_names[f], s, n) == 0)
            return f;
    return -1;
}

/* ---------- parsing ---------- */

struct dparser {
    const char *name;    /* file name for messages */
    char *err;           /* caller's error buffer */
    size_t cap;          /* its size */
    struct dialect *d;   /* being filled */
    bool name_given;     /* @dialect seen */
    bool line_end_given; /* @line-end seen */
    bool last_given;     /* @last-line-end seen */
    bool blank_given;    /* @blank-line seen */
    unsigned blank_line; /* line of @blank-line, for its conflict with @last-line-end */
    unsigned blank_col;  /* its column */
};

static int derr(struct dparser *p, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int derr(struct dparser *p, unsigned line, unsigned col, const char *fmt, ...)
{
    if (!p->cap)
        return -1;
    int n = snprintf(p->err, p->cap, "%s:%u:%u: ", p->name, line, col ? col : 1);
    if (n < 0 || (size_t)n >= p->cap)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->cap - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool word_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(s, w, n) == 0;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/* A dialect name: name characters, not starting with '.' or '-'. */
static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n >= DIALECT_MAX_NAME || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i]))
            return false;
    return true;
}

/* Where a directive's value ends: before a ` # comment` and trailing blanks. */
static size_t value_end(const char *s, size_t n, size_t from)
{
    size_t e = n;
    for (size_t i = from; i < n; i++)
        if (s[i] == '#' && i > 0 && is_space(s[i - 1])) {
            e = i;
            break;
        }
    while (e > from && is_space(s[e - 1]))
        e--;
    return e;
}

static int parse_yes_no(struct dparser *p, unsigned line, unsigned col, const char *what, const char *v,
                        size_t n, bool *out)
{
    if (word_is(v, n, "yes"))
        *out = true;
    else if (word_is(v, n, "no"))
        *out = false;
    else
        return derr(p, line, col, "%s is 'yes' or 'no', not '%.*s'", what, (int)n, v);
    return 0;
}

static int parse_directive(struct dparser *p, const char *s, size_t n, unsigned line)
{
    struct dialect *d = p->d;
    size_t we = 1;
    while (we < n && !is_space(s[we]))
        we++;
    const char *w = s + 1;
    size_t wn = we - 1;
    size_t a0 = we;
    while (a0 < n && is_space(s[a0]))
        a0++;
    size_t ae = value_end(s, n, a0);
    const char *v = s + a0;
    size_t vn = ae > a0 ? ae - a0 : 0;
    unsigned vcol = (unsigned)a0 + 1;
    bool *given;
    if (word_is(w, wn, "dialect"))
        given = &p->name_given;
    else if (word_is(w, wn, "line-end"))
        given = &p->line_end_given;
    else if (word_is(w, wn, "last-line-end"))
        given = &p->last_given;
    else if (word_is(w, wn, "blank-line"))
        given = &p->blank_given;
    else
        return derr(p, line, 1, "unknown directive '@%.*s' (@dialect @line-end @last-line-end @blank-line)",
                    (int)wn, w);
    if (d->n_requests)
        return derr(p, line, 1, "@%.*s must come before the first request", (int)wn, w);
    if (*given)
        return derr(p, line, 1, "@%.*s given twice", (int)wn, w);
    if (vn == 0)
        return derr(p, line, vcol, "@%.*s needs a value", (int)wn, w);
    for (size_t i = 0; i < vn; i++)
        if (is_space(v[i]))
            return derr(p, line, vcol + (unsigned)i, "unexpected text after the value of @%.*s", (int)wn, w);
    *given = true;
    if (word_is(w, wn, "dialect")) {
        if (!valid_name(v, vn))
            return derr(p, line, vcol,
                        "'%.*s' is not a dialect name (letters, digits, '_', '-', '.'; at most %d bytes)",
                        (int)vn, v, DIALECT_MAX_NAME - 1);
        memcpy(d->name, v, vn);
        d->name[vn] = '\0';
        return 0;
    }
    if (word_is(w, wn, "line-end")) {
        if (word_is(v, vn, "lf"))
            d->crlf = false;
        else if (word_is(v, vn, "crlf"))
            d->crlf = true;
        else
            return derr(p, line, vcol, "@line-end is 'lf' or 'crlf', not '%.*s'", (int)vn, v);
        return 0;
    }
    if (word_is(w, wn, "last-line-end"))
        return parse_yes_no(p, line, vcol, "@last-line-end", v, vn, &d->last_line_end);
    p->blank_line = line;
    p->blank_col = vcol;
    return parse_yes_no(p, line, vcol, "@blank-line", v, vn, &d->blank_line);
}

static int parse_request(struct dparser *p, const char *s, size_t n, unsigned line)
{
    struct dialect *d = p->d;
    size_t m0 = strlen("request");
    while (m0 < n && is_space(s[m0]))
        m0++;
    size_t m1 = m0;
    while (m1 < n && !is_space(s[m1]))
        m1++;
    unsigned mcol = (unsigned)m0 + 1;
    if (m1 == m0)
        return derr(p, line, mcol, "request needs a method (SETUP, PLAY, ...) or '*' for any other");
    size_t rest = value_end(s, n, m1);
    if (rest > m1)
        return derr(p, line, (unsigned)m1 + 2, "unexpected text after the method");
    const char *m = s + m0;
    size_t mn = m1 - m0;
    if (mn >= DIALECT_MAX_METHOD)
        return derr(p, line, mcol, "method longer than %d bytes", DIALECT_MAX_METHOD - 1);
    if (!word_is(m, mn, "*"))
        for (size_t i = 0; i < mn; i++)
            if (!((m[i] >= 'A' && m[i] <= 'Z') || (m[i] >= 'a' && m[i] <= 'z') ||
                  (m[i] >= '0' && m[i] <= '9') || m[i] == '_' || m[i] == '-'))
                return derr(p, line, mcol + (unsigned)i,
                            "bad character in the method (letters, digits, '_', '-'; or '*' alone)");
    for (unsigned i = 0; i < d->n_requests; i++)
        if (word_is(m, mn, d->requests[i].method))
            return derr(p, line, mcol, "request %.*s given twice (first at line %u)", (int)mn, m,
                        d->requests[i].line);
    if (d->n_requests >= DIALECT_MAX_REQUESTS)
        return derr(p, line, 1, "more than %d requests", DIALECT_MAX_REQUESTS);
    struct dialect_template *t = &d->requests[d->n_requests++];
    memcpy(t->method, m, mn);
    t->method[mn] = '\0';
    t->line = line;
    return 0;
}

/* Check a template line's placeholders; col is the column of text[0]. */
static int check_template(struct dparser *p, const char *text, size_t n, unsigned line, unsigned col,
                          unsigned *uses)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 && c != '\t')
            return derr(p, line, col + (unsigned)i,
                        "control character 0x%02x in a line (line ends come from @line-end)", c);
        if (c != '{')
            continue;
        if (i + 1 < n && text[i + 1] == '{') {
            i++;
            continue;
        }
        size_t k = i + 1;
        while (k < n && text[k] != '}' && text[k] != '{')
            k++;
        if (k >= n || text[k] != '}')
            return derr(p, line, col + (unsigned)i, "unterminated '{' (write {{ for a literal brace)");
        int f = field_of(text + i + 1, k - i - 1);
        if (f < 0)
            return derr(p, line, col + (unsigned)i,
                        "unknown placeholder {%.*s} ({method} {media} {url} {cseq} {session} {rtp_port} "
                        "{rtcp_port} {host} {port})",
                        (int)(k - i - 1), text + i + 1);
        *uses |= 1u << f;
        i = k;
    }
    return 0;
}

/* An indented line: a template line of the open request, bare (trailing
 * blanks dropped) or in double quotes (kept as written, for leading and
 * trailing spaces). */
static int parse_template_line(struct dparser *p, const char *s, size_t n, size_t at, unsigned line)
{
    struct dialect *d = p->d;
    if (d->n_requests == 0)
        return derr(p, line, (unsigned)at + 1,
                    "an indented line outside a request (indent only the lines of a `request` block)");
    struct dialect_template *t = &d->requests[d->n_requests - 1];
    size_t e = n;
    while (e > at && is_space(s[e - 1]))
        e--;
    size_t from = at, to = e;
    if (s[at] == '"') {
        if (e - at < 2 || s[e - 1] != '"')
            return derr(p, line, (unsigned)at + 1, "unterminated quote (a quoted line ends with '\"')");
        from = at + 1;
        to = e - 1;
    }
    if (to == from)
        return derr(p, line, (unsigned)at + 1,
                    "an empty line (the blank line after a request is @blank-line)");
    if (t->n_lines >= DIALECT_MAX_LINES)
        return derr(p, line, (unsigned)at + 1, "more than %d lines in request %s", DIALECT_MAX_LINES,
                    t->method);
    if (check_template(p, s + from, to - from, line, (unsigned)from + 1, &t->uses) < 0)
        return -1;
    char *copy = malloc(to - from + 1);
    if (!copy)
        return derr(p, line, 1, "out of memory");
    memcpy(copy, s + from, to - from);
    copy[to - from] = '\0';
    t->lines[t->n_lines++] = copy;
    return 0;
}

/* The default name: the file's base name without ".dialect". */
static void default_name(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 8 && strcmp(b + n - 8, ".dialect") == 0)
        n -= 8;
    snprintf(out, cap, "%.*s", (int)n, b);
}

void dialect_free(struct dialect *d)
{
    if (!d)
        return;
    for (unsigned i = 0; i < d->n_requests; i++)
        for (unsigned k = 0; k < d->requests[i].n_lines; k++)
            free(d->requests[i].lines[k]);
    free(d);
}

int dialect_parse_buffer(const char *name, const char *buf, size_t len, struct dialect **out, char *err,
                         size_t cap)
{
    *out = NULL;
    if (cap)
        err[0] = '\0';
    struct dparser p = {.name = name, .err = err, .cap = cap};
    if (len > DIALECT_MAX_FILE_BYTES)
        return derr(&p, 1, 1, "larger than %d bytes", DIALECT_MAX_FILE_BYTES);
    struct dialect *d = calloc(1, sizeof *d);
    if (!d)
        return derr(&p, 1, 1, "out of memory");
    p.d = d;
    snprintf(d->path, sizeof d->path, "%s", name);
    default_name(name, d->name, sizeof d->name);
    unsigned line = 0;
    int rc = -1;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && buf[e] != '\n')
            e++;
        const char *s = buf + i;
        size_t n = e - i;
        line++;
        i = e + 1;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        const char *bad = memchr(s, '\0', n);
        if (bad) {
            derr(&p, line, (unsigned)(bad - s) + 1, "NUL byte in the dialect");
            goto out;
        }
        bad = memchr(s, '\r', n);
        if (bad) {
            derr(&p, line, (unsigned)(bad - s) + 1, "carriage return inside a line");
            goto out;
        }
        if (n > DIALECT_MAX_LINE) {
            derr(&p, line, DIALECT_MAX_LINE + 1, "line longer than %d bytes", DIALECT_MAX_LINE);
            goto out;
        }
        size_t at = 0;
        while (at < n && is_space(s[at]))
            at++;
        if (at == n || s[at] == '#')
            continue;
        int r;
        if (at > 0)
            r = parse_template_line(&p, s, n, at, line);
        else if (s[0] == '@')
            r = parse_directive(&p, s, n, line);
        else if (n >= 7 && memcmp(s, "request", 7) == 0 && (n == 7 || is_space(s[7])))
            r = parse_request(&p, s, n, line);
        else
            r = derr(&p, line, 1, "unexpected line (@directives, `request METHOD`, then its lines indented)");
        if (r < 0)
            goto out;
    }
    for (unsigned k = 0; k < d->n_requests; k++)
        if (d->requests[k].n_lines == 0) {
            derr(&p, d->requests[k].line, 1, "request %s has no lines", d->requests[k].method);
            goto out;
        }
    if (d->n_requests == 0) {
        derr(&p, line ? line : 1, 1, "the dialect has no requests (`request METHOD` and its lines)");
        goto out;
    }
    if (d->blank_line && !d->last_line_end) {
        derr(&p, p.blank_line, p.blank_col, "@blank-line yes needs @last-line-end yes");
        goto out;
    }
    *out = d;
    rc = 0;
out:
    if (rc < 0)
        dialect_free(d);
    return rc;
}

/* ---------- finding a dialect ---------- */

static int parse_file(const char *path, struct dialect **out, char *err, size_t cap)
{
    char *buf;
    size_t n;
    if (wire_read_file(path, DIALECT_MAX_FILE_BYTES, &buf, &n, err, cap) != 0)
        return -1;
    int rc = dialect_parse_buffer(path, buf, n, out, err, cap);
    free(buf);
    return rc;
}

int dialect_lab(struct dialect **out, char *err, size_t cap)
{
    return dialect_parse_buffer("<built-in>", lab_text, sizeof lab_text - 1, out, err, cap);
}

int dialect_load(const char *name_or_path, const char *scenario_dir, struct dialect **out, char *err,
                 size_t cap)
{
    *out = NULL;
    const char *dir = scenario_dir && scenario_dir[0] ? scenario_dir : ".";
    size_t n = strlen(name_or_path);
    char path[4096];
    if (strchr(name_or_path, '/') || (n > 8 && strcmp(name_or_path + n - 8, ".dialect") == 0)) {
        int k = name_or_path[0] == '/' ? snprintf(path, sizeof path, "%s", name_or_path)
                                       : snprintf(path, sizeof path, "%s/%s", dir, name_or_path);
        if (k < 0 || (size_t)k >= sizeof path) {
            snprintf(err, cap, "%s: path too long", name_or_path);
            return -1;
        }
        return parse_file(path, out, err, cap);
    }
    if (!valid_name(name_or_path, n)) {
        snprintf(err, cap, "'%s' is not a dialect name (letters, digits, '_', '-', '.') nor a .dialect file",
                 name_or_path);
        return -1;
    }
    char second[4096];
    int k1 = snprintf(path, sizeof path, "%s/dialects/%s.dialect", dir, name_or_path);
    int k2 = snprintf(second, sizeof second, "%s/../dialects/%s.dialect", dir, name_or_path);
    if (k1 < 0 || (size_t)k1 >= sizeof path || k2 < 0 || (size_t)k2 >= sizeof second) {
        snprintf(err, cap, "%s: path too long", dir);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) == 0)
        return parse_file(path, out, err, cap);
    if (stat(second, &st) == 0)
        return parse_file(second, out, err, cap);
    if (strcmp(name_or_path, "lab") == 0)
        return dialect_lab(out, err, cap);
    snprintf(err, cap, "no dialect '%s' (looked for %s and %s)", name_or_path, path, second);
    return -1;
}

/* ---------- rendering ---------- */

const struct dialect_template *dialect_template_for(const struct dialect *d, const char *method)
{
    const struct dialect_template *any = NULL;
    for (unsigned i = 0; i < d->n_requests; i++) {
        if (strcmp(d->requests[i].method, method) == 0)
            return &d->requests[i];
        if (strcmp(d->requests[i].method, "*") == 0)
            any = &d->requests[i];
    }
    return any;
}

/* Render one template line; *dropped when it has placeholders and none has a value. */
static int render_line(const char *text, const struct dialect_request *rq, struct scenario_buf *out,
                       bool *dropped)
{
    unsigned placeholders = 0, known = 0;
    for (size_t i = 0; text[i];) {
        if (text[i] != '{') {
            size_t k = i;
            while (text[k] && text[k] != '{')
                k++;
            if (scenario_buf_add(out, text + i, k - i) < 0)
                return -1;
            i = k;
            continue;
        }
        if (text[i + 1] == '{') {
            if (scenario_buf_add(out, "{", 1) < 0)
                return -1;
            i += 2;
            continue;
        }
        /* checked by the parser: a known name and its closing brace */
        const char *close = strchr(text + i, '}');
        int f = field_of(text + i + 1, (size_t)(close - text - i - 1));
        placeholders++;
        const char *v = rq->values[f];
        if (v && v[0]) {
            known++;
            if (scenario_buf_add(out, v, strlen(v)) < 0)
                return -1;
        }
        i = (size_t)(close - text) + 1;
    }
    *dropped = placeholders > 0 && known == 0;
    return 0;
}

static int add_eol(const struct dialect *d, struct scenario_buf *b)
{
    return scenario_buf_add(b, d->crlf ? "\r\n" : "\n", d->crlf ? 2 : 1);
}

long dialect_render(const struct dialect *d, const char *method, const struct dialect_request *rq,
                    struct scenario_buf *out, char *err, size_t cap)
{
    const struct dialect_template *t = dialect_template_for(d, method);
    if (!t) {
        snprintf(err, cap, "dialect %s has no request %s (and no `request *`)", d->name, method);
        return -1;
    }
    struct scenario_buf b = {0};
    unsigned lines = 0;
    for (unsigned i = 0; i < t->n_lines + rq->n_extra; i++) {
        size_t before = b.len;
        if (lines && add_eol(d, &b) < 0)
            goto oom;
        bool dropped = false;
        if (i < t->n_lines) {
            if (render_line(t->lines[i], rq, &b, &dropped) < 0)
                goto oom;
        } else if (scenario_buf_add(&b, rq->extra[i - t->n_lines], strlen(rq->extra[i - t->n_lines])) < 0) {
            goto oom;
        }
        if (dropped)
            b.len = before;
        else
            lines++;
    }
    if (lines == 0) {
        snprintf(err, cap, "dialect %s renders no line for %s (every placeholder is unknown)", d->name,
                 method);
        free(b.buf);
        return -1;
    }
    bool body = rq->body && rq->body_len;
    if ((d->last_line_end || body) && add_eol(d, &b) < 0)
        goto oom;
    if ((d->blank_line || body) && add_eol(d, &b) < 0)
        goto oom;
    if (body && scenario_buf_add(&b, rq->body, rq->body_len) < 0)
        goto oom;
    if (b.len > DIALECT_MAX_REQUEST_BYTES) {
        snprintf(err, cap,
                 "the %s request is %zu bytes, over %d: lab servers read a request with one recv(256) "
                 "(send oversized requests with >raw)",
                 method, b.len, DIALECT_MAX_REQUEST_BYTES);
        free(b.buf);
        return -1;
    }
    long n = (long)b.len;
    if (scenario_buf_add(out, b.buf, b.len) < 0)
        goto oom;
    free(b.buf);
    return n;
oom:
    snprintf(err, cap, "out of memory");
    free(b.buf);
    return -1;
}
