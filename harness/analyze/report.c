/* Report writers for an analysis: see report.h and docs/report-schema.md. */
#include "report.h"

#include <jansson.h>
#include <string.h>

static json_t *time_or_null(int64_t ns, bool present)
{
    return present ? json_real((double)ns / 1e9) : json_null();
}

static json_t *stream_json(const struct analyze_stream *s)
{
    const struct rtp_stream_metrics *m = rtp_stream_metrics(s->rtp);
    char ssrc[16];
    snprintf(ssrc, sizeof ssrc, "0x%08x", m->ssrc);
    json_t *series = json_array();
    for (size_t i = 0; i < m->bitrate_series_len; i++)
        json_array_append_new(series, json_real(m->bitrate_series_bps[i]));
    const struct rtp_stream_frames *fr = &m->frames;
    json_t *numbered = json_null();
    if (fr->numbered.present)
        numbered = json_pack("{s:I, s:I, s:I, s:I, s:I}", "first", (json_int_t)fr->numbered.first,
                             "last", (json_int_t)fr->numbered.last, "skipped",
                             (json_int_t)fr->numbered.skipped, "repeated",
                             (json_int_t)fr->numbered.repeated, "out_of_order",
                             (json_int_t)fr->numbered.out_of_order);
    json_t *frames = json_pack(
        "{s:I, s:I, s:I, s:I, s:f, s:{s:f, s:f, s:f, s:f}, s:o, s:I, s:o}", "complete",
        (json_int_t)fr->complete, "incomplete", (json_int_t)fr->incomplete, "decoded",
        (json_int_t)fr->decoded, "undecodable", (json_int_t)fr->undecodable, "fps", fr->fps,
        "interval_ms", "p50", fr->interval_ms.p50, "p95", fr->interval_ms.p95, "p99",
        fr->interval_ms.p99, "max", fr->interval_ms.max, "nominal_interval_ms",
        fr->have_nominal ? json_real(fr->nominal_interval_ms) : json_null(), "stalls",
        (json_int_t)fr->stalls, "numbered", numbered);
    json_t *o = json_object();
    json_object_set_new(o, "transport", json_string(s->interleaved ? "tcp-interleaved" : "udp"));
    json_object_set_new(o, "src", json_string(s->src));
    json_object_set_new(o, "dst", json_string(s->dst));
    json_object_set_new(o, "channel", s->channel >= 0 ? json_integer(s->channel) : json_null());
    json_object_set_new(o, "ssrc", json_string(ssrc));
    json_object_set_new(o, "payload_type", json_integer(m->payload_type));
    json_object_set_new(o, "clock_rate", json_integer(m->clock_rate));
    json_object_set_new(o, "session", s->session[0] ? json_string(s->session) : json_null());
    json_object_set_new(o, "bound_by", json_string(s->bound_by ? s->bound_by : "heuristic"));
    json_object_set_new(o, "packets", json_integer((json_int_t)m->packets));
    json_object_set_new(o, "expected", json_integer((json_int_t)m->expected));
    json_object_set_new(o, "lost", json_integer((json_int_t)m->lost));
    json_object_set_new(o, "loss_rate", json_real(m->loss_rate));
    json_object_set_new(o, "duplicates", json_integer((json_int_t)m->duplicates));
    json_object_set_new(o, "reordered", json_integer((json_int_t)m->reordered));
    json_object_set_new(o, "malformed", json_integer((json_int_t)m->malformed));
    json_object_set_new(o, "bytes", json_integer((json_int_t)m->bytes));
    json_object_set_new(o, "bitrate_bps", json_real(m->bitrate_bps));
    json_object_set_new(o, "bitrate_series_bps", series);
    json_object_set_new(o, "first_time", time_or_null(m->first_ns, m->started));
    json_object_set_new(o, "last_time", time_or_null(m->last_ns, m->started));
    json_object_set_new(o, "min_delta_ms", json_real(m->min_delta_ms));
    json_object_set_new(o, "mean_delta_ms", json_real(m->mean_delta_ms));
    json_object_set_new(o, "max_delta_ms", json_real(m->max_delta_ms));
    json_object_set_new(o, "mean_jitter_ms", json_real(m->mean_jitter_ms));
    json_object_set_new(o, "max_jitter_ms", json_real(m->max_jitter_ms));
    json_object_set_new(o, "mean_jitter_ts", json_real(m->mean_jitter_ts));
    json_object_set_new(o, "max_jitter_ts", json_real(m->max_jitter_ts));
    json_object_set_new(o, "frames", frames);
    return o;
}

int analysis_write_json(const struct analysis *a, FILE *out)
{
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_string("rtsp-harness/analyze"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(
        root, "capture",
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o}", "path", a->path, "format",
                  a->format ? a->format : "pcap", "link_type", a->link_type, "packets",
                  (json_int_t)a->packets, "undecoded", (json_int_t)a->undecoded, "truncated",
                  (json_int_t)a->truncated, "first_time", time_or_null(a->first_ns, a->packets > 0),
                  "last_time", time_or_null(a->last_ns, a->packets > 0)));
    json_t *capture = json_object_get(root, "capture");
    json_object_set_new(capture, "gso_split", json_integer((json_int_t)a->gso_split));
    json_object_set_new(capture, "ip_fragments", json_integer((json_int_t)a->ip_fragments));
    json_object_set_new(capture, "ip_reassembled", json_integer((json_int_t)a->ip_reassembled));
    json_object_set_new(capture, "ip_incomplete", json_integer((json_int_t)a->ip_incomplete));
    json_object_set_new(capture, "ip_evicted", json_integer((json_int_t)a->ip_evicted));
    json_object_set_new(capture, "ip_discarded", json_integer((json_int_t)a->ip_discarded));
    json_object_set_new(root, "profile", json_string(check_profile_name(a->profile)));
    json_object_set_new(root, "verdict", json_string(analysis_failed(a) ? "fail" : "pass"));
    json_t *conns = json_array();
    for (size_t i = 0; i < a->n_connections; i++) {
        const struct analyze_connection *c = &a->connections[i];
        json_t *ex = json_array();
        for (size_t k = 0; k < c->n_exchanges; k++) {
            const struct analyze_exchange *x = &c->exchanges[k];
            json_array_append_new(
                ex, json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o}", "frame", (json_int_t)x->frame,
                              "method", x->method, "uri", x->uri, "cseq",
                              x->has_cseq ? json_integer(x->cseq) : json_null(), "session",
                              x->session[0] ? json_string(x->session) : json_null(), "status",
                              x->status ? json_integer(x->status) : json_null(), "response_frame",
                              x->response_frame ? json_integer((json_int_t)x->response_frame)
                                                : json_null()));
        }
        json_array_append_new(conns, json_pack("{s:s, s:s, s:s, s:I, s:o}", "client", c->client,
                                               "server", c->server, "dialect",
                                               c->lab ? "lab" : "rfc2326", "requests",
                                               (json_int_t)c->requests, "exchanges", ex));
    }
    json_object_set_new(root, "connections", conns);
    json_t *streams = json_array();
    for (size_t i = 0; i < a->n_streams; i++)
        if (rtp_stream_metrics(a->streams[i].rtp)->started)
            json_array_append_new(streams, stream_json(&a->streams[i]));
    json_object_set_new(root, "streams", streams);
    json_t *findings = json_array();
    uint64_t by_sev[4] = {0};
    json_t *by_check = json_object();
    for (unsigned i = 0; i < CHK_COUNT; i++) {
        enum check_severity sev = check_catalog[i].severity[a->profile];
        if (!a->findings.count[i] || sev == SEV_OFF)
            continue;
        by_sev[sev] += a->findings.count[i];
        json_object_set_new(by_check, check_catalog[i].id,
                            json_integer((json_int_t)a->findings.count[i]));
    }
    for (size_t i = 0; i < a->findings.len; i++) {
        const struct finding *x = &a->findings.items[i];
        const struct check_def *d = &check_catalog[x->check];
        if (d->severity[a->profile] == SEV_OFF)
            continue;
        json_array_append_new(
            findings,
            json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s}", "check", d->id, "severity",
                      check_severity_name(d->severity[a->profile]), "rfc", d->rfc, "frame",
                      x->frame ? json_integer((json_int_t)x->frame) : json_null(), "frame_end",
                      x->frame_end ? json_integer((json_int_t)x->frame_end) : json_null(), "where",
                      x->where, "detail", x->detail));
    }
    json_object_set_new(root, "findings", findings);
    json_object_set_new(root, "summary",
                        json_pack("{s:I, s:I, s:I, s:o}", "fail", (json_int_t)by_sev[SEV_FAIL],
                                  "warn", (json_int_t)by_sev[SEV_WARN], "note",
                                  (json_int_t)by_sev[SEV_NOTE], "by_check", by_check));
    int rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(root);
    return rc == 0 && !ferror(out) ? 0 : -1;
}

int analysis_write_text(const struct analysis *a, FILE *out)
{
    fprintf(out, "capture %s: %s, %s, %llu frames (%llu not TCP/UDP, %llu cut by the snap length)\n",
            a->path, a->format ? a->format : "pcap", a->link_type, (unsigned long long)a->packets,
            (unsigned long long)a->undecoded, (unsigned long long)a->truncated);
    fprintf(out, "profile %s\n", check_profile_name(a->profile));
    if (a->gso_split)
        fprintf(out, "%llu UDP datagrams were GSO sends captured before segmentation; split into RTP packets\n",
                (unsigned long long)a->gso_split);
    if (a->ip_fragments)
        fprintf(out, "%llu IP fragments: %llu datagrams reassembled, %llu incomplete (%llu evicted), "
                     "%llu discarded (overlapping or oversize)\n",
                (unsigned long long)a->ip_fragments, (unsigned long long)a->ip_reassembled,
                (unsigned long long)a->ip_incomplete, (unsigned long long)a->ip_evicted,
                (unsigned long long)a->ip_discarded);
    fputc('\n', out);
    for (size_t i = 0; i < a->n_connections; i++) {
        const struct analyze_connection *c = &a->connections[i];
        fprintf(out, "RTSP %s -> %s (%s dialect), %llu requests\n", c->client, c->server,
                c->lab ? "lab" : "rfc2326", (unsigned long long)c->requests);
        for (size_t k = 0; k < c->n_exchanges; k++) {
            const struct analyze_exchange *x = &c->exchanges[k];
            char status[16] = "-", cseq[16] = "-";
            if (x->status)
                snprintf(status, sizeof status, "%d", x->status);
            if (x->has_cseq)
                snprintf(cseq, sizeof cseq, "%u", x->cseq);
            fprintf(out, "  #%-7llu %-13s cseq %-5s -> %-4s %s%s%s\n",
                    (unsigned long long)x->frame, x->method, cseq, status, x->uri,
                    x->session[0] ? " session " : "", x->session);
        }
        fputc('\n', out);
    }
    for (size_t i = 0; i < a->n_streams; i++) {
        const struct analyze_stream *s = &a->streams[i];
        const struct rtp_stream_metrics *m = rtp_stream_metrics(s->rtp);
        if (!m->started)
            continue;
        fprintf(out, "RTP %s -> %s%s ssrc 0x%08x pt %u (%s)\n", s->src, s->dst,
                s->interleaved ? " interleaved" : "", m->ssrc, m->payload_type,
                s->bound_by ? s->bound_by : "heuristic");
        fprintf(out, "  packets %llu, expected %lld, lost %lld (%.3f%%), duplicates %llu, reordered %llu\n",
                (unsigned long long)m->packets, (long long)m->expected, (long long)m->lost,
                m->loss_rate * 100, (unsigned long long)m->duplicates,
                (unsigned long long)m->reordered);
        fprintf(out, "  %llu bytes, %.1f kbit/s; delta min/mean/max %.3f/%.3f/%.3f ms; jitter mean/max %.3f/%.3f ms\n",
                (unsigned long long)m->bytes, m->bitrate_bps / 1000, m->min_delta_ms,
                m->mean_delta_ms, m->max_delta_ms, m->mean_jitter_ms, m->max_jitter_ms);
        const struct rtp_stream_frames *fr = &m->frames;
        fprintf(out, "  frames: %llu complete, %llu incomplete, %llu decoded (%llu failed), %.2f fps, "
                     "interval p50/p95/p99/max %.2f/%.2f/%.2f/%.2f ms, %llu stalls\n",
                (unsigned long long)fr->complete, (unsigned long long)fr->incomplete,
                (unsigned long long)fr->decoded, (unsigned long long)fr->undecodable, fr->fps,
                fr->interval_ms.p50, fr->interval_ms.p95, fr->interval_ms.p99, fr->interval_ms.max,
                (unsigned long long)fr->stalls);
        if (fr->numbered.present)
            fprintf(out, "  numbered frames %u..%u: %llu skipped, %llu repeated, %llu out of order\n",
                    fr->numbered.first, fr->numbered.last, (unsigned long long)fr->numbered.skipped,
                    (unsigned long long)fr->numbered.repeated,
                    (unsigned long long)fr->numbered.out_of_order);
        fputc('\n', out);
    }
    uint64_t shown = 0;
    for (size_t i = 0; i < a->findings.len; i++) {
        const struct finding *x = &a->findings.items[i];
        const struct check_def *d = &check_catalog[x->check];
        enum check_severity sev = d->severity[a->profile];
        if (sev == SEV_OFF)
            continue;
        if (!shown++)
            fprintf(out, "findings:\n");
        fprintf(out, "  %-4s %-26s frame %-7llu %s: %s [%s]\n", check_severity_name(sev), d->id,
                (unsigned long long)x->frame, x->where, x->detail, d->rfc);
    }
    for (unsigned i = 0; i < CHK_COUNT; i++)
        if (a->findings.count[i] > FINDINGS_KEEP_PER_CHECK &&
            check_catalog[i].severity[a->profile] != SEV_OFF)
            fprintf(out, "  ... %s: %llu more not listed\n", check_catalog[i].id,
                    (unsigned long long)(a->findings.count[i] - FINDINGS_KEEP_PER_CHECK));
    fprintf(out, "%sverdict: %s\n", shown ? "\n" : "", analysis_failed(a) ? "FAIL" : "pass");
    return ferror(out) ? -1 : 0;
}
