"""`rtsp-harness report compare` and `report merge` on real runs: the same
three short streaming scenarios run against the reference server twice
with `--impair 'loss 1%' --seed 7` and once with `loss 10%`. A rerun must
compare clean (the default tolerances absorb run-to-run noise), the lossy
run must be caught as a regression naming loss, and a merge of runs must be
a run report whose summary adds up and which the other commands accept."""
import json
import os

import pytest

from run_util import REF_CMD, ROOT, run, schema_errors
# Short scenarios with `rtp for` on a UDP stream, so loss reaches the client.
SCENARIOS = [ROOT / "scenarios" / "conformance" / f for f in (
    "22-seek-range.rtsp", "25-setup-while-playing.rtsp", "26-session-across-connections.rtsp")]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the network lab needs root")


@pytest.fixture(scope="module")
def runs(harness_bin, tmp_path_factory):
    """Report directories of the runs "base" (loss 1%), "again" (the same)
    and "lossy" (loss 10%)."""
    tmp = tmp_path_factory.mktemp("compare")
    dirs = {}
    for name, impair in (("base", "loss 1%"), ("again", "loss 1%"), ("lossy", "loss 10%")):
        proc, report = run(harness_bin, tmp, "--server-cmd", REF_CMD, "--backend", "userspace",
                           "--impair", impair, "--seed", "7", "-q", *SCENARIOS, name=name, timeout=300)
        d = tmp / "reports" / name
        assert report is not None, proc.stderr[-2000:]
        assert len(report["scenarios"]) == len(SCENARIOS)
        dirs[name] = d
    base = json.loads((dirs["base"] / "report.json").read_text())
    bad = [(s["file"], s["failures"][:2], s.get("error")) for s in base["scenarios"] if s["verdict"] != "pass"]
    assert not bad, bad
    return dirs


def compare(run_harness, *args):
    return run_harness("report", "compare", "--color", "never", *map(str, args), cwd=ROOT)


def test_a_rerun_with_the_same_seed_is_no_regression(run_harness, runs):
    proc = compare(run_harness, runs["base"], runs["again"] / "report.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"no regression ({len(SCENARIOS)} scenarios compared)" in proc.stdout
    assert "REGRESSION" not in proc.stdout
    # The header names both runs, their seed and impairment.
    assert "run base, seed 7, impairment \"loss 1%\"" in proc.stdout
    assert "run again, seed 7, impairment \"loss 1%\"" in proc.stdout


def test_ten_percent_loss_against_one_percent_is_a_regression_naming_loss(run_harness, runs):
    proc = compare(run_harness, runs["base"], runs["lossy"])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    loss_rows = [line.split() for line in proc.stdout.splitlines() if line.split()[:1] == ["loss"]]
    assert loss_rows and any(r[-1] == "REGRESSION" for r in loss_rows), proc.stdout
    # Each row: base, new, delta in percentage points, tolerance, verdict.
    for r in loss_rows:
        base, new = float(r[1].rstrip("%")), float(r[2].rstrip("%"))
        assert r[3] == f"{new - base:+.2f}" or abs(float(r[3]) - (new - base)) < 0.011, r
        assert r[4] == "pp" and r[5:7] in (["1", "pp"], ["2", "packets"]), r
    assert "regressions in" in proc.stdout.splitlines()[-1]
    # quiet: the regressions and the closing line only.
    quiet = compare(run_harness, "--quiet", runs["base"], runs["lossy"])
    assert quiet.returncode == 1
    assert "BASE" not in quiet.stdout and " ok\n" not in quiet.stdout
    assert quiet.stdout.splitlines()[-1] == proc.stdout.splitlines()[-1]
    # A tolerance that allows what happened turns the loss rows to ok
    # (the verdict, which the `rtp for` conditions failed, still regresses).
    loose = compare(run_harness, runs["base"], runs["lossy"], "--tolerance", "loss=50")
    assert [line for line in loose.stdout.splitlines()
            if line.split()[:1] == ["loss"] and line.endswith("REGRESSION")] == []


def test_bad_tolerances_and_unrelated_reports_exit_2(run_harness, runs, tmp_path):
    proc = compare(run_harness, runs["base"], runs["again"], "--tolerance", "speed=3")
    assert proc.returncode == 2 and "speed" in proc.stderr
    proc = compare(run_harness, runs["base"], runs["again"], "--tolerance", "loss=two")
    assert proc.returncode == 2 and "'two'" in proc.stderr
    other = json.loads((runs["base"] / "report.json").read_text())
    for s in other["scenarios"]:
        s["file"] = s["name"] = "elsewhere/" + s["file"]
    (tmp_path / "other.json").write_text(json.dumps(other))
    proc = compare(run_harness, runs["base"], tmp_path / "other.json")
    assert proc.returncode == 2 and "no scenario in common" in proc.stderr


def test_merge_of_runs_adds_up_and_is_accepted_by_show_and_compare(run_harness, runs, tmp_path):
    out = tmp_path / "matrix"
    proc = run_harness("report", "merge", "--out", out, "--name", "matrix", runs["base"], runs["lossy"],
                       "--color", "never", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    merged = json.loads((out / "report.json").read_text())
    assert not schema_errors(merged), schema_errors(merged)
    inputs = [json.loads((runs[n] / "report.json").read_text()) for n in ("base", "lossy")]
    assert merged["run"]["name"] == "matrix"
    assert [r["name"] for r in merged["merged_from"]] == ["base", "lossy"]
    assert [s["run"] for s in merged["scenarios"]] == ["base"] * len(SCENARIOS) + ["lossy"] * len(SCENARIOS)
    for key in ("scenarios", "ran", "passed", "failed", "errors"):
        assert merged["summary"][key] == sum(r["summary"][key] for r in inputs), key
    assert merged["summary"]["passed"] + merged["summary"]["failed"] + merged["summary"]["errors"] == \
        len(merged["scenarios"])
    for f in ("junit.xml", "index.html"):
        assert (out / f).stat().st_size > 0

    show = run_harness("report", "show", out, "--color", "never", cwd=ROOT)
    failing = merged["summary"]["failed"] + merged["summary"]["errors"]
    assert show.returncode == (1 if failing else 0), show.stderr
    assert "22-seek-range" in show.stdout

    # The merge compares clean against itself, and the same merge of
    # (base, again) is told apart from (base, lossy) run by run.
    same = compare(run_harness, out, out)
    assert same.returncode == 0, same.stdout + same.stderr
    proc = run_harness("report", "merge", "--out", tmp_path / "calm", "--name", "matrix", runs["base"],
                       runs["again"], cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    calm_vs_lossy = compare(run_harness, tmp_path / "calm", out)
    assert calm_vs_lossy.returncode == 1, calm_vs_lossy.stdout
    assert "[base]" not in "".join(line for line in calm_vs_lossy.stdout.splitlines() if "REGRESSION" in line)
