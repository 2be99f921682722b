/* JPEG/JFIF marker-segment parser: walks SOI, APPn, COM, DQT, SOF, DHT,
 * DRI, SOS and the entropy-coded scan up to EOI, and describes the frame in
 * a struct jpeg_info whose slices point into the caller's buffer. It knows
 * what RFC 2435 needs (sampling, quantization tables, restart interval,
 * whether the Huffman tables are the standard ones of JPEG Annex K.3, the
 * scan bytes) and what a receiver needs to identify a test frame (the
 * "rtsp-harness frame N" comment). It decodes no pixels.
 *
 * The buffer is one whole JPEG (JPEGs arrive framed: a .Mjpeg length, an
 * RTP frame), so a JPEG cut short is an error, never WIRE_INCOMPLETE.
 */
#ifndef RTSP_HARNESS_JPEG_H
#define RTSP_HARNESS_JPEG_H

#include "wire.h"

#define JPEG_MAX_COMPONENTS 4 /* more than 4 components is rejected */
#define JPEG_MAX_COMMENTS 8   /* COM slices kept; comment_count counts all */

/* Marker codes (the byte after 0xFF). */
enum {
    JPEG_SOF0 = 0xC0, /* baseline DCT, Huffman */
    JPEG_SOF1 = 0xC1, /* extended sequential DCT, Huffman */
    JPEG_SOF2 = 0xC2, /* progressive DCT, Huffman */
    JPEG_DHT = 0xC4,
    JPEG_DAC = 0xCC,
    JPEG_RST0 = 0xD0,
    JPEG_SOI = 0xD8,
    JPEG_EOI = 0xD9,
    JPEG_SOS = 0xDA,
    JPEG_DQT = 0xDB,
    JPEG_DNL = 0xDC,
    JPEG_DRI = 0xDD,
    JPEG_APP0 = 0xE0,
    JPEG_COM = 0xFE,
};

/* One frame component, from SOF (and its table selectors from the first SOS). */
struct jpeg_component {
    uint8_t id;       /* component identifier (libjpeg writes 1, 2, 3) */
    uint8_t h;        /* horizontal sampling factor, 1..4 */
    uint8_t v;        /* vertical sampling factor, 1..4 */
    uint8_t tq;       /* quantization table selector, 0..3 */
    uint8_t td;       /* DC Huffman table selector in the first scan */
    uint8_t ta;       /* AC Huffman table selector in the first scan */
    bool in_scan;     /* the first scan codes this component */
    uint8_t scan_pos; /* position in the first scan's component list */
};

/* One quantization table as DQT carries it: zigzag order. */
struct jpeg_qtable {
    bool defined;        /* a DQT defined this table id */
    uint8_t precision;   /* 0: 8-bit entries, 1: 16-bit entries */
    uint16_t value[64];  /* entries in zigzag (DQT) order */
};

/* What jpeg_parse learned about one JPEG. Slices point into its buffer. */
struct jpeg_info {
    uint8_t sof_marker;        /* 0xC0 for baseline (other SOFs only via jpeg_frame_number) */
    uint8_t precision;         /* sample precision in bits (8 for baseline) */
    uint16_t width;            /* samples per line, > 0 */
    uint16_t height;           /* lines, > 0 (DNL is not supported) */
    uint8_t ncomponents;       /* 1..JPEG_MAX_COMPONENTS */
    struct jpeg_component comp[JPEG_MAX_COMPONENTS]; /* in SOF order */
    struct jpeg_qtable qt[4];  /* by table id; last definition before the first SOS */
    uint16_t restart_interval; /* MCUs per restart interval in force at the first SOS; 0: none */
    bool huffman_standard;     /* every DHT table is the Annex K.3 one for its slot (0 luma, 1 chroma) and no slot 2/3 is defined */
    uint8_t dht_defined;       /* bit (class*4 + id): that Huffman table was defined by a DHT */
    uint8_t scan_ncomponents;  /* components in the first scan */
    unsigned scan_count;       /* number of SOS segments (baseline may split components into scans) */
    struct wire_str scan;      /* first scan's entropy-coded data: after its SOS header, before the next marker (RSTn and stuffing kept) */
    size_t sos_offset;         /* offset of the first SOS marker */
    size_t eoi_offset;         /* offset of the EOI marker */
    size_t comment_count;      /* COM segments seen (may exceed JPEG_MAX_COMMENTS) */
    struct wire_str comment[JPEG_MAX_COMMENTS]; /* COM payloads, first JPEG_MAX_COMMENTS */
    bool jfif;                 /* an APP0 "JFIF\0" segment is present */
    bool has_frame_number;     /* a COM segment is a frame identity comment */
    uint32_t frame_number;     /* N of the first such comment */
};

/* Parse a whole baseline JPEG (SOF0). Returns bytes consumed through EOI
 * (bytes after EOI are ignored and not counted), or WIRE_ERROR with err
 * naming the offset and reason. Other processes (SOF1, progressive,
 * lossless, arithmetic, hierarchical) are reported as unsupported. */
int jpeg_parse(const uint8_t *jpeg, size_t len, struct jpeg_info *info, struct wire_error *err);

/* Text of the frame identity comment: COM payload exactly
 * "rtsp-harness frame N", N decimal without leading zeros, 1..4294967295. */
#define JPEG_FRAME_COMMENT_PREFIX "rtsp-harness frame "

/* Find the frame identity comment. Returns 1 and sets *number when found,
 * 0 when the JPEG is well formed but has none, WIRE_ERROR when the marker
 * structure is malformed. Any SOF process is accepted here, so a
 * progressive test frame can still be identified. */
int jpeg_frame_number(const uint8_t *jpeg, size_t len, uint32_t *number, struct wire_error *err);

/* Tables of JPEG Annex K shared with the RTP/JPEG code. */
extern const uint8_t jpeg_zigzag_to_natural[64]; /* zigzag index -> natural (row-major) index */
extern const uint8_t jpeg_std_luma_quant[64];    /* Table K.1, natural order */
extern const uint8_t jpeg_std_chroma_quant[64];  /* Table K.2, natural order */

/* A Huffman table as DHT carries it. */
struct jpeg_huffman_table {
    uint8_t bits[16];      /* number of codes of each length 1..16 */
    const uint8_t *values; /* symbols, sum(bits) of them */
    size_t nvalues;        /* sum(bits) */
};
/* Annex K.3 tables: [0] DC luma, [1] DC chroma, [2] AC luma, [3] AC chroma. */
extern const struct jpeg_huffman_table jpeg_std_huffman[4];

#endif
