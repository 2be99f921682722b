/* Parsers for RTSP header values (RFC 2326 section 12) on a slice such as
 * a struct rtsp_header value: CSeq, Session, Transport, Range, Public/Allow,
 * WWW-Authenticate and Authorization, plus a Transport formatter.
 *
 * Shape: a header value is complete by definition, so each parser returns
 * the bytes consumed (the whole value, except rtsp_parse_www_authenticate,
 * which stops before a following challenge) or WIRE_ERROR; never
 * WIRE_INCOMPLETE. Offsets in struct wire_error and in recorded deviations
 * are relative to the start of the value slice given (add value.ptr - buf
 * for a message offset). dev may be NULL. No allocation: results are slices
 * into the value; quoted strings are given without their quotes but with
 * their backslash escapes, rtsp_unquote copies them out unescaped.
 *
 * Whitespace: strict mode allows optional spaces after ';' and ',' and
 * around the whole value is an error for CSeq only (the message parser
 * trims values anyway). Lenient mode also accepts spaces around '='
 * ("client_port= 8000", deviation space-around-equals).
 */
#ifndef RTSP_HARNESS_RTSP_HDR_H
#define RTSP_HARNESS_RTSP_HDR_H

#include "rtsp.h"

/* CSeq: 1*DIGIT, at most 2^32-1. Lenient: surrounding spaces (value-whitespace). */
int rtsp_parse_cseq(struct wire_str v, enum rtsp_mode mode, uint32_t *cseq,
                    struct rtsp_deviations *dev, struct wire_error *err);

/* Session: session-id [ ";timeout=" delta-seconds ]. */
struct rtsp_session {
    struct wire_str id;    /* opaque id, compare byte for byte */
    bool has_timeout;      /* ;timeout= was given */
    uint32_t timeout_s;    /* its value in seconds (RFC default 60 when absent) */
    size_t unknown_params; /* other ;name=value parameters, ignored */
};

/* Strict: id is 1*(ALPHA | DIGIT | "$-_.+"). Lenient: any printable bytes
 * except ';' (spaces inside, UUID braces...), deviation session-id-charset. */
int rtsp_parse_session(struct wire_str v, enum rtsp_mode mode, struct rtsp_session *s,
                       struct rtsp_deviations *dev, struct wire_error *err);

/* A port or channel pair: "8000" (count 1) or "8000-8001" (count 2). A
 * single port means RTCP on port + 1 is implied, not given. */
struct rtsp_pair {
    uint8_t count;   /* 0 absent, 1 single value, 2 pair */
    uint16_t first;  /* RTP port or channel */
    uint16_t second; /* RTCP port or channel when count == 2 */
};

enum rtsp_lower_transport {
    RTSP_LOWER_UDP, /* default when the spec has no lower part */
    RTSP_LOWER_TCP,
};

/* One Transport alternative (RFC 2326 12.39). */
struct rtsp_transport {
    struct wire_str spec;     /* this alternative's whole text */
    struct wire_str protocol; /* "RTP" */
    struct wire_str profile;  /* "AVP"; empty for lenient RTP/UDP */
    struct wire_str lower;    /* "UDP"/"TCP" as written; empty when implied */
    enum rtsp_lower_transport lower_kind; /* UDP unless TCP was written */
    bool has_cast;            /* unicast or multicast was given */
    bool multicast;           /* multicast, else unicast (the default) */
    bool has_destination;     /* destination given, maybe without a value */
    struct wire_str destination; /* address, empty when "destination" alone */
    struct wire_str source;   /* source=address */
    struct rtsp_pair interleaved; /* interleaved=0-1 channels */
    bool append;              /* append (RECORD) */
    bool has_ttl;             /* ttl given */
    uint8_t ttl;              /* multicast time-to-live */
    bool has_layers;          /* layers given */
    uint32_t layers;          /* number of multicast layers */
    struct rtsp_pair port;    /* port= (multicast) */
    struct rtsp_pair client_port; /* client_port= */
    struct rtsp_pair server_port; /* server_port= */
    bool has_ssrc;            /* ssrc given */
    uint32_t ssrc;            /* 8 hex digits */
    uint32_t mode_methods;    /* RTSP_METHOD_BIT of PLAY/RECORD given in mode=; 0 absent */
    size_t unknown_params;    /* parameters not in RFC 2326, ignored */
};

/* Several comma-separated alternatives into out[0..max); *count gets the
 * number. More alternatives than max is an error (never dropped silently).
 * Strict rejects "RTP/UDP"; lenient accepts it (transport-rtp-udp).
 * A parameter given twice is an error in strict mode, the last wins in
 * lenient mode (duplicate-parameter). */
int rtsp_parse_transport(struct wire_str v, enum rtsp_mode mode, struct rtsp_transport *out,
                         size_t max, size_t *count, struct rtsp_deviations *dev,
                         struct wire_error *err);

/* Write one alternative back as text (no NUL added): the spec as parsed
 * (protocol/profile[/lower]; "RTP/AVP" when protocol is empty), then the
 * known parameters in RFC order. Unknown parameters are not kept. Returns
 * the length or WIRE_ERROR when cap is too small. */
int rtsp_format_transport(const struct rtsp_transport *t, char *buf, size_t cap);

/* Range: npt, with smpte and clock recognized but kept raw. */
enum rtsp_range_kind {
    RTSP_RANGE_NPT,   /* npt= */
    RTSP_RANGE_SMPTE, /* smpte=, smpte-30-drop=, smpte-25= (raw only) */
    RTSP_RANGE_CLOCK, /* clock= (raw only) */
};

/* One end of an npt range. */
struct rtsp_npt {
    bool present; /* this end was given */
    bool now;     /* "now" */
    uint64_t us;  /* microseconds; digits past the sixth decimal are dropped */
};

struct rtsp_range {
    enum rtsp_range_kind kind; /* unit */
    struct wire_str raw;       /* text after "unit=", up to ';' */
    struct rtsp_npt start;     /* npt start; absent for "-20" */
    struct rtsp_npt end;       /* npt end; absent for "0-" */
    struct wire_str time;      /* ;time= value (UTC), empty when absent */
};

/* npt-range = npt-time "-" [npt-time] | "-" npt-time; npt-time = "now" |
 * seconds[.frac] | h:mm:ss[.frac]. An end before the start is an error. */
int rtsp_parse_range(struct wire_str v, enum rtsp_mode mode, struct rtsp_range *r,
                     struct rtsp_deviations *dev, struct wire_error *err);

/* Public / Allow: comma-separated method tokens into a RTSP_METHOD_BIT
 * mask; *unknown counts tokens that are not RFC 2326 methods. */
int rtsp_parse_methods(struct wire_str v, uint32_t *mask, size_t *unknown,
                       struct wire_error *err);

enum rtsp_auth_scheme {
    RTSP_AUTH_OTHER,  /* a scheme we do not know; params still parsed */
    RTSP_AUTH_BASIC,  /* RFC 2617 Basic */
    RTSP_AUTH_DIGEST, /* RFC 2617 Digest */
};

/* One challenge of WWW-Authenticate. Slices are raw: quoted values without
 * their quotes, escapes kept (see rtsp_unquote). */
struct rtsp_challenge {
    enum rtsp_auth_scheme scheme; /* Basic, Digest or other */
    struct wire_str scheme_name;  /* as written */
    struct wire_str realm;        /* realm= */
    struct wire_str nonce;        /* nonce= (Digest) */
    struct wire_str opaque;       /* opaque= (Digest) */
    struct wire_str algorithm;    /* algorithm= (Digest), e.g. MD5 */
    struct wire_str qop;          /* qop= (Digest), e.g. auth */
    struct wire_str domain;       /* domain= (Digest) */
    bool stale;                   /* stale=true (Digest) */
    size_t unknown_params;        /* other auth-params */
};

/* Parse the first challenge of a WWW-Authenticate value. Returns bytes
 * consumed: v.len, or less when another challenge follows (call again on the
 * rest; the comma before it is consumed). */
int rtsp_parse_www_authenticate(struct wire_str v, struct rtsp_challenge *c,
                                struct wire_error *err);

/* Authorization credentials. */
struct rtsp_authorization {
    enum rtsp_auth_scheme scheme; /* Basic, Digest or other */
    struct wire_str scheme_name;  /* as written */
    struct wire_str username;     /* Basic: into scratch; Digest: raw */
    struct wire_str password;     /* Basic only, into scratch */
    struct wire_str realm;        /* Digest fields, raw */
    struct wire_str nonce;        /* nonce= */
    struct wire_str uri;          /* uri= */
    struct wire_str response;     /* response= (32 hex for MD5) */
    struct wire_str algorithm;    /* algorithm= */
    struct wire_str cnonce;       /* cnonce= */
    struct wire_str qop;          /* qop= */
    struct wire_str nc;           /* nc= (8 hex) */
    struct wire_str opaque;       /* opaque= */
    size_t unknown_params;        /* other auth-params */
};

/* Basic credentials are base64-decoded into scratch (cap bytes) and split at
 * the first ':'; Digest needs no scratch. */
int rtsp_parse_authorization(struct wire_str v, struct rtsp_authorization *a, char *scratch,
                             size_t scratch_cap, struct wire_error *err);

/* Copy a raw quoted-string body with its backslash escapes removed. Returns
 * the length, or WIRE_ERROR when cap is too small or it ends in a lone '\'. */
int rtsp_unquote(struct wire_str raw, char *out, size_t cap);

/* Decode standard base64 (with '=' padding, no line breaks) into out.
 * Returns the decoded length or WIRE_ERROR. */
int rtsp_base64_decode(struct wire_str in, uint8_t *out, size_t cap, struct wire_error *err);

#endif
