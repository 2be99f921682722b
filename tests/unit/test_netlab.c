/* The network lab, live capture and the system under test's processes, in
 * real namespaces (needs root): traffic crosses the middle box, both
 * captures see it with valid stamps, the SUT runs in its namespace with its
 * output kept, its strays die with it, and nothing outlives the lab. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "netlab/capture.h"
#include "netlab/netlab.h"
#include "netlab/sut.h"

static char tmpdir[256];

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Inode numbers of every network namespace some process holds. */
static size_t netns_inodes(unsigned long *out, size_t cap)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/ns/net", e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        bool seen = false;
        for (size_t i = 0; i < n; i++)
            seen |= out[i] == (unsigned long)st.st_ino;
        if (!seen && n < cap)
            out[n++] = (unsigned long)st.st_ino;
    }
    if (d)
        closedir(d);
    return n;
}

/* Send count UDP datagrams from the peer namespace to the SUT address. */
static int send_udp_from_peer(const struct netlab *lab, int count)
{
    char err[256];
    int orig = open("/proc/thread-self/ns/net", O_RDONLY);
    if (netlab_enter(lab->ns_peer, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        close(orig);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    setns(orig, CLONE_NEWNET);
    close(orig);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9999)};
    inet_pton(AF_INET, NETLAB_SUT_ADDR, &to.sin_addr);
    int sent = 0;
    for (int i = 0; i < count; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof msg, "datagram %d", i);
        if (sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&to, sizeof to) == len)
            sent++;
        nap_ms(2);
    }
    close(fd);
    return sent;
}

static long count_udp_to_9999(const char *path)
{
    char ebuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!p)
        return -1;
    struct bpf_program prog;
    if (pcap_compile(p, &prog, "udp dst port 9999", 1, PCAP_NETMASK_UNKNOWN) != 0) {
        pcap_close(p);
        return -1;
    }
    struct pcap_pkthdr *h;
    const u_char *bytes;
    long n = 0;
    while (pcap_next_ex(p, &h, &bytes) == 1)
        if (pcap_offline_filter(&prog, h, bytes) && h->caplen == h->len)
            n++;
    pcap_freecode(&prog);
    pcap_close(p);
    return n;
}

static void test_traffic_crosses_the_kernel_bridge_and_both_captures_see_it(void)
{
    struct netlab lab;
    char err[512];
    int rc = netlab_create(&lab, true, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    char peer_path[300], sut_path[300];
    snprintf(peer_path, sizeof peer_path, "%s/peer.pcap", tmpdir);
    snprintf(sut_path, sizeof sut_path, "%s/sut.pcap", tmpdir);
    struct capture *cp = NULL, *cs = NULL;
    CHECK_EQ_INT(capture_start(lab.ns_peer, NETLAB_PEER_IF, NULL, peer_path, 0, &cp, err, sizeof err), 0);
    CHECK_EQ_INT(capture_start(lab.ns_sut, NETLAB_SUT_IF, NULL, sut_path, 0, &cs, err, sizeof err), 0);
    /* The first datagram may wait for ARP; all must arrive. */
    int sent = send_udp_from_peer(&lab, 50);
    CHECK_EQ_INT(sent, 50);
    nap_ms(50);
    struct capture_stats sp, ss;
    capture_stop(cp, &sp);
    capture_stop(cs, &ss);
    CHECK_EQ_INT(count_udp_to_9999(peer_path), 50);
    CHECK_EQ_INT(count_udp_to_9999(sut_path), 50);
    CHECK_EQ_INT(sp.kernel_dropped, 0);
    CHECK(ss.frames >= 50);
    netlab_destroy(&lab);
}

static void test_sut_runs_in_its_namespace_and_its_output_is_kept(void)
{
    struct netlab lab;
    char err[512];
    if (netlab_create(&lab, true, err, sizeof err) != 0) {
        CHECK(!"lab");
        fprintf(stderr, "%s\n", err);
        return;
    }
    char out_path[300], err_path[300];
    snprintf(out_path, sizeof out_path, "%s/sut.out", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/sut.err", tmpdir);
    struct sut_opts o = {
        .ns_fd = lab.ns_sut,
        .command = "cat /proc/net/dev | grep -c sut0; echo \"run=$RTSP_HARNESS_RUN\"; echo oops >&2; exit 3",
        .stdout_path = out_path,
        .stderr_path = err_path,
        .run_id = "test-run-1",
    };
    struct sut *s = NULL;
    CHECK_EQ_INT(sut_start(&o, &s, err, sizeof err), 0);
    struct sut_exit ex;
    for (int i = 0; i < 200 && s && !sut_poll(s, &ex); i++)
        nap_ms(10);
    CHECK(sut_poll(s, &ex) == 1);
    sut_stop(s, 100, &ex);
    CHECK(ex.exited);
    CHECK_EQ_INT(ex.status, 3);
    char buf[256] = "";
    FILE *f = fopen(out_path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
    CHECK(strcmp(buf, "1\nrun=test-run-1\n") == 0);
    f = fopen(err_path, "r");
    n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
    CHECK(strcmp(buf, "oops\n") == 0);
    netlab_destroy(&lab);
}

static bool pid_alive(pid_t p)
{
    return kill(p, 0) == 0 || errno != ESRCH;
}

static void test_sut_strays_die_with_it_and_term_ignorers_are_killed(void)
{
    char out_path[300], err_path[300];
    snprintf(out_path, sizeof out_path, "%s/stray.out", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/stray.err", tmpdir);
    /* A daemonized grandchild writes its pid (as seen from outside: from
     * /proc/self/stat it sees its in-namespace pid, so use a marker file)
     * and the shell ignores SIGTERM. */
    struct sut_opts o = {
        .ns_fd = -1,
        .command = "trap '' TERM; (trap '' TERM; sleep 300) & sleep 300",
        .stdout_path = out_path,
        .stderr_path = err_path,
        .run_id = "test-run-2",
    };
    struct sut *s = NULL;
    char err[256];
    CHECK_EQ_INT(sut_start(&o, &s, err, sizeof err), 0);
    if (!s)
        return;
    nap_ms(200);
    pid_t reaper = sut_pid(s);
    CHECK(pid_alive(reaper));
    struct sut_exit ex;
    sut_stop(s, 200, &ex);
    CHECK(ex.killed);
    CHECK(!ex.exited);
    nap_ms(100);
    /* No process carries the run's marker any more. */
    int strays = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], env[8192];
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, env, sizeof env);
        close(fd);
        for (ssize_t i = 0; len > 0 && i < len; i += (ssize_t)strlen(env + i) + 1)
            if (strcmp(env + i, "RTSP_HARNESS_RUN=test-run-2") == 0)
                strays++;
    }
    if (d)
        closedir(d);
    CHECK_EQ_INT(strays, 0);
}

static void test_a_command_that_cannot_start_is_an_error_naming_it(void)
{
    struct sut_opts o = {
        .ns_fd = -1,
        .command = "true",
        .cwd = "/nonexistent-directory-of-the-test",
        .stdout_path = "/dev/null",
        .stderr_path = "/dev/null",
    };
    struct sut *s = NULL;
    char err[256] = "";
    CHECK_EQ_INT(sut_start(&o, &s, err, sizeof err), -1);
    CHECK(strstr(err, "could not start") != NULL);
    CHECK(strstr(err, "No such file") != NULL);
}

/* Descriptors of this process that refer to a network namespace. */
static int netns_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], target[128];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len > 0) {
            target[len] = 0;
            n += strncmp(target, "net:[", 5) == 0;
        }
    }
    if (d)
        closedir(d);
    return n;
}

static void test_nothing_outlives_the_lab(void)
{
    unsigned long before[4096], after[4096];
    size_t nb = netns_inodes(before, 4096);
    int fds_before = netns_fds();
    struct netlab lab;
    char err[512];
    if (netlab_create(&lab, false, err, sizeof err) != 0) {
        CHECK(!"lab");
        fprintf(stderr, "%s\n", err);
        return;
    }
    /* Three lab namespaces and the way back to ours. */
    CHECK_EQ_INT(netns_fds(), fds_before + 4);
    netlab_destroy(&lab);
    /* The namespaces were held only by those descriptors and no process
     * lives in them: once closed, nothing refers to them any more. */
    CHECK_EQ_INT(netns_fds(), fds_before);
    size_t na = netns_inodes(after, 4096);
    CHECK_EQ_INT(na, nb);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (geteuid() != 0) {
        printf("skip: the network lab needs root\n");
        return 77;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rh-test-netlab-%d", (int)getpid());
    mkdir(tmpdir, 0700);
    RUN(test_traffic_crosses_the_kernel_bridge_and_both_captures_see_it);
    RUN(test_sut_runs_in_its_namespace_and_its_output_is_kept);
    RUN(test_sut_strays_die_with_it_and_term_ignorers_are_killed);
    RUN(test_a_command_that_cannot_start_is_an_error_naming_it);
    RUN(test_nothing_outlives_the_lab);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    CHECK_DONE();
}
