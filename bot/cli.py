"""``aisoc bot ...``: set up the webhooks, serve the bot, look at its outbox, check its settings.

Registered through the ``aisoc.commands`` entry point (``bot = "bot.cli:register"``); everything heavy
is imported inside the commands, so ``aisoc --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from aisoc.cli.plugin import CommandError, configure_logging
from aisoc.errors import ConfigError
from aisoc.settings import bus_settings_for
from aisoc.stopsignal import wait_for_stop


def register(sub: Any) -> None:
    """Add ``aisoc bot`` and its subcommands."""
    p = sub.add_parser("bot", help="the Webex bot: setup, serve, outbox, check")
    inner = p.add_subparsers(dest="bot_command", metavar="SUBCOMMAND", required=True)

    setup = inner.add_parser(
        "setup",
        help="register the bot's webhooks (messages, attachmentActions) with the secret, idempotently",
        description="Lists the bot's webhooks and updates the ones it owns (target, secret, status) or "
        "creates what is missing; duplicates are removed. Needs [bot] token, public_url, webhook_secret.",
    )
    setup.set_defaults(func=_setup)

    serve = inner.add_parser(
        "serve",
        help="run the bot: consumer group 'bot', the outbound sender, the webhook receiver (or the "
        "websocket), and the local preview when there is no token",
    )
    serve.add_argument("--host", help="address to bind (default: setting 'host')")
    serve.add_argument("--port", type=int, help="port (default: setting 'port')")
    serve.set_defaults(func=_serve)

    outbox = inner.add_parser("outbox", help="what the bot has queued, sent and given up")
    outbox.add_argument("--dead", action="store_true", help="list the posts given up")
    outbox.add_argument("--queued", action="store_true", help="list the posts waiting")
    outbox.add_argument("--retry", metavar="POST_ID", help="queue a given-up post again")
    outbox.add_argument("--json", action="store_true", help="machine-readable output")
    outbox.set_defaults(func=_outbox)

    check = inner.add_parser("check", help="show the settings in use and who the bot is on Webex")
    check.set_defaults(func=_check)


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from aisoc.resolve import import_team
    from aisoc.settings import KernelSettings, load_settings
    from bot.settings import load_bot_settings

    config = getattr(args, "config", None)
    import_team(load_settings(KernelSettings, config).team)  # events added roles define decode here
    return load_bot_settings(config, **overrides)


def _gate_settings(args: argparse.Namespace, settings: Any) -> Any:
    """The gate's settings for links and the roster, as the bot may hold them (link keys, never the
    session keys); offline without them: no approval links.

    Raises:
        ConfigError: against Webex, the gate's settings are unusable, have no link keys, or hold the
            gate's session keys (which the bot must never have).
    """
    import logging

    from bot.directory import links_only
    from gate.settings import load_gate_settings

    log = logging.getLogger(__name__)
    if not settings.approval_links:
        return None
    try:
        gate = load_gate_settings(getattr(args, "config", None))
        gate.require("link_keys")
    except ConfigError as e:
        if not settings.offline:
            raise ConfigError(
                f"approval links need the gate's settings ([gate] link_keys and base_url): {e}; "
                "or set [bot] approval_links = false"
            ) from e
        log.warning("preview without approval links: gate settings unusable: %s", e)
        return None
    if gate.session_keys:
        held = (
            "setting 'session_keys' ([gate] session_keys or AISOC_GATE_SESSION_KEYS) is in the bot's "
            "configuration: it signs gate sessions, so whoever holds it can approve as anyone"
        )
        if not settings.offline:
            raise ConfigError(
                f"{held}. Give it to the gate only (its own environment file) and keep [gate] "
                "link_keys for the bot: see docs/gate.md, 'Deploying behind TLS and SSO'"
            )
        log.warning("%s; the local preview drops it (never do this with a Webex token)", held)
    return links_only(gate)


def _setup(args: argparse.Namespace) -> int:
    from bot.webex import WebexSpace
    from bot.webhooks import setup_webhooks

    settings = _settings(args)
    if settings.offline:
        raise CommandError("no Webex token ([bot] token or $WEBEX_ACCESS_TOKEN): nothing to register")
    if settings.mode == "websocket":
        print("mode = websocket: the bot connects out to Webex; no webhooks are needed")
        return 0
    for line in setup_webhooks(WebexSpace(settings), settings).lines():
        print(line)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from bot.demo import check_port
    from bot.service import Bot
    from bot.transport import WebsocketTransport
    from gate.server import ServerThread

    settings = _settings(args, host=args.host, port=args.port)
    kernel = bus_settings_for(settings.bus, settings.namespace, getattr(args, "config", None))
    configure_logging(kernel.log_level, kernel.log_json)
    try:
        check_port(settings.host, settings.port)
    except OSError as e:
        raise CommandError(f"cannot listen on {settings.host}:{settings.port}: {e}") from e
    bot = Bot(settings, gate_settings=_gate_settings(args, settings))
    transport = None
    if settings.mode == "websocket" and settings.token is not None:
        transport = WebsocketTransport(settings.token.get_secret_value(), settings.bot_name)
    bot.start(transport=transport)
    try:
        server = ServerThread(bot.create_app(), settings.host, settings.port).start()
    except OSError as e:
        bot.stop()
        raise CommandError(f"cannot listen on {settings.host}:{settings.port}: {e}") from e
    where = "the local preview" if settings.offline else f"Webex ({settings.mode})"
    extra = f"; open {server.url}/preview" if bot.preview is not None else ""
    print(f"bot: serving {server.url} -> {where}; bus {bot.bus.url}; consuming as group bot{extra}")
    wait_for_stop()
    server.stop()
    bot.stop()
    bot.close()
    return 0


def _outbox(args: argparse.Namespace) -> int:
    from aisoc.bus import open_bus
    from bot.store import BotStore, store_path

    settings = _settings(args)
    bus = open_bus(bus_settings_for(settings.bus, settings.namespace, getattr(args, "config", None)))
    store = BotStore(store_path(bus, settings.store, settings.state_dir))
    try:
        if args.retry:
            if not store.retry(args.retry):
                raise CommandError(f"no given-up post {args.retry!r}")
            print(f"queued {args.retry} again; a running bot sends it within seconds")
            return 0
        state = "dead" if args.dead else "queued" if args.queued else None
        posts = store.posts(state) if state else []
        if args.json:
            rows = [
                {
                    "post_id": p.post_id,
                    "room_id": p.room_id,
                    "kind": p.kind,
                    "case_id": p.case_id,
                    "state": p.state,
                    "attempts": p.attempts,
                    "last_error": p.last_error,
                }
                for p in posts
            ]
            print(json.dumps({"counts": store.counts(), "posts": rows}, indent=2))
            return 0
        counts = store.counts()
        print(
            f"outbox: {counts.get('queued', 0)} queued, {counts.get('sent', 0)} sent, "
            f"{counts.get('dead', 0)} given up"
        )
        for p in posts:
            print(
                f"  {p.post_id}  {p.kind or '-'}  case {p.case_id or '-'}  {p.state}  "
                f"tries {p.attempts}  {p.last_error or ''}"
            )
        return 0
    finally:
        store.close()
        bus.close()


def _check(args: argparse.Namespace) -> int:
    from bot.webex import WebexSpace, primary_email

    settings = _settings(args)
    print(f"mode: {settings.mode}; bus: {settings.bus}; SOC room: {settings.soc_room_id or '(preview)'}")
    print(
        f"answers in: {', '.join(sorted(settings.answer_rooms())) or 'no room'}; "
        f"direct: {settings.allow_direct}"
    )
    print(
        f"allowed: people {len(settings.allowed_people)}, "
        f"domains {', '.join(settings.allowed_domains) or '-'}, "
        f"roster {'yes' if settings.allow_roster else 'no'}"
    )
    if settings.offline:
        print("no token: the local preview is the space (aisoc bot serve, then open /preview)")
        return 0
    me = WebexSpace(settings).me()
    print(f"Webex: the bot is {me.get('displayName')} <{primary_email(me)}> ({me.get('id')})")
    return 0
