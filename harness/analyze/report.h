/* Writers for an analysis: the JSON report of docs/report-schema.md (via
 * jansson) and a readable text summary (per connection: the exchange; then
 * the findings; then a metrics table per stream). */
#ifndef RTSP_HARNESS_REPORT_ANALYZE_H
#define RTSP_HARNESS_REPORT_ANALYZE_H

#include <stdio.h>

#include "analyze.h"

/* Write the JSON report. Returns 0, or -1 when writing failed. */
int analysis_write_json(const struct analysis *a, FILE *out);
/* Write the text summary. Returns 0, or -1 when writing failed. */
int analysis_write_text(const struct analysis *a, FILE *out);

#endif
