/* Starting and stopping the system under test (see sut.h).
 *
 * Process tree: harness -> reaper (pid 1 of a new PID namespace, in the
 * SUT's network namespace) -> /bin/sh -c COMMAND (pid 2, its own process
 * group) -> whatever it starts. Between clone and exec only system calls
 * run: the harness is multithreaded (capture and forwarder threads), so the
 * child must not touch locks another thread might hold. */
#include "sut.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct sut {
    pid_t reaper;          /* pid 1 of the SUT's PID namespace, as the harness sees it */
    bool ended;            /* reaped */
    struct sut_exit exit;  /* how, once ended */
};

/* The reaper's exit status carries the command's fate: 0-127 its exit
 * status, 128+N killed by signal N. */
static void describe(int wstatus, struct sut_exit *ex)
{
    memset(ex, 0, sizeof *ex);
    ex->status = -1;
    if (WIFEXITED(wstatus)) {
        int code = WEXITSTATUS(wstatus);
        if (code >= 128 && code < 128 + 65) {
            ex->signal = code - 128;
            snprintf(ex->text, sizeof ex->text, "killed by signal %d (%s)", ex->signal,
                     strsignal(ex->signal));
        } else {
            ex->status = code;
            snprintf(ex->text, sizeof ex->text, "exited with status %d", code);
        }
    } else if (WIFSIGNALED(wstatus)) {
        ex->signal = WTERMSIG(wstatus);
        snprintf(ex->text, sizeof ex->text, "killed by signal %d (%s)", ex->signal, strsignal(ex->signal));
    } else {
        snprintf(ex->text, sizeof ex->text, "ended (wait status 0x%x)", (unsigned)wstatus);
    }
}

static void set_limit(int resource, uint64_t value)
{
    if (value == 0)
        return;
    struct rlimit rl = {(rlim_t)value, (rlim_t)value};
    setrlimit(resource, &rl);
}

/* Child side, after clone: we are pid 1 of the new PID namespace. Only
 * system calls from here on. */
static void reaper_main(const struct sut_opts *o, char *const envp[], int ready_fd, int harness_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* A harness killed between clone and the prctl sends no death signal:
     * its pidfd (readable once it is gone) says so. getppid() cannot, as
     * the parent is outside this PID namespace. */
    struct pollfd gone = {harness_fd, POLLIN, 0};
    if (poll(&gone, 1, 0) != 0)
        _exit(125);
    close(harness_fd);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    if (o->ns_fd >= 0 && setns(o->ns_fd, CLONE_NEWNET) != 0) {
        int e = errno;
        if (write(ready_fd, &e, sizeof e) < 0)
            _exit(125);
        _exit(125);
    }
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        if (write(ready_fd, &e, sizeof e) < 0)
            _exit(125);
        _exit(125);
    }
    if (child == 0) {
        setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        for (int sig = 1; sig < 65; sig++)
            signal(sig, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int in = open("/dev/null", O_RDONLY);
        int out = open(o->stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(o->stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fail = 0;
        if (in < 0 || out < 0 || err < 0)
            fail = errno;
        if (!fail && o->cwd && chdir(o->cwd) != 0)
            fail = errno;
        if (fail) {
            if (write(ready_fd, &fail, sizeof fail) < 0)
                _exit(126);
            _exit(126);
        }
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        set_limit(RLIMIT_CPU, o->limits.cpu_seconds);
        set_limit(RLIMIT_AS, o->limits.address_bytes);
        set_limit(RLIMIT_FSIZE, o->limits.file_bytes);
        set_limit(RLIMIT_NOFILE, o->limits.open_files);
        set_limit(RLIMIT_NPROC, o->limits.processes);
        char *argv[] = {"/bin/sh", "-c", (char *)o->command, NULL};
        /* ready_fd is close-on-exec: a successful exec closes it and the
         * parent reads end-of-file, which means "started". */
        execve("/bin/sh", argv, envp);
        int e = errno;
        if (write(ready_fd, &e, sizeof e) < 0)
            _exit(127);
        _exit(127);
    }
    close(ready_fd);
    /* Reap everything; end when the command ends, which makes the kernel
     * kill whatever it left in this PID namespace. SIGTERM and SIGINT from
     * the harness go to the command's process group. */
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGCHLD);
    sigaddset(&wanted, SIGTERM);
    sigaddset(&wanted, SIGINT);
    for (;;) {
        int sig;
        if (sigwait(&wanted, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT) {
            kill(-child, sig);
            continue;
        }
        int st;
        pid_t p;
        while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
            if (p == child) {
                if (WIFEXITED(st))
                    _exit(WEXITSTATUS(st));
                _exit(128 + WTERMSIG(st));
            }
        }
    }
}

int sut_start(const struct sut_opts *o, struct sut **out, char *err, size_t cap)
{
    *out = NULL;
    /* Everything the child needs is built here, before clone. */
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **envp = calloc(n_env + 2, sizeof *envp);
    char run_var[160];
    if (!envp) {
        snprintf(err, cap, "system under test: out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "RTSP_HARNESS_RUN=", 17) != 0)
            envp[k++] = environ[i];
    snprintf(run_var, sizeof run_var, "RTSP_HARNESS_RUN=%s", o->run_id ? o->run_id : "");
    envp[k++] = run_var;
    envp[k] = NULL;

    int harness_fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (harness_fd < 0) {
        snprintf(err, cap, "system under test: pidfd_open: %s", strerror(errno));
        free(envp);
        return -1;
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(err, cap, "system under test: pipe: %s", strerror(errno));
        close(harness_fd);
        free(envp);
        return -1;
    }
    struct sut *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, cap, "system under test: out of memory");
        close(pipefd[0]);
        close(pipefd[1]);
        close(harness_fd);
        free(envp);
        return -1;
    }
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0) {
        snprintf(err, cap, "system under test: clone(CLONE_NEWPID): %s", strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        close(harness_fd);
        free(envp);
        free(s);
        return -1;
    }
    if (pid == 0) {
        close(pipefd[0]);
        reaper_main(o, envp, pipefd[1], harness_fd);
        _exit(125);
    }
    close(harness_fd);
    close(pipefd[1]);
    free(envp);
    s->reaper = pid;
    /* End-of-file: the command was exec'd. An errno value: it was not. */
    int child_errno = 0;
    ssize_t n;
    do
        n = read(pipefd[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == (ssize_t)sizeof child_errno) {
        int st;
        waitpid(pid, &st, 0);
        snprintf(err, cap, "system under test '%s': could not start: %s", o->command,
                 strerror(child_errno));
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int sut_poll(struct sut *s, struct sut_exit *ex)
{
    if (!s->ended) {
        int st;
        pid_t p = waitpid(s->reaper, &st, WNOHANG);
        if (p == s->reaper) {
            s->ended = true;
            describe(st, &s->exit);
            s->exit.exited = true;
        }
    }
    if (s->ended && ex)
        *ex = s->exit;
    return s->ended ? 1 : 0;
}

pid_t sut_pid(const struct sut *s)
{
    return s->reaper;
}


void sut_stop(struct sut *s, unsigned grace_ms, struct sut_exit *ex)
{
    if (!s)
        return;
    if (!sut_poll(s, NULL)) {
        kill(s->reaper, SIGTERM);
        int64_t deadline = wire_mono_ms() + grace_ms;
        while (!sut_poll(s, NULL) && wire_mono_ms() < deadline) {
            struct timespec nap = {0, 10 * 1000000};
            nanosleep(&nap, NULL);
        }
        if (!s->ended) {
            kill(s->reaper, SIGKILL);
            int st;
            while (waitpid(s->reaper, &st, 0) < 0 && errno == EINTR)
                ;
            s->ended = true;
            describe(st, &s->exit);
            s->exit.killed = true;
            snprintf(s->exit.text, sizeof s->exit.text, "did not stop within %u ms of SIGTERM; killed",
                     grace_ms);
        } else {
            s->exit.exited = false;
        }
    }
    if (ex)
        *ex = s->exit;
    free(s);
}
