"""Proof under faults, long form: 10,000 real alerts, role processes SIGKILLed, Redis restarted.

    python bench/chaos.py [--alerts 10000] [--kills 20] [--seed 7] [--feed-s 120]

The same drill as the chaos test (tests/support/chaos.py) at scale: the real processes from the
Procfile on a redis-server of its own with AOF, alerts through the ingest process, SIGKILLs at
seeded random moments, one Redis restart, malformed lines and 5% model garbage. Prints events/s,
the recovery time after each kill (kill to the restarted role's next result) and the invariants
checked from the audit log; writes build/bench/chaos.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.chaos import Drill  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--alerts", type=int, default=10_000)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--feed-s", type=float, default=120.0)
    p.add_argument("--settle-s", type=float, default=1800.0)
    p.add_argument("--out", default=str(ROOT / "build/bench/chaos.json"))
    a = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="aisoc-chaos-"))
    drill = Drill(
        workdir,
        alerts=a.alerts,
        seed=a.seed,
        kills=a.kills,
        feed_s=a.feed_s,
        settle_s=a.settle_s,
    )
    try:
        drill.setup()
        report = drill.run()
        problems = drill.check()
    finally:
        drill.close()
    recovered = [r["recovered_s"] for r in report["recoveries"] if r["recovered_s"] is not None]
    print(
        f"chaos drill: {report['alerts']} alerts, {report['bad_lines']} malformed lines, "
        f"{report['kills']} kills, "
        f"{report['redis_restarts']} Redis restart, seed {a.seed}"
    )
    print(
        f"  {report['events']} events in {report['elapsed_s']:.1f}s = {report['events_per_s']:.1f} events/s "
        f"(feed {report['feed_s']:.1f}s; settled: {report['settled']})"
    )
    if recovered:
        print(
            f"  recovery after a kill: median {statistics.median(recovered):.1f}s, max {max(recovered):.1f}s "
            f"over {len(recovered)} kills (kill to the restarted role's next result)"
        )
    for r in report["recoveries"]:
        print(f"    {r['at_s']:>7.1f}s  {r['role']:<13} recovered in {r['recovered_s']}s")
    print("  invariants: " + ("all hold" if not problems else f"{len(problems)} FAILED"))
    for line in problems[:20]:
        print(f"    {line}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**report, "problems": problems, "seed": a.seed}, indent=2, default=str))
    print(f"wrote {out}")
    if problems:
        print(f"kept the drill's Redis data, logs and settings for inspection in {workdir}")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
