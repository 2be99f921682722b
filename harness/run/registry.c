/* The run registry (see registry.h). An entry is REGISTRY_DIR/<pid> holding
 * "<run name> <process start time in clock ticks>" and, on a second line,
 * the run's report folder: the start time tells a live run from a new
 * process that happens to reuse a dead run's pid. An entry is written as
 * REGISTRY_DIR/.<pid>.tmp and renamed, so a sweeping run never reads one
 * half-written (and takes it for the entry of a dead run). */
#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char entry_path[128];

/* Field `want` of /proc/<pid>/stat (4 the parent, 22 the start time in
 * clock ticks); 0 when the process is gone. */
static unsigned long long stat_field(int pid, int want)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    /* The command name may hold spaces and parentheses: count from the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long long v = 0;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field == want) {
            v = strtoull(tok, NULL, 10);
            break;
        }
    }
    return v;
}

static unsigned long long start_time(int pid)
{
    return stat_field(pid, 22);
}

void registry_enter(const char *run_name, const char *report_dir)
{
    if (mkdir(REGISTRY_DIR, 0755) != 0 && errno != EEXIST)
        return;
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s/.%d.tmp", REGISTRY_DIR, (int)getpid());
    snprintf(entry_path, sizeof entry_path, "%s/%d", REGISTRY_DIR, (int)getpid());
    FILE *f = fopen(tmp, "we");
    if (!f) {
        entry_path[0] = 0;
        return;
    }
    fprintf(f, "%s %llu\n%s\n", run_name, start_time((int)getpid()), report_dir);
    if (fclose(f) != 0 || rename(tmp, entry_path) != 0) {
        unlink(tmp);
        entry_path[0] = 0;
    }
}

void registry_leave(void)
{
    if (entry_path[0])
        unlink(entry_path);
    entry_path[0] = 0;
}

/* Whether pid is a run with a live entry of its own. */
static bool registered_live(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "%s/%d", REGISTRY_DIR, pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char run[160];
    unsigned long long started = 0;
    bool got = fscanf(f, "%159s %llu", run, &started) == 2;
    fclose(f);
    return got && started && start_time(pid) == started;
}

/* Whether a live run is among pid's ancestors: the process is that run's
 * (two runs may share a name), not a stray of the dead one, whose
 * processes the kernel handed to init or a subreaper. */
static bool under_live_run(int pid)
{
    for (int hops = 0; pid > 1 && hops < 64; hops++) {
        pid = (int)stat_field(pid, 4);
        if (pid > 1 && registered_live(pid))
            return true;
    }
    return false;
}

/* Kill every process whose environment carries RTSP_HARNESS_RUN=run and
 * that no live run started. */
static int kill_marked(const char *run)
{
    char marker[256];
    int mlen = snprintf(marker, sizeof marker, "RTSP_HARNESS_RUN=%s", run);
    if (mlen <= 17 || mlen >= (int)sizeof marker)
        return 0;
    int killed = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        static char env[65536];
        ssize_t n = read(fd, env, sizeof env - 1);
        close(fd);
        if (n <= 0)
            continue;
        env[n] = 0;
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(env + i) + 1)
            if (strcmp(env + i, marker) == 0) {
                int pid = atoi(e->d_name);
                if (!under_live_run(pid) && kill(pid, SIGKILL) == 0)
                    killed++;
                break;
            }
    }
    if (d)
        closedir(d);
    return killed;
}

/* Remove the temporary files of a report the dead run was writing:
 * report_write_atomic writes each file as <name>.tmp<pid>, then renames it. */
static int remove_report_temps(const char *dir, int pid)
{
    char suffix[32];
    int slen = snprintf(suffix, sizeof suffix, ".tmp%d", pid);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= (size_t)slen || strcmp(e->d_name + len - (size_t)slen, suffix) != 0)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path && unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

/* The pid an entry's file name stands for: "<pid>", or ".<pid>.tmp" for an
 * entry being written (*partial); 0 for anything else. */
static int entry_pid(const char *name, bool *partial)
{
    *partial = name[0] == '.';
    const char *digits = *partial ? name + 1 : name;
    char *end;
    long pid = strtol(digits, &end, 10);
    if (end == digits || pid <= 0 || pid > INT_MAX || strcmp(end, *partial ? ".tmp" : "") != 0)
        return 0;
    return (int)pid;
}

int registry_clean_stale(char *msg, size_t cap)
{
    msg[0] = 0;
    DIR *d = opendir(REGISTRY_DIR);
    if (!d)
        return 0;
    int found = 0;
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        bool partial;
        int pid = entry_pid(e->d_name, &partial);
        if (pid <= 0)
            continue;
        char path[300], run[160] = "", report_dir[PATH_MAX] = "";
        unsigned long long started = 0;
        snprintf(path, sizeof path, "%s/%s", REGISTRY_DIR, e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        int got = fscanf(f, "%159s %llu ", run, &started);
        if (got == 2 && fgets(report_dir, sizeof report_dir, f))
            report_dir[strcspn(report_dir, "\n")] = 0;
        fclose(f);
        if (got != 2)
            run[0] = 0;
        /* A partial entry's process is registering right now; its start
         * time may not be written yet. */
        bool alive = kill(pid, 0) == 0 && (partial || (started && start_time(pid) == started));
        if (alive)
            continue;
        int killed = run[0] ? kill_marked(run) : 0;
        int temps = report_dir[0] ? remove_report_temps(report_dir, pid) : 0;
        char line[PATH_MAX + 512], temps_said[PATH_MAX + 80] = "";
        if (temps > 0)
            snprintf(temps_said, sizeof temps_said, "%d unfinished report file%s removed from %s; ", temps,
                     temps == 1 ? "" : "s", report_dir);
        snprintf(line, sizeof line,
                 "run %s (pid %d) ended without cleaning up (killed?): %d stray process%s removed; %sits "
                 "network namespaces, veths and qdiscs went with it; its captures in captures/%s are incomplete",
                 run[0] ? run : "?", pid, killed, killed == 1 ? "" : "es", temps_said, run[0] ? run : "?");
        /* Said before the entry goes: a run killed from here on leaves the
         * entry to the next one rather than losing what it found. */
        fprintf(stderr, "rtsp-harness run: %s\n", line);
        unlink(path);
        found++;
        int n = snprintf(msg + used, cap - used, "%s%s", found > 1 ? "; " : "", line);
        if (n > 0 && (size_t)n < cap - used)
            used += (size_t)n;
    }
    closedir(d);
    return found;
}
