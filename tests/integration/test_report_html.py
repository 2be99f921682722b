"""The HTML report (reports/<run>/index.html, `rtsp-harness report html`)
rendered in headless Chromium: from a real run in the lab, and from the
synthetic report of report_samples.py. The page must load without console
errors, hold its plots and thumbnails with no broken image (the page's own
self-check, read from the dumped DOM), show the verdict colours and the plot
line in a screenshot, and reference nothing outside itself."""
import html
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest
from lxml import etree
from lxml import html as lhtml
from PIL import Image

import report_samples

from run_util import PLAY, REF_CMD, SCEN, run
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# The page's colours (docs/reports.md): pass, fail, error, and the plot line.
PASS_GREEN = (0x1a, 0x7f, 0x37)
FAIL_RED = (0xcf, 0x22, 0x2e)
ERROR_ORANGE = (0xbc, 0x4c, 0x00)
PLOT_BLUE = (0x09, 0x69, 0xda)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

FAILING = """\
@name a frame rate no server reaches

""" + PLAY + """\
rtp for 3s: fps >= 1000
> TEARDOWN {url} RTSP/1.0
< RTSP/1.0 200
"""


def chromium(tmp_path, page, *args, timeout=120):
    """Headless Chromium on page, offline: no network, every host unresolvable."""
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-extensions", "--hide-scrollbars",
           "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}", *args,
           pathlib.Path(page).resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HOME": str(tmp_path)})


def has_colour(img, rgb, at_least=20):
    """At least at_least pixels of exactly rgb."""
    return sum(1 for n, c in img.getcolors(maxcolors=1 << 24) if c[:3] == rgb and n >= at_least) > 0


def check_page(tmp_path, page, colours):
    """The checks every rendered page must pass; returns the parsed DOM."""
    text = pathlib.Path(page).read_text()
    # Self-contained: no URL of any scheme, no protocol-relative reference,
    # every src and href inside the page or a data: URI, no CSS url().
    assert "http:" not in text and "https:" not in text
    refs = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', text)
    assert refs and all(r.startswith("#") or r.startswith("data:image/jpeg;base64,") for r in refs), \
        [r[:60] for r in refs if not r.startswith(("#", "data:"))]
    assert "url(" not in text and "@import" not in text
    assert len(text) < 5_000_000

    proc = chromium(tmp_path, page, "--enable-logging=stderr", "--v=0", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    m = re.search(r'data-check="([^"]*)"', proc.stdout)
    assert m, "the page's self-check did not run"
    check = json.loads(html.unescape(m.group(1)))
    assert check["plots"] > 0 and check["thumbs"] > 0 and check["broken_images"] == 0, check
    dom = lhtml.fromstring(proc.stdout)
    assert len(dom.xpath("//svg[contains(@class, 'plot')]")) == check["plots"]
    kinds = [s.get("data-plot") for s in dom.xpath("//svg[contains(@class, 'plot')]")]
    assert kinds.count("interval") == kinds.count("bitrate") == kinds.count("loss") == kinds.count("jitter")
    assert len(dom.xpath("//script")) == 1

    shot = tmp_path / "shot.png"
    proc = chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1280,8000")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    img = Image.open(shot).convert("RGB")
    colours_seen = img.getcolors(maxcolors=1 << 24)
    assert len(colours_seen) > 500, f"only {len(colours_seen)} colours: a blank page?"
    for name, rgb in colours.items():
        assert has_colour(img, rgb), f"no {name} {rgb} in the screenshot"
    return dom


@pytest.mark.skipif(os.geteuid() != 0, reason="the network lab needs root")
def test_a_real_run_renders_offline_with_plots_thumbnails_and_colours(harness_bin, tmp_path):
    failing = tmp_path / "fail.rtsp"
    failing.write_text(FAILING)
    reports = tmp_path / "reports"
    proc, report = run(harness_bin, tmp_path, "--server-cmd", REF_CMD, "--impair", "loss 5% delay 20ms 5ms",
                       failing, SCEN / "conformance" / "01-options-public.rtsp",
                       SCEN / "conformance" / "28-profile-clean.rtsp", name="X", timeout=300)
    page = reports / "X" / "index.html"
    assert proc.returncode == 1 and page.exists(), (proc.stdout[-2000:], proc.stderr[-2000:])
    verdicts = [s["verdict"] for s in report["scenarios"]]
    assert "pass" in verdicts and "fail" in verdicts, verdicts

    dom = check_page(tmp_path, page, {"pass green": PASS_GREEN, "fail red": FAIL_RED, "plot blue": PLOT_BLUE})
    # The failed scenario's section is open, with its failure and its stream's plots.
    failed = dom.xpath("//details[contains(@class, 'sc') and contains(@class, 'fail')]")
    assert failed and all(d.get("open") is not None for d in failed)
    assert "fps >= 1000" in failed[0].text_content()
    assert len(failed[0].xpath(".//svg[contains(@class, 'plot')]")) == 4
    rows = dom.xpath("//table[contains(@class, 'sum')]//tr[td]")
    assert len(rows) == len(report["scenarios"])

    # The page comes from the JSON alone: a copy elsewhere renders the same.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(reports / "X" / "report.json", elsewhere / "report.json")
    shutil.rmtree(tmp_path / "captures")
    proc = subprocess.run([harness_bin, "report", "html", elsewhere / "report.json", "-o", elsewhere / "page.html"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (elsewhere / "page.html").read_bytes() == page.read_bytes()


def test_the_synthetic_report_renders_every_case(harness_bin, tmp_path):
    doc = report_samples.write_report(tmp_path / "report.json")
    page = tmp_path / "index.html"
    proc = subprocess.run([harness_bin, "report", "html", tmp_path / "report.json", "-o", page],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    dom = check_page(tmp_path, page, {"pass green": PASS_GREEN, "fail red": FAIL_RED,
                                      "error orange": ERROR_ORANGE, "plot blue": PLOT_BLUE})
    scenarios = dom.xpath("//details[contains(@class, 'sc')]")
    assert len(scenarios) == len(doc["scenarios"])
    # The hostile name and response are text, not markup (check_page: one
    # script, the page's own).
    cseq = [i for i, s in enumerate(doc["scenarios"]) if s["file"].endswith("05-cseq-echo.rtsp")][0]
    section = dom.get_element_by_id(f"s{cseq}")
    assert report_samples.HOSTILE in section.xpath("./summary")[0].text_content()
    assert f"X-Note: {report_samples.HOSTILE}" in section.text_content()
    # The exchange the CSeq failure points at is highlighted, its CSeq line marked,
    # the finding beside it.
    ex = dom.get_element_by_id(f"s{cseq}-x1")
    assert "hl" in ex.get("class").split()
    assert [m.text_content() for m in ex.xpath(".//mark")] == ["CSeq: 7"]
    assert "rtsp.cseq.echo" in ex.xpath(".//aside")[0].text_content()
    assert "hl" not in dom.get_element_by_id(f"s{cseq}-x0").get("class").split()
    # Thumbnails: all of the sample's, inlined.
    n_thumbs = sum(len(st["thumbnails"]) for s in doc["scenarios"] for st in s["streams"])
    assert len(dom.xpath("//img[contains(@class, 'thumb')]")) == n_thumbs
    # The one-frame stream and the stall are handled on the plots.
    text = etree.tostring(dom, encoding="unicode")
    assert "one frame: no interval" in text and "above the axis" in text


def test_forty_two_scenarios_with_long_streams_stay_a_few_megabytes(harness_bin, tmp_path):
    doc = report_samples.sample_report()
    doc["scenarios"] = [dict(s) for s in doc["scenarios"] for _ in range(7)]
    (tmp_path / "report.json").write_text(json.dumps(doc))
    page = tmp_path / "index.html"
    proc = subprocess.run([harness_bin, "report", "html", tmp_path / "report.json", "-o", page],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert page.stat().st_size < 4_000_000, page.stat().st_size
