/* Command line of `rtsp-harness report` (report.h, docs/reports.md). */
#ifndef RTSP_HARNESS_REPORT_CMD_H
#define RTSP_HARNESS_REPORT_CMD_H

int report_main(int argc, char **argv);

#endif
