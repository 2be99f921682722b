/* Steps, checks and received streams of a scenario's report entry
 * (scenario_json.h). */
#include "scenario_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/series.h"

static double rel_s(int64_t ns, int64_t t0_ns)
{
    return (double)(ns - t0_ns) / 1e9;
}

int scenario_json_step_exchange(const struct scenario *sc, const struct replay_result *rr, unsigned i)
{
    const struct scenario_step *st = &sc->steps[i];
    if (st->exchange < 0)
        return -1;
    /* The exchange is recorded under the line of its first message step. */
    unsigned line = 0;
    for (unsigned k = 0; k < sc->n_steps && !line; k++)
        if (sc->steps[k].exchange == st->exchange)
            line = sc->steps[k].line;
    for (size_t k = 0; k < rr->n_exchanges; k++)
        if (rr->exchanges[k].line == line)
            return (int)k;
    return -1;
}

static const char *step_status_name(enum replay_step_status s)
{
    switch (s) {
    case REPLAY_STEP_PASS: return "pass";
    case REPLAY_STEP_FAIL: return "fail";
    case REPLAY_STEP_SKIPPED: return "skipped";
    case REPLAY_STEP_NOT_RUN: break;
    }
    return "not-run";
}

json_t *scenario_json_steps(const struct scenario *sc, const struct replay_result *rr, int64_t t0_ns)
{
    json_t *steps = json_array();
    for (unsigned i = 0; i < sc->n_steps; i++) {
        const struct replay_step_result *sr = rr->steps && i < rr->n_steps ? &rr->steps[i] : NULL;
        json_t *j = json_pack("{s:i,s:i,s:s,s:s}", "index", (int)i, "line", (int)sc->steps[i].line, "kind",
                              scenario_step_kind_name(sc->steps[i].kind), "status",
                              step_status_name(sr ? sr->status : REPLAY_STEP_NOT_RUN));
        bool ran = sr && sr->start_ns;
        json_object_set_new(j, "start_s", ran ? json_real(rel_s(sr->start_ns, t0_ns)) : json_null());
        json_object_set_new(j, "end_s", ran && sr->end_ns ? json_real(rel_s(sr->end_ns, t0_ns)) : json_null());
        int x = scenario_json_step_exchange(sc, rr, i);
        json_object_set_new(j, "exchange", x >= 0 ? json_integer(x) : json_null());
        json_array_append_new(steps, j);
    }
    return steps;
}

/* What a step kind checks, in one line; NULL for steps that check nothing
 * (wait, use, rtp stop, close; `rtp for` is judged by its conditions). */
static const char *step_description(enum scenario_step_kind k, bool server)
{
    switch (k) {
    case SCENARIO_STEP_SEND:
        return server ? "the request goes out on the connection" : "the reply goes out on the connection";
    case SCENARIO_STEP_EXPECT:
        return server ? "the server's reply matches: status, headers, CSeq echo, Session, body"
                      : "the client's request matches: method, URI, headers, CSeq, Session";
    case SCENARIO_STEP_EXPECT_CLOSE: return "the peer closes the connection";
    case SCENARIO_STEP_EXPECT_SILENCE: return "no RTSP message arrives for the given time";
    case SCENARIO_STEP_EXPECT_CPU: return "the system under test stays idle: its processes use at most the CPU given";
    case SCENARIO_STEP_CONNECT: return "the server accepts the connection";
    case SCENARIO_STEP_ACCEPT: return "the client under test connects";
    case SCENARIO_STEP_RTP_SEND: return "the harness streams RTP to the client";
    case SCENARIO_STEP_RTP_FOR:
    case SCENARIO_STEP_WAIT:
    case SCENARIO_STEP_RTP_STOP:
    case SCENARIO_STEP_USE:
    case SCENARIO_STEP_CLOSE: break;
    }
    return NULL;
}

/* The method of the request the `rtp for` window on line wline follows
 * (the last exchange before it), NULL when none. */
static const char *window_method(const struct scenario *sc, const struct replay_result *rr, unsigned wline)
{
    const char *method = NULL;
    for (unsigned i = 0; i < sc->n_steps && sc->steps[i].line < wline; i++) {
        int x = scenario_json_step_exchange(sc, rr, i);
        if (x >= 0 && rr->exchanges[x].method[0])
            method = rr->exchanges[x].method;
    }
    return method;
}

/* "scenario.expect close" -> "scenario.expect-close" */
static void step_check_id(enum scenario_step_kind k, char *out, size_t cap)
{
    snprintf(out, cap, "scenario.%s", scenario_step_kind_name(k));
    for (char *p = out; *p; p++)
        if (*p == ' ')
            *p = '-';
}

static json_t *new_check(const char *id, const char *name, const char *source, unsigned line, const char *status,
                         const char *description)
{
    return json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:[]}", "id", id, "name", name, "source", source, "line",
                     (int)line, "status", status, "description", description ? description : "", "message", "",
                     "failures");
}

/* Link failure k to check c; the first linked failure gives the message. */
static void link_failure(json_t *c, const json_t *failures, size_t k, bool *linked)
{
    json_t *idx = json_object_get(c, "failures");
    if (json_array_size(idx) == 0) {
        const char *msg = json_string_value(json_object_get(json_array_get(failures, k), "message"));
        json_object_set_new(c, "message", json_string(msg ? msg : ""));
        const char *rfc = json_string_value(json_object_get(json_array_get(failures, k), "rfc"));
        if (rfc && !json_object_get(c, "rfc"))
            json_object_set_new(c, "rfc", json_string(rfc));
    }
    json_array_append_new(idx, json_integer((json_int_t)k));
    linked[k] = true;
}

static bool failure_is(const json_t *f, const char *source, const char *check)
{
    const char *s = json_string_value(json_object_get(f, "source"));
    const char *c = json_string_value(json_object_get(f, "check"));
    return s && c && strcmp(s, source) == 0 && (!check || strcmp(c, check) == 0);
}

json_t *scenario_json_checks(const struct scenario *sc, const struct replay_result *rr, const json_t *failures,
                             const json_t *windows, const bool *analyzer_judged, const char *error)
{
    json_t *checks = json_array();
    size_t nf = json_array_size(failures);
    bool *linked = calloc(nf ? nf : 1, sizeof *linked);
    if (!linked)
        return checks;
    bool server = sc->role == SCENARIO_ROLE_SERVER;

    /* The steps: replay failures are the first rr->n_failures entries of
     * failures, in order, and each step knows its own. */
    for (unsigned i = 0; i < sc->n_steps; i++) {
        const struct scenario_step *st = &sc->steps[i];
        const struct replay_step_result *sr = rr->steps && i < rr->n_steps ? &rr->steps[i] : NULL;
        const char *desc = step_description(st->kind, server);
        bool failed = sr && sr->status == REPLAY_STEP_FAIL;
        if (!desc && !failed)
            continue;
        char id[64], name[96];
        step_check_id(st->kind, id, sizeof id);
        snprintf(name, sizeof name, "%s:%u", id, st->line);
        const char *status = !sr || sr->status == REPLAY_STEP_NOT_RUN ? "skipped"
                             : sr->status == REPLAY_STEP_SKIPPED     ? "skipped"
                             : failed                                ? "fail"
                                                                     : "pass";
        json_t *c = new_check(id, name, "replay", st->line, status, desc ? desc : "the step completes");
        if (!sr || sr->status == REPLAY_STEP_NOT_RUN)
            json_object_set_new(c, "message", json_string("not run: the scenario stopped before this step"));
        else if (sr->status == REPLAY_STEP_SKIPPED)
            json_object_set_new(c, "message", json_string(st->optional ? "optional step that did not match"
                                                                       : "skipped with its exchange"));
        if (sr && sr->start_ns && sr->end_ns)
            json_object_set_new(c, "time_s", json_real((double)(sr->end_ns - sr->start_ns) / 1e9));
        for (int k = 0; sr && k < sr->n_failures; k++) {
            size_t fi = (size_t)(sr->first_failure + k);
            if (sr->first_failure >= 0 && fi < nf && fi < rr->n_failures)
                link_failure(c, failures, fi, linked);
        }
        /* An optional step's failures are recorded but do not fail it. */
        if (strcmp(status, "skipped") == 0)
            json_object_set_new(c, "failures", json_array());
        json_array_append_new(checks, c);
    }

    /* The `rtp for` conditions, judged from the capture. */
    size_t wi;
    json_t *w;
    json_array_foreach(windows, wi, w)
    {
        unsigned wline = (unsigned)json_integer_value(json_object_get(w, "line"));
        const char *werr = json_string_value(json_object_get(w, "error"));
        if (werr) {
            char name[64];
            snprintf(name, sizeof name, "scenario.rtp:%u", wline);
            json_t *c = new_check("scenario.rtp", name, "capture", wline, "fail",
                                  "the RTP window can be measured from the capture");
            for (size_t k = 0; k < nf; k++) {
                const json_t *f = json_array_get(failures, k);
                if (!linked[k] && failure_is(f, "capture", "scenario.rtp") &&
                    json_integer_value(json_object_get(f, "line")) == (json_int_t)wline &&
                    !json_object_get(f, "column"))
                    link_failure(c, failures, k, linked);
            }
            json_array_append_new(checks, c);
            continue;
        }
        size_t ci;
        json_t *cond;
        json_array_foreach(json_object_get(w, "conditions"), ci, cond)
        {
            const char *metric = json_string_value(json_object_get(cond, "metric"));
            const char *expected = json_string_value(json_object_get(cond, "expected"));
            json_int_t line = json_integer_value(json_object_get(cond, "line"));
            json_int_t column = json_integer_value(json_object_get(cond, "column"));
            if (!line)
                line = wline;
            char id[64], name[96], desc[160];
            snprintf(id, sizeof id, "scenario.rtp.%s", metric ? metric : "?");
            snprintf(name, sizeof name, "%s:%lld:%lld", id, (long long)line, (long long)column);
            snprintf(desc, sizeof desc, "rtp for: %s %s", metric ? metric : "?", expected ? expected : "");
            bool pass = json_is_true(json_object_get(cond, "pass"));
            json_t *c = new_check(id, name, "capture", (unsigned)line, pass ? "pass" : "fail", desc);
            const char *after = window_method(sc, rr, wline);
            if (after)
                json_object_set_new(c, "method", json_string(after));
            const char *measured = json_string_value(json_object_get(cond, "measured"));
            if (pass && measured) {
                char m[200];
                snprintf(m, sizeof m, "measured %s", measured);
                json_object_set_new(c, "message", json_string(m));
            }
            for (size_t k = 0; !pass && k < nf; k++) {
                const json_t *f = json_array_get(failures, k);
                if (!linked[k] && failure_is(f, "capture", "scenario.rtp") &&
                    json_integer_value(json_object_get(f, "line")) == line &&
                    json_integer_value(json_object_get(f, "column")) == column) {
                    link_failure(c, failures, k, linked);
                    break;
                }
            }
            json_array_append_new(checks, c);
        }
    }

    /* The analyzer's catalog, as far as it judges this scenario. */
    for (int id = 0; analyzer_judged && id < CHK_COUNT; id++) {
        if (!analyzer_judged[id])
            continue;
        const struct check_def *def = &check_catalog[id];
        json_t *c = new_check(def->id, def->id, "analyzer", 0, "pass", def->rule);
        json_object_set_new(c, "rfc", json_string(def->rfc));
        for (size_t k = 0; k < nf; k++)
            if (!linked[k] && failure_is(json_array_get(failures, k), "analyzer", def->id))
                link_failure(c, failures, k, linked);
        if (json_array_size(json_object_get(c, "failures")) > 0)
            json_object_set_new(c, "status", json_string("fail"));
        json_array_append_new(checks, c);
    }

    /* Any failure not accounted for above is a check of its own. */
    for (size_t k = 0; k < nf; k++) {
        if (linked[k])
            continue;
        const json_t *f = json_array_get(failures, k);
        const char *fid = json_string_value(json_object_get(f, "check"));
        const char *src = json_string_value(json_object_get(f, "source"));
        json_int_t line = json_integer_value(json_object_get(f, "line"));
        char name[96];
        if (line)
            snprintf(name, sizeof name, "%s:%lld", fid ? fid : "?", (long long)line);
        else
            snprintf(name, sizeof name, "%s", fid ? fid : "?");
        /* Two unlinked failures of one check on one line are one check. */
        json_t *c = NULL;
        size_t ci;
        json_t *e;
        json_array_foreach(checks, ci, e)
        {
            const char *en = json_string_value(json_object_get(e, "name"));
            if (en && strcmp(en, name) == 0) {
                c = e;
                break;
            }
        }
        if (!c) {
            c = new_check(fid ? fid : "?", name, src ? src : "replay", (unsigned)line, "fail",
                          "the scenario's expectation holds");
            json_array_append_new(checks, c);
        }
        link_failure(c, failures, k, linked);
    }

    if (error) {
        json_t *c = new_check("scenario.run", "scenario.run", "replay", 0, "error",
                              "the scenario runs: lab, system under test, captures");
        json_object_set_new(c, "message", json_string(error));
        json_array_append_new(checks, c);
    }
    free(linked);
    return checks;
}

/* ---- streams ---- */

static json_t *num_or_null(double v, bool have)
{
    return have && isfinite(v) ? json_real(v) : json_null();
}

/* The sending side's stream with this SSRC, or NULL. */
static const struct rtp_stream *sender_stream(const struct analysis *sent, uint32_t ssrc)
{
    for (size_t i = 0; sent && i < sent->n_streams; i++) {
        const struct rtp_stream_metrics *m = rtp_stream_metrics(sent->streams[i].rtp);
        if (m->started && m->ssrc == ssrc)
            return sent->streams[i].rtp;
    }
    return NULL;
}

/* Whether seq is in one of the series' gaps: never in that capture. */
static bool in_gaps(const struct rtp_series *s, uint16_t seq)
{
    for (size_t i = 0; s && i < s->n_gaps; i++)
        if ((uint16_t)(seq - s->gaps[i].first_seq) < s->gaps[i].count)
            return true;
    return false;
}

#define LOSS_EVENTS_MAX 2000

json_t *scenario_json_stream(const struct analyze_stream *st, const char *recv_pcap, const struct analysis *sent,
                             int64_t t0_ns)
{
    const struct rtp_stream_metrics *m = rtp_stream_metrics(st->rtp);
    const struct rtp_stream_frames *fr = &m->frames;
    json_t *s = json_pack("{s:s,s:s,s:b,s:I,s:I,s:I,s:f,s:f,s:f,s:I,s:I}", "src", st->src, "dst", st->dst,
                          "interleaved", st->interleaved, "ssrc", (json_int_t)m->ssrc, "packets",
                          (json_int_t)m->packets, "lost", (json_int_t)m->lost, "loss", m->loss_rate,
                          "bitrate_bps", m->bitrate_bps, "max_jitter_ms", m->max_jitter_ms, "frames_complete",
                          (json_int_t)fr->complete, "frames_incomplete", (json_int_t)fr->incomplete);
    json_object_set_new(s, "fps", json_real(fr->fps));
    json_object_set_new(s, "pcap", json_string(recv_pcap));
    json_object_set_new(s, "payload_type", json_integer(m->payload_type));
    json_object_set_new(s, "expected", json_integer((json_int_t)m->expected));
    json_object_set_new(s, "duplicates", json_integer((json_int_t)m->duplicates));
    json_object_set_new(s, "reordered", json_integer((json_int_t)m->reordered));
    json_object_set_new(s, "bytes", json_integer((json_int_t)m->bytes));
    json_object_set_new(s, "mean_jitter_ms", json_real(m->mean_jitter_ms));
    json_object_set_new(s, "min_delta_ms", json_real(m->min_delta_ms));
    json_object_set_new(s, "mean_delta_ms", json_real(m->mean_delta_ms));
    json_object_set_new(s, "max_delta_ms", json_real(m->max_delta_ms));
    json_object_set_new(s, "interval_ms",
                        fr->interval_ms.count
                            ? json_pack("{s:f,s:f,s:f,s:f}", "p50", fr->interval_ms.p50, "p95", fr->interval_ms.p95,
                                        "p99", fr->interval_ms.p99, "max", fr->interval_ms.max)
                            : json_null());
    json_object_set_new(s, "nominal_interval_ms", num_or_null(fr->nominal_interval_ms, fr->have_nominal));
    json_object_set_new(s, "stalls", json_integer((json_int_t)fr->stalls));
    json_object_set_new(s, "frames_decoded", json_integer((json_int_t)fr->decoded));
    json_object_set_new(s, "frames_undecodable", json_integer((json_int_t)fr->undecodable));

    const struct rtp_series *ser = rtp_stream_series(st->rtp);
    if (!ser)
        return s;

    /* Frame interval and jitter over time, bit rate per second. */
    json_t *frames = json_array();
    for (size_t i = 0; i < ser->n_frames; i++) {
        const struct series_frame *f = &ser->frames[i];
        json_array_append_new(frames, json_pack("[f,o,f]", rel_s(f->t_ns, t0_ns),
                                                num_or_null(f->interval_ms, true),
                                                isfinite(f->jitter_ms) ? f->jitter_ms : 0.0));
    }
    json_t *rate = json_array();
    for (size_t i = 0; i < m->bitrate_series_len; i++)
        json_array_append_new(rate, json_real(m->bitrate_series_bps[i]));
    json_object_set_new(s, "series",
                        json_pack("{s:f,s:o,s:b,s:o}", "t0_s", rel_s(m->first_ns, t0_ns), "frames", frames,
                                  "frames_truncated", ser->frames_truncated, "bitrate_bps", rate));

    /* Loss events: each sequence number that never arrived, and where it
     * was lost: the sender's own capture lacks it too (never sent), or it
     * left and the network dropped it. */
    const struct rtp_series *sender = NULL;
    if (sent) {
        const struct rtp_stream *ss = sender_stream(sent, m->ssrc);
        sender = ss ? rtp_stream_series(ss) : NULL;
    }
    json_t *events = json_array();
    bool truncated = ser->gaps_truncated;
    for (size_t i = 0; i < ser->n_gaps && !truncated; i++) {
        const struct series_gap *g = &ser->gaps[i];
        for (uint32_t k = 0; k < g->count; k++) {
            if (json_array_size(events) >= LOSS_EVENTS_MAX) {
                truncated = true;
                break;
            }
            uint16_t seq = (uint16_t)(g->first_seq + k);
            const char *kind = !sent ? "unknown" : !sender || in_gaps(sender, seq) ? "never-sent" : "network";
            json_t *e = json_pack("{s:f,s:i,s:s}", "t_s", rel_s(g->t_ns, t0_ns), "seq", (int)seq, "kind", kind);
            if (g->pcap_frame) {
                json_object_set_new(e, "pcap", json_string(recv_pcap));
                json_object_set_new(e, "frame", json_integer((json_int_t)g->pcap_frame));
            }
            json_array_append_new(events, e);
        }
    }
    json_object_set_new(s, "loss_events", events);
    json_object_set_new(s, "loss_events_truncated", json_boolean(truncated));

    json_t *thumbs = json_array();
    for (size_t i = 0; i < ser->n_thumbs; i++) {
        const struct series_thumb *t = &ser->thumbs[i];
        char *b64 = series_base64(t->jpeg, t->jpeg_len);
        if (!b64)
            continue;
        json_array_append_new(thumbs, json_pack("{s:f,s:s,s:I,s:I,s:i,s:i,s:s}", "t_s", rel_s(t->t_ns, t0_ns),
                                                "reason", t->reason, "frame", (json_int_t)t->pcap_frame, "rtp_ts",
                                                (json_int_t)t->rtp_ts, "width", t->width, "height", t->height,
                                                "jpeg", b64));
        free(b64);
    }
    json_object_set_new(s, "thumbnails", thumbs);
    return s;
}
