/* `rtsp-harness run`: one lab per scenario, the system under test inside
 * it, impairment, captures, replay, analysis, verdict and the run report
 * (see run.h). */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "analyze/report.h"
#include "mjpeg.h"
#include "netlab/capture.h"
#include "netlab/netem.h"
#include "netlab/netlab.h"
#include "netlab/sut.h"
#include "netlab/uimpair.h"
#include "replay/replay.h"
#include "replay/scenario.h"
#include "run/oneway.h"
#include "run/registry.h"
#include "run/scenario_json.h"
#include "report/report.h"

#ifndef RTSP_HARNESS_VERSION
#define RTSP_HARNESS_VERSION "0.1.0"
#endif

#define RUN_SUT_GRACE_MS 1000 /* SIGTERM to SIGKILL */

static volatile sig_atomic_t interrupted; /* SIGINT/SIGTERM: finish the current scenario's cleanup and stop */

static void on_signal(int sig)
{
    interrupted = sig;
}

static int64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}


/* ---- scenario files ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append path (a file, or a directory's *.rtsp in name order) to list. */
static int collect(const char *path, char ***list, size_t *n, size_t *cap)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "rtsp-harness run: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char **found = NULL;
    size_t n_found = 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) {
            fprintf(stderr, "rtsp-harness run: %s: %s\n", path, strerror(errno));
            return -1;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 6 || strcmp(e->d_name + len - 5, ".rtsp") != 0)
                continue;
            char **nf = realloc(found, (n_found + 1) * sizeof *nf);
            char *full = NULL;
            if (!nf || asprintf(&full, "%s/%s", path, e->d_name) < 0) {
                free(nf ? nf : found);
                closedir(d);
                return -1;
            }
            found = nf;
            found[n_found++] = full;
        }
        closedir(d);
        qsort(found, n_found, sizeof *found, cmp_str);
        if (n_found == 0)
            fprintf(stderr, "rtsp-harness run: %s: no *.rtsp scenario files\n", path);
    } else {
        found = malloc(sizeof *found);
        if (!found || !(found[0] = strdup(path))) {
            free(found);
            return -1;
        }
        n_found = 1;
    }
    for (size_t i = 0; i < n_found; i++) {
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 16;
            char **nl = realloc(*list, ncap * sizeof *nl);
            if (!nl)
                return -1;
            *list = nl;
            *cap = ncap;
        }
        (*list)[(*n)++] = found[i];
    }
    free(found);
    return 0;
}

/* ---- command templates ---- */

struct tpl_var {
    const char *name;  /* placeholder name without braces */
    const char *value; /* replacement */
};

/* Replace {name} placeholders; unknown ones are an error naming them. */
static int expand_cmd(const char *tpl, const struct tpl_var *vars, size_t n_vars, char *out, size_t cap,
                      char *err, size_t err_cap)
{
    size_t o = 0;
    for (const char *p = tpl; *p;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            size_t i = 0;
            if (end) {
                for (; i < n_vars; i++)
                    if (strlen(vars[i].name) == (size_t)(end - p - 1) &&
                        strncmp(p + 1, vars[i].name, (size_t)(end - p - 1)) == 0)
                        break;
            }
            if (!end || i == n_vars) {
                snprintf(err, err_cap, "command '%s': unknown placeholder at column %zu%s", tpl,
                         (size_t)(p - tpl) + 1, end ? "" : " (no closing })");
                return -1;
            }
            size_t vlen = strlen(vars[i].value);
            if (o + vlen >= cap) {
                snprintf(err, err_cap, "command '%s': too long after expansion", tpl);
                return -1;
            }
            memcpy(out + o, vars[i].value, vlen);
            o += vlen;
            p = end + 1;
            continue;
        }
        if (o + 1 >= cap) {
            snprintf(err, err_cap, "command '%s': too long after expansion", tpl);
            return -1;
        }
        out[o++] = *p++;
    }
    out[o] = 0;
    return 0;
}

/* Shell-quote s into out (single quotes). */
static void shell_quote(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    if (cap < 3) {
        if (cap)
            out[0] = 0;
        return;
    }
    out[o++] = '\'';
    for (; *s && o + 5 < cap; s++) {
        if (*s == '\'') {
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else {
            out[o++] = *s;
        }
    }
    out[o++] = '\'';
    out[o] = 0;
}

/* ---- the lab's impairment ---- */

struct impairment {
    const char *backend;          /* "netem", "userspace" or "none" */
    struct netlab *lab;           /* the lab */
    struct uimpair *u;            /* userspace forwarder, or NULL */
    struct impair_spec spec[2];   /* current spec per direction */
    struct impair_spec initial[2];/* the spec each direction started with */
    pthread_t blackout_thread;    /* netem blackout: brings the links back up */
    bool blackout_running;        /* the thread was started and not joined */
    bool blacked_out;             /* netem: the qdiscs drop everything now */
    pthread_mutex_t lock;         /* netem: spec and blacked_out against the blackout thread */
    uint64_t blackout_ms;         /* its duration */
    json_t *phases;               /* phases applied, for the report */
    char note[512];               /* what the backend could not do as asked (netem ignoring a seed) */
    int64_t t0_ns;                /* scenario start (CLOCK_REALTIME) */
};

static const char *dir_ifname(int dir)
{
    /* Packets towards the peer leave the router on rt-peer: its egress
     * qdisc impairs the SUT -> peer direction, and the other way round. */
    return dir == SCENARIO_DIR_TO_PEER ? NETLAB_RT_PEER_IF : NETLAB_RT_SUT_IF;
}

static int impairment_set(struct impairment *im, int dir, const struct impair_spec *s, char *err,
                          size_t cap)
{
    if (strcmp(im->backend, "netem") == 0) {
        /* During a blackout the new spec waits for its end. A kernel that
         * ignores the seed still applied the rest. */
        pthread_mutex_lock(&im->lock);
        im->spec[dir] = *s;
        int rc = 0;
        if (!im->blacked_out)
            rc = netem_apply(im->lab->ns_router, dir_ifname(dir), s, err, cap);
        pthread_mutex_unlock(&im->lock);
        if (rc == NETEM_SEED_IGNORED) {
            snprintf(im->note, sizeof im->note, "%s", err);
            return 0;
        }
        return rc;
    }
    im->spec[dir] = *s;
    if (strcmp(im->backend, "userspace") == 0)
        return uimpair_set(im->u, dir == SCENARIO_DIR_TO_PEER ? UIMPAIR_TO_PEER : UIMPAIR_TO_SUT, s);
    snprintf(err, cap, "no impairment backend is running");
    return -1;
}

/* A blackout on the netem backend is 100% loss on both qdiscs for its
 * duration, then the specs in force before it. Not link down: a veth
 * whose peer is down takes the SUT's own carrier with it, and the SUT's
 * packets would wait in its own queue and burst out afterwards, which is
 * not what a cut somewhere in the network does. */
static struct impair_spec blackout_spec(const struct impair_spec *s)
{
    struct impair_spec b = *s;
    b.loss_model = IMPAIR_LOSS_RANDOM;
    b.loss_ppm = IMPAIR_PPM;
    b.loss_corr_ppm = 0;
    b.ecn = false;
    return b;
}

static void *blackout_main(void *arg)
{
    struct impairment *im = arg;
    nap_ms((long)im->blackout_ms);
    char err[512];
    pthread_mutex_lock(&im->lock);
    for (int d = 0; d < 2; d++)
        if (netem_apply(im->lab->ns_router, dir_ifname(d), &im->spec[d], err, sizeof err) < 0)
            fprintf(stderr, "rtsp-harness run: ending a blackout: %s\n", err);
    im->blacked_out = false;
    pthread_mutex_unlock(&im->lock);
    return NULL;
}

static void blackout_join(struct impairment *im)
{
    if (im->blackout_running) {
        pthread_join(im->blackout_thread, NULL);
        im->blackout_running = false;
    }
}

static int impairment_blackout(struct impairment *im, uint64_t ms, char *err, size_t cap)
{
    if (strcmp(im->backend, "userspace") == 0) {
        uimpair_blackout(im->u, ms * 1000);
        return 0;
    }
    if (strcmp(im->backend, "netem") != 0) {
        snprintf(err, cap, "no impairment backend is running");
        return -1;
    }
    blackout_join(im);
    pthread_mutex_lock(&im->lock);
    for (int d = 0; d < 2; d++) {
        struct impair_spec b = blackout_spec(&im->spec[d]);
        if (netem_apply(im->lab->ns_router, dir_ifname(d), &b, err, cap) < 0) {
            pthread_mutex_unlock(&im->lock);
            return -1;
        }
    }
    im->blacked_out = true;
    pthread_mutex_unlock(&im->lock);
    im->blackout_ms = ms;
    if (pthread_create(&im->blackout_thread, NULL, blackout_main, im) != 0) {
        snprintf(err, cap, "blackout: cannot start its timer thread");
        return -1;
    }
    im->blackout_running = true;
    return 0;
}

/* ---- one scenario ---- */

struct scenario_run {
    const struct run_opts *o;     /* the run */
    const struct scenario *sc;    /* the scenario */
    const char *run_name;         /* <run> */
    char base[PATH_MAX - 64];     /* captures/<run>/<scenario> (no extension) */
    char sut_pcap[PATH_MAX];      /* what the SUT's side saw (or the loopback capture) */
    char peer_pcap[PATH_MAX];     /* what the harness's side saw; "" without a lab */
    char impair_log[PATH_MAX];    /* userspace decision log; "" none */
    char sut_out[PATH_MAX];       /* SUT stdout */
    char sut_err[PATH_MAX];       /* SUT stderr */
    struct netlab lab;            /* the lab (descriptors -1 without one) */
    struct impairment im;         /* impairment state */
    struct sut *sut;              /* the process under test, or NULL */
    char sut_cmd[8192];           /* the expanded command */
    struct sut_exit sut_exit;     /* how it ended */
    bool sut_ended_early;         /* it ended before the scenario did */
    int64_t deadline_mono_ns;     /* scenario wall-clock limit */
    char setup_error[1024];       /* why the scenario could not run, "" */
    const struct dialect *dialect; /* --dialect for this scenario, NULL none */
    const struct rtp_reference *reference; /* the movie, for `identical`; NULL when it could not be read */
};

static int hook_event(void *ctx, const struct scenario_event *ev, char *err, size_t cap)
{
    struct scenario_run *r = ctx;
    json_t *ph = json_object();
    json_object_set_new(ph, "line", json_integer(ev->line));
    json_object_set_new(ph, "at_ms", json_integer(ev->at_ms));
    json_object_set_new(ph, "applied_ms",
                        json_integer((now_ns(CLOCK_REALTIME) - r->im.t0_ns) / 1000000));
    int rc = 0;
    if (ev->kind == SCENARIO_EVENT_BLACKOUT) {
        json_object_set_new(ph, "blackout_ms", json_integer((json_int_t)ev->duration_ms));
        rc = impairment_blackout(&r->im, ev->duration_ms, err, cap);
    } else {
        struct impair_spec s = ev->spec;
        if (!s.seed_given) {
            s.seed = r->o->seed;
            s.seed_given = true;
        }
        json_object_set_new(ph, "direction",
                            json_string(ev->direction == SCENARIO_DIR_BOTH     ? "both"
                                        : ev->direction == SCENARIO_DIR_TO_SUT ? "to-sut"
                                                                               : "to-peer"));
        json_object_set_new(ph, "impair", json_string(ev->text));
        if (ev->direction != SCENARIO_DIR_TO_PEER)
            rc |= impairment_set(&r->im, SCENARIO_DIR_TO_SUT, &s, err, cap);
        if (ev->direction != SCENARIO_DIR_TO_SUT)
            rc |= impairment_set(&r->im, SCENARIO_DIR_TO_PEER, &s, err, cap);
    }
    if (rc)
        json_object_set_new(ph, "error", json_string(err));
    json_array_append_new(r->im.phases, ph);
    return rc ? -1 : 0;
}

/* "was " before "killed by signal 11", nothing before "exited with status 1". */
static const char *sut_was(const struct sut_exit *ex)
{
    return strncmp(ex->text, "killed", 6) == 0 ? "was " : "";
}

static int hook_sut_gone(void *ctx, char *why, size_t cap)
{
    struct scenario_run *r = ctx;
    if (interrupted) {
        snprintf(why, cap, "the run was interrupted by signal %d", (int)interrupted);
        return 2;
    }
    if (now_ns(CLOCK_MONOTONIC) > r->deadline_mono_ns) {
        snprintf(why, cap, "the scenario ran past its %u s limit (--scenario-timeout)",
                 r->o->scenario_timeout_s);
        return 2;
    }
    if (r->sut && sut_poll(r->sut, &r->sut_exit)) {
        r->sut_ended_early = true;
        snprintf(why, cap, "the system under test %s%s", sut_was(&r->sut_exit), r->sut_exit.text);
        return 1;
    }
    return 0;
}

/* utime + stime + cutime + cstime of /proc/PID/stat, in clock ticks, and
 * the parent; -1 when the process is gone. */
static int proc_cpu(pid_t pid, pid_t *ppid, uint64_t *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    /* the command name is in parentheses and may hold anything: fields start after the last ')' */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long f[15];
    int pp;
    char state;
    if (sscanf(p + 1, " %c %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &state, &pp, &f[0],
               &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11], &f[12]) != 15)
        return -1;
    /* after ppid: pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime */
    *ppid = pp;
    *ticks = f[9] + f[10] + f[11] + f[12];
    return 0;
}

/* The CPU time of the system under test: its reaper and every process
 * descending from it (in whatever namespaces a sandbox adds), with the
 * children they have already waited for. */
static int hook_sut_cpu_ns(void *ctx, uint64_t *ns)
{
    struct scenario_run *r = ctx;
    if (!r->sut)
        return -1;
    pid_t root = sut_pid(r->sut);
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    enum { MAXP = 32768 };
    static pid_t pids[MAXP], parents[MAXP];
    static uint64_t ticks[MAXP];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < MAXP) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (*end || v <= 0)
            continue;
        if (proc_cpu((pid_t)v, &parents[n], &ticks[n]) == 0)
            pids[n++] = (pid_t)v;
    }
    closedir(d);
    /* Mark descendants: repeat until no process joins (trees are shallow). */
    static bool in[MAXP];
    bool found_root = false;
    for (size_t i = 0; i < n; i++) {
        in[i] = pids[i] == root;
        found_root = found_root || in[i];
    }
    if (!found_root)
        return -1;
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (in[i])
                continue;
            for (size_t k = 0; k < n; k++)
                if (in[k] && pids[k] == parents[i]) {
                    in[i] = grew = true;
                    break;
                }
        }
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i])
            sum += ticks[i];
    long hz = sysconf(_SC_CLK_TCK);
    *ns = sum * (uint64_t)(1000000000L / (hz > 0 ? hz : 100));
    return 0;
}

static int start_sut(struct scenario_run *r, const char *tpl, const char *url, char *err, size_t cap)
{
    char port[16], harness[PATH_MAX] = "rtsp-harness", media_dir[PATH_MAX];
    snprintf(port, sizeof port, "%u", r->o->port);
    ssize_t n = readlink("/proc/self/exe", harness, sizeof harness - 1);
    if (n > 0)
        harness[n] = 0;
    if (!realpath(r->o->media_dir, media_dir))
        snprintf(media_dir, sizeof media_dir, "%s", r->o->media_dir);
    char q_harness[PATH_MAX + 16], q_media_dir[PATH_MAX + 16], q_url[1100];
    shell_quote(harness, q_harness, sizeof q_harness);
    shell_quote(media_dir, q_media_dir, sizeof q_media_dir);
    shell_quote(url ? url : "", q_url, sizeof q_url);
    const char *host = r->sc->role == SCENARIO_ROLE_CLIENT ? NETLAB_PEER_ADDR : NETLAB_SUT_ADDR;
    struct tpl_var vars[] = {
        {"port", port}, {"host", host}, {"media", r->o->media}, {"media_dir", q_media_dir},
        {"harness", q_harness}, {"url", q_url},
    };
    if (expand_cmd(tpl, vars, sizeof vars / sizeof vars[0], r->sut_cmd, sizeof r->sut_cmd, err, cap) != 0)
        return -1;
    struct sut_opts so = {
        .ns_fd = r->lab.ns_sut,
        .command = r->sut_cmd,
        .stdout_path = r->sut_out,
        .stderr_path = r->sut_err,
        .run_id = r->run_name,
        .limits = {.cpu_seconds = r->o->scenario_timeout_s + 30, .file_bytes = 1ull << 30,
                   .open_files = 4096},
    };
    return sut_start(&so, &r->sut, err, cap);
}

static int hook_listening(void *ctx, const char *url, char *err, size_t cap)
{
    struct scenario_run *r = ctx;
    if (!r->o->client_cmd) {
        snprintf(err, cap, "a client-role scenario needs --client-cmd");
        return -1;
    }
    return start_sut(r, r->o->client_cmd, url, err, cap);
}

/* Wait until the server under test accepts TCP connections on its port. */
/* Whether a TCP socket listens on port in the current network namespace,
 * from /proc (no connection: a lab server that counts its clients, or one
 * whose worker ends on the first recv, must not see a probe as a client). */
static bool port_listening(unsigned port)
{
    static const char *const files[] = {"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"};
    for (size_t f = 0; f < 2; f++) {
        FILE *fp = fopen(files[f], "re");
        if (!fp)
            continue;
        char line[512];
        bool found = false;
        while (!found && fgets(line, sizeof line, fp)) {
            char local[128];
            unsigned st;
            /* "  0: 0100007F:1F90 00000000:0000 0A ..." */
            if (sscanf(line, " %*u: %127s %*s %x", local, &st) != 2)
                continue;
            const char *colon = strrchr(local, ':');
            found = st == 0x0A && colon && strtoul(colon + 1, NULL, 16) == port;
        }
        fclose(fp);
        if (found)
            return true;
    }
    return false;
}

static int wait_listening(struct scenario_run *r, char *err, size_t cap)
{
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)r->o->startup_timeout_s * 1000000000LL;
    for (;;) {
        if (interrupted) {
            snprintf(err, cap, "the run was interrupted by signal %d while the server under test started",
                     (int)interrupted);
            return -1;
        }
        if (r->sut && sut_poll(r->sut, &r->sut_exit)) {
            r->sut_ended_early = true;
            snprintf(err, cap, "the server under test %s%s before listening on port %u", sut_was(&r->sut_exit),
                     r->sut_exit.text, r->o->port);
            return -1;
        }
        char why[256];
        if (netlab_enter(r->lab.ns_sut, why, sizeof why) != 0) {
            snprintf(err, cap, "%s", why);
            return -1;
        }
        bool up = port_listening(r->o->port);
        if (setns(r->lab.ns_orig, CLONE_NEWNET) != 0) {
            fprintf(stderr, "rtsp-harness: cannot return to the original network namespace\n");
            _exit(3);
        }
        if (up)
            return 0;
        if (now_ns(CLOCK_MONOTONIC) > deadline) {
            snprintf(err, cap, "the server under test did not listen on %s:%u within %u s", NETLAB_SUT_ADDR,
                     r->o->port, r->o->startup_timeout_s);
            return -1;
        }
        nap_ms(20);
    }
}

/* The last `max` bytes of a file, as a JSON string (invalid UTF-8 replaced). */
static json_t *file_tail(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return json_null();
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > (long)max ? size - (long)max : 0;
    fseek(f, from, SEEK_SET);
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (!buf)
        return json_null();
    json_t *s = report_json_text(buf, n);
    free(buf);
    return s;
}

static json_t *dist_json(const struct oneway_dist *d)
{
    if (d->count == 0)
        return json_null();
    return json_pack("{s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "count", (json_int_t)d->count, "min", d->min,
                     "p50", d->p50, "p95", d->p95, "p99", d->p99, "max", d->max, "mean", d->mean);
}

static json_t *oneway_dir_json(const struct oneway_dir *d, const char *pcap_sent)
{
    json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "sent", (json_int_t)d->sent,
                          "received", (json_int_t)d->received, "lost", (json_int_t)d->lost,
                          "duplicates", (json_int_t)d->duplicates, "corrupted_or_foreign",
                          (json_int_t)d->unmatched, "reordered", (json_int_t)d->reordered, "rtp_sent",
                          (json_int_t)d->rtp_sent, "rtp_lost", (json_int_t)d->rtp_lost,
                          "frames_sent", (json_int_t)d->frames_sent, "frames_lost",
                          (json_int_t)d->frames_lost);
    json_object_set_new(j, "loss", json_real(d->sent ? (double)d->lost / (double)d->sent : 0));
    json_object_set_new(j, "delay_ms", dist_json(&d->delay_ms));
    json_object_set_new(j, "frame_delay_ms", dist_json(&d->frame_delay_ms));
    json_t *lost = json_array();
    for (size_t i = 0; i < d->n_lost_rtp; i++)
        json_array_append_new(lost, json_pack("{s:I,s:i,s:I,s:s}", "ssrc", (json_int_t)d->lost_rtp[i].ssrc,
                                              "seq", (int)d->lost_rtp[i].seq, "frame",
                                              (json_int_t)d->lost_rtp[i].frame, "pcap", pcap_sent));
    json_object_set_new(j, "network_dropped_rtp", lost);
    return j;
}

/* ---- evaluation of `rtp for` windows from the capture ---- */

struct window_figures {
    bool found;          /* a stream was in the window */
    double v[SCENARIO_METRIC_COUNT]; /* measured value per metric */
    bool pt_constant;    /* one payload type throughout */
    bool ssrc_constant;  /* one SSRC throughout */
    int64_t expected;    /* RTP packets expected (for the binomial test) */
    int64_t lost;        /* lost as A.3 counts */
    double fragments_per_datagram; /* IP fragments per reassembled datagram in the capture; 1 unfragmented */
    bool engine_counted; /* packets, bytes and bit rate are the engine's own count (capture over budget) */
};

static bool endpoint_port_is(const char *ep, unsigned port)
{
    const char *colon = strrchr(ep, ':');
    return colon && (unsigned)atoi(colon + 1) == port;
}

/* over_budget: the capture measured passed its --capture-limit, so past
 * some frame it holds packets cut or not at all. */
static int measure_window(const struct scenario_run *r, const struct replay_rtp_window *w, bool over_budget,
                          struct window_figures *f, char *err, size_t cap)
{
    memset(f, 0, sizeof *f);
    struct analyze_opts ao = {
        .profile = r->sc->profile == SCENARIO_PROFILE_LAB ? PROFILE_LAB : PROFILE_RFC2326,
        .profile_given = true,
        .decode = DECODE_NONE,
        .window_start_ns = w->start_ns,
        .window_end_ns = w->end_ns,
        .reference = r->reference,
    };
    if (w->rtp_port && ao.n_rtp_ports < ANALYZE_MAX_RTP_PORTS)
        ao.rtp_ports[ao.n_rtp_ports++] = w->rtp_port;
    const char *path = r->peer_pcap[0] ? r->peer_pcap : r->sut_pcap;
    struct analysis *a = NULL;
    if (analyze_file(path, &ao, &a, err, cap) != 0)
        return -1;
    f->fragments_per_datagram = a->ip_reassembled ? (double)a->ip_fragments / (double)a->ip_reassembled : 1.0;
    if (f->fragments_per_datagram < 1.0)
        f->fragments_per_datagram = 1.0;
    const struct analyze_stream *best = NULL;
    uint64_t pkts = 0, bytes = 0;
    unsigned n_ssrc = 0, n_pt = 0;
    int pt0 = -1;
    for (size_t i = 0; i < a->n_streams; i++) {
        const struct analyze_stream *s = &a->streams[i];
        bool match = w->channel >= 0 ? (s->interleaved && s->channel == w->channel)
                                     : (!s->interleaved && endpoint_port_is(s->dst, w->rtp_port));
        if (!match)
            continue;
        const struct rtp_stream_metrics *m = rtp_stream_metrics(s->rtp);
        if (!m->started)
            continue;
        n_ssrc++;
        if (pt0 < 0 || m->payload_type != pt0) {
            n_pt += pt0 != m->payload_type;
            pt0 = m->payload_type;
        }
        pkts += m->packets;
        bytes += m->bytes;
        if (!best || m->packets > rtp_stream_metrics(best->rtp)->packets)
            best = s;
    }
    /* A capture over its budget undercounts (a flood is the usual reason);
     * the engine's own count of what reached its socket never overcounts,
     * so the larger of the two stands. live_bytes hold the RTP headers. */
    uint64_t live_payload = w->live_bytes > 12 * w->live_packets ? w->live_bytes - 12 * w->live_packets : 0;
    if (over_budget && (w->live_packets > pkts || live_payload > bytes)) {
        f->engine_counted = true;
        pkts = w->live_packets > pkts ? w->live_packets : pkts;
        bytes = live_payload > bytes ? live_payload : bytes;
    }
    if (best) {
        const struct rtp_stream_metrics *m = rtp_stream_metrics(best->rtp);
        double dur_s = (double)(w->end_ns - w->start_ns) / 1e9;
        f->found = true;
        f->v[SCENARIO_METRIC_PACKETS] = (double)pkts;
        f->v[SCENARIO_METRIC_BYTES] = (double)bytes;
        f->v[SCENARIO_METRIC_FRAMES] = (double)m->frames.complete;
        f->v[SCENARIO_METRIC_PT] = m->payload_type;
        f->v[SCENARIO_METRIC_SSRC] = m->ssrc;
        f->v[SCENARIO_METRIC_LOSS] = m->expected > 0 ? 100.0 * (double)m->lost / (double)m->expected : 0;
        f->v[SCENARIO_METRIC_FPS] = dur_s > 0 ? (double)m->frames.complete / dur_s : 0;
        f->v[SCENARIO_METRIC_BITRATE] = dur_s > 0 ? (double)bytes * 8 / dur_s / 1000.0 : 0;
        f->v[SCENARIO_METRIC_JITTER] = m->max_jitter_ms;
        f->v[SCENARIO_METRIC_INTERVAL] = m->frames.interval_ms.count ? m->frames.interval_ms.p50 : 0;
        /* Frames cut short count as not identical. */
        uint64_t judged = m->frames.identical + m->frames.different + m->frames.incomplete;
        f->v[SCENARIO_METRIC_IDENTICAL] = judged ? 100.0 * (double)m->frames.identical / (double)judged : 0;
        f->pt_constant = n_pt <= 1;
        f->ssrc_constant = n_ssrc <= 1;
        f->expected = m->expected;
        f->lost = m->lost;
    } else {
        f->pt_constant = f->ssrc_constant = true;
    }
    if (f->engine_counted && !best) { /* the capture kept none of the window's packets */
        double dur_s = (double)(w->end_ns - w->start_ns) / 1e9;
        f->found = true;
        f->v[SCENARIO_METRIC_PACKETS] = (double)pkts;
        f->v[SCENARIO_METRIC_BYTES] = (double)bytes;
        f->v[SCENARIO_METRIC_BITRATE] = dur_s > 0 ? (double)bytes * 8 / dur_s / 1000.0 : 0;
    }
    analysis_free(a);
    return 0;
}

static bool cond_holds(const struct scenario_rtp_cond *c, const struct window_figures *f, double p_loss,
                       char *why, size_t cap)
{
    double v = f->v[c->metric];
    double tol = c->tolerance_percent ? fabs(c->value) * c->tolerance / 100.0 : c->tolerance;
    switch (c->op) {
    case SCENARIO_OP_EQ:
        snprintf(why, cap, "%g", v);
        return fabs(v - c->value) <= tol + 1e-9;
    case SCENARIO_OP_NE:
        snprintf(why, cap, "%g", v);
        return fabs(v - c->value) > tol + 1e-9;
    case SCENARIO_OP_LT: snprintf(why, cap, "%g", v); return v < c->value + tol;
    case SCENARIO_OP_LE: snprintf(why, cap, "%g", v); return v <= c->value + tol + 1e-9;
    case SCENARIO_OP_GT: snprintf(why, cap, "%g", v); return v > c->value - tol;
    case SCENARIO_OP_GE: snprintf(why, cap, "%g", v); return v >= c->value - tol - 1e-9;
    case SCENARIO_OP_CONSTANT: {
        bool ok = c->metric == SCENARIO_METRIC_PT ? f->pt_constant : f->ssrc_constant;
        snprintf(why, cap, "%s", ok ? "constant" : "changed");
        return ok;
    }
    case SCENARIO_OP_BINOMIAL: {
        double p = c->has_p ? c->p : p_loss;
        /* The network drops IP packets; a datagram travelling as k
         * fragments (the lab's whole-JPEG datagrams on a 1500-byte link)
         * is lost when any of them is: 1 - (1 - p)^k. */
        if (f->fragments_per_datagram > 1.0)
            p = 1.0 - pow(1.0 - p, f->fragments_per_datagram);
        uint64_t lo = 0, hi = 0;
        uint64_t n = f->expected > 0 ? (uint64_t)f->expected : 0;
        impair_binomial_interval(n, p, c->confidence, &lo, &hi);
        int64_t lost = f->lost;
        snprintf(why, cap, "%lld lost of %llu (%.2f%%); the %g%% interval at p=%.4g is [%llu, %llu]%s",
                 (long long)lost, (unsigned long long)n, n ? 100.0 * (double)lost / (double)n : 0.0,
                 c->confidence * 100, p, (unsigned long long)lo, (unsigned long long)hi,
                 f->fragments_per_datagram > 1.0 ? " (per datagram of its IP fragments)" : "");
        return lost >= 0 && (uint64_t)lost >= lo && (uint64_t)lost <= hi;
    }
    }
    return false;
}

/* Loss probability the to-peer direction was asked for over a window: the
 * phase in force when the window opened (phases inside a window make a
 * binomial test meaningless; the scenario author should not do that). */
static double asked_loss(const struct scenario_run *r, const struct replay_rtp_window *w)
{
    struct impair_spec s = r->im.initial[SCENARIO_DIR_TO_PEER];
    for (unsigned i = 0; i < r->sc->n_events; i++) {
        const struct scenario_event *ev = &r->sc->events[i];
        if (ev->kind != SCENARIO_EVENT_IMPAIR || ev->direction == SCENARIO_DIR_TO_SUT)
            continue;
        if (r->im.t0_ns + ev->at_ms * 1000000LL <= w->start_ns)
            s = ev->spec;
    }
    return impair_expected_loss(&s);
}

/* ---- verdicts ---- */

/* Checks that follow from the impairment itself when it is on: the
 * network, not the system under test, dropped, delayed or reordered. They
 * are excused only for packets that crossed the impairment before the SUT
 * capture saw them (the harness's own), and for TCP gaps. */
static bool network_explained(enum check_id id)
{
    switch (id) {
    case CHK_RTP_SEQ_GAP:
    case CHK_RTP_SEQ_REORDER:
    case CHK_RTP_SEQ_DUPLICATE:
    case CHK_FRAME_INCOMPLETE:
    case CHK_FRAME_SKIPPED:
    case CHK_FRAME_ORDER:
    case CHK_FRAME_UNDECODABLE:
    case CHK_CAPTURE_TCP_GAP:
        return true;
    default:
        return false;
    }
}

/* In the client role the harness is the server: of the analyzer's RTSP
 * checks, only those about what a client sends judge the system under
 * test (its requests' syntax, CSeq, Session and Transport offer). */
static bool judges_client(enum check_id id)
{
    switch (id) {
    case CHK_RTSP_SYNTAX:
    case CHK_RTSP_LINE_ENDS:
    case CHK_RTSP_CSEQ_MISSING:
    case CHK_RTSP_CSEQ_ORDER:
    case CHK_RTSP_CONTENT_LENGTH:
    case CHK_RTSP_SESSION_MISSING:
    case CHK_RTSP_SESSION_CHANGED:
    case CHK_RTSP_TRANSPORT_SYNTAX:
    case CHK_CAPTURE_TCP_GAP:
    case CHK_CAPTURE_TRUNCATED:
        return true;
    default:
        return false;
    }
}

/* Out of line: GCC 12's object-size tracking under the sanitizers loses
 * the size of the analysis's connection array when this is inlined and
 * warns about the string compare. */
static __attribute__((noinline)) bool same_endpoint(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* The pcap frames of an exchange's request and reply in the SUT-side
 * capture (0 when not found): connection by addresses, exchange by CSeq. */
struct exchange_frames {
    uint64_t request; /* the request's first frame */
    uint64_t reply;   /* the reply's first frame, else the request's */
};

static struct exchange_frames find_exchange_frames(const struct analysis *a, const struct replay_exchange *x)
{
    struct exchange_frames f = {0, 0};
    if (!a || !x->has_cseq)
        return f;
    for (size_t i = 0; i < a->n_connections; i++) {
        const struct analyze_connection *c = &a->connections[i];
        bool same = (same_endpoint(c->client, x->local) && same_endpoint(c->server, x->remote)) ||
                    (same_endpoint(c->client, x->remote) && same_endpoint(c->server, x->local));
        if (!same)
            continue;
        for (size_t k = 0; k < c->n_exchanges; k++)
            if (c->exchanges[k].has_cseq && c->exchanges[k].cseq == x->cseq) {
                f.request = c->exchanges[k].frame;
                f.reply = c->exchanges[k].response_frame ? c->exchanges[k].response_frame : f.request;
                return f;
            }
    }
    return f;
}

struct run_summary_row {
    char name[128];      /* scenario name */
    const char *verdict; /* pass, fail, error */
    double duration_s;   /* wall clock */
};

/* rtsp://host[:port]/path: the host and the port (554 when none). */
static void target_host_port(const char *url, char *host, size_t cap, uint16_t *port)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t hl = strcspn(h, ":/");
    snprintf(host, cap, "%.*s", (int)hl, h);
    *port = h[hl] == ':' ? (uint16_t)atoi(h + hl + 1) : 554;
}

/* Choose the backend for this scenario: `none` when nothing is impaired and
 * nothing changes during the run; else what --backend says, with `auto`
 * taking netem where the kernel has it. */
static const char *choose_backend(const struct run_opts *o, bool needs_impairment, int netem_state)
{
    if (!needs_impairment)
        return "none";
    if (o->backend == RUN_BACKEND_USERSPACE)
        return "userspace";
    if (o->backend == RUN_BACKEND_NETEM)
        return "netem";
    return netem_state == 0 ? "netem" : "userspace";
}

static int scenario_execute(struct scenario_run *r, int netem_state, const char *netem_why, json_t *sj,
                            struct run_summary_row *row)
{
    const struct run_opts *o = r->o;
    const struct scenario *sc = r->sc;
    char err[2048] = "";
    int64_t started_mono = now_ns(CLOCK_MONOTONIC);
    r->deadline_mono_ns = started_mono + (int64_t)o->scenario_timeout_s * 1000000000LL;
    r->lab.ns_orig = r->lab.ns_peer = r->lab.ns_router = r->lab.ns_sut = -1;
    r->im.lab = &r->lab;
    pthread_mutex_init(&r->im.lock, NULL);
    r->im.phases = json_array();
    r->im.backend = "none";

    /* What the impairment is: the scenario's own, else the run's default. */
    struct impair_spec spec[2];
    memset(spec, 0, sizeof spec);
    char asked[2][256] = {"", ""};
    if (sc->impair_given) {
        spec[0] = sc->impair[0];
        spec[1] = sc->impair[1];
        snprintf(asked[0], sizeof asked[0], "%s", sc->impair_text[0]);
        snprintf(asked[1], sizeof asked[1], "%s", sc->impair_text[1]);
    } else if (o->impair && *o->impair) {
        struct wire_error we;
        if (impair_parse(o->impair, strlen(o->impair), &spec[0], &we) != 0) {
            snprintf(r->setup_error, sizeof r->setup_error, "--impair '%s': column %zu: %s", o->impair,
                     we.offset + 1, we.reason);
            return -1;
        }
        spec[1] = spec[0];
        snprintf(asked[0], sizeof asked[0], "%s", o->impair);
        snprintf(asked[1], sizeof asked[1], "%s", o->impair);
    }
    for (int d = 0; d < 2; d++)
        if (!spec[d].seed_given) {
            spec[d].seed = o->seed;
            spec[d].seed_given = true;
        }
    bool needs = !impair_is_none(&spec[0]) || !impair_is_none(&spec[1]) || sc->n_events > 0;
    bool lab = o->target_url == NULL;
    /* Where the scenario's requests go: the lab's SUT address, or the target. */
    char host[256] = NETLAB_SUT_ADDR;
    uint16_t port = o->port;
    if (!lab)
        target_host_port(o->target_url, host, sizeof host, &port);
    json_t *imj = json_object();
    json_object_set_new(sj, "impairment", imj);

    struct capture *cap_sut = NULL, *cap_peer = NULL;
    struct replay_result rr;
    memset(&rr, 0, sizeof rr);
    bool replayed = false;
    int64_t t0 = now_ns(CLOCK_REALTIME);
    r->im.t0_ns = t0;
    r->im.initial[0] = spec[0];
    r->im.initial[1] = spec[1];

    if (lab) {
        const char *backend = choose_backend(o, needs, netem_state);
        if (strcmp(backend, "netem") == 0 && netem_state != 0) {
            snprintf(r->setup_error, sizeof r->setup_error, "--backend netem: %s", netem_why);
            goto finish;
        }
        r->im.backend = backend;
        if (netlab_create(&r->lab, strcmp(backend, "userspace") != 0, err, sizeof err) != 0) {
            snprintf(r->setup_error, sizeof r->setup_error, "%s", err);
            goto finish;
        }
        if (capture_start(r->lab.ns_sut, NETLAB_SUT_IF, NULL, r->sut_pcap, r->o->capture_budget, &cap_sut, err, sizeof err) != 0 ||
            capture_start(r->lab.ns_peer, NETLAB_PEER_IF, NULL, r->peer_pcap, r->o->capture_budget, &cap_peer, err, sizeof err) != 0) {
            snprintf(r->setup_error, sizeof r->setup_error, "%s", err);
            goto finish;
        }
        if (strcmp(backend, "netem") == 0) {
            for (int d = 0; d < 2; d++)
                if (impairment_set(&r->im, d, &spec[d], err, sizeof err) != 0) {
                    snprintf(r->setup_error, sizeof r->setup_error, "%s", err);
                    goto finish;
                }
        } else if (strcmp(backend, "userspace") == 0) {
            struct uimpair_opts uo = {
                .router_netns_fd = r->lab.ns_router,
                .peer_ifname = NETLAB_RT_PEER_IF,
                .sut_ifname = NETLAB_RT_SUT_IF,
                .log_path = r->impair_log,
                .t0_ns = t0,
            };
            uo.spec[UIMPAIR_TO_SUT] = spec[SCENARIO_DIR_TO_SUT];
            uo.spec[UIMPAIR_TO_PEER] = spec[SCENARIO_DIR_TO_PEER];
            if (uimpair_start(&uo, &r->im.u, err, sizeof err) != 0) {
                snprintf(r->setup_error, sizeof r->setup_error, "%s", err);
                goto finish;
            }
        }
        r->im.spec[0] = spec[0];
        r->im.spec[1] = spec[1];
        if (sc->role == SCENARIO_ROLE_SERVER) {
            if (!o->server_cmd) {
                snprintf(r->setup_error, sizeof r->setup_error,
                         "a server-role scenario needs --server-cmd or --target");
                goto finish;
            }
            if (start_sut(r, o->server_cmd, NULL, err, sizeof err) != 0 || wait_listening(r, err, sizeof err) != 0) {
                snprintf(r->setup_error, sizeof r->setup_error, "%s", err);
                goto finish;
            }
        }
    } else {
        if (sc->role == SCENARIO_ROLE_CLIENT) {
            snprintf(r->setup_error, sizeof r->setup_error,
                     "a client-role scenario cannot run with --target (it needs --client-cmd)");
            goto finish;
        }
        if (needs)
            fprintf(stderr, "rtsp-harness run: %s: --target runs on loopback without impairment; "
                            "the scenario's impairment is not applied\n", sc->path);
        r->im.backend = "none";
        /* Loopback is shared: keep other programs' RTSP out of the
         * capture (UDP stays whole: the RTP ports are not known yet). */
        char filter[64];
        snprintf(filter, sizeof filter, "tcp port %u or udp", (unsigned)port);
        if (capture_start(-1, "lo", filter, r->sut_pcap, r->o->capture_budget, &cap_sut, err, sizeof err) != 0) {
            snprintf(r->setup_error, sizeof r->setup_error, "%s", err);
            goto finish;
        }
    }

    {
        /* Replay from the peer namespace (or here, on loopback). */
        char url_buf[1024] = "";
        if (!lab)
            snprintf(url_buf, sizeof url_buf, "%s", o->target_url);
        struct replay_target t = {
            .host = sc->role == SCENARIO_ROLE_CLIENT ? NETLAB_PEER_ADDR : host,
            .port = port,
            .media = o->media,
            .url = lab ? NULL : url_buf,
            .seed = o->seed,
            /* --dialect: every lab scenario that does not name its own. */
            .dialect = sc->dialect_name[0] ? NULL : r->dialect,
        };
        char media_file[PATH_MAX];
        snprintf(media_file, sizeof media_file, "%s/%s", o->media_dir, o->media);
        t.media_file = media_file;
        struct replay_hooks h = {.ctx = r, .event = hook_event, .listening = hook_listening,
                                 .sut_gone = hook_sut_gone, .sut_cpu_ns = hook_sut_cpu_ns};
        if (lab && netlab_enter(r->lab.ns_peer, err, sizeof err) != 0) {
            snprintf(r->setup_error, sizeof r->setup_error, "%s", err);
            goto finish;
        }
        r->im.t0_ns = now_ns(CLOCK_REALTIME);
        replay_run(sc, &t, &h, &rr);
        replayed = true;
        if (lab && setns(r->lab.ns_orig, CLONE_NEWNET) != 0) {
            fprintf(stderr, "rtsp-harness: cannot return to the original network namespace\n");
            _exit(3);
        }
    }

finish:
    if (r->sut) {
        sut_stop(r->sut, RUN_SUT_GRACE_MS, &r->sut_exit);
        r->sut = NULL;
    }
    /* Let packets in flight through the impairment reach the captures. */
    {
        uint32_t worst_us = 0;
        for (int d = 0; d < 2; d++)
            if (spec[d].delay_us + spec[d].jitter_us > worst_us)
                worst_us = spec[d].delay_us + spec[d].jitter_us;
        nap_ms(50 + worst_us / 1000);
    }
    blackout_join(&r->im);
    struct uimpair_stats ust[2];
    bool have_ust = false;
    if (r->im.u) {
        uimpair_stop(r->im.u, ust);
        r->im.u = NULL;
        have_ust = true;
    }
    struct capture_stats cs_sut = {0}, cs_peer = {0};
    capture_stop(cap_sut, &cs_sut);
    capture_stop(cap_peer, &cs_peer);
    netlab_destroy(&r->lab);

    /* ---- judge ---- */
    const char *verdict = "pass";
    json_t *fails = json_array();
    json_object_set_new(imj, "backend", json_string(r->im.backend));
    json_object_set_new(imj, "asked", json_pack("{s:s,s:s}", "to_sut", asked[0], "to_peer", asked[1]));
    json_object_set_new(imj, "phases", r->im.phases);
    if (r->impair_log[0] && strcmp(r->im.backend, "userspace") == 0)
        json_object_set_new(imj, "decision_log", json_string(r->impair_log));
    if (have_ust) {
        json_t *fw = json_object();
        for (int d = 0; d < 2; d++)
            json_object_set_new(fw, d == UIMPAIR_TO_SUT ? "to_sut" : "to_peer",
                                json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f}", "frames_in",
                                          (json_int_t)ust[d].frames_in, "frames_out",
                                          (json_int_t)ust[d].frames_out, "dropped",
                                          (json_int_t)ust[d].dropped, "blackout_drops",
                                          (json_int_t)ust[d].blackout_drops, "duplicated",
                                          (json_int_t)ust[d].duplicated, "corrupted",
                                          (json_int_t)ust[d].corrupted, "reordered",
                                          (json_int_t)ust[d].reordered, "queue_drops",
                                          (json_int_t)ust[d].queue_drops, "delay_error_p50_us",
                                          ust[d].delay_err_p50_us, "delay_error_p99_us",
                                          ust[d].delay_err_p99_us, "delay_error_max_us",
                                          ust[d].delay_err_max_us));
        json_object_set_new(imj, "forwarder", fw);
    }
    if (!lab && needs)
        json_object_set_new(imj, "note", json_string("--target: no impairment applied"));
    else if (r->im.note[0])
        json_object_set_new(imj, "note", json_string(r->im.note));

    json_t *caps = json_object();
    json_object_set_new(caps, "sut", json_string(r->sut_pcap));
    json_object_set_new(caps, "sut_frames", json_integer((json_int_t)cs_sut.frames));
    json_object_set_new(caps, "sut_kernel_dropped", json_integer((json_int_t)cs_sut.kernel_dropped));
    if (lab) {
        json_object_set_new(caps, "peer", json_string(r->peer_pcap));
        json_object_set_new(caps, "peer_frames", json_integer((json_int_t)cs_peer.frames));
        json_object_set_new(caps, "peer_kernel_dropped", json_integer((json_int_t)cs_peer.kernel_dropped));
    }
    json_object_set_new(caps, "budget", json_integer((json_int_t)r->o->capture_budget));
    /* Over the budget: say how much of the traffic the files hold. */
    const struct capture_stats *over[2] = {&cs_sut, lab ? &cs_peer : NULL};
    static const char *const side[2] = {"sut", "peer"};
    for (int i = 0; i < 2; i++) {
        if (!over[i] || !over[i]->budget_frame)
            continue;
        char key[32];
        snprintf(key, sizeof key, "%s_over_budget", side[i]);
        json_object_set_new(caps, key,
                            json_pack("{s:I,s:I,s:I}", "from_frame", (json_int_t)over[i]->budget_frame, "cut",
                                      (json_int_t)over[i]->cut, "unwritten", (json_int_t)over[i]->unwritten));
        fprintf(stderr,
                "rtsp-harness run: %s: the %s capture passed its %llu-byte budget at frame %llu: %llu later "
                "frames kept cut to %d bytes, %llu only counted (--capture-limit)\n",
                sc->name, side[i], (unsigned long long)r->o->capture_budget,
                (unsigned long long)over[i]->budget_frame, (unsigned long long)over[i]->cut, CAPTURE_CUT_SNAP,
                (unsigned long long)over[i]->unwritten);
    }
    json_object_set_new(sj, "captures", caps);

    if (r->setup_error[0]) {
        verdict = "error";
        json_object_set_new(sj, "error", json_string(r->setup_error));
    }

    /* Analysis of the SUT side: what the system under test really sent
     * (before the impairment) and received (after it). */
    struct analysis *an = NULL;
    if (replayed || cs_sut.frames) {
        struct analyze_opts ao = {
            .profile = sc->profile == SCENARIO_PROFILE_LAB ? PROFILE_LAB : PROFILE_RFC2326,
            .profile_given = true,
            .decode = DECODE_SAMPLE,
            .series = true,
        };
        char aerr[1024];
        if (analyze_file(r->sut_pcap, &ao, &an, aerr, sizeof aerr) != 0) {
            json_object_set_new(sj, "analysis_error", json_string(aerr));
            an = NULL;
        } else {
            char apath[PATH_MAX];
            snprintf(apath, sizeof apath, "%s.analysis.json", r->base);
            FILE *af = fopen(apath, "w");
            if (af) {
                analysis_write_json(an, af);
                fclose(af);
                json_object_set_new(caps, "analysis", json_string(apath));
            }
        }
    }

    /* Each exchange's frames, looked up once for failures, findings and
     * the transcript. */
    struct exchange_frames *xf = calloc(rr.n_exchanges ? rr.n_exchanges : 1, sizeof *xf);
    for (size_t k = 0; xf && k < rr.n_exchanges; k++)
        xf[k] = find_exchange_frames(an, &rr.exchanges[k]);

    /* Live failures, with the pcap frame of their exchange. */
    for (size_t i = 0; i < rr.n_failures; i++) {
        const struct replay_failure *f = &rr.failures[i];
        json_t *fj = json_pack("{s:s,s:s,s:i,s:i,s:s}", "check", f->check, "source", "replay", "line",
                               (int)f->line, "column", (int)f->column, "message", f->message);
        uint64_t frame = 0;
        if (xf && f->exchange >= 0 && (size_t)f->exchange < rr.n_exchanges)
            frame = xf[f->exchange].reply;
        if (frame) {
            json_object_set_new(fj, "pcap", json_string(r->sut_pcap));
            json_object_set_new(fj, "frame", json_integer((json_int_t)frame));
        }
        if (f->exchange >= 0 && (size_t)f->exchange < rr.n_exchanges)
            json_object_set_new(fj, "exchange", json_integer(f->exchange));
        if (f->time_ns)
            json_object_set_new(fj, "time_s", json_real((double)(f->time_ns - r->im.t0_ns) / 1e9));
        json_array_append_new(fails, fj);
    }
    if (replayed && rr.verdict != REPLAY_PASS)
        verdict = rr.verdict == REPLAY_ERROR ? "error" : "fail";
    if (replayed && rr.verdict == REPLAY_ERROR)
        json_object_set_new(sj, "error", json_string(rr.error));

    /* Analyzer findings that count: severity fail under the profile, not
     * allowed by the scenario, not explained by the impairment. The checks
     * that can count are listed in the report, passed or failed. */
    bool judged[CHK_COUNT];
    for (int id = 0; id < CHK_COUNT; id++) {
        const struct check_def *def = &check_catalog[id];
        judged[id] = an && (def->severity[an->profile] == SEV_FAIL || scenario_requires(sc, def->id)) &&
                     !scenario_allows(sc, def->id) &&
                     (sc->role != SCENARIO_ROLE_CLIENT || judges_client((enum check_id)id));
    }
    if (an) {
        enum check_profile prof = an->profile;
        json_t *counted = json_object();
        for (size_t i = 0; i < an->findings.len; i++) {
            const struct finding *fd = &an->findings.items[i];
            const struct check_def *def = &check_catalog[fd->check];
            if ((def->severity[prof] != SEV_FAIL && !scenario_requires(sc, def->id)) || scenario_allows(sc, def->id))
                continue;
            /* The SUT capture holds what the SUT sent before the
             * impairment touched it: a gap there is the SUT's own. Only
             * what the harness sent crossed the impairment first. */
            bool from_peer = strncmp(fd->where, NETLAB_PEER_ADDR ":", strlen(NETLAB_PEER_ADDR) + 1) == 0;
            if (needs && network_explained(fd->check) && (from_peer || fd->check == CHK_CAPTURE_TCP_GAP))
                continue;
            if (sc->role == SCENARIO_ROLE_CLIENT && !judges_client(fd->check))
                continue;
            /* Streams the harness itself sends (client role) are judged
             * by the client's own behaviour, not by their packets. */
            if (strncmp(fd->where, NETLAB_PEER_ADDR ":", strlen(NETLAB_PEER_ADDR) + 1) == 0 &&
                strncmp(def->id, "rtp.", 4) == 0)
                continue;
            json_int_t seen = json_integer_value(json_object_get(counted, def->id));
            json_object_set_new(counted, def->id, json_integer(seen + 1));
            if (seen >= 5)
                continue; /* five of each in the report; the analysis file has them all */
            /* The scenario line: the exchange with that request frame. */
            unsigned line = 0;
            for (size_t k = 0; xf && k < rr.n_exchanges && !line; k++)
                if (fd->frame && (fd->frame == xf[k].request || fd->frame == xf[k].reply))
                    line = rr.exchanges[k].line;
            json_t *fj = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "check", def->id, "source", "analyzer", "rfc",
                                   def->rfc, "message", fd->detail, "where", fd->where, "pcap", r->sut_pcap);
            json_object_set_new(fj, "frame", json_integer((json_int_t)fd->frame));
            if (line)
                json_object_set_new(fj, "line", json_integer(line));
            json_array_append_new(fails, fj);
            if (strcmp(verdict, "pass") == 0)
                verdict = "fail";
        }
        json_decref(counted);
    }

    /* One-way measurements between the two captures. */
    struct oneway ow;
    if (lab && (replayed || cs_sut.frames)) {
        char oerr[512];
        if (oneway_measure(r->sut_pcap, r->peer_pcap, NETLAB_SUT_ADDR, NETLAB_PEER_ADDR, &ow, oerr,
                           sizeof oerr) == 0) {
            json_t *m = json_object();
            json_object_set_new(m, "to_peer", oneway_dir_json(&ow.to_peer, r->sut_pcap));
            json_object_set_new(m, "to_sut", oneway_dir_json(&ow.to_sut, r->peer_pcap));
            json_object_set_new(imj, "measured", m);
        } else {
            json_object_set_new(imj, "measured_error", json_string(oerr));
        }
    }

    /* RTP windows from the capture. */
    json_t *wins = json_array();
    for (size_t i = 0; replayed && i < rr.n_windows; i++) {
        const struct replay_rtp_window *w = &rr.windows[i];
        struct window_figures f;
        char werr[512];
        json_t *wj = json_pack("{s:i,s:f,s:f,s:I,s:I}", "line", (int)w->line, "start_s",
                               (double)(w->start_ns - r->im.t0_ns) / 1e9, "end_s",
                               (double)(w->end_ns - r->im.t0_ns) / 1e9, "live_packets",
                               (json_int_t)w->live_packets, "live_bytes", (json_int_t)w->live_bytes);
        json_array_append_new(wins, wj);
        if (measure_window(r, w, (lab ? cs_peer : cs_sut).budget_frame != 0, &f, werr, sizeof werr) != 0) {
            json_object_set_new(wj, "error", json_string(werr));
            json_array_append_new(fails, json_pack("{s:s,s:s,s:i,s:s}", "check", "scenario.rtp", "source",
                                                   "capture", "line", (int)w->line, "message", werr));
            verdict = strcmp(verdict, "error") == 0 ? verdict : "fail";
            continue;
        }
        json_t *conds = json_array();
        json_object_set_new(wj, "conditions", conds);
        double p = asked_loss(r, w);
        for (unsigned k = 0; w->expect && k < w->expect->n_conds; k++) {
            const struct scenario_rtp_cond *c = &w->expect->conds[k];
            char got[256];
            bool ok = cond_holds(c, &f, p, got, sizeof got);
            char want[96];
            if (c->op == SCENARIO_OP_BINOMIAL)
                snprintf(want, sizeof want, "within binomial %g%%", c->confidence * 100);
            else if (c->op == SCENARIO_OP_CONSTANT)
                snprintf(want, sizeof want, "constant");
            else if (c->tolerance > 0)
                snprintf(want, sizeof want, "%s %g +- %g%s", scenario_op_name(c->op), c->value, c->tolerance,
                         c->tolerance_percent ? "%" : "");
            else
                snprintf(want, sizeof want, "%s %g", scenario_op_name(c->op), c->value);
            json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:b,s:i,s:i}", "metric",
                                                   scenario_metric_name(c->metric), "expected", want,
                                                   "measured", got, "pass", ok, "line", (int)c->line, "column",
                                                   (int)c->column));
            if (!ok) {
                char msg[600];
                bool counted = f.engine_counted && (c->metric == SCENARIO_METRIC_PACKETS ||
                                                    c->metric == SCENARIO_METRIC_BYTES ||
                                                    c->metric == SCENARIO_METRIC_BITRATE);
                snprintf(msg, sizeof msg, "rtp for %.3gs: expected %s %s, measured %s%s",
                         (double)w->expect->duration_ms / 1000, scenario_metric_name(c->metric), want, got,
                         !f.found ? " (no RTP stream in the window)"
                         : counted ? " (the engine's own count: the capture passed its --capture-limit)"
                                   : "");
                json_t *fj = json_pack("{s:s,s:s,s:i,s:i,s:s,s:s}", "check", "scenario.rtp", "source",
                                       "capture", "line", (int)c->line, "column", (int)c->column, "message",
                                       msg, "pcap", r->peer_pcap[0] ? r->peer_pcap : r->sut_pcap);
                json_array_append_new(fails, fj);
                if (strcmp(verdict, "pass") == 0)
                    verdict = "fail";
            }
        }
    }
    json_object_set_new(sj, "rtp_windows", wins);

    /* Exchanges: the transcript. */
    json_t *xs = json_array();
    for (size_t i = 0; i < rr.n_exchanges; i++) {
        const struct replay_exchange *x = &rr.exchanges[i];
        json_t *xj = json_pack("{s:i,s:i,s:s,s:s,s:s,s:i}", "line", (int)x->line, "conn", x->conn, "local",
                               x->local, "remote", x->remote, "method", x->method, "status", x->status);
        if (x->has_cseq)
            json_object_set_new(xj, "cseq", json_integer(x->cseq));
        json_object_set_new(xj, "request_s", json_real((double)(x->request_ns - r->im.t0_ns) / 1e9));
        if (x->response_ns)
            json_object_set_new(xj, "response_s", json_real((double)(x->response_ns - r->im.t0_ns) / 1e9));
        json_object_set_new(xj, "request",
                            x->request_text ? report_json_text(x->request_text, x->request_len) : json_null());
        json_object_set_new(xj, "response",
                            x->response_text ? report_json_text(x->response_text, x->response_len) : json_null());
        uint64_t fr = xf ? xf[i].request : 0;
        if (fr)
            json_object_set_new(xj, "frame", json_integer((json_int_t)fr));
        json_array_append_new(xs, xj);
    }
    json_object_set_new(sj, "exchanges", xs);
    json_object_set_new(sj, "steps", scenario_json_steps(sc, &rr, r->im.t0_ns));
    if (rr.dialect[0])
        json_object_set_new(sj, "dialect", json_string(rr.dialect));
    {
        const char *serr = json_string_value(json_object_get(sj, "error"));
        const char *run_error = NULL;
        if (strcmp(verdict, "error") == 0)
            run_error = serr ? serr : "the scenario could not run";
        json_object_set_new(sj, "checks", scenario_json_checks(sc, &rr, fails, wins, an ? judged : NULL, run_error));
    }
    json_object_set_new(sj, "failures", fails);
    json_object_set_new(sj, "steps_run", json_integer(rr.steps_run));
    json_object_set_new(sj, "steps_skipped", json_integer(rr.steps_skipped));

    /* The system under test. */
    json_t *sutj = json_object();
    json_object_set_new(sutj, "command", json_string(r->sut_cmd));
    json_object_set_new(sutj, "exit", json_string(r->sut_exit.text[0] ? r->sut_exit.text : "not started"));
    json_object_set_new(sutj, "ended_early", json_boolean(r->sut_ended_early));
    json_object_set_new(sutj, "stdout_tail", file_tail(r->sut_out, 4096));
    json_object_set_new(sutj, "stderr_tail", file_tail(r->sut_err, 4096));
    json_object_set_new(sj, "sut", sutj);

    /* The streams as received (server role: at the harness, after the
     * network; client role: at the client under test), with their series,
     * loss events told apart by the sending side's capture, and
     * thumbnails. */
    struct analysis *pa = NULL;
    if (lab && (replayed || cs_peer.frames)) {
        struct analyze_opts ao = {
            .profile = sc->profile == SCENARIO_PROFILE_LAB ? PROFILE_LAB : PROFILE_RFC2326,
            .profile_given = true,
            .decode = DECODE_ALL, /* every frame: a corrupt one gets its thumbnail */
            .series = true,
        };
        char perr[512];
        if (analyze_file(r->peer_pcap, &ao, &pa, perr, sizeof perr) != 0)
            pa = NULL;
    }
    bool server_role = sc->role == SCENARIO_ROLE_SERVER;
    const struct analysis *recv = lab && server_role ? pa : an;
    const struct analysis *sent = !lab ? NULL : server_role ? an : pa;
    const char *recv_pcap = lab && server_role ? r->peer_pcap : r->sut_pcap;
    if (recv) {
        json_t *streams = json_array();
        for (size_t i = 0; i < recv->n_streams; i++)
            if (rtp_stream_metrics(recv->streams[i].rtp)->started)
                json_array_append_new(streams,
                                      scenario_json_stream(&recv->streams[i], recv_pcap, sent, r->im.t0_ns));
        json_object_set_new(sj, "streams", streams);
    }
    analysis_free(pa);

    free(xf);
    analysis_free(an);
    replay_result_free(&rr);
    pthread_mutex_destroy(&r->im.lock);
    double dur = (double)(now_ns(CLOCK_MONOTONIC) - started_mono) / 1e9;
    json_object_set_new(sj, "verdict", json_string(verdict));
    json_object_set_new(sj, "duration_s", json_real(dur));
    row->verdict = verdict;
    row->duration_s = dur;
    snprintf(row->name, sizeof row->name, "%s", sc->name);
    return 0;
}

/* ---- the whole run ---- */

static int probe_netem(char *why, size_t cap)
{
    struct netlab lab;
    if (netlab_create(&lab, true, why, cap) != 0)
        return -1;
    int rc = netem_probe(lab.ns_router, NETLAB_RT_PEER_IF, why, cap);
    netlab_destroy(&lab);
    return rc;
}

/* The impairment of the whole run: the backends that ran, and per
 * direction the packets sent and lost on the wire over every scenario. */
static void run_totals(json_t *runj, const json_t *scenarios)
{
    json_t *backends = json_array();
    json_int_t sent[2] = {0, 0}, lost[2] = {0, 0};
    static const char *const dirs[2] = {"to_sut", "to_peer"};
    size_t i;
    json_t *sc;
    json_array_foreach(scenarios, i, sc)
    {
        json_t *im = json_object_get(sc, "impairment");
        const char *b = json_string_value(json_object_get(im, "backend"));
        bool seen = false;
        size_t k;
        json_t *e;
        json_array_foreach(backends, k, e) seen = seen || (b && strcmp(json_string_value(e), b) == 0);
        if (b && !seen)
            json_array_append_new(backends, json_string(b));
        for (int d = 0; d < 2; d++) {
            json_t *m = json_object_get(json_object_get(im, "measured"), dirs[d]);
            sent[d] += json_integer_value(json_object_get(m, "sent"));
            lost[d] += json_integer_value(json_object_get(m, "lost"));
        }
    }
    json_object_set_new(runj, "backends_used", backends);
    json_t *m = json_object();
    for (int d = 0; d < 2; d++)
        json_object_set_new(m, dirs[d], json_pack("{s:I,s:I,s:f}", "sent", sent[d], "lost", lost[d], "loss",
                                                  sent[d] ? (double)lost[d] / (double)sent[d] : 0.0));
    json_object_set_new(runj, "measured", m);
}

/* The movie as frames, for comparing what a lab server sent. */
struct movie_reference {
    uint8_t *data;
    const uint8_t **frames;
    size_t *lens;
    struct rtp_reference ref;
};

static void movie_reference_load(struct movie_reference *m, const char *dir, const char *name)
{
    memset(m, 0, sizeof *m);
    char path[PATH_MAX], msg[256];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (mjpeg_read_file(path, 512u << 20, &m->data, &len, msg, sizeof msg) != 0)
        return; /* not a lab movie (a folder of JPEGs, or none): `identical` measures 0 */
    struct mjpeg_reader rd;
    mjpeg_reader_init(&rd, m->data, len);
    rd.lenient = true;
    size_t cap = 0, n = 0;
    const uint8_t *frame;
    size_t flen;
    while (mjpeg_next(&rd, &frame, &flen, NULL) == 1) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            const uint8_t **f2 = realloc(m->frames, cap * sizeof *f2);
            size_t *l2 = realloc(m->lens, cap * sizeof *l2);
            if (f2)
                m->frames = f2;
            if (l2)
                m->lens = l2;
            if (!f2 || !l2)
                break;
        }
        m->frames[n] = frame;
        m->lens[n] = flen;
        n++;
    }
    m->ref = (struct rtp_reference){m->frames, m->lens, n};
}

static void movie_reference_free(struct movie_reference *m)
{
    free(m->frames);
    free(m->lens);
    free(m->data);
    memset(m, 0, sizeof *m);
}

/* The run's files for one scenario: captures/<run>/<parent>-<stem><suffix>.* */
static void set_paths(struct scenario_run *r, const char *cap_dir, const char *parent, const char *stem,
                      const char *suffix, bool lab)
{
    snprintf(r->base, sizeof r->base, "%s/%s%s%s", cap_dir, parent, stem, suffix);
    snprintf(r->sut_pcap, sizeof r->sut_pcap, "%s.%s.pcap", r->base, lab ? "sut" : "lo");
    if (lab)
        snprintf(r->peer_pcap, sizeof r->peer_pcap, "%s.peer.pcap", r->base);
    snprintf(r->impair_log, sizeof r->impair_log, "%s.impair.log", r->base);
    snprintf(r->sut_out, sizeof r->sut_out, "%s.sut.stdout", r->base);
    snprintf(r->sut_err, sizeof r->sut_err, "%s.sut.stderr", r->base);
}

static void update_link(const char *dir, const char *name)
{
    char link[PATH_MAX];
    if (snprintf(link, sizeof link, "%s/latest", dir) >= (int)sizeof link)
        return;
    unlink(link);
    if (symlink(name, link) != 0)
        fprintf(stderr, "rtsp-harness run: cannot link %s -> %s: %s\n", link, name, strerror(errno));
}

int run_execute(const struct run_opts *o, char **paths, int n_paths)
{
    /* From the start: a signal at any moment of the run ends it through the
     * same path (what ran is judged, the report says interrupted, exit 130). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char **files = NULL;
    size_t n_files = 0, cap_files = 0;
    for (int i = 0; i < n_paths; i++)
        if (collect(paths[i], &files, &n_files, &cap_files) != 0)
            return 2;
    if (n_files == 0) {
        fprintf(stderr, "rtsp-harness run: no scenarios to run\n");
        return 2;
    }
    /* Parse everything first: a bad file stops the run before anything runs. */
    struct scenario *scs = calloc(n_files, sizeof *scs);
    if (!scs)
        return 3;
    int bad = 0;
    for (size_t i = 0; i < n_files; i++) {
        char err[1024];
        if (scenario_parse_file(files[i], &scs[i], err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            bad++;
        }
    }
    if (bad) {
        fprintf(stderr, "rtsp-harness run: %d scenario file%s did not parse; nothing was run\n", bad,
                bad == 1 ? "" : "s");
        for (size_t i = 0; i < n_files; i++) {
            scenario_free(&scs[i]);
            free(files[i]);
        }
        free(scs);
        free(files);
        return 2;
    }

    /* --dialect: a file is read once; a name is looked up from each lab
     * scenario's folder (scenarios/lab/dialects/NAME.dialect). */
    struct dialect **dialects = calloc(n_files, sizeof *dialects);
    for (size_t i = 0; o->dialect && dialects && i < n_files; i++) {
        if (scs[i].profile != SCENARIO_PROFILE_LAB || scs[i].role != SCENARIO_ROLE_SERVER || scs[i].dialect_name[0])
            continue;
        char err[1024], dir[PATH_MAX];
        const char *slash = strrchr(files[i], '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - files[i]) : 1, slash ? files[i] : ".");
        bool is_file = strchr(o->dialect, '/') || strstr(o->dialect, ".dialect");
        if (dialect_load(o->dialect, is_file ? NULL : dir, &dialects[i], err, sizeof err) != 0) {
            fprintf(stderr, "rtsp-harness run: --dialect: %s\n", err);
            for (size_t k = 0; k < n_files; k++) {
                dialect_free(dialects[k]);
                scenario_free(&scs[k]);
                free(files[k]);
            }
            free(dialects);
            free(scs);
            free(files);
            return 2;
        }
    }

    /* The movie the lab scenarios stream, for the `identical` metric. */
    struct movie_reference movie;
    movie_reference_load(&movie, o->media_dir, o->media);

    /* Leftovers of runs that were killed. */
    char cleaned[1024];
    int n_cleaned = registry_clean_stale(cleaned, sizeof cleaned);

    char run_name[128];
    if (o->run_name)
        snprintf(run_name, sizeof run_name, "%s", o->run_name);
    else {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(run_name, sizeof run_name, "%04d%02d%02d-%02d%02d%02d-%d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)getpid());
    }
    char cap_dir[PATH_MAX / 2], rep_dir[PATH_MAX / 2];
    snprintf(cap_dir, sizeof cap_dir, "%s/%s", o->captures_dir, run_name);
    snprintf(rep_dir, sizeof rep_dir, "%s/%s", o->reports_dir, run_name);
    if (wire_mkdirs(cap_dir) != 0 || wire_mkdirs(rep_dir) != 0) {
        fprintf(stderr, "rtsp-harness run: cannot create %s or %s: %s\n", cap_dir, rep_dir, strerror(errno));
        return 3;
    }
    registry_enter(run_name, rep_dir);

    char netem_why[512] = "";
    int netem_state = 1;
    bool lab = o->target_url == NULL;
    if (lab && o->backend != RUN_BACKEND_USERSPACE) {
        netem_state = probe_netem(netem_why, sizeof netem_why);
        if (netem_state < 0) {
            fprintf(stderr, "rtsp-harness run: %s\n", netem_why);
            registry_leave();
            return 3;
        }
        if (o->backend == RUN_BACKEND_NETEM && netem_state != 0) {
            fprintf(stderr, "rtsp-harness run: --backend netem: %s\n", netem_why);
            registry_leave();
            return 3;
        }
        if (netem_state != 0 && !o->quiet)
            fprintf(stderr, "rtsp-harness run: backend auto: %s; using the userspace forwarder\n", netem_why);
    }

    json_t *report = json_object();
    json_t *runj = json_object();
    json_t *cmd = json_array();
    for (int i = 0; i < o->argc; i++)
        json_array_append_new(cmd, json_string(o->argv[i]));
    json_object_set_new(runj, "tool", json_string("rtsp-harness"));
    json_object_set_new(runj, "version", json_string(RTSP_HARNESS_VERSION));
    json_object_set_new(runj, "name", json_string(run_name));
    json_object_set_new(runj, "command", cmd);
    json_object_set_new(runj, "seed", json_integer(o->seed));
    json_object_set_new(runj, "backend_requested",
                        json_string(o->backend == RUN_BACKEND_NETEM       ? "netem"
                                    : o->backend == RUN_BACKEND_USERSPACE ? "userspace"
                                                                          : "auto"));
    json_object_set_new(runj, "netem_available", json_boolean(netem_state == 0));
    if (netem_state != 0 && netem_why[0])
        json_object_set_new(runj, "netem_unavailable_because", json_string(netem_why));
    json_object_set_new(runj, "impair_default", o->impair ? json_string(o->impair) : json_null());
    json_object_set_new(runj, "target", o->target_url ? json_string(o->target_url) : json_null());
    json_object_set_new(runj, "server_cmd", o->server_cmd ? json_string(o->server_cmd) : json_null());
    json_object_set_new(runj, "client_cmd", o->client_cmd ? json_string(o->client_cmd) : json_null());
    json_object_set_new(runj, "captures", json_string(cap_dir));
    if (n_cleaned > 0)
        json_object_set_new(runj, "cleaned_up", json_string(cleaned));
    time_t started = time(NULL);
    json_object_set_new(runj, "started", json_integer((json_int_t)started));
    json_object_set_new(report, "schema", json_string("rtsp-harness/run-report"));
    json_object_set_new(report, "version", json_integer(1));
    json_object_set_new(report, "run", runj);
    json_t *sarr = json_array();
    json_object_set_new(report, "scenarios", sarr);

    const char *baseline_cmd = o->baseline ? (o->baseline_cmd ? o->baseline_cmd : RUN_REFERENCE_SERVER_CMD) : NULL;
    json_object_set_new(runj, "baseline", o->baseline ? json_string("reference") : json_null());
    json_object_set_new(runj, "baseline_cmd", baseline_cmd ? json_string(baseline_cmd) : json_null());
    bool tty = isatty(STDERR_FILENO) != 0;
    struct run_summary_row *rows = calloc(n_files, sizeof *rows);
    int passed = 0, failed = 0, errors = 0;
    size_t ran = 0;
    for (size_t i = 0; i < n_files && !interrupted && rows; i++) {
        struct scenario_run *r = calloc(1, sizeof *r);
        if (!r)
            break;
        r->o = o;
        r->sc = &scs[i];
        r->run_name = run_name;
        r->dialect = dialects ? dialects[i] : NULL;
        r->reference = movie.ref.n ? &movie.ref : NULL;
        const char *slash = strrchr(files[i], '/');
        char stem[200];
        snprintf(stem, sizeof stem, "%s", slash ? slash + 1 : files[i]);
        char *dot = strrchr(stem, '.');
        if (dot)
            *dot = 0;
        /* The parent folder keeps conformance/x and lab/x apart. */
        char parent[100] = "";
        if (slash && slash > files[i]) {
            const char *ps = slash - 1;
            while (ps > files[i] && ps[-1] != '/')
                ps--;
            snprintf(parent, sizeof parent, "%.*s-", (int)(slash - ps), ps);
            if (strcmp(parent, ".-") == 0)
                parent[0] = 0;
        }
        set_paths(r, cap_dir, parent, stem, "", lab);
        if (!o->quiet) {
            if (tty)
                fprintf(stderr, "\r\033[K[%zu/%zu] %s ...", i + 1, n_files, files[i]);
            else
                fprintf(stderr, "[%zu/%zu] %s ...\n", i + 1, n_files, files[i]);
        }
        json_t *sj = json_object();
        json_object_set_new(sj, "name", json_string(scs[i].name));
        json_object_set_new(sj, "file", json_string(files[i]));
        json_object_set_new(sj, "role", json_string(scs[i].role == SCENARIO_ROLE_SERVER ? "server" : "client"));
        json_object_set_new(sj, "profile", json_string(scs[i].profile == SCENARIO_PROFILE_LAB ? "lab" : "rfc2326"));
        scenario_execute(r, netem_state, netem_why, sj, &rows[i]);
        json_array_append_new(sarr, sj);
        if (baseline_cmd && scs[i].role == SCENARIO_ROLE_SERVER && !interrupted) {
            /* The same scenario, seed and impairment against the reference. */
            struct run_opts ob = *o;
            ob.server_cmd = baseline_cmd;
            struct scenario_run *rb = calloc(1, sizeof *rb);
            if (rb) {
                rb->o = &ob;
                rb->sc = &scs[i];
                rb->run_name = run_name;
                rb->dialect = r->dialect;
                rb->reference = r->reference;
                set_paths(rb, cap_dir, parent, stem, ".ref", lab);
                if (!o->quiet && tty)
                    fprintf(stderr, "\r\033[K[%zu/%zu] %s (reference) ...", i + 1, n_files, files[i]);
                else if (!o->quiet)
                    fprintf(stderr, "[%zu/%zu] %s (reference) ...\n", i + 1, n_files, files[i]);
                json_t *bj = json_object();
                json_object_set_new(bj, "name", json_string(scs[i].name));
                json_object_set_new(bj, "file", json_string(files[i]));
                json_object_set_new(bj, "role", json_string("server"));
                json_object_set_new(bj, "profile",
                                    json_string(scs[i].profile == SCENARIO_PROFILE_LAB ? "lab" : "rfc2326"));
                struct run_summary_row brow;
                memset(&brow, 0, sizeof brow);
                scenario_execute(rb, netem_state, netem_why, bj, &brow);
                json_object_set_new(sj, "baseline", bj);
                free(rb);
            }
        } else if (baseline_cmd) {
            json_object_set_new(sj, "baseline_note",
                                json_string(scs[i].role == SCENARIO_ROLE_SERVER
                                                ? "not run: the run was interrupted"
                                                : "no baseline: the reference is a server, this scenario tests a "
                                                  "client"));
        }
        if (strcmp(rows[i].verdict, "pass") == 0)
            passed++;
        else if (strcmp(rows[i].verdict, "fail") == 0)
            failed++;
        else
            errors++;
        ran++;
        if (!o->quiet) {
            if (tty)
                fputs("\r\033[K", stderr);
            report_text_failures(stderr, sj, false);
            fprintf(stderr, "[%zu/%zu] %s: %s (%.1f s)\n", i + 1, n_files, files[i], rows[i].verdict,
                    rows[i].duration_s);
        }
        free(r);
    }
    /* The report is decided here, and the exit status with it: a signal
     * from now on, when every scenario has run, interrupts nothing, so it
     * must not turn a complete report's run into an exit 130. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_signals, NULL);
    int stopped_by = interrupted;
    if (stopped_by)
        fprintf(stderr, "rtsp-harness run: interrupted by signal %d (%s): %zu of %zu scenario%s ran\n", stopped_by,
                strsignal(stopped_by), ran, n_files, n_files == 1 ? "" : "s");
    json_object_set_new(report, "summary",
                        json_pack("{s:i,s:i,s:i,s:i,s:i,s:b}", "scenarios", (int)n_files, "ran", (int)ran,
                                  "passed", passed, "failed", failed, "errors", errors, "interrupted",
                                  stopped_by != 0));
    json_object_set_new(runj, "duration_s", json_real((double)(time(NULL) - started)));
    run_totals(runj, sarr);
    /* The harness's own high-water mark, so that tests can bound its memory
     * under a hostile system under test (docs/security.md). */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        json_object_set_new(runj, "peak_rss_kb", json_integer((json_int_t)ru.ru_maxrss));
    char werr[1024];
    bool written = report_write_all(report, rep_dir, werr, sizeof werr) == 0;
    if (!written)
        fprintf(stderr, "rtsp-harness run: %s\n", werr);
    const char *nc = getenv("NO_COLOR");
    struct report_text_opts to = {.color = isatty(STDOUT_FILENO) && !(nc && *nc), .quiet = o->quiet};
    report_text(stdout, report, &to);
    json_decref(report);
    if (!o->no_latest) {
        update_link(o->captures_dir, run_name);
        update_link(o->reports_dir, run_name);
    }
    if (written)
        printf("report: %s/index.html\n        %s/report.json\n        %s/junit.xml\ncaptures: %s\n", rep_dir,
               rep_dir, rep_dir, cap_dir);
    free(rows);
    for (size_t i = 0; i < n_files; i++) {
        if (dialects)
            dialect_free(dialects[i]);
        scenario_free(&scs[i]);
        free(files[i]);
    }
    free(dialects);
    movie_reference_free(&movie);
    free(scs);
    free(files);
    registry_leave();
    if (stopped_by)
        return 130;
    return failed || errors ? 1 : 0;
}
