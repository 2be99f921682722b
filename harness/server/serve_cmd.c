/* `rtsp-harness serve`: parse and check the options, then run the server.
 * Every option is documented in docs/serve.md. */
#include "serve.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rtsp-harness serve [--media DIR] [--port N] [options]\n"
            "\n"
            "The reference RTSP server: every NAME.Mjpeg file and JPEG directory in the\n"
            "media directory is the stream rtsp://HOST:PORT/NAME, in RFC 2326 (RTP/JPEG over\n"
            "UDP or TCP interleaved) or in the student lab's dialect.\n"
            "\n"
            "  --media DIR            media directory (default fixtures)\n"
            "  --port N               RTSP port, 0 picks one (default 8554)\n"
            "  --bind ADDR            IPv4 address to listen on (default 0.0.0.0)\n"
            "  --fps F                frame rate (default 20; NAME.fps overrides per stream)\n"
            "  --loop                 loop streams instead of ending them\n"
            "  --mtu N                largest IP packet, 128..65535 (default 1400)\n"
            "  --dialect D            rfc, lab or auto (default auto: per connection)\n"
            "  --auth USER:PASSWORD   require credentials\n"
            "  --auth-scheme S        basic or digest (default digest)\n"
            "  --realm R              authentication realm (default rtsp-harness)\n"
            "  --session-timeout S    seconds before a silent session ends (default 60)\n"
            "  --http-port N          MJPEG-over-HTTP live view, 0 picks a port (default off)\n"
            "  --rtp-ports LO-HI      UDP server_port range (default 20000-39999)\n"
            "  --threads N            UDP sender threads (default: online CPUs)\n"
            "  --max-sessions N       sessions before 503 (default 4096)\n"
            "  --max-connections N    connections before 503 (default 2048)\n"
            "  --max-request-bytes N  request size before 413 (default 65536)\n"
            "  --idle-timeout S       close connections silent this long (default 60)\n"
            "  --no-gso               one datagram per RTP packet, no UDP GSO (for captures\n"
            "                         on loopback, which show GSO sends as one super-packet)\n"
            "  --fault F              misbehave on purpose, to test the harness itself:\n"
            "                         cseq (PLAY replies echo CSeq + 1), session (the session\n"
            "                         is forgotten once PLAY is answered), rtp-after-pause\n"
            "                         (PAUSE is answered but the stream goes on); repeatable\n"
            "  -v, --verbose          one line per request on stderr\n"
            "\n"
            "Prints a `stream` line per stream, then `ready URL`, on standard output.\n"
            "SIGINT/SIGTERM: RTCP BYE to every session, exit 0.\n");
}

/* A whole decimal number in [lo, hi]. */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

enum {
    OPT_MEDIA = 256, OPT_PORT, OPT_BIND, OPT_FPS, OPT_LOOP, OPT_MTU, OPT_DIALECT, OPT_AUTH,
    OPT_AUTH_SCHEME, OPT_REALM, OPT_SESSION_TIMEOUT, OPT_HTTP_PORT, OPT_RTP_PORTS, OPT_THREADS,
    OPT_MAX_SESSIONS, OPT_MAX_CONNECTIONS, OPT_MAX_REQUEST_BYTES, OPT_IDLE_TIMEOUT, OPT_NO_GSO, OPT_FAULT, OPT_HELP,
};

static int bad(const char *opt, const char *value, const char *why)
{
    fprintf(stderr, "rtsp-harness serve: %s '%s': %s\n", opt, value ? value : "", why);
    fprintf(stderr, "try 'rtsp-harness serve --help'\n");
    return 2;
}

int serve_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"media", required_argument, NULL, OPT_MEDIA},
        {"port", required_argument, NULL, OPT_PORT},
        {"bind", required_argument, NULL, OPT_BIND},
        {"fps", required_argument, NULL, OPT_FPS},
        {"loop", no_argument, NULL, OPT_LOOP},
        {"mtu", required_argument, NULL, OPT_MTU},
        {"dialect", required_argument, NULL, OPT_DIALECT},
        {"auth", required_argument, NULL, OPT_AUTH},
        {"auth-scheme", required_argument, NULL, OPT_AUTH_SCHEME},
        {"realm", required_argument, NULL, OPT_REALM},
        {"session-timeout", required_argument, NULL, OPT_SESSION_TIMEOUT},
        {"http-port", required_argument, NULL, OPT_HTTP_PORT},
        {"rtp-ports", required_argument, NULL, OPT_RTP_PORTS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
        {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
        {"max-request-bytes", required_argument, NULL, OPT_MAX_REQUEST_BYTES},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"no-gso", no_argument, NULL, OPT_NO_GSO},
        {"fault", required_argument, NULL, OPT_FAULT},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct server_config cfg = {
        .media_dir = "fixtures",
        .bind_addr = "0.0.0.0",
        .port = 8554,
        .fps = 20,
        .mtu = 1400,
        .dialect = SERVER_DIALECT_AUTO,
        .auth_scheme = AUTH_DIGEST,
        .realm = AUTH_DEFAULT_REALM,
        .session_timeout_s = 60,
        .http_port = -1,
        .rtp_port_lo = 20000,
        .rtp_port_hi = 39999,
        .threads = cpus > 0 ? (unsigned)cpus : 1,
        .max_sessions = 4096,
        .max_connections = 2048,
        .max_request_bytes = 65536,
        .idle_timeout_s = 60,
    };
    unsigned long v;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":v", options, NULL)) != -1) {
        switch (opt) {
        case OPT_MEDIA:
            cfg.media_dir = optarg;
            break;
        case OPT_PORT:
            if (!parse_uint(optarg, 0, 65535, &v))
                return bad("--port", optarg, "not a port number 0..65535");
            cfg.port = (uint16_t)v;
            break;
        case OPT_BIND: {
            struct in_addr a;
            if (inet_pton(AF_INET, optarg, &a) != 1)
                return bad("--bind", optarg, "not an IPv4 address");
            cfg.bind_addr = optarg;
            break;
        }
        case OPT_FPS: {
            char *end;
            double fps = strtod(optarg, &end);
            if (*end || end == optarg || !(fps > 0 && fps <= 1000))
                return bad("--fps", optarg, "not a frame rate in (0, 1000]");
            cfg.fps = fps;
            break;
        }
        case OPT_LOOP:
            cfg.loop = true;
            break;
        case OPT_MTU:
            if (!parse_uint(optarg, 128, 65535, &v))
                return bad("--mtu", optarg, "not a size in 128..65535");
            cfg.mtu = v;
            break;
        case OPT_DIALECT:
            if (strcmp(optarg, "auto") == 0)
                cfg.dialect = SERVER_DIALECT_AUTO;
            else if (strcmp(optarg, "rfc") == 0)
                cfg.dialect = SERVER_DIALECT_RFC;
            else if (strcmp(optarg, "lab") == 0)
                cfg.dialect = SERVER_DIALECT_LAB;
            else
                return bad("--dialect", optarg, "expected rfc, lab or auto");
            break;
        case OPT_AUTH: {
            const char *colon = strchr(optarg, ':');
            if (!colon || colon == optarg)
                return bad("--auth", optarg, "expected USER:PASSWORD");
            cfg.auth_on = true;
            cfg.auth_user_pass = optarg;
            break;
        }
        case OPT_AUTH_SCHEME:
            if (strcmp(optarg, "basic") == 0)
                cfg.auth_scheme = AUTH_BASIC;
            else if (strcmp(optarg, "digest") == 0)
                cfg.auth_scheme = AUTH_DIGEST;
            else
                return bad("--auth-scheme", optarg, "expected basic or digest");
            break;
        case OPT_REALM:
            cfg.realm = optarg;
            break;
        case OPT_SESSION_TIMEOUT:
            if (!parse_uint(optarg, 1, 86400, &v))
                return bad("--session-timeout", optarg, "not a number of seconds in 1..86400");
            cfg.session_timeout_s = (unsigned)v;
            break;
        case OPT_HTTP_PORT:
            if (!parse_uint(optarg, 0, 65535, &v))
                return bad("--http-port", optarg, "not a port number 0..65535");
            cfg.http_port = (int)v;
            break;
        case OPT_RTP_PORTS: {
            unsigned long lo, hi;
            char buf[32];
            snprintf(buf, sizeof buf, "%s", optarg);
            char *dash = strchr(buf, '-');
            if (!dash)
                return bad("--rtp-ports", optarg, "expected LO-HI");
            *dash = 0;
            if (!parse_uint(buf, 1024, 65535, &lo) || !parse_uint(dash + 1, 1024, 65535, &hi) ||
                lo % 2 || hi < lo + 1)
                return bad("--rtp-ports", optarg, "expected an even LO and HI > LO, in 1024..65535");
            cfg.rtp_port_lo = (uint16_t)lo;
            cfg.rtp_port_hi = (uint16_t)hi;
            break;
        }
        case OPT_THREADS:
            if (!parse_uint(optarg, 1, 64, &v))
                return bad("--threads", optarg, "not a count in 1..64");
            cfg.threads = (unsigned)v;
            break;
        case OPT_MAX_SESSIONS:
            if (!parse_uint(optarg, 1, 1000000, &v))
                return bad("--max-sessions", optarg, "not a count in 1..1000000");
            cfg.max_sessions = (unsigned)v;
            break;
        case OPT_MAX_CONNECTIONS:
            if (!parse_uint(optarg, 1, 1000000, &v))
                return bad("--max-connections", optarg, "not a count in 1..1000000");
            cfg.max_connections = (unsigned)v;
            break;
        case OPT_MAX_REQUEST_BYTES:
            if (!parse_uint(optarg, 512, 64u << 20, &v))
                return bad("--max-request-bytes", optarg, "not a size in 512..67108864");
            cfg.max_request_bytes = v;
            break;
        case OPT_IDLE_TIMEOUT:
            if (!parse_uint(optarg, 1, 86400, &v))
                return bad("--idle-timeout", optarg, "not a number of seconds in 1..86400");
            cfg.idle_timeout_s = (unsigned)v;
            break;
        case OPT_FAULT:
            if (strcmp(optarg, "cseq") == 0)
                cfg.faults |= SERVER_FAULT_CSEQ;
            else if (strcmp(optarg, "session") == 0)
                cfg.faults |= SERVER_FAULT_SESSION;
            else if (strcmp(optarg, "rtp-after-pause") == 0)
                cfg.faults |= SERVER_FAULT_RTP_AFTER_PAUSE;
            else
                return bad("--fault", optarg, "not cseq, session or rtp-after-pause");
            break;
        case OPT_NO_GSO:
            cfg.no_gso = true;
            break;
        case 'v':
            cfg.verbose = true;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        case ':':
            return bad(argv[optind - 1], NULL, "needs a value");
        default:
            return bad(argv[optind - 1], NULL, "unknown option");
        }
    }
    if (optind < argc)
        return bad("argument", argv[optind], "serve takes no arguments");
    struct stat st;
    if (stat(cfg.media_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "rtsp-harness serve: --media '%s': not a directory\n", cfg.media_dir);
        return 1;
    }
    return server_run(&cfg);
}
