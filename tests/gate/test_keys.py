"""Keys that mean something: sessions and links are signed with separate keys, the bot holds no key that
can make a session, weak or blank keys stop the gate at start, each kind rotates, /metrics needs a token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from aisoc.bus import Bus
from aisoc.cli import main
from aisoc.errors import ConfigError
from bot.service import Bot
from bot.settings import BotSettings
from gate import Gate, load_gate_settings
from gate.app import create_app
from gate.links import approval_url
from gate.settings import GateSettings
from gate.tokens import LinkSigner
from tests.gate.factory import (
    LINK_KEYS,
    SESSION_KEYS,
    Clock,
    forge_session,
    gate_settings,
    publish_case,
)
from tests.gate.test_roster import ROSTER_TOML

GOOD = "k7Qm2Zr9XwP4sVt8Lb3Nc6Yd1Hf5Jg0aE"
"""A key that passes: 34 bytes, plenty of different characters."""
WEAK = [
    "",
    " ",
    "   \t  ",
    "x",
    "a" * 31,
    "changeme" * 4,  # 32 bytes, 7 different characters: a placeholder, not a secret
    "0" * 64,
    f" {GOOD}",
    f"{GOOD}\n",
]


def webex(**overrides: Any) -> GateSettings:
    """A gate that logs people in with Webex (sessions are what it accepts)."""
    return gate_settings(
        auth=["webex"],
        webex_client_id="cid",
        webex_client_secret="csecret",
        webex_token_url="http://127.0.0.1:9/token",
        webex_people_url="http://127.0.0.1:9/me",
        **overrides,
    )


def logged_in_as(settings: GateSettings, bus: Bus, cookie_key: str) -> int:
    """Status of step one for a browser whose Webex session for Alice is signed with ``cookie_key``."""
    gate = Gate(bus, settings, clock=Clock())
    req = gate.submit(publish_case(bus).proposal)
    app = create_app(settings, gate=gate)
    client = app.test_client()
    client.set_cookie(
        app.config["SESSION_COOKIE_NAME"], forge_session(cookie_key, {"pid": "alice", "src": "webex-oauth"})
    )
    return client.get(approval_url(settings, req).removeprefix(settings.base_url)).status_code


# --- strength, checked at start ----------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["session_keys", "link_keys", "metrics_tokens"])
@pytest.mark.parametrize("weak", WEAK)
def test_weak_or_blank_keys_are_refused_at_start_naming_the_setting(
    tmp_path: Path, setting: str, weak: str
) -> None:
    """Given a blank, short, placeholder or padded key, when the gate's settings load, then they are
    refused with a message naming the setting (and never repeating the key)."""
    keys = {"session_keys": [SESSION_KEYS[0]], "link_keys": [LINK_KEYS[0]], setting: [weak]}
    path = tmp_path / "aisoc.toml"
    path.write_text("[gate]\n" + "".join(f"{name} = {json.dumps(ks)}\n" for name, ks in keys.items()))
    with pytest.raises(ConfigError) as e:
        load_gate_settings(path)
    message = str(e.value)
    assert setting in message and "aisoc gate new-secret" in message
    assert any(why in message for why in ("blank", "32 bytes", "different characters", "whitespace"))
    if len(weak.strip()) > 3:
        assert weak.strip() not in message


def test_a_strong_key_passes_and_new_secret_prints_one_that_does(capsys: pytest.CaptureFixture[str]) -> None:
    """Given `aisoc gate new-secret`, when run twice, then each key differs and passes for every kind."""
    printed = []
    for _ in range(2):
        assert main(["gate", "new-secret"]) == 0
        printed.append(capsys.readouterr().out.strip())
    assert printed[0] != printed[1]
    s = GateSettings(session_keys=[printed[0]], link_keys=[printed[1]], metrics_tokens=[GOOD])
    assert s.session_keys[0].get_secret_value() == printed[0]


def test_session_and_link_keys_must_differ(tmp_path: Path) -> None:
    """Given one key listed both as a session key and a link key, then the settings are refused (the bot
    holds link keys, so a shared key would let it sign sessions), and no key is repeated in the refusal."""
    path = tmp_path / "aisoc.toml"
    keys = {"session_keys": [GOOD, SESSION_KEYS[0]], "link_keys": [LINK_KEYS[0], GOOD]}
    path.write_text("[gate]\n" + "".join(f"{name} = {json.dumps(ks)}\n" for name, ks in keys.items()))
    with pytest.raises(ConfigError, match="link_keys") as e:
        load_gate_settings(path)
    assert not any(k in str(e.value) for k in (GOOD, SESSION_KEYS[0], LINK_KEYS[0]))
    with pytest.raises(ValueError, match="metrics_tokens"):
        GateSettings(link_keys=[LINK_KEYS[0]], metrics_tokens=[LINK_KEYS[0]])


def test_the_old_single_key_setting_is_refused_with_how_to_split_it(tmp_path: Path) -> None:
    """Given last release's secret_keys, when loading, then the refusal says what replaces it."""
    path = tmp_path / "aisoc.toml"
    path.write_text(f'[gate]\nsecret_keys = ["{GOOD}"]\n')
    with pytest.raises(ConfigError, match="session_keys") as e:
        load_gate_settings(path)
    assert "link_keys" in str(e.value) and GOOD not in str(e.value)


def test_the_pages_need_both_kinds_of_keys_outside_demo_mode(bus: Bus) -> None:
    """Given production settings without session keys or link keys, when the app starts, then it is
    refused naming the missing setting; the demo makes per-process keys of both kinds."""
    with pytest.raises(ConfigError, match="session_keys"):
        create_app(gate_settings(session_keys=[]), gate=Gate(bus, gate_settings(), clock=Clock()))
    with pytest.raises(ConfigError, match="link_keys"):
        create_app(gate_settings(link_keys=[]), gate=Gate(bus, gate_settings(), clock=Clock()))
    demo = GateSettings(demo=True)
    assert demo.session_keys and demo.link_keys and demo.session_keys != demo.link_keys


# --- separation: a link key cannot make a session --------------------------------------------------------


def test_a_link_key_cannot_sign_a_session(store_bus: Bus) -> None:
    """Given a session cookie for Alice signed with a link key, then the gate ignores it; signed with the
    session key it is Alice (so the refusal is the key's doing)."""
    settings = webex()
    assert logged_in_as(settings, store_bus, LINK_KEYS[0]) == 303
    assert logged_in_as(settings, store_bus, LINK_KEYS[1]) == 303
    assert logged_in_as(settings, store_bus, SESSION_KEYS[0]) == 200


def secrets_held(obj: Any, seen: set[int] | None = None, depth: int = 0) -> set[str]:
    """Every string an object graph holds (attributes, pydantic fields, containers, SecretStr values)."""
    seen = seen if seen is not None else set()
    if id(obj) in seen or depth > 6:
        return set()
    seen.add(id(obj))
    if isinstance(obj, SecretStr):
        return {obj.get_secret_value()}
    if isinstance(obj, str):
        return {obj} if len(obj) >= 8 else set()
    if isinstance(obj, (bytes, int, float, bool, type(None))):
        return set()
    found: set[str] = set()
    items: list[Any] = []
    if isinstance(obj, dict):
        items = list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
    elif isinstance(obj, BaseModel):
        items = [getattr(obj, name) for name in type(obj).model_fields]
    elif hasattr(obj, "__dict__") or hasattr(obj, "__slots__"):
        names = list(getattr(obj, "__dict__", {})) + list(getattr(obj, "__slots__", ()))
        items = [getattr(obj, n, None) for n in names]
    for item in items:
        found |= secrets_held(item, seen, depth + 1)
    return found


def test_the_bot_holds_nothing_that_can_mint_a_session(tmp_path: Path, bus: Bus) -> None:
    """Given the bot started from its documented configuration (link keys, no session keys), when every
    string it holds is tried as a session key, then none makes a session the gate accepts; the bot's
    links still open on the gate."""
    config = tmp_path / "bot.toml"
    config.write_text(
        f'[gate]\nbase_url = "http://gate.test"\nlink_keys = ["{LINK_KEYS[0]}", "{LINK_KEYS[1]}"]\n'
        + ROSTER_TOML
    )
    from bot.cli import _gate_settings

    bot_settings = BotSettings(approval_links=True)
    bot = Bot(bot_settings, bus=bus, gate_settings=_gate_settings(_Args(config), bot_settings))
    held = secrets_held(bot.directory)
    assert LINK_KEYS[0] in held  # the walk sees the keys it holds
    gate_side = webex(base_url="http://gate.test")
    for candidate in sorted(held):
        assert logged_in_as(gate_side, Bus(), candidate) == 303, "the bot could sign a gate session"
    proposal = publish_case(bus).proposal
    url = bot.directory.approval_url(proposal)
    assert url is not None
    LinkSigner([k.get_secret_value() for k in gate_side.link_keys], 3600).verify(url.split("?t=")[1])
    bot.close()


class _Args:
    def __init__(self, config: Path) -> None:
        self.config = str(config)


def test_the_bot_refuses_a_configuration_that_holds_session_keys(tmp_path: Path) -> None:
    """Given the gate's session keys in the bot's configuration, when the bot starts against Webex, then
    it refuses naming session_keys; the local preview drops them and warns."""
    from bot.cli import _gate_settings

    config = tmp_path / "aisoc.toml"
    config.write_text(
        f'[gate]\nbase_url = "http://gate.test"\nlink_keys = ["{LINK_KEYS[0]}"]\n'
        f'session_keys = ["{SESSION_KEYS[0]}"]\n' + ROSTER_TOML
    )
    online = BotSettings(
        token="t0ken", soc_room_id="room", webhook_secret="whsec", public_url="https://bot.example"
    )
    with pytest.raises(ConfigError, match="session_keys"):
        _gate_settings(_Args(config), online)
    preview = _gate_settings(_Args(config), BotSettings())
    assert preview is not None and preview.session_keys == [] and preview.link_keys


# --- rotation, per kind --------------------------------------------------------------------------------


def test_link_keys_rotate_newest_signs_all_verify(bus: Bus) -> None:
    """Given link keys [new, old], when links are made, then the new key signs and both verify; a key
    removed from the list no longer verifies."""
    s = gate_settings()
    req = Gate(bus, s, clock=Clock()).submit(publish_case(bus).proposal)
    token = approval_url(s, req).split("?t=")[1]
    LinkSigner([LINK_KEYS[0]], 3600).verify(token, request_id=req.request_id)
    old = LinkSigner([LINK_KEYS[1]], 3600).sign(req.request_id, req.plan_digest)
    LinkSigner([k.get_secret_value() for k in s.link_keys], 3600).verify(old)
    with pytest.raises(Exception, match="not made by this gate"):
        LinkSigner([LINK_KEYS[0]], 3600).verify(old)


def test_session_keys_rotate_old_sessions_last_until_the_key_is_removed(bus: Bus) -> None:
    """Given session keys [new, old], when a session signed with the old key arrives, then it is still
    accepted; once the old key is removed, it is not."""
    assert logged_in_as(webex(), bus, SESSION_KEYS[1]) == 200
    assert logged_in_as(webex(session_keys=[SESSION_KEYS[0]]), Bus(), SESSION_KEYS[1]) == 303


# --- /metrics --------------------------------------------------------------------------------------------

TOKEN = "metrics-token-0123456789abcdefghij"


def metrics_client(bus: Bus, **overrides: Any) -> Any:
    s = gate_settings(**overrides)
    return create_app(s, gate=Gate(bus, s, clock=Clock())).test_client()


def test_metrics_need_a_token_in_production(bus: Bus) -> None:
    """Given a production gate, when /metrics is asked for without a configured token, then it is not
    served; with tokens configured, only a request bearing one of them gets the figures."""
    assert metrics_client(bus).get("/metrics").status_code == 404
    client = metrics_client(bus, metrics_tokens=["metrics-token-new-abcdefghij0123456789", TOKEN])
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "aisoc_approvals_pending" in ok.get_data(as_text=True)


def test_demo_metrics_without_a_token_answer_loopback_only(bus: Bus) -> None:
    """Given the demo without a token, when /metrics is asked for, then only loopback clients get it."""
    client = metrics_client(bus, demo=True, auth=["dev"], base_url="http://127.0.0.1:8700")
    assert client.get("/metrics").status_code == 200
    far = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert far.status_code == 404
