/* Command line of `rtsp-harness sandbox` (see sandbox.h for what the
 * sandbox is). It goes into the grader's --server-cmd template:
 *
 *   {harness} sandbox --dir COPY --cgroup NAME -- python3 Server.py {port} */
#include "sandbox_cmd.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sandbox.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rtsp-harness sandbox --dir COPY [options] -- COMMAND [ARG...]\n"
            "       rtsp-harness sandbox --cleanup NAME | --sweep PREFIX | --stat NAME\n"
            "\n"
            "Runs an untrusted command (a student's server) under bubblewrap, in the network\n"
            "namespace it was started in: system directories read-only, COPY read-write at\n"
            "%s as the working directory, a private /tmp, no capabilities, as uid %u,\n"
            "in per-submission cgroups. Exit status: the command's; 125 the sandbox could\n"
            "not be set up; 2 usage.\n"
            "\n"
            "  --dir COPY       the submission's private copy (owned by uid %u)\n"
            "  --limits SPEC    cpu=S,fsize=B,nofile=N,mem=B,pids=N,tmp=B (K/M/G suffixes;\n"
            "                   default cpu=300,fsize=64M,nofile=256,mem=1G,pids=128,tmp=64M)\n"
            "  --cgroup NAME    join cgroup NAME (created with the limits if missing): pids.max,\n"
            "                   memory limit, CPU accounting; without it only rlimits apply\n"
            "  --xvfb           run the command under xvfb-run -a (servers that need a display)\n"
            "  --cleanup NAME   kill every process in cgroup NAME and remove it\n"
            "  --sweep PREFIX   the same for every sandbox cgroup whose name starts with PREFIX\n"
            "                   (--sweep '' for all): leftovers of killed graders\n"
            "  --stat NAME      print cgroup NAME's CPU time (cpu_ns) and processes (pids)\n",
            SANDBOX_DIR, SANDBOX_UID, SANDBOX_UID);
}

int sandbox_main(int argc, char **argv)
{
    struct sandbox_opts o = {0};
    sandbox_limits_default(&o.limits);
    const char *cleanup = NULL, *sweep = NULL, *stat = NULL;
    char err[512];
    enum { O_DIR = 256, O_LIMITS, O_CGROUP, O_XVFB, O_CLEANUP, O_SWEEP, O_STAT };
    static const struct option options[] = {
        {"dir", required_argument, NULL, O_DIR},
        {"limits", required_argument, NULL, O_LIMITS},
        {"cgroup", required_argument, NULL, O_CGROUP},
        {"xvfb", no_argument, NULL, O_XVFB},
        {"cleanup", required_argument, NULL, O_CLEANUP},
        {"sweep", required_argument, NULL, O_SWEEP},
        {"stat", required_argument, NULL, O_STAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    /* '+': options end at the first non-option, the command's own. */
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case O_DIR: o.dir = optarg; break;
        case O_LIMITS:
            if (sandbox_limits_parse(optarg, &o.limits, err, sizeof err) != 0) {
                fprintf(stderr, "rtsp-harness sandbox: --%s\n", err);
                return 2;
            }
            break;
        case O_CGROUP:
            if (!sandbox_cgroup_name_ok(optarg)) {
                fprintf(stderr, "rtsp-harness sandbox: --cgroup '%s': use 1 to 64 of A-Z a-z 0-9 . _ -\n",
                        optarg);
                return 2;
            }
            o.cgroup = optarg;
            break;
        case O_XVFB: o.xvfb = true; break;
        case O_CLEANUP: cleanup = optarg; break;
        case O_SWEEP: sweep = optarg; break;
        case O_STAT: stat = optarg; break;
        case 'h': usage(stdout); return 0;
        case ':':
            fprintf(stderr, "rtsp-harness sandbox: option '%s' needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "rtsp-harness sandbox: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (cleanup) {
        if (sandbox_cgroup_destroy(cleanup, err, sizeof err) != 0) {
            fprintf(stderr, "rtsp-harness sandbox: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (sweep) {
        unsigned removed;
        int rc = sandbox_cgroup_sweep_stale(sweep, NULL, &removed, err, sizeof err);
        printf("removed %u cgroup(s)\n", removed);
        if (rc != 0) {
            fprintf(stderr, "rtsp-harness sandbox: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (stat) {
        uint64_t ns, pids;
        if (sandbox_cgroup_cpu_ns(stat, &ns) != 0 || sandbox_cgroup_pids(stat, &pids) != 0) {
            fprintf(stderr, "rtsp-harness sandbox: --stat: no readable cgroup '%s'\n", stat);
            return 1;
        }
        printf("cpu_ns %" PRIu64 "\npids %" PRIu64 "\n", ns, pids);
        return 0;
    }
    if (!o.dir || optind >= argc) {
        fprintf(stderr, "rtsp-harness sandbox: %s\n", o.dir ? "no command after --" : "--dir is required");
        usage(stderr);
        return 2;
    }
    sandbox_exec(&o, argv + optind, err, sizeof err);
    fprintf(stderr, "rtsp-harness %s\n", err);
    return 125;
}
