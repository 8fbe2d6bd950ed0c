"""Making untrusted text inert (links, mentions, URLs, invisible characters) and formatting helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cards.text import (
    Markup,
    clean,
    clip,
    defang,
    duration,
    indicator,
    join_capped,
    span,
    utf8_clip,
    when,
)


def test_markdown_links_lose_their_link_syntax() -> None:
    """Given a markdown link in untrusted text, when cleaned, then no `](` remains and the URL is defanged."""
    out = clean("Click [Approve](https://evil.example/approve) now", 200)
    assert "](" not in out
    assert "hxxps://evil[.]example/approve" in out


def test_autolinks_urls_and_www_are_not_clickable() -> None:
    """Given autolinks, bare URLs and www hosts, when cleaned, then none is a clickable link any more."""
    out = clean("<https://a.example> <javascript:alert(1)> http://b.example www.c.example", 200)
    assert "<https:" not in out and "<javascript:" not in out
    assert "http://" not in out and "https://" not in out
    assert "www[.]c.example" in out


def test_card_date_functions_cannot_be_injected() -> None:
    """Given an Adaptive Cards {{DATE()}} function in untrusted text, when cleaned, then it is plain text."""
    assert "{{" not in clean("due {{DATE(2017-02-14T06:00:00Z, SHORT)}}", 200)


def test_webex_mentions_cannot_be_injected() -> None:
    """Given `<@all>` and a person mention in untrusted text, when cleaned, then nobody can be notified."""
    out = clean("<@all> and <@personEmail:ceo@example.com|CEO> and < @x", 200)
    assert "<@" not in out


def test_invisible_characters_cannot_hide_a_secret_or_spoof_text() -> None:
    """Given zero-width and bidi characters, when cleaned, then they are gone and the secret is redacted."""
    out = clean("pass\u200bword=hunter2 file\u202egpj.exe", 200)
    assert "hunter2" not in out
    assert "\u202e" not in out and "\u200b" not in out


def test_secrets_are_redacted_before_text_is_cut() -> None:
    """Given a private key that straddles the clip point, when cleaned short, then no key material leaks."""
    text = (
        "x" * 20 + "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    )
    out = clean(text, 60)
    assert "MIIE" not in out
    assert "[REDACTED PRIVATE KEY]" in out


def test_markup_passes_through_untouched() -> None:
    """Given text the cards package built itself, when cleaned, then its link stays."""
    link = Markup("[case](https://soc.example/c/1)")
    assert clean(link, 5) == link


def test_oneline_folds_newlines_and_blank_lines_are_collapsed() -> None:
    """Given multi-line text, when cleaned, then one-line values fold and paragraphs keep one blank line."""
    assert clean("a\nb\r\nc", 50, oneline=True) == "a b c"
    assert clean("a\n\n\n\n\nb", 50) == "a\n\nb"


def test_clip_and_utf8_clip_respect_their_limits() -> None:
    """Given long text, when clipped by characters or UTF-8 bytes, then it fits and says it was cut."""
    assert clip("abcdef", 4) == "abc…"
    assert clip("abc", 4) == "abc"
    cut = utf8_clip("é" * 5000, 7439)
    assert len(cut.encode("utf-8")) <= 7439 and cut.endswith("(cut to fit)")


def test_defang_network_indicators() -> None:
    """Given URLs, domains, IPs and e-mails, when defanged, then none is clickable and no password shows."""
    assert defang("https://evil.example.com/a.b") == "hxxps://evil.example[.]com/a.b"
    assert defang("10.0.2.8") == "10.0.2[.]8"
    assert defang("a@b.example") == "a[@]b[.]example"
    assert indicator("url", "http://user:pw@evil.example/x", 100) == "hxxp://user:[REDACTED]@evil[.]example/x"
    sha = "ab" * 32
    assert indicator("sha256", sha, 100) == sha


def test_lists_are_capped_with_and_n_more() -> None:
    """Given a long list, when joined with a cap, then it ends with "and N more"."""
    assert join_capped(["a", "b", "c", "d"], 2) == "a, b and 2 more"
    assert join_capped(["a"], 2) == "a"
    assert join_capped(["a", "b"], 0) == "and 2 more"


def test_times_and_durations_read_like_a_soc_writes_them() -> None:
    """Given times and durations, when formatted, then they are short, zoned and deterministic."""
    t = datetime(2025, 7, 5, 8, 0, tzinfo=UTC)
    assert when(t, ZoneInfo("UTC")) == "2025-07-05 08:00 UTC"
    assert when(t, ZoneInfo("Europe/Berlin")) == "2025-07-05 10:00 CEST"
    assert span(t, t.replace(hour=14), ZoneInfo("UTC")) == "2025-07-05 08:00 – 14:00 UTC"
    assert span(t, t.replace(day=6), ZoneInfo("UTC")) == "2025-07-05 08:00 – 2025-07-06 08:00 UTC"
    assert [duration(s) for s in (42, 252, 7500, 200000)] == ["42s", "4m 12s", "2h 05m", "2d 07h"]
