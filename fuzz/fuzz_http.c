/* libFuzzer target for the reference server's HTTP live view
 * (harness/server/http.c), in-process: the view's own listener, request
 * reading and replies (index page, MJPEG stream, errors) on its own event
 * loop, fed by TCP connections to 127.0.0.1 inside a network namespace of
 * the process's own (fuzz_net.h). The input is split into up to four
 * connections at FUZZ_CONN_SEPARATOR, fed one after the other; a stream
 * that starts runs until its connection ends.
 *
 * http.c is included rather than linked so the target can see when the
 * view holds no client (its state is static). */
#include "server/http.c"

#include "fuzz_net.h"
#include "rtpjpeg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CONNECTIONS 4

static struct loop *loop;
static struct http_view *view;
static uint16_t port;

static void init(void)
{
    fuzz_private_network();
    static struct media_catalog media;
    fuzz_media(&media, rtpjpeg_max_payload_for_mtu(1400));
    char err[256];
    loop = loop_new();
    if (!loop || !(view = http_view_start(loop, &media, "127.0.0.1", 0, 16, &port, err, sizeof err))) {
        fprintf(stderr, "fuzz: HTTP view: %s\n", loop ? err : strerror(errno));
        abort();
    }
}

static bool no_clients(void *ctx)
{
    (void)ctx;
    return view->clients == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!view)
        init();
    const uint8_t *starts[FUZZ_CONNECTIONS];
    size_t lens[FUZZ_CONNECTIONS];
    size_t n = fuzz_split_connections(data, size, starts, lens, FUZZ_CONNECTIONS);
    for (size_t i = 0; i < n; i++)
        fuzz_drive(loop, port, starts[i], lens[i], NULL, no_clients, NULL);
    return 0;
}
