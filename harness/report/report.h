/* Reports of a run, rendered from the canonical JSON (reports/<run>/
 * report.json, schema rtsp-harness/run-report, docs/reports.md): the
 * terminal summary (text.c), JUnit XML (junit.c), one self-contained HTML
 * page with inline SVG plots and frame thumbnails (html.c, svg.c), the
 * comparison of two runs with tolerances (compare.c) and the merge of
 * several runs into one (merge.c). Everything here reads only the JSON, so
 * a report copied to another machine renders the same there. */
#ifndef RTSP_HARNESS_REPORT_H
#define RTSP_HARNESS_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define REPORT_SCHEMA "rtsp-harness/run-report"
#define REPORT_VERSION 1

/* ---- util.c ---- */

/* Read a run report. NULL with err naming the file (and line and column
 * for bad JSON, or the field for a document that is not a run report). */
json_t *report_load(const char *path, char *err, size_t cap);

/* The same checks on a document already in memory; name is used in err. */
int report_check_shape(const json_t *doc, const char *name, char *err, size_t cap);

/* Write path atomically: write(out, doc) (0, or -1 when it failed) into a
 * temporary file beside it, renamed over path when everything was
 * written. 0, or -1 with err. */
int report_write_atomic(const char *path, int (*write)(FILE *out, const json_t *doc), const json_t *doc,
                        char *err, size_t cap);

/* Write JSON the way run does (2-space indent, sorted keys), atomically
 * (a temporary file renamed over path). */
int report_save(const json_t *doc, const char *path, char *err, size_t cap);

/* Field access that tolerates absent and null members. */
const char *report_str(const json_t *obj, const char *key, const char *dflt);
double report_num(const json_t *obj, const char *key, double dflt); /* integer or real; dflt when absent or null */
long long report_int(const json_t *obj, const char *key, long long dflt);
bool report_bool(const json_t *obj, const char *key, bool dflt);

/* A scenario's figures for a summary row, over all its streams as
 * received: loss by packets (the stream's own figure when there is one),
 * bit rates added, the lowest frame rate and the highest jitter (the
 * worst stream decides). have is false without streams; figures absent
 * from every stream are NAN. */
struct report_figures {
    bool have;
    double loss;   /* fraction */
    double kbps;   /* kbit/s */
    double fps;
    double jitter; /* maximum RFC 3550 jitter, ms */
};
struct report_figures report_scenario_figures(const json_t *sc);

/* A JSON string of n bytes of whatever a peer sent: valid UTF-8 kept,
 * every other byte (and NUL) U+FFFD. jansson refuses invalid UTF-8, and a
 * report must still hold the exchange. */
json_t *report_json_text(const char *s, size_t n);

/* Escape s (n bytes) for XML/HTML text and attribute values: & < > " '
 * become entities; bytes that XML 1.0 forbids (controls other than tab,
 * newline and carriage return, and invalid UTF-8) become U+FFFD, so any
 * server's bytes can be shown. */
void report_xml_escape(FILE *out, const char *s, size_t n);
void report_xml_escape_str(FILE *out, const char *s); /* NULL prints nothing */

/* ---- text.c ---- */

struct report_text_opts {
    bool color; /* ANSI colours (callers pass isatty()) */
    bool quiet; /* failures and the closing line only */
};

/* The terminal summary: a table of scenarios (verdict, loss, rate, fps,
 * jitter, time; the baseline's figures beside them when present), the
 * failures with file:line, check id and pcap frame, and a closing line. */
void report_text(FILE *out, const json_t *report, const struct report_text_opts *o);

/* One scenario's failures and errors, a line each, as report_text lists
 * them ("  FILE:LINE: CHECK: MESSAGE [PCAP frame N]"); `run` prints them as
 * each scenario ends. */
void report_text_failures(FILE *out, const json_t *scenario, bool color);

/* ---- junit.c ---- */

/* JUnit XML: a testsuite per scenario, a testcase per check
 * (classname = the scenario, name = the check's name), failures with
 * message and evidence, properties with the metrics. */
int report_junit_write(const json_t *report, const char *path, char *err, size_t cap);

/* ---- html.c ---- */

/* One self-contained page (no network, no external files). */
int report_html_write(const json_t *report, const char *path, char *err, size_t cap);

/* ---- compare.c ---- */

struct report_tolerance {
    char metric[32]; /* loss, fps, bitrate, jitter, interval_p99, delay_p50, delay_p99, frames */
    double value;    /* allowed worsening */
    bool relative;   /* value is a fraction of the base figure (given as N%) */
};

#define REPORT_MAX_TOLERANCES 16

struct report_compare_opts {
    struct report_tolerance tol[REPORT_MAX_TOLERANCES]; /* overrides of the defaults */
    size_t n_tol;
    bool color;
    bool quiet; /* regressions only */
};

/* Parse "metric=VALUE" or "metric=VALUE%" into t. -1 with err. */
int report_tolerance_parse(const char *text, struct report_tolerance *t, char *err, size_t cap);

/* Print metric deltas per scenario and stream to out. Returns 0 when
 * nothing regressed beyond tolerance, 1 when something did, 2 when the two
 * reports cannot be compared (err says why). */
int report_compare(FILE *out, const json_t *base, const char *base_name, const json_t *now,
                   const char *now_name, const struct report_compare_opts *o, char *err, size_t cap);

/* ---- merge.c ---- */

/* One report from several (jobs of a CI matrix): scenarios concatenated
 * and tagged with their run's name, runs listed in merged_from, summary
 * recomputed. NULL with err. */
json_t *report_merge(json_t *const *reports, const char *const *names, size_t n, const char *merged_name,
                     char *err, size_t cap);

/* ---- gradebook.c ---- */

/* dir/gradebook.csv (a row per grade, in submission order; a column per
 * rubric item; total, max, bonus) and dir/class.json (distribution, most
 * common failures, every total) from an array of grades (the `grade` of
 * `rtsp-harness grade`'s reports; docs/grading.md). folder names the
 * class in class.json; may be NULL. */
int report_gradebook_write(const json_t *grades, const char *dir, const char *folder, char *err, size_t cap);

/* ---- writing a run's files (report_cmd.c) ---- */

/* Write dir/report.json, dir/junit.xml and dir/index.html from report.
 * Returns 0, or -1 with err naming what could not be written. */
int report_write_all(const json_t *report, const char *dir, char *err, size_t cap);

#endif
