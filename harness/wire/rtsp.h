/* RTSP/1.0 messages on the wire: an incremental, zero-copy parser for
 * requests and responses (picohttpparser shape, see wire.h), TCP interleaved
 * binary frames mixed with messages on one byte stream, and a builder that
 * writes requests and responses into a caller buffer.
 *
 * Two modes. RTSP_STRICT follows RFC 2326: CRLF line ends, a blank line
 * after the headers, an absolute rtsp://, rtsps:// or rtspu:// URL or `*`,
 * a version token `RTSP/<digits>.<digits>`. RTSP_LENIENT also accepts the
 * lab dialect (bare LF, bare file names, missing final blank line when the
 * peer has gone idle, ...) and records each thing it forgave in
 * msg->deviations so a report can list them.
 *
 * What is a parse error and what the caller checks:
 * - Parse errors (both modes): control bytes other than HT in the header
 *   section, a CR not followed by LF, an empty header name, a version token
 *   that is not RTSP/<d>.<d>, a status code that is not three digits
 *   (100-999), more than three fields in a request line, an invalid method
 *   token, Content-Length that is not a number, above max_body_bytes or
 *   given twice with different values, more headers than the caller's
 *   array, a header section above max_header_bytes, a body cut short when
 *   at_idle is set.
 * - Parse errors in strict mode only (deviations in lenient mode): bare LF,
 *   a URI that is not absolute, a lowercase protocol name, runs of spaces
 *   in the start line, a status line without reason, a missing request
 *   field, whitespace before a colon, invalid header-name characters, a
 *   line without a colon, folded continuation lines, a missing final blank
 *   line at idle.
 * - Caller checks (parsed, not rejected): the version number (a server
 *   answers 505 for anything but 1.0), unknown methods (501), missing or
 *   bad CSeq and every other header value (see rtsp_hdr.h).
 *
 * Obsolete line folding: strict mode rejects it. Lenient mode keeps a
 * continuation line, and a line without a colon, as a header whose name has
 * ptr == NULL and len == 0 (picohttpparser's convention); header lookup skips
 * such entries, the values are left for a grader to inspect.
 *
 * Leading CR and LF bytes before a start line are skipped in both modes
 * (RFC 7230 3.5 robustness; lab clients send stray newlines); they count in
 * the bytes consumed.
 */
#ifndef RTSP_HARNESS_RTSP_H
#define RTSP_HARNESS_RTSP_H

#include "wire.h"

#include <stdarg.h>

enum rtsp_mode {
    RTSP_STRICT,  /* RFC 2326 */
    RTSP_LENIENT, /* lab dialect, with deviations recorded */
};

/* Methods of RFC 2326 section 10; values index bit masks (RTSP_METHOD_BIT). */
enum rtsp_method {
    RTSP_METHOD_UNKNOWN = 0,
    RTSP_METHOD_OPTIONS,
    RTSP_METHOD_DESCRIBE,
    RTSP_METHOD_ANNOUNCE,
    RTSP_METHOD_SETUP,
    RTSP_METHOD_PLAY,
    RTSP_METHOD_PAUSE,
    RTSP_METHOD_TEARDOWN,
    RTSP_METHOD_GET_PARAMETER,
    RTSP_METHOD_SET_PARAMETER,
    RTSP_METHOD_REDIRECT,
    RTSP_METHOD_RECORD,
    RTSP_METHOD_COUNT,
};
#define RTSP_METHOD_BIT(m) (1u << (unsigned)(m))

/* "SETUP" for RTSP_METHOD_SETUP; NULL for UNKNOWN or out of range. */
const char *rtsp_method_name(enum rtsp_method m);
/* Exact, case-sensitive match (methods are case-sensitive, RFC 2326 6.1). */
enum rtsp_method rtsp_method_from_str(struct wire_str s);

/* What lenient mode forgave; stable ids via rtsp_deviation_name. */
enum rtsp_deviation {
    RTSP_DEV_BARE_LF,                  /* "bare-lf": a line ended by LF alone */
    RTSP_DEV_MIXED_LINE_ENDS,          /* "mixed-line-ends": CRLF and LF in one message */
    RTSP_DEV_BARE_URI,                 /* "bare-uri": request URI not absolute (movie.Mjpeg) */
    RTSP_DEV_MISSING_URI,              /* "missing-uri": request line without URI */
    RTSP_DEV_MISSING_VERSION,          /* "missing-version": request line without RTSP/x.y */
    RTSP_DEV_LOWERCASE_VERSION,        /* "lowercase-version": "rtsp/1.0" */
    RTSP_DEV_EXTRA_WHITESPACE,         /* "extra-whitespace": not single SP in start line */
    RTSP_DEV_MISSING_REASON,           /* "missing-reason": "RTSP/1.0 200" */
    RTSP_DEV_MISSING_FINAL_BLANK_LINE, /* "missing-final-blank-line": ended by idle */
    RTSP_DEV_SPACE_BEFORE_COLON,       /* "space-before-colon": "CSeq : 1" */
    RTSP_DEV_BAD_HEADER_NAME,          /* "bad-header-name": "Mean FPS: 20" */
    RTSP_DEV_HEADER_WITHOUT_COLON,     /* "header-without-colon": a line "2" */
    RTSP_DEV_FOLDED_HEADER,            /* "folded-header": line starting with SP/HT */
    RTSP_DEV_VALUE_WHITESPACE,         /* "value-whitespace": spaces around a value */
    RTSP_DEV_SESSION_ID_CHARSET,       /* "session-id-charset": id outside RFC charset */
    RTSP_DEV_TRANSPORT_RTP_UDP,        /* "transport-rtp-udp": RTP/UDP or RTP/TCP */
    RTSP_DEV_SPACE_AROUND_EQUALS,      /* "space-around-equals": client_port= 8000 */
    RTSP_DEV_SHORT_SSRC,               /* "short-ssrc": ssrc with fewer than 8 hex digits */
    RTSP_DEV_DUPLICATE_PARAMETER,      /* "duplicate-parameter": a parameter given twice */
    RTSP_DEV_COUNT,
};

/* Stable id string of a deviation ("bare-lf"); "unknown" when out of range. */
const char *rtsp_deviation_name(enum rtsp_deviation kind);

#define RTSP_MAX_DEVIATIONS 16

/* One forgiven deviation. */
struct rtsp_deviation_rec {
    enum rtsp_deviation kind; /* what was forgiven */
    size_t offset;            /* where, relative to the buffer given to the parser */
};

/* Deviations of one message or header value; never dropped silently. */
struct rtsp_deviations {
    struct rtsp_deviation_rec rec[RTSP_MAX_DEVIATIONS]; /* first ones, in input order */
    size_t count;                                        /* entries used in rec */
    bool overflow;                                       /* more happened than rec holds */
};

/* Append a deviation; sets overflow when full. d may be NULL. */
void rtsp_deviations_add(struct rtsp_deviations *d, enum rtsp_deviation kind, size_t offset);
/* True when d (may be NULL) holds at least one deviation of this kind. */
bool rtsp_deviations_has(const struct rtsp_deviations *d, enum rtsp_deviation kind);

/* One header line; slices into the parsed buffer. */
struct rtsp_header {
    struct wire_str name;  /* ptr NULL for lenient nameless lines (folded, no colon) */
    struct wire_str value; /* without the surrounding spaces and tabs */
};

/* A parsed request or response; every slice points into the caller's buffer. */
struct rtsp_msg {
    bool is_request;               /* request line, else status line */
    struct wire_str method;        /* request: method token as sent */
    enum rtsp_method method_id;    /* request: known method or UNKNOWN */
    struct wire_str uri;           /* request: Request-URI (len 0 when missing) */
    int version_major;             /* 1 for RTSP/1.0; 0 when missing (lenient) */
    int version_minor;             /* 0 for RTSP/1.0 */
    int status;                    /* response: status code 100-999 */
    struct wire_str reason;        /* response: reason phrase, may be empty */
    struct rtsp_header *headers;   /* the caller's array */
    size_t num_headers;            /* entries filled */
    bool has_content_length;       /* a Content-Length header was present */
    size_t content_length;         /* body length; 0 without the header */
    struct wire_str body;          /* content_length bytes after the header section */
    size_t header_bytes;           /* start line, headers and blank line, from buf */
    struct rtsp_deviations deviations; /* what lenient mode forgave */
};

/* Parser options; a NULL pointer means strict with defaults. */
struct rtsp_parse_opts {
    enum rtsp_mode mode;     /* strict or lenient */
    size_t max_header_bytes; /* header section limit; 0 means 8192 */
    size_t max_body_bytes;   /* Content-Length limit; 0 means 1 MiB */
    bool at_idle;            /* no more bytes are coming now (peer idle or closed) */
};

#define RTSP_DEFAULT_MAX_HEADER_BYTES 8192
#define RTSP_DEFAULT_MAX_BODY_BYTES (1u << 20)

/* Parse one message at the start of buf. Returns the bytes consumed (leading
 * blank lines, header section and body), WIRE_INCOMPLETE, or WIRE_ERROR with
 * err set. Without at_idle, a message lacking its final blank line or part
 * of its body is WIRE_INCOMPLETE; with at_idle it is an error, except that
 * lenient mode accepts the missing blank line (the rest of buf is the
 * message) and records "missing-final-blank-line". An empty buf (or only
 * blank lines) is WIRE_INCOMPLETE. msg and hdrs are overwritten on every
 * call, whatever the result. */
int rtsp_parse(const char *buf, size_t len, const struct rtsp_parse_opts *opts,
               struct rtsp_msg *msg, struct rtsp_header *hdrs, size_t max_hdrs,
               struct wire_error *err);

/* First header of that name (ASCII case-insensitive), or NULL. */
const struct wire_str *rtsp_msg_header(const struct rtsp_msg *msg, const char *name);
/* Iterate duplicates: search from *index, leave *index after the match.
 * Start with *index = 0; NULL when no more. */
const struct wire_str *rtsp_msg_header_next(const struct rtsp_msg *msg, const char *name,
                                            size_t *index);
/* Number of headers of that name. */
size_t rtsp_msg_header_count(const struct rtsp_msg *msg, const char *name);

/* --- Interleaved binary frames (RFC 2326 10.12) --- */

/* One `$` frame: '$', channel, 16-bit big-endian length, payload. */
struct rtsp_interleaved {
    uint8_t channel;        /* from Transport interleaved= */
    const uint8_t *payload; /* into the caller's buffer */
    size_t len;             /* payload bytes, 0-65535 */
};

/* Parse one frame at buf. Returns 4 + payload length, WIRE_INCOMPLETE, or
 * WIRE_ERROR when buf does not start with '$'. */
int rtsp_interleaved_parse(const char *buf, size_t len, struct rtsp_interleaved *frame,
                           struct wire_error *err);

/* What comes next on a mixed stream. */
enum rtsp_next {
    RTSP_NEXT_NEED_MORE,   /* nothing but (maybe) blank-line bytes yet */
    RTSP_NEXT_MESSAGE,     /* an RTSP message (or garbage: rtsp_parse will say) */
    RTSP_NEXT_INTERLEAVED, /* a '$' frame */
};

/* Classify the next item. *skip (may be NULL) gets the number of leading CR
 * and LF bytes to drop first; rtsp_parse skips them itself, the interleaved
 * parser does not. */
enum rtsp_next rtsp_next_kind(const char *buf, size_t len, size_t *skip);

/* After a parse error: offset of the next plausible item start after offset
 * `from` (from + 1 or later): a '$', or a line start that begins with a
 * known method and a space or with "RTSP/" (a prefix of either cut by the end
 * of buf counts). Returns len when there is none. */
size_t rtsp_resync(const char *buf, size_t len, size_t from);

/* buf starts like an RTSP message: a known method and a space, or "RTSP/"
 * (a prefix of either cut by the end of buf counts). */
bool rtsp_plausible_start(const char *buf, size_t len);

/* The request at the start of buf speaks the student lab's dialect: a line
 * ends in bare LF, or the first line's URI is a bare file name (neither
 * absolute nor `*`; the Java lab sends CRLF with bare names). Such requests
 * often end without a blank line, so their end is the end of what the
 * client sent. false until the first line is complete. */
bool rtsp_request_looks_lab(const char *buf, size_t len);

/* --- Builder --- */

/* Builder flags. */
#define RTSP_BUILD_LF 1u                    /* bare LF line ends (lab replies) */
/* Lab replies as the Python servers write them: no blank line and no
 * terminator after the last line; no body allowed. */
#define RTSP_BUILD_NO_FINAL_BLANK_LINE 2u

/* Writes one message into a caller buffer; the first failure sticks. */
struct rtsp_builder {
    char *buf;          /* caller's buffer */
    size_t cap;         /* its size */
    size_t len;         /* bytes written */
    unsigned flags;     /* RTSP_BUILD_* */
    bool started;       /* start line written */
    bool finished;      /* rtsp_build_finish succeeded */
    bool failed;        /* an error happened; nothing more is written */
    const char *reason; /* static text of the first error */
};

void rtsp_builder_init(struct rtsp_builder *b, char *buf, size_t cap, unsigned flags);
/* "METHOD uri RTSP/1.0": method must be a token, uri non-empty without
 * spaces or control bytes. */
bool rtsp_build_request(struct rtsp_builder *b, const char *method, const char *uri);
/* "RTSP/1.0 code reason": reason NULL takes rtsp_status_reason(code). */
bool rtsp_build_response(struct rtsp_builder *b, int code, const char *reason);
/* One header. Rejects names that are not tokens, values with CR, LF, NUL or
 * other control bytes (header injection), and Content-Length (finish sets it). */
bool rtsp_build_header(struct rtsp_builder *b, const char *name, const char *value);
/* Same on slices (copying a parsed header). */
bool rtsp_build_header_str(struct rtsp_builder *b, struct wire_str name, struct wire_str value);
/* Header with a printf-formatted value; the result is checked like any value. */
bool rtsp_build_headerf(struct rtsp_builder *b, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool rtsp_build_vheaderf(struct rtsp_builder *b, const char *name, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Add Content-Length when body_len > 0, the blank line and the body. Returns
 * the message length, or WIRE_ERROR with b->reason set. */
int rtsp_build_finish(struct rtsp_builder *b, const void *body, size_t body_len);

/* Reason phrase of RFC 2326 7.1.1 for a status code, or NULL when unknown. */
const char *rtsp_status_reason(int code);

/* A slice over a NUL-terminated string (for building structs in code). */
static inline struct wire_str rtsp_str(const char *s)
{
    struct wire_str w = {s, 0};
    if (s)
        while (s[w.len])
            w.len++;
    return w;
}

#endif
