/* `rtsp-harness analyze`: options, then analyze_file and a report. */
#include "analyze_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "report.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rtsp-harness analyze CAPTURE [options]\n"
            "\n"
            "Validate the RTSP exchanges and the RTP streams of a pcap or pcapng capture\n"
            "and measure loss, data rate, jitter and frame timing per stream.\n"
            "\n"
            "  --json              print the JSON report (docs/report-schema.md)\n"
            "  --out FILE          write the report to FILE instead of standard output\n"
            "  --profile P         rfc2326 or lab (default: lab when the capture speaks it)\n"
            "  --rtp-port N        UDP port N (and N+1 for RTCP) carries RTP; repeatable\n"
            "  --decode MODE       none, sample (default: 1 frame in 16) or all JPEG frames\n"
            "\n"
            "exit status: 0 no failed check, 1 a check failed, 2 unusable input or usage\n");
}

static int bad(const char *opt, const char *value, const char *why)
{
    fprintf(stderr, "rtsp-harness analyze: %s '%s': %s\n", opt, value ? value : "", why);
    fprintf(stderr, "try 'rtsp-harness analyze --help'\n");
    return 2;
}

int analyze_main(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_OUT, OPT_PROFILE, OPT_RTP_PORT, OPT_DECODE, OPT_HELP };
    static const struct option options[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"out", required_argument, NULL, OPT_OUT},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"rtp-port", required_argument, NULL, OPT_RTP_PORT},
        {"decode", required_argument, NULL, OPT_DECODE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct analyze_opts opts = {.profile = PROFILE_RFC2326, .decode = DECODE_SAMPLE};
    bool json = false;
    const char *out_path = NULL;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (opt) {
        case OPT_JSON:
            json = true;
            break;
        case OPT_OUT:
            out_path = optarg;
            break;
        case OPT_PROFILE:
            if (strcmp(optarg, "rfc2326") == 0)
                opts.profile = PROFILE_RFC2326;
            else if (strcmp(optarg, "lab") == 0)
                opts.profile = PROFILE_LAB;
            else
                return bad("--profile", optarg, "expected rfc2326 or lab");
            opts.profile_given = true;
            break;
        case OPT_RTP_PORT: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || end == optarg || v == 0 || v > 65534)
                return bad("--rtp-port", optarg, "not a UDP port 1..65534");
            if (opts.n_rtp_ports == ANALYZE_MAX_RTP_PORTS)
                return bad("--rtp-port", optarg, "too many (at most 16)");
            opts.rtp_ports[opts.n_rtp_ports++] = (uint16_t)v;
            break;
        }
        case OPT_DECODE:
            if (strcmp(optarg, "none") == 0)
                opts.decode = DECODE_NONE;
            else if (strcmp(optarg, "sample") == 0)
                opts.decode = DECODE_SAMPLE;
            else if (strcmp(optarg, "all") == 0)
                opts.decode = DECODE_ALL;
            else
                return bad("--decode", optarg, "expected none, sample or all");
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
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    struct analysis *a = NULL;
    char err[512];
    if (analyze_file(path, &opts, &a, err, sizeof err) != 0) {
        fprintf(stderr, "rtsp-harness analyze: %s\n", err);
        return 2;
    }
    FILE *out = stdout;
    if (out_path && !(out = fopen(out_path, "w"))) {
        fprintf(stderr, "rtsp-harness analyze: --out %s: cannot write\n", out_path);
        analysis_free(a);
        return 2;
    }
    int rc = json ? analysis_write_json(a, out) : analysis_write_text(a, out);
    if (fflush(out) != 0)
        rc = -1;
    if (out != stdout)
        fclose(out);
    int status = rc < 0 ? 2 : analysis_failed(a) ? 1 : 0;
    if (rc < 0)
        fprintf(stderr, "rtsp-harness analyze: writing the report failed\n");
    analysis_free(a);
    return status;
}
