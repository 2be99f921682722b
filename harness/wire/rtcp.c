/* RTCP compound parser (RFC 3550 A.2 checks), packet builders and NTP
 * timestamp helpers; see rtcp.h. */
#include "rtcp.h"

#include <string.h>

void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *buf, size_t len, unsigned flags)
{
    it->buf = buf;
    it->len = len;
    it->off = 0;
    it->index = 0;
    it->flags = flags;
    it->failed = false;
}

static void parse_report_block(const uint8_t *p, struct rtcp_report_block *rb)
{
    rb->ssrc = wire_get_be32(p);
    rb->fraction_lost = p[4];
    uint32_t lost = wire_get_be24(p + 5);
    /* Sign-extend the 24-bit field without relying on shifts of negatives. */
    rb->cumulative_lost = (lost & 0x800000u) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
    rb->ext_highest_seq = wire_get_be32(p + 8);
    rb->jitter = wire_get_be32(p + 12);
    rb->lsr = wire_get_be32(p + 16);
    rb->dlsr = wire_get_be32(p + 20);
}

/* SR and RR share everything but the sender info. */
static int parse_report(struct rtcp_packet *pkt, size_t base, struct wire_error *err)
{
    size_t info = pkt->packet_type == RTCP_SR ? RTCP_SENDER_INFO_LEN : 0;
    size_t need = 4 + info + (size_t)pkt->count * RTCP_REPORT_BLOCK_LEN;
    if (pkt->body_len < need)
        return wire_fail(err, base + RTCP_HEADER_LEN + pkt->body_len,
                         pkt->packet_type == RTCP_SR
                             ? "RTCP SR too short for its sender info and report count"
                             : "RTCP RR too short for its report count");
    const uint8_t *p = pkt->body;
    pkt->ssrc = wire_get_be32(p);
    p += 4;
    if (info) {
        pkt->sender.ntp_ts = ((uint64_t)wire_get_be32(p) << 32) | wire_get_be32(p + 4);
        pkt->sender.rtp_ts = wire_get_be32(p + 8);
        pkt->sender.packet_count = wire_get_be32(p + 12);
        pkt->sender.octet_count = wire_get_be32(p + 16);
        p += RTCP_SENDER_INFO_LEN;
    }
    for (unsigned i = 0; i < pkt->count; i++, p += RTCP_REPORT_BLOCK_LEN)
        parse_report_block(p, &pkt->blocks[i]);
    pkt->ext = p;
    pkt->ext_len = pkt->body_len - need;
    return 0;
}

static int parse_sdes(struct rtcp_packet *pkt, size_t base, struct wire_error *err)
{
    const uint8_t *b = pkt->body;
    size_t n = pkt->body_len;
    size_t pos = 0;
    base += RTCP_HEADER_LEN; /* offsets below are relative to the body */
    for (unsigned c = 0; c < pkt->count; c++) {
        struct rtcp_sdes_chunk *ch = &pkt->chunks[c];
        if (n - pos < 4)
            return wire_fail(err, base + pos, "RTCP SDES chunk runs past the end of the packet");
        ch->ssrc = wire_get_be32(b + pos);
        pos += 4;
        ch->items = b + pos;
        ch->cname.ptr = NULL;
        ch->cname.len = 0;
        for (;;) {
            if (pos >= n)
                return wire_fail(err, base + pos, "RTCP SDES chunk has no END item");
            uint8_t type = b[pos];
            if (type == RTCP_SDES_END)
                break;
            if (n - pos < 2)
                return wire_fail(err, base + pos, "RTCP SDES item header runs past the end of the packet");
            size_t item_len = b[pos + 1];
            if (n - pos - 2 < item_len)
                return wire_fail(err, base + pos + 1, "RTCP SDES item length runs past the end of the packet");
            if (type == RTCP_SDES_PRIV && (item_len < 1 || b[pos + 2] > item_len - 1))
                return wire_fail(err, base + pos + 2, "RTCP SDES PRIV prefix length runs past its item");
            if (type == RTCP_SDES_CNAME && ch->cname.ptr == NULL) {
                ch->cname.ptr = (const char *)(b + pos + 2);
                ch->cname.len = item_len;
            }
            pos += 2 + item_len;
        }
        ch->items_len = (size_t)(b + pos - ch->items);
        /* The END octet plus null octets up to the next 32-bit boundary;
         * the body starts on a boundary, so pos is the alignment. */
        size_t end = (pos + 4) & ~(size_t)3;
        if (end > n)
            return wire_fail(err, base + n, "RTCP SDES chunk padding runs past the end of the packet");
        for (size_t i = pos; i < end; i++)
            if (b[i] != 0)
                return wire_fail(err, base + i, "RTCP SDES chunk padding is not zero");
        pos = end;
    }
    if (pos != n)
        return wire_fail(err, base + pos, "RTCP SDES packet has bytes after its last chunk");
    return 0;
}

static int parse_bye(struct rtcp_packet *pkt, size_t base, struct wire_error *err)
{
    size_t need = (size_t)pkt->count * 4;
    base += RTCP_HEADER_LEN;
    if (pkt->body_len < need)
        return wire_fail(err, base + pkt->body_len, "RTCP BYE too short for its source count");
    for (unsigned i = 0; i < pkt->count; i++)
        pkt->bye_ssrc[i] = wire_get_be32(pkt->body + 4 * i);
    pkt->ssrc = pkt->count ? pkt->bye_ssrc[0] : 0;
    pkt->bye_reason.ptr = NULL;
    pkt->bye_reason.len = 0;
    if (pkt->body_len > need) {
        size_t reason_len = pkt->body[need];
        if (pkt->body_len - need - 1 < reason_len)
            return wire_fail(err, base + need, "RTCP BYE reason runs past the end of the packet");
        pkt->bye_reason.ptr = (const char *)(pkt->body + need + 1);
        pkt->bye_reason.len = reason_len;
    }
    return 0;
}

static int parse_app(struct rtcp_packet *pkt, size_t base, struct wire_error *err)
{
    if (pkt->body_len < 8)
        return wire_fail(err, base + RTCP_HEADER_LEN + pkt->body_len,
                         "RTCP APP too short for its SSRC and name");
    pkt->ssrc = wire_get_be32(pkt->body);
    memcpy(pkt->app_name, pkt->body + 4, 4);
    pkt->app_data = pkt->body + 8;
    pkt->app_data_len = pkt->body_len - 8;
    return 0;
}

static int iter_fail(struct rtcp_iter *it, struct wire_error *err, size_t offset, const char *reason)
{
    it->failed = true;
    return wire_fail(err, offset, reason);
}

int rtcp_iter_next(struct rtcp_iter *it, struct rtcp_packet *pkt, struct wire_error *err)
{
    if (it->failed)
        return wire_fail(err, it->off, "RTCP compound already failed to parse");
    if (it->off >= it->len) {
        if (it->index == 0)
            return iter_fail(it, err, 0, "RTCP compound packet is empty");
        return 0;
    }
    size_t off = it->off;
    size_t rest = it->len - off;
    const uint8_t *p = it->buf + off;
    memset(pkt, 0, sizeof(*pkt));
    if (rest < RTCP_HEADER_LEN)
        return iter_fail(it, err, off, "RTCP header runs past the end of the compound");
    pkt->version = (uint8_t)(p[0] >> 6);
    pkt->padding = (p[0] & 0x20) != 0;
    pkt->count = p[0] & 0x1f;
    pkt->packet_type = p[1];
    pkt->length_words = wire_get_be16(p + 2);
    pkt->offset = off;
    pkt->ptr = p;
    pkt->len = ((size_t)pkt->length_words + 1) * 4;
    if (pkt->version != 2)
        return iter_fail(it, err, off, "RTCP version is not 2");
    if (pkt->len > rest)
        return iter_fail(it, err, off + 2, "RTCP length runs past the end of the compound");
    if (it->index == 0 && !(it->flags & RTCP_REDUCED_SIZE)) {
        if (pkt->packet_type != RTCP_SR && pkt->packet_type != RTCP_RR)
            return iter_fail(it, err, off + 1, "RTCP compound does not start with SR or RR");
        if (pkt->padding)
            return iter_fail(it, err, off, "RTCP padding bit set on the first packet of a compound");
    }
    pkt->body = p + RTCP_HEADER_LEN;
    pkt->body_len = pkt->len - RTCP_HEADER_LEN;
    if (pkt->padding) {
        if (pkt->len != rest)
            return iter_fail(it, err, off, "RTCP padding bit set on a packet that is not the last");
        uint8_t pad = p[pkt->len - 1];
        if (pad == 0)
            return iter_fail(it, err, off + pkt->len - 1, "RTCP padding count is 0");
        if (pad > pkt->body_len)
            return iter_fail(it, err, off + pkt->len - 1, "RTCP padding count is larger than the packet body");
        pkt->padding_len = pad;
        pkt->body_len -= pad;
    }

    int rc = 0;
    switch (pkt->packet_type) {
    case RTCP_SR:
    case RTCP_RR:
        rc = parse_report(pkt, off, err);
        break;
    case RTCP_SDES:
        rc = parse_sdes(pkt, off, err);
        break;
    case RTCP_BYE:
        rc = parse_bye(pkt, off, err);
        break;
    case RTCP_APP:
        rc = parse_app(pkt, off, err);
        break;
    default:
        break; /* other types (RTPFB, PSFB, XR ...) are passed as a body slice */
    }
    if (rc != 0) {
        it->failed = true;
        return rc;
    }
    it->off += pkt->len;
    it->index++;
    return (int)pkt->len;
}

int rtcp_validate(const uint8_t *buf, size_t len, unsigned flags, struct wire_error *err)
{
    struct rtcp_iter it;
    struct rtcp_packet pkt;
    rtcp_iter_init(&it, buf, len, flags);
    int n = 0, rc;
    while ((rc = rtcp_iter_next(&it, &pkt, err)) > 0)
        n++;
    return rc < 0 ? rc : n;
}

bool rtcp_sdes_item_next(const struct rtcp_sdes_chunk *chunk, size_t *pos,
                         struct rtcp_sdes_item *item)
{
    size_t i = *pos;
    /* Re-check bounds so a chunk that was not validated cannot overrun. */
    if (i + 2 > chunk->items_len || chunk->items[i] == RTCP_SDES_END)
        return false;
    size_t item_len = chunk->items[i + 1];
    if (item_len > chunk->items_len - i - 2)
        return false;
    const char *v = (const char *)(chunk->items + i + 2);
    item->type = chunk->items[i];
    item->prefix.ptr = NULL;
    item->prefix.len = 0;
    item->value.ptr = v;
    item->value.len = item_len;
    if (item->type == RTCP_SDES_PRIV) {
        size_t plen = item_len > 0 ? (uint8_t)v[0] : 0;
        if (item_len < 1 || plen > item_len - 1)
            return false;
        item->prefix.ptr = v + 1;
        item->prefix.len = plen;
        item->value.ptr = v + 1 + plen;
        item->value.len = item_len - 1 - plen;
    }
    *pos = i + 2 + item_len;
    return true;
}

void rtcp_builder_init(struct rtcp_builder *b, uint8_t *buf, size_t cap)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->last_off = 0;
    b->count = 0;
    b->padded = false;
}

/* Reserve size bytes (a multiple of 4) for a packet and write its header. */
static uint8_t *begin_packet(struct rtcp_builder *b, size_t size, unsigned count, uint8_t type,
                             struct wire_error *err)
{
    if (b->padded) {
        wire_fail(err, b->len, "RTCP packet appended after a padded packet");
        return NULL;
    }
    if (size > 65536u * 4) {
        wire_fail(err, b->len, "RTCP packet longer than the length field can say");
        return NULL;
    }
    if (size > b->cap - b->len || b->len > b->cap) {
        wire_fail(err, b->cap, "RTCP packet does not fit in the output buffer");
        return NULL;
    }
    uint8_t *p = b->buf + b->len;
    p[0] = (uint8_t)(0x80 | count);
    p[1] = type;
    wire_put_be16(p + 2, (uint16_t)(size / 4 - 1));
    return p;
}

static int end_packet(struct rtcp_builder *b, size_t size)
{
    b->last_off = b->len;
    b->len += size;
    b->count++;
    return (int)size;
}

static int check_blocks(const struct rtcp_report_block *blocks, unsigned n, struct wire_error *err)
{
    if (n > RTCP_COUNT_MAX)
        return wire_fail(err, 0, "RTCP report count above 31");
    if (n > 0 && blocks == NULL)
        return wire_fail(err, 0, "RTCP report count given without report blocks");
    for (unsigned i = 0; i < n; i++)
        if (blocks[i].cumulative_lost > 0x7fffff || blocks[i].cumulative_lost < -0x800000)
            return wire_fail(err, 0, "RTCP cumulative lost does not fit in 24 bits");
    return 0;
}

static void put_blocks(uint8_t *p, const struct rtcp_report_block *blocks, unsigned n)
{
    for (unsigned i = 0; i < n; i++, p += RTCP_REPORT_BLOCK_LEN) {
        const struct rtcp_report_block *rb = &blocks[i];
        wire_put_be32(p, rb->ssrc);
        p[4] = rb->fraction_lost;
        wire_put_be24(p + 5, (uint32_t)rb->cumulative_lost & 0xffffffu);
        wire_put_be32(p + 8, rb->ext_highest_seq);
        wire_put_be32(p + 12, rb->jitter);
        wire_put_be32(p + 16, rb->lsr);
        wire_put_be32(p + 20, rb->dlsr);
    }
}

int rtcp_add_sr(struct rtcp_builder *b, uint32_t ssrc, const struct rtcp_sender_info *si,
                const struct rtcp_report_block *blocks, unsigned block_count,
                struct wire_error *err)
{
    if (check_blocks(blocks, block_count, err) < 0)
        return WIRE_ERROR;
    size_t size = RTCP_HEADER_LEN + 4 + RTCP_SENDER_INFO_LEN + (size_t)block_count * RTCP_REPORT_BLOCK_LEN;
    uint8_t *p = begin_packet(b, size, block_count, RTCP_SR, err);
    if (!p)
        return WIRE_ERROR;
    wire_put_be32(p + 4, ssrc);
    wire_put_be32(p + 8, (uint32_t)(si->ntp_ts >> 32));
    wire_put_be32(p + 12, (uint32_t)si->ntp_ts);
    wire_put_be32(p + 16, si->rtp_ts);
    wire_put_be32(p + 20, si->packet_count);
    wire_put_be32(p + 24, si->octet_count);
    put_blocks(p + 28, blocks, block_count);
    return end_packet(b, size);
}

int rtcp_add_rr(struct rtcp_builder *b, uint32_t ssrc, const struct rtcp_report_block *blocks,
                unsigned block_count, struct wire_error *err)
{
    if (check_blocks(blocks, block_count, err) < 0)
        return WIRE_ERROR;
    size_t size = RTCP_HEADER_LEN + 4 + (size_t)block_count * RTCP_REPORT_BLOCK_LEN;
    uint8_t *p = begin_packet(b, size, block_count, RTCP_RR, err);
    if (!p)
        return WIRE_ERROR;
    wire_put_be32(p + 4, ssrc);
    put_blocks(p + 8, blocks, block_count);
    return end_packet(b, size);
}

/* Bytes an item takes on the wire, or 0 when it cannot be encoded. */
static size_t sdes_item_size(const struct rtcp_sdes_item *item)
{
    if (item->type == RTCP_SDES_END)
        return 0;
    if ((item->value.len > 0 && item->value.ptr == NULL) ||
        (item->prefix.len > 0 && item->prefix.ptr == NULL))
        return 0;
    size_t text = item->value.len;
    if (item->type == RTCP_SDES_PRIV) {
        if (item->prefix.len > 255)
            return 0;
        text += 1 + item->prefix.len;
    } else if (item->prefix.len > 0) {
        return 0;
    }
    if (text > 255)
        return 0;
    return 2 + text;
}

int rtcp_add_sdes(struct rtcp_builder *b, const struct rtcp_sdes_chunk_spec *chunks,
                  unsigned chunk_count, struct wire_error *err)
{
    if (chunk_count > RTCP_COUNT_MAX)
        return wire_fail(err, 0, "RTCP SDES chunk count above 31");
    if (chunk_count > 0 && chunks == NULL)
        return wire_fail(err, 0, "RTCP SDES chunk count given without chunks");
    size_t size = RTCP_HEADER_LEN;
    for (unsigned c = 0; c < chunk_count; c++) {
        size_t chunk = 4;
        if (chunks[c].item_count > 0 && chunks[c].items == NULL)
            return wire_fail(err, 0, "RTCP SDES item count given without items");
        for (unsigned i = 0; i < chunks[c].item_count; i++) {
            size_t n = sdes_item_size(&chunks[c].items[i]);
            if (n == 0)
                return wire_fail(err, 0, "RTCP SDES item has type 0 or text beyond 255 bytes");
            chunk += n;
        }
        size += (chunk + 4) & ~(size_t)3; /* END octet and null padding */
    }
    uint8_t *p = begin_packet(b, size, chunk_count, RTCP_SDES, err);
    if (!p)
        return WIRE_ERROR;
    size_t pos = RTCP_HEADER_LEN;
    for (unsigned c = 0; c < chunk_count; c++) {
        size_t start = pos;
        wire_put_be32(p + pos, chunks[c].ssrc);
        pos += 4;
        for (unsigned i = 0; i < chunks[c].item_count; i++) {
            const struct rtcp_sdes_item *item = &chunks[c].items[i];
            size_t n = sdes_item_size(item);
            p[pos] = item->type;
            p[pos + 1] = (uint8_t)(n - 2);
            pos += 2;
            if (item->type == RTCP_SDES_PRIV) {
                p[pos++] = (uint8_t)item->prefix.len;
                if (item->prefix.len)
                    memcpy(p + pos, item->prefix.ptr, item->prefix.len);
                pos += item->prefix.len;
            }
            if (item->value.len)
                memcpy(p + pos, item->value.ptr, item->value.len);
            pos += item->value.len;
        }
        size_t end = start + (((pos - start) + 4) & ~(size_t)3);
        memset(p + pos, 0, end - pos);
        pos = end;
    }
    return end_packet(b, size);
}

int rtcp_add_sdes_cname(struct rtcp_builder *b, uint32_t ssrc, struct wire_str cname,
                        struct wire_error *err)
{
    struct rtcp_sdes_item item = {.type = RTCP_SDES_CNAME, .value = cname};
    struct rtcp_sdes_chunk_spec chunk = {.ssrc = ssrc, .items = &item, .item_count = 1};
    return rtcp_add_sdes(b, &chunk, 1, err);
}

int rtcp_add_bye(struct rtcp_builder *b, const uint32_t *ssrc, unsigned ssrc_count,
                 struct wire_str reason, struct wire_error *err)
{
    if (ssrc_count > RTCP_COUNT_MAX)
        return wire_fail(err, 0, "RTCP BYE source count above 31");
    if (ssrc_count > 0 && ssrc == NULL)
        return wire_fail(err, 0, "RTCP BYE source count given without sources");
    bool has_reason = reason.ptr != NULL && reason.len > 0;
    if (has_reason && reason.len > 255)
        return wire_fail(err, 0, "RTCP BYE reason longer than 255 bytes");
    size_t size = RTCP_HEADER_LEN + (size_t)ssrc_count * 4;
    if (has_reason)
        size += (1 + reason.len + 3) & ~(size_t)3;
    uint8_t *p = begin_packet(b, size, ssrc_count, RTCP_BYE, err);
    if (!p)
        return WIRE_ERROR;
    size_t pos = RTCP_HEADER_LEN;
    for (unsigned i = 0; i < ssrc_count; i++, pos += 4)
        wire_put_be32(p + pos, ssrc[i]);
    if (has_reason) {
        p[pos] = (uint8_t)reason.len;
        memcpy(p + pos + 1, reason.ptr, reason.len);
        memset(p + pos + 1 + reason.len, 0, size - (pos + 1 + reason.len));
    }
    return end_packet(b, size);
}

int rtcp_add_app(struct rtcp_builder *b, uint8_t subtype, uint32_t ssrc, const char name[4],
                 const uint8_t *data, size_t data_len, struct wire_error *err)
{
    if (subtype > 31)
        return wire_fail(err, 0, "RTCP APP subtype above 31");
    if (data_len % 4 != 0)
        return wire_fail(err, 0, "RTCP APP data length is not a multiple of 4");
    if (data_len > 0 && data == NULL)
        return wire_fail(err, 0, "RTCP APP data length given without data");
    if (data_len > 65536u * 4)
        return wire_fail(err, 0, "RTCP APP data longer than the length field can say");
    size_t size = RTCP_HEADER_LEN + 8 + data_len;
    uint8_t *p = begin_packet(b, size, subtype, RTCP_APP, err);
    if (!p)
        return WIRE_ERROR;
    wire_put_be32(p + 4, ssrc);
    memcpy(p + 8, name, 4);
    if (data_len)
        memcpy(p + 12, data, data_len);
    return end_packet(b, size);
}

int rtcp_add_padding(struct rtcp_builder *b, unsigned pad_len, struct wire_error *err)
{
    if (b->count == 0)
        return wire_fail(err, b->len, "RTCP padding with no packet to pad");
    if (b->padded)
        return wire_fail(err, b->len, "RTCP last packet is already padded");
    if (pad_len < 4 || pad_len > 252 || pad_len % 4 != 0)
        return wire_fail(err, b->len, "RTCP padding length is not a multiple of 4 in 4..252");
    if (pad_len > b->cap - b->len)
        return wire_fail(err, b->cap, "RTCP padding does not fit in the output buffer");
    uint8_t *p = b->buf + b->last_off;
    size_t words = wire_get_be16(p + 2) + 1u + pad_len / 4;
    if (words > 65536)
        return wire_fail(err, b->last_off + 2, "RTCP padded packet longer than the length field can say");
    p[0] |= 0x20;
    wire_put_be16(p + 2, (uint16_t)(words - 1));
    memset(b->buf + b->len, 0, pad_len - 1);
    b->buf[b->len + pad_len - 1] = (uint8_t)pad_len;
    b->len += pad_len;
    b->padded = true;
    return (int)pad_len;
}

int32_t rtcp_cumulative_lost_clamp(int64_t lost)
{
    if (lost > 0x7fffff)
        return 0x7fffff;
    if (lost < -0x800000)
        return -0x800000;
    return (int32_t)lost;
}

uint64_t ntp_from_timespec(const struct timespec *ts)
{
    int64_t sec = (int64_t)ts->tv_sec;
    int64_t nsec = (int64_t)ts->tv_nsec;
    /* Normalise an out-of-range tv_nsec instead of producing a bad fraction. */
    sec += nsec / 1000000000;
    nsec %= 1000000000;
    if (nsec < 0) {
        nsec += 1000000000;
        sec--;
    }
    uint32_t ntp_sec = (uint32_t)((uint64_t)sec + NTP_UNIX_OFFSET);
    uint64_t frac = (((uint64_t)nsec << 32) + 500000000u) / 1000000000u;
    return ((uint64_t)ntp_sec << 32) | frac;
}

void ntp_to_timespec(uint64_t ntp, struct timespec *ts)
{
    uint32_t ntp_sec = (uint32_t)(ntp >> 32);
    uint64_t frac = ntp & 0xffffffffu;
    int64_t sec = (ntp_sec & 0x80000000u) ? (int64_t)ntp_sec - NTP_UNIX_OFFSET
                                          : (int64_t)ntp_sec + 4294967296LL - NTP_UNIX_OFFSET;
    uint64_t nsec = (frac * 1000000000u + 0x80000000u) >> 32;
    if (nsec >= 1000000000u) {
        nsec -= 1000000000u;
        sec++;
    }
    ts->tv_sec = (time_t)sec;
    ts->tv_nsec = (long)nsec;
}

uint32_t ntp_compact(uint64_t ntp)
{
    return (uint32_t)(ntp >> 16);
}

int64_t ntp_compact_to_ns(int32_t compact)
{
    return (int64_t)compact * 1000000000 / 65536;
}

bool ntp_rtt_ns(uint32_t arrival_compact, uint32_t lsr, uint32_t dlsr, int64_t *rtt_ns)
{
    if (lsr == 0)
        return false;
    uint32_t d = arrival_compact - lsr - dlsr;
    /* Two's complement view of the modular difference. */
    int32_t signed_d = d >= 0x80000000u ? -(int32_t)(~d) - 1 : (int32_t)d;
    *rtt_ns = ntp_compact_to_ns(signed_d);
    return true;
}
