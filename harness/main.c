/* Command-line front end: one binary, one subcommand per stage of the data
 * flow. Each subcommand owns its own option parsing and returns the process
 * exit status (0 success, 1 failure or failed verdict, 2 usage error). */
#include <stdio.h>
#include <string.h>

#include "fixture/fixture.h"
#include "server/serve.h"
#include "analyze/analyze_cmd.h"
#include "run/run_cmd.h"
#include "report/report_cmd.h"
#include "grade/grade.h"
#include "grade/sandbox_cmd.h"

#ifndef RTSP_HARNESS_VERSION
#define RTSP_HARNESS_VERSION "0.1.0"
#endif

struct command {
    const char *name;                /* subcommand as typed */
    int (*main)(int argc, char **argv); /* entry point; argv[0] is the name */
    const char *summary;             /* one line for --help */
};

static const struct command commands[] = {
    {"serve", serve_main, "the reference RTSP server (RFC 2326 and lab dialects, RTP/JPEG)"},
    {"run", run_main, "replay scenarios against a server or client under test, in a network lab with impairment"},
    {"grade", grade_main, "grade a class of lab submissions with a rubric: gradebook, reports, class summary"},
    {"report", report_main, "render, compare and merge run reports (text, JUnit XML, HTML with plots)"},
    {"analyze", analyze_main, "validate and measure a capture (pcap/pcapng): RTSP checks, RTP and frame metrics"},
    {"sandbox", sandbox_main, "run an untrusted submission's command in the grading sandbox (bubblewrap, cgroups)"},
    {"fixture", fixture_main, "make and verify test media (numbered MJPEG frames, lab .Mjpeg files)"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rtsp-harness <command> [options]\n"
            "       rtsp-harness <command> --help\n"
            "       rtsp-harness --version\n"
            "\n"
            "Conformance and network-impairment test harness for RTSP/RTP.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("rtsp-harness %s\n", RTSP_HARNESS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);

    if (cmd[0] == '-')
        fprintf(stderr, "rtsp-harness: unknown option '%s'\n", cmd);
    else
        fprintf(stderr, "rtsp-harness: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
