"""Intelligence cards: Threat Intel's attribution, Threat Hunter's proposals, campaigns."""

from __future__ import annotations

import re
from collections import Counter

from aisoc.events import (
    CampaignDetected,
    HuntProposal,
    IndicatorType,
    IntelAttribution,
    IocRating,
    Reputation,
)
from cards.cases import provenance
from cards.common import case_alert, case_link, case_title, fit, open_case
from cards.draft import Draft
from cards.model import MAX_CARD_BYTES, Budget, Card, CardContext
from cards.text import Markup, cap, clean, duration, indicator, join_capped, label, pct, span, when

REPUTATION_ORDER = (Reputation.MALICIOUS, Reputation.SUSPICIOUS, Reputation.UNKNOWN, Reputation.BENIGN)
"""IOC ratings are listed worst first."""
_TECHNIQUE = re.compile(r"^T\d{4}(?:\.\d{3})?$")
_KINDS = {t.value for t in IndicatorType}


def technique_link(technique: str) -> Markup | str:
    """A technique id as a link to its ATT&CK page (only for ids in the documented format)."""
    if not _TECHNIQUE.match(technique):
        return clean(technique, 20, oneline=True)
    path = technique.replace(".", "/")
    return Markup(f"[{technique}](https://attack.mitre.org/techniques/{path}/)")


def indicator_key(key: str, limit: int) -> str:
    """Show an indicator written as ``type:value`` (defanged when it is a network indicator)."""
    kind, sep, value = key.partition(":")
    if sep and kind in _KINDS and value:
        return f"{kind} {indicator(kind, value, limit)}"
    return clean(key, limit, oneline=True)


def attribution_card(
    event: IntelAttribution, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """Actor (only with corroboration), the evidence, ATT&CK techniques and each IOC's reputation."""
    ctx = ctx or CardContext()
    case_alert(event, ctx)
    iocs = sorted(event.iocs, key=lambda i: REPUTATION_ORDER.index(i.reputation))
    counts = Counter(i.reputation for i in event.iocs)
    tally = " · ".join(f"{counts[r]} {r.value}" for r in REPUTATION_ORDER if counts[r])

    def ioc_line(i: IocRating) -> Markup:
        source = f" (source: {clean(i.source, 60, oneline=True)})" if i.source else ""
        return Markup(
            f"**{i.reputation.value}** {i.type.value} {indicator(i.type.value, i.value, 120)}{source}"
        )

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            event.actor or "No actor attributed",
            tag="Threat Intel",
            style="accent",
            subtitle=f"{case_title(event, ctx)} · {pct(event.confidence)} confident",
        )
        d.facts(
            [
                ("Actor", event.actor or "none (no corroborated attribution)"),
                ("Confidence", pct(event.confidence)),
                ("Techniques", str(len(event.techniques)) if event.techniques else None),
                ("IOCs", tally or None),
                ("Case", case_link(d, event, ctx)),
            ]
        )
        d.paragraph(event.summary, heading="Summary")
        d.bullets(event.actor_evidence, heading="Evidence for the actor")
        if event.techniques:
            links = [technique_link(t) for t in event.techniques]
            d.heading("ATT&CK techniques")
            d.paragraph(Markup(join_capped(links, b.items * 2)))
        worst, hidden = d.shown(iocs)
        d.bullets([ioc_line(i) for i in worst], heading="IOC reputation", hidden=hidden)
        d.note(provenance(event, ctx))
        d.explain()
        open_case(d, ctx)
        return d

    return fit(compose, max_bytes=max_bytes)


def campaign_card(
    event: CampaignDetected, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """Cases linked by shared strong infrastructure: new or grown, which cases, which indicators."""
    ctx = ctx or CardContext()
    new = event.status == "new"
    n = len(event.case_ids)

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            event.summary or f"{n} cases share infrastructure",
            tag="New campaign" if new else "Campaign grew",
            style="attention" if new else "warning",
            subtitle=f"Campaign {d.short(event.campaign_id)} · {n} case(s)",
        )
        d.facts(
            [
                ("Campaign", event.campaign_id),
                ("Cases", str(n)),
                ("Tenant", event.tenant),
                ("First seen", when(event.first_seen, ctx.tz)),
                ("Last seen", when(event.last_seen, ctx.tz)),
                ("Active for", duration((event.last_seen - event.first_seen).total_seconds())),
            ]
        )
        keys, hidden = d.shown(event.indicators)
        d.bullets(
            [Markup(indicator_key(k, b.short)) for k in keys], heading="Shared indicators", hidden=hidden
        )
        d.bullets(event.case_ids, heading="Cases")
        d.note(provenance(event, ctx))
        d.explain()
        open_case(d, ctx)
        return d

    return fit(compose, max_bytes=max_bytes)


def hunt_card(
    event: HuntProposal, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """Threat Hunter's cross-case patterns, each with its hypothesis, cases and indicators."""
    ctx = ctx or CardContext()
    n = len(event.findings)

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            f"{n} hunt proposal(s)",
            tag="Threat Hunter",
            style="accent",
            subtitle=span(event.window_start, event.window_end, ctx.tz),
        )
        d.paragraph(event.summary, heading="Summary")
        for finding in event.findings[: b.items]:
            lines = [f"**{label(finding.kind)}**: {clean(finding.summary, b.short, oneline=True)}"]
            if finding.hypothesis:
                lines.append(f"Hypothesis: {clean(finding.hypothesis, b.short, oneline=True)}")
            if finding.case_ids:
                cases, rest = cap(finding.case_ids, b.items)
                shown = [clean(c, 80, oneline=True) for c in cases]
                lines.append(f"Cases: {join_capped(shown + [''] * rest, b.items)}")
            if finding.indicators:
                keys, rest = cap(finding.indicators, b.items)
                shown = [indicator_key(k, 80) for k in keys]
                lines.append(f"Indicators: {join_capped(shown + [''] * rest, b.items)}")
            d.paragraph(Markup("\n\n".join(lines)))
        if n > b.items:
            d.note(f"and {n - b.items} more finding(s): `explain` or the audit log has them all.")
        d.note(provenance(event, ctx))
        open_case(d, ctx)
        return d

    return fit(compose, max_bytes=max_bytes)
