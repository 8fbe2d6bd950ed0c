"""What IR Lead's actions act on: which entity of a case fits which kind of action."""

from __future__ import annotations

import re

from aisoc.events import ActionKind, Alert, IndicatorType

HOST_ACTIONS = {
    ActionKind.ISOLATE_HOST,
    ActionKind.COLLECT_FORENSICS,
    ActionKind.KILL_PROCESS,
    ActionKind.PATCH_SYSTEM,
    ActionKind.RESTORE_SYSTEM,
    ActionKind.QUARANTINE_FILE,
}
ACCOUNT_ACTIONS = {ActionKind.DISABLE_ACCOUNT, ActionKind.RESET_CREDENTIALS, ActionKind.REVOKE_SESSIONS}
BUILTIN_ACCOUNTS = re.compile(
    r"^(?:nt authority\\.*|system|local ?service|network ?service|anonymous logon|"
    r"(?:window manager\\)?dwm-\d+|(?:font driver host\\)?umfd-\d+|s-1-5-(?:18|19|20|7))$",
    re.IGNORECASE,
)
"""Windows' built-in service principals: they have no password to reset and cannot be disabled."""
FILE_INDICATORS = {IndicatorType.SHA256, IndicatorType.SHA1, IndicatorType.MD5, IndicatorType.FILE}
ACCOUNT_INDICATORS = {IndicatorType.USER, IndicatorType.EMAIL, IndicatorType.ACCOUNT_ID}
HOST_INDICATORS = {IndicatorType.HOST, IndicatorType.DEVICE_ID}


def wrong_kind(kind: ActionKind, target: str, alert: Alert | None) -> str | None:
    """Why ``target`` (an entity of the case) is not something ``kind`` acts on, if it is not: a
    host action needs a host or an internal address (quarantining a file, also a file's hash), an
    account action an account, blocking an indicator an indicator."""
    if alert is None or kind == ActionKind.OTHER:
        return None
    found = [i for i in alert.indicators if i.value == target]
    types = {i.type for i in found}
    if kind in HOST_ACTIONS:  # an internal address is a host too ("isolate 10.0.2.14")
        internal = any(i.type == IndicatorType.IP and i.private for i in found)
        allowed = target in alert.hosts or internal or bool(types & HOST_INDICATORS)
        if kind == ActionKind.QUARANTINE_FILE:
            allowed = allowed or bool(types & FILE_INDICATORS)
        return None if allowed else f"{kind.value} acts on a host of the case; {target} is not one"
    if kind in ACCOUNT_ACTIONS:
        allowed = target in alert.users or bool(types & ACCOUNT_INDICATORS)
        return None if allowed else f"{kind.value} acts on an account of the case; {target} is not one"
    if kind == ActionKind.BLOCK_INDICATOR:
        return None if types else f"block_indicator acts on an indicator of the case; {target} is not one"
    return None


def default_target(kind: ActionKind | None, hosts: list[str], users: list[str]) -> str | None:
    """The target of a step that names none: the case's first host, or its first person's account."""
    if kind in HOST_ACTIONS and hosts:
        return hosts[0]
    people = [u for u in users if not BUILTIN_ACCOUNTS.match(u.strip())]
    if kind in ACCOUNT_ACTIONS and people:
        return people[0]
    return None
