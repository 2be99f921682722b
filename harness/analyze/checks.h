/* The analyzer's check catalog and the findings it produces. Every check
 * has a stable id (rtsp.cseq.echo, rtp.seq.gap ...), the RFC section it
 * comes from, a severity per profile, and a one-line statement of the rule;
 * docs/checks.md is the same catalog in prose. A finding is one violation
 * with its evidence: the pcap frame number(s), the stream or connection it
 * belongs to, and a detail line saying what was expected and what came.
 *
 * Memory stays bounded on hostile captures: each check keeps the first
 * FINDINGS_KEEP_PER_CHECK findings in full and only counts the rest. */
#ifndef RTSP_HARNESS_CHECKS_H
#define RTSP_HARNESS_CHECKS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum check_severity {
    SEV_OFF = 0,  /* not reported under this profile */
    SEV_NOTE,     /* worth knowing, never a failure */
    SEV_WARN,     /* deviation that peers usually survive */
    SEV_FAIL,     /* a violation: the exit status is 1 */
};

enum check_profile {
    PROFILE_RFC2326, /* RFC 2326 / RFC 3550 / RFC 2435 as written */
    PROFILE_LAB,     /* the student lab's dialect (see PROTOCOL.md) */
    PROFILE_COUNT,
};

/* Check ids, indexing check_catalog. */
enum check_id {
    /* RTSP messages */
    CHK_RTSP_SYNTAX,            /* rtsp.syntax: a message does not parse */
    CHK_RTSP_LINE_ENDS,         /* rtsp.line-ends: bare LF instead of CRLF */
    CHK_RTSP_CSEQ_MISSING,      /* rtsp.cseq.missing: no CSeq in a request or response */
    CHK_RTSP_CSEQ_ECHO,         /* rtsp.cseq.echo: response CSeq differs from its request's */
    CHK_RTSP_CSEQ_ORDER,        /* rtsp.cseq.increase: client CSeq not increasing */
    CHK_RTSP_RESPONSE_ORDER,    /* rtsp.response.order: responses out of request order */
    CHK_RTSP_UNANSWERED,        /* rtsp.unanswered: request without a response in the capture */
    CHK_RTSP_CONTENT_LENGTH,    /* rtsp.content-length: body does not match Content-Length */
    CHK_RTSP_SESSION_MISSING,   /* rtsp.session.missing: SETUP reply without Session, or a later request without it */
    CHK_RTSP_SESSION_CHANGED,   /* rtsp.session.changed: Session differs from the one SETUP returned */
    CHK_RTSP_SESSION_SHORT,     /* rtsp.session.length: session id shorter than 8 octets */
    CHK_RTSP_SESSION_UNKNOWN,   /* rtsp.session.unknown: unknown session not answered 454 */
    CHK_RTSP_TRANSPORT_MISSING, /* rtsp.transport.missing: SETUP or its 200 reply without Transport */
    CHK_RTSP_TRANSPORT_SYNTAX,  /* rtsp.transport.syntax: a Transport header that does not parse */
    CHK_RTSP_TRANSPORT_CHOICE,  /* rtsp.transport.choice: reply transport not among those offered */
    CHK_RTSP_TRANSPORT_CLIENT_PORT, /* rtsp.transport.client-port: client_port not echoed */
    CHK_RTSP_TRANSPORT_SERVER_PORT, /* rtsp.transport.server-port: server_port missing or not an even/odd pair */
    CHK_RTSP_TRANSPORT_INTERLEAVED, /* rtsp.transport.interleaved: bad or duplicate channels */
    CHK_RTSP_STATE,             /* rtsp.state: method not valid in the session state answered 200 */
    CHK_RTSP_PUBLIC,            /* rtsp.public: Public does not list a method the server answers */
    CHK_RTSP_UNKNOWN_METHOD,    /* rtsp.method.unknown: unknown method not answered 501 */
    CHK_RTSP_STATUS,            /* rtsp.status: an error status (4xx/5xx) to a request */
    /* RTP */
    CHK_RTP_VERSION,            /* rtp.version: V != 2 */
    CHK_RTP_MALFORMED,          /* rtp.malformed: header, CSRC, extension or padding lengths inconsistent */
    CHK_RTP_PAYLOAD_TYPE,       /* rtp.payload-type: PT differs from the SDP's (26 for JPEG) */
    CHK_RTP_SSRC_CHANGE,        /* rtp.ssrc.change: SSRC changes within one flow */
    CHK_RTP_SEQ_GAP,            /* rtp.seq.gap: sequence numbers skip (loss) */
    CHK_RTP_SEQ_REORDER,        /* rtp.seq.reorder: a packet older than the highest seen */
    CHK_RTP_SEQ_DUPLICATE,      /* rtp.seq.duplicate: the same sequence number twice */
    CHK_RTP_SEQ_INITIAL,        /* rtp.seq.initial: first sequence number not random (0 or 1) */
    CHK_RTP_TS_CLOCK,           /* rtp.timestamp.clock: timestamps do not advance at the media clock */
    CHK_RTP_TS_ADVANCE,         /* rtp.timestamp.advance: a timestamp goes back, or never advances */
    CHK_RTP_TS_FRAME,           /* rtp.timestamp.frame: packets of one frame with different timestamps */
    CHK_RTP_MARKER,             /* rtp.marker: frame's last packet without marker, or marker mid-frame */
    CHK_RTP_AFTER_PAUSE,        /* rtp.after-pause: RTP after the PAUSE reply */
    CHK_RTP_AFTER_TEARDOWN,     /* rtp.after-teardown: RTP after the TEARDOWN reply */
    /* RTCP */
    CHK_RTCP_MALFORMED,         /* rtcp.malformed: compound does not parse */
    CHK_RTCP_SR_COUNTS,         /* rtcp.sr.counts: SR packet/octet counts disagree with the RTP seen */
    /* frames */
    CHK_FRAME_INCOMPLETE,       /* frame.incomplete: a frame with missing fragments */
    CHK_FRAME_UNDECODABLE,      /* frame.undecodable: libjpeg-turbo cannot decode a complete frame */
    CHK_FRAME_SKIPPED,          /* frame.skipped: fixture frame numbers skip */
    CHK_FRAME_REPEATED,         /* frame.repeated: a fixture frame number repeats */
    CHK_FRAME_ORDER,            /* frame.order: fixture frame numbers go back */
    /* capture */
    CHK_CAPTURE_TCP_GAP,        /* capture.tcp.gap: bytes missing from a TCP stream */
    CHK_CAPTURE_TRUNCATED,      /* capture.truncated: packets cut by the snap length */
    CHK_COUNT,
};

/* One catalog entry. */
struct check_def {
    const char *id;                              /* stable id, e.g. "rtp.seq.gap" */
    const char *rfc;                             /* "RFC 3550 A.1" */
    enum check_severity severity[PROFILE_COUNT]; /* per profile */
    const char *rule;                            /* one line: what must hold */
};

extern const struct check_def check_catalog[CHK_COUNT];

const char *check_profile_name(enum check_profile p);
const char *check_severity_name(enum check_severity s);

#define FINDINGS_KEEP_PER_CHECK 50 /* findings kept in full per check; the rest are counted */
#define FINDING_DETAIL_MAX 240     /* bytes of detail kept */
#define FINDING_WHERE_MAX 96       /* bytes of stream/connection label kept */

/* One violation. */
struct finding {
    enum check_id check;             /* which rule */
    uint64_t frame;                  /* pcap frame number (1-based) of the evidence, 0 unknown */
    uint64_t frame_end;              /* last frame of a range, 0 when a single frame */
    char where[FINDING_WHERE_MAX];   /* stream or connection, e.g. "10.0.0.1:554 -> 10.0.0.2:5000 ssrc 0x1234" */
    char detail[FINDING_DETAIL_MAX]; /* expected vs got, the offending line */
};

/* All findings of one analysis. */
struct findings {
    struct finding *items;     /* kept findings, in the order found */
    size_t len;                /* entries in items */
    size_t cap;                /* allocated */
    uint64_t count[CHK_COUNT]; /* every finding, kept or not, per check */
};

void findings_init(struct findings *f);
void findings_free(struct findings *f);
/* Record a finding; where may be NULL. Returns the total count for the check. */
uint64_t findings_add(struct findings *f, enum check_id check, uint64_t frame, uint64_t frame_end,
                      const char *where, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Number of findings at severity >= sev under profile. */
uint64_t findings_at_least(const struct findings *f, enum check_profile p, enum check_severity sev);

#endif
