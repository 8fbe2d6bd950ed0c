"""Local HTTP fakes of the vendor APIs, following their documented request and response shapes.

Each fake is a small Flask app served on a free port in a thread; it records every request it
receives, so tests can assert that a refused operation never arrived. Shapes (see the adapters'
module docstrings for the documentation pages): Falcon OAuth2 + Alerts v2 + Hosts + IOC; XSOAR
``/incidents/search``; Tanium Gateway GraphQL; ZIA ``authenticatedSession``, ``urlLookup`` and
``sandbox/report``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, make_response, request
from werkzeug.serving import make_server


@dataclass
class Seen:
    """What a fake received: (method, path, query args, JSON body or text)."""

    requests: list[tuple[str, str, dict[str, Any], Any]] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [f"{m} {p}" for m, p, _, _ in self.requests]


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _recorder(app: Flask, seen: Seen) -> None:
    @app.before_request
    def record() -> None:
        body = request.get_json(silent=True)
        if body is None:
            body = request.get_data(as_text=True)
        seen.requests.append((request.method, request.path, request.args.to_dict(flat=False), body))


# ---------------------------------------------------------------- CrowdStrike Falcon
# OAuth2: POST /oauth2/token (form client_id/client_secret) -> {"access_token", "expires_in", "token_type"}.
# Every API reply: {"meta": {...}, "resources": [...], "errors": [...]} (falconpy docs, "Results").
def falcon_app(alerts: list[dict[str, Any]], devices: list[dict[str, Any]], seen: Seen,
               iocs: list[dict[str, Any]] | None = None, fail_first: int = 0) -> Flask:  # fmt: skip
    """A fake Falcon API. ``fail_first`` answers that many alert queries with 429 first."""
    app = Flask("fake-falcon")
    _recorder(app, seen)
    state = {"failures": fail_first}

    def reply(resources: list[Any], total: int | None = None) -> Response:
        meta: dict[str, Any] = {"query_time": 0.01, "trace_id": "t"}
        if total is not None:
            meta["pagination"] = {"offset": 0, "limit": 100, "total": total}
        return jsonify(meta=meta, resources=resources, errors=[])

    @app.post("/oauth2/token")
    def token() -> tuple[Response, int]:
        if request.form.get("client_secret") != "falcon-secret-value":
            return jsonify(errors=[{"code": 401, "message": "access denied, invalid client"}]), 401
        return jsonify(access_token="falcon-token", expires_in=1799, token_type="bearer"), 201

    @app.post("/oauth2/revoke")
    def revoke() -> Response:
        return reply([])

    def authorized() -> bool:
        return request.headers.get("Authorization") == "Bearer falcon-token"

    @app.get("/alerts/queries/alerts/v2")
    def query_alerts() -> Any:
        if not authorized():
            return jsonify(errors=[{"code": 401, "message": "unauthorized"}]), 401
        if state["failures"] > 0:
            state["failures"] -= 1
            return make_response(
                jsonify(errors=[{"code": 429, "message": "rate limited"}]), 429, {"Retry-After": "0"}
            )
        fql = request.args.get("filter", "")
        chosen = [a for a in alerts if _fql_match(a, fql)]
        chosen.sort(
            key=lambda a: a["created_timestamp"], reverse=request.args.get("sort", "").endswith("desc")
        )
        offset, limit = int(request.args.get("offset", 0)), int(request.args.get("limit", 100))
        return reply([a["composite_id"] for a in chosen[offset : offset + limit]], len(chosen))

    @app.post("/alerts/entities/alerts/v2")
    def alert_entities() -> Response:
        ids = set(request.get_json()["composite_ids"])
        return reply([a for a in alerts if a["composite_id"] in ids])

    @app.get("/devices/queries/devices/v1")
    def query_devices() -> Response:
        fql = request.args.get("filter", "")
        return reply([d["device_id"] for d in devices if f"hostname:'{d['hostname']}'" == fql])

    @app.post("/devices/entities/devices/v2")
    def device_entities() -> Response:
        ids = set(request.get_json()["ids"])
        return reply([d for d in devices if d["device_id"] in ids])

    @app.post("/devices/entities/devices-actions/v2")
    def devices_actions() -> Response:  # containment: must never be reached
        return reply([{"id": i, "path": "contained"} for i in (request.get_json() or {}).get("ids", [])])

    @app.get("/iocs/combined/indicator/v1")
    def custom_iocs() -> Response:
        fql = request.args.get("filter", "")
        return reply([i for i in iocs or [] if f"value:'{i['value']}'" in fql])

    @app.get("/iocs/queries/indicators/devices/v1")
    def devices_ran_on() -> Response:
        value = request.args.get("value")
        hits = [d["device_id"] for d in devices if value in d.get("seen_iocs", [])]
        return reply(hits, len(hits))

    return app


def _fql_match(alert: dict[str, Any], fql: str) -> bool:
    """The two FQL clauses the adapter sends: created_timestamp:>='...' and device.device_id:[...]."""
    for clause in fql.split("+"):
        if clause.startswith("created_timestamp:>="):
            if alert["created_timestamp"] < clause.split("'")[1]:
                return False
        elif clause.startswith("device.device_id:["):
            if f"'{alert['device']['device_id']}'" not in clause:
                return False
    return True


# ---------------------------------------------------------------- Cortex XSOAR
# POST /incidents/search {"filter": {...}} -> {"total": int, "data": [incident]} (demisto-py models).
def xsoar_app(incidents: list[dict[str, Any]], seen: Seen, api_key: str = "xsoar-key-value",
              prefix: str = "", fail_first: int = 0) -> Flask:  # fmt: skip
    """A fake XSOAR REST API (``prefix`` = ``/xsoar/public/v1`` for XSOAR 8)."""
    app = Flask("fake-xsoar")
    _recorder(app, seen)
    state = {"failures": fail_first}

    @app.post(f"{prefix}/incidents/search")
    def search() -> Any:
        if request.headers.get("Authorization") != api_key:
            return jsonify(error="unauthorized"), 401
        if state["failures"] > 0:
            state["failures"] -= 1
            return jsonify(error="busy"), 503
        f = request.get_json()["filter"]
        chosen = [
            i
            for i in incidents
            if i["status"] in f.get("status", [0, 1, 2, 3])
            and (not f.get("fromDate") or i["created"] >= f["fromDate"])
        ]
        chosen.sort(key=lambda i: i["created"])
        page, size = f.get("page", 0), f.get("size", 100)
        return jsonify(total=len(chosen), data=chosen[page * size : (page + 1) * size])

    @app.post(f"{prefix}/incident/close")
    def close() -> Response:  # a write: must never be reached
        return jsonify(ok=True)

    return app


# ---------------------------------------------------------------- Tanium Gateway
# POST /plugin/products/gateway/graphql, header "session: <token>", body {"query", "variables",
# "operationName"} -> {"data": {"endpoints": {"edges": [{"node": {...}}]}}} or {"errors": [...]}.
def tanium_app(endpoints: list[dict[str, Any]], seen: Seen, token: str = "tanium-token-value") -> Flask:
    """A fake Tanium Gateway answering the endpoints/sensorReadings query."""
    app = Flask("fake-tanium")
    _recorder(app, seen)

    @app.post("/plugin/products/gateway/graphql")
    def graphql() -> Any:
        if request.headers.get("session") != token:
            return jsonify(errors=[{"message": "invalid session"}]), 401
        body = request.get_json()
        if "mutation" in body.get("query", ""):
            return jsonify(data={"actionPerform": {"id": 1}})  # must never be reached
        flt = body["variables"]["filter"]
        wanted = [s["name"] for s in body["variables"]["sensors"]]
        edges = []
        for e in endpoints:
            if str(e.get(flt["path"])) != flt["value"]:
                continue
            columns = [
                {"name": col, "values": values, "sensor": {"name": sensor}}
                for sensor, cols in e["sensors"].items()
                if sensor in wanted
                for col, values in cols.items()
            ]
            node = {k: e[k] for k in ("id", "name", "ipAddress", "eidLastSeen", "os")}
            edges.append({"node": {**node, "sensorReadings": {"columns": columns}}})
        return jsonify(data={"endpoints": {"edges": edges}})

    return app


# ---------------------------------------------------------------- Zscaler ZIA
# POST/GET/DELETE /api/v1/authenticatedSession (JSESSIONID cookie); POST /api/v1/urlLookup ["url"] ->
# [{"url", "urlClassifications", "urlClassificationsWithSecurityAlert"}];
# GET /api/v1/sandbox/report/{md5}?details=summary -> {"Summary": {"Summary", "Classification", ...}}.
def zia_app(seen: Seen, reports: dict[str, dict[str, Any]], password: str = "zia-password-value",
            session_id: str = "fake-session-id") -> Flask:  # fmt: skip
    """A fake ZIA API."""
    app = Flask("fake-zia")
    _recorder(app, seen)

    @app.route("/api/v1/authenticatedSession", methods=["POST", "GET", "DELETE"])
    def session() -> Any:
        if request.method == "DELETE":
            return "", 204
        if request.method == "POST" and request.get_json().get("password") != password:
            return jsonify(code="AUTHENTICATION_FAILED", message="bad credentials"), 401
        response = make_response(jsonify(authType="ADMIN_LOGIN", obfuscateApiKey=False, passwordExpiryTime=0))
        response.headers["Set-Cookie"] = f"JSESSIONID={session_id}; Path=/; HttpOnly"
        return response

    @app.post("/api/v1/urlLookup")
    def url_lookup() -> Response:
        out = []
        for url in request.get_json():
            bad = "evil" in url
            out.append(
                {
                    "url": url,
                    "urlClassifications": ["MISCELLANEOUS_OR_UNKNOWN"] if bad else ["PROFESSIONAL_SERVICES"],
                    "urlClassificationsWithSecurityAlert": ["MALWARE_SITE"] if bad else [],
                }
            )
        return jsonify(out)

    @app.get("/api/v1/sandbox/report/<md5>")
    def report(md5: str) -> Any:
        if md5 not in reports:
            return jsonify(code="NOT_FOUND", message="no report for this hash"), 404
        return jsonify(reports[md5])

    @app.post("/api/v1/urlCategories")
    def add_category() -> Response:  # a write: must never be reached
        return jsonify(id="CUSTOM_01")

    @app.post("/api/v1/status/activate")
    def activate() -> Response:  # a write: must never be reached
        return jsonify(status="ACTIVE")

    return app


# ---------------------------------------------------------------- hostile echo
ECHO_SESSION = "JSESSIONID-secret-4f2a9c"
"""The session cookie an echoing fake hands out (a secret: it must never be logged)."""


def echoing(app: Flask) -> Flask:
    """``app`` answering like a careless vendor: every reply sets a session cookie and every JSON reply
    echoes the request's headers (credentials and cookies) and form body back."""

    @app.after_request
    def echo(response: Response) -> Response:
        if "Set-Cookie" not in response.headers:
            response.headers["Set-Cookie"] = f"JSESSIONID={ECHO_SESSION}; Path=/; HttpOnly"
        if not response.is_json:
            return response
        body = response.get_json()
        mirror = {"headers": dict(request.headers), "form": request.form.to_dict()}
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict):
                item["echo"] = mirror
        response.set_data(json.dumps(body))
        return response

    return app
