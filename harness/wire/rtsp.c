/* RTSP/1.0 message parser, interleaved frames and builder (see rtsp.h). */
#include "rtsp.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static const char *const method_names[RTSP_METHOD_COUNT] = {
    [RTSP_METHOD_UNKNOWN] = NULL,
    [RTSP_METHOD_OPTIONS] = "OPTIONS",
    [RTSP_METHOD_DESCRIBE] = "DESCRIBE",
    [RTSP_METHOD_ANNOUNCE] = "ANNOUNCE",
    [RTSP_METHOD_SETUP] = "SETUP",
    [RTSP_METHOD_PLAY] = "PLAY",
    [RTSP_METHOD_PAUSE] = "PAUSE",
    [RTSP_METHOD_TEARDOWN] = "TEARDOWN",
    [RTSP_METHOD_GET_PARAMETER] = "GET_PARAMETER",
    [RTSP_METHOD_SET_PARAMETER] = "SET_PARAMETER",
    [RTSP_METHOD_REDIRECT] = "REDIRECT",
    [RTSP_METHOD_RECORD] = "RECORD",
};

const char *rtsp_method_name(enum rtsp_method m)
{
    if ((int)m <= RTSP_METHOD_UNKNOWN || m >= RTSP_METHOD_COUNT)
        return NULL;
    return method_names[m];
}

enum rtsp_method rtsp_method_from_str(struct wire_str s)
{
    for (int m = RTSP_METHOD_UNKNOWN + 1; m < RTSP_METHOD_COUNT; m++)
        if (wire_str_eq(s, method_names[m]))
            return (enum rtsp_method)m;
    return RTSP_METHOD_UNKNOWN;
}

static const char *const deviation_names[RTSP_DEV_COUNT] = {
    [RTSP_DEV_BARE_LF] = "bare-lf",
    [RTSP_DEV_MIXED_LINE_ENDS] = "mixed-line-ends",
    [RTSP_DEV_BARE_URI] = "bare-uri",
    [RTSP_DEV_MISSING_URI] = "missing-uri",
    [RTSP_DEV_MISSING_VERSION] = "missing-version",
    [RTSP_DEV_LOWERCASE_VERSION] = "lowercase-version",
    [RTSP_DEV_EXTRA_WHITESPACE] = "extra-whitespace",
    [RTSP_DEV_MISSING_REASON] = "missing-reason",
    [RTSP_DEV_MISSING_FINAL_BLANK_LINE] = "missing-final-blank-line",
    [RTSP_DEV_SPACE_BEFORE_COLON] = "space-before-colon",
    [RTSP_DEV_BAD_HEADER_NAME] = "bad-header-name",
    [RTSP_DEV_HEADER_WITHOUT_COLON] = "header-without-colon",
    [RTSP_DEV_FOLDED_HEADER] = "folded-header",
    [RTSP_DEV_VALUE_WHITESPACE] = "value-whitespace",
    [RTSP_DEV_SESSION_ID_CHARSET] = "session-id-charset",
    [RTSP_DEV_TRANSPORT_RTP_UDP] = "transport-rtp-udp",
    [RTSP_DEV_SPACE_AROUND_EQUALS] = "space-around-equals",
    [RTSP_DEV_SHORT_SSRC] = "short-ssrc",
    [RTSP_DEV_DUPLICATE_PARAMETER] = "duplicate-parameter",
};

const char *rtsp_deviation_name(enum rtsp_deviation kind)
{
    if ((int)kind < 0 || kind >= RTSP_DEV_COUNT)
        return "unknown";
    return deviation_names[kind];
}

void rtsp_deviations_add(struct rtsp_deviations *d, enum rtsp_deviation kind, size_t offset)
{
    if (!d)
        return;
    if (d->count >= RTSP_MAX_DEVIATIONS) {
        d->overflow = true;
        return;
    }
    d->rec[d->count].kind = kind;
    d->rec[d->count].offset = offset;
    d->count++;
}

bool rtsp_deviations_has(const struct rtsp_deviations *d, enum rtsp_deviation kind)
{
    if (!d)
        return false;
    for (size_t i = 0; i < d->count; i++)
        if (d->rec[i].kind == kind)
            return true;
    return false;
}

/* RFC 2616 token characters (RFC 2326 reuses HTTP's token rule). */
static bool is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(struct wire_str s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!is_tchar((unsigned char)s.ptr[i]))
            return false;
    return true;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static bool prefix_caseeq(const char *p, size_t len, const char *s)
{
    size_t n = strlen(s);
    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != lower(s[i]))
            return false;
    return true;
}

/* Parser state shared by the line handlers. */
struct parse_ctx {
    const char *buf;               /* the caller's buffer */
    bool lenient;                  /* mode == RTSP_LENIENT */
    size_t max_body;               /* Content-Length limit */
    struct rtsp_msg *msg;          /* result being filled */
    size_t max_hdrs;               /* capacity of msg->headers */
    struct wire_error *err;        /* where errors go */
};

static void dev(struct parse_ctx *c, enum rtsp_deviation kind, const char *at)
{
    rtsp_deviations_add(&c->msg->deviations, kind, (size_t)(at - c->buf));
}

static int fail_at(struct parse_ctx *c, const char *at, const char *reason)
{
    return wire_fail(c->err, (size_t)(at - c->buf), reason);
}

/* "RTSP/<d>.<d>"; case of the protocol name is a deviation in lenient mode. */
static int parse_version(struct parse_ctx *c, struct wire_str tok)
{
    if (tok.len < 5 || !prefix_caseeq(tok.ptr, tok.len, "RTSP/"))
        return fail_at(c, tok.ptr, "version is not RTSP/<major>.<minor>");
    if (memcmp(tok.ptr, "RTSP/", 5) != 0) {
        if (!c->lenient)
            return fail_at(c, tok.ptr, "protocol name must be upper-case RTSP");
        dev(c, RTSP_DEV_LOWERCASE_VERSION, tok.ptr);
    }
    size_t i = 5;
    int nums[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        size_t digits = 0;
        while (i < tok.len && is_digit(tok.ptr[i])) {
            nums[k] = nums[k] * 10 + (tok.ptr[i] - '0');
            if (nums[k] > 255)
                return fail_at(c, tok.ptr + i, "version number too large");
            i++;
            digits++;
        }
        if (digits == 0)
            return fail_at(c, tok.ptr + i, "version is not RTSP/<major>.<minor>");
        if (k == 0) {
            if (i >= tok.len || tok.ptr[i] != '.')
                return fail_at(c, tok.ptr + i, "version is not RTSP/<major>.<minor>");
            i++;
        }
    }
    if (i != tok.len)
        return fail_at(c, tok.ptr + i, "trailing characters after version");
    c->msg->version_major = nums[0];
    c->msg->version_minor = nums[1];
    return 0;
}

static bool looks_like_version(struct wire_str tok)
{
    return tok.len > 5 && prefix_caseeq(tok.ptr, tok.len, "RTSP/") && is_digit(tok.ptr[5]);
}

static bool uri_is_absolute(struct wire_str u)
{
    if (u.len == 1 && u.ptr[0] == '*')
        return true;
    return prefix_caseeq(u.ptr, u.len, "rtsp://") || prefix_caseeq(u.ptr, u.len, "rtsps://") ||
           prefix_caseeq(u.ptr, u.len, "rtspu://");
}

static int parse_status_line(struct parse_ctx *c, const char *p, const char *end)
{
    struct rtsp_msg *m = c->msg;
    const char *q = p;
    while (q < end && !is_space(*q))
        q++;
    struct wire_str ver = {p, (size_t)(q - p)};
    if (parse_version(c, ver) < 0)
        return WIRE_ERROR;
    const char *sp = q;
    while (q < end && is_space(*q))
        q++;
    if (q == end)
        return fail_at(c, q, "status line without status code");
    if (q - sp != 1 || *sp != ' ') {
        if (!c->lenient)
            return fail_at(c, sp, "status line fields must be separated by one space");
        dev(c, RTSP_DEV_EXTRA_WHITESPACE, sp);
    }
    const char *code = q;
    int status = 0;
    while (q < end && is_digit(*q) && q - code < 4) {
        status = status * 10 + (*q - '0');
        q++;
    }
    if (q - code != 3 || (q < end && !is_space(*q)))
        return fail_at(c, code, "status code is not three digits");
    if (status < 100)
        return fail_at(c, code, "status code below 100");
    m->status = status;
    if (q == end) {
        if (!c->lenient)
            return fail_at(c, q, "status line without reason phrase");
        dev(c, RTSP_DEV_MISSING_REASON, q);
        m->reason.ptr = q;
        m->reason.len = 0;
        return 0;
    }
    sp = q;
    if (c->lenient) {
        while (q < end && is_space(*q))
            q++;
        if (q - sp != 1 || *sp != ' ')
            dev(c, RTSP_DEV_EXTRA_WHITESPACE, sp);
        struct wire_str r = {q, (size_t)(end - q)};
        m->reason = wire_str_trim(r);
    } else {
        if (*sp != ' ')
            return fail_at(c, sp, "status line fields must be separated by one space");
        m->reason.ptr = sp + 1;
        m->reason.len = (size_t)(end - sp - 1);
    }
    return 0;
}

static int parse_request_line(struct parse_ctx *c, const char *p, const char *end)
{
    struct rtsp_msg *m = c->msg;
    struct wire_str tok[3];
    size_t ntok = 0;
    const char *q = p;
    bool irregular = false;
    const char *irregular_at = NULL;
    while (q < end) {
        const char *ws = q;
        while (q < end && is_space(*q))
            q++;
        size_t gap = (size_t)(q - ws);
        if (gap > 0 && (ntok == 0 || q == end || gap != 1 || *ws != ' ') && !irregular) {
            irregular = true;
            irregular_at = ws;
        }
        if (q == end)
            break;
        const char *t = q;
        while (q < end && !is_space(*q))
            q++;
        if (ntok == 3)
            return fail_at(c, t, "too many fields in request line");
        tok[ntok].ptr = t;
        tok[ntok].len = (size_t)(q - t);
        ntok++;
    }
    if (ntok == 0)
        return fail_at(c, p, "empty request line");
    if (irregular) {
        if (!c->lenient)
            return fail_at(c, irregular_at, "request line fields must be separated by one space");
        dev(c, RTSP_DEV_EXTRA_WHITESPACE, irregular_at);
    }
    if (!is_token(tok[0]))
        return fail_at(c, tok[0].ptr, "invalid character in method");
    m->is_request = true;
    m->method = tok[0];
    m->method_id = rtsp_method_from_str(tok[0]);
    struct wire_str uri = {end, 0}, ver = {NULL, 0};
    if (ntok == 3) {
        uri = tok[1];
        ver = tok[2];
    } else if (!c->lenient) {
        return fail_at(c, end, ntok == 1 ? "request line without URI and version"
                                         : "request line without version");
    } else if (ntok == 2 && looks_like_version(tok[1])) {
        dev(c, RTSP_DEV_MISSING_URI, tok[1].ptr);
        ver = tok[1];
    } else {
        if (ntok == 2)
            uri = tok[1];
        else
            dev(c, RTSP_DEV_MISSING_URI, end);
        dev(c, RTSP_DEV_MISSING_VERSION, end);
    }
    m->uri = uri;
    if (uri.len > 0 && !uri_is_absolute(uri)) {
        if (!c->lenient)
            return fail_at(c, uri.ptr, "request URI is not an absolute rtsp:// URL or *");
        dev(c, RTSP_DEV_BARE_URI, uri.ptr);
    }
    if (ver.ptr)
        return parse_version(c, ver);
    m->version_major = 0;
    m->version_minor = 0;
    return 0;
}

static int add_header(struct parse_ctx *c, const char *at, struct wire_str name,
                      struct wire_str value)
{
    struct rtsp_msg *m = c->msg;
    if (m->num_headers >= c->max_hdrs)
        return fail_at(c, at, "more headers than the caller's array holds");
    m->headers[m->num_headers].name = name;
    m->headers[m->num_headers].value = value;
    m->num_headers++;
    return 0;
}

static int parse_content_length(struct parse_ctx *c, struct wire_str v)
{
    struct rtsp_msg *m = c->msg;
    if (v.len == 0)
        return fail_at(c, v.ptr, "Content-Length is not a number");
    uint64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (!is_digit(v.ptr[i]))
            return fail_at(c, v.ptr + i, "Content-Length is not a number");
        n = n * 10 + (uint64_t)(v.ptr[i] - '0');
        if (n > c->max_body)
            return fail_at(c, v.ptr, "Content-Length exceeds max_body_bytes");
    }
    if (m->has_content_length && m->content_length != n)
        return fail_at(c, v.ptr, "conflicting Content-Length headers");
    m->has_content_length = true;
    m->content_length = (size_t)n;
    return 0;
}

static int parse_header_line(struct parse_ctx *c, const char *p, const char *end)
{
    struct wire_str nameless = {NULL, 0};
    struct wire_str line = {p, (size_t)(end - p)};
    if (is_space(*p)) {
        if (!c->lenient)
            return fail_at(c, p, "obsolete line folding (continuation line)");
        dev(c, RTSP_DEV_FOLDED_HEADER, p);
        return add_header(c, p, nameless, wire_str_trim(line));
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon) {
        if (!c->lenient)
            return fail_at(c, p, "header line without colon");
        dev(c, RTSP_DEV_HEADER_WITHOUT_COLON, p);
        return add_header(c, p, nameless, wire_str_trim(line));
    }
    struct wire_str name = {p, (size_t)(colon - p)};
    if (name.len > 0 && is_space(name.ptr[name.len - 1])) {
        if (!c->lenient)
            return fail_at(c, colon - 1, "whitespace before colon in header");
        dev(c, RTSP_DEV_SPACE_BEFORE_COLON, colon - 1);
        name = wire_str_trim(name);
    }
    if (name.len == 0)
        return fail_at(c, p, "empty header name");
    if (!is_token(name)) {
        if (!c->lenient)
            return fail_at(c, p, "invalid character in header name");
        dev(c, RTSP_DEV_BAD_HEADER_NAME, p);
    }
    struct wire_str value = {colon + 1, (size_t)(end - colon - 1)};
    value = wire_str_trim(value);
    if (value.len == 0)
        value.ptr = end;
    if (add_header(c, p, name, value) < 0)
        return WIRE_ERROR;
    if (wire_str_caseeq(name, "Content-Length"))
        return parse_content_length(c, value);
    return 0;
}

static int process_line(struct parse_ctx *c, bool first, const char *p, const char *end)
{
    if (first) {
        if (prefix_caseeq(p, (size_t)(end - p), "RTSP/") &&
            (c->lenient || memcmp(p, "RTSP/", 5) == 0)) {
            c->msg->is_request = false;
            return parse_status_line(c, p, end);
        }
        return parse_request_line(c, p, end);
    }
    return parse_header_line(c, p, end);
}

int rtsp_parse(const char *buf, size_t len, const struct rtsp_parse_opts *opts,
               struct rtsp_msg *msg, struct rtsp_header *hdrs, size_t max_hdrs,
               struct wire_error *err)
{
    static const struct rtsp_parse_opts defaults = {RTSP_STRICT, 0, 0, false};
    if (!opts)
        opts = &defaults;
    memset(msg, 0, sizeof(*msg));
    msg->headers = hdrs;
    struct parse_ctx c = {
        .buf = buf,
        .lenient = opts->mode == RTSP_LENIENT,
        .max_body = opts->max_body_bytes ? opts->max_body_bytes : RTSP_DEFAULT_MAX_BODY_BYTES,
        .msg = msg,
        .max_hdrs = hdrs ? max_hdrs : 0,
        .err = err,
    };
    size_t max_header =
        opts->max_header_bytes ? opts->max_header_bytes : RTSP_DEFAULT_MAX_HEADER_BYTES;
    if (max_header > (size_t)INT_MAX / 2 || c.max_body > (size_t)INT_MAX / 2)
        return wire_fail(err, 0, "max_header_bytes or max_body_bytes above INT_MAX / 2");

    size_t pos = 0;
    while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n'))
        pos++;
    if (pos == len)
        return WIRE_INCOMPLETE;
    size_t start = pos;
    /* No byte of the header section may sit at or beyond this index. */
    size_t limit = start + max_header;
    bool first = true, seen_crlf = false, seen_lf = false, mixed_done = false;
    bool no_blank_line = false;
    size_t header_end = 0;

    for (;;) {
        size_t line_start = pos, i = pos;
        unsigned char ch = 0;
        while (i < len) {
            if (i >= limit)
                return wire_fail(err, i, "header section larger than max_header_bytes");
            ch = (unsigned char)buf[i];
            if (ch == '\n' || ch == '\r')
                break;
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                return wire_fail(err, i, "control character in header section");
            i++;
        }
        size_t eol = 0;
        bool at_end = false;
        if (i == len) {
            at_end = true;
        } else if (ch == '\r') {
            if (i + 1 >= limit)
                return wire_fail(err, i + 1, "header section larger than max_header_bytes");
            if (i + 1 == len)
                at_end = true;
            else if (buf[i + 1] != '\n')
                return wire_fail(err, i, "CR not followed by LF");
            else
                eol = 2;
        } else {
            eol = 1;
        }
        if (at_end) {
            if (!opts->at_idle)
                return WIRE_INCOMPLETE;
            if (!c.lenient)
                return wire_fail(err, len, "message ends without the final blank line");
            if (i > line_start &&
                process_line(&c, first, buf + line_start, buf + i) < 0)
                return WIRE_ERROR;
            dev(&c, RTSP_DEV_MISSING_FINAL_BLANK_LINE, buf + len);
            no_blank_line = true;
            header_end = len;
            break;
        }
        /* The line's own content comes before its terminator in the input,
         * so it is judged first: errors and deviations stay in input order. */
        bool blank = !first && i == line_start;
        if (!blank && process_line(&c, first, buf + line_start, buf + i) < 0)
            return WIRE_ERROR;
        if (eol == 1) {
            if (!c.lenient)
                return wire_fail(err, i, "bare LF line end (RFC 2326 needs CRLF)");
            if (!seen_lf)
                dev(&c, RTSP_DEV_BARE_LF, buf + i);
            seen_lf = true;
        } else {
            seen_crlf = true;
        }
        if (seen_lf && seen_crlf && !mixed_done) {
            dev(&c, RTSP_DEV_MIXED_LINE_ENDS, buf + i);
            mixed_done = true;
        }
        pos = i + eol;
        if (blank) {
            header_end = pos;
            break;
        }
        first = false;
    }

    msg->header_bytes = header_end;
    size_t total = header_end + msg->content_length;
    if (total > (size_t)INT_MAX)
        return wire_fail(err, start, "message larger than INT_MAX bytes");
    if (msg->content_length > 0) {
        if (no_blank_line)
            return wire_fail(err, len, "Content-Length given but message has no blank line");
        if (len - header_end < msg->content_length) {
            if (opts->at_idle)
                return wire_fail(err, len, "body shorter than Content-Length");
            return WIRE_INCOMPLETE;
        }
    }
    msg->body.ptr = buf + header_end;
    msg->body.len = msg->content_length;
    return (int)total;
}

const struct wire_str *rtsp_msg_header_next(const struct rtsp_msg *msg, const char *name,
                                            size_t *index)
{
    for (size_t i = *index; i < msg->num_headers; i++) {
        const struct rtsp_header *h = &msg->headers[i];
        if (h->name.ptr && wire_str_caseeq(h->name, name)) {
            *index = i + 1;
            return &h->value;
        }
    }
    *index = msg->num_headers;
    return NULL;
}

const struct wire_str *rtsp_msg_header(const struct rtsp_msg *msg, const char *name)
{
    size_t i = 0;
    return rtsp_msg_header_next(msg, name, &i);
}

size_t rtsp_msg_header_count(const struct rtsp_msg *msg, const char *name)
{
    size_t n = 0, i = 0;
    while (rtsp_msg_header_next(msg, name, &i))
        n++;
    return n;
}

/* --- Interleaved frames --- */

int rtsp_interleaved_parse(const char *buf, size_t len, struct rtsp_interleaved *frame,
                           struct wire_error *err)
{
    if (len == 0)
        return WIRE_INCOMPLETE;
    if (buf[0] != '$')
        return wire_fail(err, 0, "interleaved frame does not start with '$'");
    if (len < 4)
        return WIRE_INCOMPLETE;
    const uint8_t *u = (const uint8_t *)buf;
    size_t n = wire_get_be16(u + 2);
    if (len - 4 < n)
        return WIRE_INCOMPLETE;
    frame->channel = u[1];
    frame->payload = u + 4;
    frame->len = n;
    return (int)(4 + n);
}

enum rtsp_next rtsp_next_kind(const char *buf, size_t len, size_t *skip)
{
    size_t i = 0;
    while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (skip)
        *skip = i;
    if (i == len)
        return RTSP_NEXT_NEED_MORE;
    return buf[i] == '$' ? RTSP_NEXT_INTERLEAVED : RTSP_NEXT_MESSAGE;
}

/* True when buf[p..] starts with s, or with a prefix of s that reaches len. */
static bool starts_or_cut(const char *buf, size_t len, size_t p, const char *s)
{
    size_t n = strlen(s);
    for (size_t k = 0; k < n; k++) {
        if (p + k == len)
            return true;
        if (buf[p + k] != s[k])
            return false;
    }
    return true;
}

static bool plausible_start(const char *buf, size_t len, size_t p)
{
    if (starts_or_cut(buf, len, p, "RTSP/"))
        return true;
    for (int m = RTSP_METHOD_UNKNOWN + 1; m < RTSP_METHOD_COUNT; m++) {
        size_t n = strlen(method_names[m]);
        if (starts_or_cut(buf, len, p, method_names[m]) && (p + n >= len || buf[p + n] == ' '))
            return true;
    }
    return false;
}

size_t rtsp_resync(const char *buf, size_t len, size_t from)
{
    for (size_t p = from + 1; p < len; p++) {
        if (buf[p] == '$')
            return p;
        if ((buf[p - 1] == '\n' || buf[p - 1] == '\r') && plausible_start(buf, len, p))
            return p;
    }
    return len;
}

bool rtsp_plausible_start(const char *buf, size_t len)
{
    return len > 0 && plausible_start(buf, len, 0);
}

bool rtsp_request_looks_lab(const char *buf, size_t len)
{
    const char *eol = memchr(buf, '\n', len);
    if (!eol || (len >= 5 && memcmp(buf, "RTSP/", 5) == 0))
        return false;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
            return true;
    const char *sp = memchr(buf, ' ', (size_t)(eol - buf));
    if (!sp)
        return false;
    const char *uri = sp + 1;
    const char *uri_end = memchr(uri, ' ', (size_t)(eol - uri));
    if (!uri_end)
        uri_end = eol;
    size_t n = (size_t)(uri_end - uri);
    while (n > 0 && (uri[n - 1] == '\r'))
        n--;
    if (n == 1 && uri[0] == '*')
        return false;
    for (size_t i = 0; i + 3 <= n; i++)
        if (memcmp(uri + i, "://", 3) == 0)
            return false;
    return n > 0;
}

/* --- Builder --- */

static const struct {
    int code;          /* RFC 2326 7.1.1 status code */
    const char *text;  /* its reason phrase */
} status_reasons[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {250, "Low on Storage Space"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Moved Temporarily"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Time-out"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Request Entity Too Large"},
    {414, "Request-URI Too Large"},
    {415, "Unsupported Media Type"},
    {451, "Parameter Not Understood"},
    {452, "Conference Not Found"},
    {453, "Not Enough Bandwidth"},
    {454, "Session Not Found"},
    {455, "Method Not Valid in This State"},
    {456, "Header Field Not Valid for Resource"},
    {457, "Invalid Range"},
    {458, "Parameter Is Read-Only"},
    {459, "Aggregate operation not allowed"},
    {460, "Only aggregate operation allowed"},
    {461, "Unsupported transport"},
    {462, "Destination unreachable"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Time-out"},
    {505, "RTSP Version not supported"},
    {551, "Option not supported"},
};

const char *rtsp_status_reason(int code)
{
    for (size_t i = 0; i < sizeof(status_reasons) / sizeof(status_reasons[0]); i++)
        if (status_reasons[i].code == code)
            return status_reasons[i].text;
    return NULL;
}

void rtsp_builder_init(struct rtsp_builder *b, char *buf, size_t cap, unsigned flags)
{
    memset(b, 0, sizeof(*b));
    b->buf = buf;
    b->cap = cap;
    b->flags = flags;
}

static bool bfail(struct rtsp_builder *b, const char *reason)
{
    if (!b->failed) {
        b->failed = true;
        b->reason = reason;
    }
    return false;
}

static bool put(struct rtsp_builder *b, const char *s, size_t n)
{
    if (b->failed)
        return false;
    if (b->cap - b->len < n)
        return bfail(b, "message does not fit in the buffer");
    /* memmove: rtsp_build_vheaderf formats a value in place, so s may
     * equal the destination. */
    if (n)
        memmove(b->buf + b->len, s, n);
    b->len += n;
    return true;
}

static bool puts_(struct rtsp_builder *b, const char *s) { return put(b, s, strlen(s)); }

static bool put_eol(struct rtsp_builder *b)
{
    return (b->flags & RTSP_BUILD_LF) ? put(b, "\n", 1) : put(b, "\r\n", 2);
}

/* Text allowed in a value, URI or reason: no CTL except HT in values. */
static bool clean_text(struct wire_str s, bool allow_space)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch == '\t' || ch == ' ') {
            if (!allow_space)
                return false;
        } else if (ch < 0x20 || ch == 0x7f) {
            return false;
        }
    }
    return true;
}

static bool begin(struct rtsp_builder *b)
{
    if (b->failed)
        return false;
    if (b->started)
        return bfail(b, "start line written twice");
    b->started = true;
    return true;
}

bool rtsp_build_request(struct rtsp_builder *b, const char *method, const char *uri)
{
    if (!begin(b))
        return false;
    struct wire_str m = rtsp_str(method), u = rtsp_str(uri);
    if (!is_token(m))
        return bfail(b, "method is not a token");
    if (u.len == 0 || !clean_text(u, false))
        return bfail(b, "URI is empty or has spaces or control characters");
    return put(b, m.ptr, m.len) && put(b, " ", 1) && put(b, u.ptr, u.len) &&
           puts_(b, " RTSP/1.0") && put_eol(b);
}

bool rtsp_build_response(struct rtsp_builder *b, int code, const char *reason)
{
    if (!begin(b))
        return false;
    if (code < 100 || code > 999)
        return bfail(b, "status code is not three digits");
    if (!reason)
        reason = rtsp_status_reason(code);
    if (!reason)
        return bfail(b, "no reason phrase known for this status code");
    if (!clean_text(rtsp_str(reason), true))
        return bfail(b, "reason phrase has control characters");
    char line[16];
    snprintf(line, sizeof(line), "RTSP/1.0 %d ", code);
    return puts_(b, line) && puts_(b, reason) && put_eol(b);
}

bool rtsp_build_header_str(struct rtsp_builder *b, struct wire_str name, struct wire_str value)
{
    if (b->failed)
        return false;
    if (!b->started)
        return bfail(b, "header before the start line");
    if (b->finished)
        return bfail(b, "header after finish");
    if (!is_token(name))
        return bfail(b, "header name is not a token");
    if (!clean_text(value, true))
        return bfail(b, "header value has CR, LF, NUL or control characters");
    if (wire_str_caseeq(name, "Content-Length"))
        return bfail(b, "Content-Length is set by rtsp_build_finish");
    return put(b, name.ptr, name.len) && put(b, ": ", 2) && put(b, value.ptr, value.len) &&
           put_eol(b);
}

bool rtsp_build_header(struct rtsp_builder *b, const char *name, const char *value)
{
    return rtsp_build_header_str(b, rtsp_str(name), rtsp_str(value));
}

bool rtsp_build_vheaderf(struct rtsp_builder *b, const char *name, const char *fmt, va_list ap)
{
    if (b->failed)
        return false;
    /* Format straight into the free tail, then check it as a value. */
    size_t name_len = strlen(name);
    size_t avail = b->cap - b->len;
    if (avail < name_len + 2)
        return bfail(b, "message does not fit in the buffer");
    char *dst = b->buf + b->len + name_len + 2;
    size_t room = avail - name_len - 2;
    int n = vsnprintf(room ? dst : NULL, room, fmt, ap);
    if (n < 0)
        return bfail(b, "header value format error");
    if ((size_t)n >= room)
        return bfail(b, "message does not fit in the buffer");
    /* The value already sits where header_str will copy it: name and ": "
     * end exactly at dst, and put() uses memmove. */
    struct wire_str v = {dst, (size_t)n};
    return rtsp_build_header_str(b, rtsp_str(name), v);
}

bool rtsp_build_headerf(struct rtsp_builder *b, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool ok = rtsp_build_vheaderf(b, name, fmt, ap);
    va_end(ap);
    return ok;
}

int rtsp_build_finish(struct rtsp_builder *b, const void *body, size_t body_len)
{
    if (b->failed)
        return WIRE_ERROR;
    if (!b->started)
        return bfail(b, "finish before the start line"), WIRE_ERROR;
    if (b->finished)
        return bfail(b, "finish called twice"), WIRE_ERROR;
    if (body_len > 0) {
        if (b->flags & RTSP_BUILD_NO_FINAL_BLANK_LINE)
            return bfail(b, "a body needs the final blank line"), WIRE_ERROR;
        char num[32];
        snprintf(num, sizeof(num), "%zu", body_len);
        if (!puts_(b, "Content-Length: ") || !puts_(b, num) || !put_eol(b))
            return WIRE_ERROR;
    }
    if (b->flags & RTSP_BUILD_NO_FINAL_BLANK_LINE)
        b->len -= (b->flags & RTSP_BUILD_LF) ? 1 : 2; /* every line ended with one */
    else if (!put_eol(b))
        return WIRE_ERROR;
    if (body_len > 0 && !put(b, (const char *)body, body_len))
        return WIRE_ERROR;
    if (b->len > (size_t)INT_MAX)
        return bfail(b, "message larger than INT_MAX"), WIRE_ERROR;
    b->finished = true;
    return (int)b->len;
}
