/* libFuzzer target for the netem-syntax impairment parser: a rejected input
 * must carry a reason and an offset inside the input; an accepted one must
 * format canonically, parse back to the same numbers, format to the same
 * text again, and give a loss rate in [0, 1] and a binomial interval inside
 * [0, n]. Any disagreement aborts so the fuzzer reports it. */
#include <stdlib.h>
#include <string.h>

#include "impair.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct impair_spec a, b;
    struct wire_error err = {0, NULL};
    static char text1[4096], text2[4096];

    if (impair_parse((const char *)data, size, &a, &err) != 0) {
        check(err.reason != NULL && err.reason[0] != '\0' && err.offset <= size);
        return 0;
    }
    int n1 = impair_format(&a, text1, sizeof text1);
    check(n1 >= 0 && (size_t)n1 == strlen(text1));
    check(impair_parse(text1, (size_t)n1, &b, &err) == 0);
    int n2 = impair_format(&b, text2, sizeof text2);
    check(n2 == n1 && memcmp(text1, text2, (size_t)n1) == 0);
    check(impair_is_none(&a) == impair_is_none(&b));
    if (n1 == 0)
        check(impair_is_none(&a));

    double loss = impair_expected_loss(&a);
    check(loss >= 0 && loss <= 1);
    check(loss == impair_expected_loss(&b));
    uint64_t lo, hi, trials = 1 + (a.seed % 100000);
    impair_binomial_interval(trials, loss, 0.99, &lo, &hi);
    check(lo <= hi && hi <= trials);

    /* A buffer one byte short must be refused, not truncated. */
    if (n1 > 0)
        check(impair_format(&a, text2, (size_t)n1) == -1 && text2[0] == '\0');
    return 0;
}
