/* RFC 2435 RTP/JPEG packetizer and depacketizer (see rtpjpeg.h). */
#include "rtpjpeg.h"

#include <string.h>

#include "jpeg.h"

size_t rtpjpeg_max_payload_for_mtu(size_t mtu)
{
    const size_t overhead = 20 + 8 + 12;
    return mtu > overhead ? mtu - overhead : 0;
}

void rtpjpeg_make_tables(unsigned q, uint8_t luma[64], uint8_t chroma[64])
{
    unsigned factor = q < 1 ? 1 : q > 99 ? 99 : q;
    unsigned scale = factor < 50 ? 5000 / factor : 200 - factor * 2;
    for (unsigned i = 0; i < 64; i++) {
        unsigned n = jpeg_zigzag_to_natural[i];
        unsigned lq = (jpeg_std_luma_quant[n] * scale + 50) / 100;
        unsigned cq = (jpeg_std_chroma_quant[n] * scale + 50) / 100;
        luma[i] = (uint8_t)(lq < 1 ? 1 : lq > 255 ? 255 : lq);
        chroma[i] = (uint8_t)(cq < 1 ? 1 : cq > 255 ? 255 : cq);
    }
}

/* Bytes of one table in the quantization table header. */
static size_t table_bytes(uint8_t precision, unsigned table)
{
    return (precision >> table) & 1 ? 128 : 64;
}

size_t rtpjpeg_write_headers(uint8_t *out, uint8_t type, unsigned width, unsigned height,
                             uint16_t restart_interval, uint8_t precision, const uint8_t *qtables)
{
    static const uint8_t app0[18] = {0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
    uint8_t *p = out;
    *p++ = 0xFF;
    *p++ = JPEG_SOI;
    memcpy(p, app0, sizeof app0);
    p += sizeof app0;

    size_t t0 = table_bytes(precision, 0), t1 = table_bytes(precision, 1);
    *p++ = 0xFF;
    *p++ = JPEG_DQT;
    wire_put_be16(p, (uint16_t)(2 + 1 + t0 + 1 + t1));
    p += 2;
    *p++ = (uint8_t)(((precision & 1) << 4) | 0);
    memcpy(p, qtables, t0);
    p += t0;
    *p++ = (uint8_t)((((precision >> 1) & 1) << 4) | 1);
    memcpy(p, qtables + t0, t1);
    p += t1;

    *p++ = 0xFF;
    *p++ = JPEG_SOF0;
    wire_put_be16(p, 17);
    p += 2;
    *p++ = 8;
    wire_put_be16(p, (uint16_t)height);
    p += 2;
    wire_put_be16(p, (uint16_t)width);
    p += 2;
    *p++ = 3;
    const uint8_t comps[9] = {1, (uint8_t)((type & 1) ? 0x22 : 0x21), 0, 2, 0x11, 1, 3, 0x11, 1};
    memcpy(p, comps, sizeof comps);
    p += sizeof comps;

    *p++ = 0xFF;
    *p++ = JPEG_DHT;
    uint8_t *dht_len = p;
    p += 2;
    static const uint8_t classes[4] = {0x00, 0x01, 0x10, 0x11};
    for (unsigned i = 0; i < 4; i++) {
        const struct jpeg_huffman_table *t = &jpeg_std_huffman[i];
        *p++ = classes[i];
        memcpy(p, t->bits, 16);
        p += 16;
        memcpy(p, t->values, t->nvalues);
        p += t->nvalues;
    }
    wire_put_be16(dht_len, (uint16_t)(p - dht_len));

    if (restart_interval > 0) {
        *p++ = 0xFF;
        *p++ = JPEG_DRI;
        wire_put_be16(p, 4);
        p += 2;
        wire_put_be16(p, restart_interval);
        p += 2;
    }

    static const uint8_t sos[14] = {0xFF, JPEG_SOS, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0};
    memcpy(p, sos, sizeof sos);
    p += sizeof sos;
    return (size_t)(p - out);
}

/* ---- packetizer ---- */

static int find_qtable(const struct jpeg_info *info, unsigned c, const struct jpeg_qtable **qt,
                       struct wire_error *err)
{
    const struct jpeg_qtable *t = &info->qt[info->comp[c].tq];
    if (!t->defined)
        return wire_fail(err, info->sos_offset, "a component uses an undefined quantization table");
    *qt = t;
    return 0;
}

static void put_table(uint8_t *out, const struct jpeg_qtable *t)
{
    for (unsigned i = 0; i < 64; i++) {
        if (t->precision)
            wire_put_be16(out + 2 * i, t->value[i]);
        else
            out[i] = (uint8_t)t->value[i];
    }
}

int rtpjpeg_packetizer_init(struct rtpjpeg_packetizer *p, const uint8_t *jpeg, size_t len,
                            const struct rtpjpeg_options *opts, struct wire_error *err)
{
    struct jpeg_info info;
    memset(p, 0, sizeof *p);
    if (jpeg_parse(jpeg, len, &info, err) < 0)
        return WIRE_ERROR;
    unsigned q = opts->q ? opts->q : 255;
    if (q >= 100 && q < 128)
        return wire_fail(err, 0, "Q values 100 to 127 are reserved by RFC 2435");
    size_t at = info.sos_offset;
    if (info.scan_count != 1)
        return wire_fail(err, at, "JPEG has more than one scan; RFC 2435 carries one interleaved scan");
    if (info.ncomponents != 3)
        return wire_fail(err, at, "RFC 2435 types 0 and 1 need exactly 3 components (YCbCr)");
    if (info.scan_ncomponents != 3)
        return wire_fail(err, at, "the scan does not interleave all 3 components");
    for (unsigned c = 0; c < 3; c++)
        if (info.comp[c].scan_pos != c)
            return wire_fail(err, at, "scan components are not in frame order");
    if (!info.huffman_standard || info.comp[0].td != 0 || info.comp[0].ta != 0 ||
        info.comp[1].td != 1 || info.comp[1].ta != 1 || info.comp[2].td != 1 || info.comp[2].ta != 1)
        return wire_fail(err, at, "Huffman tables are not the JPEG Annex K.3 tables (luma 0, chroma 1) RFC 2435 implies");
    for (unsigned c = 1; c < 3; c++)
        if (info.comp[c].h != 1 || info.comp[c].v != 1)
            return wire_fail(err, at, "chroma sampling is not 1x1");
    uint8_t type;
    if (info.comp[0].h == 2 && info.comp[0].v == 1)
        type = 0;
    else if (info.comp[0].h == 2 && info.comp[0].v == 2)
        type = 1;
    else
        return wire_fail(err, at, "luma sampling is neither 2x1 (RFC 2435 type 0, 4:2:2) nor 2x2 (type 1, 4:2:0)");
    if (info.width % 8 != 0 || info.height % 8 != 0)
        return wire_fail(err, at, "width or height is not a multiple of 8 (RFC 2435 sends them divided by 8)");
    if (info.width > RTPJPEG_MAX_DIMENSION || info.height > RTPJPEG_MAX_DIMENSION)
        return wire_fail(err, at, "width or height above 2040, the RFC 2435 limit");

    const struct jpeg_qtable *luma, *chroma, *chroma2;
    if (find_qtable(&info, 0, &luma, err) || find_qtable(&info, 1, &chroma, err) ||
        find_qtable(&info, 2, &chroma2, err))
        return WIRE_ERROR;
    if (chroma2->precision != chroma->precision ||
        memcmp(chroma2->value, chroma->value, sizeof chroma->value) != 0)
        return wire_fail(err, at, "the two chroma components use different quantization tables (RFC 2435 carries one)");
    if (q < 100) {
        uint8_t lq[64], cq[64];
        rtpjpeg_make_tables(q, lq, cq);
        for (unsigned i = 0; i < 64; i++)
            if (luma->value[i] != lq[i] || chroma->value[i] != cq[i])
                return wire_fail(err, at, "quantization tables are not the RFC 2435 tables for the requested Q");
    } else {
        p->qt_precision = (uint8_t)(luma->precision | (chroma->precision << 1));
        size_t t0 = table_bytes(p->qt_precision, 0);
        put_table(p->qt_data, luma);
        put_table(p->qt_data + t0, chroma);
        p->qt_len = (uint16_t)(t0 + table_bytes(p->qt_precision, 1));
    }
    if (info.scan.len == 0)
        return wire_fail(err, at, "empty scan data");
    if (info.scan.len > RTPJPEG_MAX_SCAN)
        return wire_fail(err, at, "scan larger than the 24-bit fragment offset can address");

    p->type = (uint8_t)(type + (info.restart_interval ? 64 : 0));
    p->restart_interval = info.restart_interval;
    p->q = (uint8_t)q;
    p->width8 = (uint8_t)(info.width / 8);
    p->height8 = (uint8_t)(info.height / 8);
    p->scan = (const uint8_t *)info.scan.ptr;
    p->scan_len = info.scan.len;
    p->max_payload = opts->max_payload;
    size_t first = RTPJPEG_HEADER_LEN + (p->restart_interval ? RTPJPEG_RESTART_HEADER_LEN : 0) +
                   (q >= 128 ? RTPJPEG_QTABLE_HEADER_LEN + p->qt_len : 0);
    if (opts->max_payload <= first)
        return wire_fail(err, 0, "max_payload too small for the RTP/JPEG headers and one byte of scan");
    return 0;
}

/* Header bytes of the payload at a fragment offset. */
static size_t header_len(const struct rtpjpeg_packetizer *p, size_t offset)
{
    return RTPJPEG_HEADER_LEN + (p->restart_interval ? RTPJPEG_RESTART_HEADER_LEN : 0) +
           (offset == 0 && p->q >= 128 ? RTPJPEG_QTABLE_HEADER_LEN + p->qt_len : 0);
}

int rtpjpeg_packetizer_next(struct rtpjpeg_packetizer *p, uint8_t *out, size_t cap,
                            size_t *out_len, bool *is_last, struct wire_error *err)
{
    if (p->offset >= p->scan_len)
        return 0;
    size_t hlen = header_len(p, p->offset);
    size_t chunk = p->scan_len - p->offset;
    if (chunk > p->max_payload - hlen)
        chunk = p->max_payload - hlen;
    if (cap < hlen + chunk)
        return wire_fail(err, p->offset, "output buffer smaller than the payload");
    uint8_t *o = out;
    *o++ = 0; /* type-specific: progressive frame */
    wire_put_be24(o, (uint32_t)p->offset);
    o += 3;
    *o++ = p->type;
    *o++ = p->q;
    *o++ = p->width8;
    *o++ = p->height8;
    if (p->restart_interval) {
        wire_put_be16(o, p->restart_interval);
        /* F=1, L=1, count 0x3FFF: fragments are not aligned with restart intervals. */
        wire_put_be16(o + 2, 0xFFFF);
        o += 4;
    }
    if (p->offset == 0 && p->q >= 128) {
        *o++ = 0; /* MBZ */
        *o++ = p->qt_precision;
        wire_put_be16(o, p->qt_len);
        o += 2;
        memcpy(o, p->qt_data, p->qt_len);
        o += p->qt_len;
    }
    memcpy(o, p->scan + p->offset, chunk);
    o += chunk;
    p->offset += chunk;
    *out_len = (size_t)(o - out);
    *is_last = p->offset == p->scan_len;
    return 1;
}

size_t rtpjpeg_packetizer_count(const struct rtpjpeg_packetizer *p)
{
    if (p->scan_len == 0)
        return 0;
    size_t first = p->max_payload - header_len(p, 0);
    if (p->scan_len <= first)
        return 1;
    size_t rest = p->max_payload - header_len(p, 1);
    return 1 + (p->scan_len - first + rest - 1) / rest;
}

/* ---- depacketizer ---- */

int rtpjpeg_depacketizer_init(struct rtpjpeg_depacketizer *d, uint8_t *buf, size_t cap,
                              struct wire_error *err)
{
    memset(d, 0, sizeof *d);
    if (!buf || cap < RTPJPEG_JFIF_HEADER_MAX + 3)
        return wire_fail(err, 0, "frame buffer smaller than the JFIF headers plus one scan byte and EOI");
    d->buf = buf;
    d->cap = cap;
    return 0;
}

void rtpjpeg_depacketizer_reset(struct rtpjpeg_depacketizer *d)
{
    uint8_t *buf = d->buf;
    size_t cap = d->cap;
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->cap = cap;
}

/* Signed distance between 16-bit sequence numbers, wrap-around aware. */
static int seq_diff(uint16_t a, uint16_t b)
{
    return (int16_t)(uint16_t)(a - b);
}

static void finish_frame(struct rtpjpeg_depacketizer *d)
{
    d->active = false;
    d->have_done = true;
    d->done_seq = d->seq_hi;
}

/* Drop the frame in progress and describe what it lacked. */
static void drop_incomplete(struct rtpjpeg_depacketizer *d)
{
    struct rtpjpeg_incomplete *inc = &d->incomplete;
    memset(inc, 0, sizeof *inc);
    inc->timestamp = d->timestamp;
    inc->first_seq = d->seq_lo;
    inc->last_seq = d->seq_hi;
    inc->packets = d->packets;
    inc->end_known = d->marker_seen;
    inc->scan_len = d->marker_seen ? d->end : 0;
    uint32_t pos = 0;
    for (size_t i = 0; i < d->nranges; i++) {
        const struct rtpjpeg_range *r = &d->ranges[i];
        if (r->offset > pos)
            inc->missing[inc->nmissing++] = (struct rtpjpeg_range){pos, r->offset - pos};
        inc->received += r->len;
        pos = r->offset + r->len;
    }
    if (d->marker_seen) {
        if (d->end > pos)
            inc->missing[inc->nmissing++] = (struct rtpjpeg_range){pos, d->end - pos};
    } else {
        inc->missing[inc->nmissing++] = (struct rtpjpeg_range){pos, 0};
    }
    finish_frame(d);
}

/* One payload's headers, checked against the payload length. */
struct payload_hdr {
    uint32_t offset;           /* fragment offset */
    uint8_t type;              /* RFC 2435 type */
    uint8_t q;                 /* Q */
    uint8_t width8;            /* width / 8 */
    uint8_t height8;           /* height / 8 */
    uint16_t restart_interval; /* types 64-127 */
    bool has_tables;           /* a quantization table header with length > 0 */
    uint8_t qt_precision;      /* its precision bits */
    uint16_t qt_len;           /* its table bytes */
    const uint8_t *qt_data;    /* the tables, in the payload */
    const uint8_t *data;       /* scan bytes */
    uint32_t data_len;         /* their count */
};

static int parse_payload(const uint8_t *pl, size_t len, struct payload_hdr *h, struct wire_error *err)
{
    memset(h, 0, sizeof *h);
    if (len < RTPJPEG_HEADER_LEN)
        return wire_fail(err, 0, "payload shorter than the 8-byte RTP/JPEG header");
    if (len > 0xFFFF)
        return wire_fail(err, 0, "payload larger than an RTP packet can be");
    if (pl[0] != 0)
        return wire_fail(err, 0, "type-specific field is not 0 (interlaced fields are not supported)");
    h->offset = wire_get_be24(pl + 1);
    h->type = pl[4];
    h->q = pl[5];
    h->width8 = pl[6];
    h->height8 = pl[7];
    if ((h->type & 63) > 1 || h->type >= 128)
        return wire_fail(err, 4, "unsupported RTP/JPEG type (only 0, 1, 64 and 65 are defined)");
    if (h->q == 0)
        return wire_fail(err, 5, "Q value 0 is reserved");
    if (h->q >= 100 && h->q < 128)
        return wire_fail(err, 5, "Q values 100 to 127 are reserved");
    if (h->width8 == 0 || h->height8 == 0)
        return wire_fail(err, 6, "width or height is 0");
    size_t pos = RTPJPEG_HEADER_LEN;
    if (h->type >= 64) {
        if (len - pos < RTPJPEG_RESTART_HEADER_LEN)
            return wire_fail(err, pos, "payload too short for the restart marker header");
        h->restart_interval = wire_get_be16(pl + pos);
        if (h->restart_interval == 0)
            return wire_fail(err, pos, "restart interval 0 in a restart marker type (64-127)");
        pos += RTPJPEG_RESTART_HEADER_LEN;
    }
    if (h->q >= 128 && h->offset == 0) {
        if (len - pos < RTPJPEG_QTABLE_HEADER_LEN)
            return wire_fail(err, pos, "payload too short for the quantization table header");
        if (pl[pos] != 0)
            return wire_fail(err, pos, "quantization table header MBZ byte is not 0");
        h->qt_precision = pl[pos + 1];
        h->qt_len = wire_get_be16(pl + pos + 2);
        pos += RTPJPEG_QTABLE_HEADER_LEN;
        if (h->qt_len > len - pos)
            return wire_fail(err, pos - 2, "quantization table length beyond the payload");
        if (h->qt_len == 0) {
            if (h->q == 255)
                return wire_fail(err, pos - 2, "Q=255 with table length 0 (its tables must come with every frame)");
        } else {
            size_t t0 = table_bytes(h->qt_precision, 0);
            if (h->qt_len != t0 + table_bytes(h->qt_precision, 1))
                return wire_fail(err, pos - 2, "quantization table length does not match two tables of the stated precision");
            for (size_t i = 0; i < h->qt_len; i++) {
                bool wide = i < t0 ? h->qt_precision & 1 : (h->qt_precision >> 1) & 1;
                size_t k = i < t0 ? i : i - t0;
                bool zero = wide ? (k % 2 == 0 && pl[pos + i] == 0 && pl[pos + i + 1] == 0)
                                 : pl[pos + i] == 0;
                if (zero)
                    return wire_fail(err, pos + i, "quantization table entry is 0");
            }
            h->has_tables = true;
            h->qt_data = pl + pos;
        }
        pos += h->qt_len;
    }
    h->data = pl + pos;
    h->data_len = (uint32_t)(len - pos);
    return 0;
}

/* Merge [off, off+len) into the sorted received ranges; error when that
 * would need more than RTPJPEG_MAX_RANGES disjoint ranges. */
static int add_range(struct rtpjpeg_depacketizer *d, uint32_t off, uint32_t len,
                     struct wire_error *err)
{
    struct rtpjpeg_range out[RTPJPEG_MAX_RANGES + 2];
    size_t n = 0;
    uint32_t a = off, b = off + len;
    bool placed = false;
    for (size_t i = 0; i < d->nranges; i++) {
        const struct rtpjpeg_range *r = &d->ranges[i];
        uint32_t ra = r->offset, rb = r->offset + r->len;
        if (rb < a) {
            out[n++] = *r;
        } else if (ra > b) {
            if (!placed) {
                out[n++] = (struct rtpjpeg_range){a, b - a};
                placed = true;
            }
            out[n++] = *r;
        } else {
            a = ra < a ? ra : a;
            b = rb > b ? rb : b;
        }
        if (n > RTPJPEG_MAX_RANGES)
            return wire_fail(err, 1, "too many disjoint fragments in one frame");
    }
    if (!placed)
        out[n++] = (struct rtpjpeg_range){a, b - a};
    if (n > RTPJPEG_MAX_RANGES)
        return wire_fail(err, 1, "too many disjoint fragments in one frame");
    memcpy(d->ranges, out, n * sizeof out[0]);
    d->nranges = n;
    return 0;
}

static const struct rtpjpeg_qcache_entry *qcache_find(const struct rtpjpeg_depacketizer *d, uint8_t q)
{
    for (unsigned i = 0; i < RTPJPEG_QCACHE; i++)
        if (d->qcache[i].q == q)
            return &d->qcache[i];
    return NULL;
}

static void qcache_store(struct rtpjpeg_depacketizer *d, uint8_t q, uint8_t precision,
                         const uint8_t *data, uint16_t len)
{
    struct rtpjpeg_qcache_entry *e = (struct rtpjpeg_qcache_entry *)qcache_find(d, q);
    if (!e) {
        e = &d->qcache[d->qcache_next];
        d->qcache_next = (d->qcache_next + 1) % RTPJPEG_QCACHE;
    }
    e->q = q;
    e->precision = precision;
    e->len = len;
    memcpy(e->data, data, len);
}

/* Every byte from 0 to the end arrived: rebuild the JFIF around the scan. */
static int complete_frame(struct rtpjpeg_depacketizer *d, struct wire_error *err)
{
    uint8_t tables[256];
    uint8_t precision = 0;
    if (d->q < 128) {
        rtpjpeg_make_tables(d->q, tables, tables + 64);
    } else if (d->have_tables) {
        precision = d->qt_precision;
        memcpy(tables, d->qt_data, d->qt_len);
    } else {
        finish_frame(d);
        return wire_fail(err, RTPJPEG_HEADER_LEN, "frame has Q >= 128 but its quantization tables never came (length 0, none cached for this Q)");
    }
    uint8_t hdr[RTPJPEG_JFIF_HEADER_MAX];
    size_t hlen = rtpjpeg_write_headers(hdr, d->type & 1, d->width8 * 8u, d->height8 * 8u,
                                        d->restart_interval, precision, tables);
    uint8_t *scan = d->buf + RTPJPEG_JFIF_HEADER_MAX;
    uint8_t *start = scan - hlen;
    memcpy(start, hdr, hlen);
    size_t len = hlen + d->end;
    /* Some senders keep the EOI in the last fragment; do not double it. */
    if (!(d->end >= 2 && scan[d->end - 2] == 0xFF && scan[d->end - 1] == JPEG_EOI)) {
        scan[d->end] = 0xFF;
        scan[d->end + 1] = JPEG_EOI;
        len += 2;
    }
    d->frame = start;
    d->frame_len = len;
    d->frame_info = (struct rtpjpeg_frame_info){
        .timestamp = d->timestamp,
        .type = d->type,
        .q = d->q,
        .width = (uint16_t)(d->width8 * 8u),
        .height = (uint16_t)(d->height8 * 8u),
        .restart_interval = d->restart_interval,
        .scan_len = d->end,
        .packets = d->packets,
    };
    finish_frame(d);
    return RTPJPEG_COMPLETE;
}

int rtpjpeg_depacketize_push(struct rtpjpeg_depacketizer *d, const uint8_t *payload, size_t len,
                             uint32_t rtp_timestamp, bool marker, uint16_t seq,
                             struct wire_error *err)
{
    d->frame = NULL;
    d->frame_len = 0;
    if (d->active) {
        bool same = rtp_timestamp == d->timestamp &&
                    !(d->marker_seen && seq_diff(seq, d->marker_seq) > 0);
        if (!same) {
            int from_lo = seq_diff(seq, d->seq_lo);
            if (from_lo < 0 && from_lo >= -RTPJPEG_LATE_WINDOW)
                return RTPJPEG_LATE;
            if (from_lo >= 0 && seq_diff(seq, d->seq_hi) <= 0)
                return wire_fail(err, 0, "timestamp changes inside the sequence range of the frame in progress");
            drop_incomplete(d);
            return RTPJPEG_INCOMPLETE;
        }
    } else if (d->have_done) {
        int from_done = seq_diff(seq, d->done_seq);
        if (from_done <= 0 && from_done >= -RTPJPEG_LATE_WINDOW)
            return RTPJPEG_LATE;
    }

    struct payload_hdr h;
    if (parse_payload(payload, len, &h, err) != 0)
        return WIRE_ERROR;
    if (d->active) {
        if (h.type != d->type)
            return wire_fail(err, 4, "type changes within one frame");
        if (h.q != d->q)
            return wire_fail(err, 5, "Q changes within one frame");
        if (h.width8 != d->width8 || h.height8 != d->height8)
            return wire_fail(err, 6, "width or height changes within one frame");
        if (h.restart_interval != d->restart_interval)
            return wire_fail(err, 8, "restart interval changes within one frame");
    }
    size_t room = d->cap - RTPJPEG_JFIF_HEADER_MAX - 2;
    uint32_t end = h.offset + h.data_len;
    if (end > room)
        return wire_fail(err, 1, "fragment beyond the frame buffer capacity");
    if (marker) {
        if (end == 0)
            return wire_fail(err, 1, "marker packet ends the frame with no scan data");
        if (d->active && d->marker_seen && end != d->end)
            return wire_fail(err, 1, "second marker packet with a different frame end");
        if (d->active && d->nranges > 0) {
            const struct rtpjpeg_range *last = &d->ranges[d->nranges - 1];
            if (last->offset + last->len > end)
                return wire_fail(err, 1, "marker packet ends the frame before data already received");
        }
    } else if (d->active && d->marker_seen && end > d->end) {
        return wire_fail(err, 1, "fragment beyond the frame end set by the marker packet");
    }

    if (!d->active) {
        d->active = true;
        d->timestamp = rtp_timestamp;
        d->seq_lo = d->seq_hi = seq;
        d->marker_seen = false;
        d->end = 0;
        d->type = h.type;
        d->q = h.q;
        d->width8 = h.width8;
        d->height8 = h.height8;
        d->restart_interval = h.restart_interval;
        d->packets = 0;
        d->have_tables = false;
        d->tables_missing = false;
        d->nranges = 0;
    }
    if (h.data_len > 0 && add_range(d, h.offset, h.data_len, err) != 0) {
        if (d->packets == 0)
            d->active = false;
        return WIRE_ERROR;
    }
    memcpy(d->buf + RTPJPEG_JFIF_HEADER_MAX + h.offset, h.data, h.data_len);
    d->packets++;
    if (seq_diff(seq, d->seq_lo) < 0)
        d->seq_lo = seq;
    if (seq_diff(seq, d->seq_hi) > 0)
        d->seq_hi = seq;
    if (marker) {
        d->marker_seen = true;
        d->marker_seq = seq;
        d->end = end;
    }
    if (h.q >= 128 && h.offset == 0 && !d->have_tables) {
        if (h.has_tables) {
            d->have_tables = true;
            d->tables_missing = false;
            d->qt_precision = h.qt_precision;
            d->qt_len = h.qt_len;
            memcpy(d->qt_data, h.qt_data, h.qt_len);
            if (h.q < 255)
                qcache_store(d, h.q, h.qt_precision, h.qt_data, h.qt_len);
        } else {
            const struct rtpjpeg_qcache_entry *e = qcache_find(d, h.q);
            if (e) {
                d->have_tables = true;
                d->qt_precision = e->precision;
                d->qt_len = e->len;
                memcpy(d->qt_data, e->data, e->len);
            } else {
                d->tables_missing = true;
            }
        }
    }
    if (d->marker_seen && d->nranges == 1 && d->ranges[0].offset == 0 && d->ranges[0].len == d->end)
        return complete_frame(d, err);
    return RTPJPEG_ACCEPTED;
}

int rtpjpeg_depacketize_flush(struct rtpjpeg_depacketizer *d)
{
    d->frame = NULL;
    d->frame_len = 0;
    if (!d->active)
        return 0;
    drop_incomplete(d);
    return RTPJPEG_INCOMPLETE;
}
