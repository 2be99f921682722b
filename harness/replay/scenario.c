/* The scenario parser: text to a list of steps (see scenario.h and
 * docs/scenarios.md). One pass over the lines; each line is classified by
 * its first character (`@`, `>`, `<`, `#`) or its first word, message
 * blocks are gathered line by line, and every template, regex and netem
 * text is checked as soon as it is read so that errors point at the line
 * and column where they were written. */
#include "scenario.h"

#include "dialect.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------- arena ---------- */

/* One block of the parser's allocations. */
struct arena_block {
    struct arena_block *next; /* older block */
    size_t used;              /* bytes handed out from data */
    size_t cap;               /* bytes in data */
    max_align_t data[];       /* the memory */
};

struct scenario_arena {
    struct arena_block *head; /* newest block */
};

static void *arena_alloc(struct scenario_arena *a, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (size == 0)
        size = sizeof(max_align_t);
    struct arena_block *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

static char *arena_strndup(struct scenario_arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void arena_free(struct scenario_arena *a)
{
    if (!a)
        return;
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

/* ---------- names ---------- */

static const char *const metric_names[SCENARIO_METRIC_COUNT] = {
    [SCENARIO_METRIC_PACKETS] = "packets", [SCENARIO_METRIC_FRAMES] = "frames",
    [SCENARIO_METRIC_BYTES] = "bytes",     [SCENARIO_METRIC_PT] = "pt",
    [SCENARIO_METRIC_SSRC] = "ssrc",       [SCENARIO_METRIC_LOSS] = "loss",
    [SCENARIO_METRIC_FPS] = "fps",         [SCENARIO_METRIC_BITRATE] = "bitrate",
    [SCENARIO_METRIC_JITTER] = "jitter",   [SCENARIO_METRIC_INTERVAL] = "interval",
    [SCENARIO_METRIC_IDENTICAL] = "identical",
};

const char *scenario_metric_name(enum scenario_metric m)
{
    if ((int)m < 0 || m >= SCENARIO_METRIC_COUNT)
        return "unknown";
    return metric_names[m];
}

const char *scenario_op_name(enum scenario_op op)
{
    switch (op) {
    case SCENARIO_OP_EQ: return "=";
    case SCENARIO_OP_NE: return "!=";
    case SCENARIO_OP_LT: return "<";
    case SCENARIO_OP_LE: return "<=";
    case SCENARIO_OP_GT: return ">";
    case SCENARIO_OP_GE: return ">=";
    case SCENARIO_OP_CONSTANT: return "constant";
    case SCENARIO_OP_BINOMIAL: return "within binomial";
    }
    return "unknown";
}

const char *scenario_step_kind_name(enum scenario_step_kind k)
{
    switch (k) {
    case SCENARIO_STEP_SEND: return "send";
    case SCENARIO_STEP_EXPECT: return "expect";
    case SCENARIO_STEP_EXPECT_CLOSE: return "expect close";
    case SCENARIO_STEP_EXPECT_SILENCE: return "expect silence";
    case SCENARIO_STEP_EXPECT_CPU: return "expect cpu";
    case SCENARIO_STEP_WAIT: return "wait";
    case SCENARIO_STEP_RTP_FOR: return "rtp for";
    case SCENARIO_STEP_RTP_SEND: return "rtp send";
    case SCENARIO_STEP_RTP_STOP: return "rtp stop";
    case SCENARIO_STEP_CONNECT: return "connect";
    case SCENARIO_STEP_ACCEPT: return "accept";
    case SCENARIO_STEP_USE: return "use";
    case SCENARIO_STEP_CLOSE: return "close";
    }
    return "unknown";
}

bool scenario_check_id_valid(const char *id)
{
    size_t n = strlen(id), words = 0, wlen = 0;
    if (n == 0 || n >= SCENARIO_CHECK_MAX)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = id[i];
        if (c == '.' || c == '\0') {
            if (wlen == 0)
                return false;
            words++;
            wlen = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
            wlen++;
        } else {
            return false;
        }
    }
    return words >= 2 && id[0] >= 'a' && id[0] <= 'z';
}

static bool check_in(const char list[][SCENARIO_CHECK_MAX], unsigned n, const char *id)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(list[i], id) == 0)
            return true;
    return false;
}

bool scenario_allows(const struct scenario *sc, const char *id)
{
    return check_in(sc->allow, sc->n_allow, id);
}

bool scenario_requires(const struct scenario *sc, const char *id)
{
    return check_in(sc->require, sc->n_require, id);
}

/* ---------- templates ---------- */

int scenario_buf_add(struct scenario_buf *b, const void *data, size_t len)
{
    size_t limit = b->limit ? b->limit : SCENARIO_MAX_EXPANSION;
    if (len > limit || b->len > limit - len)
        return -1;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p)
            return -1;
        b->buf = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->buf + b->len, data, len);
    b->len += len;
    b->buf[b->len] = '\0';
    return 0;
}

/* Append text, escaped for a regex when asked. out NULL: count only. */
static int emit(struct scenario_buf *out, enum scenario_tpl_mode mode, const char *s, size_t n, size_t *total)
{
    size_t limit = out && out->limit ? out->limit : SCENARIO_MAX_EXPANSION;
    if (mode != SCENARIO_TPL_REGEX) {
        if (n > limit || *total > limit - n)
            return -1;
        *total += n;
        return out ? scenario_buf_add(out, s, n) : 0;
    }
    for (size_t i = 0; i < n; i++) {
        char esc[2] = {'\\', s[i]};
        bool special = strchr("\\.[]{}()*+?^$|", s[i]) != NULL && s[i] != '\0';
        size_t k = special ? 2 : 1;
        if (*total > limit - k)
            return -1;
        *total += k;
        if (out && scenario_buf_add(out, special ? esc : esc + 1, k) < 0)
            return -1;
    }
    return 0;
}

static bool name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int tpl_fail(size_t *err_offset, const char **err_reason, size_t off, const char *why)
{
    if (err_offset)
        *err_offset = off;
    if (err_reason)
        *err_reason = why;
    return -1;
}

int scenario_expand(const char *tpl, size_t len, enum scenario_tpl_mode mode, scenario_lookup_fn lookup,
                    void *ctx, struct scenario_buf *out, size_t *err_offset, const char **err_reason,
                    char *bad_name, size_t bad_cap)
{
    size_t total = 0, i = 0;
    if (bad_name && bad_cap)
        bad_name[0] = '\0';
    while (i < len) {
        char c = tpl[i];
        if (c == '{' && i + 1 < len && tpl[i + 1] == '{') {
            if (emit(out, mode, "{", 1, &total) < 0)
                return tpl_fail(err_offset, err_reason, i, "expansion too large");
            i += 2;
            continue;
        }
        if (c == '{' && i + 1 < len && name_start(tpl[i + 1])) {
            size_t j = i + 1;
            while (j < len && tpl[j] != '}')
                j++;
            if (j >= len)
                return tpl_fail(err_offset, err_reason, i, "unterminated '{' (write {{ for a literal brace)");
            const char *inner = tpl + i + 1;
            size_t n = j - i - 1;
            size_t k = 0;
            while (k < n && name_char(inner[k]))
                k++;
            if (bad_name && bad_cap)
                snprintf(bad_name, bad_cap, "%.*s", (int)(n < 64 ? n : 64), inner);
            if (k == 6 && memcmp(inner, "repeat", 6) == 0 && k < n && inner[k] == ':') {
                /* {repeat:X:N}: X is everything up to the last ':' */
                size_t colon = n;
                while (colon > k + 1 && inner[colon - 1] != ':')
                    colon--;
                if (colon <= k + 1)
                    return tpl_fail(err_offset, err_reason, i,
                                    "{repeat:X:N} needs a count after the last ':'");
                struct wire_str num = {inner + colon, n - colon};
                uint64_t count;
                const char *x = inner + k + 1;
                size_t xlen = colon - 1 - (k + 1);
                if (!wire_parse_u64(num, SCENARIO_MAX_REPEAT, &count))
                    return tpl_fail(err_offset, err_reason, i + 1 + colon,
                                    "{repeat:X:N}: N is not a number up to 1048576");
                if (xlen == 0)
                    return tpl_fail(err_offset, err_reason, i + 1 + k + 1, "{repeat:X:N}: X is empty");
                if (xlen * count > SCENARIO_MAX_REPEAT)
                    return tpl_fail(err_offset, err_reason, i, "{repeat:X:N}: more than 1048576 bytes");
                for (uint64_t r = 0; r < count; r++)
                    if (emit(out, mode, x, xlen, &total) < 0)
                        return tpl_fail(err_offset, err_reason, i, "expansion too large");
                i = j + 1;
                continue;
            }
            if (k < n && inner[k] != ':')
                return tpl_fail(err_offset, err_reason, i + 1 + k, "bad character in a variable name");
            const char *value = NULL;
            size_t vlen = 0;
            int rc = lookup ? lookup(ctx, inner, n, &value, &vlen) : -1;
            if (rc < 0)
                return tpl_fail(err_offset, err_reason, i, "unknown variable");
            if (rc > 0)
                return tpl_fail(err_offset, err_reason, i, "variable not set");
            if (emit(out, mode, value, vlen, &total) < 0)
                return tpl_fail(err_offset, err_reason, i, "expansion too large");
            i = j + 1;
            continue;
        }
        if (mode == SCENARIO_TPL_CSTRING && c == '\\') {
            if (i + 1 >= len)
                return tpl_fail(err_offset, err_reason, i, "a '\\' ends the string");
            char e = tpl[i + 1], b;
            size_t used = 2;
            switch (e) {
            case 'n': b = '\n'; break;
            case 'r': b = '\r'; break;
            case 't': b = '\t'; break;
            case '0': b = '\0'; break;
            case '\\': b = '\\'; break;
            case '"': b = '"'; break;
            case 'x': {
                int h = i + 2 < len ? hexval(tpl[i + 2]) : -1;
                int l = i + 3 < len ? hexval(tpl[i + 3]) : -1;
                if (h < 0 || l < 0)
                    return tpl_fail(err_offset, err_reason, i, "\\x needs two hex digits");
                b = (char)(h * 16 + l);
                used = 4;
                break;
            }
            default:
                return tpl_fail(err_offset, err_reason, i,
                                "unknown escape (use \\r \\n \\t \\0 \\\\ \\\" \\xNN)");
            }
            if (emit(out, SCENARIO_TPL_TEXT, &b, 1, &total) < 0)
                return tpl_fail(err_offset, err_reason, i, "expansion too large");
            i += used;
            continue;
        }
        /* Literal template text goes in as written, in a regex too. */
        if (emit(out, SCENARIO_TPL_TEXT, &c, 1, &total) < 0)
            return tpl_fail(err_offset, err_reason, i, "expansion too large");
        i++;
    }
    if (out && out->buf == NULL && scenario_buf_add(out, "", 0) < 0)
        return tpl_fail(err_offset, err_reason, 0, "out of memory");
    return 0;
}

/* ---------- parser state ---------- */

/* Modifiers from a `with` line, waiting for their step. */
struct modifiers {
    bool given;                    /* a `with` line is pending */
    unsigned line;                 /* its line, for "with leads nowhere" */
    bool optional;                 /* `optional` */
    int64_t timeout_ms;            /* `timeout D`; 0 none */
    enum scenario_on_fail on_fail; /* `on-fail ...` */
};

struct parser {
    const char *name;                                  /* file name for messages */
    char *err;                                         /* caller's error buffer */
    size_t cap;                                        /* its size */
    struct scenario *sc;                               /* being filled */
    size_t steps_cap;                                  /* allocated entries of sc->steps */
    size_t events_cap;                                 /* allocated entries of sc->events */
    bool seen_step;                                    /* a step was parsed: directives are over */
    bool role_given;                                   /* @role seen */
    bool profile_given;                                /* @profile seen */
    bool dialect_given;                                /* @dialect seen */
    bool transport_given;                              /* @transport seen */
    bool timeout_given;                                /* @timeout seen */
    bool on_fail_given;                                /* @on-fail seen */
    bool name_given;                                   /* @name seen */
    bool impair_set[2];                                /* a direction was set by an @impair line */
    bool impair_both[2];                               /* ... and that line named both directions */
    char vars[256][SCENARIO_NAME_MAX];                 /* variables captured so far */
    unsigned n_vars;                                   /* entries in vars */
    char conns[SCENARIO_MAX_CONNS][SCENARIO_NAME_MAX]; /* connection names declared */
    unsigned n_conns;                                  /* entries in conns */
    struct modifiers mods;                             /* pending `with` */
    struct modifiers carry;             /* modifiers of the last message block, for its answer */
    int carry_exchange;                 /* exchange of the last message block; -1 none */
    enum scenario_step_kind carry_kind; /* kind of that block */
    bool split_pending;                 /* `>split` waits for its send */
    unsigned split_line;                /* its line */
    size_t split_bytes;                 /* its segment size */
    int64_t split_gap_ms;               /* its gap */
    unsigned pipeline_left;             /* sends still to join the open `>pipeline` group */
    unsigned pipeline_line;             /* its line */
    unsigned pipeline_step;             /* index of the group's first step */
};

/* Names whose values the harness decides; a capture may not replace them. */
static const char *const fixed_vars[] = {"url", "host", "port", "media", "seed", "cseq", "nonce", NULL};
/* Names of functions ({repeat:X:N}, {basic:U:P}); not variables. */
static const char *const function_names[] = {"repeat", "basic", "digest", NULL};
/* Names learned from the peer; a capture replaces the learned value. */
static const char *const learned_vars[] = {"rtp_port", "rtcp_port", "server_rtp_port", "server_rtcp_port",
                                           "session",  "control",   "track_url",       NULL};

static bool in_list(const char *const *list, const char *s, size_t n)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0)
            return true;
    return false;
}

static int perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
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

static int oom(struct parser *p, unsigned line)
{
    return perr(p, line, 1, "out of memory");
}

/* Parse-time variable lookup: built-ins and earlier captures exist. */
static int parse_lookup(void *ctx, const char *name, size_t n, const char **value, size_t *vlen)
{
    struct parser *p = ctx;
    size_t k = 0;
    while (k < n && name[k] != ':')
        k++;
    *value = "x";
    *vlen = 1;
    if (k < n) {
        /* functions: {basic:user:password}, {digest:user:password} */
        if ((k == 5 && memcmp(name, "basic", 5) == 0) || (k == 6 && memcmp(name, "digest", 6) == 0)) {
            const char *args = name + k + 1;
            size_t an = n - k - 1;
            if (memchr(args, ':', an) == NULL)
                return -1;
            return 0;
        }
        return -1;
    }
    if (in_list(fixed_vars, name, n) || in_list(learned_vars, name, n))
        return 0;
    for (unsigned i = 0; i < p->n_vars; i++)
        if (strlen(p->vars[i]) == n && memcmp(p->vars[i], name, n) == 0)
            return 0;
    return -1;
}

/* Check a template at line:col; the error names the variable. */
static int check_tpl(struct parser *p, const char *tpl, enum scenario_tpl_mode mode, unsigned line,
                     unsigned col)
{
    size_t off = 0;
    const char *why = NULL;
    char bad[80];
    if (scenario_expand(tpl, strlen(tpl), mode, parse_lookup, p, NULL, &off, &why, bad, sizeof bad) == 0)
        return 0;
    if (strcmp(why, "unknown variable") == 0) {
        const char *colon = strchr(bad, ':');
        if (colon && (strncmp(bad, "basic:", 6) == 0 || strncmp(bad, "digest:", 7) == 0))
            return perr(p, line, col + (unsigned)off, "{%s} needs USER:PASSWORD", bad);
        if (colon)
            return perr(p, line, col + (unsigned)off, "unknown function {%.*s:...}", (int)(colon - bad), bad);
        return perr(p, line, col + (unsigned)off,
                    "unknown variable {%s} (not built in and not captured earlier)", bad);
    }
    return perr(p, line, col + (unsigned)off, "%s", why);
}

/* Reject what makes glibc's regcomp slow or huge: long patterns, and what
 * wire_regex_budget refuses. */
static const char *regex_budget(const char *re)
{
    size_t n = strlen(re);
    if (n > SCENARIO_MAX_REGEX)
        return "regex longer than 512 bytes";
    return wire_regex_budget(re, n);
}

/* Check a regex template: variables, size, syntax, and at least ncap
 * groups when it captures more than one value. */
static int check_regex(struct parser *p, const char *tpl, unsigned line, unsigned col, unsigned ncap)
{
    if (check_tpl(p, tpl, SCENARIO_TPL_REGEX, line, col) < 0)
        return -1;
    struct scenario_buf b = {.limit = SCENARIO_MAX_REGEX + 1};
    size_t off;
    const char *why;
    if (scenario_expand(tpl, strlen(tpl), SCENARIO_TPL_REGEX, parse_lookup, p, &b, &off, &why, NULL, 0) < 0) {
        free(b.buf);
        return perr(p, line, col, "regex longer than %u bytes", SCENARIO_MAX_REGEX);
    }
    const char *budget = regex_budget(b.buf);
    if (budget) {
        free(b.buf);
        return perr(p, line, col, "%s", budget);
    }
    regex_t re;
    int rc = regcomp(&re, b.buf, REG_EXTENDED);
    free(b.buf);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &re, msg, sizeof msg);
        return perr(p, line, col, "bad regex: %s", msg);
    }
    size_t groups = re.re_nsub;
    regfree(&re);
    if (ncap > 1 && groups < ncap)
        return perr(p, line, col, "%u captures but the regex has %zu group%s", ncap, groups,
                    groups == 1 ? "" : "s");
    if (ncap == 1 && groups > 1)
        return perr(p, line, col,
                    "1 capture but the regex has %zu groups (capture each, or use (?:) free groups)", groups);
    return 0;
}

/* ---------- small scanners ---------- */

/* A line of the file: text without its end, line number. */
struct line {
    const char *s; /* first byte */
    size_t n;      /* bytes, line end excluded */
    unsigned no;   /* 1-based line number */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
    while (i < n && is_space(s[i]))
        i++;
    return i;
}

/* Length without a trailing ` # comment` and trailing spaces. */
static size_t strip_comment(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '#' && (i == 0 || is_space(s[i - 1]))) {
            n = i;
            break;
        }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    return n;
}

static bool word_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(s, w, n) == 0;
}

static size_t word_end(const char *s, size_t n, size_t i)
{
    while (i < n && !is_space(s[i]))
        i++;
    return i;
}

static bool token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Parse a duration "500ms", "2s", "1.5s", "250us" (whole milliseconds). */
static int parse_duration(struct parser *p, const char *s, size_t n, unsigned line, unsigned col,
                          int64_t *out_ms)
{
    size_t i = 0;
    double v = 0, scale = 1;
    bool digits = false, dot = false;
    while (i < n && (isdigit((unsigned char)s[i]) || (s[i] == '.' && !dot))) {
        if (s[i] == '.') {
            dot = true;
        } else {
            digits = true;
            if (dot) {
                scale /= 10;
                v += (s[i] - '0') * scale;
            } else {
                v = v * 10 + (s[i] - '0');
            }
        }
        i++;
        if (v > 1e9)
            return perr(p, line, col, "duration '%.*s' is too long", (int)n, s);
    }
    if (!digits)
        return perr(p, line, col, "expected a duration such as 500ms or 2s, got '%.*s'", (int)n, s);
    const char *u = s + i;
    size_t un = n - i;
    double ms;
    if (word_is(u, un, "ms"))
        ms = v;
    else if (word_is(u, un, "s"))
        ms = v * 1000;
    else if (word_is(u, un, "us"))
        ms = v / 1000;
    else if (un == 0)
        return perr(p, line, col, "duration '%.*s' needs a unit (ms or s)", (int)n, s);
    else
        return perr(p, line, col + (unsigned)i, "unknown time unit '%.*s' (use us, ms or s)", (int)un, u);
    if (ms > 86400000.0)
        return perr(p, line, col, "duration '%.*s' is longer than a day", (int)n, s);
    double r = floor(ms + 0.5);
    if (fabs(ms - r) > 1e-6)
        return perr(p, line, col, "duration '%.*s' is not a whole number of milliseconds", (int)n, s);
    *out_ms = (int64_t)r;
    return 0;
}

/* ---------- steps ---------- */

static struct scenario_step *new_step(struct parser *p, enum scenario_step_kind kind, unsigned line,
                                      unsigned col)
{
    struct scenario *sc = p->sc;
    if (sc->n_steps >= SCENARIO_MAX_STEPS) {
        perr(p, line, col, "more than %u steps", SCENARIO_MAX_STEPS);
        return NULL;
    }
    if (sc->n_steps == p->steps_cap) {
        size_t cap = p->steps_cap ? p->steps_cap * 2 : 32;
        struct scenario_step *s = realloc(sc->steps, cap * sizeof *s);
        if (!s) {
            oom(p, line);
            return NULL;
        }
        sc->steps = s;
        p->steps_cap = cap;
    }
    struct scenario_step *st = &sc->steps[sc->n_steps++];
    memset(st, 0, sizeof *st);
    st->kind = kind;
    st->line = line;
    st->column = col;
    st->exchange = -1;
    p->seen_step = true;

    bool message = kind == SCENARIO_STEP_SEND || kind == SCENARIO_STEP_EXPECT;
    /* The answer of an exchange: server role `<` right after `>`, client role `>` right after `<`. */
    bool answer = message && p->carry_exchange >= 0 &&
                  ((sc->role == SCENARIO_ROLE_SERVER && p->carry_kind == SCENARIO_STEP_SEND &&
                    kind == SCENARIO_STEP_EXPECT) ||
                   (sc->role == SCENARIO_ROLE_CLIENT && p->carry_kind == SCENARIO_STEP_EXPECT &&
                    kind == SCENARIO_STEP_SEND));
    struct modifiers m = p->mods;
    if (!m.given && answer)
        m = p->carry;
    st->optional = m.optional;
    st->timeout_ms = m.timeout_ms;
    st->on_fail = m.on_fail;
    if (message) {
        st->exchange = answer ? p->carry_exchange : (int)sc->n_exchanges++;
        if (answer) {
            p->carry_exchange = -1;
        } else {
            p->carry_exchange = st->exchange;
            p->carry_kind = kind;
            p->carry = m;
        }
    } else {
        p->carry_exchange = -1;
    }
    memset(&p->mods, 0, sizeof p->mods);

    if (message && p->n_conns == 0)
        snprintf(p->conns[p->n_conns++], SCENARIO_NAME_MAX, "main"); /* the implicit connection */
    if (kind == SCENARIO_STEP_SEND) {
        if (p->pipeline_left)
            p->carry_exchange = -1; /* pipelined requests are answered later, in order */
        if (p->split_pending) {
            st->send.split_bytes = p->split_bytes;
            st->send.split_gap_ms = p->split_gap_ms;
            p->split_pending = false;
        }
        if (p->pipeline_left) {
            unsigned first = p->pipeline_step;
            if (sc->n_steps - 1 == first)
                st->send.pipeline_count = 0; /* set when the group is complete */
            else
                st->send.pipelined = true;
            if (--p->pipeline_left == 0)
                sc->steps[first].send.pipeline_count = sc->n_steps - first;
        }
    } else {
        if (p->split_pending) {
            perr(p, p->split_line, 1, ">split must be followed by something to send");
            return NULL;
        }
        if (p->pipeline_left) {
            perr(p, p->pipeline_line, 1,
                 ">pipeline: %u more message%s to send expected before this %s at line %u", p->pipeline_left,
                 p->pipeline_left == 1 ? "" : "s", scenario_step_kind_name(kind), line);
            return NULL;
        }
    }
    return st;
}

static bool conn_known(struct parser *p, const char *name, size_t n)
{
    for (unsigned i = 0; i < p->n_conns; i++)
        if (strlen(p->conns[i]) == n && memcmp(p->conns[i], name, n) == 0)
            return true;
    return false;
}

static int declare_conn(struct parser *p, const char *name, size_t n, unsigned line, unsigned col)
{
    if (conn_known(p, name, n))
        return 0;
    if (p->n_conns >= SCENARIO_MAX_CONNS)
        return perr(p, line, col, "more than %u connections", SCENARIO_MAX_CONNS);
    snprintf(p->conns[p->n_conns++], SCENARIO_NAME_MAX, "%.*s", (int)n, name);
    return 0;
}

static int check_name(struct parser *p, const char *s, size_t n, unsigned line, unsigned col,
                      const char *what)
{
    if (n == 0 || n >= SCENARIO_NAME_MAX || !name_start(s[0]))
        return perr(p, line, col,
                    "bad %s name '%.*s' (a letter or '_', then letters, digits, '_'; up to %d bytes)", what,
                    (int)n, s, SCENARIO_NAME_MAX - 1);
    for (size_t i = 1; i < n; i++)
        if (!name_char(s[i]) && s[i] != '-')
            return perr(p, line, col + (unsigned)i, "bad character '%c' in %s name '%.*s'", s[i], what,
                        (int)n, s);
    return 0;
}

/* Record a capture target `$name`; checks the name and remembers it. */
static int add_capture(struct parser *p, struct scenario_matcher *m, const char *s, size_t n, unsigned line,
                       unsigned col)
{
    if (n < 2 || s[0] != '$')
        return perr(p, line, col, "expected a capture such as $name, got '%.*s'", (int)n, s);
    s++;
    n--;
    col++;
    if (check_name(p, s, n, line, col, "variable") < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '-')
            return perr(p, line, col + (unsigned)i, "bad character '-' in variable name '%.*s'", (int)n, s);
    if (in_list(fixed_vars, s, n) || in_list(function_names, s, n))
        return perr(p, line, col - 1, "{%.*s} is built in and cannot be captured", (int)n, s);
    if (m->n_captures >= SCENARIO_MAX_CAPTURES)
        return perr(p, line, col, "more than %d captures", SCENARIO_MAX_CAPTURES);
    snprintf(m->captures[m->n_captures++], SCENARIO_NAME_MAX, "%.*s", (int)n, s);
    bool known = in_list(learned_vars, s, n);
    for (unsigned i = 0; i < p->n_vars && !known; i++)
        if (strlen(p->vars[i]) == n && memcmp(p->vars[i], s, n) == 0)
            known = true;
    if (!known) {
        if (p->n_vars >= sizeof p->vars / sizeof p->vars[0])
            return perr(p, line, col, "more than %zu variables", sizeof p->vars / sizeof p->vars[0]);
        snprintf(p->vars[p->n_vars++], SCENARIO_NAME_MAX, "%.*s", (int)n, s);
    }
    return 0;
}

/* ---------- message blocks ---------- */

/* The content of a `>`/`<` line: after the marker and one space. */
static void line_content(const struct line *l, size_t marker, const char **s, size_t *n, unsigned *col)
{
    size_t i = marker + 1;
    if (i < l->n && is_space(l->s[i]))
        i++;
    *s = l->s + i;
    *n = l->n - i;
    *col = (unsigned)i + 1;
}

/* Marker position of a message line of kind mk ('>' or '<'), or -1. */
static long message_marker(const struct line *l, char mk)
{
    size_t i = skip_space(l->s, l->n, 0);
    if (i < l->n && l->s[i] == mk && (i + 1 == l->n || is_space(l->s[i + 1])))
        return (long)i;
    return -1;
}

static int parse_request_line(struct parser *p, const char *s, size_t n, unsigned line, unsigned col)
{
    size_t a = word_end(s, n, 0);
    for (size_t i = 0; i < a; i++)
        if (!token_char(s[i]) && s[i] != '{' && s[i] != '}')
            return perr(p, line, col + (unsigned)i, "bad character '%c' in the method", s[i]);
    size_t b0 = skip_space(s, n, a);
    size_t b = word_end(s, n, b0);
    size_t c0 = skip_space(s, n, b);
    size_t c = word_end(s, n, c0);
    if (a == 0 || b0 >= n)
        return perr(p, line, col,
                    "expected a request line 'METHOD URI RTSP/1.0' (use >raw for malformed ones)");
    if (c0 < n && !(c - c0 >= 5 && memcmp(s + c0, "RTSP/", 5) == 0))
        return perr(p, line, col + (unsigned)c0, "expected RTSP/1.0 after the URI, got '%.*s'", (int)(c - c0),
                    s + c0);
    if (c0 >= n)
        return perr(p, line, col + (unsigned)b, "the request line needs a version (RTSP/1.0)");
    if (skip_space(s, n, c) < n)
        return perr(p, line, col + (unsigned)skip_space(s, n, c),
                    "unexpected text after the version (use >raw for malformed request lines)");
    return 0;
}

static int parse_status_line(struct parser *p, const char *s, size_t n, unsigned line, unsigned col)
{
    size_t a = word_end(s, n, 0);
    if (!(a >= 5 && memcmp(s, "RTSP/", 5) == 0))
        return perr(p, line, col,
                    "expected a status line 'RTSP/1.0 200 OK' (this is a client-role scenario)");
    size_t b0 = skip_space(s, n, a);
    size_t b = word_end(s, n, b0);
    if (b - b0 != 3 || !isdigit((unsigned char)s[b0]) || s[b0] == '0' || !isdigit((unsigned char)s[b0 + 1]) ||
        !isdigit((unsigned char)s[b0 + 2]))
        return perr(p, line, col + (unsigned)b0, "expected a 3-digit status code, got '%.*s'", (int)(b - b0),
                    s + b0);
    return 0;
}

/* A `>` block starting at lines[0]. Returns the number of lines used or -1. */
static long parse_send_block(struct parser *p, const struct line *lines, size_t nlines)
{
    struct scenario *sc = p->sc;
    const struct line *l0 = &lines[0];
    long mk = message_marker(l0, '>');
    const char *s;
    size_t n;
    unsigned col;
    line_content(l0, (size_t)mk, &s, &n, &col);
    if (n == 0)
        return perr(p, l0->no, (unsigned)mk + 1, "a message starts with its first line, not a blank '>'");
    struct scenario_step *st = new_step(p, SCENARIO_STEP_SEND, l0->no, (unsigned)mk + 1);
    if (!st)
        return -1;
    struct scenario_send *snd = &st->send;
    snd->form = SCENARIO_SEND_MESSAGE;
    int rc = sc->role == SCENARIO_ROLE_SERVER ? parse_request_line(p, s, n, l0->no, col)
                                              : parse_status_line(p, s, n, l0->no, col);
    if (rc < 0)
        return -1;
    snd->start_line = arena_strndup(sc->arena, s, n);
    snd->start_column = col;
    if (!snd->start_line)
        return oom(p, l0->no);
    if (check_tpl(p, snd->start_line, SCENARIO_TPL_TEXT, l0->no, col) < 0)
        return -1;

    struct scenario_header hdrs[SCENARIO_MAX_HEADERS];
    unsigned nh = 0;
    struct scenario_buf body = {0};
    size_t used = 1;
    bool in_body = false;
    for (; used < nlines; used++) {
        const struct line *l = &lines[used];
        long m = message_marker(l, '>');
        if (m < 0)
            break;
        line_content(l, (size_t)m, &s, &n, &col);
        if (in_body) {
            char *t = arena_strndup(sc->arena, s, n);
            if (!t || check_tpl(p, t, SCENARIO_TPL_TEXT, l->no, col) < 0) {
                free(body.buf);
                return t ? -1 : oom(p, l->no);
            }
            if (scenario_buf_add(&body, s, n) < 0 || scenario_buf_add(&body, "\n", 1) < 0) {
                free(body.buf);
                return perr(p, l->no, col, "message body too large");
            }
            continue;
        }
        if (n == 0) {
            in_body = true;
            snd->has_body = true;
            snd->body_line = l->no + 1;
            continue;
        }
        {
            size_t lead = skip_space(s, n, 0);
            s += lead;
            n -= lead;
            col += (unsigned)lead;
            if (n == 0)
                return perr(p, l->no, col,
                            "a line of spaces among the headers (a blank '>' starts the body)");
        }
        if (nh >= SCENARIO_MAX_HEADERS) {
            free(body.buf);
            return perr(p, l->no, col, "more than %d header lines", SCENARIO_MAX_HEADERS);
        }
        struct scenario_header *h = &hdrs[nh];
        memset(h, 0, sizeof *h);
        h->line = l->no;
        h->column = col;
        if (s[0] == '!') {
            size_t e = 1;
            while (e < n && token_char(s[e]))
                e++;
            if (e == 1 || skip_space(s, n, e) != n) {
                free(body.buf);
                return perr(p, l->no, col, "expected '!Name' (a header to leave out)");
            }
            h->name = arena_strndup(sc->arena, s + 1, e - 1);
        } else {
            size_t e = 0;
            while (e < n && token_char(s[e]))
                e++;
            if (e == 0 || e >= n || s[e] != ':') {
                free(body.buf);
                if (e < n && is_space(s[e]))
                    return perr(p, l->no, col + (unsigned)e,
                                "a header name ends at ':' (use >raw for malformed headers)");
                return perr(p, l->no, col + (unsigned)e,
                            "expected 'Name: value', '!Name' or a blank '>' before the body");
            }
            size_t v = skip_space(s, n, e + 1);
            h->name = arena_strndup(sc->arena, s, e);
            h->value = arena_strndup(sc->arena, s + v, n - v);
            h->value_column = col + (unsigned)v;
            if (!h->value) {
                free(body.buf);
                return oom(p, l->no);
            }
            if (check_tpl(p, h->value, SCENARIO_TPL_TEXT, l->no, h->value_column) < 0) {
                free(body.buf);
                return -1;
            }
        }
        if (!h->name) {
            free(body.buf);
            return oom(p, l->no);
        }
        nh++;
    }
    snd->n_headers = nh;
    if (nh) {
        snd->headers = arena_alloc(sc->arena, nh * sizeof *hdrs);
        if (!snd->headers) {
            free(body.buf);
            return oom(p, l0->no);
        }
        memcpy(snd->headers, hdrs, nh * sizeof *hdrs);
    }
    if (snd->has_body) {
        snd->body = arena_strndup(sc->arena, body.buf ? body.buf : "", body.len);
        free(body.buf);
        if (!snd->body)
            return oom(p, l0->no);
    }
    return (long)used;
}

/* The status part of a server-role `<` start line. */
static int parse_status_expect(struct parser *p, struct scenario_expect *ex, const char *s, size_t n,
                               unsigned line, unsigned col)
{
    size_t a = word_end(s, n, 0);
    if (!(a >= 5 && memcmp(s, "RTSP/", 5) == 0))
        return perr(
            p, line, col,
            "expected a status line such as 'RTSP/1.0 200' (this is a server-role scenario: '<' is the reply)");
    size_t b0 = skip_space(s, n, a);
    size_t b = word_end(s, n, b0);
    if (b0 >= n)
        return perr(p, line, col + (unsigned)a, "expected a status after RTSP/1.0 (200, 2xx, 454|455)");
    size_t i = b0;
    while (i < b) {
        size_t e = i;
        while (e < b && s[e] != '|')
            e++;
        if (ex->n_status >= SCENARIO_MAX_ALTERNATIVES)
            return perr(p, line, col + (unsigned)i, "more than %d status alternatives",
                        SCENARIO_MAX_ALTERNATIVES);
        bool ok = e - i == 3;
        for (size_t k = i; ok && k < e; k++)
            ok = isdigit((unsigned char)s[k]) || s[k] == 'x';
        if (ok && s[i] == '0')
            ok = false;
        if (!ok)
            return perr(p, line, col + (unsigned)i,
                        "bad status '%.*s' (three digits, 'x' for any digit: 200, 2xx, 454|455)",
                        (int)(e - i), s + i);
        memcpy(ex->status[ex->n_status++].code, s + i, 3);
        i = e + 1;
        if (e < b && e + 1 == b)
            return perr(p, line, col + (unsigned)e, "a status alternative is missing after '|'");
    }
    size_t r = skip_space(s, n, b);
    if (r < n) {
        size_t re = n;
        while (re > r && is_space(s[re - 1]))
            re--;
        ex->reason = arena_strndup(p->sc->arena, s + r, re - r);
        if (!ex->reason)
            return oom(p, line);
    }
    return 0;
}

/* The request part of a client-role `<` start line. */
static int parse_request_expect(struct parser *p, struct scenario_expect *ex, const char *s, size_t n,
                                unsigned line, unsigned col)
{
    size_t a = word_end(s, n, 0);
    if (a >= 5 && memcmp(s, "RTSP/", 5) == 0)
        return perr(p, line, col,
                    "expected a request line such as 'SETUP {url} RTSP/1.0' "
                    "(this is a client-role scenario: '<' is the request)");
    size_t i = 0;
    while (i < a) {
        size_t e = i;
        while (e < a && s[e] != '|')
            e++;
        if (ex->n_methods >= SCENARIO_MAX_ALTERNATIVES)
            return perr(p, line, col + (unsigned)i, "more than %d method alternatives",
                        SCENARIO_MAX_ALTERNATIVES);
        if (e == i || e - i >= sizeof ex->methods[0])
            return perr(p, line, col + (unsigned)i, "expected a method name");
        for (size_t k = i; k < e; k++)
            if (!token_char(s[k]) || s[k] == '|')
                return perr(p, line, col + (unsigned)k, "bad character '%c' in a method name", s[k]);
        memcpy(ex->methods[ex->n_methods], s + i, e - i);
        ex->methods[ex->n_methods++][e - i] = '\0';
        i = e + 1;
        if (e < a && e + 1 == a)
            return perr(p, line, col + (unsigned)e, "a method alternative is missing after '|'");
    }
    size_t b0 = skip_space(s, n, a);
    size_t b = word_end(s, n, b0);
    if (b0 >= n)
        return perr(p, line, col + (unsigned)a, "expected the request URI (exact, or ~regex)");
    ex->uri_regex = s[b0] == '~';
    size_t u0 = b0 + (ex->uri_regex ? 1 : 0);
    ex->uri = arena_strndup(p->sc->arena, s + u0, b - u0);
    ex->uri_column = col + (unsigned)u0;
    if (!ex->uri)
        return oom(p, line);
    if (ex->uri_regex ? check_regex(p, ex->uri, line, ex->uri_column, 0)
                      : check_tpl(p, ex->uri, SCENARIO_TPL_TEXT, line, ex->uri_column))
        return -1;
    size_t c0 = skip_space(s, n, b);
    size_t c = word_end(s, n, c0);
    if (c0 < n && !(c - c0 >= 5 && memcmp(s + c0, "RTSP/", 5) == 0))
        return perr(p, line, col + (unsigned)c0, "expected RTSP/1.0 after the URI, got '%.*s'", (int)(c - c0),
                    s + c0);
    if (skip_space(s, n, c) < n)
        return perr(p, line, col + (unsigned)skip_space(s, n, c), "unexpected text after the version");
    return 0;
}

/* `~re [=> $a $b]` at s: fills pattern and captures. */
static int parse_regex_matcher(struct parser *p, struct scenario_matcher *m, const char *s, size_t n,
                               unsigned line, unsigned col)
{
    /* The last " => " separates the regex from its captures. */
    size_t arrow = n;
    for (size_t i = n; i >= 4; i--)
        if (memcmp(s + i - 4, " => ", 4) == 0) {
            arrow = i - 4;
            break;
        }
    if (arrow == n && n >= 3 && memcmp(s + n - 3, " =>", 3) == 0)
        return perr(p, line, col + (unsigned)n - 2, "'=>' needs at least one $name after it");
    size_t re_len = arrow;
    while (re_len > 0 && is_space(s[re_len - 1]))
        re_len--;
    if (re_len == 0)
        return perr(p, line, col, "empty regex after '~'");
    m->pattern = arena_strndup(p->sc->arena, s, re_len);
    m->pattern_column = col;
    if (!m->pattern)
        return oom(p, line);
    if (arrow < n) {
        size_t i = arrow + 4;
        while ((i = skip_space(s, n, i)) < n) {
            size_t e = word_end(s, n, i);
            if (add_capture(p, m, s + i, e - i, line, col + (unsigned)i) < 0)
                return -1;
            i = e;
        }
        if (m->n_captures == 0)
            return perr(p, line, col + (unsigned)arrow + 1, "'=>' needs at least one $name after it");
    }
    return check_regex(p, m->pattern, line, col, m->n_captures);
}

/* A `<` block starting at lines[0]. Returns the number of lines used or -1. */
static long parse_expect_block(struct parser *p, const struct line *lines, size_t nlines)
{
    struct scenario *sc = p->sc;
    const struct line *l0 = &lines[0];
    long mk = message_marker(l0, '<');
    const char *s;
    size_t n;
    unsigned col;
    line_content(l0, (size_t)mk, &s, &n, &col);
    if (n == 0)
        return perr(p, l0->no, (unsigned)mk + 1,
                    "an expectation starts with a status or request line, not a blank '<'");
    struct scenario_step *st = new_step(p, SCENARIO_STEP_EXPECT, l0->no, (unsigned)mk + 1);
    if (!st)
        return -1;
    struct scenario_expect *ex = &st->expect;
    ex->start_column = col;
    int rc = sc->role == SCENARIO_ROLE_SERVER ? parse_status_expect(p, ex, s, n, l0->no, col)
                                              : parse_request_expect(p, ex, s, n, l0->no, col);
    if (rc < 0)
        return -1;

    struct scenario_matcher ms[SCENARIO_MAX_MATCHERS];
    unsigned nm = 0;
    size_t used = 1;
    for (; used < nlines; used++) {
        const struct line *l = &lines[used];
        long m = message_marker(l, '<');
        if (m < 0)
            break;
        line_content(l, (size_t)m, &s, &n, &col);
        while (n > 0 && is_space(s[n - 1]))
            n--;
        {
            size_t lead = skip_space(s, n, 0);
            s += lead;
            n -= lead;
            col += (unsigned)lead;
        }
        if (n == 0)
            return perr(p, l->no, (unsigned)m + 1, "empty '<' line (blank lines end a block)");
        if (nm >= SCENARIO_MAX_MATCHERS)
            return perr(p, l->no, col, "more than %d matcher lines", SCENARIO_MAX_MATCHERS);
        struct scenario_matcher *mt = &ms[nm];
        memset(mt, 0, sizeof *mt);
        mt->line = l->no;
        mt->column = col;
        if (s[0] == '!') {
            size_t e = 1;
            while (e < n && token_char(s[e]))
                e++;
            if (e == 1 || e != n)
                return perr(p, l->no, col, "expected '!Name' (a header that must be absent)");
            mt->kind = SCENARIO_MATCH_ABSENT;
            mt->name = arena_strndup(sc->arena, s + 1, e - 1);
            if (!mt->name)
                return oom(p, l->no);
        } else {
            size_t e = 0;
            while (e < n && token_char(s[e]))
                e++;
            if (e == 0 || e >= n || s[e] != ':')
                return perr(p, l->no, col + (unsigned)e,
                            "expected 'Name: matcher', '!Name', 'sdp: ...', 'body: ...' or 'auth: ...'");
            size_t v = skip_space(s, n, e + 1);
            const char *val = s + v;
            size_t vn = n - v;
            unsigned vcol = col + (unsigned)v;
            mt->pattern_column = vcol;
            if (word_is(s, e, "sdp")) {
                if (vn == 0)
                    return perr(p, l->no, vcol, "'sdp:' needs a line, '~regex', '!line' or '!~regex'");
                if (val[0] == '!') {
                    mt->kind = SCENARIO_MATCH_SDP_ABSENT;
                    mt->pattern_regex = vn > 1 && val[1] == '~';
                    size_t skip = mt->pattern_regex ? 2 : 1;
                    if (vn <= skip)
                        return perr(p, l->no, vcol, "'sdp: !' needs a line or a ~regex");
                    mt->pattern = arena_strndup(sc->arena, val + skip, vn - skip);
                    mt->pattern_column = vcol + (unsigned)skip;
                    if (!mt->pattern)
                        return oom(p, l->no);
                    if (mt->pattern_regex
                            ? check_regex(p, mt->pattern, l->no, mt->pattern_column, 0)
                            : check_tpl(p, mt->pattern, SCENARIO_TPL_TEXT, l->no, mt->pattern_column))
                        return -1;
                } else if (val[0] == '~') {
                    mt->kind = SCENARIO_MATCH_SDP_REGEX;
                    if (parse_regex_matcher(p, mt, val + 1, vn - 1, l->no, vcol + 1) < 0)
                        return -1;
                } else {
                    mt->kind = SCENARIO_MATCH_SDP_LINE;
                    mt->pattern = arena_strndup(sc->arena, val, vn);
                    if (!mt->pattern)
                        return oom(p, l->no);
                    if (check_tpl(p, mt->pattern, SCENARIO_TPL_TEXT, l->no, vcol) < 0)
                        return -1;
                }
            } else if (word_is(s, e, "body")) {
                if (vn >= 2 && val[0] == '!' && val[1] == '~') {
                    mt->kind = SCENARIO_MATCH_BODY_NOT;
                    mt->pattern = arena_strndup(sc->arena, val + 2, vn - 2);
                    mt->pattern_column = vcol + 2;
                    if (!mt->pattern)
                        return oom(p, l->no);
                    if (vn == 2)
                        return perr(p, l->no, vcol, "empty regex after '!~'");
                    if (check_regex(p, mt->pattern, l->no, vcol + 2, 0) < 0)
                        return -1;
                } else if (vn >= 1 && val[0] == '~') {
                    mt->kind = SCENARIO_MATCH_BODY_REGEX;
                    if (parse_regex_matcher(p, mt, val + 1, vn - 1, l->no, vcol + 1) < 0)
                        return -1;
                } else {
                    return perr(p, l->no, vcol, "'body:' takes '~regex' or '!~regex'");
                }
            } else if (word_is(s, e, "auth")) {
                if (sc->role != SCENARIO_ROLE_CLIENT)
                    return perr(p, l->no, col,
                                "'auth:' checks a client's credentials (client role); a server-role "
                                "request sends {basic:user:pw} or {digest:user:pw}");
                size_t w0 = 0, w1 = word_end(val, vn, 0);
                size_t u0 = skip_space(val, vn, w1), u1 = word_end(val, vn, u0);
                size_t p0 = skip_space(val, vn, u1), p1 = word_end(val, vn, p0);
                if (word_is(val + w0, w1 - w0, "basic"))
                    mt->kind = SCENARIO_MATCH_AUTH_BASIC;
                else if (word_is(val + w0, w1 - w0, "digest"))
                    mt->kind = SCENARIO_MATCH_AUTH_DIGEST;
                else
                    return perr(p, l->no, vcol,
                                "'auth:' takes 'basic USER PASSWORD' or 'digest USER PASSWORD'");
                if (u0 >= vn || p0 >= vn || skip_space(val, vn, p1) < vn)
                    return perr(p, l->no, vcol,
                                "'auth:' takes 'basic USER PASSWORD' or 'digest USER PASSWORD'");
                mt->pattern = arena_strndup(sc->arena, val + u0, u1 - u0);
                mt->password = arena_strndup(sc->arena, val + p0, p1 - p0);
                mt->name = arena_strndup(sc->arena, "Authorization", 13);
                if (!mt->pattern || !mt->password || !mt->name)
                    return oom(p, l->no);
                if (check_tpl(p, mt->pattern, SCENARIO_TPL_TEXT, l->no, vcol + (unsigned)u0) < 0 ||
                    check_tpl(p, mt->password, SCENARIO_TPL_TEXT, l->no, vcol + (unsigned)p0) < 0)
                    return -1;
            } else {
                mt->name = arena_strndup(sc->arena, s, e);
                if (!mt->name)
                    return oom(p, l->no);
                if (vn == 0) {
                    mt->kind = SCENARIO_MATCH_PRESENT;
                } else if (val[0] == '$' && word_end(val, vn, 0) == vn) {
                    mt->kind = SCENARIO_MATCH_CAPTURE;
                    if (add_capture(p, mt, val, vn, l->no, vcol) < 0)
                        return -1;
                } else if (val[0] == '~') {
                    mt->kind = SCENARIO_MATCH_REGEX;
                    if (parse_regex_matcher(p, mt, val + 1, vn - 1, l->no, vcol + 1) < 0)
                        return -1;
                } else {
                    mt->kind = SCENARIO_MATCH_EXACT;
                    mt->pattern = arena_strndup(sc->arena, val, vn);
                    if (!mt->pattern)
                        return oom(p, l->no);
                    if (check_tpl(p, mt->pattern, SCENARIO_TPL_TEXT, l->no, vcol) < 0)
                        return -1;
                }
            }
        }
        if (mt->name && mt->kind != SCENARIO_MATCH_AUTH_BASIC && mt->kind != SCENARIO_MATCH_AUTH_DIGEST) {
            if (strcasecmp(mt->name, "CSeq") == 0)
                ex->explicit_cseq = true;
            if (strcasecmp(mt->name, "Session") == 0)
                ex->explicit_session = true;
        }
        nm++;
    }
    ex->n_matchers = nm;
    if (nm) {
        ex->matchers = arena_alloc(sc->arena, nm * sizeof *ms);
        if (!ex->matchers)
            return oom(p, l0->no);
        memcpy(ex->matchers, ms, nm * sizeof *ms);
    }
    return (long)used;
}

/* ---------- `>raw`, `>hex`, `>split`, `>pipeline` ---------- */

static int parse_send_command(struct parser *p, const struct line *l, size_t at)
{
    struct scenario *sc = p->sc;
    const char *s = l->s;
    size_t n = l->n;
    size_t w0 = at + 1, w1 = w0;
    while (w1 < n && isalpha((unsigned char)s[w1]))
        w1++;
    unsigned col = (unsigned)at + 1;
    if (word_is(s + w0, w1 - w0, "raw")) {
        size_t q = skip_space(s, n, w1);
        if (q >= n || s[q] != '"')
            return perr(p, l->no, (unsigned)q + 1,
                        ">raw takes one \"C string\" (\\r \\n \\t \\0 \\\\ \\\" \\xNN, {variables})");
        size_t e = q + 1;
        while (e < n && s[e] != '"') {
            if (s[e] == '\\' && e + 1 < n)
                e++;
            e++;
        }
        if (e >= n)
            return perr(p, l->no, (unsigned)q + 1, "unterminated string (no closing '\"')");
        size_t rest = strip_comment(s + e + 1, n - e - 1);
        if (skip_space(s + e + 1, rest, 0) < rest)
            return perr(p, l->no, (unsigned)(e + 2 + skip_space(s + e + 1, rest, 0)),
                        "unexpected text after the string");
        struct scenario_step *st = new_step(p, SCENARIO_STEP_SEND, l->no, col);
        if (!st)
            return -1;
        st->send.form = SCENARIO_SEND_RAW;
        st->send.raw = arena_strndup(sc->arena, s + q + 1, e - q - 1);
        st->send.raw_column = (unsigned)q + 2;
        if (!st->send.raw)
            return oom(p, l->no);
        if (e - q - 1 == 0)
            return perr(p, l->no, (unsigned)q + 1, ">raw with an empty string sends nothing");
        return check_tpl(p, st->send.raw, SCENARIO_TPL_CSTRING, l->no, st->send.raw_column);
    }
    size_t end = strip_comment(s, n);
    if (end < w1)
        end = w1;
    if (word_is(s + w0, w1 - w0, "hex")) {
        uint8_t bytes[SCENARIO_MAX_LINE / 2];
        size_t nb = 0;
        size_t i = skip_space(s, end, w1);
        if (i == w1 && i < end)
            return perr(p, l->no, (unsigned)w1 + 1, "expected a space after >hex");
        while (i < end) {
            if (is_space(s[i])) {
                i++;
                continue;
            }
            int h = hexval(s[i]), lo = i + 1 < end ? hexval(s[i + 1]) : -1;
            if (h < 0 || lo < 0)
                return perr(p, l->no, (unsigned)i + 1, "expected hex byte pairs such as 24 00 0c, got '%c'",
                            h < 0 ? s[i] : (i + 1 < end ? s[i + 1] : ' '));
            bytes[nb++] = (uint8_t)(h * 16 + lo);
            i += 2;
        }
        if (nb == 0)
            return perr(p, l->no, col, ">hex needs at least one byte");
        struct scenario_step *st = new_step(p, SCENARIO_STEP_SEND, l->no, col);
        if (!st)
            return -1;
        st->send.form = SCENARIO_SEND_HEX;
        st->send.hex = arena_alloc(sc->arena, nb);
        if (!st->send.hex)
            return oom(p, l->no);
        memcpy(st->send.hex, bytes, nb);
        st->send.hex_len = nb;
        return 0;
    }
    if (word_is(s + w0, w1 - w0, "split")) {
        if (p->split_pending)
            return perr(p, l->no, col, ">split follows another >split (line %u)", p->split_line);
        if (p->pipeline_left)
            return perr(p, l->no, col,
                        ">split inside a >pipeline group (line %u): put it before the >pipeline line",
                        p->pipeline_line);
        size_t a0 = skip_space(s, end, w1), a1 = word_end(s, end, a0);
        size_t b0 = skip_space(s, end, a1), b1 = word_end(s, end, b0);
        uint64_t bytes;
        if (a0 >= end || !wire_parse_u64((struct wire_str){s + a0, a1 - a0}, 65536, &bytes) || bytes == 0)
            return perr(p, l->no, (unsigned)a0 + 1,
                        ">split takes a segment size in bytes (1-65536) and a gap: >split 5 10ms");
        int64_t gap = 10;
        if (b0 < end && parse_duration(p, s + b0, b1 - b0, l->no, (unsigned)b0 + 1, &gap) < 0)
            return -1;
        if (skip_space(s, end, b1) < end)
            return perr(p, l->no, (unsigned)skip_space(s, end, b1) + 1, "unexpected text after >split N D");
        p->split_pending = true;
        p->split_line = l->no;
        p->split_bytes = (size_t)bytes;
        p->split_gap_ms = gap;
        p->seen_step = true;
        return 0;
    }
    if (word_is(s + w0, w1 - w0, "pipeline")) {
        if (p->pipeline_left)
            return perr(p, l->no, col, ">pipeline inside another >pipeline (line %u)", p->pipeline_line);
        size_t a0 = skip_space(s, end, w1), a1 = word_end(s, end, a0);
        uint64_t count;
        if (a0 >= end || !wire_parse_u64((struct wire_str){s + a0, a1 - a0}, 64, &count) || count < 2)
            return perr(p, l->no, (unsigned)a0 + 1,
                        ">pipeline takes how many messages (2-64) go in one write: >pipeline 3");
        if (skip_space(s, end, a1) < end)
            return perr(p, l->no, (unsigned)skip_space(s, end, a1) + 1, "unexpected text after >pipeline N");
        p->pipeline_left = (unsigned)count;
        p->pipeline_line = l->no;
        p->pipeline_step = p->sc->n_steps;
        p->seen_step = true;
        return 0;
    }
    return perr(p, l->no, col, "unknown send form '>%.*s' (>raw, >hex, >split, >pipeline)",
                (int)(word_end(s, n, at + 1) - at - 1), s + at + 1);
}

/* ---------- `rtp for` conditions ---------- */

/* A number at s[*i], with optional sign-less decimals or 0x hex. */
static bool scan_number(const char *s, size_t n, size_t *i, double *v)
{
    size_t k = *i;
    if (k + 1 < n && s[k] == '0' && (s[k + 1] == 'x' || s[k + 1] == 'X')) {
        size_t j = k + 2;
        double x = 0;
        while (j < n && hexval(s[j]) >= 0 && j - k < 12)
            x = x * 16 + hexval(s[j++]);
        if (j == k + 2)
            return false;
        *v = x;
        *i = j;
        return true;
    }
    double x = 0, scale = 1;
    bool digits = false, dot = false;
    while (k < n && (isdigit((unsigned char)s[k]) || (s[k] == '.' && !dot))) {
        if (s[k] == '.') {
            dot = true;
        } else {
            digits = true;
            if (dot) {
                scale /= 10;
                x += (s[k] - '0') * scale;
            } else if (x < 1e15) {
                x = x * 10 + (s[k] - '0');
            }
        }
        k++;
    }
    if (!digits)
        return false;
    *v = x;
    *i = k;
    return true;
}

/* A unit word right after a number (spaces allowed in between). */
static size_t scan_unit(const char *s, size_t n, size_t i, size_t *u0)
{
    size_t k = skip_space(s, n, i);
    *u0 = k;
    while (k < n && (isalpha((unsigned char)s[k]) || s[k] == '%' || s[k] == '/'))
        k++;
    return k;
}

/* Convert value+unit for a metric into the metric's unit. */
static int metric_value(struct parser *p, enum scenario_metric m, double v, const char *u, size_t un,
                        unsigned line, unsigned col, bool tolerance, double *out, bool *percent)
{
    *percent = false;
    switch (m) {
    case SCENARIO_METRIC_IDENTICAL:
        if (un == 0 || word_is(u, un, "%")) {
            if (v > 100)
                return perr(p, line, col, "identical above 100%%");
            *out = v;
            return 0;
        }
        break;
    case SCENARIO_METRIC_LOSS:
        if (un == 0 || word_is(u, un, "%")) {
            if (v > 100)
                return perr(p, line, col, "loss above 100%%");
            *out = v;
            return 0;
        }
        break;
    case SCENARIO_METRIC_FPS:
        if (un == 0 || word_is(u, un, "fps")) {
            *out = v;
            return 0;
        }
        if (tolerance && word_is(u, un, "%")) {
            *out = v;
            *percent = true;
            return 0;
        }
        break;
    case SCENARIO_METRIC_BITRATE: {
        static const struct {
            const char *u;
            double k;
        } units[] = {{"bit", 0.001}, {"bit/s", 0.001}, {"kbit", 1},   {"kbit/s", 1},
                     {"mbit", 1000}, {"mbit/s", 1000}, {"gbit", 1e6}, {"gbit/s", 1e6}};
        if (un == 0) {
            *out = v;
            return 0;
        }
        for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
            if (word_is(u, un, units[k].u)) {
                *out = v * units[k].k;
                return 0;
            }
        if (tolerance && word_is(u, un, "%")) {
            *out = v;
            *percent = true;
            return 0;
        }
        return perr(p, line, col, "unknown bitrate unit '%.*s' (bit, kbit, mbit, gbit, with or without /s)",
                    (int)un, u);
    }
    case SCENARIO_METRIC_JITTER:
    case SCENARIO_METRIC_INTERVAL:
        if (un == 0 || word_is(u, un, "ms")) {
            *out = v;
            return 0;
        }
        if (word_is(u, un, "us")) {
            *out = v / 1000;
            return 0;
        }
        if (word_is(u, un, "s")) {
            *out = v * 1000;
            return 0;
        }
        if (tolerance && word_is(u, un, "%")) {
            *out = v;
            *percent = true;
            return 0;
        }
        break;
    case SCENARIO_METRIC_PT:
        if (un == 0) {
            if (v > 127 || v != floor(v))
                return perr(p, line, col, "payload type must be 0-127");
            *out = v;
            return 0;
        }
        break;
    case SCENARIO_METRIC_SSRC:
        if (un == 0) {
            if (v > 4294967295.0 || v != floor(v))
                return perr(p, line, col, "ssrc must be a 32-bit number");
            *out = v;
            return 0;
        }
        break;
    default:
        if (un == 0) {
            *out = v;
            return 0;
        }
        if (tolerance && word_is(u, un, "%")) {
            *out = v;
            *percent = true;
            return 0;
        }
        break;
    }
    return perr(p, line, col, "unit '%.*s' does not fit %s", (int)un, u, scenario_metric_name(m));
}

static int parse_condition(struct parser *p, struct scenario_rtp_cond *c, const char *s, size_t n,
                           unsigned line, unsigned col)
{
    memset(c, 0, sizeof *c);
    c->line = line;
    size_t i = skip_space(s, n, 0);
    c->column = col + (unsigned)i;
    size_t m1 = i;
    while (m1 < n && (isalpha((unsigned char)s[m1])))
        m1++;
    int metric = -1;
    for (int k = 0; k < SCENARIO_METRIC_COUNT; k++)
        if (word_is(s + i, m1 - i, metric_names[k]))
            metric = k;
    if (metric < 0)
        return perr(
            p, line, c->column,
            "unknown metric '%.*s' (packets, frames, bytes, pt, ssrc, loss, fps, bitrate, jitter, interval)",
            (int)(word_end(s, n, i) - i), s + i);
    c->metric = (enum scenario_metric)metric;
    i = skip_space(s, n, m1);
    size_t o0 = i;
    if (i + 1 < n && s[i] == '!' && s[i + 1] == '=') {
        c->op = SCENARIO_OP_NE;
        i += 2;
    } else if (i + 1 < n && s[i] == '<' && s[i + 1] == '=') {
        c->op = SCENARIO_OP_LE;
        i += 2;
    } else if (i + 1 < n && s[i] == '>' && s[i + 1] == '=') {
        c->op = SCENARIO_OP_GE;
        i += 2;
    } else if (i + 1 < n && s[i] == '=' && s[i + 1] == '=') {
        c->op = SCENARIO_OP_EQ;
        i += 2;
    } else if (i < n && s[i] == '=') {
        c->op = SCENARIO_OP_EQ;
        i += 1;
    } else if (i < n && s[i] == '<') {
        c->op = SCENARIO_OP_LT;
        i += 1;
    } else if (i < n && s[i] == '>') {
        c->op = SCENARIO_OP_GT;
        i += 1;
    } else {
        size_t w = word_end(s, n, i);
        if (word_is(s + i, w - i, "constant")) {
            if (c->metric != SCENARIO_METRIC_SSRC && c->metric != SCENARIO_METRIC_PT)
                return perr(p, line, col + (unsigned)i, "'constant' applies to ssrc and pt");
            c->op = SCENARIO_OP_CONSTANT;
            if (skip_space(s, n, w) < n)
                return perr(p, line, col + (unsigned)skip_space(s, n, w), "unexpected text after 'constant'");
            return 0;
        }
        if (word_is(s + i, w - i, "within")) {
            if (c->metric != SCENARIO_METRIC_LOSS)
                return perr(p, line, col + (unsigned)i, "'within binomial' applies to loss");
            size_t b0 = skip_space(s, n, w), b1 = word_end(s, n, b0);
            if (!word_is(s + b0, b1 - b0, "binomial"))
                return perr(p, line, col + (unsigned)b0, "expected 'within binomial 99%%'");
            c->op = SCENARIO_OP_BINOMIAL;
            size_t k = skip_space(s, n, b1), k0 = k;
            double conf;
            size_t u0;
            if (!scan_number(s, n, &k, &conf))
                return perr(p, line, col + (unsigned)k, "expected a confidence such as 99%%");
            size_t u1 = scan_unit(s, n, k, &u0);
            if (!word_is(s + u0, u1 - u0, "%") || conf <= 0 || conf >= 100)
                return perr(p, line, col + (unsigned)k0,
                            "the confidence is a percentage above 0 and below 100 (99%%)");
            c->confidence = conf / 100;
            k = skip_space(s, n, u1);
            if (k < n) {
                size_t w2 = word_end(s, n, k);
                if (!word_is(s + k, w2 - k, "of"))
                    return perr(p, line, col + (unsigned)k, "expected 'of P%%' or the end of the condition");
                k = skip_space(s, n, w2);
                double pv;
                if (!scan_number(s, n, &k, &pv))
                    return perr(p, line, col + (unsigned)k, "expected a loss rate such as 10%%");
                u1 = scan_unit(s, n, k, &u0);
                if (!word_is(s + u0, u1 - u0, "%") || pv > 100)
                    return perr(p, line, col + (unsigned)u0, "the loss rate is a percentage (10%%)");
                c->has_p = true;
                c->p = pv / 100;
                if (skip_space(s, n, u1) < n)
                    return perr(p, line, col + (unsigned)skip_space(s, n, u1),
                                "unexpected text after the loss rate");
            }
            return 0;
        }
        return perr(p, line, col + (unsigned)o0,
                    "expected an operator (= != < <= > >=), 'constant' or 'within binomial', got '%.*s'",
                    (int)(w - i), s + i);
    }
    i = skip_space(s, n, i);
    double v;
    size_t v0 = i;
    if (!scan_number(s, n, &i, &v))
        return perr(p, line, col + (unsigned)v0, "expected a number after '%s'", scenario_op_name(c->op));
    size_t u0, u1 = scan_unit(s, n, i, &u0);
    /* "+-" is not a unit */
    bool pct;
    if (metric_value(p, c->metric, v, s + u0, u1 - u0, line, col + (unsigned)u0, false, &c->value, &pct) < 0)
        return -1;
    i = skip_space(s, n, u1);
    if (i < n) {
        size_t t0 = i;
        if (i + 1 < n && s[i] == '+' && s[i + 1] == '-')
            i += 2;
        else if (i + 1 < n && (unsigned char)s[i] == 0xC2 && (unsigned char)s[i + 1] == 0xB1)
            i += 2; /* U+00B1 PLUS-MINUS SIGN in UTF-8 */
        else
            return perr(p, line, col + (unsigned)i, "unexpected '%.*s' (conditions are separated by ',')",
                        (int)(word_end(s, n, i) - i), s + i);
        if (c->op != SCENARIO_OP_EQ)
            return perr(p, line, col + (unsigned)t0, "a tolerance goes with '='");
        i = skip_space(s, n, i);
        double t;
        size_t tv = i;
        if (!scan_number(s, n, &i, &t))
            return perr(p, line, col + (unsigned)tv, "expected a tolerance after '+-'");
        u1 = scan_unit(s, n, i, &u0);
        if (metric_value(p, c->metric, t, s + u0, u1 - u0, line, col + (unsigned)u0, true, &c->tolerance,
                         &c->tolerance_percent) < 0)
            return -1;
        if (skip_space(s, n, u1) < n)
            return perr(p, line, col + (unsigned)skip_space(s, n, u1), "unexpected text after the tolerance");
    }
    return 0;
}

static int parse_rtp(struct parser *p, const struct line *l, size_t at, size_t end)
{
    struct scenario *sc = p->sc;
    const char *s = l->s;
    size_t w0 = skip_space(s, end, at + 3), w1 = word_end(s, end, w0);
    unsigned col = (unsigned)at + 1;
    if (word_is(s + w0, w1 - w0, "send")) {
        if (sc->role != SCENARIO_ROLE_CLIENT)
            return perr(p, l->no, col, "'rtp send' streams to a client under test (client role only)");
        struct scenario_step *st = new_step(p, SCENARIO_STEP_RTP_SEND, l->no, col);
        if (!st)
            return -1;
        size_t k = skip_space(s, end, w1);
        if (k < end) {
            size_t e = word_end(s, end, k);
            if (!word_is(s + k, e - k, "fps"))
                return perr(p, l->no, (unsigned)k + 1, "'rtp send' takes only 'fps F'");
            k = skip_space(s, end, e);
            double f;
            size_t f0 = k;
            if (!scan_number(s, end, &k, &f) || f <= 0 || f > 1000 || skip_space(s, end, k) < end)
                return perr(p, l->no, (unsigned)f0 + 1, "fps must be a number above 0, up to 1000");
            st->fps = f;
        }
        return 0;
    }
    if (word_is(s + w0, w1 - w0, "stop")) {
        if (sc->role != SCENARIO_ROLE_CLIENT)
            return perr(p, l->no, col, "'rtp stop' ends 'rtp send' (client role only)");
        if (skip_space(s, end, w1) < end)
            return perr(p, l->no, (unsigned)skip_space(s, end, w1) + 1, "unexpected text after 'rtp stop'");
        return new_step(p, SCENARIO_STEP_RTP_STOP, l->no, col) ? 0 : -1;
    }
    if (!word_is(s + w0, w1 - w0, "for"))
        return perr(p, l->no, (unsigned)w0 + 1, "expected 'rtp for D: ...', 'rtp send' or 'rtp stop'");
    size_t colon = w1;
    while (colon < end && s[colon] != ':')
        colon++;
    if (colon >= end)
        return perr(p, l->no, (unsigned)end + 1, "expected ':' and conditions: rtp for 3s: frames >= 50");
    struct scenario_step *st = new_step(p, SCENARIO_STEP_RTP_FOR, l->no, col);
    if (!st)
        return -1;
    st->rtp = arena_alloc(sc->arena, sizeof *st->rtp);
    if (!st->rtp)
        return oom(p, l->no);
    struct scenario_rtp_expect *r = st->rtp;
    r->line = l->no;
    size_t d0 = skip_space(s, colon, w1), d1 = word_end(s, colon, d0);
    if (d0 >= colon)
        return perr(p, l->no, (unsigned)d0 + 1, "expected the window's length: rtp for 3s: ...");
    if (parse_duration(p, s + d0, d1 - d0, l->no, (unsigned)d0 + 1, &r->duration_ms) < 0)
        return -1;
    if (r->duration_ms <= 0)
        return perr(p, l->no, (unsigned)d0 + 1, "the window must be longer than 0");
    size_t k = skip_space(s, colon, d1);
    if (k < colon) {
        size_t e = word_end(s, colon, k);
        if (!word_is(s + k, e - k, "after"))
            return perr(p, l->no, (unsigned)k + 1, "expected 'after D' or ':'");
        size_t a0 = skip_space(s, colon, e), a1 = word_end(s, colon, a0);
        if (a0 >= colon)
            return perr(p, l->no, (unsigned)a0 + 1, "expected a grace time after 'after'");
        if (parse_duration(p, s + a0, a1 - a0, l->no, (unsigned)a0 + 1, &r->after_ms) < 0)
            return -1;
        if (skip_space(s, colon, a1) < colon)
            return perr(p, l->no, (unsigned)skip_space(s, colon, a1) + 1, "unexpected text before ':'");
    }
    size_t c0 = colon + 1;
    if (skip_space(s, end, c0) >= end)
        return perr(p, l->no, (unsigned)colon + 2, "expected at least one condition after ':'");
    while (c0 <= end) {
        size_t c1 = c0;
        while (c1 < end && s[c1] != ',')
            c1++;
        if (skip_space(s, c1, c0) >= c1)
            return perr(p, l->no, (unsigned)c0 + 1, "empty condition");
        if (r->n_conds >= SCENARIO_MAX_CONDS)
            return perr(p, l->no, (unsigned)c0 + 1, "more than %d conditions", SCENARIO_MAX_CONDS);
        size_t ce = c1;
        while (ce > c0 && is_space(s[ce - 1]))
            ce--;
        if (parse_condition(p, &r->conds[r->n_conds], s + c0, ce - c0, l->no, (unsigned)c0 + 1) < 0)
            return -1;
        r->n_conds++;
        c0 = c1 + 1;
    }
    return 0;
}

/* ---------- `at T: ...` ---------- */

static int parse_direction(const char *s, size_t n, enum scenario_direction *d)
{
    if (word_is(s, n, "to-peer"))
        *d = SCENARIO_DIR_TO_PEER;
    else if (word_is(s, n, "to-sut"))
        *d = SCENARIO_DIR_TO_SUT;
    else if (word_is(s, n, "both"))
        *d = SCENARIO_DIR_BOTH;
    else
        return -1;
    return 0;
}

static int parse_impair_text(struct parser *p, const char *s, size_t n, unsigned line, unsigned col,
                             struct impair_spec *spec)
{
    struct wire_error werr = {0, NULL};
    memset(spec, 0, sizeof *spec);
    if (impair_parse(s, n, spec, &werr) < 0)
        return perr(p, line, col + (unsigned)(werr.offset <= n ? werr.offset : 0), "%s",
                    werr.reason ? werr.reason : "bad impairment");
    return 0;
}

static int parse_at(struct parser *p, const struct line *l, size_t at, size_t end)
{
    struct scenario *sc = p->sc;
    const char *s = l->s;
    unsigned col = (unsigned)at + 1;
    size_t colon = at + 2;
    while (colon < end && s[colon] != ':')
        colon++;
    if (colon >= end)
        return perr(p, l->no, (unsigned)end + 1, "expected 'at T: netem text' or 'at T: blackout D'");
    size_t t0 = skip_space(s, colon, at + 2), t1 = word_end(s, colon, t0);
    if (t0 >= colon)
        return perr(p, l->no, (unsigned)t0 + 1, "expected a time after 'at'");
    if (skip_space(s, colon, t1) < colon)
        return perr(p, l->no, (unsigned)skip_space(s, colon, t1) + 1, "unexpected text before ':'");
    if (sc->n_events >= SCENARIO_MAX_EVENTS)
        return perr(p, l->no, col, "more than %d 'at' lines", SCENARIO_MAX_EVENTS);
    struct scenario_event ev;
    memset(&ev, 0, sizeof ev);
    ev.line = l->no;
    ev.column = col;
    if (parse_duration(p, s + t0, t1 - t0, l->no, (unsigned)t0 + 1, &ev.at_ms) < 0)
        return -1;
    size_t k = skip_space(s, end, colon + 1);
    size_t w = word_end(s, end, k);
    if (word_is(s + k, w - k, "blackout")) {
        size_t d0 = skip_space(s, end, w), d1 = word_end(s, end, d0);
        int64_t d;
        if (d0 >= end)
            return perr(p, l->no, (unsigned)d0 + 1, "blackout needs a duration: blackout 2s");
        if (parse_duration(p, s + d0, d1 - d0, l->no, (unsigned)d0 + 1, &d) < 0)
            return -1;
        if (d <= 0)
            return perr(p, l->no, (unsigned)d0 + 1, "a blackout lasts longer than 0");
        if (skip_space(s, end, d1) < end)
            return perr(p, l->no, (unsigned)skip_space(s, end, d1) + 1,
                        "unexpected text after the blackout's duration");
        ev.kind = SCENARIO_EVENT_BLACKOUT;
        ev.direction = SCENARIO_DIR_BOTH;
        ev.duration_ms = (uint64_t)d;
    } else {
        ev.kind = SCENARIO_EVENT_IMPAIR;
        ev.direction = SCENARIO_DIR_BOTH;
        if (parse_direction(s + k, w - k, &ev.direction) == 0)
            k = skip_space(s, end, w);
        if (end - k >= sizeof ev.text)
            return perr(p, l->no, (unsigned)k + 1, "impairment text longer than %zu bytes",
                        sizeof ev.text - 1);
        if (parse_impair_text(p, s + k, end - k, l->no, (unsigned)k + 1, &ev.spec) < 0)
            return -1;
        memcpy(ev.text, s + k, end - k);
        ev.text[end - k] = '\0';
    }
    if (sc->n_events == p->events_cap) {
        size_t cap = p->events_cap ? p->events_cap * 2 : 8;
        struct scenario_event *e = realloc(sc->events, cap * sizeof *e);
        if (!e)
            return oom(p, l->no);
        sc->events = e;
        p->events_cap = cap;
    }
    /* insertion keeps equal times in file order */
    unsigned pos = sc->n_events;
    while (pos > 0 && sc->events[pos - 1].at_ms > ev.at_ms) {
        sc->events[pos] = sc->events[pos - 1];
        pos--;
    }
    sc->events[pos] = ev;
    sc->n_events++;
    return 0;
}

/* ---------- `@` directives ---------- */

/* `expect cpu below P% for D`, from after "cpu" (at). */
static int parse_expect_cpu(struct parser *p, const struct line *l, unsigned col, const char *s, size_t end, size_t at)
{
    size_t w0 = skip_space(s, end, at), w1 = word_end(s, end, w0);
    if (!word_is(s + w0, w1 - w0, "below"))
        return perr(p, l->no, (unsigned)w0 + 1, "expected 'below P%%' after 'expect cpu'");
    size_t n0 = skip_space(s, end, w1), n1 = word_end(s, end, n0);
    char num[32];
    if (n1 - n0 < 2 || n1 - n0 >= sizeof num || s[n1 - 1] != '%')
        return perr(p, l->no, (unsigned)n0 + 1, "expected a percentage of one CPU (10%%)");
    memcpy(num, s + n0, n1 - n0 - 1);
    num[n1 - n0 - 1] = 0;
    char *e;
    double pct = strtod(num, &e);
    if (*e || e == num || !(pct > 0 && pct <= 100))
        return perr(p, l->no, (unsigned)n0 + 1, "the CPU limit is a percentage above 0 and at most 100");
    size_t f0 = skip_space(s, end, n1), f1 = word_end(s, end, f0);
    if (!word_is(s + f0, f1 - f0, "for"))
        return perr(p, l->no, (unsigned)f0 + 1, "expected 'for D' after the percentage");
    size_t d0 = skip_space(s, end, f1), d1 = word_end(s, end, d0);
    if (d0 >= end)
        return perr(p, l->no, (unsigned)d0 + 1, "'expect cpu' needs a duration");
    int64_t d;
    if (parse_duration(p, s + d0, d1 - d0, l->no, (unsigned)d0 + 1, &d) < 0)
        return -1;
    if (d < 100)
        return perr(p, l->no, (unsigned)d0 + 1, "measure CPU for at least 100ms");
    if (skip_space(s, end, d1) < end)
        return perr(p, l->no, (unsigned)skip_space(s, end, d1) + 1, "unexpected text after the duration");
    struct scenario_step *st = new_step(p, SCENARIO_STEP_EXPECT_CPU, l->no, col);
    if (!st)
        return -1;
    st->duration_ms = d;
    st->cpu_percent = pct;
    return 0;
}

/* @allow and @require: check ids separated by spaces, into list. */
static int parse_check_list(struct parser *p, unsigned line, unsigned acol, const char *arg, size_t an,
                            const char *directive, char list[][SCENARIO_CHECK_MAX], unsigned *n)
{
    if (an == 0)
        return perr(p, line, acol, "%s needs check ids (rtsp.cseq.echo ...)", directive);
    size_t i = 0;
    while ((i = skip_space(arg, an, i)) < an) {
        size_t e = word_end(arg, an, i);
        char id[SCENARIO_CHECK_MAX + 1];
        if (e - i >= SCENARIO_CHECK_MAX)
            return perr(p, line, acol + (unsigned)i, "check id longer than %d bytes", SCENARIO_CHECK_MAX - 1);
        memcpy(id, arg + i, e - i);
        id[e - i] = '\0';
        if (!scenario_check_id_valid(id))
            return perr(p, line, acol + (unsigned)i,
                        "'%s' is not a check id (lowercase words joined by dots: rtsp.cseq.echo)", id);
        if (!check_in((const char (*)[SCENARIO_CHECK_MAX])list, *n, id)) {
            if (*n >= SCENARIO_MAX_ALLOW)
                return perr(p, line, acol + (unsigned)i, "more than %d checks in %s", SCENARIO_MAX_ALLOW,
                            directive);
            memcpy(list[(*n)++], id, e - i + 1);
        }
        i = e;
    }
    return 0;
}

static int parse_directive(struct parser *p, const struct line *l, size_t at)
{
    struct scenario *sc = p->sc;
    const char *s = l->s;
    size_t end = strip_comment(s, l->n);
    size_t w1 = word_end(s, end, at);
    const char *w = s + at + 1;
    size_t wn = w1 - at - 1;
    unsigned col = (unsigned)at + 1;
    size_t a0 = skip_space(s, end, w1);
    const char *arg = s + a0;
    size_t an = end > a0 ? end - a0 : 0;
    unsigned acol = (unsigned)a0 + 1;

    if (p->seen_step)
        return perr(p, l->no, col, "@%.*s must come before the first step", (int)wn, w);
    if (word_is(w, wn, "name")) {
        if (p->name_given)
            return perr(p, l->no, col, "@name given twice");
        if (an == 0)
            return perr(p, l->no, acol, "@name needs a text");
        if (an >= sizeof sc->name)
            return perr(p, l->no, acol, "@name longer than %zu bytes", sizeof sc->name - 1);
        memcpy(sc->name, arg, an);
        sc->name[an] = '\0';
        p->name_given = true;
        return 0;
    }
    if (word_is(w, wn, "role")) {
        if (p->role_given)
            return perr(p, l->no, col, "@role given twice");
        if (word_is(arg, an, "server"))
            sc->role = SCENARIO_ROLE_SERVER;
        else if (word_is(arg, an, "client"))
            sc->role = SCENARIO_ROLE_CLIENT;
        else
            return perr(p, l->no, acol, "@role is 'server' (the SUT is a server) or 'client', not '%.*s'",
                        (int)an, arg);
        p->role_given = true;
        return 0;
    }
    if (word_is(w, wn, "profile")) {
        if (p->profile_given)
            return perr(p, l->no, col, "@profile given twice");
        if (word_is(arg, an, "rfc2326"))
            sc->profile = SCENARIO_PROFILE_RFC2326;
        else if (word_is(arg, an, "lab"))
            sc->profile = SCENARIO_PROFILE_LAB;
        else
            return perr(p, l->no, acol, "@profile is 'rfc2326' or 'lab', not '%.*s'", (int)an, arg);
        p->profile_given = true;
        if (!p->dialect_given && sc->profile == SCENARIO_PROFILE_LAB) {
            /* the lab dialect is chosen here unless @dialect says otherwise */
            sc->dialect_line = l->no;
            sc->dialect_column = acol;
        }
        return 0;
    }
    if (word_is(w, wn, "dialect")) {
        if (p->dialect_given)
            return perr(p, l->no, col, "@dialect given twice");
        if (an == 0)
            return perr(p, l->no, acol, "@dialect needs a name (lab, bare-cseq, ...) or a FILE.dialect");
        if (word_end(arg, an, 0) != an)
            return perr(p, l->no, acol + (unsigned)word_end(arg, an, 0), "unexpected text after the dialect");
        if (an >= sizeof sc->dialect_name)
            return perr(p, l->no, acol, "@dialect longer than %zu bytes", sizeof sc->dialect_name - 1);
        memcpy(sc->dialect_name, arg, an);
        sc->dialect_name[an] = '\0';
        sc->dialect_line = l->no;
        sc->dialect_column = acol;
        p->dialect_given = true;
        return 0;
    }
    if (word_is(w, wn, "transport")) {
        if (p->transport_given)
            return perr(p, l->no, col, "@transport given twice");
        if (word_is(arg, an, "udp"))
            sc->transport = SCENARIO_TRANSPORT_UDP;
        else if (word_is(arg, an, "tcp"))
            sc->transport = SCENARIO_TRANSPORT_TCP;
        else
            return perr(p, l->no, acol, "@transport is 'udp' or 'tcp' (interleaved), not '%.*s'", (int)an,
                        arg);
        p->transport_given = true;
        return 0;
    }
    if (word_is(w, wn, "timeout")) {
        if (p->timeout_given)
            return perr(p, l->no, col, "@timeout given twice");
        if (an == 0)
            return perr(p, l->no, acol, "@timeout needs a duration");
        if (word_end(arg, an, 0) != an)
            return perr(p, l->no, acol + (unsigned)word_end(arg, an, 0),
                        "unexpected text after the duration");
        if (parse_duration(p, arg, an, l->no, acol, &sc->timeout_ms) < 0)
            return -1;
        if (sc->timeout_ms <= 0)
            return perr(p, l->no, acol, "@timeout must be longer than 0");
        p->timeout_given = true;
        return 0;
    }
    if (word_is(w, wn, "on-fail")) {
        if (p->on_fail_given)
            return perr(p, l->no, col, "@on-fail given twice");
        if (word_is(arg, an, "stop"))
            sc->on_fail = SCENARIO_ON_FAIL_STOP;
        else if (word_is(arg, an, "continue"))
            sc->on_fail = SCENARIO_ON_FAIL_CONTINUE;
        else
            return perr(p, l->no, acol, "@on-fail is 'stop' or 'continue', not '%.*s'", (int)an, arg);
        p->on_fail_given = true;
        return 0;
    }
    if (word_is(w, wn, "allow"))
        return parse_check_list(p, l->no, acol, arg, an, "@allow", sc->allow, &sc->n_allow);
    if (word_is(w, wn, "require"))
        return parse_check_list(p, l->no, acol, arg, an, "@require", sc->require, &sc->n_require);
    if (word_is(w, wn, "impair")) {
        enum scenario_direction d = SCENARIO_DIR_BOTH;
        size_t e = word_end(arg, an, 0);
        size_t t = 0;
        if (parse_direction(arg, e, &d) == 0)
            t = skip_space(arg, an, e);
        if (an - t >= sizeof sc->impair_text[0])
            return perr(p, l->no, acol + (unsigned)t, "impairment text longer than %zu bytes",
                        sizeof sc->impair_text[0] - 1);
        struct impair_spec spec;
        if (parse_impair_text(p, arg + t, an - t, l->no, acol + (unsigned)t, &spec) < 0)
            return -1;
        for (int k = 0; k < 2; k++) {
            if (d != SCENARIO_DIR_BOTH && d != (enum scenario_direction)k)
                continue;
            /* One line per direction; a one-direction line may refine a both-directions line. */
            if (p->impair_set[k] && !(p->impair_both[k] && d != SCENARIO_DIR_BOTH))
                return perr(p, l->no, col, "the %s impairment is already set by an earlier @impair line",
                            k == SCENARIO_DIR_TO_SUT ? "to-sut" : "to-peer");
            sc->impair[k] = spec;
            memcpy(sc->impair_text[k], arg + t, an - t);
            sc->impair_text[k][an - t] = '\0';
            p->impair_set[k] = true;
            p->impair_both[k] = d == SCENARIO_DIR_BOTH;
        }
        sc->impair_given = true;
        return 0;
    }
    return perr(p, l->no, col,
                "unknown directive '@%.*s' (@name @role @profile @dialect @transport @timeout @on-fail "
                "@impair @allow)",
                (int)wn, w);
}

/* ---------- commands ---------- */

static int parse_with(struct parser *p, const struct line *l, size_t at, size_t end)
{
    const char *s = l->s;
    if (p->mods.given)
        return perr(p, l->no, (unsigned)at + 1, "two 'with' lines in a row (put every modifier on one)");
    struct modifiers m = {.given = true, .line = l->no};
    bool got_timeout = false, got_optional = false, got_on_fail = false;
    size_t i = at + 4;
    for (;;) {
        while (i < end && (is_space(s[i]) || s[i] == ','))
            i++;
        if (i >= end)
            break;
        size_t e = i;
        while (e < end && !is_space(s[e]) && s[e] != ',')
            e++;
        if (word_is(s + i, e - i, "optional")) {
            if (got_optional)
                return perr(p, l->no, (unsigned)i + 1, "'optional' given twice");
            got_optional = m.optional = true;
            i = e;
        } else if (word_is(s + i, e - i, "timeout")) {
            if (got_timeout)
                return perr(p, l->no, (unsigned)i + 1, "'timeout' given twice");
            size_t d0 = skip_space(s, end, e), d1 = d0;
            while (d1 < end && !is_space(s[d1]) && s[d1] != ',')
                d1++;
            if (d0 >= end)
                return perr(p, l->no, (unsigned)d0 + 1, "'timeout' needs a duration");
            if (parse_duration(p, s + d0, d1 - d0, l->no, (unsigned)d0 + 1, &m.timeout_ms) < 0)
                return -1;
            if (m.timeout_ms <= 0)
                return perr(p, l->no, (unsigned)d0 + 1, "a timeout must be longer than 0");
            got_timeout = true;
            i = d1;
        } else if (word_is(s + i, e - i, "on-fail")) {
            if (got_on_fail)
                return perr(p, l->no, (unsigned)i + 1, "'on-fail' given twice");
            size_t d0 = skip_space(s, end, e), d1 = d0;
            while (d1 < end && !is_space(s[d1]) && s[d1] != ',')
                d1++;
            if (word_is(s + d0, d1 - d0, "stop"))
                m.on_fail = SCENARIO_ON_FAIL_STOP;
            else if (word_is(s + d0, d1 - d0, "continue"))
                m.on_fail = SCENARIO_ON_FAIL_CONTINUE;
            else
                return perr(p, l->no, (unsigned)d0 + 1, "'on-fail' takes 'stop' or 'continue'");
            got_on_fail = true;
            i = d1;
        } else {
            return perr(p, l->no, (unsigned)i + 1,
                        "unknown modifier '%.*s' (optional, timeout D, on-fail stop|continue)", (int)(e - i),
                        s + i);
        }
    }
    if (!got_optional && !got_timeout && !got_on_fail)
        return perr(p, l->no, (unsigned)at + 1,
                    "'with' needs a modifier: optional, timeout D, on-fail stop|continue");
    p->mods = m;
    return 0;
}

static int parse_command(struct parser *p, const struct line *l, size_t at)
{
    struct scenario *sc = p->sc;
    const char *s = l->s;
    size_t end = strip_comment(s, l->n);
    size_t w1 = word_end(s, end, at);
    const char *w = s + at;
    size_t wn = w1 - at;
    unsigned col = (unsigned)at + 1;
    size_t a0 = skip_space(s, end, w1), a1 = word_end(s, end, a0);
    bool has_arg = a0 < end;

    if (word_is(w, wn, "with"))
        return parse_with(p, l, at, end);
    if (word_is(w, wn, "at"))
        return parse_at(p, l, at, end);
    if (word_is(w, wn, "rtp"))
        return parse_rtp(p, l, at, end);
    if (word_is(w, wn, "wait")) {
        if (!has_arg)
            return perr(p, l->no, (unsigned)a0 + 1, "'wait' needs a duration");
        int64_t d;
        if (parse_duration(p, s + a0, a1 - a0, l->no, (unsigned)a0 + 1, &d) < 0)
            return -1;
        if (skip_space(s, end, a1) < end)
            return perr(p, l->no, (unsigned)skip_space(s, end, a1) + 1, "unexpected text after the duration");
        struct scenario_step *st = new_step(p, SCENARIO_STEP_WAIT, l->no, col);
        if (!st)
            return -1;
        st->duration_ms = d;
        return 0;
    }
    if (word_is(w, wn, "expect")) {
        if (word_is(s + a0, a1 - a0, "close")) {
            if (skip_space(s, end, a1) < end)
                return perr(p, l->no, (unsigned)skip_space(s, end, a1) + 1,
                            "unexpected text after 'expect close'");
            return new_step(p, SCENARIO_STEP_EXPECT_CLOSE, l->no, col) ? 0 : -1;
        }
        if (word_is(s + a0, a1 - a0, "silence")) {
            size_t d0 = skip_space(s, end, a1), d1 = word_end(s, end, d0);
            int64_t d;
            if (d0 >= end)
                return perr(p, l->no, (unsigned)d0 + 1, "'expect silence' needs a duration");
            if (parse_duration(p, s + d0, d1 - d0, l->no, (unsigned)d0 + 1, &d) < 0)
                return -1;
            if (d <= 0)
                return perr(p, l->no, (unsigned)d0 + 1, "silence must last longer than 0");
            if (skip_space(s, end, d1) < end)
                return perr(p, l->no, (unsigned)skip_space(s, end, d1) + 1,
                            "unexpected text after the duration");
            struct scenario_step *st = new_step(p, SCENARIO_STEP_EXPECT_SILENCE, l->no, col);
            if (!st)
                return -1;
            st->duration_ms = d;
            return 0;
        }
        if (word_is(s + a0, a1 - a0, "cpu"))
            return parse_expect_cpu(p, l, col, s, end, a1);
        return perr(p, l->no, (unsigned)a0 + 1, "expected 'expect close', 'expect silence D' or 'expect cpu below P%% for D'");
    }
    bool is_connect = word_is(w, wn, "connect"), is_accept = word_is(w, wn, "accept");
    bool is_use = word_is(w, wn, "use"), is_close = word_is(w, wn, "close");
    if (is_connect || is_accept || is_use || is_close) {
        if (is_connect && sc->role != SCENARIO_ROLE_SERVER)
            return perr(
                p, l->no, col,
                "'connect' opens a connection to a server (server role); a client-role scenario uses 'accept'");
        if (is_accept && sc->role != SCENARIO_ROLE_CLIENT)
            return perr(p, l->no, col,
                        "'accept' waits for a client (client role); a server-role scenario uses 'connect'");
        if (is_use && !has_arg)
            return perr(p, l->no, (unsigned)a0 + 1, "'use' needs a connection name");
        if (is_close && !has_arg && p->n_conns == 0)
            return perr(p, l->no, col, "'close': no connection was opened before");
        if (has_arg) {
            if (check_name(p, s + a0, a1 - a0, l->no, (unsigned)a0 + 1, "connection") < 0)
                return -1;
            if (skip_space(s, end, a1) < end)
                return perr(p, l->no, (unsigned)skip_space(s, end, a1) + 1,
                            "unexpected text after the connection name");
            if ((is_use || is_close) && !conn_known(p, s + a0, a1 - a0))
                return perr(p, l->no, (unsigned)a0 + 1, "no connection named '%.*s' was opened before",
                            (int)(a1 - a0), s + a0);
            if ((is_connect || is_accept) && declare_conn(p, s + a0, a1 - a0, l->no, (unsigned)a0 + 1) < 0)
                return -1;
        } else if (is_connect || is_accept) {
            char auto_name[SCENARIO_NAME_MAX];
            snprintf(auto_name, sizeof auto_name, "c%u", p->n_conns + 1);
            if (declare_conn(p, auto_name, strlen(auto_name), l->no, col) < 0)
                return -1;
            a0 = a1 = 0;
            struct scenario_step *st =
                new_step(p, is_connect ? SCENARIO_STEP_CONNECT : SCENARIO_STEP_ACCEPT, l->no, col);
            if (!st)
                return -1;
            snprintf(st->conn, sizeof st->conn, "%s", auto_name);
            return 0;
        }
        enum scenario_step_kind k = is_connect  ? SCENARIO_STEP_CONNECT
                                    : is_accept ? SCENARIO_STEP_ACCEPT
                                    : is_use    ? SCENARIO_STEP_USE
                                                : SCENARIO_STEP_CLOSE;
        struct scenario_step *st = new_step(p, k, l->no, col);
        if (!st)
            return -1;
        if (has_arg)
            snprintf(st->conn, sizeof st->conn, "%.*s", (int)(a1 - a0), s + a0);
        return 0;
    }
    return perr(p, l->no, col,
                "unknown command '%.*s' (wait, expect, rtp, connect, accept, use, close, with, at)", (int)wn,
                w);
}

/* ---------- top level ---------- */

static void base_name(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    const char *dot = strrchr(b, '.');
    if (dot && dot != b)
        n = (size_t)(dot - b);
    snprintf(out, cap, "%.*s", (int)n, b);
}

void scenario_free(struct scenario *sc)
{
    if (!sc)
        return;
    dialect_free(sc->dialect);
    arena_free(sc->arena);
    free(sc->steps);
    free(sc->events);
    memset(sc, 0, sizeof *sc);
}

int scenario_parse_buffer(const char *name, const char *buf, size_t len, struct scenario *sc, char *err,
                          size_t cap)
{
    memset(sc, 0, sizeof *sc);
    if (cap)
        err[0] = '\0';
    struct parser *p = calloc(1, sizeof *p);
    struct line *lines = NULL;
    if (!p) {
        if (cap)
            snprintf(err, cap, "%s: out of memory", name);
        return -1;
    }
    p->name = name;
    p->err = err;
    p->cap = cap;
    p->sc = sc;
    p->carry_exchange = -1;
    sc->timeout_ms = SCENARIO_DEFAULT_TIMEOUT_MS;
    sc->on_fail = SCENARIO_ON_FAIL_STOP;
    snprintf(sc->path, sizeof sc->path, "%s", name);
    base_name(name, sc->name, sizeof sc->name);
    int rc = -1;
    sc->arena = calloc(1, sizeof *sc->arena);
    if (!sc->arena) {
        oom(p, 1);
        goto out;
    }
    if (len > SCENARIO_MAX_FILE_BYTES) {
        perr(p, 1, 1, "larger than %u bytes", SCENARIO_MAX_FILE_BYTES);
        goto out;
    }

    /* Split into lines (LF or CRLF); NUL bytes and overlong lines are errors. */
    size_t nlines = 0, lcap = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && buf[e] != '\n')
            e++;
        size_t n = e - i;
        if (n > 0 && buf[i + n - 1] == '\r')
            n--;
        const char *nul = memchr(buf + i, '\0', n);
        if (nul) {
            perr(p, (unsigned)nlines + 1, (unsigned)(nul - (buf + i)) + 1, "NUL byte in the scenario");
            goto out;
        }
        const char *cr = memchr(buf + i, '\r', n);
        if (cr) {
            perr(p, (unsigned)nlines + 1, (unsigned)(cr - (buf + i)) + 1,
                 "carriage return inside a line (write \\r in a >raw string)");
            goto out;
        }
        if (n > SCENARIO_MAX_LINE) {
            perr(p, (unsigned)nlines + 1, SCENARIO_MAX_LINE + 1, "line longer than %d bytes",
                 SCENARIO_MAX_LINE);
            goto out;
        }
        if (nlines == lcap) {
            lcap = lcap ? lcap * 2 : 256;
            struct line *nl = realloc(lines, lcap * sizeof *nl);
            if (!nl) {
                oom(p, (unsigned)nlines + 1);
                goto out;
            }
            lines = nl;
        }
        lines[nlines].s = buf + i;
        lines[nlines].n = n;
        lines[nlines].no = (unsigned)nlines + 1;
        nlines++;
        i = e + 1;
    }

    size_t li = 0;
    while (li < nlines) {
        const struct line *l = &lines[li];
        size_t at = skip_space(l->s, l->n, 0);
        if (at >= l->n || l->s[at] == '#') {
            li++;
            continue;
        }
        char c = l->s[at];
        if (c == '@') {
            if (parse_directive(p, l, at) < 0)
                goto out;
            li++;
        } else if (c == '>') {
            if (at + 1 < l->n && !is_space(l->s[at + 1])) {
                if (!isalpha((unsigned char)l->s[at + 1])) {
                    size_t e = word_end(l->s, l->n, at);
                    perr(p, l->no, (unsigned)at + 1,
                         "unknown send form '%.*s' (>, >raw, >hex, >split, >pipeline)", (int)(e - at),
                         l->s + at);
                    goto out;
                }
                if (parse_send_command(p, l, at) < 0)
                    goto out;
                li++;
            } else {
                long used = parse_send_block(p, lines + li, nlines - li);
                if (used < 0)
                    goto out;
                li += (size_t)used;
            }
        } else if (c == '<') {
            if (at + 1 < l->n && !is_space(l->s[at + 1])) {
                size_t e = word_end(l->s, l->n, at);
                perr(p, l->no, (unsigned)at + 1, "unknown matcher '%.*s' (expectation lines start with '< ')",
                     (int)(e - at), l->s + at);
                goto out;
            }
            long used = parse_expect_block(p, lines + li, nlines - li);
            if (used < 0)
                goto out;
            li += (size_t)used;
        } else if (isalpha((unsigned char)c)) {
            if (parse_command(p, l, at) < 0)
                goto out;
            li++;
        } else {
            perr(p, l->no, (unsigned)at + 1, "unexpected '%c' at the start of a line", c);
            goto out;
        }
    }
    if (p->mods.given) {
        perr(p, p->mods.line, 1, "'with' is not followed by a step");
        goto out;
    }
    if (p->split_pending) {
        perr(p, p->split_line, 1, ">split is not followed by something to send");
        goto out;
    }
    if (p->pipeline_left) {
        perr(p, p->pipeline_line, 1, ">pipeline: %u more message%s expected before the end", p->pipeline_left,
             p->pipeline_left == 1 ? "" : "s");
        goto out;
    }
    if (sc->n_steps == 0) {
        perr(p, nlines ? (unsigned)nlines : 1, 1, "the scenario has no steps");
        goto out;
    }
    if (p->dialect_given && (sc->profile != SCENARIO_PROFILE_LAB || sc->role != SCENARIO_ROLE_SERVER)) {
        perr(p, sc->dialect_line, sc->dialect_column,
             "@dialect needs @profile lab and @role server (it says how the harness writes lab requests)");
        goto out;
    }
    rc = 0;
out:
    free(lines);
    free(p);
    if (rc < 0)
        scenario_free(sc);
    return rc;
}

/* The request dialect of a lab scenario, looked up from the file's own directory. */
static int load_dialect(const char *path, struct scenario *sc, char *err, size_t cap)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    char derr[512];
    const char *name = sc->dialect_name[0] ? sc->dialect_name : "lab";
    if (dialect_load(name, dir, &sc->dialect, derr, sizeof derr) == 0)
        return 0;
    snprintf(err, cap, "%s:%u:%u: %s%s: %s", path, sc->dialect_line ? sc->dialect_line : 1,
             sc->dialect_column ? sc->dialect_column : 1, sc->dialect_name[0] ? "@dialect " : "dialect ",
             name, derr);
    scenario_free(sc);
    return -1;
}

int scenario_parse_file(const char *path, struct scenario *sc, char *err, size_t cap)
{
    memset(sc, 0, sizeof *sc);
    char *buf;
    size_t n;
    if (wire_read_file(path, SCENARIO_MAX_FILE_BYTES, &buf, &n, err, cap) != 0)
        return -1;
    int rc = scenario_parse_buffer(path, buf, n, sc, err, cap);
    free(buf);
    if (rc == 0 && sc->profile == SCENARIO_PROFILE_LAB && sc->role == SCENARIO_ROLE_SERVER)
        rc = load_dialect(path, sc, err, cap);
    return rc;
}
