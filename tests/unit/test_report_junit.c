/* Unit tests of report_junit_write (harness/report/junit.c): counts at
 * both levels, a failure's evidence (file:line:col, frame, RFC, the RTSP
 * exchange verbatim), a scenario that could not run, properties with the
 * metrics and the baseline's, escaping of whatever the server sent, and
 * reports with missing or wrongly-typed fields. */
#include <errno.h>
#include <jansson.h>
#include <unistd.h>

#include "check.h"
#include "report/report.h"

static char dir[] = "/tmp/test_report_junit.XXXXXX";

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    if (!doc)
        fprintf(stderr, "test JSON: %d:%d: %s\n", je.line, je.column, je.text);
    CHECK(doc != NULL);
    return doc;
}

/* The JUnit XML of doc as a string (free it); NULL when writing failed. */
static char *render(const json_t *doc)
{
    char path[64], err[256] = "";
    snprintf(path, sizeof path, "%s/junit.xml", dir);
    if (report_junit_write(doc, path, err, sizeof err) != 0) {
        fprintf(stderr, "report_junit_write: %s\n", err);
        CHECK(!"report_junit_write failed");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)n + 1);
    CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    unlink(path);
    return buf;
}

static bool has(const char *xml, const char *s)
{
    if (xml && strstr(xml, s))
        return true;
    fprintf(stderr, "[%s] not in the XML: %s\n", check_current, s);
    return false;
}

static size_t count(const char *xml, const char *s)
{
    size_t n = 0;
    for (const char *p = xml; p && (p = strstr(p, s)) != NULL; p += strlen(s))
        n++;
    return n;
}

static const char *const RUN_DOC =
    "{\"schema\":\"rtsp-harness/run-report\",\"version\":1,"
    " \"run\":{\"name\":\"nightly\",\"started\":1795258940},"
    " \"scenarios\":["
    "  {\"name\":\"CSeq is echoed\",\"file\":\"scenarios/b.rtsp\",\"role\":\"server\",\"verdict\":\"fail\","
    "   \"duration_s\":1.25,"
    "   \"impairment\":{\"asked\":{\"to_sut\":\"loss 2%\",\"to_peer\":\"delay 20ms\"},"
    "                   \"measured\":{\"to_peer\":{\"loss\":0.0242914,\"delay_ms\":{\"p50\":20.1234567,\"p99\":31}},"
    "                                 \"to_sut\":{\"loss\":0,\"delay_ms\":null}}},"
    "   \"exchanges\":[{\"line\":18,\"conn\":0,\"method\":\"OPTIONS\",\"status\":200,\"request_s\":0.001,"
    "                   \"response_s\":0.0025,\"request\":\"OPTIONS * RTSP/1.0\\r\\nCSeq: 3\\r\\n\\r\\n\","
    "                   \"response\":\"RTSP/1.0 200 OK\\r\\nCSeq: 4\\r\\n\\r\\n\"}],"
    "   \"failures\":[{\"check\":\"scenario.status\",\"source\":\"replay\",\"line\":20,\"message\":\"other\"},"
    "                 {\"check\":\"rtsp.cseq.echo\",\"source\":\"analyzer\",\"line\":18,\"column\":3,"
    "                  \"message\":\"CSeq 3 answered as 4\",\"rfc\":\"RFC 2326 12.17\",\"pcap\":\"c/b.sut.pcap\","
    "                  \"frame\":42,\"exchange\":0}],"
    "   \"checks\":["
    "    {\"id\":\"scenario.send\",\"name\":\"scenario.send:17\",\"source\":\"replay\",\"line\":17,"
    "     \"status\":\"pass\",\"description\":\"d\",\"message\":\"\",\"failures\":[],\"time_s\":0.0004},"
    "    {\"id\":\"rtsp.cseq.echo\",\"name\":\"rtsp.cseq.echo:18:3\",\"source\":\"analyzer\",\"line\":18,"
    "     \"status\":\"fail\",\"description\":\"d\",\"message\":\"CSeq 3 answered as 4\",\"failures\":[1]},"
    "    {\"id\":\"scenario.wait\",\"name\":\"scenario.wait:21\",\"source\":\"replay\",\"line\":21,"
    "     \"status\":\"skipped\",\"description\":\"d\",\"message\":\"after a failure\",\"failures\":[]},"
    "    {\"id\":\"rtp.seq.gap\",\"name\":\"rtp.seq.gap\",\"source\":\"analyzer\",\"line\":0,"
    "     \"status\":\"error\",\"description\":\"d\",\"message\":\"\",\"failures\":[]}],"
    "   \"analysis_error\":\"c/b.sut.pcap: truncated\","
    "   \"streams\":[{\"ssrc\":1616264151,\"packets\":470,\"fps\":17.000125371674574,\"loss\":0.0249,"
    "                \"interval_ms\":{\"p99\":61.5}}],"
    "   \"sut\":{\"stdout_tail\":\"ready rtsp://x/\\n\",\"stderr_tail\":\"warn <x> & \\\"y\\\"\\n\"},"
    "   \"baseline\":{\"name\":\"CSeq is echoed\",\"verdict\":\"pass\",\"streams\":[{\"fps\":20,\"loss\":0}]}},"
    "  {\"name\":\"dies\",\"file\":\"scenarios/c.rtsp\",\"verdict\":\"error\",\"duration_s\":0.5,"
    "   \"error\":\"server exited with status 7\",\"failures\":[],\"checks\":[],"
    "   \"sut\":{\"stdout_tail\":\"\",\"stderr_tail\":null}}],"
    " \"summary\":{\"scenarios\":2,\"ran\":2,\"passed\":0,\"failed\":1,\"errors\":1,\"interrupted\":false}}";

static void counts_agree_at_both_levels(void)
{
    json_t *doc = parse(RUN_DOC);
    char *x = render(doc);
    CHECK(has(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rtsp-harness nightly\" "
                 "tests=\"5\" failures=\"1\" errors=\"2\" skipped=\"1\" time=\"1.750000\" "
                 "timestamp=\"2026-11-21T11:02:20Z\">\n"));
    CHECK(has(x, "\n  <testsuite name=\"CSeq is echoed\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\" "
                 "time=\"1.250000\" timestamp=\"2026-11-21T11:02:20Z\" id=\"0\" file=\"scenarios/b.rtsp\">\n"));
    CHECK(has(x, "\n  <testsuite name=\"dies\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" "
                 "time=\"0.500000\" timestamp=\"2026-11-21T11:02:20Z\" id=\"1\" file=\"scenarios/c.rtsp\">\n"));
    CHECK_EQ_INT(count(x, "<testcase "), 5);
    CHECK_EQ_INT(count(x, "<failure "), 1);
    CHECK_EQ_INT(count(x, "<error "), 2);
    CHECK_EQ_INT(count(x, "<skipped "), 1);
    CHECK(has(x, "</testsuites>\n"));
    free(x);
    json_decref(doc);
}

static void a_failure_carries_its_evidence_and_exchange(void)
{
    json_t *doc = parse(RUN_DOC);
    char *x = render(doc);
    CHECK(has(x, "    <testcase classname=\"CSeq is echoed\" name=\"scenario.send:17\" time=\"0.000400\" "
                 "file=\"scenarios/b.rtsp\" line=\"17\"/>\n"));
    CHECK(has(x, "    <testcase classname=\"CSeq is echoed\" name=\"rtsp.cseq.echo:18:3\" time=\"0.000000\" "
                 "file=\"scenarios/b.rtsp\" line=\"18\">\n"
                 "      <failure message=\"CSeq 3 answered as 4\" type=\"rtsp.cseq.echo\">"
                 "scenarios/b.rtsp:18:3: rtsp.cseq.echo: CSeq 3 answered as 4 [c/b.sut.pcap frame 42]\n"
                 "  see RFC 2326 12.17\n"
                 "--- request (conn 0, line 18, at 0.001000 s)\n"
                 "OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n"
                 "--- response (at 0.002500 s)\n"
                 "RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n"
                 "</failure>\n    </testcase>\n"));
    /* Only the check's own failures: not the scenario.status one. */
    CHECK(!strstr(x, "other"));
    CHECK(has(x, "line=\"21\">\n      <skipped message=\"after a failure\"/>\n    </testcase>\n"));
    /* A check without a line has no line attribute; an error says why. */
    CHECK(has(x, "name=\"rtp.seq.gap\" time=\"0.000000\" file=\"scenarios/b.rtsp\">\n"
                 "      <error message=\"c/b.sut.pcap: truncated\" type=\"rtp.seq.gap\">"
                 "analysis error: c/b.sut.pcap: truncated\n</error>\n"));
    free(x);
    json_decref(doc);
}

static void a_scenario_that_could_not_run_is_one_error(void)
{
    json_t *doc = parse(RUN_DOC);
    char *x = render(doc);
    CHECK(has(x, "    <testcase classname=\"dies\" name=\"scenario.run\" time=\"0.500000\" file=\"scenarios/c.rtsp\">\n"
                 "      <error message=\"server exited with status 7\" type=\"scenario.run\">"
                 "error: server exited with status 7\n</error>\n    </testcase>\n  </testsuite>\n"));
    free(x);
    json_decref(doc);
}

static void properties_hold_the_metrics_and_the_baseline(void)
{
    json_t *doc = parse(RUN_DOC);
    char *x = render(doc);
    CHECK(has(x, "<property name=\"verdict\" value=\"fail\"/>"));
    CHECK(has(x, "<property name=\"role\" value=\"server\"/>"));
    CHECK(has(x, "<property name=\"impairment.asked.to_sut\" value=\"loss 2%\"/>"));
    CHECK(has(x, "<property name=\"impairment.asked.to_peer\" value=\"delay 20ms\"/>"));
    CHECK(has(x, "<property name=\"impairment.measured.to_peer.loss\" value=\"0.0242914\"/>"));
    CHECK(has(x, "<property name=\"impairment.measured.to_peer.delay_ms.p50\" value=\"20.1235\"/>"));
    CHECK(has(x, "<property name=\"impairment.measured.to_peer.delay_ms.p99\" value=\"31\"/>"));
    CHECK(has(x, "<property name=\"impairment.measured.to_sut.loss\" value=\"0\"/>"));
    CHECK(!strstr(x, "to_sut.delay_ms")); /* null: no property */
    CHECK(has(x, "<property name=\"stream.0.ssrc\" value=\"1616264151\"/>"));
    CHECK(has(x, "<property name=\"stream.0.fps\" value=\"17.0001\"/>"));
    CHECK(has(x, "<property name=\"stream.0.interval_ms.p99\" value=\"61.5\"/>"));
    CHECK(has(x, "<property name=\"baseline.verdict\" value=\"pass\"/>"));
    CHECK(has(x, "<property name=\"baseline.stream.0.fps\" value=\"20\"/>"));
    CHECK(has(x, "<property name=\"baseline.stream.0.loss\" value=\"0\"/>"));
    /* The SUT's output, per suite; empty and null tails are left out. */
    CHECK(has(x, "    <system-out>ready rtsp://x/\n</system-out>\n"
                 "    <system-err>warn &lt;x&gt; &amp; &quot;y&quot;\n</system-err>\n  </testsuite>\n"));
    CHECK_EQ_INT(count(x, "<system-out>"), 1);
    CHECK_EQ_INT(count(x, "<system-err>"), 1);
    free(x);
    json_decref(doc);
}

static void hostile_strings_are_escaped(void)
{
    json_t *doc = parse("{\"run\":{\"name\":\"r<&\\\">\"},\"scenarios\":[{\"verdict\":\"fail\",\"file\":\"f\","
                        " \"failures\":[{\"check\":\"x.y\",\"message\":\"m\",\"exchange\":0}],"
                        " \"exchanges\":[{\"request\":\"GET\\u0001\\u001b]]>\\r\\n\",\"response\":null}],"
                        " \"checks\":[{\"id\":\"x.y\",\"name\":\"x.y<&>\",\"status\":\"fail\",\"failures\":[0],"
                        "             \"message\":\"a\\u0002b\"}]}]}");
    /* Bytes a server may send that are not UTF-8. */
    json_t *sc = json_array_get(json_object_get(doc, "scenarios"), 0);
    json_object_set_new(sc, "name", json_stringn_nocheck("n\xff\xc3(\"'", 6));
    char *x = render(doc);
    CHECK(has(x, "<testsuites name=\"rtsp-harness r&lt;&amp;&quot;&gt;\""));
    CHECK(has(x, "<testsuite name=\"n\xef\xbf\xbd\xef\xbf\xbd(&quot;&#39;\""));
    CHECK(has(x, "<testcase classname=\"n\xef\xbf\xbd\xef\xbf\xbd(&quot;&#39;\" name=\"x.y&lt;&amp;&gt;\""));
    /* Controls and "]]>" in an RTSP message. */
    CHECK(has(x, "<failure message=\"a\xef\xbf\xbd" "b\" type=\"x.y\">"));
    CHECK(has(x, "GET\xef\xbf\xbd\xef\xbf\xbd]]&gt;\r\n--- no response\n"));
    CHECK(!strchr(x, '\x01') && !strchr(x, '\x1b') && !strstr(x, "\xff"));
    free(x);
    json_decref(doc);
}

static void missing_and_wrong_fields_render_what_they_can(void)
{
    json_t *doc = parse("{\"run\":[],\"scenarios\":["
                        " {\"name\":\"a\",\"verdict\":\"pass\",\"streams\":[1,{\"fps\":\"fast\",\"packets\":3}],"
                        "  \"checks\":[7,{\"status\":\"fail\",\"failures\":[9,\"x\",0]},{\"name\":\"ok\"}],"
                        "  \"failures\":[{\"exchange\":5}],\"sut\":\"gone\",\"baseline\":3},"
                        " {\"verdict\":\"fail\",\"failures\":[{\"check\":\"p.q\",\"message\":\"old report\"}]},"
                        " \"not a scenario\"]}");
    char *x = render(doc);
    /* Non-object checks are not testcases: 2 + 1 + 1 (no checks: the scenario). */
    CHECK(has(x, "<testsuites name=\"rtsp-harness run\" tests=\"4\" failures=\"2\" errors=\"1\" skipped=\"0\" "
                 "time=\"0.000000\">"));
    CHECK(has(x, "<testcase classname=\"a\" name=\"?\" time=\"0.000000\">\n      <failure message=\"\" type=\"scenario.run\">"
                 "a: ?: \n  (exchange 5 is not in the report)\n</failure>"));
    CHECK(has(x, "<testcase classname=\"a\" name=\"ok\" time=\"0.000000\"/>"));
    CHECK(has(x, "<property name=\"stream.1.packets\" value=\"3\"/>"));
    CHECK(has(x, "<property name=\"stream.1.fps\" value=\"fast\"/>"));
    /* An older report without checks: the verdict and all failures. */
    CHECK(has(x, "<testsuite name=\"?\" tests=\"1\" failures=\"1\""));
    CHECK(has(x, "<testcase classname=\"?\" name=\"scenario.run\" time=\"0.000000\">\n"
                 "      <failure message=\"old report\" type=\"p.q\">?: p.q: old report\n</failure>"));
    CHECK(has(x, "<testsuite name=\"?\" tests=\"1\" failures=\"0\" errors=\"1\""));
    free(x);
    json_decref(doc);
}

static void a_merged_scenario_takes_its_own_runs_start(void)
{
    json_t *doc = parse("{\"run\":{\"name\":\"m\",\"started\":0,\"merged_from\":[{\"name\":\"a\",\"started\":0},"
                        "                {\"name\":\"b\",\"started\":86400}]},"
                        " \"scenarios\":[{\"name\":\"s\",\"verdict\":\"pass\",\"run\":\"b\"},"
                        "              {\"name\":\"t\",\"verdict\":\"pass\",\"run\":\"a\"}]}");
    char *x = render(doc);
    CHECK(has(x, "<testsuite name=\"s\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0.000000\" "
                 "timestamp=\"1970-01-02T00:00:00Z\""));
    CHECK(has(x, "<testsuite name=\"t\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0.000000\" "
                 "timestamp=\"1970-01-01T00:00:00Z\""));
    CHECK(has(x, "<property name=\"run\" value=\"b\"/>"));
    free(x);
    json_decref(doc);
}

static void an_unwritable_path_is_an_error_naming_it(void)
{
    json_t *doc = parse(RUN_DOC);
    char path[96], err[256] = "";
    snprintf(path, sizeof path, "%s/no/such/dir/junit.xml", dir);
    CHECK_EQ_INT(report_junit_write(doc, path, err, sizeof err), -1);
    CHECK(strstr(err, path) && strstr(err, "No such file or directory"));
    json_decref(doc);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(counts_agree_at_both_levels);
    RUN(a_failure_carries_its_evidence_and_exchange);
    RUN(a_scenario_that_could_not_run_is_one_error);
    RUN(properties_hold_the_metrics_and_the_baseline);
    RUN(hostile_strings_are_escaped);
    RUN(missing_and_wrong_fields_render_what_they_can);
    RUN(a_merged_scenario_takes_its_own_runs_start);
    RUN(an_unwritable_path_is_an_error_naming_it);
    /* Nothing else (no temporary file) is left behind. */
    CHECK(rmdir(dir) == 0);
    CHECK_DONE();
}
