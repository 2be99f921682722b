/* libFuzzer target for the SDP parser: parses and validates the input,
 * runs every attribute lookup, resolves each control against a fixed base,
 * then rebuilds the description through the builder and parses it again;
 * the sections and attributes must come back the same, or it aborts so the
 * fuzzer reports the disagreement. */
#include <stdlib.h>
#include <string.h>

#include "sdp.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEDIA_CAP 16
#define ATTR_CAP 64
#define FINDING_CAP 64

static struct sdp_media media1[MEDIA_CAP], media2[MEDIA_CAP];
static struct sdp_attr attrs1[ATTR_CAP], attrs2[ATTR_CAP];
static struct sdp_finding findings1[FINDING_CAP], findings2[FINDING_CAP];
static char rebuilt[1 << 18];

/* printf arguments for a slice; "" for an absent one so %.*s never sees NULL. */
#define STR(x) (int)(x).len, (x).ptr ? (x).ptr : ""

static bool same_str(struct wire_str a, struct wire_str b)
{
    if ((a.ptr == NULL) != (b.ptr == NULL) || a.len != b.len)
        return false;
    return a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0;
}

static void lookups(const struct sdp_session *s, const struct sdp_media *m)
{
    char url[512];
    struct wire_str ctl;
    struct wire_error err;
    if (sdp_control(s, m, &ctl)) {
        int n = sdp_resolve_control("rtsp://127.0.0.1:8554/live", ctl, url, sizeof(url), &err);
        if (n >= 0)
            check(strlen(url) == (size_t)n);
        else
            check(err.reason != NULL);
    }
    struct sdp_framerate fr;
    if (sdp_media_framerate(s, m, &fr))
        check(fr.den > 0);
    struct sdp_range r;
    (void)sdp_media_range(s, m, &r);
    if (!m)
        return;
    struct wire_str rest = m->fmts, fmt;
    while (sdp_fmt_next(&rest, &fmt)) {
        uint64_t pt;
        if (!wire_parse_u64(fmt, 127, &pt))
            continue;
        struct sdp_rtpmap map;
        if (sdp_media_rtpmap(s, m, (unsigned)pt, &map))
            check(map.pt == pt && map.clock_rate > 0 && map.encoding.len > 0);
        struct sdp_fmtp fmtp;
        struct wire_str value;
        if (sdp_media_fmtp(s, m, (unsigned)pt, &fmtp))
            (void)sdp_fmtp_param(fmtp.params, "profile-level-id", &value);
    }
}

/* Rebuild s; false when the builder refused a value (a CR, a bad name...). */
static bool rebuild(const struct sdp_session *s, struct sdp_builder *b)
{
    struct wire_error err;
    sdp_builder_init(b, rebuilt, sizeof(rebuilt));
    if (s->version.ptr && sdp_add_line(b, 'v', s->version, &err) < 0)
        return false;
    const struct sdp_origin *o = &s->origin;
    if (o->username.ptr &&
        sdp_add_linef(b, &err, 'o', "%.*s %.*s %.*s %.*s %.*s %.*s", STR(o->username), STR(o->sess_id),
                      STR(o->sess_version), STR(o->nettype), STR(o->addrtype),
                      STR(o->address)) < 0)
        return false;
    if (s->name.ptr && sdp_add_line(b, 's', s->name, &err) < 0)
        return false;
    if (s->c.present &&
        sdp_add_linef(b, &err, 'c', "%.*s %.*s %.*s", STR(s->c.nettype),
                      STR(s->c.addrtype), STR(s->c.address)) < 0)
        return false;
    for (unsigned i = 0; i < s->bw_count; i++)
        if (sdp_add_linef(b, &err, 'b', "%.*s:%llu", STR(s->bw[i].bwtype),
                          (unsigned long long)s->bw[i].bandwidth) < 0)
            return false;
    if (s->t_start.ptr && sdp_add_linef(b, &err, 't', "%.*s %.*s", STR(s->t_start), STR(s->t_stop)) < 0)
        return false;
    for (unsigned i = 0; i < s->attr_count; i++)
        if (sdp_add_attr(b, s->attrs[i].name, s->attrs[i].value, &err) < 0)
            return false;
    for (unsigned k = 0; k < s->media_count; k++) {
        const struct sdp_media *m = &s->media[k];
        if (sdp_add_linef(b, &err, 'm', "%.*s %u/%u %.*s %.*s", STR(m->media),
                          (unsigned)m->port, (unsigned)m->port_count, STR(m->proto),
                          STR(m->fmts)) < 0)
            return false;
        for (unsigned i = 0; i < m->bw_count; i++)
            if (sdp_add_linef(b, &err, 'b', "%.*s:%llu", STR(m->bw[i].bwtype), (unsigned long long)m->bw[i].bandwidth) < 0)
                return false;
        for (unsigned i = 0; i < m->attr_count; i++) {
            const struct sdp_attr *a = &s->attrs[m->attr_first + i];
            if (sdp_add_attr(b, a->name, a->value, &err) < 0)
                return false;
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sdp_session s1, s2;
    struct wire_error err = {0, NULL};
    sdp_session_init(&s1, media1, MEDIA_CAP, attrs1, ATTR_CAP, findings1, FINDING_CAP);
    int rc = sdp_parse((const char *)data, size, &s1, &err);
    if (rc < 0) {
        check(err.reason != NULL && err.offset <= size);
        return 0;
    }
    check((size_t)rc == size);
    for (unsigned i = 0; i < s1.finding_count; i++)
        check(s1.findings[i].id != NULL && s1.findings[i].offset <= size &&
              s1.findings[i].line <= s1.line_count);
    check(s1.attrs_used <= ATTR_CAP && s1.media_count <= MEDIA_CAP);

    lookups(&s1, NULL);
    for (unsigned k = 0; k < s1.media_count; k++)
        lookups(&s1, &s1.media[k]);

    struct sdp_builder b;
    if (!rebuild(&s1, &b))
        return 0;
    check(strlen(rebuilt) == b.len);
    sdp_session_init(&s2, media2, MEDIA_CAP, attrs2, ATTR_CAP, findings2, FINDING_CAP);
    check(sdp_parse(rebuilt, b.len, &s2, &err) == (int)b.len);
    check(!s2.lf_line_ends);
    check(s2.media_count == s1.media_count);
    check(s2.attr_count == s1.attr_count);
    check(s2.attrs_used == s1.attrs_used);
    for (unsigned i = 0; i < s1.attrs_used; i++)
        check(same_str(s1.attrs[i].name, s2.attrs[i].name) &&
              same_str(s1.attrs[i].value, s2.attrs[i].value));
    for (unsigned k = 0; k < s1.media_count; k++) {
        check(s2.media[k].attr_count == s1.media[k].attr_count);
        check(s2.media[k].bw_count == s1.media[k].bw_count);
    }
    check(s2.bw_count == s1.bw_count);
    return 0;
}
