"""One named real-data event per card kind, with the context the bot would pass."""

from __future__ import annotations

from aisoc.events import Event
from cards import CardContext
from tests.cards.factories import (
    CURL,
    SHELLSHOCK,
    SQLI,
    alert,
    attribution,
    closed,
    context,
    decided,
    executed,
    plan,
    review,
    tier2,
    triage,
)
from tests.cards.report_factories import campaign, hunt, shift, tuning


def sample_events() -> list[tuple[str, Event, CardContext]]:
    """One named event per card kind, with the context the bot would pass (for schema and snapshot tests)."""
    curl, sqli, shock = alert(CURL), alert(SQLI), alert(SHELLSHOCK)
    p = plan(curl)
    ctx = context(curl, p)
    prop = ctx.proposals["act-1"]
    shock_plan = plan(shock, sev="SEV-1", actions=7)
    return [
        ("triage_malicious", triage(curl), context(curl)),
        (
            "triage_closed_sqli",
            triage(sqli, routed="closed", verdict="benign", summary=sqli.description),
            context(sqli),
        ),
        ("tier2_escalate", tier2(curl), context(curl)),
        ("tier2_human_review", tier2(sqli, decision="human_review"), context(sqli)),
        ("plan_sev2", p, ctx),
        ("plan_sev1_overflow", shock_plan, context(shock, shock_plan)),
        ("plan_sev4_no_actions", plan(curl, sev="SEV-4", actions=0), context(curl)),
        ("action_proposed", prop, ctx),
        *[(f"action_{d}", decided(prop, d), ctx) for d in ("approved", "rejected", "expired", "cancelled")],
        ("action_executed", executed(prop), ctx),
        ("intel_attribution", attribution(curl), context(curl)),
        ("review_requested", review(curl), context(curl)),
        ("case_closed", closed(curl), context(curl)),
        ("shift_summary", shift(), CardContext()),
        ("detection_tuning", tuning(), CardContext()),
        ("hunt_proposal", hunt(), CardContext()),
        ("campaign_detected", campaign(), CardContext()),
    ]
