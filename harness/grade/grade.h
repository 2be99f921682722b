/* `rtsp-harness grade`: a class of lab submissions, graded with a rubric
 * (docs/grading.md). Each subfolder of the submissions folder is one
 * submission; each is prepared in a private copy (prep.h), its request
 * dialect found by probing a fresh server, its scenarios run through
 * `rtsp-harness run` with the server inside the sandbox (sandbox.h), and
 * its run report scored (rubric.h). Several submissions run at once
 * (--jobs), each in its own child process, its own network labs and its
 * own cgroups, so one that crashes, hangs or floods stalls nothing else.
 *
 * Writes, under the output folder:
 *   gradebook.csv          one row per submission, one column per rubric item, total
 *   class.json             the class: score distribution, the most common failures
 *   <submission>/report.json, index.html, junit.xml
 *                          the run report with the grade in it
 *   <submission>/grade.json the grade alone
 *   captures/<submission>/ the pcaps */
#ifndef RTSP_HARNESS_GRADE_H
#define RTSP_HARNESS_GRADE_H

int grade_main(int argc, char **argv);

#endif
