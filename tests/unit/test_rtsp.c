/* Unit tests for the RTSP message parser, interleaved frames and builder
 * (harness/wire/rtsp.h): the lab messages of PROTOCOL.md, RFC 2326
 * examples, incremental feeding, pipelining, every error path. */
#include "check.h"
#include "rtsp.h"

#define MAXH 32

static const struct rtsp_parse_opts strict = {RTSP_STRICT, 0, 0, false};
static const struct rtsp_parse_opts strict_idle = {RTSP_STRICT, 0, 0, true};
static const struct rtsp_parse_opts lenient = {RTSP_LENIENT, 0, 0, false};
static const struct rtsp_parse_opts lenient_idle = {RTSP_LENIENT, 0, 0, true};

static struct rtsp_msg msg;
static struct rtsp_header hdrs[MAXH];
static struct wire_error err;

static int parse(const char *s, const struct rtsp_parse_opts *o)
{
    err.offset = 0;
    err.reason = NULL;
    return rtsp_parse(s, strlen(s), o, &msg, hdrs, MAXH, &err);
}

static bool has_dev(enum rtsp_deviation k) { return rtsp_deviations_has(&msg.deviations, k); }

static void test_lab_setup_lenient_at_idle(void)
{
    const char *s = "SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 8000";
    CHECK_EQ_INT(parse(s, &lenient_idle), strlen(s));
    CHECK(msg.is_request);
    CHECK_EQ_INT(msg.method_id, RTSP_METHOD_SETUP);
    CHECK_STR(msg.method.ptr, msg.method.len, "SETUP");
    CHECK_STR(msg.uri.ptr, msg.uri.len, "movie.Mjpeg");
    CHECK_EQ_INT(msg.version_major, 1);
    CHECK_EQ_INT(msg.version_minor, 0);
    CHECK_EQ_INT(msg.num_headers, 2);
    CHECK_STR(hdrs[0].name.ptr, hdrs[0].name.len, "CSeq");
    CHECK_STR(hdrs[0].value.ptr, hdrs[0].value.len, "1");
    CHECK_STR(hdrs[1].name.ptr, hdrs[1].name.len, "Transport");
    CHECK_STR(hdrs[1].value.ptr, hdrs[1].value.len, "RTP/UDP; client_port= 8000");
    CHECK_EQ_INT(msg.body.len, 0);
    CHECK_EQ_INT(msg.deviations.count, 3);
    CHECK_EQ_INT(msg.deviations.rec[0].kind, RTSP_DEV_BARE_URI);
    CHECK_EQ_INT(msg.deviations.rec[0].offset, 6);
    CHECK_EQ_INT(msg.deviations.rec[1].kind, RTSP_DEV_BARE_LF);
    CHECK_EQ_INT(msg.deviations.rec[1].offset, 26);
    CHECK_EQ_INT(msg.deviations.rec[2].kind, RTSP_DEV_MISSING_FINAL_BLANK_LINE);
    CHECK_EQ_INT(msg.deviations.rec[2].offset, strlen(s));
    CHECK(!msg.deviations.overflow);
}

static void test_lab_setup_needs_idle_or_fails_strict(void)
{
    const char *s = "SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 8000";
    CHECK_EQ_INT(parse(s, &lenient), WIRE_INCOMPLETE);
    CHECK_EQ_INT(parse(s, &strict), WIRE_ERROR);
    CHECK_EQ_INT(parse(s, &strict_idle), WIRE_ERROR);
    /* strict stops at the URI before it sees a line end */
    CHECK_EQ_INT(err.offset, 6);
    const char *crlf = "SETUP rtsp://h/movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n";
    CHECK_EQ_INT(parse(crlf, &strict), WIRE_INCOMPLETE);
    CHECK_EQ_INT(parse(crlf, &strict_idle), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, strlen(crlf));
    CHECK_STR(err.reason, strlen(err.reason), "message ends without the final blank line");
}

static void test_lab_play_and_reply(void)
{
    const char *play = "PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 465641";
    CHECK_EQ_INT(parse(play, &lenient_idle), strlen(play));
    CHECK_EQ_INT(msg.method_id, RTSP_METHOD_PLAY);
    const struct wire_str *sess = rtsp_msg_header(&msg, "session");
    CHECK(sess != NULL);
    if (sess)
        CHECK_STR(sess->ptr, sess->len, "465641");

    const char *reply = "RTSP/1.0 200 OK\nCSeq: 1\nSession: 465641";
    CHECK_EQ_INT(parse(reply, &lenient_idle), strlen(reply));
    CHECK(!msg.is_request);
    CHECK_EQ_INT(msg.status, 200);
    CHECK_STR(msg.reason.ptr, msg.reason.len, "OK");
    CHECK_EQ_INT(msg.num_headers, 2);
    CHECK_STR(hdrs[1].value.ptr, hdrs[1].value.len, "465641");
    CHECK(has_dev(RTSP_DEV_BARE_LF));
    CHECK(has_dev(RTSP_DEV_MISSING_FINAL_BLANK_LINE));
    CHECK(!has_dev(RTSP_DEV_BARE_URI));

    /* the lab's other status lines */
    const char *nf = "RTSP/1.0 404 FILE_NOT_FOUND\nCSeq: 3\n";
    CHECK_EQ_INT(parse(nf, &lenient_idle), strlen(nf));
    CHECK_EQ_INT(msg.status, 404);
    CHECK_STR(msg.reason.ptr, msg.reason.len, "FILE_NOT_FOUND");
    const char *ce = "RTSP/1.0 500 CONNECTION ERROR\nCSeq: 3\n\n";
    CHECK_EQ_INT(parse(ce, &lenient), strlen(ce));
    CHECK_STR(msg.reason.ptr, msg.reason.len, "CONNECTION ERROR");
    CHECK(!has_dev(RTSP_DEV_MISSING_FINAL_BLANK_LINE));
}

static void test_lab_reply_extra_lines_and_mixed_ends(void)
{
    const char *s = "RTSP/1.0 200 OK\r\nCSeq: 1\nSession: 465641\nMean FPS: 19.9\n";
    CHECK_EQ_INT(parse(s, &lenient_idle), strlen(s));
    CHECK_EQ_INT(msg.num_headers, 3);
    CHECK_STR(hdrs[2].name.ptr, hdrs[2].name.len, "Mean FPS");
    CHECK_STR(hdrs[2].value.ptr, hdrs[2].value.len, "19.9");
    CHECK(has_dev(RTSP_DEV_MIXED_LINE_ENDS));
    CHECK(has_dev(RTSP_DEV_BAD_HEADER_NAME));
    CHECK(has_dev(RTSP_DEV_BARE_LF));
    CHECK_EQ_INT(parse(s, &strict_idle), WIRE_ERROR);
}

static void test_lab_other_dialect(void)
{
    /* CSeq alone on line 2, version and transport on a continuation line */
    const char *s = "SETUP movie.Mjpeg\n1\n RTSP/1.0 RTP/UDP 26002";
    CHECK_EQ_INT(parse(s, &lenient_idle), strlen(s));
    CHECK_EQ_INT(msg.method_id, RTSP_METHOD_SETUP);
    CHECK_STR(msg.uri.ptr, msg.uri.len, "movie.Mjpeg");
    CHECK_EQ_INT(msg.version_major, 0);
    CHECK(has_dev(RTSP_DEV_MISSING_VERSION));
    CHECK(has_dev(RTSP_DEV_HEADER_WITHOUT_COLON));
    CHECK(has_dev(RTSP_DEV_FOLDED_HEADER));
    CHECK_EQ_INT(msg.num_headers, 2);
    CHECK(hdrs[0].name.ptr == NULL);
    CHECK_STR(hdrs[0].value.ptr, hdrs[0].value.len, "1");
    CHECK(hdrs[1].name.ptr == NULL);
    CHECK_STR(hdrs[1].value.ptr, hdrs[1].value.len, "RTSP/1.0 RTP/UDP 26002");
    CHECK(rtsp_msg_header(&msg, "") == NULL);

    const char *p = "PLAY \n2";
    CHECK_EQ_INT(parse(p, &lenient_idle), strlen(p));
    CHECK_EQ_INT(msg.method_id, RTSP_METHOD_PLAY);
    CHECK_EQ_INT(msg.uri.len, 0);
    CHECK(has_dev(RTSP_DEV_MISSING_URI));
    CHECK(has_dev(RTSP_DEV_EXTRA_WHITESPACE));
    CHECK_EQ_INT(parse(p, &strict_idle), WIRE_ERROR);
}

static void test_rfc_options_strict(void)
{
    const char *req = "OPTIONS rtsp://127.0.0.1:8554/live RTSP/1.0\r\nCSeq: 2\r\n\r\n";
    CHECK_EQ_INT(parse(req, &strict), strlen(req));
    CHECK_EQ_INT(msg.method_id, RTSP_METHOD_OPTIONS);
    CHECK_STR(msg.uri.ptr, msg.uri.len, "rtsp://127.0.0.1:8554/live");
    CHECK_EQ_INT(msg.deviations.count, 0);
    CHECK_EQ_INT(msg.header_bytes, strlen(req));
    const char *rsp = "RTSP/1.0 200 OK\r\nCSeq: 2\r\n"
                      "Public: OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE\r\n\r\n";
    CHECK_EQ_INT(parse(rsp, &strict), strlen(rsp));
    CHECK_EQ_INT(msg.status, 200);
    const struct wire_str *pub = rtsp_msg_header(&msg, "PUBLIC");
    CHECK(pub != NULL);
    if (pub)
        CHECK_STR(pub->ptr, pub->len, "OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE");
    /* the same bytes in lenient mode need no forgiveness */
    CHECK_EQ_INT(parse(rsp, &lenient), strlen(rsp));
    CHECK_EQ_INT(msg.deviations.count, 0);
    const char *star = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
    CHECK_EQ_INT(parse(star, &strict), strlen(star));
    CHECK_STR(msg.uri.ptr, msg.uri.len, "*");
}

static const char rfc_describe_reply[] =
    "RTSP/1.0 200 OK\r\n"
    "CSeq: 312\r\n"
    "Date: 23 Jan 1997 15:35:06 GMT\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 363\r\n"
    "\r\n"
    "v=0\r\n"
    "o=mhandley 2890844526 2890842807 IN IP4 126.16.64.4\r\n"
    "s=SDP Seminar\r\n"
    "i=A Seminar on the session description protocol\r\n"
    "u=http://www.cs.ucl.ac.uk/staff/M.Handley/sdp.03.ps\r\n"
    "e=mjh@isi.edu (Mark Handley)\r\n"
    "c=IN IP4 224.2.17.12/127\r\n"
    "t=2873397496 2873404696\r\n"
    "a=recvonly\r\n"
    "m=audio 3456 RTP/AVP 0\r\n"
    "m=video 2232 RTP/AVP 31\r\n"
    "m=whiteboard 32416 UDP WB\r\n"
    "a=orient:portrait\r\n";

static void test_rfc_describe_with_body(void)
{
    const char *req = "DESCRIBE rtsp://server.example.com/fizzle/foo RTSP/1.0\r\n"
                      "CSeq: 312\r\n"
                      "Accept: application/sdp, application/rtsl, application/mheg\r\n\r\n";
    CHECK_EQ_INT(parse(req, &strict), strlen(req));
    CHECK_EQ_INT(msg.method_id, RTSP_METHOD_DESCRIBE);
    CHECK_EQ_INT(msg.num_headers, 2);

    size_t n = strlen(rfc_describe_reply);
    int r = rtsp_parse(rfc_describe_reply, n, &strict, &msg, hdrs, MAXH, &err);
    CHECK_EQ_INT(r, n);
    CHECK(msg.has_content_length);
    CHECK_EQ_INT(msg.content_length, 363);
    CHECK_EQ_INT(msg.body.len, 363);
    CHECK_EQ_INT(msg.body.ptr - rfc_describe_reply, n - 363);
    CHECK(msg.body.len >= 5 && memcmp(msg.body.ptr, "v=0\r\n", 5) == 0);
    /* one byte short: wait, or fail when the peer is idle */
    CHECK_EQ_INT(rtsp_parse(rfc_describe_reply, n - 1, &strict, &msg, hdrs, MAXH, &err),
                 WIRE_INCOMPLETE);
    CHECK_EQ_INT(rtsp_parse(rfc_describe_reply, n - 1, &strict_idle, &msg, hdrs, MAXH, &err),
                 WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "body shorter than Content-Length");
}

static void test_rfc_setup_play_teardown(void)
{
    const char *setup = "SETUP rtsp://example.com/foo/bar/baz.rm RTSP/1.0\r\n"
                        "CSeq: 302\r\n"
                        "Transport: RTP/AVP;unicast;client_port=4588-4589\r\n\r\n";
    CHECK_EQ_INT(parse(setup, &strict), strlen(setup));
    const struct wire_str *t = rtsp_msg_header(&msg, "Transport");
    CHECK(t != NULL);
    if (t)
        CHECK_STR(t->ptr, t->len, "RTP/AVP;unicast;client_port=4588-4589");

    const char *reply = "RTSP/1.0 200 OK\r\n"
                        "CSeq: 302\r\n"
                        "Date: 23 Jan 1997 15:35:06 GMT\r\n"
                        "Session: 47112344\r\n"
                        "Transport: RTP/AVP;unicast;\r\n"
                        "  client_port=4588-4589;server_port=6256-6257\r\n\r\n";
    /* RFC 2326's own example folds the Transport line: strict refuses folding */
    CHECK_EQ_INT(parse(reply, &strict), WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "obsolete line folding (continuation line)");
    CHECK_EQ_INT(parse(reply, &lenient), strlen(reply));
    CHECK(has_dev(RTSP_DEV_FOLDED_HEADER));
    CHECK_EQ_INT(msg.num_headers, 5);
    CHECK_STR(hdrs[4].value.ptr, hdrs[4].value.len,
              "client_port=4588-4589;server_port=6256-6257");

    const char *play = "PLAY rtsp://audio.example.com/twister.en RTSP/1.0\r\n"
                       "CSeq: 833\r\n"
                       "Session: 12345678\r\n"
                       "Range: npt=10-15\r\n\r\n";
    CHECK_EQ_INT(parse(play, &strict), strlen(play));
    CHECK_EQ_INT(msg.method_id, RTSP_METHOD_PLAY);
    const struct wire_str *range = rtsp_msg_header(&msg, "range");
    CHECK(range && range->len == 9);

    const char *td = "TEARDOWN rtsp://example.com/fizzle/foo RTSP/1.0\r\n"
                     "CSeq: 892\r\nSession: 12345678\r\n\r\n";
    CHECK_EQ_INT(parse(td, &strict), strlen(td));
    CHECK_EQ_INT(msg.method_id, RTSP_METHOD_TEARDOWN);

    const char *gp = "GET_PARAMETER rtsp://example.com/fizzle/foo RTSP/1.0\r\n"
                     "CSeq: 431\r\nContent-Type: text/parameters\r\nSession: 12345678\r\n"
                     "Content-Length: 15\r\n\r\npacket_received";
    CHECK_EQ_INT(parse(gp, &strict), strlen(gp));
    CHECK_EQ_INT(msg.method_id, RTSP_METHOD_GET_PARAMETER);
    CHECK_STR(msg.body.ptr, msg.body.len, "packet_received");
}

static void test_unknown_method_and_version_parse(void)
{
    const char *s = "FORWARD rtsp://h/x RTSP/2.0\r\nCSeq: 9\r\n\r\n";
    CHECK_EQ_INT(parse(s, &strict), strlen(s));
    CHECK_EQ_INT(msg.method_id, RTSP_METHOD_UNKNOWN);
    CHECK_STR(msg.method.ptr, msg.method.len, "FORWARD");
    CHECK_EQ_INT(msg.version_major, 2);
    CHECK_EQ_INT(msg.version_minor, 0);
    const char *lc = "PLAY rtsp://h/x rtsp/1.0\r\n\r\n";
    CHECK_EQ_INT(parse(lc, &strict), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 16);
    CHECK_EQ_INT(parse(lc, &lenient), strlen(lc));
    CHECK(has_dev(RTSP_DEV_LOWERCASE_VERSION));
    const char *http = "GET / HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(parse(http, &lenient), WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "version is not RTSP/<major>.<minor>");
}

/* Every strict prefix is INCOMPLETE and the whole gives the one-shot result. */
static void feed_bytewise(const char *s, const struct rtsp_parse_opts *o)
{
    size_t n = strlen(s);
    struct rtsp_msg one;
    struct rtsp_header h1[MAXH];
    int whole = rtsp_parse(s, n, o, &one, h1, MAXH, &err);
    CHECK(whole > 0);
    if (whole <= 0)
        return;
    int bad = 0;
    for (size_t i = 0; i < (size_t)whole; i++)
        if (rtsp_parse(s, i, o, &msg, hdrs, MAXH, &err) != WIRE_INCOMPLETE)
            bad++;
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(rtsp_parse(s, (size_t)whole, o, &msg, hdrs, MAXH, &err), whole);
    CHECK_EQ_INT(msg.num_headers, one.num_headers);
    CHECK_EQ_INT(msg.content_length, one.content_length);
    CHECK_EQ_INT(msg.deviations.count, one.deviations.count);
}

static void test_incremental_bytewise(void)
{
    feed_bytewise(rfc_describe_reply, &strict);
    feed_bytewise("SETUP rtsp://example.com/foo/bar/baz.rm RTSP/1.0\r\nCSeq: 302\r\n"
                  "Transport: RTP/AVP;unicast;client_port=4588-4589\r\n\r\n",
                  &strict);
    feed_bytewise("RTSP/1.0 200 OK\nCSeq: 1\nSession: 465641\n\n", &lenient);
    feed_bytewise("\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", &strict);
}

static void test_pipelined(void)
{
    const char *s = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"
                    "DESCRIBE rtsp://h/a RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 3\r\n\r\nabc"
                    "PLAY rtsp://h/a RTSP/1.0\r\nCSeq: 3\r\n\r\n";
    size_t n = strlen(s), pos = 0;
    int cseqs[3], count = 0;
    while (pos < n && count < 3) {
        int r = rtsp_parse(s + pos, n - pos, &strict, &msg, hdrs, MAXH, &err);
        CHECK(r > 0);
        if (r <= 0)
            break;
        const struct wire_str *c = rtsp_msg_header(&msg, "CSeq");
        cseqs[count++] = (c && c->len == 1) ? c->ptr[0] - '0' : -1;
        pos += (size_t)r;
    }
    CHECK_EQ_INT(count, 3);
    CHECK_EQ_INT(pos, n);
    CHECK_EQ_INT(cseqs[0], 1);
    CHECK_EQ_INT(cseqs[1], 2);
    CHECK_EQ_INT(cseqs[2], 3);
}

static void test_interleaved_mixed_stream(void)
{
    static const char stream[] = "RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 12345678\r\n"
                                 "Transport: RTP/AVP/TCP;interleaved=0-1\r\n\r\n"
                                 "$\x00\x00\x03" "abc"
                                 "$\x01\x00\x00"
                                 "\r\n"
                                 "PLAY rtsp://h/a RTSP/1.0\r\nCSeq: 5\r\n\r\n"
                                 "$\x00\x01\x00";
    size_t n = sizeof(stream) - 1, pos = 0;
    int messages = 0, frames = 0, channels = 0, bytes = 0;
    for (int guard = 0; guard < 10; guard++) {
        size_t skip;
        enum rtsp_next k = rtsp_next_kind(stream + pos, n - pos, &skip);
        if (k == RTSP_NEXT_NEED_MORE)
            break;
        if (k == RTSP_NEXT_INTERLEAVED) {
            struct rtsp_interleaved f;
            int r = rtsp_interleaved_parse(stream + pos + skip, n - pos - skip, &f, &err);
            if (r == WIRE_INCOMPLETE)
                break;
            CHECK(r > 0);
            frames++;
            channels += f.channel;
            bytes += (int)f.len;
            pos += skip + (size_t)r;
        } else {
            int r = rtsp_parse(stream + pos, n - pos, &strict, &msg, hdrs, MAXH, &err);
            CHECK(r > 0);
            if (r <= 0)
                break;
            messages++;
            pos += (size_t)r;
        }
    }
    CHECK_EQ_INT(messages, 2);
    CHECK_EQ_INT(frames, 2);
    CHECK_EQ_INT(channels, 1);
    CHECK_EQ_INT(bytes, 3);
    /* the last frame announces 256 bytes and has none yet */
    CHECK_EQ_INT(n - pos, 4);
    struct rtsp_interleaved f;
    CHECK_EQ_INT(rtsp_interleaved_parse(stream + pos, n - pos, &f, &err), WIRE_INCOMPLETE);
    CHECK_EQ_INT(rtsp_interleaved_parse("$\x02", 2, &f, &err), WIRE_INCOMPLETE);
    CHECK_EQ_INT(rtsp_interleaved_parse("", 0, &f, &err), WIRE_INCOMPLETE);
    CHECK_EQ_INT(rtsp_interleaved_parse("X\x00\x00\x00", 4, &f, &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_interleaved_parse("$\x07\x00\x02hi!", 7, &f, &err), 6);
    CHECK_EQ_INT(f.channel, 7);
    CHECK_STR(f.payload, f.len, "hi");
    CHECK_EQ_INT(rtsp_next_kind("\r\n", 2, NULL), RTSP_NEXT_NEED_MORE);
    CHECK_EQ_INT(rtsp_next_kind("", 0, NULL), RTSP_NEXT_NEED_MORE);
    CHECK_EQ_INT(rtsp_next_kind("R", 1, NULL), RTSP_NEXT_MESSAGE);
}

static void test_resync(void)
{
    const char *s = "garbage\x01\r\nPLAY rtsp://h/a RTSP/1.0\r\n\r\n";
    CHECK_EQ_INT(rtsp_resync(s, strlen(s), 0), 10);
    const char *d = "xx$\x00\x00\x00";
    CHECK_EQ_INT(rtsp_resync(d, 6, 0), 2);
    const char *none = "nothing here\nat all";
    CHECK_EQ_INT(rtsp_resync(none, strlen(none), 0), strlen(none));
    /* a start cut by the end of the buffer is kept */
    const char *cut = "junk\nRTS";
    CHECK_EQ_INT(rtsp_resync(cut, strlen(cut), 0), 5);
    /* "PLAYER" is not a method */
    const char *word = "j\nPLAYER x\nRTSP/1.0 200 OK";
    CHECK_EQ_INT(rtsp_resync(word, strlen(word), 0), 11);
    CHECK_EQ_INT(rtsp_resync(word, strlen(word), 11), strlen(word));
}

static void test_header_lookup_and_duplicates(void)
{
    const char *s = "RTSP/1.0 401 Unauthorized\r\nCSeq: 3\r\n"
                    "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n"
                    "www-authenticate: Basic realm=\"r\"\r\n\r\n";
    CHECK_EQ_INT(parse(s, &strict), strlen(s));
    CHECK_EQ_INT(rtsp_msg_header_count(&msg, "WWW-Authenticate"), 2);
    size_t i = 0;
    const struct wire_str *a = rtsp_msg_header_next(&msg, "www-AUTHENTICATE", &i);
    const struct wire_str *b = rtsp_msg_header_next(&msg, "www-AUTHENTICATE", &i);
    const struct wire_str *c = rtsp_msg_header_next(&msg, "www-AUTHENTICATE", &i);
    CHECK(a && b && !c);
    if (a && b) {
        CHECK_STR(a->ptr, a->len, "Digest realm=\"r\", nonce=\"n\"");
        CHECK_STR(b->ptr, b->len, "Basic realm=\"r\"");
    }
    CHECK(rtsp_msg_header(&msg, "Session") == NULL);
    CHECK_EQ_INT(rtsp_msg_header_count(&msg, "CSeq"), 1);
    /* empty values are present, not absent */
    const char *e = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Empty:\r\n\r\n";
    CHECK_EQ_INT(parse(e, &strict), strlen(e));
    const struct wire_str *x = rtsp_msg_header(&msg, "x-empty");
    CHECK(x && x->len == 0);
}

static void test_error_truncated_and_oversized(void)
{
    CHECK_EQ_INT(parse("", &strict), WIRE_INCOMPLETE);
    CHECK_EQ_INT(parse("", &lenient_idle), WIRE_INCOMPLETE);
    CHECK_EQ_INT(parse("\r\n\r\n", &strict_idle), WIRE_INCOMPLETE);
    CHECK_EQ_INT(parse("OPTIONS * RTSP/1.0\r\nCSeq: 1\r", &strict), WIRE_INCOMPLETE);

    /* a header section over the limit fails before it ends ... */
    struct rtsp_parse_opts small = {RTSP_STRICT, 64, 0, false};
    char big[200];
    memset(big, 'a', sizeof(big));
    memcpy(big, "OPTIONS * RTSP/1.0\r\nX-Long: ", 28);
    CHECK_EQ_INT(rtsp_parse(big, sizeof(big), &small, &msg, hdrs, MAXH, &err), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 64);
    CHECK_STR(err.reason, strlen(err.reason), "header section larger than max_header_bytes");
    /* ... and when complete, by one byte */
    const char *m = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"; /* 31 bytes */
    struct rtsp_parse_opts exact = {RTSP_STRICT, 31, 0, false};
    CHECK_EQ_INT(parse(m, &exact), 31);
    exact.max_header_bytes = 30;
    CHECK_EQ_INT(parse(m, &exact), WIRE_ERROR);
    exact.max_header_bytes = 29;
    CHECK_EQ_INT(parse(m, &exact), WIRE_ERROR);
    /* the default limit is 8192 */
    static char huge[9000];
    memset(huge, 'b', sizeof(huge));
    memcpy(huge, "OPTIONS * RTSP/1.0\r\nX: ", 23);
    CHECK_EQ_INT(rtsp_parse(huge, sizeof(huge), &strict, &msg, hdrs, MAXH, &err), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 8192);
}

static void test_error_too_many_headers(void)
{
    const char *s = "OPTIONS * RTSP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    struct rtsp_header three[3], two[2];
    CHECK_EQ_INT(rtsp_parse(s, strlen(s), &strict, &msg, three, 3, &err), strlen(s));
    CHECK_EQ_INT(rtsp_parse(s, strlen(s), &strict, &msg, two, 2, &err), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 32);
    CHECK_STR(err.reason, strlen(err.reason), "more headers than the caller's array holds");
    CHECK_EQ_INT(rtsp_parse(s, strlen(s), &strict, &msg, NULL, 0, &err), WIRE_ERROR);
    const char *none = "OPTIONS * RTSP/1.0\r\n\r\n";
    CHECK_EQ_INT(rtsp_parse(none, strlen(none), &strict, &msg, NULL, 0, &err), strlen(none));
}

static void test_error_content_length(void)
{
    CHECK_EQ_INT(parse("ANNOUNCE * RTSP/1.0\r\nContent-Length: 12x\r\n\r\n", &strict),
                 WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 39);
    CHECK_STR(err.reason, strlen(err.reason), "Content-Length is not a number");
    CHECK_EQ_INT(parse("ANNOUNCE * RTSP/1.0\r\nContent-Length: -1\r\n\r\n", &lenient),
                 WIRE_ERROR);
    CHECK_EQ_INT(parse("ANNOUNCE * RTSP/1.0\r\nContent-Length:\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_EQ_INT(parse("ANNOUNCE * RTSP/1.0\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                       &strict),
                 WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "Content-Length exceeds max_body_bytes");
    struct rtsp_parse_opts tiny = {RTSP_STRICT, 0, 4, false};
    const char *five = "ANNOUNCE * RTSP/1.0\r\nContent-Length: 5\r\n\r\nabcde";
    CHECK_EQ_INT(parse(five, &tiny), WIRE_ERROR);
    tiny.max_body_bytes = 5;
    CHECK_EQ_INT(parse(five, &tiny), strlen(five));
    const char *conflict = "ANNOUNCE * RTSP/1.0\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\nab";
    CHECK_EQ_INT(parse(conflict, &strict), WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "conflicting Content-Length headers");
    const char *same = "ANNOUNCE * RTSP/1.0\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nab";
    CHECK_EQ_INT(parse(same, &strict), strlen(same));
    CHECK_STR(msg.body.ptr, msg.body.len, "ab");
    /* lenient, idle, no blank line: a body cannot be delimited */
    CHECK_EQ_INT(parse("RTSP/1.0 200 OK\nContent-Length: 3\nabc", &lenient_idle), WIRE_ERROR);
}

static void test_error_line_ends_and_bytes(void)
{
    CHECK_EQ_INT(parse("OPTIONS * RTSP/1.0\r\nCSeq: 1\n\r\n", &strict), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 27);
    CHECK_STR(err.reason, strlen(err.reason), "bare LF line end (RFC 2326 needs CRLF)");
    CHECK_EQ_INT(parse("OPTIONS * RTSP/1.0\r\nCSeq: 1\rX\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 27);
    CHECK_STR(err.reason, strlen(err.reason), "CR not followed by LF");
    CHECK_EQ_INT(parse("OPTIONS * RTSP/1.0\r\nCSeq: 1\x01\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 27);
    char nul[] = "OPTIONS * RTSP/1.0\r\nCSeq: 1\0\r\n\r\n";
    CHECK_EQ_INT(rtsp_parse(nul, sizeof(nul) - 1, &lenient, &msg, hdrs, MAXH, &err), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 27);
    /* tabs are fine in values, UTF-8 too */
    const char *tab = "OPTIONS * RTSP/1.0\r\nUser-Agent: a\tb \xc3\xa9\r\n\r\n";
    CHECK_EQ_INT(parse(tab, &strict), strlen(tab));
}

static void test_error_start_lines(void)
{
    CHECK_EQ_INT(parse("PLAY movie.Mjpeg RTSP/1.0\r\n\r\n", &strict), WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "request URI is not an absolute rtsp:// URL or *");
    CHECK_EQ_INT(parse("PLAY http://h/x RTSP/1.0\r\n\r\n", &strict), WIRE_ERROR);
    CHECK_EQ_INT(parse("PLAY RTSPS://h/x RTSP/1.0\r\n\r\n", &strict), 29);
    CHECK_EQ_INT(parse("PLAY  rtsp://h/x RTSP/1.0\r\n\r\n", &strict), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 4);
    CHECK_EQ_INT(parse("PLAY  rtsp://h/x RTSP/1.0\r\n\r\n", &lenient), 29);
    CHECK(has_dev(RTSP_DEV_EXTRA_WHITESPACE));
    CHECK_EQ_INT(parse("PLAY rtsp://h/x RTSP/1.0 extra\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "too many fields in request line");
    CHECK_EQ_INT(parse("PL(AY rtsp://h/x RTSP/1.0\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_EQ_INT(parse("PLAY rtsp://h/x RTSP/1\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_EQ_INT(parse("PLAY rtsp://h/x RTSP/1.\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_EQ_INT(parse("PLAY rtsp://h/x RTSP/1.0x\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_EQ_INT(parse("PLAY rtsp://h/x RTSP/999.0\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "version number too large");
    CHECK_EQ_INT(parse("PLAY rtsp://h/x\r\n\r\n", &strict), WIRE_ERROR);
    CHECK_EQ_INT(parse("PLAY RTSP/1.0\r\n\r\n", &lenient), 17);
    CHECK(has_dev(RTSP_DEV_MISSING_URI));
    CHECK_EQ_INT(msg.version_major, 1);
    CHECK_EQ_INT(parse("RTSP/1.0 20 OK\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "status code is not three digits");
    CHECK_EQ_INT(parse("RTSP/1.0 2000 OK\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_EQ_INT(parse("RTSP/1.0 099 OK\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_EQ_INT(parse("RTSP/1.0 2x0 OK\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_EQ_INT(parse("RTSP/1.0\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_EQ_INT(parse("RTSP/1.0 200\r\n\r\n", &strict), WIRE_ERROR);
    CHECK_EQ_INT(parse("RTSP/1.0 200\r\n\r\n", &lenient), 16);
    CHECK(has_dev(RTSP_DEV_MISSING_REASON));
    CHECK_EQ_INT(parse("RTSP/1.0 200 \r\n\r\n", &strict), 17);
    CHECK_EQ_INT(msg.reason.len, 0);
    CHECK_EQ_INT(parse("RTSP/1.0 505 RTSP Version not supported\r\n\r\n", &strict), 43);
    CHECK_EQ_INT(msg.status, 505);
    CHECK_EQ_INT(parse("rtsp/1.0 200 OK\r\n\r\n", &strict), WIRE_ERROR);
    CHECK_EQ_INT(parse("rtsp/1.0 200 OK\r\n\r\n", &lenient), 19);
    CHECK(!msg.is_request);
    CHECK(has_dev(RTSP_DEV_LOWERCASE_VERSION));
    CHECK_EQ_INT(parse("  \r\n\r\n", &lenient), WIRE_ERROR);
}

static void test_error_header_lines(void)
{
    CHECK_EQ_INT(parse("OPTIONS * RTSP/1.0\r\nCSeq 1\r\n\r\n", &strict), WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "header line without colon");
    CHECK_EQ_INT(parse("OPTIONS * RTSP/1.0\r\n: 1\r\n\r\n", &lenient), WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "empty header name");
    CHECK_EQ_INT(parse("OPTIONS * RTSP/1.0\r\nCSeq : 1\r\n\r\n", &strict), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 24);
    CHECK_EQ_INT(parse("OPTIONS * RTSP/1.0\r\nCSeq : 1\r\n\r\n", &lenient), 32);
    CHECK(has_dev(RTSP_DEV_SPACE_BEFORE_COLON));
    CHECK_STR(hdrs[0].name.ptr, hdrs[0].name.len, "CSeq");
    CHECK_EQ_INT(parse("OPTIONS * RTSP/1.0\r\nC\"Seq: 1\r\n\r\n", &strict), WIRE_ERROR);
    CHECK_STR(err.reason, strlen(err.reason), "invalid character in header name");
    /* the lab typo keeps its value for the checks to catch */
    CHECK_EQ_INT(parse("PLAY movie.Mjpeg RTSP/1.0\nSession:1 723126\n\n", &lenient), 44);
    CHECK_STR(hdrs[0].value.ptr, hdrs[0].value.len, "1 723126");
}

static void test_deviation_overflow_and_names(void)
{
    char buf[512];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "OPTIONS * RTSP/1.0\r\n");
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "line%d\r\n", i);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
    CHECK_EQ_INT(rtsp_parse(buf, n, &lenient, &msg, hdrs, MAXH, &err), n);
    CHECK_EQ_INT(msg.num_headers, 20);
    CHECK_EQ_INT(msg.deviations.count, RTSP_MAX_DEVIATIONS);
    CHECK(msg.deviations.overflow);
    CHECK_STR(rtsp_deviation_name(RTSP_DEV_BARE_LF), 7, "bare-lf");
    CHECK_STR(rtsp_deviation_name(RTSP_DEV_MISSING_FINAL_BLANK_LINE), 24,
              "missing-final-blank-line");
    CHECK_STR(rtsp_deviation_name(RTSP_DEV_SPACE_AROUND_EQUALS), 19, "space-around-equals");
    CHECK_STR(rtsp_deviation_name(RTSP_DEV_COUNT), 7, "unknown");
    for (int k = 0; k < RTSP_DEV_COUNT; k++) {
        const char *name = rtsp_deviation_name((enum rtsp_deviation)k);
        CHECK(name && strcmp(name, "unknown") != 0);
        for (int j = 0; j < k; j++)
            CHECK(strcmp(name, rtsp_deviation_name((enum rtsp_deviation)j)) != 0);
    }
}

static void test_method_names(void)
{
    CHECK_EQ_INT(rtsp_method_from_str(rtsp_str("GET_PARAMETER")), RTSP_METHOD_GET_PARAMETER);
    CHECK_EQ_INT(rtsp_method_from_str(rtsp_str("play")), RTSP_METHOD_UNKNOWN);
    CHECK_EQ_INT(rtsp_method_from_str(rtsp_str("")), RTSP_METHOD_UNKNOWN);
    CHECK(rtsp_method_name(RTSP_METHOD_UNKNOWN) == NULL);
    CHECK(rtsp_method_name(RTSP_METHOD_COUNT) == NULL);
    for (int m = 1; m < RTSP_METHOD_COUNT; m++)
        CHECK_EQ_INT(rtsp_method_from_str(rtsp_str(rtsp_method_name((enum rtsp_method)m))), m);
    CHECK_STR(rtsp_method_name(RTSP_METHOD_RECORD), 6, "RECORD");
}

static void test_builder_request_round_trip(void)
{
    char buf[512];
    struct rtsp_builder b;
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    CHECK(rtsp_build_request(&b, "ANNOUNCE", "rtsp://h:8554/live"));
    CHECK(rtsp_build_headerf(&b, "CSeq", "%d", 7));
    CHECK(rtsp_build_header(&b, "Content-Type", "application/sdp"));
    CHECK(rtsp_build_header(&b, "Session", "12345678;timeout=60"));
    int n = rtsp_build_finish(&b, "v=0\r\n", 5);
    CHECK(n > 0);
    const char *expect = "ANNOUNCE rtsp://h:8554/live RTSP/1.0\r\nCSeq: 7\r\n"
                         "Content-Type: application/sdp\r\nSession: 12345678;timeout=60\r\n"
                         "Content-Length: 5\r\n\r\nv=0\r\n";
    CHECK_STR(buf, n, expect);
    CHECK_EQ_INT(rtsp_parse(buf, (size_t)n, &strict, &msg, hdrs, MAXH, &err), n);
    CHECK_EQ_INT(msg.method_id, RTSP_METHOD_ANNOUNCE);
    CHECK_STR(msg.uri.ptr, msg.uri.len, "rtsp://h:8554/live");
    CHECK_EQ_INT(msg.num_headers, 4);
    CHECK_STR(msg.body.ptr, msg.body.len, "v=0\r\n");

    /* parse -> build -> identical bytes for a canonical message */
    char again[512];
    rtsp_builder_init(&b, again, sizeof(again), 0);
    char method[32], uri[64];
    snprintf(method, sizeof(method), "%.*s", (int)msg.method.len, msg.method.ptr);
    snprintf(uri, sizeof(uri), "%.*s", (int)msg.uri.len, msg.uri.ptr);
    rtsp_build_request(&b, method, uri);
    for (size_t i = 0; i < msg.num_headers; i++)
        if (!wire_str_caseeq(hdrs[i].name, "Content-Length"))
            rtsp_build_header_str(&b, hdrs[i].name, hdrs[i].value);
    int m = rtsp_build_finish(&b, msg.body.ptr, msg.body.len);
    CHECK_EQ_INT(m, n);
    CHECK(m == n && memcmp(buf, again, (size_t)n) == 0);
}

static void test_builder_response_and_lab(void)
{
    char buf[256];
    struct rtsp_builder b;
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    CHECK(rtsp_build_response(&b, 454, NULL));
    CHECK(rtsp_build_header(&b, "CSeq", "3"));
    int n = rtsp_build_finish(&b, NULL, 0);
    CHECK_STR(buf, n, "RTSP/1.0 454 Session Not Found\r\nCSeq: 3\r\n\r\n");
    CHECK_EQ_INT(rtsp_parse(buf, (size_t)n, &strict, &msg, hdrs, MAXH, &err), n);
    CHECK_EQ_INT(msg.status, 454);
    CHECK_STR(msg.reason.ptr, msg.reason.len, "Session Not Found");

    rtsp_builder_init(&b, buf, sizeof(buf), RTSP_BUILD_LF | RTSP_BUILD_NO_FINAL_BLANK_LINE);
    rtsp_build_response(&b, 200, "OK");
    rtsp_build_header(&b, "CSeq", "1");
    rtsp_build_header(&b, "Session", "465641");
    n = rtsp_build_finish(&b, NULL, 0);
    CHECK_STR(buf, n, "RTSP/1.0 200 OK\nCSeq: 1\nSession: 465641");
    CHECK_EQ_INT(rtsp_parse(buf, (size_t)n, &lenient_idle, &msg, hdrs, MAXH, &err), n);
    CHECK_EQ_INT(msg.num_headers, 2);
    rtsp_builder_init(&b, buf, sizeof(buf), RTSP_BUILD_LF | RTSP_BUILD_NO_FINAL_BLANK_LINE);
    rtsp_build_response(&b, 200, "OK");
    CHECK_EQ_INT(rtsp_build_finish(&b, "x", 1), WIRE_ERROR);

    rtsp_builder_init(&b, buf, sizeof(buf), RTSP_BUILD_LF);
    rtsp_build_response(&b, 404, "FILE_NOT_FOUND");
    n = rtsp_build_finish(&b, NULL, 0);
    CHECK_STR(buf, n, "RTSP/1.0 404 FILE_NOT_FOUND\n\n");

    CHECK_STR(rtsp_status_reason(200), 2, "OK");
    CHECK_STR(rtsp_status_reason(461), 21, "Unsupported transport");
    CHECK_STR(rtsp_status_reason(505), 26, "RTSP Version not supported");
    CHECK_STR(rtsp_status_reason(551), 20, "Option not supported");
    CHECK(rtsp_status_reason(299) == NULL);
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    CHECK(!rtsp_build_response(&b, 299, NULL));
    CHECK(rtsp_build_response(&b, 299, "Custom") == false); /* failure sticks */
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    CHECK(!rtsp_build_response(&b, 1000, "x"));
}

static void test_builder_injection_rejected(void)
{
    char buf[256];
    struct rtsp_builder b;
    static const char *const bad_values[] = {"1\r\nSession: evil", "1\nX: y", "1\rX", "a\x7f"};
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        rtsp_builder_init(&b, buf, sizeof(buf), 0);
        rtsp_build_request(&b, "PLAY", "rtsp://h/a");
        CHECK(!rtsp_build_header(&b, "CSeq", bad_values[i]));
        CHECK(b.failed);
        CHECK_EQ_INT(rtsp_build_finish(&b, NULL, 0), WIRE_ERROR);
        CHECK_STR(b.reason, strlen(b.reason), "header value has CR, LF, NUL or control characters");
    }
    char nulv[] = {'a', '\0', 'b'};
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    rtsp_build_request(&b, "PLAY", "rtsp://h/a");
    CHECK(!rtsp_build_header_str(&b, rtsp_str("X"), (struct wire_str){nulv, 3}));
    static const char *const bad_names[] = {"CSeq:", "Bad Name", "X\r\nY", "", "a(b)"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        rtsp_builder_init(&b, buf, sizeof(buf), 0);
        rtsp_build_request(&b, "PLAY", "rtsp://h/a");
        CHECK(!rtsp_build_header(&b, bad_names[i], "1"));
        CHECK_STR(b.reason, strlen(b.reason), "header name is not a token");
    }
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    CHECK(!rtsp_build_request(&b, "PLAY", "rtsp://h/a RTSP/1.0\r\nX:"));
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    CHECK(!rtsp_build_request(&b, "PLAY", ""));
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    CHECK(!rtsp_build_request(&b, "PL AY", "*"));
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    CHECK(!rtsp_build_response(&b, 200, "OK\r\nX: y"));
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    rtsp_build_request(&b, "PLAY", "*");
    CHECK(!rtsp_build_headerf(&b, "X", "%s", "a\nb"));
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    rtsp_build_request(&b, "PLAY", "*");
    CHECK(!rtsp_build_header(&b, "content-length", "5"));
    /* order errors */
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    CHECK(!rtsp_build_header(&b, "CSeq", "1"));
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    CHECK_EQ_INT(rtsp_build_finish(&b, NULL, 0), WIRE_ERROR);
    rtsp_builder_init(&b, buf, sizeof(buf), 0);
    rtsp_build_request(&b, "PLAY", "*");
    CHECK(!rtsp_build_request(&b, "PLAY", "*"));
}

static void test_builder_overflow(void)
{
    const char *full = "OPTIONS * RTSP/1.0\r\nCSeq: 12\r\n\r\n"; /* 32 bytes */
    for (size_t cap = 0; cap <= 32; cap++) {
        char buf[40];
        struct rtsp_builder b;
        rtsp_builder_init(&b, buf, cap, 0);
        rtsp_build_request(&b, "OPTIONS", "*");
        rtsp_build_headerf(&b, "CSeq", "%u", 12u);
        int n = rtsp_build_finish(&b, NULL, 0);
        if (cap < 32) {
            CHECK_EQ_INT(n, WIRE_ERROR);
            CHECK(b.failed && b.len <= cap);
            CHECK(b.reason && strcmp(b.reason, "message does not fit in the buffer") == 0);
        } else {
            CHECK_STR(buf, n, full);
        }
    }
    char small[48];
    struct rtsp_builder b;
    rtsp_builder_init(&b, small, sizeof(small), 0);
    rtsp_build_request(&b, "OPTIONS", "*");
    CHECK(!rtsp_build_headerf(&b, "X", "%0100d", 1));
    CHECK(b.len <= sizeof(small));
}

/* Lab detection: bare LF anywhere, or a bare file name on the first line. */
static void test_request_looks_lab(void)
{
    static const char canonical[] = "SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 8000";
    static const char java[] = "SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n";
    static const char rfc[] = "SETUP rtsp://h:8554/movie.Mjpeg/track0 RTSP/1.0\r\nCSeq: 3\r\n\r\n";
    static const char star[] = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
    static const char reply[] = "RTSP/1.0 200 OK\nCSeq: 1\n";
    static const char cut[] = "SETUP movie.Mjpeg RTSP/1.0";
    CHECK(rtsp_request_looks_lab(canonical, sizeof canonical - 1));
    CHECK(rtsp_request_looks_lab(java, sizeof java - 1));
    CHECK(!rtsp_request_looks_lab(rfc, sizeof rfc - 1));
    CHECK(!rtsp_request_looks_lab(star, sizeof star - 1));
    CHECK(!rtsp_request_looks_lab(reply, sizeof reply - 1));
    CHECK(!rtsp_request_looks_lab(cut, sizeof cut - 1)); /* first line not complete yet */
}

/* A message start: a method and a space, or RTSP/, a cut prefix included. */
static void test_plausible_start(void)
{
    CHECK(rtsp_plausible_start("PLAY rtsp://h/x RTSP/1.0\r\n", 26));
    CHECK(rtsp_plausible_start("RTSP/1.0 200 OK\r\n", 17));
    CHECK(rtsp_plausible_start("TEARD", 5));
    CHECK(!rtsp_plausible_start("GET / HTTP/1.1\r\n", 16));
    CHECK(!rtsp_plausible_start("PLAYX", 5));
    CHECK(!rtsp_plausible_start("", 0));
}

int main(void)
{
    RUN(test_request_looks_lab);
    RUN(test_plausible_start);
    RUN(test_lab_setup_lenient_at_idle);
    RUN(test_lab_setup_needs_idle_or_fails_strict);
    RUN(test_lab_play_and_reply);
    RUN(test_lab_reply_extra_lines_and_mixed_ends);
    RUN(test_lab_other_dialect);
    RUN(test_rfc_options_strict);
    RUN(test_rfc_describe_with_body);
    RUN(test_rfc_setup_play_teardown);
    RUN(test_unknown_method_and_version_parse);
    RUN(test_incremental_bytewise);
    RUN(test_pipelined);
    RUN(test_interleaved_mixed_stream);
    RUN(test_resync);
    RUN(test_header_lookup_and_duplicates);
    RUN(test_error_truncated_and_oversized);
    RUN(test_error_too_many_headers);
    RUN(test_error_content_length);
    RUN(test_error_line_ends_and_bytes);
    RUN(test_error_start_lines);
    RUN(test_error_header_lines);
    RUN(test_deviation_overflow_and_names);
    RUN(test_method_names);
    RUN(test_builder_request_round_trip);
    RUN(test_builder_response_and_lab);
    RUN(test_builder_injection_rejected);
    RUN(test_builder_overflow);
    CHECK_DONE();
}
