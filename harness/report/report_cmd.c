/* `rtsp-harness report`: render, compare and merge run reports
 * (report.h; docs/reports.md). */
#include "report_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"

int report_write_all(const json_t *report, const char *dir, char *err, size_t cap)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/report.json", dir);
    if (report_save(report, path, err, cap) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/junit.xml", dir);
    if (report_junit_write(report, path, err, cap) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/index.html", dir);
    if (report_html_write(report, path, err, cap) != 0)
        return -1;
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rtsp-harness report [show] REPORT.json [--quiet] [--color auto|always|never]\n"
            "       rtsp-harness report html REPORT.json [-o FILE]      (default: index.html beside it)\n"
            "       rtsp-harness report junit REPORT.json [-o FILE]     (default: junit.xml beside it)\n"
            "       rtsp-harness report render REPORT.json [--out DIR]  (junit.xml and index.html)\n"
            "       rtsp-harness report compare BASE.json NEW.json [--tolerance METRIC=VALUE[%%]]...\n"
            "                                   [--quiet] [--color auto|always|never]\n"
            "       rtsp-harness report merge --out DIR [--name NAME] REPORT.json...\n"
            "\n"
            "REPORT.json is a run report (reports/<run>/report.json, docs/reports.md); a directory\n"
            "holding one is accepted too. compare exits 1 when NEW regressed beyond tolerance.\n"
            "Tolerance metrics: loss (percentage points), fps, bitrate, jitter (ms), interval_p99\n"
            "(ms), delay_p50 (ms), delay_p99 (ms), frames; VALUE%% is relative to BASE.\n");
}

/* A report path, or a directory holding report.json. */
static void resolve(const char *arg, char *out, size_t cap)
{
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(out, cap, "%s/report.json", arg);
    else
        snprintf(out, cap, "%s", arg);
}

/* The directory part of path ("." when none). */
static void dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

static int parse_color(const char *v, int *color)
{
    if (strcmp(v, "auto") == 0)
        *color = -1;
    else if (strcmp(v, "always") == 0)
        *color = 1;
    else if (strcmp(v, "never") == 0)
        *color = 0;
    else {
        fprintf(stderr, "rtsp-harness report: --color: '%s' is not auto, always or never\n", v);
        return -1;
    }
    return 0;
}

static bool want_color(int color, FILE *out)
{
    if (color >= 0)
        return color == 1;
    const char *nc = getenv("NO_COLOR");
    return isatty(fileno(out)) && !(nc && *nc);
}

enum { O_COLOR = 256, O_TOL, O_NAME };

static const struct option long_options[] = {
    {"quiet", no_argument, NULL, 'q'},       {"color", required_argument, NULL, O_COLOR},
    {"output", required_argument, NULL, 'o'}, {"out", required_argument, NULL, 'd'},
    {"tolerance", required_argument, NULL, O_TOL}, {"name", required_argument, NULL, O_NAME},
    {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
};

int report_main(int argc, char **argv)
{
    const char *sub = "show";
    int first = 1;
    if (argc >= 2 && (strcmp(argv[1], "show") == 0 || strcmp(argv[1], "html") == 0 ||
                      strcmp(argv[1], "junit") == 0 || strcmp(argv[1], "render") == 0 ||
                      strcmp(argv[1], "compare") == 0 || strcmp(argv[1], "merge") == 0)) {
        sub = argv[1];
        first = 2;
    }
    bool quiet = false;
    int color = -1;
    const char *output = NULL, *outdir = NULL, *name = NULL;
    struct report_compare_opts co;
    memset(&co, 0, sizeof co);
    /* getopt over the arguments after the subcommand. */
    int sargc = argc - first + 1;
    char **sargv = argv + first - 1;
    optind = 1;
    int opt;
    while ((opt = getopt_long(sargc, sargv, ":qo:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'q': quiet = true; break;
        case O_COLOR:
            if (parse_color(optarg, &color) != 0)
                return 2;
            break;
        case 'o': output = optarg; break;
        case 'd': outdir = optarg; break;
        case O_NAME: name = optarg; break;
        case O_TOL: {
            char err[256];
            if (co.n_tol >= REPORT_MAX_TOLERANCES) {
                fprintf(stderr, "rtsp-harness report: at most %d --tolerance options\n", REPORT_MAX_TOLERANCES);
                return 2;
            }
            if (report_tolerance_parse(optarg, &co.tol[co.n_tol], err, sizeof err) != 0) {
                fprintf(stderr, "rtsp-harness report: --tolerance: %s\n", err);
                return 2;
            }
            co.n_tol++;
            break;
        }
        case 'h': usage(stdout); return 0;
        case ':':
            fprintf(stderr, "rtsp-harness report: %s needs a value\n", sargv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "rtsp-harness report: unknown option '%s'\n", sargv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    char **args = sargv + optind;
    int nargs = sargc - optind;
    char err[1024];

    if (strcmp(sub, "merge") == 0) {
        if (!outdir || nargs < 1) {
            fprintf(stderr, "rtsp-harness report merge: give --out DIR and at least one report\n");
            return 2;
        }
        json_t **docs = calloc((size_t)nargs, sizeof *docs);
        char **names = calloc((size_t)nargs, sizeof *names);
        int rc = 0;
        for (int i = 0; docs && names && i < nargs; i++) {
            char path[PATH_MAX];
            resolve(args[i], path, sizeof path);
            names[i] = strdup(path);
            docs[i] = report_load(path, err, sizeof err);
            if (!docs[i] || !names[i]) {
                fprintf(stderr, "rtsp-harness report merge: %s\n", docs[i] ? "out of memory" : err);
                rc = 2;
                break;
            }
        }
        json_t *merged = NULL;
        if (rc == 0 && docs && names) {
            const char *mname = name;
            const char *base = strrchr(outdir, '/');
            if (!mname)
                mname = base && base[1] ? base + 1 : outdir;
            merged = report_merge(docs, (const char *const *)names, (size_t)nargs, mname, err, sizeof err);
            if (!merged) {
                fprintf(stderr, "rtsp-harness report merge: %s\n", err);
                rc = 2;
            }
        }
        if (merged) {
            if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
                fprintf(stderr, "rtsp-harness report merge: cannot create %s: %s\n", outdir, strerror(errno));
                rc = 2;
            } else if (report_write_all(merged, outdir, err, sizeof err) != 0 ||
                       (json_object_get(merged, "grades") &&
                        report_gradebook_write(json_object_get(merged, "grades"), outdir, NULL, err, sizeof err) != 0)) {
                fprintf(stderr, "rtsp-harness report merge: %s\n", err);
                rc = 2;
            } else {
                if (!quiet)
                    report_text(stdout, merged, &(struct report_text_opts){.color = want_color(color, stdout)});
                printf("merged %d report%s into %s/report.json, %s/junit.xml, %s/index.html\n", nargs,
                       nargs == 1 ? "" : "s", outdir, outdir, outdir);
                if (json_object_get(merged, "grades"))
                    printf("grades of %zu submissions: %s/gradebook.csv, %s/class.json\n",
                           json_array_size(json_object_get(merged, "grades")), outdir, outdir);
            }
            json_decref(merged);
        }
        for (int i = 0; docs && i < nargs; i++) {
            json_decref(docs[i]);
            if (names)
                free(names[i]);
        }
        free(docs);
        free(names);
        return rc;
    }

    if (strcmp(sub, "compare") == 0) {
        if (nargs != 2) {
            fprintf(stderr, "rtsp-harness report compare: give BASE.json and NEW.json\n");
            return 2;
        }
        char bpath[PATH_MAX], npath[PATH_MAX];
        resolve(args[0], bpath, sizeof bpath);
        resolve(args[1], npath, sizeof npath);
        json_t *base = report_load(bpath, err, sizeof err);
        if (!base) {
            fprintf(stderr, "rtsp-harness report compare: %s\n", err);
            return 2;
        }
        json_t *now = report_load(npath, err, sizeof err);
        if (!now) {
            fprintf(stderr, "rtsp-harness report compare: %s\n", err);
            json_decref(base);
            return 2;
        }
        co.quiet = quiet;
        co.color = want_color(color, stdout);
        int rc = report_compare(stdout, base, bpath, now, npath, &co, err, sizeof err);
        if (rc == 2)
            fprintf(stderr, "rtsp-harness report compare: %s\n", err);
        json_decref(base);
        json_decref(now);
        return rc;
    }

    if (nargs != 1) {
        fprintf(stderr, "rtsp-harness report %s: give one report%s\n", sub,
                nargs == 0 ? "" : " (more than one given)");
        usage(stderr);
        return 2;
    }
    char path[PATH_MAX];
    resolve(args[0], path, sizeof path);
    json_t *doc = report_load(path, err, sizeof err);
    if (!doc) {
        fprintf(stderr, "rtsp-harness report: %s\n", err);
        return 2;
    }
    char dir[PATH_MAX / 2];
    dir_of(path, dir, sizeof dir);
    int rc = 0;
    if (strcmp(sub, "show") == 0) {
        report_text(stdout, doc, &(struct report_text_opts){.color = want_color(color, stdout), .quiet = quiet});
        json_t *sum = json_object_get(doc, "summary");
        rc = report_int(sum, "failed", 0) || report_int(sum, "errors", 0) ? 1 : 0;
    } else if (strcmp(sub, "html") == 0 || strcmp(sub, "junit") == 0) {
        bool html = strcmp(sub, "html") == 0;
        char out[PATH_MAX];
        if (output)
            snprintf(out, sizeof out, "%s", output);
        else
            snprintf(out, sizeof out, "%s/%s", dir, html ? "index.html" : "junit.xml");
        if ((html ? report_html_write(doc, out, err, sizeof err) : report_junit_write(doc, out, err, sizeof err)) !=
            0) {
            fprintf(stderr, "rtsp-harness report %s: %s\n", sub, err);
            rc = 2;
        } else
            printf("%s\n", out);
    } else { /* render */
        const char *d = outdir ? outdir : dir;
        char out[PATH_MAX];
        if (outdir && mkdir(outdir, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "rtsp-harness report render: cannot create %s: %s\n", outdir, strerror(errno));
            rc = 2;
        }
        snprintf(out, sizeof out, "%.3000s/junit.xml", d);
        if (rc == 0 && report_junit_write(doc, out, err, sizeof err) != 0) {
            fprintf(stderr, "rtsp-harness report render: %s\n", err);
            rc = 2;
        }
        snprintf(out, sizeof out, "%.3000s/index.html", d);
        if (rc == 0 && report_html_write(doc, out, err, sizeof err) != 0) {
            fprintf(stderr, "rtsp-harness report render: %s\n", err);
            rc = 2;
        }
        if (rc == 0)
            printf("%s/junit.xml\n%s/index.html\n", d, d);
    }
    json_decref(doc);
    return rc;
}
