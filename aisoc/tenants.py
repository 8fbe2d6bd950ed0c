"""One tenant key: how the SOC names the tenant of an alert everywhere it keeps or compares one.

An alert without a tenant and an alert whose tenant is the empty string (or blanks) belong to the same,
default tenant; every index, statistic, campaign and filter compares tenants through :func:`tenant_key`.
"""

from __future__ import annotations


def tenant_key(raw: str | None) -> str:
    """The tenant's key: ``""`` for the default tenant (``None``, ``""`` or blanks), else the name as
    given without surrounding blanks."""
    return (raw or "").strip()
