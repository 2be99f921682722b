/* JPEG/JFIF marker-segment parser (see jpeg.h) and the JPEG Annex K tables
 * that the RTP/JPEG packetizer and depacketizer share with it. */
#include "jpeg.h"

#include <string.h>

const uint8_t jpeg_zigzag_to_natural[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

const uint8_t jpeg_std_luma_quant[64] = {
    16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
    14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
    18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
};

const uint8_t jpeg_std_chroma_quant[64] = {
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
};

static const uint8_t dc_values[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

static const uint8_t ac_luma_values[162] = {
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51,
    0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1,
    0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18,
    0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
    0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57,
    0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75,
    0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92,
    0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
    0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8,
    0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2,
    0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
};

static const uint8_t ac_chroma_values[162] = {
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07,
    0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09,
    0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25,
    0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38,
    0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56,
    0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74,
    0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba,
    0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6,
    0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2,
    0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
};

const struct jpeg_huffman_table jpeg_std_huffman[4] = {
    {{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, dc_values, 12},
    {{0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, dc_values, 12},
    {{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d}, ac_luma_values, 162},
    {{0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77}, ac_chroma_values, 162},
};

/* Why a SOF other than SOF0 is refused; NULL for markers that are not SOFs. */
static const char *unsupported_process(uint8_t m)
{
    switch (m) {
    case 0xC1: return "extended sequential JPEG (SOF1) is not supported, only baseline (SOF0)";
    case 0xC2: return "progressive JPEG (SOF2) is not supported, only baseline (SOF0)";
    case 0xC3: return "lossless JPEG (SOF3) is not supported, only baseline (SOF0)";
    case 0xC5: case 0xC6: case 0xC7:
        return "hierarchical JPEG (SOF5-7) is not supported, only baseline (SOF0)";
    case 0xC9: case 0xCA: case 0xCB:
        return "arithmetic-coded JPEG (SOF9-11) is not supported, only baseline (SOF0)";
    case 0xCD: case 0xCE: case 0xCF:
        return "hierarchical arithmetic-coded JPEG (SOF13-15) is not supported, only baseline (SOF0)";
    default: return NULL;
    }
}

/* Parse "rtsp-harness frame N" exactly; false for anything else. */
static bool parse_frame_comment(const uint8_t *s, size_t n, uint32_t *number)
{
    size_t plen = sizeof JPEG_FRAME_COMMENT_PREFIX - 1;
    if (n <= plen || n > plen + 10 || memcmp(s, JPEG_FRAME_COMMENT_PREFIX, plen) != 0)
        return false;
    if (s[plen] == '0')
        return false;
    uint64_t v = 0;
    for (size_t i = plen; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *number = (uint32_t)v;
    return true;
}

/* Find where entropy-coded data starting at pos ends: the first 0xFF that
 * begins a marker other than stuffing (0xFF00) or RSTn. Fill bytes (0xFF
 * runs) before a marker belong to the marker. */
static int scan_end(const uint8_t *b, size_t len, size_t pos, size_t *end, struct wire_error *err)
{
    while (pos < len) {
        const uint8_t *ff = memchr(b + pos, 0xFF, len - pos);
        if (!ff)
            break;
        size_t i = (size_t)(ff - b);
        size_t j = i + 1;
        while (j < len && b[j] == 0xFF)
            j++;
        if (j >= len)
            return wire_fail(err, i, "truncated: scan data ends inside a marker, no EOI");
        if (b[j] == 0x00 || (b[j] >= 0xD0 && b[j] <= 0xD7)) {
            pos = j + 1;
            continue;
        }
        *end = i;
        return 0;
    }
    return wire_fail(err, len, "truncated: scan data not terminated by a marker, no EOI");
}

static int parse_sof(const uint8_t *s, size_t slen, size_t soff, uint8_t m, struct jpeg_info *info,
                     struct wire_error *err)
{
    if (slen < 6)
        return wire_fail(err, soff, "SOF segment shorter than its fixed fields");
    unsigned nf = s[5];
    if (slen != 6 + 3 * (size_t)nf)
        return wire_fail(err, soff + 5, "SOF length does not match its component count");
    info->sof_marker = m;
    info->precision = s[0];
    info->height = wire_get_be16(s + 1);
    info->width = wire_get_be16(s + 3);
    if (m != JPEG_SOF0) {
        /* Only jpeg_frame_number gets here; it needs the structure, not the frame. */
        info->ncomponents = 0;
        return 0;
    }
    if (info->precision != 8)
        return wire_fail(err, soff, "baseline SOF0 with sample precision other than 8 bits");
    if (info->height == 0)
        return wire_fail(err, soff + 1, "frame height 0 (defined later by DNL) is not supported");
    if (info->width == 0)
        return wire_fail(err, soff + 3, "frame width is 0");
    if (nf == 0 || nf > JPEG_MAX_COMPONENTS)
        return wire_fail(err, soff + 5, "bad component count (must be 1 to 4)");
    info->ncomponents = (uint8_t)nf;
    for (unsigned i = 0; i < nf; i++) {
        const uint8_t *c = s + 6 + 3 * i;
        size_t coff = soff + 6 + 3 * i;
        struct jpeg_component *jc = &info->comp[i];
        for (unsigned k = 0; k < i; k++)
            if (info->comp[k].id == c[0])
                return wire_fail(err, coff, "duplicate component id in SOF");
        jc->id = c[0];
        jc->h = c[1] >> 4;
        jc->v = c[1] & 15;
        jc->tq = c[2];
        if (jc->h < 1 || jc->h > 4 || jc->v < 1 || jc->v > 4)
            return wire_fail(err, coff + 1, "bad sampling factor (must be 1 to 4)");
        if (jc->tq > 3)
            return wire_fail(err, coff + 2, "quantization table selector above 3");
    }
    return 0;
}

static int parse_dqt(const uint8_t *s, size_t slen, size_t soff, bool record,
                     struct jpeg_info *info, struct wire_error *err)
{
    size_t i = 0;
    if (slen == 0)
        return wire_fail(err, soff, "empty DQT segment");
    while (i < slen) {
        unsigned pq = s[i] >> 4, tq = s[i] & 15;
        if (pq > 1)
            return wire_fail(err, soff + i, "bad quantization table precision (must be 0 or 1)");
        if (tq > 3)
            return wire_fail(err, soff + i, "quantization table id above 3");
        size_t n = 64 * (pq + 1);
        if (slen - i - 1 < n)
            return wire_fail(err, soff + i, "quantization table extends beyond the DQT segment");
        const uint8_t *v = s + i + 1;
        struct jpeg_qtable qt = {.defined = true, .precision = (uint8_t)pq};
        for (unsigned k = 0; k < 64; k++) {
            qt.value[k] = pq ? wire_get_be16(v + 2 * k) : v[k];
            if (qt.value[k] == 0)
                return wire_fail(err, soff + i + 1 + (pq + 1) * k, "quantization table entry is 0");
        }
        if (record)
            info->qt[tq] = qt;
        i += 1 + n;
    }
    return 0;
}

static int parse_dht(const uint8_t *s, size_t slen, size_t soff, bool record,
                     struct jpeg_info *info, struct wire_error *err)
{
    size_t i = 0;
    if (slen == 0)
        return wire_fail(err, soff, "empty DHT segment");
    while (i < slen) {
        unsigned tc = s[i] >> 4, th = s[i] & 15;
        if (tc > 1)
            return wire_fail(err, soff + i, "bad Huffman table class (must be 0 or 1)");
        if (th > 3)
            return wire_fail(err, soff + i, "Huffman table id above 3");
        if (slen - i < 17)
            return wire_fail(err, soff + i, "Huffman table counts extend beyond the DHT segment");
        size_t count = 0;
        for (unsigned k = 0; k < 16; k++)
            count += s[i + 1 + k];
        if (count > 256)
            return wire_fail(err, soff + i + 1, "Huffman table with more than 256 codes");
        if (slen - i - 17 < count)
            return wire_fail(err, soff + i + 17, "Huffman table values extend beyond the DHT segment");
        if (record) {
            info->dht_defined |= (uint8_t)(1u << (tc * 4 + th));
            bool standard = false;
            if (th <= 1) {
                const struct jpeg_huffman_table *t = &jpeg_std_huffman[tc * 2 + th];
                standard = count == t->nvalues && memcmp(s + i + 1, t->bits, 16) == 0 &&
                           memcmp(s + i + 17, t->values, count) == 0;
            }
            if (!standard)
                info->huffman_standard = false;
        }
        i += 17 + count;
    }
    return 0;
}

static int parse_sos(const uint8_t *s, size_t slen, size_t soff, struct jpeg_info *info,
                     struct wire_error *err)
{
    if (slen < 1)
        return wire_fail(err, soff, "empty SOS segment");
    unsigned ns = s[0];
    if (slen != 1 + 2 * (size_t)ns + 3)
        return wire_fail(err, soff, "SOS length does not match its component count");
    if (ns < 1 || ns > 4)
        return wire_fail(err, soff, "bad scan component count (must be 1 to 4)");
    if (info->sof_marker != JPEG_SOF0)
        return 0;
    bool first = info->scan_count == 0;
    if (ns > info->ncomponents)
        return wire_fail(err, soff, "scan has more components than the frame");
    bool seen[JPEG_MAX_COMPONENTS] = {false};
    for (unsigned i = 0; i < ns; i++) {
        const uint8_t *c = s + 1 + 2 * i;
        size_t coff = soff + 1 + 2 * i;
        unsigned k;
        for (k = 0; k < info->ncomponents; k++)
            if (info->comp[k].id == c[0])
                break;
        if (k == info->ncomponents)
            return wire_fail(err, coff, "scan component is not a frame component");
        if (seen[k])
            return wire_fail(err, coff, "component listed twice in one scan");
        seen[k] = true;
        unsigned td = c[1] >> 4, ta = c[1] & 15;
        if (td > 3 || ta > 3)
            return wire_fail(err, coff + 1, "Huffman table selector above 3");
        if (first) {
            struct jpeg_component *jc = &info->comp[k];
            jc->td = (uint8_t)td;
            jc->ta = (uint8_t)ta;
            jc->in_scan = true;
            jc->scan_pos = (uint8_t)i;
            /* Slots 2 and 3 have no Annex K table to stand for. */
            if (td > 1 || ta > 1)
                info->huffman_standard = false;
        }
    }
    const uint8_t *p = s + 1 + 2 * ns;
    if (p[0] != 0 || p[1] != 63 || p[2] != 0)
        return wire_fail(err, soff + 1 + 2 * ns, "scan parameters are not baseline (Ss=0, Se=63, Ah=Al=0)");
    if (first)
        info->scan_ncomponents = (uint8_t)ns;
    return 0;
}

/* Walk the whole JPEG. any_process lets SOFs other than SOF0 through (for
 * frame identification); their frame and scan contents are not checked. */
static int walk(const uint8_t *b, size_t len, struct jpeg_info *info, bool any_process,
                struct wire_error *err)
{
    memset(info, 0, sizeof *info);
    info->huffman_standard = true;
    if (len < 2 || b[0] != 0xFF || b[1] != JPEG_SOI)
        return wire_fail(err, 0, "missing SOI marker at the start");
    size_t pos = 2;
    bool seen_sof = false;
    for (;;) {
        if (pos >= len)
            return wire_fail(err, pos, "truncated: no EOI marker");
        if (b[pos] != 0xFF)
            return wire_fail(err, pos, "expected a marker (0xFF) between segments");
        size_t mpos = pos;
        while (pos < len && b[pos] == 0xFF)
            pos++;
        if (pos >= len)
            return wire_fail(err, mpos, "truncated: buffer ends inside a marker");
        uint8_t m = b[pos++];
        if (m == JPEG_EOI) {
            if (!seen_sof)
                return wire_fail(err, mpos, "no SOF segment before EOI");
            if (info->scan_count == 0)
                return wire_fail(err, mpos, "no SOS segment before EOI");
            info->eoi_offset = mpos;
            return (int)(pos > (size_t)INT32_MAX ? INT32_MAX : pos);
        }
        if (m == 0x00)
            return wire_fail(err, mpos, "stuffed 0xFF00 outside scan data");
        if (m == JPEG_SOI)
            return wire_fail(err, mpos, "second SOI marker inside the image");
        if (m >= 0xD0 && m <= 0xD7)
            return wire_fail(err, mpos, "RST marker outside scan data");
        if (m == 0x01)
            continue; /* TEM: standalone, no length */
        if (m < 0xC0)
            return wire_fail(err, mpos, "reserved marker code");
        if (len - pos < 2)
            return wire_fail(err, pos, "truncated: segment length missing");
        size_t seglen = wire_get_be16(b + pos);
        if (seglen < 2)
            return wire_fail(err, pos, "segment length below 2");
        if (seglen > len - pos)
            return wire_fail(err, pos, "segment length beyond the buffer");
        const uint8_t *s = b + pos + 2;
        size_t slen = seglen - 2, soff = pos + 2;
        bool before_scan = info->scan_count == 0;
        int rc = 0;
        const char *why = NULL;
        if (m == JPEG_DHT) {
            rc = parse_dht(s, slen, soff, before_scan, info, err);
        } else if (m == JPEG_DQT) {
            rc = parse_dqt(s, slen, soff, before_scan, info, err);
        } else if (m == JPEG_SOF0 || (why = unsupported_process(m)) != NULL) {
            if (m != JPEG_SOF0 && !any_process)
                return wire_fail(err, mpos, why);
            if (seen_sof)
                return wire_fail(err, mpos, "more than one SOF segment");
            seen_sof = true;
            rc = parse_sof(s, slen, soff, m, info, err);
        } else if (m == JPEG_DRI) {
            if (slen != 2)
                return wire_fail(err, pos, "DRI segment length is not 4");
            if (before_scan)
                info->restart_interval = wire_get_be16(s);
        } else if (m == JPEG_DNL) {
            return wire_fail(err, mpos, "DNL marker is not supported");
        } else if (m == JPEG_SOS) {
            if (!seen_sof)
                return wire_fail(err, mpos, "SOS before any SOF segment");
            rc = parse_sos(s, slen, soff, info, err);
        } else if (m == JPEG_COM) {
            if (info->comment_count < JPEG_MAX_COMMENTS)
                info->comment[info->comment_count] = (struct wire_str){(const char *)s, slen};
            info->comment_count++;
            uint32_t n;
            if (!info->has_frame_number && parse_frame_comment(s, slen, &n)) {
                info->has_frame_number = true;
                info->frame_number = n;
            }
        } else if (m == JPEG_APP0) {
            if (slen >= 5 && memcmp(s, "JFIF", 5) == 0)
                info->jfif = true;
        }
        /* Any other marker (APPn, JPGn, DAC, DHP, EXP) is skipped by its length. */
        if (rc != 0)
            return rc;
        pos += seglen;
        if (m == JPEG_SOS) {
            size_t end;
            if (scan_end(b, len, pos, &end, err) != 0)
                return WIRE_ERROR;
            if (info->scan_count == 0) {
                info->sos_offset = mpos;
                info->scan = (struct wire_str){(const char *)b + pos, end - pos};
            }
            info->scan_count++;
            pos = end;
        }
    }
}

int jpeg_parse(const uint8_t *jpeg, size_t len, struct jpeg_info *info, struct wire_error *err)
{
    if (len > (size_t)INT32_MAX)
        return wire_fail(err, 0, "JPEG larger than 2 GiB");
    return walk(jpeg, len, info, false, err);
}

int jpeg_frame_number(const uint8_t *jpeg, size_t len, uint32_t *number, struct wire_error *err)
{
    struct jpeg_info info;
    if (len > (size_t)INT32_MAX)
        return wire_fail(err, 0, "JPEG larger than 2 GiB");
    if (walk(jpeg, len, &info, true, err) < 0)
        return WIRE_ERROR;
    if (!info.has_frame_number)
        return 0;
    *number = info.frame_number;
    return 1;
}
