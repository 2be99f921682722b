/* Unit tests for the request dialects of the lab profile
 * (harness/replay/dialect.c): the three dialects of scenarios/lab/dialects
 * rendered byte for byte for SETUP, PLAY, PAUSE and TEARDOWN; lines left
 * out when their placeholders have no value (Session before SETUP, a
 * suppressed CSeq); explicit values; appended headers and a body in the
 * dialect's line ends; the 255-byte limit; the compiled-in lab dialect
 * against the file; the lookup by name and by path; and parser errors,
 * each with its file, line and column. */
#include "check.h"
#include "replay/dialect.h"

#define DIR "scenarios/lab"

/* Values of a request on a connection after SETUP (session NULL: before). */
static struct dialect_request values(const char *method, const char *cseq, const char *session)
{
    struct dialect_request rq = {.values = {
                                     [DIALECT_METHOD] = method,
                                     [DIALECT_MEDIA] = "movie.Mjpeg",
                                     [DIALECT_URL] = "rtsp://10.0.0.2:8554/movie.Mjpeg",
                                     [DIALECT_CSEQ] = cseq,
                                     [DIALECT_SESSION] = session,
                                     [DIALECT_RTP_PORT] = "40000",
                                     [DIALECT_RTCP_PORT] = "40001",
                                     [DIALECT_HOST] = "10.0.0.2",
                                     [DIALECT_PORT] = "8554",
                                 }};
    return rq;
}

/* Render and compare with want; want NULL expects a refusal whose message holds why. */
static void expect_render(const struct dialect *d, const char *method, const struct dialect_request *rq,
                          const char *want, const char *why)
{
    struct scenario_buf b = {0};
    char err[320] = "";
    long n = d ? dialect_render(d, method, rq, &b, err, sizeof err) : -1;
    if (want) {
        CHECK_EQ_INT(n, (long)strlen(want));
        CHECK_STR(b.buf ? b.buf : "", b.len, want);
        if (n < 0)
            fprintf(stderr, "    %s\n", err);
    } else {
        CHECK_EQ_INT(n, -1);
        CHECK_EQ_INT(b.len, 0);
        CHECK(strstr(err, why) != NULL);
        if (!strstr(err, why))
            fprintf(stderr, "    got \"%s\", expected \"%s\" in it\n", err, why);
    }
    free(b.buf);
}

static struct dialect *load(const char *name)
{
    struct dialect *d = NULL;
    char err[512];
    if (dialect_load(name, DIR, &d, err, sizeof err) < 0)
        fprintf(stderr, "    %s\n", err);
    CHECK(d != NULL);
    return d;
}

/* The session of the flow in every case below. */
#define SES "123456"

static void lab_renders_the_canonical_requests(void)
{
    struct dialect *d = load("lab");
    CHECK(d && strcmp(d->name, "lab") == 0 && strcmp(d->path, DIR "/dialects/lab.dialect") == 0);
    struct dialect_request rq = values("SETUP", "1", NULL);
    expect_render(d, "SETUP", &rq,
                  "SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 40000", NULL);
    rq = values("PLAY", "2", SES);
    expect_render(d, "PLAY", &rq, "PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456", NULL);
    rq = values("PAUSE", "3", SES);
    expect_render(d, "PAUSE", &rq, "PAUSE movie.Mjpeg RTSP/1.0\nCSeq: 3\nSession: 123456", NULL);
    rq = values("TEARDOWN", "4", SES);
    expect_render(d, "TEARDOWN", &rq, "TEARDOWN movie.Mjpeg RTSP/1.0\nCSeq: 4\nSession: 123456", NULL);
    dialect_free(d);
}

static void bare_cseq_renders_its_family(void)
{
    struct dialect *d = load("bare-cseq");
    CHECK(d && strcmp(d->name, "bare-cseq") == 0);
    struct dialect_request rq = values("SETUP", "1", NULL);
    expect_render(d, "SETUP", &rq, "SETUP movie.Mjpeg\n1\n RTSP/1.0 RTP/UDP 40000", NULL);
    rq = values("PLAY", "2", SES);
    expect_render(d, "PLAY", &rq, "PLAY \n2", NULL);
    rq = values("PAUSE", "3", SES);
    expect_render(d, "PAUSE", &rq, "PAUSE \n3", NULL);
    rq = values("TEARDOWN", "4", SES);
    expect_render(d, "TEARDOWN", &rq, "TEARDOWN \n4", NULL);
    /* the file name is known only to the SETUP template */
    const struct dialect_template *t = d ? dialect_template_for(d, "PLAY") : NULL;
    CHECK(t && strcmp(t->method, "*") == 0 && !(t->uses & (1u << DIALECT_MEDIA)));
    dialect_free(d);
}

static void crlf3_terminates_three_lines(void)
{
    struct dialect *d = load("crlf3");
    struct dialect_request rq = values("SETUP", "1", NULL);
    expect_render(d, "SETUP", &rq,
                  "SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/UDP; client_port= 40000\r\n",
                  NULL);
    rq = values("PLAY", "2", SES);
    expect_render(d, "PLAY", &rq, "PLAY movie.Mjpeg RTSP/1.0\r\nCSeq: 2\r\nSession: 123456\r\n", NULL);
    rq = values("PAUSE", "3", SES);
    expect_render(d, "PAUSE", &rq, "PAUSE movie.Mjpeg RTSP/1.0\r\nCSeq: 3\r\nSession: 123456\r\n", NULL);
    rq = values("TEARDOWN", "4", SES);
    expect_render(d, "TEARDOWN", &rq, "TEARDOWN movie.Mjpeg RTSP/1.0\r\nCSeq: 4\r\nSession: 123456\r\n",
                  NULL);
    dialect_free(d);
}

static void lines_without_values_are_left_out(void)
{
    struct dialect *lab = load("lab"), *crlf3 = load("crlf3");
    /* PLAY before any SETUP: no Session line */
    struct dialect_request rq = values("PLAY", "1", NULL);
    expect_render(lab, "PLAY", &rq, "PLAY movie.Mjpeg RTSP/1.0\nCSeq: 1", NULL);
    expect_render(crlf3, "PLAY", &rq, "PLAY movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n", NULL);
    /* an empty value counts as none */
    rq = values("PLAY", "1", "");
    expect_render(lab, "PLAY", &rq, "PLAY movie.Mjpeg RTSP/1.0\nCSeq: 1", NULL);
    /* a suppressed CSeq (`> !CSeq`) and Transport (`> !Transport`) */
    rq = values("SETUP", NULL, NULL);
    rq.values[DIALECT_RTP_PORT] = NULL;
    expect_render(lab, "SETUP", &rq, "SETUP movie.Mjpeg RTSP/1.0", NULL);
    /* an explicit CSeq value replaces the counter in its place */
    rq = values("PLAY", "7", SES);
    expect_render(lab, "PLAY", &rq, "PLAY movie.Mjpeg RTSP/1.0\nCSeq: 7\nSession: 123456", NULL);
    /* a line with one known placeholder of two keeps the known one */
    rq = values("PLAY", "1", NULL);
    rq.values[DIALECT_MEDIA] = NULL;
    expect_render(lab, "PLAY", &rq, "PLAY  RTSP/1.0\nCSeq: 1", NULL);
    dialect_free(lab);
    dialect_free(crlf3);
}

static void extra_headers_and_body_follow_in_the_dialects_line_ends(void)
{
    struct dialect *lab = load("lab"), *crlf3 = load("crlf3"), *bare = load("bare-cseq");
    const char *extra[] = {"X-Note: hi", "Range: npt=0-"};
    struct dialect_request rq = values("PLAY", "2", SES);
    rq.extra = extra;
    rq.n_extra = 2;
    expect_render(lab, "PLAY", &rq,
                  "PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456\nX-Note: hi\nRange: npt=0-", NULL);
    expect_render(
        crlf3, "PLAY", &rq,
        "PLAY movie.Mjpeg RTSP/1.0\r\nCSeq: 2\r\nSession: 123456\r\nX-Note: hi\r\nRange: npt=0-\r\n", NULL);
    expect_render(bare, "PLAY", &rq, "PLAY \n2\nX-Note: hi\nRange: npt=0-", NULL);
    /* a body comes after a terminated last line and a blank line */
    const char *clen[] = {"Content-Length: 4"};
    rq = values("SET_PARAMETER", "5", SES);
    rq.extra = clen;
    rq.n_extra = 1;
    rq.body = "a=b\n";
    rq.body_len = 4;
    expect_render(lab, "SET_PARAMETER", &rq,
                  "SET_PARAMETER movie.Mjpeg RTSP/1.0\nCSeq: 5\nSession: 123456\nContent-Length: 4\n\na=b\n",
                  NULL);
    dialect_free(lab);
    dialect_free(crlf3);
    dialect_free(bare);
}

static void a_request_over_255_bytes_is_refused(void)
{
    struct dialect *d = load("lab");
    /* "PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456" is 49 bytes; "\nX: " 4 more */
    char fill[256];
    memset(fill, 'A', sizeof fill);
    char line[300];
    snprintf(line, sizeof line, "X: %.*s", 255 - 49 - 4, fill);
    const char *extra[] = {line};
    struct dialect_request rq = values("PLAY", "2", SES);
    rq.extra = extra;
    rq.n_extra = 1;
    struct scenario_buf b = {0};
    char err[320];
    CHECK_EQ_INT(dialect_render(d, "PLAY", &rq, &b, err, sizeof err), 255);
    free(b.buf);
    snprintf(line, sizeof line, "X: %.*s", 256 - 49 - 4, fill);
    expect_render(d, "PLAY", &rq, NULL, "the PLAY request is 256 bytes, over 255");
    dialect_free(d);
}

static void a_method_without_template_is_refused(void)
{
    struct dialect *d = NULL;
    char err[256];
    const char *text = "request SETUP\n  {method} {media} RTSP/1.0\n";
    CHECK_EQ_INT(dialect_parse_buffer("only.dialect", text, strlen(text), &d, err, sizeof err), 0);
    CHECK(d && strcmp(d->name, "only") == 0 && !d->crlf && !d->last_line_end && !d->blank_line);
    struct dialect_request rq = values("PLAY", "2", SES);
    expect_render(d, "PLAY", &rq, NULL, "dialect only has no request PLAY");
    /* every placeholder of the only line unknown: nothing to send */
    rq = values("SETUP", "1", NULL);
    rq.values[DIALECT_METHOD] = rq.values[DIALECT_MEDIA] = NULL;
    expect_render(d, "SETUP", &rq, NULL, "renders no line for SETUP");
    dialect_free(d);
}

static void builtin_lab_matches_the_file(void)
{
    struct dialect *file = load("lab"), *builtin = NULL;
    char err[256];
    CHECK_EQ_INT(dialect_lab(&builtin, err, sizeof err), 0);
    CHECK(builtin && strcmp(builtin->name, "lab") == 0 && strcmp(builtin->path, "<built-in>") == 0);
    const char *methods[] = {"SETUP", "PLAY", "PAUSE", "TEARDOWN", "DESCRIBE", "OPTIONS"};
    const char *extra[] = {"X-Note: hi"};
    for (int m = 0; m < 6; m++)
        for (int state = 0; state < 4; state++) {
            struct dialect_request rq = values(methods[m], state == 3 ? NULL : "9", state & 1 ? SES : NULL);
            if (state == 2) {
                rq.extra = extra;
                rq.n_extra = 1;
            }
            struct scenario_buf a = {0}, b = {0};
            long na = file ? dialect_render(file, methods[m], &rq, &a, err, sizeof err) : -2;
            long nb = builtin ? dialect_render(builtin, methods[m], &rq, &b, err, sizeof err) : -3;
            CHECK_EQ_INT(na, nb);
            CHECK(na > 0 && a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0);
            free(a.buf);
            free(b.buf);
        }
    dialect_free(file);
    dialect_free(builtin);
}

static void lookup_by_name_and_by_path(void)
{
    struct dialect *d = NULL;
    char err[512];
    /* <dir>/dialects first, then <dir>/../dialects (here dir is any folder next to dialects/) */
    CHECK_EQ_INT(dialect_load("crlf3", DIR "/dialects", &d, err, sizeof err), 0);
    CHECK(d && strcmp(d->path, DIR "/dialects/../dialects/crlf3.dialect") == 0);
    dialect_free(d);
    /* a path, relative to the scenario's folder */
    CHECK_EQ_INT(dialect_load("dialects/bare-cseq.dialect", DIR, &d, err, sizeof err), 0);
    CHECK(d && strcmp(d->name, "bare-cseq") == 0);
    dialect_free(d);
    CHECK_EQ_INT(dialect_load(DIR "/dialects/lab.dialect", NULL, &d, err, sizeof err), 0);
    dialect_free(d);
    /* lab outside the tree: the compiled-in copy */
    CHECK_EQ_INT(dialect_load("lab", "/nonexistent", &d, err, sizeof err), 0);
    CHECK(d && strcmp(d->path, "<built-in>") == 0);
    dialect_free(d);
    /* others must exist */
    CHECK_EQ_INT(dialect_load("nosuch", DIR, &d, err, sizeof err), -1);
    CHECK(d == NULL);
    CHECK(strcmp(err, "no dialect 'nosuch' (looked for " DIR "/dialects/nosuch.dialect and " DIR
                      "/../dialects/nosuch.dialect)") == 0);
    CHECK_EQ_INT(dialect_load("missing.dialect", DIR, &d, err, sizeof err), -1);
    CHECK(strcmp(err, DIR "/missing.dialect: No such file or directory") == 0);
    CHECK_EQ_INT(dialect_load("bad name", DIR, &d, err, sizeof err), -1);
    CHECK(strstr(err, "'bad name' is not a dialect name") == err);
    CHECK_EQ_INT(dialect_load("dialects", DIR, &d, err, sizeof err), -1);
    CHECK(strstr(err, "no dialect 'dialects'") == err);
}

static void quotes_and_braces(void)
{
    struct dialect *d = NULL;
    char err[256];
    const char *text = "@dialect q   # spaces kept in quotes\r\n"
                       "@line-end crlf\r\n"
                       "@last-line-end yes\r\n"
                       "@blank-line yes\r\n"
                       "request *\r\n"
                       "\t\"  {method}  \"   \r\n"
                       "  X-Set: {{a}} {port}}\r\n";
    CHECK_EQ_INT(dialect_parse_buffer("q.dialect", text, strlen(text), &d, err, sizeof err), 0);
    if (!d) {
        fprintf(stderr, "    %s\n", err);
        return;
    }
    CHECK(strcmp(d->name, "q") == 0 && d->crlf && d->last_line_end && d->blank_line);
    CHECK_EQ_INT(d->n_requests, 1);
    CHECK_EQ_INT(d->requests[0].uses, (1u << DIALECT_METHOD) | (1u << DIALECT_PORT));
    struct dialect_request rq = values("OPTIONS", "1", NULL);
    expect_render(d, "OPTIONS", &rq, "  OPTIONS  \r\nX-Set: {a}} 8554}\r\n\r\n", NULL);
    dialect_free(d);
}

struct bad_case {
    const char *text; /* the description */
    const char *err;  /* the whole message */
};

static void parse_errors_name_line_and_column(void)
{
    static const struct bad_case cases[] = {
        {"@dialekt x\nrequest *\n  A\n", "b.dialect:1:1: unknown directive '@dialekt' (@dialect @line-end "
                                         "@last-line-end @blank-line)"},
        {"@line-end cr\nrequest *\n  A\n", "b.dialect:1:11: @line-end is 'lf' or 'crlf', not 'cr'"},
        {"@last-line-end\nrequest *\n  A\n", "b.dialect:1:15: @last-line-end needs a value"},
        {"@blank-line yes no\nrequest *\n  A\n",
         "b.dialect:1:16: unexpected text after the value of @blank-line"},
        {"@line-end lf\n@line-end crlf\nrequest *\n  A\n", "b.dialect:2:1: @line-end given twice"},
        {"request *\n  A\n@line-end lf\n", "b.dialect:3:1: @line-end must come before the first request"},
        {"request SETUP\nrequest *\n  A\n", "b.dialect:1:1: request SETUP has no lines"},
        {"request *\n  {method} {file} RTSP/1.0\n",
         "b.dialect:2:12: unknown placeholder {file} ({method} {media} {url} {cseq} {session} {rtp_port} "
         "{rtcp_port} {host} {port})"},
        {"request *\n  CSeq: {cseq\n", "b.dialect:2:9: unterminated '{' (write {{ for a literal brace)"},
        {"request PLAY\n  A\nrequest *\n  B\nrequest PLAY\n  C\n",
         "b.dialect:5:9: request PLAY given twice (first at line 1)"},
        {"request\n  A\n", "b.dialect:1:8: request needs a method (SETUP, PLAY, ...) or '*' for any other"},
        {"request PL/AY\n  A\n",
         "b.dialect:1:11: bad character in the method (letters, digits, '_', '-'; or '*' alone)"},
        {"request PLAY now\n  A\n", "b.dialect:1:14: unexpected text after the method"},
        {"  {method}\n", "b.dialect:1:3: an indented line outside a request (indent only the lines of a "
                         "`request` block)"},
        {"request *\n  \"{method} \n", "b.dialect:2:3: unterminated quote (a quoted line ends with '\"')"},
        {"request *\n  \"\"\n",
         "b.dialect:2:3: an empty line (the blank line after a request is @blank-line)"},
        {"request *\n  A\x01\n", "b.dialect:2:4: control character 0x01 in a line (line ends come from "
                                 "@line-end)"},
        {"request *\n  A\rB\n", "b.dialect:2:4: carriage return inside a line"},
        {"Request *\n  A\n", "b.dialect:1:1: unexpected line (@directives, `request METHOD`, then its lines "
                             "indented)"},
        {"# nothing\n\n", "b.dialect:2:1: the dialect has no requests (`request METHOD` and its lines)"},
        {"@blank-line yes\nrequest *\n  A\n", "b.dialect:1:13: @blank-line yes needs @last-line-end yes"},
        {"@dialect ../x\nrequest *\n  A\n",
         "b.dialect:1:10: '../x' is not a dialect name (letters, digits, '_', '-', '.'; at most 63 bytes)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dialect *d = (struct dialect *)&cases; /* must be reset to NULL */
        char err[400];
        int rc = dialect_parse_buffer("b.dialect", cases[i].text, strlen(cases[i].text), &d, err, sizeof err);
        CHECK_EQ_INT(rc, -1);
        CHECK(d == NULL);
        if (rc == 0)
            dialect_free(d);
        if (rc < 0 && strcmp(err, cases[i].err) != 0) {
            fprintf(stderr, "    case %zu: got      \"%s\"\n              expected \"%s\"\n", i, err,
                    cases[i].err);
            CHECK(strcmp(err, cases[i].err) == 0);
        }
    }
    /* NUL bytes, long lines, large files, a tiny error buffer */
    struct dialect *d = NULL;
    char err[200];
    CHECK_EQ_INT(dialect_parse_buffer("n.dialect", "request *\n  A\0B\n", 15, &d, err, sizeof err), -1);
    CHECK(strcmp(err, "n.dialect:2:4: NUL byte in the dialect") == 0);
    static char big[DIALECT_MAX_FILE_BYTES + 2];
    memset(big, '#', sizeof big);
    CHECK_EQ_INT(dialect_parse_buffer("n.dialect", big, DIALECT_MAX_LINE + 1, &d, err, sizeof err), -1);
    CHECK(strcmp(err, "n.dialect:1:1025: line longer than 1024 bytes") == 0);
    CHECK_EQ_INT(dialect_parse_buffer("n.dialect", big, sizeof big, &d, err, sizeof err), -1);
    CHECK(strcmp(err, "n.dialect:1:1: larger than 65536 bytes") == 0);
    char tiny[8];
    CHECK_EQ_INT(dialect_parse_buffer("n.dialect", "x", 1, &d, tiny, sizeof tiny), -1);
    CHECK(strlen(tiny) < sizeof tiny);
}

static void field_names(void)
{
    CHECK(strcmp(dialect_field_name(DIALECT_RTP_PORT), "rtp_port") == 0);
    CHECK(strcmp(dialect_field_name(DIALECT_METHOD), "method") == 0);
    CHECK(dialect_field_name(DIALECT_FIELD_COUNT) == NULL);
}

int main(void)
{
    RUN(lab_renders_the_canonical_requests);
    RUN(bare_cseq_renders_its_family);
    RUN(crlf3_terminates_three_lines);
    RUN(lines_without_values_are_left_out);
    RUN(extra_headers_and_body_follow_in_the_dialects_line_ends);
    RUN(a_request_over_255_bytes_is_refused);
    RUN(a_method_without_template_is_refused);
    RUN(builtin_lab_matches_the_file);
    RUN(lookup_by_name_and_by_path);
    RUN(quotes_and_braces);
    RUN(parse_errors_name_line_and_column);
    RUN(field_names);
    CHECK_DONE();
}
