/* Impairment specifications in netem syntax (see impair.h): the parser, the
 * canonical formatter, the stationary loss rate of each loss model and the
 * exact binomial acceptance interval that scenarios use to judge a measured
 * loss rate without flaking.
 *
 * The grammar and the defaults follow iproute2's tc/q_netem.c, so a line
 * that tc accepts means the same numbers here: bare times are microseconds,
 * bare percentages are percent, bare rates are bits per second, "bps" is
 * bytes per second, "loss gemodel P" defaults to r = 100% - P, 1-h = 100%,
 * 1-k = 0 (iproute2 since 5.1; older versions defaulted r to 100%), and
 * "loss state P13" defaults to p31 = 100% - p13, p32 = 0, p23 = 100%,
 * p14 = 0. Where tc is lax this parser is strict: keywords are not
 * abbreviated, each appears once, and a value that cannot be kept exactly
 * (a percentage finer than 0.0001%, a time finer than a microsecond) is an
 * error rather than silently rounded. */
#include "impair.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- errors -------------------------------------------------------------- */

/* The reason of the last failed parse in this thread; err->reason points
 * here, so it stays valid until the next impair_parse in the same thread. */
static _Thread_local char reason_buf[200];

__attribute__((format(printf, 3, 4))) static int fail(struct wire_error *err, size_t offset,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason_buf, sizeof reason_buf, fmt, ap);
    va_end(ap);
    return wire_fail(err, offset, reason_buf);
}

/* ---- tokens -------------------------------------------------------------- */

/* One whitespace-separated word of the spec. */
struct tok {
    const char *p; /* first byte */
    size_t n;      /* length */
    size_t off;    /* offset in the text */
};

/* Reads words from text[0..len). */
struct lexer {
    const char *text; /* the spec */
    size_t len;       /* its length */
    size_t pos;       /* next byte to look at */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool lex_peek(const struct lexer *lx, struct tok *t)
{
    size_t i = lx->pos;
    while (i < lx->len && is_space(lx->text[i]))
        i++;
    if (i >= lx->len)
        return false;
    size_t j = i;
    while (j < lx->len && !is_space(lx->text[j]))
        j++;
    t->p = lx->text + i;
    t->n = j - i;
    t->off = i;
    return true;
}

static bool lex_next(struct lexer *lx, struct tok *t)
{
    if (!lex_peek(lx, t))
        return false;
    lx->pos = t->off + t->n;
    return true;
}

/* tc's NEXT_IS_NUMBER: the following word starts like a number (tc looks
 * for a digit; a leading '.' is accepted too since ".5%" is a number). */
static bool next_is_number(const struct lexer *lx)
{
    struct tok t;
    return lex_peek(lx, &t) && (is_digit(t.p[0]) || (t.p[0] == '.' && t.n > 1 && is_digit(t.p[1])));
}

/* tc's NEXT_IS_SIGNED_NUMBER, for per-packet and per-cell overheads. */
static bool next_is_signed_number(const struct lexer *lx)
{
    struct tok t;
    if (!lex_peek(lx, &t))
        return false;
    if (t.p[0] == '-')
        return t.n > 1 && is_digit(t.p[1]);
    return is_digit(t.p[0]);
}

static bool tok_is(struct tok t, const char *s)
{
    size_t n = strlen(s);
    return t.n == n && memcmp(t.p, s, n) == 0;
}

static bool tok_caseis(struct tok t, const char *s)
{
    struct wire_str w = {t.p, t.n};
    return wire_str_caseeq(w, s);
}

/* A word made printable for an error message: at most 32 bytes, control
 * and non-ASCII bytes shown as '?'. */
struct quoted {
    char s[40]; /* NUL-terminated */
};

static struct quoted quote(struct tok t)
{
    struct quoted q;
    size_t n = t.n > 32 ? 32 : t.n, k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t.p[i];
        q.s[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (t.n > n) {
        memcpy(q.s + k, "...", 3);
        k += 3;
    }
    q.s[k] = '\0';
    return q;
}

/* ---- numbers ------------------------------------------------------------- */

enum num_rc {
    NUM_OK = 0,
    NUM_NONE,      /* no digits where a number must start */
    NUM_PRECISION, /* more fraction digits than the unit keeps */
    NUM_RANGE,     /* larger than the caller allows */
};

/* Parses a decimal "12", "1.5", ".5" or "3." at the start of t into
 * value * 10^frac_digits exactly (no floating point, so 0.1% is exactly
 * 1000 ppm). *used is the number of bytes read; the rest is the unit. */
static enum num_rc parse_fixed(struct tok t, unsigned frac_digits, unsigned __int128 max,
                               unsigned __int128 *out, size_t *used)
{
    unsigned __int128 v = 0, scale = 1;
    for (unsigned i = 0; i < frac_digits; i++)
        scale *= 10;
    size_t i = 0;
    bool digits = false;
    for (; i < t.n && is_digit(t.p[i]); i++) {
        digits = true;
        v = v * 10 + (unsigned)(t.p[i] - '0');
        if (v > max)
            return NUM_RANGE; /* max is scaled, so the integer part alone exceeding it is enough */
    }
    v *= scale;
    if (i < t.n && t.p[i] == '.') {
        i++;
        unsigned __int128 place = scale;
        for (; i < t.n && is_digit(t.p[i]); i++) {
            digits = true;
            unsigned d = (unsigned)(t.p[i] - '0');
            place /= 10;
            if (place == 0) {
                if (d != 0)
                    return NUM_PRECISION;
                continue;
            }
            v += place * d;
        }
    }
    if (!digits)
        return NUM_NONE;
    if (v > max)
        return NUM_RANGE;
    *out = v;
    *used = i;
    return NUM_OK;
}

/* PERCENT: a number with an optional '%', stored in ppm. what names the
 * value in errors ("loss", "delay correlation"). */
static int parse_percent(struct tok t, const char *what, uint32_t *ppm, struct wire_error *err)
{
    unsigned __int128 v;
    size_t used;
    struct quoted q = quote(t);
    enum num_rc rc = parse_fixed(t, 4, (unsigned __int128)1000 * IMPAIR_PPM, &v, &used);
    if (rc == NUM_NONE)
        return fail(err, t.off, "%s needs a percentage, got '%s'", what, q.s);
    if (rc == NUM_OK && used < t.n && !(t.n - used == 1 && t.p[used] == '%'))
        return fail(err, t.off + used, "%s: '%s' is not a percentage (a number with an optional %%)",
                    what, q.s);
    if (rc == NUM_PRECISION)
        return fail(err, t.off, "%s '%s' is finer than 0.0001%%", what, q.s);
    if (rc == NUM_RANGE || v > IMPAIR_PPM)
        return fail(err, t.off, "%s '%s' is above 100%%", what, q.s);
    *ppm = (uint32_t)v;
    return 0;
}

/* TIME: a number with us/usec/usecs, ms/msec/msecs or s/sec/secs (any
 * case, as tc); a bare number is microseconds. */
static int parse_time(struct tok t, const char *what, uint32_t *us, struct wire_error *err)
{
    unsigned __int128 v;
    size_t used;
    struct quoted q = quote(t);
    /* value * 10^6 in the given unit; 2^32 s is far beyond any useful time */
    enum num_rc rc = parse_fixed(t, 6, (unsigned __int128)UINT32_MAX * 1000000u * 1000000u, &v, &used);
    if (rc == NUM_NONE)
        return fail(err, t.off, "%s needs a time, got '%s'", what, q.s);
    if (rc == NUM_PRECISION)
        return fail(err, t.off, "%s '%s' is finer than a microsecond", what, q.s);
    if (rc == NUM_RANGE)
        return fail(err, t.off, "%s '%s' is too large (at most %u us)", what, q.s, UINT32_MAX);
    struct tok unit = {t.p + used, t.n - used, t.off + used};
    unsigned __int128 mult;
    if (unit.n == 0 || tok_caseis(unit, "us") || tok_caseis(unit, "usec") || tok_caseis(unit, "usecs"))
        mult = 1;
    else if (tok_caseis(unit, "ms") || tok_caseis(unit, "msec") || tok_caseis(unit, "msecs"))
        mult = 1000;
    else if (tok_caseis(unit, "s") || tok_caseis(unit, "sec") || tok_caseis(unit, "secs"))
        mult = 1000000;
    else
        return fail(err, unit.off, "%s: unknown time unit in '%s' (us, ms or s)", what, q.s);
    unsigned __int128 micro = v * mult; /* microseconds * 10^6 */
    if (micro % 1000000u != 0)
        return fail(err, t.off, "%s '%s' is finer than a microsecond", what, q.s);
    micro /= 1000000u;
    if (micro > UINT32_MAX)
        return fail(err, t.off, "%s '%s' is too large (at most %u us)", what, q.s, UINT32_MAX);
    *us = (uint32_t)micro;
    return 0;
}

/* RATE: tc's units. "bit" families count bits, "bps" families bytes; SI
 * prefixes are powers of 1000, IEC ones (kibit, mibps...) powers of 1024;
 * a bare number is bits per second. */
static int parse_rate(struct tok t, uint64_t *bps, struct wire_error *err)
{
    static const struct {
        const char *name;   /* suffix */
        uint64_t bits;      /* bits per second per unit */
    } units[] = {
        {"bit", 1},
        {"kbit", 1000ull},
        {"mbit", 1000000ull},
        {"gbit", 1000000000ull},
        {"tbit", 1000000000000ull},
        {"kibit", 1024ull},
        {"mibit", 1024ull * 1024},
        {"gibit", 1024ull * 1024 * 1024},
        {"tibit", 1024ull * 1024 * 1024 * 1024},
        {"bps", 8},
        {"kbps", 8000ull},
        {"mbps", 8000000ull},
        {"gbps", 8000000000ull},
        {"tbps", 8000000000000ull},
        {"kibps", 8ull * 1024},
        {"mibps", 8ull * 1024 * 1024},
        {"gibps", 8ull * 1024 * 1024 * 1024},
        {"tibps", 8ull * 1024 * 1024 * 1024 * 1024},
    };
    unsigned __int128 v;
    size_t used;
    struct quoted q = quote(t);
    enum num_rc rc = parse_fixed(t, 6, (unsigned __int128)UINT64_MAX * 1000000u, &v, &used);
    if (rc == NUM_NONE)
        return fail(err, t.off, "rate needs a rate such as 2mbit, got '%s'", q.s);
    if (rc == NUM_PRECISION)
        return fail(err, t.off, "rate '%s' has more than 6 decimals", q.s);
    if (rc == NUM_RANGE)
        return fail(err, t.off, "rate '%s' is too large", q.s);
    struct tok unit = {t.p + used, t.n - used, t.off + used};
    uint64_t mult = 0;
    if (unit.n == 0)
        mult = 1;
    for (size_t i = 0; mult == 0 && i < sizeof units / sizeof units[0]; i++)
        if (tok_caseis(unit, units[i].name))
            mult = units[i].bits;
    if (mult == 0)
        return fail(err, unit.off, "rate: unknown unit in '%s' (bit, kbit, mbit, gbit, bps, kbps, mbps, gbps)",
                    q.s);
    unsigned __int128 bits = v * mult; /* bits per second * 10^6 */
    if (bits % 1000000u != 0)
        return fail(err, t.off, "rate '%s' is not a whole number of bits per second", q.s);
    bits /= 1000000u;
    if (bits > UINT64_MAX)
        return fail(err, t.off, "rate '%s' is too large", q.s);
    if (bits == 0)
        return fail(err, t.off, "rate '%s' must be above 0", q.s);
    *bps = (uint64_t)bits;
    return 0;
}

static int parse_u32(struct tok t, const char *what, uint32_t min, uint32_t *out, struct wire_error *err)
{
    uint64_t v;
    struct wire_str w = {t.p, t.n};
    struct quoted q = quote(t);
    if (!wire_parse_u64(w, UINT32_MAX, &v))
        return fail(err, t.off, "%s: '%s' is not a whole number up to %u", what, q.s, UINT32_MAX);
    if (v < min)
        return fail(err, t.off, "%s must be at least %u", what, min);
    *out = (uint32_t)v;
    return 0;
}

static int parse_s32(struct tok t, const char *what, int32_t *out, struct wire_error *err)
{
    uint64_t v;
    bool neg = t.n > 0 && t.p[0] == '-';
    struct wire_str w = {t.p + neg, t.n - neg};
    struct quoted q = quote(t);
    if (!wire_parse_u64(w, (uint64_t)INT32_MAX + neg, &v))
        return fail(err, t.off, "%s: '%s' is not a whole number of bytes", what, q.s);
    *out = neg ? (int32_t)(-(int64_t)v) : (int32_t)v;
    return 0;
}

/* ---- the parser ---------------------------------------------------------- */

enum kw {
    KW_LIMIT,
    KW_DELAY,
    KW_DISTRIBUTION,
    KW_LOSS,
    KW_ECN,
    KW_CORRUPT,
    KW_DUPLICATE,
    KW_REORDER,
    KW_GAP,
    KW_RATE,
    KW_SLOT,
    KW_SEED,
    KW_COUNT,
};

static const char *const kw_names[KW_COUNT] = {
    "limit", "delay", "distribution", "loss", "ecn", "corrupt",
    "duplicate", "reorder", "gap", "rate", "slot", "seed",
};

static const char *const dist_names[] = {"uniform", "normal", "pareto", "paretonormal"};

/* The word after keyword kw, which must exist: "delay needs a time". */
static int need(struct lexer *lx, struct tok kw, const char *what, struct tok *arg, struct wire_error *err)
{
    if (!lex_next(lx, arg))
        return fail(err, kw.off, "%.*s needs %s", (int)kw.n, kw.p, what);
    return 0;
}

/* PERCENT [CORRELATION] after corrupt, duplicate, reorder and loss random. */
static int percent_corr(struct lexer *lx, struct tok kw, const char *what, uint32_t *ppm,
                        uint32_t *corr_ppm, struct wire_error *err)
{
    struct tok t;
    char corr_what[48];
    if (need(lx, kw, "a percentage", &t, err) < 0 || parse_percent(t, what, ppm, err) < 0)
        return WIRE_ERROR;
    if (next_is_number(lx)) {
        lex_next(lx, &t);
        snprintf(corr_what, sizeof corr_what, "%s correlation", what);
        if (parse_percent(t, corr_what, corr_ppm, err) < 0)
            return WIRE_ERROR;
    }
    return 0;
}

static int parse_loss(struct lexer *lx, struct tok kw, struct impair_spec *s, struct wire_error *err)
{
    struct tok t;
    if (need(lx, kw, "random, state, gemodel or a percentage", &t, err) < 0)
        return WIRE_ERROR;
    if (tok_is(t, "random") || is_digit(t.p[0]) || t.p[0] == '.') {
        if (!tok_is(t, "random"))
            lx->pos = t.off; /* tc's older syntax: "loss 5%" is "loss random 5%" */
        s->loss_model = IMPAIR_LOSS_RANDOM;
        return percent_corr(lx, kw, "loss", &s->loss_ppm, &s->loss_corr_ppm, err);
    }
    if (tok_is(t, "gemodel")) {
        static const char *const what[] = {"loss gemodel p", "loss gemodel r", "loss gemodel 1-h",
                                           "loss gemodel 1-k"};
        uint32_t *field[] = {&s->loss_ppm, &s->ge_r_ppm, &s->ge_1h_ppm, &s->ge_1k_ppm};
        s->loss_model = IMPAIR_LOSS_GEMODEL;
        if (need(lx, t, "a percentage p", &t, err) < 0 || parse_percent(t, what[0], &s->loss_ppm, err) < 0)
            return WIRE_ERROR;
        s->ge_r_ppm = IMPAIR_PPM - s->loss_ppm;
        s->ge_1h_ppm = IMPAIR_PPM;
        s->ge_1k_ppm = 0;
        for (int i = 1; i < 4 && next_is_number(lx); i++) {
            lex_next(lx, &t);
            if (parse_percent(t, what[i], field[i], err) < 0)
                return WIRE_ERROR;
        }
        return 0;
    }
    if (tok_is(t, "state")) {
        static const char *const what[] = {"loss state p13", "loss state p31", "loss state p32",
                                           "loss state p23", "loss state p14"};
        uint32_t *field[] = {&s->st_p13_ppm, &s->st_p31_ppm, &s->st_p32_ppm, &s->st_p23_ppm,
                             &s->st_p14_ppm};
        struct tok state = t;
        s->loss_model = IMPAIR_LOSS_STATE;
        if (need(lx, t, "a percentage p13", &t, err) < 0 ||
            parse_percent(t, what[0], &s->st_p13_ppm, err) < 0)
            return WIRE_ERROR;
        s->st_p31_ppm = IMPAIR_PPM - s->st_p13_ppm;
        s->st_p32_ppm = 0;
        s->st_p23_ppm = IMPAIR_PPM;
        s->st_p14_ppm = 0;
        for (int i = 1; i < 5 && next_is_number(lx); i++) {
            lex_next(lx, &t);
            if (parse_percent(t, what[i], field[i], err) < 0)
                return WIRE_ERROR;
        }
        /* The kernel compares one random number against p13 + p14 (and
         * p31 + p32): sums above 100% would make states unreachable. */
        if ((uint64_t)s->st_p13_ppm + s->st_p14_ppm > IMPAIR_PPM)
            return fail(err, state.off, "loss state: p13 + p14 is above 100%%");
        if ((uint64_t)s->st_p31_ppm + s->st_p32_ppm > IMPAIR_PPM)
            return fail(err, state.off, "loss state: p31 + p32 is above 100%%");
        return 0;
    }
    struct quoted q = quote(t);
    return fail(err, t.off, "loss needs random, state, gemodel or a percentage, got '%s'", q.s);
}

static int parse_slot(struct lexer *lx, struct tok kw, struct impair_spec *s, struct wire_error *err)
{
    struct tok t;
    if (need(lx, kw, "a minimum delay", &t, err) < 0 || parse_time(t, "slot minimum delay", &s->slot_min_us, err) < 0)
        return WIRE_ERROR;
    s->slot_max_us = s->slot_min_us;
    if (next_is_number(lx)) {
        lex_next(lx, &t);
        if (parse_time(t, "slot maximum delay", &s->slot_max_us, err) < 0)
            return WIRE_ERROR;
        if (s->slot_max_us < s->slot_min_us)
            return fail(err, t.off, "slot maximum delay is below the minimum delay");
    }
    if (s->slot_max_us == 0)
        return fail(err, kw.off, "slot needs a delay above 0");
    bool packets = false, bytes = false;
    while (lex_peek(lx, &t) && (tok_is(t, "packets") || tok_is(t, "bytes"))) {
        struct tok arg;
        bool is_packets = tok_is(t, "packets");
        bool *seen = is_packets ? &packets : &bytes;
        if (*seen)
            return fail(err, t.off, "slot %s given twice", is_packets ? "packets" : "bytes");
        *seen = true;
        lex_next(lx, &t);
        if (need(lx, t, is_packets ? "a packet count" : "a byte count", &arg, err) < 0)
            return WIRE_ERROR;
        uint32_t v;
        if (parse_u32(arg, is_packets ? "slot packets" : "slot bytes", 1, &v, err) < 0)
            return WIRE_ERROR;
        if (v > INT32_MAX)
            return fail(err, arg.off, "slot %s is above %d", is_packets ? "packets" : "bytes", INT32_MAX);
        if (is_packets)
            s->slot_packets = (int32_t)v;
        else
            s->slot_bytes = (int32_t)v;
    }
    return 0;
}

static int parse_rate_kw(struct lexer *lx, struct tok kw, struct impair_spec *s, struct wire_error *err)
{
    struct tok t;
    if (need(lx, kw, "a rate such as 2mbit", &t, err) < 0 || parse_rate(t, &s->rate_bps, err) < 0)
        return WIRE_ERROR;
    if (next_is_signed_number(lx)) {
        lex_next(lx, &t);
        if (parse_s32(t, "rate packet overhead", &s->rate_packet_overhead, err) < 0)
            return WIRE_ERROR;
        if (next_is_number(lx)) {
            lex_next(lx, &t);
            if (parse_u32(t, "rate cell size", 0, &s->rate_cell_size, err) < 0)
                return WIRE_ERROR;
            if (next_is_signed_number(lx)) {
                lex_next(lx, &t);
                if (parse_s32(t, "rate cell overhead", &s->rate_cell_overhead, err) < 0)
                    return WIRE_ERROR;
            }
        }
    }
    return 0;
}

int impair_parse(const char *text, size_t len, struct impair_spec *out, struct wire_error *err)
{
    struct impair_spec s;
    memset(&s, 0, sizeof s);
    struct lexer lx = {text, text ? len : 0, 0};
    struct tok t, kw_tok[KW_COUNT];
    bool seen[KW_COUNT] = {false};

    if (lex_peek(&lx, &t) && tok_is(t, "none")) {
        lex_next(&lx, &t);
        if (lex_peek(&lx, &t)) {
            struct quoted q = quote(t);
            return fail(err, t.off, "'none' cannot be combined with '%s'", q.s);
        }
        *out = s;
        return 0;
    }
    while (lex_next(&lx, &t)) {
        int k = 0;
        while (k < KW_COUNT && !tok_is(t, kw_names[k]))
            k++;
        if (k == KW_COUNT) {
            struct quoted q = quote(t);
            if (tok_is(t, "none"))
                return fail(err, t.off, "'none' cannot be combined with other keywords");
            return fail(err, t.off, "unknown keyword '%s'", q.s);
        }
        if (seen[k])
            return fail(err, t.off, "'%s' given twice (first at offset %zu)", kw_names[k], kw_tok[k].off);
        seen[k] = true;
        kw_tok[k] = t;
        struct tok a;
        switch ((enum kw)k) {
        case KW_LIMIT:
            if (need(&lx, t, "a packet count", &a, err) < 0 || parse_u32(a, "limit", 1, &s.limit_packets, err) < 0)
                return WIRE_ERROR;
            break;
        case KW_DELAY:
            if (need(&lx, t, "a time", &a, err) < 0 || parse_time(a, "delay", &s.delay_us, err) < 0)
                return WIRE_ERROR;
            if (next_is_number(&lx)) {
                lex_next(&lx, &a);
                if (parse_time(a, "delay jitter", &s.jitter_us, err) < 0)
                    return WIRE_ERROR;
                if (next_is_number(&lx)) {
                    lex_next(&lx, &a);
                    if (parse_percent(a, "delay correlation", &s.delay_corr_ppm, err) < 0)
                        return WIRE_ERROR;
                }
            }
            break;
        case KW_DISTRIBUTION: {
            if (need(&lx, t, "uniform, normal, pareto or paretonormal", &a, err) < 0)
                return WIRE_ERROR;
            size_t d = 0;
            while (d < sizeof dist_names / sizeof dist_names[0] && !tok_is(a, dist_names[d]))
                d++;
            if (d == sizeof dist_names / sizeof dist_names[0]) {
                struct quoted q = quote(a);
                return fail(err, a.off, "unknown distribution '%s' (uniform, normal, pareto or paretonormal)", q.s);
            }
            s.dist = (enum impair_dist)d;
            s.dist_given = true;
            break;
        }
        case KW_LOSS:
            if (parse_loss(&lx, t, &s, err) < 0)
                return WIRE_ERROR;
            break;
        case KW_ECN:
            s.ecn = true;
            break;
        case KW_CORRUPT:
            if (percent_corr(&lx, t, "corrupt", &s.corrupt_ppm, &s.corrupt_corr_ppm, err) < 0)
                return WIRE_ERROR;
            break;
        case KW_DUPLICATE:
            if (percent_corr(&lx, t, "duplicate", &s.duplicate_ppm, &s.duplicate_corr_ppm, err) < 0)
                return WIRE_ERROR;
            break;
        case KW_REORDER:
            if (percent_corr(&lx, t, "reorder", &s.reorder_ppm, &s.reorder_corr_ppm, err) < 0)
                return WIRE_ERROR;
            break;
        case KW_GAP:
            if (need(&lx, t, "a packet distance", &a, err) < 0 || parse_u32(a, "gap", 1, &s.reorder_gap, err) < 0)
                return WIRE_ERROR;
            break;
        case KW_RATE:
            if (parse_rate_kw(&lx, t, &s, err) < 0)
                return WIRE_ERROR;
            break;
        case KW_SLOT:
            if (parse_slot(&lx, t, &s, err) < 0)
                return WIRE_ERROR;
            break;
        case KW_SEED: {
            uint64_t v;
            if (need(&lx, t, "a number", &a, err) < 0)
                return WIRE_ERROR;
            struct wire_str w = {a.p, a.n};
            if (!wire_parse_u64(w, UINT64_MAX, &v)) {
                struct quoted q = quote(a);
                return fail(err, a.off, "seed: '%s' is not a whole number up to 2^64-1", q.s);
            }
            s.seed = v;
            s.seed_given = true;
            break;
        }
        case KW_COUNT:
            break;
        }
    }

    /* The checks tc makes before it talks to the kernel. */
    if (s.reorder_ppm > 0 && s.delay_us == 0)
        return fail(err, kw_tok[KW_REORDER].off,
                    "reorder needs a delay (reordered packets overtake delayed ones)");
    if (seen[KW_GAP] && s.reorder_ppm == 0)
        return fail(err, kw_tok[KW_GAP].off, "gap needs a reorder percentage above 0");
    if (s.ecn && (s.loss_model == IMPAIR_LOSS_NONE || (s.loss_model == IMPAIR_LOSS_RANDOM && s.loss_ppm == 0)))
        return fail(err, kw_tok[KW_ECN].off, "ecn needs a loss model (it marks instead of dropping)");
    if (s.dist_given && (s.delay_us == 0 || s.jitter_us == 0))
        return fail(err, kw_tok[KW_DISTRIBUTION].off, "distribution needs a delay with a jitter");
    *out = s;
    return 0;
}

/* ---- the formatter ------------------------------------------------------- */

/* Appends to a caller's buffer, remembering overflow. */
struct out {
    char *buf;      /* the caller's buffer */
    size_t cap;     /* its size */
    size_t len;     /* bytes written, without the NUL */
    bool overflow;  /* something did not fit */
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    if (o->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    o->len += (size_t)n;
}

static void put_sep(struct out *o)
{
    if (o->len > 0)
        put(o, " ");
}

static void put_percent(struct out *o, uint32_t ppm)
{
    uint32_t whole = ppm / 10000, frac = ppm % 10000;
    if (frac == 0) {
        put(o, " %u%%", whole);
        return;
    }
    char digits[8];
    snprintf(digits, sizeof digits, "%04u", frac);
    size_t n = strlen(digits);
    while (n > 0 && digits[n - 1] == '0')
        n--;
    put(o, " %u.%.*s%%", whole, (int)n, digits);
}

static void put_time(struct out *o, uint32_t us)
{
    if (us != 0 && us % 1000000 == 0)
        put(o, " %us", us / 1000000);
    else if (us != 0 && us % 1000 == 0)
        put(o, " %ums", us / 1000);
    else
        put(o, " %uus", us);
}

static void put_rate(struct out *o, uint64_t bps)
{
    if (bps % 1000000000ull == 0)
        put(o, " %llugbit", (unsigned long long)(bps / 1000000000ull));
    else if (bps % 1000000ull == 0)
        put(o, " %llumbit", (unsigned long long)(bps / 1000000ull));
    else if (bps % 1000ull == 0)
        put(o, " %llukbit", (unsigned long long)(bps / 1000ull));
    else
        put(o, " %llubit", (unsigned long long)bps);
}

/* Trailing optional positional values equal to their defaults are left out,
 * so "loss gemodel 1%" formats as it was written. */
static void put_positional(struct out *o, const uint32_t *v, const uint32_t *dflt, int count)
{
    int last = 0;
    for (int i = 1; i < count; i++)
        if (v[i] != dflt[i])
            last = i;
    for (int i = 0; i <= last; i++)
        put_percent(o, v[i]);
}

int impair_format(const struct impair_spec *s, char *buf, size_t cap)
{
    if (cap == 0)
        return -1;
    struct out o = {buf, cap, 0, false};
    buf[0] = '\0';
    if (s->limit_packets) {
        put_sep(&o);
        put(&o, "limit %u", s->limit_packets);
    }
    if (s->delay_us || s->jitter_us || s->delay_corr_ppm) {
        put_sep(&o);
        put(&o, "delay");
        put_time(&o, s->delay_us);
        if (s->jitter_us || s->delay_corr_ppm) {
            put_time(&o, s->jitter_us);
            if (s->delay_corr_ppm)
                put_percent(&o, s->delay_corr_ppm);
        }
    }
    if (s->dist_given) {
        put_sep(&o);
        put(&o, "distribution %s", dist_names[s->dist <= IMPAIR_DIST_PARETONORMAL ? s->dist : 0]);
    }
    switch (s->loss_model) {
    case IMPAIR_LOSS_NONE:
        break;
    case IMPAIR_LOSS_RANDOM:
        put_sep(&o);
        put(&o, "loss");
        put_percent(&o, s->loss_ppm);
        if (s->loss_corr_ppm)
            put_percent(&o, s->loss_corr_ppm);
        break;
    case IMPAIR_LOSS_GEMODEL: {
        uint32_t v[4] = {s->loss_ppm, s->ge_r_ppm, s->ge_1h_ppm, s->ge_1k_ppm};
        uint32_t d[4] = {s->loss_ppm, IMPAIR_PPM - s->loss_ppm, IMPAIR_PPM, 0};
        put_sep(&o);
        put(&o, "loss gemodel");
        put_positional(&o, v, d, 4);
        break;
    }
    case IMPAIR_LOSS_STATE: {
        uint32_t v[5] = {s->st_p13_ppm, s->st_p31_ppm, s->st_p32_ppm, s->st_p23_ppm, s->st_p14_ppm};
        uint32_t d[5] = {s->st_p13_ppm, IMPAIR_PPM - s->st_p13_ppm, 0, IMPAIR_PPM, 0};
        put_sep(&o);
        put(&o, "loss state");
        put_positional(&o, v, d, 5);
        break;
    }
    }
    if (s->ecn) {
        put_sep(&o);
        put(&o, "ecn");
    }
    const struct {
        const char *name;   /* keyword */
        uint32_t ppm, corr; /* its values */
    } pc[] = {
        {"corrupt", s->corrupt_ppm, s->corrupt_corr_ppm},
        {"duplicate", s->duplicate_ppm, s->duplicate_corr_ppm},
        {"reorder", s->reorder_ppm, s->reorder_corr_ppm},
    };
    for (size_t i = 0; i < sizeof pc / sizeof pc[0]; i++) {
        if (!pc[i].ppm && !pc[i].corr)
            continue;
        put_sep(&o);
        put(&o, "%s", pc[i].name);
        put_percent(&o, pc[i].ppm);
        if (pc[i].corr)
            put_percent(&o, pc[i].corr);
    }
    if (s->reorder_gap) {
        put_sep(&o);
        put(&o, "gap %u", s->reorder_gap);
    }
    if (s->rate_bps) {
        put_sep(&o);
        put(&o, "rate");
        put_rate(&o, s->rate_bps);
        if (s->rate_packet_overhead || s->rate_cell_size || s->rate_cell_overhead) {
            put(&o, " %d", (int)s->rate_packet_overhead);
            if (s->rate_cell_size || s->rate_cell_overhead) {
                put(&o, " %u", s->rate_cell_size);
                if (s->rate_cell_overhead)
                    put(&o, " %d", (int)s->rate_cell_overhead);
            }
        }
    }
    if (s->slot_min_us || s->slot_max_us) {
        put_sep(&o);
        put(&o, "slot");
        put_time(&o, s->slot_min_us);
        if (s->slot_max_us != s->slot_min_us)
            put_time(&o, s->slot_max_us);
        if (s->slot_packets)
            put(&o, " packets %d", (int)s->slot_packets);
        if (s->slot_bytes)
            put(&o, " bytes %d", (int)s->slot_bytes);
    }
    if (s->seed_given) {
        put_sep(&o);
        put(&o, "seed %llu", (unsigned long long)s->seed);
    }
    if (o.overflow || o.len > (size_t)INT32_MAX) {
        buf[0] = '\0';
        return -1;
    }
    return (int)o.len;
}

/* ---- meaning ------------------------------------------------------------- */

static bool loss_is_none(const struct impair_spec *s)
{
    switch (s->loss_model) {
    case IMPAIR_LOSS_NONE:
        return true;
    case IMPAIR_LOSS_RANDOM:
        return s->loss_ppm == 0;
    case IMPAIR_LOSS_GEMODEL:
        /* starts in the good state; never leaves it, never loses there */
        return s->loss_ppm == 0 && s->ge_1k_ppm == 0;
    case IMPAIR_LOSS_STATE:
        /* starts in state 1; leaves it only through p13 or p14 */
        return s->st_p13_ppm == 0 && s->st_p14_ppm == 0;
    }
    return true;
}


int impair_check(const struct impair_spec *s, char *err, size_t cap)
{
    const struct {
        const char *name; /* keyword as in the text */
        uint32_t ppm;     /* value */
    } p[] = {
        {"delay correlation", s->delay_corr_ppm}, {"loss", s->loss_ppm},
        {"loss correlation", s->loss_corr_ppm},   {"gemodel r", s->ge_r_ppm},
        {"gemodel 1-h", s->ge_1h_ppm},            {"gemodel 1-k", s->ge_1k_ppm},
        {"state p13", s->st_p13_ppm},             {"state p31", s->st_p31_ppm},
        {"state p32", s->st_p32_ppm},             {"state p23", s->st_p23_ppm},
        {"state p14", s->st_p14_ppm},             {"corrupt", s->corrupt_ppm},
        {"corrupt correlation", s->corrupt_corr_ppm}, {"duplicate", s->duplicate_ppm},
        {"duplicate correlation", s->duplicate_corr_ppm}, {"reorder", s->reorder_ppm},
        {"reorder correlation", s->reorder_corr_ppm},
    };
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        if (p[i].ppm > IMPAIR_PPM)
            return wire_errf(err, cap, "%s %u ppm is above 100%%", p[i].name, p[i].ppm);
    if ((unsigned)s->dist > IMPAIR_DIST_PARETONORMAL)
        return wire_errf(err, cap, "distribution %u is not a distribution", (unsigned)s->dist);
    if ((unsigned)s->loss_model > IMPAIR_LOSS_GEMODEL)
        return wire_errf(err, cap, "loss model %u is not a loss model", (unsigned)s->loss_model);
    if (s->loss_model == IMPAIR_LOSS_STATE &&
        ((uint64_t)s->st_p13_ppm + s->st_p14_ppm > IMPAIR_PPM ||
         (uint64_t)s->st_p31_ppm + s->st_p32_ppm > IMPAIR_PPM))
        return wire_errf(err, cap, "loss state: p13 + p14 or p31 + p32 is above 100%%");
    if (s->slot_max_us && s->slot_max_us < s->slot_min_us)
        return wire_errf(err, cap, "slot maximum delay %u us is below the minimum delay %u us", s->slot_max_us,
                          s->slot_min_us);
    if (s->slot_packets < 0 || s->slot_bytes < 0)
        return wire_errf(err, cap, "slot packets or bytes is negative");
    return 0;
}

bool impair_is_none(const struct impair_spec *s)
{
    return s->delay_us == 0 && s->jitter_us == 0 && loss_is_none(s) && s->corrupt_ppm == 0 &&
           s->duplicate_ppm == 0 && s->reorder_ppm == 0 && s->rate_bps == 0 && s->slot_min_us == 0 &&
           s->slot_max_us == 0;
}

static double prob(uint32_t ppm) { return (double)ppm / IMPAIR_PPM; }

/* Gilbert-Elliott: two states, good (loss 1-k) and bad (loss 1-h), p the
 * good-to-bad and r the bad-to-good transition probability. The chain
 * starts good, so the degenerate cases are the state it ends up in. */
static double ge_loss(const struct impair_spec *s)
{
    double p = prob(s->loss_ppm), r = prob(s->ge_r_ppm);
    double loss_bad = prob(s->ge_1h_ppm), loss_good = prob(s->ge_1k_ppm);
    if (s->loss_ppm == 0)
        return loss_good;
    if (s->ge_r_ppm == 0)
        return loss_bad;
    double pi_bad = p / (p + r);
    return (1 - pi_bad) * loss_good + pi_bad * loss_bad;
}

/* netem's 4-state model: 1 good reception, 2 good reception within a
 * burst, 3 burst loss, 4 isolated loss; transitions 1->3 p13, 1->4 p14,
 * 3->1 p31, 3->2 p32, 2->3 p23, 4->1 always. Losses are states 3 and 4.
 * Balance: pi4 = p14 pi1, p31 pi3 = p13 pi1, p23 pi2 = p32 pi3. The chain
 * starts in state 1; when it cannot come back there, the long-run rate is
 * that of the closed class it falls into. */
static double state_loss(const struct impair_spec *s)
{
    double p13 = prob(s->st_p13_ppm), p31 = prob(s->st_p31_ppm), p32 = prob(s->st_p32_ppm);
    double p23 = prob(s->st_p23_ppm), p14 = prob(s->st_p14_ppm);
    if (s->st_p13_ppm == 0)
        return p14 / (1 + p14); /* only states 1 and 4 */
    if (s->st_p32_ppm > 0 && s->st_p23_ppm == 0)
        return 0; /* state 2 is reached sooner or later and never left */
    if (s->st_p31_ppm == 0) {
        if (s->st_p32_ppm == 0)
            return 1; /* stuck in the burst */
        return p23 / (p23 + p32); /* between states 2 and 3 forever */
    }
    double pi1 = 1, pi4 = p14, pi3 = p13 / p31, pi2 = s->st_p32_ppm ? p32 * pi3 / p23 : 0;
    return (pi3 + pi4) / (pi1 + pi2 + pi3 + pi4);
}

double impair_expected_loss(const struct impair_spec *s)
{
    switch (s->loss_model) {
    case IMPAIR_LOSS_NONE:
        return 0;
    case IMPAIR_LOSS_RANDOM:
        /* netem's correlation blends the previous random number into the
         * next one; the mean stays p's threshold only without it, so the
         * rate with correlation is p as asked, not as netem delivers. */
        return prob(s->loss_ppm);
    case IMPAIR_LOSS_GEMODEL:
        return ge_loss(s);
    case IMPAIR_LOSS_STATE:
        return state_loss(s);
    }
    return 0;
}

/* ---- the binomial interval ----------------------------------------------- */

static double log_pmf(uint64_t n, uint64_t k, double p)
{
    double dn = (double)n, dk = (double)k;
    return lgamma(dn + 1) - lgamma(dk + 1) - lgamma(dn - dk + 1) + dk * log(p) + (dn - dk) * log1p(-p);
}

/* Below this a probability mass no longer matters: the tail beyond the
 * first such term is a few hundred times smaller still. */
#define PMF_NEGLIGIBLE 1e-30

/* lo = the largest k with P(X < k) <= a, for X ~ Binomial(n, p). Walks from
 * the mode down to where the terms vanish, then sums upward: the work is a
 * few dozen standard deviations, not n. */
static uint64_t lower_bound(uint64_t n, double p, double a, uint64_t mode)
{
    double odds_down = (1 - p) / p; /* pmf(k-1)/pmf(k) = k/(n-k+1) * odds_down */
    uint64_t k = mode;
    double pmf = exp(log_pmf(n, k, p));
    while (k > 0 && pmf > PMF_NEGLIGIBLE) {
        pmf *= (double)k / (double)(n - k + 1) * odds_down;
        k--;
    }
    pmf = exp(log_pmf(n, k, p));
    double below = 0; /* P(X < k) */
    while (k < n && below + pmf <= a) {
        below += pmf;
        pmf *= (double)(n - k) / (double)(k + 1) / odds_down;
        k++;
    }
    return k;
}

/* hi = the smallest k with P(X > k) <= a; the mirror of lower_bound. */
static uint64_t upper_bound(uint64_t n, double p, double a, uint64_t mode)
{
    double odds_up = p / (1 - p); /* pmf(k+1)/pmf(k) = (n-k)/(k+1) * odds_up */
    uint64_t k = mode;
    double pmf = exp(log_pmf(n, k, p));
    while (k < n && pmf > PMF_NEGLIGIBLE) {
        pmf *= (double)(n - k) / (double)(k + 1) * odds_up;
        k++;
    }
    pmf = exp(log_pmf(n, k, p));
    double above = 0; /* P(X > k) */
    while (k > 0 && above + pmf <= a) {
        above += pmf;
        pmf *= (double)k / (double)(n - k + 1) / odds_up;
        k--;
    }
    return k;
}

void impair_binomial_interval(uint64_t n, double p, double confidence, uint64_t *lo, uint64_t *hi)
{
    if (n == 0 || !(p > 0)) {
        *lo = *hi = 0;
        return;
    }
    if (p >= 1) {
        *lo = *hi = n;
        return;
    }
    if (!(confidence < 1)) {
        *lo = 0;
        *hi = n;
        return;
    }
    double a = confidence > 0 ? (1 - confidence) / 2 : 0.5;
    double m = floor(((double)n + 1) * p);
    uint64_t mode = m >= (double)n ? n : (uint64_t)m;
    *lo = lower_bound(n, p, a, mode);
    *hi = upper_bound(n, p, a, mode);
}
