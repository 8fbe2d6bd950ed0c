"""Redirects after login go only to the gate's own pages, and no parameter or header value gives a 500."""

from __future__ import annotations

import string
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aisoc.bus import Bus
from gate import Gate
from gate.app import create_app
from gate.redirects import safe_next
from tests.gate.factory import Clock, csrf, gate_settings, publish_case

EVIL = [
    "//evil.example",
    "///evil.example",
    "////evil.example/x",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/ /evil.example",
    "\x00//evil.example",
    "/\x0b/evil.example",
    "/\x7f/evil.example",
    "https://evil.example",
    "HTTPS://evil.example/",
    "http:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "data:text/html,<b>x</b>",
    "evil.example",
    "evil.example/a",
    "//evil.example@gate.example.com",
    "/\u3000/evil.example",
    "/\u2028/evil.example",
    "/\ufeff/evil.example",
    "\u202e//evil.example",
    "//%65vil.example",
    "/./\\evil.example",
    "",
    "   ",
    "/" + "a" * 5000,
]
"""``next`` values a browser could turn into another host, or that are not paths at all."""

GOOD = {
    "/": "/",
    "/a/0f3a?t=abc.def-ghi_jk": "/a/0f3a?t=abc.def-ghi_jk",
    "/r/0f3a": "/r/0f3a",
    "/audit": "/audit",
    "/dashboard?run=2": "/dashboard?run=2",
    "/a/x%2Fy?t=1": "/a/x%2Fy?t=1",
    "/r/./x/../y": "/r/y",
    "/..//evil.example/..": "/",
}
"""Same-origin paths and what they normalize to."""


@pytest.mark.parametrize("target", EVIL)
def test_anything_that_could_leave_the_gate_goes_home(target: str) -> None:
    """Given a next value a browser might read as another host (or garbage), then it is refused."""
    assert safe_next(target) is None


@pytest.mark.parametrize(("target", "expected"), GOOD.items())
def test_same_origin_paths_are_kept_after_normalization(target: str, expected: str) -> None:
    """Given a path on the gate, then it is kept (dot segments resolved)."""
    assert safe_next(target) == expected


@pytest.fixture
def demo_app(bus: Bus) -> Flask:
    """A demo gate (dev login) with one pending request."""
    s = gate_settings(demo=True, auth=["dev"], base_url="http://gate.test")
    gate = Gate(bus, s, clock=Clock())
    gate.submit(publish_case(bus).proposal)
    app = create_app(s, gate=gate)
    return app


@pytest.mark.parametrize("target", EVIL)
def test_login_redirects_only_to_the_gate(demo_app: Flask, target: str) -> None:
    """Given a crafted next on the login page and the login POST, then the gate sends the person home."""
    client = demo_app.test_client()
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    resp = client.post(
        "/login/dev",
        query_string={"next": target},
        data={"csrf_token": csrf(page.get_data(as_text=True)), "person": "alice"},
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/"


def test_login_keeps_a_same_origin_next(demo_app: Flask) -> None:
    """Given the step-one path as next, when logging in, then the person lands back on it."""
    client = demo_app.test_client()
    page = client.get("/login", query_string={"next": "/r/abc"})
    data = {"csrf_token": csrf(page.get_data(as_text=True)), "person": "alice"}
    resp = client.post("/login/dev", query_string={"next": "/r/abc"}, data=data)
    assert resp.headers["Location"] == "/r/abc"


# --- fuzzing: no value of any parameter or header gives a 500 ----------------------------------------

ANY_TEXT = st.text(max_size=60)
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60
)
"""What an HTTP server hands an app as a header value: latin-1 text without line breaks."""
ROUTES = [
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login/dev"),
    ("GET", "/login/webex"),
    ("GET", "/auth/webex/callback"),
    ("GET", "/a/{rid}"),
    ("POST", "/a/{rid}"),
    ("GET", "/r/{rid}"),
    ("GET", "/r/{rid}/link"),
    ("POST", "/r/{rid}/done"),
    ("GET", "/audit"),
    ("GET", "/metrics"),
    ("GET", "/dashboard"),
    ("POST", "/logout"),
    ("GET", "/healthz"),
]
HEADERS = ["X-Forwarded-Email", "Referer", "Origin", "Authorization", "Cookie", "X-Forwarded-Proto", "Host"]


def fuzz_app(bus: Bus, **overrides: Any) -> Flask:
    values: dict[str, Any] = {
        "auth": ["proxy", "webex"],
        "webex_client_id": "cid",
        "webex_client_secret": "csecret",
        "webex_token_url": "http://127.0.0.1:9/token",
        "webex_people_url": "http://127.0.0.1:9/me",
        "metrics_tokens": ["metrics-token-0123456789abcdefghij"],
    }
    s = gate_settings(**{**values, **overrides})
    gate = Gate(bus, s, clock=Clock())
    gate.submit(publish_case(bus).proposal)
    app = create_app(s, gate=gate)
    return app


@pytest.fixture(scope="module")
def apps() -> dict[str, Flask]:
    """A production gate (SSO proxy + Webex, metrics behind a token) and a demo gate (dev login)."""
    return {
        "prod": fuzz_app(Bus()),
        "demo": fuzz_app(Bus(), demo=True, auth=["dev", "proxy"], base_url="http://gate.test"),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(["prod", "demo"]),
    route=st.sampled_from(ROUTES),
    rid=st.text(alphabet=string.printable + "é/\\%\u3000", min_size=1, max_size=30),
    params=st.dictionaries(st.sampled_from(["next", "t", "state", "code", "error"]), ANY_TEXT, max_size=5),
    form=st.dictionaries(
        st.sampled_from(["csrf_token", "reason", "target", "approve", "reject", "note", "person"]),
        ANY_TEXT,
        max_size=5,
    ),
    headers=st.dictionaries(st.sampled_from(HEADERS), HEADER_TEXT, max_size=4),
    remote=st.sampled_from(["127.0.0.1", "10.9.8.7", "::1", "not-an-ip"]),
    https=st.booleans(),
)
def test_no_parameter_or_header_value_gives_a_500(
    apps: dict[str, Flask],
    which: str,
    route: tuple[str, str],
    rid: str,
    params: dict[str, str],
    form: dict[str, str],
    headers: dict[str, str],
    remote: str,
    https: bool,
) -> None:
    """Given any query, form, path or header value, when a page is asked for, then it answers below 500."""
    from urllib.parse import quote

    method, template = route
    path = template.format(rid=quote(rid, safe=""))
    client = apps[which].test_client()
    resp = client.open(
        path,
        method=method,
        query_string=params,
        data=form if method == "POST" else None,
        headers=headers,
        environ_base={"REMOTE_ADDR": remote},
        base_url="https://gate.test" if https else "http://gate.test",
    )
    assert resp.status_code < 500, (method, path, params, headers, resp.get_data(as_text=True)[:300])


URLISH = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["https://", "http://", "", "//", "javascript:", "https:/", "HTTPS://"]),
    st.one_of(
        st.sampled_from(["gate.test", "evil.example", "gate.test.evil.example", "[::1", "[", "[::1]", "0"]),
        HEADER_TEXT,
    ),
    st.one_of(
        st.just(""),
        st.integers(min_value=-5, max_value=10**6).map(lambda p: f":{p}"),
        HEADER_TEXT.map(lambda t: f":{t}"),
    ),
    HEADER_TEXT,
)
"""Origin and Referer values shaped like URLs, often broken (bad ports, brackets, schemes)."""


@settings(max_examples=150, deadline=None)
@given(
    origin=st.one_of(st.none(), URLISH, st.just("null")),
    referer=st.one_of(st.none(), URLISH),
    https=st.booleans(),
)
def test_a_valid_form_with_any_origin_or_referer_never_gives_a_500(
    apps: dict[str, Flask], origin: str | None, referer: str | None, https: bool
) -> None:
    """Given a logged-in person with a valid form, when the POST carries any Origin/Referer, then the
    gate decides or refuses with 400 — never a 500."""
    app = apps["prod"]
    base = "https://gate.test" if https else "http://gate.test"
    client = app.test_client()
    who = {"X-Forwarded-Email": "mallory@example.com"}  # in the roster, may not decide: nothing changes
    page = client.get("/", headers=who, base_url=base)
    headers = dict(who)
    if origin is not None:
        headers["Origin"] = origin
    if referer is not None:
        headers["Referer"] = referer
    data = {"csrf_token": csrf(page.get_data(as_text=True)), "note": "x"}
    resp = client.post("/r/nope/done", data=data, headers=headers, base_url=base)
    assert resp.status_code in (400, 404), (origin, referer, resp.status_code)  # 404: no such request


def is_safe_location(location: str) -> bool:
    """What a browser cannot read as another host: a path starting with one slash, printable ASCII."""
    from urllib.parse import urlsplit

    parts = urlsplit(location)
    printable = all(0x21 <= ord(c) < 0x7F for c in location)
    return (
        printable
        and not parts.scheme
        and not parts.netloc
        and location.startswith("/")
        and (not location.startswith("//") and "\\" not in location)
    )


@settings(max_examples=150, deadline=None)
@given(target=st.one_of(ANY_TEXT, URLISH, ANY_TEXT.map(lambda t: "/" + t)))
def test_any_next_after_login_lands_on_the_gate(apps: dict[str, Flask], target: str) -> None:
    """Given any next value, when a person logs in, then the redirect stays on the gate (no 500)."""
    client = apps["demo"].test_client()
    page = client.get("/login", query_string={"next": target})
    data = {"csrf_token": csrf(page.get_data(as_text=True)), "person": "alice"}
    resp = client.post("/login/dev", query_string={"next": target}, data=data)
    assert resp.status_code == 303 and is_safe_location(resp.headers["Location"]), (target, resp.headers)


@pytest.mark.parametrize("host", [".", "..", "gate..test", "a b"])
@pytest.mark.parametrize(("method", "path"), [("POST", "/login/dev"), ("GET", "/"), ("GET", "/login")])
def test_a_host_header_no_url_can_be_built_for_is_a_plain_400(
    apps: dict[str, Flask], host: str, method: str, path: str
) -> None:
    """Given a Host header the URL map cannot bind (found by the fuzz test: ``Host: .`` on a refused
    form rendered a page whose static link could not be built: 500), the gate answers 400."""
    for app in apps.values():
        resp = app.test_client().open(
            path, method=method, headers={"Host": host, "Origin": "", "Referer": ""}
        )
        assert resp.status_code < 500, (host, method, path)


ENCODED = [
    "%2F%2Fevil.example",
    "%5C%5Cevil.example",
    "%2F%5Cevil.example",
    "https%3Aevil.example",
    "https%3A%2F%2Fevil.example",
    "%09%2F%2Fevil.example",
    "%2F%09%2Fevil.example",
    "%252F%252Fevil.example",
    "%2F%2F%2565vil.example",
    "%E3%80%80%2F%2Fevil.example",
]
"""``next`` values as they come in a query string, percent-encoded (once or twice)."""


@pytest.mark.parametrize("base", ["http://gate.test", "http://gate.test/gate"])
@pytest.mark.parametrize("raw", ENCODED)
def test_encoded_next_values_go_home_under_the_gates_path(bus: Bus, base: str, raw: str) -> None:
    """Given a percent-encoded next that decodes to another host (or twice-encoded), on a gate at a
    host's root or under a path, when a person logs in, then the redirect is the gate's home there."""
    s = gate_settings(demo=True, auth=["dev"], base_url=base)
    app = create_app(s, gate=Gate(bus, s, clock=Clock()))
    client, path = app.test_client(), base.removeprefix("http://gate.test")
    page = client.get(f"{path}/login?next={raw}")
    assert page.status_code == 200
    data = {"csrf_token": csrf(page.get_data(as_text=True)), "person": "alice"}
    resp = client.post(f"{path}/login/dev?next={raw}", data=data)
    assert resp.status_code == 303 and resp.headers["Location"] == f"{path}/", resp.headers["Location"]


def test_login_under_a_path_lands_back_on_the_page_under_it(bus: Bus) -> None:
    """Given a gate at http://gate.test/gate, when a person logs in from a page of it, then the
    redirect keeps the gate's path (the page's next is a path within the gate)."""
    s = gate_settings(demo=True, auth=["dev"], base_url="http://gate.test/gate")
    app = create_app(s, gate=Gate(bus, s, clock=Clock()))
    client = app.test_client()
    page = client.get("/gate/login", query_string={"next": "/r/abc"})
    assert 'action="/gate/login/dev?next=/r/abc"' in page.get_data(as_text=True)
    data = {"csrf_token": csrf(page.get_data(as_text=True)), "person": "alice"}
    resp = client.post("/gate/login/dev", query_string={"next": "/r/abc"}, data=data)
    assert resp.headers["Location"] == "/gate/r/abc"
