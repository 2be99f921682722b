/* libFuzzer target for the RTSP message parser (harness/wire/rtsp.h): walks
 * the input as a mixed stream of messages and interleaved frames in both
 * modes, with and without at_idle, checks the incremental contract on each
 * message, and rebuilds every strictly parsed message through the builder
 * and parses it again, which must give the same fields. */
#include "rtsp.h"

#include <stdlib.h>
#include <string.h>

#define MAXH 64

static void must(bool cond)
{
    if (!cond)
        abort();
}

static bool within(struct wire_str s, const char *buf, size_t len)
{
    if (s.len == 0)
        return true;
    return s.ptr >= buf && s.ptr + s.len <= buf + len;
}

static char method_z[RTSP_DEFAULT_MAX_HEADER_BYTES + 1];
static char uri_z[RTSP_DEFAULT_MAX_HEADER_BYTES + 1];
static char reason_z[RTSP_DEFAULT_MAX_HEADER_BYTES + 1];
static char out[2 * RTSP_DEFAULT_MAX_HEADER_BYTES + 65536];

static void zcopy(char *dst, struct wire_str s)
{
    memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
}

/* Build m back (CRLF, RTSP/1.0) and parse it strictly: same fields. */
static void rebuild(const struct rtsp_msg *m)
{
    struct rtsp_builder b;
    rtsp_builder_init(&b, out, sizeof(out), 0);
    if (m->is_request) {
        zcopy(method_z, m->method);
        zcopy(uri_z, m->uri);
        rtsp_build_request(&b, method_z, uri_z);
    } else {
        zcopy(reason_z, m->reason);
        rtsp_build_response(&b, m->status, reason_z);
    }
    size_t kept = 0;
    for (size_t i = 0; i < m->num_headers; i++) {
        if (wire_str_caseeq(m->headers[i].name, "Content-Length"))
            continue;
        rtsp_build_header_str(&b, m->headers[i].name, m->headers[i].value);
        kept++;
    }
    int n = rtsp_build_finish(&b, m->body.ptr, m->body.len);
    must(n > 0); /* everything a strict parse accepts can be built */
    must(b.len <= sizeof(out));

    struct rtsp_msg again;
    struct rtsp_header h2[MAXH + 1];
    struct rtsp_parse_opts big = {RTSP_STRICT, sizeof(out), 0, false};
    struct wire_error err;
    int r = rtsp_parse(out, (size_t)n, &big, &again, h2, MAXH + 1, &err);
    must(r == n);
    must(again.is_request == m->is_request);
    must(again.num_headers == kept + (m->body.len ? 1 : 0));
    must(again.body.len == m->body.len);
    must(m->body.len == 0 || memcmp(again.body.ptr, m->body.ptr, m->body.len) == 0);
    if (m->is_request) {
        must(again.method.len == m->method.len && again.method_id == m->method_id);
        must(again.uri.len == m->uri.len && memcmp(again.uri.ptr, m->uri.ptr, m->uri.len) == 0);
    } else {
        must(again.status == m->status);
        must(again.reason.len == m->reason.len);
    }
    size_t j = 0;
    for (size_t i = 0; i < m->num_headers; i++) {
        if (wire_str_caseeq(m->headers[i].name, "Content-Length"))
            continue;
        must(again.headers[j].name.len == m->headers[i].name.len);
        must(again.headers[j].value.len == m->headers[i].value.len);
        must(memcmp(again.headers[j].value.ptr, m->headers[i].value.ptr,
                    m->headers[i].value.len) == 0);
        j++;
    }
}

static void walk(const char *buf, size_t len, enum rtsp_mode mode, bool at_idle)
{
    struct rtsp_parse_opts opts = {mode, 0, 0, at_idle};
    struct rtsp_msg m;
    struct rtsp_header h[MAXH];
    struct wire_error err;
    size_t pos = 0;
    while (pos < len) {
        size_t skip = 0;
        enum rtsp_next k = rtsp_next_kind(buf + pos, len - pos, &skip);
        must(skip <= len - pos);
        if (k == RTSP_NEXT_NEED_MORE)
            return;
        if (k == RTSP_NEXT_INTERLEAVED) {
            struct rtsp_interleaved f;
            int r = rtsp_interleaved_parse(buf + pos + skip, len - pos - skip, &f, &err);
            if (r == WIRE_INCOMPLETE)
                return;
            must(r >= 4 && (size_t)r <= len - pos - skip && f.len == (size_t)r - 4);
            pos += skip + (size_t)r;
            continue;
        }
        int r = rtsp_parse(buf + pos, len - pos, &opts, &m, h, MAXH, &err);
        if (r == WIRE_INCOMPLETE)
            return;
        if (r == WIRE_ERROR) {
            must(err.reason != NULL && err.offset <= len - pos);
            size_t next = rtsp_resync(buf, len, pos);
            must(next > pos && next <= len);
            pos = next;
            continue;
        }
        must(r > 0 && (size_t)r <= len - pos);
        const char *b = buf + pos;
        size_t n = (size_t)r;
        must(m.num_headers <= MAXH && m.deviations.count <= RTSP_MAX_DEVIATIONS);
        must(within(m.method, b, n) && within(m.uri, b, n) && within(m.reason, b, n));
        must(within(m.body, b, n) && m.body.len == m.content_length);
        for (size_t i = 0; i < m.num_headers; i++)
            must(within(h[i].name, b, n) && within(h[i].value, b, n));
        for (size_t i = 0; i < m.deviations.count; i++)
            must(m.deviations.rec[i].offset <= n);
        if (mode == RTSP_STRICT)
            must(m.deviations.count == 0);
        if (!at_idle) {
            /* the message alone parses the same; its prefixes need more */
            struct rtsp_msg m2;
            struct rtsp_header h2[MAXH];
            must(rtsp_parse(b, n, &opts, &m2, h2, MAXH, &err) == r);
            must(m2.num_headers == m.num_headers);
            must(rtsp_parse(b, n - 1, &opts, &m2, h2, MAXH, &err) == WIRE_INCOMPLETE);
            must(rtsp_parse(b, n / 2, &opts, &m2, h2, MAXH, &err) == WIRE_INCOMPLETE);
        }
        if (mode == RTSP_STRICT)
            rebuild(&m);
        pos += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    walk(buf, size, RTSP_STRICT, false);
    walk(buf, size, RTSP_STRICT, true);
    walk(buf, size, RTSP_LENIENT, false);
    walk(buf, size, RTSP_LENIENT, true);
    return 0;
}
