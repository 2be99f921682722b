/* Preparing a submission's private copy (see prep.h). Student code is
 * never run here: javac runs with annotation processing off and the Python
 * check only parses (ast) and looks modules up (find_spec), both inside
 * the sandbox all the same. */
#include "prep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 16

struct copy_ctx {
    char link_root[PATH_MAX];
    uint64_t max_bytes;
    unsigned max_files;
    struct prep_result *r;
    char *err;
    size_t cap;
};

/* Append one line to a fixed buffer; what does not fit becomes "...". */
static void add_line(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 5 > size || (used >= 4 && strcmp(buf + used - 4, "...\n") == 0))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (used + strlen(line) + 2 + 4 <= size)
        snprintf(buf + used, size - used, "%s\n", line);
    else
        snprintf(buf + used, size - used, "...\n");
}

static bool inside(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return true;
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int copy_file(struct copy_ctx *c, const char *from, const char *to, const char *rel, const struct stat *st)
{
    if (c->r->files + 1 > c->max_files) {
        snprintf(c->err, c->cap, "submission has more than %u files (at %s)", c->max_files, rel);
        return -1;
    }
    if (c->r->bytes + (uint64_t)st->st_size > c->max_bytes) {
        snprintf(c->err, c->cap, "submission is larger than %llu bytes (at %s, %lld bytes)",
                 (unsigned long long)c->max_bytes, rel, (long long)st->st_size);
        return -1;
    }
    /* O_NONBLOCK and the fstat: a file swapped for a fifo since lstat
     * must not hang the grader. */
    int in = open(from, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat now;
    if (in < 0 || fstat(in, &now) != 0 || !S_ISREG(now.st_mode)) {
        snprintf(c->err, c->cap, "%s: %s", rel, in < 0 ? strerror(errno) : "no longer a regular file");
        if (in >= 0)
            close(in);
        return -1;
    }
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (st->st_mode & 0111) ? 0755 : 0644);
    if (out < 0) {
        snprintf(c->err, c->cap, "%s: %s", to, strerror(errno));
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    uint64_t total = 0;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        /* The file may have grown since stat: the limit holds on what is read. */
        total += (uint64_t)n;
        if (c->r->bytes + total > c->max_bytes) {
            snprintf(c->err, c->cap, "submission is larger than %llu bytes (at %s)",
                     (unsigned long long)c->max_bytes, rel);
            break;
        }
        if (write(out, buf, (size_t)n) != n) {
            snprintf(c->err, c->cap, "%s: %s", to, strerror(errno));
            break;
        }
    }
    if (n < 0)
        snprintf(c->err, c->cap, "%s: %s", rel, strerror(errno));
    int rc = n == 0 && fchown(out, SANDBOX_UID, SANDBOX_GID) == 0 ? 0 : -1;
    if (rc != 0 && n == 0)
        snprintf(c->err, c->cap, "%s: chown: %s", to, strerror(errno));
    close(in);
    close(out);
    c->r->files++;
    c->r->bytes += total;
    return rc;
}

static int copy_dir(struct copy_ctx *c, const char *from, const char *to, const char *rel, int depth)
{
    if (mkdir(to, 0755) != 0 || chown(to, SANDBOX_UID, SANDBOX_GID) != 0) {
        snprintf(c->err, c->cap, "%s: %s", to, strerror(errno));
        return -1;
    }
    DIR *d = opendir(from);
    if (!d) {
        snprintf(c->err, c->cap, "%s: %s", *rel ? rel : from, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char src[PATH_MAX], dst[PATH_MAX], sub[PATH_MAX];
        if ((size_t)snprintf(src, sizeof src, "%s/%s", from, e->d_name) >= sizeof src ||
            (size_t)snprintf(dst, sizeof dst, "%s/%s", to, e->d_name) >= sizeof dst ||
            (size_t)snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >= sizeof sub) {
            snprintf(c->err, c->cap, "%s/%s: path too long", rel, e->d_name);
            rc = -1;
            break;
        }
        struct stat st;
        if (lstat(src, &st) != 0) {
            snprintf(c->err, c->cap, "%s: %s", sub, strerror(errno));
            rc = -1;
            break;
        }
        char real[PATH_MAX];
        const char *source = src;
        if (S_ISLNK(st.st_mode)) {
            char text[PATH_MAX];
            ssize_t n = readlink(src, text, sizeof text - 1);
            text[n > 0 ? n : 0] = '\0';
            if (!realpath(src, real)) {
                add_line(c->r->notes, sizeof c->r->notes, "refused symlink %s -> %s: %s", sub, text,
                         strerror(errno));
                continue;
            }
            if (!inside(real, c->link_root)) {
                add_line(c->r->notes, sizeof c->r->notes,
                         "refused symlink %s -> %s: it leads outside %s", sub, text, c->link_root);
                continue;
            }
            if (stat(real, &st) != 0) {
                snprintf(c->err, c->cap, "%s: %s", sub, strerror(errno));
                rc = -1;
                break;
            }
            source = real;
        }
        if (S_ISREG(st.st_mode)) {
            rc = copy_file(c, source, dst, sub, &st);
        } else if (S_ISDIR(st.st_mode)) {
            if (depth >= MAX_DEPTH)
                add_line(c->r->notes, sizeof c->r->notes, "skipped %s: deeper than %d directories", sub,
                         MAX_DEPTH);
            else
                rc = copy_dir(c, source, dst, sub, depth + 1);
        } else {
            add_line(c->r->notes, sizeof c->r->notes, "skipped %s: %s", sub,
                     S_ISFIFO(st.st_mode) ? "a fifo" : S_ISSOCK(st.st_mode) ? "a socket" : "a device");
        }
    }
    closedir(d);
    return rc;
}

static bool is_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Single quotes for /bin/sh: ' becomes '\''. */
static void shell_quote(char *out, size_t cap, const char *s)
{
    size_t k = 0;
    if (cap < 3)
        return;
    out[k++] = '\'';
    for (; *s && k + 5 < cap; s++) {
        if (*s == '\'') {
            memcpy(out + k, "'\\''", 4);
            k += 4;
        } else {
            out[k++] = *s;
        }
    }
    out[k++] = '\'';
    out[k] = '\0';
}

/* Parse every .py file (ast: nothing runs), collect the top-level module
 * names imported, and look up those the submission does not hold itself.
 * -I: the working directory is not on sys.path, so find_spec sees only the
 * machine's modules. Output lines: "missing\tNAME\tFILE",
 * "syntax\tFILE:LINE: MESSAGE". */
static const char python_check[] =
    "import ast, importlib.util, os, sys\n"
    "local, wanted = set(), {}\n"
    "for root, dirs, files in os.walk('.'):\n"
    "    local.update(dirs)\n"
    "    local.update(f[:-3] for f in files if f.endswith('.py'))\n"
    "for root, dirs, files in sorted(os.walk('.')):\n"
    "    for f in sorted(files):\n"
    "        if not f.endswith('.py'):\n"
    "            continue\n"
    "        p = os.path.join(root, f)[2:]\n"
    "        try:\n"
    "            tree = ast.parse(open(p, 'rb').read(), p)\n"
    "        except SyntaxError as e:\n"
    "            print('syntax\\t%s:%s: %s' % (p, e.lineno, e.msg))\n"
    "            continue\n"
    "        except Exception as e:\n"
    "            print('syntax\\t%s: %s' % (p, e))\n"
    "            continue\n"
    "        for n in ast.walk(tree):\n"
    "            if isinstance(n, ast.Import):\n"
    "                names = [a.name for a in n.names]\n"
    "            elif isinstance(n, ast.ImportFrom) and n.level == 0 and n.module:\n"
    "                names = [n.module]\n"
    "            else:\n"
    "                continue\n"
    "            for m in names:\n"
    "                wanted.setdefault(m.split('.')[0], p)\n"
    "for m in sorted(wanted):\n"
    "    if m in local or m in sys.builtin_module_names:\n"
    "        continue\n"
    "    try:\n"
    "        found = importlib.util.find_spec(m) is not None\n"
    "    except Exception:\n"
    "        found = False\n"
    "    if not found:\n"
    "        print('missing\\t%s\\t%s' % (m, wanted[m]))\n";

static int check_python(const struct sandbox_opts *so, unsigned timeout_ms, struct prep_result *r, char *err,
                        size_t cap)
{
    char *argv[] = {"/usr/bin/python3", "-I", "-c", (char *)python_check, NULL};
    char out[8192];
    bool timed_out;
    int status = sandbox_run(so, argv, timeout_ms, out, sizeof out, &timed_out, err, cap);
    if (status < 0 && !timed_out)
        return -1;
    if (status != 0) {
        add_line(r->notes, sizeof r->notes, "the Python import check failed (%s): %s",
                 timed_out ? "timed out" : "python3 failed", timed_out ? "" : out);
        return 0;
    }
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        char *what = tab + 1;
        if (strcmp(line, "missing") == 0) {
            char *file = strchr(what, '\t');
            if (file)
                *file++ = '\0';
            size_t used = strlen(r->missing_modules);
            if (used + strlen(what) + 2 < sizeof r->missing_modules)
                snprintf(r->missing_modules + used, sizeof r->missing_modules - used, "%s%s", used ? " " : "",
                         what);
            add_line(r->notes, sizeof r->notes, "missing module %s (imported by %s)", what, file ? file : "?");
        } else if (strcmp(line, "syntax") == 0) {
            add_line(r->compile_log, sizeof r->compile_log, "%s", what);
            add_line(r->notes, sizeof r->notes, "%s does not compile under python3%s: %s",
                     what, strstr(what, "Missing parentheses in call to 'print'") ? " (Python 2 code?)" : "", what);
        }
    }
    return 0;
}

static int compile_java(const struct sandbox_opts *so, unsigned timeout_ms, struct prep_result *r, char *err,
                        size_t cap)
{
    /* -proc:none: an annotation processor in the submission would be
     * student code running at compile time. The -J options only make
     * javac's own JVM start faster (1.0 s instead of 1.35 s for a lab
     * server); the class files are the same. */
    char *argv[] = {"/bin/sh", "-c",
                    "exec javac -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC -proc:none -d . *.java", NULL};
    bool timed_out;
    int status = sandbox_run(so, argv, timeout_ms, r->compile_log, sizeof r->compile_log, &timed_out, err, cap);
    if (status < 0 && !timed_out)
        return -1;
    if (timed_out)
        add_line(r->compile_log, sizeof r->compile_log, "javac did not finish within %u ms; killed", timeout_ms);
    r->compiled = status == 0;
    if (!r->compiled)
        add_line(r->notes, sizeof r->notes, "javac failed%s", timed_out ? " (timed out)" : "");
    return 0;
}

int submission_prepare(const char *src_dir, const char *dst_dir, const struct prep_opts *o,
                       struct prep_result *r, char *err, size_t cap)
{
    memset(r, 0, sizeof *r);
    struct copy_ctx c = {.r = r, .err = err, .cap = cap};
    c.max_bytes = o->max_bytes ? o->max_bytes : 50ull * 1000 * 1000;
    c.max_files = o->max_files ? o->max_files : 2000;
    char src[PATH_MAX];
    struct stat st;
    if (!realpath(src_dir, src) || stat(src, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, cap, "submission '%s': not a readable directory", src_dir);
        return -1;
    }
    if (!realpath(o->link_root ? o->link_root : src, c.link_root)) {
        snprintf(err, cap, "link root '%s': %s", o->link_root, strerror(errno));
        return -1;
    }
    if (lstat(dst_dir, &st) == 0) {
        snprintf(err, cap, "copy '%s' already exists", dst_dir);
        return -1;
    }
    if (copy_dir(&c, src, dst_dir, "", 0) != 0)
        return -1;

    const char *movie = o->movie_name ? o->movie_name : "movie.Mjpeg";
    if (is_file(dst_dir, movie)) {
        r->movie_supplied = false;
    } else if (o->movie_path) {
        char to[PATH_MAX];
        snprintf(to, sizeof to, "%s/%s", dst_dir, movie);
        if (stat(o->movie_path, &st) != 0) {
            snprintf(err, cap, "movie '%s': %s", o->movie_path, strerror(errno));
            return -1;
        }
        /* The grader's own file: not counted against the student's limits. */
        struct copy_ctx mc = {.r = r, .err = err, .cap = cap, .max_bytes = UINT64_MAX - r->bytes,
                              .max_files = r->files + 1};
        unsigned files = r->files;
        uint64_t bytes = r->bytes;
        if (copy_file(&mc, o->movie_path, to, movie, &st) != 0)
            return -1;
        r->files = files;
        r->bytes = bytes;
        r->movie_supplied = true;
    } else {
        add_line(r->notes, sizeof r->notes, "no %s in the submission and no movie to supply", movie);
    }

    struct sandbox_opts so = {.dir = dst_dir, .limits = o->limits};
    static const struct sandbox_limits none;
    if (memcmp(&so.limits, &none, sizeof none) == 0)
        sandbox_limits_default(&so.limits);
    unsigned timeout_ms = o->compile_timeout_ms ? o->compile_timeout_ms : 120000;
    if (is_file(dst_dir, "Server.py")) {
        r->lang = PREP_PYTHON;
        strcpy(r->entry, "Server.py");
        strcpy(r->command, "python3 Server.py {port}");
        if (check_python(&so, timeout_ms, r, err, cap) != 0)
            return -1;
    } else if (is_file(dst_dir, "Server.java")) {
        r->lang = PREP_JAVA;
        strcpy(r->entry, "Server.java");
        strcpy(r->command, "java -cp . Server {port}");
        r->xvfb = true;
        if (compile_java(&so, timeout_ms, r, err, cap) != 0)
            return -1;
    } else if (!o->command) {
        add_line(r->notes, sizeof r->notes, "no Server.py or Server.java at the top of the submission");
        return 0;
    }
    if (o->command)
        snprintf(r->command, sizeof r->command, "%s", o->command);
    char real_dst[PATH_MAX], quoted[PATH_MAX * 4 + 3];
    if (!realpath(dst_dir, real_dst))
        snprintf(real_dst, sizeof real_dst, "%s", dst_dir);
    shell_quote(quoted, sizeof quoted, real_dst);
    snprintf(r->server_cmd, sizeof r->server_cmd, "{harness} sandbox --dir %s --cgroup %s%s -- %s", quoted,
             o->cgroup ? o->cgroup : "{cgroup}", r->xvfb ? " --xvfb" : "", r->command);
    return 0;
}
