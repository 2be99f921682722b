/* SDP parser, validator, attribute lookups, builder and control URL
 * resolution; see sdp.h. */
#include "sdp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sdp_session_init(struct sdp_session *s, struct sdp_media *media, unsigned media_cap,
                      struct sdp_attr *attrs, unsigned attrs_cap,
                      struct sdp_finding *findings, unsigned findings_cap)
{
    memset(s, 0, sizeof(*s));
    s->media = media;
    s->media_cap = media ? media_cap : 0;
    s->attrs = attrs;
    s->attrs_cap = attrs ? attrs_cap : 0;
    s->findings = findings;
    s->findings_cap = findings ? findings_cap : 0;
}

static void add_finding(struct sdp_session *s, const char *id, unsigned line, size_t offset,
                        const char *detail)
{
    if (s->finding_count >= s->findings_cap) {
        s->findings_dropped++;
        return;
    }
    struct sdp_finding *f = &s->findings[s->finding_count++];
    f->id = id;
    f->line = line;
    f->offset = offset;
    f->detail = detail;
}

bool sdp_has_finding(const struct sdp_session *s, const char *id)
{
    for (unsigned i = 0; i < s->finding_count; i++)
        if (strcmp(s->findings[i].id, id) == 0)
            return true;
    return false;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static struct wire_str str_make(const char *p, size_t n)
{
    struct wire_str w = {p, n};
    return w;
}

/* Split off the next space-separated token of *rest (runs of spaces and tabs
 * count as one separator, which real servers need). */
static bool next_token(struct wire_str *rest, struct wire_str *tok)
{
    if (rest->len == 0)
        return false; /* also keeps arithmetic off an absent (NULL) slice */
    size_t i = 0;
    while (i < rest->len && is_space(rest->ptr[i]))
        i++;
    if (i == rest->len) {
        rest->ptr += i;
        rest->len = 0;
        return false;
    }
    size_t start = i;
    while (i < rest->len && !is_space(rest->ptr[i]))
        i++;
    *tok = str_make(rest->ptr + start, i - start);
    rest->ptr += i;
    rest->len -= i;
    return true;
}

/* Split s at the first c: *head before it, *tail after it; false when absent. */
static bool split_at(struct wire_str s, char c, struct wire_str *head, struct wire_str *tail)
{
    const char *p = s.len ? memchr(s.ptr, c, s.len) : NULL;
    if (!p)
        return false;
    *head = str_make(s.ptr, (size_t)(p - s.ptr));
    *tail = str_make(p + 1, s.len - (size_t)(p - s.ptr) - 1);
    return true;
}

bool sdp_fmt_next(struct wire_str *rest, struct wire_str *fmt)
{
    return next_token(rest, fmt);
}

/* Order of lines in RFC 4566 section 5; -1 for letters the level does not allow. */
static int session_rank(char type)
{
    static const char order[] = "vosiuepcbt";
    const char *p = strchr(order, type);
    if (p && type)
        return (int)(p - order);
    switch (type) {
    case 'r':
        return 9; /* r= belongs to the t= before it; t r t r is in order */
    case 'z':
        return 10;
    case 'k':
        return 11;
    case 'a':
        return 12;
    default:
        return -1;
    }
}

static int media_rank(char type)
{
    static const char order[] = "micbka";
    const char *p = strchr(order, type);
    return (p && type) ? (int)(p - order) : -1;
}

static bool parse_connection(struct wire_str value, struct sdp_connection *c, unsigned line)
{
    struct wire_str rest = value, extra;
    struct sdp_connection tmp = {0};
    if (!next_token(&rest, &tmp.nettype) || !next_token(&rest, &tmp.addrtype) ||
        !next_token(&rest, &tmp.address) || next_token(&rest, &extra))
        return false;
    tmp.present = true;
    tmp.line = line;
    *c = tmp;
    return true;
}

static bool parse_bandwidth(struct wire_str value, struct sdp_bandwidth *bw)
{
    struct wire_str type, num;
    if (!split_at(value, ':', &type, &num) || type.len == 0)
        return false;
    for (size_t i = 0; i < type.len; i++)
        if (is_space(type.ptr[i]))
            return false;
    if (!wire_parse_u64(num, UINT64_MAX, &bw->bandwidth))
        return false;
    bw->bwtype = type;
    return true;
}

/* State of one sdp_parse call. */
struct parse_state {
    struct sdp_session *s;
    unsigned line;         /* current line number */
    size_t line_off;       /* offset of the current line */
    int rank;              /* highest order rank seen in the current section */
    bool in_media;         /* an m= line was seen */
    bool seen_v, seen_o, seen_s, seen_i, seen_u, seen_c, seen_k, seen_t; /* session level */
    bool media_seen_i, media_seen_k; /* current media level */
    bool first_is_v;       /* line 1 was a v= line */
    unsigned v_line;       /* line of the first v= */
    size_t v_off;          /* its offset */
};

static void finding(struct parse_state *ps, const char *id, const char *detail)
{
    add_finding(ps->s, id, ps->line, ps->line_off, detail);
}

static void check_order_and_duplicates(struct parse_state *ps, char type)
{
    if (!strchr("vosiuepcbtrzkam", type))
        return; /* an unknown letter is its own finding, not an order one */
    int rank = ps->in_media ? media_rank(type) : session_rank(type);
    if (rank < 0) {
        finding(ps, SDP_ORDER, ps->in_media ? "line type not allowed in a media section"
                                            : "line type not allowed at session level");
    } else if (rank < ps->rank) {
        finding(ps, SDP_ORDER, ps->in_media ? "media lines must be in the order m i c b k a"
                                            : "session lines must be in the order v o s i u e p c b t r z k a");
    } else {
        ps->rank = rank;
    }

    bool *seen = NULL;
    if (ps->in_media) {
        if (type == 'i')
            seen = &ps->media_seen_i;
        else if (type == 'k')
            seen = &ps->media_seen_k;
    } else {
        switch (type) {
        case 'v': seen = &ps->seen_v; break;
        case 'o': seen = &ps->seen_o; break;
        case 's': seen = &ps->seen_s; break;
        case 'i': seen = &ps->seen_i; break;
        case 'u': seen = &ps->seen_u; break;
        case 'c': seen = &ps->seen_c; break;
        case 'k': seen = &ps->seen_k; break;
        default: break;
        }
    }
    if (seen) {
        if (*seen)
            finding(ps, SDP_LINE_DUPLICATE, "this line may appear only once per section");
        *seen = true;
    }
}

static int add_attr(struct parse_state *ps, struct wire_str value, struct wire_error *err)
{
    struct sdp_session *s = ps->s;
    struct sdp_attr a;
    if (!split_at(value, ':', &a.name, &a.value)) {
        a.name = value;
        a.value = str_make(NULL, 0);
    }
    if (a.name.len == 0) {
        finding(ps, SDP_A_MALFORMED, "a= needs an attribute name");
        return 0;
    }
    if (s->attrs_used >= s->attrs_cap)
        return wire_fail(err, ps->line_off, "SDP has more attributes than the attribute array holds");
    a.line = ps->line;
    s->attrs[s->attrs_used++] = a;
    if (ps->in_media)
        s->media[s->media_count - 1].attr_count++;
    else
        s->attr_count++;
    if (wire_str_caseeq(a.name, "rtpmap")) {
        struct sdp_rtpmap map;
        if (!a.value.ptr || !sdp_parse_rtpmap(a.value, &map))
            finding(ps, SDP_RTPMAP_MALFORMED,
                    "a=rtpmap must be <payload type> <encoding>/<clock rate>[/<channels>]");
    }
    return 0;
}

static int start_media(struct parse_state *ps, struct wire_str value, size_t line_off,
                       struct wire_error *err)
{
    struct sdp_session *s = ps->s;
    if (s->media_count >= s->media_cap)
        return wire_fail(err, line_off, "SDP has more m= sections than the media array holds");
    struct sdp_media *m = &s->media[s->media_count++];
    memset(m, 0, sizeof(*m));
    m->attr_first = s->attrs_used;
    m->line = ps->line;
    m->offset = line_off;
    m->port_count = 1;
    ps->in_media = true;
    ps->rank = 0;
    ps->media_seen_i = ps->media_seen_k = false;

    struct wire_str rest = value, port, count, fmt;
    bool ok = next_token(&rest, &m->media) && next_token(&rest, &port) &&
              next_token(&rest, &m->proto);
    if (ok) {
        m->fmts = wire_str_trim(rest);
        struct wire_str probe = m->fmts;
        ok = sdp_fmt_next(&probe, &fmt);
        uint64_t v;
        struct wire_str num = port;
        if (split_at(port, '/', &num, &count)) {
            if (!wire_parse_u64(count, 65535, &v) || v == 0)
                ok = false;
            else
                m->port_count = (uint16_t)v;
        }
        if (wire_parse_u64(num, 65535, &v))
            m->port = (uint16_t)v;
        else
            ok = false;
    }
    if (!ok)
        finding(ps, SDP_M_MALFORMED, "m= must be <media> <port>[/<count>] <proto> <fmt> ...");
    return 0;
}

static int parse_line(struct parse_state *ps, char type, struct wire_str value,
                      struct wire_error *err)
{
    struct sdp_session *s = ps->s;
    struct sdp_media *m = ps->in_media ? &s->media[s->media_count - 1] : NULL;
    struct wire_str rest, extra;

    if (type != 'm')
        check_order_and_duplicates(ps, type);

    switch (type) {
    case 'v':
        if (!s->version.ptr) {
            s->version = value;
            ps->v_line = ps->line;
            ps->v_off = ps->line_off;
            if (!wire_str_eq(value, "0"))
                finding(ps, SDP_V_VALUE, "v= must be 0");
        }
        break;
    case 'o': {
        struct sdp_origin o;
        rest = value;
        if (next_token(&rest, &o.username) && next_token(&rest, &o.sess_id) &&
            next_token(&rest, &o.sess_version) && next_token(&rest, &o.nettype) &&
            next_token(&rest, &o.addrtype) && next_token(&rest, &o.address) &&
            !next_token(&rest, &extra)) {
            if (!s->origin.username.ptr)
                s->origin = o;
        } else {
            finding(ps, SDP_O_MALFORMED,
                    "o= must be <username> <sess-id> <sess-version> <nettype> <addrtype> <address>");
        }
        break;
    }
    case 's':
        if (!s->name.ptr)
            s->name = value;
        if (value.len == 0)
            finding(ps, SDP_S_EMPTY, "s= must not be empty; use \"s= \" for no name");
        break;
    case 'i':
        if (m && !m->title.ptr)
            m->title = value;
        else if (!m && !s->info.ptr)
            s->info = value;
        break;
    case 'u':
        if (!s->uri.ptr)
            s->uri = value;
        break;
    case 'c': {
        struct sdp_connection *c = m ? &m->c : &s->c;
        struct sdp_connection parsed;
        if (!parse_connection(value, &parsed, ps->line))
            finding(ps, SDP_C_MALFORMED, "c= must be <nettype> <addrtype> <connection-address>");
        else if (!c->present)
            *c = parsed;
        break;
    }
    case 'b': {
        struct sdp_bandwidth bw;
        unsigned *count = m ? &m->bw_count : &s->bw_count;
        struct sdp_bandwidth *arr = m ? m->bw : s->bw;
        if (!parse_bandwidth(value, &bw)) {
            finding(ps, SDP_B_MALFORMED, "b= must be <bwtype>:<bandwidth>");
        } else {
            if (*count >= SDP_BW_MAX)
                return wire_fail(err, ps->line_off, "SDP section has more b= lines than SDP_BW_MAX");
            arr[(*count)++] = bw;
        }
        break;
    }
    case 't': {
        struct wire_str start, stop;
        uint64_t a, b;
        rest = value;
        if (next_token(&rest, &start) && next_token(&rest, &stop) && !next_token(&rest, &extra) &&
            wire_parse_u64(start, UINT64_MAX, &a) && wire_parse_u64(stop, UINT64_MAX, &b)) {
            if (!ps->seen_t) {
                s->t_start = start;
                s->t_stop = stop;
                s->start_time = a;
                s->stop_time = b;
            }
        } else {
            finding(ps, SDP_T_MALFORMED, "t= must be <start-time> <stop-time> in decimal");
        }
        ps->seen_t = true;
        break;
    }
    case 'a':
        return add_attr(ps, value, err);
    case 'e': case 'p': case 'r': case 'z': case 'k':
        break; /* known, not needed by RTSP; order was checked above */
    default:
        finding(ps, SDP_LINE_UNKNOWN, "type letter not defined by RFC 4566");
        break;
    }
    return 0;
}

int sdp_parse(const char *buf, size_t len, struct sdp_session *s, struct wire_error *err)
{
    struct parse_state ps;
    if (len > INT32_MAX)
        return wire_fail(err, 0, "SDP longer than the return value can count");
    memset(&ps, 0, sizeof(ps));
    ps.s = s;
    size_t off = 0;
    bool last_unterminated = false;

    while (off < len) {
        ps.line++;
        ps.line_off = off;
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t next = nl ? end + 1 : len;
        if (!nl) {
            last_unterminated = true;
        } else if (end > off && buf[end - 1] == '\r') {
            end--;
        } else if (!s->lf_line_ends) {
            s->lf_line_ends = true;
            finding(&ps, SDP_LINE_ENDING_LF, "lines must end in CRLF; this one ends in a bare LF");
        }
        struct wire_str raw = str_make(buf + off, end - off);
        off = next;

        struct wire_str line = raw;
        while (line.len > 0 && is_space(line.ptr[line.len - 1]))
            line.len--;
        /* "s= " is how RFC 4566 spells an empty session name, not a stray space. */
        bool rfc_empty_name = raw.len >= 3 && raw.ptr[0] == 's' && raw.ptr[1] == '=' && line.len == 2;
        if (line.len != raw.len && !rfc_empty_name)
            finding(&ps, SDP_LINE_TRAILING_SPACE, "whitespace before the line end");
        if (ps.line == 1)
            ps.first_is_v = line.len >= 2 && line.ptr[0] == 'v' && line.ptr[1] == '=';
        if (line.len == 0) {
            finding(&ps, SDP_LINE_EMPTY, "empty line");
            continue;
        }
        if (memchr(line.ptr, '\r', line.len) || memchr(line.ptr, '\0', line.len)) {
            finding(&ps, SDP_LINE_MALFORMED, "stray CR or NUL inside a line");
            continue;
        }
        char type = line.ptr[0];
        if (line.len < 2 || line.ptr[1] != '=' || type < 'a' || type > 'z') {
            finding(&ps, SDP_LINE_MALFORMED, "a line must be <lowercase letter>=<value>");
            continue;
        }
        struct wire_str value = str_make(line.ptr + 2, line.len - 2);
        if (rfc_empty_name)
            value = str_make(raw.ptr + 2, raw.len - 2);
        int rc = type == 'm' ? start_media(&ps, value, ps.line_off, err)
                             : parse_line(&ps, type, value, err);
        if (rc < 0)
            return rc;
    }
    s->line_count = ps.line;

    if (last_unterminated)
        add_finding(s, SDP_LINE_ENDING_MISSING, ps.line, ps.line_off, "the last line has no line end");
    if (!ps.seen_v)
        add_finding(s, SDP_V_MISSING, 0, len, "v= is required");
    else if (!ps.first_is_v)
        add_finding(s, SDP_V_NOT_FIRST, ps.v_line, ps.v_off, "v= must be the first line");
    if (!ps.seen_o)
        add_finding(s, SDP_O_MISSING, 0, len, "o= is required");
    if (!ps.seen_s)
        add_finding(s, SDP_S_MISSING, 0, len, "s= is required");
    if (!ps.seen_t)
        add_finding(s, SDP_T_MISSING, 0, len, "t= is required");
    if (s->media_count == 0)
        add_finding(s, SDP_M_NONE, 0, len, "at least one m= section is expected");

    for (unsigned i = 0; i < s->media_count; i++) {
        struct sdp_media *m = &s->media[i];
        if (!s->c.present && !m->c.present)
            add_finding(s, SDP_C_MISSING, m->line, m->offset,
                        "c= is required at session level or in every media section");
        /* Dynamic payload types mean nothing without their rtpmap. */
        if (m->proto.len < 4 || memcmp(m->proto.ptr, "RTP/", 4) != 0)
            continue;
        struct wire_str rest = m->fmts, fmt;
        while (sdp_fmt_next(&rest, &fmt)) {
            uint64_t pt;
            struct sdp_rtpmap map;
            if (wire_parse_u64(fmt, 127, &pt) && pt >= 96 &&
                !sdp_media_rtpmap(s, m, (unsigned)pt, &map))
                add_finding(s, SDP_RTPMAP_MISSING, m->line, m->offset,
                            "dynamic payload type (96-127) without a=rtpmap");
        }
    }
    return (int)len;
}

const struct sdp_attr *sdp_attr_next(const struct sdp_session *s, const struct sdp_media *m,
                                     const char *name, const struct sdp_attr *prev)
{
    unsigned first = m ? m->attr_first : 0;
    unsigned end = first + (m ? m->attr_count : s->attr_count);
    unsigned i = prev ? (unsigned)(prev - s->attrs) + 1 : first;
    for (; i < end && i < s->attrs_used; i++)
        if (wire_str_caseeq(s->attrs[i].name, name))
            return &s->attrs[i];
    return NULL;
}

bool sdp_parse_rtpmap(struct wire_str value, struct sdp_rtpmap *out)
{
    struct wire_str rest = wire_str_trim(value), pt, spec, enc, clock, channels, extra;
    uint64_t v;
    if (!next_token(&rest, &pt) || !next_token(&rest, &spec) || next_token(&rest, &extra))
        return false;
    if (!wire_parse_u64(pt, 127, &v))
        return false;
    struct sdp_rtpmap map = {.pt = (unsigned)v};
    if (!split_at(spec, '/', &enc, &clock) || enc.len == 0)
        return false;
    map.encoding = enc;
    if (split_at(clock, '/', &clock, &channels)) {
        if (!wire_parse_u64(channels, 255, &v) || v == 0)
            return false;
        map.channels = (unsigned)v;
    }
    if (!wire_parse_u64(clock, UINT32_MAX, &v) || v == 0)
        return false;
    map.clock_rate = (uint32_t)v;
    *out = map;
    return true;
}

bool sdp_media_rtpmap(const struct sdp_session *s, const struct sdp_media *m, unsigned pt,
                      struct sdp_rtpmap *out)
{
    const struct sdp_attr *a = NULL;
    while ((a = sdp_attr_next(s, m, "rtpmap", a)) != NULL) {
        struct sdp_rtpmap map;
        if (a->value.ptr && sdp_parse_rtpmap(a->value, &map) && map.pt == pt) {
            *out = map;
            return true;
        }
    }
    return false;
}

bool sdp_media_fmtp(const struct sdp_session *s, const struct sdp_media *m, unsigned pt,
                    struct sdp_fmtp *out)
{
    const struct sdp_attr *a = NULL;
    while ((a = sdp_attr_next(s, m, "fmtp", a)) != NULL) {
        struct wire_str rest = a->value, fmt;
        uint64_t v;
        if (!a->value.ptr || !next_token(&rest, &fmt) || !wire_parse_u64(fmt, 127, &v) || v != pt)
            continue;
        out->pt = pt;
        out->params = wire_str_trim(rest);
        return true;
    }
    return false;
}

bool sdp_fmtp_param(struct wire_str params, const char *name, struct wire_str *value)
{
    struct wire_str rest = params;
    while (rest.len > 0) {
        struct wire_str item, tail, key, val;
        if (split_at(rest, ';', &item, &tail)) {
            rest = tail;
        } else {
            item = rest;
            rest.len = 0;
        }
        if (!split_at(item, '=', &key, &val)) {
            key = item;
            val = str_make(item.ptr + item.len, 0);
        }
        if (wire_str_caseeq(wire_str_trim(key), name)) {
            *value = wire_str_trim(val);
            return true;
        }
    }
    return false;
}

bool sdp_control(const struct sdp_session *s, const struct sdp_media *m, struct wire_str *out)
{
    const struct sdp_attr *a = sdp_attr_next(s, m, "control", NULL);
    if (!a || !a->value.ptr)
        return false;
    *out = wire_str_trim(a->value);
    return true;
}

/* digits [ "." digits ] as num/den with den a power of ten (at most 10^9). */
static bool parse_decimal_ratio(struct wire_str v, uint64_t *num, uint64_t *den)
{
    struct wire_str ip = v, fp = {NULL, 0};
    bool has_point = split_at(v, '.', &ip, &fp);
    uint64_t i;
    if (!wire_parse_u64(ip, 1000000000000ull, &i))
        return false;
    uint64_t f = 0, d = 1;
    if (has_point) {
        if (fp.len > 9)
            return false;
        if (fp.len > 0 && !wire_parse_u64(fp, UINT64_MAX, &f))
            return false;
        for (size_t k = 0; k < fp.len; k++)
            d *= 10;
    }
    *num = i * d + f; /* at most 10^12 * 10^9 + 10^9, well inside 64 bits */
    *den = d;
    return true;
}

bool sdp_parse_framerate(struct wire_str value, struct sdp_framerate *out)
{
    struct wire_str v = wire_str_trim(value), a, b;
    uint64_t num, den;
    if (split_at(v, '/', &a, &b)) {
        if (!wire_parse_u64(a, 1000000000000ull, &num) ||
            !wire_parse_u64(b, 1000000000000ull, &den) || den == 0)
            return false;
    } else if (!parse_decimal_ratio(v, &num, &den)) {
        return false;
    }
    out->num = num;
    out->den = den;
    out->fps = (double)num / (double)den;
    return true;
}

bool sdp_media_framerate(const struct sdp_session *s, const struct sdp_media *m,
                         struct sdp_framerate *out)
{
    const struct sdp_attr *a = m ? sdp_attr_next(s, m, "framerate", NULL) : NULL;
    if (!a)
        a = sdp_attr_next(s, NULL, "framerate", NULL);
    return a && a->value.ptr && sdp_parse_framerate(a->value, out);
}

/* npt-time: "now" | npt-sec | npt-hhmmss (RFC 2326 3.6). */
static bool parse_npt_time(struct wire_str v, double *seconds, bool *now)
{
    *now = false;
    if (wire_str_caseeq(v, "now")) {
        *now = true;
        *seconds = 0;
        return true;
    }
    struct wire_str hh, rest, mm, ss;
    uint64_t num, den;
    if (split_at(v, ':', &hh, &rest)) {
        uint64_t h, mi;
        if (!split_at(rest, ':', &mm, &ss) || mm.len != 2 || ss.len < 2 ||
            !wire_parse_u64(hh, 1000000000, &h) || !wire_parse_u64(mm, 59, &mi) ||
            !parse_decimal_ratio(ss, &num, &den) || ss.ptr[0] < '0' || ss.ptr[0] > '5' ||
            ss.ptr[1] < '0' || ss.ptr[1] > '9' || (ss.len > 2 && ss.ptr[2] != '.'))
            return false;
        *seconds = (double)h * 3600 + (double)mi * 60 + (double)num / (double)den;
        return true;
    }
    if (!parse_decimal_ratio(v, &num, &den))
        return false;
    *seconds = (double)num / (double)den;
    return true;
}

bool sdp_parse_npt_range(struct wire_str value, struct sdp_range *out)
{
    struct wire_str v = wire_str_trim(value), unit, spec, start, end;
    if (!split_at(v, '=', &unit, &spec) || !wire_str_caseeq(wire_str_trim(unit), "npt"))
        return false;
    if (!split_at(wire_str_trim(spec), '-', &start, &end))
        return false;
    struct sdp_range r = {0};
    bool now = false;
    start = wire_str_trim(start);
    end = wire_str_trim(end);
    if (start.len == 0 && end.len == 0)
        return false;
    if (start.len > 0 && !parse_npt_time(start, &r.start_s, &r.start_now))
        return false;
    if (end.len > 0) {
        if (!parse_npt_time(end, &r.end_s, &now) || now)
            return false;
        r.has_end = true;
    }
    *out = r;
    return true;
}

bool sdp_media_range(const struct sdp_session *s, const struct sdp_media *m, struct sdp_range *out)
{
    const struct sdp_attr *a = m ? sdp_attr_next(s, m, "range", NULL) : NULL;
    if (!a)
        a = sdp_attr_next(s, NULL, "range", NULL);
    return a && a->value.ptr && sdp_parse_npt_range(a->value, out);
}

static bool has_request_line_breaker(struct wire_str v)
{
    for (size_t i = 0; i < v.len; i++)
        if (v.ptr[i] == ' ' || v.ptr[i] == '\t' || v.ptr[i] == '\r' || v.ptr[i] == '\n' ||
            v.ptr[i] == '\0')
            return true;
    return false;
}

/* RFC 3986 scheme ":" at the start of v. */
static bool has_scheme(struct wire_str v)
{
    if (v.len == 0 || !((v.ptr[0] >= 'a' && v.ptr[0] <= 'z') || (v.ptr[0] >= 'A' && v.ptr[0] <= 'Z')))
        return false;
    for (size_t i = 1; i < v.len; i++) {
        char c = v.ptr[i];
        if (c == ':')
            return true;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.'))
            return false;
    }
    return false;
}

/* Copy up to three pieces into out, NUL-terminated. */
static int join_url(char *out, size_t cap, struct wire_str a, struct wire_str b, struct wire_str c,
                    struct wire_error *err)
{
    size_t total = a.len + b.len + c.len;
    if (total >= cap || total > INT32_MAX)
        return wire_fail(err, 0, "resolved control URL does not fit in the output buffer");
    size_t pos = 0;
    const struct wire_str parts[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        if (parts[i].len)
            memmove(out + pos, parts[i].ptr, parts[i].len);
        pos += parts[i].len;
    }
    out[pos] = '\0';
    return (int)pos;
}

int sdp_resolve_control(const char *base, struct wire_str control, char *out, size_t cap,
                        struct wire_error *err)
{
    struct wire_str none = {NULL, 0};
    control = wire_str_trim(control);
    if (control.len == 0 || !control.ptr)
        return wire_fail(err, 0, "control attribute is empty");
    if (has_request_line_breaker(control))
        return wire_fail(err, 0, "control attribute holds a space, CR, LF or NUL");
    if (has_scheme(control))
        return join_url(out, cap, control, none, none, err);
    if (!base || !base[0])
        return wire_fail(err, 0, "no base URL to resolve a relative control against");
    struct wire_str b = {base, strlen(base)};
    if (has_request_line_breaker(b))
        return wire_fail(err, 0, "base URL holds a space, CR, LF or NUL");
    if (wire_str_eq(control, "*"))
        return join_url(out, cap, b, none, none, err);
    if (control.ptr[0] == '/') {
        /* Keep scheme://authority of the base; without one there is nothing to keep. */
        const char *sep = strstr(base, "://");
        if (!sep)
            return join_url(out, cap, control, none, none, err);
        const char *auth = sep + 3;
        size_t n = strcspn(auth, "/?#");
        struct wire_str prefix = {base, (size_t)(auth + n - base)};
        return join_url(out, cap, prefix, control, none, err);
    }
    struct wire_str slash = {"/", b.ptr[b.len - 1] == '/' ? 0u : 1u};
    return join_url(out, cap, b, slash, control, err);
}

void sdp_builder_init(struct sdp_builder *b, char *buf, size_t cap)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    if (cap > 0)
        buf[0] = '\0';
}

static bool has_line_breaker(struct wire_str v)
{
    return v.len > 0 && (memchr(v.ptr, '\r', v.len) || memchr(v.ptr, '\n', v.len) ||
                         memchr(v.ptr, '\0', v.len));
}

/* Append "<type>=" + parts + CRLF, all or nothing. */
static int append_line(struct sdp_builder *b, char type, const struct wire_str *parts, int nparts,
                       struct wire_error *err)
{
    if (type < 'a' || type > 'z')
        return wire_fail(err, b->len, "SDP line type is not a lowercase letter");
    size_t total = 4; /* "x=" and CRLF */
    for (int i = 0; i < nparts; i++) {
        if (parts[i].len > 0 && !parts[i].ptr)
            return wire_fail(err, b->len, "SDP value length given without a value");
        if (has_line_breaker(parts[i]))
            return wire_fail(err, b->len, "SDP value holds CR, LF or NUL");
        if (parts[i].len > SIZE_MAX / 4)
            return wire_fail(err, b->len, "SDP value too long");
        total += parts[i].len;
    }
    if (b->len >= b->cap || total >= b->cap - b->len || total > INT32_MAX)
        return wire_fail(err, b->len, "SDP line does not fit in the output buffer");
    char *p = b->buf + b->len;
    *p++ = type;
    *p++ = '=';
    for (int i = 0; i < nparts; i++) {
        if (parts[i].len)
            memcpy(p, parts[i].ptr, parts[i].len);
        p += parts[i].len;
    }
    *p++ = '\r';
    *p++ = '\n';
    *p = '\0';
    b->len += total;
    return (int)total;
}

int sdp_add_line(struct sdp_builder *b, char type, struct wire_str value, struct wire_error *err)
{
    return append_line(b, type, &value, 1, err);
}

int sdp_add_linef(struct sdp_builder *b, struct wire_error *err, char type, const char *fmt, ...)
{
    if (type < 'a' || type > 'z')
        return wire_fail(err, b->len, "SDP line type is not a lowercase letter");
    if (b->len >= b->cap || b->cap - b->len < 5)
        return wire_fail(err, b->len, "SDP line does not fit in the output buffer");
    char *p = b->buf + b->len;
    size_t room = b->cap - b->len - 2; /* after "x=" */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p + 2, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 3 > room) {
        *p = '\0';
        return wire_fail(err, b->len, "SDP line does not fit in the output buffer");
    }
    struct wire_str v = {p + 2, (size_t)n};
    if (has_line_breaker(v)) {
        *p = '\0';
        return wire_fail(err, b->len, "SDP value holds CR, LF or NUL");
    }
    p[0] = type;
    p[1] = '=';
    memcpy(p + 2 + n, "\r\n", 3);
    b->len += (size_t)n + 4;
    return n + 4;
}

int sdp_add_attr(struct sdp_builder *b, struct wire_str name, struct wire_str value,
                 struct wire_error *err)
{
    if (name.len == 0 || !name.ptr)
        return wire_fail(err, b->len, "SDP attribute name is empty");
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        if (c == ':' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0')
            return wire_fail(err, b->len, "SDP attribute name holds ':', whitespace, CR, LF or NUL");
    }
    if (!value.ptr)
        return append_line(b, 'a', &name, 1, err);
    struct wire_str parts[3] = {name, {":", 1}, value};
    return append_line(b, 'a', parts, 3, err);
}
