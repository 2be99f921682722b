/* libFuzzer target for the capture input and TCP reassembly
 * (harness/analyze/pcapin.h, tcpreasm.h): the input is a whole pcap or
 * pcapng file, opened from memory. Every frame is read through pcapin,
 * decoded again as each of the other supported link types, and the TCP
 * ones are fed to a reassembler with small limits so that windows, segment
 * limits and the connection table overflow. The sinks only count, but they
 * check the contract: decoded pointers stay inside the frame, chunk and
 * gap offsets follow each other without holes or overlaps, buffered bytes
 * stay under the limit, errors carry a message naming the frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/pcapin.h"
#include "analyze/tcpreasm.h"

#define MAX_FRAMES 20000 /* keeps one input's run short */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(bool cond)
{
    if (!cond)
        abort();
}

/* Per connection: where each direction's next chunk or gap must start. */
struct conn_state {
    uint64_t next_offset[2];
    bool ended[2];
};

static uint64_t sum; /* bytes read back from every chunk, so the sanitizer checks them */

static void on_open(void *ctx, struct tcpreasm_conn *c, const struct pkt *p)
{
    (void)ctx;
    must(p->l4 == PKT_L4_TCP);
    c->user = calloc(1, sizeof(struct conn_state));
    must(c->user != NULL);
}

static void on_data(void *ctx, struct tcpreasm_conn *c, int dir, const struct tcpreasm_chunk *k)
{
    (void)ctx;
    struct conn_state *s = c->user;
    must(dir == 0 || dir == 1);
    must(k->len > 0 && k->data != NULL);
    must(k->offset == s->next_offset[dir]);
    must(!s->ended[dir]);
    s->next_offset[dir] += k->len;
    sum += k->data[0] + k->data[k->len - 1];
}

static void on_gap(void *ctx, struct tcpreasm_conn *c, int dir, const struct tcpreasm_gap *g)
{
    (void)ctx;
    struct conn_state *s = c->user;
    must(g->missing_bytes > 0);
    must(g->offset == s->next_offset[dir]);
    must(!s->ended[dir]);
    s->next_offset[dir] += g->missing_bytes;
}

static void on_end(void *ctx, struct tcpreasm_conn *c, int dir, bool reset, uint64_t frame)
{
    (void)ctx;
    (void)reset;
    (void)frame;
    struct conn_state *s = c->user;
    must(!s->ended[dir]);
    s->ended[dir] = true;
    must(c->dir[dir].ended);
}

static void on_close(void *ctx, struct tcpreasm_conn *c)
{
    (void)ctx;
    struct conn_state *s = c->user;
    for (int d = 0; d < 2; d++)
        must(s->next_offset[d] == c->dir[d].bytes + c->dir[d].gap_bytes);
    free(s);
    c->user = NULL;
}

static const struct tcpreasm_callbacks cbs = {on_open, on_data, on_gap, on_end, on_close};

static void check_decoded(const struct pkt *p, int r)
{
    if (r != 0) {
        must(r == WIRE_ERROR && p->why != NULL);
        return;
    }
    must(p->why == NULL);
    must(p->l4 == PKT_L4_TCP || p->l4 == PKT_L4_UDP);
    must(p->ip_version == 4 || p->ip_version == 6);
    must(p->payload >= p->data && p->payload + p->payload_len <= p->data + p->caplen);
    must(p->payload_len <= p->payload_wire_len);
    if (p->payload_len)
        sum += p->payload[0] + p->payload[p->payload_len - 1];
    char a[PKT_ENDPOINT_STRLEN];
    pkt_endpoint_format(&p->src, a, sizeof(a));
    must(strlen(a) < PKT_ENDPOINT_STRLEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,
                               DLT_IPV4, DLT_IPV6, DLT_NULL, DLT_LOOP};
    if (size == 0)
        return 0;
    FILE *fp = fmemopen((void *)data, size, "rb");
    if (!fp)
        return 0;
    struct pcapin in;
    if (pcapin_open_stream(&in, fp, "fuzz.pcap") != 0) {
        must(strncmp(in.err, "fuzz.pcap: ", 11) == 0);
        return 0;
    }
    struct tcpreasm_opts o;
    tcpreasm_opts_default(&o);
    o.window_bytes = 64 << 10;
    o.max_segments = 64;
    o.max_conns = 8;
    o.max_buffered_bytes = 192 << 10;
    struct tcpreasm *r = tcpreasm_new(&o, &cbs, NULL, NULL);
    must(r != NULL);

    struct pkt p;
    int rc;
    uint64_t frames = 0;
    while (frames < MAX_FRAMES && (rc = pcapin_next(&in, &p)) == 1) {
        frames++;
        must(p.frame == frames && in.frames == frames);
        check_decoded(&p, p.why ? WIRE_ERROR : 0);
        for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
            struct pkt q;
            const char *why = NULL;
            int dr = pkt_decode(dlts[i], p.data, p.caplen, p.wirelen, &q, &why);
            check_decoded(&q, dr);
            must(dr == 0 || why == q.why);
        }
        tcpreasm_packet(r, &p);
        const struct tcpreasm_stats *st = tcpreasm_stats(r);
        must(st->buffered_bytes <= o.max_buffered_bytes);
        must(st->active <= o.max_conns);
    }
    if (frames < MAX_FRAMES && rc < 0)
        must(strstr(in.err, "fuzz.pcap: reading stopped at frame ") == in.err);
    tcpreasm_flush_all(r);
    must(tcpreasm_stats(r)->buffered_bytes == 0);
    tcpreasm_free(r);
    pcapin_close(&in);
    return 0;
}
