/* Unit tests for the RTSP header value parsers (harness/wire/rtsp_hdr.h):
 * CSeq, Session, Transport (every RFC 2326 12.39 parameter, the lab's
 * RTP/UDP form), Range, Public, WWW-Authenticate, Authorization. */
#include "check.h"
#include "rtsp_hdr.h"

static struct wire_error err;
static struct rtsp_deviations dev;

static struct wire_str S(const char *s) { return rtsp_str(s); }

static void reset(void)
{
    memset(&dev, 0, sizeof(dev));
    err.offset = 0;
    err.reason = NULL;
}

#define CHECK_REASON(s) CHECK_STR(err.reason, err.reason ? strlen(err.reason) : 0, s)

static void test_cseq(void)
{
    uint32_t c = 0;
    reset();
    CHECK_EQ_INT(rtsp_parse_cseq(S("1"), RTSP_STRICT, &c, &dev, &err), 1);
    CHECK_EQ_INT(c, 1);
    CHECK_EQ_INT(rtsp_parse_cseq(S("4294967295"), RTSP_STRICT, &c, &dev, &err), 10);
    CHECK_EQ_INT(c, 4294967295u);
    CHECK_EQ_INT(rtsp_parse_cseq(S("4294967296"), RTSP_STRICT, &c, &dev, &err), WIRE_ERROR);
    CHECK_REASON("CSeq is not a number below 2^32");
    CHECK_EQ_INT(rtsp_parse_cseq(S(""), RTSP_LENIENT, &c, &dev, &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_parse_cseq(S("12a"), RTSP_LENIENT, &c, &dev, &err), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 2);
    CHECK_EQ_INT(rtsp_parse_cseq(S("CSeq: 1"), RTSP_LENIENT, &c, &dev, &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_parse_cseq(S("-1"), RTSP_LENIENT, &c, &dev, &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_parse_cseq(S(" 5 "), RTSP_STRICT, &c, &dev, &err), WIRE_ERROR);
    CHECK_EQ_INT(dev.count, 0);
    CHECK_EQ_INT(rtsp_parse_cseq(S(" 5 "), RTSP_LENIENT, &c, &dev, &err), 3);
    CHECK_EQ_INT(c, 5);
    CHECK_EQ_INT(dev.count, 1);
    CHECK_EQ_INT(dev.rec[0].kind, RTSP_DEV_VALUE_WHITESPACE);
}

static void test_session(void)
{
    struct rtsp_session s;
    reset();
    CHECK_EQ_INT(rtsp_parse_session(S("465641"), RTSP_STRICT, &s, &dev, &err), 6);
    CHECK_STR(s.id.ptr, s.id.len, "465641");
    CHECK(!s.has_timeout);
    CHECK_EQ_INT(rtsp_parse_session(S("66334873;timeout=60"), RTSP_STRICT, &s, &dev, &err), 19);
    CHECK_STR(s.id.ptr, s.id.len, "66334873");
    CHECK(s.has_timeout);
    CHECK_EQ_INT(s.timeout_s, 60);
    CHECK_EQ_INT(rtsp_parse_session(S("0f8fad5b-d9cb-469f-a165-70867728950e; timeout=30"),
                                    RTSP_STRICT, &s, &dev, &err),
                 48);
    CHECK_STR(s.id.ptr, s.id.len, "0f8fad5b-d9cb-469f-a165-70867728950e");
    CHECK_EQ_INT(s.timeout_s, 30);
    CHECK_EQ_INT(rtsp_parse_session(S("ab$-_.+9;x=1"), RTSP_STRICT, &s, &dev, &err), 12);
    CHECK_EQ_INT(s.unknown_params, 1);
    CHECK_EQ_INT(dev.count, 0);

    CHECK_EQ_INT(rtsp_parse_session(S("1 723126"), RTSP_STRICT, &s, &dev, &err), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 1);
    CHECK_REASON("invalid character in Session id");
    CHECK_EQ_INT(rtsp_parse_session(S("1 723126"), RTSP_LENIENT, &s, &dev, &err), 8);
    CHECK_STR(s.id.ptr, s.id.len, "1 723126");
    CHECK(rtsp_deviations_has(&dev, RTSP_DEV_SESSION_ID_CHARSET));

    reset();
    CHECK_EQ_INT(rtsp_parse_session(S("12;timeout = 60"), RTSP_STRICT, &s, &dev, &err),
                 WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 11);
    CHECK_EQ_INT(rtsp_parse_session(S("12;timeout = 60"), RTSP_LENIENT, &s, &dev, &err), 15);
    CHECK_EQ_INT(s.timeout_s, 60);
    CHECK(rtsp_deviations_has(&dev, RTSP_DEV_SPACE_AROUND_EQUALS));

    CHECK_EQ_INT(rtsp_parse_session(S(""), RTSP_LENIENT, &s, &dev, &err), WIRE_ERROR);
    CHECK_REASON("Session id is empty");
    CHECK_EQ_INT(rtsp_parse_session(S(";timeout=5"), RTSP_LENIENT, &s, &dev, &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_parse_session(S("1;timeout=x"), RTSP_LENIENT, &s, &dev, &err), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 10);
    CHECK_EQ_INT(rtsp_parse_session(S("1;timeout=4294967296"), RTSP_STRICT, &s, &dev, &err),
                 WIRE_ERROR);
    CHECK_EQ_INT(rtsp_parse_session(S("1;timeout="), RTSP_STRICT, &s, &dev, &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_parse_session(S("1;timeout=5;timeout=6"), RTSP_STRICT, &s, &dev, &err),
                 WIRE_ERROR);
    CHECK_EQ_INT(rtsp_parse_session(S("1;timeout=5;timeout=6"), RTSP_LENIENT, &s, &dev, &err),
                 21);
    CHECK_EQ_INT(s.timeout_s, 6);
    CHECK_EQ_INT(rtsp_parse_session(S("1\r\nX: y"), RTSP_LENIENT, &s, &dev, &err), WIRE_ERROR);
}

static struct rtsp_transport tr[4];
static size_t ntr;

static int transport(const char *s, enum rtsp_mode mode)
{
    reset();
    return rtsp_parse_transport(S(s), mode, tr, 4, &ntr, &dev, &err);
}

/* parse -> format gives back exactly the canonical text */
static void round_trip(const char *s)
{
    CHECK_EQ_INT(transport(s, RTSP_STRICT), strlen(s));
    CHECK_EQ_INT(ntr, 1);
    char out[256];
    int n = rtsp_format_transport(&tr[0], out, sizeof(out));
    CHECK_STR(out, n > 0 ? n : 0, s);
    for (size_t cap = 0; cap < strlen(s); cap++)
        CHECK_EQ_INT(rtsp_format_transport(&tr[0], out, cap), WIRE_ERROR);
}

static void test_transport_lab(void)
{
    const char *lab = "RTP/UDP; client_port= 8000";
    CHECK_EQ_INT(transport(lab, RTSP_STRICT), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 4);
    CHECK_REASON("transport spec lacks the profile (RTP/AVP)");
    CHECK_EQ_INT(transport(lab, RTSP_LENIENT), strlen(lab));
    CHECK_EQ_INT(ntr, 1);
    CHECK_STR(tr[0].protocol.ptr, tr[0].protocol.len, "RTP");
    CHECK_EQ_INT(tr[0].profile.len, 0);
    CHECK_STR(tr[0].lower.ptr, tr[0].lower.len, "UDP");
    CHECK_EQ_INT(tr[0].lower_kind, RTSP_LOWER_UDP);
    CHECK_EQ_INT(tr[0].client_port.count, 1);
    CHECK_EQ_INT(tr[0].client_port.first, 8000);
    CHECK_EQ_INT(dev.count, 2);
    CHECK_EQ_INT(dev.rec[0].kind, RTSP_DEV_TRANSPORT_RTP_UDP);
    CHECK_EQ_INT(dev.rec[0].offset, 4);
    CHECK_EQ_INT(dev.rec[1].kind, RTSP_DEV_SPACE_AROUND_EQUALS);
    CHECK_EQ_INT(dev.rec[1].offset, 20);
    char out[64];
    int n = rtsp_format_transport(&tr[0], out, sizeof(out));
    CHECK_STR(out, n > 0 ? n : 0, "RTP/UDP;client_port=8000");
    /* the space after ';' alone is fine in strict mode */
    CHECK_EQ_INT(transport("RTP/AVP; unicast; client_port=8000", RTSP_STRICT), 34);
}

static void test_transport_rfc_examples(void)
{
    CHECK_EQ_INT(transport("RTP/AVP;unicast;client_port=4588-4589", RTSP_STRICT), 37);
    CHECK_STR(tr[0].profile.ptr, tr[0].profile.len, "AVP");
    CHECK_EQ_INT(tr[0].lower.len, 0);
    CHECK(tr[0].has_cast && !tr[0].multicast);
    CHECK_EQ_INT(tr[0].client_port.count, 2);
    CHECK_EQ_INT(tr[0].client_port.first, 4588);
    CHECK_EQ_INT(tr[0].client_port.second, 4589);
    CHECK_EQ_INT(tr[0].server_port.count, 0);

    const char *reply = "RTP/AVP;unicast;client_port=4588-4589;server_port=6256-6257";
    CHECK_EQ_INT(transport(reply, RTSP_STRICT), strlen(reply));
    CHECK_EQ_INT(tr[0].server_port.first, 6256);
    CHECK_EQ_INT(tr[0].server_port.second, 6257);

    CHECK_EQ_INT(transport("RTP/AVP/TCP;interleaved=0-1", RTSP_STRICT), 27);
    CHECK_EQ_INT(tr[0].lower_kind, RTSP_LOWER_TCP);
    CHECK_EQ_INT(tr[0].interleaved.count, 2);
    CHECK_EQ_INT(tr[0].interleaved.first, 0);
    CHECK_EQ_INT(tr[0].interleaved.second, 1);

    const char *mc = "RTP/AVP;multicast;destination=224.2.0.1;port=3456-3457;ttl=16;layers=2";
    CHECK_EQ_INT(transport(mc, RTSP_STRICT), strlen(mc));
    CHECK(tr[0].multicast);
    CHECK_STR(tr[0].destination.ptr, tr[0].destination.len, "224.2.0.1");
    CHECK_EQ_INT(tr[0].port.first, 3456);
    CHECK(tr[0].has_ttl);
    CHECK_EQ_INT(tr[0].ttl, 16);
    CHECK_EQ_INT(tr[0].layers, 2);

    const char *rec = "RTP/AVP;multicast;destination=224.2.0.1;source=10.0.0.1;append;"
                      "mode=receive";
    CHECK_EQ_INT(transport(rec, RTSP_STRICT), WIRE_ERROR);
    CHECK_REASON("mode is not PLAY or RECORD");
    const char *rec2 = "RTP/AVP;multicast;destination;source=10.0.0.1;append;mode=record";
    CHECK_EQ_INT(transport(rec2, RTSP_STRICT), strlen(rec2));
    CHECK(tr[0].has_destination);
    CHECK_EQ_INT(tr[0].destination.len, 0);
    CHECK_STR(tr[0].source.ptr, tr[0].source.len, "10.0.0.1");
    CHECK(tr[0].append);
    CHECK_EQ_INT(tr[0].mode_methods, RTSP_METHOD_BIT(RTSP_METHOD_RECORD));
}

static void test_transport_gstreamer_reply_and_alternatives(void)
{
    const char *g = "RTP/AVP;unicast;client_port=5000-5001;server_port=56400-56401;"
                    "ssrc=1A2B3C4D;mode=\"PLAY\"";
    CHECK_EQ_INT(transport(g, RTSP_STRICT), strlen(g));
    CHECK(tr[0].has_ssrc);
    CHECK_EQ_INT(tr[0].ssrc, 0x1A2B3C4Du);
    CHECK_EQ_INT(tr[0].mode_methods, RTSP_METHOD_BIT(RTSP_METHOD_PLAY));

    const char *alts = "RTP/AVP;unicast;client_port=4588-4589, RTP/AVP/TCP;interleaved=2-3,"
                       "RTP/AVP/UDP;unicast;client_port=6000";
    CHECK_EQ_INT(transport(alts, RTSP_STRICT), strlen(alts));
    CHECK_EQ_INT(ntr, 3);
    CHECK_STR(tr[1].spec.ptr, tr[1].spec.len, "RTP/AVP/TCP;interleaved=2-3");
    CHECK_EQ_INT(tr[1].interleaved.first, 2);
    CHECK_STR(tr[2].lower.ptr, tr[2].lower.len, "UDP");
    CHECK_EQ_INT(tr[2].client_port.count, 1);
    CHECK_EQ_INT(tr[2].client_port.first, 6000);

    struct rtsp_transport one;
    size_t n;
    reset();
    CHECK_EQ_INT(rtsp_parse_transport(S(alts), RTSP_STRICT, &one, 1, &n, &dev, &err),
                 WIRE_ERROR);
    CHECK_REASON("more Transport alternatives than the caller's array holds");
    CHECK_EQ_INT(err.offset, 38);

    /* a comma inside quotes does not split alternatives */
    const char *q = "RTP/AVP;mode=\"PLAY,RECORD\"";
    CHECK_EQ_INT(transport(q, RTSP_STRICT), strlen(q));
    CHECK_EQ_INT(ntr, 1);
    CHECK_EQ_INT(tr[0].mode_methods,
                 RTSP_METHOD_BIT(RTSP_METHOD_PLAY) | RTSP_METHOD_BIT(RTSP_METHOD_RECORD));
}

static void test_transport_errors(void)
{
    CHECK_EQ_INT(transport("RTP/AVP;client_port=65536", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 20);
    CHECK_REASON("client_port is not a number 0-65535");
    CHECK_EQ_INT(transport("RTP/AVP;client_port=80a0", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 22);
    CHECK_EQ_INT(transport("RTP/AVP;client_port=8000-", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP;server_port=-1", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP;client_port=", RTSP_LENIENT), WIRE_ERROR);
    CHECK_REASON("transport parameter needs a value");
    CHECK_EQ_INT(transport("RTP/AVP;client_port", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP/TCP;interleaved=256", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP;multicast;ttl=300", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP;ssrc=xyz", RTSP_LENIENT), WIRE_ERROR);
    CHECK_REASON("ssrc is not hexadecimal");
    CHECK_EQ_INT(transport("RTP/AVP;ssrc=123456789", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP;ssrc=1234", RTSP_STRICT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP;ssrc=1234", RTSP_LENIENT), 17);
    CHECK_EQ_INT(tr[0].ssrc, 0x1234);
    CHECK(rtsp_deviations_has(&dev, RTSP_DEV_SHORT_SSRC));
    CHECK_EQ_INT(transport("RTP/AVP;unicast=1", RTSP_LENIENT), WIRE_ERROR);
    CHECK_REASON("transport parameter takes no value");
    CHECK_EQ_INT(transport("RTP", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP/SCTP", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP/UDP/X", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP//UDP", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP,,RTP/AVP", RTSP_LENIENT), WIRE_ERROR);
    CHECK_REASON("empty transport alternative");
    CHECK_EQ_INT(transport("RTP/AVP;mode=\"PLAY", RTSP_LENIENT), WIRE_ERROR);
    CHECK_REASON("unterminated quoted string");
    CHECK_EQ_INT(transport("RTP/AVP;mode=PLAY\"", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP;=5", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP;client_port=1;client_port=2", RTSP_STRICT), WIRE_ERROR);
    CHECK_REASON("transport parameter given twice");
    CHECK_EQ_INT(transport("RTP/AVP;client_port=1;client_port=2", RTSP_LENIENT), 35);
    CHECK_EQ_INT(tr[0].client_port.first, 2);
    CHECK(rtsp_deviations_has(&dev, RTSP_DEV_DUPLICATE_PARAMETER));
    CHECK_EQ_INT(transport("RTP/AVP;unicast;multicast", RTSP_STRICT), WIRE_ERROR);
    CHECK_EQ_INT(transport("RTP/AVP;client_port = 8000", RTSP_STRICT), WIRE_ERROR);
    CHECK_REASON("whitespace around '=' in parameter");
    /* unknown parameters are ignored and counted, trailing ';' tolerated */
    CHECK_EQ_INT(transport("RTP/AVP;unicast;x-dummy=1;rtcp-mux;", RTSP_STRICT), 35);
    CHECK_EQ_INT(tr[0].unknown_params, 2);
}

static void test_transport_format_round_trip(void)
{
    round_trip("RTP/AVP;unicast;client_port=4588-4589");
    round_trip("RTP/AVP;unicast;client_port=4588-4589;server_port=6256-6257");
    round_trip("RTP/AVP/TCP;interleaved=0-1");
    round_trip("RTP/AVP/UDP;unicast;client_port=8000");
    round_trip("RTP/AVP;multicast;destination=224.2.0.1;ttl=127;layers=3;port=3456-3457");
    round_trip("RTP/AVP;unicast;destination;source=10.0.0.2;append;client_port=1-2;"
               "ssrc=0000ABCD;mode=\"RECORD\"");
    round_trip("RTP/AVP;unicast;client_port=5000-5001;server_port=56400-56401;"
               "ssrc=DEADBEEF;mode=\"PLAY\"");
    /* a struct built in code */
    struct rtsp_transport t;
    memset(&t, 0, sizeof(t));
    t.lower_kind = RTSP_LOWER_TCP;
    t.has_cast = true;
    t.interleaved = (struct rtsp_pair){2, 4, 5};
    char out[64];
    int n = rtsp_format_transport(&t, out, sizeof(out));
    CHECK_STR(out, n > 0 ? n : 0, "RTP/AVP/TCP;unicast;interleaved=4-5");
}

static struct rtsp_range rg;

static int range(const char *s, enum rtsp_mode mode)
{
    reset();
    return rtsp_parse_range(S(s), mode, &rg, &dev, &err);
}

static void test_range_npt(void)
{
    CHECK_EQ_INT(range("npt=0-", RTSP_STRICT), 6);
    CHECK_EQ_INT(rg.kind, RTSP_RANGE_NPT);
    CHECK(rg.start.present && !rg.start.now);
    CHECK_EQ_INT(rg.start.us, 0);
    CHECK(!rg.end.present);
    CHECK_EQ_INT(range("npt=1.5-10", RTSP_STRICT), 10);
    CHECK_EQ_INT(rg.start.us, 1500000);
    CHECK_EQ_INT(rg.end.us, 10000000);
    CHECK_EQ_INT(range("npt=10-15", RTSP_STRICT), 9);
    CHECK_EQ_INT(rg.end.us - rg.start.us, 5000000);
    CHECK_EQ_INT(range("npt=now-", RTSP_STRICT), 8);
    CHECK(rg.start.now);
    CHECK_EQ_INT(range("npt=-20", RTSP_STRICT), 7);
    CHECK(!rg.start.present);
    CHECK_EQ_INT(rg.end.us, 20000000);
    CHECK_EQ_INT(range("npt=0.000-", RTSP_STRICT), 10);
    CHECK_EQ_INT(range("npt=00:01:02.25-1:00:00", RTSP_STRICT), 23);
    CHECK_EQ_INT(rg.start.us, 62250000);
    CHECK_EQ_INT(rg.end.us, 3600000000ull);
    CHECK_EQ_INT(range("npt=0.1234567-", RTSP_STRICT), 14);
    CHECK_EQ_INT(rg.start.us, 123456);
    CHECK_EQ_INT(range("npt=10-15;time=19970123T153600Z", RTSP_STRICT), 31);
    CHECK_STR(rg.time.ptr, rg.time.len, "19970123T153600Z");
    CHECK_STR(rg.raw.ptr, rg.raw.len, "10-15");
}

static void test_range_other_units_and_errors(void)
{
    CHECK_EQ_INT(range("smpte=10:07:00-10:07:33:05.01", RTSP_STRICT), 29);
    CHECK_EQ_INT(rg.kind, RTSP_RANGE_SMPTE);
    CHECK_STR(rg.raw.ptr, rg.raw.len, "10:07:00-10:07:33:05.01");
    CHECK_EQ_INT(range("smpte-25=10:07:00-", RTSP_STRICT), 18);
    CHECK_EQ_INT(range("clock=19961108T142300Z-19961108T143520Z", RTSP_STRICT), 39);
    CHECK_EQ_INT(rg.kind, RTSP_RANGE_CLOCK);

    CHECK_EQ_INT(range("npt=15-10", RTSP_LENIENT), WIRE_ERROR);
    CHECK_REASON("npt range ends before it starts");
    CHECK_EQ_INT(err.offset, 7);
    CHECK_EQ_INT(range("npt=", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(range("npt=-", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(range("npt=5", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(range("npt=abc-", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 4);
    CHECK_EQ_INT(range("npt=1:60:00-", RTSP_LENIENT), WIRE_ERROR);
    CHECK_REASON("npt minutes or seconds above 59");
    CHECK_EQ_INT(range("npt=1:20-", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(range("npt=1.2.3-", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(range("npt=99999999999999999999-", RTSP_LENIENT), WIRE_ERROR);
    CHECK_REASON("npt time too large");
    CHECK_EQ_INT(range("npt=277777778:00:00-", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(range("foo=1-2", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(range("npt", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(range("clock=19961108T142300Z", RTSP_LENIENT), WIRE_ERROR);
    CHECK_EQ_INT(range("npt=0-;speed=2", RTSP_LENIENT), WIRE_ERROR);
    CHECK_REASON("unknown Range parameter");
    CHECK_EQ_INT(range("npt = 0-", RTSP_STRICT), WIRE_ERROR);
    CHECK_EQ_INT(range("npt = 0-", RTSP_LENIENT), 8);
    CHECK(rtsp_deviations_has(&dev, RTSP_DEV_SPACE_AROUND_EQUALS));
}

static void test_methods(void)
{
    uint32_t mask;
    size_t unknown;
    reset();
    const char *pub = "OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE";
    CHECK_EQ_INT(rtsp_parse_methods(S(pub), &mask, &unknown, &err), strlen(pub));
    CHECK_EQ_INT(mask, RTSP_METHOD_BIT(RTSP_METHOD_OPTIONS) | RTSP_METHOD_BIT(RTSP_METHOD_DESCRIBE) |
                           RTSP_METHOD_BIT(RTSP_METHOD_SETUP) |
                           RTSP_METHOD_BIT(RTSP_METHOD_TEARDOWN) |
                           RTSP_METHOD_BIT(RTSP_METHOD_PLAY) | RTSP_METHOD_BIT(RTSP_METHOD_PAUSE));
    CHECK_EQ_INT(unknown, 0);
    CHECK_EQ_INT(rtsp_parse_methods(S("GET_PARAMETER,,LIST ,FORWARD,RECORD"), &mask, &unknown,
                                    &err),
                 35);
    CHECK_EQ_INT(unknown, 2);
    CHECK_EQ_INT(mask, RTSP_METHOD_BIT(RTSP_METHOD_GET_PARAMETER) |
                           RTSP_METHOD_BIT(RTSP_METHOD_RECORD));
    CHECK_EQ_INT(rtsp_parse_methods(S(""), &mask, &unknown, &err), 0);
    CHECK_EQ_INT(mask, 0);
    CHECK_EQ_INT(rtsp_parse_methods(S("OPTIONS, PL AY"), &mask, &unknown, &err), WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 9);
}

static void test_www_authenticate(void)
{
    struct rtsp_challenge c;
    char out[64];
    reset();
    const char *d = "Digest realm=\"LIVE555 Streaming Media\", nonce=\"4f9b3c\", "
                    "algorithm=MD5, qop=\"auth\", opaque=\"x\", stale=TRUE, "
                    "domain=\"/ rtsp://h/\", charset=UTF-8";
    CHECK_EQ_INT(rtsp_parse_www_authenticate(S(d), &c, &err), strlen(d));
    CHECK_EQ_INT(c.scheme, RTSP_AUTH_DIGEST);
    CHECK_STR(c.realm.ptr, c.realm.len, "LIVE555 Streaming Media");
    CHECK_STR(c.nonce.ptr, c.nonce.len, "4f9b3c");
    CHECK_STR(c.algorithm.ptr, c.algorithm.len, "MD5");
    CHECK_STR(c.qop.ptr, c.qop.len, "auth");
    CHECK_STR(c.opaque.ptr, c.opaque.len, "x");
    CHECK_STR(c.domain.ptr, c.domain.len, "/ rtsp://h/");
    CHECK(c.stale);
    CHECK_EQ_INT(c.unknown_params, 1);

    const char *esc = "Basic realm=\"a \\\"quoted\\\" \\\\ realm\"";
    CHECK_EQ_INT(rtsp_parse_www_authenticate(S(esc), &c, &err), strlen(esc));
    CHECK_EQ_INT(c.scheme, RTSP_AUTH_BASIC);
    CHECK_STR(c.realm.ptr, c.realm.len, "a \\\"quoted\\\" \\\\ realm");
    int n = rtsp_unquote(c.realm, out, sizeof(out));
    CHECK_STR(out, n > 0 ? n : 0, "a \"quoted\" \\ realm");
    CHECK_EQ_INT(rtsp_unquote(c.realm, out, 5), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_unquote(S("abc\\"), out, sizeof(out)), WIRE_ERROR);

    /* two challenges in one value: the first stops before the second */
    const char *two = "Digest realm=\"r\", nonce=\"n\", Basic realm=\"r\"";
    int first = rtsp_parse_www_authenticate(S(two), &c, &err);
    CHECK_EQ_INT(first, 29); /* through ", " */
    CHECK_EQ_INT(c.scheme, RTSP_AUTH_DIGEST);
    CHECK_STR(c.nonce.ptr, c.nonce.len, "n");
    CHECK_EQ_INT(rtsp_parse_www_authenticate(S(two + 29), &c, &err), strlen(two) - 29);
    CHECK_EQ_INT(c.scheme, RTSP_AUTH_BASIC);
    CHECK_EQ_INT(rtsp_parse_www_authenticate(S("Negotiate, Basic realm=\"x\""), &c, &err), 11);
    CHECK_EQ_INT(c.scheme, RTSP_AUTH_OTHER);

    CHECK_EQ_INT(rtsp_parse_www_authenticate(S("Digest realm=\"r"), &c, &err), WIRE_ERROR);
    CHECK_REASON("unterminated quoted string");
    CHECK_EQ_INT(rtsp_parse_www_authenticate(S(""), &c, &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_parse_www_authenticate(S("Digest realm=\"a\" nonce=\"b\""), &c, &err),
                 WIRE_ERROR);
    CHECK_EQ_INT(rtsp_parse_www_authenticate(S("Digest realm=\"a\", realm=\"b\""), &c, &err),
                 WIRE_ERROR);
    CHECK_REASON("auth-param given twice");
    CHECK_EQ_INT(rtsp_parse_www_authenticate(S("Digest realm="), &c, &err), WIRE_ERROR);
}

static void test_authorization(void)
{
    struct rtsp_authorization a;
    char scratch[64];
    reset();
    const char *b = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==";
    CHECK_EQ_INT(rtsp_parse_authorization(S(b), &a, scratch, sizeof(scratch), &err), strlen(b));
    CHECK_EQ_INT(a.scheme, RTSP_AUTH_BASIC);
    CHECK_STR(a.username.ptr, a.username.len, "Aladdin");
    CHECK_STR(a.password.ptr, a.password.len, "open sesame");
    CHECK_EQ_INT(rtsp_parse_authorization(S(b), &a, scratch, 10, &err), WIRE_ERROR);
    CHECK_REASON("decoded base64 does not fit the buffer");
    CHECK_EQ_INT(rtsp_parse_authorization(S("Basic QWxhZGRpbg=="), &a, scratch, 64, &err),
                 WIRE_ERROR);
    CHECK_REASON("Basic credentials have no ':'");
    CHECK_EQ_INT(rtsp_parse_authorization(S("Basic QWx!ZGRpbg=="), &a, scratch, 64, &err),
                 WIRE_ERROR);
    CHECK_EQ_INT(err.offset, 9);
    CHECK_EQ_INT(rtsp_parse_authorization(S("Basic "), &a, scratch, 64, &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_parse_authorization(S("Basic dTpw"), &a, scratch, 64, &err), 10);
    CHECK_STR(a.username.ptr, a.username.len, "u");
    CHECK_STR(a.password.ptr, a.password.len, "p");

    const char *d = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
                    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
                    "qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
                    "response=\"6629fae49393a05397450978507c4ef1\", "
                    "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    CHECK_EQ_INT(rtsp_parse_authorization(S(d), &a, NULL, 0, &err), strlen(d));
    CHECK_EQ_INT(a.scheme, RTSP_AUTH_DIGEST);
    CHECK_STR(a.username.ptr, a.username.len, "Mufasa");
    CHECK_STR(a.realm.ptr, a.realm.len, "testrealm@host.com");
    CHECK_STR(a.nonce.ptr, a.nonce.len, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
    CHECK_STR(a.uri.ptr, a.uri.len, "/dir/index.html");
    CHECK_STR(a.qop.ptr, a.qop.len, "auth");
    CHECK_STR(a.nc.ptr, a.nc.len, "00000001");
    CHECK_STR(a.cnonce.ptr, a.cnonce.len, "0a4f113b");
    CHECK_STR(a.response.ptr, a.response.len, "6629fae49393a05397450978507c4ef1");
    CHECK_STR(a.opaque.ptr, a.opaque.len, "5ccc069c403ebaf9f0171e9517f40e41");
    CHECK_EQ_INT(a.unknown_params, 0);

    CHECK_EQ_INT(rtsp_parse_authorization(S("Digest username=\"u\", realm=\"r\", nonce=\"n\", "
                                            "uri=\"/\""),
                                          &a, NULL, 0, &err),
                 WIRE_ERROR);
    CHECK_REASON("Digest credentials lack username, realm, nonce, uri or response");
    CHECK_EQ_INT(rtsp_parse_authorization(S("Digest username"), &a, NULL, 0, &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_parse_authorization(S(""), &a, NULL, 0, &err), WIRE_ERROR);
}

static void test_base64(void)
{
    uint8_t out[16];
    CHECK_EQ_INT(rtsp_base64_decode(S("YQ=="), out, sizeof(out), &err), 1);
    CHECK_EQ_INT(out[0], 'a');
    CHECK_EQ_INT(rtsp_base64_decode(S("YQ"), out, sizeof(out), &err), 1);
    CHECK_EQ_INT(rtsp_base64_decode(S("YWI="), out, sizeof(out), &err), 2);
    CHECK_EQ_INT(rtsp_base64_decode(S("YWJj"), out, sizeof(out), &err), 3);
    CHECK_EQ_INT(rtsp_base64_decode(S(""), out, sizeof(out), &err), 0);
    CHECK_EQ_INT(rtsp_base64_decode(S("Y"), out, sizeof(out), &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_base64_decode(S("YQ="), out, sizeof(out), &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_base64_decode(S("Y==="), out, sizeof(out), &err), WIRE_ERROR);
    CHECK_EQ_INT(rtsp_base64_decode(S("YR=="), out, sizeof(out), &err), WIRE_ERROR);
    CHECK_REASON("base64 has non-zero padding bits");
    CHECK_EQ_INT(rtsp_base64_decode(S("YW=I"), out, sizeof(out), &err), WIRE_ERROR);
}

int main(void)
{
    RUN(test_cseq);
    RUN(test_session);
    RUN(test_transport_lab);
    RUN(test_transport_rfc_examples);
    RUN(test_transport_gstreamer_reply_and_alternatives);
    RUN(test_transport_errors);
    RUN(test_transport_format_round_trip);
    RUN(test_range_npt);
    RUN(test_range_other_units_and_errors);
    RUN(test_methods);
    RUN(test_www_authenticate);
    RUN(test_authorization);
    RUN(test_base64);
    CHECK_DONE();
}
