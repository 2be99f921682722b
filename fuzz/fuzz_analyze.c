/* libFuzzer target for the whole analyzer: the input is a pcap or pcapng
 * file, opened from memory and analyzed with every check and metric
 * (frames decoded), then written as JSON and as text to /dev/null. Hostile
 * captures must give findings or an error, never a crash, a hang or
 * unbounded memory. */
#include <stdio.h>
#include <stdlib.h>

#include "analyze/analyze.h"
#include "analyze/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink && !(sink = fopen("/dev/null", "w")))
        abort();
    if (size == 0)
        return 0;
    FILE *fp = fmemopen((void *)data, size, "rb");
    if (!fp)
        return 0;
    struct analyze_opts opts = {.profile = PROFILE_RFC2326, .decode = DECODE_ALL};
    opts.rtp_ports[opts.n_rtp_ports++] = 5000;
    struct analysis *a = NULL;
    char err[512];
    if (analyze_stream(fp, "fuzz.pcap", &opts, &a, err, sizeof err) != 0) {
        if (!err[0])
            abort(); /* an unusable input must say why */
        return 0;
    }
    analysis_write_json(a, sink);
    analysis_write_text(a, sink);
    analysis_free(a);
    return 0;
}
