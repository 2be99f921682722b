/* Unit tests of the SDP parser, its findings, attribute lookups, control URL
 * resolution and the builder. */
#include "check.h"
#include "sdp.h"

static struct wire_str S(const char *s)
{
    struct wire_str w = {s, strlen(s)};
    return w;
}

/* Parse text into static arrays; returns sdp_parse's result. */
static struct sdp_media media[8];
static struct sdp_attr attrs[32];
static struct sdp_finding findings[32];
static struct wire_error perr;

static int parse(struct sdp_session *s, const char *text)
{
    sdp_session_init(s, media, 8, attrs, 32, findings, 32);
    perr.reason = NULL;
    return sdp_parse(text, strlen(text), s, &perr);
}

/* The line of the first finding with this id, or -1. */
static int finding_line(const struct sdp_session *s, const char *id)
{
    for (unsigned i = 0; i < s->finding_count; i++)
        if (strcmp(s->findings[i].id, id) == 0)
            return (int)s->findings[i].line;
    return -1;
}

static void print_findings(const struct sdp_session *s)
{
    for (unsigned i = 0; i < s->finding_count; i++)
        fprintf(stderr, "  finding %s line %u: %s\n", s->findings[i].id, s->findings[i].line,
                s->findings[i].detail);
}

static const char *lab_sdp = "v=0\r\n"
                             "o=- 91565340853 1 IN IP4 127.0.0.1\r\n"
                             "s=Stream\r\n"
                             "c=IN IP4 0.0.0.0\r\n"
                             "t=0 0\r\n"
                             "a=control:*\r\n"
                             "m=video 0 RTP/AVP 26\r\n"
                             "a=control:track0\r\n"
                             "a=framerate:20\r\n";

static void parse_protocol_md_example(void)
{
    struct sdp_session s;
    CHECK_EQ_INT(parse(&s, lab_sdp), strlen(lab_sdp));
    CHECK_EQ_INT(s.finding_count, 0);
    print_findings(&s);
    CHECK_STR(s.version.ptr, s.version.len, "0");
    CHECK_STR(s.origin.username.ptr, s.origin.username.len, "-");
    CHECK_STR(s.origin.sess_id.ptr, s.origin.sess_id.len, "91565340853");
    CHECK_STR(s.origin.sess_version.ptr, s.origin.sess_version.len, "1");
    CHECK_STR(s.origin.nettype.ptr, s.origin.nettype.len, "IN");
    CHECK_STR(s.origin.addrtype.ptr, s.origin.addrtype.len, "IP4");
    CHECK_STR(s.origin.address.ptr, s.origin.address.len, "127.0.0.1");
    CHECK_STR(s.name.ptr, s.name.len, "Stream");
    CHECK(s.c.present);
    CHECK_STR(s.c.address.ptr, s.c.address.len, "0.0.0.0");
    CHECK_EQ_INT(s.c.line, 4);
    CHECK_EQ_INT(s.start_time, 0);
    CHECK_EQ_INT(s.stop_time, 0);
    CHECK_EQ_INT(s.attr_count, 1);
    CHECK_EQ_INT(s.media_count, 1);
    CHECK_EQ_INT(s.line_count, 9);
    CHECK(!s.lf_line_ends);

    const struct sdp_media *m = &s.media[0];
    CHECK_STR(m->media.ptr, m->media.len, "video");
    CHECK_EQ_INT(m->port, 0);
    CHECK_EQ_INT(m->port_count, 1);
    CHECK_STR(m->proto.ptr, m->proto.len, "RTP/AVP");
    CHECK_STR(m->fmts.ptr, m->fmts.len, "26");
    CHECK_EQ_INT(m->line, 7);
    CHECK_EQ_INT(m->attr_first, 1);
    CHECK_EQ_INT(m->attr_count, 2);
    CHECK(!m->c.present);

    struct wire_str ctl;
    CHECK(sdp_control(&s, NULL, &ctl));
    CHECK_STR(ctl.ptr, ctl.len, "*");
    CHECK(sdp_control(&s, m, &ctl));
    CHECK_STR(ctl.ptr, ctl.len, "track0");
    struct sdp_framerate fr;
    CHECK(sdp_media_framerate(&s, m, &fr));
    CHECK_EQ_INT(fr.num, 20);
    CHECK_EQ_INT(fr.den, 1);
    CHECK(fr.fps == 20.0);
    /* Static PT 26 has no rtpmap, and needs none. */
    struct sdp_rtpmap map;
    CHECK(!sdp_media_rtpmap(&s, m, 26, &map));
}

static void bare_lf_is_accepted_and_recorded(void)
{
    const char *text = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=Stream\nc=IN IP4 0.0.0.0\nt=0 0\n"
                       "m=video 0 RTP/AVP 26\na=control:track0\n";
    struct sdp_session s;
    CHECK_EQ_INT(parse(&s, text), strlen(text));
    CHECK(s.lf_line_ends);
    CHECK_EQ_INT(s.finding_count, 1);
    CHECK_EQ_INT(finding_line(&s, SDP_LINE_ENDING_LF), 1);
    CHECK_EQ_INT(s.media_count, 1);
    struct wire_str ctl;
    CHECK(sdp_control(&s, &s.media[0], &ctl));
    CHECK_STR(ctl.ptr, ctl.len, "track0");
}

/* RFC 4566 section 5 example. */
static void parse_rfc4566_example(void)
{
    const char *text = "v=0\r\n"
                       "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
                       "s=SDP Seminar\r\n"
                       "i=A Seminar on the session description protocol\r\n"
                       "u=http://www.example.com/seminars/sdp.pdf\r\n"
                       "e=j.doe@example.com (Jane Doe)\r\n"
                       "c=IN IP4 224.2.17.12/127\r\n"
                       "t=2873397496 2873404696\r\n"
                       "a=recvonly\r\n"
                       "m=audio 49170 RTP/AVP 0\r\n"
                       "m=video 51372 RTP/AVP 99\r\n"
                       "a=rtpmap:99 h263-1998/90000\r\n";
    struct sdp_session s;
    CHECK_EQ_INT(parse(&s, text), strlen(text));
    CHECK_EQ_INT(s.finding_count, 0);
    print_findings(&s);
    CHECK_STR(s.origin.username.ptr, s.origin.username.len, "jdoe");
    CHECK_STR(s.origin.address.ptr, s.origin.address.len, "10.47.16.5");
    CHECK_STR(s.name.ptr, s.name.len, "SDP Seminar");
    CHECK_STR(s.info.ptr, s.info.len, "A Seminar on the session description protocol");
    CHECK_STR(s.uri.ptr, s.uri.len, "http://www.example.com/seminars/sdp.pdf");
    CHECK_STR(s.c.address.ptr, s.c.address.len, "224.2.17.12/127");
    CHECK_EQ_INT(s.start_time, 2873397496ull);
    CHECK_EQ_INT(s.stop_time, 2873404696ull);
    CHECK_STR(s.t_start.ptr, s.t_start.len, "2873397496");
    CHECK_EQ_INT(s.attr_count, 1);
    CHECK_STR(s.attrs[0].name.ptr, s.attrs[0].name.len, "recvonly");
    CHECK(s.attrs[0].value.ptr == NULL);
    CHECK_EQ_INT(s.media_count, 2);
    CHECK_EQ_INT(s.media[0].port, 49170);
    CHECK_STR(s.media[0].media.ptr, s.media[0].media.len, "audio");
    CHECK_EQ_INT(s.media[0].attr_count, 0);
    CHECK_EQ_INT(s.media[1].port, 51372);
    struct sdp_rtpmap map;
    CHECK(sdp_media_rtpmap(&s, &s.media[1], 99, &map));
    CHECK_EQ_INT(map.pt, 99);
    CHECK_STR(map.encoding.ptr, map.encoding.len, "h263-1998");
    CHECK_EQ_INT(map.clock_rate, 90000);
    CHECK_EQ_INT(map.channels, 0);
    CHECK(!sdp_media_rtpmap(&s, &s.media[0], 99, &map)); /* other section */
    CHECK(sdp_attr_next(&s, NULL, "recvonly", NULL) == &s.attrs[0]);
    CHECK(sdp_attr_next(&s, NULL, "recvonly", &s.attrs[0]) == NULL);
    CHECK(sdp_attr_next(&s, &s.media[0], "recvonly", NULL) == NULL);
}

/* What gst-rtsp-server sends for H.264 and AAC. */
static void h264_and_aac_lookups(void)
{
    const char *text =
        "v=0\r\n"
        "o=- 1188340656180883 1 IN IP4 127.0.0.1\r\n"
        "s=Session streamed with GStreamer\r\n"
        "t=0 0\r\n"
        "a=range:npt=0-596.48\r\n"
        "m=video 0 RTP/AVP 96\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "b=AS:2000\r\n"
        "a=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 packetization-mode=1;profile-level-id=42c01f;sprop-parameter-sets=Z0LAH9kA,aMuMsg==\r\n"
        "a=control:stream=0\r\n"
        "a=framerate:30000/1001\r\n"
        "m=audio 0 RTP/AVP 97\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "a=rtpmap:97 mpeg4-generic/48000/2\r\n"
        "a=fmtp:97 streamtype=5; profile-level-id=2; mode=AAC-hbr; config=1190\r\n"
        "a=control:stream=1\r\n"
        "a=range:npt=now-\r\n";
    struct sdp_session s;
    CHECK_EQ_INT(parse(&s, text), strlen(text));
    CHECK_EQ_INT(s.finding_count, 0);
    print_findings(&s);
    CHECK_EQ_INT(s.media_count, 2);
    const struct sdp_media *v = &s.media[0], *a = &s.media[1];
    CHECK_EQ_INT(v->bw_count, 1);
    CHECK_STR(v->bw[0].bwtype.ptr, v->bw[0].bwtype.len, "AS");
    CHECK_EQ_INT(v->bw[0].bandwidth, 2000);
    CHECK(v->c.present);

    struct sdp_fmtp fmtp;
    struct wire_str val;
    CHECK(sdp_media_fmtp(&s, v, 96, &fmtp));
    CHECK_EQ_INT(fmtp.pt, 96);
    CHECK(sdp_fmtp_param(fmtp.params, "profile-level-id", &val));
    CHECK_STR(val.ptr, val.len, "42c01f");
    CHECK(sdp_fmtp_param(fmtp.params, "sprop-parameter-sets", &val));
    CHECK_STR(val.ptr, val.len, "Z0LAH9kA,aMuMsg==");
    CHECK(sdp_fmtp_param(fmtp.params, "PACKETIZATION-MODE", &val));
    CHECK_STR(val.ptr, val.len, "1");
    CHECK(!sdp_fmtp_param(fmtp.params, "mode", &val));
    CHECK(!sdp_media_fmtp(&s, v, 97, &fmtp));

    struct sdp_rtpmap map;
    CHECK(sdp_media_rtpmap(&s, a, 97, &map));
    CHECK_STR(map.encoding.ptr, map.encoding.len, "mpeg4-generic");
    CHECK_EQ_INT(map.clock_rate, 48000);
    CHECK_EQ_INT(map.channels, 2);
    CHECK(sdp_media_fmtp(&s, a, 97, &fmtp));
    CHECK(sdp_fmtp_param(fmtp.params, "config", &val));
    CHECK_STR(val.ptr, val.len, "1190");
    CHECK(sdp_fmtp_param(fmtp.params, "mode", &val));
    CHECK_STR(val.ptr, val.len, "AAC-hbr");

    struct sdp_framerate fr;
    CHECK(sdp_media_framerate(&s, v, &fr));
    CHECK_EQ_INT(fr.num, 30000);
    CHECK_EQ_INT(fr.den, 1001);
    CHECK(fr.fps > 29.97 && fr.fps < 29.971);
    CHECK(!sdp_media_framerate(&s, a, &fr));

    struct sdp_range r;
    CHECK(sdp_media_range(&s, v, &r)); /* falls back to the session's */
    CHECK(!r.start_now);
    CHECK(r.start_s == 0);
    CHECK(r.has_end);
    CHECK(r.end_s > 596.479 && r.end_s < 596.481);
    CHECK(sdp_media_range(&s, a, &r));
    CHECK(r.start_now);
    CHECK(!r.has_end);
}

static void framerate_and_range_values(void)
{
    struct sdp_framerate fr;
    CHECK(sdp_parse_framerate(S("29.97"), &fr));
    CHECK_EQ_INT(fr.num, 2997);
    CHECK_EQ_INT(fr.den, 100);
    CHECK(sdp_parse_framerate(S(" 25 "), &fr));
    CHECK_EQ_INT(fr.num, 25);
    CHECK(sdp_parse_framerate(S("12."), &fr));
    CHECK_EQ_INT(fr.num, 12);
    CHECK(!sdp_parse_framerate(S("30000/0"), &fr));
    CHECK(!sdp_parse_framerate(S(""), &fr));
    CHECK(!sdp_parse_framerate(S("fast"), &fr));
    CHECK(!sdp_parse_framerate(S("-5"), &fr));
    CHECK(!sdp_parse_framerate(S(".5"), &fr));
    CHECK(!sdp_parse_framerate(S("1.0000000001"), &fr)); /* beyond 9 decimals */

    struct sdp_range r;
    CHECK(sdp_parse_npt_range(S("npt=0.000-"), &r));
    CHECK(!r.has_end);
    CHECK(sdp_parse_npt_range(S("npt=1:02:03.5-2:00:00"), &r));
    CHECK(r.start_s == 3723.5);
    CHECK(r.end_s == 7200.0);
    CHECK(sdp_parse_npt_range(S("npt=-10"), &r));
    CHECK(r.start_s == 0 && r.has_end && r.end_s == 10.0);
    CHECK(!sdp_parse_npt_range(S("npt=-"), &r));
    CHECK(!sdp_parse_npt_range(S("smpte=10:07:00-10:07:33:05.01"), &r));
    CHECK(!sdp_parse_npt_range(S("clock=19961108T142300Z-"), &r));
    CHECK(!sdp_parse_npt_range(S("npt=1:2:03-"), &r));  /* minutes need 2 digits */
    CHECK(!sdp_parse_npt_range(S("npt=0:00:60-"), &r)); /* seconds below 60 */
    CHECK(!sdp_parse_npt_range(S("npt=0-now"), &r));
    CHECK(!sdp_parse_npt_range(S("npt=abc-"), &r));
}

static void rtpmap_values(void)
{
    struct sdp_rtpmap map;
    CHECK(sdp_parse_rtpmap(S("0 PCMU/8000"), &map));
    CHECK_EQ_INT(map.clock_rate, 8000);
    CHECK(!sdp_parse_rtpmap(S("128 X/90000"), &map));
    CHECK(!sdp_parse_rtpmap(S("96 H264"), &map));
    CHECK(!sdp_parse_rtpmap(S("96 /90000"), &map));
    CHECK(!sdp_parse_rtpmap(S("96 H264/0"), &map));
    CHECK(!sdp_parse_rtpmap(S("96 H264/90000/0"), &map));
    CHECK(!sdp_parse_rtpmap(S("96 H264/ninety"), &map));
    CHECK(!sdp_parse_rtpmap(S("96 H264/90000 extra"), &map));
    CHECK(!sdp_parse_rtpmap(S("x H264/90000"), &map));
    CHECK(!sdp_parse_rtpmap(S("96 L16/44100/2/1"), &map));
    CHECK(!sdp_parse_rtpmap(S("96 H264/4294967296"), &map));
}

static void empty_description_misses_everything(void)
{
    struct sdp_session s;
    CHECK_EQ_INT(parse(&s, ""), 0);
    CHECK_EQ_INT(finding_line(&s, SDP_V_MISSING), 0);
    CHECK_EQ_INT(finding_line(&s, SDP_O_MISSING), 0);
    CHECK_EQ_INT(finding_line(&s, SDP_S_MISSING), 0);
    CHECK_EQ_INT(finding_line(&s, SDP_T_MISSING), 0);
    CHECK_EQ_INT(finding_line(&s, SDP_M_NONE), 0);
    CHECK_EQ_INT(s.finding_count, 5);
}

/* A non-SDP DESCRIBE body, as some lab servers send. */
static void lab_text_body_is_all_findings(void)
{
    struct sdp_session s;
    CHECK_EQ_INT(parse(&s, "movie.Mjpeg 500 frames\n"), 23);
    CHECK_EQ_INT(finding_line(&s, SDP_LINE_MALFORMED), 1);
    CHECK(sdp_has_finding(&s, SDP_LINE_ENDING_LF));
    CHECK(sdp_has_finding(&s, SDP_V_MISSING));
    CHECK(sdp_has_finding(&s, SDP_M_NONE));
    CHECK(!sdp_has_finding(&s, SDP_V_NOT_FIRST));
}

static void each_finding_has_its_line(void)
{
    const char *text = "o=- 1 1 IN IP4 h\r\n"          /* 1 */
                       "v=1\r\n"                        /* 2: not first, not 0 */
                       "s=\r\n"                         /* 3: empty */
                       "s=Again\r\n"                    /* 4: duplicate */
                       "t=0\r\n"                        /* 5: malformed */
                       "c=IN IP4 0.0.0.0\r\n"           /* 6: order (c before t) */
                       "b=AS\r\n"                       /* 7: malformed b */
                       "x=unknown\r\n"                  /* 8: unknown type */
                       "bad line\r\n"                   /* 9: malformed */
                       "\r\n"                           /* 10: empty */
                       "a=\r\n"                         /* 11: empty attribute */
                       "a=tool:x \r\n"                  /* 12: trailing space */
                       "m=video\r\n"                    /* 13: malformed m */
                       "m=video 0 RTP/AVP 96 97\r\n"    /* 14: 96 and 97 lack rtpmap */
                       "a=rtpmap:97 H264\r\n"           /* 15: malformed rtpmap */
                       "t=0 0\r\n"                      /* 16: t in media: order */
                       "a=x:\rz\r\n"                    /* 17: stray CR */
                       "o=- 1 1 IN IP4";               /* 18: order, no line end */
    struct sdp_session s;
    CHECK_EQ_INT(parse(&s, text), strlen(text));
    CHECK_EQ_INT(finding_line(&s, SDP_V_NOT_FIRST), 2);
    CHECK_EQ_INT(finding_line(&s, SDP_ORDER), 2); /* v after o */
    CHECK_EQ_INT(finding_line(&s, SDP_V_VALUE), 2);
    CHECK_EQ_INT(finding_line(&s, SDP_S_EMPTY), 3);
    CHECK_EQ_INT(finding_line(&s, SDP_LINE_DUPLICATE), 4);
    CHECK_EQ_INT(finding_line(&s, SDP_T_MALFORMED), 5);
    CHECK_EQ_INT(finding_line(&s, SDP_B_MALFORMED), 7);
    CHECK_EQ_INT(finding_line(&s, SDP_LINE_UNKNOWN), 8);
    CHECK_EQ_INT(finding_line(&s, SDP_LINE_MALFORMED), 9);
    CHECK_EQ_INT(finding_line(&s, SDP_LINE_EMPTY), 10);
    CHECK_EQ_INT(finding_line(&s, SDP_A_MALFORMED), 11);
    CHECK_EQ_INT(finding_line(&s, SDP_LINE_TRAILING_SPACE), 12);
    CHECK_EQ_INT(finding_line(&s, SDP_M_MALFORMED), 13);
    CHECK_EQ_INT(finding_line(&s, SDP_RTPMAP_MALFORMED), 15);
    CHECK_EQ_INT(finding_line(&s, SDP_RTPMAP_MISSING), 14);
    CHECK_EQ_INT(finding_line(&s, SDP_LINE_ENDING_MISSING), 18);
    CHECK(!sdp_has_finding(&s, SDP_C_MISSING));
    CHECK(!sdp_has_finding(&s, SDP_T_MISSING)); /* present, if malformed */
    CHECK(!sdp_has_finding(&s, SDP_LINE_ENDING_LF));

    int order_lines[8], n = 0, malformed17 = 0, rtpmap_missing = 0;
    for (unsigned i = 0; i < s.finding_count; i++) {
        if (strcmp(s.findings[i].id, SDP_ORDER) == 0 && n < 8)
            order_lines[n++] = (int)s.findings[i].line;
        if (strcmp(s.findings[i].id, SDP_LINE_MALFORMED) == 0 && s.findings[i].line == 17)
            malformed17++;
        if (strcmp(s.findings[i].id, SDP_RTPMAP_MISSING) == 0)
            rtpmap_missing++;
    }
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(order_lines[1], 6);
    CHECK_EQ_INT(order_lines[2], 7); /* b after t */
    CHECK_EQ_INT(order_lines[3], 16);
    CHECK_EQ_INT(order_lines[4], 18);
    CHECK_EQ_INT(malformed17, 1);
    CHECK_EQ_INT(rtpmap_missing, 2);
    /* The malformed m= still opens a section, so its attributes do not leak. */
    CHECK_EQ_INT(s.media_count, 2);
    CHECK_EQ_INT(s.media[0].attr_count, 0);
    CHECK_EQ_INT(s.media[1].attr_count, 1);
    CHECK_EQ_INT(s.attr_count, 1);
    /* Offsets point at the start of the line. */
    for (unsigned i = 0; i < s.finding_count; i++)
        if (s.findings[i].line == 12)
            CHECK(memcmp(text + s.findings[i].offset, "a=tool:x ", 9) == 0);
    CHECK_STR(s.name.ptr, s.name.len, "");
}

static void rfc_empty_name_is_not_a_finding(void)
{
    const char *text = "v=0\r\no=- 1 1 IN IP4 h\r\ns= \r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
                       "m=video 0 RTP/AVP 26\r\n";
    struct sdp_session s;
    CHECK_EQ_INT(parse(&s, text), strlen(text));
    CHECK_EQ_INT(s.finding_count, 0);
    print_findings(&s);
    CHECK_STR(s.name.ptr, s.name.len, " ");
}

static void connection_missing_from_one_media(void)
{
    const char *text = "v=0\r\no=- 1 1 IN IP4 h\r\ns=x\r\nt=0 0\r\n"
                       "m=video 0 RTP/AVP 26\r\nc=IN IP4 0.0.0.0\r\n"
                       "m=audio 0 RTP/AVP 0\r\n"
                       "m=audio 0 RTP/AVP 8\r\nc=IN IP4\r\n";
    struct sdp_session s;
    CHECK_EQ_INT(parse(&s, text), strlen(text));
    CHECK_EQ_INT(finding_line(&s, SDP_C_MALFORMED), 9);
    int c_missing[4], n = 0;
    for (unsigned i = 0; i < s.finding_count; i++)
        if (strcmp(s.findings[i].id, SDP_C_MISSING) == 0 && n < 4)
            c_missing[n++] = (int)s.findings[i].line;
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(c_missing[0], 7);
    CHECK_EQ_INT(c_missing[1], 8);
    CHECK_EQ_INT(s.finding_count, 3);
}

static void media_port_forms(void)
{
    const char *text = "v=0\r\no=- 1 1 IN IP4 h\r\ns=x\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
                       "m=video 49170/2 RTP/AVP 31 32\r\n"
                       "m=audio 65536 RTP/AVP 0\r\n"
                       "m=audio 5004/0 RTP/AVP 0\r\n"
                       "m=application 9 TCP/RTP/AVP  100  \r\n";
    struct sdp_session s;
    CHECK_EQ_INT(parse(&s, text), strlen(text));
    CHECK_EQ_INT(s.media_count, 4);
    CHECK_EQ_INT(s.media[0].port, 49170);
    CHECK_EQ_INT(s.media[0].port_count, 2);
    struct wire_str rest = s.media[0].fmts, fmt;
    CHECK(sdp_fmt_next(&rest, &fmt));
    CHECK_STR(fmt.ptr, fmt.len, "31");
    CHECK(sdp_fmt_next(&rest, &fmt));
    CHECK_STR(fmt.ptr, fmt.len, "32");
    CHECK(!sdp_fmt_next(&rest, &fmt));
    int malformed = 0;
    for (unsigned i = 0; i < s.finding_count; i++)
        if (strcmp(s.findings[i].id, SDP_M_MALFORMED) == 0)
            malformed += (int)s.findings[i].line;
    CHECK_EQ_INT(malformed, 7 + 8); /* port 65536 and count 0 */
    /* Not RTP/..., so PT 100 needs no rtpmap; trailing space is recorded. */
    CHECK(!sdp_has_finding(&s, SDP_RTPMAP_MISSING));
    CHECK_EQ_INT(finding_line(&s, SDP_LINE_TRAILING_SPACE), 9);
    CHECK_STR(s.media[3].fmts.ptr, s.media[3].fmts.len, "100");
}

static void capacity_is_a_hard_error(void)
{
    struct sdp_session s;
    struct sdp_media one[1];
    struct sdp_attr two[2];
    struct wire_error e = {0, NULL};
    const char *text = "v=0\r\ns=x\r\nm=video 0 RTP/AVP 26\r\nm=audio 0 RTP/AVP 0\r\n";
    sdp_session_init(&s, one, 1, two, 2, NULL, 0);
    CHECK_EQ_INT(sdp_parse(text, strlen(text), &s, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, strlen("v=0\r\ns=x\r\nm=video 0 RTP/AVP 26\r\n"));
    CHECK(strstr(e.reason, "m= sections") != NULL);

    const char *attrs3 = "v=0\r\na=a\r\na=b\r\na=c\r\n";
    sdp_session_init(&s, one, 1, two, 2, NULL, 0);
    CHECK_EQ_INT(sdp_parse(attrs3, strlen(attrs3), &s, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 15);
    CHECK(strstr(e.reason, "attributes") != NULL);

    const char *bw = "v=0\r\nb=AS:1\r\nb=AS:1\r\nb=AS:1\r\nb=AS:1\r\nb=AS:1\r\nb=AS:1\r\nb=AS:1\r\n";
    sdp_session_init(&s, one, 1, two, 2, NULL, 0);
    CHECK_EQ_INT(sdp_parse(bw, strlen(bw), &s, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "b= lines") != NULL);

    /* Findings that do not fit are counted, not an error. */
    struct sdp_finding f[2];
    sdp_session_init(&s, one, 1, two, 2, f, 2);
    CHECK_EQ_INT(sdp_parse("", 0, &s, &e), 0);
    CHECK_EQ_INT(s.finding_count, 2);
    CHECK_EQ_INT(s.findings_dropped, 3);
}

static int resolve(const char *base, const char *control, char *out, size_t cap)
{
    return sdp_resolve_control(base, S(control), out, cap, NULL);
}

static void control_resolution(void)
{
    char out[64];
    CHECK_EQ_INT(resolve("rtsp://h/movie", "track1", out, sizeof(out)), 21);
    CHECK(strcmp(out, "rtsp://h/movie/track1") == 0);
    resolve("rtsp://h/movie/", "track1", out, sizeof(out));
    CHECK(strcmp(out, "rtsp://h/movie/track1") == 0);
    resolve("rtsp://h:8554/live", "*", out, sizeof(out));
    CHECK(strcmp(out, "rtsp://h:8554/live") == 0);
    resolve("rtsp://h/movie/", "rtsp://other:554/x/trackID=1", out, sizeof(out));
    CHECK(strcmp(out, "rtsp://other:554/x/trackID=1") == 0);
    resolve("rtsp://user@h:8554/a/b?q=1", "/c/d", out, sizeof(out));
    CHECK(strcmp(out, "rtsp://user@h:8554/c/d") == 0);
    resolve("rtsp://h", "/c", out, sizeof(out));
    CHECK(strcmp(out, "rtsp://h/c") == 0);
    resolve("rtsp://127.0.0.1:8554/test", "stream=0", out, sizeof(out));
    CHECK(strcmp(out, "rtsp://127.0.0.1:8554/test/stream=0") == 0);
    /* The lab's bare file name as base. */
    resolve("movie.Mjpeg", "track0", out, sizeof(out));
    CHECK(strcmp(out, "movie.Mjpeg/track0") == 0);
    resolve("rtsp://h/movie", " track1 ", out, sizeof(out));
    CHECK(strcmp(out, "rtsp://h/movie/track1") == 0);

    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(sdp_resolve_control("rtsp://h/movie", S("track1"), out, 22, &e), 21);
    CHECK_EQ_INT(sdp_resolve_control("rtsp://h/movie", S("track1"), out, 21, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "does not fit") != NULL);
    CHECK_EQ_INT(sdp_resolve_control("rtsp://h/movie", S(""), out, sizeof(out), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "empty") != NULL);
    CHECK_EQ_INT(sdp_resolve_control("rtsp://h/m", S("a\r\nX: y"), out, sizeof(out), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "CR") != NULL);
    CHECK_EQ_INT(sdp_resolve_control("rtsp://h/m", S("a b"), out, sizeof(out), &e), WIRE_ERROR);
    CHECK_EQ_INT(sdp_resolve_control("", S("track1"), out, sizeof(out), &e), WIRE_ERROR);
    CHECK_EQ_INT(sdp_resolve_control(NULL, S("*"), out, sizeof(out), &e), WIRE_ERROR);
    CHECK_EQ_INT(sdp_resolve_control("rtsp://h/m x", S("t"), out, sizeof(out), &e), WIRE_ERROR);
    /* An absolute control needs no base. */
    CHECK_EQ_INT(sdp_resolve_control(NULL, S("rtsp://h/t"), out, sizeof(out), &e), 10);
}

static void builder_writes_a_description_that_parses_clean(void)
{
    char buf[512];
    struct sdp_builder b;
    struct wire_error e = {0, NULL};
    sdp_builder_init(&b, buf, sizeof(buf));
    CHECK_EQ_INT(sdp_add_line(&b, 'v', S("0"), &e), 5);
    CHECK(sdp_add_linef(&b, &e, 'o', "- %llu 1 IN IP4 %s", 91565340853ull, "127.0.0.1") > 0);
    CHECK(sdp_add_line(&b, 's', S("Stream"), &e) > 0);
    CHECK(sdp_add_line(&b, 'c', S("IN IP4 0.0.0.0"), &e) > 0);
    CHECK(sdp_add_line(&b, 't', S("0 0"), &e) > 0);
    CHECK(sdp_add_attr(&b, S("control"), S("*"), &e) > 0);
    CHECK(sdp_add_linef(&b, &e, 'm', "video %d RTP/AVP %d", 0, 26) > 0);
    CHECK(sdp_add_attr(&b, S("control"), S("track0"), &e) > 0);
    CHECK(sdp_add_attr(&b, S("framerate"), S("20"), &e) > 0);
    CHECK(sdp_add_attr(&b, S("recvonly"), (struct wire_str){NULL, 0}, &e) > 0);
    CHECK_EQ_INT(b.len, strlen(buf));
    CHECK(strncmp(buf, lab_sdp, strlen(lab_sdp)) == 0);
    CHECK(strcmp(buf + strlen(lab_sdp), "a=recvonly\r\n") == 0);

    struct sdp_session s;
    CHECK_EQ_INT(parse(&s, buf), b.len);
    CHECK_EQ_INT(s.finding_count, 0);
    CHECK_EQ_INT(s.media[0].attr_count, 3);
}

static void builder_refuses_injection_and_overflow(void)
{
    char buf[16];
    struct sdp_builder b;
    struct wire_error e = {0, NULL};
    sdp_builder_init(&b, buf, sizeof(buf));
    CHECK_EQ_INT(sdp_add_line(&b, 's', S("x\r\na=evil"), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "CR, LF") != NULL);
    CHECK_EQ_INT(sdp_add_line(&b, 's', S("x\na"), &e), WIRE_ERROR);
    struct wire_str nul = {"a\0b", 3};
    CHECK_EQ_INT(sdp_add_line(&b, 's', nul, &e), WIRE_ERROR);
    CHECK_EQ_INT(sdp_add_line(&b, 'S', S("x"), &e), WIRE_ERROR);
    CHECK_EQ_INT(sdp_add_linef(&b, &e, 'i', "%s", "a\r\nb"), WIRE_ERROR);
    CHECK_EQ_INT(sdp_add_linef(&b, &e, '=', "%d", 1), WIRE_ERROR);
    CHECK_EQ_INT(sdp_add_attr(&b, S("a:b"), S("c"), &e), WIRE_ERROR);
    CHECK_EQ_INT(sdp_add_attr(&b, S(""), S("c"), &e), WIRE_ERROR);
    CHECK_EQ_INT(sdp_add_attr(&b, S("x"), S("\n"), &e), WIRE_ERROR);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(buf[0], 0);

    /* 16 bytes: "s=01234567890\r\n" is 15 + NUL; one more byte does not fit. */
    CHECK_EQ_INT(sdp_add_line(&b, 's', S("012345678901"), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "does not fit") != NULL);
    CHECK_EQ_INT(sdp_add_line(&b, 's', S("01234567890"), &e), 15);
    CHECK_EQ_INT(sdp_add_line(&b, 'v', S(""), &e), WIRE_ERROR);
    CHECK(strcmp(buf, "s=01234567890\r\n") == 0);

    sdp_builder_init(&b, buf, sizeof(buf));
    CHECK_EQ_INT(sdp_add_linef(&b, &e, 's', "%s", "012345678901"), WIRE_ERROR);
    CHECK_EQ_INT(buf[0], 0);
    CHECK_EQ_INT(sdp_add_linef(&b, &e, 's', "%s", "01234567890"), 15);
    CHECK(strcmp(buf, "s=01234567890\r\n") == 0);
    CHECK_EQ_INT(sdp_add_linef(&b, &e, 'v', "%d", 0), WIRE_ERROR);
    CHECK(strcmp(buf, "s=01234567890\r\n") == 0);
}

int main(void)
{
    RUN(parse_protocol_md_example);
    RUN(bare_lf_is_accepted_and_recorded);
    RUN(parse_rfc4566_example);
    RUN(h264_and_aac_lookups);
    RUN(framerate_and_range_values);
    RUN(rtpmap_values);
    RUN(empty_description_misses_everything);
    RUN(lab_text_body_is_all_findings);
    RUN(each_finding_has_its_line);
    RUN(rfc_empty_name_is_not_a_finding);
    RUN(connection_missing_from_one_media);
    RUN(media_port_forms);
    RUN(capacity_is_a_hard_error);
    RUN(control_resolution);
    RUN(builder_writes_a_description_that_parses_clean);
    RUN(builder_refuses_injection_and_overflow);
    CHECK_DONE();
}
