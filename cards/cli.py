"""``aisoc card EVENT_JSON``: print the card of an event (for integrators and card designers)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from aisoc.cli.plugin import CommandError
from aisoc.events import from_dict
from cards.model import MAX_CARD_BYTES, CardContext
from cards.render import render, supported_types


def register(sub: Any) -> None:
    """Add ``aisoc card`` to the CLI (entry point ``aisoc.commands: cards``)."""
    p = sub.add_parser(
        "card",
        help="print the Adaptive Card of an event",
        description=f"Print the Adaptive Card (1.3) of one event. Types: {', '.join(supported_types())}.",
    )
    p.add_argument("event", metavar="EVENT_JSON", help="a file holding one event as JSON, or - for stdin")
    p.add_argument(
        "--context", metavar="CONTEXT_JSON", help="a file with the card context (alert, approvers, ...)"
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--fallback", action="store_true", help="print the markdown fallback text instead")
    out.add_argument("--message", action="store_true", help="print the whole Webex message body")
    p.add_argument("--max-bytes", type=int, default=MAX_CARD_BYTES, help="card size budget in bytes")
    p.set_defaults(func=_card)


def _read_json(where: str, what: str) -> Any:
    try:
        text = sys.stdin.read() if where == "-" else Path(where).read_text(encoding="utf-8")
    except OSError as e:
        raise CommandError(f"cannot read {what} {where!r}: {e.strerror or e}", status=2) from e
    except UnicodeDecodeError as e:
        reason = f"{what} {where!r} is not UTF-8 text: {e.reason} at byte {e.start}"
        raise CommandError(reason, status=2) from e
    try:
        return json.loads(text)
    except ValueError as e:
        raise CommandError(f"{what} {where!r} is not valid JSON: {e}", status=2) from e


def _card(args: argparse.Namespace) -> int:
    event = from_dict(_read_json(args.event, "event"))
    ctx = CardContext.from_dict(_read_json(args.context, "context")) if args.context else None
    card = render(event, ctx, max_bytes=args.max_bytes)
    if args.fallback:
        print(card.fallback_text)
    elif args.message:
        print(json.dumps(card.message(), indent=2, ensure_ascii=False))
    else:
        print(json.dumps(card.content, indent=2, ensure_ascii=False))
    return 0
