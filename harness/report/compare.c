/* `report compare`: the regression check of a run against a stored baseline
 * (report.h, docs/reports.md). Scenarios are paired by file (run+file in
 * merged reports, then name), their verdicts and failing checks compared,
 * and the figures of the streams as received and of the measured one-way
 * delay checked against per-metric tolerances. A figure missing on one
 * side is shown as "-" and is never a regression by itself. The defaults
 * are meant to pass a rerun with the same seed: they allow at least
 * COUNT_FLOOR packets or frames, and a scenario in which the lab itself
 * stalled has only its loss judged. */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

enum metric_id { M_LOSS, M_FPS, M_BITRATE, M_JITTER, M_INTERVAL_P99, M_FRAMES, M_DELAY_P50, M_DELAY_P99, M_COUNT };

/* Figures are compared in the unit of their absolute tolerance (percentage
 * points for loss, bit/s for bitrate, ms for times) and shown in `shown`
 * times that unit. */
static const struct metric {
    const char *name;
    bool higher_worse;
    double dflt;       /* default tolerance */
    bool dflt_relative; /* dflt is a fraction of the base figure */
    double scale;      /* JSON figure -> tolerance unit */
    double shown;      /* tolerance unit -> displayed unit */
    int decimals;
    const char *unit;  /* after a figure */
    const char *dunit; /* after a delta or an absolute tolerance */
} metrics[M_COUNT] = {
    [M_LOSS] = {"loss", true, 1, false, 100, 1, 2, "%", " pp"},
    [M_FPS] = {"fps", false, 0.05, true, 1, 1, 2, " fps", " fps"},
    [M_BITRATE] = {"bitrate", false, 0.10, true, 1, 0.001, 1, " kbit/s", " kbit/s"},
    [M_JITTER] = {"jitter", true, 10, false, 1, 1, 2, " ms", " ms"},
    [M_INTERVAL_P99] = {"interval_p99", true, 25, false, 1, 1, 1, " ms", " ms"},
    [M_FRAMES] = {"frames", false, 0.05, true, 1, 1, 0, "", " frames"},
    [M_DELAY_P50] = {"delay_p50", true, 5, false, 1, 1, 2, " ms", " ms"},
    [M_DELAY_P99] = {"delay_p99", true, 10, false, 1, 1, 2, " ms", " ms"},
};

static int metric_by_name(const char *name, size_t len)
{
    for (int m = 0; m < M_COUNT; m++)
        if (strlen(metrics[m].name) == len && memcmp(metrics[m].name, name, len) == 0)
            return m;
    return -1;
}

int report_tolerance_parse(const char *text, struct report_tolerance *t, char *err, size_t cap)
{
    const char *eq = strchr(text, '=');
    if (!eq)
        return wire_errf(err, cap, "'%s': expected METRIC=VALUE or METRIC=VALUE%%", text);
    int m = metric_by_name(text, (size_t)(eq - text));
    if (m < 0)
        return wire_errf(err, cap,
                         "'%s': unknown metric '%.*s' (loss, fps, bitrate, jitter, interval_p99, frames, "
                         "delay_p50, delay_p99)",
                         text, (int)(eq - text), text);
    const char *v = eq + 1;
    /* Digits only: strtod would also take "inf", "nan", hex and a sign. */
    if (!((*v >= '0' && *v <= '9') || (*v == '.' && v[1] >= '0' && v[1] <= '9')))
        return wire_errf(err, cap, "'%s': '%s' is not a non-negative number", text, v);
    char *end;
    double value = strtod(v, &end);
    bool relative = *end == '%';
    if (relative)
        end++;
    if (*end || end == v || !isfinite(value) || (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')))
        return wire_errf(err, cap, "'%s': '%s' is not a number (METRIC=VALUE or METRIC=VALUE%%)", text, v);
    memset(t, 0, sizeof *t);
    snprintf(t->metric, sizeof t->metric, "%s", metrics[m].name);
    t->value = relative ? value / 100 : value;
    t->relative = relative;
    return 0;
}

/* ---- figures ---- */

static double nested_num(const json_t *obj, const char *key, const char *sub)
{
    return report_num(json_object_get(obj, key), sub, NAN);
}

static double stream_figure(const json_t *s, int m)
{
    switch (m) {
    case M_LOSS: return report_num(s, "loss", NAN);
    case M_FPS: return report_num(s, "fps", NAN);
    case M_BITRATE: return report_num(s, "bitrate_bps", NAN);
    case M_JITTER: return report_num(s, "max_jitter_ms", NAN);
    case M_INTERVAL_P99: return nested_num(s, "interval_ms", "p99");
    case M_FRAMES: return report_num(s, "frames_complete", NAN);
    default: return NAN;
    }
}

static double delay_figure(const json_t *scenario, const char *pct)
{
    const json_t *measured = json_object_get(json_object_get(scenario, "impairment"), "measured");
    return nested_num(json_object_get(measured, "to_peer"), "delay_ms", pct);
}

/* How late the lab's own impairment forwarder ran in this scenario, ms
 * (NAN without one: netem, or no impairment). */
static double lab_late_ms(const json_t *scenario)
{
    const json_t *fw = json_object_get(json_object_get(scenario, "impairment"), "forwarder");
    double a = nested_num(fw, "to_peer", "delay_error_max_us"), b = nested_num(fw, "to_sut", "delay_error_max_us");
    return isnan(a) ? b / 1000 : isnan(b) ? a / 1000 : fmax(a, b) / 1000;
}

/* A forwarder this late means the host stalled the whole lab: the timing
 * of everything in that scenario then says nothing about the SUT (normal
 * runs stay below 2 ms). */
#define LAB_STALL_MS 10.0

/* Defaults that would count a packet or a frame more or less as a
 * regression are widened to this many of them: which packets a short
 * window catches at its edges varies from run to run. */
#define COUNT_FLOOR 2

/* ---- one row per metric ---- */

enum row_status { ST_MISSING, ST_OK, ST_IMPROVED, ST_REGRESSION, ST_UNJUDGED };

struct row {
    char label[48];
    int metric;
    double base, now; /* tolerance unit; NAN when absent */
    char tolerance[40];
    enum row_status status;
};

/* What a row is judged with. */
struct judge {
    struct report_tolerance tol[M_COUNT];
    bool dflt[M_COUNT]; /* tol[m] is the default */
    bool stalled;       /* the lab stalled in BASE or NEW: only loss is judged */
};

struct rows {
    struct row *v;
    size_t n, cap;
    bool oom;
};

static void fmt_tolerance(char *buf, size_t cap, int m, const struct report_tolerance *t)
{
    if (t->relative)
        snprintf(buf, cap, "%g%%", t->value * 100);
    else
        snprintf(buf, cap, "%g%s", t->value * metrics[m].shown, metrics[m].dunit);
}

/* floor: the least a default tolerance allows, in the tolerance unit
 * (floor_text says it in the stream's own terms), or 0. */
static void row_add(struct rows *r, const char *prefix, int m, double base, double now, double floor,
                    const char *floor_text, const struct judge *j)
{
    if (isnan(base) && isnan(now))
        return;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct row *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            r->oom = true;
            return;
        }
        r->v = v;
        r->cap = cap;
    }
    struct row *w = &r->v[r->n++];
    snprintf(w->label, sizeof w->label, "%s%s", prefix, metrics[m].name);
    w->metric = m;
    w->base = base * metrics[m].scale;
    w->now = now * metrics[m].scale;
    fmt_tolerance(w->tolerance, sizeof w->tolerance, m, &j->tol[m]);
    if (isnan(base) || isnan(now)) {
        w->status = ST_MISSING;
        return;
    }
    if (j->stalled && m != M_LOSS) {
        w->status = ST_UNJUDGED;
        return;
    }
    double worse = metrics[m].higher_worse ? w->now - w->base : w->base - w->now;
    double allowed = j->tol[m].relative ? j->tol[m].value * fabs(w->base) : j->tol[m].value;
    if (j->dflt[m] && floor > allowed) {
        allowed = floor;
        snprintf(w->tolerance, sizeof w->tolerance, "%s", floor_text);
    }
    /* Round-off in the figures must not turn "exactly at tolerance" into a regression. */
    double slack = 1e-9 * fmax(1, fabs(w->base));
    if (worse > allowed + slack)
        w->status = ST_REGRESSION;
    else if (-worse > allowed + slack)
        w->status = ST_IMPROVED;
    else
        w->status = ST_OK;
}

static bool row_changed(const struct row *w)
{
    return w->status == ST_MISSING || w->base != w->now;
}

/* ---- output ---- */

#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_ORANGE "\033[33m"
#define C_GREY "\033[90m"
#define C_BOLD "\033[1m"
#define C_RESET "\033[0m"

static const char *verdict_color(const char *v)
{
    if (strcmp(v, "pass") == 0)
        return C_GREEN;
    if (strcmp(v, "fail") == 0)
        return C_RED;
    return C_ORANGE;
}

static void put_colored(FILE *out, bool color, const char *code, const char *text)
{
    if (color)
        fprintf(out, "%s%s%s", code, text, C_RESET);
    else
        fputs(text, out);
}

static void fmt_figure(char *buf, size_t cap, int m, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.*f%s", metrics[m].decimals, v * metrics[m].shown, metrics[m].unit);
}

static void fmt_delta(char *buf, size_t cap, const struct row *w)
{
    const struct metric *mt = &metrics[w->metric];
    if (w->status == ST_MISSING) {
        snprintf(buf, cap, "-");
        return;
    }
    double d = w->now - w->base;
    /* A change that rounds to nothing is shown as +0, not -0. */
    if (fabs(d * mt->shown) < 0.5 * pow(10, -mt->decimals))
        d = 0;
    int n = snprintf(buf, cap, "%+.*f%s", mt->decimals, d * mt->shown, mt->dunit);
    /* Figures whose tolerance is relative by default also get the change in percent. */
    if (mt->dflt_relative && w->base != 0 && n > 0 && (size_t)n < cap) {
        double pct = 100 * d / fabs(w->base);
        if (fabs(pct) < 0.05)
            snprintf(buf + n, cap - (size_t)n, d == 0 ? " (+0.0%%)" : " (~0%%)");
        else
            snprintf(buf + n, cap - (size_t)n, " (%+.1f%%)", pct);
    }
}

static const char *status_text(enum row_status s)
{
    switch (s) {
    case ST_REGRESSION: return "REGRESSION";
    case ST_IMPROVED: return "improved";
    case ST_OK: return "ok";
    case ST_UNJUDGED: return "not judged";
    default: return "-";
    }
}

static void print_row(FILE *out, const struct row *w, bool color)
{
    char b[40], n[40], d[64];
    fmt_figure(b, sizeof b, w->metric, w->base);
    fmt_figure(n, sizeof n, w->metric, w->now);
    fmt_delta(d, sizeof d, w);
    fprintf(out, "    %-22s %16s %16s  %-26s %-12s ", w->label, b, n, d, w->tolerance);
    const char *code = w->status == ST_REGRESSION ? C_BOLD C_RED : w->status == ST_IMPROVED ? C_GREEN : C_GREY;
    put_colored(out, color, code, status_text(w->status));
    fputc('\n', out);
}

static void print_scenario_title(FILE *out, const json_t *s, bool color)
{
    const char *run = report_str(s, "run", NULL);
    if (run)
        fprintf(out, "[%s] ", run);
    if (color)
        fputs(C_BOLD, out);
    fprintf(out, "%s", report_str(s, "file", report_str(s, "name", "?")));
    if (color)
        fputs(C_RESET, out);
    const char *name = report_str(s, "name", NULL);
    if (name && strcmp(name, report_str(s, "file", "")) != 0)
        fprintf(out, " (%s)", name);
}

static void print_run(FILE *out, const char *label, const json_t *report, const char *path)
{
    const json_t *run = json_object_get(report, "run");
    fprintf(out, "%s %s: run %s, seed ", label, path ? path : "?", report_str(run, "name", "?"));
    json_t *seed = json_object_get(run, "seed");
    if (json_is_integer(seed))
        fprintf(out, "%lld", (long long)json_integer_value(seed));
    else
        fputs("-", out);
    const char *impair = report_str(run, "impair_default", NULL);
    if (impair)
        fprintf(out, ", impairment \"%s\"\n", impair);
    else
        fputs(", no impairment\n", out);
}

/* ---- failing checks ---- */

static bool has_failing_check(const json_t *s, const char *check, size_t before)
{
    const json_t *fl = json_object_get(s, "failures");
    size_t n = json_is_array(fl) ? json_array_size(fl) : 0;
    for (size_t i = 0; i < n && i < before; i++) {
        const char *c = report_str(json_array_get(fl, i), "check", NULL);
        if (c && strcmp(c, check) == 0)
            return true;
    }
    return false;
}

/* Print the check ids failing in a but not in b (each once), after head;
 * returns how many. */
static size_t print_checks_only_in(FILE *out, const json_t *a, const json_t *b, const char *head, bool print)
{
    const json_t *fl = json_object_get(a, "failures");
    size_t n = json_is_array(fl) ? json_array_size(fl) : 0, shown = 0;
    for (size_t i = 0; i < n; i++) {
        const char *c = report_str(json_array_get(fl, i), "check", NULL);
        if (!c || has_failing_check(a, c, i) || has_failing_check(b, c, SIZE_MAX))
            continue;
        if (print)
            fprintf(out, "%s%s", shown ? ", " : head, c);
        shown++;
    }
    if (print && shown)
        fputc('\n', out);
    return shown;
}

/* ---- streams ---- */

struct ranked {
    const json_t *s;
    long long packets;
    size_t index;
};

static int by_packets_desc(const void *pa, const void *pb)
{
    const struct ranked *a = pa, *b = pb;
    if (a->packets != b->packets)
        return a->packets > b->packets ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* The streams of s, most packets first; NULL (with *n 0) when none. */
static struct ranked *ranked_streams(const json_t *s, size_t *n, bool *oom)
{
    const json_t *arr = json_object_get(s, "streams");
    *n = 0;
    size_t len = json_is_array(arr) ? json_array_size(arr) : 0;
    if (len == 0)
        return NULL;
    struct ranked *r = calloc(len, sizeof *r);
    if (!r) {
        *oom = true;
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        const json_t *st = json_array_get(arr, i);
        if (!json_is_object(st))
            continue;
        r[*n] = (struct ranked){st, report_int(st, "packets", 0), i};
        (*n)++;
    }
    qsort(r, *n, sizeof *r, by_packets_desc);
    return r;
}

/* ---- scenarios ---- */

struct tally {
    size_t regressions;  /* regressed items */
    size_t regressed;    /* scenarios with at least one */
    size_t compared;
    bool oom;
};

static bool is_pass(const char *v) { return strcmp(v, "pass") == 0; }

/* The least loss a default tolerance allows for a stream: COUNT_FLOOR
 * packets of those expected, in percentage points (0 when unknown). */
static double loss_floor(const json_t *st)
{
    double expected = report_num(st, "expected", report_num(st, "packets", 0) + report_num(st, "lost", 0));
    return expected > 0 ? COUNT_FLOOR * 100.0 / expected : 0;
}

static void compare_pair(FILE *out, const json_t *b, const json_t *n, const struct judge *defaults,
                         const struct report_compare_opts *o, struct tally *t)
{
    const char *vb = report_str(b, "verdict", "?"), *vn = report_str(n, "verdict", "?");
    bool verdict_regressed = is_pass(vb) && !is_pass(vn);
    bool verdict_changed = strcmp(vb, vn) != 0;
    /* New failing checks count on their own only when both runs failed:
     * after pass -> fail they are the reasons for the verdict regression,
     * and after an error BASE has no check results to compare with. */
    size_t new_checks = print_checks_only_in(out, n, b, "", false);
    size_t fixed_checks = print_checks_only_in(out, b, n, "", false);
    bool checks_regressed = !verdict_regressed && strcmp(vb, "fail") == 0 && new_checks > 0;

    struct judge j = *defaults;
    double late_b = lab_late_ms(b), late_n = lab_late_ms(n);
    j.stalled = late_b >= LAB_STALL_MS || late_n >= LAB_STALL_MS;

    struct rows rows = {0};
    size_t nb = 0, nn = 0;
    struct ranked *sb = ranked_streams(b, &nb, &rows.oom), *sn = ranked_streams(n, &nn, &rows.oom);
    size_t ns = nb > nn ? nb : nn;
    for (size_t i = 0; i < ns; i++) {
        char prefix[32] = "";
        if (ns > 1)
            snprintf(prefix, sizeof prefix, "stream %zu ", i + 1);
        char floor_text[32];
        snprintf(floor_text, sizeof floor_text, "%d packets", COUNT_FLOOR);
        const json_t *bs = i < nb ? sb[i].s : NULL, *ns_ = i < nn ? sn[i].s : NULL;
        row_add(&rows, prefix, M_LOSS, bs ? stream_figure(bs, M_LOSS) : NAN,
                ns_ ? stream_figure(ns_, M_LOSS) : NAN, loss_floor(bs ? bs : ns_), floor_text, &j);
        for (int m = M_FPS; m < M_FRAMES; m++)
            row_add(&rows, prefix, m, bs ? stream_figure(bs, m) : NAN, ns_ ? stream_figure(ns_, m) : NAN, 0, "",
                    &j);
        snprintf(floor_text, sizeof floor_text, "%d frames", COUNT_FLOOR);
        row_add(&rows, prefix, M_FRAMES, bs ? stream_figure(bs, M_FRAMES) : NAN,
                ns_ ? stream_figure(ns_, M_FRAMES) : NAN, COUNT_FLOOR, floor_text, &j);
    }
    row_add(&rows, "", M_DELAY_P50, delay_figure(b, "p50"), delay_figure(n, "p50"), 0, "", &j);
    row_add(&rows, "", M_DELAY_P99, delay_figure(b, "p99"), delay_figure(n, "p99"), 0, "", &j);
    free(sb);
    free(sn);
    if (rows.oom)
        t->oom = true;

    size_t regressed_rows = 0;
    bool any_delta = verdict_changed || new_checks || fixed_checks || nb != nn;
    for (size_t i = 0; i < rows.n; i++) {
        regressed_rows += rows.v[i].status == ST_REGRESSION;
        any_delta = any_delta || row_changed(&rows.v[i]);
    }
    size_t regressions = regressed_rows + verdict_regressed + checks_regressed;
    t->compared++;
    t->regressions += regressions;
    t->regressed += regressions > 0;

    if (o->quiet ? regressions > 0 : any_delta) {
        print_scenario_title(out, b, o->color);
        fputs(": ", out);
        put_colored(out, o->color, verdict_color(vb), vb);
        if (verdict_changed) {
            fputs(" -> ", out);
            put_colored(out, o->color, verdict_color(vn), vn);
        }
        if (verdict_regressed) {
            fputs("  ", out);
            put_colored(out, o->color, C_BOLD C_RED, "REGRESSION");
        } else if (verdict_changed && is_pass(vn)) {
            fputs("  ", out);
            put_colored(out, o->color, C_GREEN, "improved");
        }
        fputc('\n', out);
        if (!o->quiet || verdict_regressed || checks_regressed)
            print_checks_only_in(out, n, b, checks_regressed ? "  REGRESSION: newly failing checks: "
                                                             : "  newly failing checks: ", true);
        if (!o->quiet)
            print_checks_only_in(out, b, n, "  no longer failing: ", true);
        if (nb != nn && !o->quiet)
            fprintf(out, "  streams: %zu in BASE, %zu in NEW (paired by packet count, most first)\n", nb, nn);
        if (j.stalled && !o->quiet)
            fprintf(out, "  the lab stalled (its impairment forwarder ran up to %.0f ms late in %s): only loss is judged\n",
                    fmax(isnan(late_b) ? 0 : late_b, isnan(late_n) ? 0 : late_n),
                    late_b >= LAB_STALL_MS && late_n >= LAB_STALL_MS ? "both" : late_b >= LAB_STALL_MS ? "BASE" : "NEW");
        if (regressed_rows > 0 || (!o->quiet && rows.n > 0)) {
            if (!o->quiet)
                fprintf(out, "    %-22s %16s %16s  %-26s %s\n", "metric", "base", "new", "delta", "tolerance");
            for (size_t i = 0; i < rows.n; i++)
                if (!o->quiet || rows.v[i].status == ST_REGRESSION)
                    print_row(out, &rows.v[i], o->color);
        }
        fputc('\n', out);
    }
    free(rows.v);
}

/* ---- pairing ---- */

static bool same_str(const json_t *a, const json_t *b, const char *key)
{
    const char *x = report_str(a, key, NULL), *y = report_str(b, key, NULL);
    return x && y && strcmp(x, y) == 0;
}

static bool same_run(const json_t *a, const json_t *b)
{
    return strcmp(report_str(a, "run", ""), report_str(b, "run", "")) == 0;
}

/* pair[i]: the NEW scenario paired with BASE scenario i, or SIZE_MAX.
 * Passes: run tag and file, then file alone (in order of appearance, for
 * merged reports whose jobs were renamed), then name (a scenario file that
 * moved). */
static void pair_scenarios(const json_t *bs, const json_t *ns, size_t *pair, bool *taken)
{
    size_t nb = json_array_size(bs), nn = json_array_size(ns);
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < nb; i++) {
            if (pair[i] != SIZE_MAX)
                continue;
            const json_t *b = json_array_get(bs, i);
            for (size_t j = 0; j < nn; j++) {
                const json_t *n = json_array_get(ns, j);
                if (taken[j])
                    continue;
                bool match = pass == 0   ? same_run(b, n) && same_str(b, n, "file")
                             : pass == 1 ? same_str(b, n, "file")
                                         : same_str(b, n, "name");
                if (match) {
                    pair[i] = j;
                    taken[j] = true;
                    break;
                }
            }
        }
}

int report_compare(FILE *out, const json_t *base, const char *base_name, const json_t *now,
                   const char *now_name, const struct report_compare_opts *o, char *err, size_t cap)
{
    const json_t *bs = json_object_get(base, "scenarios"), *ns = json_object_get(now, "scenarios");
    if (!json_is_array(bs) || !json_is_array(ns)) {
        wire_errf(err, cap, "%s: no \"scenarios\" array",
                  !json_is_array(bs) ? (base_name ? base_name : "BASE") : (now_name ? now_name : "NEW"));
        return 2;
    }

    struct judge judge;
    memset(&judge, 0, sizeof judge);
    for (int m = 0; m < M_COUNT; m++) {
        snprintf(judge.tol[m].metric, sizeof judge.tol[m].metric, "%s", metrics[m].name);
        judge.tol[m].value = metrics[m].dflt;
        judge.tol[m].relative = metrics[m].dflt_relative;
        judge.dflt[m] = true;
    }
    for (size_t i = 0; i < o->n_tol && i < REPORT_MAX_TOLERANCES; i++) {
        int m = metric_by_name(o->tol[i].metric, strlen(o->tol[i].metric));
        if (m < 0) {
            wire_errf(err, cap, "tolerance for unknown metric '%s'", o->tol[i].metric);
            return 2;
        }
        judge.tol[m] = o->tol[i];
        judge.dflt[m] = false;
    }

    size_t nb = json_array_size(bs), nn = json_array_size(ns);
    size_t *pair = malloc((nb ? nb : 1) * sizeof *pair);
    bool *taken = calloc(nn ? nn : 1, sizeof *taken);
    if (!pair || !taken) {
        free(pair);
        free(taken);
        wire_errf(err, cap, "out of memory");
        return 2;
    }
    for (size_t i = 0; i < nb; i++)
        pair[i] = SIZE_MAX;
    pair_scenarios(bs, ns, pair, taken);
    size_t paired = 0;
    for (size_t i = 0; i < nb; i++)
        paired += pair[i] != SIZE_MAX;
    if (paired == 0) {
        free(pair);
        free(taken);
        wire_errf(err, cap, "%s (%zu scenario%s) and %s (%zu scenario%s) have no scenario in common: nothing to compare",
                  base_name ? base_name : "BASE", nb, nb == 1 ? "" : "s", now_name ? now_name : "NEW", nn,
                  nn == 1 ? "" : "s");
        return 2;
    }

    if (!o->quiet) {
        print_run(out, "BASE", base, base_name);
        print_run(out, "NEW ", now, now_name);
        fputc('\n', out);
    }
    struct tally t = {0};
    for (size_t i = 0; i < nb; i++) {
        const json_t *b = json_array_get(bs, i);
        if (pair[i] != SIZE_MAX) {
            compare_pair(out, b, json_array_get(ns, pair[i]), &judge, o, &t);
            continue;
        }
        print_scenario_title(out, b, o->color);
        fprintf(out, ": %s in BASE, missing in NEW  ", report_str(b, "verdict", "?"));
        put_colored(out, o->color, C_BOLD C_RED, "REGRESSION");
        fputs("\n\n", out);
        t.regressions++;
        t.regressed++;
    }
    for (size_t j = 0; j < nn && !o->quiet; j++) {
        if (taken[j])
            continue;
        const json_t *n = json_array_get(ns, j);
        print_scenario_title(out, n, o->color);
        fputs(": new in NEW, ", out);
        const char *v = report_str(n, "verdict", "?");
        put_colored(out, o->color, verdict_color(v), v);
        fputs("\n\n", out);
    }
    free(pair);
    free(taken);
    if (t.oom) {
        wire_errf(err, cap, "out of memory while comparing");
        return 2;
    }

    if (t.regressions) {
        char line[160];
        snprintf(line, sizeof line, "%zu regression%s in %zu scenario%s (%zu compared)", t.regressions,
                 t.regressions == 1 ? "" : "s", t.regressed, t.regressed == 1 ? "" : "s", t.compared);
        put_colored(out, o->color, C_BOLD C_RED, line);
        fputc('\n', out);
        return 1;
    }
    char line[96];
    snprintf(line, sizeof line, "no regression (%zu scenario%s compared)", t.compared, t.compared == 1 ? "" : "s");
    put_colored(out, o->color, C_GREEN, line);
    fputc('\n', out);
    return 0;
}
