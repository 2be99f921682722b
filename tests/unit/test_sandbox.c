/* Unit tests of the submission sandbox (harness/grade/sandbox.c): limit
 * parsing, cgroup names, the cgroups themselves (pids.max binds, CPU time
 * is counted, destroy kills everything) and a command run in the sandbox.
 * The cgroup and bwrap cases need root and say "skip" without them. */
#include "check.h"
#include "grade/sandbox.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void limits_parse_sets_named_keys_only(void)
{
    struct sandbox_limits l;
    char err[256];
    sandbox_limits_default(&l);
    uint64_t nofile = l.open_files;
    CHECK(sandbox_limits_parse("cpu=60,fsize=2M,mem=1G,pids=32,tmp=512k", &l, err, sizeof err) == 0);
    CHECK_EQ_INT(l.cpu_seconds, 60);
    CHECK_EQ_INT(l.file_bytes, 2 << 20);
    CHECK_EQ_INT(l.memory_bytes, 1ull << 30);
    CHECK_EQ_INT(l.pids, 32);
    CHECK_EQ_INT(l.tmp_bytes, 512 << 10);
    CHECK_EQ_INT(l.open_files, nofile);
    CHECK(sandbox_limits_parse("nofile=0", &l, err, sizeof err) == 0);
    CHECK_EQ_INT(l.open_files, 0);
    CHECK(sandbox_limits_parse("", &l, err, sizeof err) == 0);
}

static void limits_parse_rejects_bad_items(void)
{
    struct sandbox_limits l;
    char err[256];
    sandbox_limits_default(&l);
    CHECK(sandbox_limits_parse("cpu", &l, err, sizeof err) != 0);
    CHECK(strstr(err, "KEY=VALUE") != NULL);
    CHECK(sandbox_limits_parse("disk=1", &l, err, sizeof err) != 0);
    CHECK(strstr(err, "'disk=1'") != NULL);
    CHECK(sandbox_limits_parse("cpu=-1", &l, err, sizeof err) != 0);
    CHECK(sandbox_limits_parse("mem=1T", &l, err, sizeof err) != 0);
    CHECK(strstr(err, "'1T'") != NULL);
    CHECK(sandbox_limits_parse("cpu=1,,pids=2", &l, err, sizeof err) != 0);
    CHECK(sandbox_limits_parse("mem=99999999999999999999G", &l, err, sizeof err) != 0);
}

static void cgroup_names_are_plain_words(void)
{
    CHECK(sandbox_cgroup_name_ok("alice-07_run.1"));
    CHECK(!sandbox_cgroup_name_ok(""));
    CHECK(!sandbox_cgroup_name_ok(NULL));
    CHECK(!sandbox_cgroup_name_ok("."));
    CHECK(!sandbox_cgroup_name_ok(".."));
    CHECK(!sandbox_cgroup_name_ok("a/b"));
    CHECK(!sandbox_cgroup_name_ok("../../etc"));
    CHECK(!sandbox_cgroup_name_ok("a b"));
    char long_name[66];
    memset(long_name, 'x', 65);
    long_name[65] = '\0';
    CHECK(!sandbox_cgroup_name_ok(long_name));
    long_name[64] = '\0';
    CHECK(sandbox_cgroup_name_ok(long_name));
}

static bool have_cgroups(void)
{
    struct sandbox_limits l = {0};
    char err[512];
    if (geteuid() != 0 || sandbox_cgroup_create("unit-probe", &l, err, sizeof err) != 0) {
        printf("skip: cgroups: %s\n", geteuid() ? "not root" : err);
        return false;
    }
    sandbox_cgroup_destroy("unit-probe", err, sizeof err);
    return true;
}

/* A child that joins the cgroup, then forks until it cannot and sleeps:
 * pids.max must stop it, and destroy must leave no process behind. */
static void pids_max_binds_and_destroy_kills_all(void)
{
    if (!have_cgroups())
        return;
    char name[32], err[512];
    snprintf(name, sizeof name, "unit-%ld", (long)getpid());
    struct sandbox_limits l = {.pids = 8};
    CHECK(sandbox_cgroup_create(name, &l, err, sizeof err) == 0);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t child = fork();
    if (child == 0) {
        if (sandbox_cgroup_join(name, err, sizeof err) != 0)
            _exit(1);
        int made = 0, refused = 0;
        for (int i = 0; i < 30; i++) {
            pid_t p = fork();
            if (p == 0) {
                pause();
                _exit(0);
            }
            if (p > 0)
                made++;
            else if (errno == EAGAIN)
                refused++;
        }
        char report[2] = {(char)made, (char)refused};
        if (write(ready[1], report, 2) != 2)
            _exit(1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    char report[2] = {0, 0};
    CHECK(read(ready[0], report, 2) == 2);
    close(ready[0]);
    /* 8 in all: the child and 7 of its forks. */
    CHECK_EQ_INT(report[0], 7);
    CHECK_EQ_INT(report[1], 23);
    uint64_t pids = 0;
    CHECK(sandbox_cgroup_pids(name, &pids) == 0);
    CHECK_EQ_INT(pids, 8);
    CHECK(sandbox_cgroup_destroy(name, err, sizeof err) == 0);
    int st;
    CHECK(waitpid(child, &st, 0) == child);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CHECK(sandbox_cgroup_pids(name, &pids) != 0); /* gone */
    CHECK(sandbox_cgroup_destroy(name, err, sizeof err) == 0); /* twice is fine */
}

static void cpu_time_of_the_cgroup_is_counted(void)
{
    if (!have_cgroups())
        return;
    char name[32], err[512];
    snprintf(name, sizeof name, "unit-cpu-%ld", (long)getpid());
    struct sandbox_limits l = {0};
    CHECK(sandbox_cgroup_create(name, &l, err, sizeof err) == 0);
    pid_t child = fork();
    if (child == 0) {
        if (sandbox_cgroup_join(name, err, sizeof err) != 0)
            _exit(1);
        /* 300 ms of CPU in a grandchild: its time counts too. */
        pid_t g = fork();
        struct timespec t0, t;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        do
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < (g == 0 ? 300 : 0));
        if (g > 0)
            waitpid(g, NULL, 0);
        _exit(0);
    }
    int st;
    CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    uint64_t ns = 0;
    CHECK(sandbox_cgroup_cpu_ns(name, &ns) == 0);
    CHECK(ns >= 290ull * 1000000);
    CHECK(ns < 5000ull * 1000000);
    CHECK(sandbox_cgroup_destroy(name, err, sizeof err) == 0);
}

static bool have_bwrap(void)
{
    if (geteuid() != 0 || access("/usr/bin/bwrap", X_OK) != 0) {
        printf("skip: sandbox runs need root and /usr/bin/bwrap\n");
        return false;
    }
    return true;
}

static void make_copy(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/rtsp-harness-unit-sandbox-%ld", (long)getpid());
    mkdir(dir, 0755);
    CHECK(chown(dir, SANDBOX_UID, SANDBOX_GID) == 0);
}

static void command_runs_as_nobody_in_its_copy_only(void)
{
    if (!have_bwrap())
        return;
    char dir[96], out[4096], err[512];
    make_copy(dir, sizeof dir);
    struct sandbox_opts o = {.dir = dir};
    sandbox_limits_default(&o.limits);
    char *argv[] = {"/bin/sh", "-c",
                    "id -u; pwd; echo hello > f; ls -a /; test -e /work && echo SEE-WORK; "
                    "test -e /root && echo SEE-ROOT; test -e /etc/shadow && echo SEE-SHADOW; exit 3",
                    NULL};
    bool timed_out;
    int status = sandbox_run(&o, argv, 20000, out, sizeof out, &timed_out, err, sizeof err);
    CHECK_EQ_INT(status, 3);
    CHECK(!timed_out);
    CHECK(strncmp(out, "65534\n/submission\n", 18) == 0);
    CHECK(strstr(out, "\nusr\n") != NULL);
    CHECK(strstr(out, "SEE-") == NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/f", dir);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_uid == SANDBOX_UID && st.st_size == 6);
    unlink(path);
    rmdir(dir);
}

static void run_is_killed_at_its_timeout(void)
{
    if (!have_bwrap())
        return;
    char dir[96], out[256], err[512];
    make_copy(dir, sizeof dir);
    struct sandbox_opts o = {.dir = dir};
    char *argv[] = {"/bin/sleep", "20", NULL};
    bool timed_out;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = sandbox_run(&o, argv, 300, out, sizeof out, &timed_out, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_EQ_INT(status, -1);
    CHECK(timed_out);
    CHECK(strstr(err, "within 300 ms") != NULL);
    CHECK(t1.tv_sec - t0.tv_sec < 5);
    rmdir(dir);
}

static void copy_not_owned_by_nobody_is_refused(void)
{
    if (!have_bwrap())
        return;
    char out[256], err[512];
    struct sandbox_opts o = {.dir = "/tmp"};
    char *argv[] = {"/bin/true", NULL};
    bool timed_out;
    CHECK_EQ_INT(sandbox_run(&o, argv, 5000, out, sizeof out, &timed_out, err, sizeof err), -1);
    CHECK(strstr(err, "owned by uid 0, not 65534") != NULL);
}

int main(void)
{
    RUN(limits_parse_sets_named_keys_only);
    RUN(limits_parse_rejects_bad_items);
    RUN(cgroup_names_are_plain_words);
    RUN(pids_max_binds_and_destroy_kills_all);
    RUN(cpu_time_of_the_cgroup_is_counted);
    RUN(command_runs_as_nobody_in_its_copy_only);
    RUN(run_is_killed_at_its_timeout);
    RUN(copy_not_owned_by_nobody_is_refused);
    CHECK_DONE();
}
