/* Per-stream series and thumbnails: see series.h. The rules:
 *   - a loss, for the thumbnails, is a gap recorded or a frame given up
 *     since the previous complete frame; it is judged when the next
 *     complete frame arrives, so a packet that came late but before that
 *     frame has already taken its gap back (series_record_late);
 *   - a loss whose gaps are all taken back later still (the late packet
 *     came after the next frame) withdraws its thumbnails, unless a frame
 *     was also given up;
 *   - the last slot is kept for "last" and the first complete frame takes
 *     the first; loss and corrupt thumbnails share the rest, first come,
 *     a before/after pair only when both fit;
 *   - a frame gets at most one thumbnail (priority first, corrupt,
 *     after-loss); the frame before a loss is skipped when it already has
 *     one. */
#include "series.h"

#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#define FRAMES_INITIAL 256
#define GAPS_INITIAL 16
#define DECODE_MAX_SIDE 16384 /* larger claimed JPEGs are not decoded (as the analysis) */

static const char REASON_FIRST[] = "first";
static const char REASON_LAST[] = "last";
static const char REASON_BEFORE[] = "before-loss";
static const char REASON_AFTER[] = "after-loss";
static const char REASON_CORRUPT[] = "corrupt";

/* What a gap needs besides what the report shows. */
struct gap_state {
    uint32_t ext_first; /* extended first missing seq, to place late packets */
    uint64_t gen;       /* complete frames recorded before it showed: the loss it belongs to */
};

struct series_recorder {
    struct rtp_series out;          /* what series_recorder_result returns */
    size_t heap;                    /* bytes allocated now */
    size_t frames_cap;              /* entries allocated in out.frames */
    size_t gaps_cap;                /* entries allocated in out.gaps and gap_state */
    struct gap_state *gap_state;    /* beside out.gaps */
    size_t fillable_from;           /* gaps before this index are from before an A.1 re-sync */
    uint64_t frames_seen;           /* complete frames so far, past the cap too */
    bool incomplete_since;          /* a frame was given up since the last complete one */
    uint64_t thumb_gen[SERIES_MAX_THUMBS]; /* loss thumbnails that gaps alone caused: their gen + 1; else 0 */

    uint8_t *last;                  /* copy of the last complete frame's JPEG */
    size_t last_len;                /* its bytes */
    size_t last_cap;                /* allocated */
    bool have_last;                 /* last holds that frame (false after a failed copy) */
    struct series_frame last_fr;    /* its entry */

    void *dec;                      /* tjhandle for decompression, made at the first thumbnail */
    void *enc;                      /* tjhandle for compression */
    uint8_t *rgb;                   /* decoded thumbnail pixels */
    size_t rgb_cap;                 /* allocated */
};

struct series_recorder *series_recorder_new(void)
{
    struct series_recorder *r = calloc(1, sizeof *r);
    if (r)
        r->heap = sizeof *r;
    return r;
}

static void release_work_buffers(struct series_recorder *r)
{
    free(r->last);
    free(r->rgb);
    r->heap -= r->last_cap + r->rgb_cap;
    r->last = r->rgb = NULL;
    r->last_cap = r->rgb_cap = 0;
    r->have_last = false;
    if (r->dec)
        tjDestroy(r->dec);
    if (r->enc)
        tjDestroy(r->enc);
    r->dec = r->enc = NULL;
}

void series_recorder_free(struct series_recorder *r)
{
    if (!r)
        return;
    release_work_buffers(r);
    free(r->out.frames);
    free(r->out.gaps);
    free(r->gap_state);
    for (size_t i = 0; i < r->out.n_thumbs; i++)
        free(r->out.thumbs[i].jpeg);
    free(r);
}

const struct rtp_series *series_recorder_result(const struct series_recorder *r)
{
    return &r->out;
}

size_t series_recorder_memory(const struct series_recorder *r)
{
    return r->heap;
}

/* ---- thumbnails --------------------------------------------------------- */

/* The largest DCT scaling factor, at most 1/1, giving a width of at most
 * SERIES_THUMB_MAX_WIDTH; 1/8 when none does (box_reduce then finishes). */
static tjscalingfactor thumb_scale(int width)
{
    tjscalingfactor best = {1, 8};
    int n = 0;
    const tjscalingfactor *sf = tjGetScalingFactors(&n);
    for (int i = 0; sf && i < n; i++) {
        if (sf[i].num > sf[i].denom || TJSCALED(width, sf[i]) > SERIES_THUMB_MAX_WIDTH)
            continue;
        if (sf[i].num * best.denom > best.num * sf[i].denom)
            best = sf[i];
    }
    return best;
}

/* Average step x step blocks of an RGB picture in place (each output
 * pixel is written after every input it reads, and before any input a
 * later one reads). */
static void box_reduce(uint8_t *rgb, int w, int h, int step, int *ow, int *oh)
{
    int tw = w / step > 0 ? w / step : 1;
    int th = h / step > 0 ? h / step : 1;
    int bw = w < step ? w : step, bh = h < step ? h : step;
    for (int y = 0; y < th; y++)
        for (int x = 0; x < tw; x++)
            for (int c = 0; c < 3; c++) {
                unsigned sum = 0;
                for (int dy = 0; dy < bh; dy++)
                    for (int dx = 0; dx < bw; dx++)
                        sum += rgb[(((size_t)(y * step + dy) * (size_t)w) + (size_t)(x * step + dx)) * 3 + (size_t)c];
                rgb[((size_t)y * (size_t)tw + (size_t)x) * 3 + (size_t)c] = (uint8_t)(sum / (unsigned)(bw * bh));
            }
    *ow = tw;
    *oh = th;
}

/* Decode jpeg small and append it as a thumbnail. A frame whose header
 * reads but whose data does not decode cleanly still gives what was
 * decoded (the rest mid-grey). Returns the thumbnail's index, or -1 (no
 * room, no header, out of memory). */
static int thumb_add(struct series_recorder *r, const uint8_t *jpeg, size_t len, const struct series_frame *fr,
                     const char *reason)
{
    if (r->out.n_thumbs >= SERIES_MAX_THUMBS || !jpeg || len == 0)
        return -1;
    if (!r->dec && !(r->dec = tjInitDecompress()))
        return -1;
    int w = 0, h = 0, subsamp = 0, cs = 0;
    if (tjDecompressHeader3(r->dec, jpeg, (unsigned long)len, &w, &h, &subsamp, &cs) != 0 || w <= 0 ||
        h <= 0 || w > DECODE_MAX_SIDE || h > DECODE_MAX_SIDE)
        return -1;
    tjscalingfactor sf = thumb_scale(w);
    int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
    size_t need = (size_t)sw * (size_t)sh * 3;
    if (need > r->rgb_cap) {
        uint8_t *bigger = realloc(r->rgb, need);
        if (!bigger)
            return -1;
        r->heap += need - r->rgb_cap;
        r->rgb = bigger;
        r->rgb_cap = need;
    }
    memset(r->rgb, 0x80, need);
    /* Failure here is a corrupt frame: keep whatever rows came out. */
    tjDecompress2(r->dec, jpeg, (unsigned long)len, r->rgb, sw, 0, sh, TJPF_RGB, 0);
    int tw = sw, th = sh;
    if (sw > SERIES_THUMB_MAX_WIDTH)
        box_reduce(r->rgb, sw, sh, (sw + SERIES_THUMB_MAX_WIDTH - 1) / SERIES_THUMB_MAX_WIDTH, &tw, &th);

    if (!r->enc && !(r->enc = tjInitCompress()))
        return -1;
    unsigned char *out = NULL;
    unsigned long out_len = 0;
    if (tjCompress2(r->enc, r->rgb, tw, 0, th, TJPF_RGB, &out, &out_len, TJSAMP_420, SERIES_THUMB_QUALITY, 0) != 0) {
        tjFree(out);
        return -1;
    }
    unsigned char *copy = malloc(out_len);
    if (copy)
        memcpy(copy, out, out_len);
    tjFree(out);
    if (!copy)
        return -1;
    size_t i = r->out.n_thumbs++;
    r->out.thumbs[i] = (struct series_thumb){
        .t_ns = fr->t_ns,
        .pcap_frame = fr->pcap_frame,
        .rtp_ts = fr->rtp_ts,
        .reason = reason,
        .width = tw,
        .height = th,
        .jpeg = copy,
        .jpeg_len = out_len,
    };
    r->thumb_gen[i] = 0;
    r->heap += out_len;
    return (int)i;
}

static bool has_thumb(const struct series_recorder *r, uint64_t pcap_frame)
{
    for (size_t i = 0; i < r->out.n_thumbs; i++)
        if (r->out.thumbs[i].pcap_frame == pcap_frame)
            return true;
    return false;
}

/* Withdraw the thumbnails of a loss (gen) that turned out to be none. */
static void thumbs_withdraw(struct series_recorder *r, uint64_t gen)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->out.n_thumbs; i++) {
        if (r->thumb_gen[i] == gen + 1) {
            free(r->out.thumbs[i].jpeg);
            r->heap -= r->out.thumbs[i].jpeg_len;
            continue;
        }
        r->out.thumbs[kept] = r->out.thumbs[i];
        r->thumb_gen[kept++] = r->thumb_gen[i];
    }
    r->out.n_thumbs = kept;
}

/* ---- gaps ---------------------------------------------------------------- */

static bool gaps_room(struct series_recorder *r)
{
    if (r->out.n_gaps < r->gaps_cap)
        return true;
    if (r->gaps_cap >= SERIES_MAX_GAPS)
        return false;
    size_t cap = r->gaps_cap ? r->gaps_cap * 2 : GAPS_INITIAL;
    if (cap > SERIES_MAX_GAPS)
        cap = SERIES_MAX_GAPS;
    struct series_gap *g = realloc(r->out.gaps, cap * sizeof *g);
    if (!g)
        return false;
    r->out.gaps = g;
    struct gap_state *st = realloc(r->gap_state, cap * sizeof *st);
    if (!st)
        return false; /* out.gaps grew but gaps_cap did not: the next try reallocs it again */
    r->gap_state = st;
    r->heap += (cap - r->gaps_cap) * (sizeof *g + sizeof *st);
    r->gaps_cap = cap;
    return true;
}

void series_record_gap(struct series_recorder *r, uint32_t ext_first, uint32_t count, int64_t t_ns,
                       uint64_t pcap_frame)
{
    if (!gaps_room(r)) {
        r->out.gaps_truncated = true;
        r->incomplete_since = true; /* still a loss for the thumbnails, one no late packet withdraws */
        return;
    }
    size_t i = r->out.n_gaps++;
    r->out.gaps[i] = (struct series_gap){(uint16_t)ext_first, count, t_ns, pcap_frame};
    r->gap_state[i] = (struct gap_state){ext_first, r->frames_seen};
}

static void gap_remove(struct series_recorder *r, size_t i)
{
    size_t after = r->out.n_gaps - i - 1;
    memmove(&r->out.gaps[i], &r->out.gaps[i + 1], after * sizeof r->out.gaps[0]);
    memmove(&r->gap_state[i], &r->gap_state[i + 1], after * sizeof r->gap_state[0]);
    r->out.n_gaps--;
}

/* Gaps are in extended-seq order within an epoch and in gen order
 * overall, so both searches walk back from the newest and stop early. */
static bool gen_has_gap(const struct series_recorder *r, uint64_t gen)
{
    for (size_t i = r->out.n_gaps; i-- > 0 && r->gap_state[i].gen >= gen;)
        if (r->gap_state[i].gen == gen)
            return true;
    return false;
}

void series_record_late(struct series_recorder *r, uint32_t ext_seq)
{
    for (size_t i = r->out.n_gaps; i-- > r->fillable_from;) {
        struct series_gap *g = &r->out.gaps[i];
        struct gap_state *st = &r->gap_state[i];
        if (ext_seq >= st->ext_first + g->count)
            return; /* after this gap, so in none */
        if (ext_seq < st->ext_first)
            continue;
        uint32_t at = ext_seq - st->ext_first;
        if (g->count == 1) {
            uint64_t gen = st->gen;
            gap_remove(r, i);
            if (!gen_has_gap(r, gen) && gen < r->frames_seen)
                thumbs_withdraw(r, gen);
        } else if (at == 0) {
            st->ext_first++;
            g->first_seq++;
            g->count--;
        } else if (at == g->count - 1) {
            g->count--;
        } else if (gaps_room(r)) {
            /* The middle: split in two, both after the same packet. */
            g = &r->out.gaps[i];
            st = &r->gap_state[i];
            memmove(&r->out.gaps[i + 2], &r->out.gaps[i + 1], (r->out.n_gaps - i - 1) * sizeof *g);
            memmove(&r->gap_state[i + 2], &r->gap_state[i + 1], (r->out.n_gaps - i - 1) * sizeof *st);
            r->out.n_gaps++;
            r->out.gaps[i + 1] = (struct series_gap){(uint16_t)(ext_seq + 1), g->count - at - 1, g->t_ns,
                                                     g->pcap_frame};
            r->gap_state[i + 1] = (struct gap_state){ext_seq + 1, st->gen};
            g->count = at;
        } else {
            g->count = at; /* no room for the second part */
            r->out.gaps_truncated = true;
        }
        return;
    }
}

void series_record_resync(struct series_recorder *r)
{
    r->fillable_from = r->out.n_gaps;
}

void series_record_incomplete(struct series_recorder *r)
{
    r->incomplete_since = true;
}

/* ---- frames -------------------------------------------------------------- */

static void frame_append(struct series_recorder *r, const struct series_frame *fr)
{
    if (r->out.frames_truncated)
        return;
    if (r->out.n_frames == r->frames_cap) {
        size_t cap = r->frames_cap ? r->frames_cap * 2 : FRAMES_INITIAL;
        if (cap > SERIES_MAX_FRAMES)
            cap = SERIES_MAX_FRAMES;
        struct series_frame *bigger = cap > r->frames_cap ? realloc(r->out.frames, cap * sizeof *bigger) : NULL;
        if (!bigger) {
            r->out.frames_truncated = true;
            return;
        }
        r->heap += (cap - r->frames_cap) * sizeof *bigger;
        r->out.frames = bigger;
        r->frames_cap = cap;
    }
    r->out.frames[r->out.n_frames++] = *fr;
}

/* Keep a copy of the frame for a "before-loss" or "last" thumbnail. */
static void last_keep(struct series_recorder *r, const uint8_t *jpeg, size_t len, const struct series_frame *fr)
{
    r->have_last = false;
    if (!jpeg || len == 0)
        return;
    if (len > r->last_cap) {
        uint8_t *bigger = realloc(r->last, len);
        if (!bigger)
            return;
        r->heap += len - r->last_cap;
        r->last = bigger;
        r->last_cap = len;
    }
    memcpy(r->last, jpeg, len);
    r->last_len = len;
    r->last_fr = *fr;
    r->have_last = true;
}

void series_record_frame(struct series_recorder *r, const uint8_t *jpeg, size_t len,
                         const struct series_frame *fr, bool corrupt)
{
    frame_append(r, fr);
    uint64_t gen = r->frames_seen;
    bool gap_loss = gen_has_gap(r, gen);
    bool loss = gen > 0 && (r->incomplete_since || gap_loss);
    /* A loss that only gaps made is withdrawn if late packets fill them. */
    uint64_t tag = loss && !r->incomplete_since ? gen + 1 : 0;
    size_t room = r->out.n_thumbs + 1 < SERIES_MAX_THUMBS ? SERIES_MAX_THUMBS - 1 - r->out.n_thumbs : 0;
    bool before = loss && r->have_last && !has_thumb(r, r->last_fr.pcap_frame);
    const char *reason = NULL;
    if (gen == 0) {
        reason = REASON_FIRST;
    } else if (corrupt || loss) {
        if (room >= 1u + before)
            reason = corrupt ? REASON_CORRUPT : REASON_AFTER;
        else
            before = false;
    }
    if (before) {
        int i = thumb_add(r, r->last, r->last_len, &r->last_fr, REASON_BEFORE);
        if (i >= 0)
            r->thumb_gen[i] = tag;
    }
    if (reason) {
        int i = thumb_add(r, jpeg, len, fr, reason);
        if (i >= 0 && reason == REASON_AFTER)
            r->thumb_gen[i] = tag;
    }
    r->frames_seen++;
    r->incomplete_since = false;
    last_keep(r, jpeg, len, fr);
}

void series_record_finish(struct series_recorder *r)
{
    if (r->have_last && !has_thumb(r, r->last_fr.pcap_frame))
        thumb_add(r, r->last, r->last_len, &r->last_fr, REASON_LAST);
    release_work_buffers(r);
}

/* ---- base64 -------------------------------------------------------------- */

char *series_base64(const unsigned char *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = abc[(v >> 6) & 63];
        *o++ = abc[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}
