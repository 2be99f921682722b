/* libFuzzer target for the small parsers of command-line values that a
 * grader or a CI job may take from elsewhere: the sandbox limits spec
 * (harness/grade/sandbox.c, "cpu=60,mem=512M,..."), the report comparison
 * tolerances ("loss=0.5%"), and cgroup names. The input, cut at its first
 * NUL, is given to each. A refusal must carry a message; an accepted
 * limits spec parsed again over the result must give the same limits, and
 * an accepted cgroup name must be one a path can hold. Any disagreement
 * aborts so the fuzzer reports it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grade/sandbox.h"
#include "report/report.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = strndup((const char *)data, size);
    check(text != NULL);
    char err[512] = "";

    struct sandbox_limits a, b;
    sandbox_limits_default(&a);
    if (sandbox_limits_parse(text, &a, err, sizeof err) != 0) {
        check(err[0] != '\0');
    } else {
        sandbox_limits_default(&b);
        check(sandbox_limits_parse(text, &b, err, sizeof err) == 0);
        check(memcmp(&a, &b, sizeof a) == 0);
    }

    struct report_tolerance t;
    err[0] = '\0';
    if (report_tolerance_parse(text, &t, err, sizeof err) != 0)
        check(err[0] != '\0');
    else
        check(t.metric[0] != '\0' && strlen(t.metric) < sizeof t.metric);

    if (sandbox_cgroup_name_ok(text))
        check(strchr(text, '/') == NULL && strcmp(text, "..") != 0 && strlen(text) <= 64);
    free(text);
    return 0;
}
