"""Links other packages put on cards: the signed step-one page of a request, and its state page.

from gate.links import approval_url
url = approval_url(settings, proposal)     # Action.OpenUrl on the Webex card
"""

from __future__ import annotations

from urllib.parse import quote

from aisoc.events import ActionProposed
from gate.keys import plain
from gate.settings import GateSettings
from gate.store import ApprovalRequest
from gate.tokens import LinkSigner


def link_signer(settings: GateSettings) -> LinkSigner:
    """The signer for the gate's approval links (``link_keys`` newest first, ``link_ttl_s``).

    Raises:
        ConfigError: ``link_keys`` is empty.
    """
    settings.require("link_keys")
    return LinkSigner(plain(settings.link_keys), settings.link_ttl_s)


def approval_token(settings: GateSettings, request_or_proposal: ApprovalRequest | ActionProposed) -> str:
    """Return the signed token for a request (or the proposal that opens it)."""
    if isinstance(request_or_proposal, ApprovalRequest):
        rid, digest = request_or_proposal.request_id, request_or_proposal.plan_digest
    else:
        rid, digest = request_or_proposal.event_id, request_or_proposal.plan_digest
    return link_signer(settings).sign(rid, digest)


def approval_url(settings: GateSettings, request_or_proposal: ApprovalRequest | ActionProposed) -> str:
    """Return the signed step-one URL of a request (the request id is the proposal's event id).

    Opening it changes nothing; the person decides on that page, after logging in.
    """
    rid = (
        request_or_proposal.request_id
        if isinstance(request_or_proposal, ApprovalRequest)
        else request_or_proposal.event_id
    )
    token = approval_token(settings, request_or_proposal)
    return f"{settings.base_url}/a/{quote(rid, safe='')}?t={quote(token, safe='')}"


def request_url(settings: GateSettings, request_id: str) -> str:
    """Return the state page of a request (who decided, whether it was carried out)."""
    return f"{settings.base_url}/r/{quote(request_id, safe='')}"
