/* What the fuzz targets' contract checks share. A failed check aborts,
 * which libFuzzer reports as a crash with the input that caused it (and
 * which fails test_fuzz_replay, where the targets run on their seeds). */
#ifndef RTSP_HARNESS_FUZZ_UTIL_H
#define RTSP_HARNESS_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline void check(bool ok)
{
    if (!ok)
        abort();
}

/* Lines in the input, counting a last line without its newline: the
 * bound a parser's error position must stay within. */
static inline unsigned count_lines(const uint8_t *data, size_t size)
{
    unsigned n = 1;
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n')
            n++;
    return n;
}

#endif
