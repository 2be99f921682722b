/* RTP header parser and builder, and the RFC 3550 appendix A receiver
 * state (sequence validation, loss, jitter); see rtp.h. */
#include "rtp.h"

#include <string.h>

static int parse(const uint8_t *buf, size_t len, struct rtp_header *h, bool any_version, struct wire_error *err)
{
    memset(h, 0, sizeof(*h));
    if (len < RTP_HEADER_MIN)
        return wire_fail(err, len, "RTP packet shorter than the 12-byte fixed header");
    h->version = (uint8_t)(buf[0] >> 6);
    if (h->version != RTP_VERSION && !any_version)
        return wire_fail(err, 0, "RTP version is not 2");
    h->padding = (buf[0] & 0x20) != 0;
    h->extension = (buf[0] & 0x10) != 0;
    h->csrc_count = buf[0] & 0x0f;
    h->marker = (buf[1] & 0x80) != 0;
    h->payload_type = buf[1] & 0x7f;
    h->seq = wire_get_be16(buf + 2);
    h->timestamp = wire_get_be32(buf + 4);
    h->ssrc = wire_get_be32(buf + 8);

    size_t off = RTP_HEADER_MIN;
    if (len - off < (size_t)h->csrc_count * 4)
        return wire_fail(err, off, "RTP CSRC count runs past the end of the packet");
    for (unsigned i = 0; i < h->csrc_count; i++, off += 4)
        h->csrc[i] = wire_get_be32(buf + off);

    if (h->extension) {
        if (len - off < 4)
            return wire_fail(err, off, "RTP extension header runs past the end of the packet");
        h->ext_profile = wire_get_be16(buf + off);
        h->ext_length = wire_get_be16(buf + off + 2);
        off += 4;
        if (len - off < (size_t)h->ext_length * 4)
            return wire_fail(err, off - 2, "RTP extension length runs past the end of the packet");
        h->ext_data = buf + off;
        off += (size_t)h->ext_length * 4;
    }

    size_t body = len - off;
    if (h->padding) {
        /* The count byte is the last byte of the datagram and counts itself. */
        if (body == 0)
            return wire_fail(err, len, "RTP padding bit set but no room for the padding count");
        uint8_t pad = buf[len - 1];
        if (pad == 0)
            return wire_fail(err, len - 1, "RTP padding count is 0");
        if (pad > body)
            return wire_fail(err, len - 1, "RTP padding count is larger than the payload");
        h->padding_len = pad;
        body -= pad;
    }
    h->payload = buf + off;
    h->payload_len = body;
    return (int)off;
}

int rtp_parse(const uint8_t *buf, size_t len, struct rtp_header *h, struct wire_error *err)
{
    return parse(buf, len, h, false, err);
}

int rtp_parse_any_version(const uint8_t *buf, size_t len, struct rtp_header *h, struct wire_error *err)
{
    return parse(buf, len, h, true, err);
}

size_t rtp_packet_size(const struct rtp_header *h, size_t payload_len)
{
    size_t n = RTP_HEADER_MIN + (size_t)h->csrc_count * 4;
    if (h->extension)
        n += 4 + (size_t)h->ext_length * 4;
    if (h->padding)
        n += h->padding_len;
    return n + payload_len;
}

int rtp_build(const struct rtp_header *h, const uint8_t *payload, size_t payload_len,
              uint8_t *out, size_t cap, struct wire_error *err)
{
    if (h->version > 3)
        return wire_fail(err, 0, "RTP version does not fit in 2 bits");
    if (h->csrc_count > RTP_CSRC_MAX)
        return wire_fail(err, 0, "RTP CSRC count above 15");
    if (h->payload_type > 127)
        return wire_fail(err, 1, "RTP payload type does not fit in 7 bits");
    if (h->padding && h->padding_len == 0)
        return wire_fail(err, 0, "RTP padding bit set with a padding length of 0");
    if (!h->padding && h->padding_len != 0)
        return wire_fail(err, 0, "RTP padding length given without the padding bit");
    if (h->extension && h->ext_length > 0 && h->ext_data == NULL)
        return wire_fail(err, 0, "RTP extension length given without extension data");
    if (payload_len > 0 && payload == NULL)
        return wire_fail(err, 0, "RTP payload length given without a payload");
    /* Every term is bounded (60 + 4 + 262140 + 255), so only payload_len can overflow. */
    size_t head = rtp_packet_size(h, 0);
    if (payload_len > SIZE_MAX - head || head + payload_len > cap)
        return wire_fail(err, cap, "RTP packet does not fit in the output buffer");
    if (head + payload_len > (size_t)INT32_MAX)
        return wire_fail(err, 0, "RTP packet too large to report its length");

    out[0] = (uint8_t)((h->version << 6) | (h->padding ? 0x20 : 0) | (h->extension ? 0x10 : 0) |
                       h->csrc_count);
    out[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->payload_type);
    wire_put_be16(out + 2, h->seq);
    wire_put_be32(out + 4, h->timestamp);
    wire_put_be32(out + 8, h->ssrc);
    size_t off = RTP_HEADER_MIN;
    for (unsigned i = 0; i < h->csrc_count; i++, off += 4)
        wire_put_be32(out + off, h->csrc[i]);
    if (h->extension) {
        wire_put_be16(out + off, h->ext_profile);
        wire_put_be16(out + off + 2, h->ext_length);
        off += 4;
        if (h->ext_length > 0)
            memmove(out + off, h->ext_data, (size_t)h->ext_length * 4);
        off += (size_t)h->ext_length * 4;
    }
    if (payload_len > 0)
        memmove(out + off, payload, payload_len);
    off += payload_len;
    if (h->padding) {
        memset(out + off, 0, h->padding_len - 1u);
        off += h->padding_len;
        out[off - 1] = h->padding_len;
    }
    return (int)off;
}

int32_t rtp_seq_diff(uint16_t a, uint16_t b)
{
    uint16_t d = (uint16_t)(a - b);
    return d >= 0x8000 ? (int32_t)d - 65536 : (int32_t)d;
}

bool rtp_seq_lt(uint16_t a, uint16_t b)
{
    return rtp_seq_diff(a, b) < 0;
}

/* A.1 init_seq: (re)start counting at seq. */
static void source_reset(struct rtp_source *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = RTP_SEQ_MOD + 1; /* so seq == bad_seq is false */
    s->cycles = 0;
    s->received = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
}

void rtp_source_init(struct rtp_source *s, uint16_t seq, unsigned min_sequential)
{
    memset(s, 0, sizeof(*s));
    source_reset(s, seq);
    s->min_sequential = min_sequential;
    if (min_sequential > 0) {
        /* The first packet then counts as the first of the probation run. */
        s->max_seq = (uint16_t)(seq - 1);
        s->probation = min_sequential;
    }
}

bool rtp_source_update(struct rtp_source *s, uint16_t seq)
{
    uint16_t udelta = (uint16_t)(seq - s->max_seq);

    if (s->probation) {
        /* The cast keeps 65535 -> 0 in sequence, which the RFC's int
         * promotion of max_seq + 1 would miss. */
        if (seq == (uint16_t)(s->max_seq + 1)) {
            s->probation--;
            s->max_seq = seq;
            if (s->probation == 0) {
                source_reset(s, seq);
                s->received++;
                return true;
            }
        } else {
            s->probation = s->min_sequential > 0 ? s->min_sequential - 1 : 0;
            s->max_seq = seq;
        }
        return false;
    } else if (udelta < RTP_MAX_DROPOUT) {
        /* In order, with a permissible gap; a smaller seq means a wrap. */
        if (seq < s->max_seq)
            s->cycles += RTP_SEQ_MOD;
        s->max_seq = seq;
    } else if (udelta <= RTP_SEQ_MOD - RTP_MAX_MISORDER) {
        /* A very large jump: believe it only when the next packet follows it,
         * i.e. the sender restarted without telling us. */
        if (seq == s->bad_seq) {
            source_reset(s, seq);
            s->resyncs++;
        } else {
            s->bad_seq = (uint32_t)(seq + 1) & (RTP_SEQ_MOD - 1);
            return false;
        }
    }
    /* else a duplicate or a reordered packet: counted, max_seq unchanged. */
    s->received++;
    return true;
}

uint32_t rtp_source_ext_max(const struct rtp_source *s)
{
    return s->cycles + s->max_seq;
}

int64_t rtp_source_expected(const struct rtp_source *s)
{
    if (s->probation)
        return 0; /* nothing counted yet; max_seq is only a probation marker */
    return (int64_t)rtp_source_ext_max(s) - (int64_t)s->base_seq + 1;
}

int64_t rtp_source_lost(const struct rtp_source *s)
{
    return rtp_source_expected(s) - (int64_t)s->received;
}

uint8_t rtp_source_fraction_lost(struct rtp_source *s)
{
    int64_t expected = rtp_source_expected(s);
    int64_t expected_interval = expected - (int64_t)s->expected_prior;
    int64_t received_interval = (int64_t)s->received - (int64_t)s->received_prior;
    s->expected_prior = (uint32_t)expected;
    s->received_prior = s->received;
    int64_t lost_interval = expected_interval - received_interval;
    if (expected_interval <= 0 || lost_interval <= 0)
        return 0;
    int64_t fraction = (lost_interval << 8) / expected_interval;
    return fraction > 255 ? 255 : (uint8_t)fraction;
}

void rtp_jitter_init(struct rtp_jitter *j)
{
    memset(j, 0, sizeof(*j));
}

bool rtp_jitter_update(struct rtp_jitter *j, uint64_t arrival_ns, uint32_t rtp_ts,
                       uint32_t clock_rate_hz)
{
    if (clock_rate_hz == 0)
        return false;
    if (j->started) {
        /* Signed differences: a capture clock can step back, and RTP
         * timestamps wrap at 2^32. */
        int64_t arrival_delta_ns = (int64_t)(arrival_ns - j->prev_arrival_ns);
        int32_t ts_delta = (int32_t)(rtp_ts - j->prev_rtp_ts);
        double d = (double)arrival_delta_ns * (double)clock_rate_hz / 1e9 - (double)ts_delta;
        j->last_d = d;
        if (d < 0)
            d = -d;
        j->jitter += (d - j->jitter) / 16.0;
    }
    j->started = true;
    j->prev_arrival_ns = arrival_ns;
    j->prev_rtp_ts = rtp_ts;
    return true;
}

uint32_t rtp_jitter_rr(const struct rtp_jitter *j)
{
    if (!(j->jitter >= 0))
        return 0;
    if (j->jitter >= 4294967295.0)
        return UINT32_MAX;
    return (uint32_t)j->jitter;
}

double rtp_jitter_ns(const struct rtp_jitter *j, uint32_t clock_rate_hz)
{
    if (clock_rate_hz == 0)
        return 0;
    return j->jitter * 1e9 / (double)clock_rate_hz;
}
