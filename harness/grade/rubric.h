/* Rubrics: what a submission's run is worth (docs/grading.md). A rubric
 * file names the scenarios to run and maps their outcomes, read from the
 * run report, to points: each item has conditions that must all hold for
 * its points, optional partial credit, a plain-language hint that teaches
 * the protocol point a failure misses, and the RFC section.
 *
 *     @name  lab
 *     @suite .                      # scenario files or folders, relative to the rubric
 *     @probe probe.rtsp             # passes when a server answers in the dialect given
 *     @dialects lab bare-cseq crlf3 # probed in this order
 *     @movie --frames 100 --pattern noise   # the grader's movie (rtsp-harness fixture)
 *     item cseq 10 "CSeq is echoed on every reply"
 *       when clean * rtsp.cseq.echo,rtsp.cseq.missing
 *       hint "Copy the request's CSeq value into the reply ..."
 *       rfc  "RFC 2326 12.17"
 *
 * Conditions (a scenario is named by its file name without .rtsp; `*`
 * means every scenario of the run):
 *     passes SCENARIO              the scenario's verdict is pass
 *     ran SCENARIO                 it ran (its verdict is not error)
 *     clean SCENARIO ID[,ID...] [method M]
 *                                  it ran, and no failure has one of
 *                                  these check ids (for `rtp for`
 *                                  conditions, scenario.rtp.METRIC), only
 *                                  counting failures about a request M
 *                                  (for `rtp for`: windows that follow a
 *                                  request M) when `method` is given
 *     header SCENARIO METHOD REGEX a reply to METHOD has a header line
 *                                  matching REGEX (POSIX extended, case
 *                                  insensitive)
 * `when` lines are ANDed; `partial POINTS when-condition` lines give part
 * of the points when the full conditions fail and this one holds (the
 * first that holds counts). `bonus` marks an item whose points come on top
 * of the total. */
#ifndef RTSP_HARNESS_RUBRIC_H
#define RTSP_HARNESS_RUBRIC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define RUBRIC_MAX_ITEMS 64
#define RUBRIC_MAX_CONDS 8
#define RUBRIC_MAX_IDS 8
#define RUBRIC_MAX_SUITE 16

enum rubric_cond_kind { RUBRIC_PASSES, RUBRIC_RAN, RUBRIC_CLEAN, RUBRIC_HEADER };

struct rubric_cond {
    enum rubric_cond_kind kind;
    char scenario[96];                /* file stem, or "*" */
    char ids[RUBRIC_MAX_IDS][48];     /* clean: check ids */
    size_t n_ids;
    char method[24];                  /* clean: only failures about this request; header: the request */
    char regex[160];                  /* header */
    unsigned line;                    /* rubric line, for messages */
};

struct rubric_partial {
    double points;
    struct rubric_cond cond;
};

struct rubric_item {
    char id[48];                      /* stable: a gradebook column */
    double points;                    /* full points */
    bool bonus;                       /* on top of the total */
    char title[160];                  /* one line: what is graded */
    char hint[600];                   /* what to learn when it is lost */
    char rfc[96];                     /* where the rule is written */
    struct rubric_cond when[RUBRIC_MAX_CONDS];
    size_t n_when;
    struct rubric_partial partial[RUBRIC_MAX_CONDS];
    size_t n_partial;
    unsigned line;
};

#define RUBRIC_MAX_DIALECTS 8
#define RUBRIC_MAX_MOVIE_ARGS 12

struct rubric {
    char path[512];                   /* the file */
    char name[96];                    /* @name */
    char probe[512];                  /* @probe: the scenario that finds a server's dialect; "" none */
    char dialects[RUBRIC_MAX_DIALECTS][48]; /* @dialects: tried in this order */
    size_t n_dialects;
    char movie_store[RUBRIC_MAX_MOVIE_ARGS][64]; /* @movie: `rtsp-harness fixture` options */
    char *movie_args[RUBRIC_MAX_MOVIE_ARGS];
    size_t n_movie_args;
    char suite[RUBRIC_MAX_SUITE][512];/* @suite entries, resolved against the rubric's folder */
    size_t n_suite;
    struct rubric_item items[RUBRIC_MAX_ITEMS];
    size_t n_items;
    double max_points;                /* sum of the non-bonus items */
    double max_bonus;                 /* sum of the bonus items */
};

/* Parse a rubric file. 0, or -1 with err as "file:line:column: what". */
int rubric_load(const char *path, struct rubric *r, char *err, size_t cap);
/* The same from text (for tests and fuzzing); path names it in messages
 * and is the base of relative @suite entries. */
int rubric_parse(const char *text, size_t len, const char *path, struct rubric *r, char *err, size_t cap);

/* Score a run report against the rubric: returns a new JSON object
 *   {"rubric": name, "points": x, "max": y, "bonus": b, "max_bonus": mb,
 *    "items": [{"id", "title", "points", "max", "bonus", "status":
 *               "pass"|"partial"|"fail", "reasons": ["..."], "hint", "rfc",
 *               "evidence": [{"scenario", "check", "line", "message",
 *                             "pcap", "frame"}]}]}
 * extra_failures lists items the grader decided before running (a missing
 * module, a compile error): {"item id": "why"} makes that item fail with
 * the reason; may be NULL. */
json_t *rubric_score(const struct rubric *r, const json_t *report, const json_t *extra_failures);

#endif
