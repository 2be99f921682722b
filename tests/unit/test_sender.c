/* Unit tests for the RTP sending side of the server (harness/server/
 * sender.c): RTP headers in the RFC 2435 dialect (one per packet, V=2,
 * PT 26, consecutive sequence numbers across the 16-bit wrap, one timestamp
 * per frame, marker on the last packet, counters) and in the lab dialect
 * (one per frame, seq = frame + 1); RTP timestamps at 20, 30 and 29.97 fps;
 * due times; the RTCP compound (SR + SDES CNAME, plus BYE) and its RTP time
 * of the moment; reference counting that closes the sockets on the last
 * unref; and the sender threads end to end over loopback UDP: a whole
 * stream in order, paced, complete and followed by RTCP BYE, a looping
 * stream that stops within a frame of being paused, the lab dialect's one
 * datagram per frame, a pool stopped with sessions still playing, and the
 * fall-back to sendmmsg when the kernel refuses UDP GSO. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "check.h"
#include "fixture/pattern.h"
#include "jpeg.h"
#include "mjpeg.h"
#include "rtcp.h"
#include "rtp.h"
#include "rtpjpeg.h"
#include "server/sender.h"

#define MS 1000000ull
#define NFRAMES 5
#define FPS 50
#define PERIOD_NS (1000000000ull / FPS)

/* ---- helpers ---- */

/* A media stream of made-up frames for the header tests (no payload bytes
 * are read by rtp_out_headers). */
static struct media_stream fake_stream(double fps)
{
    struct media_stream s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "fake.Mjpeg");
    s.fps = fps;
    s.nframes = 100;
    return s;
}

struct hdr {
    int version;
    bool marker;
    int pt;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
};

static struct hdr decode_hdr(const uint8_t *h)
{
    struct hdr d = {
        .version = h[0] >> 6,
        .marker = (h[1] & 0x80) != 0,
        .pt = h[1] & 0x7f,
        .seq = wire_get_be16(h + 2),
        .ts = wire_get_be32(h + 4),
        .ssrc = wire_get_be32(h + 8),
    };
    return d;
}

/* ---- rtp_out_headers ---- */

static void test_rfc_headers_one_per_packet_consecutive_seq_with_wrap(void)
{
    struct media_stream s = fake_stream(25);
    struct media_frame f = {.npackets = 6, .payload_size = 1360, .last_size = 77, .jpeg_len = 7000};
    struct rtp_out *o = rtp_out_new();
    CHECK(o != NULL);
    if (!o)
        return;
    o->stream = &s;
    o->ssrc = 0xCAFEBABE;
    o->ts_base = 123456;
    o->seq = 65533;
    o->frame = 7;
    CHECK_EQ_INT(rtp_out_next_seq(o), 65533);
    uint8_t hdrs[8][RTP_HEADER_LEN];
    memset(hdrs, 0xEE, sizeof hdrs);
    CHECK_EQ_INT(rtp_out_headers(o, &f, hdrs), 6);
    static const uint16_t want_seq[6] = {65533, 65534, 65535, 0, 1, 2};
    for (int k = 0; k < 6; k++) {
        struct hdr h = decode_hdr(hdrs[k]);
        CHECK_EQ_INT(h.version, 2);
        CHECK_EQ_INT(hdrs[k][0] & 0x3f, 0); /* no padding, extension or CSRCs */
        CHECK_EQ_INT(h.pt, RTP_JPEG_PT);
        CHECK_EQ_INT(h.pt, 26);
        CHECK_EQ_INT(h.seq, want_seq[k]);
        CHECK_EQ_INT(h.ts, 123456u + 7u * 90000u / 25u);
        CHECK_EQ_INT(h.ssrc, 0xCAFEBABE);
        CHECK_EQ_INT(h.marker, k == 5);
        /* the wire parser agrees */
        struct rtp_header ph;
        struct wire_error err;
        CHECK_EQ_INT(rtp_parse(hdrs[k], RTP_HEADER_LEN, &ph, &err), RTP_HEADER_LEN);
    }
    /* nothing written past the packet count */
    CHECK(hdrs[6][0] == 0xEE && hdrs[7][11] == 0xEE);
    CHECK_EQ_INT(o->seq, 3);
    CHECK_EQ_INT(rtp_out_next_seq(o), 3);
    CHECK_EQ_INT(o->frame, 7); /* not advanced by rtp_out_headers */
    /* the next frame carries on from there */
    o->frame = 8;
    struct media_frame g = {.npackets = 1, .payload_size = 500, .last_size = 500, .jpeg_len = 600};
    CHECK_EQ_INT(rtp_out_headers(o, &g, hdrs), 1);
    struct hdr h = decode_hdr(hdrs[0]);
    CHECK_EQ_INT(h.seq, 3);
    CHECK(h.marker);
    CHECK_EQ_INT(h.ts, 123456u + 8u * 3600u);
    CHECK_EQ_INT(o->seq, 4);
    rtp_out_unref(o);
}

static void test_rfc_headers_count_packets_and_payload_octets(void)
{
    struct media_stream s = fake_stream(20);
    struct rtp_out *o = rtp_out_new();
    if (!o)
        return;
    o->stream = &s;
    o->seq = 100;
    uint8_t hdrs[40][RTP_HEADER_LEN];
    struct media_frame f1 = {.npackets = 20, .payload_size = 1360, .last_size = 999, .jpeg_len = 28000};
    struct media_frame f2 = {.npackets = 3, .payload_size = 200, .last_size = 200, .jpeg_len = 700};
    CHECK_EQ_INT(rtp_out_headers(o, &f1, hdrs), 20);
    CHECK_EQ_INT(o->packets, 20);
    CHECK_EQ_INT(o->octets, 19 * 1360 + 999);
    o->frame++;
    CHECK_EQ_INT(rtp_out_headers(o, &f2, hdrs), 3);
    CHECK_EQ_INT(o->packets, 23);
    CHECK_EQ_INT(o->octets, 19 * 1360 + 999 + 600);
    CHECK_EQ_INT(o->seq, 123);
    rtp_out_unref(o);
}

static void test_lab_header_one_per_frame_seq_is_frame_plus_one(void)
{
    struct media_stream s = fake_stream(20);
    struct rtp_out *o = rtp_out_new();
    if (!o)
        return;
    o->stream = &s;
    o->lab = true;
    o->ssrc = 42;
    o->ts_base = 1000;
    o->seq = 500; /* not used by the lab dialect */
    struct media_frame f = {.npackets = 9, .payload_size = 1360, .last_size = 10, .jpeg_len = 11000};
    uint8_t hdrs[9][RTP_HEADER_LEN];
    memset(hdrs, 0xEE, sizeof hdrs);
    for (uint64_t frame = 0; frame < 3; frame++) {
        o->frame = frame;
        CHECK_EQ_INT(rtp_out_next_seq(o), frame + 1);
        CHECK_EQ_INT(rtp_out_headers(o, &f, hdrs), 1);
        struct hdr h = decode_hdr(hdrs[0]);
        CHECK_EQ_INT(h.version, 2);
        CHECK_EQ_INT(h.pt, 26);
        CHECK(h.marker);
        CHECK_EQ_INT(h.seq, frame + 1);
        CHECK_EQ_INT(h.ts, 1000 + frame * 4500);
        CHECK_EQ_INT(h.ssrc, 42);
        CHECK(hdrs[1][0] == 0xEE);
    }
    CHECK_EQ_INT(o->packets, 3);
    CHECK_EQ_INT(o->octets, 3 * 11000);
    CHECK_EQ_INT(o->seq, 500);
    /* frame 65535 is seq 0 (16 bits) */
    o->frame = 65535;
    rtp_out_headers(o, &f, hdrs);
    CHECK_EQ_INT(decode_hdr(hdrs[0]).seq, 0);
    rtp_out_unref(o);
}

/* ---- timestamps and due times ---- */

static void test_timestamp_is_90khz_per_frame(void)
{
    struct rtp_out *o = rtp_out_new();
    if (!o)
        return;
    struct media_stream s20 = fake_stream(20), s30 = fake_stream(30), s2997 = fake_stream(29.97);
    o->ts_base = 5000;
    o->stream = &s20;
    CHECK_EQ_INT(rtp_out_timestamp(o, 0), 5000);
    CHECK_EQ_INT(rtp_out_timestamp(o, 1), 5000 + 4500);
    CHECK_EQ_INT(rtp_out_timestamp(o, 77), 5000 + 77 * 4500);
    o->stream = &s30;
    CHECK_EQ_INT(rtp_out_timestamp(o, 1), 5000 + 3000);
    CHECK_EQ_INT(rtp_out_timestamp(o, 30), 5000 + 90000);
    o->stream = &s2997;
    /* 90000 / 29.97 = 3003.003 ticks: rounded per frame number, no drift */
    CHECK_EQ_INT(rtp_out_timestamp(o, 1), 5000 + 3003);
    CHECK_EQ_INT(rtp_out_timestamp(o, 2), 5000 + 6006);
    CHECK_EQ_INT(rtp_out_timestamp(o, 500), 5000 + 1501502); /* 1501501.5015 */
    CHECK_EQ_INT(rtp_out_timestamp(o, 1000), 5000 + 3003003);
    CHECK_EQ_INT(rtp_out_timestamp(o, 2997), 5000 + 9000000);
    /* 32-bit wrap: of the base and of a long-running counter */
    o->stream = &s20;
    o->ts_base = 0xFFFFFFFFu;
    CHECK_EQ_INT(rtp_out_timestamp(o, 1), 4499);
    o->ts_base = 7;
    CHECK_EQ_INT(rtp_out_timestamp(o, 1000000), (uint32_t)(7 + 4500000000ull));
    rtp_out_unref(o);
}

static void test_due_ns_spaced_by_frame_period_from_play_start(void)
{
    struct rtp_out *o = rtp_out_new();
    if (!o)
        return;
    struct media_stream s20 = fake_stream(20), s2997 = fake_stream(29.97);
    o->stream = &s20;
    o->play_frame = 40;
    o->play_start_ns = 1000000000000ull;
    CHECK_EQ_INT(rtp_out_due_ns(o, 40), 1000000000000ull);
    CHECK_EQ_INT(rtp_out_due_ns(o, 41), 1000000000000ull + 50 * MS);
    CHECK_EQ_INT(rtp_out_due_ns(o, 42), 1000000000000ull + 100 * MS);
    CHECK_EQ_INT(rtp_out_due_ns(o, 60), 1000000000000ull + 1000 * MS);
    for (uint64_t f = 40; f < 100; f++)
        CHECK_EQ_INT(rtp_out_due_ns(o, f + 1) - rtp_out_due_ns(o, f), 50 * MS);
    o->stream = &s2997;
    o->play_frame = 0;
    CHECK_EQ_INT(rtp_out_due_ns(o, 2997), 1000000000000ull + 100000 * MS);
    rtp_out_unref(o);
}

/* ---- RTCP ---- */

struct rtcp_seen {
    int packets;
    int sr, sdes, bye;
    uint32_t sr_ssrc;
    struct rtcp_sender_info si;
    uint32_t sdes_ssrc;
    char cname[64];
    uint32_t bye_ssrc;
    int bye_count;
    int order[4];
};

/* Walk a compound strictly; returns false when it does not parse. */
static bool walk_rtcp(const uint8_t *buf, size_t len, struct rtcp_seen *seen)
{
    memset(seen, 0, sizeof *seen);
    struct rtcp_iter it;
    struct rtcp_packet pkt;
    struct wire_error err;
    rtcp_iter_init(&it, buf, len, RTCP_STRICT);
    int rc;
    while ((rc = rtcp_iter_next(&it, &pkt, &err)) > 0) {
        if (seen->packets < 4)
            seen->order[seen->packets] = pkt.packet_type;
        seen->packets++;
        if (pkt.packet_type == RTCP_SR) {
            seen->sr++;
            seen->sr_ssrc = pkt.ssrc;
            seen->si = pkt.sender;
        } else if (pkt.packet_type == RTCP_SDES && pkt.count >= 1) {
            seen->sdes++;
            seen->sdes_ssrc = pkt.chunks[0].ssrc;
            if (pkt.chunks[0].cname.ptr)
                snprintf(seen->cname, sizeof seen->cname, "%.*s", (int)pkt.chunks[0].cname.len,
                         pkt.chunks[0].cname.ptr);
        } else if (pkt.packet_type == RTCP_BYE) {
            seen->bye++;
            seen->bye_count = pkt.count;
            seen->bye_ssrc = pkt.count ? pkt.bye_ssrc[0] : 0;
        }
    }
    if (rc < 0)
        fprintf(stderr, "rtcp: %s at %zu\n", err.reason, err.offset);
    return rc == 0;
}

static void test_rtcp_compound_sr_sdes_then_bye(void)
{
    struct media_stream s = fake_stream(25);
    struct rtp_out *o = rtp_out_new();
    if (!o)
        return;
    o->stream = &s;
    o->ssrc = 0x11223344;
    o->ts_base = 999;
    o->frame = 10;
    o->packets = 1234;
    o->octets = 987654;
    snprintf(o->cname, sizeof o->cname, "rtsp-harness@127.0.0.1");
    uint8_t buf[300];
    struct timespec before, after;
    clock_gettime(CLOCK_REALTIME, &before);
    size_t len = rtp_out_rtcp(o, false, buf, sizeof buf);
    clock_gettime(CLOCK_REALTIME, &after);
    CHECK(len > 0 && len % 4 == 0);
    struct rtcp_seen seen;
    CHECK(walk_rtcp(buf, len, &seen));
    CHECK_EQ_INT(seen.packets, 2);
    CHECK_EQ_INT(seen.order[0], RTCP_SR);
    CHECK_EQ_INT(seen.order[1], RTCP_SDES);
    CHECK_EQ_INT(seen.bye, 0);
    CHECK_EQ_INT(seen.sr_ssrc, 0x11223344);
    CHECK_EQ_INT(seen.si.packet_count, 1234);
    CHECK_EQ_INT(seen.si.octet_count, 987654);
    /* not playing: the RTP time is that of the next frame */
    CHECK_EQ_INT(seen.si.rtp_ts, rtp_out_timestamp(o, 10));
    CHECK_EQ_INT(seen.sdes_ssrc, 0x11223344);
    CHECK_STR(seen.cname, strlen(seen.cname), "rtsp-harness@127.0.0.1");
    /* the NTP time is the wall clock */
    struct timespec ntp;
    ntp_to_timespec(seen.si.ntp_ts, &ntp);
    CHECK(ntp.tv_sec >= before.tv_sec && ntp.tv_sec <= after.tv_sec);

    len = rtp_out_rtcp(o, true, buf, sizeof buf);
    CHECK(len > 0);
    CHECK(walk_rtcp(buf, len, &seen));
    CHECK_EQ_INT(seen.packets, 3);
    CHECK_EQ_INT(seen.order[0], RTCP_SR);
    CHECK_EQ_INT(seen.order[1], RTCP_SDES);
    CHECK_EQ_INT(seen.order[2], RTCP_BYE);
    CHECK_EQ_INT(seen.bye_count, 1);
    CHECK_EQ_INT(seen.bye_ssrc, 0x11223344);
    CHECK_EQ_INT(seen.si.packet_count, 1234);

    /* a buffer too small for the compound gives 0 */
    CHECK_EQ_INT(rtp_out_rtcp(o, false, buf, 20), 0);
    size_t full = rtp_out_rtcp(o, true, buf, sizeof buf);
    CHECK_EQ_INT(rtp_out_rtcp(o, true, buf, full - 4), 0);
    CHECK_EQ_INT(rtp_out_rtcp(o, true, buf, full), full);
    rtp_out_unref(o);
}

static void test_rtcp_rtp_time_follows_schedule_while_playing(void)
{
    struct media_stream s = fake_stream(20);
    struct rtp_out *o = rtp_out_new();
    if (!o)
        return;
    o->stream = &s;
    o->ts_base = 0x10000;
    o->playing = true;
    /* frame 10 was due 0.5 s ago: the RTP clock now reads frame 20's time */
    o->play_frame = 0;
    o->play_start_ns = loop_now_ns() - 1000 * MS;
    o->frame = 10;
    uint8_t buf[300];
    size_t len = rtp_out_rtcp(o, false, buf, sizeof buf);
    struct rtcp_seen seen;
    CHECK(len > 0 && walk_rtcp(buf, len, &seen));
    int32_t off = (int32_t)(seen.si.rtp_ts - rtp_out_timestamp(o, 20));
    CHECK(off >= 0 && off < 900); /* within 10 ms of 90 kHz */
    /* frame 30 is due in 0.5 s: the clock reads 45000 ticks before it */
    o->frame = 30;
    len = rtp_out_rtcp(o, false, buf, sizeof buf);
    CHECK(len > 0 && walk_rtcp(buf, len, &seen));
    off = (int32_t)(seen.si.rtp_ts - (rtp_out_timestamp(o, 30) - 45000));
    CHECK(off >= 0 && off < 900);
    rtp_out_unref(o);
}

/* ---- reference counting ---- */

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

static bool fd_closed(int fd)
{
    errno = 0;
    return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static void test_refcount_last_unref_closes_sockets(void)
{
    struct rtp_out *o = rtp_out_new();
    CHECK(o != NULL);
    if (!o)
        return;
    CHECK_EQ_INT(atomic_load(&o->refs), 1);
    CHECK_EQ_INT(o->rtp_fd, -1);
    CHECK_EQ_INT(o->rtcp_fd, -1);
    CHECK(!o->playing && !o->ended && o->frame == 0);
    CHECK_EQ_INT(pthread_mutex_trylock(&o->lock), 0);
    pthread_mutex_unlock(&o->lock);
    int sv[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    o->rtp_fd = sv[0];
    o->rtcp_fd = sv[1];
    rtp_out_ref(o);
    rtp_out_ref(o);
    CHECK_EQ_INT(atomic_load(&o->refs), 3);
    rtp_out_unref(o);
    rtp_out_unref(o);
    CHECK_EQ_INT(atomic_load(&o->refs), 1);
    CHECK(fd_open(sv[0]) && fd_open(sv[1]));
    rtp_out_unref(o); /* the last: closes both and frees (ASan sees a leak otherwise) */
    CHECK(fd_closed(sv[0]));
    CHECK(fd_closed(sv[1]));
    rtp_out_unref(NULL); /* harmless */
}

/* ---- the sender threads over loopback UDP ---- */

static char tmp_root[256];
static char media_dir[512];
static struct media_catalog catalog;
static const struct media_stream *stream; /* NFRAMES frames at FPS */
static bool fixture_ok;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static bool setup_media(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%.200s/test_sender-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmp_root))
        return false;
    snprintf(media_dir, sizeof media_dir, "%s/media", tmp_root);
    if (mkdir(media_dir, 0700) != 0)
        return false;
    struct pattern_options po;
    pattern_options_default(&po);
    struct pattern_encoder e;
    char msg[256];
    if (pattern_encoder_init(&e, &po, msg, sizeof msg) != 0)
        return false;
    struct mjpeg_writer w;
    mjpeg_writer_init_mem(&w);
    bool ok = true;
    for (uint32_t i = 0; i < NFRAMES && ok; i++) {
        uint8_t *jpeg;
        size_t len;
        ok = pattern_encode(&e, i + 1, &jpeg, &len, msg, sizeof msg) == 0 &&
             mjpeg_writer_add(&w, jpeg, len) == 0;
        if (ok)
            free(jpeg);
    }
    pattern_encoder_free(&e);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/s.Mjpeg", media_dir);
    FILE *f = ok ? fopen(path, "wb") : NULL;
    ok = f && fwrite(w.buf, 1, w.len, f) == w.len;
    if (f)
        ok = fclose(f) == 0 && ok;
    mjpeg_writer_free(&w);
    snprintf(path, sizeof path, "%s/s.Mjpeg.fps", media_dir);
    f = ok ? fopen(path, "w") : NULL;
    ok = f && fprintf(f, "%d\n", FPS) > 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    if (!ok)
        return false;
    FILE *errlog = tmpfile();
    int n = media_load(&catalog, media_dir, 25, rtpjpeg_max_payload_for_mtu(1400),
                       errlog ? errlog : stderr);
    if (errlog)
        fclose(errlog);
    /* the catalogue holds everything in memory: the files can go now */
    if (strstr(tmp_root, "test_sender-"))
        nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    stream = n == 1 ? &catalog.streams[0] : NULL;
    return stream && stream->fps == FPS && stream->nframes == NFRAMES && stream->max_packets > 1;
}

static void teardown_media(void)
{
    media_free(&catalog);
    if (tmp_root[0] && strstr(tmp_root, "test_sender-")) /* left by a failed setup */
        nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* One receiving socket bound on 127.0.0.1 and one sending socket connected to it. */
struct udp_link {
    int rx;
    int tx;
};

static bool udp_link_open(struct udp_link *u)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    u->rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    u->tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int big = 4 << 20, one = 1;
    setsockopt(u->rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(u->rx, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = u->rx >= 0 && u->tx >= 0 &&
              bind(u->rx, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(u->rx, (struct sockaddr *)&a, &alen) == 0 &&
              bind(u->tx, (struct sockaddr *)&local, sizeof local) == 0 &&
              connect(u->tx, (struct sockaddr *)&a, sizeof a) == 0;
    if (!ok)
        perror("udp link");
    return ok;
}

/* A session on stream with fresh links; the rtp_out owns the tx sockets. */
static struct rtp_out *session_new(struct udp_link *rtp, struct udp_link *rtcp, bool loop, bool lab,
                                   unsigned owner)
{
    if (!udp_link_open(rtp) || !udp_link_open(rtcp))
        return NULL;
    struct rtp_out *o = rtp_out_new();
    if (!o)
        return NULL;
    o->stream = stream;
    o->loop = loop;
    o->lab = lab;
    o->rtp_fd = rtp->tx;
    o->rtcp_fd = rtcp->tx;
    o->ssrc = 0x5EED0000u + owner;
    o->ts_base = 0xFFFFF000u; /* wraps during the run */
    o->seq = 65530;           /* so does the sequence number */
    o->owner = owner;
    snprintf(o->cname, sizeof o->cname, "test-%u@127.0.0.1", owner);
    return o;
}

/* Play o from frame 0 now, as PLAY does; returns the time frame 0 is due. */
static uint64_t session_play(struct sender_pool *p, struct rtp_out *o)
{
    uint64_t start = loop_now_ns();
    pthread_mutex_lock(&o->lock);
    o->frame = 0;
    o->play_frame = 0;
    o->play_start_ns = start;
    o->next_sr_ns = 0;
    o->playing = true;
    o->ended = false;
    pthread_mutex_unlock(&o->lock);
    sender_submit(p, o);
    return start;
}

/* Wait up to timeout for o's reference count to reach want. */
static bool refs_reach(struct rtp_out *o, int want, uint64_t timeout_ns)
{
    uint64_t end = loop_now_ns() + timeout_ns;
    while (atomic_load(&o->refs) != want) {
        if (loop_now_ns() > end)
            return false;
        usleep(1000);
    }
    return true;
}

/* What a receiver saw of one RTP stream. */
#define MAX_PKTS 2048
#define MAX_FRAMES 64

struct rx_log {
    int npkts;
    uint16_t seq[MAX_PKTS];
    uint32_t ts[MAX_PKTS];
    bool marker[MAX_PKTS];
    size_t size[MAX_PKTS];
    uint64_t at[MAX_PKTS];
    int bad_parse;
    int bad_pt;
    int bad_ssrc;
    uint64_t payload_octets;
    int nframes;                  /* markers seen */
    uint64_t frame_first_at[MAX_FRAMES];
    int frame_complete[MAX_FRAMES];
    bool frame_scan_ok[MAX_FRAMES];
    uint32_t frame_ts[MAX_FRAMES];
    bool new_frame;               /* the next packet starts a frame */
    /* RTCP */
    int rtcp_compounds;
    int rtcp_bad;
    int byes;
    uint64_t bye_at;
    struct rtcp_seen first_rtcp;
    struct rtcp_seen bye_rtcp;
    /* reassembly */
    struct rtpjpeg_depacketizer d;
    uint8_t *dbuf;
};

static void rx_init(struct rx_log *r)
{
    memset(r, 0, sizeof *r);
    r->new_frame = true;
    size_t cap = RTPJPEG_JFIF_HEADER_MAX + (stream ? stream->max_jpeg : 0) + 16;
    r->dbuf = malloc(cap);
    struct wire_error err;
    if (!r->dbuf || rtpjpeg_depacketizer_init(&r->d, r->dbuf, cap, &err) != 0)
        CHECK(!"depacketizer init");
}

static void rx_free(struct rx_log *r)
{
    free(r->dbuf);
}

/* The original scan of file frame k equals the reassembled one. */
static bool scan_matches(const uint8_t *rebuilt, size_t rebuilt_len, uint32_t k)
{
    const struct media_frame *f = &stream->frames[k % stream->nframes];
    struct jpeg_info a, b;
    struct wire_error err;
    if (jpeg_parse(f->jpeg, f->jpeg_len, &a, &err) < 0 ||
        jpeg_parse(rebuilt, rebuilt_len, &b, &err) < 0)
        return false;
    return a.scan.len == b.scan.len && memcmp(a.scan.ptr, b.scan.ptr, a.scan.len) == 0;
}

static void rx_rtp(struct rx_log *r, const uint8_t *buf, size_t len, uint32_t ssrc, bool lab,
                   uint64_t now)
{
    struct rtp_header h;
    struct wire_error err;
    if (rtp_parse(buf, len, &h, &err) != RTP_HEADER_LEN) {
        r->bad_parse++;
        return;
    }
    if (h.payload_type != RTP_JPEG_PT)
        r->bad_pt++;
    if (h.ssrc != ssrc)
        r->bad_ssrc++;
    if (r->npkts < MAX_PKTS) {
        int i = r->npkts++;
        r->seq[i] = h.seq;
        r->ts[i] = h.timestamp;
        r->marker[i] = h.marker;
        r->size[i] = len;
        r->at[i] = now;
    }
    r->payload_octets += h.payload_len;
    int fi = r->nframes;
    if (r->new_frame && fi < MAX_FRAMES) {
        r->frame_first_at[fi] = now;
        r->frame_ts[fi] = h.timestamp;
    }
    r->new_frame = false;
    if (fi < MAX_FRAMES) {
        if (lab) {
            const struct media_frame *f = &stream->frames[(uint32_t)fi % stream->nframes];
            r->frame_complete[fi] = h.payload_len == f->jpeg_len &&
                                    memcmp(h.payload, f->jpeg, f->jpeg_len) == 0;
            r->frame_scan_ok[fi] = r->frame_complete[fi];
        } else if (r->dbuf) {
            int rc = rtpjpeg_depacketize_push(&r->d, h.payload, h.payload_len, h.timestamp,
                                              h.marker, h.seq, &err);
            if (rc == RTPJPEG_COMPLETE) {
                r->frame_complete[fi] = 1;
                r->frame_scan_ok[fi] = scan_matches(r->d.frame, r->d.frame_len, (uint32_t)fi);
            }
        }
    }
    if (h.marker) {
        r->nframes++;
        r->new_frame = true;
    }
}

static void rx_rtcp(struct rx_log *r, const uint8_t *buf, size_t len, uint64_t at)
{
    struct rtcp_seen seen;
    if (!walk_rtcp(buf, len, &seen)) {
        r->rtcp_bad++;
        return;
    }
    if (r->rtcp_compounds++ == 0)
        r->first_rtcp = seen;
    if (seen.bye) {
        r->byes++;
        r->bye_at = at;
        r->bye_rtcp = seen;
    }
}

/* recv() with the kernel's arrival time (SO_TIMESTAMPNS) moved to
 * CLOCK_MONOTONIC, so that a receiver scheduled late does not look like a
 * sender sending late. Over loopback the packet arrives as it is sent. */
static ssize_t recv_stamped(int fd, uint8_t *buf, size_t cap, uint64_t *at)
{
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {buf, cap};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0)
        return n;
    uint64_t mono = loop_now_ns();
    *at = mono;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts, now_rt;
            memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            clock_gettime(CLOCK_REALTIME, &now_rt);
            int64_t age = ((int64_t)now_rt.tv_sec - ts.tv_sec) * 1000000000 +
                          (now_rt.tv_nsec - ts.tv_nsec);
            if (age >= 0 && (uint64_t)age < mono)
                *at = mono - (uint64_t)age;
        }
    return n;
}

/* Receive on both links until deadline (or a BYE, when stop_at_bye). */
static void receive(struct rx_log *r, struct udp_link *rtp, struct udp_link *rtcp, uint32_t ssrc,
                    bool lab, uint64_t deadline, bool stop_at_bye)
{
    static uint8_t buf[70000];
    for (;;) {
        uint64_t now = loop_now_ns();
        /* past the deadline (or after the BYE), drain what is queued once more */
        bool last = now >= deadline || (stop_at_bye && r->byes);
        struct pollfd pfd[2] = {{.fd = rtp->rx, .events = POLLIN}, {.fd = rtcp->rx, .events = POLLIN}};
        int ms = last ? 0 : (int)((deadline - now + MS - 1) / MS);
        if (poll(pfd, 2, ms) < 0 && errno != EINTR)
            return;
        ssize_t n;
        uint64_t at;
        while ((n = recv_stamped(rtp->rx, buf, sizeof buf, &at)) >= 0)
            rx_rtp(r, buf, (size_t)n, ssrc, lab, at);
        while ((n = recv_stamped(rtcp->rx, buf, sizeof buf, &at)) >= 0)
            rx_rtcp(r, buf, (size_t)n, at);
        if (last)
            return;
    }
}

/* Packets in order with consecutive seqs from first_seq; markers end frames. */
static void check_rfc_packets(const struct rx_log *r, uint16_t first_seq, uint32_t ts_base)
{
    size_t max_payload = rtpjpeg_max_payload_for_mtu(1400);
    CHECK_EQ_INT(r->bad_parse, 0);
    CHECK_EQ_INT(r->bad_pt, 0);
    CHECK_EQ_INT(r->bad_ssrc, 0);
    CHECK(r->npkts > 0 && r->npkts < MAX_PKTS);
    int frame = 0, big = 0, in_frame = 0;
    for (int i = 0; i < r->npkts; i++) {
        if (r->seq[i] != (uint16_t)(first_seq + i)) {
            fprintf(stderr, "packet %d: seq %u, expected %u\n", i, r->seq[i],
                    (uint16_t)(first_seq + i));
            CHECK(!"sequence numbers not consecutive");
            break;
        }
        if (r->size[i] > RTP_HEADER_LEN + max_payload)
            big++;
        CHECK_EQ_INT(r->ts[i], (uint32_t)(ts_base + (uint32_t)frame * (90000 / FPS)));
        in_frame++;
        if (r->marker[i]) {
            const struct media_frame *f = &stream->frames[(uint32_t)frame % stream->nframes];
            CHECK_EQ_INT(in_frame, f->npackets);
            in_frame = 0;
            frame++;
        }
    }
    CHECK_EQ_INT(big, 0);
    CHECK_EQ_INT(frame, r->nframes);
    for (int k = 0; k < r->nframes && k < MAX_FRAMES; k++) {
        CHECK(r->frame_complete[k]);
        CHECK(r->frame_scan_ok[k]);
    }
}

/* Timing on a shared machine: a sender thread scheduled a few ms late is
 * the machine, not the code, so lateness is counted here instead of
 * failing at once and a run is repeated (see with_timing_retries). Sending
 * early is never excused. */
static int timing_misses;
static char timing_log[1024];

static void timing_miss(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void timing_miss(const char *fmt, ...)
{
    size_t used = strlen(timing_log);
    timing_misses++;
    va_list ap;
    va_start(ap, fmt);
    if (used < sizeof timing_log)
        vsnprintf(timing_log + used, sizeof timing_log - used, fmt, ap);
    va_end(ap);
}

#define TIMING_ATTEMPTS 4

/* Run body until one run meets every timing bound, at most TIMING_ATTEMPTS
 * times; its other checks count on every run. */
static void with_timing_retries(void (*body)(void))
{
    for (int attempt = 1; attempt <= TIMING_ATTEMPTS; attempt++) {
        timing_misses = 0;
        timing_log[0] = '\0';
        body();
        if (timing_misses == 0)
            return;
        fprintf(stderr, "[%s] run %d: timing off (a busy machine?):\n%s", check_current, attempt,
                timing_log);
    }
    CHECK(!"frame timing off by more than 5 ms in every run");
}

/* Frames start one period apart, within 5 ms, and never before they are due. */
static void check_spacing(const struct rx_log *r, int frames, uint64_t play_start_ns)
{
    for (int k = 0; k < frames && k < r->nframes && k < MAX_FRAMES; k++) {
        uint64_t due = play_start_ns + (uint64_t)k * PERIOD_NS;
        /* the sender batches frames due within 0.2 ms of each other */
        if (r->frame_first_at[k] + 250000 < due) {
            fprintf(stderr, "frame %d sent %.3f ms before it was due\n", k,
                    (double)(due - r->frame_first_at[k]) / 1e6);
            CHECK(!"frame sent early");
        }
        if (k == 0)
            continue;
        int64_t gap = (int64_t)(r->frame_first_at[k] - r->frame_first_at[k - 1]);
        if (gap < (int64_t)(PERIOD_NS - 5 * MS) || gap > (int64_t)(PERIOD_NS + 5 * MS))
            timing_miss("frame %d came %.2f ms after the previous one\n", k, (double)gap / 1e6);
    }
}

static void run_whole_stream(void)
{
    char err[256] = "";
    struct sender_pool *p = sender_pool_start(1, catalog.max_packets, err, sizeof err);
    CHECK(p != NULL);
    if (!p) {
        fprintf(stderr, "sender_pool_start: %s\n", err);
        return;
    }
    CHECK_EQ_INT(sender_pool_size(p), 1);
    struct udp_link rtp, rtcp;
    struct rtp_out *o = session_new(&rtp, &rtcp, false, false, 0);
    CHECK(o != NULL);
    if (!o) {
        sender_pool_stop(p);
        return;
    }
    struct rx_log *r = malloc(sizeof *r);
    rx_init(r);
    uint64_t start = session_play(p, o);
    receive(r, &rtp, &rtcp, o->ssrc, false, start + 300 * MS, true);
    /* a little longer, to see that nothing follows the BYE */
    receive(r, &rtp, &rtcp, o->ssrc, false, loop_now_ns() + 30 * MS, false);

    CHECK_EQ_INT(r->nframes, NFRAMES);
    check_rfc_packets(r, 65530, 0xFFFFF000u);
    check_spacing(r, NFRAMES, start);
    CHECK(r->npkts > 0 && r->marker[r->npkts - 1]);
    /* RTCP: an SR with the first frame, a BYE after the last one */
    CHECK_EQ_INT(r->rtcp_bad, 0);
    CHECK(r->rtcp_compounds >= 2);
    CHECK_EQ_INT(r->first_rtcp.sr, 1);
    CHECK_EQ_INT(r->first_rtcp.bye, 0);
    CHECK_EQ_INT(r->first_rtcp.si.packet_count, stream->frames[0].npackets);
    CHECK_EQ_INT(r->byes, 1);
    CHECK_EQ_INT(r->bye_rtcp.bye_ssrc, o->ssrc);
    CHECK_EQ_INT(r->bye_rtcp.sr_ssrc, o->ssrc);
    CHECK_STR(r->bye_rtcp.cname, strlen(r->bye_rtcp.cname), "test-0@127.0.0.1");
    CHECK_EQ_INT(r->bye_rtcp.si.packet_count, r->npkts);
    CHECK_EQ_INT(r->bye_rtcp.si.octet_count, r->payload_octets);
    CHECK(r->npkts > 0 && r->bye_at >= r->at[r->npkts - 1]);
    /* the BYE goes when frame NFRAMES would be due */
    CHECK(r->bye_at + 250000 >= start + NFRAMES * PERIOD_NS);
    if (r->bye_at > start + NFRAMES * PERIOD_NS + 5 * MS)
        timing_miss("BYE %.2f ms after frame %d was due\n",
                    (double)(r->bye_at - start - NFRAMES * PERIOD_NS) / 1e6, NFRAMES);
    /* the sender let go of its reference after the BYE */
    CHECK(refs_reach(o, 1, 500 * MS));
    pthread_mutex_lock(&o->lock);
    CHECK(!o->playing);
    CHECK(o->ended);
    CHECK_EQ_INT(o->frame, NFRAMES);
    CHECK_EQ_INT(o->packets, r->npkts);
    CHECK_EQ_INT(o->octets, r->payload_octets);
    CHECK_EQ_INT(o->seq, (uint16_t)(65530 + r->npkts));
    CHECK_EQ_INT(o->send_errors, 0);
    CHECK_EQ_INT(o->frames_skipped, 0);
    pthread_mutex_unlock(&o->lock);
    sender_pool_stop(p);
    rtp_out_unref(o);
    close(rtp.rx);
    close(rtcp.rx);
    rx_free(r);
    free(r);
}

static void test_sender_sends_whole_stream_paced_then_bye(void)
{
    CHECK(fixture_ok);
    if (fixture_ok)
        with_timing_retries(run_whole_stream);
}

static void run_looping_stream(void)
{
    char err[256] = "";
    struct sender_pool *p = sender_pool_start(1, catalog.max_packets, err, sizeof err);
    CHECK(p != NULL);
    if (!p)
        return;
    struct udp_link rtp, rtcp;
    struct rtp_out *o = session_new(&rtp, &rtcp, true, false, 0);
    CHECK(o != NULL);
    if (!o) {
        sender_pool_stop(p);
        return;
    }
    struct rx_log *r = malloc(sizeof *r);
    rx_init(r);
    uint64_t start = session_play(p, o);
    /* NFRAMES + 3 periods: past the end of the file, into the second pass */
    receive(r, &rtp, &rtcp, o->ssrc, false, start + (NFRAMES + 3) * PERIOD_NS + 5 * MS, false);
    pthread_mutex_lock(&o->lock);
    o->playing = false;
    uint64_t frames_sent = o->frame;
    uint64_t paused_at = loop_now_ns();
    pthread_mutex_unlock(&o->lock);
    receive(r, &rtp, &rtcp, o->ssrc, false, paused_at + 5 * PERIOD_NS, false);

    CHECK(r->nframes > NFRAMES); /* looped */
    CHECK_EQ_INT(r->nframes, frames_sent);
    check_rfc_packets(r, 65530, 0xFFFFF000u);
    check_spacing(r, r->nframes, start);
    CHECK_EQ_INT(r->byes, 0);
    CHECK(r->npkts > 0 && r->marker[r->npkts - 1]); /* ends on a whole frame */
    CHECK(r->npkts > 0 && r->at[r->npkts - 1] <= paused_at + PERIOD_NS);
    /* the frame after the file's last is the file's first again */
    if (r->nframes > NFRAMES)
        CHECK(r->frame_scan_ok[NFRAMES]);
    /* the sender drops its reference when the paused session next comes due */
    CHECK(refs_reach(o, 1, 500 * MS));
    pthread_mutex_lock(&o->lock);
    CHECK(!o->ended);
    CHECK_EQ_INT(o->frame, frames_sent);
    pthread_mutex_unlock(&o->lock);
    sender_pool_stop(p);
    rtp_out_unref(o);
    close(rtp.rx);
    close(rtcp.rx);
    rx_free(r);
    free(r);
}

static void test_looping_stream_stops_within_a_frame_of_pause(void)
{
    if (fixture_ok)
        with_timing_retries(run_looping_stream);
}

static void run_lab_stream(void)
{
    char err[256] = "";
    struct sender_pool *p = sender_pool_start(1, catalog.max_packets, err, sizeof err);
    CHECK(p != NULL);
    if (!p)
        return;
    struct udp_link rtp, rtcp;
    struct rtp_out *o = session_new(&rtp, &rtcp, false, true, 0);
    CHECK(o != NULL);
    if (!o) {
        sender_pool_stop(p);
        return;
    }
    struct rx_log *r = malloc(sizeof *r);
    rx_init(r);
    uint64_t start = session_play(p, o);
    receive(r, &rtp, &rtcp, o->ssrc, true, start + 300 * MS, true);
    CHECK_EQ_INT(r->bad_parse, 0);
    CHECK_EQ_INT(r->bad_pt, 0);
    CHECK_EQ_INT(r->npkts, NFRAMES);
    CHECK_EQ_INT(r->nframes, NFRAMES);
    for (int i = 0; i < r->npkts && i < NFRAMES; i++) {
        CHECK_EQ_INT(r->seq[i], i + 1);
        CHECK(r->marker[i]);
        CHECK_EQ_INT(r->size[i], RTP_HEADER_LEN + stream->frames[i].jpeg_len);
        CHECK_EQ_INT(r->ts[i], (uint32_t)(0xFFFFF000u + (uint32_t)i * (90000 / FPS)));
        CHECK(r->frame_complete[i]); /* the whole JPEG, byte for byte */
    }
    check_spacing(r, NFRAMES, start);
    CHECK_EQ_INT(r->byes, 1);
    uint64_t jpeg_total = 0;
    for (uint32_t i = 0; i < NFRAMES; i++)
        jpeg_total += stream->frames[i].jpeg_len;
    CHECK_EQ_INT(r->bye_rtcp.si.octet_count, jpeg_total);
    CHECK_EQ_INT(r->bye_rtcp.si.packet_count, NFRAMES);
    CHECK(refs_reach(o, 1, 500 * MS));
    sender_pool_stop(p);
    rtp_out_unref(o);
    close(rtp.rx);
    close(rtcp.rx);
    rx_free(r);
    free(r);
}

static void test_lab_dialect_sends_one_datagram_per_frame(void)
{
    if (fixture_ok)
        with_timing_retries(run_lab_stream);
}

static void test_pool_stop_releases_sessions_still_playing(void)
{
    if (!fixture_ok)
        return;
    char err[256] = "";
    struct sender_pool *p = sender_pool_start(2, catalog.max_packets, err, sizeof err);
    CHECK(p != NULL);
    if (!p)
        return;
    CHECK_EQ_INT(sender_pool_size(p), 2);
    struct udp_link rtp[2], rtcp[2];
    struct rtp_out *o[2];
    struct rx_log *r[2];
    for (unsigned i = 0; i < 2; i++) {
        o[i] = session_new(&rtp[i], &rtcp[i], true, false, i);
        CHECK(o[i] != NULL);
        r[i] = malloc(sizeof *r[i]);
        rx_init(r[i]);
    }
    if (!o[0] || !o[1]) {
        sender_pool_stop(p);
        return;
    }
    session_play(p, o[0]);
    session_play(p, o[1]);
    uint64_t end = loop_now_ns() + 5 * PERIOD_NS;
    for (unsigned i = 0; i < 2; i++)
        receive(r[i], &rtp[i], &rtcp[i], o[i]->ssrc, false, end, false);
    for (unsigned i = 0; i < 2; i++) {
        CHECK(r[i]->nframes >= 2); /* both threads pace their own session */
        CHECK_EQ_INT(r[i]->bad_ssrc, 0);
        CHECK_EQ_INT(atomic_load(&o[i]->refs), 2); /* ours and the armed timer's */
    }
    /* stop with both still playing: the timers' references come back */
    sender_pool_stop(p);
    for (unsigned i = 0; i < 2; i++) {
        CHECK_EQ_INT(atomic_load(&o[i]->refs), 1);
        pthread_mutex_lock(&o[i]->lock);
        CHECK(o[i]->playing);
        pthread_mutex_unlock(&o[i]->lock);
        rtp_out_unref(o[i]);
        close(rtp[i].rx);
        close(rtcp[i].rx);
        rx_free(r[i]);
        free(r[i]);
    }
}

static void test_gso_refused_falls_back_to_sendmmsg(void)
{
    if (!fixture_ok)
        return;
    char err[256] = "";
    struct sender_pool *p = sender_pool_start(1, catalog.max_packets, err, sizeof err);
    CHECK(p != NULL);
    if (!p)
        return;
    struct udp_link rtp, rtcp;
    struct rtp_out *o = session_new(&rtp, &rtcp, false, false, 0);
    CHECK(o != NULL);
    if (!o) {
        sender_pool_stop(p);
        return;
    }
    /* Linux refuses UDP GSO on a socket that sends without checksums */
    int one = 1;
    CHECK_EQ_INT(setsockopt(rtp.tx, SOL_SOCKET, SO_NO_CHECK, &one, sizeof one), 0);
    struct rx_log *r = malloc(sizeof *r);
    rx_init(r);
    uint64_t start = session_play(p, o);
    receive(r, &rtp, &rtcp, o->ssrc, false, start + 300 * MS, true);
    CHECK(!sender_gso_enabled());
    /* every packet once, in order, frames whole: none lost or doubled by the retry */
    CHECK_EQ_INT(r->nframes, NFRAMES);
    check_rfc_packets(r, 65530, 0xFFFFF000u);
    CHECK_EQ_INT(r->byes, 1);
    CHECK(refs_reach(o, 1, 500 * MS));
    pthread_mutex_lock(&o->lock);
    CHECK_EQ_INT(o->send_errors, 0);
    CHECK_EQ_INT(o->packets, r->npkts);
    pthread_mutex_unlock(&o->lock);
    sender_pool_stop(p);
    rtp_out_unref(o);
    close(rtp.rx);
    close(rtcp.rx);
    rx_free(r);
    free(r);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* case lines survive a sanitizer's exit */
    unsetenv("TJ_OPTIMIZE");
    unsetenv("TJ_ARITHMETIC");
    unsetenv("TJ_RESTART");
    unsetenv("TJ_PROGRESSIVE");
    RUN(test_rfc_headers_one_per_packet_consecutive_seq_with_wrap);
    RUN(test_rfc_headers_count_packets_and_payload_octets);
    RUN(test_lab_header_one_per_frame_seq_is_frame_plus_one);
    RUN(test_timestamp_is_90khz_per_frame);
    RUN(test_due_ns_spaced_by_frame_period_from_play_start);
    RUN(test_rtcp_compound_sr_sdes_then_bye);
    RUN(test_rtcp_rtp_time_follows_schedule_while_playing);
    RUN(test_refcount_last_unref_closes_sockets);
    fixture_ok = setup_media();
    if (!fixture_ok)
        fprintf(stderr, "media fixture setup failed\n");
    RUN(test_sender_sends_whole_stream_paced_then_bye);
    RUN(test_looping_stream_stops_within_a_frame_of_pause);
    RUN(test_lab_dialect_sends_one_datagram_per_frame);
    RUN(test_pool_stop_releases_sessions_still_playing);
    if (!sender_gso_enabled())
        printf("note: this kernel refused UDP GSO on loopback; only the sendmmsg path ran\n");
    RUN(test_gso_refused_falls_back_to_sendmmsg); /* last: GSO stays off for the process */
    teardown_media();
    CHECK_DONE();
}
