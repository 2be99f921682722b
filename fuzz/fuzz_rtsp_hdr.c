/* libFuzzer target for the RTSP header value parsers (harness/wire/rtsp_hdr.h):
 * every parser sees the whole input in both modes; a strictly parsed
 * Transport is formatted back and parsed again, which must agree. */
#include "rtsp_hdr.h"

#include <stdlib.h>
#include <string.h>

static void must(bool cond)
{
    if (!cond)
        abort();
}

static bool within(struct wire_str s, struct wire_str v)
{
    return s.len == 0 || (s.ptr >= v.ptr && s.ptr + s.len <= v.ptr + v.len);
}

static bool plain(struct wire_str s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] == '"' || s.ptr[i] == ',' || s.ptr[i] == ';')
            return false;
    return true;
}

static void same_pair(const struct rtsp_pair *a, const struct rtsp_pair *b)
{
    must(a->count == b->count && a->first == b->first);
    must(a->count < 2 || a->second == b->second);
}

static void transport(struct wire_str v, enum rtsp_mode mode)
{
    struct rtsp_transport t[8], back;
    struct rtsp_deviations dev;
    struct wire_error err;
    size_t n = 0;
    memset(&dev, 0, sizeof(dev));
    int r = rtsp_parse_transport(v, mode, t, 8, &n, &dev, &err);
    if (r < 0) {
        must(err.offset <= v.len);
        return;
    }
    must((size_t)r == v.len && n >= 1 && n <= 8);
    if (mode == RTSP_STRICT)
        must(dev.count == 0);
    for (size_t i = 0; i < n; i++) {
        must(within(t[i].spec, v) && within(t[i].destination, v) && within(t[i].source, v));
        char out[1024];
        int len = rtsp_format_transport(&t[i], out, sizeof(out));
        if (len < 0 || mode != RTSP_STRICT || !plain(t[i].destination) || !plain(t[i].source))
            continue;
        size_t m = 0;
        struct wire_str s = {out, (size_t)len};
        must(rtsp_parse_transport(s, RTSP_STRICT, &back, 1, &m, NULL, &err) == len && m == 1);
        must(back.lower_kind == t[i].lower_kind && back.multicast == t[i].multicast);
        same_pair(&back.interleaved, &t[i].interleaved);
        same_pair(&back.port, &t[i].port);
        same_pair(&back.client_port, &t[i].client_port);
        same_pair(&back.server_port, &t[i].server_port);
        must(back.has_ssrc == t[i].has_ssrc && back.ssrc == t[i].ssrc);
        must(back.has_ttl == t[i].has_ttl && back.ttl == t[i].ttl);
        must(back.mode_methods == t[i].mode_methods && back.append == t[i].append);
        must(back.destination.len == t[i].destination.len);
    }
}

static void unquote_all(const struct wire_str *fields, size_t n)
{
    char out[64];
    for (size_t i = 0; i < n; i++) {
        int r = rtsp_unquote(fields[i], out, sizeof(out));
        must(r == WIRE_ERROR || ((size_t)r <= fields[i].len && (size_t)r <= sizeof(out)));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wire_str v = {(const char *)data, size};
    struct wire_error err;
    for (int mi = 0; mi < 2; mi++) {
        enum rtsp_mode mode = mi ? RTSP_LENIENT : RTSP_STRICT;
        struct rtsp_deviations dev;
        memset(&dev, 0, sizeof(dev));
        uint32_t cseq;
        int r = rtsp_parse_cseq(v, mode, &cseq, &dev, &err);
        must(r == WIRE_ERROR || (size_t)r == size);

        struct rtsp_session s;
        r = rtsp_parse_session(v, mode, &s, &dev, &err);
        must(r == WIRE_ERROR || ((size_t)r == size && s.id.len > 0 && within(s.id, v)));

        transport(v, mode);

        struct rtsp_range rg;
        r = rtsp_parse_range(v, mode, &rg, &dev, &err);
        if (r >= 0 && rg.kind == RTSP_RANGE_NPT && rg.start.present && rg.end.present &&
            !rg.start.now && !rg.end.now)
            must(rg.start.us <= rg.end.us);
        must(dev.count <= RTSP_MAX_DEVIATIONS);
    }

    uint32_t mask;
    size_t unknown;
    int r = rtsp_parse_methods(v, &mask, &unknown, &err);
    must(r == WIRE_ERROR || (mask >> RTSP_METHOD_COUNT) == 0);

    /* every challenge in turn, as a client walks a WWW-Authenticate value */
    struct wire_str rest = v;
    for (int i = 0; i < 64 && rest.len > 0; i++) {
        struct rtsp_challenge c;
        r = rtsp_parse_www_authenticate(rest, &c, &err);
        if (r < 0)
            break;
        must(r > 0 && (size_t)r <= rest.len);
        struct wire_str f[] = {c.realm, c.nonce, c.opaque, c.algorithm, c.qop, c.domain};
        for (size_t k = 0; k < 6; k++)
            must(within(f[k], rest));
        unquote_all(f, 6);
        rest.ptr += r;
        rest.len -= (size_t)r;
    }

    char scratch[256];
    struct rtsp_authorization a;
    r = rtsp_parse_authorization(v, &a, scratch, sizeof(scratch), &err);
    if (r >= 0 && a.scheme != RTSP_AUTH_BASIC) {
        struct wire_str f[] = {a.username, a.realm, a.nonce, a.uri, a.response,
                               a.algorithm, a.cnonce, a.qop, a.nc, a.opaque};
        unquote_all(f, 10);
    }
    uint8_t dec[256];
    r = rtsp_base64_decode(v, dec, sizeof(dec), &err);
    must(r == WIRE_ERROR || (size_t)r <= size);
    return 0;
}
