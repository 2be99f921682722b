/* JUnit XML of a run report (report.h), in the dialect Jenkins' junit
 * plugin and GitLab read and docs/junit.xsd describes: one <testsuite> per
 * scenario, one <testcase> per entry of scenario.checks, the failures'
 * evidence (file:line, pcap frame, the RTSP exchange verbatim) as the text
 * of <failure>, the scenario's metrics as <properties>, and the SUT's
 * output tails as <system-out>/<system-err>. */
#include "report.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

struct counts {
    long long tests, failures, errors, skipped;
    double time_s;
};

/* ---- testcases ---- */

static const json_t *scenario_checks(const json_t *sc)
{
    const json_t *checks = json_object_get(sc, "checks");
    return json_is_array(checks) && json_array_size(checks) > 0 ? checks : NULL;
}

/* "fail", "error", "skipped" or "pass" for a check object. */
static const char *check_status(const json_t *check)
{
    return report_str(check, "status", "pass");
}

static void count_check(struct counts *c, const char *status)
{
    c->tests++;
    if (strcmp(status, "fail") == 0)
        c->failures++;
    else if (strcmp(status, "error") == 0)
        c->errors++;
    else if (strcmp(status, "skipped") == 0)
        c->skipped++;
}

/* A scenario without checks (an older report, or one that could not run)
 * is a single testcase "scenario.run" whose outcome is the verdict. */
static const char *fallback_status(const json_t *sc)
{
    const char *v = report_str(sc, "verdict", "error");
    if (strcmp(v, "pass") == 0)
        return "pass";
    if (strcmp(v, "fail") == 0)
        return "fail";
    return "error";
}

static struct counts suite_counts(const json_t *sc)
{
    struct counts c = {0, 0, 0, 0, 0};
    const json_t *checks = scenario_checks(sc);
    if (!checks) {
        count_check(&c, fallback_status(sc));
    } else {
        size_t i;
        const json_t *ch;
        json_array_foreach(checks, i, ch)
        {
            if (json_is_object(ch))
                count_check(&c, check_status(ch));
        }
    }
    double d = report_num(sc, "duration_s", 0);
    c.time_s = d > 0 ? d : 0;
    return c;
}

static void put_time_attr(FILE *out, const char *name, double seconds)
{
    /* xs:decimal (no exponent, never negative) to the microsecond: a
     * step takes well under a millisecond. */
    fprintf(out, " %s=\"%.6f\"", name, seconds > 0 ? seconds : 0.0);
}

static void put_attr(FILE *out, const char *name, const char *value)
{
    fprintf(out, " %s=\"", name);
    report_xml_escape_str(out, value);
    fputc('"', out);
}

/* One failure as a line of evidence, and the exchange it is about. */
static void put_failure_evidence(FILE *out, const json_t *sc, const json_t *f)
{
    const char *file = report_str(sc, "file", report_str(sc, "name", "?"));
    long long line = report_int(f, "line", 0), col = report_int(f, "column", 0);
    report_xml_escape_str(out, file);
    if (line > 0) {
        fprintf(out, ":%lld", line);
        if (col > 0)
            fprintf(out, ":%lld", col);
    }
    fputs(": ", out);
    report_xml_escape_str(out, report_str(f, "check", "?"));
    fputs(": ", out);
    report_xml_escape_str(out, report_str(f, "message", ""));
    const char *pcap = report_str(f, "pcap", NULL);
    long long frame = report_int(f, "frame", 0);
    if (pcap && frame > 0) {
        fputs(" [", out);
        report_xml_escape_str(out, pcap);
        fprintf(out, " frame %lld]", frame);
    }
    fputc('\n', out);
    const char *rfc = report_str(f, "rfc", NULL);
    if (rfc) {
        fputs("  see ", out);
        report_xml_escape_str(out, rfc);
        fputc('\n', out);
    }
    const char *where = report_str(f, "where", NULL);
    if (where) {
        fputs("  where: ", out);
        report_xml_escape_str(out, where);
        fputc('\n', out);
    }
    const json_t *xi = json_object_get(f, "exchange");
    if (!json_is_integer(xi))
        return;
    const json_t *x = json_array_get(json_object_get(sc, "exchanges"), (size_t)json_integer_value(xi));
    if (!json_is_object(x)) {
        fprintf(out, "  (exchange %lld is not in the report)\n", (long long)json_integer_value(xi));
        return;
    }
    const char *req = report_str(x, "request", NULL), *resp = report_str(x, "response", NULL);
    fprintf(out, "--- request (conn %lld, line %lld, at %.6f s)\n", report_int(x, "conn", 0),
            report_int(x, "line", 0), report_num(x, "request_s", 0));
    if (req)
        report_xml_escape_str(out, req);
    else
        fputs("(not recorded)\n", out);
    if (resp) {
        fprintf(out, "--- response (at %.6f s)\n", report_num(x, "response_s", 0));
        report_xml_escape_str(out, resp);
    } else {
        fputs("--- no response\n", out);
    }
}

/* The failures a check lists (indices into scenario.failures), or all of
 * the scenario's when indices is NULL. */
static void put_failures(FILE *out, const json_t *sc, const json_t *indices)
{
    const json_t *fails = json_object_get(sc, "failures");
    size_t n = indices ? json_array_size(indices) : json_array_size(fails);
    for (size_t i = 0; i < n; i++) {
        const json_t *f = json_array_get(fails, i);
        if (indices) {
            const json_t *v = json_array_get(indices, i);
            f = json_is_integer(v) ? json_array_get(fails, (size_t)json_integer_value(v)) : NULL;
        }
        if (json_is_object(f))
            put_failure_evidence(out, sc, f);
    }
}

static void put_scenario_errors(FILE *out, const json_t *sc)
{
    const char *e = report_str(sc, "error", NULL), *ae = report_str(sc, "analysis_error", NULL);
    if (e) {
        fputs("error: ", out);
        report_xml_escape_str(out, e);
        fputc('\n', out);
    }
    if (ae) {
        fputs("analysis error: ", out);
        report_xml_escape_str(out, ae);
        fputc('\n', out);
    }
}

/* The first failure of indices that is in the report (the scenario's
 * first when indices is NULL). */
static const json_t *first_failure(const json_t *sc, const json_t *indices)
{
    const json_t *fails = json_object_get(sc, "failures");
    if (!indices)
        return json_array_get(fails, 0);
    size_t i;
    const json_t *v;
    json_array_foreach(indices, i, v)
    {
        const json_t *f = json_is_integer(v) ? json_array_get(fails, (size_t)json_integer_value(v)) : NULL;
        if (json_is_object(f))
            return f;
    }
    return NULL;
}

/* A testcase for check, or for the scenario as a whole when check is NULL. */
static void put_testcase(FILE *out, const json_t *sc, const json_t *check)
{
    const char *status = check ? check_status(check) : fallback_status(sc);
    /* A check that does not list its failures shows all the scenario's. */
    const json_t *indices = json_object_get(check, "failures");
    if (!json_is_array(indices))
        indices = NULL;
    const char *file = report_str(sc, "file", NULL);
    long long line = check ? report_int(check, "line", 0) : 0;

    fputs("    <testcase", out);
    put_attr(out, "classname", report_str(sc, "name", "?"));
    put_attr(out, "name", check ? report_str(check, "name", report_str(check, "id", "?")) : "scenario.run");
    put_time_attr(out, "time", check ? report_num(check, "time_s", 0) : report_num(sc, "duration_s", 0));
    if (file)
        put_attr(out, "file", file);
    if (line > 0)
        fprintf(out, " line=\"%lld\"", line);

    bool fail = strcmp(status, "fail") == 0, err = strcmp(status, "error") == 0;
    if (strcmp(status, "skipped") == 0) {
        fputs(">\n      <skipped", out);
        put_attr(out, "message", report_str(check, "message", ""));
        fputs("/>\n    </testcase>\n", out);
        return;
    }
    if (!fail && !err) {
        fputs("/>\n", out);
        return;
    }
    const json_t *first = first_failure(sc, indices);
    const char *message = report_str(check, "message", "");
    if (!*message && err)
        message = report_str(sc, "error", report_str(sc, "analysis_error", ""));
    if (!*message)
        message = report_str(first, "message", report_str(check, "description", ""));
    const char *type = report_str(first, "check", report_str(check, "id", "scenario.run"));
    fprintf(out, ">\n      <%s", fail ? "failure" : "error");
    put_attr(out, "message", message);
    put_attr(out, "type", type);
    fputc('>', out);
    put_failures(out, sc, indices);
    /* An error is about the scenario (it could not run, or not be
     * analyzed): say why. */
    if (err)
        put_scenario_errors(out, sc);
    fprintf(out, "</%s>\n    </testcase>\n", fail ? "failure" : "error");
}

/* ---- properties: the scenario's metrics ---- */

/* The member at a dotted path ("impairment.asked.to_sut"), NULL if absent. */
static const json_t *get_path(const json_t *obj, const char *path)
{
    char key[64];
    while (obj && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        obj = json_object_get(obj, key);
        path += n + (path[n] == '.');
    }
    return obj;
}

/* One <property> when v is a string, number or boolean. */
static void put_property(FILE *out, const char *prefix, const char *name, const json_t *v)
{
    if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v))
        return;
    fputs("      <property name=\"", out);
    report_xml_escape_str(out, prefix);
    report_xml_escape_str(out, name);
    fputs("\" value=\"", out);
    if (json_is_string(v))
        report_xml_escape_str(out, json_string_value(v));
    else if (json_is_integer(v))
        fprintf(out, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        fprintf(out, "%.6g", json_real_value(v));
    else
        fputs(json_is_true(v) ? "true" : "false", out);
    fputs("\"/>\n", out);
}

static const char *const scenario_props[] = {
    "verdict",
    "role",
    "profile",
    "run",
    "sut.exit",
    "impairment.backend",
    "impairment.asked.to_sut",
    "impairment.asked.to_peer",
    "impairment.measured.to_sut.sent",
    "impairment.measured.to_sut.lost",
    "impairment.measured.to_sut.loss",
    "impairment.measured.to_sut.delay_ms.p50",
    "impairment.measured.to_sut.delay_ms.p99",
    "impairment.measured.to_peer.sent",
    "impairment.measured.to_peer.lost",
    "impairment.measured.to_peer.loss",
    "impairment.measured.to_peer.delay_ms.p50",
    "impairment.measured.to_peer.delay_ms.p99",
    "baseline_note",
};

static const char *const stream_props[] = {
    "ssrc", "packets", "lost", "loss", "fps", "bitrate_bps", "max_jitter_ms", "interval_ms.p99",
    "frames_complete", "stalls",
};

static void put_metrics(FILE *out, const json_t *sc, const char *prefix)
{
    for (size_t i = 0; i < sizeof scenario_props / sizeof *scenario_props; i++)
        put_property(out, prefix, scenario_props[i], get_path(sc, scenario_props[i]));
    size_t k;
    const json_t *st;
    json_array_foreach(json_object_get(sc, "streams"), k, st)
    {
        for (size_t i = 0; i < sizeof stream_props / sizeof *stream_props; i++) {
            char name[96];
            snprintf(name, sizeof name, "stream.%zu.%s", k, stream_props[i]);
            put_property(out, prefix, name, get_path(st, stream_props[i]));
        }
    }
}

/* ---- suites ---- */

/* run.started as ISO 8601 UTC; empty when the report has no start time. */
static void iso_time(const json_t *run, char *buf, size_t cap)
{
    buf[0] = 0;
    const json_t *v = json_object_get(run, "started");
    if (!json_is_number(v))
        return;
    time_t t = (time_t)json_number_value(v);
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The run a scenario came from: its own in a merged report. */
static const json_t *scenario_run(const json_t *report, const json_t *sc)
{
    const char *name = report_str(sc, "run", NULL);
    size_t i;
    const json_t *r;
    if (name)
        json_array_foreach(json_object_get(json_object_get(report, "run"), "merged_from"), i, r)
        {
            if (strcmp(report_str(r, "name", ""), name) == 0)
                return r;
        }
    return json_object_get(report, "run");
}

static void put_counts(FILE *out, const struct counts *c)
{
    fprintf(out, " tests=\"%lld\" failures=\"%lld\" errors=\"%lld\" skipped=\"%lld\"", c->tests, c->failures,
            c->errors, c->skipped);
    put_time_attr(out, "time", c->time_s);
}

static void put_tail(FILE *out, const char *element, const char *text)
{
    if (!text || !*text)
        return;
    fprintf(out, "    <%s>", element);
    report_xml_escape_str(out, text);
    fprintf(out, "</%s>\n", element);
}

static void put_suite(FILE *out, const json_t *report, const json_t *sc, size_t index)
{
    struct counts c = suite_counts(sc);
    char ts[32];
    iso_time(scenario_run(report, sc), ts, sizeof ts);
    fputs("  <testsuite", out);
    put_attr(out, "name", report_str(sc, "name", "?"));
    put_counts(out, &c);
    if (ts[0])
        put_attr(out, "timestamp", ts);
    fprintf(out, " id=\"%zu\"", index);
    if (report_str(sc, "file", NULL))
        put_attr(out, "file", report_str(sc, "file", NULL));
    fputs(">\n    <properties>\n", out);
    put_metrics(out, sc, "");
    const json_t *base = json_object_get(sc, "baseline");
    if (json_is_object(base))
        put_metrics(out, base, "baseline.");
    fputs("    </properties>\n", out);
    const json_t *checks = scenario_checks(sc);
    if (checks) {
        size_t i;
        const json_t *ch;
        json_array_foreach(checks, i, ch)
        {
            if (json_is_object(ch))
                put_testcase(out, sc, ch);
        }
    } else {
        put_testcase(out, sc, NULL);
    }
    const json_t *sut = json_object_get(sc, "sut");
    put_tail(out, "system-out", report_str(sut, "stdout_tail", NULL));
    put_tail(out, "system-err", report_str(sut, "stderr_tail", NULL));
    fputs("  </testsuite>\n", out);
}

static int put_document(FILE *out, const json_t *report)
{
    const json_t *scenarios = json_object_get(report, "scenarios");
    struct counts total = {0, 0, 0, 0, 0};
    size_t i;
    const json_t *sc;
    json_array_foreach(scenarios, i, sc)
    {
        struct counts c = suite_counts(sc);
        total.tests += c.tests;
        total.failures += c.failures;
        total.errors += c.errors;
        total.skipped += c.skipped;
        total.time_s += c.time_s;
    }
    const json_t *run = json_object_get(report, "run");
    char ts[32];
    iso_time(run, ts, sizeof ts);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rtsp-harness ", out);
    report_xml_escape_str(out, report_str(run, "name", "run"));
    fputc('"', out);
    put_counts(out, &total);
    if (ts[0])
        put_attr(out, "timestamp", ts);
    fputs(">\n", out);
    json_array_foreach(scenarios, i, sc) put_suite(out, report, sc, i);
    fputs("</testsuites>\n", out);
    return 0;
}

int report_junit_write(const json_t *report, const char *path, char *err, size_t cap)
{
    return report_write_atomic(path, put_document, report, err, cap);
}
