"""``aisoc bench-model``: measure the configured model and print alerts/day for the current role mix."""

from __future__ import annotations

import argparse
from typing import Any

from aisoc.cli._common import CommandError, add_bus_option, configure_logging, kernel_settings, open_bus


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bench-model",
        help="measure the model's prompt and answer speed and print alerts/day for the role mix",
        description="Times the configured model (an uncached ~1,000-token prompt, then a short "
        "schema-constrained answer) and multiplies by the role mix in the audit log (model calls and "
        "tokens per alert, from the traces); with no traces yet, a stand-in mix. See docs/models.md.",
    )
    add_bus_option(p)
    p.add_argument("--model", help="model spec (default: setting 'model')")
    p.add_argument("--tokens", type=int, default=1000, help="reference prompt size in tokens")
    p.add_argument("--concurrency", type=int, default=1, help="calls the server serves at once")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_bench_model)


def _bench_model(args: argparse.Namespace) -> int:
    from aisoc import models
    from aisoc.models.reference import DEFAULT_MIX, as_json, measure, report, role_mix

    if args.tokens < 50 or args.concurrency < 1:
        raise CommandError("--tokens must be 50 or more and --concurrency 1 or more", status=2)
    settings = kernel_settings(args, model=args.model)
    configure_logging(settings.log_level, settings.log_json)
    if settings.model == "stub":
        raise CommandError("the canned stub model has no speed to measure: pass --model", status=2)
    model = models.from_spec(settings.model)
    mix = role_mix(open_bus(settings).audit) or DEFAULT_MIX
    speed = measure(model, args.tokens)
    print(as_json(speed, mix, args.concurrency) if args.json else report(speed, mix, args.concurrency))
    if mix is DEFAULT_MIX and not args.json:
        print("(no traces with token usage in the audit log: the stand-in role mix was used)")
    return 0
