/* `rtsp-harness grade` (grade.h, docs/grading.md). */
#include "grade.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prep.h"
#include "report/report.h"
#include "rubric.h"
#include "sandbox.h"
#include "wire.h"

#ifndef RTSP_HARNESS_VERSION
#define RTSP_HARNESS_VERSION "0.1.0"
#endif

#define GRADE_MAX_SUBMISSIONS 4096
#define GRADE_PROBE_TIMEOUT_S 20 /* one dialect probe, wall clock */
/* Bytes of each scenario's pcap kept whole: a correct lab server's largest
 * is about 1.3 MB; a flooding one would write gigabytes per submission. */
#define GRADE_CAPTURE_LIMIT "32M"
#define GRADE_STARTUP_TIMEOUT "10" /* seconds a server may take to listen (a Swing server under Xvfb: 0.4) */

struct grade_opts {
    const char *submissions;  /* the class folder */
    const char *rubric_path;  /* NULL: the default rubric */
    const char *out;          /* output folder */
    unsigned jobs;            /* submissions at once */
    unsigned seed;            /* the run seed, the same for every submission */
    const char *dialect;      /* NULL: probe */
    const char *command;      /* the server command inside the sandbox; NULL: found by prep */
    const char *link_root;    /* symlinks may point inside this; NULL: the class folder */
    unsigned shard_k, shard_n;/* this slice: submissions i with i % n == k - 1 */
    unsigned scenario_timeout;/* run's --scenario-timeout */
    bool quiet;
    bool keep;                /* keep the private copies */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}


/* snprintf(out, cap, "%s%s", a, b); -1 when it does not fit. */
static __attribute__((noinline)) int pjoin(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s%s", a, b);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}


/* Remove a tree (the private copies). */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[PATH_MAX];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub)
                continue;
            struct stat st;
            if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(sub);
            else
                unlink(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

/* ---- child processes ---- */

static char self_exe[PATH_MAX];

/* Run argv with stdout and stderr to log (appended), in its own process
 * group, for at most timeout_s (then the group is killed). Returns the
 * exit status, 128+signal, or -1 when it could not start. */
static int run_child(char *const argv[], const char *log, unsigned timeout_s)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid);
    int64_t deadline = wire_mono_ms() + (int64_t)timeout_s * 1000;
    int status;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -1;
        if (wire_mono_ms() > deadline || stop_requested) {
            /* run cleans up on SIGTERM; SIGKILL only if it does not. */
            kill(-pid, SIGTERM);
            int64_t grace = wire_mono_ms() + 10000;
            while (waitpid(pid, &status, WNOHANG) == 0 && wire_mono_ms() < grace)
                usleep(20000);
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            return 128 + SIGKILL;
        }
        usleep(20000);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* ---- one submission ---- */

struct submission {
    char name[256];          /* folder name */
    char path[PATH_MAX];     /* its folder */
    pid_t pid;               /* the child grading it, 0 not started */
    int status;              /* its exit status */
    bool done;
};

/* The folder the default files are found relative to: the source tree
 * when run from it (build/rtsp-harness), else the current directory. */
static void data_path(const char *rel, char *out, size_t cap)
{
    struct stat st;
    if (stat(rel, &st) == 0) {
        snprintf(out, cap, "%s", rel);
        return;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", self_exe);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    char up[PATH_MAX];
    if (pjoin(up, sizeof up, dir, "/../") != 0 || pjoin(out, cap, up, rel) != 0)
        snprintf(out, cap, "%s", rel);
}

/* Why the probe run could not start the server ("" when it did): a
 * server that never listens fails every scenario the same way, so the
 * grader says so once instead of waiting for each scenario's timeout. */
static void probe_start_error(const char *reports, const char *name, char *out, size_t cap)
{
    char path[PATH_MAX];
    out[0] = 0;
    if (snprintf(path, sizeof path, "%s/%s/report.json", reports, name) >= (int)sizeof path)
        return;
    json_t *r = json_load_file(path, 0, NULL);
    const char *e = report_str(json_array_get(json_object_get(r, "scenarios"), 0), "error", NULL);
    if (e && (strstr(e, "did not listen") || strstr(e, "before listening")))
        snprintf(out, cap, "%s", e);
    json_decref(r);
}

/* Probe the dialects in order with a fresh server each; the first whose
 * probe scenario passes. why says what happened; start_error why the
 * server did not start at all (then NULL is returned at once). */
static const char *probe_dialect(const struct grade_opts *o, const struct rubric *rb, const char *server_cmd,
                                 const char *dir, char *why, size_t cap, char *start_error, size_t scap)
{
    size_t used = 0;
    why[0] = 0;
    for (size_t i = 0; i < rb->n_dialects; i++) {
        char name[64], reports[PATH_MAX], log[PATH_MAX], seed[16];
        snprintf(name, sizeof name, "probe-%s", rb->dialects[i]);
        char leaf[96];
        snprintf(leaf, sizeof leaf, "/.probe/%s.log", rb->dialects[i]);
        if (pjoin(reports, sizeof reports, dir, "/.probe") != 0 || pjoin(log, sizeof log, dir, leaf) != 0)
            return NULL;
        snprintf(seed, sizeof seed, "%u", o->seed);
        wire_mkdirs(reports);
        char *argv[] = {self_exe, "run", "-q", "--no-latest", "--name", name, "--reports", reports, "--captures",
                        reports, "--seed", seed, "--dialect", (char *)rb->dialects[i], "--server-cmd",
                        (char *)server_cmd, "--scenario-timeout", "15", "--startup-timeout", GRADE_STARTUP_TIMEOUT,
                        (char *)rb->probe, NULL};
        int rc = run_child(argv, log, GRADE_PROBE_TIMEOUT_S);
        probe_start_error(reports, name, start_error, scap);
        if (start_error[0])
            return NULL;
        int n = snprintf(why + used, cap - used, "%s%s: %s", used ? "; " : "", rb->dialects[i],
                         rc == 0 ? "answered SETUP correctly" : "no correct answer to SETUP");
        used += n > 0 && (size_t)n < cap - used ? (size_t)n : 0;
        if (rc == 0)
            return rb->dialects[i];
    }
    return NULL;
}

/* Grade one submission in this (child) process. */
static int grade_one(const struct grade_opts *o, const struct rubric *rb, const struct submission *s,
                     const char *movie, unsigned index)
{
    char movie_dir[PATH_MAX];
    snprintf(movie_dir, sizeof movie_dir, "%s", movie);
    char *slash = strrchr(movie_dir, '/');
    if (slash)
        *slash = 0;
    char dir[PATH_MAX], copy[PATH_MAX], log[PATH_MAX], err[2048];
    char work[PATH_MAX];
    if (pjoin(work, sizeof work, o->out, "/") != 0 || pjoin(dir, sizeof dir, work, s->name) != 0 ||
        pjoin(work, sizeof work, o->out, "/.work/") != 0 || pjoin(copy, sizeof copy, work, s->name) != 0 ||
        pjoin(log, sizeof log, dir, "/grade.log") != 0) {
        fprintf(stderr, "rtsp-harness grade: %s: path too long\n", s->name);
        return 3;
    }
    remove_tree(dir);
    remove_tree(copy);
    if (wire_mkdirs(dir) != 0) {
        fprintf(stderr, "rtsp-harness grade: cannot create %s: %s\n", dir, strerror(errno));
        return 3;
    }
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s/.work", o->out);
    wire_mkdirs(parent);

    char cgroup[64];
    snprintf(cgroup, sizeof cgroup, "rh-grade-%d-%u", (int)getppid(), index);
    struct sandbox_limits lim;
    sandbox_limits_default(&lim);

    json_t *sub = json_object(); /* what the grader found, for the report */
    json_object_set_new(sub, "name", json_string(s->name));
    json_t *extra = json_object(); /* items decided before running */
    json_t *notes = json_array();

    struct prep_opts po = {
        .link_root = o->link_root ? o->link_root : o->submissions,
        .movie_path = movie,
        .cgroup = cgroup,
        .command = o->command,
    };
    struct prep_result pr;
    memset(&pr, 0, sizeof pr);
    bool prepared = submission_prepare(s->path, copy, &po, &pr, err, sizeof err) == 0;
    char server_cmd[8192] = "";
    if (!prepared) {
        json_object_set_new(sub, "problem", json_string(err));
    } else {
        json_object_set_new(sub, "entry", json_string(pr.entry[0] ? pr.entry : o->command ? "--server-cmd" : ""));
        static const char *const langs[] = {[PREP_NONE] = "", [PREP_PYTHON] = "python", [PREP_JAVA] = "java"};
        json_object_set_new(sub, "language", json_string(langs[pr.lang]));
        if (pr.server_cmd[0]) {
            json_object_set_new(sub, "command", json_string(pr.command));
            json_object_set_new(sub, "display", json_string(pr.xvfb ? "Xvfb" : "none"));
        }
        json_object_set_new(sub, "movie", json_string(pr.movie_supplied ? "supplied by the grader" : "the submission's own"));
        json_object_set_new(sub, "files", json_integer(pr.files));
        if (pr.notes[0])
            json_array_append_new(notes, json_string(pr.notes));
        if (pr.compile_log[0])
            json_object_set_new(sub, "compile_log", json_string(pr.compile_log));
        if (pr.missing_modules[0]) {
            char m[1200];
            snprintf(m, sizeof m, "missing module%s on this machine: %s (the lab's server needs only Python's "
                                  "standard library)",
                     strchr(pr.missing_modules, ' ') ? "s" : "", pr.missing_modules);
            json_object_set_new(sub, "missing_modules", json_string(pr.missing_modules));
            json_object_set_new(extra, "starts", json_string(m));
        }
        if (!pr.server_cmd[0])
            json_object_set_new(sub, "problem", json_string("no Server.py or Server.java in the submission"));
        else if (pr.lang == PREP_JAVA && !pr.compiled)
            json_object_set_new(sub, "problem", json_string("javac failed (see compile_log)"));
        snprintf(server_cmd, sizeof server_cmd, "%s", pr.server_cmd);
    }
    const char *problem = json_string_value(json_object_get(sub, "problem"));

    int rc = 0;
    json_t *report = NULL;
    if (!problem) {
        if (sandbox_cgroup_create(cgroup, &lim, err, sizeof err) != 0) {
            fprintf(stderr, "rtsp-harness grade: %s: %s\n", s->name, err);
            json_decref(sub);
            json_decref(extra);
            json_decref(notes);
            return 3;
        }
        /* The dialect: given, or the first one a fresh server answers. */
        char why[512] = "", start_error[600] = "";
        const char *dialect = o->dialect;
        if (dialect)
            snprintf(why, sizeof why, "given with --dialect");
        else if (rb->probe[0] && rb->n_dialects) {
            dialect = probe_dialect(o, rb, server_cmd, dir, why, sizeof why, start_error, sizeof start_error);
            if (start_error[0]) {
                char p2[700];
                snprintf(p2, sizeof p2, "the server did not start: %s", start_error);
                json_object_set_new(sub, "problem", json_string(p2));
            } else if (!dialect) {
                dialect = rb->dialects[0];
                size_t n = strlen(why);
                snprintf(why + n, sizeof why - n, "; graded in %s, the first", dialect);
            }
        }
        if (dialect) {
            json_object_set_new(sub, "dialect", json_string(dialect));
            json_object_set_new(sub, "dialect_why", json_string(why));
        }
        if (json_object_get(sub, "problem"))
            goto scored;
        char captures[PATH_MAX], seed[16], timeout[16];
        snprintf(captures, sizeof captures, "%s/captures", o->out);
        snprintf(seed, sizeof seed, "%u", o->seed);
        snprintf(timeout, sizeof timeout, "%u", o->scenario_timeout);
        char *argv[64];
        int a = 0;
        argv[a++] = self_exe;
        argv[a++] = "run";
        argv[a++] = "-q";
        argv[a++] = "--no-latest";
        argv[a++] = "--name";
        argv[a++] = (char *)s->name;
        argv[a++] = "--reports";
        argv[a++] = (char *)o->out;
        argv[a++] = "--captures";
        argv[a++] = captures;
        argv[a++] = "--seed";
        argv[a++] = seed;
        argv[a++] = "--scenario-timeout";
        argv[a++] = timeout;
        argv[a++] = "--startup-timeout";
        argv[a++] = GRADE_STARTUP_TIMEOUT;
        argv[a++] = "--capture-limit";
        argv[a++] = GRADE_CAPTURE_LIMIT;
        argv[a++] = "--server-cmd";
        argv[a++] = server_cmd;
        /* The movie the server streams, for comparing frames: the grader's or the student's own. */
        argv[a++] = "--media-dir";
        argv[a++] = pr.movie_supplied ? movie_dir : copy;
        if (dialect) {
            argv[a++] = "--dialect";
            argv[a++] = (char *)dialect;
        }
        for (size_t i = 0; i < rb->n_suite && a < 62; i++)
            argv[a++] = (char *)rb->suite[i];
        argv[a] = NULL;
        run_child(argv, log, o->scenario_timeout * 40 + 60);
        char rpath[PATH_MAX];
        pjoin(rpath, sizeof rpath, dir, "/report.json");
        report = report_load(rpath, err, sizeof err);
        if (!report)
            json_object_set_new(sub, "problem", json_string(err));
    scored:
        sandbox_cgroup_destroy(cgroup, err, sizeof err);
    }
    if (!report) {
        /* Nothing ran: a report with the grader's finding and the run
         * fields the schema requires, so every format still renders. */
        char captures[PATH_MAX];
        snprintf(captures, sizeof captures, "%s/captures/%s", o->out, s->name);
        report = json_pack("{s:s,s:i,s:{s:s,s:s,s:s,s:[s,s,s],s:I,s:s,s:b,s:n,s:n,s:s?,s:n,s:s,s:I,s:i},s:[],"
                           "s:{s:i,s:i,s:i,s:i,s:i,s:b}}",
                           "schema", REPORT_SCHEMA, "version", REPORT_VERSION, "run", "tool", "rtsp-harness",
                           "version", RTSP_HARNESS_VERSION, "name", s->name, "command", self_exe, "grade",
                           o->submissions, "seed", (json_int_t)o->seed, "backend_requested", "auto",
                           "netem_available", false, "impair_default", "target", "server_cmd",
                           server_cmd[0] ? server_cmd : NULL, "client_cmd", "captures", captures, "started",
                           (json_int_t)time(NULL), "duration_s", 0, "scenarios", "summary", "scenarios", 0, "ran", 0,
                           "passed", 0, "failed", 0, "errors", 0, "interrupted", false);
    }
    const char *why_not = json_string_value(json_object_get(sub, "problem"));
    if (why_not)
        for (size_t k = 0; k < rb->n_items; k++)
            if (!json_object_get(extra, rb->items[k].id))
                json_object_set_new(extra, rb->items[k].id, json_string(why_not));
    json_object_set_new(sub, "notes", notes);
    json_t *grade = rubric_score(rb, report, extra);
    json_object_set_new(grade, "submission", sub);
    json_object_set_new(report, "grade", json_incref(grade));
    if (report_write_all(report, dir, err, sizeof err) != 0) {
        fprintf(stderr, "rtsp-harness grade: %s: %s\n", s->name, err);
        rc = 3;
    }
    char gpath[PATH_MAX];
    pjoin(gpath, sizeof gpath, dir, "/grade.json");
    if (report_save(grade, gpath, err, sizeof err) != 0) {
        fprintf(stderr, "rtsp-harness grade: %s: %s\n", s->name, err);
        rc = 3;
    }
    json_decref(grade);
    json_decref(report);
    json_decref(extra);
    if (!o->keep)
        remove_tree(copy);
    return rc;
}

/* ---- the class ---- */

static int cmp_sub(const void *a, const void *b)
{
    return strcmp(((const struct submission *)a)->name, ((const struct submission *)b)->name);
}

static int list_submissions(const struct grade_opts *o, struct submission **out, size_t *n, char *err, size_t cap)
{
    DIR *d = opendir(o->submissions);
    if (!d)
        return wire_errf(err, cap, "%s: %s", o->submissions, strerror(errno));
    struct submission *all = NULL;
    size_t count = 0, cap_all = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", o->submissions, e->d_name) >= (int)sizeof path)
            continue;
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode) || strlen(e->d_name) >= sizeof all[0].name)
            continue;
        if (count >= GRADE_MAX_SUBMISSIONS) {
            closedir(d);
            free(all);
            return wire_errf(err, cap, "%s: more than %d submissions", o->submissions, GRADE_MAX_SUBMISSIONS);
        }
        if (count == cap_all) {
            cap_all = cap_all ? cap_all * 2 : 64;
            struct submission *more = realloc(all, cap_all * sizeof *all);
            if (!more) {
                closedir(d);
                free(all);
                return wire_errf(err, cap, "out of memory");
            }
            all = more;
        }
        memset(&all[count], 0, sizeof all[count]);
        snprintf(all[count].name, sizeof all[count].name, "%s", e->d_name);
        snprintf(all[count].path, sizeof all[count].path, "%s", path);
        count++;
    }
    closedir(d);
    qsort(all, count, sizeof *all, cmp_sub);
    /* This shard's slice: every N-th from K, by name, the same on every host. */
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        if (o->shard_n <= 1 || i % o->shard_n == o->shard_k - 1)
            all[kept++] = all[i];
    *out = all;
    *n = kept;
    return 0;
}

/* A submission's cgroup is rh-grade-PID-N, PID the grader's: it is in use
 * while that grader runs (slices of a class may be graded side by side on
 * one machine). */
static bool grader_alive(const char *cgroup)
{
    char *end;
    long pid = strtol(cgroup + strlen("rh-grade-"), &end, 10);
    if (pid <= 0 || *end != '-')
        return false;
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ours = fgets(comm, sizeof comm, f) && strncmp(comm, "rtsp-harness", 12) == 0;
    fclose(f);
    return ours;
}

/* Submissions done, running and left, with the time so far: one line
 * rewritten in place on a terminal, a line per change otherwise (a CI log). */
static void progress(const struct grade_opts *o, size_t done, size_t running, size_t total, int64_t t0, bool tty)
{
    if (o->quiet)
        return;
    enum { WIDTH = 30 };
    size_t filled = total ? done * WIDTH / total : WIDTH;
    size_t busy = total ? (done + running) * WIDTH / total - filled : 0;
    char bar[WIDTH + 1];
    for (size_t i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : i < filled + busy ? '>' : '.';
    bar[WIDTH] = 0;
    fprintf(stderr, "%s[%s] %zu done, %zu running, %zu left, %.0f s%s", tty ? "\r\033[K" : "", bar, done, running,
            total - done - running, (double)(wire_mono_ms() - t0) / 1000, tty ? "" : "\n");
    fflush(stderr);
}

/* The class: DIR/report.json (every submission's scenarios, each tagged
 * with its submission, and every grade: what `report merge` joins across
 * slices), with its JUnit and HTML, then gradebook.csv and class.json. */
static int write_class(const struct grade_opts *o, const struct submission *subs, size_t n, char *err, size_t cap)
{
    json_t **docs = calloc(n ? n : 1, sizeof *docs);
    const char **names = calloc(n ? n : 1, sizeof *names);
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; docs && names && i < n; i++) {
        char dir[PATH_MAX], sub[PATH_MAX], path[PATH_MAX], lerr[512];
        if (!subs[i].done)
            continue; /* interrupted before it was graded */
        if (pjoin(dir, sizeof dir, o->out, "/") != 0 || pjoin(sub, sizeof sub, dir, subs[i].name) != 0 ||
            pjoin(path, sizeof path, sub, "/report.json") != 0)
            continue;
        json_t *d = report_load(path, lerr, sizeof lerr);
        if (!d)
            continue; /* the submission's own line already says why */
        /* Its scenarios carry the submission's name in the class report. */
        json_object_set_new(json_object_get(d, "run"), "name", json_string(subs[i].name));
        docs[k] = d;
        names[k] = subs[i].name;
        k++;
    }
    if (!docs || !names)
        rc = wire_errf(err, cap, "out of memory");
    else if (k == 0)
        rc = wire_errf(err, cap, "no submission was graded");
    else {
        const char *base = strrchr(o->out, '/');
        json_t *cls = report_merge(docs, names, k, base && base[1] ? base + 1 : o->out, err, cap);
        if (!cls)
            rc = -1;
        else {
            if (o->shard_n > 1)
                json_object_set_new(cls, "shard", json_pack("{s:i,s:i}", "k", o->shard_k, "n", o->shard_n));
            if (report_write_all(cls, o->out, err, cap) != 0 ||
                report_gradebook_write(json_object_get(cls, "grades"), o->out, o->submissions, err, cap) != 0)
                rc = -1;
            json_decref(cls);
        }
    }
    for (size_t i = 0; docs && i < k; i++)
        json_decref(docs[i]);
    free(docs);
    free(names);
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rtsp-harness grade SUBMISSIONS/ --out DIR [options]\n"
            "\n"
            "Grades each subfolder of SUBMISSIONS (one student's lab server each): a private\n"
            "copy in a sandbox, its request dialect probed, the rubric's scenarios run in the\n"
            "network lab, the run report scored. Writes DIR/gradebook.csv, DIR/class.json and\n"
            "DIR/<submission>/{report.json,index.html,junit.xml,grade.json}.\n"
            "\n"
            "  --rubric FILE        the rubric (default scenarios/grade/lab.rubric)\n"
            "  --out DIR            where the results go (required)\n"
            "  --jobs N             submissions graded at once (default 1)\n"
            "  --seed N             the run seed, the same for every submission (default 1)\n"
            "  --dialect NAME       skip probing: grade every submission in this dialect\n"
            "  --server-cmd CMD     the server's command inside the sandbox, with {port}\n"
            "                       (default: python3 Server.py {port}, or Java when Server.java)\n"
            "  --link-root DIR      symlinks in submissions may point inside DIR (default the\n"
            "                       submissions folder)\n"
            "  --shard K/N          grade only the K-th of N slices (by name; see docs/grading.md)\n"
            "  --scenario-timeout S wall clock per scenario (default 30)\n"
            "  --keep               keep the private copies in DIR/.work\n"
            "  -q, --quiet          no progress bar\n");
}

int grade_main(int argc, char **argv)
{
    struct grade_opts o = {.jobs = 1, .seed = 1, .shard_k = 1, .shard_n = 1, .scenario_timeout = 30};
    enum { O_RUBRIC = 256, O_OUT, O_JOBS, O_SEED, O_DIALECT, O_CMD, O_LINK, O_SHARD, O_STO, O_KEEP };
    static const struct option options[] = {
        {"rubric", required_argument, NULL, O_RUBRIC},   {"out", required_argument, NULL, O_OUT},
        {"jobs", required_argument, NULL, O_JOBS},       {"seed", required_argument, NULL, O_SEED},
        {"dialect", required_argument, NULL, O_DIALECT}, {"server-cmd", required_argument, NULL, O_CMD},
        {"link-root", required_argument, NULL, O_LINK},  {"shard", required_argument, NULL, O_SHARD},
        {"scenario-timeout", required_argument, NULL, O_STO}, {"keep", no_argument, NULL, O_KEEP},
        {"quiet", no_argument, NULL, 'q'},               {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int opt;
    char *end;
    while ((opt = getopt_long(argc, argv, ":qh", options, NULL)) != -1) {
        switch (opt) {
        case O_RUBRIC: o.rubric_path = optarg; break;
        case O_OUT: o.out = optarg; break;
        case O_JOBS:
            o.jobs = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o.jobs < 1 || o.jobs > 64) {
                fprintf(stderr, "rtsp-harness grade: --jobs: '%s' is not a number from 1 to 64\n", optarg);
                return 2;
            }
            break;
        case O_SEED: {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || !*optarg || v > 0xffffffffUL) {
                fprintf(stderr, "rtsp-harness grade: --seed: '%s' is not a number\n", optarg);
                return 2;
            }
            o.seed = (unsigned)v;
            break;
        }
        case O_DIALECT: o.dialect = optarg; break;
        case O_CMD: o.command = optarg; break;
        case O_LINK: o.link_root = optarg; break;
        case O_SHARD:
            if (sscanf(optarg, "%u/%u", &o.shard_k, &o.shard_n) != 2 || o.shard_n < 1 || o.shard_k < 1 ||
                o.shard_k > o.shard_n) {
                fprintf(stderr, "rtsp-harness grade: --shard: '%s' is not K/N with 1 <= K <= N\n", optarg);
                return 2;
            }
            break;
        case O_STO:
            o.scenario_timeout = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o.scenario_timeout < 1 || o.scenario_timeout > 3600) {
                fprintf(stderr, "rtsp-harness grade: --scenario-timeout: '%s' is not 1 to 3600\n", optarg);
                return 2;
            }
            break;
        case O_KEEP: o.keep = true; break;
        case 'q': o.quiet = true; break;
        case 'h': usage(stdout); return 0;
        case ':': fprintf(stderr, "rtsp-harness grade: %s needs a value\n", argv[optind - 1]); return 2;
        default:
            fprintf(stderr, "rtsp-harness grade: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || !o.out) {
        fprintf(stderr, "rtsp-harness grade: give one submissions folder and --out DIR\n");
        usage(stderr);
        return 2;
    }
    o.submissions = argv[optind];
    ssize_t sn = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (sn <= 0) {
        fprintf(stderr, "rtsp-harness grade: cannot find its own executable\n");
        return 3;
    }
    self_exe[sn] = 0;

    char err[2048];
    char rubric_path[PATH_MAX];
    if (o.rubric_path)
        snprintf(rubric_path, sizeof rubric_path, "%s", o.rubric_path);
    else
        data_path("scenarios/grade/lab.rubric", rubric_path, sizeof rubric_path);
    static struct rubric rb;
    if (rubric_load(rubric_path, &rb, err, sizeof err) != 0) {
        fprintf(stderr, "rtsp-harness grade: %s\n", err);
        return 2;
    }
    struct submission *subs = NULL;
    size_t n = 0;
    if (list_submissions(&o, &subs, &n, err, sizeof err) != 0) {
        fprintf(stderr, "rtsp-harness grade: %s\n", err);
        return 2;
    }
    if (n == 0) {
        fprintf(stderr, "rtsp-harness grade: %s holds no submission folders%s\n", o.submissions,
                o.shard_n > 1 ? " in this shard" : "");
        free(subs);
        return 2;
    }
    if (wire_mkdirs(o.out) != 0) {
        fprintf(stderr, "rtsp-harness grade: cannot create %s: %s\n", o.out, strerror(errno));
        free(subs);
        return 3;
    }
    /* Leftover cgroups of a grader that was killed. */
    unsigned swept = 0;
    sandbox_cgroup_sweep_stale("rh-grade-", grader_alive, &swept, err, sizeof err);

    /* The grader's movie: numbered frames, large enough to catch truncation. */
    char grader_dir[PATH_MAX], movie[PATH_MAX], mlog[PATH_MAX];
    if (pjoin(grader_dir, sizeof grader_dir, o.out, "/.grader") != 0 ||
        pjoin(movie, sizeof movie, grader_dir, "/movie.Mjpeg") != 0 ||
        pjoin(mlog, sizeof mlog, grader_dir, "/fixture.log") != 0) {
        fprintf(stderr, "rtsp-harness grade: --out: path too long\n");
        free(subs);
        return 2;
    }
    wire_mkdirs(grader_dir);
    {
        char *fargv[24];
        int a = 0;
        fargv[a++] = self_exe;
        fargv[a++] = "fixture";
        for (size_t i = 0; i < rb.n_movie_args && a < 20; i++)
            fargv[a++] = rb.movie_args[i];
        fargv[a++] = "--out";
        fargv[a++] = movie;
        fargv[a] = NULL;
        if (run_child(fargv, mlog, 120) != 0) {
            fprintf(stderr, "rtsp-harness grade: could not make the grader's movie (see %s)\n", mlog);
            free(subs);
            return 3;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool tty = isatty(STDERR_FILENO);
    int64_t t0 = wire_mono_ms();
    size_t next = 0, running = 0, done = 0;
    progress(&o, done, running, n, t0, tty);
    while (done < n) {
        size_t started = 0;
        while (!stop_requested && running < o.jobs && next < n) {
            pid_t pid = fork();
            if (pid == 0) {
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                _exit(grade_one(&o, &rb, &subs[next], movie, (unsigned)next));
            }
            if (pid < 0) {
                subs[next].status = 3;
                subs[next].done = true;
                done++;
            } else {
                subs[next].pid = pid;
                running++;
                started++;
            }
            next++;
        }
        if (started)
            progress(&o, done, running, n, t0, tty);
        if (running == 0)
            break;
        int status;
        pid_t w = waitpid(-1, &status, 0);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (subs[i].pid == w && !subs[i].done) {
                subs[i].done = true;
                subs[i].status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
                running--;
                done++;
            }
        progress(&o, done, running, n, t0, tty);
    }
    if (!o.quiet && tty)
        fputc('\n', stderr);
    size_t graded = 0;
    for (size_t i = 0; i < n; i++)
        graded += subs[i].done;
    if (write_class(&o, subs, n, err, sizeof err) != 0)
        fprintf(stderr, "rtsp-harness grade: %s\n", err);
    /* The gradebook on the terminal; 0 only when every submission got full marks. */
    bool all_full = graded == n;
    if (!o.quiet)
        printf("%-32s %-10s %9s\n", "submission", "dialect", "points");
    for (size_t i = 0; i < n; i++) {
        if (!subs[i].done)
            continue;
        char gpath[PATH_MAX];
        snprintf(gpath, sizeof gpath, "%s/%s/grade.json", o.out, subs[i].name);
        json_t *g = json_load_file(gpath, 0, NULL);
        all_full = all_full && g && report_num(g, "points", 0) >= rb.max_points;
        if (!o.quiet)
            printf("%-32.32s %-10.10s %6.1f/%g%s\n", subs[i].name,
                   report_str(json_object_get(g, "submission"), "dialect", "-"), report_num(g, "points", 0),
                   rb.max_points, g ? "" : "  (not graded)");
        json_decref(g);
    }
    printf("%zu submission%s graded in %.1f s; gradebook %s/gradebook.csv, class %s/class.json\n", graded,
           graded == 1 ? "" : "s", (double)(wire_mono_ms() - t0) / 1000, o.out, o.out);
    int rc = all_full ? 0 : 1;
    for (size_t i = 0; i < n; i++)
        if (!subs[i].done || subs[i].status != 0)
            rc = 1;
    if (stop_requested)
        rc = 130;
    if (!o.keep) {
        char work[PATH_MAX];
        snprintf(work, sizeof work, "%s/.work", o.out);
        remove_tree(work);
    }
    free(subs);
    return rc;
}
