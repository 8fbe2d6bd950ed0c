"""Case memory: rebuild, recall, explain and campaign clustering over audit logs seeded from real GUIDE data.

    python bench/memory.py [--events 1000000] [--sizes 10000,100000,1000000] [--cases 100000]

The log is seeded from the real GUIDE evidence rows (``data/guide/evidence.csv``): every incident
becomes a case with its organisation (tenant), detector (rule), timestamp and non-placeholder entity
ids (indicators), and a plausible life (Sentinel verdict with a trace, Tier 2 for some, IR Lead plan,
approval and execution for escalations, closure, the analyst's grade as ``truth.labeled``). To scale,
incidents are resampled: copy ``r`` goes to tenant variant ``r % 8`` (so each tenant's rule history
grows as a real SOC's would), shifts in time by ``r // 8`` weeks with jitter, and reuses the entity
ids of the previous generation half the time (so infrastructure recurs, as it does).

Targets (issue 5): recall p99 <= 5 ms at 100k cases; explain <= 50 ms; campaign clustering over 100k
cases <= 5 s; full rebuild of 1M events <= 60 s; resident memory reported. Precedent statistics
(issue 17) are held to the same budgets: ``Statistics.for_alert`` p99 <= 5 ms at 100k cases, and its
fold of the whole log within the rebuild budget.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aisoc import Bus  # noqa: E402
from aisoc import events as ev  # noqa: E402
from aisoc.memory import Memory, Statistics  # noqa: E402
from aisoc.tuning import gc_paused  # noqa: E402
from tests.aisoc.memory import guide  # noqa: E402

VARIANTS = 8
"""Tenant variants per GUIDE organisation when resampling."""
INGEST = ev.ProducedBy(role="ingest")
GATE = ev.ProducedBy(role="gate")
HUMAN = ev.ProducedBy(role="human")


def rss_mb() -> float:
    """Resident set size of this process (MiB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _trace(role: str, rng: random.Random, precedent: list[ev.PrecedentRef]) -> ev.Trace:
    tools = []
    if rng.random() < 0.3:
        tools.append(
            ev.ToolCallRecord(name="ip_reputation", arguments='{"ip":"x"}', result="unknown", duration_ms=40)
        )
    return ev.Trace(
        role=role,
        prompt_version=f"{role}/3",
        model_calls=[ev.ModelCall(leg="primary", duration_ms=900.0, input_tokens=1800, output_tokens=120)],
        tool_calls=tools,
        precedent=precedent,
        raw_output='{"verdict":"..."}',
    )


def story(inc: guide.Incident, r: int, rng: random.Random, recent: list[str]) -> list[ev.Event]:
    """One case's events, for copy ``r`` of a GUIDE incident."""
    gen = r // VARIANTS
    ent = gen - (gen % 2) if rng.random() < 0.5 else gen  # infrastructure recurs across generations
    created = inc.created + timedelta(weeks=gen, seconds=rng.randint(0, 3600))
    copy = guide.Incident(
        f"{inc.org}-{r % VARIANTS}",
        inc.incident,
        created,
        inc.detector,
        inc.title,
        inc.grade,
        {(t, f"{v}-{ent}"): None for t, v in inc.indicators},
    )
    a = guide.alert_of(copy, suffix=f"-{r}")
    cid = a.case_id
    label, escalated = guide.GRADES[inc.grade]
    t = created
    out: list[ev.Event] = [a]

    def tick(minutes: float) -> Any:
        nonlocal t
        t = t + timedelta(minutes=minutes)
        return t

    shown = [
        ev.PrecedentRef(case_id=c, verdict="benign", shared=[])
        for c in rng.sample(recent, min(len(recent), 2))
    ]
    to_tier2 = escalated or rng.random() < 0.25
    verdict = "malicious" if escalated else ("suspicious" if to_tier2 else "benign")
    out.append(
        ev.TriageVerdict(
            verdict=verdict,
            confidence=0.8,
            priority=6 if to_tier2 else 2,
            summary=f"{verdict}: {inc.title}",
            routed_to="tier2" if to_tier2 else "closed",
            case_id=cid,
            occurred_at=tick(2),
            produced_by=ev.ProducedBy(role="sentinel", model_leg="primary", prompt_version="sentinel/3"),
            trace=_trace("sentinel", rng, shown),
        )
    )
    up = to_tier2 and escalated and rng.random() < 0.85
    if to_tier2:
        out.append(
            ev.Tier2Decided(
                decision="escalate" if up else "close",
                confidence=0.7,
                summary="tier2",
                case_id=cid,
                evidence=["edr timeline"],
                occurred_at=tick(10),
                trace=_trace("tier2", rng, shown),
                produced_by=ev.ProducedBy(role="tier2", model_leg="primary", prompt_version="tier2/3"),
            )
        )
    if up:
        host = (a.alert.hosts or [f"host-{cid}"])[0]
        act = f"act-{cid}"
        steps = [
            ev.PlanStep(
                phase="containment",
                description=f"isolate {host}",
                kind="isolate_host",
                target=host,
                action_id=act,
            )
        ]
        out.append(
            ev.IrPlan(
                sev="SEV-2",
                sev_rationale="confirmed",
                summary="contain",
                steps=steps,
                case_id=cid,
                plan_digest=ev.plan_digest("SEV-2", steps),
                occurred_at=tick(5),
                trace=_trace("ir_lead", rng, shown),
                produced_by=ev.ProducedBy(role="ir_lead", model_leg="primary", prompt_version="ir_lead/3"),
            )
        )
        out.append(
            ev.ActionProposed(
                action_id=act,
                kind="isolate_host",
                target=host,
                phase="containment",
                rationale="beaconing",
                approver_role="ir_lead",
                expires_at=t + timedelta(hours=1),
                plan_event_id=out[-1].event_id,
                plan_digest="d",
                case_id=cid,
                occurred_at=tick(1),
                produced_by=ev.ProducedBy(role="ir_lead"),
            )
        )
        out.append(
            ev.ActionDecided(
                action_id=act,
                decision="approved",
                decided_by="alice",
                reason="ok",
                channel="gate",
                plan_digest="d",
                case_id=cid,
                occurred_at=tick(15),
                produced_by=GATE,
            )
        )
        if rng.random() < 0.7:
            out.append(
                ev.ActionExecuted(
                    action_id=act, executed_by="bob", case_id=cid, occurred_at=tick(20), produced_by=HUMAN
                )
            )
    closer = ev.ClosedBy(role="sentinel") if not to_tier2 else ev.ClosedBy(role="human", person="carol")
    out.append(
        ev.CaseClosed(
            disposition=label,
            reason="done",
            closed_by=closer,
            case_id=cid,
            occurred_at=tick(30),
            produced_by=HUMAN if closer.role == "human" else INGEST,
        )
    )
    out.append(guide.label_of(inc, cid, tick(60)))
    recent.append(cid)
    if len(recent) > 50:
        del recent[:25]
    return out


def build_log(target: int, seed: int) -> tuple[Bus, list[int], list[ev.AlertReceived]]:
    """A bus whose audit log holds ``target`` events, the event count after each case, and the alerts."""
    incidents = guide.incidents()
    rng = random.Random(seed)
    bus = Bus()
    ends: list[int] = []
    alerts: list[ev.AlertReceived] = []
    recent: list[str] = []
    n, r = 0, 0
    while n < target:
        for inc in incidents:
            evs = story(inc, r, rng, recent)
            if n + len(evs) > target:
                evs = evs[: target - n]
            bus.publish_many(evs)
            n += len(evs)
            ends.append(n)
            alerts.append(evs[0])  # type: ignore[arg-type]
            if n >= target:
                break
        r += 1
    return bus, ends, alerts


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def timed(fn: Any, items: list[Any]) -> dict[str, float]:
    ms = []
    for it in items:
        t0 = time.perf_counter()
        fn(it)
        ms.append((time.perf_counter() - t0) * 1000)
    return {
        "n": len(ms),
        "p50_ms": pct(ms, 0.5),
        "p99_ms": pct(ms, 0.99),
        "max_ms": max(ms),
        "mean_ms": statistics.fmean(ms),
    }


def fold(bus: Bus, limit: int, snapshot: Path | None = None) -> tuple[Memory, dict[str, float]]:
    gc.collect()
    before = rss_mb()
    mem = Memory(bus.audit, snapshot_path=snapshot, auto_refresh=False, bulk=gc_paused)
    t0 = time.perf_counter()
    mem.refresh(limit=limit)
    dt = time.perf_counter() - t0
    gc.collect()
    return mem, {
        "events": limit,
        "cases": len(mem),
        "rebuild_s": dt,
        "events_per_s": limit / dt,
        "memory_rss_mb": rss_mb() - before,
    }


def rebuilds(bus: Bus, sizes: list[int]) -> list[dict[str, float]]:
    out = []
    for size in sizes:
        mem, r = fold(bus, size)
        out.append(r)
        print(
            f"  rebuild {size:>9,} events -> {r['cases']:>7,} cases: {r['rebuild_s']:6.2f}s "
            f"({r['events_per_s']:,.0f} events/s), memory {r['memory_rss_mb']:,.0f} MiB RSS"
        )
        mem.close()
    return out


def queries_at(
    mem: Memory, alerts: list[ev.AlertReceived], n_cases: int, n: int, seed: int
) -> dict[str, Any]:
    """Recall, explain and campaign timings on a memory of ``n_cases`` cases."""
    rng = random.Random(seed)
    queries = rng.sample(alerts[n_cases // 2 : n_cases], min(n, n_cases // 2))
    res: dict[str, Any] = {}
    res["recall"] = timed(lambda q: mem.precedent_for(q, k=5, before=q.alert.created_at), queries)
    res["recall_no_before"] = timed(lambda q: mem.recall_similar(q, k=5), queries)
    sample = queries[:500]
    res["recall"]["with_precedent_share"] = sum(
        1 for q in sample if mem.precedent_for(q, k=5, before=q.alert.created_at)
    ) / len(sample)
    escalated = [c.case_id for c in mem.cases() if c.actions]
    picked = rng.sample([q.case_id for q in queries], min(len(queries), n // 4)) + escalated[: n // 4]
    res["explain"] = timed(mem.explain, picked)
    acted = [(next(iter(c.actions.values())).target, c.tenant) for c in mem.cases() if c.actions][:200]
    res["explain_host"] = timed(lambda ht: mem.explain_host(ht[0], tenant=ht[1]), acted)
    t1 = time.perf_counter()
    clusters = mem.find_campaign_clusters()
    res["campaigns"] = {
        "cases": n_cases,
        "clusters": len(clusters),
        "s": time.perf_counter() - t1,
        "largest": max((len(c.case_ids) for c in clusters), default=0),
    }
    last = max(q.alert.created_at for q in alerts[:n_cases])
    t1 = time.perf_counter()
    month = mem.find_campaign_clusters(timedelta(days=30), end=last)
    res["campaigns_30d"] = {"clusters": len(month), "s": time.perf_counter() - t1}
    r, x = res["recall"], res["explain"]
    print(
        f"  recall (precedent_for, before=): p50 {r['p50_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms "
        f"(target <= 5 ms); {r['with_precedent_share']:.0%} of queries get precedent"
    )
    nb = res["recall_no_before"]
    print(f"  recall_similar (no before): p50 {nb['p50_ms']:.3f} ms, p99 {nb['p99_ms']:.3f} ms")
    print(
        f"  explain: p50 {x['p50_ms']:.2f} ms, p99 {x['p99_ms']:.2f} ms (target <= 50 ms); "
        f"explain_host p99 {res['explain_host']['p99_ms']:.2f} ms"
    )
    print(
        f"  campaigns over {n_cases:,} cases: {res['campaigns']['s']:.2f}s, {len(clusters):,} clusters "
        f"(largest {res['campaigns']['largest']}) (target <= 5 s); "
        f"30-day window {res['campaigns_30d']['s']:.2f}s"
    )
    return res


def statistics_at(
    bus: Bus, alerts: list[ev.AlertReceived], n_cases: int, n: int, seed: int
) -> dict[str, Any]:
    """Precedent statistics over the whole log: the fold's time and memory, then ``for_alert`` timings
    at ``n_cases`` cases (queries asked as of each alert's creation: only earlier alerts count)."""
    gc.collect()
    before = rss_mb()
    stats = Statistics(bus.audit, auto_refresh=False)
    t0 = time.perf_counter()
    stats.refresh()
    fold_s = time.perf_counter() - t0
    gc.collect()
    rng = random.Random(seed)
    queries = rng.sample(alerts[n_cases // 2 : n_cases], min(n, n_cases // 2))
    res: dict[str, Any] = {
        "fold_events": len(bus.audit),
        "fold_cases": len(stats),
        "fold_s": fold_s,
        "memory_rss_mb": rss_mb() - before,
        "for_alert": timed(lambda q: stats.for_alert(q.alert), queries),
    }
    shown = [stats.for_alert(q.alert) for q in queries[:500]]
    res["for_alert"]["mean_statistics"] = statistics.fmean(len(x) for x in shown)
    res["for_alert"]["with_labels_share"] = sum(1 for x in shown if any(s.labelled for s in x)) / len(shown)
    f = res["for_alert"]
    print(
        f"  statistics: fold of {res['fold_events']:,} events ({res['fold_cases']:,} cases) {fold_s:.2f}s, "
        f"{res['memory_rss_mb']:,.0f} MiB RSS; for_alert p50 {f['p50_ms']:.3f} ms, p99 {f['p99_ms']:.3f} ms "
        f"(target <= 5 ms), {f['mean_statistics']:.1f} statistics per alert, "
        f"{f['with_labels_share']:.0%} with labels"
    )
    return res


def snapshot_timings(bus: Bus, limit: int, rebuild_s: float) -> dict[str, float]:
    """Rebuild with a snapshot, reopen it, then fold 1,000 more events."""
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "memory.sqlite"
        t1 = time.perf_counter()
        persisted = Memory(bus.audit, snapshot_path=snap, auto_refresh=False, bulk=gc_paused)
        persisted.refresh(limit=limit)  # folds, then writes the whole snapshot
        persisted.close()
        save_s = time.perf_counter() - t1 - rebuild_s
        t1 = time.perf_counter()
        reopened = Memory(bus.audit, snapshot_path=snap, auto_refresh=False, bulk=gc_paused)
        load_s = time.perf_counter() - t1
        t1 = time.perf_counter()
        more = reopened.refresh(limit=1000)
        incr_s = time.perf_counter() - t1
        reopened.close()
        size = snap.stat().st_size
    print(
        f"  snapshot: full save ~{save_s:.2f}s ({size / 2**20:,.0f} MiB), load on restart {load_s:.2f}s, "
        f"then {more:,} new events folded and saved in {incr_s * 1000:.0f} ms"
    )
    return {"save_full_s_approx": save_s, "load_s": load_s, "bytes": size, "refresh_1000_and_save_s": incr_s}


def naive_baseline(bus: Bus, alerts: list[ev.AlertReceived], ends: list[int], cases: int = 2000) -> float:
    """Per-recall cost when every recall replays the log from zero (what 0.2.1 did), at ``cases`` tickets."""
    ms = []
    for q in alerts[cases - 20 : cases]:
        t0 = time.perf_counter()
        mem = Memory(bus.audit, auto_refresh=False, bulk=gc_paused)
        mem.refresh(limit=ends[cases - 1])
        mem.recall_similar(q, k=5)
        ms.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ms)


def sqlite_fold(bus: Bus, n: int) -> dict[str, Any]:
    """Fold rate from a SQLite bus (events decoded from JSON, as a real deployment reads them)."""
    with tempfile.TemporaryDirectory() as tmp:
        sbus = Bus(f"sqlite:///{tmp}/soc.db")
        batch: list[ev.Event] = []
        for entry in bus.audit.entries(limit=n):
            batch.append(entry.event)
            if len(batch) == 1000:
                sbus.publish_many(batch)
                batch = []
        sbus.publish_many(batch)
        mem, r = fold(sbus, n)
        cases = [c.case_id for c in mem.cases()]
        picked = random.Random(1).sample(cases, min(300, len(cases)))
        r["explain"] = timed(mem.explain, picked)
        mem.close()
        sbus.close()
    print(
        f"  rebuild from a SQLite bus: {n:,} events in {r['rebuild_s']:.2f}s "
        f"({r['events_per_s']:,.0f} events/s, JSON decoding included); explain there: "
        f"p50 {r['explain']['p50_ms']:.2f} ms, p99 {r['explain']['p99_ms']:.2f} ms"
    )
    return r


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="size of the generated audit log")
    p.add_argument("--sizes", default="10000,100000,1000000", help="rebuild sizes (events)")
    p.add_argument("--cases", type=int, default=100_000, help="cases for the recall/explain/campaign runs")
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument(
        "--sqlite-events", type=int, default=100_000, help="events folded from a SQLite bus (0: skip)"
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default=str(ROOT / "build/bench/memory.json"))
    a = p.parse_args()
    sizes = [int(s) for s in a.sizes.split(",") if int(s) <= a.events]

    t0 = time.perf_counter()
    base_rss = rss_mb()
    gc.disable()
    bus, ends, alerts = build_log(a.events, a.seed)
    # The generated log stands in for Redis or SQLite, where it would not live in this process's heap:
    # keep the collector from re-walking it.
    gc.freeze()
    gc.enable()
    print(
        f"generated {a.events:,} events ({len(ends):,} cases) from {len(guide.incidents()):,} GUIDE "
        f"incidents in {time.perf_counter() - t0:.1f}s; the in-memory bus holds them in "
        f"{rss_mb() - base_rss:,.0f} MiB"
    )
    results: dict[str, Any] = {"events": a.events, "cases_in_log": len(ends)}
    results["rebuild"] = rebuilds(bus, sizes)
    n_cases = min(a.cases, len(ends))
    mem, r = fold(bus, ends[n_cases - 1])
    results["at_cases"] = r
    print(
        f"memory of {n_cases:,} cases ({r['events']:,} events): rebuilt in {r['rebuild_s']:.2f}s, "
        f"{r['memory_rss_mb']:,.0f} MiB RSS"
    )
    results.update(queries_at(mem, alerts, n_cases, a.queries, a.seed))
    mem.close()
    results["statistics"] = statistics_at(bus, alerts, n_cases, a.queries, a.seed)
    results["snapshot"] = snapshot_timings(bus, ends[n_cases - 1], r["rebuild_s"])
    if len(ends) >= 2000:
        results["naive_replay_recall_ms_at_2000_cases"] = naive_baseline(bus, alerts, ends)
        print(
            f"  for scale: replaying the log on every recall (as 0.2.1 did) costs "
            f"{results['naive_replay_recall_ms_at_2000_cases']:.0f} ms per recall at 2,000 cases"
        )
    if a.sqlite_events:
        results["sqlite_rebuild"] = sqlite_fold(bus, min(a.sqlite_events, a.events))
    results["process_rss_mb"] = rss_mb()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
