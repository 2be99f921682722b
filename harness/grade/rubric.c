/* Rubric files and scoring (rubric.h, docs/grading.md). */
#include "rubric.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "report/report.h"
#include "wire.h"

#define RUBRIC_MAX_FILE (1u << 20)

/* ---- parsing ---- */

struct lexer {
    const char *path;
    const char *line;  /* the current line's start */
    size_t len;        /* its length */
    size_t pos;        /* next byte */
    unsigned lineno;
    char *err;
    size_t cap;
};

static int lex_err(struct lexer *lx, size_t col, const char *what)
{
    return wire_errf(lx->err, lx->cap, "%s:%u:%zu: %s", lx->path, lx->lineno, col + 1, what);
}

static void skip_space(struct lexer *lx)
{
    while (lx->pos < lx->len && (lx->line[lx->pos] == ' ' || lx->line[lx->pos] == '\t'))
        lx->pos++;
}

static bool at_end(struct lexer *lx)
{
    skip_space(lx);
    return lx->pos >= lx->len || lx->line[lx->pos] == '#';
}

/* The next word, or a "quoted string" (with \" and \\ escapes), into out.
 * -1 with an error when there is none or it does not fit. */
static int next_token(struct lexer *lx, char *out, size_t cap, const char *what)
{
    skip_space(lx);
    size_t start = lx->pos;
    if (at_end(lx)) {
        char m[96];
        snprintf(m, sizeof m, "expected %s", what);
        return lex_err(lx, start, m);
    }
    size_t o = 0;
    if (lx->line[lx->pos] == '"') {
        lx->pos++;
        for (;;) {
            if (lx->pos >= lx->len)
                return lex_err(lx, start, "unterminated quoted string");
            char c = lx->line[lx->pos++];
            if (c == '"')
                break;
            if (c == '\\' && lx->pos < lx->len && (lx->line[lx->pos] == '"' || lx->line[lx->pos] == '\\'))
                c = lx->line[lx->pos++];
            if (o + 1 >= cap) {
                char m[96];
                snprintf(m, sizeof m, "%s is longer than %zu bytes", what, cap - 1);
                return lex_err(lx, start, m);
            }
            out[o++] = c;
        }
    } else {
        while (lx->pos < lx->len && lx->line[lx->pos] != ' ' && lx->line[lx->pos] != '\t') {
            if (o + 1 >= cap) {
                char m[96];
                snprintf(m, sizeof m, "%s is longer than %zu bytes", what, cap - 1);
                return lex_err(lx, start, m);
            }
            out[o++] = lx->line[lx->pos++];
        }
    }
    out[o] = 0;
    return 0;
}

static int expect_end(struct lexer *lx)
{
    if (!at_end(lx))
        return lex_err(lx, lx->pos, "unexpected text at the end of the line");
    return 0;
}

static int parse_points(struct lexer *lx, double *out)
{
    char tok[32];
    skip_space(lx);
    size_t col = lx->pos;
    if (next_token(lx, tok, sizeof tok, "points") != 0)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    if (*end || end == tok || errno || !isfinite(v) || v < 0 || v > 1000 || tok[0] == '+' || tok[0] == '-')
        return lex_err(lx, col, "points must be a number from 0 to 1000");
    *out = v;
    return 0;
}

/* A check id: lower-case words joined by dots, as in the reports. */
static bool valid_id(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
            return false;
    return s[0] != '.' && s[strlen(s) - 1] != '.';
}

static int parse_cond(struct lexer *lx, struct rubric_cond *c)
{
    memset(c, 0, sizeof *c);
    c->line = lx->lineno;
    char kind[16];
    skip_space(lx);
    size_t kcol = lx->pos;
    if (next_token(lx, kind, sizeof kind, "a condition (passes, ran, clean, header)") != 0)
        return -1;
    if (strcmp(kind, "passes") == 0)
        c->kind = RUBRIC_PASSES;
    else if (strcmp(kind, "ran") == 0)
        c->kind = RUBRIC_RAN;
    else if (strcmp(kind, "clean") == 0)
        c->kind = RUBRIC_CLEAN;
    else if (strcmp(kind, "header") == 0)
        c->kind = RUBRIC_HEADER;
    else
        return lex_err(lx, kcol, "unknown condition (passes, ran, clean, header)");
    if (next_token(lx, c->scenario, sizeof c->scenario, "a scenario name or *") != 0)
        return -1;
    if (c->kind == RUBRIC_CLEAN) {
        char list[RUBRIC_MAX_IDS * 48];
        skip_space(lx);
        size_t col = lx->pos;
        if (next_token(lx, list, sizeof list, "check ids") != 0)
            return -1;
        char *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (c->n_ids >= RUBRIC_MAX_IDS)
                return lex_err(lx, col, "at most 8 check ids in one condition");
            if (!valid_id(t) || strlen(t) >= sizeof c->ids[0])
                return lex_err(lx, col, "a check id is lower-case words joined by dots (rtsp.cseq.echo)");
            snprintf(c->ids[c->n_ids++], sizeof c->ids[0], "%s", t);
        }
        if (c->n_ids == 0)
            return lex_err(lx, col, "expected check ids");
        if (!at_end(lx)) {
            char word[16];
            skip_space(lx);
            size_t mcol = lx->pos;
            if (next_token(lx, word, sizeof word, "method") != 0)
                return -1;
            if (strcmp(word, "method") != 0)
                return lex_err(lx, mcol, "expected `method METHOD` or the end of the line");
            if (next_token(lx, c->method, sizeof c->method, "a method") != 0)
                return -1;
        }
    } else if (c->kind == RUBRIC_HEADER) {
        if (next_token(lx, c->method, sizeof c->method, "a method") != 0)
            return -1;
        skip_space(lx);
        size_t rcol = lx->pos;
        if (next_token(lx, c->regex, sizeof c->regex, "a regular expression") != 0)
            return -1;
        const char *budget = wire_regex_budget(c->regex, strlen(c->regex));
        if (budget)
            return lex_err(lx, rcol, budget);
        regex_t re;
        if (regcomp(&re, c->regex, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0)
            return lex_err(lx, rcol, "not a valid POSIX extended regular expression");
        regfree(&re);
    }
    return expect_end(lx);
}

/* "base/rel" unless rel is absolute. */
static void resolve(const char *base_file, const char *rel, char *out, size_t cap)
{
    if (rel[0] == '/') {
        snprintf(out, cap, "%s", rel);
        return;
    }
    const char *slash = strrchr(base_file, '/');
    if (!slash)
        snprintf(out, cap, "%s", rel);
    else
        snprintf(out, cap, "%.*s/%s", (int)(slash - base_file), base_file, rel);
}

/* Length of the valid UTF-8 prefix of s (n when all of it is): titles,
 * hints and ids go into JSON, and jansson refuses anything else (the item
 * would silently drop out of the grade). Overlong forms, surrogates and
 * code points above U+10FFFF are invalid. */
static size_t utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || i + len > n)
            return i;
        unsigned cp = len == 1 ? c : c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        static const unsigned min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += len;
    }
    return n;
}

int rubric_parse(const char *text, size_t len, const char *path, struct rubric *r, char *err, size_t cap)
{
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    struct lexer lx = {.path = path, .err = err, .cap = cap};
    struct rubric_item *it = NULL;
    size_t off = 0;
    while (off < len) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
        lx.line = text + off;
        lx.len = n && lx.line[n - 1] == '\r' ? n - 1 : n;
        lx.pos = 0;
        lx.lineno++;
        off += n + (nl ? 1 : 0);
        if (memchr(lx.line, 0, lx.len))
            return lex_err(&lx, (size_t)((const char *)memchr(lx.line, 0, lx.len) - lx.line), "a NUL byte");
        size_t valid = utf8_valid_prefix(lx.line, lx.len);
        if (valid < lx.len)
            return lex_err(&lx, valid, "not UTF-8 text");
        bool indented = lx.len && (lx.line[0] == ' ' || lx.line[0] == '\t');
        if (at_end(&lx))
            continue;
        char word[32];
        size_t wcol = lx.pos;
        if (next_token(&lx, word, sizeof word, "a keyword") != 0)
            return -1;
        if (!indented) {
            it = NULL;
            if (strcmp(word, "@name") == 0) {
                if (next_token(&lx, r->name, sizeof r->name, "a name") != 0 || expect_end(&lx) != 0)
                    return -1;
            } else if (strcmp(word, "@suite") == 0) {
                char rel[400];
                if (r->n_suite >= RUBRIC_MAX_SUITE)
                    return lex_err(&lx, wcol, "at most 16 @suite entries");
                if (next_token(&lx, rel, sizeof rel, "a scenario file or folder") != 0 || expect_end(&lx) != 0)
                    return -1;
                resolve(path, rel, r->suite[r->n_suite], sizeof r->suite[0]);
                r->n_suite++;
            } else if (strcmp(word, "@probe") == 0) {
                char rel[400];
                if (next_token(&lx, rel, sizeof rel, "the probe scenario") != 0 || expect_end(&lx) != 0)
                    return -1;
                resolve(path, rel, r->probe, sizeof r->probe);
            } else if (strcmp(word, "@dialects") == 0) {
                while (!at_end(&lx)) {
                    skip_space(&lx);
                    size_t col = lx.pos;
                    if (r->n_dialects >= RUBRIC_MAX_DIALECTS)
                        return lex_err(&lx, col, "at most 8 dialects");
                    if (next_token(&lx, r->dialects[r->n_dialects], sizeof r->dialects[0], "a dialect") != 0)
                        return -1;
                    r->n_dialects++;
                }
                if (r->n_dialects == 0)
                    return lex_err(&lx, lx.pos, "expected dialect names");
            } else if (strcmp(word, "@movie") == 0) {
                while (!at_end(&lx)) {
                    skip_space(&lx);
                    size_t col = lx.pos;
                    if (r->n_movie_args >= RUBRIC_MAX_MOVIE_ARGS)
                        return lex_err(&lx, col, "at most 12 words after @movie");
                    char *arg = r->movie_store[r->n_movie_args];
                    if (next_token(&lx, arg, sizeof r->movie_store[0], "a fixture option") != 0)
                        return -1;
                    if (strcmp(arg, "--out") == 0 || strcmp(arg, "--verify") == 0)
                        return lex_err(&lx, col, "@movie takes fixture options other than --out and --verify");
                    r->movie_args[r->n_movie_args] = arg;
                    r->n_movie_args++;
                }
            } else if (strcmp(word, "item") == 0) {
                if (r->n_items >= RUBRIC_MAX_ITEMS)
                    return lex_err(&lx, wcol, "at most 64 items");
                it = &r->items[r->n_items];
                memset(it, 0, sizeof *it);
                it->line = lx.lineno;
                skip_space(&lx);
                size_t icol = lx.pos;
                if (next_token(&lx, it->id, sizeof it->id, "an item id") != 0)
                    return -1;
                if (!valid_id(it->id))
                    return lex_err(&lx, icol, "an item id is lower-case words joined by dots or dashes");
                for (size_t k = 0; k < r->n_items; k++)
                    if (strcmp(r->items[k].id, it->id) == 0) {
                        char m[160];
                        snprintf(m, sizeof m, "item %s is already defined on line %u", it->id, r->items[k].line);
                        return lex_err(&lx, icol, m);
                    }
                if (parse_points(&lx, &it->points) != 0 ||
                    next_token(&lx, it->title, sizeof it->title, "the item's title") != 0 || expect_end(&lx) != 0)
                    return -1;
                r->n_items++;
            } else
                return lex_err(&lx, wcol,
                               "expected @name, @suite, @probe, @dialects, @movie or item (item lines are indented)");
            continue;
        }
        if (!it)
            return lex_err(&lx, wcol, "an indented line belongs to an item");
        if (strcmp(word, "when") == 0) {
            if (it->n_when >= RUBRIC_MAX_CONDS)
                return lex_err(&lx, wcol, "at most 8 when lines per item");
            if (parse_cond(&lx, &it->when[it->n_when]) != 0)
                return -1;
            it->n_when++;
        } else if (strcmp(word, "partial") == 0) {
            if (it->n_partial >= RUBRIC_MAX_CONDS)
                return lex_err(&lx, wcol, "at most 8 partial lines per item");
            struct rubric_partial *p = &it->partial[it->n_partial];
            skip_space(&lx);
            size_t pcol = lx.pos;
            if (parse_points(&lx, &p->points) != 0)
                return -1;
            if (p->points > it->points)
                return lex_err(&lx, pcol, "partial credit above the item's points");
            char w[8];
            skip_space(&lx);
            size_t col = lx.pos;
            if (next_token(&lx, w, sizeof w, "when") != 0)
                return -1;
            if (strcmp(w, "when") != 0)
                return lex_err(&lx, col, "expected `when` after the partial points");
            if (parse_cond(&lx, &p->cond) != 0)
                return -1;
            it->n_partial++;
        } else if (strcmp(word, "hint") == 0) {
            if (next_token(&lx, it->hint, sizeof it->hint, "the hint") != 0 || expect_end(&lx) != 0)
                return -1;
        } else if (strcmp(word, "rfc") == 0) {
            if (next_token(&lx, it->rfc, sizeof it->rfc, "the RFC section") != 0 || expect_end(&lx) != 0)
                return -1;
        } else if (strcmp(word, "bonus") == 0) {
            if (expect_end(&lx) != 0)
                return -1;
            it->bonus = true;
        } else
            return lex_err(&lx, wcol, "expected when, partial, hint, rfc or bonus");
    }
    if (r->n_items == 0)
        return wire_errf(err, cap, "%s: no items", path);
    for (size_t k = 0; k < r->n_items; k++) {
        const struct rubric_item *i = &r->items[k];
        if (i->n_when == 0)
            return wire_errf(err, cap, "%s:%u: item %s has no `when` condition", path, i->line, i->id);
        if (i->bonus)
            r->max_bonus += i->points;
        else
            r->max_points += i->points;
    }
    if (r->n_suite == 0)
        return wire_errf(err, cap, "%s: no @suite: which scenarios does the rubric grade?", path);
    if (!r->name[0]) {
        const char *base = strrchr(path, '/');
        snprintf(r->name, sizeof r->name, "%s", base ? base + 1 : path);
    }
    return 0;
}

int rubric_load(const char *path, struct rubric *r, char *err, size_t cap)
{
    char *buf;
    size_t n;
    if (wire_read_file(path, RUBRIC_MAX_FILE, &buf, &n, err, cap) != 0)
        return -1;
    int rc = rubric_parse(buf, n, path, r, err, cap);
    free(buf);
    return rc;
}

/* ---- scoring ---- */

/* The scenario's file stem: "scenarios/lab/01-x.rtsp" -> "01-x". */
static void stem_of(const char *file, char *out, size_t cap)
{
    const char *b = strrchr(file, '/');
    b = b ? b + 1 : file;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".rtsp") == 0)
        n -= 5;
    snprintf(out, cap, "%.*s", (int)n, b);
}

static bool scenario_is(const json_t *sc, const char *name)
{
    if (strcmp(name, "*") == 0)
        return true;
    char stem[256];
    stem_of(report_str(sc, "file", ""), stem, sizeof stem);
    return strcmp(stem, name) == 0;
}

static bool id_matches(const struct rubric_cond *c, const char *id)
{
    for (size_t i = 0; id && i < c->n_ids; i++)
        if (strcmp(c->ids[i], id) == 0)
            return true;
    return false;
}

/* The method of the exchange a failure is about, "" when none. */
static const char *failure_method(const json_t *sc, const json_t *f)
{
    json_t *x = json_object_get(f, "exchange");
    if (!json_is_integer(x))
        return "";
    return report_str(json_array_get(json_object_get(sc, "exchanges"), (size_t)json_integer_value(x)), "method",
                      "");
}

static void add_evidence(json_t *ev, const json_t *sc, const json_t *f)
{
    if (json_array_size(ev) >= 5)
        return;
    char stem[256];
    stem_of(report_str(sc, "file", ""), stem, sizeof stem);
    json_t *e = json_pack("{s:s,s:s,s:s}", "scenario", stem, "check", report_str(f, "check", "?"), "message",
                          report_str(f, "message", ""));
    long long line = report_int(f, "line", 0), frame = report_int(f, "frame", 0);
    if (line > 0)
        json_object_set_new(e, "line", json_integer(line));
    const char *pcap = report_str(f, "pcap", NULL);
    if (pcap && frame > 0) {
        json_object_set_new(e, "pcap", json_string(pcap));
        json_object_set_new(e, "frame", json_integer(frame));
    }
    json_array_append_new(ev, e);
}

/* Whether a reply to method has a header line matching re. */
static bool reply_header(const json_t *sc, const char *method, const regex_t *re)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(sc, "exchanges"), i, x)
    {
        if (strcmp(report_str(x, "method", ""), method) != 0)
            continue;
        const char *resp = report_str(x, "response", NULL);
        if (!resp)
            continue;
        const char *line = strpbrk(resp, "\r\n"); /* headers start after the status line */
        while (line && *line) {
            while (*line == '\r' || *line == '\n')
                line++;
            size_t n = strcspn(line, "\r\n");
            if (n == 0)
                break;
            char buf[512];
            snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf - 1 ? n : sizeof buf - 1), line);
            if (regexec(re, buf, 0, NULL, 0) == 0)
                return true;
            line += n;
        }
    }
    return false;
}

/* Evaluate c on the report; why says what failed; evidence collects the
 * failures that decided it. */
static bool cond_holds(const struct rubric_cond *c, const json_t *report, char *why, size_t cap, json_t *ev)
{
    const json_t *scs = json_object_get(report, "scenarios");
    size_t found = 0;
    size_t i;
    json_t *sc;
    json_array_foreach(scs, i, sc)
    {
        if (!scenario_is(sc, c->scenario))
            continue;
        found++;
        char stem[256];
        stem_of(report_str(sc, "file", ""), stem, sizeof stem);
        const char *verdict = report_str(sc, "verdict", "error");
        if (c->kind != RUBRIC_PASSES && strcmp(verdict, "error") == 0) {
            snprintf(why, cap, "%s did not run: %s", stem, report_str(sc, "error", "an error"));
            return false;
        }
        if (c->kind == RUBRIC_PASSES && strcmp(verdict, "pass") != 0) {
            json_t *f0 = json_array_get(json_object_get(sc, "failures"), 0);
            snprintf(why, cap, "%s: %s", stem,
                     f0 ? report_str(f0, "message", verdict) : report_str(sc, "error", verdict));
            size_t k;
            json_t *f;
            json_array_foreach(json_object_get(sc, "failures"), k, f) add_evidence(ev, sc, f);
            return false;
        }
        if (c->kind == RUBRIC_CLEAN) {
            bool bad = false;
            size_t k;
            json_t *f;
            json_array_foreach(json_object_get(sc, "failures"), k, f)
            {
                if (c->method[0] && strcmp(failure_method(sc, f), c->method) != 0)
                    continue;
                if (!id_matches(c, report_str(f, "check", NULL)))
                    continue;
                if (!bad)
                    snprintf(why, cap, "%s: %s", stem, report_str(f, "message", "failed"));
                bad = true;
                add_evidence(ev, sc, f);
            }
            /* `rtp for` conditions are checks of their own (scenario.rtp.METRIC). */
            json_t *ch;
            json_array_foreach(json_object_get(sc, "checks"), k, ch)
            {
                if (!id_matches(c, report_str(ch, "id", NULL)) || strcmp(report_str(ch, "status", ""), "fail"))
                    continue;
                if (c->method[0] && strcmp(report_str(ch, "method", ""), c->method) != 0)
                    continue;
                if (!bad)
                    snprintf(why, cap, "%s: %s", stem, report_str(ch, "message", "failed"));
                bad = true;
                size_t q;
                json_t *fi;
                json_array_foreach(json_object_get(ch, "failures"), q, fi)
                    add_evidence(ev, sc, json_array_get(json_object_get(sc, "failures"), (size_t)json_integer_value(fi)));
            }
            if (bad)
                return false;
        }
        if (c->kind == RUBRIC_HEADER) {
            regex_t re;
            if (regcomp(&re, c->regex, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0) {
                snprintf(why, cap, "bad regular expression");
                return false;
            }
            bool ok = reply_header(sc, c->method, &re);
            regfree(&re);
            if (!ok) {
                snprintf(why, cap, "%s: no reply to %s has a line matching %s", stem, c->method, c->regex);
                return false;
            }
        }
    }
    if (!found) {
        snprintf(why, cap, "scenario %s was not run", c->scenario);
        return false;
    }
    return true;
}

json_t *rubric_score(const struct rubric *r, const json_t *report, const json_t *extra_failures)
{
    json_t *items = json_array();
    double total = 0, bonus = 0;
    for (size_t k = 0; k < r->n_items; k++) {
        const struct rubric_item *it = &r->items[k];
        json_t *reasons = json_array(), *ev = json_array();
        double got = 0;
        const char *status = "pass";
        const char *pre = json_string_value(json_object_get(extra_failures, it->id));
        if (pre) {
            json_array_append_new(reasons, json_string(pre));
            status = "fail";
        } else {
            bool all = true;
            for (size_t c = 0; c < it->n_when; c++) {
                char why[512] = "";
                if (!cond_holds(&it->when[c], report, why, sizeof why, ev)) {
                    all = false;
                    json_array_append_new(reasons, json_string(why));
                }
            }
            if (all)
                got = it->points;
            else {
                status = "fail";
                for (size_t p = 0; p < it->n_partial; p++) {
                    char why[512] = "";
                    json_t *scratch = json_array();
                    bool ok = cond_holds(&it->partial[p].cond, report, why, sizeof why, scratch);
                    json_decref(scratch);
                    if (ok) {
                        got = it->partial[p].points;
                        status = got > 0 ? "partial" : "fail";
                        break;
                    }
                }
            }
        }
        if (it->bonus)
            bonus += got;
        else
            total += got;
        json_t *j = json_pack("{s:s,s:s,s:f,s:f,s:b,s:s,s:o,s:o}", "id", it->id, "title", it->title, "points", got,
                              "max", it->points, "bonus", it->bonus, "status", status, "reasons", reasons,
                              "evidence", ev);
        if (it->hint[0])
            json_object_set_new(j, "hint", json_string(it->hint));
        if (it->rfc[0])
            json_object_set_new(j, "rfc", json_string(it->rfc));
        json_array_append_new(items, j);
    }
    return json_pack("{s:s,s:f,s:f,s:f,s:f,s:o}", "rubric", r->name, "points", total, "max", r->max_points, "bonus",
                     bonus, "max_bonus", r->max_bonus, "items", items);
}
