"""Replay at scale, the proofs against baselines, and the real model path measured.

    python bench/replay.py                       # GUIDE incidents at scale + every proof (canned model)
    python bench/replay.py --local 50            # + the bundled GGUF on 50 stratified Wazuh alerts
    python bench/replay.py --skip-scale --skip-proofs --local 50 --local-budget 1800   # stop after 30 min

Proofs: for each data set (Wazuh, GUIDE evidence, GUIDE incidents) and each label delay (the default
``1d`` and ``0``), ``aisoc replay FILE --source S --dry-run --recall ab --label-delay D``: the four
baselines, the team with recall off and on (its own figures, human review apart, and on the same
tickets as the baselines), the lift over the best baseline, and the guardrail's counts.

Scale: ``aisoc replay data/guide/incidents.csv.gz --source guide-incidents --dry-run --recall on``
(22,446 incidents, memory on, per-ticket JSONL and journal written) in a child process: reported are
the command's wall time from process start (target <= 60 s on the 2-core machines), the replay's own
``wall_s`` (reading the source included), tickets/s and the child's peak RSS.

Local model: ``AISOC_TEAM=roles:TRIAGE_TEAM aisoc replay data/wazuh/alerts.jsonl --source wazuh --model
local --sample N --stratify --seed 7 --recall on --label-delay 1d --resume`` into
build/bench/replay-local/ — a benchmark, not a CI test (minutes per ticket on 2 busy cores; the
deciding roles only, which score exactly as the whole team). It resumes where an earlier run
stopped; ``--local-budget`` sends Ctrl-C after that many seconds (what is done is kept). Reported:
seconds per ticket (the role invocations' time), tokens per ticket, the scores so far, and the
extrapolated time for all N.
Figures go to stdout and build/bench/replay.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aisoc.replay import RunFiles, read_results, recompute  # noqa: E402

AISOC = [sys.executable, "-m", "aisoc"]
INCIDENTS = ROOT / "data" / "guide" / "incidents.csv.gz"
DATASETS = (("wazuh", "wazuh"), ("guide", "guide"), ("guide-incidents", "guide-incidents"))
"""(name, --source) of each proof."""
WAZUH = ROOT / "data" / "wazuh" / "alerts.jsonl"
GUIDE = ROOT / "data" / "guide" / "evidence.csv"
TARGET_S = 60.0


def _file(name: str) -> Path:
    return {"wazuh": WAZUH, "guide": GUIDE, "guide-incidents": INCIDENTS}[name]


def _child(
    args: list[str], budget_s: float | None = None, env: dict[str, str] | None = None
) -> tuple[int, float, float, float]:
    """Run ``aisoc ARGS`` quietly; return (exit status, wall seconds, that child's peak RSS in MiB,
    its CPU seconds, user + system: on a shared machine the wall time also counts other processes').

    With ``budget_s`` the child gets Ctrl-C (SIGINT) once the budget is spent: it keeps what is done.
    """
    env = {**os.environ, "AISOC_CONFIG": "", **(env or {})}
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([*AISOC, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        interrupted = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if budget_s is not None and not interrupted and time.perf_counter() - t0 > budget_s:
                proc.send_signal(signal.SIGINT)
                interrupted = True
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code not in (0, 130):
            err.seek(0)
            sys.stderr.write(err.read().decode()[-4000:])
    return code, wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def scale(out_dir: Path) -> dict[str, Any]:
    """The 22,446 GUIDE incidents, canned model, recall on."""
    metrics = out_dir / "guide-incidents.json"
    args = ["replay", str(INCIDENTS), "--source", "guide-incidents", "--dry-run", "--recall", "on"]
    status, wall, rss, cpu = _child([*args, "--out", str(metrics), "--no-progress"])
    m = json.loads(metrics.read_text())
    r = {
        "command": "aisoc " + " ".join(args) + f" --out {metrics.relative_to(ROOT)}",
        "exit_status": status,
        "tickets": m["tickets"],
        "process_wall_s": round(wall, 2),
        "process_cpu_s": round(cpu, 2),
        "replay_wall_s": m["wall_s"],
        "tickets_per_s": round(m["tickets"] / wall, 1),
        "peak_rss_mib": round(rss, 1),
        "target_s": TARGET_S,
        "met": wall <= TARGET_S,
        "scores": {k: m[k] for k in ("confusion", "human_review", "precision", "recall", "f1", "accuracy")},
        "per_role_p50_ms": {role: v["p50_ms"] for role, v in m["per_role"].items()},
        "tickets_jsonl_mib": round(RunFiles(metrics).tickets.stat().st_size / 2**20, 1),
        "journal_mib": round(RunFiles(metrics).journal.stat().st_size / 2**20, 1),
    }
    print(
        f"scale: {r['tickets']:,} GUIDE incidents (--dry-run, recall on) in {r['process_wall_s']:.1f} s "
        f"from process start ({r['replay_wall_s']:.1f} s in the replay; {r['process_cpu_s']:.1f} CPU s), "
        f"{r['tickets_per_s']:.0f} tickets/s, "
        f"peak RSS {r['peak_rss_mib']:.0f} MiB — target <= {TARGET_S:.0f} s "
        f"{'MET' if r['met'] else 'NOT MET'}"
    )
    return r


def _arm(block: dict[str, Any], lift: dict[str, Any]) -> dict[str, Any]:
    keep = ("confusion", "human_review", "precision", "recall", "f1")
    return {
        **{k: block[k] for k in keep},
        "same_tickets": {k: lift["team"][k] for k in ("precision", "recall", "f1")},
        "lift_f1": lift["f1"],
        "decided_lift_f1": lift["decided"]["f1"],
    }


def proof(name: str, delay: str, out_dir: Path) -> dict[str, Any]:
    """One data set at one label delay: baselines, team off and on, lift, guardrail (canned model)."""
    metrics = out_dir / f"proof-{name}-{delay}.json"
    args = ["replay", str(_file(name).relative_to(ROOT)), "--source", name, "--dry-run", "--recall", "ab"]
    args += ["--label-delay", delay]
    status, wall, _, _ = _child([*args, "--out", str(metrics), "--no-progress"])
    m = json.loads(metrics.read_text())
    ab = m["recall_ab"]
    r = {
        "command": "aisoc " + " ".join(args),
        "exit_status": status,
        "tickets": m["tickets"],
        "process_wall_s": round(wall, 1),
        "baselines": {n: {k: b[k] for k in ("precision", "recall", "f1")} for n, b in m["baselines"].items()},
        "best_baseline": m["lift"]["best_baseline"],
        "off": _arm(ab["off"], ab["lift"]["off"]),
        "on": _arm(ab["on"], ab["lift"]["on"]),
        "guardrail": m["guardrail"],
    }
    best = r["baselines"][r["best_baseline"]]["f1"] if r["best_baseline"] else None
    print(
        f"proof {name} delay {delay}: best baseline {r['best_baseline']} F1 {_f(best)}; team F1 off "
        f"{_f(ab['off']['f1'])} / on {_f(ab['on']['f1'])} (recall {_f(ab['on']['recall'])}, "
        f"{ab['on']['human_review']} to review); same tickets on {_f(r['on']['same_tickets']['f1'])}, lift "
        f"{_f(r['on']['lift_f1'])} (decided {_f(r['on']['decided_lift_f1'])}); guardrail overruled "
        f"{m['guardrail']['overruled']} ({m['guardrail']['right']} right) — {wall:.0f} s"
    )
    return r


def local(n: int, budget_s: float | None, out_dir: Path, recall: str, delay: str) -> dict[str, Any]:
    """The bundled small model on ``n`` stratified Wazuh alerts, the deciding roles only (resumable)."""
    metrics = out_dir / f"metrics-{recall}-{delay}.json"
    args = ["replay", str(WAZUH), "--source", "wazuh", "--model", "local", "--sample", str(n), "--stratify"]
    args += [
        "--seed",
        "7",
        "--recall",
        recall,
        "--label-delay",
        delay,
        "--out",
        str(metrics),
        "--no-progress",
    ]
    files = RunFiles(metrics)
    resume = ["--resume"] if files.journal.exists() else []
    status, wall, rss, _ = _child(args + resume, budget_s, env={"AISOC_TEAM": "roles:TRIAGE_TEAM"})
    results = [r for r in read_results(files.tickets) if r.arm == recall]
    done = len(results)
    ms = [sum(c.ms for c in r.calls) for r in results]
    tokens = [sum(c.input_tokens + c.output_tokens for c in r.calls) for r in results]
    figures = recompute(files.tickets)
    s_per = sum(ms) / 1000 / done if done else None
    m = json.loads(metrics.read_text())
    r = {
        "command": "AISOC_TEAM=roles:TRIAGE_TEAM aisoc " + " ".join(args) + " [--resume]",
        "exit_status": status,
        "tickets_done": done,
        "tickets_wanted": n,
        "this_process_wall_s": round(wall, 1),
        "last_run_wall_s": m["wall_s"],
        "peak_rss_mib": round(rss, 1),
        "seconds_per_ticket": None if s_per is None else round(s_per, 1),
        "tokens_per_ticket": round(sum(tokens) / done, 1) if done else None,
        "invocations_per_ticket": round(sum(len(r.calls) for r in results) / done, 2) if done else None,
        "role_failures": sum(1 for r in results for c in r.calls if c.failure),
        "extrapolated_s_for_all": None if s_per is None else round(s_per * n),
        "scores": {
            k: figures[k] for k in ("confusion", "human_review", "precision", "recall", "f1", "accuracy")
        },
        "per_role": figures["per_role"],
        "baselines": {n: {k: b[k] for k in ("precision", "recall", "f1")} for n, b in m["baselines"].items()},
        "lift": m["lift"],
        "guardrail": m["guardrail"],
    }
    print(
        f"local model: {done}/{n} stratified Wazuh alerts, {r['seconds_per_ticket']} s/ticket, "
        f"{r['tokens_per_ticket']} tokens/ticket, {r['invocations_per_ticket']} role invocations/ticket, "
        f"{r['role_failures']} role failures; precision {_f(figures['precision'])}, recall "
        f"{_f(figures['recall'])}, F1 {_f(figures['f1'])}; all {n} take about {r['extrapolated_s_for_all']} s"
    )
    return r


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--skip-scale", action="store_true", help="skip the GUIDE incidents run")
    p.add_argument("--skip-proofs", action="store_true", help="skip the proofs against the baselines")
    p.add_argument("--delays", default="1d,0", help="label delays of the proofs (default 1d,0)")
    p.add_argument("--local", type=int, default=0, help="also run the local model on N Wazuh alerts")
    p.add_argument("--local-budget", type=float, help="stop the local run after this many seconds")
    p.add_argument("--local-recall", default="on", choices=["off", "on"], help="the local run's recall")
    p.add_argument("--local-delay", default="1d", help="the local run's label delay (default 1d)")
    p.add_argument("--out", default=str(ROOT / "build/bench/replay.json"))
    a = p.parse_args()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    if not a.skip_scale:
        report["scale"] = scale(out.parent)
    if not a.skip_proofs:
        report["proofs"] = {
            f"{name}-{delay}": proof(name, delay, out.parent)
            for name, _ in DATASETS
            for delay in a.delays.split(",")
        }
    if a.local:
        local_dir = out.parent / "replay-local"
        local_dir.mkdir(exist_ok=True)
        key = f"local-{a.local_recall}-{a.local_delay}"
        report[key] = local(a.local, a.local_budget, local_dir, a.local_recall, a.local_delay)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
