"""`rtsp-harness grade`: a submission whose server is not Server.py runs
through `--server-cmd` (prepared, sandboxed and scored like a found entry
point), and the progress bar shows submissions done, running and left, on
a terminal and in a log."""
import csv
import json
import os
import pty
import re
import shutil
import subprocess
import time

import pytest

from run_util import ROOT, schema_errors

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the network lab and the sandbox need root")

CORRECT = ROOT / "fixtures" / "submissions" / "correct"


def gradebook(out):
    with open(out / "gradebook.csv", newline="") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


RUBRIC = """@name flow
@suite {grade}/01-flow.rtsp
@probe {grade}/probe.rtsp
@dialects lab
@movie --frames 100 --pad-every 4 --pad-to 40000
item flow 10 "SETUP, PLAY, PAUSE, PLAY, TEARDOWN, with their RTP"
  when passes 01-flow
item cseq 5 "CSeq is echoed"
  when clean 01-flow rtsp.cseq.echo,rtsp.cseq.missing
item bonus.ran 1 "the flow ran"
  bonus
  when ran 01-flow
"""


def test_server_cmd_grades_a_server_under_another_name(harness_bin, tmp_path):
    """The team's correct server with Server.py renamed to main.py: found by
    nothing, it is graded through `--server-cmd` (the output folder, where
    the private copy lives, has a space in its path, so the sandbox's
    command line must quote it) and gets full marks; without the option it
    is failed at once for having no entry point."""
    cls = tmp_path / "cls"
    sub = cls / "renamed"
    shutil.copytree(CORRECT, sub, symlinks=False)
    (sub / "Server.py").rename(sub / "main.py")
    # The lab's whole flow is enough to show the entry point works; the
    # default rubric's other scenarios are test_grade's.
    rubric = tmp_path / "flow.rubric"
    rubric.write_text(RUBRIC.format(grade=ROOT / "scenarios" / "grade"))

    t0 = time.monotonic()
    proc = subprocess.run([harness_bin, "grade", str(cls), "--out", str(tmp_path / "out 1"), "-q",
                           "--rubric", str(rubric), "--server-cmd", "python3 main.py {port}"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    row = gradebook(tmp_path / "out 1")["renamed"]
    assert float(row["total"]) == float(row["max"]) > 0 and float(row["bonus"]) > 0, row
    g = json.loads((tmp_path / "out 1" / "renamed" / "grade.json").read_text())
    assert g["submission"]["entry"] == "--server-cmd"
    assert g["submission"]["command"] == "python3 main.py {port}"
    assert g["submission"]["display"] == "none"
    report = json.loads((tmp_path / "out 1" / "renamed" / "report.json").read_text())
    assert not schema_errors(report), schema_errors(report)[:3]
    # Every scenario started the renamed server inside the sandbox.
    for s in report["scenarios"]:
        cmd = s["sut"]["command"]
        copy = f"'{tmp_path}/out 1/.work/renamed'"
        assert re.search(r" sandbox --dir " + re.escape(copy) + r" --cgroup \S+ -- python3 main\.py \d+$", cmd), cmd
    html = (tmp_path / "out 1" / "renamed" / "index.html").read_text()
    assert "python3 main.py {port}" in html
    print(f"graded through --server-cmd in {took:.1f} s")

    t0 = time.monotonic()
    proc = subprocess.run([harness_bin, "grade", str(cls), "--out", str(tmp_path / "o2"), "-q", "--rubric",
                           str(rubric)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert time.monotonic() - t0 < 20
    g = json.loads((tmp_path / "o2" / "renamed" / "grade.json").read_text())
    assert g["points"] == 0 and g["submission"]["problem"] == "no Server.py or Server.java in the submission"
    assert "command" not in g["submission"]


def states(text):
    """(done, running, left) of every progress line or rewrite, in order."""
    return [tuple(map(int, m)) for m in re.findall(r"\] (\d+) done, (\d+) running, (\d+) left, \d+ s", text)]


def check_states(seen, total, jobs):
    assert seen[0] == (0, 0, total), seen
    assert seen[-1] == (total, 0, 0), seen
    for (d0, r0, l0), (d1, r1, l1) in zip(seen, seen[1:]):
        assert d1 >= d0 and l1 <= l0, seen  # nothing goes backwards
    assert all(d + r + left == total and r <= jobs for d, r, left in seen), seen
    assert max(r for _, r, _ in seen) == jobs, seen  # it showed them running, not only done


def test_progress_bar_shows_done_running_and_left(harness_bin, tmp_path):
    """Three submissions with two at a time. Submissions without a server
    fail at once, so the bar's states come quickly: on a terminal one line
    rewritten in place (\\r, erase line) ending full, in a pipe one line per
    change, and nothing with -q."""
    cls = tmp_path / "cls"
    for name in ("a", "b", "c"):
        (cls / name).mkdir(parents=True)
        (cls / name / "README").write_text("no server here\n")

    args = [harness_bin, "grade", str(cls), "--jobs", "2"]
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execv(harness_bin, args + ["--out", str(tmp_path / "tty")])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 1, text
    check_states(states(text), 3, 2)
    assert "\r\x1b[K[" in text
    assert "[" + "#" * 30 + "] 3 done, 0 running, 0 left" in text
    # One line on the terminal: the bar rewrites itself, then the gradebook follows.
    bar_part = text[:text.index("submission ")]
    assert bar_part.count("\n") <= 2, repr(bar_part)

    piped = subprocess.run(args + ["--out", str(tmp_path / "pipe")], capture_output=True, text=True,
                           timeout=120, cwd=ROOT)
    assert piped.returncode == 1
    assert "\r" not in piped.stderr and "\x1b[" not in piped.stderr
    lines = [ln for ln in piped.stderr.splitlines() if " done, " in ln]
    check_states(states(piped.stderr), 3, 2)
    assert len(lines) == len(states(piped.stderr))
    assert "3 submissions graded" in piped.stdout

    quiet = subprocess.run(args + ["--out", str(tmp_path / "quiet"), "-q"], capture_output=True, text=True,
                           timeout=120, cwd=ROOT)
    assert quiet.returncode == 1 and " done, " not in quiet.stderr
    assert set(gradebook(tmp_path / "quiet")) == {"a", "b", "c"}
