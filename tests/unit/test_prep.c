/* Unit tests of submission preparation (harness/grade/prep.c): the copy
 * and its symlink policy, the limits, the movie, the entry point, the
 * Python import check and the Java compile. Needs root (the copy is
 * chowned to the sandbox uid) and bubblewrap for the checks. */
#include "check.h"
#include "grade/prep.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[96];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void dir(const char *rel)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    CHECK(mkdir(path, 0755) == 0);
}

static void link_to(const char *target, const char *rel)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    CHECK(symlink(target, path) == 0);
}

static const char *at(const char *fmt, ...)
{
    static char path[4][320];
    static int k;
    char rel[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", base, rel);
    return path[k];
}

static int prepare(const char *src, const char *dst, const struct prep_opts *o, struct prep_result *r,
                   char *err, size_t cap)
{
    return submission_prepare(at("%s", src), at("%s", dst), o, r, err, cap);
}

/* The fixtures' layout: mutants link to ../correct/<file>. */
static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/rtsp-harness-unit-prep-%ld", (long)getpid());
    CHECK(mkdir(base, 0700) == 0);
    dir("subs");
    dir("subs/correct");
    put("subs/correct/Server.py", "import socket, sys\nfrom RtpPacket import RtpPacket\n");
    put("subs/correct/RtpPacket.py", "import time\n");
    put("subs/correct/movie.Mjpeg", "student movie");
    dir("subs/mutant");
    link_to("../correct/Server.py", "subs/mutant/Server.py");
    link_to("../correct/RtpPacket.py", "subs/mutant/RtpPacket.py");
    link_to("/etc/passwd", "subs/mutant/evil");
    link_to("../../secret", "subs/mutant/up");
    link_to("nowhere", "subs/mutant/dangling");
    CHECK(mkfifo(at("subs/mutant/pipe"), 0644) == 0);
    dir("subs/mutant/pkg");
    put("subs/mutant/pkg/data.txt", "1234567890");
    put("secret", "grader's");
    put("movie", "grader movie");
}

static void symlinks_inside_the_root_are_copied_as_files(void)
{
    struct prep_opts o = {.link_root = at("subs"), .movie_path = at("movie")};
    struct prep_result r;
    char err[512];
    CHECK(prepare("subs/mutant", "copy1", &o, &r, err, sizeof err) == 0);
    struct stat st;
    CHECK(lstat(at("copy1/Server.py"), &st) == 0 && S_ISREG(st.st_mode));
    CHECK(st.st_uid == SANDBOX_UID);
    CHECK(lstat(at("copy1"), &st) == 0 && st.st_uid == SANDBOX_UID);
    CHECK(lstat(at("copy1/pkg/data.txt"), &st) == 0 && st.st_size == 10);
    CHECK(lstat(at("copy1/evil"), &st) != 0);
    CHECK(lstat(at("copy1/up"), &st) != 0);
    CHECK(lstat(at("copy1/pipe"), &st) != 0);
    CHECK_EQ_INT(r.files, 3);
    CHECK(strstr(r.notes, "refused symlink evil -> /etc/passwd: it leads outside") != NULL);
    CHECK(strstr(r.notes, "refused symlink up -> ../../secret") != NULL);
    CHECK(strstr(r.notes, "refused symlink dangling -> nowhere") != NULL);
    CHECK(strstr(r.notes, "skipped pipe: a fifo") != NULL);
    CHECK(r.movie_supplied);
    FILE *f = fopen(at("copy1/movie.Mjpeg"), "r");
    char text[64] = "";
    CHECK(f && fgets(text, sizeof text, f));
    if (f)
        fclose(f);
    CHECK(strcmp(text, "grader movie") == 0);
    CHECK(r.lang == PREP_PYTHON);
    CHECK(strcmp(r.entry, "Server.py") == 0);
    CHECK(strcmp(r.command, "python3 Server.py {port}") == 0);
    CHECK(!r.xvfb);
    char want[400];
    snprintf(want, sizeof want, "{harness} sandbox --dir '%s' --cgroup {cgroup} -- python3 Server.py {port}",
             at("copy1"));
    CHECK(strcmp(r.server_cmd, want) == 0);
    /* RtpPacket is the submission's own module; socket and sys exist. */
    CHECK_EQ_INT(strlen(r.missing_modules), 0);
}

static void by_default_links_stay_in_the_submission(void)
{
    struct prep_opts o = {.cgroup = "alice"};
    struct prep_result r;
    char err[512];
    CHECK(prepare("subs/mutant", "copy2", &o, &r, err, sizeof err) == 0);
    CHECK(strstr(r.notes, "refused symlink Server.py -> ../correct/Server.py") != NULL);
    CHECK(strstr(r.notes, "no Server.py or Server.java") != NULL);
    CHECK(strstr(r.notes, "no movie.Mjpeg in the submission") != NULL);
    CHECK(r.lang == PREP_NONE);
    CHECK(!r.movie_supplied);
    CHECK_EQ_INT(r.files, 1);
}

static void the_students_movie_is_kept(void)
{
    struct prep_opts o = {.movie_path = at("movie"), .cgroup = "bob"};
    struct prep_result r;
    char err[512];
    CHECK(prepare("subs/correct", "copy3", &o, &r, err, sizeof err) == 0);
    CHECK(!r.movie_supplied);
    CHECK(strstr(r.server_cmd, "--cgroup bob --") != NULL);
    struct stat st;
    CHECK(stat(at("copy3/movie.Mjpeg"), &st) == 0 && st.st_size == 13);
}

static void limits_name_the_path(void)
{
    struct prep_opts o = {.link_root = at("subs"), .max_files = 2};
    struct prep_result r;
    char err[512];
    CHECK(prepare("subs/mutant", "copy4", &o, &r, err, sizeof err) != 0);
    CHECK(strstr(err, "more than 2 files (at ") != NULL);
    struct prep_opts small = {.max_bytes = 20};
    CHECK(prepare("subs/correct", "copy5", &small, &r, err, sizeof err) != 0);
    CHECK(strstr(err, "larger than 20 bytes (at ") != NULL);
    CHECK(prepare("subs/correct", "copy3", &small, &r, err, sizeof err) != 0);
    CHECK(strstr(err, "already exists") != NULL);
    CHECK(prepare("nonexistent", "copy6", &small, &r, err, sizeof err) != 0);
    CHECK(strstr(err, "nonexistent': not a readable directory") != NULL);
}

static bool have_sandbox(void)
{
    if (access("/usr/bin/bwrap", X_OK) != 0) {
        printf("skip: no /usr/bin/bwrap\n");
        return false;
    }
    return true;
}

static void python_missing_modules_and_python2_are_reported(void)
{
    if (!have_sandbox())
        return;
    dir("py");
    put("py/Server.py", "import os, sys\nimport nosuchmodule_rtsp.sub\nfrom VideoStream import VideoStream\n"
                        "def f():\n    import another_missing_mod\n");
    put("py/VideoStream.py", "import cv2x_not_here\n");
    put("py/old.py", "print \"hello\"\n");
    struct prep_opts o = {0};
    struct prep_result r;
    char err[512];
    CHECK(prepare("py", "copy7", &o, &r, err, sizeof err) == 0);
    CHECK(strcmp(r.missing_modules, "another_missing_mod cv2x_not_here nosuchmodule_rtsp") == 0);
    CHECK(strstr(r.notes, "missing module cv2x_not_here (imported by VideoStream.py)") != NULL);
    CHECK(strstr(r.compile_log, "old.py:1: Missing parentheses in call to 'print'") != NULL);
    CHECK(strstr(r.notes, "(Python 2 code?)") != NULL);
}

static bool have_javac(void)
{
    if (!have_sandbox() || access("/usr/bin/javac", X_OK) != 0) {
        printf("skip: no javac\n");
        return false;
    }
    return true;
}

static void java_is_compiled_in_the_sandbox(void)
{
    if (!have_javac())
        return;
    dir("java");
    put("java/Server.java", "public class Server { public static void main(String[] a) { Helper.go(); } }\n");
    put("java/Helper.java", "class Helper { static void go() {} }\n");
    dir("javabad");
    put("javabad/Server.java", "public class Server { void f() { int x = \"no\"; } }\n");
    struct prep_opts o = {.cgroup = "carol"};
    struct prep_result r;
    char err[512];
    CHECK(prepare("java", "copy8", &o, &r, err, sizeof err) == 0);
    CHECK(r.lang == PREP_JAVA);
    CHECK(r.compiled);
    CHECK(r.xvfb);
    CHECK(strcmp(r.command, "java -cp . Server {port}") == 0);
    CHECK(strstr(r.server_cmd, "--cgroup carol --xvfb -- java -cp . Server {port}") != NULL);
    struct stat st;
    CHECK(stat(at("copy8/Server.class"), &st) == 0 && st.st_uid == SANDBOX_UID);
    CHECK(stat(at("copy8/Helper.class"), &st) == 0);
    CHECK(prepare("javabad", "copy9", &o, &r, err, sizeof err) == 0);
    CHECK(!r.compiled);
    CHECK(strstr(r.compile_log, "Server.java:1: error: incompatible types") != NULL);
    CHECK(strstr(r.notes, "javac failed") != NULL);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("skip: submission_prepare needs root\n");
        return 0;
    }
    setup();
    RUN(symlinks_inside_the_root_are_copied_as_files);
    RUN(by_default_links_stay_in_the_submission);
    RUN(the_students_movie_is_kept);
    RUN(limits_name_the_path);
    RUN(python_missing_modules_and_python2_are_reported);
    RUN(java_is_compiled_in_the_sandbox);
    if (check_failures == 0) {
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", base);
    }
    CHECK_DONE();
}
