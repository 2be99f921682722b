/* impair-delay: the delay error of the userspace impairment forwarder
 * (harness/netlab/uimpair.c) at the rate the issue asks for. It builds the
 * network lab (netlab.h, needs root), sends UDP datagrams from the peer
 * namespace to the SUT namespace at a fixed rate through `delay 20ms 5ms`,
 * and measures how late frames leave against their scheduled time twice:
 *
 *   forwarder  its own figure: actual send time minus scheduled send time
 *              (CLOCK_MONOTONIC, every frame), from uimpair_stats;
 *   receiver   end to end: the SUT-side socket's kernel receive time
 *              (SO_TIMESTAMPNS) minus (the sender's send time + the delay
 *              the decision log says was scheduled for that datagram), so
 *              it also holds the two veth crossings.
 *
 * The requirement is p99 <= 1 ms at 1000 packets/s; the figures are printed
 * with their ratio to it, and the exit status is 1 when either p99 misses.
 *
 *   impair-delay [SECONDS [PACKETS_PER_SECOND [SPEC]]]   (10, 1000, "delay 20ms 5ms seed 1") */
#include "../tests/unit/uimpair_lab.h"

#define REQUIREMENT_US 1000.0

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double nearest_rank(const double *v, size_t n, double q)
{
    size_t r = (size_t)ceil(q * (double)n);
    return n ? v[r ? r - 1 : 0] : 0;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 10;
    double pps = argc > 2 ? atof(argv[2]) : 1000;
    const char *spec = argc > 3 ? argv[3] : "delay 20ms 5ms seed 1";
    if (seconds <= 0 || pps <= 0 || seconds * pps > 1e6) {
        fprintf(stderr, "usage: impair-delay [SECONDS [PACKETS_PER_SECOND [SPEC]]] (at most 10^6 datagrams)\n");
        return 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "impair-delay: needs root (it builds network namespaces)\n");
        return 2;
    }
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    if (lab_up() != 0)
        return 2;
    size_t count = (size_t)(seconds * pps);
    char log_file[128];
    snprintf(log_file, sizeof log_file, "/tmp/rh-impair-delay-%d.log", (int)getpid());
    struct uimpair *u = forwarder(spec, "", log_file);
    int peer = udp_socket(false, 40000), sut = udp_socket(true, 40001);
    if (!u || peer < 0 || sut < 0)
        return 2;

    /* One datagram to a port nobody listens on first, so that ARP has
     * resolved (through the same delay) before the measured flow starts:
     * otherwise its first datagram waits for the neighbour in the sender's
     * kernel and shows up as a delay error of the forwarder. */
    uint8_t warm[8] = {0};
    int warm_fd = udp_socket(false, 40002);
    if (warm_fd < 0 || send_to(warm_fd, true, 9, warm, sizeof warm) != 0)
        return 2;
    sleep_ms(200);
    close(warm_fd);

    /* Sender: paced on absolute CLOCK_REALTIME ticks, stamping each
     * datagram with the time just before sendto. The receiver's socket
     * buffer (16 MB) holds everything; kernel receive stamps make reading
     * it afterwards as good as reading it live. */
    uint8_t buf[100];
    int64_t t = realtime_ns(), step = (int64_t)(1e9 / pps);
    for (size_t s = 0; s < count; s++) {
        sleep_until_ns(t);
        fill_payload(buf, sizeof buf, (uint32_t)s, realtime_ns());
        if (send_to(peer, true, 40001, buf, sizeof buf) != 0)
            fprintf(stderr, "impair-delay: send %zu: %s\n", s, strerror(errno));
        t += step;
    }
    struct rx *rx = calloc(count + 16, sizeof *rx);
    struct log_line *lines = calloc(count + 4096, sizeof *lines);
    double *recv_err = calloc(count + 1, sizeof *recv_err);
    long long *sched_us = malloc((count + 1) * sizeof *sched_us);
    if (!rx || !lines || !recv_err || !sched_us)
        return 2;
    size_t n = drain(sut, rx, count + 16, 500);
    struct uimpair_stats st[2];
    uimpair_stop(u, st);
    netlab_destroy(&lab);

    long nl = read_log(log_file, lines, count + 4096);
    for (size_t s = 0; s < count; s++)
        sched_us[s] = -1;
    for (long i = 0; i < nl && (size_t)i < count + 4096; i++)
        if (lines[i].dir == UIMPAIR_TO_SUT && strcmp(lines[i].proto, "udp") == 0 && lines[i].idx < count)
            sched_us[lines[i].idx] = lines[i].delay_us;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = payload_seq(rx[i].data);
        if (s >= count || sched_us[s] < 0)
            continue;
        int64_t due = payload_stamp(rx[i].data) + sched_us[s] * 1000;
        recv_err[m++] = (double)(rx[i].rx_ns - due) / 1000.0;
    }
    qsort(recv_err, m, sizeof *recv_err, cmp_double);
    double r50 = nearest_rank(recv_err, m, 0.5), r99 = nearest_rank(recv_err, m, 0.99);
    double rmax = m ? recv_err[m - 1] : 0, rmin = m ? recv_err[0] : 0;
    const struct uimpair_stats *f = &st[UIMPAIR_TO_SUT];

    printf("impair-delay: '%s', %.0f packets/s for %.1f s: %zu sent, %zu received, %llu frames forwarded\n", spec, pps,
           seconds, count, n, (unsigned long long)f->frames_out);
    printf("  delay error (us)                          p50       p99       max   p99 / 1 ms\n");
    printf("  forwarder  (send - scheduled)       %9.1f %9.1f %9.1f   %9.3f\n", f->delay_err_p50_us,
           f->delay_err_p99_us, f->delay_err_max_us, f->delay_err_p99_us / REQUIREMENT_US);
    printf("  receiver   (rx stamp - tx - delay)  %9.1f %9.1f %9.1f   %9.3f   (min %.1f)\n", r50, r99, rmax,
           r99 / REQUIREMENT_US, rmin);
    printf("  %s\n", st[UIMPAIR_TO_SUT].rx_kernel_drops ? "the kernel dropped frames before the forwarder read them"
                                                        : "no frame lost before the forwarder");
    bool ok = f->delay_err_p99_us <= REQUIREMENT_US && r99 <= REQUIREMENT_US && m == count;
    printf("  requirement p99 <= %.0f us at %.0f packets/s: %s\n", REQUIREMENT_US, pps, ok ? "met" : "MISSED");
    unlink(log_file);
    free(rx);
    free(lines);
    free(recv_err);
    free(sched_us);
    return ok ? 0 : 1;
}
