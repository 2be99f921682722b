/* Unit tests for the server's media catalogue (harness/server/media.c),
 * over a temporary media directory holding a .Mjpeg file, a directory of
 * JPEG frames written out of order, a corrupt .Mjpeg, a symbolic link to a
 * .Mjpeg outside the directory, a NAME.fps file, a hidden .Mjpeg and a
 * non-media file: which streams load and in what order, what the error log
 * names, frame rates, sizes and frame counts, frames that are the original
 * bytes, RFC 2435 payloads of equal size that reassemble to the original
 * scan, exact-match lookup, durations, an unreadable and an empty
 * directory, a small payload limit, and symbolic links that stay inside. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture/pattern.h"
#include "jpeg.h"
#include "mjpeg.h"
#include "rtpjpeg.h"
#include "server/media.h"

#define A_FRAMES 10
#define B_FRAMES 5
#define DEFAULT_FPS 12.5

/* The fixture: originals kept in memory to compare against. */
#define DIR_LEN 512 /* room for the fixture's directory names; paths get PATH_MAX */

static char tmp_root[DIR_LEN / 2];  /* mkdtemp dir holding everything */
static char media_dir[DIR_LEN];     /* tmp_root/media */
static char media2_dir[DIR_LEN];    /* tmp_root/media2: symbolic links */
static char empty_dir[DIR_LEN];     /* tmp_root/empty: nothing to load */
static uint8_t *a_jpeg[A_FRAMES];
static size_t a_len[A_FRAMES];
static uint8_t *b_jpeg[B_FRAMES];
static size_t b_len[B_FRAMES];
static bool fixture_ok;

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = len ? fwrite(data, 1, len, f) : 0;
    return fclose(f) == 0 && put == len ? 0 : -1;
}

/* A .Mjpeg of frames[0..n) written with the mjpeg writer; extra bytes appended. */
static int write_mjpeg(const char *dir, const char *name, uint8_t *const *frames,
                       const size_t *lens, size_t n, const char *extra)
{
    struct mjpeg_writer w;
    mjpeg_writer_init_mem(&w);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = mjpeg_writer_add(&w, frames[i], lens[i]);
    if (rc == 0 && extra) {
        size_t el = strlen(extra);
        uint8_t *bigger = realloc(w.buf, w.len + el);
        if (!bigger) {
            rc = -1;
        } else {
            w.buf = bigger;
            memcpy(w.buf + w.len, extra, el);
            w.len += el;
        }
    }
    if (rc == 0)
        rc = write_file(dir, name, w.buf, w.len);
    mjpeg_writer_free(&w);
    return rc;
}

static int make_dir(char *out, const char *name)
{
    snprintf(out, DIR_LEN, "%s/%.32s", tmp_root, name);
    return mkdir(out, 0700);
}

static bool setup_fixture(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/test_media-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmp_root))
        return false;
    if (make_dir(media_dir, "media") || make_dir(media2_dir, "media2") ||
        make_dir(empty_dir, "empty"))
        return false;

    struct pattern_options o;
    pattern_options_default(&o);
    struct pattern_encoder e;
    char msg[256];
    if (pattern_encoder_init(&e, &o, msg, sizeof msg) != 0) {
        fprintf(stderr, "pattern: %s\n", msg);
        return false;
    }
    bool ok = true;
    for (uint32_t i = 0; i < A_FRAMES && ok; i++)
        ok = pattern_encode(&e, i + 1, &a_jpeg[i], &a_len[i], msg, sizeof msg) == 0;
    for (uint32_t i = 0; i < B_FRAMES && ok; i++)
        ok = pattern_encode(&e, 101 + i, &b_jpeg[i], &b_len[i], msg, sizeof msg) == 0;
    pattern_encoder_free(&e);
    if (!ok)
        return false;

    char path[PATH_MAX];
    /* a.Mjpeg at 25 fps */
    ok = write_mjpeg(media_dir, "a.Mjpeg", a_jpeg, a_len, A_FRAMES, NULL) == 0 &&
         write_file(media_dir, "a.Mjpeg.fps", "25\n", 3) == 0;
    /* b/: frame files written out of order */
    snprintf(path, sizeof path, "%s/b", media_dir);
    ok = ok && mkdir(path, 0700) == 0;
    static const int b_order[B_FRAMES] = {3, 1, 5, 2, 4};
    for (int k = 0; k < B_FRAMES && ok; k++) {
        char name[32];
        int i = b_order[k];
        snprintf(name, sizeof name, "frame-%05d.jpg", i);
        ok = write_file(path, name, b_jpeg[i - 1], b_len[i - 1]) == 0;
    }
    /* bad.Mjpeg: a good record, then a length field cut short */
    ok = ok && write_mjpeg(media_dir, "bad.Mjpeg", a_jpeg, a_len, 1, "012") == 0;
    /* outside.Mjpeg next to the media directory, linked from inside it */
    ok = ok && write_mjpeg(tmp_root, "outside.Mjpeg", a_jpeg, a_len, 2, NULL) == 0;
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s/outside.Mjpeg", tmp_root);
    snprintf(path, sizeof path, "%s/link.Mjpeg", media_dir);
    ok = ok && symlink(target, path) == 0;
    /* hidden and non-media files */
    ok = ok && write_mjpeg(media_dir, ".x.Mjpeg", a_jpeg, a_len, 1, NULL) == 0;
    ok = ok && write_file(media_dir, "notes.txt", "not a stream\n", 13) == 0;

    /* media2: a link to a file inside (loaded), a frame directory with one
     * frame linked from outside (left out) */
    ok = ok && write_mjpeg(media2_dir, "x.Mjpeg", a_jpeg, a_len, 3, NULL) == 0;
    snprintf(path, sizeof path, "%s/y.Mjpeg", media2_dir);
    ok = ok && symlink("x.Mjpeg", path) == 0;
    snprintf(path, sizeof path, "%s/c", media2_dir);
    ok = ok && mkdir(path, 0700) == 0 && write_file(path, "f1.jpg", b_jpeg[0], b_len[0]) == 0;
    ok = ok && write_file(tmp_root, "outside.jpg", b_jpeg[1], b_len[1]) == 0;
    snprintf(target, sizeof target, "%s/outside.jpg", tmp_root);
    snprintf(path, sizeof path, "%s/c/f2.jpg", media2_dir);
    ok = ok && symlink(target, path) == 0;
    /* empty: only a non-media file */
    ok = ok && write_file(empty_dir, "readme.txt", "x", 1) == 0;
    return ok;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static void teardown_fixture(void)
{
    if (tmp_root[0] && strstr(tmp_root, "test_media-"))
        nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < A_FRAMES; i++)
        free(a_jpeg[i]);
    for (int i = 0; i < B_FRAMES; i++)
        free(b_jpeg[i]);
}

/* media_load with an in-memory error log; *log is malloc'd (free it). */
static int load(struct media_catalog *c, const char *dir, size_t max_payload, char **log)
{
    size_t log_len = 0;
    *log = NULL;
    FILE *errlog = open_memstream(log, &log_len);
    if (!errlog) {
        CHECK(!"open_memstream failed");
        return -2;
    }
    int n = media_load(c, dir, DEFAULT_FPS, max_payload, errlog);
    fclose(errlog);
    return n;
}

static size_t rfc_payload(void)
{
    return rtpjpeg_max_payload_for_mtu(1400);
}

/* The stream of that name in c (by walking, not media_find). */
static const struct media_stream *stream_named(const struct media_catalog *c, const char *name)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->streams[i].name, name) == 0)
            return &c->streams[i];
    return NULL;
}

static void test_load_keeps_valid_streams_sorted_and_logs_rejects(void)
{
    CHECK(fixture_ok);
    struct media_catalog c;
    char *log;
    int n = load(&c, media_dir, rfc_payload(), &log);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(c.count, 2);
    if (c.count == 2) {
        CHECK_STR(c.streams[0].name, strlen(c.streams[0].name), "a.Mjpeg");
        CHECK_STR(c.streams[1].name, strlen(c.streams[1].name), "b");
    }
    CHECK(log != NULL);
    if (log) {
        CHECK(strstr(log, "bad.Mjpeg") != NULL);
        CHECK(strstr(log, "link.Mjpeg") != NULL);
        CHECK(strstr(log, "notes.txt") == NULL);
        CHECK(strstr(log, ".x.Mjpeg") == NULL);
        CHECK(strstr(log, "a.Mjpeg.fps") == NULL); /* a valid rate says nothing */
        if (check_failures)
            fprintf(stderr, "error log:\n%s", log);
    }
    free(log);
    media_free(&c);
    CHECK_EQ_INT(c.count, 0);
    CHECK(c.streams == NULL);
}

static void test_fps_from_file_else_default(void)
{
    struct media_catalog c;
    char *log;
    load(&c, media_dir, rfc_payload(), &log);
    const struct media_stream *a = stream_named(&c, "a.Mjpeg");
    const struct media_stream *b = stream_named(&c, "b");
    CHECK(a && b);
    if (a && b) {
        CHECK(a->fps == 25.0);
        CHECK(b->fps == DEFAULT_FPS);
    }
    free(log);
    media_free(&c);
}

static void test_size_and_frame_counts(void)
{
    struct media_catalog c;
    char *log;
    load(&c, media_dir, rfc_payload(), &log);
    const struct media_stream *a = stream_named(&c, "a.Mjpeg");
    const struct media_stream *b = stream_named(&c, "b");
    CHECK(a && b);
    if (a && b) {
        CHECK_EQ_INT(a->width, 384);
        CHECK_EQ_INT(a->height, 288);
        CHECK_EQ_INT(b->width, 384);
        CHECK_EQ_INT(b->height, 288);
        CHECK_EQ_INT(a->nframes, A_FRAMES);
        CHECK_EQ_INT(b->nframes, B_FRAMES);
        /* the maxima match the frames */
        uint32_t max_packets = 0, max_jpeg = 0;
        for (size_t s = 0; s < c.count; s++) {
            uint32_t sp = 0, sj = 0;
            for (uint32_t i = 0; i < c.streams[s].nframes; i++) {
                const struct media_frame *f = &c.streams[s].frames[i];
                if (f->npackets > sp)
                    sp = f->npackets;
                if (f->jpeg_len > sj)
                    sj = f->jpeg_len;
            }
            CHECK_EQ_INT(c.streams[s].max_packets, sp);
            CHECK_EQ_INT(c.streams[s].max_jpeg, sj);
            if (sp > max_packets)
                max_packets = sp;
            if (sj > max_jpeg)
                max_jpeg = sj;
        }
        CHECK_EQ_INT(c.max_packets, max_packets);
        CHECK_EQ_INT(c.max_jpeg, max_jpeg);
    }
    free(log);
    media_free(&c);
}

static void test_frames_are_original_bytes_in_name_order(void)
{
    struct media_catalog c;
    char *log;
    load(&c, media_dir, rfc_payload(), &log);
    const struct media_stream *a = stream_named(&c, "a.Mjpeg");
    const struct media_stream *b = stream_named(&c, "b");
    CHECK(a && b);
    if (a && a->nframes == A_FRAMES)
        for (int i = 0; i < A_FRAMES; i++) {
            CHECK_EQ_INT(a->frames[i].jpeg_len, a_len[i]);
            CHECK(a->frames[i].jpeg_len == a_len[i] &&
                  memcmp(a->frames[i].jpeg, a_jpeg[i], a_len[i]) == 0);
        }
    if (b && b->nframes == B_FRAMES)
        for (int i = 0; i < B_FRAMES; i++) {
            /* frame-0000(i+1).jpg holds pattern frame 101+i */
            uint32_t number = 0;
            CHECK_EQ_INT(jpeg_frame_number(b->frames[i].jpeg, b->frames[i].jpeg_len, &number,
                                           NULL),
                         1);
            CHECK_EQ_INT(number, 101 + i);
            CHECK(b->frames[i].jpeg_len == b_len[i] &&
                  memcmp(b->frames[i].jpeg, b_jpeg[i], b_len[i]) == 0);
        }
    free(log);
    media_free(&c);
}

/* Every frame of s: packet count and payload sizes as the packetizer makes them. */
static void check_payload_layout(const struct media_stream *s, size_t max_payload)
{
    for (uint32_t i = 0; i < s->nframes; i++) {
        const struct media_frame *f = &s->frames[i];
        struct rtpjpeg_packetizer p;
        struct rtpjpeg_options opts = {.max_payload = max_payload, .q = 255};
        struct wire_error err;
        CHECK_EQ_INT(rtpjpeg_packetizer_init(&p, f->jpeg, f->jpeg_len, &opts, &err), 0);
        CHECK_EQ_INT(f->npackets, rtpjpeg_packetizer_count(&p));
        CHECK(f->npackets >= 1);
        if (f->npackets > 1)
            CHECK_EQ_INT(f->payload_size, max_payload);
        CHECK(f->last_size >= 1 && f->last_size <= f->payload_size);
        CHECK(f->payload_size <= max_payload);
        /* the payloads the packetizer writes now, byte for byte */
        uint8_t *buf = malloc(max_payload);
        const uint8_t *at = f->payloads;
        for (uint32_t k = 0; buf && k < f->npackets; k++) {
            size_t len = 0;
            bool last = false;
            CHECK_EQ_INT(rtpjpeg_packetizer_next(&p, buf, max_payload, &len, &last, &err), 1);
            CHECK_EQ_INT(len, k + 1 == f->npackets ? f->last_size : f->payload_size);
            CHECK_EQ_INT(last, k + 1 == f->npackets);
            CHECK(len <= max_payload && memcmp(at, buf, len) == 0);
            at += len;
        }
        free(buf);
    }
}

static void test_payloads_equal_sized_rfc2435_cuts(void)
{
    struct media_catalog c;
    char *log;
    size_t mp = rfc_payload();
    CHECK_EQ_INT(mp, 1360);
    load(&c, media_dir, mp, &log);
    CHECK_EQ_INT(c.count, 2);
    for (size_t s = 0; s < c.count; s++) {
        check_payload_layout(&c.streams[s], mp);
        CHECK(c.streams[s].max_packets > 1); /* 384x288 frames take several packets */
    }
    free(log);
    media_free(&c);
}

/* Feed every frame of s through one depacketizer (consecutive seqs from
 * *seq, marker on each frame's last payload) and compare the reassembled
 * scan with the original JPEG's scan. */
static void check_reassembly(const struct media_stream *s, uint16_t *seq)
{
    size_t cap = RTPJPEG_JFIF_HEADER_MAX + s->max_jpeg + 16;
    uint8_t *buf = malloc(cap);
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    CHECK(buf != NULL);
    if (!buf || rtpjpeg_depacketizer_init(&d, buf, cap, &err) != 0) {
        CHECK(!"depacketizer init failed");
        free(buf);
        return;
    }
    for (uint32_t i = 0; i < s->nframes; i++) {
        const struct media_frame *f = &s->frames[i];
        const uint8_t *at = f->payloads;
        uint32_t ts = 1000 + i * 3600;
        int rc = -100;
        for (uint32_t k = 0; k < f->npackets; k++) {
            bool last = k + 1 == f->npackets;
            size_t len = last ? f->last_size : f->payload_size;
            rc = rtpjpeg_depacketize_push(&d, at, len, ts, last, (*seq)++, &err);
            if (!last)
                CHECK_EQ_INT(rc, RTPJPEG_ACCEPTED);
            at += len;
        }
        CHECK_EQ_INT(rc, RTPJPEG_COMPLETE);
        if (rc != RTPJPEG_COMPLETE)
            continue;
        CHECK_EQ_INT(d.frame_info.width, 384);
        CHECK_EQ_INT(d.frame_info.height, 288);
        CHECK_EQ_INT(d.frame_info.packets, f->npackets);
        struct jpeg_info orig, got;
        CHECK(jpeg_parse(f->jpeg, f->jpeg_len, &orig, &err) > 0);
        CHECK(jpeg_parse(d.frame, d.frame_len, &got, &err) > 0);
        CHECK_EQ_INT(got.scan.len, orig.scan.len);
        CHECK(got.scan.len == orig.scan.len && orig.scan.len > 0 &&
              memcmp(got.scan.ptr, orig.scan.ptr, orig.scan.len) == 0);
    }
    free(buf);
}

static void test_payloads_reassemble_to_original_scan(void)
{
    struct media_catalog c;
    char *log;
    load(&c, media_dir, rfc_payload(), &log);
    CHECK_EQ_INT(c.count, 2);
    uint16_t seq = 65000; /* wraps within the run */
    for (size_t s = 0; s < c.count; s++)
        check_reassembly(&c.streams[s], &seq);
    free(log);
    media_free(&c);
}

static void test_small_payload_more_packets_still_reassembles(void)
{
    struct media_catalog big, small;
    char *log1, *log2;
    load(&big, media_dir, rfc_payload(), &log1);
    int n = load(&small, media_dir, 200, &log2);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(big.count, small.count);
    for (size_t s = 0; s < small.count && s < big.count; s++) {
        const struct media_stream *bs = &big.streams[s], *ss = &small.streams[s];
        CHECK_EQ_INT(ss->nframes, bs->nframes);
        for (uint32_t i = 0; i < ss->nframes && i < bs->nframes; i++)
            CHECK(ss->frames[i].npackets > bs->frames[i].npackets);
        CHECK(ss->max_packets > bs->max_packets);
        check_payload_layout(ss, 200);
        uint16_t seq = 7;
        check_reassembly(ss, &seq);
    }
    free(log1);
    free(log2);
    media_free(&big);
    media_free(&small);
}

static void test_find_exact_name_only(void)
{
    struct media_catalog c;
    char *log;
    load(&c, media_dir, rfc_payload(), &log);
    const struct media_stream *a = media_find(&c, "a.Mjpeg", 7);
    CHECK(a != NULL && a == stream_named(&c, "a.Mjpeg"));
    CHECK(media_find(&c, "b", 1) == stream_named(&c, "b"));
    CHECK(media_find(&c, "b", 1) != NULL);
    /* a slice of a longer string (the URL's track suffix) */
    CHECK(media_find(&c, "a.Mjpeg/trackID=0", 7) == a);
    CHECK(media_find(&c, "A.mjpeg", 7) == NULL);
    CHECK(media_find(&c, "a.Mjpe", 6) == NULL);
    CHECK(media_find(&c, "a.Mjpeg", 6) == NULL);
    CHECK(media_find(&c, "", 0) == NULL);
    CHECK(media_find(&c, "a.Mjpeg", 0) == NULL);
    CHECK(media_find(&c, "../a.Mjpeg", 10) == NULL);
    CHECK(media_find(&c, "./a.Mjpeg", 9) == NULL);
    CHECK(media_find(&c, "b/frame-00001.jpg", 17) == NULL);
    CHECK(media_find(&c, "bad.Mjpeg", 9) == NULL);
    CHECK(media_find(&c, "link.Mjpeg", 10) == NULL);
    CHECK(media_find(&c, ".x.Mjpeg", 8) == NULL);
    CHECK(media_find(&c, "notes.txt", 9) == NULL);
    free(log);
    media_free(&c);
}

static void test_duration_is_frames_over_fps(void)
{
    struct media_catalog c;
    char *log;
    load(&c, media_dir, rfc_payload(), &log);
    const struct media_stream *a = media_find(&c, "a.Mjpeg", 7);
    const struct media_stream *b = media_find(&c, "b", 1);
    CHECK(a && b);
    if (a && b) {
        CHECK(media_duration(a) > 0.4 - 1e-9 && media_duration(a) < 0.4 + 1e-9);
        CHECK(media_duration(b) > 0.4 - 1e-9 && media_duration(b) < 0.4 + 1e-9); /* 5 / 12.5 */
    }
    struct media_stream fake = {.nframes = 2997, .fps = 29.97};
    CHECK(media_duration(&fake) > 100.0 - 1e-9 && media_duration(&fake) < 100.0 + 1e-9);
    free(log);
    media_free(&c);
}

static void test_nonexistent_dir_is_error(void)
{
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/nope", tmp_root);
    struct media_catalog c;
    char *log;
    CHECK_EQ_INT(load(&c, missing, rfc_payload(), &log), -1);
    CHECK_EQ_INT(c.count, 0);
    CHECK(log && strstr(log, "nope") != NULL);
    free(log);
    media_free(&c);
    /* a file is not a directory either */
    char file[PATH_MAX + 16];
    snprintf(file, sizeof file, "%s/outside.Mjpeg", tmp_root);
    CHECK_EQ_INT(load(&c, file, rfc_payload(), &log), -1);
    free(log);
    media_free(&c);
}

static void test_empty_dir_has_no_streams(void)
{
    struct media_catalog c;
    char *log;
    CHECK_EQ_INT(load(&c, empty_dir, rfc_payload(), &log), 0);
    CHECK_EQ_INT(c.count, 0);
    CHECK(media_find(&c, "readme.txt", 10) == NULL);
    CHECK(log && log[0] == '\0');
    free(log);
    media_free(&c);
}

static void test_symlink_inside_loads_frame_linked_outside_does_not(void)
{
    struct media_catalog c;
    char *log;
    CHECK_EQ_INT(load(&c, media2_dir, rfc_payload(), &log), 2);
    CHECK(stream_named(&c, "x.Mjpeg") != NULL);
    CHECK(stream_named(&c, "y.Mjpeg") != NULL); /* y.Mjpeg -> x.Mjpeg, inside */
    CHECK(stream_named(&c, "c") == NULL);       /* c/f2.jpg -> ../../outside.jpg */
    const struct media_stream *y = stream_named(&c, "y.Mjpeg");
    if (y)
        CHECK_EQ_INT(y->nframes, 3);
    CHECK(log && strstr(log, "f2.jpg") != NULL);
    free(log);
    media_free(&c);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* case lines survive a sanitizer's exit */
    unsetenv("TJ_OPTIMIZE");
    unsetenv("TJ_ARITHMETIC");
    unsetenv("TJ_RESTART");
    unsetenv("TJ_PROGRESSIVE");
    fixture_ok = setup_fixture();
    if (!fixture_ok)
        fprintf(stderr, "fixture setup failed: %s\n", strerror(errno));
    RUN(test_load_keeps_valid_streams_sorted_and_logs_rejects);
    RUN(test_fps_from_file_else_default);
    RUN(test_size_and_frame_counts);
    RUN(test_frames_are_original_bytes_in_name_order);
    RUN(test_payloads_equal_sized_rfc2435_cuts);
    RUN(test_payloads_reassemble_to_original_scan);
    RUN(test_small_payload_more_packets_still_reassembles);
    RUN(test_find_exact_name_only);
    RUN(test_duration_is_frames_over_fps);
    RUN(test_nonexistent_dir_is_error);
    RUN(test_empty_dir_has_no_streams);
    RUN(test_symlink_inside_loads_frame_linked_outside_does_not);
    teardown_fixture();
    CHECK_DONE();
}
