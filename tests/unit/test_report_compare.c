/* Unit tests of harness/report/compare.c (tolerances, the regression check
 * of two run reports) and merge.c (several run reports into one), on
 * reports built inline. */
#include "check.h"
#include "report/report.h"

#include <math.h>

/* One stream as received, with the figures compare reads. */
static json_t *stream(long long packets, double loss, double fps, double bitrate, double jitter, long long frames)
{
    return json_pack("{s:s,s:s,s:b,s:i,s:I,s:I,s:f,s:f,s:f,s:I,s:i,s:f,s:{s:f,s:f,s:f,s:f}}", "src",
                     "198.18.0.1:5000", "dst", "198.18.0.2:6000", "interleaved", 0, "ssrc", 1234, "packets",
                     (json_int_t)packets, "lost", (json_int_t)(packets * loss), "loss", loss, "bitrate_bps", bitrate,
                     "max_jitter_ms", jitter, "frames_complete", (json_int_t)frames, "frames_incomplete", 0, "fps",
                     fps, "interval_ms", "p50", 40.0, "p95", 45.0, "p99", 50.0, "max", 60.0);
}

/* A scenario with streams (stolen) and a one-way delay p50/p99. */
static json_t *scenario(const char *file, const char *verdict, json_t *streams, double delay_p50)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:[],s:{s:s,s:{s:{s:{s:f,s:f}}}},s:f}", "name", file, "file", file,
                     "role", "server", "verdict", verdict, "streams", streams, "failures", "impairment", "backend",
                     "userspace", "measured", "to_peer", "delay_ms", "p50", delay_p50, "p99", delay_p50 + 3, "duration_s",
                     2.5);
}

static void add_failure(json_t *s, const char *check)
{
    json_array_append_new(json_object_get(s, "failures"),
                          json_pack("{s:s,s:s,s:s}", "check", check, "source", "analyzer", "message", "broken"));
}

/* A run report: name, seed, and the scenarios (stolen). */
static json_t *report(const char *name, json_t *scenarios)
{
    size_t n = json_array_size(scenarios), passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = report_str(json_array_get(scenarios, i), "verdict", "");
        passed += strcmp(v, "pass") == 0;
        failed += strcmp(v, "fail") == 0;
    }
    return json_pack("{s:s,s:i,s:{s:s,s:s,s:i,s:s},s:o,s:{s:i,s:i,s:i,s:i,s:i,s:b}}", "schema", REPORT_SCHEMA,
                     "version", REPORT_VERSION, "run", "tool", "rtsp-harness", "name", name, "seed", 7,
                     "impair_default", "loss 1%", "scenarios", scenarios, "summary", "scenarios", (int)n, "ran",
                     (int)n, "passed", (int)passed, "failed", (int)failed, "errors", (int)(n - passed - failed),
                     "interrupted", 0);
}

/* The usual pair of scenarios: one with a stream, one without. */
static json_t *two_scenarios(double loss, double fps, const char *verdict)
{
    return json_pack("[o,o]",
                     scenario("scenarios/a.rtsp", verdict, json_pack("[o]", stream(500, loss, fps, 1e6, 2.0, 100)), 1.0),
                     scenario("scenarios/b.rtsp", "pass", json_array(), 1.0));
}

static char out_buf_text[16384];

/* Run report_compare, keep its output in out_buf_text, return its code. */
static int compare(const json_t *base, const json_t *now, const struct report_compare_opts *o, char *err, size_t cap)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -1;
    struct report_compare_opts dflt = {0};
    int rc = report_compare(f, base, "base.json", now, "new.json", o ? o : &dflt, err, cap);
    fclose(f);
    snprintf(out_buf_text, sizeof out_buf_text, "%s", buf ? buf : "");
    free(buf);
    return rc;
}

/* The output line whose first word (after indentation) is label, or NULL. */
static const char *row(const char *label)
{
    static char line[512];
    const char *p = out_buf_text;
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *q = p;
        while (*q == ' ')
            q++;
        size_t l = strlen(label);
        if ((size_t)(q - p) + l <= n && strncmp(q, label, l) == 0 && q[l] == ' ') {
            snprintf(line, sizeof line, "%.*s", (int)n, p);
            return line;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return NULL;
}

static bool has(const char *s, const char *part) { return s && strstr(s, part) != NULL; }

static void tolerance_parse_accepts_absolute_and_percent(void)
{
    struct report_tolerance t;
    char err[256];
    CHECK_EQ_INT(report_tolerance_parse("loss=2", &t, err, sizeof err), 0);
    CHECK(strcmp(t.metric, "loss") == 0 && t.value == 2 && !t.relative);
    CHECK_EQ_INT(report_tolerance_parse("fps=10%", &t, err, sizeof err), 0);
    CHECK(strcmp(t.metric, "fps") == 0 && fabs(t.value - 0.10) < 1e-12 && t.relative);
    CHECK_EQ_INT(report_tolerance_parse("bitrate=250000", &t, err, sizeof err), 0);
    CHECK(t.value == 250000 && !t.relative);
    CHECK_EQ_INT(report_tolerance_parse("interval_p99=.5", &t, err, sizeof err), 0);
    CHECK(strcmp(t.metric, "interval_p99") == 0 && t.value == 0.5);
    CHECK_EQ_INT(report_tolerance_parse("delay_p99=0", &t, err, sizeof err), 0);
    CHECK(t.value == 0);
    const char *names[] = {"jitter", "frames", "delay_p50"};
    for (size_t i = 0; i < 3; i++) {
        char text[40];
        snprintf(text, sizeof text, "%s=1.5%%", names[i]);
        CHECK_EQ_INT(report_tolerance_parse(text, &t, err, sizeof err), 0);
        CHECK(strcmp(t.metric, names[i]) == 0 && t.relative);
    }
}

static void tolerance_parse_rejects_bad_text_naming_it(void)
{
    struct report_tolerance t;
    char err[256];
    struct {
        const char *text, *says;
    } bad[] = {
        {"speed=1", "unknown metric 'speed'"}, {"loss=abc", "'abc'"}, {"loss", "METRIC=VALUE"},
        {"loss=", "'loss='"},                  {"loss=-1", "'-1'"},   {"loss=1%%", "'1%%'"},
        {"loss=inf", "'inf'"},                 {"fps=1x", "'1x'"},    {"=5", "unknown metric ''"},
        {"jitter=0x10", "'0x10'"},             {"Loss=1", "'Loss'"},  {"fps=nan", "'nan'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECK_EQ_INT(report_tolerance_parse(bad[i].text, &t, err, sizeof err), -1);
        if (!strstr(err, bad[i].says))
            fprintf(stderr, "  %s -> %s\n", bad[i].text, err);
        CHECK(strstr(err, bad[i].says) != NULL);
    }
}

static void identical_reports_pass(void)
{
    json_t *a = report("base", two_scenarios(0.01, 25, "pass"));
    json_t *b = report("new", two_scenarios(0.01, 25, "pass"));
    char err[256] = "";
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 0);
    CHECK(has(out_buf_text, "no regression (2 scenarios compared)"));
    CHECK(!has(out_buf_text, "REGRESSION"));
    /* The header names both runs with seed and impairment. */
    CHECK(has(out_buf_text, "BASE base.json: run base, seed 7, impairment \"loss 1%\""));
    CHECK(has(out_buf_text, "NEW  new.json: run new, seed 7"));
    /* Nothing changed: no scenario block. */
    CHECK(!has(out_buf_text, "scenarios/a.rtsp"));
    json_decref(a);
    json_decref(b);
}

static void loss_from_1_to_10_percent_regresses(void)
{
    json_t *a = report("base", two_scenarios(0.01, 25, "pass"));
    json_t *b = report("new", two_scenarios(0.10, 25, "pass"));
    char err[256] = "";
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 1);
    const char *loss = row("loss");
    CHECK(has(loss, "1.00%") && has(loss, "10.00%") && has(loss, "+9.00 pp") && has(loss, "1 pp"));
    CHECK(has(loss, "REGRESSION"));
    const char *fps = row("fps");
    CHECK(has(fps, " ok") && !has(fps, "REGRESSION"));
    CHECK(has(out_buf_text, "scenarios/a.rtsp: pass\n"));
    CHECK(has(out_buf_text, "1 regression in 1 scenario (2 compared)"));
    /* The improvement the other way round is not a regression. */
    CHECK_EQ_INT(compare(b, a, NULL, err, sizeof err), 0);
    CHECK(has(row("loss"), "-9.00 pp") && has(row("loss"), "improved"));
    json_decref(a);
    json_decref(b);
}

static void small_fps_drop_is_within_default_large_one_is_not(void)
{
    json_t *a = report("base", two_scenarios(0.01, 25, "pass"));
    json_t *b = report("new", two_scenarios(0.01, 24.5, "pass"));
    char err[256] = "";
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 0);
    const char *fps = row("fps");
    CHECK(has(fps, "-0.50 fps (-2.0%)") && has(fps, "5%") && has(fps, " ok"));
    json_decref(b);
    b = report("new", two_scenarios(0.01, 22.5, "pass"));
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 1);
    CHECK(has(row("fps"), "REGRESSION"));
    json_decref(a);
    json_decref(b);
}

static void verdict_pass_to_fail_regresses_and_names_checks(void)
{
    json_t *a = report("base", two_scenarios(0.01, 25, "pass"));
    json_t *scs = two_scenarios(0.01, 25, "fail");
    add_failure(json_array_get(scs, 0), "rtp.seq.gap");
    add_failure(json_array_get(scs, 0), "scenario.rtp.loss");
    add_failure(json_array_get(scs, 0), "rtp.seq.gap");
    json_t *b = report("new", scs);
    char err[256] = "";
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 1);
    CHECK(has(out_buf_text, "scenarios/a.rtsp: pass -> fail  REGRESSION"));
    CHECK(has(out_buf_text, "newly failing checks: rtp.seq.gap, scenario.rtp.loss\n"));
    CHECK(has(out_buf_text, "1 regression in 1 scenario"));
    /* fail -> fail with one more failing check is a regression too. */
    json_t *scs2 = two_scenarios(0.01, 25, "fail");
    add_failure(json_array_get(scs2, 0), "rtp.seq.gap");
    json_t *c = report("older", scs2);
    CHECK_EQ_INT(compare(c, b, NULL, err, sizeof err), 1);
    CHECK(has(out_buf_text, "REGRESSION: newly failing checks: scenario.rtp.loss\n"));
    /* fail -> pass is an improvement. */
    CHECK_EQ_INT(compare(b, a, NULL, err, sizeof err), 0);
    CHECK(has(out_buf_text, "fail -> pass  improved"));
    CHECK(has(out_buf_text, "no longer failing: rtp.seq.gap, scenario.rtp.loss"));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void scenario_missing_in_new_regresses_new_one_does_not(void)
{
    json_t *a = report("base", two_scenarios(0.01, 25, "pass"));
    json_t *scs = two_scenarios(0.01, 25, "pass");
    json_array_remove(scs, 1);
    json_t *b = report("new", scs);
    char err[256] = "";
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 1);
    CHECK(has(out_buf_text, "scenarios/b.rtsp: pass in BASE, missing in NEW  REGRESSION"));
    CHECK(has(out_buf_text, "1 regression in 1 scenario (1 compared)"));
    CHECK_EQ_INT(compare(b, a, NULL, err, sizeof err), 0);
    CHECK(has(out_buf_text, "scenarios/b.rtsp: new in NEW, pass"));
    json_decref(a);
    json_decref(b);
}

static void custom_tolerance_loosens_and_tightens(void)
{
    json_t *a = report("base", two_scenarios(0.01, 25, "pass"));
    json_t *b = report("new", two_scenarios(0.10, 25, "pass"));
    struct report_compare_opts o = {0};
    char err[256] = "";
    CHECK_EQ_INT(report_tolerance_parse("loss=10", &o.tol[0], err, sizeof err), 0);
    o.n_tol = 1;
    CHECK_EQ_INT(compare(a, b, &o, err, sizeof err), 0);
    CHECK(has(row("loss"), "10 pp") && has(row("loss"), " ok"));
    /* Relative: 900% of 1% allows 9 pp exactly, which is not beyond. */
    CHECK_EQ_INT(report_tolerance_parse("loss=900%", &o.tol[0], err, sizeof err), 0);
    CHECK_EQ_INT(compare(a, b, &o, err, sizeof err), 0);
    CHECK_EQ_INT(report_tolerance_parse("loss=800%", &o.tol[0], err, sizeof err), 0);
    CHECK_EQ_INT(compare(a, b, &o, err, sizeof err), 1);
    /* The last tolerance for a metric wins; a tight fps one catches 2%. */
    json_t *c = report("new", two_scenarios(0.01, 24.5, "pass"));
    CHECK_EQ_INT(report_tolerance_parse("fps=1%", &o.tol[0], err, sizeof err), 0);
    CHECK_EQ_INT(report_tolerance_parse("fps=0.1", &o.tol[1], err, sizeof err), 0);
    o.n_tol = 2;
    CHECK_EQ_INT(compare(a, c, &o, err, sizeof err), 1);
    CHECK(has(row("fps"), "0.1 fps") && has(row("fps"), "REGRESSION"));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void no_scenario_in_common_cannot_be_compared(void)
{
    json_t *a = report("base", two_scenarios(0.01, 25, "pass"));
    json_t *b = report("new", json_pack("[o]", scenario("other/x.rtsp", "pass", json_array(), 1.0)));
    char err[256] = "";
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 2);
    CHECK(has(err, "base.json (2 scenarios) and new.json (1 scenario) have no scenario in common"));
    json_t *empty = report("empty", json_array());
    CHECK_EQ_INT(compare(empty, empty, NULL, err, sizeof err), 2);
    json_t *notreport = json_pack("{s:i}", "scenarios", 3);
    CHECK_EQ_INT(compare(notreport, a, NULL, err, sizeof err), 2);
    CHECK(has(err, "base.json: no \"scenarios\" array"));
    json_decref(a);
    json_decref(b);
    json_decref(empty);
    json_decref(notreport);
}

static void missing_figures_show_dash_and_never_regress(void)
{
    json_t *a = report("base", two_scenarios(0.01, 25, "pass"));
    json_t *scs = two_scenarios(0.01, 25, "pass");
    json_t *st = json_array_get(json_object_get(json_array_get(scs, 0), "streams"), 0);
    json_object_del(st, "bitrate_bps");
    json_object_set_new(st, "fps", json_null());
    json_object_set_new(st, "interval_ms", json_null());
    json_object_del(json_array_get(scs, 0), "impairment");
    json_t *b = report("new", scs);
    char err[256] = "";
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 0);
    const char *bitrate = row("bitrate");
    CHECK(has(bitrate, "1000.0 kbit/s") && has(bitrate, " - "));
    CHECK(has(row("fps"), "25.00 fps") && has(row("interval_p99"), "50.0 ms"));
    CHECK(has(row("delay_p50"), "1.00 ms") && has(row("delay_p99"), "4.00 ms"));
    CHECK(!has(out_buf_text, "REGRESSION"));
    json_decref(a);
    json_decref(b);
}

static void wrongly_typed_fields_do_not_crash(void)
{
    json_t *a = report("base", two_scenarios(0.01, 25, "pass"));
    json_t *scs = two_scenarios(0.01, 25, "pass");
    json_t *s0 = json_array_get(scs, 0), *s1 = json_array_get(scs, 1);
    json_object_set_new(s0, "streams", json_pack("[s,i,{s:s,s:s}]", "x", 3, "loss", "high", "fps", "many"));
    json_object_set_new(s0, "failures", json_pack("[s,{s:i}]", "x", "check", 5));
    json_object_set_new(s0, "impairment", json_pack("{s:{s:{s:s}}}", "measured", "to_peer", "delay_ms", "?"));
    json_object_set_new(s1, "verdict", json_integer(3));
    json_object_set_new(s1, "streams", json_string("none"));
    json_object_del(s1, "name");
    json_t *b = report("new", scs);
    json_object_set_new(b, "run", json_string("not an object"));
    char err[256] = "";
    int rc = compare(a, b, NULL, err, sizeof err);
    /* s1's verdict is unreadable: pass -> ? is a regression; the figures of
     * the malformed stream are missing, so they do not count. */
    CHECK_EQ_INT(rc, 1);
    CHECK(has(out_buf_text, "pass -> ?  REGRESSION"));
    CHECK(has(out_buf_text, "run ?, seed -"));
    CHECK(has(out_buf_text, "1 regression in 1 scenario (2 compared)"));
    CHECK_EQ_INT(compare(b, a, NULL, err, sizeof err), 0);
    json_decref(a);
    json_decref(b);
}

static void quiet_shows_regressions_only(void)
{
    json_t *a = report("base", two_scenarios(0.01, 25, "pass"));
    json_t *b = report("new", two_scenarios(0.10, 25, "pass"));
    struct report_compare_opts o = {.quiet = true};
    char err[256] = "";
    CHECK_EQ_INT(compare(a, b, &o, err, sizeof err), 1);
    CHECK(!has(out_buf_text, "BASE") && !has(out_buf_text, " ok") && !has(out_buf_text, "tolerance"));
    CHECK(has(row("loss"), "REGRESSION"));
    CHECK(has(out_buf_text, "1 regression in 1 scenario"));
    CHECK_EQ_INT(compare(a, a, &o, err, sizeof err), 0);
    CHECK(strcmp(out_buf_text, "no regression (2 scenarios compared)\n") == 0);
    /* Colour: the verdict and the regression are coloured, nothing else changes. */
    o.quiet = false;
    o.color = true;
    CHECK_EQ_INT(compare(a, b, &o, err, sizeof err), 1);
    CHECK(has(out_buf_text, "\033[1m\033[31mREGRESSION\033[0m") && has(out_buf_text, "\033[32mpass\033[0m"));
    json_decref(a);
    json_decref(b);
}

static void streams_pair_by_packets_and_counts_are_said(void)
{
    /* BASE lists the small stream first; NEW lost it. */
    json_t *a = report("base", json_pack("[o]", scenario("s.rtsp", "pass",
                                                          json_pack("[o,o]", stream(50, 0, 5, 1e5, 1, 10),
                                                                    stream(500, 0.01, 25, 1e6, 2, 100)),
                                                          1.0)));
    json_t *b = report("new", json_pack("[o]", scenario("s.rtsp", "pass",
                                                         json_pack("[o]", stream(498, 0.012, 25, 1e6, 2, 100)), 1.0)));
    char err[256] = "";
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 0);
    CHECK(has(out_buf_text, "streams: 2 in BASE, 1 in NEW"));
    /* The big stream is paired with NEW's only one. */
    CHECK(has(row("stream 1 loss"), "1.00%") && has(row("stream 1 loss"), "1.20%"));
    CHECK(has(row("stream 2 fps"), "5.00 fps") && has(row("stream 2 fps"), " - "));
    json_decref(a);
    json_decref(b);
}

static void merged_reports_pair_by_run_and_file(void)
{
    /* The same file in two runs of a matrix: pairing must keep them apart. */
    json_t *scs_a = json_pack("[o,o]", scenario("s.rtsp", "pass", json_pack("[o]", stream(500, 0.01, 25, 1e6, 2, 100)), 1),
                              scenario("s.rtsp", "pass", json_pack("[o]", stream(500, 0.10, 25, 1e6, 2, 100)), 1));
    json_object_set_new(json_array_get(scs_a, 0), "run", json_string("clean"));
    json_object_set_new(json_array_get(scs_a, 1), "run", json_string("lossy"));
    json_t *scs_b = json_deep_copy(scs_a);
    /* NEW lists the runs the other way round. */
    json_t *first = json_incref(json_array_get(scs_b, 0));
    json_array_remove(scs_b, 0);
    json_array_append_new(scs_b, first);
    json_t *a = report("base", scs_a), *b = report("new", scs_b);
    char err[256] = "";
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 0);
    CHECK(has(out_buf_text, "no regression (2 scenarios compared)"));
    json_decref(a);
    json_decref(b);
}

static void short_streams_allow_two_packets_or_frames_by_default(void)
{
    /* 122 packets, 20 frames: one packet is 0.82 pp, one frame 5%. */
    json_t *a = report("base", json_pack("[o]", scenario("s.rtsp", "pass",
                                                          json_pack("[o]", stream(122, 0, 20, 1e6, 1, 20)), 1.0)));
    json_t *b = report("new", json_pack("[o]", scenario("s.rtsp", "pass",
                                                         json_pack("[o]", stream(122, 2 / 122.0, 19, 1e6, 1, 18)),
                                                         1.0)));
    json_t *c = report("new", json_pack("[o]", scenario("s.rtsp", "pass",
                                                         json_pack("[o]", stream(122, 3 / 122.0, 19, 1e6, 1, 17)),
                                                         1.0)));
    char err[256] = "";
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 0);
    CHECK(has(row("loss"), "+1.64 pp") && has(row("loss"), "2 packets") && has(row("loss"), " ok"));
    CHECK(has(row("frames"), "-2 frames") && has(row("frames"), "2 frames") && has(row("frames"), " ok"));
    CHECK_EQ_INT(compare(a, c, NULL, err, sizeof err), 1);
    CHECK(has(row("loss"), "REGRESSION") && has(row("frames"), "REGRESSION"));
    /* A tolerance given explicitly is taken as it is. */
    struct report_compare_opts o = {0};
    CHECK_EQ_INT(report_tolerance_parse("loss=1", &o.tol[0], err, sizeof err), 0);
    o.n_tol = 1;
    CHECK_EQ_INT(compare(a, b, &o, err, sizeof err), 1);
    CHECK(has(row("loss"), "1 pp") && has(row("loss"), "REGRESSION"));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void a_stalled_lab_leaves_timing_unjudged(void)
{
    json_t *a = report("base", two_scenarios(0.01, 25, "pass"));
    json_t *scs = json_pack("[o,o]",
                            scenario("scenarios/a.rtsp", "pass",
                                     json_pack("[o]", stream(500, 0.10, 15, 5e5, 40.0, 60)), 150.0),
                            scenario("scenarios/b.rtsp", "pass", json_array(), 1.0));
    json_object_set_new(json_object_get(json_array_get(scs, 0), "impairment"), "forwarder",
                        json_pack("{s:{s:f},s:{s:f}}", "to_peer", "delay_error_max_us", 139282.6, "to_sut",
                                  "delay_error_max_us", 80.0));
    json_t *b = report("new", scs);
    char err[256] = "";
    /* Loss is still judged; everything timed is shown but not judged. */
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 1);
    CHECK(has(out_buf_text, "the lab stalled (its impairment forwarder ran up to 139 ms late in NEW)"));
    CHECK(has(row("loss"), "REGRESSION"));
    const char *timed[] = {"fps", "bitrate", "jitter", "interval_p99", "frames", "delay_p50", "delay_p99"};
    for (size_t i = 0; i < sizeof timed / sizeof timed[0]; i++)
        CHECK(has(row(timed[i]), "not judged"));
    CHECK(has(out_buf_text, "1 regression in 1 scenario"));
    /* A forwarder on time leaves them judged. */
    json_object_set_new(json_object_get(json_object_get(json_object_get(json_array_get(scs, 0), "impairment"),
                                                         "forwarder"),
                                         "to_peer"),
                        "delay_error_max_us", json_real(300));
    CHECK_EQ_INT(compare(a, b, NULL, err, sizeof err), 1);
    CHECK(!has(out_buf_text, "stalled") && has(row("jitter"), "REGRESSION") && has(row("fps"), "REGRESSION"));
    CHECK(has(out_buf_text, "7 regressions in 1 scenario"));
    json_decref(a);
    json_decref(b);
}

/* ---- merge ---- */

static void merge_adds_up_tags_and_does_not_alias(void)
{
    json_t *scs = two_scenarios(0.01, 25, "fail");
    add_failure(json_array_get(scs, 0), "rtp.seq.gap");
    json_t *in[2] = {report("job-a", scs), report("job-b", two_scenarios(0.05, 25, "pass"))};
    json_object_set_new(json_object_get(in[1], "summary"), "interrupted", json_true());
    json_t *before[2] = {json_deep_copy(in[0]), json_deep_copy(in[1])};
    const char *names[2] = {"a/report.json", "b/report.json"};
    char err[256] = "";
    json_t *m = report_merge(in, names, 2, "matrix", err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_EQ_INT(report_check_shape(m, "merged", err, sizeof err), 0);
    json_t *sum = json_object_get(m, "summary");
    CHECK_EQ_INT(report_int(sum, "scenarios", -1), 4);
    CHECK_EQ_INT(report_int(sum, "ran", -1), 4);
    CHECK_EQ_INT(report_int(sum, "passed", -1), 3);
    CHECK_EQ_INT(report_int(sum, "failed", -1), 1);
    CHECK_EQ_INT(report_int(sum, "errors", -1), 0);
    CHECK(report_bool(sum, "interrupted", false));
    CHECK(strcmp(report_str(json_object_get(m, "run"), "name", ""), "matrix") == 0);
    CHECK(report_int(json_object_get(m, "run"), "seed", 0) == 7);
    json_t *from = json_object_get(m, "merged_from");
    CHECK_EQ_INT(json_array_size(from), 2);
    CHECK(strcmp(report_str(json_array_get(from, 0), "name", ""), "job-a") == 0);
    CHECK(strcmp(report_str(json_array_get(from, 1), "name", ""), "job-b") == 0);
    json_t *ms = json_object_get(m, "scenarios");
    CHECK_EQ_INT(json_array_size(ms), 4);
    const char *tags[] = {"job-a", "job-a", "job-b", "job-b"};
    for (size_t i = 0; i < 4; i++)
        CHECK(strcmp(report_str(json_array_get(ms, i), "run", ""), tags[i]) == 0);
    CHECK(json_object_get(m, "merge_notes") == NULL);
    /* Changing the result leaves the inputs as they were. */
    json_object_set_new(json_array_get(ms, 0), "verdict", json_string("error"));
    json_object_set_new(json_array_get(json_object_get(json_array_get(ms, 0), "streams"), 0), "loss", json_real(1));
    json_object_set_new(json_array_get(from, 0), "seed", json_integer(99));
    json_object_set_new(json_object_get(m, "run"), "seed", json_integer(98));
    CHECK(json_equal(in[0], before[0]) && json_equal(in[1], before[1]));
    CHECK(json_object_get(json_array_get(json_object_get(in[0], "scenarios"), 0), "run") == NULL);
    json_decref(m);
    for (size_t i = 0; i < 2; i++) {
        json_decref(in[i]);
        json_decref(before[i]);
    }
}

static void merge_keeps_same_named_runs_apart_and_flattens_merges(void)
{
    json_t *in[3] = {report("ci", two_scenarios(0.01, 25, "pass")), report("ci", two_scenarios(0.10, 25, "pass")),
                     report("other", json_array())};
    const char *names[3] = {"x.json", "y.json", "z.json"};
    char err[256] = "";
    json_t *m = report_merge(in, names, 2, "twice", err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    json_t *ms = json_object_get(m, "scenarios");
    CHECK(strcmp(report_str(json_array_get(ms, 1), "run", ""), "ci") == 0);
    CHECK(strcmp(report_str(json_array_get(ms, 2), "run", ""), "ci#2") == 0);
    json_t *notes = json_object_get(m, "merge_notes");
    CHECK_EQ_INT(json_array_size(notes), 1);
    CHECK(has(json_string_value(json_array_get(notes, 0)),
              "runs of x.json and y.json are both named \"ci\": the scenarios of y.json are tagged \"ci#2\""));
    /* The two same-named runs compare cleanly against their merge's own copy,
     * and the lossy one is told apart from the clean one. */
    json_t *m2 = json_deep_copy(m);
    json_object_set_new(json_array_get(json_object_get(json_array_get(json_object_get(m2, "scenarios"), 0), "streams"),
                                       0),
                        "loss", json_real(0.2));
    CHECK_EQ_INT(compare(m, m2, NULL, err, sizeof err), 1);
    CHECK(has(out_buf_text, "[ci] scenarios/a.rtsp"));
    CHECK(has(out_buf_text, "1 regression in 1 scenario (4 compared)"));

    /* A merge of a merge: its runs are listed, its tags kept, clashes renamed. */
    json_t *again[2] = {m, in[0]};
    const char *names2[2] = {"m.json", "x.json"};
    json_t *mm = report_merge(again, names2, 2, "all", err, sizeof err);
    CHECK(mm != NULL);
    if (mm) {
        json_t *from = json_object_get(mm, "merged_from");
        CHECK_EQ_INT(json_array_size(from), 3);
        json_t *s = json_object_get(mm, "scenarios");
        CHECK_EQ_INT(json_array_size(s), 6);
        CHECK(strcmp(report_str(json_array_get(s, 2), "run", ""), "ci#2") == 0);
        CHECK(strcmp(report_str(json_array_get(s, 4), "run", ""), "ci#3") == 0);
        CHECK_EQ_INT(json_array_size(json_object_get(mm, "merge_notes")), 2);
        CHECK_EQ_INT(report_int(json_object_get(mm, "summary"), "scenarios", 0), 6);
        json_decref(mm);
    }
    /* An empty run merges too, and its name is taken. */
    json_t *with_empty[2] = {in[2], in[0]};
    json_t *me = report_merge(with_empty, names + 1, 2, "e", err, sizeof err);
    CHECK(me && json_array_size(json_object_get(me, "merged_from")) == 2);
    CHECK(me && report_int(json_object_get(me, "summary"), "scenarios", 0) == 2);
    json_decref(me);
    json_decref(m);
    json_decref(m2);
    for (size_t i = 0; i < 3; i++)
        json_decref(in[i]);
}

static void merge_rejects_what_is_not_a_run_report(void)
{
    json_t *good = report("ci", two_scenarios(0.01, 25, "pass"));
    json_t *bad = json_pack("{s:s,s:i}", "schema", "rtsp-harness/analyze", "version", 1);
    json_t *in[2] = {good, bad};
    const char *names[2] = {"good.json", "bad.json"};
    char err[256] = "";
    CHECK(report_merge(in, names, 2, "x", err, sizeof err) == NULL);
    CHECK(has(err, "bad.json: schema is \"rtsp-harness/analyze\""));
    CHECK(report_merge(in, names, 0, "x", err, sizeof err) == NULL);
    CHECK(has(err, "no report to merge"));
    json_decref(good);
    json_decref(bad);
}

int main(void)
{
    RUN(tolerance_parse_accepts_absolute_and_percent);
    RUN(tolerance_parse_rejects_bad_text_naming_it);
    RUN(identical_reports_pass);
    RUN(loss_from_1_to_10_percent_regresses);
    RUN(small_fps_drop_is_within_default_large_one_is_not);
    RUN(verdict_pass_to_fail_regresses_and_names_checks);
    RUN(scenario_missing_in_new_regresses_new_one_does_not);
    RUN(custom_tolerance_loosens_and_tightens);
    RUN(no_scenario_in_common_cannot_be_compared);
    RUN(missing_figures_show_dash_and_never_regress);
    RUN(wrongly_typed_fields_do_not_crash);
    RUN(quiet_shows_regressions_only);
    RUN(streams_pair_by_packets_and_counts_are_said);
    RUN(merged_reports_pair_by_run_and_file);
    RUN(short_streams_allow_two_packets_or_frames_by_default);
    RUN(a_stalled_lab_leaves_timing_unjudged);
    RUN(merge_adds_up_tags_and_does_not_alias);
    RUN(merge_keeps_same_named_runs_apart_and_flattens_merges);
    RUN(merge_rejects_what_is_not_a_run_report);
    CHECK_DONE();
}
