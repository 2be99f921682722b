"""tshark as an oracle for `rtsp-harness analyze`: runs
`tshark -r FILE -q -z rtp,streams` and parses its table.

What tshark 4.0 needs to see RTP (measured on Debian 12, 4.0.17):
- RTP is never decoded on an arbitrary UDP port by default. It is set up
  from an RTSP SETUP/reply pair when RTSP runs on 554, 8554 or 7236 (or on
  a port given with `-d tcp.port==P,rtsp`), and on any UDP port given with
  `-d udp.port==N,rtp`. `-d` decodes both directions of that port, so the
  12-byte dummy packet ffmpeg/GStreamer send from the client RTP port to
  the server becomes a one-packet "g711U" stream in tshark's table.
- `-o rtp.heuristic_rtp:TRUE` is NOT needed when -d names the ports (it
  would also pick up the dummy and any RTP-looking UDP); this module only
  adds it on request (heuristic=True).
- RTP interleaved in TCP (`$` frames) is decoded when RTSP is decoded on
  the TCP port (a default port or -d tcp.port==P,rtsp).

Columns of `-z rtp,streams` (one row per stream: 5-tuple and SSRC):

  Start time, End time   relative seconds of the first and last packet
  Src IP addr, Port      source address and UDP/TCP port
  Dest IP addr, Port     destination address and port
  SSRC                   0x%08X
  Payload                payload type name ("JPEG", "g711U", ...; may hold
                         spaces for some types)
  Pkts                   packets counted for the stream
  Lost                   `n (x%)`: expected - received, where tshark takes
                         "expected" from the LAST sequence number seen (not
                         the highest) with its own wrap heuristic;
                         duplicates make it negative: `-3 (-0.2%)`
  Min/Mean/Max Delta(ms) inter-arrival gap between consecutive packets;
                         a one-packet stream shows Min -1.000
  Min/Mean/Max Jitter(ms) RFC 3550 running jitter J in ms (Max is the
                         maximum of J over the stream, Mean its mean)
  Problems?              "X" when tshark flagged a sequence or timestamp
                         problem (any loss, wrong seq, ...), else empty
"""
import re
import shutil
import subprocess

TSHARK = shutil.which("tshark") or "tshark"

_HEAD_RE = re.compile(r"^\s*(-?[\d.]+)\s+(-?[\d.]+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+(.*)$")
_TAIL_RE = re.compile(
    r"^(?P<payload>.*?)\s+(?P<packets>\d+)\s+(?P<lost>-?\d+)\s+\((?P<lost_pct>-?[\d.]+|nan|-?inf)%\)"
    r"\s+(?P<min_delta>-?[\d.]+)\s+(?P<mean_delta>-?[\d.]+)\s+(?P<max_delta>-?[\d.]+)"
    r"\s+(?P<min_jitter>-?[\d.]+)\s+(?P<mean_jitter>-?[\d.]+)\s+(?P<max_jitter>-?[\d.]+)"
    r"\s*(?P<problems>X)?\s*$")


def tshark_args(path, rtp_ports=(), rtsp_ports=(), heuristic=False, extra=()):
    args = [TSHARK, "-n", "-r", str(path), "-q", "-z", "rtp,streams"]
    for p in rtp_ports:
        args += ["-d", f"udp.port=={int(p)},rtp"]
    for p in rtsp_ports:
        args += ["-d", f"tcp.port=={int(p)},rtsp"]
    if heuristic:
        args += ["-o", "rtp.heuristic_rtp:TRUE"]
    return args + list(extra)


def run(path, rtp_ports=(), rtsp_ports=(), heuristic=False, extra=(), timeout=60):
    """Runs tshark; returns (rows, stdout). Raises on a tshark error."""
    args = tshark_args(path, rtp_ports, rtsp_ports, heuristic, extra)
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {p.returncode}: {p.stderr}")
    return parse(p.stdout), p.stdout


def parse(text):
    """The `-z rtp,streams` table -> list of dicts:
    start, end (relative s), src, src_port, dst, dst_port, ssrc (int),
    ssrc_hex ("0x%08x"), payload, packets, lost (int, may be negative),
    lost_pct (float), min/mean/max_delta_ms, min/mean/max_jitter_ms,
    problems (bool), line (the raw row)."""
    rows = []
    in_table = False
    for line in text.splitlines():
        if line.startswith("====") and "RTP Streams" in line:
            in_table = True
            continue
        if not in_table:
            continue
        if line.startswith("===="):
            in_table = False
            continue
        if "Start time" in line and "SSRC" in line:
            continue
        if not line.strip():
            continue
        m = _HEAD_RE.match(line)
        if not m:
            raise ValueError(f"unparsed tshark row: {line!r}")
        t = _TAIL_RE.match(m.group(8))
        if not t:
            raise ValueError(f"unparsed tshark row tail: {line!r}")
        ssrc = int(m.group(7), 16)
        rows.append({
            "start": float(m.group(1)), "end": float(m.group(2)),
            "src": m.group(3), "src_port": int(m.group(4)),
            "dst": m.group(5), "dst_port": int(m.group(6)),
            "ssrc": ssrc, "ssrc_hex": f"0x{ssrc:08x}",
            "payload": t.group("payload").strip(),
            "packets": int(t.group("packets")),
            "lost": int(t.group("lost")), "lost_pct": float(t.group("lost_pct")),
            "min_delta_ms": float(t.group("min_delta")), "mean_delta_ms": float(t.group("mean_delta")),
            "max_delta_ms": float(t.group("max_delta")),
            "min_jitter_ms": float(t.group("min_jitter")), "mean_jitter_ms": float(t.group("mean_jitter")),
            "max_jitter_ms": float(t.group("max_jitter")),
            "problems": t.group("problems") == "X",
            "line": line.rstrip(),
        })
    return rows


def key(row):
    """(src "addr:port", dst "addr:port", ssrc int): how analyzer streams
    are matched to tshark rows (IPv6 addresses as tshark prints them)."""
    return (f"{row['src']}:{row['src_port']}", f"{row['dst']}:{row['dst_port']}", row["ssrc"])


# ---------------------------------------------------------------------------
# what tshark computes, as a model (checked against tshark 4.0.17 output by
# test_analyze_oracle.py on every capture)

PT_CN, PT_CN_OLD = 13, 19


def model(t_ns, seqs, rtp_ts, markers, pts=None, t_ref_ns=None, clock=90000):
    """tshark 4.0's `rtp,streams` figures for one stream from its packets in
    the order tshark dissects them (ui/tap-rtp-analysis.c as it behaves in
    4.0):

    - times are ms relative to t_ref_ns (the capture's first frame);
    - the running jitter J (RFC 3550 A.8, D against the previous packet
      with the extended RTP timestamp, in ms) is updated on EVERY packet
      but the first;
    - Min/Mean/Max Delta and Min/Mean/Max Jitter only take "regular"
      packets: not the first, no marker bit, not comfort noise (PT 13/19).
      An RTP/JPEG stream thus leaves out the last packet of each frame; a
      lab stream (M=1 on every packet) has no regular packet at all:
      Min -1, Mean 0, Max 0;
    - mean delta/jitter use mean = (mean*(n-1) + x)/n with n = packets
      before this one (not a plain average when packets are left out);
    - lost = (last seq seen + 65536 * cycles) - first seq + 1 - packets,
      cycles counted when a seq below the first one arrives.

    Returns a dict with the table's numeric columns (ms)."""
    n = len(t_ns)
    pts = pts or [None] * n
    t_ref_ns = t_ns[0] if t_ref_ns is None else t_ref_ns
    out = {"packets": n, "lost": 0, "min_delta_ms": -1.0, "mean_delta_ms": 0.0, "max_delta_ms": 0.0,
           "min_jitter_ms": -1.0, "mean_jitter_ms": 0.0, "max_jitter_ms": 0.0}
    if not n:
        return out
    start_seq = stop_seq = seqs[0]
    cycles, under = 0, False
    ext = last_ts = rtp_ts[0]
    prev_ext = ext
    prev_t = (t_ns[0] - t_ref_ns) / 1e6
    jitter = 0.0
    total = 1
    prev_pt = pts[0]
    for i in range(1, n):
        cur = (t_ns[i] - t_ref_ns) / 1e6
        ext = ext + (((rtp_ts[i] - last_ts + 2**31) % 2**32) - 2**31)
        last_ts = rtp_ts[i]
        seq = seqs[i]
        if seq < start_seq and not under:
            cycles += 1
            under = True
        elif seq == 0 and stop_seq == 65535 and not under:
            cycles += 1
            under = True
        elif seq > start_seq and under:
            under = False
        diff = abs(cur - (prev_t + (ext - prev_ext) / (clock / 1000)))
        jitter = (15 * jitter + diff) / 16
        delta = cur - prev_t
        cn = pts[i] in (PT_CN, PT_CN_OLD) or prev_pt in (PT_CN, PT_CN_OLD)
        if not markers[i] and not cn:
            out["max_delta_ms"] = max(out["max_delta_ms"], delta)
            if out["min_delta_ms"] == -1 or delta < out["min_delta_ms"]:
                out["min_delta_ms"] = delta
            out["mean_delta_ms"] = (out["mean_delta_ms"] * (total - 1) + delta) / total
            out["max_jitter_ms"] = max(out["max_jitter_ms"], jitter)
            out["mean_jitter_ms"] = (out["mean_jitter_ms"] * (total - 1) + jitter) / total
            if out["min_jitter_ms"] == -1 or jitter < out["min_jitter_ms"]:
                out["min_jitter_ms"] = jitter
        prev_t, prev_ext, prev_pt = cur, ext, pts[i]
        stop_seq = seq
        total += 1
    out["lost"] = (stop_seq + cycles * 65536) - start_seq + 1 - n
    return out
