/* Loading, saving and escaping for the report renderers (report.h). */
#include "report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"

int report_check_shape(const json_t *doc, const char *name, char *err, size_t cap)
{
    if (!json_is_object(doc))
        return wire_errf(err, cap, "%s: not a run report (the document is not a JSON object)", name);
    const char *schema = json_string_value(json_object_get(doc, "schema"));
    if (!schema)
        return wire_errf(err, cap, "%s: not a run report (no \"schema\" field)", name);
    if (strcmp(schema, REPORT_SCHEMA) != 0)
        return wire_errf(err, cap, "%s: schema is \"%s\", not \"%s\"%s", name, schema, REPORT_SCHEMA,
                         strcmp(schema, "rtsp-harness/analyze") == 0
                             ? " (an analyzer report; `rtsp-harness report` reads run reports)"
                             : "");
    json_t *v = json_object_get(doc, "version");
    if (!json_is_integer(v) || json_integer_value(v) != REPORT_VERSION)
        return wire_errf(err, cap, "%s: report version %s is not supported (this is version %d)", name,
                         json_is_integer(v) ? "other than 1" : "missing", REPORT_VERSION);
    if (!json_is_object(json_object_get(doc, "run")))
        return wire_errf(err, cap, "%s: \"run\" is missing or not an object", name);
    json_t *sc = json_object_get(doc, "scenarios");
    if (!json_is_array(sc))
        return wire_errf(err, cap, "%s: \"scenarios\" is missing or not an array", name);
    size_t i;
    json_t *s;
    json_array_foreach(sc, i, s)
    {
        if (!json_is_object(s))
            return wire_errf(err, cap, "%s: scenarios[%zu] is not an object", name, i);
        if (!json_is_string(json_object_get(s, "name")) || !json_is_string(json_object_get(s, "verdict")))
            return wire_errf(err, cap, "%s: scenarios[%zu] has no \"name\" or \"verdict\"", name, i);
    }
    if (!json_is_object(json_object_get(doc, "summary")))
        return wire_errf(err, cap, "%s: \"summary\" is missing or not an object", name);
    return 0;
}

json_t *report_load(const char *path, char *err, size_t cap)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        if (je.line > 0)
            wire_errf(err, cap, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        else
            wire_errf(err, cap, "%s: %s", path, je.text);
        return NULL;
    }
    if (report_check_shape(doc, path, err, cap) != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int report_write_atomic(const char *path, int (*write)(FILE *out, const json_t *doc), const json_t *doc,
                        char *err, size_t cap)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid()) >= (int)sizeof tmp)
        return wire_errf(err, cap, "%s: path too long", path);
    FILE *out = fopen(tmp, "w");
    if (!out)
        return wire_errf(err, cap, "cannot write %s: %s", path, strerror(errno));
    errno = 0;
    bool bad = write(out, doc) != 0 || ferror(out) != 0;
    int e = errno;
    if (fclose(out) != 0 && !bad) {
        bad = true;
        e = errno;
    }
    if (bad || rename(tmp, path) != 0) {
        if (!bad)
            e = errno;
        unlink(tmp);
        return wire_errf(err, cap, "cannot write %s: %s", path, strerror(e ? e : EIO));
    }
    return 0;
}

static int write_json(FILE *out, const json_t *doc)
{
    return json_dumpf(doc, out, JSON_INDENT(2) | JSON_SORT_KEYS);
}

int report_save(const json_t *doc, const char *path, char *err, size_t cap)
{
    return report_write_atomic(path, write_json, doc, err, cap);
}

const char *report_str(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

double report_num(const json_t *obj, const char *key, double dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

long long report_int(const json_t *obj, const char *key, long long dflt)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return dflt;
}

bool report_bool(const json_t *obj, const char *key, bool dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

struct report_figures report_scenario_figures(const json_t *sc)
{
    struct report_figures f = {false, NAN, NAN, NAN, NAN};
    json_t *streams = json_object_get(sc, "streams");
    const json_t *only = NULL;
    size_t n = 0;
    double lost = 0, total = 0;
    size_t i;
    json_t *st;
    json_array_foreach(streams, i, st)
    {
        if (!json_is_object(st))
            continue;
        f.have = true;
        only = n++ ? NULL : st;
        double l = report_num(st, "lost", 0), pk = report_num(st, "packets", 0);
        lost += l > 0 ? l : 0;
        total += pk + (l > 0 ? l : 0);
        double bps = report_num(st, "bitrate_bps", NAN);
        if (isfinite(bps))
            f.kbps = (isnan(f.kbps) ? 0 : f.kbps) + bps / 1000;
        double fps = report_num(st, "fps", NAN), j = report_num(st, "max_jitter_ms", NAN);
        if (isfinite(fps) && !(fps >= f.fps))
            f.fps = fps;
        if (isfinite(j) && !(j <= f.jitter))
            f.jitter = j;
    }
    if (n == 1)
        f.loss = report_num(only, "loss", NAN);
    else if (total > 0)
        f.loss = lost / total;
    return f;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid;
 * *xml_ok says whether XML 1.0 allows the character. */
static size_t utf8_len(const unsigned char *s, size_t n, bool *xml_ok)
{
    unsigned char c = s[0];
    *xml_ok = true;
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *xml_ok = cp != 0xfffe && cp != 0xffff; /* well-formed, but not an XML character */
    return len;
}

json_t *report_json_text(const char *s, size_t n)
{
    /* Each byte becomes at most the 3 bytes of U+FFFD. */
    char *buf = malloc(n * 3 + 1);
    if (!buf)
        return json_null();
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        bool xml_ok;
        size_t len = p[i] ? utf8_len(p + i, n - i, &xml_ok) : 0;
        if (len == 0) {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(buf + o, p + i, len);
        o += len;
        i += len;
    }
    json_t *j = json_stringn(buf, o);
    free(buf);
    return j ? j : json_null();
}

void report_xml_escape(FILE *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        switch (c) {
        case '&': fputs("&amp;", out); i++; continue;
        case '<': fputs("&lt;", out); i++; continue;
        case '>': fputs("&gt;", out); i++; continue;
        case '"': fputs("&quot;", out); i++; continue;
        case '\'': fputs("&#39;", out); i++; continue;
        case '\t':
        case '\n':
        case '\r': fputc(c, out); i++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            fputs("\xef\xbf\xbd", out);
            i++;
            continue;
        }
        bool xml_ok;
        size_t len = utf8_len(p + i, n - i, &xml_ok);
        if (len == 0) {
            fputs("\xef\xbf\xbd", out);
            i++;
            continue;
        }
        if (xml_ok)
            fwrite(p + i, 1, len, out);
        else
            fputs("\xef\xbf\xbd", out);
        i += len;
    }
}

void report_xml_escape_str(FILE *out, const char *s)
{
    if (s)
        report_xml_escape(out, s, strlen(s));
}
