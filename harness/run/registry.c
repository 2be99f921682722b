/* The run registry (see registry.h). An entry is REGISTRY_DIR/<pid> holding
 * "<run name> <process start time in clock ticks>": the start time tells a
 * live run from a new process that happens to reuse a dead run's pid. */
#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char entry_path[128];

/* Field 22 of /proc/<pid>/stat: when the process started, in clock ticks. */
static unsigned long long start_time(int pid)
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
        if (field == 22) {
            v = strtoull(tok, NULL, 10);
            break;
        }
    }
    return v;
}

void registry_enter(const char *run_name)
{
    if (mkdir(REGISTRY_DIR, 0755) != 0 && errno != EEXIST)
        return;
    snprintf(entry_path, sizeof entry_path, "%s/%d", REGISTRY_DIR, (int)getpid());
    FILE *f = fopen(entry_path, "w");
    if (!f) {
        entry_path[0] = 0;
        return;
    }
    fprintf(f, "%s %llu\n", run_name, start_time((int)getpid()));
    fclose(f);
}

void registry_leave(void)
{
    if (entry_path[0])
        unlink(entry_path);
    entry_path[0] = 0;
}

/* Kill every process whose environment carries RTSP_HARNESS_RUN=run. */
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
                if (kill(atoi(e->d_name), SIGKILL) == 0)
                    killed++;
                break;
            }
    }
    if (d)
        closedir(d);
    return killed;
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
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[300], run[160] = "";
        unsigned long long started = 0;
        snprintf(path, sizeof path, "%s/%s", REGISTRY_DIR, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int got = fscanf(f, "%159s %llu", run, &started);
        fclose(f);
        if (got != 2)
            run[0] = 0;
        bool alive = kill(pid, 0) == 0 && started && start_time(pid) == started;
        if (alive)
            continue;
        int killed = run[0] ? kill_marked(run) : 0;
        unlink(path);
        found++;
        int n = snprintf(msg + used, cap - used,
                         "%srun %s (pid %d) ended without cleaning up (killed?): %d stray process%s "
                         "removed; its network namespaces, veths and qdiscs went with it; its captures in "
                         "captures/%s are incomplete",
                         found > 1 ? "; " : "", run[0] ? run : "?", pid, killed, killed == 1 ? "" : "es",
                         run[0] ? run : "?");
        if (n > 0 && (size_t)n < cap - used)
            used += (size_t)n;
    }
    closedir(d);
    return found;
}
