"""The public API of ``aisoc`` command plugins: what an app package's ``register(subparsers)`` and its
commands may use. App packages import from here, never from the CLI's private modules.

    # pyproject.toml: [project.entry-points."aisoc.commands"] myapp = "myapp.cli:register"
    from aisoc.cli.plugin import CommandError, add_bus_option, kernel_settings, open_bus

    def register(sub):
        p = sub.add_parser("myapp", help="...")
        add_bus_option(p)
        p.set_defaults(func=run)

    def run(args) -> int:
        bus = open_bus(kernel_settings(args))   # configured redaction, the events of added roles
        ...
        raise CommandError("what went wrong, for people")   # printed, exit status 1

A command returns its exit status; ``CommandError`` is the expected failure (its message is printed).
"""

from __future__ import annotations

from aisoc.cli._common import CommandError, add_bus_option, configure_logging, kernel_settings, open_bus

__all__ = ["CommandError", "add_bus_option", "configure_logging", "kernel_settings", "open_bus"]
