/* SDP (RFC 4566) as RTSP DESCRIBE replies carry it: a zero-copy parser into
 * a session section and media sections, a list of findings (what RFC 4566
 * requires and the description lacks, with stable ids and line numbers),
 * lookups of the attributes RTSP needs (rtpmap, fmtp, control, framerate,
 * range), a builder over a caller buffer for the reference server, and the
 * resolution of a=control URLs against Content-Base (RFC 2326 C.1.1).
 *
 * The parser is lenient by design: only a description that does not fit the
 * caller's arrays is a hard error (WIRE_ERROR); everything else parses as
 * far as it can and is recorded as a finding, so the analyzer can report
 * under any profile what a strict reader would have refused.
 */
#ifndef RTSP_HARNESS_SDP_H
#define RTSP_HARNESS_SDP_H

#include "wire.h"

#define SDP_BW_MAX 6 /* b= lines kept per section (AS, CT, TIAS, RS, RR + one) */

/* Finding ids (stable; reports and rubrics refer to them). */
#define SDP_V_MISSING "sdp.v.missing"       /* no v= line */
#define SDP_V_NOT_FIRST "sdp.v.not-first"   /* v= is not the first line */
#define SDP_V_VALUE "sdp.v.value"           /* v= is not 0 */
#define SDP_O_MISSING "sdp.o.missing"       /* no o= line */
#define SDP_O_MALFORMED "sdp.o.malformed"   /* o= does not have its 6 fields */
#define SDP_S_MISSING "sdp.s.missing"       /* no s= line */
#define SDP_S_EMPTY "sdp.s.empty"           /* s= with no text (RFC: use "s= ") */
#define SDP_T_MISSING "sdp.t.missing"       /* no t= line */
#define SDP_T_MALFORMED "sdp.t.malformed"   /* t= is not two decimal numbers */
#define SDP_C_MISSING "sdp.c.missing"       /* c= neither at session level nor in every media */
#define SDP_C_MALFORMED "sdp.c.malformed"   /* c= does not have nettype, addrtype, address */
#define SDP_B_MALFORMED "sdp.b.malformed"   /* b= is not <bwtype>:<number> */
#define SDP_M_NONE "sdp.m.none"             /* no m= line */
#define SDP_M_MALFORMED "sdp.m.malformed"   /* m= lacks media, port, proto or a format */
#define SDP_A_MALFORMED "sdp.a.malformed"   /* a= with an empty attribute name */
#define SDP_RTPMAP_MISSING "sdp.rtpmap.missing"     /* dynamic PT 96-127 without a=rtpmap */
#define SDP_RTPMAP_MALFORMED "sdp.rtpmap.malformed" /* a=rtpmap not <pt> <enc>/<clock>[/<ch>] */
#define SDP_LINE_MALFORMED "sdp.line.malformed"     /* not <letter>=<value>, or a stray CR/NUL */
#define SDP_LINE_EMPTY "sdp.line.empty"             /* an empty line */
#define SDP_LINE_UNKNOWN "sdp.line.unknown-type"    /* a type letter RFC 4566 does not define */
#define SDP_LINE_DUPLICATE "sdp.line.duplicate"     /* a line that may appear once appears again */
#define SDP_LINE_TRAILING_SPACE "sdp.line.trailing-space" /* whitespace before the line end */
#define SDP_ORDER "sdp.order"                       /* RFC 4566 line order violated */
#define SDP_LINE_ENDING_LF "sdp.line-ending.lf"     /* bare LF line ends (first one recorded) */
#define SDP_LINE_ENDING_MISSING "sdp.line-ending.missing" /* last line has no line end */

/* One thing RFC 4566 requires that the description does not do. */
struct sdp_finding {
    const char *id;     /* one of the SDP_* ids above */
    unsigned line;      /* 1-based line number; 0 for whole-description findings */
    size_t offset;      /* byte offset of that line (or of the end for line 0) */
    const char *detail; /* static text saying what was expected */
};

/* a=<name>[:<value>] */
struct sdp_attr {
    struct wire_str name;  /* attribute name */
    struct wire_str value; /* value after ':'; ptr NULL for a property attribute */
    unsigned line;         /* 1-based line number */
};

/* c=<nettype> <addrtype> <connection-address> */
struct sdp_connection {
    bool present;              /* a c= line was seen for this section */
    struct wire_str nettype;   /* "IN" */
    struct wire_str addrtype;  /* "IP4" or "IP6" */
    struct wire_str address;   /* as written, /ttl and /count included */
    unsigned line;             /* 1-based line number */
};

/* b=<bwtype>:<bandwidth> */
struct sdp_bandwidth {
    struct wire_str bwtype; /* "AS", "CT", "TIAS" ... */
    uint64_t bandwidth;     /* kbit/s for AS and CT, bit/s for TIAS (RFC 3890) */
};

/* One m= section. Its attributes are attrs[attr_first .. attr_first + attr_count). */
struct sdp_media {
    struct wire_str media;       /* "video", "audio", "application" ... */
    uint16_t port;               /* transport port; 0 is usual in RTSP */
    uint16_t port_count;         /* from port/count; 1 when absent */
    struct wire_str proto;       /* "RTP/AVP" ... */
    struct wire_str fmts;        /* space-separated formats; walk with sdp_fmt_next */
    struct wire_str title;       /* i= of the section, ptr NULL when absent */
    struct sdp_connection c;     /* media-level c= */
    struct sdp_bandwidth bw[SDP_BW_MAX]; /* media-level b= lines */
    unsigned bw_count;           /* entries used in bw */
    unsigned attr_first;         /* index of the first attribute in sdp_session.attrs */
    unsigned attr_count;         /* attributes of this section */
    unsigned line;               /* 1-based line number of the m= line */
    size_t offset;               /* byte offset of the m= line */
};

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> */
struct sdp_origin {
    struct wire_str username;     /* "-" when none */
    struct wire_str sess_id;      /* numeric string, kept as text (may exceed 64 bits) */
    struct wire_str sess_version; /* numeric string */
    struct wire_str nettype;      /* "IN" */
    struct wire_str addrtype;     /* "IP4" or "IP6" */
    struct wire_str address;      /* unicast address of the origin */
};

/* A parsed session description. Set up with sdp_session_init, then fill with
 * sdp_parse; all slices point into the parsed text. */
struct sdp_session {
    struct wire_str version;      /* v= value, "0" */
    struct sdp_origin origin;     /* o= fields */
    struct wire_str name;         /* s= value */
    struct wire_str info;         /* session i=, ptr NULL when absent */
    struct wire_str uri;          /* u=, ptr NULL when absent */
    struct sdp_connection c;      /* session-level c= */
    struct sdp_bandwidth bw[SDP_BW_MAX]; /* session-level b= lines */
    unsigned bw_count;            /* entries used in bw */
    struct wire_str t_start;      /* first t= start time as written */
    struct wire_str t_stop;       /* first t= stop time as written */
    uint64_t start_time;          /* t= start, NTP seconds; 0 = unbounded */
    uint64_t stop_time;           /* t= stop, NTP seconds; 0 = unbounded */
    unsigned attr_count;          /* session-level attributes: attrs[0 .. attr_count) */

    struct sdp_media *media;      /* caller's array */
    unsigned media_cap;           /* its capacity */
    unsigned media_count;         /* m= sections parsed */
    struct sdp_attr *attrs;       /* caller's array, session then media attributes */
    unsigned attrs_cap;           /* its capacity */
    unsigned attrs_used;          /* entries used in attrs (all sections) */
    struct sdp_finding *findings; /* caller's array; may be NULL with cap 0 */
    unsigned findings_cap;        /* its capacity */
    unsigned finding_count;       /* findings stored */
    unsigned findings_dropped;    /* findings that did not fit (not an error) */
    bool lf_line_ends;            /* at least one line ended in a bare LF */
    unsigned line_count;          /* lines parsed */
};

/* Point s at the caller's arrays and clear it. */
void sdp_session_init(struct sdp_session *s, struct sdp_media *media, unsigned media_cap,
                      struct sdp_attr *attrs, unsigned attrs_cap,
                      struct sdp_finding *findings, unsigned findings_cap);

/* Parse a whole description (an RTSP body: its length is known, so there is
 * no WIRE_INCOMPLETE). CRLF and bare LF line ends are both accepted, trailing
 * spaces and tabs are trimmed; deviations become findings. Returns len, or
 * WIRE_ERROR when there are more m= sections or attributes than the arrays
 * hold. May be called again on a session after sdp_session_init only. */
int sdp_parse(const char *buf, size_t len, struct sdp_session *s, struct wire_error *err);

/* True when a finding with this id was recorded. */
bool sdp_has_finding(const struct sdp_session *s, const char *id);

/* Attributes called name in a section (m NULL: the session level), one at a
 * time: pass NULL to get the first, then the previous result. */
const struct sdp_attr *sdp_attr_next(const struct sdp_session *s, const struct sdp_media *m,
                                     const char *name, const struct sdp_attr *prev);

/* Walk a space-separated format list: *rest starts as media->fmts; each call
 * stores the next token in *fmt and returns false at the end. */
bool sdp_fmt_next(struct wire_str *rest, struct wire_str *fmt);

/* a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>] */
struct sdp_rtpmap {
    unsigned pt;              /* payload type 0..127 */
    struct wire_str encoding; /* "H264", "JPEG", "mpeg4-generic" ... */
    uint32_t clock_rate;      /* Hz */
    unsigned channels;        /* audio channels; 0 when absent */
};
/* Parse an rtpmap value; false when it is malformed. */
bool sdp_parse_rtpmap(struct wire_str value, struct sdp_rtpmap *out);
/* The rtpmap of payload type pt in m; false when there is none (or it is malformed). */
bool sdp_media_rtpmap(const struct sdp_session *s, const struct sdp_media *m, unsigned pt,
                      struct sdp_rtpmap *out);

/* a=fmtp:<format> <format specific parameters> */
struct sdp_fmtp {
    unsigned pt;            /* payload type */
    struct wire_str params; /* everything after the first space, trimmed */
};
/* The fmtp of payload type pt in m; false when there is none. */
bool sdp_media_fmtp(const struct sdp_session *s, const struct sdp_media *m, unsigned pt,
                    struct sdp_fmtp *out);
/* Find name in a "key=value;key=value" parameter list (keys compared without
 * case); false when absent. A key without '=' gives an empty value. */
bool sdp_fmtp_param(struct wire_str params, const char *name, struct wire_str *value);

/* The a=control value of a section (m NULL: session level); false when absent. */
bool sdp_control(const struct sdp_session *s, const struct sdp_media *m, struct wire_str *out);

/* a=framerate:<rate>, decimal ("29.97") or, as some servers write it, a
 * ratio ("30000/1001"). */
struct sdp_framerate {
    uint64_t num;   /* numerator */
    uint64_t den;   /* denominator, >= 1 */
    double fps;     /* num / den */
};
bool sdp_parse_framerate(struct wire_str value, struct sdp_framerate *out);
/* The framerate of m, or of the session when m has none; false when absent or malformed. */
bool sdp_media_framerate(const struct sdp_session *s, const struct sdp_media *m,
                         struct sdp_framerate *out);

/* a=range:npt=<start>-[<end>] (RFC 2326 3.6; also the Range header's npt). */
struct sdp_range {
    bool start_now;      /* start is "now" (live) */
    double start_s;      /* start in seconds (0 when start_now) */
    bool has_end;        /* an end time is given */
    double end_s;        /* end in seconds */
};
/* Parse "npt=..." (npt-sec or npt-hhmmss forms); false for other units or
 * malformed values. */
bool sdp_parse_npt_range(struct wire_str value, struct sdp_range *out);
/* The range of m, or of the session when m has none; false when absent or not npt. */
bool sdp_media_range(const struct sdp_session *s, const struct sdp_media *m, struct sdp_range *out);

/* Resolve a control attribute into a URL for SETUP/PLAY. base is the
 * Content-Base, else Content-Location, else the request URL. "*" gives the
 * base; an absolute URL (scheme:) is taken as is; "/path" replaces the
 * base's path; anything else is appended to the base after a '/' unless the
 * base already ends in one (what ffmpeg, live555 and GStreamer do, so base
 * "rtsp://h/movie" + "track1" is "rtsp://h/movie/track1"). Writes a
 * NUL-terminated URL and returns its length, or WIRE_ERROR when base or
 * control is empty, control holds a space, CR, LF or NUL (it would change
 * the request line), or the result does not fit in cap. */
int sdp_resolve_control(const char *base, struct wire_str control, char *out, size_t cap,
                        struct wire_error *err);

/* Writes a description line by line into a caller buffer, CRLF line ends,
 * always NUL-terminated. */
struct sdp_builder {
    char *buf;  /* output */
    size_t cap; /* its capacity */
    size_t len; /* bytes written, not counting the NUL */
};
void sdp_builder_init(struct sdp_builder *b, char *buf, size_t cap);
/* Append "<type>=<value>\r\n". Returns bytes appended or WIRE_ERROR leaving
 * the buffer unchanged: type not a lowercase letter, value holding CR, LF
 * or NUL, or no room (including the NUL). */
int sdp_add_line(struct sdp_builder *b, char type, struct wire_str value, struct wire_error *err);
/* The same with a printf-style value. */
int sdp_add_linef(struct sdp_builder *b, struct wire_error *err, char type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Append "a=<name>[:<value>]\r\n"; value.ptr NULL gives a property attribute.
 * The name must be non-empty without ':', whitespace, CR, LF or NUL. */
int sdp_add_attr(struct sdp_builder *b, struct wire_str name, struct wire_str value,
                 struct wire_error *err);

#endif
