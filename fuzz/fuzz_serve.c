/* libFuzzer target for the reference server's request handling
 * (harness/server/server.c), in-process: the server's own accept, read,
 * parse, session and reply code on its own event loop, fed by TCP
 * connections to 127.0.0.1 inside a network namespace of the process's own
 * (fuzz_net.h). The first input byte picks one of the server
 * configurations below; the rest is split into up to four connections at
 * FUZZ_CONN_SEPARATOR, fed one after the other (UDP sessions outlive their
 * connection, so a later one can PLAY or TEARDOWN them). After each input
 * every session is ended as at shutdown, so nothing carries over.
 *
 * server.c is included rather than linked: the target needs its static
 * state (the server struct, the accept handler, session teardown) and the
 * server has no in-process API besides server_run. Its random session ids,
 * SSRCs and sequence numbers come from getrandom, replaced here by a
 * generator restarted for every input, so a session id is the same on
 * every run and the corpus can name it. */
#define getrandom fuzz_getrandom
#include "server/server.c"
#undef getrandom

#include "fuzz_net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CONNECTIONS 4

static uint64_t prng_state;

/* splitmix64: deterministic for a given start. */
ssize_t fuzz_getrandom(void *buf, size_t len, unsigned int flags)
{
    (void)flags;
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        uint64_t z = (prng_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        p[i] = (uint8_t)(z ^ (z >> 31));
    }
    return (ssize_t)len;
}

/* What the first byte selects: each dialect mode, both authentication
 * schemes (user "fuzz", password "fuzz"), tight limits, and the
 * deliberate faults of fixtures/broken-server. */
static struct server_config configs[] = {
    {.dialect = SERVER_DIALECT_AUTO},
    {.dialect = SERVER_DIALECT_RFC},
    {.dialect = SERVER_DIALECT_LAB},
    {.dialect = SERVER_DIALECT_AUTO, .auth_on = true, .auth_scheme = AUTH_BASIC},
    {.dialect = SERVER_DIALECT_AUTO, .auth_on = true, .auth_scheme = AUTH_DIGEST},
    {.dialect = SERVER_DIALECT_AUTO, .max_sessions = 1, .max_request_bytes = 300, .loop = true},
    {.dialect = SERVER_DIALECT_AUTO,
     .faults = SERVER_FAULT_CSEQ | SERVER_FAULT_SESSION | SERVER_FAULT_RTP_AFTER_PAUSE},
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

static struct server servers[N_CONFIGS];

/* The start of server_run without its signal handling, HTTP view and
 * output: the same state, on a listener at 127.0.0.1. */
static void server_init(struct server *s, struct server_config *cfg, const char *udp_addr,
                        const struct media_catalog *media, struct sender_pool *senders)
{
    cfg->media_dir = "(generated)";
    cfg->bind_addr = udp_addr;
    cfg->fps = 25;
    cfg->mtu = 1400;
    cfg->auth_user_pass = "fuzz:fuzz";
    cfg->realm = "fuzz";
    cfg->session_timeout_s = 60;
    cfg->http_port = -1;
    cfg->rtp_port_lo = 20000;
    cfg->rtp_port_hi = 20999;
    cfg->threads = 1;
    if (!cfg->max_sessions)
        cfg->max_sessions = 64;
    cfg->max_connections = 16;
    if (!cfg->max_request_bytes)
        cfg->max_request_bytes = 65536;
    cfg->idle_timeout_s = 60;
    s->cfg = cfg;
    s->media = *media;
    s->senders = senders;
    struct wire_error werr;
    char err[256];
    int fd;
    if (cfg->auth_on && auth_init(&s->auth, cfg->auth_user_pass, cfg->auth_scheme, cfg->realm, &werr) < 0)
        abort();
    s->max_payload = rtpjpeg_max_payload_for_mtu(cfg->mtu);
    s->loop = loop_new();
    if (!s->loop || (fd = listen_tcp("127.0.0.1", 0, &s->port, err, sizeof err)) < 0 ||
        loop_add(s->loop, &s->listen_io, fd, EPOLLIN, on_listen) < 0) {
        fprintf(stderr, "fuzz: server: %s\n", err);
        abort();
    }
    loop_set_after_hook(s->loop, after_batch, s);
    snprintf(s->host, sizeof s->host, "127.0.0.1");
    s->port_cursor = cfg->rtp_port_lo;
    s->frame_buf_cap = (size_t)s->media.max_packets * (4 + RTP_HEADER_LEN + s->max_payload) +
                       s->media.max_jpeg + 64;
    s->frame_buf = malloc(s->frame_buf_cap);
    s->hdrs = calloc(s->media.max_packets + 1, sizeof *s->hdrs);
    if (!s->frame_buf || !s->hdrs)
        abort();
}

static void init(void)
{
    const char *udp_addr = fuzz_private_network();
    static struct media_catalog media;
    fuzz_media(&media, rtpjpeg_max_payload_for_mtu(1400));
    char err[256];
    struct sender_pool *senders = sender_pool_start(1, media.max_packets, err, sizeof err);
    if (!senders) {
        fprintf(stderr, "fuzz: %s\n", err);
        abort();
    }
    for (size_t i = 0; i < N_CONFIGS; i++)
        server_init(&servers[i], &configs[i], udp_addr, &media, senders);
}

static bool no_connections(void *ctx)
{
    const struct server *s = ctx;
    return s->conns == NULL && s->zombies == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        init();
        ready = true;
    }
    if (size == 0)
        return 0;
    struct server *s = &servers[data[0] % N_CONFIGS];
    prng_state = 0;
    const uint8_t *starts[FUZZ_CONNECTIONS];
    size_t lens[FUZZ_CONNECTIONS];
    size_t n = fuzz_split_connections(data + 1, size - 1, starts, lens, FUZZ_CONNECTIONS);
    for (size_t i = 0; i < n; i++)
        fuzz_drive(s->loop, s->port, starts[i], lens[i], after_batch, no_connections, s);
    while (s->sessions)
        session_destroy(s, s->sessions, true);
    return 0;
}
