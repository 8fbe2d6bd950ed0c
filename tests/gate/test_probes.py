"""An independent reviewer's probes of the human gate on the documented path: the documented gunicorn
command (``gate.gunicorn_conf``) behind the TLS-terminating SSO proxy that sets the identity header,
over the Redis bus and store, driven over HTTPS by an HTTP client: link scanners, borrowed links,
replays (across a restart too), racing browsers, spoofed headers, an expired request, damaged keys."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from aisoc.bus import Bus
from aisoc.events import ActionDecided, Decision, utcnow
from gate import Gate, State, load_gate_settings
from gate.links import approval_url
from tests.conftest import SHARED_REDIS, _redis_or_skip
from tests.gate.factory import Case, csrf, gate_events, publish_case
from tests.gate.production import SSO_COOKIE, GateProcess, SsoProxy, write_config
from tests.support.redis_server import free_port

pytestmark = pytest.mark.redis


@dataclass
class Deployed:
    """gunicorn behind the TLS SSO proxy over one Redis namespace; ``gate`` is the operator's view."""

    bus: Bus
    gate: Gate
    proxy: SsoProxy
    server: GateProcess
    redis: redis.Redis

    def case(self, n: int, **kw: Any) -> Case:
        """A case whose proposal the gate opened (kw: ``at``, ``expires_in``)."""
        kw.setdefault("at", utcnow())
        case = publish_case(self.bus, n, **kw)
        self.gate.submit(case.proposal)
        return case

    def link(self, case: Case) -> str:
        """The card's signed link, as a path on the proxy."""
        url = approval_url(self.gate.settings, self.gate.get(case.proposal.event_id))
        return url.removeprefix(self.proxy.url)

    def browser(self, email: str | None) -> httpx.Client:
        """An HTTPS client at the proxy, logged in to the SSO proxy as ``email`` (None: anonymous)."""
        client = httpx.Client(base_url=self.proxy.url, verify=self.proxy.client_context(), timeout=30)
        if email:
            client.cookies.set(SSO_COOKIE, email, domain="127.0.0.1")
        return client

    def direct(self, local_address: str = "127.0.0.1") -> httpx.Client:
        """A client that reaches gunicorn itself (bypassing the proxy) from ``local_address``."""
        transport = httpx.HTTPTransport(local_address=local_address)
        return httpx.Client(base_url=self.server.url, transport=transport, timeout=30)

    def form(self, page: str, **changes: str) -> dict[str, str]:
        return {"csrf_token": csrf(page), "target": "WS-042", "reason": "contain", "approve": "1", **changes}

    def confirm(self, client: httpx.Client, link: str, page: str, **changes: str) -> httpx.Response:
        """Step two as the page's form sends it (the gate's Origin and a same-origin Referer)."""
        origin = self.proxy.url
        headers = {"Origin": origin, "Referer": origin + link}
        return client.post(link, data=self.form(page, **changes), headers=headers)

    def decided(self, case: Case) -> list[ActionDecided]:
        return gate_events(self.bus, case.case_id, ActionDecided)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """The documented deployment on the shared Redis (a namespace of its own, removed afterwards)."""
    _redis_or_skip(SHARED_REDIS)
    tmp, ns, port = tmp_path_factory.mktemp("probes"), f"t{uuid.uuid4().hex[:10]}", free_port()
    config = write_config(tmp, bus=SHARED_REDIS, namespace=ns, base_url=f"https://127.0.0.1:{port}")
    settings = load_gate_settings(config)
    bus = Bus(settings.bus, namespace=ns)
    gate = Gate(bus, settings)
    server = GateProcess(config).start()
    proxy = SsoProxy(server.port, port).start()
    client = redis.Redis.from_url(SHARED_REDIS, decode_responses=True)
    served = Deployed(bus, gate, proxy, server, client)
    yield served
    proxy.stop()
    served.server.stop()  # the one running now (a test restarts it)
    gate.close()
    bus.close()
    keys = list(client.scan_iter(match=f"{{{ns}}}:*", count=1000))
    if keys:
        client.delete(*keys)


def test_a_link_scanner_prefetching_the_link_approves_and_consumes_nothing(deployed: Deployed) -> None:
    """Given a card's link, when a mail safe-links scanner fetches it with GET and HEAD (anonymous,
    and again with the person's own SSO cookie, as a browser prefetch does), then each answer is a
    login redirect or the unchanged step one, nothing is decided or stored, and the person then
    approves with that very link."""
    case = deployed.case(101)
    link, before = deployed.link(case), deployed.gate.get(case.proposal.event_id)
    scanner = deployed.browser(None)
    for method in ("GET", "HEAD"):
        resp = scanner.request(method, link)
        assert resp.status_code == 303 and resp.headers["Location"].startswith("/login?next=/a/")
    prefetch = deployed.browser("alice@example.com")
    assert prefetch.head(link).status_code == 200
    assert prefetch.get(link).status_code == 200
    assert deployed.gate.get(case.proposal.event_id) == before and deployed.decided(case) == []
    alice = deployed.browser("alice@example.com")
    approved = deployed.confirm(alice, link, alice.get(link).text)
    assert approved.status_code == 303, approved.text
    assert [d.decided_by for d in deployed.decided(case)] == ["alice@example.com"]


@pytest.mark.parametrize("who", ["bob@example.com", "dave@example.com", "zed@elsewhere.org"])
def test_a_borrowed_link_decides_nothing_for_anyone_else(deployed: Deployed, who: str) -> None:
    """Given Alice's link forwarded to someone who may not decide (the executor Bob, Dave of another
    duty, a stranger the SSO knows), when they open it and send step two, then they are refused
    (403, saying why), nothing is decided, and the link still works for Alice."""
    case = deployed.case(110 + ["bob", "dave", "zed"].index(who.split("@")[0]))
    link = deployed.link(case)
    other = deployed.browser(who)
    page = other.get(link)
    if who.endswith("elsewhere.org"):  # no form anywhere for a stranger: a token-less one
        assert page.status_code == 403 and "not in the on-call roster" in page.text
        data, origin = {"reason": "mine now", "approve": "1"}, {"Origin": deployed.proxy.url}
        sent = other.post(link, data=data, headers=origin)
    else:
        assert page.status_code == 200 and 'id="why-not"' in page.text and 'name="reason"' not in page.text
        sent = deployed.confirm(other, link, other.get("/").text)
    assert sent.status_code == 403, sent.text
    assert deployed.decided(case) == [] and deployed.gate.get(case.proposal.event_id).is_pending
    alice = deployed.browser("alice@example.com")
    assert deployed.confirm(alice, link, alice.get(link).text).status_code == 303


def test_browsers_confirming_at_once_across_the_workers_make_one_decision(deployed: Deployed) -> None:
    """Given Alice and Carol (approver) each with step one open in four browsers (spread over
    gunicorn's workers and threads), when all eight send step two at once, then exactly one is
    decided (303), seven are told it already was (409), and one action.decided is published."""
    case = deployed.case(120)
    link = deployed.link(case)
    people = []
    for i in range(8):
        client = deployed.browser("alice@example.com" if i % 2 else "carol@example.com")
        people.append((client, client.get(link).text))
    barrier, codes, lock = threading.Barrier(len(people)), [], threading.Lock()

    def send(client: httpx.Client, page: str) -> None:
        barrier.wait(timeout=60)
        code = deployed.confirm(client, link, page).status_code
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=send, args=p) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(codes) == [303] + [409] * 7
    (decided,) = deployed.decided(case)
    assert deployed.gate.get(case.proposal.event_id).decided_by_email == decided.decided_by


def test_an_identity_header_from_an_address_not_in_trusted_proxies_is_refused(deployed: Deployed) -> None:
    """Given a client at 127.0.0.2 (not in trusted_proxies) that reaches gunicorn itself with Alice's
    identity header and X-Forwarded-Proto/-For claiming the proxy, when it opens the link and sends
    step two, then both are refused (403, naming the untrusted address) and nothing is decided."""
    case = deployed.case(130)
    link = deployed.link(case)
    spoof = {"X-Forwarded-Email": "alice@example.com", "X-Forwarded-Proto": "https"}
    spoof["X-Forwarded-For"] = "127.0.0.1"
    with deployed.direct("127.0.0.2") as outsider:
        page = outsider.get(link, headers=spoof)
        assert page.status_code == 403 and "127.0.0.2, which is not a trusted proxy" in page.text
        sent = outsider.post(link, data={"reason": "mine", "approve": "1"}, headers=spoof)
        assert sent.status_code == 403
    assert deployed.decided(case) == []


def test_forwarded_host_and_proto_spoofs_change_no_link_redirect_or_origin(deployed: Deployed) -> None:
    """Given a browser that sends X-Forwarded-Host/-Proto of its own (the proxy drops them) and a Host
    naming another site, when it follows the gate's redirects, then no Location, form or link names
    another host, and a form posted with that site's Origin is refused."""
    case = deployed.case(140)
    link, rid = deployed.link(case), case.proposal.event_id
    alice = deployed.browser("alice@example.com")
    spoof = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}
    for path in (f"/r/{rid}/link", f"/r/{rid}", link):
        for headers in (spoof, {**spoof, "Host": "evil.example"}):
            resp = alice.get(path, headers=headers)
            assert resp.status_code in (200, 303), resp.status_code
            assert "evil.example" not in resp.headers.get("Location", "") + resp.text
    anonymous = deployed.browser(None).get(link, headers=spoof)
    assert anonymous.headers["Location"].startswith("/login?next=/a/")
    page = alice.get(link).text
    forged = alice.post(link, data=deployed.form(page), headers={"Origin": "https://evil.example", **spoof})
    assert forged.status_code == 400 and deployed.decided(case) == []
    assert deployed.confirm(alice, link, page).status_code == 303


@pytest.mark.parametrize("script_name", ["//evil.example", "/elsewhere"])
def test_a_script_name_header_through_the_proxy_moves_no_link_or_redirect(
    deployed: Deployed, script_name: str
) -> None:
    """Given a browser sending a ``SCRIPT_NAME`` header of its own, which the proxy passes on (only
    ``X-Forwarded-*`` are dropped) and gunicorn would believe from a trusted proxy, when Alice asks for
    a fresh link under that path, and opens step one, then no answer is a 5xx, and no Location or page
    points at that path or host: the gate's path comes from base_url alone."""
    case = deployed.case(145 + len(script_name) % 3)
    link, rid = deployed.link(case), case.proposal.event_id
    alice = deployed.browser("alice@example.com")
    header = {"SCRIPT_NAME": script_name}
    fresh = alice.get(f"{deployed.proxy.url}{script_name}/r/{rid}/link", headers=header)
    page = alice.get(link, headers=header)
    for resp in (fresh, page):
        assert resp.status_code < 500, (resp.status_code, resp.text[:300])
        assert script_name not in resp.headers.get("Location", "") + resp.text
    assert page.status_code == 200 and f'action="/a/{rid}?t=' in page.text


HTTP_VARIANT = [
    {"Origin": "http://{host}"},
    {"Referer": "http://{host}/a/x"},
    {"Origin": "http://{host}", "Referer": "{base}/"},
]
"""What a page served over plain http at base_url's host sends (a downgrade, an injected page)."""


@pytest.mark.parametrize("n", range(len(HTTP_VARIANT)))
def test_the_http_variant_of_base_url_is_another_origin(deployed: Deployed, n: int) -> None:
    """Given step two over HTTPS, when the form comes with an Origin (or, without one, a Referer) of
    the http variant of base_url (a downgraded or injected page), then it is refused (400)."""
    headers, case = HTTP_VARIANT[n], deployed.case(150 + n)
    link, host = deployed.link(case), deployed.proxy.url.removeprefix("https://")
    alice = deployed.browser("alice@example.com")
    sent = {k: v.format(host=host, base=deployed.proxy.url) for k, v in headers.items()}
    resp = alice.post(link, data=deployed.form(alice.get(link).text), headers=sent)
    assert resp.status_code == 400 and "Form expired or forged" in resp.text
    assert deployed.decided(case) == []


def test_an_expired_request_offers_no_form_and_refuses_a_late_decision(deployed: Deployed) -> None:
    """Given a request whose deadline passed an hour ago (no worker ticked), when Alice opens its link
    and sends step two with a valid token, then step one says it expired and shows no form, step two
    answers 409 "This request expired", and the only decision published is the expiry."""
    case = deployed.case(160, at=utcnow() - timedelta(hours=3), expires_in=timedelta(hours=2))
    link = deployed.link(case)
    alice = deployed.browser("alice@example.com")
    page = alice.get(link)
    assert page.status_code == 200 and "expired" in page.text and 'name="reason"' not in page.text
    resp = deployed.confirm(alice, link, alice.get("/").text)
    assert resp.status_code == 409 and "This request expired" in resp.text
    assert [d.decision for d in deployed.decided(case)] == [Decision.EXPIRED]


@pytest.mark.parametrize("size", [300, 7000, 9000])
def test_long_or_non_ascii_identity_headers_are_clear_refusals(deployed: Deployed, size: int) -> None:
    """Given the proxy passing an identity of ``size`` characters (beyond gunicorn's 8190-byte field
    limit for the last), or a non-ASCII one nobody in the roster has, when the link is opened, then
    the answer is a refusal below 500 and nothing is decided."""
    case = deployed.case(170 + size // 1000)
    link = deployed.link(case)
    with deployed.direct() as proxy_hop:
        for who in ("a" * size + "@example.com", "zoë" * (size // 3) + "@example.com"):
            resp = proxy_hop.get(link, headers={"X-Forwarded-Email": who.encode()})  # UTF-8 bytes
            assert 400 <= resp.status_code < 500, resp.status_code
            assert len(resp.content) < 3 * size + 20_000  # named, not repeated without end
    assert deployed.decided(case) == []


def test_a_non_ascii_identity_from_the_proxy_names_its_person(deployed: Deployed, tmp_path: Path) -> None:
    """Given a roster alias with non-ASCII letters (an SSO user name "zoë.ng" for Alice) and the proxy
    sending it as UTF-8 (as oauth2-proxy and nginx pass it), when the link is opened, then it is Alice."""
    case = deployed.case(180)
    config = deployed.server.config
    text = config.read_text().replace('aliases = ["ang"]', 'aliases = ["ang", "zoë.ng"]')
    assert text != config.read_text()
    mine = tmp_path / "aisoc.toml"
    mine.write_text(text)
    server = GateProcess(mine).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as hop:
            page = hop.get(deployed.link(case), headers={"X-Forwarded-Email": "zoë.ng".encode()})
    finally:
        server.stop()
    assert page.status_code == 200, page.text
    assert page.text.split('id="who">')[1].split("<")[0].strip() == "Alice Ng"


@pytest.mark.parametrize("garbage", ["list", "string", "hash"])
def test_a_request_key_of_another_type_is_a_clear_page_that_loses_nothing(
    deployed: Deployed, garbage: str
) -> None:
    """Given a request key holding a Redis list (or a string, or a hash without the record) where the
    gate keeps a request's hash, when Alice opens its page, its link, sends step two and "done", then
    each answer is the gate's 503 page naming the request and saying nothing was decided, the key is
    kept as it was, and another request is listed and approved as ever."""
    n = 190 + 2 * ["list", "string", "hash"].index(garbage)
    case = deployed.case(n)
    rid, link = case.proposal.event_id, deployed.link(case)
    key = deployed.gate.store._key(f"gate:req:{rid}")  # type: ignore[attr-defined]
    deployed.redis.delete(key)
    if garbage == "list":
        deployed.redis.rpush(key, "written", "around the gate")
    elif garbage == "hash":
        deployed.redis.hset(key, "note", "no record here")
    else:
        deployed.redis.set(key, "garbage")
    kept = deployed.redis.dump(key)
    alice = deployed.browser("alice@example.com")
    done = {"csrf_token": csrf(alice.get("/").text), "note": "done"}
    answers = [alice.get(f"/r/{rid}"), alice.get(link), deployed.confirm(alice, link, alice.get("/").text)]
    answers.append(alice.post(f"/r/{rid}/done", data=done, headers={"Origin": deployed.proxy.url}))
    for resp in answers:
        assert resp.status_code == 503, (resp.status_code, resp.text[:400])
        assert (
            "This request cannot be read" in resp.text
            and rid in resp.text
            and "Nothing was decided" in resp.text
        )
    assert deployed.redis.dump(key) == kept and deployed.decided(case) == []
    other = deployed.case(n + 1)
    assert alice.get("/").status_code == 200
    assert (
        deployed.confirm(alice, deployed.link(other), alice.get(deployed.link(other)).text).status_code == 303
    )


def test_a_replayed_confirmation_decides_nothing_after_the_decision_and_a_restart(deployed: Deployed) -> None:
    """Given Alice's approval made through the proxy, when her browser sends the very same POST again,
    Carol confirms through the same link, and gunicorn is restarted and the POST replayed once more,
    then each is refused (409) and one action.decided stands."""
    case = deployed.case(199)
    link = deployed.link(case)
    alice = deployed.browser("alice@example.com")
    page = alice.get(link).text
    assert deployed.confirm(alice, link, page).status_code == 303
    replay = deployed.confirm(alice, link, page)
    assert replay.status_code == 409 and "already used" in replay.text
    carol = deployed.browser("carol@example.com")
    assert deployed.confirm(carol, link, carol.get(link).text).status_code == 409
    deployed.server.stop()
    deployed.server = GateProcess(deployed.server.config, port=deployed.server.port).start()
    again = deployed.confirm(alice, link, page)
    assert again.status_code == 409 and "already used" in again.text
    assert [d.decided_by for d in deployed.decided(case)] == ["alice@example.com"]
    assert deployed.gate.get(case.proposal.event_id).state == State.APPROVED


@pytest.mark.parametrize("strip", [True, False], ids=["proxy-strips-the-path", "proxy-keeps-the-path"])
def test_a_gate_served_under_a_path_of_its_site_works_end_to_end(
    tmp_path: Path, redis_url: str, namespace: str, strip: bool
) -> None:
    """Given base_url https://host/gate (the proxy serves the gate under /gate/, forwarding the path
    with or without it), when Alice follows the card's link anonymously, then as herself opens step
    one, approves through its form, lands on the request's page and asks for a fresh link, then every
    link, form, stylesheet and redirect stays under /gate/ and one action.decided is published."""
    port = free_port()
    base = f"https://127.0.0.1:{port}/gate"
    config = write_config(tmp_path, bus=redis_url, namespace=namespace, base_url=base)
    settings = load_gate_settings(config)
    bus = Bus(settings.bus, namespace=namespace)
    gate = Gate(bus, settings)
    case = publish_case(bus, 1, at=utcnow())
    rid = gate.submit(case.proposal).request_id
    server = GateProcess(config).start()
    proxy = SsoProxy(server.port, port, prefix="/gate", strip_prefix=strip).start()
    try:
        link = approval_url(settings, gate.get(rid)).removeprefix(proxy.url)
        assert link.startswith("/gate/a/")
        anonymous = httpx.Client(base_url=proxy.url, verify=proxy.client_context(), timeout=30)
        login = anonymous.get(link)
        assert login.status_code == 303 and login.headers["Location"].startswith("/gate/login?next=/a/")
        assert anonymous.get(login.headers["Location"]).status_code == 200
        alice = httpx.Client(base_url=proxy.url, verify=proxy.client_context(), timeout=30)
        alice.cookies.set(SSO_COOKIE, "alice@example.com", domain="127.0.0.1")
        page = alice.get(link)
        assert page.status_code == 200, page.text
        assert 'href="/gate/static/gate.css"' in page.text and 'href="/gate/"' in page.text
        action = page.text.split('<form method="post" action="')[-1].split('"')[0].replace("&amp;", "&")
        assert action == link
        assert alice.get("/gate/static/gate.css").status_code == 200
        data = {"csrf_token": csrf(page.text), "target": "WS-042", "reason": "contain", "approve": "1"}
        sent = alice.post(action, data=data, headers={"Origin": proxy.url, "Referer": proxy.url + link})
        assert sent.status_code == 303 and sent.headers["Location"] == f"/gate/r/{rid}", sent.text
        state = alice.get(sent.headers["Location"])
        assert state.status_code == 200 and "Approved." in state.text
        fresh = alice.get(f"/gate/r/{rid}/link")
        assert fresh.status_code == 303 and fresh.headers["Location"].startswith(f"/gate/a/{rid}?t=")
    finally:
        proxy.stop()
        server.stop()
    assert [d.decided_by for d in gate_events(bus, case.case_id, ActionDecided)] == ["alice@example.com"]
    gate.close()
    bus.close()
