/* `rtsp-harness run`: replay scenarios against a system under test. */
#ifndef RTSP_HARNESS_RUN_CMD_H
#define RTSP_HARNESS_RUN_CMD_H

/* Entry point; argv[0] is "run". Exit status: 0 all scenarios passed,
 * 1 some failed, 2 usage or scenario file errors, 3 the lab could not be
 * built, 130 interrupted. */
int run_main(int argc, char **argv);

#endif
