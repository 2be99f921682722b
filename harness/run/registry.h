/* The run registry: one small file per running `rtsp-harness run` under
 * /run/rtsp-harness/, so that a run killed with SIGKILL (which gets no
 * chance to clean up) is noticed by the next one. The lab's namespaces,
 * veths, qdiscs and processes die with the killed run by construction
 * (netlab.h, sut.h); the next run still checks: it kills any process that
 * carries the dead run's RTSP_HARNESS_RUN marker, removes the temporary
 * files of a report it was writing, removes the stale entry, and says what
 * it found. */
#ifndef RTSP_HARNESS_REGISTRY_H
#define RTSP_HARNESS_REGISTRY_H

#include <stddef.h>

#define REGISTRY_DIR "/run/rtsp-harness"

/* Record this process as running run_name, writing its report into
 * report_dir. */
void registry_enter(const char *run_name, const char *report_dir);
/* Remove this process's entry. */
void registry_leave(void);
/* Look for entries of runs whose process is gone; clean up after them.
 * Each one is said on stderr before its entry is removed, so a sweep cut
 * short by a signal leaves the rest for the next run and never removes
 * an entry unreported. Returns how many were found (0 none), with the
 * sentences in msg. */
int registry_clean_stale(char *msg, size_t cap);

#endif
