"""File sources: real Wazuh and GUIDE records round-trip; bad input is rejected, not lost; cursors resume."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from aisoc.bus import Bus
from aisoc.events import Alert, Disposition
from aisoc.sources import RecordedSource, Rejected, ingest, open_source
from integrations.errors import SourceError
from integrations.guide import PLACEHOLDERS, normalize_incident
from integrations.samples import demo_source
from integrations.wazuh import WazuhFileSource

DATA = Path(__file__).resolve().parents[2] / "data"
WAZUH = DATA / "wazuh" / "alerts.jsonl"


def test_every_real_wazuh_record_normalizes_with_its_label() -> None:
    """Given the 89 real Wazuh records, when read, then all normalize: 52 TP escalated, 37 FP closed."""
    source = open_source("wazuh", str(WAZUH))
    assert isinstance(source, RecordedSource)
    pairs = list(source.records())
    assert not [a for a, _ in pairs if isinstance(a, Rejected)]
    labels = Counter((t.label, t.escalated) for _, t in pairs if t)
    assert labels == {(Disposition.TRUE_POSITIVE, True): 52, (Disposition.FALSE_POSITIVE, False): 37}


def test_wazuh_model_view_hides_the_label_and_export_envelope() -> None:
    """Given the real Wazuh records, when viewed by a model, then no label, _version or _index is visible."""
    for alert, _ in WazuhFileSource(WAZUH).records():
        assert isinstance(alert, Alert)
        text = json.dumps(alert.model_view())
        assert '"label"' not in text and '"_version"' not in text and '"_index"' not in text
        assert alert.raw["alert"]["_source"] == alert.model_view()["raw"]["alert"]["_source"]


def test_wazuh_bad_lines_are_rejected_with_reason_and_payload(tmp_path: Path) -> None:
    """Given a file mixing a good record, garbage, a non-object and a broken alert, when read, then each bad
    line becomes a Rejected naming its line and carrying the line verbatim."""
    good = WAZUH.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([good, "{not json", "[1, 2]", '{"alert": {"_source": {}}}', ""]) + "\n")
    items = [a for a, _ in WazuhFileSource(path).records()]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(items) == 4 and len(rejected) == 3
    assert [r.payload for r in rejected] == ["{not json", "[1, 2]", '{"alert": {"_source": {}}}']
    assert rejected[0].reason.startswith("line 2: not JSON")
    assert rejected[2].reason == "line 4: missing field '_id'"


def test_wazuh_cursor_resumes_and_waits_for_an_incomplete_line(tmp_path: Path) -> None:
    """Given a file whose last line is half written, when polled twice around its completion, then each alert
    comes out once and the cursor only passes complete lines."""
    lines = WAZUH.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "growing.jsonl"
    path.write_text(lines[0] + lines[1][:50])
    source = WazuhFileSource(path)
    first = list(source.poll())
    assert (
        len(first) == 1
        and (source.cursor or "").split("@")[0] == str(len(lines[0].encode()))
        and source.pending_bytes == 50
    )
    path.write_text(lines[0] + lines[1] + lines[2])
    resumed = WazuhFileSource(path)
    resumed.restore(source.cursor or "0")
    second = [a.source_id for a in resumed.poll() if isinstance(a, Alert)]
    assert second == [json.loads(lines[1])["id"], json.loads(lines[2])["id"]]


def test_wazuh_reads_stdin() -> None:
    """Given records on stdin, when the source reads '-', then they normalize like a file's."""
    data = b"".join(WAZUH.read_bytes().splitlines(keepends=True)[:3])
    source = open_source("wazuh", "-", stdin=io.BytesIO(data))
    assert len([a for a in source.poll() if isinstance(a, Alert)]) == 3


def test_missing_file_is_a_clear_error() -> None:
    """Given a path that does not exist or none at all, when opened, then a SourceError names the problem."""
    with pytest.raises(SourceError, match="does not exist"):
        open_source("wazuh", "/nonexistent/alerts.jsonl")
    with pytest.raises(SourceError, match="needs a file"):
        open_source("wazuh", None)


def test_demo_source_still_feeds_the_demo() -> None:
    """Given the bundled sample, when ingested, then its 12 alerts are published once each."""
    bus = Bus()
    stats = ingest(demo_source(), bus)
    again = ingest(demo_source(), bus)
    assert (stats.published, again.published, again.duplicates) == (12, 0, 12)


def test_every_real_guide_incident_normalizes_in_time_order() -> None:
    """Given the real GUIDE evidence, when read, then 2,346 incidents come out oldest first, with grades."""
    pairs = list(open_source("guide", str(DATA / "guide" / "evidence.csv")).records())
    alerts = [a for a, _ in pairs if isinstance(a, Alert)]
    assert len(alerts) == len(pairs) == 2346
    assert [a.created_at for a in alerts] == sorted(a.created_at for a in alerts)
    grades = Counter(t.label for _, t in pairs if t)
    assert grades == {
        Disposition.BENIGN: 1213,
        Disposition.TRUE_POSITIVE: 585,
        Disposition.FALSE_POSITIVE: 548,
    }
    assert all(t.escalated == (t.label is Disposition.TRUE_POSITIVE) for _, t in pairs if t)


def test_guide_leaking_columns_and_placeholders_never_reach_a_model() -> None:
    """Given the real GUIDE incidents, when viewed by a model, then no grade, action, verdict or usage column
    shows and no placeholder value is an indicator."""
    placeholders = {(col, v) for col, v in PLACEHOLDERS.items()}
    for alert, _ in open_source("guide", str(DATA / "guide" / "evidence.csv")).records():
        assert isinstance(alert, Alert)
        rows = alert.model_view()["raw"]["rows"]
        assert all(
            not {"IncidentGrade", "ActionGrouped", "ActionGranular", "LastVerdict", "Usage"} & set(r)
            for r in rows
        )
        for i in alert.indicators:
            column = (i.field or "").removeprefix("rows.")
            assert (column, i.value.split(":")[-1]) not in placeholders
        assert alert.raw["rows"][0]["IncidentGrade"]  # the raw record keeps everything


def test_hand_checked_guide_incident() -> None:
    """Given GUIDE incident 0-509 (evidence.csv lines 590, 1227, 3501: three alerts of detector 0, all
    InitialAccess with T1078;T1078.004, graded TruePositive; line 3501 at 00:54:56 is the first, a User
    with AccountSid 975, AccountUpn 1353, AccountObjectId 973, AccountName 1035; line 590 an Ip row with
    IpAddress 37; line 1227 a CloudLogonSession whose entity columns are all placeholders), when read, then
    exactly those entities come out, timed at the first row."""
    by_id = {
        a.case_id: (a, t) for a, t in open_source("guide", str(DATA / "guide" / "evidence.csv")).records()
    }
    alert, truth = by_id["0/guide:509"]
    assert isinstance(alert, Alert) and truth is not None and truth.escalated
    assert (alert.tenant, alert.rule, alert.techniques) == ("0", "0", ["T1078", "T1078.004"])
    assert alert.created_at.isoformat() == "2024-06-09T00:54:56+00:00"
    assert {(i.type.value, i.value) for i in alert.indicators} == {
        ("account_id", "sid:975"),
        ("account_id", "oid:973"),
        ("ip", "37"),
    }
    assert alert.users == ["upn:1353", "name:1035"] and alert.hosts == []
    assert alert.title == "InitialAccess alert (GUIDE title 0) and 2 more alert(s)"


def test_guide_bad_rows_are_rejected_and_missing_columns_refused(tmp_path: Path) -> None:
    """Given a GUIDE file with a short row and a bad timestamp, when read, then both are rejected with their
    line, the good incident still comes out; so is a row that is not UTF-8; a file without the GUIDE columns
    is refused."""
    lines = (DATA / "guide" / "evidence.csv").read_text(encoding="utf-8").splitlines()
    bad_time = lines[1].replace("2024-06-04T22:56:27.000Z", "yesterday")
    path = tmp_path / "evidence.csv"
    path.write_text("\n".join([lines[0], lines[2], "1,2,3", bad_time]) + "\n")
    items = [a for a, _ in open_source("guide", str(path)).records()]
    reasons = sorted(i.reason for i in items if isinstance(i, Rejected))
    assert len([i for i in items if isinstance(i, Alert)]) == 1
    assert reasons[0].startswith("line 3: expected 46 fields") and reasons[1].startswith("line 4:")
    # A row written in another encoding (Latin-1 bytes in a UTF-8 file) is rejected with its bytes shown.
    foreign = lines[2].replace(lines[2].split(",")[1], "caf\u00e9", 1).encode("latin-1")
    path.write_bytes(("\n".join([lines[0], lines[2]]) + "\n").encode() + foreign + b"\n")
    items = [a for a, _ in open_source("guide", str(path)).records()]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len([i for i in items if isinstance(i, Alert)]) == 1
    assert [r.reason for r in rejected] == ["line 3: not UTF-8 text"] and "caf\\xe9" in rejected[0].payload
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SourceError, match="missing column"):
        list(open_source("guide", str(tmp_path / "other.csv")).records())


def test_guide_cursor_resumes_after_the_last_incident() -> None:
    """Given a GUIDE source polled for 10 incidents, when a new one resumes from its cursor, then it starts
    with the 11th incident."""
    path = str(DATA / "guide" / "evidence.csv")
    first = open_source("guide", path)
    bus = Bus()
    ingest(first, bus, limit=10)
    resumed = open_source("guide", path)
    resumed.restore(first.cursor)
    nxt = next(iter(resumed.poll()))
    everything = [a.source_id for a, _ in open_source("guide", path).records()]
    assert isinstance(nxt, Alert) and nxt.source_id == everything[10]


def test_guide_entity_columns_share_numbers_but_not_keys() -> None:
    """Given one row whose AccountSid and AccountObjectId hold the same integer, when normalized, then they
    stay two distinct indicators."""
    row = dict.fromkeys(PLACEHOLDERS, "") | {k: v for k, v in PLACEHOLDERS.items()}
    row |= {
        "Timestamp": "2024-01-01T00:00:00Z",
        "AccountSid": "7",
        "AccountObjectId": "7",
        "IncidentGrade": "x",
    }
    alert = normalize_incident("1", "2", [row])
    assert {i.value for i in alert.indicators} == {"sid:7", "oid:7"}


def test_every_aggregated_guide_incident_normalizes() -> None:
    """Given the 22,446 aggregated GUIDE incidents, when read, then all normalize with their grades hidden."""
    pairs = list(open_source("guide-incidents", str(DATA / "guide" / "incidents.csv.gz")).records())
    assert len(pairs) == 22446 and not [a for a, _ in pairs if isinstance(a, Rejected)]
    assert Counter(t.label for _, t in pairs if t) == {
        Disposition.BENIGN: 10984,
        Disposition.FALSE_POSITIVE: 6763,
        Disposition.TRUE_POSITIVE: 4699,
    }
    first = pairs[0][0]
    assert isinstance(first, Alert) and "IncidentGrade" not in first.model_view()["raw"]
    assert first.source_id == "54" and "T1078.004" in first.techniques


def test_hostile_wazuh_lines_are_rejected_one_by_one_and_the_batch_goes_on(tmp_path: Path) -> None:
    """Given real Wazuh records mutated into JSON nested 3,000 deep (past Python's parser), a record
    nested 300 deep (past the bus's serializer), two records without any id and one with a 300-character
    id, followed by real records, when ingested, then each mutated line is a dead letter with its reason
    and every real record is published as its own case."""
    lines = WAZUH.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])

    def mutated(**changes: object) -> str:
        return json.dumps({**record, **changes})

    deep = mutated(id="deep").replace(
        '"input": {"type": "log"}', '"input": ' + '{"a":' * 300 + "1" + "}" * 300
    )
    too_deep = '{"a":' * 3000 + "1" + "}" * 3000
    no_id = {**record["alert"], "_id": None}
    path = tmp_path / "hostile.jsonl"
    path.write_text(
        "\n".join(
            [
                too_deep,
                deep,
                mutated(id=None, alert=no_id),
                mutated(id="", alert=no_id),
                mutated(id="x" * 300),
            ]
            + lines[1:4]
        )
        + "\n"
    )
    bus = Bus()
    stats = ingest(open_source("wazuh", str(path)), bus)
    assert (stats.published, stats.rejected, stats.duplicates) == (3, 5, 0)
    reasons = [dl.reason for dl in bus.dead_letters()]
    assert reasons[0] == "wazuh: line 1: JSON nested too deep to read"
    assert "nested deeper than 64 levels" in reasons[1]
    assert all("no usable id" in r for r in reasons[2:4]) and "source_id" in reasons[4]
    assert len({e.case_id for e in bus.audit}) == 3


def test_hostile_guide_rows_are_rejected_one_by_one_and_no_incident_is_skipped(tmp_path: Path) -> None:
    """Given the first real GUIDE evidence rows with one row holding a 200 KB field, one a byte that is
    not UTF-8, one a timestamp without an offset and one with a +05:00 offset, when ingested, then the
    first two rows are dead letters with their reason and every incident of the other rows is
    published (the offset one does not make later incidents look already read)."""
    head, *rows = (DATA / "guide" / "evidence.csv").read_bytes().splitlines()[:40]

    def with_field(row: bytes, index: int, value: bytes) -> bytes:
        fields = row.split(b",")
        fields[index] = value
        return b",".join(fields)

    plain = tmp_path / "plain.csv"
    plain.write_bytes(b"\n".join([head, *rows]) + b"\n")
    expected = ingest(open_source("guide", str(plain)), Bus()).published
    timestamp = rows[7].split(b",")[4]
    hostile = [
        *rows[:5],
        with_field(rows[5], 6, b"X" * 200_000),
        rows[6] + b"\xff",
        with_field(rows[7], 4, timestamp.removesuffix(b"Z").removesuffix(b".000")),
        with_field(rows[8], 4, timestamp.replace(b".000Z", b"+05:00")),
        *rows[9:],
    ]
    path = tmp_path / "hostile.csv"
    path.write_bytes(b"\n".join([head, *hostile]) + b"\n")
    bus = Bus()
    stats = ingest(open_source("guide", str(path)), bus)
    reasons = [dl.reason for dl in bus.dead_letters()]
    assert reasons == [
        "guide: line 7: field larger than field limit (131072)",
        "guide: line 8: not UTF-8 text",
    ]
    assert stats.published == expected - 2 and stats.rejected == 2


def test_a_guide_gzip_cut_short_is_a_source_error_naming_the_file_and_line(tmp_path: Path) -> None:
    """Given a gzip of real GUIDE evidence cut in the middle (a copy that stopped), when ingested, then a
    SourceError names the file and the last line read, and no incident is published from it (its
    rows may continue past the break)."""
    import gzip

    data = (DATA / "guide" / "evidence.csv").read_bytes()[:200_000]
    packed = gzip.compress(data)
    path = tmp_path / "evidence.csv.gz"
    path.write_bytes(packed[: len(packed) // 2])
    bus = Bus()
    with pytest.raises(SourceError, match=r"evidence\.csv\.gz: cannot be read past line \d+"):
        ingest(open_source("guide", str(path)), bus)
    assert len(bus.audit) == 0


@pytest.mark.parametrize("column", [1, 6, 45])
def test_an_unbalanced_quote_rejects_its_row_and_the_rows_after_it_are_read(
    tmp_path: Path, column: int
) -> None:
    """Given the first real GUIDE evidence rows with one quote opened and never closed (in the second
    column, a middle one, or the last), when ingested, then that row alone is a dead letter naming
    its line and the quote, and every incident of the other rows is published."""
    head, *rows = (DATA / "guide" / "evidence.csv").read_bytes().splitlines()[:40]
    fields = rows[5].split(b",")
    fields[column] = b'"' + fields[column]
    broken = b",".join(fields)
    rest = [*rows[:5], *rows[6:]]
    plain = tmp_path / "plain.csv"
    plain.write_bytes(b"\n".join([head, *rest]) + b"\n")
    expected = ingest(open_source("guide", str(plain)), Bus()).published
    path = tmp_path / "quote.csv"
    path.write_bytes(b"\n".join([head, *rows[:5], broken, *rows[6:]]) + b"\n")
    bus = Bus()
    stats = ingest(open_source("guide", str(path)), bus)
    (letter,) = bus.dead_letters()
    assert letter.reason == (
        "guide: line 7: a quoted field runs past the end of the line (an unbalanced quote?)"
    )
    assert letter.payload == broken.decode()
    assert stats.published == expected and stats.rejected == 1


def _ids(items: Iterable[Alert | Rejected]) -> list[str]:
    return [a.source_id if isinstance(a, Alert) else f"rejected: {a.reason}" for a in items]


def test_a_followed_file_rotated_or_truncated_loses_no_alert(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a Wazuh file followed to its end, then appended to and rotated (renamed, created again),
    when polled, then the rest of the old file comes first and the new file from its start; a file
    cut short (copytruncate) is read from its start; a rotated file moved elsewhere is said to be
    gone; a cursor of an older release (a bare offset) resumes in the current file."""
    lines = WAZUH.read_text(encoding="utf-8").splitlines(keepends=True)
    ids = [json.loads(line)["id"] for line in lines]
    path = tmp_path / "alerts.json"
    path.write_text("".join(lines[:3]))
    source = WazuhFileSource(path)
    assert _ids(source.poll()) == ids[:3]
    with path.open("a") as f:
        f.write(lines[3])  # appended after the last poll, before the rotation
    path.rename(tmp_path / "alerts.json.1")
    path.write_text(lines[4])
    assert _ids(source.poll()) == ids[3:5]
    with path.open("a") as f:
        f.write("".join(lines[5:9]))
    assert _ids(source.poll()) == ids[5:9]
    path.write_text(lines[9])  # copytruncate: the same file, shorter than the cursor
    with caplog.at_level("WARNING"):
        assert _ids(source.poll()) == ids[9:10]
    assert "shorter" in caplog.text
    saved = source.cursor or ""
    (tmp_path / "archive").mkdir()
    path.rename(tmp_path / "archive" / "alerts.json")
    path.write_text(lines[10])
    resumed = WazuhFileSource(path)
    resumed.restore(saved)
    with caplog.at_level("WARNING"):
        assert _ids(resumed.poll()) == ids[10:11]
    assert "is no longer in" in caplog.text
    legacy = WazuhFileSource(path)
    legacy.restore("0")
    assert _ids(legacy.poll()) == ids[10:11]
