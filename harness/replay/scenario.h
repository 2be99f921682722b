/* The scenario language: a parser from a scenario file (docs/scenarios.md
 * is the reference) to a plain list of steps, in the packetdrill manner:
 * parsing knows nothing of sockets, the replay engine (replay.h) runs the
 * list. A scenario is a transcript of what the harness sends (`>` lines)
 * and what it expects back (`<` lines), with commands for connections,
 * waits, RTP windows and streaming, and header directives (`@role`,
 * `@impair`, ...) and impairment phases (`at 2s: loss 30%`).
 *
 * Everything the parser can check is checked here, so a scenario that
 * parses only fails at run time on what the peer does: unknown variables
 * (a use before any capture of that name), bad regular expressions, bad
 * netem text, step modifiers that lead nowhere. Every error names the
 * file, the line and the column: "scenarios/x.rtsp:12:5: unknown matcher
 * '<<'".
 *
 * Text that is sent or matched is kept as a template: `{name}` is replaced
 * at run time by a variable (scenario_expand), `{{` stands for a literal
 * '{'. A '{' followed by anything but a letter or '_' is literal, so regex
 * intervals such as `[0-9]{6}` need no escape.
 */
#ifndef RTSP_HARNESS_SCENARIO_H
#define RTSP_HARNESS_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "impair.h"

#define SCENARIO_MAX_FILE_BYTES     (1u << 20) /* larger files are refused */
#define SCENARIO_MAX_LINE           8192       /* longest line, in bytes */
#define SCENARIO_MAX_STEPS          4096       /* steps per scenario */
#define SCENARIO_MAX_EVENTS         256        /* `at` lines per scenario */
#define SCENARIO_MAX_ALLOW          32         /* check ids in @allow lines */
#define SCENARIO_MAX_CONDS          16         /* conditions per `rtp for` line */
#define SCENARIO_MAX_CAPTURES       9          /* variables one matcher captures */
#define SCENARIO_MAX_HEADERS        64         /* header lines per message block */
#define SCENARIO_MAX_MATCHERS       64         /* matcher lines per `<` block */
#define SCENARIO_MAX_ALTERNATIVES   8          /* `454|455` status or method alternatives */
#define SCENARIO_MAX_CONNS          8          /* named connections */
#define SCENARIO_MAX_REPEAT         1048576    /* largest N of {repeat:X:N} output, in bytes */
#define SCENARIO_MAX_REGEX          512        /* longest regular expression, in bytes */
#define SCENARIO_NAME_MAX           32         /* longest variable or connection name */
#define SCENARIO_CHECK_MAX          48         /* longest check id, NUL included */
#define SCENARIO_DEFAULT_TIMEOUT_MS 5000       /* per-step timeout when @timeout is not given */

enum scenario_role {
    SCENARIO_ROLE_SERVER, /* the system under test is a server: the harness is the client */
    SCENARIO_ROLE_CLIENT, /* the system under test is a client: the harness is a scripted server */
};

enum scenario_profile {
    SCENARIO_PROFILE_RFC2326, /* RFC 2326 messages: CRLF, blank line, Content-Length */
    SCENARIO_PROFILE_LAB,     /* the student lab's dialect: bare LF, no blank line, read to idle */
};

enum scenario_transport {
    SCENARIO_TRANSPORT_UDP, /* automatic Transport offers client_port */
    SCENARIO_TRANSPORT_TCP, /* automatic Transport offers interleaved channels */
};

/* Which way an impairment applies. Array index of scenario.impair: */
enum scenario_direction {
    SCENARIO_DIR_TO_SUT = 0,  /* harness -> system under test */
    SCENARIO_DIR_TO_PEER = 1, /* system under test -> harness */
    SCENARIO_DIR_BOTH = 2,    /* both of the above */
};

enum scenario_on_fail {
    SCENARIO_ON_FAIL_DEFAULT = 0, /* a step without `on-fail`: the scenario's setting */
    SCENARIO_ON_FAIL_STOP,        /* the first failure ends the scenario */
    SCENARIO_ON_FAIL_CONTINUE,    /* record the failure and go on */
};

/* ---- RTP expectations (`rtp for 3s: frames >= 50, loss <= 5%`) ---- */

enum scenario_metric {
    SCENARIO_METRIC_PACKETS,  /* RTP packets received */
    SCENARIO_METRIC_FRAMES,   /* complete video frames */
    SCENARIO_METRIC_BYTES,    /* RTP payload bytes */
    SCENARIO_METRIC_PT,       /* payload type of every packet */
    SCENARIO_METRIC_SSRC,     /* SSRC of every packet */
    SCENARIO_METRIC_LOSS,     /* RTP loss in percent (RFC 3550 A.3) */
    SCENARIO_METRIC_FPS,      /* complete frames per second */
    SCENARIO_METRIC_BITRATE,  /* kbit/s of RTP payload */
    SCENARIO_METRIC_JITTER,   /* RFC 3550 interarrival jitter, ms */
    SCENARIO_METRIC_INTERVAL, /* mean interval between frames, ms */
    SCENARIO_METRIC_IDENTICAL, /* lab: percent of frames byte-identical to the movie's frame of that number */
    SCENARIO_METRIC_COUNT,
};

/* "packets", "frames", ...; "unknown" when out of range. */
const char *scenario_metric_name(enum scenario_metric m);

enum scenario_op {
    SCENARIO_OP_EQ,       /* = (with an optional tolerance) */
    SCENARIO_OP_NE,       /* != */
    SCENARIO_OP_LT,       /* < */
    SCENARIO_OP_LE,       /* <= */
    SCENARIO_OP_GT,       /* > */
    SCENARIO_OP_GE,       /* >= */
    SCENARIO_OP_CONSTANT, /* `ssrc constant`, `pt constant`: one value in the whole window */
    SCENARIO_OP_BINOMIAL, /* `loss within binomial 99% [of 10%]` */
};

/* "=", "!=", "<", "<=", ">", ">=", "constant", "within binomial". */
const char *scenario_op_name(enum scenario_op op);

/* One condition of an `rtp for` line. Values are in the metric's unit:
 * packets, frames, bytes, pt, ssrc as numbers; loss in percent; fps; kbit/s
 * for bitrate; ms for jitter and interval. */
struct scenario_rtp_cond {
    enum scenario_metric metric; /* what is measured */
    enum scenario_op op;         /* how it is compared */
    double value;                /* the right-hand side (unused for constant and binomial) */
    double tolerance;            /* `+- T`: absolute, in the metric's unit; 0 when none */
    bool tolerance_percent;      /* tolerance is a percentage of value (not for loss) */
    double confidence;           /* binomial: 0.99 for 99% */
    bool has_p;                  /* binomial: `of P%` was given */
    double p;                    /* binomial: that loss probability, 0..1 */
    unsigned line;               /* scenario line */
    unsigned column;             /* column of the metric name (1-based) */
};

/* One `rtp for D [after G]: ...` window. */
struct scenario_rtp_expect {
    int64_t duration_ms;                                /* window length */
    int64_t after_ms;                                   /* grace before the window opens */
    struct scenario_rtp_cond conds[SCENARIO_MAX_CONDS]; /* the conditions, in order */
    unsigned n_conds;                                   /* entries used in conds */
    unsigned line;                                      /* scenario line */
};

/* ---- impairment phases (`at 2s: loss 30%`, `at 5s: blackout 2s`) ---- */

enum scenario_event_kind {
    SCENARIO_EVENT_IMPAIR,   /* replace the impairment of one or both directions */
    SCENARIO_EVENT_BLACKOUT, /* link down in both directions for duration_ms */
};

struct scenario_event {
    unsigned line;                     /* scenario line */
    unsigned column;                   /* column of the `at` keyword */
    int64_t at_ms;                     /* time from the scenario start */
    enum scenario_event_kind kind;     /* impairment phase or blackout */
    enum scenario_direction direction; /* impair: which direction(s); blackout: both */
    struct impair_spec spec;           /* impair: the parsed netem text */
    char text[256];                    /* impair: the netem text as written (direction word removed) */
    uint64_t duration_ms;              /* blackout: how long the link is down */
};

/* ---- message blocks ---- */

/* One header line of a `>` block: `> Name: value` or `> !Name`. */
struct scenario_header {
    char *name;            /* header name as written */
    char *value;           /* value template; NULL for `!Name` (suppress the automatic header) */
    unsigned line;         /* scenario line */
    unsigned column;       /* column of the name */
    unsigned value_column; /* column where the value template starts */
};

enum scenario_send_form {
    SCENARIO_SEND_MESSAGE, /* a `>` block: start line, headers, body */
    SCENARIO_SEND_RAW,     /* `>raw "C string"`: bytes as written (templates expanded) */
    SCENARIO_SEND_HEX,     /* `>hex 24 00 ...`: bytes as written */
};

/* What the harness sends: a request (server role) or a reply (client role). */
struct scenario_send {
    enum scenario_send_form form;    /* message, raw or hex */
    char *start_line;                /* message: request or status line template */
    unsigned start_column;           /* message: its column */
    struct scenario_header *headers; /* message: header lines in order */
    unsigned n_headers;              /* entries in headers */
    bool has_body;                   /* message: a `>` blank line was given (body may be empty) */
    char *body;                      /* message: body template, lines joined by '\n' */
    unsigned body_line;              /* message: scenario line of the first body line */
    char *raw;                       /* raw: the C string's text between quotes (escapes kept) */
    unsigned raw_column;             /* raw: column of the first byte after the quote */
    uint8_t *hex;                    /* hex: the bytes */
    size_t hex_len;                  /* hex: how many */
    size_t split_bytes;              /* `>split N D`: segment size; 0 sends at once */
    int64_t split_gap_ms;            /* `>split N D`: pause between segments */
    unsigned pipeline_count;         /* `>pipeline N` on the first of N sends written together */
    bool pipelined;                  /* a later member of such a group (written by the first) */
};

/* A status line matcher element: three characters, digits or 'x' ("2xx"). */
struct scenario_status_alt {
    char code[4]; /* "200", "4xx", NUL-terminated */
};

enum scenario_match_kind {
    SCENARIO_MATCH_EXACT,       /* `< Name: value`: the trimmed value equals the template */
    SCENARIO_MATCH_REGEX,       /* `< Name: ~re [=> $a $b]`: POSIX ERE search */
    SCENARIO_MATCH_PRESENT,     /* `< Name:` with nothing after the colon */
    SCENARIO_MATCH_ABSENT,      /* `< !Name` */
    SCENARIO_MATCH_CAPTURE,     /* `< Name: $var`: present; the trimmed value is captured */
    SCENARIO_MATCH_SDP_LINE,    /* `< sdp: v=0`: a line of the SDP body equals the template */
    SCENARIO_MATCH_SDP_REGEX,   /* `< sdp: ~re [=> ...]`: a line of the SDP body matches */
    SCENARIO_MATCH_SDP_ABSENT,  /* `< sdp: !line` or `< sdp: !~re`: no line equals / matches */
    SCENARIO_MATCH_BODY_REGEX,  /* `< body: ~re [=> ...]`: the body matches (REG_NEWLINE) */
    SCENARIO_MATCH_BODY_NOT,    /* `< body: !~re`: the body does not match */
    SCENARIO_MATCH_AUTH_BASIC,  /* `< auth: basic USER PASSWORD` (client role) */
    SCENARIO_MATCH_AUTH_DIGEST, /* `< auth: digest USER PASSWORD` (client role) */
};

/* One line of a `<` block after the start line. */
struct scenario_matcher {
    enum scenario_match_kind kind; /* see above */
    char *name;                    /* header name (header kinds); NULL otherwise */
    char *pattern;                 /* exact or regex template; auth: user; NULL when none */
    bool pattern_regex;            /* SDP_ABSENT: pattern is a regex, else a line */
    char *password;                /* auth kinds: the password */
    char captures[SCENARIO_MAX_CAPTURES][SCENARIO_NAME_MAX]; /* `$a`: whole value, or groups 1.. */
    unsigned n_captures;                                     /* entries used in captures */
    unsigned line;                                           /* scenario line */
    unsigned column;                                         /* column of the header name or keyword */
    unsigned pattern_column;                                 /* column where pattern starts */
};

/* What the harness expects: a reply (server role) or a request (client role). */
struct scenario_expect {
    /* server role: the status line */
    struct scenario_status_alt status[SCENARIO_MAX_ALTERNATIVES]; /* `200`, `2xx`, `454|455` */
    unsigned n_status; /* entries used in status; 0 in client role */
    char *reason;      /* reason phrase that must follow; NULL: any */
    /* client role: the request line */
    char methods[SCENARIO_MAX_ALTERNATIVES][24]; /* `SETUP`, `GET_PARAMETER|OPTIONS` */
    unsigned n_methods;                          /* entries used in methods; 0 in server role */
    char *uri;                                   /* URI template, exact or regex (uri_regex) */
    bool uri_regex;                              /* the URI was written `~re` */
    unsigned uri_column;                         /* column of the URI */
    unsigned start_column;                       /* column of the start line */
    struct scenario_matcher *matchers;           /* matcher lines in order */
    unsigned n_matchers;                         /* entries in matchers */
    bool explicit_cseq;                          /* a matcher names CSeq: no automatic CSeq check */
    bool explicit_session;                       /* a matcher names Session: no automatic Session check */
};

/* ---- steps ---- */

enum scenario_step_kind {
    SCENARIO_STEP_SEND,           /* `>` block, `>raw`, `>hex` */
    SCENARIO_STEP_EXPECT,         /* `<` block */
    SCENARIO_STEP_EXPECT_CLOSE,   /* `expect close`: the peer closes the connection */
    SCENARIO_STEP_EXPECT_SILENCE, /* `expect silence D`: no RTSP message for D */
    SCENARIO_STEP_EXPECT_CPU,     /* `expect cpu below P% for D`: the SUT's processes stay that idle for D */
    SCENARIO_STEP_WAIT,           /* `wait D` */
    SCENARIO_STEP_RTP_FOR,        /* `rtp for D [after G]: conditions` */
    SCENARIO_STEP_RTP_SEND,       /* `rtp send [fps F]` (client role) */
    SCENARIO_STEP_RTP_STOP,       /* `rtp stop` (client role) */
    SCENARIO_STEP_CONNECT,        /* `connect [name]` (server role) */
    SCENARIO_STEP_ACCEPT,         /* `accept [name]` (client role) */
    SCENARIO_STEP_USE,            /* `use name` */
    SCENARIO_STEP_CLOSE,          /* `close [name]` */
};

/* "send", "expect", "expect close", ... */
const char *scenario_step_kind_name(enum scenario_step_kind k);

struct scenario_step {
    enum scenario_step_kind kind;    /* what to do */
    unsigned line;                   /* scenario line of the step's first line */
    unsigned column;                 /* its column */
    bool optional;                   /* `with optional`: a failure is recorded as skipped */
    int64_t timeout_ms;              /* `with timeout D`; 0: the scenario's @timeout */
    enum scenario_on_fail on_fail;   /* `with on-fail ...`; DEFAULT: the scenario's */
    int exchange;                    /* message steps: index of the exchange they belong to
                                     (a request and its reply share one); -1 otherwise */
    char conn[SCENARIO_NAME_MAX];    /* connect/accept/use/close: connection name ("" current) */
    int64_t duration_ms;             /* wait, expect silence, expect cpu */
    double cpu_percent;              /* expect cpu: the most CPU (percent of one CPU) the SUT may use */
    double fps;                      /* rtp send: frame rate; 0: 20 */
    struct scenario_send send;       /* SEND */
    struct scenario_expect expect;   /* EXPECT */
    struct scenario_rtp_expect *rtp; /* RTP_FOR: the window and its conditions */
};

struct scenario_arena; /* the parser's allocations, freed by scenario_free */
struct dialect;        /* a request dialect of the lab profile (dialect.h) */

struct scenario {
    char path[256];                    /* file name used in messages */
    char name[128];                    /* @name, else the file's base name */
    enum scenario_role role;           /* @role */
    enum scenario_profile profile;     /* @profile */
    enum scenario_transport transport; /* @transport */
    int64_t timeout_ms;                /* @timeout: default per-step timeout */
    enum scenario_on_fail on_fail;     /* @on-fail: STOP unless given */
    struct impair_spec impair[2];      /* @impair by direction (SCENARIO_DIR_TO_SUT/TO_PEER) */
    char impair_text[2][256];          /* the netem text of each direction, "" none */
    bool impair_given;                 /* at least one @impair line */
    char allow[SCENARIO_MAX_ALLOW][SCENARIO_CHECK_MAX]; /* @allow check ids */
    unsigned n_allow;                                   /* entries used in allow */
    char require[SCENARIO_MAX_ALLOW][SCENARIO_CHECK_MAX]; /* @require: analyzer check ids that fail the
                                                           scenario whatever their severity */
    unsigned n_require;                                 /* entries used in require */
    struct scenario_event *events;                      /* `at` lines sorted by time (stable) */
    unsigned n_events;                                  /* entries in events */
    struct scenario_step *steps;                        /* the steps in file order */
    unsigned n_steps;                                   /* entries in steps */
    unsigned n_exchanges;                               /* exchange numbers used by steps */
    char dialect_name[256];                             /* @dialect as written (NAME or FILE.dialect), "" none */
    unsigned dialect_line;                              /* line of @dialect, else of `@profile lab` */
    unsigned dialect_column;                            /* column of its value */
    struct dialect *dialect;                            /* server role, lab profile: the request dialect
                                                           scenario_parse_file found (owned); NULL from
                                                           scenario_parse_buffer: the engine then uses
                                                           the compiled-in lab dialect */
    struct scenario_arena *arena;                       /* owns every string and array above */
};

/* Parse a scenario from memory. name is used in error messages and as the
 * default @name. Returns 0, or -1 with err ("name:line:column: message",
 * always NUL-terminated when cap > 0); sc is then empty (scenario_free is
 * still safe). */
int scenario_parse_buffer(const char *name, const char *buf, size_t len, struct scenario *sc, char *err,
                          size_t cap);

/* Read and parse a file; errors as above, or "path: <errno text>". A
 * server-role scenario of the lab profile also gets its request dialect
 * (dialect_load of @dialect, default `lab`, from the file's directory); a
 * dialect that cannot be loaded is an error at the @dialect (or @profile)
 * line: "x.rtsp:3:10: @dialect: dialects/y.dialect:4:3: unknown placeholder ...". */
int scenario_parse_file(const char *path, struct scenario *sc, char *err, size_t cap);

/* Release everything a parse allocated; sc is left empty. */
void scenario_free(struct scenario *sc);

/* True when id is on the scenario's @allow list. */
bool scenario_allows(const struct scenario *sc, const char *id);
/* Whether sc's @require names check id: its findings count as failures
 * even where the profile only warns or notes. */
bool scenario_requires(const struct scenario *sc, const char *id);

/* True when id looks like a check id: lowercase words of [a-z0-9-] joined
 * by dots, at least two words, shorter than SCENARIO_CHECK_MAX. */
bool scenario_check_id_valid(const char *id);

/* ---- templates ---- */

enum scenario_tpl_mode {
    SCENARIO_TPL_TEXT,    /* plain text: values go in as they are */
    SCENARIO_TPL_REGEX,   /* a regex: values are escaped so they match literally */
    SCENARIO_TPL_CSTRING, /* a `>raw` string: C escapes (\r \n \t \\ \" \0 \xNN) too */
};

/* Looks a variable up while expanding. name is not NUL-terminated. Return
 * 0 with *value set (it must stay valid until the call returns to the
 * expander), 1 when the variable exists but has no value yet, -1 when no
 * such variable exists. */
typedef int (*scenario_lookup_fn)(void *ctx, const char *name, size_t name_len, const char **value,
                                  size_t *value_len);

/* A growing output buffer for expansion; free buf with free(). */
struct scenario_buf {
    char *buf;    /* malloc'd, always NUL-terminated once anything was written */
    size_t len;   /* bytes used, NUL excluded */
    size_t cap;   /* bytes allocated */
    size_t limit; /* most bytes it may hold; 0: SCENARIO_MAX_EXPANSION */
};

#define SCENARIO_MAX_EXPANSION (4u << 20) /* default limit of one expansion, bytes */

/* Expand a template into out (appended; NULL only checks the template).
 * {repeat:X:N} (X written N times) is handled here, every other {name}
 * through lookup, which gets the whole text between the braces
 * ("session", "basic:user:pw"). Returns 0, or -1 with *err_offset (into tpl)
 * and *err_reason (static text: "unknown variable", "variable not set",
 * "unterminated {", "bad escape", "out of memory", ...) and, for variable
 * errors, the name in bad_name (cap bad_cap). */
int scenario_expand(const char *tpl, size_t len, enum scenario_tpl_mode mode, scenario_lookup_fn lookup,
                    void *ctx, struct scenario_buf *out, size_t *err_offset, const char **err_reason,
                    char *bad_name, size_t bad_cap);

/* Append bytes to a scenario_buf; -1 when out of memory or over its limit. */
int scenario_buf_add(struct scenario_buf *b, const void *data, size_t len);

#endif
