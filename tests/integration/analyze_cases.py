"""analyze_cases: small synthetic RTSP + RTP captures for the analyzer's
check tests (tests/integration/test_analyze_checks.py).

A Case holds a capture as editable parts, not yet as packets:

- `msgs`: RTSP messages (Msg: time, side "c"/"s", start line, headers,
  body, line end, terminator, or raw bytes), sent on one TCP connection
  (pcapgen.TcpConversation) in time order, each in one segment;
- `rtp`: RTP packets (Rtp: time, header fields, payload, or raw bytes),
  over UDP from the server's RTP port to the client's, or as interleaved
  `$` frames on the RTSP connection when `channel` is set;
- `udp`: other UDP datagrams (RTCP), or interleaved ones with a channel.

Tests change the parts (a header, a sequence number, a marker bit, a time),
then `build(path)` writes the pcap and records which frame number each
part got: `case.frame(part)` (the frame of the part's first TCP segment for
an RTSP message). Frame numbers are 1-based, in capture (time) order.

Builders:

- rfc_case(): the clean RFC 2326 conversation (OPTIONS with Public,
  DESCRIBE with an SDP for PT 26 JPEG/90000 at 20 fps, SETUP over UDP with
  client_port/server_port pairs and a 16-hex-digit session, PLAY, seconds
  of RFC 2435 RTP built from the real JPEGs of fixtures/movie.Mjpeg, RTCP
  sender reports with consistent counts, a receiver report from the
  client, PAUSE, a quiet second, TEARDOWN). interleaved=True carries RTP
  and RTCP on the RTSP connection instead (RTP/AVP/TCP;interleaved=0-1).
- lab_case(): the student lab dialect (PROTOCOL.md section 1): bare-LF
  requests with a bare file name and no final newline, replies with CSeq
  then Session and nothing else, one whole numbered JPEG per RTP packet,
  seq = frame number from 1, SSRC 0, M=0, 1 Hz wall-clock timestamps, a
  new UDP source port on every PLAY.
"""
import pathlib
import struct
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import pcapgen  # noqa: E402

T0 = 1_700_000_000.0
SERVER_IP = "10.1.0.1"
CLIENT_IP = "10.1.0.2"
RTSP_PORT = 8554
CLIENT_TCP = 40000
CLIENT_RTP = 5000            # client_port=5000-5001
SERVER_RTP = 6970            # server_port=6970-6971
SSRC = 0x1234ABCD
SESSION = "1A2B3C4D5E6F7081"  # 16 hex digits
URL = f"rtsp://{SERVER_IP}:{RTSP_PORT}/movie"
TRACK = URL + "/track0"
SEQ0 = 23456
TS0 = 0x3A000000
FPS = 20.0
PUBLIC = "OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE"

LAB_SERVER_PORT = 5540
LAB_CLIENT_TCP = 40100
LAB_CLIENT_RTP = 25000
LAB_SESSION = "465641"
LAB_SRC_PORTS = (41000, 41002)  # one per PLAY

NTP_OFFSET = 2208988800


def ns(t):
    return pcapgen.ns(float(t)) if not isinstance(t, int) else t


# ---------------------------------------------------------------------------
# parts

class Msg:
    """One RTSP message. `end` follows the last header line: the default is
    eol twice (line end, blank line); lab messages have end="". With a
    body, Content-Length is added from its length unless content_length
    is given (an int to lie, None to leave the header out)."""

    _AUTO = object()

    def __init__(self, t, side, start, headers=(), body=b"", tag=None, eol="\r\n", end=None,
                 content_length=_AUTO, raw=None):
        self.t = ns(t)
        self.side = side
        self.start = start
        self.headers = [list(h) for h in headers]
        self.body = body
        self.tag = tag
        self.eol = eol
        self.end = end
        self.content_length = content_length
        self.raw = raw

    def get(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def set(self, name, value):
        """Replace the header's value (or append the header)."""
        for h in self.headers:
            if h[0].lower() == name.lower():
                h[1] = value
                return self
        self.headers.append([name, value])
        return self

    def remove(self, name):
        self.headers = [h for h in self.headers if h[0].lower() != name.lower()]
        return self

    def render(self):
        if self.raw is not None:
            return self.raw
        lines = [self.start] + [f"{k}: {v}" for k, v in self.headers]
        if self.body:
            if self.content_length is Msg._AUTO:
                lines.append(f"Content-Length: {len(self.body)}")
            elif self.content_length is not None:
                lines.append(f"Content-Length: {self.content_length}")
        end = self.eol * 2 if self.end is None else self.end
        return (self.eol.join(lines) + end).encode() + self.body

    def __repr__(self):
        return f"<Msg {self.tag} {self.start!r}>"


class Rtp:
    """One RTP packet; `raw` replaces the built bytes. channel None: UDP
    from src to dst; else an interleaved frame on that channel."""

    def __init__(self, t, seq, ts, payload, marker=False, pt=26, ssrc=SSRC, version=2,
                 src=(SERVER_IP, SERVER_RTP), dst=(CLIENT_IP, CLIENT_RTP), channel=None, frame_index=None):
        self.t = ns(t)
        self.seq = seq & 0xFFFF
        self.ts = ts & 0xFFFFFFFF
        self.payload = payload
        self.marker = marker
        self.pt = pt
        self.ssrc = ssrc
        self.version = version
        self.src = src
        self.dst = dst
        self.channel = channel
        self.frame_index = frame_index  # which video frame of the stream it belongs to
        self.raw = None

    def bytes(self):
        if self.raw is not None:
            return self.raw
        return pcapgen.rtp(self.seq, self.ts, self.ssrc, self.payload, pt=self.pt, marker=self.marker,
                           version=self.version)

    def copy(self, **kw):
        c = Rtp.__new__(Rtp)
        c.__dict__.update(self.__dict__)
        for k, v in kw.items():
            setattr(c, k, ns(v) if k == "t" else v)
        return c

    def __repr__(self):
        return f"<Rtp seq={self.seq} ts={self.ts} m={int(self.marker)} t={self.t}>"


class Udp:
    """Any other datagram (RTCP): UDP from src to dst, or interleaved on
    `channel` (side: who sends it)."""

    def __init__(self, t, data, src=(SERVER_IP, SERVER_RTP + 1), dst=(CLIENT_IP, CLIENT_RTP + 1),
                 channel=None, side="s", tag=None):
        self.t = ns(t)
        self.data = data
        self.src = src
        self.dst = dst
        self.channel = channel
        self.side = side
        self.tag = tag

    def bytes(self):
        return self.data

    def __repr__(self):
        return f"<Udp {self.tag} t={self.t}>"


# ---------------------------------------------------------------------------
# RTCP

def rtcp_sr(ssrc, t, rtp_ts, packets, octets):
    """RTCP sender report (no report blocks) at wall-clock time t (s)."""
    sec = int(t)
    frac = int((t - sec) * (1 << 32)) & 0xFFFFFFFF
    body = struct.pack("!IIIIII", ssrc, sec + NTP_OFFSET, frac, rtp_ts & 0xFFFFFFFF,
                       packets & 0xFFFFFFFF, octets & 0xFFFFFFFF)
    return struct.pack("!BBH", 0x80, 200, (4 + len(body)) // 4 - 1) + body


def rtcp_rr(ssrc, source, highest, jitter=0, lost=0):
    """RTCP receiver report with one report block about `source`."""
    block = struct.pack("!IIIIII", source, lost & 0xFFFFFF, highest, jitter, 0, 0)
    body = struct.pack("!I", ssrc) + block
    return struct.pack("!BBH", 0x81, 201, (4 + len(body)) // 4 - 1) + body


def rtcp_sdes(ssrc, cname):
    chunk = struct.pack("!I", ssrc) + bytes([1, len(cname)]) + cname + b"\0"
    chunk += b"\0" * (-len(chunk) % 4)
    return struct.pack("!BBH", 0x81, 202, (4 + len(chunk)) // 4 - 1) + chunk


# ---------------------------------------------------------------------------
# JPEG helpers

_MOVIE = None


def movie():
    """The JPEGs of fixtures/movie.Mjpeg (each with its fixture number)."""
    global _MOVIE
    if _MOVIE is None:
        _MOVIE = pcapgen.read_mjpeg()
    return _MOVIE


_PARTS = {}


def movie_parts(i):
    i %= len(movie())
    if i not in _PARTS:
        _PARTS[i] = pcapgen.jpeg_parts(movie()[i])
    return _PARTS[i]


def with_frame_number(jpeg, n):
    """The JPEG with its fixture comment set to "rtsp-harness frame N"
    (replaced, or inserted after SOI)."""
    com = b"rtsp-harness frame %d" % n
    seg = b"\xff\xfe" + struct.pack("!H", len(com) + 2) + com
    i = jpeg.find(b"\xff\xfe")
    if i >= 0:
        n_old = struct.unpack("!H", jpeg[i + 2:i + 4])[0]
        return jpeg[:i] + seg + jpeg[i + 2 + n_old:]
    return jpeg[:2] + seg + jpeg[2:]


def lab_jpeg(n, image=None):
    """Whole JPEG for lab frame number n (the movie's image n-1 unless given)."""
    j = movie()[(n - 1 if image is None else image) % len(movie())]
    return with_frame_number(j, n)


# ---------------------------------------------------------------------------
# the case

class Case:
    def __init__(self, client=(CLIENT_IP, CLIENT_TCP), server=(SERVER_IP, RTSP_PORT)):
        self.client = client
        self.server = server
        self.msgs = []
        self.rtp = []
        self.udp = []
        self.handshake_t = ns(T0)
        self.close_t = None
        self.path = None
        self._frames = {}
        self._pkt = {}

    # -- lookup
    def msg(self, tag):
        for m in self.msgs:
            if m.tag == tag:
                return m
        raise KeyError(tag)

    def remove_msg(self, tag):
        m = self.msg(tag)
        self.msgs.remove(m)
        return m

    def add(self, *msgs):
        self.msgs.extend(msgs)
        return msgs[0] if len(msgs) == 1 else msgs

    def udp_tag(self, tag):
        for u in self.udp:
            if u.tag == tag:
                return u
        raise KeyError(tag)

    def renumber(self):
        """CSeq 1, 2, 3 ... for the requests in time order; a request's
        reply (tag "<request tag>.reply") gets the same value. Messages
        without a CSeq header (or raw ones) are left alone."""
        reqs = sorted((m for m in self.msgs if m.side == "c" and m.raw is None), key=lambda m: m.t)
        for n, m in enumerate(reqs, 1):
            if m.get("CSeq") is None:
                continue
            m.set("CSeq", str(n))
            for r in self.msgs:
                if r.tag == f"{m.tag}.reply" and r.get("CSeq") is not None:
                    r.set("CSeq", str(n))
        return self

    def frame_rtp(self, index):
        """The RTP packets of video frame `index`, in stream order."""
        return [p for p in self.rtp if p.frame_index == index]

    # -- build
    def packets(self, post=None):
        conv = pcapgen.TcpConversation(self.client, self.server, isn_c=1000, isn_s=500000)
        conv.handshake(self.handshake_t)
        pkt_of = {}
        tcp_items = [(m.t, 0, i, m) for i, m in enumerate(self.msgs)]
        tcp_items += [(p.t, 1, i, p) for i, p in enumerate(self.rtp) if p.channel is not None]
        tcp_items += [(u.t, 2, i, u) for i, u in enumerate(self.udp) if u.channel is not None]
        tcp_items.sort(key=lambda x: (x[0], x[1], x[2]))
        for _, kind, _, item in tcp_items:
            if kind == 0:
                out = conv.send(item.t, item.side, item.render())
            else:
                side = "s" if kind == 1 else item.side
                out = conv.send(item.t, side, pcapgen.interleaved(item.channel, item.bytes()), ack=False)
            pkt_of[id(item)] = out[0]
        last = max([x[0] for x in tcp_items] + [self.handshake_t])
        conv.close(self.close_t if self.close_t is not None else last + ns(0.05))
        udp_pkts = []
        for items in (self.rtp, self.udp):
            for item in items:
                if item.channel is not None:
                    continue
                p = pcapgen.udp_frame(item.t, item.src[0], item.dst[0], item.src[1], item.dst[1],
                                      item.bytes(), ident=len(udp_pkts) + 1)
                pkt_of[id(item)] = p
                udp_pkts.append(p)
        packets = sorted(conv.packets + udp_pkts, key=lambda p: p.t_ns)  # stable
        if post is not None:
            packets = post(packets, lambda item: pkt_of[id(item)])
        return packets, pkt_of

    def build(self, path, post=None, snaplen=262144, writer=pcapgen.write_pcap):
        """Write the capture; post(packets, pkt_of) may rewrite the final
        packet list (drop a TCP segment, cut a frame ...)."""
        packets, pkt_of = self.packets(post)
        writer(path, packets, snaplen=snaplen)
        index = {id(p): n for n, p in enumerate(packets, 1)}
        self._frames = {k: index.get(id(p)) for k, p in pkt_of.items()}
        self._pkt = pkt_of
        self.path = pathlib.Path(path)
        self.n_packets = len(packets)
        return self.path

    def frame(self, part):
        """Frame number of a part (Msg, Rtp, Udp, or a message tag)."""
        if isinstance(part, str):
            part = self.msg(part)
        n = self._frames.get(id(part))
        assert n is not None, f"{part!r} is not in the capture"
        return n

    def packet(self, part):
        if isinstance(part, str):
            part = self.msg(part)
        return self._pkt[id(part)]


# ---------------------------------------------------------------------------
# RFC 2326 baseline

def sdp(pt=26, encoding="JPEG", clock=90000, fps=20):
    lines = ["v=0", f"o=- 91565340853 1 IN IP4 {SERVER_IP}", "s=rtsp-harness test", f"c=IN IP4 {SERVER_IP}",
             "t=0 0", "a=control:*", f"m=video 0 RTP/AVP {pt}", f"a=rtpmap:{pt} {encoding}/{clock}",
             f"a=framerate:{fps}", "a=control:track0"]
    return ("\r\n".join(lines) + "\r\n").encode()


def request(t, method, uri, cseq, *headers, tag=None):
    return Msg(t, "c", f"{method} {uri} RTSP/1.0", [("CSeq", str(cseq)), *headers,
                                                    ("User-Agent", "analyze-cases")], tag=tag or method)


def reply(t, cseq, *headers, status="200 OK", body=b"", tag=None):
    return Msg(t, "s", f"RTSP/1.0 {status}", [("CSeq", str(cseq)), *headers], body=body, tag=tag)


def rtp_jpeg_frames(n_frames, start, seq0=SEQ0, ts0=TS0, fps=FPS, ssrc=SSRC, channel=None, image0=0,
                    ts_step=None, spacing=20e-6, index0=0):
    """RFC 2435 RTP for n_frames movie frames from time `start` (s)."""
    out = []
    seq = seq0
    step = round(90000 / fps) if ts_step is None else ts_step
    for f in range(n_frames):
        pls = pcapgen.jpeg_rtp_payloads(movie_parts(image0 + f))
        t_f = start + f / fps
        for i, pl in enumerate(pls):
            out.append(Rtp(ns(t_f + i * spacing), seq, ts0 + f * step, pl, marker=i == len(pls) - 1,
                           ssrc=ssrc, channel=channel, frame_index=index0 + f))
            seq += 1
    return out


def rfc_case(frames=60, interleaved=False, pause=True, seq0=SEQ0, ts_step=None, sdp_pt=26, pt=26,
             ssrc=SSRC, session=SESSION, rtcp=True, teardown_after=1.0, sr_extra=0):
    """The clean RFC 2326 conversation; every part tagged:
    OPTIONS, OPTIONS.reply, DESCRIBE(.reply), SETUP(.reply), PLAY(.reply),
    PAUSE(.reply) (when pause), TEARDOWN(.reply); RTCP: SR1, SR2, RR."""
    c = Case()
    t = T0
    tr_offer = ("RTP/AVP/TCP;unicast;interleaved=0-1" if interleaved
                else f"RTP/AVP;unicast;client_port={CLIENT_RTP}-{CLIENT_RTP + 1}")
    tr_reply = ("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=%08X" % ssrc if interleaved
                else f"RTP/AVP;unicast;client_port={CLIENT_RTP}-{CLIENT_RTP + 1};"
                     f"server_port={SERVER_RTP}-{SERVER_RTP + 1};ssrc={ssrc:08X}")
    c.add(request(t + 0.010, "OPTIONS", URL, 1),
          reply(t + 0.012, 1, ("Public", PUBLIC), tag="OPTIONS.reply"),
          request(t + 0.020, "DESCRIBE", URL, 2, ("Accept", "application/sdp")),
          reply(t + 0.022, 2, ("Content-Base", URL + "/"), ("Content-Type", "application/sdp"),
                body=sdp(pt=sdp_pt), tag="DESCRIBE.reply"),
          request(t + 0.030, "SETUP", TRACK, 3, ("Transport", tr_offer)),
          reply(t + 0.032, 3, ("Transport", tr_reply), ("Session", f"{session};timeout=60"), tag="SETUP.reply"),
          request(t + 0.040, "PLAY", URL, 4, ("Session", session), ("Range", "npt=0.000-")),
          reply(t + 0.042, 4, ("Session", session), ("Range", "npt=0.000-"), tag="PLAY.reply"))
    start = t + 0.100
    c.rtp = rtp_jpeg_frames(frames, start, seq0=seq0, ssrc=ssrc, channel=0 if interleaved else None,
                            ts_step=ts_step)
    for p in c.rtp:
        p.pt = pt
    end = start + frames / FPS
    if rtcp:
        def sr(at, tag):
            sent = [p for p in c.rtp if p.t < ns(at)]
            octets = sum(len(p.payload) for p in sent)
            rtp_ts = TS0 + round((at - start) * 90000)
            c.udp.append(Udp(at, rtcp_sr(ssrc, at, rtp_ts, len(sent) + sr_extra, octets) +
                             rtcp_sdes(ssrc, b"server@rtsp-harness"),
                             channel=1 if interleaved else None, tag=tag))
        sr(start + (frames // 2) / FPS - 0.010, "SR1")
        sr(end + 0.010, "SR2")
        if not interleaved:
            c.udp.append(Udp(start + 1.013, rtcp_rr(0xC11E0001, ssrc, seq0 + 10),
                             src=(CLIENT_IP, CLIENT_RTP + 1), dst=(SERVER_IP, SERVER_RTP + 1), tag="RR"))
    cseq = 5
    tq = end + 0.100
    if pause:
        c.add(request(tq, "PAUSE", URL, cseq, ("Session", session)),
              reply(tq + 0.002, cseq, ("Session", session), tag="PAUSE.reply"))
        cseq += 1
        tq += teardown_after
    c.add(request(tq, "TEARDOWN", URL, cseq, ("Session", session)),
          reply(tq + 0.002, cseq, ("Session", session), tag="TEARDOWN.reply"))
    c.close_t = ns(tq + 0.050)
    return c


# ---------------------------------------------------------------------------
# lab baseline

def lab_request(t, method, cseq, *headers, tag=None):
    lines = [f"{method} movie.Mjpeg RTSP/1.0", f"CSeq: {cseq}", *headers]
    return Msg(t, "c", "", raw="\n".join(lines).encode(), tag=tag or method)


def lab_reply(t, cseq, session=LAB_SESSION, tag=None, status="200 OK"):
    return Msg(t, "s", "", raw=f"RTSP/1.0 {status}\nCSeq: {cseq}\nSession: {session}".encode(), tag=tag)


def lab_rtp(first_number, count, start, src_port, number_of=None):
    """Lab RTP: one whole numbered JPEG per packet, seq = frame number,
    1 Hz wall-clock timestamp, SSRC 0, M=0, every 50 ms."""
    out = []
    for k in range(count):
        n = first_number + k
        t = start + k * 0.050
        out.append(Rtp(ns(t), n, int(t), lab_jpeg(n if number_of is None else number_of(n), image=n - 1),
                       marker=False, ssrc=0, src=(SERVER_IP, src_port), dst=(CLIENT_IP, LAB_CLIENT_RTP),
                       frame_index=n))
    return out


def lab_case(first_play=60, second_play=20):
    """The lab conversation: SETUP, PLAY, first_play frames, PAUSE, PLAY
    (new source port), second_play frames, TEARDOWN."""
    c = Case(client=(CLIENT_IP, LAB_CLIENT_TCP), server=(SERVER_IP, LAB_SERVER_PORT))
    t = T0
    c.add(lab_request(t + 0.010, "SETUP", 1, f"Transport: RTP/UDP; client_port= {LAB_CLIENT_RTP}"),
          lab_reply(t + 0.012, 1, tag="SETUP.reply"),
          lab_request(t + 0.020, "PLAY", 2, f"Session: {LAB_SESSION}"),
          lab_reply(t + 0.022, 2, tag="PLAY.reply"))
    start = t + 0.050
    c.rtp = lab_rtp(1, first_play, start, LAB_SRC_PORTS[0])
    tp = start + first_play * 0.050 + 0.010
    c.add(lab_request(tp, "PAUSE", 3, f"Session: {LAB_SESSION}"),
          lab_reply(tp + 0.002, 3, tag="PAUSE.reply"),
          lab_request(tp + 0.500, "PLAY", 4, f"Session: {LAB_SESSION}", tag="PLAY2"),
          lab_reply(tp + 0.502, 4, tag="PLAY2.reply"))
    start2 = tp + 0.530
    c.rtp += lab_rtp(first_play + 1, second_play, start2, LAB_SRC_PORTS[1])
    tt = start2 + second_play * 0.050 + 0.010
    c.add(lab_request(tt, "TEARDOWN", 5, f"Session: {LAB_SESSION}"),
          lab_reply(tt + 0.002, 5, tag="TEARDOWN.reply"))
    c.close_t = ns(tt + 0.050)
    return c
