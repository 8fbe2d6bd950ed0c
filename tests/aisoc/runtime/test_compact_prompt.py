"""Say less, lose nothing: each value said once, the raw record cut field by field, tool results by budget,
and traces of either layout rebuilt exactly from the log."""

from __future__ import annotations

import json

from aisoc import Bus, events
from aisoc.events.trace import (
    CONTROL_MAPPINGS,
    GUID,
    TraceMessage,
    alert_view2_text,
    alert_view3_text,
    alert_view_text,
    legacy_alert_view_text,
)
from aisoc.runtime import RoleTeam
from aisoc.tools import tool
from integrations.wazuh import WazuhFileSource
from roles import Sentinel
from tests.aisoc.runtime.test_loop import DATA, GOOD, real_alert
from tests.support.fake_model import ScriptedChatModel, call


def _alerts() -> list[events.Alert]:
    return [a for a in WazuhFileSource(DATA / "wazuh/alerts.jsonl").poll() if isinstance(a, events.Alert)]


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def test_every_real_alert_view_says_each_value_once_and_stays_valid_json() -> None:
    """Given every real Wazuh alert, the view is JSON without empty fields, its raw record repeats no
    value the normalized fields hold, and the raw record stays near its limit with the cut counted."""
    for alert in _alerts():
        view = json.loads(alert_view_text(alert, 600))
        assert all(v not in (None, "", [], {}) for v in view.values())
        said = {
            alert.title,
            alert.source_id,
            *alert.hosts,
            *alert.users,
            *(i.value for i in alert.indicators),
        }
        assert not said & {x for x in _leaves(view.get("raw", {})) if isinstance(x, str)}
        assert alert.techniques == view.get("techniques", [])
        raw = json.dumps(view.get("raw", {}), separators=(",", ":"), ensure_ascii=False)
        assert len(raw) <= 600 + 400
        if len(json.dumps(alert.model_view()["raw"])) > 2000:
            assert view["raw_elided_fields"] > 0


def test_the_view_left_out_fields_an_analyst_wrote_as_before() -> None:
    """The compact view is still built from the model view: the export envelope stays out."""
    leaking = next(a for a in _alerts() if "_version" in json.dumps(a.raw))
    assert "_version" not in alert_view_text(leaking, 100_000)


def test_traces_of_the_new_and_the_old_layouts_rebuild_exactly() -> None:
    """A trace recorded with the compact view (``alert_view/4``), and ones recorded before it
    (``alert_view/3``, ``alert_view/2``, ``alert_view``), all rebuild to the exact text sent."""
    event = real_alert()
    model = ScriptedChatModel(scripts={"sentinel": [GOOD]})
    team = RoleTeam(model=model, bus=Bus(), roles=[Sentinel])
    (verdict, *_) = team.run_role("sentinel", event)
    trace = verdict.trace
    assert trace is not None and trace.messages[1].parts[0].kind == "alert_view/4"
    (_, text, exact) = trace.rebuilt_messages({event.event_id: event}.get)[1]
    assert exact and text == model.calls[0][1][1].content
    from aisoc.events import SharedPart

    for kind, render in (
        ("alert_view", legacy_alert_view_text),
        ("alert_view/2", alert_view2_text),
        ("alert_view/3", alert_view3_text),
    ):
        old_text = "<<<DATA-x\n" + render(event.alert, 1200) + "\nDATA-x>>>"
        lean = TraceMessage.lean(
            "human", old_text, [SharedPart(render(event.alert, 1200), event.event_id, 1200)]
        )
        old = lean.model_copy(update={"parts": [p.model_copy(update={"kind": kind}) for p in lean.parts]})
        assert old.rebuilt({event.event_id: event}.get) == (old_text, True), kind


def test_the_compact_view_says_a_file_once_leaves_guids_out_and_counts_them() -> None:
    """Given every real Wazuh alert, the compact view writes indicators as ``type:value`` strings,
    no case id and the time to the second; where a raw field names a file's MD5 or SHA-1 beside its
    SHA-256 (Sysmon's ``hashes``), only the SHA-256 is listed; every other indicator is; no raw
    value is a GUID, and each GUID left out is counted in ``raw_elided_fields``."""
    paired = 0
    for alert in _alerts():
        view = json.loads(alert_view_text(alert, 450))
        old = json.loads(alert_view2_text(alert, 450))
        assert "case_id" not in view and len(view["created_at"]) == len("2025-07-05T13:02:36Z")
        shown = view.get("indicators", [])
        assert all(isinstance(i, str) and ":" in i for i in shown)
        texts = [x.lower() for x in _leaves(alert.model_view()["raw"]) if isinstance(x, str)]
        sha256s = [s.value.lower() for s in alert.indicators if s.type.value == "sha256"]
        for i in alert.indicators:
            said = f"{i.type.value}:{i.value}" + (" (private)" if i.private else "")
            weaker_of_a_file = i.type.value in ("md5", "sha1") and any(
                i.value.lower() in t and any(s in t for s in sha256s) for t in texts
            )
            assert (said not in shown) == weaker_of_a_file, (alert.source_id, said)
            paired += weaker_of_a_file
        guids = [x for x in _leaves(view.get("raw", {})) if isinstance(x, str) and GUID.fullmatch(x)]
        assert not guids
        if any(isinstance(x, str) and GUID.fullmatch(x) for x in _leaves(old.get("raw", {}))):
            assert view.get("raw_elided_fields", 0) > 0
    assert paired > 20  # the real data set has Sysmon hashes: the rule was exercised
    sysmon = next(a for a in _alerts() if "SHA256=" in json.dumps(a.raw) and "MD5=" in json.dumps(a.raw))
    kinds = [i.split(":", 1)[0] for i in json.loads(alert_view_text(sysmon, 450))["indicators"]]
    assert "sha256" in kinds and "md5" not in kinds and "sha1" not in kinds


def test_tool_results_shown_to_the_model_share_one_budget_per_invocation() -> None:
    """Given a small model (raw limit 600: a 2,400-character tool budget) calling a tool four times
    for 4,000 characters each, the first result is cut to the budget and the later ones to the floor."""

    @tool(name="case_lookup")
    def big(case_id: str) -> str:
        """Big answer."""
        return "x" * 4000

    model = ScriptedChatModel(
        scripts={"sentinel": [*[call("case_lookup", {"case_id": "c"}, n) for n in range(4)], GOOD]}
    )
    model.metadata = {"aisoc_raw_limit": 600}  # what a small model's spec declares
    team = RoleTeam(model=model, tools=[big], bus=Bus(), roles=[Sentinel])
    (verdict, *_) = team.run_role("sentinel", real_alert())
    sizes = [len(c.result) for c in verdict.trace.tool_calls]
    assert sizes[0] == 2400 and sizes[1:] == [300, 300, 300]
    assert all("truncated" in c.result for c in verdict.trace.tool_calls)


def test_a_weaker_hash_that_no_raw_field_names_beside_a_sha256_stays_in_the_view() -> None:
    """Given a real Sysmon alert whose ``hashes`` field is split so that its MD5 stands alone (another
    file's hash, as far as the record shows), when rendered, then the MD5 is listed beside the
    SHA-256, and the SHA-1 still named beside the SHA-256 is not; a raw record of no strings at all
    renders too."""
    alert = next(a for a in _alerts() if "SHA256=" in json.dumps(a.raw) and "MD5=" in json.dumps(a.raw))
    md5 = next(i.value for i in alert.indicators if i.type.value == "md5")

    def split(value: object) -> object:
        if isinstance(value, dict):
            return {k: split(v) for k, v in value.items()} | (
                {"other_file": f"MD5={md5.upper()}"}
                if any(f"MD5={md5.upper()}" in str(v) for v in value.values())
                else {}
            )
        if isinstance(value, str) and "SHA256=" in value:
            return ",".join(p for p in value.split(",") if not p.upper().startswith("MD5="))
        return value

    kinds = [
        i.split(":", 1)[0]
        for i in json.loads(alert_view_text(alert.model_copy(update={"raw": split(alert.raw)}), 450))[
            "indicators"
        ]
    ]
    assert "md5" in kinds and "sha256" in kinds and "sha1" not in kinds
    bare = alert.model_copy(update={"raw": {"n": 1, "list": [1, 2.5, None, True]}})
    view = json.loads(alert_view_text(bare, 450))
    assert view["raw"] == {"n": 1, "list": [1, 2.5, True]} and "md5" in [
        i.split(":", 1)[0] for i in view["indicators"]
    ]


def test_the_view_leaves_out_control_mappings_and_restated_levels_and_keeps_the_evidence() -> None:
    """Given every real Wazuh alert, ``alert_view/4`` shows no compliance control mapping (PCI DSS,
    GDPR, HIPAA...: the rule's, the same on every alert of it) and no level or priority field that
    restates ``severity_original``, counts the mappings as left out, and at the local model's limit
    (400 characters) shows at least as many other raw fields as ``alert_view/3`` did at 450."""

    def keyed(value: object, key: str = "") -> list[tuple[str, object]]:
        if isinstance(value, dict):
            return [x for k, v in value.items() for x in keyed(v, k)]
        if isinstance(value, list):
            return [x for v in value for x in keyed(v, key)]
        return [(key, value)]

    def levelled(key: str) -> bool:
        return any(w in key.lower() for w in ("level", "priority", "severity"))

    def evidence(view: dict[str, object]) -> int:
        return sum(1 for k, _ in keyed(view.get("raw", {})) if k not in CONTROL_MAPPINGS and not levelled(k))

    mapped = shown_before = shown_now = 0
    for alert in _alerts():
        view = json.loads(alert_view_text(alert, 100_000))
        keys = {k for k, _ in keyed(view.get("raw", {}))}
        assert not keys & CONTROL_MAPPINGS
        words = set((alert.severity_original or "").replace("(", " ").replace(")", " ").split())
        raw = keyed(view.get("raw", {}))
        assert not [v for k, v in raw if k.endswith(("_level", "_priority")) and str(v) in words]
        raw_keys = {k for k, _ in keyed(alert.model_view()["raw"])}
        if raw_keys & CONTROL_MAPPINGS:
            mapped += 1
            assert view["raw_elided_fields"] >= 1  # counted, as every other field left out
        shown_before += evidence(json.loads(alert_view3_text(alert, 450)))
        shown_now += evidence(json.loads(alert_view_text(alert, 400)))
    assert mapped >= 10  # the real Linux alerts carry them: the rule was exercised
    assert shown_now >= shown_before


def test_a_level_field_that_says_something_else_stays() -> None:
    """Given an alert whose raw record has a level that is not its original severity's (Suricata's own
    severity 2 beside Wazuh's level 3), a boolean under a severity key, and a control mapping, the
    view keeps the other level and the boolean and leaves out the mapping and the restated level;
    shown to a role that reads no raw record, it says nothing of the record."""
    alert = real_alert().alert
    assert alert is not None
    odd = alert.model_copy(
        update={
            "severity_original": "level 3 (Low)",
            "raw": {"rule_level": 3, "alert": {"severity": "2", "severity_set": True}, "pci_dss": ["10.2.4"]},
        }
    )
    view = json.loads(alert_view_text(odd, 450))
    assert view["raw"] == {"alert": {"severity": "2", "severity_set": True}}
    assert view["raw_elided_fields"] == 1
    assert json.loads(alert_view3_text(odd, 450))["raw"]["pci_dss"] == ["10.2.4"]
    unread = json.loads(alert_view_text(odd, 0))  # a role that reads no raw record (IR Lead)
    assert "raw" not in unread and "raw_elided_fields" not in unread
    assert json.loads(alert_view3_text(odd, 0))["raw_elided_fields"] == 4  # as traces of /3 were
