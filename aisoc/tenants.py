"""Tenants: one tenant key, and the one rule that keeps the organisations one SOC serves apart.

An alert without a tenant and an alert whose tenant is the empty string (or blanks) belong to the same,
default tenant; every index, statistic, campaign and filter compares tenants through :func:`tenant_key`.

A case id is ``source:source_id`` for the default tenant and ``tenant/source:source_id`` for every
other tenant, so two organisations' incident ``1001`` are two cases while single-tenant ids stay as
they always were. The tenant is percent-quoted in the id (a source slug has neither ``/`` nor ``:``),
so no tenant can forge another tenant's ids.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote

TENANT_SEP = "/"
"""Separates the tenant from the rest of a case id (never inside a quoted tenant or a source slug)."""


def tenant_key(raw: str | None) -> str:
    """The tenant's key: ``""`` for the default tenant (``None``, ``""`` or blanks), else the name as
    given without surrounding blanks, in Unicode's composed form (NFC): ``Société`` typed composed
    and exported decomposed is one tenant. Names are otherwise exact (``acme`` is not ``ACME``)."""
    return unicodedata.normalize("NFC", (raw or "").strip())


UNNAMEABLE = frozenset({"Cc", "Cf", "Cs"})
"""Unicode categories no tenant name holds: controls (``\\x00``, ``\\x1f``: the separators memory
puts inside its index and statistics keys), format characters (zero-width, bidi overrides: a name that
reads as another) and lone surrogates."""


def check_tenant(name: str) -> str:
    """``name`` when it can name a tenant.

    Raises:
        ValueError: it holds a control or format character (see :data:`UNNAMEABLE`).
    """
    for ch in name:
        if unicodedata.category(ch) in UNNAMEABLE:
            raise ValueError(
                f"tenant {name!r} holds a control or format character (U+{ord(ch):04X}); "
                "a tenant name is readable text"
            )
    return name


def case_id_for(source: str, source_id: str, tenant: str | None = None) -> str:
    """Return the case id of an alert: the same alert seen twice is the same case.

    Args:
        source: the source slug (no colon, no slash).
        source_id: the alert's id at its source.
        tenant: the organisation it belongs to; None, "" or blanks for the default tenant.
    """
    plain = f"{source}:{source_id}"
    key = tenant_key(tenant)
    return f"{quote(key, safe='')}{TENANT_SEP}{plain}" if key else plain


def tenant_of(case_id: str) -> str:
    """The tenant key of a case id made by :func:`case_id_for` (``""`` for the default tenant).

    The part before the first ``:`` is ``source`` or ``quoted-tenant/source`` (neither a source slug nor
    a quoted tenant holds ``/`` or ``:``), so an id cannot claim another tenant through its source id.
    """
    head = case_id.split(":", 1)[0]
    tenant, sep, _ = head.partition(TENANT_SEP)
    return tenant_key(unquote(tenant)) if sep else ""


@dataclass(frozen=True)
class Tenancy:
    """What a deployment says about its tenants, applied to every alert at the ingest edge.

    ``declared`` empty means any tenant a source reports is accepted; otherwise an alert of another
    tenant is refused. ``default`` names the tenant whose alerts keep plain case ids (a single-tenant
    deployment whose source stamps its one organisation on every alert keeps its ids this way).
    ``source_tenant`` is the tenant a source belongs to (one Wazuh manager per customer): its alerts
    that name no tenant are that tenant's, and an alert naming another tenant is refused, as from a
    webhook sender bound to its tenant (a customer's feed never files into another customer's cases).
    """

    declared: frozenset[str] = frozenset()
    default: str = ""
    source_tenant: str = ""

    def assign(self, reported: str | None) -> str | None:
        """The tenant an alert is filed under (None: the default tenant).

        Raises:
            ValueError: the deployment declares its tenants and this one is not among them, the
                source belongs to another tenant, or the name holds a control or format character.
        """
        tenant = check_tenant(tenant_key(reported) or tenant_key(self.source_tenant))
        default = tenant_key(self.default)
        declared = {tenant_key(d) for d in self.declared}
        if tenant and declared and tenant not in declared and tenant != default:
            raise ValueError(
                f"tenant {tenant!r} is not declared (settings 'tenants': {', '.join(sorted(self.declared))})"
            )
        own = tenant_key(self.source_tenant)
        if own and tenant != own:
            raise ValueError(
                f"an alert of tenant {tenant!r} from a source of tenant {own!r} (--tenant): a customer's "
                "source files alerts under its own tenant only"
            )
        return None if tenant in ("", default) else tenant
