/* libFuzzer target for the request dialect parser and renderer
 * (harness/replay/dialect.c): parses the input as a dialect description.
 * A refusal must come with a message of the form "name:line:column: ..."
 * whose line exists in the input and no dialect; an accepted dialect must
 * be internally consistent (requests and lines within their limits, no
 * method twice), and every request must render without crashing, with all
 * values known, with none known, and with an extra line, each rendering
 * within the 255-byte limit or refused with a reason; parsing the same
 * bytes again must give the same result. Any disagreement aborts so the
 * fuzzer reports it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/dialect.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void render(const struct dialect *d, const char *method, const struct dialect_request *rq)
{
    struct scenario_buf b = {0};
    char err[320] = "";
    long n = dialect_render(d, method, rq, &b, err, sizeof err);
    if (n < 0)
        check(err[0] != '\0' && b.len == 0);
    else
        check((size_t)n == b.len && b.len <= DIALECT_MAX_REQUEST_BYTES);
    free(b.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dialect *d = NULL;
    char err[512];
    int rc = dialect_parse_buffer("f.dialect", (const char *)data, size, &d, err, sizeof err);
    if (rc < 0) {
        unsigned line = 0, col = 0;
        check(d == NULL);
        check(sscanf(err, "f.dialect:%u:%u: ", &line, &col) == 2);
        check(line >= 1 && line <= count_lines(data, size) && col >= 1);
        return 0;
    }
    check(d != NULL && d->n_requests >= 1 && d->n_requests <= DIALECT_MAX_REQUESTS);
    check(!d->blank_line || d->last_line_end);
    unsigned lines = count_lines(data, size);
    struct dialect_request all = {.values = {"PLAY", "movie.Mjpeg", "rtsp://h/m", "12", "123456", "40000",
                                             "40001", "10.0.0.2", "8554"}};
    struct dialect_request none = {0};
    const char *extra[] = {"X-Note: a{b}"};
    struct dialect_request more = all;
    more.extra = extra;
    more.n_extra = 1;
    for (unsigned i = 0; i < d->n_requests; i++) {
        const struct dialect_template *t = &d->requests[i];
        check(t->n_lines >= 1 && t->n_lines <= DIALECT_MAX_LINES && t->line >= 1 && t->line <= lines);
        check(t->uses < (1u << DIALECT_FIELD_COUNT));
        for (unsigned k = 0; k < i; k++)
            check(strcmp(d->requests[k].method, t->method) != 0);
        /* "?" is no method a dialect can name: it finds `request *` */
        const char *method = strcmp(t->method, "*") == 0 ? "?" : t->method;
        check(dialect_template_for(d, method) == t);
        render(d, method, &all);
        render(d, method, &none);
        render(d, method, &more);
    }
    /* the same bytes parse the same way */
    struct dialect *again = NULL;
    char err2[512];
    check(dialect_parse_buffer("f.dialect", (const char *)data, size, &again, err2, sizeof err2) == 0);
    check(again->n_requests == d->n_requests && again->crlf == d->crlf &&
          again->last_line_end == d->last_line_end && strcmp(again->name, d->name) == 0);
    dialect_free(again);
    dialect_free(d);
    return 0;
}
