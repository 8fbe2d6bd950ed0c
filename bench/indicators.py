"""Indicator extraction on the real Wazuh alerts: precision and recall beside trivial baselines.

    python bench/indicators.py [--json bench/indicators.json]

Pooled evaluation (as in TREC): every ``(type, value)`` that any of the extractors finds in an alert is a
candidate; each distinct candidate value is judged once, by hand, in ``bench/indicators_truth.json``
(``true``: an indicator an analyst would pivot on; ``false`` with the reason: a version string, a path
segment, a scanner permalink, a .NET name...). An extractor's precision is the share of what it finds in
an alert that is judged true; its recall the share of the alert's true candidates it finds. Candidates
no extractor finds cannot be counted: recall is relative to the pool.

Extractors: ``aisoc`` (the Wazuh source's indicators: ioc-finder plus the filters of
``integrations.indicators``); ``ioc-finder`` (the library alone on the alert's model view); ``regex``
(plain patterns for IPv4, hashes, URLs and domains). All read the same text of each alert: its evidence
(the sections of the record that describe the activity, not the sensor or the rule) and its title.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ioc_finder import find_iocs  # noqa: E402

from aisoc.events import Alert  # noqa: E402
from integrations.wazuh import NOT_EVIDENCE, WazuhFileSource  # noqa: E402

DATA = ROOT / "data" / "wazuh" / "alerts.jsonl"
TRUTH = ROOT / "bench" / "indicators_truth.json"
TYPES = {
    "urls": "url",
    "domains": "domain",
    "email_addresses": "email",
    "ipv4s": "ip",
    "ipv6s": "ip",
    "md5s": "md5",
    "sha1s": "sha1",
    "sha256s": "sha256",
    "cves": "cve",
    "registry_key_paths": "registry_key",
}
REGEXES = {
    "ip": re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
    "sha256": re.compile(r"\b[0-9a-fA-F]{64}\b"),
    "sha1": re.compile(r"\b[0-9a-fA-F]{40}\b"),
    "md5": re.compile(r"\b[0-9a-fA-F]{32}\b"),
    "url": re.compile(r"\bhttps?://[^\s\"'<>\\]+"),
    "domain": re.compile(r"\b(?:[a-zA-Z0-9-]+\.)+(?:com|net|org|io|ru|cn|info|biz|xyz|top)\b"),
}

Found = set[tuple[str, str]]


def key(kind: str, value: str) -> tuple[str, str]:
    """How candidates are compared: type and value (lowercase except URLs)."""
    return kind, value if kind == "url" else value.lower()


def view_text(alert: Alert) -> str:
    """What every extractor reads: the alert's evidence (the Wazuh record without the sections that
    describe the sensor and the rule rather than the activity) and its title."""
    source = alert.raw["alert"]["_source"]
    evidence = {k: v for k, v in source.items() if k not in NOT_EVIDENCE}
    return json.dumps(evidence, default=str) + "\n" + alert.title


def by_aisoc(alert: Alert) -> Found:
    return {key(i.type.value, i.value) for i in alert.indicators}


def by_ioc_finder(alert: Alert) -> Found:
    found = find_iocs(view_text(alert), included_ioc_types=list(TYPES))
    return {key(TYPES[k], v) for k, values in found.items() for v in values}


def by_regex(alert: Alert) -> Found:
    text = view_text(alert)
    return {key(kind, v) for kind, pattern in REGEXES.items() for v in pattern.findall(text)}


EXTRACTORS: dict[str, Callable[[Alert], Found]] = {
    "aisoc": by_aisoc,
    "ioc-finder": by_ioc_finder,
    "regex": by_regex,
}


def score(found: Iterable[Found], true: Iterable[Found]) -> dict[str, float | int]:
    tp = fp = fn = 0
    for f, t in zip(found, true, strict=True):
        tp, fp, fn = tp + len(f & t), fp + len(f - t), fn + len(t - f)
    return {
        "found": tp + fp,
        "true_positives": tp,
        "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--unjudged", action="store_true", help="list pooled candidates with no judgement")
    args = parser.parse_args(argv)
    alerts = [a for a in WazuhFileSource(DATA).poll() if isinstance(a, Alert)]
    runs = {name: [fn(a) for a in alerts] for name, fn in EXTRACTORS.items()}
    pooled = [set().union(*(runs[name][n] for name in runs)) for n in range(len(alerts))]
    judged = {(j["type"], j["value"]): j for j in json.loads(TRUTH.read_text())["judgements"]}
    missing = sorted(set().union(*pooled) - set(judged))
    if args.unjudged:
        for kind, value in missing:
            print(json.dumps({"type": kind, "value": value, "indicator": None, "why": ""}))
        return 0
    if missing:
        print(f"{len(missing)} pooled candidate(s) have no judgement; run with --unjudged", file=sys.stderr)
        return 2
    true = [{c for c in pool if judged[c]["indicator"]} for pool in pooled]
    out = {
        "alerts": len(alerts),
        "pooled_candidates": sum(len(p) for p in pooled),
        "true_candidates": sum(len(t) for t in true),
        "extractors": {name: score(found, true) for name, found in runs.items()},
    }
    for name, s in out["extractors"].items():
        print(f"{name:<11} found {s['found']:>4}  precision {s['precision']:.3f}  recall {s['recall']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
