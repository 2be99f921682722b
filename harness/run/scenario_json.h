/* The parts of a scenario's entry in the run report that are built from
 * the replay result and the analyses rather than during the run: the steps
 * with their timing, the list of every check evaluated (one JUnit testcase
 * each), and the RTP streams as received with their series, loss events
 * and frame thumbnails (docs/run.md, "The report"). */
#ifndef RTSP_HARNESS_SCENARIO_JSON_H
#define RTSP_HARNESS_SCENARIO_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "analyze/analyze.h"
#include "replay/replay.h"
#include "replay/scenario.h"

/* "steps": every step of sc with its status and times (seconds from t0_ns),
 * and the index of its exchange in rr->exchanges. */
json_t *scenario_json_steps(const struct scenario *sc, const struct replay_result *rr, int64_t t0_ns);

/* Index in rr->exchanges of the exchange step i belongs to, -1 none. */
int scenario_json_step_exchange(const struct scenario *sc, const struct replay_result *rr, unsigned i);

/* "checks": one entry per check evaluated. failures is the scenario's
 * "failures" array as built by the run (replay failures first, in
 * rr->failures order; then analyzer and capture ones), windows its
 * "rtp_windows". analyzer_judged[id] says which analyzer checks count for
 * this scenario (severity fail under its profile, role); NULL when the
 * capture was not analyzed. error: the scenario's error, NULL none. */
json_t *scenario_json_checks(const struct scenario *sc, const struct replay_result *rr, const json_t *failures,
                             const json_t *windows, const bool *analyzer_judged, const char *error);

/* One "streams" entry: the stream as received (recv, in recv_pcap), with
 * its loss events classified against the sending side's analysis (sent;
 * NULL when there is only one capture), times in seconds from t0_ns. */
json_t *scenario_json_stream(const struct analyze_stream *recv, const char *recv_pcap, const struct analysis *sent,
                             int64_t t0_ns);

#endif
