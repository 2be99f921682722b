/* pcap-floor: the floor for bench/analyze_vs_tshark. A bare libpcap read
 * loop over a pcap or pcapng file that does nothing with a packet but count
 * it and its bytes, so its rate is what reading the capture costs before
 * any parsing. Prints one JSON object:
 *
 *   {"path": "...", "packets": N, "captured_bytes": N, "wire_bytes": N,
 *    "seconds": S, "packets_per_second": R}
 *
 * captured_bytes sums caplen (what the file holds), wire_bytes sums len
 * (what was on the wire before the snap length). seconds is the loop alone,
 * from open to the last packet, on CLOCK_MONOTONIC.
 *
 * usage: pcap-floor CAPTURE
 * exit status: 0 read to the end, 1 open or read error, 2 usage error */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The path goes into the JSON; escape what JSON cannot hold raw. */
static void print_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: pcap-floor CAPTURE\n"
                        "Read every packet of a pcap or pcapng file with pcap_next_ex and\n"
                        "print packets, bytes and the loop's time as JSON.\n");
        return 2;
    }
    const char *path = argv[1];
    char errbuf[PCAP_ERRBUF_SIZE];
    errbuf[0] = '\0';

    double t0 = now_s();
    /* nanosecond precision: libpcap then does not scale nanosecond files
     * down, which would be work the analyzer does not do either */
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO,
                                                        errbuf);
    if (p == NULL) {
        fprintf(stderr, "pcap-floor: %s: %s\n", path, errbuf);
        return 1;
    }

    uint64_t packets = 0, captured_bytes = 0, wire_bytes = 0;
    struct pcap_pkthdr *hdr;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
        packets++;
        captured_bytes += hdr->caplen;
        wire_bytes += hdr->len;
    }
    if (rc != PCAP_ERROR_BREAK) {
        /* -1 is a read error (a truncated last record among them); 0 cannot
         * happen on a file, but is not "read to the end" either */
        fprintf(stderr, "pcap-floor: %s: read error after packet %llu: %s\n", path,
                (unsigned long long)packets, rc == PCAP_ERROR ? pcap_geterr(p) : "timeout");
        pcap_close(p);
        return 1;
    }
    double seconds = now_s() - t0;
    pcap_close(p);

    printf("{\"path\": ");
    print_json_string(path);
    printf(", \"packets\": %llu, \"captured_bytes\": %llu, \"wire_bytes\": %llu, "
           "\"seconds\": %.6f, \"packets_per_second\": %.0f}\n",
           (unsigned long long)packets, (unsigned long long)captured_bytes,
           (unsigned long long)wire_bytes, seconds,
           seconds > 0 ? (double)packets / seconds : 0.0);
    return fflush(stdout) == 0 ? 0 : 1;
}
