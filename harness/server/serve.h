/* `rtsp-harness serve`: command-line options for the reference server. */
#ifndef RTSP_HARNESS_SERVE_H
#define RTSP_HARNESS_SERVE_H

/* Entry point; argv[0] is "serve". Returns the exit status. */
int serve_main(int argc, char **argv);

#endif
