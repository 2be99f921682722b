/* libFuzzer target for what `rtsp-harness report` does with a run report
 * given to it (harness/report/): the input is the JSON document. One that
 * jansson reads must pass the shape check or be refused with a message
 * naming it; one that passes is rendered as terminal text, JUnit XML and
 * the HTML page (to files in a temporary directory, as `report` writes
 * them, none left behind), compared with itself (nothing can regress),
 * merged with itself (the merge must pass the shape check again) and
 * scored by a rubric with every kind of condition. Any disagreement
 * aborts so the fuzzer reports it. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grade/rubric.h"
#include "report/report.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char RUBRIC[] = "@name t\n"
                             "@suite .\n"
                             "item a 10 \"clean\"\n"
                             "  when clean flow scenario.status,rtsp.cseq.echo method SETUP\n"
                             "  partial 5 when clean * scenario.rtp.fps\n"
                             "item b 5 \"runs\"\n"
                             "  when ran *\n"
                             "  when passes flow\n"
                             "item c 2 \"header\"\n"
                             "  bonus\n"
                             "  when header * PLAY ^frames-sent:\n";

/* JUnit and HTML into a directory made for this input and removed after
 * it, as `report` writes them (atomically, through a temporary file). */
static void write_files(const json_t *doc)
{
    char dir[] = "/tmp/rtsp-harness-fuzz-report-XXXXXX";
    char junit[sizeof dir + 16], html[sizeof dir + 16], err[512] = "";
    check(mkdtemp(dir) != NULL);
    snprintf(junit, sizeof junit, "%s/junit.xml", dir);
    snprintf(html, sizeof html, "%s/index.html", dir);
    if (report_junit_write(doc, junit, err, sizeof err) != 0 || report_html_write(doc, html, err, sizeof err) != 0)
        check(err[0] != '\0');
    unlink(junit);
    unlink(html);
    check(rmdir(dir) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    static struct rubric rubric;
    char err[512];
    if (!sink) {
        check(rubric_parse(RUBRIC, sizeof RUBRIC - 1, "t.rubric", &rubric, err, sizeof err) == 0);
        check((sink = fopen("/dev/null", "w")) != NULL);
    }
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return 0;
    if (report_check_shape(doc, "f.json", err, sizeof err) != 0) {
        check(strncmp(err, "f.json: ", 8) == 0);
        json_decref(doc);
        return 0;
    }
    struct report_text_opts text = {.color = true};
    report_text(sink, doc, &text);
    text.quiet = true;
    report_text(sink, doc, &text);
    write_files(doc);

    struct report_compare_opts cmp = {.quiet = false};
    int rc = report_compare(sink, doc, "base.json", doc, "now.json", &cmp, err, sizeof err);
    check(rc == 0 || (rc == 2 && err[0] != '\0'));

    json_t *docs[] = {doc, doc};
    const char *names[] = {"a", "b"};
    json_t *merged = report_merge(docs, names, 2, "merged", err, sizeof err);
    if (merged) {
        check(report_check_shape(merged, "merged", err, sizeof err) == 0);
        json_decref(merged);
    } else {
        check(err[0] != '\0');
    }

    json_t *score = rubric_score(&rubric, doc, NULL);
    check(json_array_size(json_object_get(score, "items")) == rubric.n_items);
    json_decref(score);
    json_decref(doc);
    return 0;
}
