/* `rtsp-harness sandbox`: run an untrusted submission's command in the
 * submission sandbox (sandbox.h); clean up its cgroups. */
#ifndef RTSP_HARNESS_SANDBOX_CMD_H
#define RTSP_HARNESS_SANDBOX_CMD_H

/* Entry point; argv[0] is "sandbox". Exit status: the command's; 125 the
 * sandbox could not be set up; 1 a cleanup failed; 2 usage. */
int sandbox_main(int argc, char **argv);

#endif
