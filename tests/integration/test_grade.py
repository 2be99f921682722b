"""`rtsp-harness grade`: the team's lab server and its mutants
(fixtures/submissions/, expected.json) graded with the default rubric; the
correct server gets full marks and each mutant loses exactly the items its
bug breaks; repeated runs give identical gradebook rows; hostile
submissions are contained and the rest of the class is graded normally;
the outputs (gradebook, class summary, reports with the grade) hold
together."""
import csv
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest
from lxml import etree

from run_util import ROOT, schema_errors

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the network lab and the sandbox need root")

SUBMISSIONS = ROOT / "fixtures" / "submissions"
EXPECTED = json.loads((SUBMISSIONS / "expected.json").read_text())
JOBS = "4"  # grading waits on the network far more than it computes


def grade(harness_bin, submissions, out, *args, timeout=900):
    proc = subprocess.run([harness_bin, "grade", str(submissions), "--out", str(out), "--jobs", JOBS, "-q",
                           *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return proc


def gradebook(out):
    with open(out / "gradebook.csv", newline="") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


def lost_items(out, name):
    g = json.loads((out / name / "grade.json").read_text())
    return sorted(it["id"] for it in g["items"] if it["status"] != "pass"), g


@pytest.fixture(scope="module")
def graded(graded_class):
    return graded_class


def test_the_correct_server_gets_full_marks_and_each_mutant_loses_exactly_its_items(graded):
    proc, out, took = graded
    assert (out / "gradebook.csv").exists(), proc.stderr[-3000:]
    book = gradebook(out)
    assert set(book) == set(EXPECTED), set(book) ^ set(EXPECTED)
    wrong = {}
    for name, want in EXPECTED.items():
        lost, g = lost_items(out, name)
        if lost != sorted(want):
            wrong[name] = (lost, sorted(want))
    assert not wrong, wrong
    correct = book["correct"]
    assert float(correct["total"]) == float(correct["max"]) > 0
    assert float(correct["bonus"]) > 0
    # Each mutant lost points; the column of every lost item is below its maximum.
    for name, want in EXPECTED.items():
        if name != "correct" and not all(w.startswith("bonus.") for w in want):
            assert float(book[name]["total"]) < float(correct["total"]), name
    # The exit status says some submission did not get full marks.
    assert proc.returncode == 1
    print(f"graded {len(book)} submissions with --jobs 8 in {took:.1f} s")


def test_every_submission_has_its_report_with_the_grade_and_a_hint_per_lost_item(graded):
    _, out, _ = graded
    for name, want in EXPECTED.items():
        report = json.loads((out / name / "report.json").read_text())
        assert not schema_errors(report), (name, schema_errors(report)[:3])
        grade_json = report["grade"]
        assert grade_json["submission"]["name"] == name
        assert grade_json["submission"]["dialect"] == "lab"
        assert grade_json["submission"]["movie"] == "supplied by the grader"
        page = (out / name / "index.html").read_text()
        assert "<h2>Grade</h2>" in page
        for item in grade_json["items"]:
            if item["id"] in want:
                # A lost item says why, what to learn, and where the evidence is.
                assert item["reasons"] and item.get("hint"), (name, item)
                assert item["hint"][:40] in page.replace("&#39;", "'").replace("&quot;", '"'), (name, item["id"])
        etree.parse(str(out / name / "junit.xml"))
    cseq = json.loads((out / "cseq-not-echoed" / "grade.json").read_text())
    item = next(i for i in cseq["items"] if i["id"] == "cseq")
    assert item["rfc"] == "RFC 2326 12.17"
    assert any(e["check"] == "rtsp.cseq.echo" for e in item["evidence"])


def test_the_class_summary_counts_scores_and_common_failures(graded):
    _, out, _ = graded
    cls = json.loads((out / "class.json").read_text())
    assert cls["submissions"] == len(EXPECTED)
    book = gradebook(out)
    totals = sorted(float(r["total"]) for r in book.values())
    assert cls["distribution"]["min"] == totals[0] and cls["distribution"]["max"] == totals[-1]
    assert sum(b["submissions"] for b in cls["distribution"]["histogram"]) == len(EXPECTED)
    # The most common failure is the item most mutants lose.
    counts = {}
    for want in EXPECTED.values():
        for item in want:
            counts[item] = counts.get(item, 0) + 1
    top = cls["most_common_failures"][0]
    assert top["submissions"] == max(counts.values()) and counts[top["item"]] == top["submissions"]


def test_repeated_runs_give_identical_gradebook_rows(harness_bin, graded, tmp_path):
    """Five runs in all: the class run above and four more of the
    submissions whose items depend most on timing. The four are separate
    grader processes started side by side (16 submissions at once, which
    grading, waiting on the network, takes in its stride): the verdicts must
    not depend on what else the machine is grading either."""
    _, first, _ = graded
    subset = ["correct", "slow-pacing", "pause-ignored", "spin-after-disconnect"]
    cls = tmp_path / "subset"
    cls.mkdir()
    for name in subset:
        shutil.copytree(SUBMISSIONS / name, cls / name, symlinks=False)
    want = {name: gradebook(first)[name] for name in subset}
    outs = [tmp_path / f"run{n}" for n in range(4)]
    graders = [subprocess.Popen([harness_bin, "grade", str(cls), "--out", str(out), "--jobs", JOBS, "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
               for out in outs]
    errs = [g.communicate(timeout=900)[1] for g in graders]
    for n, out in enumerate(outs):
        assert (out / "gradebook.csv").exists(), (n, errs[n][-2000:])
        got = gradebook(out)
        assert got == want, (n, {k: (got[k], want[k]) for k in subset if got[k] != want[k]})


HOSTILE = {
    "fork-bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    "loop-at-import": "while True:\n    pass\n",
    "writes-outside": (
        "import os, sys\n"
        "for p in [{escape!r}, '/escape-{token}', '../correct/escape-{token}', '/tmp/escape-{token}']:\n"
        "    try:\n"
        "        open(p, 'w').write('x')\n"
        "    except OSError:\n"
        "        pass\n"
        "sys.exit(3)\n"),
    "binds-every-port": (
        "import socket, time\n"
        "held = []\n"
        "for port in range(1024, 65536):\n"
        "    try:\n"
        "        s = socket.socket()\n"
        "        s.bind(('0.0.0.0', port))\n"
        "        s.listen()\n"
        "        held.append(s)\n"
        "    except OSError:\n"
        "        s.close()\n"
        "time.sleep(600)\n"),
    "needs-cv2": "import cv2\n",
}

# A working server that floods: every frame of the movie again and again,
# as fast as Python can send (about 10,000 packets a second, each a dozen
# IP fragments). It is graded like any other; its captures stop at the
# grader's budget instead of filling the disk.
FLOODER = (
    '"""Floods: the frames of the movie over and over, without pacing."""\n'
    "import correct_worker\n\n\n"
    "class ServerWorker(correct_worker.ServerWorker):\n"
    "    def send_stream(self, stop):\n"
    "        while not stop.is_set():\n"
    "            frame = self.video.next_frame()\n"
    "            if not frame:\n"
    "                self.video = correct_worker.VideoStream(self.video.filename)\n"
    "                continue\n"
    "            self.send_frame(frame, self.video.frame_nbr())\n")


def leftovers(token, grader_pid):
    """Processes naming the token, and the cgroups of this grader (named
    rh-grade-PID-N; another grader may be running on the machine)."""
    procs = subprocess.run(["pgrep", "-f", token], capture_output=True, text=True).stdout.split()
    cgroups = list(pathlib.Path("/sys/fs/cgroup").glob(f"*/**/rtsp-harness/rh-grade-{grader_pid}-*"))
    return procs, cgroups


def test_hostile_submissions_are_contained_and_the_rest_is_graded(harness_bin, tmp_path):
    token = f"rh{os.getpid()}"
    escape = tmp_path / f"escape-{token}"
    cls = tmp_path / token
    cls.mkdir()
    shutil.copytree(SUBMISSIONS / "correct", cls / "correct", symlinks=False)
    for name, code in HOSTILE.items():
        (cls / name).mkdir()
        (cls / name / "Server.py").write_text(code.format(escape=str(escape), token=token))
    shutil.copytree(SUBMISSIONS / "correct", cls / "floods-udp", symlinks=False)
    (cls / "floods-udp" / "ServerWorker.py").rename(cls / "floods-udp" / "correct_worker.py")
    (cls / "floods-udp" / "ServerWorker.py").write_text(FLOODER)
    ns_before = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    out = tmp_path / "out"
    t0 = time.monotonic()
    grader = subprocess.Popen([harness_bin, "grade", str(cls), "--out", str(out), "--jobs", JOBS, "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    stdout, stderr = grader.communicate(timeout=600)
    proc = subprocess.CompletedProcess(grader.args, grader.returncode, stdout, stderr)
    took = time.monotonic() - t0
    assert (out / "gradebook.csv").exists(), proc.stderr[-3000:]
    book = gradebook(out)
    # The correct server is graded as if it were alone.
    assert float(book["correct"]["total"]) == float(book["correct"]["max"]), lost_items(out, "correct")[0]
    for name in HOSTILE:
        lost, g = lost_items(out, name)
        assert "starts" in lost and float(book[name]["total"]) < 10, (name, g["items"][:2])
    # The flooder is graded on what it does: it answers every request, but
    # its stream repeats sequence numbers and has no pacing. Its captures
    # stopped at the budget (32 MiB whole, then a quarter more cut, per file).
    lost, g = lost_items(out, "floods-udp")
    assert {"rtp.seq", "pacing"} <= set(lost) and not {"starts", "setup", "cseq", "session"} & set(lost), lost
    pcaps = list((out / "captures" / "floods-udp").glob("*.pcap"))
    assert pcaps and max(p.stat().st_size for p in pcaps) < 48 << 20
    flow = json.loads((out / "floods-udp" / "report.json").read_text())["scenarios"][0]
    assert flow["captures"]["sut_over_budget"]["from_frame"] > 0
    # A missing module is named plainly.
    _, g = lost_items(out, "needs-cv2")
    starts = next(i for i in g["items"] if i["id"] == "starts")
    assert any("missing module" in r and "cv2" in r for r in starts["reasons"]), starts
    # Nothing escaped the sandbox, nothing was left running.
    assert not escape.exists()
    assert not pathlib.Path(f"/escape-{token}").exists() and not pathlib.Path(f"/tmp/escape-{token}").exists()
    assert not (cls / "correct" / f"escape-{token}").exists()
    time.sleep(1)
    procs, cgroups = leftovers(token, grader.pid)
    assert not procs and not cgroups, (procs, cgroups)
    assert (set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()) == ns_before
    # The hostile servers that never listen fail fast; the flooder takes
    # about as long as a correct server: the class is not held up.
    assert took < 120, took


def test_bad_input_is_a_clear_error(run_harness, tmp_path):
    proc = run_harness("grade", tmp_path / "nowhere", "--out", tmp_path / "o")
    assert proc.returncode == 2 and "nowhere" in proc.stderr
    rubric = tmp_path / "bad.rubric"
    rubric.write_text("@suite x\nitem a 1 \"t\"\n  when bogus s\n")
    (tmp_path / "cls" / "s").mkdir(parents=True)
    proc = run_harness("grade", tmp_path / "cls", "--out", tmp_path / "o", "--rubric", rubric)
    assert proc.returncode == 2 and f"{rubric}:3:8: unknown condition" in proc.stderr
    proc = run_harness("grade", tmp_path / "cls", "--out", tmp_path / "o", "--shard", "3/2")
    assert proc.returncode == 2 and "--shard" in proc.stderr

