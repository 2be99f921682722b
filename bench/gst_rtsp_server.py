#!/usr/bin/python3
"""gst-rtsp-server as the peer of bench/server_scale.

One shared media factory at /stream: every client gets the same live
640x480, 20 fps MJPEG stream (RTP/JPEG, PT 26) from one pipeline, the way a
camera-style deployment of gst-rtsp-server runs. Prints
`ready rtsp://127.0.0.1:PORT/stream` (flushed) once the server is attached;
SIGINT or SIGTERM stops it with exit status 0.

The Python GObject bindings only work with the system interpreter, hence
/usr/bin/python3. Without format=I420 before jpegenc, DESCRIBE hangs and
answers 503.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

LAUNCH = ("( videotestsrc is-live=true"
          " ! video/x-raw,format=I420,width={w},height={h},framerate={fps}/1"
          " ! jpegenc ! rtpjpegpay name=pay0 pt=26 mtu={mtu} )")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8554,
                    help="RTSP port; 0 picks a free one (default 8554)")
    ap.add_argument("--bind", default="127.0.0.1", help="address (default 127.0.0.1)")
    ap.add_argument("--mount", default="/stream", help="mount point (default /stream)")
    ap.add_argument("--size", default="640x480", help="frame size WxH (default 640x480)")
    ap.add_argument("--fps", type=int, default=20, help="frame rate (default 20)")
    ap.add_argument("--mtu", type=int, default=1400,
                    help="rtpjpegpay mtu: largest RTP packet (default 1400, its default)")
    ap.add_argument("--backlog", type=int, default=1024,
                    help="listen backlog (gst's default is 5, which makes a client that "
                         "opens many connections at once wait for SYN retransmits)")
    args = ap.parse_args()
    try:
        w, h = (int(x) for x in args.size.lower().split("x"))
    except ValueError:
        ap.error("--size wants WxH, got %r" % args.size)
    if not 0 <= args.port <= 65535:
        ap.error("--port out of range: %d" % args.port)

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.bind)
    server.set_service(str(args.port))
    server.set_backlog(args.backlog)

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(LAUNCH.format(w=w, h=h, fps=args.fps, mtu=args.mtu))
    factory.set_shared(True)
    server.get_mount_points().add_factory(args.mount, factory)

    if server.attach(None) == 0:
        print("gst_rtsp_server.py: cannot listen on %s:%d" % (args.bind, args.port),
              file=sys.stderr)
        return 1
    port = server.get_bound_port()
    loop = GLib.MainLoop()

    def stop(*_):
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, stop)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, stop)
    host = "127.0.0.1" if args.bind == "0.0.0.0" else args.bind
    print("ready rtsp://%s:%d%s" % (host, port, args.mount), flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
