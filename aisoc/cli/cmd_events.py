"""``aisoc events``: the event contract for integrators."""

from __future__ import annotations

import argparse
import json
from typing import Any

from aisoc import events


def register(sub: Any) -> None:
    p = sub.add_parser("events", help="the event contract (JSON Schemas, the catalogue)")
    inner = p.add_subparsers(dest="events_command", metavar="SUBCOMMAND", required=True)
    schema = inner.add_parser("schema", help="print the JSON Schema of every event type")
    schema.add_argument("type", nargs="?", help="only this event type")
    schema.set_defaults(func=_schema)
    cat = inner.add_parser("list", help="list event types with their streams")
    cat.set_defaults(func=_list)


def _schema(args: argparse.Namespace) -> int:
    schemas = events.json_schemas()
    if args.type:
        events.class_for(args.type)  # a clear error for unknown types
        schemas = {args.type: schemas[events.class_for(args.type).TYPE]}
    print(json.dumps(schemas, indent=2, sort_keys=True))
    return 0


def _list(args: argparse.Namespace) -> int:
    for stream in events.WORK_STREAMS:
        for t in events.types_in(stream):
            doc = (events.class_for(t).__doc__ or "").strip().splitlines()[0]
            print(f"{stream:8} {t:24} {doc}")
    return 0
