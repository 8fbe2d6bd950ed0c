"""Report cards: SOC Manager's shift summary, Detection Engineer's tuning report, and the digest that
rolls many Sentinel closures into one card (the noise policy: closures are not posted one by one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from aisoc.events import (
    ROLE_TITLES,
    Alert,
    CaseClosed,
    DetectionTuning,
    Role,
    RuleStat,
    Sev,
    ShiftSummary,
    TriageVerdict,
    Verdict,
)
from cards.cases import provenance
from cards.common import fit
from cards.draft import Draft
from cards.model import MAX_CARD_BYTES, Budget, Card, CardContext, CardError
from cards.text import Markup, clean, duration, join_capped, label, pct, span

DIGEST_KIND = "sentinel.digest"
"""``Card.kind`` of the closure digest (it renders many events, not one)."""


def _tally(counts: Mapping[str, int]) -> str:
    return " · ".join(f"{label(k)} {v}" for k, v in counts.items() if v) or "none"


def shift_card(
    event: ShiftSummary, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """The shift in numbers: alerts, verdicts, SEVs, escalations, closures, MTTA/MTTR, open approvals."""
    ctx = ctx or CardContext()
    verdicts = {v.value: event.counts_by_verdict.get(v, 0) for v in Verdict}
    sevs = {s.value: event.counts_by_sev.get(s, 0) for s in Sev}
    waiting = sorted(event.open_approvals, key=lambda a: -a.age_s)

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            span(event.window_start, event.window_end, ctx.tz),
            tag="Shift summary",
            style="emphasis",
            subtitle=(
                f"{event.alerts_received} alerts · {event.escalations} escalated · "
                f"{event.cases_closed} closed · {len(event.open_approvals)} approval(s) open"
            ),
        )
        d.facts(
            [
                ("Alerts received", str(event.alerts_received)),
                ("Verdicts", _tally(verdicts)),
                ("SEVs", " · ".join(f"{k} {v}" for k, v in sevs.items() if v) or "none"),
                ("Escalations", str(event.escalations)),
                ("Cases closed", str(event.cases_closed)),
                ("MTTA", duration(event.mtta_s) if event.mtta_s is not None else "n/a"),
                ("MTTR", duration(event.mttr_s) if event.mttr_s is not None else "n/a"),
                ("Open approvals", str(len(event.open_approvals))),
            ]
        )
        oldest, hidden = d.shown(waiting)
        d.bullets(
            [
                Markup(
                    f"{clean(label(a.kind.value) + ': ' + a.target, b.short, oneline=True)} · "
                    f"{clean(a.case_id, 80, oneline=True)} · waiting {duration(a.age_s)} for "
                    f"{ROLE_TITLES[a.approver_role]}"
                )
                for a in oldest
            ],
            heading="Open approvals (oldest first)",
            hidden=hidden,
        )
        notable, hidden = d.shown(event.notable_cases)
        d.bullets(
            [
                Markup(
                    (f"**{c.sev.value}** " if c.sev else "")
                    + f"{clean(c.title, b.short, oneline=True)} · {clean(c.status, 40, oneline=True)}"
                    + f" · {clean(c.case_id, 80, oneline=True)}"
                )
                for c in notable
            ],
            heading="Notable cases",
            hidden=hidden,
        )
        d.paragraph(event.summary, heading="Summary")
        d.note(provenance(event, ctx))
        return d

    return fit(compose, max_bytes=max_bytes)


def tuning_card(
    event: DetectionTuning, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """Noisy rules, noisiest first as the role listed them: "fired 47 times, 41 closed benign"."""
    ctx = ctx or CardContext()

    def rule_line(b: Budget, r: RuleStat) -> Markup:
        title = f" {clean(r.title, b.short, oneline=True)}" if r.title else ""
        text = (
            f"**{clean(r.rule, 60, oneline=True)}**{title}: fired {r.fired} times, {r.closed_benign} closed "
            f"benign ({pct(r.benign_rate)}), {r.escalated} escalated"
        )
        if r.suggestion:
            text += f". Suggestion: {clean(r.suggestion, b.short, oneline=True)}"
        return Markup(text)

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            f"{len(event.rules)} noisy rule(s)",
            tag="Detection tuning",
            style="warning" if event.rules else "good",
            subtitle=span(event.window_start, event.window_end, ctx.tz),
        )
        d.paragraph(event.summary, heading="Summary")
        rules, hidden = d.shown(event.rules)
        d.bullets([rule_line(b, r) for r in rules], heading="Rules", hidden=hidden)
        d.note(provenance(event, ctx))
        return d

    return fit(compose, max_bytes=max_bytes)


def _closure(event: TriageVerdict | CaseClosed) -> tuple[str, float | None]:
    """The closure's outcome label and Sentinel's confidence (when it is a verdict)."""
    if isinstance(event, TriageVerdict):
        if event.routed_to != "closed":
            raise CardError(f"digest: {event.event_id} was routed to {event.routed_to}, not closed")
        return event.verdict.value, event.confidence
    if isinstance(event, CaseClosed):
        if event.closed_by.role != Role.SENTINEL:
            raise CardError(f"digest: {event.event_id} was closed by {event.closed_by.role}, not Sentinel")
        return event.disposition.value, None
    raise CardError(f"digest: {type(event).__name__} is not a closure")


def digest_card(
    closures: Sequence[TriageVerdict | CaseClosed],
    *,
    alerts: Mapping[str, Alert] | None = None,
    ctx: CardContext | None = None,
    max_bytes: int = MAX_CARD_BYTES,
) -> Card:
    """Roll many Sentinel closures into one card: how many, as what, grouped by alert, least sure first.

    Args:
        closures: ``triage.verdict`` events routed to ``closed`` and/or ``case.closed`` by Sentinel
            (one case counted once, at its first closure).
        alerts: the alerts by ``case_id``, for titles and hosts.
        ctx: for the display time zone.
        max_bytes: the card's size budget.

    Raises:
        CardError: an event that is not a Sentinel closure.
    """
    ctx = ctx or CardContext()
    alerts = alerts or {}
    seen: dict[str, tuple[TriageVerdict | CaseClosed, str, float | None]] = {}
    for event in closures:
        outcome, confidence = _closure(event)
        key = event.case_id or event.event_id
        seen.setdefault(key, (event, outcome, confidence))
    items = list(seen.items())
    outcomes = Counter(outcome for _, (_, outcome, _) in items)
    groups: dict[str, list[tuple[str, str]]] = {}
    for case_id, (_, outcome, _) in items:
        alert = alerts.get(case_id)
        groups.setdefault(alert.title if alert else "(alert not in context)", []).append((case_id, outcome))
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    hosts = Counter(h for case_id, _ in items if (a := alerts.get(case_id)) for h in a.hosts)
    unsure = sorted(
        ((cid, o, c) for cid, (_, o, c) in items if c is not None and c < 1.0), key=lambda x: (x[2], x[0])
    )
    times = [e.occurred_at for e, _, _ in seen.values()]

    def compose(b: Budget) -> Draft:
        d = Draft(DIGEST_KIND, b)
        d.header(
            f"Sentinel closed {len(items)} alert(s)" if items else "Sentinel closed no alerts",
            tag="Sentinel digest",
            style="good",
            subtitle=span(min(times), max(times), ctx.tz) if times else None,
        )
        d.facts(
            [
                ("Closed as", _tally(dict(outcomes))),
                ("Distinct alerts", str(len(groups))),
                ("Hosts", d.values([f"{h} ({n})" for h, n in hosts.most_common()])),
            ]
        )
        lines = []
        top, hidden = d.shown(ordered)
        for title, members in top:
            tally = _tally(dict(Counter(o for _, o in members)))
            cases = join_capped([clean(c, 80, oneline=True) for c, _ in members], 3)
            lines.append(
                Markup(f"**{clean(title, b.short, oneline=True)}** × {len(members)} ({tally}) · {cases}")
            )
        d.bullets(lines, heading="By alert", hidden=hidden)
        least, hidden = d.shown(unsure)
        d.bullets(
            [
                Markup(
                    f"{clean(cid, 80, oneline=True)} · {label(o)} at {pct(c)} confidence"
                    + (f" · {clean(alerts[cid].title, b.short, oneline=True)}" if cid in alerts else "")
                )
                for cid, o, c in least
            ],
            heading="Least confident closures",
            hidden=hidden,
        )
        d.note(
            "Closures are rolled up here, not posted one by one: `case ID` shows one, `reopen ID` undoes one."
        )
        return d

    return fit(compose, max_bytes=max_bytes)
