/* Every fuzz target (fuzz/fuzz_<name>.c, compiled here with its
 * LLVMFuzzerTestOneInput renamed to fuzz_<name>_one) run on every file of
 * fuzz/corpus/<name>/ and fuzz/regressions/<name>/, so the seeds and each
 * crash a campaign found stay fixed in the normal and sanitizer builds.
 * A target that aborts (its own contract checks, or a sanitizer report)
 * kills this program, which fails the test; the input it was running is
 * the last "replay" line printed. A target in fuzz/ missing from the table
 * below fails the test too. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The targets: FUZZ_TARGET_LIST, X(name) for each, comes from the list in
 * tests/meson.build that builds their entry points. */
#define X(name) int fuzz_##name##_one(const uint8_t *data, size_t size);
FUZZ_TARGET_LIST
#undef X

struct target {
    const char *name;
    int (*one)(const uint8_t *data, size_t size);
};

#define X(name) {#name, fuzz_##name##_one},
static const struct target targets[] = {FUZZ_TARGET_LIST};
#undef X
#define N_TARGETS (sizeof targets / sizeof targets[0])

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every file of dir through t, in name order; returns how many. */
static unsigned replay_dir(const struct target *t, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* no regressions yet for this target */
    char *names[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < sizeof names / sizeof names[0])
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_name);
    unsigned count = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        free(names[i]);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (!f)
            continue;
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
            if (len == cap) {
                cap = cap ? cap * 2 : 65536;
                uint8_t *more = realloc(buf, cap);
                CHECK(more != NULL);
                if (!more)
                    break;
                buf = more;
            }
            size_t got = fread(buf + len, 1, cap - len, f);
            len += got;
            if (got == 0)
                break;
        }
        fclose(f);
        printf("replay %s %s (%zu bytes)\n", t->name, path, len);
        fflush(stdout);
        /* An exact-size copy: ASan then sees a read past the input's end. */
        uint8_t *exact = malloc(len ? len : 1);
        CHECK(exact != NULL);
        if (exact) {
            if (len)
                memcpy(exact, buf, len);
            CHECK_EQ_INT(t->one(exact, len), 0);
            free(exact);
        }
        free(buf);
        count++;
    }
    return count;
}

static void every_target_has_seeds_and_replays(void)
{
    for (size_t i = 0; i < N_TARGETS; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, "fuzz/corpus/%s", targets[i].name);
        unsigned seeds = replay_dir(&targets[i], dir);
        if (seeds == 0)
            fprintf(stderr, "fuzz target %s has no seed corpus in %s\n", targets[i].name, dir);
        CHECK(seeds > 0);
        snprintf(dir, sizeof dir, "fuzz/regressions/%s", targets[i].name);
        replay_dir(&targets[i], dir);
    }
}

/* Every fuzz/fuzz_*.c that defines an entry point is in the table. */
static void the_table_lists_every_target(void)
{
    DIR *d = opendir("fuzz");
    CHECK(d != NULL);
    if (!d)
        return;
    struct dirent *e;
    unsigned found = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "fuzz_", 5) != 0 || n < 8 || strcmp(e->d_name + n - 2, ".c") != 0)
            continue;
        char path[512], line[256];
        snprintf(path, sizeof path, "fuzz/%s", e->d_name);
        FILE *f = fopen(path, "r");
        CHECK(f != NULL);
        bool entry = false;
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "int LLVMFuzzerTestOneInput(", 27) == 0)
                entry = true;
        if (f)
            fclose(f);
        if (!entry)
            continue; /* shared code, not a target */
        found++;
        bool listed = false;
        for (size_t i = 0; i < N_TARGETS; i++)
            listed |= strlen(targets[i].name) == n - 7 && strncmp(targets[i].name, e->d_name + 5, n - 7) == 0;
        if (!listed)
            fprintf(stderr, "%s is not in test_fuzz_replay's table\n", path);
        CHECK(listed);
    }
    closedir(d);
    CHECK_EQ_INT(found, N_TARGETS);
}

int main(void)
{
    RUN(the_table_lists_every_target);
    RUN(every_target_has_seeds_and_replays);
    CHECK_DONE();
}
