/* libFuzzer target for the rubric parser and scorer (harness/grade/
 * rubric.c): parses the input as a rubric file. A refusal must come with a
 * message of the form "name:line:column: ..." whose line exists in the
 * input (the column is left out when a whole item is wrong); an accepted rubric must be consistent (items and conditions
 * within their limits, the maxima the sums of the items' points) and is
 * scored against a small run report that has every kind of evidence
 * (failures about a request, `rtp for` checks, reply headers, a scenario
 * that did not run); the score must list every item. Any disagreement
 * aborts so the fuzzer reports it. Whole-file refusals (no items, no
 * @suite) name the file alone, or the file and the item's line. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grade/rubric.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char REPORT[] =
    "{\"schema\":\"rtsp-harness/run-report\",\"version\":1,\"run\":{},\"summary\":{},\"scenarios\":["
    " {\"name\":\"flow\",\"file\":\"scenarios/grade/flow.rtsp\",\"verdict\":\"fail\","
    "  \"exchanges\":[{\"method\":\"SETUP\",\"response\":\"RTSP/1.0 200 OK\\nCSeq: 1\\nSession: 1\"},"
    "                {\"method\":\"PLAY\",\"response\":\"RTSP/1.0 200 OK\\r\\nCSeq: 9\\r\\nFrames-Sent: 0\\r\\n\"}],"
    "  \"failures\":[{\"check\":\"rtsp.cseq.echo\",\"line\":12,\"exchange\":1,"
    "                 \"message\":\"expected CSeq 2, got 9\",\"pcap\":\"x.pcap\",\"frame\":7},"
    "                {\"check\":\"scenario.status\",\"line\":14,\"exchange\":0,\"message\":\"expected 200\"},"
    "                {\"check\":\"scenario.rtp\",\"line\":15,\"message\":\"expected fps 20, measured 18\"}],"
    "  \"checks\":[{\"id\":\"scenario.rtp.fps\",\"status\":\"fail\",\"method\":\"PLAY\","
    "              \"message\":\"measured 18\",\"failures\":[2, 7, -1]},"
    "             {\"id\":\"scenario.rtp.interval\",\"status\":\"pass\",\"failures\":[]}]},"
    " {\"name\":\"ok\",\"file\":\"ok.rtsp\",\"verdict\":\"pass\",\"failures\":[]},"
    " {\"name\":\"second\",\"file\":\"scenarios/grade/second.rtsp\",\"verdict\":\"error\","
    "  \"error\":\"the server exited\",\"failures\":[]}]}";

static void check_cond(const struct rubric_cond *c, unsigned lines)
{
    check(c->line >= 1 && c->line <= lines && c->n_ids <= RUBRIC_MAX_IDS);
    check(c->scenario[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *report;
    static struct rubric r;
    if (!report) {
        json_error_t je;
        report = json_loads(REPORT, 0, &je);
        check(report != NULL);
    }
    char err[512];
    if (rubric_parse((const char *)data, size, "f.rubric", &r, err, sizeof err) != 0) {
        unsigned line = 0;
        check(strncmp(err, "f.rubric:", 9) == 0);
        if (sscanf(err, "f.rubric:%u:", &line) == 1)
            check(line >= 1 && line <= count_lines(data, size));
        else
            check(err[9] == ' ');
        return 0;
    }
    unsigned lines = count_lines(data, size);
    check(r.n_items <= RUBRIC_MAX_ITEMS && r.n_suite <= RUBRIC_MAX_SUITE &&
          r.n_dialects <= RUBRIC_MAX_DIALECTS && r.n_movie_args <= RUBRIC_MAX_MOVIE_ARGS);
    double max = 0, max_bonus = 0;
    for (size_t i = 0; i < r.n_items; i++) {
        const struct rubric_item *it = &r.items[i];
        check(it->n_when <= RUBRIC_MAX_CONDS && it->n_partial <= RUBRIC_MAX_CONDS);
        check(it->line >= 1 && it->line <= lines && isfinite(it->points));
        for (size_t k = 0; k < it->n_when; k++)
            check_cond(&it->when[k], lines);
        for (size_t k = 0; k < it->n_partial; k++)
            check_cond(&it->partial[k].cond, lines);
        *(it->bonus ? &max_bonus : &max) += it->points;
    }
    check(max == r.max_points && max_bonus == r.max_bonus);
    json_t *extra = json_pack("{s:s}", r.n_items ? r.items[0].id : "none", "decided before the run");
    json_t *score = rubric_score(&r, report, extra);
    check(score != NULL && json_array_size(json_object_get(score, "items")) == r.n_items);
    json_decref(score);
    json_decref(extra);
    return 0;
}
