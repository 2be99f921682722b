/* Unit tests of report_text (harness/report/text.c): the table's figures
 * and alignment, the failure lines, the closing count, colour only when
 * asked, quiet mode, and reports with missing or wrongly-typed fields. */
#include <jansson.h>

#include "check.h"
#include "report/report.h"

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    if (!doc)
        fprintf(stderr, "test JSON: %d:%d: %s\n", je.line, je.column, je.text);
    CHECK(doc != NULL);
    return doc;
}

/* The summary of doc as a string (free it). */
static char *render(const json_t *doc, bool color, bool quiet)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    report_text(out, doc, &(struct report_text_opts){.color = color, .quiet = quiet});
    fclose(out);
    return buf;
}

/* The first line of text that starts with prefix ("" if none; a static buffer). */
static char *line_starting(const char *text, const char *prefix)
{
    static char line[512];
    line[0] = 0;
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (strncmp(p, prefix, strlen(prefix)) == 0 && n < sizeof line) {
            memcpy(line, p, n);
            line[n] = 0;
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    return line;
}

static const char *const RUN_DOC =
    "{\"schema\":\"rtsp-harness/run-report\",\"version\":1,\"run\":{\"name\":\"r1\"},"
    "\"scenarios\":["
    " {\"name\":\"lossy\",\"file\":\"scenarios/a.rtsp\",\"verdict\":\"pass\",\"duration_s\":4.25,"
    "  \"failures\":[],"
    "  \"streams\":[{\"packets\":3,\"lost\":3,\"loss\":0.5,\"bitrate_bps\":1000,\"fps\":1,\"max_jitter_ms\":9},"
    "              {\"packets\":470,\"lost\":12,\"loss\":0.0249,\"bitrate_bps\":1169097.1,\"fps\":17.0001,"
    "               \"max_jitter_ms\":0.1864}]},"
    " {\"name\":\"cseq\",\"file\":\"scenarios/b.rtsp\",\"verdict\":\"fail\",\"duration_s\":1.04,"
    "  \"failures\":[{\"check\":\"rtsp.cseq.echo\",\"source\":\"analyzer\",\"line\":18,\"column\":3,"
    "                 \"message\":\"CSeq 3 answered as 4\",\"pcap\":\"c/b.sut.pcap\",\"frame\":42},"
    "                {\"check\":\"rtp.seq.gap\",\"source\":\"analyzer\",\"message\":\"gap of 2\"}],"
    "  \"streams\":[]},"
    " {\"name\":\"dies\",\"file\":\"scenarios/c.rtsp\",\"verdict\":\"error\",\"duration_s\":0.2,"
    "  \"error\":\"server exited with status 7\",\"failures\":[]}],"
    "\"summary\":{\"scenarios\":3,\"ran\":3,\"passed\":1,\"failed\":1,\"errors\":1,\"interrupted\":false}}";

static void table_shows_the_worst_stream_and_the_closing_count(void)
{
    json_t *doc = parse(RUN_DOC);
    char *t = render(doc, false, false);
    /* Columns as wide as the longest name ("scenario"); over the streams:
     * loss by packets (15 of 488), bit rates added, the lowest frame rate
     * and the highest jitter. */
    CHECK(strcmp(line_starting(t, "scenario"),
                 "scenario verdict     loss     kbit/s     fps  jitter ms  time s") == 0);
    CHECK(strcmp(line_starting(t, "lossy"),
                 "lossy    pass       3.07%       1170    1.00       9.00     4.2") == 0);
    CHECK(strcmp(line_starting(t, "cseq "),
                 "cseq     fail           -          -       -          -     1.0") == 0);
    const char *end = t + strlen(t);
    const char *closing = "1 passed, 1 failed, 1 errors\n";
    CHECK(strlen(t) > strlen(closing) && strcmp(end - strlen(closing), closing) == 0);
    CHECK(strstr(t, "\033") == NULL);
    free(t);
    json_decref(doc);
}

static void failures_name_file_line_check_and_frame(void)
{
    json_t *doc = parse(RUN_DOC);
    char *t = render(doc, false, false);
    CHECK(strstr(t, "\n  scenarios/b.rtsp:18: rtsp.cseq.echo: CSeq 3 answered as 4 [c/b.sut.pcap frame 42]\n"));
    /* A finding about the stream as a whole has no line and no frame. */
    CHECK(strstr(t, "\n  scenarios/b.rtsp: rtp.seq.gap: gap of 2\n"));
    CHECK(strstr(t, "\n  scenarios/c.rtsp: error: server exited with status 7\n"));
    free(t);
    json_decref(doc);
}

static void colour_codes_only_when_asked(void)
{
    json_t *doc = parse(RUN_DOC);
    char *t = render(doc, true, false);
    CHECK(strstr(t, "\033[32mpass   \033[0m"));
    CHECK(strstr(t, "\033[31mfail   \033[0m"));
    CHECK(strstr(t, "\033[33merror  \033[0m"));
    CHECK(strstr(t, "scenarios/b.rtsp:18: \033[1mrtsp.cseq.echo\033[0m: CSeq 3"));
    free(t);
    t = render(doc, false, false);
    CHECK(strchr(t, '\033') == NULL);
    free(t);
    json_decref(doc);
}

static void quiet_prints_failures_and_the_closing_line_only(void)
{
    json_t *doc = parse(RUN_DOC);
    char *t = render(doc, false, true);
    CHECK(strcmp(t, "  scenarios/b.rtsp:18: rtsp.cseq.echo: CSeq 3 answered as 4 [c/b.sut.pcap frame 42]\n"
                    "  scenarios/b.rtsp: rtp.seq.gap: gap of 2\n"
                    "  scenarios/c.rtsp: error: server exited with status 7\n"
                    "1 passed, 1 failed, 1 errors\n") == 0);
    free(t);
    json_decref(doc);
}

static void baseline_adds_reference_columns(void)
{
    json_t *doc = parse("{\"scenarios\":["
                        " {\"name\":\"s\",\"verdict\":\"pass\",\"streams\":[{\"packets\":10,\"loss\":0.1,\"fps\":20}],"
                        "  \"baseline\":{\"name\":\"s\",\"verdict\":\"pass\","
                        "               \"streams\":[{\"packets\":10,\"loss\":0.002,\"fps\":19.5}]}},"
                        " {\"name\":\"client\",\"verdict\":\"pass\",\"baseline_note\":\"no reference client\"}],"
                        "\"summary\":{\"passed\":2,\"failed\":0,\"errors\":0,\"interrupted\":true}}");
    char *t = render(doc, false, false);
    CHECK(strcmp(line_starting(t, "scenario"),
                 "scenario verdict     loss     kbit/s     fps  jitter ms  time s ref loss ref fps") == 0);
    CHECK(strcmp(line_starting(t, "s "),
                 "s        pass      10.00%          -   20.00          -       -    0.20%   19.50") == 0);
    CHECK(strcmp(line_starting(t, "client"),
                 "client   pass           -          -       -          -       -        -       -") == 0);
    CHECK(strstr(t, "2 passed, 0 failed, 0 errors (interrupted)\n"));
    free(t);
    json_decref(doc);
}

static void long_names_are_cut_in_the_middle_and_stay_aligned(void)
{
    json_t *doc = parse("{\"scenarios\":["
                        " {\"name\":\"PLAY of a session through another stream's URL is refused\","
                        "  \"verdict\":\"pass\"},"
                        " {\"name\":\"\\u00e9t\\u00e9 \\u00e9t\\u00e9 \\u00e9t\\u00e9 \\u00e9t\\u00e9 \\u00e9t\\u00e9 "
                        "\\u00e9t\\u00e9 \\u00e9t\\u00e9 \\u00e9t\\u00e9 \\u00e9t\\u00e9 \\u00e9t\\u00e9 \\u00e9t\\u00e9 "
                        "\\u00e9t\\u00e9 end\",\"verdict\":\"fail\"},"
                        " {\"name\":\"short\",\"verdict\":\"pass\"}]}");
    char *t = render(doc, false, false);
    CHECK(strcmp(line_starting(t, "PLAY"), "PLAY of a session through ano...L is refused pass           -          -"
                                           "       -          -       -") == 0);
    /* Cut by characters, not bytes: 44 columns before the verdict. */
    const char *l = line_starting(t, "\xc3\xa9t");
    CHECK(strstr(l, "... \xc3\xa9t\xc3\xa9 \xc3\xa9t\xc3\xa9 end fail"));
    const char *v = strstr(l, " fail");
    size_t cols = 0;
    for (const char *p = l; p < v; p++)
        cols += ((unsigned char)*p & 0xc0) != 0x80;
    CHECK_EQ_INT(cols, 44);
    CHECK(strncmp(line_starting(t, "short"), "short                                        pass", 49) == 0);
    free(t);
    json_decref(doc);
}

static void missing_and_wrong_fields_render_what_they_can(void)
{
    json_t *doc = parse("{\"scenarios\":["
                        " {\"name\":\"n\",\"verdict\":\"pass\",\"streams\":{\"not\":\"an array\"},"
                        "  \"failures\":\"nope\",\"duration_s\":\"slow\"},"
                        " {\"verdict\":\"fail\",\"streams\":[1,\"x\",{\"packets\":\"many\",\"loss\":null}],"
                        "  \"failures\":[7,{\"line\":\"x\"},{\"check\":\"a.b\",\"message\":null,\"frame\":3}]},"
                        " 42,"
                        " {\"name\":\"e\"}]}");
    char *t = render(doc, false, false);
    CHECK(strcmp(line_starting(t, "n "), "n        pass           -          -       -          -       -") == 0);
    CHECK(strstr(t, "\n?        fail           -          -       -          -       -\n"));
    /* A failure without file, check or message still gets a line. */
    CHECK(strstr(t, "\n  ?: ?: \n"));
    CHECK(strstr(t, "\n  ?: a.b: \n"));
    /* No summary: counted from the verdicts (a non-object counts as an error). */
    CHECK(strstr(t, "\n1 passed, 1 failed, 2 errors\n"));
    free(t);
    json_decref(doc);
    /* Not even scenarios. */
    doc = parse("{}");
    t = render(doc, true, false);
    CHECK(strcmp(t, "scenario verdict     loss     kbit/s     fps  jitter ms  time s\n"
                    "0 passed, 0 failed, 0 errors\n") == 0);
    free(t);
    json_decref(doc);
}

static void terminal_controls_from_the_report_are_neutralised(void)
{
    json_t *doc = parse("{\"scenarios\":[{\"name\":\"x\\u001b[2Jy\",\"verdict\":\"fail\",\"file\":\"f\","
                        "\"failures\":[{\"check\":\"c.d\",\"message\":\"bad\\u001b]0;title\\u0007\\r\\nend\"}]}]}");
    char *t = render(doc, false, false);
    CHECK(strchr(t, '\033') == NULL && strchr(t, '\a') == NULL && strchr(t, '\r') == NULL);
    CHECK(strstr(t, "\nx?[2Jy   fail"));
    CHECK(strstr(t, "\n  f: c.d: bad?]0;title???end\n"));
    free(t);
    json_decref(doc);
}

int main(void)
{
    RUN(table_shows_the_worst_stream_and_the_closing_count);
    RUN(failures_name_file_line_check_and_frame);
    RUN(colour_codes_only_when_asked);
    RUN(quiet_prints_failures_and_the_closing_line_only);
    RUN(baseline_adds_reference_columns);
    RUN(long_names_are_cut_in_the_middle_and_stay_aligned);
    RUN(missing_and_wrong_fields_render_what_they_can);
    RUN(terminal_controls_from_the_report_are_neutralised);
    CHECK_DONE();
}
