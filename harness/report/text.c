/* The terminal summary of a run report (report.h): a table of scenarios
 * with the figures of each one's main stream (and the baseline's beside
 * them), the failures with file:line and check id, and a closing count.
 * `rtsp-harness run` prints it at the end, `rtsp-harness report show` on
 * demand. */
#include "report.h"

#include <math.h>
#include <string.h>

#define NAME_WIDTH 44
#define NAME_TAIL 12 /* code points kept from the end of a cut name */

#define GREEN "\033[32m"
#define RED "\033[31m"
#define YELLOW "\033[33m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

/* Bytes of s that a terminal must not interpret (escape sequences, other
 * controls) are shown as '?': names and messages come from scenario files
 * and from the server under test. */
static void put_clean(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
    }
}

/* Code points in s (UTF-8 continuation bytes do not count). */
static size_t columns(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Byte offset of code point k in s. */
static size_t offset_of(const char *s, size_t k)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80 && k-- == 0)
            break;
    return i;
}

/* s in exactly width columns: padded, or cut in the middle ("head...tail")
 * so that both the start and the distinguishing end stay visible. */
static void put_cell(FILE *out, const char *s, size_t width)
{
    size_t n = columns(s);
    if (n <= width) {
        put_clean(out, s, strlen(s));
        fprintf(out, "%*s", (int)(width - n), "");
        return;
    }
    size_t tail = width > NAME_TAIL + 6 ? NAME_TAIL : 0;
    size_t head = width > tail + 3 ? width - tail - 3 : 0;
    put_clean(out, s, offset_of(s, head));
    fputs("...", out);
    size_t from = offset_of(s, n - tail);
    put_clean(out, s + from, strlen(s + from));
}

static const char *verdict_color(const char *v)
{
    if (strcmp(v, "pass") == 0)
        return GREEN;
    if (strcmp(v, "fail") == 0)
        return RED;
    return YELLOW;
}

/* A figure as text, "-" when absent. */
static void figure(char *buf, size_t cap, double v, int decimals, const char *unit)
{
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.*f%s", decimals, v, unit);
}

static bool any_baseline(const json_t *scenarios)
{
    size_t i;
    const json_t *sc;
    json_array_foreach(scenarios, i, sc)
    {
        if (json_is_object(json_object_get(sc, "baseline")))
            return true;
    }
    return false;
}

/* Width of a column of the scenarios' key (name, or run tag of a merged
 * report): the longest value, at least the heading, at most NAME_WIDTH. 0
 * when no scenario has the key. */
static size_t key_width(const json_t *scenarios, const char *key, const char *heading)
{
    size_t w = 0;
    size_t i;
    const json_t *sc;
    json_array_foreach(scenarios, i, sc)
    {
        const char *v = report_str(sc, key, NULL);
        size_t n = v ? columns(v) : 0;
        if (v && n < strlen(heading))
            n = strlen(heading);
        if (n > w)
            w = n;
    }
    return w < NAME_WIDTH ? w : NAME_WIDTH;
}

static void put_row(FILE *out, const json_t *sc, size_t run_width, size_t width, bool baseline, bool color)
{
    struct report_figures f = report_scenario_figures(sc);
    char loss[24], rate[24], fps[24], jit[24], dur[24];
    figure(loss, sizeof loss, f.loss * 100, 2, "%");
    figure(rate, sizeof rate, f.kbps, 0, "");
    figure(fps, sizeof fps, f.fps, 2, "");
    figure(jit, sizeof jit, f.jitter, 2, "");
    figure(dur, sizeof dur, report_num(sc, "duration_s", NAN), 1, "");
    if (run_width) {
        put_cell(out, report_str(sc, "run", "-"), run_width);
        fputc(' ', out);
    }
    put_cell(out, report_str(sc, "name", "?"), width);
    const char *v = report_str(sc, "verdict", "?");
    fputc(' ', out);
    if (color)
        fputs(verdict_color(v), out);
    put_cell(out, v, 7);
    if (color)
        fputs(RESET, out);
    fprintf(out, " %8s %10s %7s %10s %7s", loss, rate, fps, jit, dur);
    if (baseline) {
        struct report_figures b = report_scenario_figures(json_object_get(sc, "baseline"));
        figure(loss, sizeof loss, b.loss * 100, 2, "%");
        figure(fps, sizeof fps, b.fps, 2, "");
        fprintf(out, " %8s %7s", loss, fps);
    }
    fputc('\n', out);
}

static void put_table(FILE *out, const json_t *scenarios, bool color)
{
    size_t width = key_width(scenarios, "name", "scenario");
    if (width == 0)
        width = strlen("scenario");
    size_t run_width = key_width(scenarios, "run", "run"); /* merged reports */
    bool baseline = any_baseline(scenarios);
    if (run_width) {
        put_cell(out, "run", run_width);
        fputc(' ', out);
    }
    put_cell(out, "scenario", width);
    fprintf(out, " %-7s %8s %10s %7s %10s %7s", "verdict", "loss", "kbit/s", "fps", "jitter ms", "time s");
    if (baseline)
        fprintf(out, " %8s %7s", "ref loss", "ref fps");
    fputc('\n', out);
    size_t i;
    const json_t *sc;
    json_array_foreach(scenarios, i, sc)
    {
        if (json_is_object(sc))
            put_row(out, sc, run_width, width, baseline, color);
    }
}

static void put_failure(FILE *out, const char *run, const char *file, const json_t *f, bool color)
{
    const char *m = report_str(f, "message", "");
    long long line = report_int(f, "line", 0), frame = report_int(f, "frame", 0);
    const char *pcap = report_str(f, "pcap", NULL);
    fputs("  ", out);
    if (run) {
        fputc('[', out);
        put_clean(out, run, strlen(run));
        fputs("] ", out);
    }
    put_clean(out, file, strlen(file));
    /* Analyzer findings about the stream as a whole have no line. */
    if (line > 0)
        fprintf(out, ":%lld", line);
    fprintf(out, ": %s", color ? BOLD : "");
    const char *check = report_str(f, "check", "?");
    put_clean(out, check, strlen(check));
    fprintf(out, "%s: ", color ? RESET : "");
    put_clean(out, m, strlen(m));
    if (pcap && frame > 0) {
        fputs(" [", out);
        put_clean(out, pcap, strlen(pcap));
        fprintf(out, " frame %lld]", frame);
    }
    fputc('\n', out);
}

static void put_error(FILE *out, const char *file, const char *what, const char *text)
{
    fputs("  ", out);
    put_clean(out, file, strlen(file));
    fprintf(out, ": %s: ", what);
    put_clean(out, text, strlen(text));
    fputc('\n', out);
}

void report_text_failures(FILE *out, const json_t *sc, bool color)
{
    const char *file = report_str(sc, "file", report_str(sc, "name", "?"));
    size_t k;
    const json_t *f;
    json_array_foreach(json_object_get(sc, "failures"), k, f)
    {
        if (json_is_object(f))
            put_failure(out, report_str(sc, "run", NULL), file, f, color);
    }
    const char *e = report_str(sc, "error", NULL), *ae = report_str(sc, "analysis_error", NULL);
    if (e)
        put_error(out, file, "error", e);
    if (ae)
        put_error(out, file, "analysis error", ae);
}

void report_text(FILE *out, const json_t *report, const struct report_text_opts *o)
{
    static const struct report_text_opts plain = {false, false};
    if (!o)
        o = &plain;
    const json_t *scenarios = json_object_get(report, "scenarios");
    if (!o->quiet)
        put_table(out, scenarios, o->color);
    size_t si;
    const json_t *scn;
    json_array_foreach(scenarios, si, scn) report_text_failures(out, scn, o->color);
    /* The summary's counts; counted from the verdicts when it lacks them. */
    long long passed = 0, failed = 0, errors = 0;
    size_t i;
    const json_t *sc;
    json_array_foreach(scenarios, i, sc)
    {
        const char *v = report_str(sc, "verdict", "error");
        if (strcmp(v, "pass") == 0)
            passed++;
        else if (strcmp(v, "fail") == 0)
            failed++;
        else
            errors++;
    }
    const json_t *sum = json_object_get(report, "summary");
    fprintf(out, "%lld passed, %lld failed, %lld errors%s\n", report_int(sum, "passed", passed),
            report_int(sum, "failed", failed), report_int(sum, "errors", errors),
            report_bool(sum, "interrupted", false) ? " (interrupted)" : "");
}
