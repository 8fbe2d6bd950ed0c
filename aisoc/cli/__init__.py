"""The ``aisoc`` command line: kernel commands, plus commands that app packages register through
the ``aisoc.commands`` entry-point group (each entry is ``register(subparsers)``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from aisoc.cli._common import CommandError, configure_logging
from aisoc.errors import AisocError
from aisoc.tuning import tune_gc

log = logging.getLogger(__name__)


def kernel_command_modules() -> list[str]:
    """The kernel's own commands: every ``aisoc/cli/cmd_*.py`` module with ``register(subparsers)``."""
    return sorted(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if m.name.startswith("cmd_"))


def build_parser() -> argparse.ArgumentParser:
    """Return the full parser: kernel commands and every installed app's commands."""
    parser = argparse.ArgumentParser(
        prog="aisoc",
        description="SOC-in-a-Box: one local LLM plays every analyst role; agents propose, a human executes.",
    )
    parser.add_argument("--config", help="settings file (default: $AISOC_CONFIG or ./aisoc.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in kernel_command_modules():
        importlib.import_module(name).register(sub)
    for ep in sorted(entry_points(group="aisoc.commands"), key=lambda e: e.name):
        try:
            ep.load()(sub)
        except ModuleNotFoundError as e:  # that app package is not installed: no such commands
            log.debug("command plugin %s (%s) not installed: %s", ep.name, ep.value, e)
        except Exception as e:  # a broken plugin must not take the whole CLI down
            log.warning("command plugin %s (%s) not loaded: %s", ep.name, ep.value, e)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status (2 for usage and settings errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Commands print their own output; long-running processes reconfigure from their settings.
    configure_logging("DEBUG" if args.verbose else "WARNING", json_lines=False)
    tune_gc()
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CommandError as e:
        print(f"aisoc {args.command}: {e}", file=sys.stderr)
        return e.status
    except AisocError as e:
        print(f"aisoc {args.command}: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head(1) and friends
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"aisoc {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        said = _redis_failure(e)
        if said is None:
            raise
        log.info("aisoc %s failed", args.command, exc_info=True)  # in a process's log, not a CLI's
        print(f"aisoc {args.command}: {said}", file=sys.stderr)
        return 2


def _redis_failure(error: Exception) -> str | None:
    """What to tell the operator about a Redis error that reached the command (None: not one)."""
    try:
        from redis.exceptions import ClusterDownError, RedisClusterException, RedisError
    except ImportError:  # the redis extra is not installed: no Redis bus either
        return None
    if isinstance(error, ClusterDownError):
        return (
            f"the Redis Cluster of the bus is down ({error}): a master whose slots no replica took "
            "over is unreachable, or the cluster lost its majority; 'redis-cli --cluster check "
            "HOST:PORT' shows which slots no master serves"
        )
    if isinstance(error, RedisClusterException | RedisError):
        return f"the bus's Redis failed the command: {type(error).__name__}: {error}"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
