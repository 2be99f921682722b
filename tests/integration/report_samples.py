"""A synthetic but complete run report for tests of the report renderers
(`rtsp-harness report ...`): every field of docs/run-report.schema.json and
of the issue-6 additions (steps, checks, stream series, loss events,
thumbnails, baseline), with the awkward cases a renderer must survive: a
failed scenario whose response carries markup and quotes, an errored one
with nothing captured, a stream of thousands of frames with a huge stall,
a one-frame stream, a client-role scenario without a baseline.

    import report_samples
    doc = report_samples.sample_report()           # a dict
    report_samples.write_report(path)              # the same as JSON

The figures are made up but consistent (loss = lost / expected, the bit
rate series adds up to the bytes); nothing here is measured."""
import base64
import io
import json
import math
import random

SEED = 7
HOSTILE = "<script>alert('x')</script> \"quoted\" & <b>bold</b>"


def thumbnail(width, height, shade):
    """A small real JPEG (a gradient with a bar) as base64, or a fixed
    1x1 JPEG when PIL is not importable."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        return ("/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwc"
                "KDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAA"
                "AAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==")
    img = Image.new("RGB", (width, height))
    px = img.load()
    for y in range(height):
        for x in range(width):
            px[x, y] = ((x * 255) // width, (y * 255) // height, shade)
    ImageDraw.Draw(img).rectangle([width // 3, height // 3, width // 3 + 12, height - 8], fill=(250, 250, 250))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return base64.b64encode(buf.getvalue()).decode()


def dist(values):
    if not values:
        return None
    s = sorted(values)

    def pct(p):
        return s[min(len(s) - 1, int(p * (len(s) - 1)))]
    return {"count": len(s), "min": s[0], "p50": pct(.5), "p95": pct(.95), "p99": pct(.99),
            "max": s[-1], "mean": sum(s) / len(s)}


def measured(rng, sent, loss, delay, spread):
    lost = int(round(sent * loss))
    delays = [max(0.1, rng.gauss(delay, spread)) for _ in range(min(sent - lost, 500))]
    return {"sent": sent, "received": sent - lost, "lost": lost, "duplicates": 0,
            "corrupted_or_foreign": 0, "reordered": 0, "rtp_sent": max(0, sent - 10),
            "rtp_lost": lost, "frames_sent": 0, "frames_lost": 0,
            "loss": lost / sent if sent else 0.0, "delay_ms": dist(delays), "frame_delay_ms": None,
            "network_dropped_rtp": []}


def impairment(rng, asked, sent=40, loss=0.0, delay=0.3, spread=0.05, phases=()):
    return {"backend": "userspace" if asked else "none",
            "asked": {"to_sut": asked, "to_peer": asked},
            "phases": list(phases),
            "decision_log": "captures/sample/x.impair.log",
            "measured": {"to_sut": measured(rng, sent, loss, delay, spread),
                         "to_peer": measured(rng, sent * 10, loss, delay, spread)}}


def exchange(line, method, url, cseq, status, t, extra_resp="", session=None):
    req = f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n"
    if session:
        req += f"Session: {session}\r\n"
    resp = (f"RTSP/1.0 {status} {'OK' if status == 200 else 'Error'}\r\nCSeq: {cseq}\r\n"
            f"Server: sample/1.0\r\n{extra_resp}\r\n")
    return {"line": line, "conn": 0, "local": "198.18.0.1:40000", "remote": "198.18.0.2:8554",
            "method": method, "status": status, "cseq": cseq, "request_s": t,
            "response_s": t + 0.021, "request": req + "\r\n", "response": resp, "frame": 10 + 3 * cseq}


def stream(rng, t0, seconds, fps=20.0, loss=0.0, jitter=1.0, stall_at=None, stall_s=0.0,
           never_sent_every=0, frames_cap=20000, shade=90):
    """One received MJPEG stream with its series, loss events and thumbnails."""
    nominal = 1000.0 / fps
    frames, t, j, prev = [], t0, 0.0, None
    n_frames = int(seconds * fps)
    for i in range(n_frames):
        t += nominal / 1000 + rng.gauss(0, jitter / 1000)
        if stall_at is not None and prev is not None and prev < stall_at <= t:
            t += stall_s
        d = abs(rng.gauss(0, jitter))
        j += (d - j) / 16
        frames.append([round(t, 6), None if prev is None else round((t - prev) * 1000, 3), round(j, 4)])
        prev = t
    per_frame_pkts, pkt_bytes = 6, 1200
    expected = n_frames * per_frame_pkts
    lost = int(round(expected * loss))
    events = []
    for k in range(lost):
        kind = "never-sent" if never_sent_every and k % never_sent_every == 0 else "network"
        ev = {"t_s": round(t0 + rng.random() * seconds, 6), "seq": (1000 + rng.randrange(expected)) % 65536,
              "kind": kind}
        if kind == "network":
            ev.update(pcap="captures/sample/x.sut.pcap", frame=100 + k)
        events.append(ev)
    events.sort(key=lambda e: e["t_s"])
    total_bytes = (expected - lost) * pkt_bytes
    whole = int(math.ceil(frames[-1][0] - t0)) if frames else 0
    bitrate = [total_bytes * 8 / max(seconds, 1e-9) * (0.9 + 0.2 * rng.random()) for _ in range(whole)]
    ivs = sorted(f[1] for f in frames if f[1] is not None)

    def pct(p):
        return ivs[min(len(ivs) - 1, int(p * (len(ivs) - 1)))] if ivs else 0.0
    thumbs = []
    if frames:
        thumbs.append({"t_s": frames[0][0], "reason": "first", "frame": 40, "rtp_ts": 90000,
                       "width": 96, "height": 72, "jpeg": thumbnail(96, 72, shade)})
        if events:
            e = events[len(events) // 2]
            thumbs.append({"t_s": max(t0, e["t_s"] - 0.05), "reason": "before-loss", "frame": 200,
                           "rtp_ts": 180000, "width": 96, "height": 72, "jpeg": thumbnail(96, 72, shade + 60)})
            thumbs.append({"t_s": e["t_s"] + 0.05, "reason": "after-loss", "frame": 210,
                           "rtp_ts": 184500, "width": 96, "height": 72, "jpeg": thumbnail(96, 72, shade + 120)})
        thumbs.append({"t_s": frames[-1][0], "reason": "last", "frame": 900, "rtp_ts": 450000,
                       "width": 96, "height": 72, "jpeg": thumbnail(96, 72, shade + 30)})
    return {
        "src": "198.18.0.2:37054", "dst": "198.18.0.1:40916", "interleaved": False,
        "ssrc": 796369021, "packets": expected - lost, "lost": lost,
        "loss": lost / expected if expected else 0.0,
        "bitrate_bps": total_bytes * 8 / max(seconds, 1e-9), "max_jitter_ms": max((f[2] for f in frames), default=0),
        "frames_complete": n_frames, "frames_incomplete": min(lost, n_frames), "fps": fps if n_frames > 1 else 0.0,
        "pcap": "captures/sample/x.peer.pcap", "payload_type": 26, "expected": expected,
        "duplicates": 0, "reordered": 1, "bytes": total_bytes,
        "mean_jitter_ms": sum(f[2] for f in frames) / len(frames) if frames else 0.0,
        "min_delta_ms": 0.01, "mean_delta_ms": nominal / per_frame_pkts, "max_delta_ms": max(ivs, default=0),
        "interval_ms": {"p50": pct(.5), "p95": pct(.95), "p99": pct(.99), "max": ivs[-1]} if ivs else None,
        "nominal_interval_ms": nominal, "stalls": 1 if stall_at is not None else 0,
        "frames_decoded": n_frames, "frames_undecodable": 0,
        "series": {"t0_s": t0, "frames": frames[:frames_cap], "frames_truncated": len(frames) > frames_cap,
                   "bitrate_bps": bitrate},
        "loss_events": events, "loss_events_truncated": False,
        "thumbnails": thumbs,
    }


def checks_for(steps, failures, line_of_check):
    """One check per step (its failures attached), plus analyzer checks."""
    checks = []
    for st in steps:
        cid = "scenario." + st["kind"].replace(" ", "-")
        fails = [i for i, f in enumerate(failures) if f.get("line") == st["line"] and f["source"] == "replay"]
        status = {"pass": "pass", "fail": "fail", "skipped": "skipped", "not-run": "skipped"}[st["status"]]
        checks.append({"id": cid, "name": f"{cid}:{st['line']}", "source": "replay", "line": st["line"],
                       "status": status, "description": f"the `{st['kind']}` step on line {st['line']} holds",
                       "message": failures[fails[0]]["message"] if fails else "", "failures": fails,
                       "time_s": 0.021})
    for cid, rfc in line_of_check:
        fails = [i for i, f in enumerate(failures) if f["check"] == cid]
        checks.append({"id": cid, "name": cid, "source": "analyzer", "line": 0,
                       "status": "fail" if fails else "pass", "rfc": rfc,
                       "description": f"{cid} holds on every exchange",
                       "message": failures[fails[0]]["message"] if fails else "", "failures": fails})
    return checks


def sut(exit_text="killed by signal 15 (Terminated)", out="ready rtsp://127.0.0.1:8554/\n", err=""):
    return {"command": "sample-server --port 8554", "exit": exit_text, "ended_early": False,
            "stdout_tail": out, "stderr_tail": err}


def base_scenario(name, file, verdict, imp, exchanges=(), failures=(), steps=(), streams=(), windows=(),
                  role="server", duration=1.0, checks=None, analyzer=()):
    failures = list(failures)
    return {"name": name, "file": file, "role": role, "profile": "rfc2326", "impairment": imp,
            "captures": {"sut": f"captures/sample/{name[:8]}.sut.pcap", "sut_frames": 40, "sut_kernel_dropped": 0,
                         "peer": f"captures/sample/{name[:8]}.peer.pcap", "peer_frames": 40,
                         "peer_kernel_dropped": 0},
            "failures": failures, "rtp_windows": list(windows), "exchanges": list(exchanges),
            "streams": list(streams), "steps": list(steps),
            "checks": checks if checks is not None else checks_for(steps, failures, analyzer),
            "steps_run": sum(1 for s in steps if s["status"] in ("pass", "fail")),
            "steps_skipped": sum(1 for s in steps if s["status"] == "skipped"),
            "sut": sut(), "verdict": verdict, "duration_s": duration}


def step(index, line, kind, status, start, end, exch=None):
    return {"index": index, "line": line, "kind": kind, "status": status, "start_s": start, "end_s": end,
            "exchange": exch}


def sample_report(name="sample", baseline=True):
    rng = random.Random(SEED)
    url = "rtsp://198.18.0.2:8554/movie.Mjpeg"
    scenarios = []

    # 1. pass, no RTP.
    ex = [exchange(7, "OPTIONS", url, 1, 200, 0.04, "Public: OPTIONS, DESCRIBE, SETUP, PLAY\r\n")]
    st = [step(0, 7, "send", "pass", 0.04, 0.04, 0), step(1, 8, "expect", "pass", 0.04, 0.061, 0)]
    scenarios.append(base_scenario("OPTIONS lists the methods in Public", "scenarios/conformance/01-options.rtsp",
                                   "pass", impairment(rng, "delay 20ms 5ms loss 5%", delay=20, spread=5),
                                   ex, [], st, analyzer=[("rtsp.cseq.echo", "RFC 2326 12.17")], duration=0.41))

    # 2. fail: the CSeq is not echoed; the response carries markup.
    ex = [exchange(7, "DESCRIBE", url, 1, 200, 0.05, "Content-Type: application/sdp\r\n"),
          exchange(12, "SETUP", url + "/track1", 2, 200, 0.12, f"X-Note: {HOSTILE}\r\nSession: 1234\r\n")]
    ex[1]["response"] = ex[1]["response"].replace("CSeq: 2", "CSeq: 7")
    fails = [{"check": "rtsp.cseq.echo", "source": "analyzer", "line": 12, "column": 3,
              "message": f"CSeq 7 does not echo the request's 2 {HOSTILE}", "rfc": "RFC 2326 12.17",
              "where": "response to SETUP", "pcap": "captures/sample/fail.sut.pcap", "frame": 17,
              "exchange": 1, "time_s": 0.141},
             {"check": "scenario.header", "source": "replay", "line": 13, "column": 3,
              "message": "header CSeq: expected 2, got 7", "exchange": 1, "time_s": 0.141}]
    st = [step(0, 7, "send", "pass", 0.05, 0.05, 0), step(1, 8, "expect", "pass", 0.05, 0.07, 0),
          step(2, 12, "send", "pass", 0.12, 0.12, 1), step(3, 13, "expect", "fail", 0.12, 0.141, 1),
          step(4, 15, "send", "skipped", None, None, None)]
    sc = base_scenario("CSeq is echoed " + HOSTILE, "scenarios/conformance/05-cseq-echo.rtsp", "fail",
                       impairment(rng, "delay 20ms 5ms loss 5%", delay=20, spread=5), ex, fails, st,
                       analyzer=[("rtsp.cseq.echo", "RFC 2326 12.17")], duration=0.52)
    sc["sut"] = sut(err=f"warning: {HOSTILE}\n\x01\x7f")
    scenarios.append(sc)

    # 3. pass with a long lossy stream and a reference beside it.
    ex = [exchange(7, "DESCRIBE", url, 1, 200, 0.05), exchange(10, "SETUP", url + "/track1", 2, 200, 0.1),
          exchange(12, "PLAY", url, 3, 200, 0.2, session="1234"),
          exchange(20, "TEARDOWN", url, 4, 200, 100.3, session="1234")]
    strm = stream(rng, 0.25, 100.0, loss=0.05, jitter=2.0, never_sent_every=4)
    win = {"line": 14, "start_s": 0.25, "end_s": 100.25, "live_packets": strm["packets"],
           "live_bytes": strm["bytes"], "conditions": [
               {"metric": "loss", "expected": "within binomial 99%", "measured": f"{strm['loss'] * 100:.2f}%",
                "pass": True, "column": 13},
               {"metric": "fps", "expected": ">= 15", "measured": "20.0", "pass": True, "column": 40}]}
    st = [step(i, x["line"], "send", "pass", x["request_s"], x["request_s"], i) for i, x in enumerate(ex)]
    sc = base_scenario("stream under loss 5%", "scenarios/conformance/29-profile-lossy.rtsp", "pass",
                       impairment(rng, "delay 20ms 5ms loss 5%", sent=2000, loss=0.05, delay=20, spread=5,
                                  phases=[{"line": 5, "at_ms": 1500, "applied_ms": 1502, "direction": "both",
                                           "impair": "loss 30%"}]),
                       ex, [], st, [strm], [win], duration=101.2)
    if baseline:
        ref = base_scenario("stream under loss 5%", sc["file"], "pass",
                            impairment(rng, "delay 20ms 5ms loss 5%", sent=2000, loss=0.05, delay=20, spread=5),
                            ex, [], st, [stream(rng, 0.22, 100.0, fps=20.0, loss=0.04, jitter=1.0)], [win],
                            duration=100.9)
        sc["baseline"] = ref
    scenarios.append(sc)

    # 4. fail: a stall of 4 s dwarfs every other interval; an rtp window fails.
    strm = stream(rng, 0.3, 12.0, loss=0.01, jitter=1.0, stall_at=5.0, stall_s=4.0, shade=200)
    win = {"line": 16, "start_s": 0.3, "end_s": 12.3, "live_packets": strm["packets"], "live_bytes": strm["bytes"],
           "conditions": [{"metric": "interval", "expected": "p99 <= 100ms", "measured": "4050.0ms",
                           "pass": False, "column": 13}]}
    fails = [{"check": "scenario.rtp", "source": "capture", "line": 16, "column": 13,
              "message": "interval p99 4050.0ms, expected <= 100ms", "pcap": "captures/sample/stall.peer.pcap",
              "frame": 812, "time_s": 12.3}]
    ex = [exchange(9, "PLAY", url, 3, 200, 0.2, session="1")]
    st = [step(0, 9, "send", "pass", 0.2, 0.2, 0), step(1, 16, "rtp for", "fail", 0.3, 12.3, None)]
    scenarios.append(base_scenario("stream across a stall", "scenarios/conformance/33-profile-blackout.rtsp",
                                   "fail", impairment(rng, "loss 1%", sent=400, loss=0.01), ex, fails, st,
                                   [strm], [win], duration=12.6))

    # 5. error: the SUT exited before anything happened.
    sc = base_scenario("the server dies", "scenarios/conformance/02-describe-sdp.rtsp", "error",
                       impairment(rng, ""), [], [], [step(0, 7, "send", "not-run", None, None, None)],
                       checks=[{"id": "scenario.run", "name": "scenario.run", "source": "replay", "line": 0,
                                "status": "error", "description": "the scenario runs",
                                "message": "the SUT exited with status 7 before the scenario started",
                                "failures": []}])
    sc["error"] = "the SUT exited with status 7 before the scenario started"
    sc["sut"] = sut("exited with status 7", "starting\n", "fatal: no media\n")
    sc["streams"] = []
    scenarios.append(sc)

    # 6. client role: a one-frame stream, no baseline possible.
    strm = stream(rng, 1.0, 0.05, fps=20.0)
    ex = [exchange(5, "PLAY", url, 1, 200, 0.9)]
    sc = base_scenario("a client plays one frame", "scenarios/client/01-one-frame.rtsp", "pass",
                       impairment(rng, "delay 5ms"), ex, [], [step(0, 5, "expect", "pass", 0.9, 0.92, 0)],
                       [strm], role="client", duration=1.3)
    sc["baseline_note"] = "no reference client: a baseline exists for server-role scenarios only"
    scenarios.append(sc)

    passed = sum(1 for s in scenarios if s["verdict"] == "pass")
    failed = sum(1 for s in scenarios if s["verdict"] == "fail")
    errors = sum(1 for s in scenarios if s["verdict"] == "error")
    run = {"tool": "rtsp-harness", "version": "0.1.0", "name": name,
           "command": ["run", "--name", name, "--server-cmd", "sample-server --port {port}", "--impair",
                       "delay 20ms 5ms loss 5%", "scenarios/conformance"],
           "seed": 1, "backend_requested": "auto", "netem_available": False,
           "netem_unavailable_because": "this kernel has no sch_netem (tc-netem)",
           "impair_default": "delay 20ms 5ms loss 5%", "target": None,
           "server_cmd": "sample-server --port {port}", "client_cmd": None,
           "captures": "captures/sample", "started": 1795258940, "duration_s": 118.4,
           "baseline": "reference" if baseline else None,
           "baseline_cmd": "{harness} serve --media {media_dir} --port {port}" if baseline else None}
    return {"schema": "rtsp-harness/run-report", "version": 1, "run": run, "scenarios": scenarios,
            "summary": {"scenarios": len(scenarios), "ran": len(scenarios), "passed": passed,
                        "failed": failed, "errors": errors, "interrupted": False}}


def write_report(path, **kw):
    doc = sample_report(**kw)
    with open(path, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
    return doc
