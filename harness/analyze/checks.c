/* The check catalog and the findings list: see checks.h. */
#include "checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(rfc, lab) {SEV_##rfc, SEV_##lab}

const struct check_def check_catalog[CHK_COUNT] = {
    [CHK_RTSP_SYNTAX] = {"rtsp.syntax", "RFC 2326 6, 7", S(FAIL, FAIL), "every RTSP message parses"},
    [CHK_RTSP_LINE_ENDS] = {"rtsp.line-ends", "RFC 2326 4.1", S(FAIL, NOTE), "lines end with CRLF"},
    [CHK_RTSP_CSEQ_MISSING] = {"rtsp.cseq.missing", "RFC 2326 12.17", S(FAIL, FAIL), "every request and response carries CSeq"},
    [CHK_RTSP_CSEQ_ECHO] = {"rtsp.cseq.echo", "RFC 2326 12.17", S(FAIL, FAIL), "a response carries its request's CSeq"},
    [CHK_RTSP_CSEQ_ORDER] = {"rtsp.cseq.increase", "RFC 2326 12.17", S(FAIL, FAIL), "the client's CSeq increases with each new request"},
    [CHK_RTSP_RESPONSE_ORDER] = {"rtsp.response.order", "RFC 2326 12.17", S(FAIL, FAIL), "responses come in request order"},
    [CHK_RTSP_UNANSWERED] = {"rtsp.unanswered", "RFC 2326 7", S(FAIL, WARN), "every request gets a response within the capture"},
    [CHK_RTSP_CONTENT_LENGTH] = {"rtsp.content-length", "RFC 2326 12.14", S(FAIL, FAIL), "the body is exactly Content-Length bytes"},
    [CHK_RTSP_SESSION_MISSING] = {"rtsp.session.missing", "RFC 2326 12.37", S(FAIL, FAIL), "SETUP's reply returns Session and later requests of the session send it"},
    [CHK_RTSP_SESSION_CHANGED] = {"rtsp.session.changed", "RFC 2326 12.37", S(FAIL, FAIL), "the session id stays the one SETUP returned"},
    [CHK_RTSP_SESSION_SHORT] = {"rtsp.session.length", "RFC 2326 3.4", S(FAIL, OFF), "session ids are at least 8 octets"},
    [CHK_RTSP_SESSION_UNKNOWN] = {"rtsp.session.unknown", "RFC 2326 11.3.3", S(FAIL, NOTE), "a request naming an unknown session gets 454"},
    [CHK_RTSP_TRANSPORT_MISSING] = {"rtsp.transport.missing", "RFC 2326 12.39", S(FAIL, NOTE), "SETUP and its 200 reply carry Transport"},
    [CHK_RTSP_TRANSPORT_SYNTAX] = {"rtsp.transport.syntax", "RFC 2326 12.39", S(FAIL, WARN), "Transport headers follow the RFC 2326 grammar"},
    [CHK_RTSP_TRANSPORT_CHOICE] = {"rtsp.transport.choice", "RFC 2326 12.39", S(FAIL, WARN), "the reply's transport is one of those offered"},
    [CHK_RTSP_TRANSPORT_CLIENT_PORT] = {"rtsp.transport.client-port", "RFC 2326 12.39", S(FAIL, WARN), "the reply echoes client_port"},
    [CHK_RTSP_TRANSPORT_SERVER_PORT] = {"rtsp.transport.server-port", "RFC 2326 12.39", S(FAIL, OFF), "a UDP reply gives server_port as an even/odd pair"},
    [CHK_RTSP_TRANSPORT_INTERLEAVED] = {"rtsp.transport.interleaved", "RFC 2326 10.12, 12.39", S(FAIL, FAIL), "interleaved channels are a valid, unused pair"},
    [CHK_RTSP_STATE] = {"rtsp.state", "RFC 2326 A.1", S(FAIL, WARN), "a method not valid in the session state is not answered 200"},
    [CHK_RTSP_PUBLIC] = {"rtsp.public", "RFC 2326 12.28", S(WARN, OFF), "Public lists every method the server answers 200"},
    [CHK_RTSP_UNKNOWN_METHOD] = {"rtsp.method.unknown", "RFC 2326 10", S(FAIL, NOTE), "an unknown method gets 501"},
    [CHK_RTSP_STATUS] = {"rtsp.status", "RFC 2326 7.1.1", S(NOTE, NOTE), "requests succeed (error statuses are listed)"},
    [CHK_RTP_VERSION] = {"rtp.version", "RFC 3550 5.1", S(FAIL, FAIL), "V is 2"},
    [CHK_RTP_MALFORMED] = {"rtp.malformed", "RFC 3550 5.1, 5.3.1", S(FAIL, FAIL), "CSRC, extension and padding lengths fit the packet"},
    [CHK_RTP_PAYLOAD_TYPE] = {"rtp.payload-type", "RFC 3551 6; RFC 4566 6", S(FAIL, FAIL), "PT is the one announced (26 for JPEG)"},
    [CHK_RTP_SSRC_CHANGE] = {"rtp.ssrc.change", "RFC 3550 8", S(FAIL, WARN), "SSRC is constant for a flow"},
    [CHK_RTP_SEQ_GAP] = {"rtp.seq.gap", "RFC 3550 A.1, A.3", S(WARN, WARN), "sequence numbers increase by one (gaps are loss)"},
    [CHK_RTP_SEQ_REORDER] = {"rtp.seq.reorder", "RFC 3550 A.1", S(NOTE, NOTE), "packets arrive in sequence order"},
    [CHK_RTP_SEQ_DUPLICATE] = {"rtp.seq.duplicate", "RFC 3550 A.1", S(NOTE, NOTE), "no sequence number arrives twice"},
    [CHK_RTP_SEQ_INITIAL] = {"rtp.seq.initial", "RFC 3550 5.1", S(WARN, OFF), "the initial sequence number is random"},
    [CHK_RTP_TS_CLOCK] = {"rtp.timestamp.clock", "RFC 3550 5.1; RFC 3551 5", S(FAIL, NOTE), "timestamps advance at the media clock (90 kHz for video)"},
    [CHK_RTP_TS_ADVANCE] = {"rtp.timestamp.advance", "RFC 3550 5.1", S(NOTE, WARN), "timestamps never go back and advance as the stream goes on"},
    [CHK_RTP_TS_FRAME] = {"rtp.timestamp.frame", "RFC 2435 3", S(FAIL, WARN), "all packets of a frame share one timestamp"},
    [CHK_RTP_MARKER] = {"rtp.marker", "RFC 2435 3; RFC 3551 4.1", S(FAIL, NOTE), "the marker bit is set on the last packet of each frame, and only there"},
    [CHK_RTP_AFTER_PAUSE] = {"rtp.after-pause", "RFC 2326 10.6", S(FAIL, FAIL), "RTP stops once PAUSE is answered"},
    [CHK_RTP_AFTER_TEARDOWN] = {"rtp.after-teardown", "RFC 2326 10.7", S(FAIL, FAIL), "RTP stops once TEARDOWN is answered"},
    [CHK_RTCP_MALFORMED] = {"rtcp.malformed", "RFC 3550 6.1", S(FAIL, WARN), "RTCP compounds are well formed"},
    [CHK_RTCP_SR_COUNTS] = {"rtcp.sr.counts", "RFC 3550 6.4.1", S(WARN, OFF), "sender report counts match the RTP sent"},
    [CHK_FRAME_INCOMPLETE] = {"frame.incomplete", "RFC 2435 3.1", S(WARN, WARN), "every frame arrives whole"},
    [CHK_FRAME_UNDECODABLE] = {"frame.undecodable", "RFC 2435 3.1", S(FAIL, FAIL), "every complete frame decodes"},
    [CHK_FRAME_SKIPPED] = {"frame.skipped", "fixture", S(WARN, WARN), "numbered fixture frames do not skip"},
    [CHK_FRAME_REPEATED] = {"frame.repeated", "fixture", S(WARN, WARN), "numbered fixture frames do not repeat"},
    [CHK_FRAME_ORDER] = {"frame.order", "fixture", S(WARN, WARN), "numbered fixture frames do not go back"},
    [CHK_CAPTURE_TCP_GAP] = {"capture.tcp.gap", "capture", S(NOTE, NOTE), "the capture holds every TCP byte"},
    [CHK_CAPTURE_TRUNCATED] = {"capture.truncated", "capture", S(NOTE, NOTE), "packets are captured whole"},
};

const char *check_profile_name(enum check_profile p)
{
    return p == PROFILE_LAB ? "lab" : "rfc2326";
}

const char *check_severity_name(enum check_severity s)
{
    static const char *names[] = {"off", "note", "warn", "fail"};
    return (unsigned)s < 4 ? names[s] : "?";
}

void findings_init(struct findings *f)
{
    memset(f, 0, sizeof *f);
}

void findings_free(struct findings *f)
{
    free(f->items);
    memset(f, 0, sizeof *f);
}

uint64_t findings_add(struct findings *f, enum check_id check, uint64_t frame, uint64_t frame_end,
                      const char *where, const char *fmt, ...)
{
    if ((unsigned)check >= CHK_COUNT)
        return 0;
    uint64_t n = ++f->count[check];
    if (n > FINDINGS_KEEP_PER_CHECK)
        return n;
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        struct finding *bigger = realloc(f->items, cap * sizeof *bigger);
        if (!bigger)
            return n; /* counted, not kept */
        f->items = bigger;
        f->cap = cap;
    }
    struct finding *x = &f->items[f->len++];
    x->check = check;
    x->frame = frame;
    x->frame_end = frame_end;
    snprintf(x->where, sizeof x->where, "%s", where ? where : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->detail, sizeof x->detail, fmt, ap);
    va_end(ap);
    return n;
}

uint64_t findings_at_least(const struct findings *f, enum check_profile p, enum check_severity sev)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < CHK_COUNT; i++)
        if (check_catalog[i].severity[p] >= sev)
            total += f->count[i];
    return total;
}
