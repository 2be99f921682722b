/* RTSP header value parsers and the Transport formatter (see rtsp_hdr.h). */
#include "rtsp_hdr.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static bool is_space(char c) { return c == ' ' || c == '\t'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

static bool is_ctl(char c)
{
    unsigned char u = (unsigned char)c;
    return (u < 0x20 && c != '\t') || u == 0x7f;
}

static bool is_tchar(char c)
{
    return is_digit(c) || is_alpha(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_token(struct wire_str s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!is_tchar(s.ptr[i]))
            return false;
    return true;
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* Offset of p inside the value v (for errors and deviations). */
static size_t off(struct wire_str v, const char *p) { return (size_t)(p - v.ptr); }

static int done(struct wire_str v, struct wire_error *err)
{
    if (v.len > (size_t)INT_MAX)
        return wire_fail(err, 0, "header value longer than INT_MAX");
    return (int)v.len;
}

static int reject_ctl(struct wire_str v, struct wire_error *err)
{
    for (size_t i = 0; i < v.len; i++)
        if (is_ctl(v.ptr[i]))
            return wire_fail(err, i, "control character in header value");
    return 0;
}

/* Next element of a list split on sep outside double quotes. *pos starts at
 * 0; returns 1 with *elem set, 0 when the list is exhausted, WIRE_ERROR on an
 * unterminated quoted string. An empty list yields one empty element. */
static int next_elem(struct wire_str v, size_t *pos, char sep, struct wire_str *elem,
                     struct wire_error *err)
{
    if (*pos > v.len)
        return 0;
    size_t i = *pos;
    bool quoted = false;
    size_t quote_at = 0;
    for (; i < v.len; i++) {
        char c = v.ptr[i];
        if (quoted) {
            if (c == '\\')
                i++;
            else if (c == '"')
                quoted = false;
        } else if (c == '"') {
            quoted = true;
            quote_at = i;
        } else if (c == sep) {
            break;
        }
    }
    if (quoted)
        return wire_fail(err, quote_at, "unterminated quoted string");
    if (i > v.len)
        i = v.len;
    elem->ptr = v.ptr + *pos;
    elem->len = i - *pos;
    *pos = i + 1;
    return 1;
}

/* name[=value] of one parameter. */
struct kv {
    struct wire_str name;  /* trimmed */
    struct wire_str value; /* trimmed; empty when no '=' */
    bool has_eq;           /* '=' present */
    bool spaced;           /* whitespace next to '=' */
    const char *eq;        /* the '=' */
};

static void split_kv(struct wire_str elem, struct kv *kv)
{
    memset(kv, 0, sizeof(*kv));
    elem = wire_str_trim(elem);
    const char *eq = elem.len ? memchr(elem.ptr, '=', elem.len) : NULL;
    if (!eq) {
        kv->name = elem;
        kv->value.ptr = elem.ptr + elem.len;
        return;
    }
    kv->has_eq = true;
    kv->eq = eq;
    struct wire_str n = {elem.ptr, (size_t)(eq - elem.ptr)};
    struct wire_str val = {eq + 1, (size_t)(elem.ptr + elem.len - eq - 1)};
    kv->spaced = (n.len && is_space(n.ptr[n.len - 1])) || (val.len && is_space(val.ptr[0]));
    kv->name = wire_str_trim(n);
    kv->value = wire_str_trim(val);
    if (kv->value.len == 0)
        kv->value.ptr = eq + 1;
}

/* Spaces around '=' are a strict error, a lenient deviation. */
static int check_spacing(struct wire_str v, const struct kv *kv, enum rtsp_mode mode,
                         struct rtsp_deviations *dev, struct wire_error *err)
{
    if (!kv->spaced)
        return 0;
    if (mode == RTSP_STRICT)
        return wire_fail(err, off(v, kv->eq), "whitespace around '=' in parameter");
    rtsp_deviations_add(dev, RTSP_DEV_SPACE_AROUND_EQUALS, off(v, kv->eq));
    return 0;
}

/* Decimal number in s, at most max. */
static int parse_num(struct wire_str v, struct wire_str s, uint64_t max, uint64_t *out,
                     const char *what, struct wire_error *err)
{
    if (s.len == 0)
        return wire_fail(err, off(v, s.ptr), what);
    uint64_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (!is_digit(s.ptr[i]))
            return wire_fail(err, off(v, s.ptr + i), what);
        uint64_t d = (uint64_t)(s.ptr[i] - '0');
        if (n > (max - d) / 10)
            return wire_fail(err, off(v, s.ptr), what);
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

/* --- CSeq --- */

int rtsp_parse_cseq(struct wire_str v, enum rtsp_mode mode, uint32_t *cseq,
                    struct rtsp_deviations *dev, struct wire_error *err)
{
    struct wire_str t = wire_str_trim(v);
    if (t.len != v.len) {
        if (mode == RTSP_STRICT)
            return wire_fail(err, 0, "whitespace around CSeq value");
        rtsp_deviations_add(dev, RTSP_DEV_VALUE_WHITESPACE, 0);
    }
    uint64_t n;
    if (t.len == 0)
        return wire_fail(err, 0, "CSeq is empty");
    if (parse_num(v, t, UINT32_MAX, &n, "CSeq is not a number below 2^32", err) < 0)
        return WIRE_ERROR;
    *cseq = (uint32_t)n;
    return done(v, err);
}

/* --- Session --- */

static bool is_session_char(char c)
{
    return is_digit(c) || is_alpha(c) || c == '$' || c == '-' || c == '_' || c == '.' ||
           c == '+';
}

int rtsp_parse_session(struct wire_str v, enum rtsp_mode mode, struct rtsp_session *s,
                       struct rtsp_deviations *dev, struct wire_error *err)
{
    memset(s, 0, sizeof(*s));
    if (reject_ctl(v, err) < 0)
        return WIRE_ERROR;
    size_t pos = 0;
    struct wire_str elem;
    if (next_elem(v, &pos, ';', &elem, err) != 1)
        return WIRE_ERROR;
    struct wire_str id = wire_str_trim(elem);
    if (id.len == 0)
        return wire_fail(err, off(v, elem.ptr), "Session id is empty");
    for (size_t i = 0; i < id.len; i++) {
        if (is_session_char(id.ptr[i]))
            continue;
        if (mode == RTSP_STRICT)
            return wire_fail(err, off(v, id.ptr + i), "invalid character in Session id");
        rtsp_deviations_add(dev, RTSP_DEV_SESSION_ID_CHARSET, off(v, id.ptr + i));
        break;
    }
    s->id = id;
    int r;
    while ((r = next_elem(v, &pos, ';', &elem, err)) == 1) {
        struct kv kv;
        split_kv(elem, &kv);
        if (kv.name.len == 0 && !kv.has_eq)
            continue;
        if (!wire_str_caseeq(kv.name, "timeout")) {
            s->unknown_params++;
            continue;
        }
        if (check_spacing(v, &kv, mode, dev, err) < 0)
            return WIRE_ERROR;
        if (s->has_timeout) {
            if (mode == RTSP_STRICT)
                return wire_fail(err, off(v, kv.name.ptr), "timeout given twice");
            rtsp_deviations_add(dev, RTSP_DEV_DUPLICATE_PARAMETER, off(v, kv.name.ptr));
        }
        uint64_t n;
        if (parse_num(v, kv.value, UINT32_MAX, &n, "Session timeout is not a number", err) < 0)
            return WIRE_ERROR;
        s->has_timeout = true;
        s->timeout_s = (uint32_t)n;
    }
    if (r < 0)
        return WIRE_ERROR;
    return done(v, err);
}

/* --- Transport --- */

/* "a" or "a-b", each at most max. */
static int parse_pair(struct wire_str v, struct wire_str s, uint16_t max, struct rtsp_pair *p,
                      const char *what, struct wire_error *err)
{
    const char *dash = s.len ? memchr(s.ptr, '-', s.len) : NULL;
    uint64_t a, b;
    struct wire_str first = {s.ptr, dash ? (size_t)(dash - s.ptr) : s.len};
    if (parse_num(v, first, max, &a, what, err) < 0)
        return WIRE_ERROR;
    p->first = (uint16_t)a;
    p->second = 0;
    p->count = 1;
    if (dash) {
        struct wire_str second = {dash + 1, (size_t)(s.ptr + s.len - dash - 1)};
        if (parse_num(v, second, max, &b, what, err) < 0)
            return WIRE_ERROR;
        p->second = (uint16_t)b;
        p->count = 2;
    }
    return 0;
}

enum transport_param {
    TP_CAST, TP_DESTINATION, TP_SOURCE, TP_INTERLEAVED, TP_APPEND, TP_TTL, TP_LAYERS,
    TP_PORT, TP_CLIENT_PORT, TP_SERVER_PORT, TP_SSRC, TP_MODE, TP_COUNT,
};

static const char *const transport_param_names[TP_COUNT] = {
    [TP_CAST] = "unicast", [TP_DESTINATION] = "destination", [TP_SOURCE] = "source",
    [TP_INTERLEAVED] = "interleaved", [TP_APPEND] = "append", [TP_TTL] = "ttl",
    [TP_LAYERS] = "layers", [TP_PORT] = "port", [TP_CLIENT_PORT] = "client_port",
    [TP_SERVER_PORT] = "server_port", [TP_SSRC] = "ssrc", [TP_MODE] = "mode",
};

static int parse_mode(struct wire_str v, struct wire_str val, uint32_t *methods,
                      struct wire_error *err)
{
    if (val.len >= 2 && val.ptr[0] == '"' && val.ptr[val.len - 1] == '"') {
        val.ptr++;
        val.len -= 2;
    } else if (val.len && (val.ptr[0] == '"' || val.ptr[val.len - 1] == '"')) {
        return wire_fail(err, off(v, val.ptr), "mode has an unbalanced quote");
    }
    size_t pos = 0;
    struct wire_str m;
    *methods = 0;
    while (next_elem(val, &pos, ',', &m, NULL) == 1) {
        m = wire_str_trim(m);
        if (wire_str_caseeq(m, "PLAY"))
            *methods |= RTSP_METHOD_BIT(RTSP_METHOD_PLAY);
        else if (wire_str_caseeq(m, "RECORD"))
            *methods |= RTSP_METHOD_BIT(RTSP_METHOD_RECORD);
        else
            return wire_fail(err, off(v, m.ptr), "mode is not PLAY or RECORD");
    }
    return 0;
}

static int parse_spec(struct wire_str v, struct wire_str spec, enum rtsp_mode mode,
                      struct rtsp_transport *t, struct rtsp_deviations *dev,
                      struct wire_error *err)
{
    struct wire_str part[3];
    size_t n = 0, pos = 0;
    struct wire_str e;
    while (next_elem(spec, &pos, '/', &e, NULL) == 1) {
        if (n == 3)
            return wire_fail(err, off(v, e.ptr), "transport spec has more than three parts");
        if (!is_token(e))
            return wire_fail(err, off(v, e.ptr), "transport spec part is not a token");
        part[n++] = e;
    }
    if (n < 2)
        return wire_fail(err, off(v, spec.ptr), "transport spec is not protocol/profile");
    t->protocol = part[0];
    t->profile = part[1];
    t->lower.ptr = spec.ptr + spec.len;
    t->lower.len = 0;
    if (n == 2 && (wire_str_caseeq(part[1], "UDP") || wire_str_caseeq(part[1], "TCP"))) {
        if (mode == RTSP_STRICT)
            return wire_fail(err, off(v, part[1].ptr),
                             "transport spec lacks the profile (RTP/AVP)");
        rtsp_deviations_add(dev, RTSP_DEV_TRANSPORT_RTP_UDP, off(v, part[1].ptr));
        t->lower = part[1];
        t->profile.len = 0;
    } else if (n == 3) {
        if (!wire_str_caseeq(part[2], "UDP") && !wire_str_caseeq(part[2], "TCP"))
            return wire_fail(err, off(v, part[2].ptr), "lower transport is not UDP or TCP");
        t->lower = part[2];
    }
    t->lower_kind = wire_str_caseeq(t->lower, "TCP") ? RTSP_LOWER_TCP : RTSP_LOWER_UDP;
    return 0;
}

static int parse_transport_param(struct wire_str v, const struct kv *kv, enum rtsp_mode mode,
                                 struct rtsp_transport *t, unsigned *seen,
                                 struct rtsp_deviations *dev, struct wire_error *err)
{
    int which = -1;
    bool multicast = false;
    if (wire_str_caseeq(kv->name, "multicast")) {
        which = TP_CAST;
        multicast = true;
    } else {
        for (int i = 0; i < TP_COUNT; i++)
            if (wire_str_caseeq(kv->name, transport_param_names[i]))
                which = i;
    }
    if (which < 0) {
        if (!is_token(kv->name))
            return wire_fail(err, off(v, kv->name.ptr), "transport parameter is not a token");
        t->unknown_params++;
        return 0;
    }
    if (check_spacing(v, kv, mode, dev, err) < 0)
        return WIRE_ERROR;
    if (*seen & (1u << which)) {
        if (mode == RTSP_STRICT)
            return wire_fail(err, off(v, kv->name.ptr), "transport parameter given twice");
        rtsp_deviations_add(dev, RTSP_DEV_DUPLICATE_PARAMETER, off(v, kv->name.ptr));
    }
    *seen |= 1u << which;
    bool no_value = which == TP_CAST || which == TP_APPEND;
    if (no_value && kv->has_eq)
        return wire_fail(err, off(v, kv->eq), "transport parameter takes no value");
    if (!no_value && which != TP_DESTINATION && (!kv->has_eq || kv->value.len == 0))
        return wire_fail(err, off(v, kv->name.ptr), "transport parameter needs a value");
    uint64_t n;
    switch (which) {
    case TP_CAST:
        t->has_cast = true;
        t->multicast = multicast;
        return 0;
    case TP_DESTINATION:
        t->has_destination = true;
        t->destination = kv->value;
        return 0;
    case TP_SOURCE:
        t->source = kv->value;
        return 0;
    case TP_INTERLEAVED:
        return parse_pair(v, kv->value, 255, &t->interleaved,
                          "interleaved channel is not a number 0-255", err);
    case TP_APPEND:
        t->append = true;
        return 0;
    case TP_TTL:
        if (parse_num(v, kv->value, 255, &n, "ttl is not a number 0-255", err) < 0)
            return WIRE_ERROR;
        t->has_ttl = true;
        t->ttl = (uint8_t)n;
        return 0;
    case TP_LAYERS:
        if (parse_num(v, kv->value, UINT32_MAX, &n, "layers is not a number", err) < 0)
            return WIRE_ERROR;
        t->has_layers = true;
        t->layers = (uint32_t)n;
        return 0;
    case TP_PORT:
        return parse_pair(v, kv->value, 65535, &t->port, "port is not a number 0-65535", err);
    case TP_CLIENT_PORT:
        return parse_pair(v, kv->value, 65535, &t->client_port,
                          "client_port is not a number 0-65535", err);
    case TP_SERVER_PORT:
        return parse_pair(v, kv->value, 65535, &t->server_port,
                          "server_port is not a number 0-65535", err);
    case TP_SSRC: {
        if (kv->value.len > 8)
            return wire_fail(err, off(v, kv->value.ptr), "ssrc has more than 8 hex digits");
        uint32_t ssrc = 0;
        for (size_t i = 0; i < kv->value.len; i++) {
            int h = hexval(kv->value.ptr[i]);
            if (h < 0)
                return wire_fail(err, off(v, kv->value.ptr + i), "ssrc is not hexadecimal");
            ssrc = (ssrc << 4) | (uint32_t)h;
        }
        if (kv->value.len < 8) {
            if (mode == RTSP_STRICT)
                return wire_fail(err, off(v, kv->value.ptr), "ssrc is not 8 hex digits");
            rtsp_deviations_add(dev, RTSP_DEV_SHORT_SSRC, off(v, kv->value.ptr));
        }
        t->has_ssrc = true;
        t->ssrc = ssrc;
        return 0;
    }
    default: /* TP_MODE */
        return parse_mode(v, kv->value, &t->mode_methods, err);
    }
}

static int parse_alternative(struct wire_str v, struct wire_str alt, enum rtsp_mode mode,
                             struct rtsp_transport *t, struct rtsp_deviations *dev,
                             struct wire_error *err)
{
    memset(t, 0, sizeof(*t));
    alt = wire_str_trim(alt);
    if (alt.len == 0)
        return wire_fail(err, off(v, alt.ptr), "empty transport alternative");
    t->spec = alt;
    size_t pos = 0;
    struct wire_str elem;
    if (next_elem(alt, &pos, ';', &elem, err) != 1)
        return WIRE_ERROR;
    if (parse_spec(v, wire_str_trim(elem), mode, t, dev, err) < 0)
        return WIRE_ERROR;
    unsigned seen = 0;
    int r;
    while ((r = next_elem(alt, &pos, ';', &elem, err)) == 1) {
        struct kv kv;
        split_kv(elem, &kv);
        if (kv.name.len == 0) {
            if (kv.has_eq)
                return wire_fail(err, off(v, kv.eq), "transport parameter without a name");
            continue; /* ";;" or a trailing ';' */
        }
        if (parse_transport_param(v, &kv, mode, t, &seen, dev, err) < 0)
            return WIRE_ERROR;
    }
    return r < 0 ? WIRE_ERROR : 0;
}

int rtsp_parse_transport(struct wire_str v, enum rtsp_mode mode, struct rtsp_transport *out,
                         size_t max, size_t *count, struct rtsp_deviations *dev,
                         struct wire_error *err)
{
    *count = 0;
    if (reject_ctl(v, err) < 0)
        return WIRE_ERROR;
    size_t pos = 0;
    struct wire_str alt;
    int r;
    while ((r = next_elem(v, &pos, ',', &alt, err)) == 1) {
        if (*count >= max)
            return wire_fail(err, off(v, alt.ptr),
                             "more Transport alternatives than the caller's array holds");
        if (parse_alternative(v, alt, mode, &out[*count], dev, err) < 0)
            return WIRE_ERROR;
        (*count)++;
    }
    if (r < 0)
        return WIRE_ERROR;
    return done(v, err);
}

/* Appends to a bounded buffer; the first overflow sticks. */
struct out {
    char *buf;   /* destination */
    size_t cap;  /* its size */
    size_t len;  /* bytes written */
    bool full;   /* something did not fit */
};

static void out_put(struct out *o, const char *s, size_t n)
{
    if (o->full || o->cap - o->len < n) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void out_str(struct out *o, struct wire_str s) { out_put(o, s.ptr, s.len); }
static void out_cstr(struct out *o, const char *s) { out_put(o, s, strlen(s)); }

static void out_pair(struct out *o, const char *name, const struct rtsp_pair *p)
{
    char tmp[40];
    if (p->count == 0)
        return;
    if (p->count == 1)
        snprintf(tmp, sizeof(tmp), ";%s=%u", name, (unsigned)p->first);
    else
        snprintf(tmp, sizeof(tmp), ";%s=%u-%u", name, (unsigned)p->first, (unsigned)p->second);
    out_cstr(o, tmp);
}

int rtsp_format_transport(const struct rtsp_transport *t, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0, false};
    char tmp[40];
    if (t->protocol.len) {
        out_str(&o, t->protocol);
        if (t->profile.len) {
            out_cstr(&o, "/");
            out_str(&o, t->profile);
        }
    } else {
        out_cstr(&o, "RTP/AVP");
    }
    if (t->lower.len) {
        out_cstr(&o, "/");
        out_str(&o, t->lower);
    } else if (t->lower_kind == RTSP_LOWER_TCP) {
        out_cstr(&o, "/TCP");
    }
    if (t->has_cast)
        out_cstr(&o, t->multicast ? ";multicast" : ";unicast");
    if (t->has_destination) {
        out_cstr(&o, ";destination");
        if (t->destination.len) {
            out_cstr(&o, "=");
            out_str(&o, t->destination);
        }
    }
    if (t->source.len) {
        out_cstr(&o, ";source=");
        out_str(&o, t->source);
    }
    out_pair(&o, "interleaved", &t->interleaved);
    if (t->append)
        out_cstr(&o, ";append");
    if (t->has_ttl) {
        snprintf(tmp, sizeof(tmp), ";ttl=%u", (unsigned)t->ttl);
        out_cstr(&o, tmp);
    }
    if (t->has_layers) {
        snprintf(tmp, sizeof(tmp), ";layers=%u", (unsigned)t->layers);
        out_cstr(&o, tmp);
    }
    out_pair(&o, "port", &t->port);
    out_pair(&o, "client_port", &t->client_port);
    out_pair(&o, "server_port", &t->server_port);
    if (t->has_ssrc) {
        snprintf(tmp, sizeof(tmp), ";ssrc=%08X", (unsigned)t->ssrc);
        out_cstr(&o, tmp);
    }
    bool play = t->mode_methods & RTSP_METHOD_BIT(RTSP_METHOD_PLAY);
    bool record = t->mode_methods & RTSP_METHOD_BIT(RTSP_METHOD_RECORD);
    if (play && record)
        out_cstr(&o, ";mode=\"PLAY,RECORD\"");
    else if (play)
        out_cstr(&o, ";mode=\"PLAY\"");
    else if (record)
        out_cstr(&o, ";mode=\"RECORD\"");
    if (o.full || o.len > (size_t)INT_MAX)
        return WIRE_ERROR;
    return (int)o.len;
}

/* --- Range --- */

/* npt-time at s (whole slice). */
static int parse_npt_time(struct wire_str v, struct wire_str s, struct rtsp_npt *t,
                          struct wire_error *err)
{
    const char *bad = "npt time is not now, seconds or h:mm:ss";
    t->present = true;
    if (wire_str_caseeq(s, "now")) {
        t->now = true;
        return 0;
    }
    size_t i = 0;
    uint64_t parts[3] = {0, 0, 0};
    size_t nparts = 0;
    for (;;) {
        size_t start = i;
        uint64_t n = 0;
        while (i < s.len && is_digit(s.ptr[i])) {
            /* 10^12 s (31,000 years) keeps every later product in 64 bits */
            if (n > 100000000000ULL)
                return wire_fail(err, off(v, s.ptr + start), "npt time too large");
            n = n * 10 + (uint64_t)(s.ptr[i] - '0');
            i++;
        }
        if (i == start)
            return wire_fail(err, off(v, s.ptr + i), bad);
        if (nparts > 0 && (i - start > 2 || n > 59))
            return wire_fail(err, off(v, s.ptr + start), "npt minutes or seconds above 59");
        parts[nparts++] = n;
        if (i < s.len && s.ptr[i] == ':' && nparts < 3) {
            i++;
            continue;
        }
        break;
    }
    if (nparts == 2)
        return wire_fail(err, off(v, s.ptr + i), bad);
    uint64_t secs = nparts == 3 ? parts[0] * 3600 + parts[1] * 60 + parts[2] : parts[0];
    if (secs > 1000000000000ULL)
        return wire_fail(err, off(v, s.ptr), "npt time too large");
    uint64_t us = 0, scale = 100000;
    if (i < s.len && s.ptr[i] == '.') {
        i++;
        while (i < s.len && is_digit(s.ptr[i])) {
            us += (uint64_t)(s.ptr[i] - '0') * scale;
            scale /= 10;
            i++;
        }
    }
    if (i != s.len)
        return wire_fail(err, off(v, s.ptr + i), bad);
    t->us = secs * 1000000 + us;
    return 0;
}

int rtsp_parse_range(struct wire_str v, enum rtsp_mode mode, struct rtsp_range *r,
                     struct rtsp_deviations *dev, struct wire_error *err)
{
    memset(r, 0, sizeof(*r));
    if (reject_ctl(v, err) < 0)
        return WIRE_ERROR;
    size_t pos = 0;
    struct wire_str elem;
    if (next_elem(v, &pos, ';', &elem, err) != 1)
        return WIRE_ERROR;
    struct kv kv;
    split_kv(elem, &kv);
    if (!kv.has_eq)
        return wire_fail(err, 0, "Range has no unit=");
    if (check_spacing(v, &kv, mode, dev, err) < 0)
        return WIRE_ERROR;
    r->raw = kv.value;
    r->time.ptr = v.ptr + v.len;
    if (wire_str_caseeq(kv.name, "npt")) {
        r->kind = RTSP_RANGE_NPT;
        struct wire_str s = kv.value;
        const char *dash = s.len ? memchr(s.ptr, '-', s.len) : NULL;
        if (!dash)
            return wire_fail(err, off(v, s.ptr), "npt range has no '-'");
        struct wire_str a = {s.ptr, (size_t)(dash - s.ptr)};
        struct wire_str b = {dash + 1, (size_t)(s.ptr + s.len - dash - 1)};
        if (a.len == 0 && b.len == 0)
            return wire_fail(err, off(v, dash), "npt range has neither start nor end");
        if (a.len && parse_npt_time(v, a, &r->start, err) < 0)
            return WIRE_ERROR;
        if (b.len && parse_npt_time(v, b, &r->end, err) < 0)
            return WIRE_ERROR;
        if (r->start.present && r->end.present && !r->start.now && !r->end.now &&
            r->end.us < r->start.us)
            return wire_fail(err, off(v, b.ptr), "npt range ends before it starts");
    } else if (wire_str_caseeq(kv.name, "clock")) {
        r->kind = RTSP_RANGE_CLOCK;
    } else if (kv.name.len >= 5 && wire_str_caseeq((struct wire_str){kv.name.ptr, 5}, "smpte")) {
        r->kind = RTSP_RANGE_SMPTE;
    } else {
        return wire_fail(err, 0, "Range unit is not npt, smpte or clock");
    }
    if (r->kind != RTSP_RANGE_NPT && !memchr(kv.value.ptr, '-', kv.value.len))
        return wire_fail(err, off(v, kv.value.ptr), "Range has no '-'");
    int rc;
    while ((rc = next_elem(v, &pos, ';', &elem, err)) == 1) {
        split_kv(elem, &kv);
        if (!wire_str_caseeq(kv.name, "time") || !kv.has_eq)
            return wire_fail(err, off(v, elem.ptr), "unknown Range parameter");
        if (check_spacing(v, &kv, mode, dev, err) < 0)
            return WIRE_ERROR;
        r->time = kv.value;
    }
    if (rc < 0)
        return WIRE_ERROR;
    return done(v, err);
}

/* --- Public / Allow --- */

int rtsp_parse_methods(struct wire_str v, uint32_t *mask, size_t *unknown,
                       struct wire_error *err)
{
    *mask = 0;
    *unknown = 0;
    size_t pos = 0;
    struct wire_str e;
    while (next_elem(v, &pos, ',', &e, NULL) == 1) {
        struct wire_str t = wire_str_trim(e);
        if (t.len == 0)
            continue;
        if (!is_token(t))
            return wire_fail(err, off(v, t.ptr), "method list entry is not a token");
        enum rtsp_method m = rtsp_method_from_str(t);
        if (m == RTSP_METHOD_UNKNOWN)
            (*unknown)++;
        else
            *mask |= RTSP_METHOD_BIT(m);
    }
    return done(v, err);
}

/* --- Authentication --- */

static void skip_ws(struct wire_str v, size_t *i)
{
    while (*i < v.len && is_space(v.ptr[*i]))
        (*i)++;
}

static size_t scan_token(struct wire_str v, size_t i)
{
    while (i < v.len && is_tchar(v.ptr[i]))
        i++;
    return i;
}

/* A token or quoted-string value at *i; slice without quotes. */
static int scan_value(struct wire_str v, size_t *i, struct wire_str *out, struct wire_error *err)
{
    size_t s = *i;
    if (s < v.len && v.ptr[s] == '"') {
        size_t j = s + 1;
        while (j < v.len && v.ptr[j] != '"') {
            if (is_ctl(v.ptr[j]))
                return wire_fail(err, j, "control character in quoted string");
            j += v.ptr[j] == '\\' ? 2 : 1;
        }
        if (j >= v.len)
            return wire_fail(err, s, "unterminated quoted string");
        out->ptr = v.ptr + s + 1;
        out->len = j - s - 1;
        *i = j + 1;
        return 0;
    }
    size_t e = scan_token(v, s);
    /* token68 padding ("abc==") is accepted as part of a token value */
    while (e < v.len && v.ptr[e] == '=')
        e++;
    if (e == s)
        return wire_fail(err, s, "auth-param value is neither token nor quoted string");
    out->ptr = v.ptr + s;
    out->len = e - s;
    *i = e;
    return 0;
}

/* Auth-param field of the challenge or credentials, by name. */
struct auth_field {
    const char *name;      /* parameter name, case-insensitive */
    struct wire_str *slot; /* where its value goes */
};

static enum rtsp_auth_scheme scheme_of(struct wire_str name)
{
    if (wire_str_caseeq(name, "Basic"))
        return RTSP_AUTH_BASIC;
    if (wire_str_caseeq(name, "Digest"))
        return RTSP_AUTH_DIGEST;
    return RTSP_AUTH_OTHER;
}

/* Parse "name=value" pairs separated by commas from *i. With stop_at_scheme,
 * a token not followed by '=' after a comma ends the list (a new
 * challenge); *i is left at that token. stale (may be NULL) gets stale=. */
static int parse_auth_params(struct wire_str v, size_t *i, const struct auth_field *fields,
                             size_t nfields, bool *stale, size_t *unknown, bool stop_at_scheme,
                             struct wire_error *err)
{
    unsigned seen = 0;
    bool first = true;
    for (;;) {
        skip_ws(v, i);
        if (*i >= v.len)
            return 0;
        if (!first) {
            if (v.ptr[*i] != ',')
                return wire_fail(err, *i, "expected ',' between auth-params");
            (*i)++;
            skip_ws(v, i);
            if (*i >= v.len)
                return 0;
            if (v.ptr[*i] == ',')
                continue;
        }
        first = false;
        size_t ns = *i, ne = scan_token(v, ns);
        if (ne == ns)
            return wire_fail(err, ns, "auth-param name is not a token");
        size_t j = ne;
        skip_ws(v, &j);
        if (j >= v.len || v.ptr[j] != '=') {
            if (stop_at_scheme)
                return 0;
            return wire_fail(err, ns, "auth-param has no '='");
        }
        j++;
        skip_ws(v, &j);
        struct wire_str name = {v.ptr + ns, ne - ns}, value;
        if (scan_value(v, &j, &value, err) < 0)
            return WIRE_ERROR;
        *i = j;
        bool known = false;
        for (size_t f = 0; f < nfields; f++) {
            if (!wire_str_caseeq(name, fields[f].name))
                continue;
            if (seen & (1u << f))
                return wire_fail(err, ns, "auth-param given twice");
            seen |= 1u << f;
            *fields[f].slot = value;
            known = true;
        }
        if (!known && stale && wire_str_caseeq(name, "stale")) {
            *stale = wire_str_caseeq(value, "true");
            known = true;
        }
        if (!known)
            (*unknown)++;
    }
}

int rtsp_parse_www_authenticate(struct wire_str v, struct rtsp_challenge *c,
                                struct wire_error *err)
{
    memset(c, 0, sizeof(*c));
    if (reject_ctl(v, err) < 0)
        return WIRE_ERROR;
    size_t i = 0;
    skip_ws(v, &i);
    size_t s = i;
    i = scan_token(v, i);
    if (i == s)
        return wire_fail(err, s, "WWW-Authenticate has no scheme");
    c->scheme_name = (struct wire_str){v.ptr + s, i - s};
    c->scheme = scheme_of(c->scheme_name);
    if (i < v.len && !is_space(v.ptr[i]) && v.ptr[i] != ',')
        return wire_fail(err, i, "auth scheme is not a token");
    const struct auth_field fields[] = {
        {"realm", &c->realm},         {"nonce", &c->nonce}, {"opaque", &c->opaque},
        {"algorithm", &c->algorithm}, {"qop", &c->qop},     {"domain", &c->domain},
    };
    skip_ws(v, &i);
    if (i < v.len && v.ptr[i] == ',') {
        /* a scheme without parameters, then another challenge */
        i++;
        skip_ws(v, &i);
        return done((struct wire_str){v.ptr, i}, err);
    }
    if (parse_auth_params(v, &i, fields, sizeof(fields) / sizeof(fields[0]), &c->stale,
                          &c->unknown_params, true, err) < 0)
        return WIRE_ERROR;
    return done((struct wire_str){v.ptr, i}, err);
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (is_digit(c))
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int rtsp_base64_decode(struct wire_str in, uint8_t *out, size_t cap, struct wire_error *err)
{
    size_t n = in.len;
    while (n > 0 && in.ptr[n - 1] == '=' && in.len - n < 2)
        n--;
    if (n % 4 == 1 || (in.len != n && in.len % 4 != 0))
        return wire_fail(err, n, "base64 length is not valid");
    size_t olen = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int d = b64val(in.ptr[i]);
        if (d < 0)
            return wire_fail(err, i, "invalid base64 character");
        acc = (acc << 6) | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (olen >= cap)
                return wire_fail(err, i, "decoded base64 does not fit the buffer");
            out[olen++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return wire_fail(err, n ? n - 1 : 0, "base64 has non-zero padding bits");
    if (olen > (size_t)INT_MAX)
        return wire_fail(err, 0, "decoded base64 too long");
    return (int)olen;
}

int rtsp_parse_authorization(struct wire_str v, struct rtsp_authorization *a, char *scratch,
                             size_t scratch_cap, struct wire_error *err)
{
    memset(a, 0, sizeof(*a));
    if (reject_ctl(v, err) < 0)
        return WIRE_ERROR;
    size_t i = 0;
    skip_ws(v, &i);
    size_t s = i;
    i = scan_token(v, i);
    if (i == s)
        return wire_fail(err, s, "Authorization has no scheme");
    a->scheme_name = (struct wire_str){v.ptr + s, i - s};
    a->scheme = scheme_of(a->scheme_name);
    if (i < v.len && !is_space(v.ptr[i]))
        return wire_fail(err, i, "auth scheme is not a token");
    skip_ws(v, &i);
    if (a->scheme == RTSP_AUTH_BASIC) {
        struct wire_str cred = wire_str_trim((struct wire_str){v.ptr + i, v.len - i});
        if (cred.len == 0)
            return wire_fail(err, i, "Basic credentials are empty");
        struct wire_error e2;
        int n = rtsp_base64_decode(cred, (uint8_t *)scratch, scratch_cap, &e2);
        if (n < 0)
            return wire_fail(err, i + e2.offset, e2.reason);
        const char *colon = memchr(scratch, ':', (size_t)n);
        if (!colon)
            return wire_fail(err, i, "Basic credentials have no ':'");
        a->username = (struct wire_str){scratch, (size_t)(colon - scratch)};
        a->password = (struct wire_str){colon + 1, (size_t)(scratch + n - colon - 1)};
        return done(v, err);
    }
    const struct auth_field fields[] = {
        {"username", &a->username}, {"realm", &a->realm},         {"nonce", &a->nonce},
        {"uri", &a->uri},           {"response", &a->response},   {"algorithm", &a->algorithm},
        {"cnonce", &a->cnonce},     {"qop", &a->qop},             {"nc", &a->nc},
        {"opaque", &a->opaque},
    };
    if (parse_auth_params(v, &i, fields, sizeof(fields) / sizeof(fields[0]), NULL,
                          &a->unknown_params, false, err) < 0)
        return WIRE_ERROR;
    if (a->scheme == RTSP_AUTH_DIGEST &&
        (!a->username.ptr || !a->nonce.ptr || !a->uri.ptr || !a->response.ptr || !a->realm.ptr))
        return wire_fail(err, s, "Digest credentials lack username, realm, nonce, uri or response");
    return done(v, err);
}

int rtsp_unquote(struct wire_str raw, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < raw.len; i++) {
        char c = raw.ptr[i];
        if (c == '\\') {
            if (++i == raw.len)
                return WIRE_ERROR;
            c = raw.ptr[i];
        }
        if (n >= cap)
            return WIRE_ERROR;
        out[n++] = c;
    }
    if (n > (size_t)INT_MAX)
        return WIRE_ERROR;
    return (int)n;
}
