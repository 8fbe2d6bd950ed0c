"""How long the bot takes to understand a question and answer it, as the record grows.

Publishes N cases (the real Wazuh alerts, re-keyed per copy) to an in-memory bus, then times the
catalog's first build (once per conversation scope and process, ``catalog_ms``), then each question as
the bot answers it: the live catalog reads what came since the last question, then finds the subject
(exact, near miss, title, a described host, a host named by its agent's address), and a question
after 10 new cases came in. The address book is built once per process from the log (the feed does
it when the bot starts, ``address_book_ms``); the first and a later address question look it up.

    .venv/bin/python bench/bot_understand.py [N ...]      # default 1000 5000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from aisoc.bus import Bus
from aisoc.events import Alert, AlertReceived, ProducedBy
from aisoc.memory import Memory
from aisoc.tuning import gc_paused
from bot.catalog import Catalog
from bot.hosts import AddressBook
from bot.livecatalog import LiveCatalog
from bot.understand import understand
from integrations.wazuh import WazuhFileSource

WAZUH = Path(__file__).resolve().parents[1] / "data" / "wazuh" / "alerts.jsonl"
QUESTIONS = (
    "why did it contain Linux-Server?",
    "why did it contain linux-sever?",
    "explain the shellshock case",
    "why did it isolate the linux box?",
)
ADDRESS = "why was 10.0.2.9 isolated?"
"""A host by its recorded address (the first such question of the process, then a later one)."""


def _ask(live: LiveCatalog, timings: dict[str, float], run: str, question: str) -> str | None:
    """Answer one question as the bot does (the catalog current first), timed under ``run``."""
    t0 = time.perf_counter()
    with live.reading() as catalog:
        req = understand(question, catalog, None)
    timings[run] = round((time.perf_counter() - t0) * 1000, 1)
    assert req.command == "explain"
    return req.subject.value.lower() if req.subject is not None else None


def main(sizes: list[int]) -> None:
    alerts = [a for a, _ in WazuhFileSource(WAZUH).records() if isinstance(a, Alert)]
    results = []
    for n in sizes:
        bus = Bus("memory://")
        for i in range(n):
            base = alerts[i % len(alerts)]
            a = base.model_copy(update={"source_id": f"{i}-{base.source_id}"})
            bus.publish(AlertReceived(alert=a, case_id=a.case_id, produced_by=ProducedBy(role="ingest")))
        memory = Memory(bus.audit, bulk=gc_paused)
        memory.case("warm")  # fold the log once
        t0 = time.perf_counter()
        addresses = AddressBook(bus.audit)
        addresses.follow()
        book = time.perf_counter() - t0
        t0 = time.perf_counter()
        Catalog(memory, addresses)
        rebuild = time.perf_counter() - t0
        live = LiveCatalog(bus.audit, lambda m=memory: m, addresses)
        t0 = time.perf_counter()
        with live.reading():
            pass
        build = time.perf_counter() - t0
        timings: dict[str, float] = {}
        for q in QUESTIONS:
            _ask(live, timings, q, q)
        for run in ("address_cold", "address_warm"):
            assert _ask(live, timings, run, ADDRESS) == "linux-server"
        for i in range(n, n + 10):
            base = alerts[i % len(alerts)]
            a = base.model_copy(update={"source_id": f"{i}-{base.source_id}"})
            bus.publish(AlertReceived(alert=a, case_id=a.case_id, produced_by=ProducedBy(role="ingest")))
        assert _ask(live, timings, "after_10_new_cases", f"explain {a.case_id}") == a.case_id.lower()
        row = {
            "cases": n,
            "catalog_ms": round(build * 1000, 1),
            "rebuild_ms": round(rebuild * 1000, 1),
            "address_book_ms": round(book * 1000, 1),
            "understand_ms": timings,
        }
        results.append(row)
        print(json.dumps(row))
        bus.close()
    out = Path("build") / "bench-bot-understand.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 5000], metavar="N", help="cases")
    main(parser.parse_args().sizes)
