/* The media catalogue: see media.h. */
#include "media.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jpeg.h"
#include "mjpeg.h"
#include "rtpjpeg.h"

/* A frame found while reading, before packetizing. */
struct raw_frame {
    size_t offset; /* in the stream's file_data */
    size_t len;    /* bytes */
};

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcasecmp(s + n - m, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_stream(const void *a, const void *b)
{
    return strcmp(((const struct media_stream *)a)->name, ((const struct media_stream *)b)->name);
}

/* path resolves to something inside root (the media directory's real path). */
static bool inside(const char *root, const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return false;
    size_t n = strlen(root);
    return strncmp(real, root, n) == 0 && real[n] == '/';
}

/* Cut every frame into RFC 2435 payloads; fills s->frames. */
static int packetize(struct media_stream *s, const struct raw_frame *raw, size_t max_payload,
                     const char *path, FILE *errlog)
{
    size_t total = 0;
    s->frames = calloc(s->nframes, sizeof *s->frames);
    if (!s->frames)
        goto nomem;
    /* First pass: check each frame and count payload bytes. */
    for (uint32_t i = 0; i < s->nframes; i++) {
        struct rtpjpeg_packetizer p;
        struct rtpjpeg_options opts = {.max_payload = max_payload, .q = 255};
        struct wire_error err;
        const uint8_t *jpeg = s->file_data + raw[i].offset;
        if (rtpjpeg_packetizer_init(&p, jpeg, raw[i].len, &opts, &err) != 0) {
            fprintf(errlog, "serve: %s: frame %u: %s (at byte %zu of the frame); stream left out\n",
                    path, i + 1, err.reason, err.offset);
            return -1;
        }
        size_t count = rtpjpeg_packetizer_count(&p);
        if (count > UINT32_MAX / 2) {
            fprintf(errlog, "serve: %s: frame %u: too many packets\n", path, i + 1);
            return -1;
        }
        s->frames[i].jpeg = jpeg;
        s->frames[i].jpeg_len = (uint32_t)raw[i].len;
        s->frames[i].npackets = (uint32_t)count;
        total += count * max_payload;
        if (i == 0) {
            struct jpeg_info info;
            if (jpeg_parse(jpeg, raw[i].len, &info, &err) >= 0) {
                s->width = info.width;
                s->height = info.height;
            }
        }
    }
    s->payload_data = malloc(total ? total : 1);
    if (!s->payload_data)
        goto nomem;
    uint8_t *out = s->payload_data;
    for (uint32_t i = 0; i < s->nframes; i++) {
        struct rtpjpeg_packetizer p;
        struct rtpjpeg_options opts = {.max_payload = max_payload, .q = 255};
        struct wire_error err;
        struct media_frame *f = &s->frames[i];
        rtpjpeg_packetizer_init(&p, f->jpeg, f->jpeg_len, &opts, &err);
        f->payloads = out;
        for (uint32_t k = 0; k < f->npackets; k++) {
            size_t len;
            bool last;
            if (rtpjpeg_packetizer_next(&p, out, max_payload, &len, &last, &err) != 1) {
                fprintf(errlog, "serve: %s: frame %u: packetizing failed: %s\n", path, i + 1,
                        err.reason);
                return -1;
            }
            if (k == 0)
                f->payload_size = (uint32_t)len;
            /* Equal sizes let one UDP GSO send carry the whole frame. */
            if (k + 1 < f->npackets && len != f->payload_size) {
                fprintf(errlog, "serve: %s: frame %u: payload %u has %zu bytes, not %u\n", path,
                        i + 1, k + 1, len, f->payload_size);
                return -1;
            }
            if (k + 1 == f->npackets)
                f->last_size = (uint32_t)len;
            out += len;
        }
        if (f->npackets > s->max_packets)
            s->max_packets = f->npackets;
        if (f->jpeg_len > s->max_jpeg)
            s->max_jpeg = f->jpeg_len;
    }
    return 0;
nomem:
    fprintf(errlog, "serve: %s: out of memory\n", path);
    return -1;
}

static int load_mjpeg(struct media_stream *s, const char *path, size_t max_payload, FILE *errlog)
{
    char msg[512];
    size_t len;
    if (mjpeg_read_file(path, MEDIA_MAX_FILE, &s->file_data, &len, msg, sizeof msg) != 0) {
        fprintf(errlog, "serve: %s; stream left out\n", msg);
        return -1;
    }
    size_t cap = len / 100 + 16, n = 0;
    struct raw_frame *raw = malloc(cap * sizeof *raw);
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, s->file_data, len);
    r.lenient = true;
    const uint8_t *frame;
    size_t frame_len;
    int rc;
    while (raw && (rc = mjpeg_next(&r, &frame, &frame_len, NULL)) == 1) {
        if (n == cap) {
            cap *= 2;
            struct raw_frame *bigger = realloc(raw, cap * sizeof *raw);
            if (!bigger)
                break;
            raw = bigger;
        }
        raw[n].offset = (size_t)(frame - s->file_data);
        raw[n].len = frame_len;
        n++;
    }
    if (!raw) {
        fprintf(errlog, "serve: %s: out of memory\n", path);
        return -1;
    }
    if (r.failed) {
        mjpeg_format_error(&r, path, msg, sizeof msg);
        fprintf(errlog, "serve: %s; stream left out\n", msg);
        free(raw);
        return -1;
    }
    if (n == 0 || n > UINT32_MAX) {
        fprintf(errlog, "serve: %s: no frames; stream left out\n", path);
        free(raw);
        return -1;
    }
    s->nframes = (uint32_t)n;
    rc = packetize(s, raw, max_payload, path, errlog);
    free(raw);
    return rc;
}

/* A directory of *.jpg / *.jpeg frames, sorted by name. */
static int load_jpeg_dir(struct media_stream *s, const char *path, const char *root,
                         size_t max_payload, FILE *errlog)
{
    DIR *d = opendir(path);
    if (!d) {
        fprintf(errlog, "serve: %s: %s; stream left out\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = -1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !(has_suffix(e->d_name, ".jpg") || has_suffix(e->d_name, ".jpeg")))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **bigger = realloc(names, cap * sizeof *names);
            if (!bigger)
                goto out;
            names = bigger;
        }
        if (!(names[n] = strdup(e->d_name)))
            goto out;
        n++;
    }
    if (n == 0) {
        rc = 1; /* not a stream, nothing to say */
        goto out;
    }
    qsort(names, n, sizeof *names, cmp_str);
    struct raw_frame *raw = calloc(n, sizeof *raw);
    size_t total = 0, data_cap = 0;
    if (!raw)
        goto out;
    for (size_t i = 0; i < n; i++) {
        char file[PATH_MAX];
        struct stat st;
        int flen = snprintf(file, sizeof file, "%s/%s", path, names[i]);
        if (flen < 0 || (size_t)flen >= sizeof file || !inside(root, file) || stat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
            fprintf(errlog, "serve: %s: not a regular file inside the media directory; stream left out\n", file);
            free(raw);
            goto out;
        }
        FILE *f = fopen(file, "rb");
        if (!f || st.st_size <= 0 || (size_t)st.st_size > MEDIA_MAX_FILE - total) {
            fprintf(errlog, "serve: %s: cannot read (%s); stream left out\n", file,
                    f ? "empty or too large" : strerror(errno));
            if (f)
                fclose(f);
            free(raw);
            goto out;
        }
        if (total + (size_t)st.st_size > data_cap) {
            data_cap = (total + (size_t)st.st_size) * 2;
            uint8_t *bigger = realloc(s->file_data, data_cap);
            if (!bigger) {
                fclose(f);
                free(raw);
                goto out;
            }
            s->file_data = bigger;
        }
        size_t got = fread(s->file_data + total, 1, (size_t)st.st_size, f);
        fclose(f);
        if (got != (size_t)st.st_size) {
            fprintf(errlog, "serve: %s: short read; stream left out\n", file);
            free(raw);
            goto out;
        }
        raw[i].offset = total;
        raw[i].len = got;
        total += got;
    }
    s->nframes = (uint32_t)n;
    rc = packetize(s, raw, max_payload, path, errlog);
    free(raw);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

/* NAME.fps next to the stream, when present: a positive number. */
static double stream_fps(const char *dir, const char *name, double fallback, FILE *errlog)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.fps", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return fallback;
    char line[64] = "";
    char *end = NULL;
    double fps = 0;
    if (fgets(line, sizeof line, f))
        fps = strtod(line, &end);
    fclose(f);
    if (!end || end == line || !(fps > 0 && fps <= 1000)) {
        fprintf(errlog, "serve: %s: not a frame rate between 0 and 1000; using %g\n", path, fallback);
        return fallback;
    }
    return fps;
}

static void stream_free(struct media_stream *s)
{
    free(s->frames);
    free(s->file_data);
    free(s->payload_data);
    memset(s, 0, sizeof *s);
}

int media_load(struct media_catalog *c, const char *dir, double default_fps, size_t max_payload,
               FILE *errlog)
{
    memset(c, 0, sizeof *c);
    char root[PATH_MAX];
    DIR *d = opendir(dir);
    if (!d || !realpath(dir, root)) {
        fprintf(errlog, "serve: media directory %s: %s\n", dir, strerror(errno));
        if (d)
            closedir(d);
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) > MEDIA_NAME_MAX)
            continue;
        char path[PATH_MAX];
        struct stat st;
        int plen = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (plen < 0 || (size_t)plen >= sizeof path || stat(path, &st) != 0)
            continue;
        bool is_mjpeg = S_ISREG(st.st_mode) &&
                        (has_suffix(e->d_name, ".Mjpeg") || has_suffix(e->d_name, ".mjpeg"));
        if (!is_mjpeg && !S_ISDIR(st.st_mode))
            continue;
        if (!inside(root, path)) {
            fprintf(errlog, "serve: %s: points outside the media directory; left out\n", path);
            continue;
        }
        if (c->count == cap) {
            cap = cap ? cap * 2 : 16;
            struct media_stream *bigger = realloc(c->streams, cap * sizeof *bigger);
            if (!bigger)
                break;
            c->streams = bigger;
        }
        struct media_stream *s = &c->streams[c->count];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%s", e->d_name);
        int rc = is_mjpeg ? load_mjpeg(s, path, max_payload, errlog)
                          : load_jpeg_dir(s, path, root, max_payload, errlog);
        if (rc != 0) {
            stream_free(s);
            continue;
        }
        s->fps = stream_fps(dir, s->name, default_fps, errlog);
        if (s->max_packets > c->max_packets)
            c->max_packets = s->max_packets;
        if (s->max_jpeg > c->max_jpeg)
            c->max_jpeg = s->max_jpeg;
        c->count++;
    }
    closedir(d);
    if (c->count)
        qsort(c->streams, c->count, sizeof *c->streams, cmp_stream);
    return (int)c->count;
}

void media_free(struct media_catalog *c)
{
    for (size_t i = 0; i < c->count; i++)
        stream_free(&c->streams[i]);
    free(c->streams);
    memset(c, 0, sizeof *c);
}

const struct media_stream *media_find(const struct media_catalog *c, const char *name, size_t len)
{
    if (len == 0 || len > MEDIA_NAME_MAX)
        return NULL;
    for (size_t i = 0; i < c->count; i++)
        if (strlen(c->streams[i].name) == len && memcmp(c->streams[i].name, name, len) == 0)
            return &c->streams[i];
    return NULL;
}

double media_duration(const struct media_stream *s)
{
    return s->nframes / s->fps;
}
