/* libFuzzer target for the scenario parser (harness/replay/scenario.c):
 * parses the input as a scenario file. A refusal must come with a message
 * of the form "name:line:column: ..." whose line exists in the input; an
 * accepted scenario must be internally consistent (events sorted, every
 * step's fields in range), and every template it holds must expand with
 * any variable values without crashing; parsing the same bytes again must
 * give the same result. Any disagreement aborts so the fuzzer reports it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/scenario.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every variable has a value with characters a regex must escape. */
static int lookup(void *ctx, const char *name, size_t n, const char **value, size_t *vlen)
{
    (void)ctx;
    (void)name;
    (void)n;
    *value = "a.b*c{1}";
    *vlen = 8;
    return 0;
}

static void expand(const char *tpl, enum scenario_tpl_mode mode)
{
    if (!tpl)
        return;
    struct scenario_buf b = {.limit = 1u << 16};
    size_t off = 0;
    const char *why = NULL;
    if (scenario_expand(tpl, strlen(tpl), mode, lookup, NULL, &b, &off, &why, NULL, 0) < 0)
        check(why != NULL && off <= strlen(tpl));
    free(b.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scenario sc;
    char err[512];
    int rc = scenario_parse_buffer("f.rtsp", (const char *)data, size, &sc, err, sizeof err);
    if (rc < 0) {
        unsigned line = 0, col = 0;
        check(sscanf(err, "f.rtsp:%u:%u: ", &line, &col) == 2);
        check(line >= 1 && line <= count_lines(data, size) && col >= 1);
        check(sc.n_steps == 0 && sc.steps == NULL);
        scenario_free(&sc);
        return 0;
    }
    check(sc.n_steps > 0 && sc.n_steps <= SCENARIO_MAX_STEPS);
    check(sc.n_events <= SCENARIO_MAX_EVENTS && sc.n_allow <= SCENARIO_MAX_ALLOW);
    for (unsigned i = 1; i < sc.n_events; i++)
        check(sc.events[i - 1].at_ms <= sc.events[i].at_ms);
    for (unsigned i = 0; i < sc.n_allow; i++)
        check(scenario_check_id_valid(sc.allow[i]));
    unsigned lines = count_lines(data, size);
    for (unsigned i = 0; i < sc.n_steps; i++) {
        const struct scenario_step *st = &sc.steps[i];
        check(st->line >= 1 && st->line <= lines);
        check(st->exchange < (int)sc.n_exchanges);
        switch (st->kind) {
        case SCENARIO_STEP_SEND:
            if (st->send.form == SCENARIO_SEND_MESSAGE) {
                expand(st->send.start_line, SCENARIO_TPL_TEXT);
                for (unsigned k = 0; k < st->send.n_headers; k++)
                    expand(st->send.headers[k].value, SCENARIO_TPL_TEXT);
                expand(st->send.body, SCENARIO_TPL_TEXT);
            } else if (st->send.form == SCENARIO_SEND_RAW) {
                expand(st->send.raw, SCENARIO_TPL_CSTRING);
            } else {
                check(st->send.hex_len > 0);
            }
            if (st->send.pipeline_count)
                check(i + st->send.pipeline_count <= sc.n_steps);
            break;
        case SCENARIO_STEP_EXPECT:
            check(st->expect.n_status <= SCENARIO_MAX_ALTERNATIVES);
            check(st->expect.n_methods <= SCENARIO_MAX_ALTERNATIVES);
            check((sc.role == SCENARIO_ROLE_SERVER) == (st->expect.n_status > 0));
            expand(st->expect.uri, st->expect.uri_regex ? SCENARIO_TPL_REGEX : SCENARIO_TPL_TEXT);
            for (unsigned k = 0; k < st->expect.n_matchers; k++) {
                const struct scenario_matcher *m = &st->expect.matchers[k];
                check(m->n_captures <= SCENARIO_MAX_CAPTURES);
                bool regex = m->kind == SCENARIO_MATCH_REGEX || m->kind == SCENARIO_MATCH_SDP_REGEX ||
                             m->kind == SCENARIO_MATCH_BODY_REGEX || m->kind == SCENARIO_MATCH_BODY_NOT ||
                             (m->kind == SCENARIO_MATCH_SDP_ABSENT && m->pattern_regex);
                expand(m->pattern, regex ? SCENARIO_TPL_REGEX : SCENARIO_TPL_TEXT);
            }
            break;
        case SCENARIO_STEP_RTP_FOR:
            check(st->rtp != NULL && st->rtp->n_conds >= 1 && st->rtp->n_conds <= SCENARIO_MAX_CONDS);
            for (unsigned k = 0; k < st->rtp->n_conds; k++)
                check(st->rtp->conds[k].metric < SCENARIO_METRIC_COUNT);
            break;
        default: break;
        }
    }
    /* the same bytes parse the same way */
    struct scenario again;
    char err2[512];
    check(scenario_parse_buffer("f.rtsp", (const char *)data, size, &again, err2, sizeof err2) == 0);
    check(again.n_steps == sc.n_steps && again.n_events == sc.n_events &&
          again.n_exchanges == sc.n_exchanges);
    scenario_free(&again);
    scenario_free(&sc);
    return 0;
}
