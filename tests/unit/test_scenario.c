/* Unit tests for the scenario parser (harness/replay/scenario.c): every
 * construct of docs/scenarios.md parsed into the right steps and fields
 * (directives, impairment lines and phases, message blocks, every matcher,
 * raw bytes, pipelines and splits, RTP windows and their conditions, step
 * modifiers and exchanges, connections), template expansion (variables,
 * regex escaping, C escapes, {repeat}), error messages that name the
 * file, line and column for many kinds of bad input, and the request
 * dialect a lab scenario selects (@dialect, found next to the file). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "replay/dialect.h"
#include "replay/scenario.h"

static char err[512];

static int parse(const char *text, struct scenario *sc)
{
    return scenario_parse_buffer("t.rtsp", text, strlen(text), sc, err, sizeof err);
}

/* The text must fail with an error that starts with prefix. */
static void expect_error(const char *text, const char *prefix)
{
    struct scenario sc;
    int rc = parse(text, &sc);
    CHECK_EQ_INT(rc, -1);
    if (strncmp(err, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "    error was: %s\n    wanted:    %s...\n", err, prefix);
        CHECK(strncmp(err, prefix, strlen(prefix)) == 0);
    }
    CHECK_EQ_INT(sc.n_steps, 0);
    scenario_free(&sc);
}

static const char *brief_example = "# comment\n"
                                   "@name     play, pause, resume, teardown\n"
                                   "@role     server            # or client\n"
                                   "@profile  rfc2326\n"
                                   "@transport udp\n"
                                   "@timeout  5s\n"
                                   "@impair   delay 30ms 10ms loss 2% seed 7           # both directions\n"
                                   "@impair   to-peer loss 10% seed 1\n"
                                   "@allow    rtsp.cseq.increase rtsp.status\n"
                                   "at 5s: blackout 2s\n"
                                   "at 2s: loss 30%\n"
                                   "at 4s: to-peer loss 0%\n"
                                   "\n"
                                   "> OPTIONS {url} RTSP/1.0\n"
                                   "< RTSP/1.0 200\n"
                                   "< Public: ~DESCRIBE.*SETUP.*PLAY\n"
                                   "\n"
                                   "> DESCRIBE {url} RTSP/1.0\n"
                                   "> Accept: application/sdp\n"
                                   "< RTSP/1.0 200\n"
                                   "< sdp: m=video 0 RTP/AVP 26\n"
                                   "< sdp: ~a=control:(.*) => $ctl\n"
                                   "\n"
                                   "> SETUP {url}/{ctl} RTSP/1.0\n"
                                   "< RTSP/1.0 200\n"
                                   "< Session: $session\n"
                                   "< Transport: ~server_port=([0-9]+)-([0-9]+) => $srtp $srtcp\n"
                                   "\n"
                                   "> PLAY {url} RTSP/1.0\n"
                                   "> Session: {session}\n"
                                   "< RTSP/1.0 200\n"
                                   "rtp for 3s: frames >= 50, pt = 26, loss <= 5%\n"
                                   "\n"
                                   "> TEARDOWN {url} RTSP/1.0\n"
                                   "< RTSP/1.0 2xx\n";

static void test_directives_impairment_and_events(void)
{
    struct scenario sc;
    CHECK_EQ_INT(parse(brief_example, &sc), 0);
    if (err[0])
        fprintf(stderr, "    %s\n", err);
    CHECK(strcmp(sc.name, "play, pause, resume, teardown") == 0);
    CHECK_EQ_INT(sc.role, SCENARIO_ROLE_SERVER);
    CHECK_EQ_INT(sc.profile, SCENARIO_PROFILE_RFC2326);
    CHECK_EQ_INT(sc.transport, SCENARIO_TRANSPORT_UDP);
    CHECK_EQ_INT(sc.timeout_ms, 5000);
    CHECK_EQ_INT(sc.on_fail, SCENARIO_ON_FAIL_STOP);
    CHECK(sc.impair_given);
    CHECK_EQ_INT(sc.impair[SCENARIO_DIR_TO_SUT].delay_us, 30000);
    CHECK_EQ_INT(sc.impair[SCENARIO_DIR_TO_SUT].jitter_us, 10000);
    CHECK_EQ_INT(sc.impair[SCENARIO_DIR_TO_SUT].loss_ppm, 20000);
    CHECK_EQ_INT(sc.impair[SCENARIO_DIR_TO_SUT].seed, 7);
    /* the one-direction line refines the both-directions line */
    CHECK_EQ_INT(sc.impair[SCENARIO_DIR_TO_PEER].loss_ppm, 100000);
    CHECK_EQ_INT(sc.impair[SCENARIO_DIR_TO_PEER].delay_us, 0);
    CHECK(strcmp(sc.impair_text[SCENARIO_DIR_TO_SUT], "delay 30ms 10ms loss 2% seed 7") == 0);
    CHECK(strcmp(sc.impair_text[SCENARIO_DIR_TO_PEER], "loss 10% seed 1") == 0);
    CHECK_EQ_INT(sc.n_allow, 2);
    CHECK(scenario_allows(&sc, "rtsp.status"));
    CHECK(scenario_allows(&sc, "rtsp.cseq.increase"));
    CHECK(!scenario_allows(&sc, "rtsp.cseq.echo"));
    /* events sorted by time, whatever the file order */
    CHECK_EQ_INT(sc.n_events, 3);
    if (sc.n_events == 3) {
        CHECK_EQ_INT(sc.events[0].at_ms, 2000);
        CHECK_EQ_INT(sc.events[0].kind, SCENARIO_EVENT_IMPAIR);
        CHECK_EQ_INT(sc.events[0].direction, SCENARIO_DIR_BOTH);
        CHECK_EQ_INT(sc.events[0].spec.loss_ppm, 300000);
        CHECK(strcmp(sc.events[0].text, "loss 30%") == 0);
        CHECK_EQ_INT(sc.events[0].line, 11);
        CHECK_EQ_INT(sc.events[0].column, 1);
        CHECK_EQ_INT(sc.events[1].at_ms, 4000);
        CHECK_EQ_INT(sc.events[1].direction, SCENARIO_DIR_TO_PEER);
        CHECK(strcmp(sc.events[1].text, "loss 0%") == 0);
        CHECK_EQ_INT(sc.events[2].kind, SCENARIO_EVENT_BLACKOUT);
        CHECK_EQ_INT(sc.events[2].at_ms, 5000);
        CHECK_EQ_INT(sc.events[2].duration_ms, 2000);
        CHECK_EQ_INT(sc.events[2].line, 10);
    }
    CHECK_EQ_INT(sc.n_steps, 11);
    scenario_free(&sc);
    CHECK_EQ_INT(sc.n_steps, 0);
}

static void test_defaults(void)
{
    struct scenario sc;
    CHECK_EQ_INT(
        scenario_parse_buffer("dir/some-test.rtsp", "> OPTIONS * RTSP/1.0\n", 21, &sc, err, sizeof err), 0);
    CHECK(strcmp(sc.name, "some-test") == 0);
    CHECK(strcmp(sc.path, "dir/some-test.rtsp") == 0);
    CHECK_EQ_INT(sc.role, SCENARIO_ROLE_SERVER);
    CHECK_EQ_INT(sc.profile, SCENARIO_PROFILE_RFC2326);
    CHECK_EQ_INT(sc.timeout_ms, SCENARIO_DEFAULT_TIMEOUT_MS);
    CHECK(!sc.impair_given);
    CHECK_EQ_INT(sc.n_events, 0);
    CHECK_EQ_INT(sc.n_steps, 1);
    scenario_free(&sc);
}

static void test_send_block(void)
{
    struct scenario sc;
    const char *text = "@transport tcp\n"
                       "@on-fail continue\n"
                       "> ANNOUNCE {url} RTSP/1.0\n"
                       ">   Content-Type: application/sdp\n"
                       "> !Session\n"
                       "> CSeq: 7\n"
                       "> X-Big: {repeat:A:10}\n"
                       ">\n"
                       "> v=0\n"
                       ">\n"
                       "> s={media}\n";
    CHECK_EQ_INT(parse(text, &sc), 0);
    if (sc.n_steps != 1) {
        fprintf(stderr, "    %s\n", err);
        CHECK_EQ_INT(sc.n_steps, 1);
        return;
    }
    CHECK_EQ_INT(sc.transport, SCENARIO_TRANSPORT_TCP);
    CHECK_EQ_INT(sc.on_fail, SCENARIO_ON_FAIL_CONTINUE);
    CHECK_EQ_INT(sc.n_steps, 1);
    const struct scenario_step *st = &sc.steps[0];
    CHECK_EQ_INT(st->kind, SCENARIO_STEP_SEND);
    CHECK_EQ_INT(st->line, 3);
    CHECK_EQ_INT(st->send.form, SCENARIO_SEND_MESSAGE);
    CHECK(strcmp(st->send.start_line, "ANNOUNCE {url} RTSP/1.0") == 0);
    CHECK_EQ_INT(st->send.start_column, 3);
    CHECK_EQ_INT(st->send.n_headers, 4);
    CHECK(strcmp(st->send.headers[0].name, "Content-Type") == 0);
    CHECK(strcmp(st->send.headers[0].value, "application/sdp") == 0);
    CHECK_EQ_INT(st->send.headers[0].column, 5);
    CHECK_EQ_INT(st->send.headers[0].value_column, 19);
    CHECK(strcmp(st->send.headers[1].name, "Session") == 0);
    CHECK(st->send.headers[1].value == NULL);
    CHECK(strcmp(st->send.headers[2].value, "7") == 0);
    CHECK_EQ_INT(st->send.headers[3].line, 7);
    CHECK(st->send.has_body);
    CHECK(strcmp(st->send.body, "v=0\n\ns={media}\n") == 0);
    CHECK_EQ_INT(st->send.body_line, 9);
    CHECK_EQ_INT(st->exchange, 0);
    scenario_free(&sc);
}

static void test_expect_matchers(void)
{
    struct scenario sc;
    const char *text = "> DESCRIBE {url} RTSP/1.0\n"
                       "< RTSP/1.0 454|4xx|200 Session Not Found\n"
                       "< Public: OPTIONS, PLAY\n"
                       "< Content-Base: ~^rtsp://([^/]+)/(.*)$ => $hostport $path\n"
                       "< Server:\n"
                       "< !Require\n"
                       "< Session: $sid\n"
                       "< sdp: m=video 0 RTP/AVP 26\n"
                       "< sdp: ~^a=control:(.*)$ => $ctl\n"
                       "< sdp: !a=recvonly\n"
                       "< sdp: !~^b=AS:\n"
                       "< body: ~^v=0\n"
                       "< body: !~m=audio\n"
                       "< X-Whole: ~[0-9]{6} => $six\n"
                       "< CSeq: {cseq}\n";
    CHECK_EQ_INT(parse(text, &sc), 0);
    if (err[0])
        fprintf(stderr, "    %s\n", err);
    CHECK_EQ_INT(sc.n_steps, 2);
    if (sc.n_steps != 2) {
        scenario_free(&sc);
        return;
    }
    const struct scenario_expect *ex = &sc.steps[1].expect;
    CHECK_EQ_INT(sc.steps[1].kind, SCENARIO_STEP_EXPECT);
    CHECK_EQ_INT(sc.steps[1].exchange, sc.steps[0].exchange);
    CHECK_EQ_INT(ex->n_status, 3);
    CHECK(strcmp(ex->status[0].code, "454") == 0);
    CHECK(strcmp(ex->status[1].code, "4xx") == 0);
    CHECK(strcmp(ex->status[2].code, "200") == 0);
    CHECK(strcmp(ex->reason, "Session Not Found") == 0);
    CHECK_EQ_INT(ex->n_matchers, 13);
    CHECK(ex->explicit_cseq);
    CHECK(ex->explicit_session);
    const struct scenario_matcher *m = ex->matchers;
    CHECK_EQ_INT(m[0].kind, SCENARIO_MATCH_EXACT);
    CHECK(strcmp(m[0].name, "Public") == 0 && strcmp(m[0].pattern, "OPTIONS, PLAY") == 0);
    CHECK_EQ_INT(m[0].line, 3);
    CHECK_EQ_INT(m[0].column, 3);
    CHECK_EQ_INT(m[0].pattern_column, 11);
    CHECK_EQ_INT(m[1].kind, SCENARIO_MATCH_REGEX);
    CHECK(strcmp(m[1].pattern, "^rtsp://([^/]+)/(.*)$") == 0);
    CHECK_EQ_INT(m[1].n_captures, 2);
    CHECK(strcmp(m[1].captures[0], "hostport") == 0 && strcmp(m[1].captures[1], "path") == 0);
    CHECK_EQ_INT(m[2].kind, SCENARIO_MATCH_PRESENT);
    CHECK_EQ_INT(m[3].kind, SCENARIO_MATCH_ABSENT);
    CHECK(strcmp(m[3].name, "Require") == 0);
    CHECK_EQ_INT(m[4].kind, SCENARIO_MATCH_CAPTURE);
    CHECK(strcmp(m[4].captures[0], "sid") == 0);
    CHECK_EQ_INT(m[5].kind, SCENARIO_MATCH_SDP_LINE);
    CHECK(strcmp(m[5].pattern, "m=video 0 RTP/AVP 26") == 0);
    CHECK_EQ_INT(m[6].kind, SCENARIO_MATCH_SDP_REGEX);
    CHECK_EQ_INT(m[7].kind, SCENARIO_MATCH_SDP_ABSENT);
    CHECK(!m[7].pattern_regex);
    CHECK_EQ_INT(m[8].kind, SCENARIO_MATCH_SDP_ABSENT);
    CHECK(m[8].pattern_regex);
    CHECK(strcmp(m[8].pattern, "^b=AS:") == 0);
    CHECK_EQ_INT(m[9].kind, SCENARIO_MATCH_BODY_REGEX);
    CHECK_EQ_INT(m[10].kind, SCENARIO_MATCH_BODY_NOT);
    /* a regex interval is not a variable */
    CHECK_EQ_INT(m[11].kind, SCENARIO_MATCH_REGEX);
    CHECK(strcmp(m[11].pattern, "[0-9]{6}") == 0);
    CHECK_EQ_INT(m[12].kind, SCENARIO_MATCH_EXACT);
    scenario_free(&sc);
}

static void test_client_role(void)
{
    struct scenario sc;
    const char *text = "@role client\n"
                       "@profile lab\n"
                       "accept first\n"
                       "< SETUP {url} RTSP/1.0\n"
                       "< Transport: ~client_port=\n"
                       "> RTSP/1.0 200 OK\n"
                       "\n"
                       "< GET_PARAMETER|OPTIONS ~^rtsp://.*$\n"
                       "< auth: digest alice s3cret\n"
                       "> RTSP/1.0 401\n"
                       "> WWW-Authenticate: Digest realm=\"r\", nonce=\"{nonce}\"\n"
                       "\n"
                       "< PLAY * RTSP/1.0\n"
                       "< auth: basic bob pw\n"
                       "> RTSP/1.0 200 OK\n"
                       "rtp send fps 25\n"
                       "wait 1s\n"
                       "rtp stop\n"
                       "rtp send\n"
                       "close\n"
                       "accept\n"
                       "use first\n";
    CHECK_EQ_INT(parse(text, &sc), 0);
    if (err[0])
        fprintf(stderr, "    %s\n", err);
    CHECK_EQ_INT(sc.role, SCENARIO_ROLE_CLIENT);
    CHECK_EQ_INT(sc.profile, SCENARIO_PROFILE_LAB);
    CHECK_EQ_INT(sc.n_steps, 14);
    if (sc.n_steps != 14) {
        scenario_free(&sc);
        return;
    }
    CHECK_EQ_INT(sc.steps[0].kind, SCENARIO_STEP_ACCEPT);
    CHECK(strcmp(sc.steps[0].conn, "first") == 0);
    const struct scenario_expect *ex = &sc.steps[1].expect;
    CHECK_EQ_INT(ex->n_methods, 1);
    CHECK(strcmp(ex->methods[0], "SETUP") == 0);
    CHECK(strcmp(ex->uri, "{url}") == 0);
    CHECK(!ex->uri_regex);
    CHECK_EQ_INT(ex->uri_column, 9);
    CHECK_EQ_INT(sc.steps[2].kind, SCENARIO_STEP_SEND);
    CHECK_EQ_INT(sc.steps[2].exchange, sc.steps[1].exchange);
    ex = &sc.steps[3].expect;
    CHECK_EQ_INT(ex->n_methods, 2);
    CHECK(strcmp(ex->methods[1], "OPTIONS") == 0);
    CHECK(ex->uri_regex);
    CHECK(strcmp(ex->uri, "^rtsp://.*$") == 0);
    CHECK_EQ_INT(ex->matchers[0].kind, SCENARIO_MATCH_AUTH_DIGEST);
    CHECK(strcmp(ex->matchers[0].pattern, "alice") == 0);
    CHECK(strcmp(ex->matchers[0].password, "s3cret") == 0);
    CHECK_EQ_INT(sc.steps[5].expect.matchers[0].kind, SCENARIO_MATCH_AUTH_BASIC);
    CHECK(strcmp(sc.steps[5].expect.uri, "*") == 0);
    CHECK_EQ_INT(sc.steps[7].kind, SCENARIO_STEP_RTP_SEND);
    CHECK(fabs(sc.steps[7].fps - 25) < 1e-9);
    CHECK_EQ_INT(sc.steps[8].kind, SCENARIO_STEP_WAIT);
    CHECK_EQ_INT(sc.steps[8].duration_ms, 1000);
    CHECK_EQ_INT(sc.steps[9].kind, SCENARIO_STEP_RTP_STOP);
    CHECK_EQ_INT(sc.steps[10].kind, SCENARIO_STEP_RTP_SEND);
    CHECK(sc.steps[10].fps == 0);
    CHECK_EQ_INT(sc.steps[11].kind, SCENARIO_STEP_CLOSE);
    CHECK(sc.steps[11].conn[0] == '\0');
    CHECK_EQ_INT(sc.steps[12].kind, SCENARIO_STEP_ACCEPT);
    CHECK(strcmp(sc.steps[12].conn, "c2") == 0);
    CHECK_EQ_INT(sc.steps[13].kind, SCENARIO_STEP_USE);
    scenario_free(&sc);
}

static void test_raw_hex_split_pipeline(void)
{
    struct scenario sc;
    const char *text = "@profile lab\n"
                       ">raw \"SETUP {media} RTSP/1.0\\nCSeq: 1\\n\\x41\"   # a comment\n"
                       ">hex 24 00 00 0c 80\n"
                       ">hex 2400000c\n"
                       ">split 5 10ms\n"
                       "> OPTIONS * RTSP/1.0\n"
                       "\n"
                       ">split 3\n"
                       ">raw \"abc\"\n"
                       ">pipeline 3\n"
                       "> OPTIONS * RTSP/1.0\n"
                       "\n"
                       ">raw \"OPTIONS * RTSP/1.0\\r\\nCSeq: 9\\r\\n\\r\\n\"\n"
                       "> DESCRIBE {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       "< RTSP/1.0 200\n";
    CHECK_EQ_INT(parse(text, &sc), 0);
    if (err[0])
        fprintf(stderr, "    %s\n", err);
    CHECK_EQ_INT(sc.n_steps, 11);
    if (sc.n_steps != 11) {
        scenario_free(&sc);
        return;
    }
    const struct scenario_send *s = &sc.steps[0].send;
    CHECK_EQ_INT(s->form, SCENARIO_SEND_RAW);
    CHECK(strcmp(s->raw, "SETUP {media} RTSP/1.0\\nCSeq: 1\\n\\x41") == 0);
    CHECK_EQ_INT(s->raw_column, 7);
    s = &sc.steps[1].send;
    CHECK_EQ_INT(s->form, SCENARIO_SEND_HEX);
    CHECK_EQ_INT(s->hex_len, 5);
    CHECK(s->hex[0] == 0x24 && s->hex[3] == 0x0c && s->hex[4] == 0x80);
    CHECK_EQ_INT(sc.steps[2].send.hex_len, 4);
    CHECK_EQ_INT(sc.steps[3].send.split_bytes, 5);
    CHECK_EQ_INT(sc.steps[3].send.split_gap_ms, 10);
    CHECK_EQ_INT(sc.steps[4].send.split_bytes, 3);
    CHECK_EQ_INT(sc.steps[4].send.split_gap_ms, 10); /* the default gap */
    CHECK_EQ_INT(sc.steps[5].send.pipeline_count, 3);
    CHECK(!sc.steps[5].send.pipelined);
    CHECK(sc.steps[6].send.pipelined);
    CHECK(sc.steps[7].send.pipelined);
    CHECK_EQ_INT(sc.steps[6].send.pipeline_count, 0);
    /* the replies of a pipeline are three expectations */
    CHECK_EQ_INT(sc.steps[8].kind, SCENARIO_STEP_EXPECT);
    CHECK_EQ_INT(sc.steps[9].kind, SCENARIO_STEP_EXPECT);
    CHECK_EQ_INT(sc.steps[10].kind, SCENARIO_STEP_EXPECT);
    scenario_free(&sc);
}

static void test_rtp_conditions(void)
{
    struct scenario sc;
    const char *text =
        "> PLAY {url} RTSP/1.0\n"
        "rtp for 3s: frames >= 50, pt = 26, loss <= 5%, packets != 0, bytes > 1000\n"
        "rtp for 1s after 100ms: packets = 0\n"
        "rtp for 2500ms: fps = 20 +- 2%, bitrate >= 800 kbit/s, bitrate < 2mbit, jitter <= 5ms, interval = 50 \xC2\xB1 5\n"
        "rtp for 10s: loss within binomial 99%, ssrc constant, pt constant\n"
        "rtp for 10s: loss within binomial 95% of 10%, ssrc = 0xDEADBEEF, loss = 10% +- 2%, jitter < 500us\n";
    CHECK_EQ_INT(parse(text, &sc), 0);
    if (err[0])
        fprintf(stderr, "    %s\n", err);
    CHECK_EQ_INT(sc.n_steps, 6);
    if (sc.n_steps != 6) {
        scenario_free(&sc);
        return;
    }
    const struct scenario_rtp_expect *r = sc.steps[1].rtp;
    CHECK_EQ_INT(sc.steps[1].kind, SCENARIO_STEP_RTP_FOR);
    CHECK_EQ_INT(r->duration_ms, 3000);
    CHECK_EQ_INT(r->after_ms, 0);
    CHECK_EQ_INT(r->n_conds, 5);
    CHECK_EQ_INT(r->conds[0].metric, SCENARIO_METRIC_FRAMES);
    CHECK_EQ_INT(r->conds[0].op, SCENARIO_OP_GE);
    CHECK(r->conds[0].value == 50);
    CHECK_EQ_INT(r->conds[0].column, 13);
    CHECK_EQ_INT(r->conds[0].line, 2);
    CHECK_EQ_INT(r->conds[1].metric, SCENARIO_METRIC_PT);
    CHECK_EQ_INT(r->conds[1].op, SCENARIO_OP_EQ);
    CHECK_EQ_INT(r->conds[2].metric, SCENARIO_METRIC_LOSS);
    CHECK_EQ_INT(r->conds[2].op, SCENARIO_OP_LE);
    CHECK(r->conds[2].value == 5);
    CHECK_EQ_INT(r->conds[3].op, SCENARIO_OP_NE);
    CHECK_EQ_INT(r->conds[4].op, SCENARIO_OP_GT);
    r = sc.steps[2].rtp;
    CHECK_EQ_INT(r->after_ms, 100);
    CHECK_EQ_INT(r->duration_ms, 1000);
    r = sc.steps[3].rtp;
    CHECK_EQ_INT(r->n_conds, 5);
    CHECK_EQ_INT(r->conds[0].metric, SCENARIO_METRIC_FPS);
    CHECK(r->conds[0].tolerance == 2 && r->conds[0].tolerance_percent);
    CHECK_EQ_INT(r->conds[1].metric, SCENARIO_METRIC_BITRATE);
    CHECK(fabs(r->conds[1].value - 800) < 1e-9);
    CHECK(fabs(r->conds[2].value - 2000) < 1e-9);
    CHECK_EQ_INT(r->conds[2].op, SCENARIO_OP_LT);
    CHECK(fabs(r->conds[3].value - 5) < 1e-9);
    CHECK_EQ_INT(r->conds[4].metric, SCENARIO_METRIC_INTERVAL);
    CHECK(r->conds[4].tolerance == 5 && !r->conds[4].tolerance_percent);
    r = sc.steps[4].rtp;
    CHECK_EQ_INT(r->conds[0].op, SCENARIO_OP_BINOMIAL);
    CHECK(fabs(r->conds[0].confidence - 0.99) < 1e-9);
    CHECK(!r->conds[0].has_p);
    CHECK_EQ_INT(r->conds[1].metric, SCENARIO_METRIC_SSRC);
    CHECK_EQ_INT(r->conds[1].op, SCENARIO_OP_CONSTANT);
    CHECK_EQ_INT(r->conds[2].op, SCENARIO_OP_CONSTANT);
    r = sc.steps[5].rtp;
    CHECK(r->conds[0].has_p && fabs(r->conds[0].p - 0.10) < 1e-9);
    CHECK(fabs(r->conds[0].confidence - 0.95) < 1e-9);
    CHECK(r->conds[1].value == 3735928559.0);
    /* loss tolerance in percent means percentage points */
    CHECK(r->conds[2].tolerance == 2 && !r->conds[2].tolerance_percent);
    CHECK(fabs(r->conds[3].value - 0.5) < 1e-9);
    CHECK(strcmp(scenario_metric_name(SCENARIO_METRIC_JITTER), "jitter") == 0);
    CHECK(strcmp(scenario_metric_name(SCENARIO_METRIC_COUNT), "unknown") == 0);
    CHECK(strcmp(scenario_op_name(SCENARIO_OP_LE), "<=") == 0);
    scenario_free(&sc);
}

static void test_modifiers_and_exchanges(void)
{
    struct scenario sc;
    const char *text = "@timeout 2s\n"
                       "with optional, timeout 500ms, on-fail continue\n"
                       "> GET_PARAMETER {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       "> OPTIONS {url} RTSP/1.0\n"
                       "with timeout 10s\n"
                       "< RTSP/1.0 200\n"
                       "wait 100ms\n"
                       "with on-fail stop\n"
                       "expect silence 1s\n"
                       "expect close\n";
    CHECK_EQ_INT(parse(text, &sc), 0);
    CHECK_EQ_INT(sc.n_steps, 7);
    if (sc.n_steps != 7) {
        scenario_free(&sc);
        return;
    }
    /* a `with` before a request covers its reply too */
    CHECK(sc.steps[0].optional && sc.steps[1].optional);
    CHECK_EQ_INT(sc.steps[0].timeout_ms, 500);
    CHECK_EQ_INT(sc.steps[1].timeout_ms, 500);
    CHECK_EQ_INT(sc.steps[1].on_fail, SCENARIO_ON_FAIL_CONTINUE);
    CHECK_EQ_INT(sc.steps[0].exchange, sc.steps[1].exchange);
    CHECK(!sc.steps[2].optional);
    CHECK_EQ_INT(sc.steps[2].timeout_ms, 0);
    CHECK_EQ_INT(sc.steps[3].timeout_ms, 10000);
    CHECK_EQ_INT(sc.steps[3].exchange, sc.steps[2].exchange);
    CHECK(sc.steps[2].exchange != sc.steps[0].exchange);
    CHECK_EQ_INT(sc.steps[4].exchange, -1);
    CHECK_EQ_INT(sc.steps[5].kind, SCENARIO_STEP_EXPECT_SILENCE);
    CHECK_EQ_INT(sc.steps[5].duration_ms, 1000);
    CHECK_EQ_INT(sc.steps[5].on_fail, SCENARIO_ON_FAIL_STOP);
    CHECK_EQ_INT(sc.steps[6].kind, SCENARIO_STEP_EXPECT_CLOSE);
    CHECK_EQ_INT(sc.steps[6].on_fail, SCENARIO_ON_FAIL_DEFAULT);
    CHECK_EQ_INT(sc.n_exchanges, 2);
    CHECK(strcmp(scenario_step_kind_name(SCENARIO_STEP_EXPECT_SILENCE), "expect silence") == 0);
    scenario_free(&sc);
}

static void test_connections(void)
{
    struct scenario sc;
    const char *text = "connect a\n"
                       "> OPTIONS {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "connect b\n"
                       "> OPTIONS {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "use a\n"
                       "close b\n"
                       "connect\n";
    CHECK_EQ_INT(parse(text, &sc), 0);
    CHECK_EQ_INT(sc.n_steps, 9);
    if (sc.n_steps == 9) {
        CHECK_EQ_INT(sc.steps[0].kind, SCENARIO_STEP_CONNECT);
        CHECK(strcmp(sc.steps[0].conn, "a") == 0);
        CHECK(strcmp(sc.steps[6].conn, "a") == 0);
        CHECK_EQ_INT(sc.steps[7].kind, SCENARIO_STEP_CLOSE);
        CHECK(strcmp(sc.steps[8].conn, "c3") == 0);
    }
    scenario_free(&sc);
    /* the implicit connection is called main */
    CHECK_EQ_INT(parse("> OPTIONS * RTSP/1.0\nuse main\n", &sc), 0);
    scenario_free(&sc);
}

/* Lookup for the expansion tests: a few names with values. */
static int test_lookup(void *ctx, const char *name, size_t n, const char **value, size_t *vlen)
{
    (void)ctx;
    static const struct {
        const char *k, *v;
    } vars[] = {{"url", "rtsp://h:1/a.b"}, {"session", "S1"}, {"empty", ""}};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (strlen(vars[i].k) == n && memcmp(vars[i].k, name, n) == 0) {
            *value = vars[i].v;
            *vlen = strlen(vars[i].v);
            return 0;
        }
    if (n == 5 && memcmp(name, "unset", 5) == 0)
        return 1;
    return -1;
}

static void test_expand(void)
{
    struct scenario_buf b = {0};
    size_t off;
    const char *why;
    char bad[64];
    const char *t1 = "x {url} {session}{{y} {1,2} {repeat:ab:3}|";
    CHECK_EQ_INT(scenario_expand(t1, strlen(t1), SCENARIO_TPL_TEXT, test_lookup, NULL, &b, &off, &why, bad,
                                 sizeof bad),
                 0);
    CHECK(b.buf && strcmp(b.buf, "x rtsp://h:1/a.b S1{y} {1,2} ababab|") == 0);
    free(b.buf);
    memset(&b, 0, sizeof b);
    /* in a regex, values match literally */
    CHECK_EQ_INT(
        scenario_expand("^{url}/x{2}$", 12, SCENARIO_TPL_REGEX, test_lookup, NULL, &b, &off, &why, NULL, 0),
        0);
    CHECK(b.buf && strcmp(b.buf, "^rtsp://h:1/a\\.b/x{2}$") == 0);
    free(b.buf);
    memset(&b, 0, sizeof b);
    /* C escapes; a NUL byte is kept */
    const char *cs = "a\\r\\n\\t\\\\\\\"\\x41\\0z{empty}";
    CHECK_EQ_INT(
        scenario_expand(cs, strlen(cs), SCENARIO_TPL_CSTRING, test_lookup, NULL, &b, &off, &why, NULL, 0), 0);
    CHECK_EQ_INT(b.len, 9);
    CHECK(b.buf && memcmp(b.buf, "a\r\n\t\\\"A\0z", 9) == 0);
    free(b.buf);
    memset(&b, 0, sizeof b);
    /* errors say where */
    CHECK_EQ_INT(scenario_expand("ab {nope}", 9, SCENARIO_TPL_TEXT, test_lookup, NULL, &b, &off, &why, bad,
                                 sizeof bad),
                 -1);
    CHECK_EQ_INT(off, 3);
    CHECK(strcmp(why, "unknown variable") == 0);
    CHECK(strcmp(bad, "nope") == 0);
    CHECK_EQ_INT(scenario_expand("{unset}", 7, SCENARIO_TPL_TEXT, test_lookup, NULL, NULL, &off, &why, bad,
                                 sizeof bad),
                 -1);
    CHECK(strcmp(why, "variable not set") == 0);
    CHECK_EQ_INT(scenario_expand("x{url", 5, SCENARIO_TPL_TEXT, test_lookup, NULL, NULL, &off, &why, NULL, 0),
                 -1);
    CHECK_EQ_INT(off, 1);
    CHECK_EQ_INT(
        scenario_expand("\\q", 2, SCENARIO_TPL_CSTRING, test_lookup, NULL, NULL, &off, &why, NULL, 0), -1);
    CHECK_EQ_INT(scenario_expand("{repeat:x:2000000}", 18, SCENARIO_TPL_TEXT, test_lookup, NULL, NULL, &off,
                                 &why, NULL, 0),
                 -1);
    /* a limited buffer refuses to grow past its limit */
    struct scenario_buf small = {.limit = 4};
    CHECK_EQ_INT(scenario_expand("{repeat:x:5}", 12, SCENARIO_TPL_TEXT, test_lookup, NULL, &small, &off, &why,
                                 NULL, 0),
                 -1);
    free(small.buf);
    free(b.buf);
}

static void test_check_ids(void)
{
    CHECK(scenario_check_id_valid("rtsp.cseq.echo"));
    CHECK(scenario_check_id_valid("scenario.sut-exited"));
    CHECK(!scenario_check_id_valid("rtsp"));
    CHECK(!scenario_check_id_valid("RTSP.cseq"));
    CHECK(!scenario_check_id_valid("rtsp..cseq"));
    CHECK(!scenario_check_id_valid("rtsp.cseq."));
    CHECK(!scenario_check_id_valid(""));
}

static void test_file(void)
{
    char path[] = "/tmp/test_scenario_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    const char *text = "@name from a file\r\n> OPTIONS * RTSP/1.0\r\n< RTSP/1.0 200\r\n";
    CHECK_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    struct scenario sc;
    CHECK_EQ_INT(scenario_parse_file(path, &sc, err, sizeof err), 0);
    CHECK(strcmp(sc.name, "from a file") == 0);
    CHECK_EQ_INT(sc.n_steps, 2);
    scenario_free(&sc);
    unlink(path);
    CHECK_EQ_INT(scenario_parse_file("/nonexistent/x.rtsp", &sc, err, sizeof err), -1);
    CHECK(strncmp(err, "/nonexistent/x.rtsp: ", 21) == 0);
}

static void test_errors(void)
{
    /* the example */
    expect_error("> OPTIONS * RTSP/1.0\n<< RTSP/1.0 200\n", "t.rtsp:2:1: unknown matcher '<<'");
    expect_error("@role server\n@bogus 1\n", "t.rtsp:2:1: unknown directive '@bogus'");
    expect_error("@role sever\n", "t.rtsp:1:7: @role is 'server'");
    expect_error("@role server\n@role client\n", "t.rtsp:2:1: @role given twice");
    expect_error("> OPTIONS {nosuch} RTSP/1.0\n", "t.rtsp:1:11: unknown variable {nosuch}");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n< Public: ~(DESCRIBE\n", "t.rtsp:3:12: bad regex");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 2x\n", "t.rtsp:2:12: bad status '2x'");
    expect_error("> OPTIONS * RTSP/1.0\nwait 5\n", "t.rtsp:2:6: duration '5' needs a unit");
    expect_error("> OPTIONS * RTSP/1.0\nwait 5min\n", "t.rtsp:2:7: unknown time unit 'min'");
    expect_error("> PLAY * RTSP/1.0\nrtp for 1s: frames >= 1, foo > 1\n",
                 "t.rtsp:2:26: unknown metric 'foo'");
    expect_error("> PLAY * RTSP/1.0\nrtp for 1s: fps < 20 +- 1\n", "t.rtsp:2:22: a tolerance goes with '='");
    expect_error("> PLAY * RTSP/1.0\nrtp for 1s: bitrate > 5 furlongs\n",
                 "t.rtsp:2:25: unknown bitrate unit 'furlongs'");
    expect_error("> PLAY * RTSP/1.0\nrtp for 1s: jitter constant\n",
                 "t.rtsp:2:20: 'constant' applies to ssrc and pt");
    expect_error("> PLAY * RTSP/1.0\nrtp for 1s frames > 1\n", "t.rtsp:2:22: expected ':'");
    expect_error("> OPTIONS * RTSP/1.0\nwith optional\n", "t.rtsp:2:1: 'with' is not followed by a step");
    expect_error("> OPTIONS * RTSP/1.0\nwith sometimes\n< RTSP/1.0 200\n",
                 "t.rtsp:2:6: unknown modifier 'sometimes'");
    expect_error(">split 5 10ms\nwait 1s\n", "t.rtsp:1:1: >split must be followed by something to send");
    expect_error(">pipeline 3\n> OPTIONS * RTSP/1.0\n\n> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n",
                 "t.rtsp:1:1: >pipeline: 1 more message to send expected");
    expect_error("> OPTIONS * RTSP/1.0\nuse nosuch\n", "t.rtsp:2:5: no connection named 'nosuch'");
    expect_error(">pipeline 2\n> OPTIONS * RTSP/1.0\n\n>split 3\n> OPTIONS * RTSP/1.0\n",
                 "t.rtsp:4:1: >split inside a >pipeline group");
    expect_error(">hex 24 0g\n", "t.rtsp:1:9: expected hex byte pairs");
    expect_error(">raw \"abc\n", "t.rtsp:1:6: unterminated string");
    expect_error(">raw \"a\\qb\"\n", "t.rtsp:1:8: unknown escape");
    expect_error(">foo bar\n", "t.rtsp:1:1: unknown send form '>foo'");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n< Content-Base: $url\n",
                 "t.rtsp:3:17: {url} is built in");
    expect_error("> OPTIONS * RTSP/1.0\n@timeout 1s\n",
                 "t.rtsp:2:1: @timeout must come before the first step");
    expect_error("rtp send\n", "t.rtsp:1:1: 'rtp send' streams to a client under test");
    expect_error("@allow rtsp.cseq.echo Bad_Id\n", "t.rtsp:1:23: 'Bad_Id' is not a check id");
    expect_error("@impair loss 200%\n", "t.rtsp:1:");
    expect_error("@impair delay 10ms\n@impair loss 1%\n", "t.rtsp:2:1: the to-sut impairment is already set");
    expect_error("at 2s loss 30%\n", "t.rtsp:1:15: expected 'at T: netem text'");
    expect_error("at 2s: blackout\n", "t.rtsp:1:16: blackout needs a duration");
    expect_error("at 2s: lose 30%\n", "t.rtsp:1:8: ");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n< Transport: ~port=([0-9]+)-([0-9]+) => $a\n",
                 "t.rtsp:3:15: 1 capture but the regex has 2 groups");
    expect_error("> OPTIONS {url}\n", "t.rtsp:1:16: the request line needs a version");
    expect_error("> OPTIONS * HTTP/1.1\n", "t.rtsp:1:13: expected RTSP/1.0 after the URI");
    expect_error("@role client\n< RTSP/1.0 200\n", "t.rtsp:2:3: expected a request line");
    expect_error("@role client\n> OPTIONS * RTSP/1.0\n", "t.rtsp:2:3: expected a status line");
    expect_error("> OPTIONS * RTSP/1.0\n< OPTIONS * RTSP/1.0\n", "t.rtsp:2:3: expected a status line");
    expect_error("> OPTIONS * RTSP/1.0\n> X-Bad Name: 1\n", "t.rtsp:2:8: a header name ends at ':'");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n<\n", "t.rtsp:3:1: empty '<' line");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n< sdp:\n", "t.rtsp:3:7: 'sdp:' needs a line");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n< body: v=0\n", "t.rtsp:3:9: 'body:' takes");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n< auth: basic a b\n",
                 "t.rtsp:3:3: 'auth:' checks a client's credentials");
    expect_error("frobnicate\n", "t.rtsp:1:1: unknown command 'frobnicate'");
    expect_error("", "t.rtsp:1:1: the scenario has no steps");
    expect_error("# only a comment\n", "t.rtsp:1:1: the scenario has no steps");
    {
        struct scenario sc;
        const char nul[] = "> OPTIONS * RTSP/1.0\n> X: a\0b\n";
        CHECK_EQ_INT(scenario_parse_buffer("n.rtsp", nul, sizeof nul - 1, &sc, err, sizeof err), -1);
        CHECK(strncmp(err, "n.rtsp:2:7: NUL byte", 20) == 0);
    }
    expect_error("> OPTIONS * RTSP/1.0\r\n> X: a\rb\n", "t.rtsp:2:7: carriage return inside a line");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n< X: ~a{300}\n",
                 "t.rtsp:3:7: regex interval above 255");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n< X: ~(a{100}){100}\n",
                 "t.rtsp:3:7: regex repetitions too large");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n< X: ~([0-9]+++++++++++++++++++)\n",
                 "t.rtsp:3:7: regex repetitions too large");
    expect_error("> OPTIONS * RTSP/1.0\n< RTSP/1.0 200\n< X: ~(a)\\1\n",
                 "t.rtsp:3:7: back-references are not supported");
    expect_error("> OPTIONS {repeat:x:99999999} RTSP/1.0\n", "t.rtsp:1:");
    expect_error("close\n", "t.rtsp:1:1: 'close': no connection was opened before");
    expect_error("@role client\nconnect x\n", "t.rtsp:2:1: 'connect' opens a connection to a server");
    expect_error("> PLAY * RTSP/1.0\nrtp for 1s: loss within binomial 150%\n",
                 "t.rtsp:2:34: the confidence is a percentage");
    /* a long line */
    char *big = malloc(SCENARIO_MAX_LINE + 64);
    if (big) {
        memset(big, 'a', SCENARIO_MAX_LINE + 10);
        memcpy(big, "> X", 3);
        big[SCENARIO_MAX_LINE + 10] = '\n';
        big[SCENARIO_MAX_LINE + 11] = '\0';
        expect_error(big, "t.rtsp:1:8193: line longer than 8192 bytes");
        free(big);
    }
    /* the error buffer is always terminated, even when small */
    struct scenario sc;
    char tiny[12];
    CHECK_EQ_INT(scenario_parse_buffer("t.rtsp", "@bogus\n", 7, &sc, tiny, sizeof tiny), -1);
    CHECK(memchr(tiny, '\0', sizeof tiny) != NULL);
    CHECK(strncmp(tiny, "t.rtsp:1:1:", 11) == 0);
}

/* Write text to dir/name. */
static void put_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_dialects(void)
{
    /* @dialect is recorded with its position; `@profile lab` alone marks where `lab` was chosen */
    struct scenario sc;
    CHECK_EQ_INT(parse("@dialect  bare-cseq\n@profile lab\n> PLAY {media} RTSP/1.0\n", &sc), 0);
    CHECK(strcmp(sc.dialect_name, "bare-cseq") == 0);
    CHECK_EQ_INT(sc.dialect_line, 1);
    CHECK_EQ_INT(sc.dialect_column, 11);
    CHECK(sc.dialect == NULL); /* from a buffer: the engine's compiled-in lab dialect */
    scenario_free(&sc);
    CHECK_EQ_INT(parse("@name x\n@profile  lab\n> PLAY {media} RTSP/1.0\n", &sc), 0);
    CHECK(sc.dialect_name[0] == '\0');
    CHECK_EQ_INT(sc.dialect_line, 2);
    CHECK_EQ_INT(sc.dialect_column, 11);
    scenario_free(&sc);
    expect_error("@dialect crlf3\n> OPTIONS * RTSP/1.0\n",
                 "t.rtsp:1:10: @dialect needs @profile lab and @role server");
    expect_error("@profile lab\n@role client\n@dialect crlf3\n< PLAY {url} RTSP/1.0\n",
                 "t.rtsp:3:10: @dialect needs @profile lab and @role server");
    expect_error("@profile lab\n@dialect\n> PLAY {media} RTSP/1.0\n", "t.rtsp:2:9: @dialect needs a name");
    expect_error("@profile lab\n@dialect a b\n> PLAY {media} RTSP/1.0\n",
                 "t.rtsp:2:11: unexpected text after the dialect");
    expect_error("@profile lab\n@dialect a\n@dialect b\n> PLAY {media} RTSP/1.0\n",
                 "t.rtsp:3:1: @dialect given twice");

    /* the lab suite: each file gets the lab dialect of its folder */
    static const char *const suite[] = {"01-play-pause-play-teardown", "02-file-not-found", "03-second-client",
                                        "04-pause-stops-promptly", "05-teardown-stops", "06-rtp-fields", NULL};
    for (int i = 0; suite[i]; i++) {
        char path[128];
        snprintf(path, sizeof path, "scenarios/lab/%s.rtsp", suite[i]);
        int rc = scenario_parse_file(path, &sc, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "    %s\n", err);
        CHECK_EQ_INT(rc, 0);
        CHECK(sc.dialect && strcmp(sc.dialect->path, "scenarios/lab/dialects/lab.dialect") == 0);
        /* the blocks carry only the request line: the dialect writes Transport */
        for (unsigned k = 0; k < sc.n_steps; k++)
            if (sc.steps[k].kind == SCENARIO_STEP_SEND)
                CHECK_EQ_INT(sc.steps[k].send.n_headers, 0);
        scenario_free(&sc);
    }

    /* a scenario outside the tree: dialects/ next to it, by name or by path, or the compiled-in lab */
    char dir[] = "/tmp/test_dialects_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char sub[64], path[128];
    snprintf(sub, sizeof sub, "%s/dialects", dir);
    CHECK_EQ_INT(mkdir(sub, 0700), 0);
    put_file(sub, "two.dialect", "request *\n  {method}\n  {cseq}\n");
    put_file(sub, "bad.dialect", "request *\n  {method} {sesion}\n");
    put_file(dir, "mine.dialect", "@dialect mine\nrequest *\n  {method}\n");
    put_file(dir, "a.rtsp", "@profile lab\n@dialect two\n> PLAY {media} RTSP/1.0\n");
    put_file(dir, "b.rtsp", "@profile lab\n@dialect   bad\n> PLAY {media} RTSP/1.0\n");
    put_file(dir, "c.rtsp", "@profile lab\n@dialect mine.dialect\n> PLAY {media} RTSP/1.0\n");
    put_file(dir, "d.rtsp", "@profile lab\n> PLAY {media} RTSP/1.0\n");
    put_file(dir, "e.rtsp", "@profile lab\n@dialect gone\n> PLAY {media} RTSP/1.0\n");
    put_file(dir, "f.rtsp", "> OPTIONS * RTSP/1.0\n");
    snprintf(path, sizeof path, "%s/a.rtsp", dir);
    CHECK_EQ_INT(scenario_parse_file(path, &sc, err, sizeof err), 0);
    CHECK(sc.dialect && strcmp(sc.dialect->name, "two") == 0);
    scenario_free(&sc);
    snprintf(path, sizeof path, "%s/b.rtsp", dir);
    CHECK_EQ_INT(scenario_parse_file(path, &sc, err, sizeof err), -1);
    char want[512];
    snprintf(want, sizeof want,
             "%s/b.rtsp:2:12: @dialect bad: %s/dialects/bad.dialect:2:12: unknown placeholder {sesion} ", dir,
             dir);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    CHECK(sc.dialect == NULL && sc.n_steps == 0);
    snprintf(path, sizeof path, "%s/c.rtsp", dir);
    CHECK_EQ_INT(scenario_parse_file(path, &sc, err, sizeof err), 0);
    CHECK(sc.dialect && strcmp(sc.dialect->name, "mine") == 0);
    scenario_free(&sc);
    snprintf(path, sizeof path, "%s/d.rtsp", dir);
    CHECK_EQ_INT(scenario_parse_file(path, &sc, err, sizeof err), 0);
    CHECK(sc.dialect && strcmp(sc.dialect->path, "<built-in>") == 0);
    scenario_free(&sc);
    snprintf(path, sizeof path, "%s/e.rtsp", dir);
    CHECK_EQ_INT(scenario_parse_file(path, &sc, err, sizeof err), -1);
    snprintf(want, sizeof want,
             "%s/e.rtsp:2:10: @dialect gone: no dialect 'gone' (looked for %s/dialects/gone.dialect", dir, dir);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    snprintf(path, sizeof path, "%s/f.rtsp", dir);
    CHECK_EQ_INT(scenario_parse_file(path, &sc, err, sizeof err), 0);
    CHECK(sc.dialect == NULL); /* rfc2326: no dialect */
    scenario_free(&sc);
    static const char *const made[] = {"dialects/two.dialect", "dialects/bad.dialect", "mine.dialect", "a.rtsp",
                                       "b.rtsp", "c.rtsp", "d.rtsp", "e.rtsp", "f.rtsp", "dialects", NULL};
    for (int i = 0; made[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, made[i]);
        remove(path);
    }
    rmdir(dir);
}

/* The fuzz seeds are real scenarios: each parses, except those named bad_*. */
static void test_fuzz_seeds_parse(void)
{
    static const char *const seeds[] = {"server_udp_flow", "client_auth",    "raw_lab",
                                        "pipeline_conns",  "rtp_conditions", NULL};
    for (int i = 0; seeds[i]; i++) {
        char path[128];
        snprintf(path, sizeof path, "fuzz/corpus/scenario/%s.rtsp", seeds[i]);
        struct scenario sc;
        int rc = scenario_parse_file(path, &sc, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "    %s\n", err);
        CHECK_EQ_INT(rc, 0);
        scenario_free(&sc);
    }
    struct scenario sc;
    CHECK_EQ_INT(scenario_parse_file("fuzz/corpus/scenario/bad_matcher.rtsp", &sc, err, sizeof err), -1);
    CHECK(
        strcmp(
            err,
            "fuzz/corpus/scenario/bad_matcher.rtsp:2:1: unknown matcher '<<' (expectation lines start with '< ')") ==
        0);
}

int main(void)
{
    RUN(test_directives_impairment_and_events);
    RUN(test_defaults);
    RUN(test_send_block);
    RUN(test_expect_matchers);
    RUN(test_client_role);
    RUN(test_raw_hex_split_pipeline);
    RUN(test_rtp_conditions);
    RUN(test_modifiers_and_exchanges);
    RUN(test_connections);
    RUN(test_expand);
    RUN(test_check_ids);
    RUN(test_file);
    RUN(test_errors);
    RUN(test_fuzz_seeds_parse);
    RUN(test_dialects);
    CHECK_DONE();
}
