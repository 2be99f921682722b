/* Request dialects of the lab profile: how the harness writes the requests
 * of a `@profile lab` scenario (docs/scenarios.md, "Dialects"). Student lab
 * servers parse requests by line position and do not agree on the lines
 * (PROTOCOL.md section 1, "What real submissions look like on the wire"),
 * so the lines come from a description file, not from the engine:
 *
 *     @dialect lab
 *     @line-end lf            # lf | crlf
 *     @last-line-end no       # is the last line of a request terminated
 *     @blank-line no          # does a blank line follow the lines
 *     request SETUP
 *       {method} {media} RTSP/1.0
 *       CSeq: {cseq}
 *       Transport: RTP/UDP; client_port= {rtp_port}
 *     request *
 *       {method} {media} RTSP/1.0
 *       CSeq: {cseq}
 *       Session: {session}
 *
 * This module parses such files (every error names file:line:column) and
 * renders a request from the template of its method with the values the
 * replay engine supplies. A line whose placeholders all lack a value
 * (Session before any SETUP) is left out. */
#ifndef RTSP_HARNESS_DIALECT_H
#define RTSP_HARNESS_DIALECT_H

#include <stdbool.h>
#include <stddef.h>

#include "scenario.h"

#define DIALECT_MAX_FILE_BYTES    65536 /* larger description files are refused */
#define DIALECT_MAX_LINE          1024  /* longest line of a description file */
#define DIALECT_MAX_REQUESTS      32    /* `request` blocks per dialect */
#define DIALECT_MAX_LINES         16    /* template lines per request */
#define DIALECT_MAX_NAME          64    /* longest dialect name, NUL included */
#define DIALECT_MAX_METHOD        24    /* longest method, NUL included */
/* Lab servers read a request with one recv(256): a rendered request (its
 * template lines, the block's own headers and any body) may not be longer. */
#define DIALECT_MAX_REQUEST_BYTES 255

/* The placeholders of a template line, in {name} form. */
enum dialect_field {
    DIALECT_METHOD,    /* {method}: the block's method */
    DIALECT_MEDIA,     /* {media}: the file the block's request line names (its URI) */
    DIALECT_URL,       /* {url}: the target URL */
    DIALECT_CSEQ,      /* {cseq}: the automatic CSeq, or the block's explicit `CSeq:` value */
    DIALECT_SESSION,   /* {session}: the connection's session, or the block's `Session:` value */
    DIALECT_RTP_PORT,  /* {rtp_port}: the harness's RTP port */
    DIALECT_RTCP_PORT, /* {rtcp_port}: the harness's RTCP port */
    DIALECT_HOST,      /* {host}: the SUT's address */
    DIALECT_PORT,      /* {port}: the SUT's RTSP port */
    DIALECT_FIELD_COUNT,
};

/* "method", "media", ...; NULL when out of range. */
const char *dialect_field_name(enum dialect_field f);

/* One `request METHOD` block. */
struct dialect_template {
    char method[DIALECT_MAX_METHOD]; /* "SETUP", or "*" for any other method */
    char *lines[DIALECT_MAX_LINES];  /* template lines as written (quotes removed), malloc'd */
    unsigned n_lines;                /* entries used in lines */
    unsigned line;                   /* line of the `request` keyword in the file */
    unsigned uses;                   /* bit (1u << field) set for each placeholder its lines use */
};

struct dialect {
    char name[DIALECT_MAX_NAME]; /* @dialect, else the file's base name without ".dialect" */
    char path[256];              /* the file it came from, "<built-in>" for the compiled-in copy */
    bool crlf;                   /* @line-end crlf: lines end in CRLF, else bare LF */
    bool last_line_end;          /* @last-line-end yes: the last line is terminated too */
    bool blank_line;             /* @blank-line yes: an empty line ends the request */
    struct dialect_template requests[DIALECT_MAX_REQUESTS]; /* in file order */
    unsigned n_requests;                                    /* entries used in requests */
};

/* Parse a description from memory; name is used in errors and for the
 * default dialect name. Returns 0 with *out (free with dialect_free), or -1
 * with err ("name:line:column: message", NUL-terminated when cap > 0). */
int dialect_parse_buffer(const char *name, const char *buf, size_t len, struct dialect **out, char *err,
                         size_t cap);

/* Find and parse a dialect. name_or_path is either a NAME (letters,
 * digits, '_', '-', '.'), looked up as <scenario_dir>/dialects/NAME.dialect
 * and then <scenario_dir>/../dialects/NAME.dialect, or a path (it holds a
 * '/' or ends in ".dialect"), relative to scenario_dir unless absolute.
 * scenario_dir NULL is the current directory. The name "lab" that is found
 * nowhere is the compiled-in copy of the canonical lab dialect. Errors as
 * above, or "path: <errno text>", or "no dialect 'x' (looked for ...)". */
int dialect_load(const char *name_or_path, const char *scenario_dir, struct dialect **out, char *err,
                 size_t cap);

/* The compiled-in canonical lab dialect (PROTOCOL.md section 1). */
int dialect_lab(struct dialect **out, char *err, size_t cap);

void dialect_free(struct dialect *d);

/* The template for method: its own `request METHOD`, else `request *`;
 * NULL when the dialect has neither. */
const struct dialect_template *dialect_template_for(const struct dialect *d, const char *method);

/* What the engine knows when it renders one request. A value that is NULL
 * is unknown (no session yet, a `!Session` in the block). */
struct dialect_request {
    const char *values[DIALECT_FIELD_COUNT]; /* indexed by enum dialect_field */
    const char *const *extra;                /* lines appended after the template's (the block's
                                                own headers, "Name: value"), no line ends */
    unsigned n_extra;                        /* entries in extra */
    const char *body;                        /* body bytes (their line ends included), NULL none */
    size_t body_len;                         /* bytes in body */
};

/* Render the request for method into out (appended): the template's lines
 * with the placeholders replaced (a line whose placeholders are all
 * unknown is left out), then the extra lines, joined by the dialect's line
 * end; then the last line's end and a blank line as the dialect says. A
 * body always follows a terminated last line and a blank line. Returns the
 * rendered length, or -1 with err: no template for the method, nothing to
 * render, over DIALECT_MAX_REQUEST_BYTES (the size is named), out of memory. */
long dialect_render(const struct dialect *d, const char *method, const struct dialect_request *rq,
                    struct scenario_buf *out, char *err, size_t cap);

#endif
