/* Unit tests for the replay engine (harness/replay/replay.c), run from
 * scenario strings against real peers on loopback.
 *
 * Server role, against the reference server (harness/server, forked from
 * this program): a UDP play/pause/resume/teardown flow with SDP matching,
 * captures and RTP windows; TCP interleaved; a pipeline of three requests;
 * a wrong status expectation that fails at the right line and stops the
 * scenario (or goes on with on-fail continue); the lab dialect (bare LF,
 * CSeq on line 2, replies read to idle); explicit CSeq overrides; a split
 * request, raw bytes, silence, an oversized header, a timeout; two
 * connections at once; Digest and Basic credentials from {digest:...} and
 * {basic:...}; optional steps. Against a canned server in a thread (to
 * provoke what the reference server never does): a CSeq not echoed, a
 * changed and a missing Session, @allow, a lab reply without a blank line,
 * `expect close`, the bare-cseq and crlf3 request dialects given by the
 * run (with a block's own CSeq and headers, and the 255-byte limit).
 * Without any peer: `at` events and hooks, and a SUT that dies while a
 * step waits.
 *
 * Client role: a scripted RTSP client in a thread (UDP, RTP/JPEG checked
 * by depacketizing it), a client that breaks the CSeq and Session rules, a
 * client answering Basic and Digest challenges, a server that drops the
 * connection, then real clients: ffmpeg and GStreamer's rtspsrc over TCP
 * interleaved and over UDP (20 frames decoded each), and the lab client
 * fixture (fixtures/lab_client.py) in the lab dialect. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nettle/md5.h>

#include "check.h"
#include "replay/dialect.h"
#include "replay/replay.h"
#include "replay/scenario.h"
#include "rtp.h"
#include "rtpjpeg.h"
#include "rtsp.h"
#include "rtsp_hdr.h"
#include "server/server.h"

#define MEDIA      "movie.Mjpeg"
#define MEDIA_FILE "fixtures/movie.Mjpeg"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------- the reference server, forked ---------- */

struct refsrv {
    pid_t pid;     /* the server process */
    uint16_t port; /* its RTSP port */
};

static int refsrv_start(struct refsrv *s, enum server_dialect dialect, bool auth, enum auth_scheme scheme)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        struct server_config cfg = {
            .media_dir = "fixtures",
            .bind_addr = "127.0.0.1",
            .port = 0,
            .fps = 20,
            .loop = true,
            .mtu = 1400,
            .dialect = dialect,
            .auth_on = auth,
            .auth_user_pass = "alice:secret",
            .auth_scheme = scheme,
            .realm = "replay-test",
            .session_timeout_s = 60,
            .http_port = -1,
            .rtp_port_lo = 30000,
            .rtp_port_hi = 39999,
            .threads = 1,
            .max_sessions = 64,
            .max_connections = 64,
            .max_request_bytes = 65536,
            .idle_timeout_s = 60,
            .no_gso = true,
        };
        _exit(server_run(&cfg));
    }
    close(pfd[1]);
    s->pid = pid;
    s->port = 0;
    char buf[4096];
    size_t len = 0;
    int64_t deadline = now_ms() + 10000;
    while (now_ms() < deadline && len + 1 < sizeof buf) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = read(pfd[0], buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        const char *r = strstr(buf, "ready rtsp://127.0.0.1:");
        if (r && strchr(r, '\n')) {
            s->port = (uint16_t)atoi(r + strlen("ready rtsp://127.0.0.1:"));
            break;
        }
    }
    close(pfd[0]);
    if (!s->port) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return 0;
}

static void refsrv_stop(struct refsrv *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    int st;
    waitpid(s->pid, &st, 0);
    s->pid = 0;
}

/* ---------- running scenarios ---------- */

static void dump(const struct replay_result *r)
{
    if (r->verdict == REPLAY_ERROR)
        fprintf(stderr, "    error: %s\n", r->error);
    for (size_t i = 0; i < r->n_failures; i++)
        fprintf(stderr, "    failure %s at %u:%u: %s\n", r->failures[i].check, r->failures[i].line,
                r->failures[i].column, r->failures[i].message);
}

/* Parse text and run it; sc stays alive for the result's windows. */
static int run(const char *text, const struct replay_target *t, const struct replay_hooks *h,
               struct scenario *sc, struct replay_result *r)
{
    char err[512];
    memset(r, 0, sizeof *r);
    if (scenario_parse_buffer("test.rtsp", text, strlen(text), sc, err, sizeof err) < 0) {
        fprintf(stderr, "    parse: %s\n", err);
        CHECK(!"scenario parses");
        return -1;
    }
    return replay_run(sc, t, h, r);
}

static void finish(struct scenario *sc, struct replay_result *r)
{
    replay_result_free(r);
    scenario_free(sc);
}

static struct replay_target server_target(uint16_t port)
{
    struct replay_target t = {.host = "127.0.0.1", .port = port, .media = MEDIA, .seed = 1};
    return t;
}

static bool text_has(const char *text, const char *needle)
{
    return text && strstr(text, needle) != NULL;
}

/* ---------- server role against the reference server ---------- */

static void test_udp_play_pause_teardown(void)
{
    struct refsrv srv;
    CHECK_EQ_INT(refsrv_start(&srv, SERVER_DIALECT_AUTO, false, AUTH_BASIC), 0);
    if (!srv.port)
        return;
    const char *text = "@name udp flow\n"
                       "> OPTIONS {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "< Public: ~DESCRIBE.*SETUP.*PLAY\n"
                       "\n"
                       "> DESCRIBE {url} RTSP/1.0\n"
                       "> Accept: application/sdp\n"
                       "< RTSP/1.0 200 OK\n"
                       "< Content-Type: application/sdp\n"
                       "< sdp: m=video 0 RTP/AVP 26\n"
                       "< sdp: ~^a=control:(track.*)$ => $ctl\n"
                       "< sdp: !m=audio 0 RTP/AVP 0\n"
                       "< body: ~^s={media}$\n"
                       "\n"
                       "> SETUP {track_url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "< Transport: ~client_port={rtp_port}-{rtcp_port}\n"
                       "< Transport: ~server_port=([0-9]+)-([0-9]+) => $srtp $srtcp\n"
                       "\n"
                       "> PLAY {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "< RTP-Info: ~{url}/{ctl}\n"
                       "rtp for 1500ms: frames >= 20, pt = 26\n"
                       "\n"
                       "> PAUSE {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "rtp for 800ms after 300ms: packets = 0\n"
                       "\n"
                       "> PLAY {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "rtp for 500ms: packets > 0\n"
                       "\n"
                       "> GET_PARAMETER {url} RTSP/1.0\n"
                       "> X-Ports: {srtp}-{srtcp} {server_rtp_port}-{server_rtcp_port}\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       "> TEARDOWN {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n";
    struct replay_target t = server_target(srv.port);
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    dump(&r);
    CHECK_EQ_INT(r.n_failures, 0);
    CHECK_EQ_INT(r.n_exchanges, 8);
    CHECK_EQ_INT(r.steps_run, sc.n_steps);
    CHECK_EQ_INT(r.steps_skipped, 0);
    for (size_t i = 0; i < r.n_exchanges; i++) {
        CHECK(r.exchanges[i].has_cseq);
        CHECK_EQ_INT(r.exchanges[i].cseq, i + 1);
        CHECK_EQ_INT(r.exchanges[i].status, 200);
        CHECK(r.exchanges[i].request_ns > 0 && r.exchanges[i].response_ns >= r.exchanges[i].request_ns);
        CHECK_EQ_INT(r.exchanges[i].conn, 0);
        CHECK(strncmp(r.exchanges[i].local, "127.0.0.1:", 10) == 0);
    }
    if (r.n_exchanges == 8) {
        char want[256];
        snprintf(want, sizeof want, "127.0.0.1:%u", srv.port);
        CHECK(strcmp(r.exchanges[0].remote, want) == 0);
        CHECK(strcmp(r.exchanges[2].method, "SETUP") == 0);
        CHECK(
            text_has(r.exchanges[2].request_text, "\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port="));
        snprintf(want, sizeof want, "SETUP rtsp://127.0.0.1:%u/" MEDIA "/track0 RTSP/1.0\r\n", srv.port);
        CHECK(strncmp(r.exchanges[2].request_text, want, strlen(want)) == 0);
        CHECK(!text_has(r.exchanges[1].request_text, "Session:"));
        CHECK(!text_has(r.exchanges[2].request_text, "Session:"));
        snprintf(want, sizeof want, "Session: %s\r\n", r.session);
        CHECK(r.session[0] != '\0');
        CHECK(text_has(r.exchanges[3].request_text, want));
        CHECK(text_has(r.exchanges[7].request_text, want));
        /* the captured server ports and the built-ins agree */
        const char *xp = strstr(r.exchanges[6].request_text, "X-Ports: ");
        CHECK(xp != NULL);
        if (xp) {
            unsigned a, b, c2, d;
            CHECK_EQ_INT(sscanf(xp, "X-Ports: %u-%u %u-%u", &a, &b, &c2, &d), 4);
            CHECK(a == c2 && b == d && b == a + 1 && a % 2 == 0);
        }
        CHECK(text_has(r.exchanges[1].response_text, "m=video 0 RTP/AVP 26"));
        CHECK_EQ_INT(r.exchanges[1].response_len, strlen(r.exchanges[1].response_text));
        CHECK(strcmp(r.url, "rtsp://127.0.0.1:0") != 0);
    }
    CHECK_EQ_INT(r.n_windows, 3);
    if (r.n_windows == 3) {
        CHECK(r.windows[0].rtp_port > 0 && r.windows[0].rtp_port % 2 == 0);
        CHECK_EQ_INT(r.windows[0].channel, -1);
        CHECK(r.windows[0].live_packets >= 20);
        CHECK(r.windows[0].live_bytes > 20 * 1000);
        CHECK(r.windows[0].end_ns - r.windows[0].start_ns >= 1400000000LL);
        CHECK(r.windows[0].expect == sc.steps[8].rtp);
        CHECK_EQ_INT(r.windows[0].line, 23);
        CHECK_EQ_INT(r.windows[1].live_packets, 0);
        CHECK(r.windows[1].start_ns - r.exchanges[4].response_ns >= 250000000LL);
        CHECK(r.windows[2].live_packets > 0);
        CHECK(!r.windows[0].harness_sends);
    }
    finish(&sc, &r);
    refsrv_stop(&srv);
}

static void test_tcp_interleaved(void)
{
    struct refsrv srv;
    CHECK_EQ_INT(refsrv_start(&srv, SERVER_DIALECT_AUTO, false, AUTH_BASIC), 0);
    if (!srv.port)
        return;
    const char *text = "@transport tcp\n"
                       "> DESCRIBE {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       "> SETUP {track_url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "< Transport: ~interleaved=0-1\n"
                       "\n"
                       "> PLAY {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "rtp for 1s: packets > 0\n"
                       "\n"
                       "> GET_PARAMETER {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       "> TEARDOWN {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n";
    struct replay_target t = server_target(srv.port);
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    dump(&r);
    CHECK_EQ_INT(r.n_exchanges, 5);
    if (r.n_exchanges == 5)
        CHECK(text_has(r.exchanges[1].request_text, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"));
    CHECK_EQ_INT(r.n_windows, 1);
    if (r.n_windows == 1) {
        CHECK_EQ_INT(r.windows[0].channel, 0);
        CHECK_EQ_INT(r.windows[0].rtp_port, 0);
        CHECK(r.windows[0].live_packets >= 40); /* ~20 frames of several packets */
        CHECK(r.windows[0].remote[0] != '\0');
    }
    finish(&sc, &r);
    refsrv_stop(&srv);
}

static void test_pipeline(void)
{
    struct refsrv srv;
    CHECK_EQ_INT(refsrv_start(&srv, SERVER_DIALECT_AUTO, false, AUTH_BASIC), 0);
    if (!srv.port)
        return;
    const char *text = ">split 40 2ms\n"
                       ">pipeline 3\n"
                       "> OPTIONS {url} RTSP/1.0\n"
                       "\n"
                       "> DESCRIBE {url} RTSP/1.0\n"
                       "\n"
                       "> OPTIONS {url} RTSP/1.0\n"
                       "> X-Last: yes\n"
                       "< RTSP/1.0 200\n"
                       "< Public:\n"
                       "< !Content-Type\n"
                       "\n"
                       "< RTSP/1.0 200\n"
                       "< Content-Type: application/sdp\n"
                       "\n"
                       "< RTSP/1.0 200\n"
                       "< Public:\n";
    struct replay_target t = server_target(srv.port);
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    dump(&r);
    CHECK_EQ_INT(r.n_exchanges, 3);
    if (r.n_exchanges == 3) {
        /* one write: the same send time, and CSeq 1, 2, 3 each echoed */
        CHECK(r.exchanges[0].request_ns == r.exchanges[2].request_ns);
        CHECK_EQ_INT(r.exchanges[2].cseq, 3);
        CHECK(strcmp(r.exchanges[1].method, "DESCRIBE") == 0);
        CHECK(text_has(r.exchanges[1].response_text, "v=0"));
        CHECK(text_has(r.exchanges[2].request_text, "X-Last: yes"));
    }
    finish(&sc, &r);
    refsrv_stop(&srv);
}

static void test_wrong_status_fails_at_its_line(void)
{
    struct refsrv srv;
    CHECK_EQ_INT(refsrv_start(&srv, SERVER_DIALECT_AUTO, false, AUTH_BASIC), 0);
    if (!srv.port)
        return;
    const char *text = "> OPTIONS {url} RTSP/1.0\n"
                       "< RTSP/1.0 404|5xx\n"
                       "\n"
                       "> DESCRIBE {url} RTSP/1.0\n"
                       "< RTSP/1.0 200 Fine\n";
    struct replay_target t = server_target(srv.port);
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_FAIL);
    CHECK_EQ_INT(r.n_failures, 1);
    if (r.n_failures == 1) {
        CHECK(strcmp(r.failures[0].check, "scenario.status") == 0);
        CHECK_EQ_INT(r.failures[0].line, 2);
        CHECK_EQ_INT(r.failures[0].column, 3);
        CHECK(strcmp(r.failures[0].message, "expected status 404|5xx, got 200 OK") == 0);
        CHECK_EQ_INT(r.failures[0].exchange, 0);
    }
    /* on-fail stop (the default): the rest did not run */
    CHECK_EQ_INT(r.steps_run, 2);
    CHECK_EQ_INT(r.steps_skipped, 2);
    finish(&sc, &r);

    /* the same with on-fail continue: the DESCRIBE runs, and its reason is checked */
    char text2[512];
    snprintf(text2, sizeof text2, "@on-fail continue\n%s", text);
    CHECK_EQ_INT(run(text2, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_FAIL);
    CHECK_EQ_INT(r.n_failures, 2);
    if (r.n_failures == 2) {
        CHECK_EQ_INT(r.failures[0].line, 3);
        CHECK_EQ_INT(r.failures[1].line, 6);
        CHECK(strcmp(r.failures[1].message, "expected reason 'Fine', got 'OK'") == 0);
    }
    CHECK_EQ_INT(r.steps_run, 4);
    finish(&sc, &r);
    refsrv_stop(&srv);
}

static void test_lab_dialect(void)
{
    struct refsrv srv;
    CHECK_EQ_INT(refsrv_start(&srv, SERVER_DIALECT_AUTO, false, AUTH_BASIC), 0);
    if (!srv.port)
        return;
    const char *text = "@profile lab\n"
                       "> SETUP {media} RTSP/1.0\n"
                       "< RTSP/1.0 200 OK\n"
                       "< Session: ~^[0-9]{6}$\n"
                       "\n"
                       "> PLAY {media} RTSP/1.0\n"
                       "< RTSP/1.0 200 OK\n"
                       "rtp for 1s: frames >= 15\n"
                       "\n"
                       "> PAUSE {media} RTSP/1.0\n"
                       "< RTSP/1.0 200 OK\n"
                       "rtp for 500ms after 200ms: packets = 0\n"
                       "\n"
                       "> TEARDOWN {media} RTSP/1.0\n"
                       "< RTSP/1.0 200 OK\n";
    struct replay_target t = server_target(srv.port);
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    dump(&r);
    CHECK_EQ_INT(r.n_exchanges, 4);
    if (r.n_exchanges == 4) {
        char want[256];
        snprintf(want, sizeof want, "SETUP " MEDIA " RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= %u",
                 r.n_windows ? r.windows[0].rtp_port : 0);
        CHECK(r.exchanges[0].request_text && strcmp(r.exchanges[0].request_text, want) == 0);
        snprintf(want, sizeof want, "PLAY " MEDIA " RTSP/1.0\nCSeq: 2\nSession: %s", r.session);
        CHECK(r.exchanges[1].request_text && strcmp(r.exchanges[1].request_text, want) == 0);
        CHECK(strlen(r.session) == 6);
        /* a lab reply is read until the server goes quiet: 300 ms */
        int64_t wait_ns = r.exchanges[0].response_ns - r.exchanges[0].request_ns;
        CHECK(wait_ns >= 250000000LL);
        CHECK(text_has(r.exchanges[0].deviations, "bare-lf"));
    }
    CHECK_EQ_INT(r.n_windows, 2);
    if (r.n_windows == 2) {
        CHECK(r.windows[0].live_packets >= 15 && r.windows[0].live_packets <= 25);
        CHECK_EQ_INT(r.windows[1].live_packets, 0);
    }
    finish(&sc, &r);
    refsrv_stop(&srv);
}

static void test_overrides_raw_split_silence(void)
{
    struct refsrv srv;
    CHECK_EQ_INT(refsrv_start(&srv, SERVER_DIALECT_RFC, false, AUTH_BASIC), 0);
    if (!srv.port)
        return;
    const char *text = "> OPTIONS {url} RTSP/1.0\n"
                       "> CSeq: 7\n"
                       "< RTSP/1.0 200\n"
                       "< CSeq: 7\n"
                       "\n"
                       "> OPTIONS {url} RTSP/1.0\n"
                       "> !CSeq\n"
                       "< RTSP/1.0 400\n"
                       "< !CSeq\n"
                       "\n"
                       ">split 7 5ms\n"
                       "> OPTIONS {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       ">raw \"OPTIONS * RTSP/1.0\\r\\nCSeq: {cseq}\\r\\n\\r\\n\"\n"
                       "< RTSP/1.0 200\n"
                       "< CSeq: 4\n"
                       "\n"
                       ">raw \"OPTIONS * RTSP/1.0\\r\\nCSeq: 40\\r\\n\"\n"
                       "expect silence 400ms\n"
                       ">hex 0d 0a\n"
                       "< RTSP/1.0 200\n"
                       "< CSeq: 40\n"
                       "\n"
                       "> OPTIONS {url} RTSP/1.0\n"
                       "> X-Big: {repeat:A:70000}\n"
                       "< RTSP/1.0 413\n"
                       "expect close\n";
    struct replay_target t = server_target(srv.port);
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    dump(&r);
    CHECK_EQ_INT(r.n_exchanges, 7);
    if (r.n_exchanges == 7) {
        CHECK(text_has(r.exchanges[0].request_text, "\r\nCSeq: 7\r\n"));
        CHECK(!text_has(r.exchanges[0].request_text, "CSeq: 1"));
        CHECK(!text_has(r.exchanges[1].request_text, "CSeq"));
        CHECK(!r.exchanges[1].has_cseq);
        CHECK_EQ_INT(r.exchanges[2].cseq, 3);
        CHECK_EQ_INT(r.exchanges[3].cseq, 4);
        CHECK(strcmp(r.exchanges[3].method, "OPTIONS") == 0);
        CHECK_EQ_INT(r.exchanges[5].request_len, 2);
        CHECK(r.exchanges[6].request_len > 70000);
        CHECK_EQ_INT(r.exchanges[6].status, 413);
    }
    finish(&sc, &r);

    /* silence that is broken, and a reply that never comes */
    const char *text2 = "@on-fail continue\n"
                        "> OPTIONS {url} RTSP/1.0\n"
                        "expect silence 500ms\n"
                        "\n"
                        ">raw \"OPTIONS * RTSP/1.0\\r\\nCSeq: 2\\r\\n\"\n"
                        "with timeout 300ms\n"
                        "< RTSP/1.0 200\n";
    int64_t t0 = now_ms();
    CHECK_EQ_INT(run(text2, &t, NULL, &sc, &r), 0);
    int64_t took = now_ms() - t0;
    CHECK_EQ_INT(r.verdict, REPLAY_FAIL);
    CHECK_EQ_INT(r.n_failures, 2);
    if (r.n_failures == 2) {
        CHECK(strcmp(r.failures[0].check, "scenario.silence") == 0);
        CHECK_EQ_INT(r.failures[0].line, 3);
        CHECK(text_has(r.failures[0].message, "got 'RTSP/1.0 200 OK'"));
        CHECK(strcmp(r.failures[1].check, "scenario.timeout") == 0);
        CHECK_EQ_INT(r.failures[1].line, 7);
        CHECK(text_has(r.failures[1].message, "within 300 ms"));
    }
    CHECK(took < 2000);
    finish(&sc, &r);
    refsrv_stop(&srv);
}

static void test_two_connections(void)
{
    struct refsrv srv;
    CHECK_EQ_INT(refsrv_start(&srv, SERVER_DIALECT_AUTO, false, AUTH_BASIC), 0);
    if (!srv.port)
        return;
    const char *text = "connect a\n"
                       "> SETUP {url}/track0 RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "< Session: $s1\n"
                       "\n"
                       "connect b\n"
                       "> SETUP {url}/track0 RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "< Session: $s2\n"
                       "\n"
                       "use a\n"
                       "> PLAY {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "rtp for 500ms: packets > 0\n"
                       "\n"
                       "use b\n"
                       "> PLAY {url} RTSP/1.0\n"
                       "> Session: {s2}\n"
                       "< RTSP/1.0 200\n"
                       "rtp for 500ms: packets > 0\n"
                       "\n"
                       "> TEARDOWN {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "close b\n"
                       "use a\n"
                       "> TEARDOWN {url} RTSP/1.0\n"
                       "> X-Other: {s2}\n"
                       "< RTSP/1.0 200\n";
    struct replay_target t = server_target(srv.port);
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    dump(&r);
    CHECK_EQ_INT(r.n_exchanges, 6);
    if (r.n_exchanges == 6) {
        CHECK_EQ_INT(r.exchanges[0].conn, 0);
        CHECK_EQ_INT(r.exchanges[1].conn, 1);
        CHECK_EQ_INT(r.exchanges[2].conn, 0);
        CHECK_EQ_INT(r.exchanges[5].conn, 0);
        /* each connection counts its own CSeq */
        CHECK_EQ_INT(r.exchanges[1].cseq, 1);
        CHECK_EQ_INT(r.exchanges[2].cseq, 2);
        CHECK(strcmp(r.exchanges[0].local, r.exchanges[1].local) != 0);
        /* connection a's TEARDOWN carries a's session, not b's */
        const char *x = strstr(r.exchanges[5].request_text ? r.exchanges[5].request_text : "", "X-Other: ");
        const char *s = strstr(r.exchanges[5].request_text ? r.exchanges[5].request_text : "", "Session: ");
        CHECK(x && s);
        if (x && s)
            CHECK(strncmp(x + 9, s + 9, 8) != 0);
    }
    CHECK_EQ_INT(r.n_windows, 2);
    if (r.n_windows == 2) {
        CHECK_EQ_INT(r.windows[0].conn, 0);
        CHECK_EQ_INT(r.windows[1].conn, 1);
        CHECK(r.windows[0].rtp_port != r.windows[1].rtp_port);
    }
    finish(&sc, &r);
    refsrv_stop(&srv);
}

static void test_auth_functions(void)
{
    for (int scheme = 0; scheme < 2; scheme++) {
        struct refsrv srv;
        CHECK_EQ_INT(refsrv_start(&srv, SERVER_DIALECT_RFC, true, scheme ? AUTH_DIGEST : AUTH_BASIC), 0);
        if (!srv.port)
            return;
        const char *text = scheme ? "> DESCRIBE {url} RTSP/1.0\n"
                                    "< RTSP/1.0 401\n"
                                    "< WWW-Authenticate: ~^Digest realm=\"replay-test\"\n"
                                    "\n"
                                    "> DESCRIBE {url} RTSP/1.0\n"
                                    "> Authorization: {digest:alice:secret}\n"
                                    "< RTSP/1.0 200\n"
                                    "\n"
                                    "> OPTIONS {url} RTSP/1.0\n"
                                    "> Authorization: {digest:alice:wrong}\n"
                                    "< RTSP/1.0 401\n"
                                  : "> DESCRIBE {url} RTSP/1.0\n"
                                    "< RTSP/1.0 401\n"
                                    "< WWW-Authenticate: ~^Basic\n"
                                    "\n"
                                    "> DESCRIBE {url} RTSP/1.0\n"
                                    "> Authorization: {basic:alice:secret}\n"
                                    "< RTSP/1.0 200\n"
                                    "\n"
                                    "> OPTIONS {url} RTSP/1.0\n"
                                    "> Authorization: {basic:alice:wrong}\n"
                                    "< RTSP/1.0 401\n";
        struct replay_target t = server_target(srv.port);
        struct scenario sc;
        struct replay_result r;
        CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
        CHECK_EQ_INT(r.verdict, REPLAY_PASS);
        dump(&r);
        if (r.n_exchanges == 3)
            CHECK(text_has(r.exchanges[1].request_text, scheme
                                                            ? "Authorization: Digest username=\"alice\""
                                                            : "Authorization: Basic YWxpY2U6c2VjcmV0\r\n"));
        finish(&sc, &r);
        refsrv_stop(&srv);
    }
}

static void test_optional_steps(void)
{
    struct refsrv srv;
    CHECK_EQ_INT(refsrv_start(&srv, SERVER_DIALECT_AUTO, false, AUTH_BASIC), 0);
    if (!srv.port)
        return;
    const char *text = "with optional\n"
                       "> OPTIONS {url} RTSP/1.0\n"
                       "< RTSP/1.0 404\n"
                       "< Public: ~NOTHING\n"
                       "\n"
                       "> OPTIONS {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       "with optional, timeout 200ms\n"
                       "expect silence 100ms\n";
    struct replay_target t = server_target(srv.port);
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    dump(&r);
    CHECK_EQ_INT(r.n_failures, 0);
    CHECK_EQ_INT(r.steps_skipped, 1);
    CHECK_EQ_INT(r.steps_run, 4);
    CHECK_EQ_INT(r.n_exchanges, 2);
    finish(&sc, &r);

    /* a capture in a skipped step leaves its variable unset: a later use fails there */
    const char *text2 = "with optional\n"
                        "> OPTIONS {url} RTSP/1.0\n"
                        "< RTSP/1.0 200\n"
                        "< X-Nothing: $foo\n"
                        "\n"
                        "> OPTIONS {url} RTSP/1.0\n"
                        "> X-Foo: <{foo}>\n"
                        "< RTSP/1.0 200\n";
    CHECK_EQ_INT(run(text2, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_FAIL);
    CHECK_EQ_INT(r.n_failures, 1);
    if (r.n_failures == 1) {
        CHECK(strcmp(r.failures[0].check, "scenario.variable") == 0);
        CHECK_EQ_INT(r.failures[0].line, 7);
        CHECK_EQ_INT(r.failures[0].column, 11);
        CHECK(strcmp(r.failures[0].message,
                     "variable {foo} is not set (the step that captures it was skipped or failed)") == 0);
    }
    /* nothing was sent, so its reply was not waited for */
    CHECK_EQ_INT(r.n_exchanges, 1);
    CHECK_EQ_INT(r.steps_skipped, 2);
    finish(&sc, &r);
    refsrv_stop(&srv);
}

/* ---------- server role against a canned server ---------- */

/* A server thread that answers each request with the next canned reply;
 * "{cseq}" in a reply becomes the request's CSeq. NULL closes. */
struct canned {
    int listen_fd;          /* listening socket */
    uint16_t port;          /* its port */
    const char *replies[8]; /* replies in order */
    bool lab;               /* requests end at idle, not at a blank line */
    int requests;           /* requests seen */
};

static void *canned_main(void *arg)
{
    struct canned *k = arg;
    int fd = accept(k->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    char buf[8192];
    size_t len = 0;
    for (int i = 0; i < 8 && k->replies[i]; i++) {
        /* read one request */
        for (int waited = 0;; waited += 200) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int pr = poll(&p, 1, k->lab ? 200 : 5000);
            if (pr == 0 && k->lab && len > 0)
                break; /* a lab request ends when the client goes quiet */
            if (pr == 0 && k->lab && waited < 5000)
                continue;
            if (pr <= 0)
                goto out;
            ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
            if (n <= 0)
                goto out;
            len += (size_t)n;
            buf[len] = '\0';
            if (!k->lab && strstr(buf, "\r\n\r\n"))
                break;
        }
        k->requests++;
        const char *cs = strstr(buf, "CSeq: ");
        unsigned cseq = cs ? (unsigned)atoi(cs + 6) : 0;
        len = 0;
        char out[1024], num[16];
        snprintf(num, sizeof num, "%u", cseq);
        size_t o = 0;
        for (const char *p = k->replies[i]; *p && o + 16 < sizeof out;) {
            if (strncmp(p, "{cseq}", 6) == 0) {
                o += (size_t)snprintf(out + o, sizeof out - o, "%s", num);
                p += 6;
            } else {
                out[o++] = *p++;
            }
        }
        if (write(fd, out, o) < 0)
            break;
    }
    /* the replies ran out: close, as `expect close` wants */
out:
    close(fd);
    return NULL;
}

static int canned_start(struct canned *k, pthread_t *th)
{
    k->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (k->listen_fd < 0 || bind(k->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(k->listen_fd, 4) < 0 || getsockname(k->listen_fd, (struct sockaddr *)&a, &al) < 0)
        return -1;
    k->port = ntohs(a.sin_port);
    return pthread_create(th, NULL, canned_main, k);
}

static void canned_stop(struct canned *k, pthread_t th)
{
    pthread_join(th, NULL);
    close(k->listen_fd);
}

static void test_automatic_checks_against_a_broken_server(void)
{
    struct canned k = {
        .replies = {
            "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: AAAA1111;timeout=60\r\nTransport: RTP/AVP;unicast;client_port=1-2;server_port=5000-5001\r\n\r\n",
            "RTSP/1.0 200 OK\r\nCSeq: 99\r\nSession: AAAA1111\r\n\r\n",
            "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: BBBB2222\r\n\r\n",
            "RTSP/1.0 200 OK\r\n\r\n",
            "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\r\n",
        }};
    pthread_t th;
    CHECK_EQ_INT(canned_start(&k, &th), 0);
    const char *text = "@on-fail continue\n"
                       "> SETUP {url}/track0 RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       "> PLAY {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       "> PAUSE {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       "> PLAY {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       "\n"
                       "> SETUP {url}/track0 RTSP/1.0\n"
                       "> X-Ports: {server_rtp_port}-{server_rtcp_port}\n"
                       "< RTSP/1.0 200\n"
                       "expect close\n";
    struct replay_target t = server_target(k.port);
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_FAIL);
    CHECK_EQ_INT(r.n_failures, 4);
    if (r.n_failures == 4) {
        CHECK(strcmp(r.failures[0].check, "rtsp.cseq.echo") == 0);
        CHECK_EQ_INT(r.failures[0].line, 6);
        CHECK(strcmp(r.failures[0].message, "expected CSeq 2, got 99") == 0);
        CHECK(strcmp(r.failures[1].check, "rtsp.session.changed") == 0);
        CHECK_EQ_INT(r.failures[1].line, 9);
        CHECK(strcmp(r.failures[1].message, "expected Session AAAA1111, got BBBB2222") == 0);
        CHECK(strcmp(r.failures[2].check, "rtsp.cseq.missing") == 0);
        CHECK_EQ_INT(r.failures[2].line, 12);
        /* a second SETUP's 200 without Session */
        CHECK(strcmp(r.failures[3].check, "rtsp.session.missing") == 0);
        CHECK_EQ_INT(r.failures[3].line, 16);
    }
    CHECK(strcmp(r.session, "AAAA1111") == 0);
    if (r.n_exchanges == 5) {
        CHECK(text_has(r.exchanges[1].request_text, "Session: AAAA1111\r\n"));
        CHECK(text_has(r.exchanges[4].request_text, "X-Ports: 5000-5001\r\n"));
        /* the second SETUP joins the session */
        CHECK(text_has(r.exchanges[4].request_text, "Session: AAAA1111\r\n"));
    }
    finish(&sc, &r);
    canned_stop(&k, th);

    /* the same checks on @allow are not failures */
    struct canned k2 = {.replies = {"RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n"}};
    CHECK_EQ_INT(canned_start(&k2, &th), 0);
    t = server_target(k2.port);
    CHECK_EQ_INT(run("@allow rtsp.cseq.echo\n> OPTIONS {url} RTSP/1.0\n< RTSP/1.0 200\n", &t, NULL, &sc, &r),
                 0);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    finish(&sc, &r);
    canned_stop(&k2, th);
}

static void test_lab_reply_without_blank_line(void)
{
    struct canned k = {.lab = true,
                       .replies = {
                           "RTSP/1.0 200 OK\nCSeq: {cseq}\nSession: 123456",
                           "RTSP/1.0 200 OK\nCSeq: {cseq}\nSession: 123456\nMean FPS: 20",
                       }};
    pthread_t th;
    CHECK_EQ_INT(canned_start(&k, &th), 0);
    const char *text = "@profile lab\n"
                       "> SETUP {media} RTSP/1.0\n"
                       "< RTSP/1.0 200 OK\n"
                       "< Session: 123456\n"
                       "\n"
                       "> PLAY {media} RTSP/1.0\n"
                       "< RTSP/1.0 200 OK\n"
                       "expect close\n";
    struct replay_target t = server_target(k.port);
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    dump(&r);
    if (r.n_exchanges == 2) {
        CHECK(text_has(r.exchanges[1].request_text, "\nSession: 123456"));
        CHECK(text_has(r.exchanges[1].deviations, "missing-final-blank-line"));
        CHECK(text_has(r.exchanges[1].deviations, "bad-header-name"));
    }
    finish(&sc, &r);
    canned_stop(&k, th);
}

static struct dialect *load_dialect(const char *name)
{
    struct dialect *d = NULL;
    char err[512];
    if (dialect_load(name, "scenarios/lab", &d, err, sizeof err) < 0)
        fprintf(stderr, "    %s\n", err);
    CHECK(d != NULL);
    return d;
}

/* The run's dialect replaces the scenario's: bare-cseq requests, whose
 * CSeq the engine still knows and checks in the replies. */
static void test_lab_dialect_override(void)
{
    struct canned k = {.lab = true,
                       .replies = {
                           "RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456",
                           "RTSP/1.0 200 OK\nCSeq: 2\nSession: 123456",
                           "RTSP/1.0 200 OK\nCSeq: 4\nSession: 123456",
                       }};
    pthread_t th;
    CHECK_EQ_INT(canned_start(&k, &th), 0);
    const char *text = "@profile lab\n"
                       "@on-fail continue\n"
                       "> SETUP {media} RTSP/1.0\n"
                       "< RTSP/1.0 200 OK\n"
                       "\n"
                       "> PLAY {media} RTSP/1.0\n"
                       "< RTSP/1.0 200 OK\n"
                       "\n"
                       "> PAUSE {media} RTSP/1.0\n"
                       "< RTSP/1.0 200 OK\n"
                       "expect close\n";
    struct replay_target t = server_target(k.port);
    struct dialect *d = load_dialect("bare-cseq");
    t.dialect = d;
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_FAIL);
    CHECK(strcmp(r.dialect, "bare-cseq") == 0);
    CHECK_EQ_INT(r.n_exchanges, 3);
    if (r.n_exchanges == 3) {
        char want[128];
        snprintf(want, sizeof want, "SETUP " MEDIA "\n1\n RTSP/1.0 RTP/UDP %u",
                 (unsigned)atoi(strrchr(r.exchanges[0].request_text, ' ') + 1));
        CHECK(strcmp(r.exchanges[0].request_text, want) == 0);
        /* the RTP port the engine opened: even */
        CHECK(atoi(strrchr(r.exchanges[0].request_text, ' ') + 1) % 2 == 0);
        CHECK(strcmp(r.exchanges[1].request_text, "PLAY \n2") == 0);
        CHECK(strcmp(r.exchanges[2].request_text, "PAUSE \n3") == 0);
        CHECK(strcmp(r.exchanges[0].uri, MEDIA) == 0);
        CHECK(strcmp(r.exchanges[1].uri, "") == 0); /* no file name on the wire */
        CHECK(r.exchanges[2].has_cseq && r.exchanges[2].cseq == 3);
    }
    /* the wrong echo of the third is caught: the engine knows the CSeq it wrote */
    CHECK_EQ_INT(r.n_failures, 1);
    if (r.n_failures == 1) {
        CHECK(strcmp(r.failures[0].check, "rtsp.cseq.echo") == 0);
        CHECK(strcmp(r.failures[0].message, "expected CSeq 3, got 4") == 0);
    }
    finish(&sc, &r);
    canned_stop(&k, th);
    dialect_free(d);
}

/* crlf3 with what a block still says itself: an explicit CSeq in the
 * template's place, a left-out Session, an appended header; and a request
 * over 255 bytes, refused before anything is written. */
static void test_lab_dialect_block_headers(void)
{
    struct canned k = {.lab = true,
                       .replies = {
                           "RTSP/1.0 200 OK\nCSeq: {cseq}\nSession: 123456",
                           "RTSP/1.0 200 OK\nCSeq: {cseq}\nSession: 123456",
                       }};
    pthread_t th;
    CHECK_EQ_INT(canned_start(&k, &th), 0);
    const char *text = "@profile lab\n"
                       "> SETUP {media} RTSP/1.0\n"
                       "> CSeq: 7\n"
                       "< RTSP/1.0 200 OK\n"
                       "< CSeq: 7\n"
                       "\n"
                       "> PLAY {media} RTSP/1.0\n"
                       "> X-Note: n{cseq}\n"
                       "> !Session\n"
                       "< RTSP/1.0 200 OK\n"
                       "\n"
                       "> PAUSE {media} RTSP/1.0\n"
                       "> X-Big: {repeat:A:200}\n"
                       "< RTSP/1.0 200 OK\n";
    struct replay_target t = server_target(k.port);
    struct dialect *d = load_dialect("crlf3");
    t.dialect = d;
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, NULL, &sc, &r), 0);
    CHECK_EQ_INT(r.verdict, REPLAY_FAIL);
    CHECK_EQ_INT(r.n_exchanges, 2);
    if (r.n_exchanges == 2) {
        const char *setup = "SETUP " MEDIA " RTSP/1.0\r\nCSeq: 7\r\nTransport: RTP/UDP; client_port= ";
        CHECK(strncmp(r.exchanges[0].request_text, setup, strlen(setup)) == 0);
        CHECK(r.exchanges[0].has_cseq && r.exchanges[0].cseq == 7);
        CHECK(strcmp(r.exchanges[1].request_text, "PLAY " MEDIA " RTSP/1.0\r\nCSeq: 2\r\nX-Note: n2\r\n") == 0);
    }
    CHECK_EQ_INT(r.n_failures, 1);
    if (r.n_failures == 1) {
        CHECK(strcmp(r.failures[0].check, "scenario.send") == 0);
        CHECK_EQ_INT(r.failures[0].line, 12);
        /* 28 + "CSeq: 3\r\n" 9 + "Session: 123456\r\n" 17 + "X-Big: A..A\r\n" 209 */
        CHECK(text_has(r.failures[0].message, "the PAUSE request is 263 bytes, over 255"));
    }
    finish(&sc, &r);
    canned_stop(&k, th);
    dialect_free(d);
}

/* ---------- events and hooks, without a peer ---------- */

struct hook_log {
    int events;                       /* events delivered */
    int64_t at[8];                    /* their times after the start, ms */
    enum scenario_event_kind kind[8]; /* their kinds */
    int fail_at;                      /* event number that fails (-1 none) */
    int64_t dead_after_ms;            /* sut_gone says yes after this (0 never) */
    int64_t start;                    /* monotonic start */
    int sut_polls;                    /* sut_gone calls */
};

static int on_event(void *ctx, const struct scenario_event *ev, char *err, size_t cap)
{
    struct hook_log *h = ctx;
    if (h->events < 8) {
        h->at[h->events] = now_ms() - h->start;
        h->kind[h->events] = ev->kind;
    }
    if (h->events++ == h->fail_at) {
        snprintf(err, cap, "no such qdisc");
        return -1;
    }
    return 0;
}

static int on_sut_gone(void *ctx, char *why, size_t cap)
{
    struct hook_log *h = ctx;
    h->sut_polls++;
    if (h->dead_after_ms && now_ms() - h->start >= h->dead_after_ms) {
        snprintf(why, cap, "exited with status 3");
        return 1;
    }
    return 0;
}

static void test_events_fire_in_time(void)
{
    const char *text = "at 300ms: to-peer delay 5ms\n"
                       "at 100ms: loss 10%\n"
                       "at 200ms: blackout 1s\n"
                       "at 10s: loss 1%\n"
                       "wait 500ms\n";
    struct hook_log log = {.fail_at = 1, .start = now_ms()};
    struct replay_hooks h = {.ctx = &log, .event = on_event, .sut_gone = on_sut_gone};
    struct replay_target t = server_target(9);
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, &h, &sc, &r), 0);
    CHECK_EQ_INT(log.events, 3);
    CHECK_EQ_INT(r.events_fired, 3);
    /* on time, in time order (a loaded machine may be late, never early) */
    CHECK(log.at[0] >= 95 && log.at[0] < 250);
    CHECK(log.at[1] >= 195 && log.at[1] < 350);
    CHECK(log.at[2] >= 295 && log.at[2] < 450);
    CHECK_EQ_INT(log.kind[1], SCENARIO_EVENT_BLACKOUT);
    /* the failing event is recorded at its own line */
    CHECK_EQ_INT(r.verdict, REPLAY_FAIL);
    CHECK_EQ_INT(r.n_failures, 1);
    if (r.n_failures == 1) {
        CHECK(strcmp(r.failures[0].check, "scenario.event") == 0);
        CHECK_EQ_INT(r.failures[0].line, 3);
        CHECK(text_has(r.failures[0].message, "no such qdisc"));
    }
    CHECK(log.sut_polls >= 3);
    finish(&sc, &r);
}

static void test_dead_sut_fails_the_waiting_step_at_once(void)
{
    struct canned k = {.replies = {"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\r\n", "RTSP/1.0 200 OK\r\n\r\n"}};
    pthread_t th;
    CHECK_EQ_INT(canned_start(&k, &th), 0);
    const char *text = "> OPTIONS {url} RTSP/1.0\n"
                       "< RTSP/1.0 200\n"
                       ">raw \"OPTIONS * RTSP/1.0\\r\\nCSeq: 2\\r\\n\"\n"
                       "with timeout 10s\n"
                       "< RTSP/1.0 200\n"
                       "wait 1s\n";
    struct hook_log log = {.fail_at = -1, .start = now_ms(), .dead_after_ms = 300};
    struct replay_hooks h = {.ctx = &log, .sut_gone = on_sut_gone};
    struct replay_target t = server_target(k.port);
    struct scenario sc;
    struct replay_result r;
    int64_t t0 = now_ms();
    CHECK_EQ_INT(run(text, &t, &h, &sc, &r), 0);
    int64_t took = now_ms() - t0;
    CHECK_EQ_INT(r.verdict, REPLAY_FAIL);
    CHECK_EQ_INT(r.n_failures, 1);
    if (r.n_failures == 1) {
        CHECK(strcmp(r.failures[0].check, "scenario.sut-exited") == 0);
        CHECK_EQ_INT(r.failures[0].line, 5);
        CHECK(text_has(r.failures[0].message, "exited with status 3"));
    }
    CHECK(took < 1000);
    CHECK_EQ_INT(r.steps_skipped, 1);
    finish(&sc, &r);
    canned_stop(&k, th);
}

/* ---------- client role: scripted clients ---------- */

struct client_run {
    char url[256];       /* where the harness listens */
    int scenario;        /* which client behaviour */
    int ok;              /* the client's own checks passed */
    char session[64];    /* Session from the SETUP reply */
    int packets;         /* RTP packets received */
    int frames;          /* RTP/JPEG frames rebuilt */
    int markers;         /* packets with the marker bit */
    int bad_pt;          /* packets with another payload type */
    bool saw_eof;        /* the server dropped the connection */
    int statuses[8];     /* reply statuses in order */
    int nstatus;         /* entries used */
    char transport[256]; /* Transport of the SETUP reply */
    pthread_t th;        /* the client thread */
};

static int cl_connect(const char *url)
{
    unsigned port = 0;
    const char *p = strstr(url, "127.0.0.1:");
    if (!p || sscanf(p + 10, "%u", &port) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Send a request and read one reply into buf; returns the status, 0 on EOF, -1 on error. */
static int cl_request(struct client_run *c, int fd, const char *req, char *buf, size_t cap)
{
    if (write(fd, req, strlen(req)) < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n == 0) {
            c->saw_eof = true;
            return 0;
        }
        if (n < 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        struct rtsp_msg msg;
        struct rtsp_header hdrs[32];
        struct wire_error err;
        int rc = rtsp_parse(buf, len, NULL, &msg, hdrs, 32, &err);
        if (rc == WIRE_INCOMPLETE)
            continue;
        if (rc < 0 || msg.is_request)
            return -1;
        if (c->nstatus < 8)
            c->statuses[c->nstatus++] = msg.status;
        /* the reply echoes the request's CSeq */
        const char *rq = strstr(req, "CSeq: ");
        const struct wire_str *cs = rtsp_msg_header(&msg, "CSeq");
        if (rq && (!cs || (unsigned)atoi(rq + 6) != (unsigned)atoi(cs->ptr)))
            c->ok = 0;
        return msg.status;
    }
}

static int udp_pair(int *fd, uint16_t *port)
{
    for (int i = 0; i < 50; i++) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof a;
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
            getsockname(s, (struct sockaddr *)&a, &al) < 0)
            return -1;
        if (ntohs(a.sin_port) % 2 == 0) {
            *fd = s;
            *port = ntohs(a.sin_port);
            return 0;
        }
        close(s);
    }
    return -1;
}

/* Receive RTP/JPEG for ms milliseconds and rebuild frames. */
static void cl_receive(struct client_run *c, int fd, int ms)
{
    static uint8_t frame_buf[1 << 20];
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);
    int64_t end = now_ms() + ms;
    uint8_t pkt[65536];
    while (now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = recv(fd, pkt, sizeof pkt, 0);
        struct rtp_header h;
        if (n <= 0 || rtp_parse(pkt, (size_t)n, &h, &err) < 0)
            continue;
        c->packets++;
        if (h.payload_type != 26)
            c->bad_pt++;
        if (h.marker)
            c->markers++;
        int rc = rtpjpeg_depacketize_push(&d, h.payload, h.payload_len, h.timestamp, h.marker, h.seq, &err);
        if (rc == RTPJPEG_COMPLETE)
            c->frames++;
    }
}

static void *client_main(void *arg)
{
    struct client_run *c = arg;
    char buf[8192], req[1024];
    c->ok = 1;
    int fd = cl_connect(c->url);
    if (fd < 0) {
        c->ok = 0;
        return NULL;
    }
    if (c->scenario == 0) {
        /* a well-behaved UDP client */
        int rtp;
        uint16_t port;
        if (udp_pair(&rtp, &port) < 0) {
            c->ok = 0;
            close(fd);
            return NULL;
        }
        snprintf(req, sizeof req, "OPTIONS %s RTSP/1.0\r\nCSeq: 1\r\n\r\n", c->url);
        cl_request(c, fd, req, buf, sizeof buf);
        snprintf(
            req, sizeof req,
            "SETUP %s/track0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;unicast;client_port=%u-%u\r\n\r\n",
            c->url, port, port + 1);
        cl_request(c, fd, req, buf, sizeof buf);
        const char *s = strstr(buf, "Session: ");
        if (s)
            sscanf(s + 9, "%63[^\r\n;]", c->session);
        const char *tr = strstr(buf, "Transport: ");
        if (tr)
            sscanf(tr + 11, "%255[^\r\n]", c->transport);
        snprintf(req, sizeof req, "PLAY %s RTSP/1.0\r\nCSeq: 3\r\nSession: %s\r\n\r\n", c->url, c->session);
        cl_request(c, fd, req, buf, sizeof buf);
        cl_receive(c, rtp, 1500);
        snprintf(req, sizeof req, "TEARDOWN %s RTSP/1.0\r\nCSeq: 4\r\nSession: %s\r\n\r\n", c->url,
                 c->session);
        cl_request(c, fd, req, buf, sizeof buf);
        close(rtp);
    } else if (c->scenario == 1) {
        /* a client that breaks the rules: CSeq repeated, Session changed, then missing */
        snprintf(
            req, sizeof req,
            "SETUP %s/track0 RTSP/1.0\r\nCSeq: 5\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
            c->url);
        cl_request(c, fd, req, buf, sizeof buf);
        snprintf(req, sizeof req, "PLAY %s RTSP/1.0\r\nCSeq: 5\r\nSession: WRONG\r\n\r\n", c->url);
        cl_request(c, fd, req, buf, sizeof buf);
        snprintf(req, sizeof req, "TEARDOWN %s RTSP/1.0\r\nCSeq: 6\r\n\r\n", c->url);
        cl_request(c, fd, req, buf, sizeof buf);
    } else if (c->scenario == 2) {
        /* Digest, then Basic, then Digest with a wrong password */
        snprintf(req, sizeof req, "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\n\r\n", c->url);
        cl_request(c, fd, req, buf, sizeof buf);
        char realm[64] = "", nonce[128] = "";
        const char *r = strstr(buf, "realm=\"");
        const char *n = strstr(buf, "nonce=\"");
        if (r)
            sscanf(r + 7, "%63[^\"]", realm);
        if (n)
            sscanf(n + 7, "%127[^\"]", nonce);
        for (int k = 0; k < 2; k++) {
            const char *pass = k == 0 ? "secret" : "nope";
            char ha1[33], ha2[33], resp[33], tmp[512];
            struct md5_ctx m;
            uint8_t dg[16];
            char *outs[3] = {ha1, ha2, resp};
            for (int step = 0; step < 3; step++) {
                if (step == 0)
                    snprintf(tmp, sizeof tmp, "alice:%s:%s", realm, pass);
                else if (step == 1)
                    snprintf(tmp, sizeof tmp, "%s:%s", k == 0 ? "DESCRIBE" : "OPTIONS", c->url);
                else
                    snprintf(tmp, sizeof tmp, "%s:%s:00000001:0a4f113b:auth:%s", ha1, nonce, ha2);
                md5_init(&m);
                md5_update(&m, strlen(tmp), (const uint8_t *)tmp);
                md5_digest(&m, 16, dg);
                for (int i = 0; i < 16; i++)
                    snprintf(outs[step] + 2 * i, 3, "%02x", dg[i]);
            }
            snprintf(
                req, sizeof req,
                "%s %s RTSP/1.0\r\nCSeq: %d\r\nAuthorization: Digest username=\"alice\", realm=\"%s\", nonce=\"%s\", "
                "uri=\"%s\", response=\"%s\", qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n\r\n",
                k == 0 ? "DESCRIBE" : "OPTIONS", c->url, k == 0 ? 2 : 4, realm, nonce, c->url, resp);
            cl_request(c, fd, req, buf, sizeof buf);
            if (k == 0) {
                snprintf(req, sizeof req,
                         "OPTIONS %s RTSP/1.0\r\nCSeq: 3\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n",
                         c->url);
                cl_request(c, fd, req, buf, sizeof buf);
            }
        }
    } else if (c->scenario == 3) {
        /* the server drops the connection; come back on a new one */
        snprintf(req, sizeof req, "OPTIONS %s RTSP/1.0\r\nCSeq: 1\r\n\r\n", c->url);
        int st = cl_request(c, fd, req, buf, sizeof buf);
        if (st != 0)
            c->ok = 0;
        close(fd);
        fd = cl_connect(c->url);
        if (fd < 0) {
            c->ok = 0;
            return NULL;
        }
        snprintf(req, sizeof req, "OPTIONS %s RTSP/1.0\r\nCSeq: 2\r\n\r\n", c->url);
        cl_request(c, fd, req, buf, sizeof buf);
    }
    close(fd);
    return NULL;
}

static int start_client_thread(void *ctx, const char *url, char *err, size_t cap)
{
    struct client_run *c = ctx;
    snprintf(c->url, sizeof c->url, "%s", url);
    if (pthread_create(&c->th, NULL, client_main, c) != 0) {
        snprintf(err, cap, "pthread_create failed");
        return -1;
    }
    return 0;
}

static struct replay_target client_target(void)
{
    struct replay_target t = {
        .host = "127.0.0.1", .port = 0, .media = MEDIA, .media_file = MEDIA_FILE, .seed = 42};
    return t;
}

static void test_client_role_scripted_udp(void)
{
    const char *text = "@role client\n"
                       "< OPTIONS {url} RTSP/1.0\n"
                       "> RTSP/1.0 200 OK\n"
                       "> Public: OPTIONS, SETUP, PLAY, TEARDOWN\n"
                       "\n"
                       "< SETUP {url}/track0 RTSP/1.0\n"
                       "< Transport: ~client_port=([0-9]+)-([0-9]+) => $crtp $crtcp\n"
                       "> RTSP/1.0 200 OK\n"
                       "\n"
                       "< PLAY {url} RTSP/1.0\n"
                       "< Session: {session}\n"
                       "> RTSP/1.0 200 OK\n"
                       "rtp send fps 25\n"
                       "rtp for 500ms: packets > 0\n"
                       "\n"
                       "< TEARDOWN ~^{url}$ RTSP/1.0\n"
                       "> RTSP/1.0 200\n"
                       "> X-Client-Ports: {crtp} {rtp_port}\n";
    struct client_run c = {.scenario = 0};
    struct replay_hooks h = {.ctx = &c, .listening = start_client_thread};
    struct replay_target t = client_target();
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, &h, &sc, &r), 0);
    pthread_join(c.th, NULL);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    dump(&r);
    CHECK(c.ok);
    CHECK_EQ_INT(c.nstatus, 4);
    CHECK_EQ_INT(c.statuses[0], 200);
    CHECK_EQ_INT(c.statuses[3], 200);
    /* 16 hex digits, from the seed */
    CHECK_EQ_INT(strlen(c.session), 16);
    CHECK(strcmp(c.session, r.session) == 0);
    CHECK(text_has(c.transport, "server_port="));
    CHECK(text_has(c.transport, "ssrc="));
    /* RTP/JPEG that rebuilds into frames, paced at 25 fps */
    CHECK(c.packets > 100);
    CHECK_EQ_INT(c.bad_pt, 0);
    CHECK(c.frames >= 25 && c.frames <= 45);
    CHECK(c.markers >= c.frames);
    CHECK(r.listen_port > 0);
    CHECK(r.rtp_sent_packets >= (uint64_t)c.packets);
    CHECK_EQ_INT(r.n_windows, 1);
    if (r.n_windows == 1) {
        CHECK(r.windows[0].harness_sends);
        CHECK(r.windows[0].live_packets > 50);
    }
    CHECK_EQ_INT(r.n_exchanges, 4);
    if (r.n_exchanges == 4) {
        CHECK(strcmp(r.exchanges[1].method, "SETUP") == 0);
        CHECK_EQ_INT(r.exchanges[1].cseq, 2);
        CHECK_EQ_INT(r.exchanges[1].status, 200);
        CHECK(text_has(r.exchanges[1].response_text, "\r\nCSeq: 2\r\nSession: "));
        CHECK(r.exchanges[1].response_ns >= r.exchanges[1].request_ns);
        char want[64];
        snprintf(want, sizeof want, "X-Client-Ports: %d %d", atoi(strstr(c.transport, "client_port=") + 12),
                 atoi(strstr(c.transport, "client_port=") + 12));
        CHECK(text_has(r.exchanges[3].response_text, want));
        CHECK(text_has(r.exchanges[3].response_text, "RTSP/1.0 200 OK\r\n"));
    }
    finish(&sc, &r);
}

static void test_client_role_rule_breaker(void)
{
    const char *text = "@role client\n"
                       "@on-fail continue\n"
                       "< SETUP {url}/track0 RTSP/1.0\n"
                       "> RTSP/1.0 200 OK\n"
                       "\n"
                       "< PLAY {url} RTSP/1.0\n"
                       "> RTSP/1.0 200 OK\n"
                       "\n"
                       "< TEARDOWN {url} RTSP/1.0\n"
                       "> RTSP/1.0 200 OK\n";
    struct client_run c = {.scenario = 1};
    struct replay_hooks h = {.ctx = &c, .listening = start_client_thread};
    struct replay_target t = client_target();
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, &h, &sc, &r), 0);
    pthread_join(c.th, NULL);
    CHECK_EQ_INT(r.verdict, REPLAY_FAIL);
    CHECK_EQ_INT(r.n_failures, 3);
    if (r.n_failures != 3)
        dump(&r);
    if (r.n_failures == 3) {
        CHECK(strcmp(r.failures[0].check, "rtsp.cseq.increase") == 0);
        CHECK_EQ_INT(r.failures[0].line, 6);
        CHECK(strcmp(r.failures[0].message, "expected a CSeq above 5 in PLAY, got 5") == 0);
        CHECK(strcmp(r.failures[1].check, "rtsp.session.changed") == 0);
        CHECK_EQ_INT(r.failures[1].line, 6);
        CHECK(strcmp(r.failures[2].check, "rtsp.session.missing") == 0);
        CHECK_EQ_INT(r.failures[2].line, 9);
    }
    /* the interleaved SETUP got an interleaved Transport */
    if (r.n_exchanges == 3)
        CHECK(text_has(r.exchanges[0].response_text, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc="));
    finish(&sc, &r);
}

static void test_client_role_authentication(void)
{
    const char *text = "@role client\n"
                       "@on-fail continue\n"
                       "< DESCRIBE {url} RTSP/1.0\n"
                       "< !Authorization\n"
                       "> RTSP/1.0 401 Unauthorized\n"
                       "> WWW-Authenticate: Digest realm=\"harness\", nonce=\"{nonce}\", qop=\"auth\"\n"
                       "\n"
                       "< DESCRIBE {url} RTSP/1.0\n"
                       "< auth: digest alice secret\n"
                       "> RTSP/1.0 200 OK\n"
                       "\n"
                       "< OPTIONS {url} RTSP/1.0\n"
                       "< auth: basic alice secret\n"
                       "> RTSP/1.0 200 OK\n"
                       "\n"
                       "< OPTIONS {url} RTSP/1.0\n"
                       "< auth: digest alice secret\n"
                       "> RTSP/1.0 200 OK\n";
    struct client_run c = {.scenario = 2};
    struct replay_hooks h = {.ctx = &c, .listening = start_client_thread};
    struct replay_target t = client_target();
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, &h, &sc, &r), 0);
    pthread_join(c.th, NULL);
    CHECK_EQ_INT(c.nstatus, 4);
    CHECK_EQ_INT(c.statuses[0], 401);
    CHECK_EQ_INT(r.verdict, REPLAY_FAIL);
    CHECK_EQ_INT(r.n_failures, 1);
    if (r.n_failures == 1) {
        CHECK(strcmp(r.failures[0].check, "scenario.auth") == 0);
        CHECK_EQ_INT(r.failures[0].line, 17);
        CHECK(text_has(r.failures[0].message, "expected digest response"));
    }
    finish(&sc, &r);
}

static void test_client_role_server_drops_connection(void)
{
    const char *text = "@role client\n"
                       "< OPTIONS {url} RTSP/1.0\n"
                       "close\n"
                       "\n"
                       "< OPTIONS {url} RTSP/1.0\n"
                       "> RTSP/1.0 200 OK\n";
    struct client_run c = {.scenario = 3};
    struct replay_hooks h = {.ctx = &c, .listening = start_client_thread};
    struct replay_target t = client_target();
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, &h, &sc, &r), 0);
    pthread_join(c.th, NULL);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    dump(&r);
    CHECK(c.saw_eof);
    CHECK(c.ok);
    CHECK_EQ_INT(c.nstatus, 1);
    if (r.n_exchanges == 2)
        CHECK(strcmp(r.exchanges[0].remote, r.exchanges[1].remote) != 0);
    finish(&sc, &r);
}

/* ---------- client role: real clients ---------- */

struct proc {
    pid_t pid;               /* the client process */
    int status;              /* its wait status once reaped */
    bool reaped;             /* waitpid returned it */
    const char *const *argv; /* command, with "URL" replaced by the url */
    char out_path[64];       /* where its stdout goes */
};

static int start_proc(void *ctx, const char *url, char *err, size_t cap)
{
    struct proc *p = ctx;
    const char *args[32];
    int n = 0;
    char port[16] = "";
    const char *pp = strstr(url, "127.0.0.1:");
    if (pp)
        snprintf(port, sizeof port, "%d", atoi(pp + 10));
    static char expanded[32][512];
    for (; p->argv[n] && n < 31; n++) {
        /* "URL" and "PORT" anywhere in an argument ("location=URL") */
        const char *src = p->argv[n];
        size_t k = 0;
        while (*src && k + 1 < sizeof expanded[n]) {
            const char *with = strncmp(src, "URL", 3) == 0 ? url : strncmp(src, "PORT", 4) == 0 ? port : NULL;
            if (with) {
                k += (size_t)snprintf(expanded[n] + k, sizeof expanded[n] - k, "%s", with);
                src += with == url ? 3 : 4;
            } else {
                expanded[n][k++] = *src++;
            }
        }
        expanded[n][k < sizeof expanded[n] ? k : sizeof expanded[n] - 1] = '\0';
        args[n] = expanded[n];
    }
    args[n] = NULL;
    p->pid = fork();
    if (p->pid < 0) {
        snprintf(err, cap, "fork: %s", strerror(errno));
        return -1;
    }
    if (p->pid == 0) {
        int out = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_RDWR);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        if (null >= 0)
            dup2(null, 0);
        execvp(args[0], (char *const *)args);
        _exit(127);
    }
    return 0;
}

static int proc_gone(void *ctx, char *why, size_t cap)
{
    struct proc *p = ctx;
    if (!p->reaped && p->pid > 0 && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
        p->reaped = true;
    if (!p->reaped)
        return 0;
    snprintf(why, cap, "exited with status %d", WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1);
    return 1;
}

static void proc_finish(struct proc *p, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (!p->reaped && p->pid > 0) {
        if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
            p->reaped = true;
            break;
        }
        if (now_ms() > end) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &p->status, 0);
            p->reaped = true;
            break;
        }
        usleep(20000);
    }
}

static bool have_program(const char *name)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static const char *ffmpeg_scenario(bool tcp, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "@role client\n"
             "@transport %s\n"
             "@timeout 10s\n"
             "with optional\n"
             "< OPTIONS {url} RTSP/1.0\n"
             "> RTSP/1.0 200 OK\n"
             "> Public: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER\n"
             "\n"
             "< DESCRIBE {url} RTSP/1.0\n"
             "< Accept: ~application/sdp\n"
             "> RTSP/1.0 200 OK\n"
             "> Content-Type: application/sdp\n"
             "> Content-Base: {url}/\n"
             ">\n"
             "> v=0\n"
             "> o=- 1 1 IN IP4 {host}\n"
             "> s={media}\n"
             "> c=IN IP4 0.0.0.0\n"
             "> t=0 0\n"
             "> a=control:*\n"
             "> m=video 0 RTP/AVP 26\n"
             "> a=rtpmap:26 JPEG/90000\n"
             "> a=control:track0\n"
             "\n"
             "< SETUP {url}/track0 RTSP/1.0\n"
             "< Transport: ~%s\n"
             "> RTSP/1.0 200 OK\n"
             "\n"
             "< PLAY ~^{url} RTSP/1.0\n"
             "> RTSP/1.0 200 OK\n"
             "rtp send\n"
             "\n"
             "with optional\n"
             "< PAUSE ~^{url} RTSP/1.0\n"
             "> RTSP/1.0 200 OK\n"
             "\n"
             "< TEARDOWN ~^{url} RTSP/1.0\n"
             "with optional\n"
             "> RTSP/1.0 200 OK\n",
             tcp ? "tcp" : "udp", tcp ? "interleaved=0-1" : "^RTP/AVP(/UDP)?;unicast;client_port=");
    return buf;
}

static void test_client_role_ffmpeg(void)
{
    if (!have_program("ffmpeg")) {
        fprintf(stderr, "    ffmpeg not installed: skipped\n");
        return;
    }
    for (int tcp = 1; tcp >= 0; tcp--) {
        static const char *const argv_tcp[] = {"ffmpeg", "-nostdin", "-hide_banner", "-rtsp_transport",
                                               "tcp",    "-i",       "URL",          "-frames:v",
                                               "20",     "-f",       "null",         "-",
                                               NULL};
        static const char *const argv_udp[] = {"ffmpeg", "-nostdin", "-hide_banner", "-rtsp_transport",
                                               "udp",    "-i",       "URL",          "-frames:v",
                                               "20",     "-f",       "null",         "-",
                                               NULL};
        struct proc p = {.argv = tcp ? argv_tcp : argv_udp};
        snprintf(p.out_path, sizeof p.out_path, "/tmp/test_replay_ffmpeg_%d.out", (int)getpid());
        struct replay_hooks h = {.ctx = &p, .listening = start_proc, .sut_gone = proc_gone};
        struct replay_target t = client_target();
        char text[2048];
        struct scenario sc;
        struct replay_result r;
        CHECK_EQ_INT(run(ffmpeg_scenario(tcp, text, sizeof text), &t, &h, &sc, &r), 0);
        proc_finish(&p, 10000);
        char out[65536] = "";
        FILE *f = fopen(p.out_path, "r");
        if (f) {
            size_t n = fread(out, 1, sizeof out - 1, f);
            out[n] = '\0';
            fclose(f);
        }
        unlink(p.out_path);
        /* ffmpeg's last progress line: all 20 frames went through the decoder */
        CHECK(text_has(out, "frame=   20"));
        CHECK(text_has(out, "Video: mjpeg"));
        CHECK(text_has(out, "384x288"));
        if (!text_has(out, "frame=   20"))
            fprintf(stderr, "    ffmpeg said: %.2000s\n", out);
        if (r.verdict != REPLAY_PASS)
            fprintf(stderr, "    over %s:\n", tcp ? "TCP" : "UDP");
        CHECK_EQ_INT(r.verdict, REPLAY_PASS);
        dump(&r);
        /* ffmpeg decoded its 20 frames and exited cleanly */
        CHECK(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0);
        CHECK(r.rtp_sent_packets >= 20);
        CHECK(r.n_exchanges >= 4);
        if (r.n_exchanges >= 3)
            CHECK(text_has(r.exchanges[2].response_text, tcp ? "interleaved=0-1" : "server_port="));
        finish(&sc, &r);
    }
}

static void test_client_role_gstreamer(void)
{
    if (!have_program("gst-launch-1.0")) {
        fprintf(stderr, "    gst-launch-1.0 not installed: skipped\n");
        return;
    }
    for (int tcp = 1; tcp >= 0; tcp--) {
        static const char *const argv_tcp[] = {"gst-launch-1.0",
                                               "-q",
                                               "rtspsrc",
                                               "location=URL",
                                               "protocols=tcp",
                                               "!",
                                               "rtpjpegdepay",
                                               "!",
                                               "jpegdec",
                                               "!",
                                               "fakesink",
                                               "num-buffers=20",
                                               NULL};
        static const char *const argv_udp[] = {"gst-launch-1.0",
                                               "-q",
                                               "rtspsrc",
                                               "location=URL",
                                               "protocols=udp",
                                               "!",
                                               "rtpjpegdepay",
                                               "!",
                                               "jpegdec",
                                               "!",
                                               "fakesink",
                                               "num-buffers=20",
                                               NULL};
        struct proc p = {.argv = tcp ? argv_tcp : argv_udp};
        snprintf(p.out_path, sizeof p.out_path, "/tmp/test_replay_gst_%d.out", (int)getpid());
        struct replay_hooks h = {.ctx = &p, .listening = start_proc, .sut_gone = proc_gone};
        struct replay_target t = client_target();
        char text[2048];
        struct scenario sc;
        struct replay_result r;
        CHECK_EQ_INT(run(ffmpeg_scenario(tcp, text, sizeof text), &t, &h, &sc, &r), 0);
        proc_finish(&p, 10000);
        if (!(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0)) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "cat %s >&2", p.out_path);
            if (system(cmd) != 0)
                fprintf(stderr, "    (no output)\n");
            for (size_t i = 0; i < r.n_exchanges; i++)
                fprintf(stderr, "    %s\n    -> %s\n", r.exchanges[i].request_text,
                        r.exchanges[i].response_text);
        }
        unlink(p.out_path);
        if (r.verdict != REPLAY_PASS)
            fprintf(stderr, "    over %s:\n", tcp ? "TCP" : "UDP");
        CHECK_EQ_INT(r.verdict, REPLAY_PASS);
        dump(&r);
        /* 20 frames decoded by jpegdec, then EOS: exit status 0 */
        CHECK(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0);
        CHECK(r.rtp_sent_packets >= 20);
        finish(&sc, &r);
    }
}

static void test_client_role_lab_client(void)
{
    if (!have_program("python3")) {
        fprintf(stderr, "    python3 not installed: skipped\n");
        return;
    }
    const char *text = "@role client\n"
                       "@profile lab\n"
                       "< SETUP {media} RTSP/1.0\n"
                       "< Transport: ~client_port= [0-9]+\n"
                       "> RTSP/1.0 200 OK\n"
                       "\n"
                       "< PLAY {media} RTSP/1.0\n"
                       "> RTSP/1.0 200 OK\n"
                       "rtp send\n"
                       "\n"
                       "< PAUSE {media} RTSP/1.0\n"
                       "> RTSP/1.0 200 OK\n"
                       "rtp stop\n"
                       "\n"
                       "< TEARDOWN {media} RTSP/1.0\n"
                       "> RTSP/1.0 200 OK\n";
    static const char *const argv[] = {"python3",   "fixtures/lab_client.py",
                                       "127.0.0.1", "PORT",
                                       "0",         MEDIA,
                                       "--play",    "1",
                                       "--pause",   "0.3",
                                       "--json",    NULL};
    struct proc p = {.argv = argv};
    snprintf(p.out_path, sizeof p.out_path, "/tmp/test_replay_lab_%d.out", (int)getpid());
    struct replay_hooks h = {.ctx = &p, .listening = start_proc, .sut_gone = proc_gone};
    struct replay_target t = client_target();
    struct scenario sc;
    struct replay_result r;
    CHECK_EQ_INT(run(text, &t, &h, &sc, &r), 0);
    proc_finish(&p, 10000);
    CHECK_EQ_INT(r.verdict, REPLAY_PASS);
    dump(&r);
    CHECK(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0);
    char out[65536] = "";
    FILE *f = fopen(p.out_path, "r");
    if (f) {
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = '\0';
        fclose(f);
    }
    unlink(p.out_path);
    CHECK(text_has(out, "\"ok\": true"));
    CHECK(text_has(out, "\"first_seq\": 1"));
    CHECK(text_has(out, "\"bad_payloads\": 0"));
    CHECK(text_has(out, "\"packets_after_pause\": 0"));
    const char *fs = strstr(out, "\"frames_shown\": ");
    CHECK(fs && atoi(fs + 16) >= 15);
    if (r.n_exchanges >= 1)
        CHECK(r.exchanges[0].response_text &&
              strncmp(r.exchanges[0].response_text, "RTSP/1.0 200 OK\nCSeq: 1\nSession: ", 33) == 0);
    finish(&sc, &r);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_udp_play_pause_teardown);
    RUN(test_tcp_interleaved);
    RUN(test_pipeline);
    RUN(test_wrong_status_fails_at_its_line);
    RUN(test_lab_dialect);
    RUN(test_overrides_raw_split_silence);
    RUN(test_two_connections);
    RUN(test_auth_functions);
    RUN(test_optional_steps);
    RUN(test_automatic_checks_against_a_broken_server);
    RUN(test_lab_reply_without_blank_line);
    RUN(test_lab_dialect_override);
    RUN(test_lab_dialect_block_headers);
    RUN(test_events_fire_in_time);
    RUN(test_dead_sut_fails_the_waiting_step_at_once);
    RUN(test_client_role_scripted_udp);
    RUN(test_client_role_rule_breaker);
    RUN(test_client_role_authentication);
    RUN(test_client_role_server_drops_connection);
    RUN(test_client_role_ffmpeg);
    RUN(test_client_role_gstreamer);
    RUN(test_client_role_lab_client);
    CHECK_DONE();
}
