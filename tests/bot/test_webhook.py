"""The webhook receiver: signatures, replays, who and where the bot answers, card submits."""

from __future__ import annotations

import json

from flask.testing import FlaskClient

from aisoc.bus import Bus
from bot.service import Bot
from tests.bot.conftest import Space
from tests.bot.factory import SECRET, WallClock, bot_settings, deliver, settle, sign
from tests.gate.factory import publish_case


def fetched(space: Space) -> list[str]:
    """Paths of every message or card-action the bot fetched from the fake."""
    return [
        p for m, p, _ in space.fake.log if m == "GET" and ("/messages/" in p or "/attachment/actions/" in p)
    ]


def replies(space: Space, room: dict[str, object] | None = None) -> list[dict[str, object]]:
    """The bot's text answers (not cards)."""
    return [m for m in space.fake.posted(room) if "attachments" not in m]


def test_a_signed_message_from_an_allowed_person_is_answered_in_its_thread(
    bot: Bot, client: FlaskClient, space: Space, clock: WallClock
) -> None:
    """Given Alice asks for help in the SOC room, when delivered signed, then she is answered in thread."""
    msg = space.fake.person_says(space.alice, space.soc, "help")
    resp = deliver(client, space.fake.envelope("messages", msg))
    assert resp.status_code == 200 and resp.get_json()["status"] == "queued"
    settle(bot, clock)
    (answer,) = replies(space, space.soc)
    assert answer["parentId"] == msg["id"] and "What I can do" in str(answer["markdown"])


def test_forged_unsigned_and_tampered_deliveries_are_refused_before_anything_is_fetched(
    bot: Bot, client: FlaskClient, space: Space, clock: WallClock
) -> None:
    """Given a wrong secret, no signature or a changed body, when delivered, then 401 and nothing happens."""
    msg = space.fake.person_says(space.alice, space.soc, "status")
    envelope = space.fake.envelope("messages", msg)
    body = json.dumps(envelope).encode()
    tampered = body.replace(b'"created"', b'"created" ', 1)
    assert deliver(client, envelope, secret="not-the-secret").status_code == 401
    assert deliver(client, envelope, secret=None).status_code == 401
    assert deliver(client, envelope, signature=sign(tampered)).status_code == 401
    assert deliver(client, envelope, signature="").status_code == 401
    settle(bot, clock)
    assert fetched(space) == [] and space.fake.posted() == []


def test_a_replayed_delivery_is_answered_once(
    bot: Bot, client: FlaskClient, space: Space, clock: WallClock
) -> None:
    """Given one message delivered twice, when both arrive, then the second is a duplicate: one answer."""
    msg = space.fake.person_says(space.alice, space.soc, "oncall")
    envelope = space.fake.envelope("messages", msg)
    assert deliver(client, envelope).get_json()["status"] == "queued"
    again = dict(envelope, id="another-webhook-delivery")
    assert deliver(client, again).get_json()["status"] == "duplicate"
    settle(bot, clock)
    assert len(replies(space)) == 1


def test_people_and_rooms_outside_the_allowlists_get_no_answer(
    bot: Bot, client: FlaskClient, space: Space, clock: WallClock
) -> None:
    """Given Mallory in the SOC room and Alice elsewhere, when they ask, then both are refused silently."""
    from_mallory = space.fake.person_says(space.mallory, space.soc, "status")
    elsewhere = space.fake.person_says(space.alice, space.other, "status")
    assert deliver(client, space.fake.envelope("messages", from_mallory)).get_json()["status"] == "refused"
    assert deliver(client, space.fake.envelope("messages", elsewhere)).get_json()["status"] == "refused"
    settle(bot, clock)
    assert space.fake.posted() == []


def test_direct_spaces_and_allowed_domains_are_answered(space: Space, bus: Bus, clock: WallClock) -> None:
    """Given an allowed domain, when a partner and Mallory write 1:1, then only the partner is answered."""
    zoe = space.fake.add_person("zoe@partner.example", "Zoe Park")
    settings = bot_settings(space.fake, space.soc, allowed_domains=["partner.example"], allow_roster=False)
    bot = Bot(settings, bus=bus, clock=clock)
    client = bot.create_app().test_client()
    outcomes = []
    for who in (zoe, space.mallory):
        room = space.fake.add_room(f"1:1 {who['displayName']}", who, kind="direct")
        msg = space.fake.person_says(who, room, "help", mention_bot=False)
        outcomes.append(deliver(client, space.fake.envelope("messages", msg)).get_json()["status"])
    assert outcomes == ["queued", "refused"]
    settle(bot, clock)
    assert len(replies(space)) == 1


def test_the_bots_own_messages_are_ignored(
    bot: Bot, client: FlaskClient, space: Space, clock: WallClock
) -> None:
    """Given a message the bot posted, when Webex delivers it, then the bot does not answer itself."""
    own = space.fake._message(space.fake.bot, space.soc["id"], {"markdown": "status"})
    assert deliver(client, space.fake.envelope("messages", own)).get_json()["status"] == "ignored"
    assert fetched(space) == []


def test_a_card_submit_is_fetched_and_answered_in_the_cards_thread(
    bot: Bot, client: FlaskClient, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a plan card, when Bob clicks Explain, then inputs are fetched and answered in the case thread."""
    case = publish_case(bus)
    settle(bot, clock)
    root, plan = space.fake.posted(space.soc)[:2]
    action = space.fake.person_submits(space.bob, plan["id"], {"cmd": "explain", "case_id": case.case_id})
    resp = deliver(client, space.fake.envelope("attachmentActions", action))
    assert resp.get_json()["status"] == "queued"  # nothing fetched inside the webhook request
    assert f"/v1/attachment/actions/{action['id']}" not in fetched(space)
    settle(bot, clock)
    assert f"/v1/attachment/actions/{action['id']}" in fetched(space)
    (answer,) = replies(space)
    assert answer["parentId"] == root["id"] and f"`{case.case_id}`" in str(answer["markdown"])


def test_a_forged_card_submit_cannot_run_other_commands(
    bot: Bot, client: FlaskClient, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a submit asking to close or approve, when delivered, then nothing is published or answered."""
    case = publish_case(bus)
    settle(bot, clock)
    before = len(bus.audit)
    card = space.fake.posted(space.soc)[0]
    for inputs in (
        {"cmd": "close", "case_id": case.case_id},
        {"cmd": "approve", "action_id": case.proposal.action_id},
    ):
        action = space.fake.person_submits(space.alice, card["id"], inputs)
        deliver(client, space.fake.envelope("attachmentActions", action))
    settle(bot, clock)
    assert len(bus.audit) == before and replies(space) == []


def test_a_failed_fetch_is_kept_and_retried_by_the_bot_so_no_question_is_lost(
    bot: Bot, client: FlaskClient, space: Space, clock: WallClock
) -> None:
    """Given Webex answering the message fetch with 429 then 503 (it never redelivers a webhook), when
    Alice's question is delivered, then the delivery is accepted at once, the bot itself fetches again
    after its backoff, and Alice is answered exactly once."""
    msg = space.fake.person_says(space.alice, space.soc, "help")
    envelope = space.fake.envelope("messages", msg)
    assert bot.receiver.me["id"] == space.fake.bot["id"]  # known since start-up
    space.fake.rate_limits.append(7)
    space.fake.fetch_failures.append(503)
    first = deliver(client, envelope)
    assert first.status_code == 200 and first.get_json()["status"] == "queued"
    assert deliver(client, envelope).get_json()["status"] == "duplicate"
    bot.feed.run_once()
    assert replies(space, space.soc) == [] and bot.store.inbox_due() == []  # waiting for its retry
    for _ in range(3):
        clock.advance(10)
        settle(bot, clock)
    (answer,) = replies(space, space.soc)
    assert answer["parentId"] == msg["id"] and "What I can do" in str(answer["markdown"])
    assert space.fake.rate_limits == [] and space.fake.fetch_failures == []


def test_a_malformed_body_with_a_good_signature_is_a_bad_request(client: FlaskClient) -> None:
    """Given a signed body that is not JSON, when delivered, then 400."""
    body = b"not json"
    resp = client.post("/webex/webhook", data=body, headers={"X-Spark-Signature": sign(body, SECRET)})
    assert resp.status_code == 400


def test_a_card_submit_in_a_direct_space_is_answered_after_asking_webex_the_rooms_kind(
    bot: Bot, client: FlaskClient, space: Space, clock: WallClock
) -> None:
    """Given a card in Alice's 1:1 space, when clicked, then the room kind is looked up; she is answered."""
    direct = space.fake.add_room("1:1 Alice", space.alice, kind="direct")
    card = space.fake._message(space.fake.bot, direct["id"], {"markdown": "a card"})
    action = space.fake.person_submits(space.alice, card["id"], {"cmd": "explain", "case_id": "jsonl:none"})
    assert deliver(client, space.fake.envelope("attachmentActions", action)).get_json()["status"] == "queued"
    assert ("GET", f"/v1/rooms/{direct['id']}", None) in space.fake.log
    settle(bot, clock)
    assert "Nothing is recorded about `jsonl:none`" in str(replies(space, direct)[-1]["markdown"])


def test_an_edited_question_is_answered_again_once_per_edit(
    bot: Bot, client: FlaskClient, space: Space, clock: WallClock
) -> None:
    """Given Alice's answered question, when she edits it (a signed ``messages``/``updated`` delivery),
    then the edited text is answered in the same thread; the same edit delivered again is answered
    once; a second edit is answered again."""
    msg = space.fake.person_says(space.alice, space.soc, "{bot} help")
    deliver(client, space.fake.envelope("messages", msg))
    settle(bot, clock)
    space.fake.person_edits(msg, "{bot} who is on call?")
    edit = space.fake.envelope("messages", msg, event="updated")
    assert deliver(client, edit).get_json()["status"] == "queued"
    settle(bot, clock)
    assert deliver(client, dict(edit, id="the-same-edit-again")).get_json()["status"] == "queued"
    settle(bot, clock)
    first, second = replies(space, space.soc)
    assert "What I can do" in str(first["markdown"]) and str(second["markdown"]).startswith("**On call now**")
    assert first["parentId"] == second["parentId"] == msg["id"]
    space.fake.person_edits(msg, "{bot} status")
    deliver(client, space.fake.envelope("messages", msg, event="updated"))
    settle(bot, clock)
    assert [str(r["markdown"]).splitlines()[0] for r in replies(space, space.soc)][2] == "**SOC status**"
    assert len(replies(space, space.soc)) == 3


def test_a_question_edited_before_it_was_answered_is_answered_once(
    bot: Bot, client: FlaskClient, space: Space, clock: WallClock
) -> None:
    """Given a question and its edit both delivered before the bot fetched either, when answered, then
    the edited text is answered once (both fetches read the edit)."""
    msg = space.fake.person_says(space.alice, space.soc, "{bot} help")
    deliver(client, space.fake.envelope("messages", msg))
    space.fake.person_edits(msg, "{bot} status")
    deliver(client, space.fake.envelope("messages", msg, event="updated"))
    settle(bot, clock)
    (answer,) = replies(space, space.soc)
    assert str(answer["markdown"]).startswith("**SOC status**")


def test_a_deleted_question_is_not_answered_and_an_answer_given_stays(
    bot: Bot, client: FlaskClient, space: Space, clock: WallClock
) -> None:
    """Given a question kept but not yet fetched, when Alice deletes it (a signed ``messages``/
    ``deleted`` delivery), then it is never fetched nor answered; given an answered question, when
    deleted, then its answer stays."""
    asked = space.fake.person_says(space.alice, space.soc, "{bot} status")
    assert deliver(client, space.fake.envelope("messages", asked)).get_json()["status"] == "queued"
    gone = space.fake.envelope("messages", space.fake.person_deletes(asked), event="deleted")
    assert deliver(client, gone).get_json()["reason"] == "deleted before it was answered"
    settle(bot, clock)
    assert fetched(space) == [] and replies(space) == [] and bot.store.inbox_due() == []

    answered = space.fake.person_says(space.alice, space.soc, "{bot} help")
    deliver(client, space.fake.envelope("messages", answered))
    settle(bot, clock)
    gone = space.fake.envelope("messages", space.fake.person_deletes(answered), event="deleted")
    assert deliver(client, gone).get_json()["reason"] == "deleted; the answer given stays"
    settle(bot, clock)
    (answer,) = replies(space)
    assert answer["parentId"] == answered["id"] and answer["id"] in space.fake.messages


def test_forged_edits_and_deletions_are_refused_and_change_nothing(
    bot: Bot, client: FlaskClient, space: Space, clock: WallClock
) -> None:
    """Given a question kept to be answered, when a forged deletion or edit of it arrives (wrong secret,
    no signature), then 401, and the question is still answered as asked, once."""
    msg = space.fake.person_says(space.alice, space.soc, "{bot} help")
    deliver(client, space.fake.envelope("messages", msg))
    for event in ("deleted", "updated"):
        forged = space.fake.envelope("messages", msg, event=event)
        assert deliver(client, forged, secret="not-the-secret").status_code == 401
        assert deliver(client, forged, secret=None).status_code == 401
    settle(bot, clock)
    (answer,) = replies(space, space.soc)
    assert "What I can do" in str(answer["markdown"])
