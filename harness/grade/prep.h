/* Preparing a student submission for grading: a private copy the sandbox
 * may write to, the lab's movie when the student left it out, the entry
 * point and the command that starts it, Java compiled, and the Python
 * modules the machine lacks.
 *
 * The copy follows symlinks only when their target resolves inside
 * link_root: by default the submission's own folder, so a link to
 * /etc/shadow or to a fellow student's folder is refused with a note.
 * The test fixtures' mutants link to ../correct/<file>; for them the
 * grader passes the folder that holds all the fixtures as link_root. */
#ifndef RTSP_HARNESS_PREP_H
#define RTSP_HARNESS_PREP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox.h"

struct prep_opts {
    const char *link_root;     /* symlinks may resolve inside this; NULL: src_dir itself */
    const char *movie_name;    /* the lab's movie file name; NULL: "movie.Mjpeg" */
    const char *movie_path;    /* the grader's movie, written when the copy has none; NULL: none */
    uint64_t max_bytes;        /* 0: 50 MB */
    unsigned max_files;        /* 0: 2000 */
    unsigned compile_timeout_ms; /* javac's wall-clock limit; 0: 120000 */
    const char *cgroup;        /* prefilled into server_cmd; NULL: "{cgroup}" is left for the grader */
    const char *command;       /* the server's command inside the sandbox ({port}); NULL: from the entry point */
    struct sandbox_limits limits; /* for javac and the Python checks (all 0: sandbox defaults) */
};

enum prep_lang { PREP_NONE, PREP_PYTHON, PREP_JAVA };

struct prep_result {
    enum prep_lang lang;
    char entry[32];            /* "Server.py", "Server.java"; "" when none was found */
    char command[1024];        /* inside the sandbox: "python3 Server.py {port}" */
    char server_cmd[4200];     /* the whole --server-cmd template for `rtsp-harness run` */
    bool xvfb;                 /* the command needs a display */
    bool movie_supplied;       /* the grader's movie was written (the student had none) */
    unsigned files;            /* regular files copied */
    uint64_t bytes;            /* their total size */
    bool compiled;             /* Java: javac succeeded */
    char compile_log[4096];    /* Java: javac's output verbatim (truncated); Python: py_compile errors */
    char missing_modules[1024]; /* Python: imported top-level modules this machine lacks, space-separated */
    char notes[4096];          /* one line each: refused symlinks, skipped devices/fifos/sockets, Python 2 */
};

/* Copy src_dir to dst_dir (created; must not exist), owned by the sandbox
 * uid, then fill r. Returns 0 (r tells what was found, including compile
 * errors), or -1 with err: src_dir unreadable, dst_dir exists, a limit
 * exceeded (naming the path), an I/O error. Needs root (chown). Call it
 * from a single-threaded process: it forks for javac and python3. */
int submission_prepare(const char *src_dir, const char *dst_dir, const struct prep_opts *o,
                       struct prep_result *r, char *err, size_t cap);

#endif
