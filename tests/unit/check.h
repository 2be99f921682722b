/* A minimal unit-test harness: CHECK macros that report file, line and the
 * failing expression, and a runner that executes named test functions and
 * exits non-zero when any check failed. One test program per wire module;
 * meson test runs each. */
#ifndef RTSP_HARNESS_CHECK_H
#define RTSP_HARNESS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static const char *check_current = "";

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", __FILE__, __LINE__,       \
                    check_current, #cond);                                              \
            check_failures++;                                                           \
        }                                                                               \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                              \
    do {                                                                                \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                 \
        if (check_a_ != check_b_) {                                                     \
            fprintf(stderr, "%s:%d: [%s] %s == %s failed: %lld != %lld\n", __FILE__,    \
                    __LINE__, check_current, #a, #b, check_a_, check_b_);               \
            check_failures++;                                                           \
        }                                                                               \
    } while (0)

/* Compare a (ptr,len) slice against a C string. */
#define CHECK_STR(ptr, len, s)                                                          \
    do {                                                                                \
        const char *check_p_ = (const char *)(ptr);                                     \
        size_t check_l_ = (size_t)(len);                                                \
        const char *check_s_ = (s);                                                     \
        if (check_l_ != strlen(check_s_) ||                                             \
            (check_l_ && memcmp(check_p_, check_s_, check_l_) != 0)) {                  \
            fprintf(stderr, "%s:%d: [%s] %s is \"%.*s\", expected \"%s\"\n", __FILE__,  \
                    __LINE__, check_current, #ptr, (int)check_l_,                       \
                    check_p_ ? check_p_ : "", check_s_);                                \
            check_failures++;                                                           \
        }                                                                               \
    } while (0)

#define RUN(fn)                                                                         \
    do {                                                                                \
        check_current = #fn;                                                            \
        int check_before_ = check_failures;                                             \
        fn();                                                                           \
        printf("%s %s\n", check_failures == check_before_ ? "ok  " : "FAIL", #fn);      \
    } while (0)

#define CHECK_DONE()                                                                    \
    do {                                                                                \
        if (check_failures) {                                                           \
            fprintf(stderr, "%d check(s) failed\n", check_failures);                    \
            return 1;                                                                   \
        }                                                                               \
        return 0;                                                                       \
    } while (0)

#endif
