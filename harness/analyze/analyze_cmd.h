/* `rtsp-harness analyze`: validate and measure a capture. */
#ifndef RTSP_HARNESS_ANALYZE_CMD_H
#define RTSP_HARNESS_ANALYZE_CMD_H

/* Entry point; argv[0] is "analyze". Exit status 0 pass, 1 fail, 2 unusable input or usage. */
int analyze_main(int argc, char **argv);

#endif
