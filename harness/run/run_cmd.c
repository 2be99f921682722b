/* Command line of `rtsp-harness run` (see run.h for what a run does). */
#include "run_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netlab/capture.h"
#include "run.h"
#include "wire.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rtsp-harness run [options] SCENARIO|DIR...\n"
            "\n"
            "Replays scenario files (docs/scenarios.md) against a system under test inside a\n"
            "network lab (three network namespaces; the impairment sits in the middle), captures\n"
            "both sides, analyzes the captures and writes reports/<run>/report.json.\n"
            "\n"
            "system under test (one of):\n"
            "  --server-cmd CMD      start the server under test in the lab; placeholders:\n"
            "                        {port} {host} {media} {media_dir} {harness}\n"
            "  --client-cmd CMD      start the client under test (client-role scenarios);\n"
            "                        placeholders: {url} {host} {port} {media}\n"
            "  --target URL          an existing server on loopback (no lab, no impairment)\n"
            "impairment:\n"
            "  --backend B           auto (default: netem where the kernel has it, else\n"
            "                        userspace), netem, userspace\n"
            "  --impair SPEC         netem text for scenarios without @impair\n"
            "  --seed N              random seed (default 1)\n"
            "  --dialect NAME|FILE   the request dialect of lab scenarios that name none\n"
            "                        (lab, bare-cseq, crlf3: scenarios/lab/dialects/)\n"
            "media and ports:\n"
            "  --media-dir DIR       fixture media (default fixtures)\n"
            "  --media NAME          media name in URLs (default movie.Mjpeg)\n"
            "  --port N              the server's RTSP port in the lab (default 8554)\n"
            "limits:\n"
            "  --scenario-timeout S  wall clock per scenario (default 120)\n"
            "  --startup-timeout S   time for the server to listen (default 15)\n"
            "  --capture-limit SIZE  bytes each capture file takes whole (K/M/G; default\n"
            "                        256M, 0 none); later frames are kept cut to their\n"
            "                        headers, then only counted (a flooding SUT)\n"
            "output:\n"
            "  --captures DIR        default captures (captures/<run>/)\n"
            "  --reports DIR         default reports (reports/<run>/)\n"
            "  --name NAME           the run's name (default a UTC timestamp)\n"
            "  --no-latest           leave the `latest` links alone (runs side by side)\n"
            "  --baseline reference  run each server scenario against the bundled reference\n"
            "                        server too (same seed and impairment) and put its figures\n"
            "                        beside the SUT's in every report format\n"
            "  --baseline-cmd CMD    the reference's command line (default:\n"
            "                        " RUN_REFERENCE_SERVER_CMD ")\n"
            "  -q, --quiet           only the summary table\n"
            "  -v, --verbose\n");
}

static int parse_uint(const char *opt, const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > max) {
        fprintf(stderr, "rtsp-harness run: %s: '%s' is not a number from 0 to %lu\n", opt, s, max);
        return -1;
    }
    *out = v;
    return 0;
}

int run_main(int argc, char **argv)
{
    struct run_opts o = {
        .seed = 1,
        .media_dir = "fixtures",
        .media = "movie.Mjpeg",
        .port = 8554,
        .captures_dir = "captures",
        .capture_budget = CAPTURE_DEFAULT_BUDGET,
        .reports_dir = "reports",
        .scenario_timeout_s = 120,
        .startup_timeout_s = 15,
        .argc = argc,
        .argv = argv,
    };
    enum { O_SERVER = 256, O_CLIENT, O_TARGET, O_BACKEND, O_IMPAIR, O_SEED, O_MEDIA_DIR, O_MEDIA, O_PORT,
           O_STO, O_UTO, O_CAPTURES, O_REPORTS, O_NAME, O_BASELINE, O_BASELINE_CMD, O_NO_LATEST, O_DIALECT,
           O_CAPTURE_LIMIT };
    static const struct option options[] = {
        {"server-cmd", required_argument, NULL, O_SERVER},
        {"client-cmd", required_argument, NULL, O_CLIENT},
        {"target", required_argument, NULL, O_TARGET},
        {"backend", required_argument, NULL, O_BACKEND},
        {"impair", required_argument, NULL, O_IMPAIR},
        {"seed", required_argument, NULL, O_SEED},
        {"media-dir", required_argument, NULL, O_MEDIA_DIR},
        {"media", required_argument, NULL, O_MEDIA},
        {"port", required_argument, NULL, O_PORT},
        {"scenario-timeout", required_argument, NULL, O_STO},
        {"startup-timeout", required_argument, NULL, O_UTO},
        {"captures", required_argument, NULL, O_CAPTURES},
        {"capture-limit", required_argument, NULL, O_CAPTURE_LIMIT},
        {"reports", required_argument, NULL, O_REPORTS},
        {"name", required_argument, NULL, O_NAME},
        {"baseline", required_argument, NULL, O_BASELINE},
        {"baseline-cmd", required_argument, NULL, O_BASELINE_CMD},
        {"no-latest", no_argument, NULL, O_NO_LATEST},
        {"dialect", required_argument, NULL, O_DIALECT},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    unsigned long v;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":qvh", options, NULL)) != -1) {
        switch (opt) {
        case O_SERVER: o.server_cmd = optarg; break;
        case O_CLIENT: o.client_cmd = optarg; break;
        case O_TARGET: o.target_url = optarg; break;
        case O_BACKEND:
            if (strcmp(optarg, "auto") == 0)
                o.backend = RUN_BACKEND_AUTO;
            else if (strcmp(optarg, "netem") == 0)
                o.backend = RUN_BACKEND_NETEM;
            else if (strcmp(optarg, "userspace") == 0)
                o.backend = RUN_BACKEND_USERSPACE;
            else {
                fprintf(stderr, "rtsp-harness run: --backend: '%s' is not auto, netem or userspace\n", optarg);
                return 2;
            }
            break;
        case O_IMPAIR: o.impair = optarg; break;
        case O_SEED:
            if (parse_uint("--seed", optarg, 0xffffffffUL, &v) != 0)
                return 2;
            o.seed = (uint32_t)v;
            break;
        case O_MEDIA_DIR: o.media_dir = optarg; break;
        case O_MEDIA: o.media = optarg; break;
        case O_PORT:
            if (parse_uint("--port", optarg, 65535, &v) != 0 || v == 0) {
                if (v == 0)
                    fprintf(stderr, "rtsp-harness run: --port must not be 0\n");
                return 2;
            }
            o.port = (uint16_t)v;
            break;
        case O_STO:
            if (parse_uint("--scenario-timeout", optarg, 86400, &v) != 0 || v == 0)
                return 2;
            o.scenario_timeout_s = (unsigned)v;
            break;
        case O_UTO:
            if (parse_uint("--startup-timeout", optarg, 3600, &v) != 0 || v == 0)
                return 2;
            o.startup_timeout_s = (unsigned)v;
            break;
        case O_CAPTURES: o.captures_dir = optarg; break;
        case O_CAPTURE_LIMIT:
            if (!wire_parse_bytes(optarg, &o.capture_budget)) {
                fprintf(stderr, "rtsp-harness run: --capture-limit: '%s' is not a size (digits, then K, M or G)\n",
                        optarg);
                return 2;
            }
            break;
        case O_REPORTS: o.reports_dir = optarg; break;
        case O_NAME:
            if (!*optarg || strchr(optarg, '/') || strcmp(optarg, ".") == 0 || strcmp(optarg, "..") == 0) {
                fprintf(stderr, "rtsp-harness run: --name: '%s' must be a plain file name\n", optarg);
                return 2;
            }
            o.run_name = optarg;
            break;
        case O_BASELINE:
            if (strcmp(optarg, "reference") != 0) {
                fprintf(stderr, "rtsp-harness run: --baseline: '%s' is not 'reference' (the bundled server)\n",
                        optarg);
                return 2;
            }
            o.baseline = true;
            break;
        case O_BASELINE_CMD: o.baseline_cmd = optarg; break;
        case O_NO_LATEST: o.no_latest = true; break;
        case O_DIALECT: o.dialect = optarg; break;
        case 'q': o.quiet = true; break;
        case 'v': o.verbose++; break;
        case 'h': usage(stdout); return 0;
        case ':':
            fprintf(stderr, "rtsp-harness run: %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "rtsp-harness run: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "rtsp-harness run: no scenario given\n");
        usage(stderr);
        return 2;
    }
    int sut_kinds = (o.server_cmd != NULL) + (o.target_url != NULL);
    if (sut_kinds > 1) {
        fprintf(stderr, "rtsp-harness run: --server-cmd and --target exclude each other\n");
        return 2;
    }
    if (o.baseline && o.target_url) {
        fprintf(stderr, "rtsp-harness run: --baseline needs the lab: it cannot be used with --target\n");
        return 2;
    }
    if (o.baseline_cmd && !o.baseline) {
        fprintf(stderr, "rtsp-harness run: --baseline-cmd without --baseline reference\n");
        return 2;
    }
    if (o.target_url && strncmp(o.target_url, "rtsp://", 7) != 0) {
        fprintf(stderr, "rtsp-harness run: --target: '%s' is not an rtsp:// URL\n", o.target_url);
        return 2;
    }
    if (!o.server_cmd && !o.target_url && !o.client_cmd) {
        fprintf(stderr, "rtsp-harness run: say what to test: --server-cmd, --client-cmd or --target\n");
        return 2;
    }
    return run_execute(&o, argv + optind, argc - optind);
}
