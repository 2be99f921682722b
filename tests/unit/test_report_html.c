/* Unit tests of the HTML report (harness/report/html.c, svg.c): reports
 * built inline are rendered to a temporary file and the page is checked
 * for structure, escaping of hostile server text, the highlight of the
 * exchange a failure points at, the plots per stream, thumbnails, and
 * survival of missing, null and wrongly-typed fields. */
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "report/report.h"

static char tmpdir[] = "/tmp/test_report_html.XXXXXX";

/* Render doc; the page as a NUL-terminated string (NULL when rendering
 * failed). */
static char *render(const json_t *doc)
{
    char path[256], err[256] = "";
    snprintf(path, sizeof path, "%s/index.html", tmpdir);
    unlink(path);
    if (report_html_write(doc, path, err, sizeof err) != 0) {
        fprintf(stderr, "[%s] report_html_write: %s\n", check_current, err);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *page = malloc((size_t)n + 1);
    if (page && fread(page, 1, (size_t)n, f) != (size_t)n) {
        free(page);
        page = NULL;
    }
    if (page)
        page[n] = 0;
    fclose(f);
    return page;
}

static size_t count(const char *page, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = page; (p = strstr(p, needle)) != NULL; p += len)
        n++;
    return n;
}

/* The element with id="id" (from its opening tag's start), or NULL. */
static const char *element(const char *page, const char *id)
{
    char attr[64];
    snprintf(attr, sizeof attr, "id=\"%s\"", id);
    const char *p = strstr(page, attr);
    if (!p)
        return NULL;
    while (p > page && *p != '<')
        p--;
    return p;
}

/* A number written as nan or inf into the markup. */
static bool has_bad_number(const char *page)
{
    static const char *const bad[] = {"nan", "inf"};
    for (size_t k = 0; k < 2; k++)
        for (const char *p = page; (p = strstr(p, bad[k])) != NULL; p++)
            if (p > page && strchr(" \"-+MLHVhvl,=>(", p[-1]))
                return true;
    return false;
}

static json_t *report_with(json_t *scenarios)
{
    return json_pack("{s:s, s:i, s:{s:s, s:s, s:s, s:[s, s], s:i, s:s, s:b, s:s, s:s, s:I, s:f}, s:o, "
                     "s:{s:i, s:i, s:i, s:i, s:i, s:b}}",
                     "schema", "rtsp-harness/run-report", "version", 1, "run", "tool", "rtsp-harness", "version",
                     "0.1.0", "name", "unit", "command", "run", "x.rtsp", "seed", 1, "backend_requested", "auto",
                     "netem_available", 0, "netem_unavailable_because", "no sch_netem", "captures", "captures/unit",
                     "started", (json_int_t)1795258940, "duration_s", 3.5, "scenarios", scenarios, "summary",
                     "scenarios", 1, "ran", 1, "passed", 0, "failed", 1, "errors", 0, "interrupted", 0);
}

static json_t *exchange(int line, const char *method, int cseq, json_t *response)
{
    char req[128];
    snprintf(req, sizeof req, "%s rtsp://198.18.0.2:8554/m RTSP/1.0\r\nCSeq: %d\r\n\r\n", method, cseq);
    return json_pack("{s:i, s:i, s:s, s:s, s:s, s:i, s:i, s:f, s:f, s:s, s:o, s:i}", "line", line, "conn", 0, "local",
                     "198.18.0.1:4000", "remote", "198.18.0.2:8554", "method", method, "status", 200, "cseq", cseq,
                     "request_s", 0.1 * cseq, "response_s", 0.1 * cseq + 0.02, "request", req, "response", response,
                     "frame", 10 + cseq);
}

/* A stream with n frames at 20 fps from t0, every tenth packet lost on
 * the network; outlier (when > 0) is the interval of frame n/2. */
static json_t *stream(size_t n, double t0, double outlier, json_t *thumbs)
{
    json_t *frames = json_array(), *bitrate = json_array(), *events = json_array();
    for (size_t i = 0; i < n; i++) {
        double t = t0 + 0.05 * (double)i;
        json_t *iv = i == 0 ? json_null() : json_real(i == n / 2 && outlier > 0 ? outlier : 50 + (double)(i % 7));
        json_array_append_new(frames, json_pack("[f, o, f]", t, iv, 1.0 + (double)(i % 5) / 10));
        if (i % 10 == 5)
            json_array_append_new(events, json_pack("{s:f, s:i, s:s, s:s, s:i}", "t_s", t, "seq", (int)i, "kind",
                                                    i % 20 == 5 ? "network" : "never-sent", "pcap", "x.pcap",
                                                    "frame", (int)i + 3));
    }
    for (size_t s = 0; s < (size_t)(0.05 * (double)n) + 1; s++)
        json_array_append_new(bitrate, json_real(1.1e6 + 1000.0 * (double)s));
    return json_pack("{s:s, s:s, s:b, s:i, s:i, s:i, s:f, s:f, s:f, s:i, s:i, s:f, s:f, "
                     "s:{s:f, s:o, s:b, s:o}, s:o, s:b, s:o}",
                     "src", "198.18.0.2:5000", "dst", "198.18.0.1:6000", "interleaved", 0, "ssrc", 1234, "packets",
                     (int)n * 6, "lost", (int)n / 10, "loss", 0.0166, "bitrate_bps", 1.1e6, "max_jitter_ms", 1.4,
                     "frames_complete", (int)n, "frames_incomplete", 0, "fps", 20.0, "nominal_interval_ms", 50.0,
                     "series", "t0_s", t0, "frames", frames, "frames_truncated", 0, "bitrate_bps", bitrate,
                     "loss_events", events, "loss_events_truncated", 0, "thumbnails", thumbs ? thumbs : json_array());
}

static json_t *scenario(const char *verdict, json_t *exchanges, json_t *failures, json_t *streams)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:{s:s, s:s}, s:[]}, s:o, s:o, s:o, s:[], s:i, s:i, "
                     "s:{s:s, s:s, s:b, s:s, s:s}, s:s, s:f}",
                     "name", "a scenario", "file", "scenarios/x.rtsp", "role", "server", "profile", "rfc2326",
                     "impairment", "backend", "userspace", "asked", "to_sut", "loss 1%", "to_peer", "loss 1%",
                     "phases", "exchanges", exchanges, "failures", failures, "streams", streams, "rtp_windows",
                     "steps_run", 3, "steps_skipped", 0, "sut", "command", "srv", "exit", "killed", "ended_early", 0,
                     "stdout_tail", "ready\n", "stderr_tail", "", "verdict", verdict, "duration_s", 1.25);
}

/* A tiny valid JPEG (1x1 grey). */
static const char jpeg_b64[] =
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0"
    "Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8A"
    "Kp//2Q==";

static void page_is_one_balanced_document(void)
{
    json_t *ex = json_pack("[o, o]", exchange(5, "OPTIONS", 1, json_string("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")),
                           exchange(8, "DESCRIBE", 2, json_null()));
    json_t *doc = report_with(json_pack("[o]", scenario("pass", ex, json_array(), json_pack("[o]", stream(40, 0.3, 0, NULL)))));
    char *page = render(doc);
    CHECK(page != NULL);
    if (page) {
        CHECK(strncmp(page, "<!DOCTYPE html>", 15) == 0);
        CHECK_EQ_INT(count(page, "<html"), 1);
        CHECK_EQ_INT(count(page, "</html>"), 1);
        CHECK_EQ_INT(count(page, "<body"), 1);
        static const char *const tags[] = {"details", "table", "pre", "svg", "section", "figure", "aside", "ul", "ol"};
        for (size_t i = 0; i < sizeof tags / sizeof *tags; i++) {
            char open[32], close[32];
            snprintf(open, sizeof open, "<%s", tags[i]);
            snprintf(close, sizeof close, "</%s>", tags[i]);
            if (count(page, open) != count(page, close))
                fprintf(stderr, "unbalanced <%s>\n", tags[i]);
            CHECK_EQ_INT(count(page, open), count(page, close));
        }
        /* Nothing outside the page: no URL of any scheme, no file reference. */
        CHECK(strstr(page, "http:") == NULL);
        CHECK(strstr(page, "https:") == NULL);
        CHECK(strstr(page, "src=\"//") == NULL);
        CHECK(strstr(page, "href=\"//") == NULL);
        CHECK(!has_bad_number(page));
        /* The run's facts are on the page. */
        CHECK(strstr(page, "2026-11-21 11:02:20 UTC") != NULL);
        CHECK(strstr(page, "no sch_netem") != NULL);
        CHECK(strstr(page, "(no response)") != NULL);
    }
    free(page);
    json_decref(doc);
}

static void hostile_server_text_is_escaped(void)
{
    /* Markup, quotes, invalid UTF-8 and control bytes in a response. */
    static const char resp[] = "RTSP/1.0 200 OK\r\nCSeq: 1\r\nX: <script>alert(1)</script> \"q\" 'a' &amp;\r\n"
                               "Y: \xff\xfe bad \xc3\x28 utf8 \x01\x02\x1b[31m\r\n\r\n";
    json_t *r = json_stringn_nocheck(resp, sizeof resp - 1);
    json_t *name = json_stringn_nocheck("<img src=x onerror=alert(2)>\xff", 29);
    json_t *sc = scenario("fail", json_pack("[o]", exchange(5, "OPTIONS", 1, r)),
                          json_pack("[{s:s, s:s, s:i, s:s}]", "check", "rtsp.syntax", "source", "analyzer", "line", 5,
                                    "message", "bad \"header\" <b>"),
                          json_array());
    json_object_set_new(sc, "name", name);
    json_t *doc = report_with(json_pack("[o]", sc));
    char *page = render(doc);
    CHECK(page != NULL);
    if (page) {
        CHECK(strstr(page, "<script>alert") == NULL);
        CHECK(strstr(page, "&lt;script&gt;alert(1)&lt;/script&gt; &quot;q&quot; &#39;a&#39; &amp;amp;") != NULL);
        CHECK(strstr(page, "<img src=x") == NULL);
        CHECK(strstr(page, "&lt;img src=x onerror=alert(2)&gt;\xef\xbf\xbd") != NULL);
        CHECK(strstr(page, "bad &quot;header&quot; &lt;b&gt;") != NULL);
        /* Invalid UTF-8 and control bytes become U+FFFD; none reach the file. */
        CHECK(strstr(page, "\xef\xbf\xbd\xef\xbf\xbd bad \xef\xbf\xbd( utf8 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd[31m") !=
              NULL);
        CHECK(strchr(page, '\x01') == NULL && strchr(page, '\x1b') == NULL && strstr(page, "\xff") == NULL);
        /* The only script is the page's own. */
        CHECK_EQ_INT(count(page, "<script"), 1);
    }
    free(page);
    json_decref(doc);
}

static void a_failures_exchange_is_highlighted_with_its_header_marked(void)
{
    json_t *ex = json_pack("[o, o, o]", exchange(5, "OPTIONS", 1, json_string("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")),
                           exchange(9, "SETUP", 2,
                                    json_string("RTSP/1.0 200 OK\r\nCSeq: 7\r\nSession: 12\r\n\r\n")),
                           exchange(12, "PLAY", 3, json_string("RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n")));
    /* The first failure names its exchange; the second is tied by line only. */
    json_t *fails = json_pack("[{s:s, s:s, s:i, s:s, s:i, s:s, s:i}, {s:s, s:s, s:i, s:s}]", "check",
                              "rtsp.cseq.echo", "source", "analyzer", "line", 3, "message", "CSeq 7 is not 2",
                              "exchange", 1, "pcap", "cap.sut.pcap", "frame", 17, "check", "scenario.status", "source",
                              "replay", "line", 12, "message", "expected 404");
    json_t *doc = report_with(json_pack("[o]", scenario("fail", ex, fails, json_array())));
    char *page = render(doc);
    CHECK(page != NULL);
    if (page) {
        const char *x0 = element(page, "s0-x0"), *x1 = element(page, "s0-x1"), *x2 = element(page, "s0-x2");
        CHECK(x0 && x1 && x2);
        if (x0 && x1 && x2) {
            CHECK(strncmp(x0, "<div class=\"ex\"", 15) == 0);
            CHECK(strncmp(x1, "<div class=\"ex hl\"", 18) == 0);
            CHECK(strncmp(x2, "<div class=\"ex hl\"", 18) == 0);
            /* The finding is beside its exchange, before the next one. */
            const char *finding = strstr(x1, "CSeq 7 is not 2");
            CHECK(finding != NULL && finding < x2);
            CHECK(strstr(x1, "<mark>CSeq: 7</mark>") != NULL && strstr(x1, "<mark>CSeq: 7</mark>") < x2);
            CHECK(strstr(x1, "<mark>Session") == NULL || strstr(x1, "<mark>Session") > x2);
            CHECK(strstr(x2, "<mark>RTSP/1.0 200 OK</mark>") != NULL);
        }
        /* The failure list names check, file:line and the frame, and links the exchange. */
        CHECK(strstr(page, "scenarios/x.rtsp:3") != NULL);
        CHECK(strstr(page, "cap.sut.pcap</span> frame 17") != NULL);
        CHECK(strstr(page, "href=\"#s0-x1\"") != NULL);
        CHECK(strstr(page, "href=\"#s0-f0\"") != NULL);
        /* A failed scenario's section is open. */
        const char *s0 = element(page, "s0");
        CHECK(s0 && strncmp(s0, "<details class=\"sc fail\" id=\"s0\" open>", 38) == 0);
    }
    free(page);
    json_decref(doc);
}

static void every_stream_gets_its_four_plots(void)
{
    json_t *streams = json_pack("[o, o]", stream(100, 0.2, 0, NULL), stream(60, 0.4, 0, NULL));
    json_t *doc = report_with(json_pack("[o, o]", scenario("pass", json_array(), json_array(), streams),
                                        scenario("pass", json_array(), json_array(), json_array())));
    char *page = render(doc);
    CHECK(page != NULL);
    if (page) {
        CHECK_EQ_INT(count(page, "class=\"plot\""), 8);
        static const char *const kinds[] = {"interval", "bitrate", "loss", "jitter"};
        for (size_t i = 0; i < 4; i++) {
            char attr[64];
            snprintf(attr, sizeof attr, "data-plot=\"%s\"", kinds[i]);
            CHECK_EQ_INT(count(page, attr), 2);
        }
        /* The line, the bars, the nominal interval and both kinds of loss are drawn. */
        CHECK(count(page, "<path class=\"ln\" d=\"M") >= 4);
        CHECK(count(page, "<path class=\"bar\" d=\"M") == 2);
        CHECK(count(page, "<path class=\"nom\"") == 2);
        CHECK(strstr(page, "class=\"ev-net\"") != NULL && strstr(page, "class=\"ev-never\"") != NULL);
        CHECK(strstr(page, "network 5") != NULL && strstr(page, "never sent 5") != NULL);
        CHECK(!has_bad_number(page));
    }
    free(page);
    json_decref(doc);
}

static void one_frame_no_loss_and_no_series_render_as_such(void)
{
    json_t *one = stream(1, 0.5, 0, NULL);
    json_object_set_new(one, "loss_events", json_array());
    json_t *bare = json_pack("{s:s, s:s, s:i, s:f}", "src", "a", "dst", "b", "packets", 3, "fps", 0.0);
    json_t *doc = report_with(json_pack("[o]", scenario("pass", json_array(), json_array(), json_pack("[o, o]", one, bare))));
    char *page = render(doc);
    CHECK(page != NULL);
    if (page) {
        CHECK_EQ_INT(count(page, "class=\"plot\""), 8);
        CHECK(strstr(page, "one frame: no interval") != NULL);
        CHECK_EQ_INT(count(page, ">no loss<"), 2);
        CHECK(strstr(page, "no series in the report") != NULL);
        CHECK(!has_bad_number(page));
    }
    free(page);
    json_decref(doc);
}

static void thousands_of_frames_and_outliers_stay_small_and_clipped(void)
{
    json_t *doc = report_with(
        json_pack("[o]", scenario("pass", json_array(), json_array(), json_pack("[o]", stream(20000, 0.1, 1e6, NULL)))));
    char *page = render(doc);
    CHECK(page != NULL);
    if (page) {
        /* 20000 frames, 2000 loss events: reduced per pixel column. */
        CHECK(strlen(page) < 120000);
        CHECK(strstr(page, "<path class=\"clip\"") != NULL);
        CHECK(strstr(page, "1 above the axis, max 1e+06 ms") != NULL);
        /* The axis stays near the typical interval, not at the outlier. */
        const char *iv = strstr(page, "data-plot=\"interval\"");
        CHECK(iv && strstr(iv, ">100</text>") != NULL);
        CHECK(iv && (strstr(iv, ">1000000</text>") == NULL || strstr(iv, ">1000000</text>") > strstr(iv, "</svg>")));
    }
    free(page);
    json_decref(doc);
}

static void thumbnails_are_inlined_only_when_base64(void)
{
    json_t *thumbs = json_pack("[{s:f, s:s, s:i, s:i, s:i, s:s}, {s:f, s:s, s:s}, {s:f, s:s, s:s}, {s:f, s:s, s:s}, "
                               "{s:f, s:s, s:i}]",
                               "t_s", 2.35, "reason", "before-loss", "frame", 44, "width", 1, "height", 1, "jpeg",
                               jpeg_b64, "t_s", 1.0, "reason", "first", "jpeg", "AAAA\"><script>x</script>", "t_s",
                               1.0, "reason", "first", "jpeg", "abc", "t_s", 1.0, "reason", "last", "jpeg", "",
                               "t_s", 1.0, "reason", "last", "jpeg", 5);
    json_t *doc = report_with(
        json_pack("[o]", scenario("pass", json_array(), json_array(), json_pack("[o]", stream(10, 0, 0, thumbs)))));
    char *page = render(doc);
    CHECK(page != NULL);
    if (page) {
        CHECK_EQ_INT(count(page, "class=\"thumb\""), 1);
        CHECK(strstr(page, "src=\"data:image/jpeg;base64,/9j/4AAQ") != NULL);
        CHECK(strstr(page, "before loss @ 2.35 s") != NULL);
        CHECK(strstr(page, "<script>x") == NULL);
    }
    free(page);
    json_decref(doc);
}

static void the_reference_is_drawn_beside_the_sut(void)
{
    json_t *sc = scenario("pass", json_array(), json_array(), json_pack("[o]", stream(100, 0.2, 0, NULL)));
    json_t *base = scenario("pass", json_array(), json_array(), json_pack("[o]", stream(100, 0.25, 0, NULL)));
    json_object_set_new(json_array_get(json_object_get(base, "streams"), 0), "fps", json_real(18.5));
    json_object_set_new(sc, "baseline", base);
    json_t *doc = report_with(json_pack("[o]", sc));
    char *page = render(doc);
    CHECK(page != NULL);
    if (page) {
        /* Grey lines in the interval, bit rate and jitter plots. */
        CHECK_EQ_INT(count(page, "<path class=\"rl\" d=\"M"), 3);
        CHECK(strstr(page, "ref 18.5") != NULL);
        CHECK(strstr(page, "(+1.5)") != NULL);
    }
    free(page);
    json_decref(doc);
}

static void a_merged_report_lists_its_runs_and_each_scenarios_run(void)
{
    json_t *sc = scenario("pass", json_array(), json_array(), json_array());
    json_object_set_new(sc, "run", json_string("job-linux-<2>"));
    json_t *doc = report_with(json_pack("[o]", sc));
    json_t *run = json_object_get(doc, "run");
    json_object_set_new(run, "merged_from",
                        json_pack("[{s:s, s:I}, {s:s, s:I}]", "name", "job-linux-<2>", "started",
                                  (json_int_t)1795258940, "name", "job-arm", "started", (json_int_t)1795259000));
    char *page = render(doc);
    CHECK(page != NULL);
    if (page) {
        CHECK(strstr(page, "Merged from 2 runs") != NULL);
        CHECK(strstr(page, "<th>run</th>") != NULL);
        CHECK_EQ_INT(count(page, "job-linux-&lt;2&gt;"), 3); /* runs table, summary row, section */
        CHECK(strstr(page, "job-arm") != NULL);
    }
    free(page);
    json_decref(doc);
}

static void missing_null_and_wrong_types_render_without_crashing(void)
{
    /* Every field a renderer reads, absent, null or of the wrong type. */
    static const char *const docs[] = {
        "{}",
        "[]",
        "{\"run\": null, \"scenarios\": null, \"summary\": null}",
        "{\"run\": {\"command\": 3, \"started\": \"x\", \"merged_from\": [1, {}]}, \"summary\": [],"
        " \"scenarios\": [1, null, \"x\", {}]}",
        "{\"run\": {}, \"summary\": {}, \"scenarios\": [{\"name\": 1, \"verdict\": null, \"exchanges\": \"x\","
        " \"failures\": [7, {\"line\": \"x\", \"exchange\": 99}, {\"exchange\": -1}], \"checks\": {}, \"streams\": [1,"
        " {\"series\": 5, \"loss_events\": [1, {\"t_s\": null}], \"thumbnails\": [null, {\"jpeg\": null}]},"
        " {\"series\": {\"frames\": [1, [], [null, null, null], [\"a\", 1, 2], [1, \"b\"], [2.0, 3.0]],"
        " \"bitrate_bps\": [null, \"x\", -5, 1e308], \"t0_s\": \"x\"}}], \"rtp_windows\": [{\"conditions\": 5},"
        " {\"conditions\": [1]}], \"impairment\": {\"asked\": 1, \"measured\": {\"to_sut\": {\"delay_ms\": 5}},"
        " \"phases\": [null, {}]}, \"sut\": {\"command\": 1}, \"baseline\": {\"streams\": [{\"series\": []}]}}]}",
        "{\"run\": {}, \"summary\": {}, \"scenarios\": [{\"exchanges\": [null, {\"request\": 5, \"response\": \"\"},"
        " {\"response\": \"RTSP/1.0 200\\r\\nCSeq: 1\"}], \"failures\": [{\"check\": \"scenario.header\","
        " \"message\": \"CSeq\", \"exchange\": 2}, {\"check\": 5, \"exchange\": 1}],"
        " \"streams\": [{\"series\": {\"frames\": [[1e308, 1e308, 1e308], [-1e308, -1e308, 0]],"
        " \"bitrate_bps\": [1e308]}, \"nominal_interval_ms\": -4}]}]}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        json_error_t je;
        json_t *doc = json_loads(docs[i], 0, &je);
        CHECK(doc != NULL);
        if (!doc) {
            fprintf(stderr, "doc %zu: %s\n", i, je.text);
            continue;
        }
        char *page = render(doc);
        CHECK(page != NULL);
        if (page) {
            CHECK(strstr(page, "</html>") != NULL);
            CHECK(!has_bad_number(page));
        }
        free(page);
        json_decref(doc);
    }
    char *page = render(NULL); /* no document at all */
    CHECK(page && strstr(page, "</html>") != NULL);
    free(page);
}

static void an_unwritable_path_is_an_error_naming_it(void)
{
    json_t *doc = report_with(json_array());
    char err[256] = "";
    CHECK_EQ_INT(report_html_write(doc, "/nonexistent-dir/index.html", err, sizeof err), -1);
    CHECK(strstr(err, "/nonexistent-dir/index.html") != NULL);
    json_decref(doc);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(page_is_one_balanced_document);
    RUN(hostile_server_text_is_escaped);
    RUN(a_failures_exchange_is_highlighted_with_its_header_marked);
    RUN(every_stream_gets_its_four_plots);
    RUN(one_frame_no_loss_and_no_series_render_as_such);
    RUN(thousands_of_frames_and_outliers_stay_small_and_clipped);
    RUN(thumbnails_are_inlined_only_when_base64);
    RUN(the_reference_is_drawn_beside_the_sut);
    RUN(a_merged_report_lists_its_runs_and_each_scenarios_run);
    RUN(missing_null_and_wrong_types_render_without_crashing);
    RUN(an_unwritable_path_is_an_error_naming_it);
    char path[256];
    snprintf(path, sizeof path, "%s/index.html", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    CHECK_DONE();
}
