/* Rubric files (harness/grade/rubric.c): parsing, errors with file:line:
 * column, and scoring a run report: all-or-nothing items, partial credit,
 * failures counted only for the request they are about, `rtp for`
 * conditions, reply headers, bonus items, scenarios that did not run, and
 * items the grader decided before running. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "grade/rubric.h"

static const char *const RUBRIC =
    "# a rubric for tests\n"
    "@name   t\n"
    "@suite  ../lab\n"
    "@probe  probe.rtsp\n"
    "@dialects lab bare-cseq\n"
    "@movie  --frames 20 --pattern noise\n"
    "item setup 10 \"SETUP is answered 200\"\n"
    "  when clean flow scenario.status,scenario.timeout method SETUP\n"
    "  hint \"Answer SETUP with \\\"RTSP/1.0 200 OK\\\".\"\n"
    "  rfc  \"RFC 2326 10.4\"\n"
    "item cseq 10 \"CSeq echoed\"\n"
    "  when clean * rtsp.cseq.echo\n"
    "item pacing 10 \"20 fps\"\n"
    "  when clean flow scenario.rtp.fps\n"
    "  partial 5 when clean flow scenario.rtp.interval\n"
    "item second 5 \"a second client\"\n"
    "  when passes second\n"
    "item stats 5 \"statistics\"\n"
    "  bonus\n"
    "  when header flow PLAY ^frames-sent:\n";

static json_t *report(void)
{
    const char *text =
        "{\"schema\":\"rtsp-harness/run-report\",\"version\":1,\"run\":{},\"summary\":{},\"scenarios\":["
        " {\"name\":\"flow\",\"file\":\"scenarios/grade/flow.rtsp\",\"verdict\":\"fail\","
        "  \"exchanges\":[{\"method\":\"SETUP\",\"response\":\"RTSP/1.0 200 OK\\nCSeq: 1\\nSession: 1\"},"
        "                {\"method\":\"PLAY\",\"response\":\"RTSP/1.0 200 OK\\nCSeq: 9\\nSession: 1\\nFrames-Sent: 0\"}],"
        "  \"failures\":[{\"check\":\"rtsp.cseq.echo\",\"source\":\"replay\",\"line\":12,\"exchange\":1,"
        "                 \"message\":\"expected CSeq 2, got 9\",\"pcap\":\"x.pcap\",\"frame\":7},"
        "                {\"check\":\"scenario.status\",\"source\":\"replay\",\"line\":14,\"exchange\":1,"
        "                 \"message\":\"expected 200, got 500\"},"
        "                {\"check\":\"scenario.rtp\",\"source\":\"capture\",\"line\":15,\"column\":3,"
        "                 \"message\":\"expected fps 20 +- 2%, measured 18\"}],"
        "  \"checks\":[{\"id\":\"scenario.rtp.fps\",\"name\":\"scenario.rtp.fps:15:3\",\"status\":\"fail\","
        "              \"message\":\"expected fps 20 +- 2%, measured 18\",\"failures\":[2]},"
        "             {\"id\":\"scenario.rtp.interval\",\"name\":\"scenario.rtp.interval:15:20\",\"status\":\"pass\","
        "              \"failures\":[]}]},"
        " {\"name\":\"second\",\"file\":\"scenarios/grade/second.rtsp\",\"verdict\":\"error\","
        "  \"error\":\"the server exited\",\"failures\":[]}]}";
    json_error_t je;
    json_t *r = json_loads(text, 0, &je);
    if (!r)
        fprintf(stderr, "bad test JSON: %s at %d\n", je.text, je.position);
    return r;
}

static const json_t *item(const json_t *g, const char *id)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(g, "items"), i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "id")), id) == 0)
            return it;
    }
    return NULL;
}

static double pts(const json_t *g, const char *id)
{
    return json_number_value(json_object_get(item(g, id), "points"));
}

static const char *status(const json_t *g, const char *id)
{
    return json_string_value(json_object_get(item(g, id), "status"));
}

static void parses_every_directive(void)
{
    static struct rubric r;
    char err[512] = "";
    CHECK_EQ_INT(rubric_parse(RUBRIC, strlen(RUBRIC), "dir/t.rubric", &r, err, sizeof err), 0);
    CHECK(err[0] == 0);
    CHECK(strcmp(r.name, "t") == 0);
    CHECK_EQ_INT(r.n_suite, 1);
    CHECK(strcmp(r.suite[0], "dir/../lab") == 0);
    CHECK(strcmp(r.probe, "dir/probe.rtsp") == 0);
    CHECK_EQ_INT(r.n_dialects, 2);
    CHECK(strcmp(r.dialects[1], "bare-cseq") == 0);
    CHECK_EQ_INT(r.n_movie_args, 4);
    CHECK(strcmp(r.movie_args[3], "noise") == 0);
    CHECK_EQ_INT(r.n_items, 5);
    CHECK(fabs(r.max_points - 35) < 1e-9 && fabs(r.max_bonus - 5) < 1e-9);
    CHECK(strcmp(r.items[0].hint, "Answer SETUP with \"RTSP/1.0 200 OK\".") == 0);
    CHECK(strcmp(r.items[0].when[0].method, "SETUP") == 0);
    CHECK_EQ_INT(r.items[0].when[0].n_ids, 2);
    CHECK_EQ_INT(r.items[2].n_partial, 1);
    CHECK(r.items[4].bonus);
}

static void scores_a_report(void)
{
    static struct rubric r;
    char err[512];
    CHECK_EQ_INT(rubric_parse(RUBRIC, strlen(RUBRIC), "t.rubric", &r, err, sizeof err), 0);
    json_t *rep = report();
    json_t *g = rubric_score(&r, rep, NULL);
    /* The 500 was to PLAY: SETUP keeps its points. */
    CHECK(fabs(pts(g, "setup") - 10) < 1e-9 && strcmp(status(g, "setup"), "pass") == 0);
    /* The CSeq failure costs the cseq item, with its evidence. */
    CHECK(fabs(pts(g, "cseq")) < 1e-9 && strcmp(status(g, "cseq"), "fail") == 0);
    const json_t *ev = json_array_get(json_object_get(item(g, "cseq"), "evidence"), 0);
    CHECK(ev && json_integer_value(json_object_get(ev, "frame")) == 7);
    CHECK(strcmp(json_string_value(json_object_get(ev, "scenario")), "flow") == 0);
    /* fps failed, the interval held: partial credit. */
    CHECK(fabs(pts(g, "pacing") - 5) < 1e-9 && strcmp(status(g, "pacing"), "partial") == 0);
    /* A scenario that did not run passes nothing. */
    CHECK(strcmp(status(g, "second"), "fail") == 0);
    const char *why = json_string_value(json_array_get(json_object_get(item(g, "second"), "reasons"), 0));
    CHECK(why && strstr(why, "the server exited"));
    /* The header matched, case-insensitively: the bonus is on top. */
    CHECK(fabs(pts(g, "stats") - 5) < 1e-9);
    CHECK(fabs(json_number_value(json_object_get(g, "points")) - 15) < 1e-9);
    CHECK(fabs(json_number_value(json_object_get(g, "bonus")) - 5) < 1e-9);
    CHECK(fabs(json_number_value(json_object_get(g, "max")) - 35) < 1e-9);
    json_decref(g);

    /* What the grader found before running decides an item. */
    json_t *extra = json_pack("{s:s}", "setup", "missing module cv2");
    g = rubric_score(&r, rep, extra);
    CHECK(strcmp(status(g, "setup"), "fail") == 0);
    why = json_string_value(json_array_get(json_object_get(item(g, "setup"), "reasons"), 0));
    CHECK(why && strcmp(why, "missing module cv2") == 0);
    json_decref(g);
    json_decref(extra);
    json_decref(rep);
}

static void a_scenario_never_run_fails_its_items(void)
{
    static struct rubric r;
    char err[512];
    const char *text = "@suite x\nitem a 1 \"a\"\n  when ran nowhere\n";
    CHECK_EQ_INT(rubric_parse(text, strlen(text), "t.rubric", &r, err, sizeof err), 0);
    json_t *rep = json_pack("{s:[]}", "scenarios");
    json_t *g = rubric_score(&r, rep, NULL);
    CHECK(strcmp(status(g, "a"), "fail") == 0);
    const char *why = json_string_value(json_array_get(json_object_get(item(g, "a"), "reasons"), 0));
    CHECK(why && strstr(why, "nowhere was not run"));
    json_decref(g);
    json_decref(rep);
}

static void errors_name_file_line_and_column(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"@suite x\nitem a 1 \"t\"\n  when bogus s\n", "t.rubric:3:8: unknown condition"},
        {"@suite x\nitem a x \"t\"\n  when ran s\n", "t.rubric:2:8: points must be a number"},
        {"@suite x\nitem a 1 \"t\n", "t.rubric:2:10: unterminated quoted string"},
        {"@suite x\n  when ran s\n", "t.rubric:2:3: an indented line belongs to an item"},
        {"@suite x\nitem a 1 \"t\"\n  when ran s\nitem a 2 \"u\"\n  when ran s\n",
         "t.rubric:4:6: item a is already defined on line 2"},
        {"@suite x\nitem A 1 \"t\"\n  when ran s\n", "t.rubric:2:6: an item id is lower-case"},
        {"@suite x\nitem a 1 \"t\"\n", "t.rubric:2: item a has no `when` condition"},
        {"item a 1 \"t\"\n  when ran s\n", "t.rubric: no @suite"},
        {"@suite x\nitem a 1 \"t\"\n  when clean s Bad.Id\n", "t.rubric:3:16: a check id is lower-case"},
        {"@suite x\nitem a 1 \"t\"\n  when header s PLAY (\n", "t.rubric:3:22: not a valid POSIX"},
        {"@suite x\nitem a 1 \"t\"\n  when ran s\n  partial 2 when ran s\n",
         "t.rubric:4:11: partial credit above the item's points"},
        {"@suite x\nitem a 1 \"t\"\n  when ran s extra\n", "t.rubric:3:14: unexpected text"},
        {"@suite x\n@movie --out f\nitem a 1 \"t\"\n  when ran s\n", "t.rubric:2:8: @movie takes fixture options"},
        {"@bogus\n", "t.rubric:1:1: expected @name, @suite"},
        {"", "t.rubric: no items"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static struct rubric r;
        char err[512] = "";
        int rc = rubric_parse(cases[i].text, strlen(cases[i].text), "t.rubric", &r, err, sizeof err);
        CHECK_EQ_INT(rc, -1);
        if (!strstr(err, cases[i].want)) {
            fprintf(stderr, "case %zu: got \"%s\", want \"%s\"\n", i, err, cases[i].want);
            check_failures++;
        }
    }
}

static void the_default_rubric_loads(void)
{
    static struct rubric r;
    char err[512] = "";
    CHECK_EQ_INT(rubric_load("scenarios/grade/lab.rubric", &r, err, sizeof err), 0);
    if (err[0])
        fprintf(stderr, "%s\n", err);
    CHECK(r.n_items >= 20);
    CHECK(r.n_dialects == 3);
}

int main(void)
{
    RUN(parses_every_directive);
    RUN(scores_a_report);
    RUN(a_scenario_never_run_fails_its_items);
    RUN(errors_name_file_line_and_column);
    RUN(the_default_rubric_loads);
    return check_failures != 0;
}
