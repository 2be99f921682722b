/* The live view: MJPEG over HTTP (multipart/x-mixed-replace, one JPEG part
 * per frame, paced at the stream's frame rate) and an index page listing
 * the streams, so a person can watch in a browser what the server streams.
 * Runs on the RTSP thread's loop; a slow browser loses frames, never
 * stalls the loop. */
#ifndef RTSP_HARNESS_HTTP_H
#define RTSP_HARNESS_HTTP_H

#include <stdint.h>

#include "loop.h"
#include "media.h"

struct http_view;

/* Listen on addr:port (0 picks one; *bound_port gets the port). Returns
 * NULL with a message in err. */
struct http_view *http_view_start(struct loop *l, const struct media_catalog *c,
                                  const char *addr, uint16_t port, unsigned max_clients,
                                  uint16_t *bound_port, char *err, size_t err_cap);
/* Close every client and the listener. */
void http_view_stop(struct http_view *v);

#endif
