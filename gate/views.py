"""The gate's pages: step one (GET, changes nothing), step two (POST, CSRF, typed target, reason,
post/redirect/get), the request's state page with "done", the decision audit and ``/healthz``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gate.auth import Identity, current_identity, refused, unidentified
from gate.context import gate_context
from gate.errors import (
    AlreadyDecided,
    ApprovalError,
    LinkError,
    NotAuthorized,
    UnknownRequest,
    UnreadableRequest,
)
from gate.evidence import case_view
from gate.forms import DecisionForm, DoneForm, LogoutForm
from gate.store import ApprovalRequest, State
from gate.tokens import LinkClaims

log = logging.getLogger(__name__)

bp = Blueprint("gate", __name__)

_ENDED_TITLE = {"expired": "This request expired", "cancelled": "This request was cancelled"}
"""The refusal's title for a request that ended without a person's decision."""
_LINK_STATUS = {"expired": 410, "invalid": 400, "foreign": 400}
_LINK_TITLE = {
    "expired": "This link has expired",
    "invalid": "This link is not valid",
    "foreign": "Wrong link",
}


def _login_redirect() -> Response:
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")), 303)


def _not_known() -> tuple[str, int]:
    problem = g.get("auth_problem") or "You are not logged in."
    return refused("Not allowed", problem, 403)


def _claims(rid: str) -> LinkClaims | tuple[str, int]:
    try:
        return gate_context().signer.verify(request.args.get("t", ""), request_id=rid)
    except LinkError as e:
        log.info("refused link for %s: %s", rid, e.code, extra={"event_id": rid})
        return refused(_LINK_TITLE[e.code], str(e), _LINK_STATUS[e.code])


def _request(rid: str) -> ApprovalRequest | tuple[str, int]:
    try:
        req = gate_context().gate.store.get(rid)
    except UnreadableRequest as e:
        return _unreadable(e)
    if req is None:
        return refused("Unknown request", "No approval request has this id. Nothing was decided.", 404)
    return req


def _unreadable(e: UnreadableRequest) -> tuple[str, int]:
    """The page of a request whose stored record the gate cannot read (damaged, or a key of another
    type written around the gate): nobody's fault on this page, and nothing a retry mends until a
    person repairs the store, so a 503 naming it; the record is left as it is, and logged."""
    log.error("%s", e, extra={"event_id": e.request_id})
    return refused("This request cannot be read", str(e), 503)


def _deciders(req: ApprovalRequest) -> dict[str, Any]:
    ctx = gate_context()
    roster, now = ctx.gate.roster, ctx.gate.clock()
    held = roster.on_call(req.required_role, now)
    assignee = roster.people.get(req.assignee) if req.assignee and req.level > 0 else None
    return {
        "duty_title": roster.title(req.required_role),
        "on_call": held,
        "approvers": roster.approvers(req.required_role),
        "executors": roster.executors(req.required_role),
        "assignee": assignee,
        "approver_at_creation": roster.people.get(req.approver) if req.approver else None,
    }


def _step_page(
    req: ApprovalRequest, ident: Identity, form: DecisionForm, token: str, status: int = 200
) -> Any:
    ctx = gate_context()
    auth = ctx.gate.authorize(req, ident.person.id)
    page = render_template(
        "step.html",
        req=req,
        view=case_view(ctx.gate.bus, req),
        overtaken=ctx.gate.overtaken_by(req) if req.is_pending else None,
        lapsed=ctx.gate.lapsed(req),
        auth=auth,
        form=form,
        token=token,
        ident=ident,
        outcome=ctx.gate.describe(req),
        logout=LogoutForm(),
        **_deciders(req),
    )
    return page, status


@bp.get("/")
def index() -> Any:
    """Pending requests for people in the roster; everyone else is sent to log in."""
    ident = current_identity()
    if ident is None:
        return _login_redirect()
    gate = gate_context().gate
    return render_template(
        "index.html",
        ident=ident,
        pending=[r for r in gate.store.pending() if not gate.lapsed(r)],
        recent=[gate.as_of_now(r) for r in gate.store.recent(20)],
        logout=LogoutForm(),
    )


@bp.get("/a/<rid>")
def step_one(rid: str) -> Any:
    """Step one: the case, the action, evidence, reasoning, risk, who decides. Changes nothing."""
    claims = _claims(rid)
    if not isinstance(claims, LinkClaims):
        return claims
    req = _request(rid)
    if not isinstance(req, ApprovalRequest):
        return req
    if claims.plan_digest != req.plan_digest:
        return refused("The plan changed", "This link was made for another version of the plan.", 409)
    ident = current_identity()
    if ident is None:
        return _not_known() if _has_problem() else _login_redirect()
    return _step_page(req, ident, DecisionForm(), request.args["t"])


def _has_problem() -> bool:
    return bool(g.get("auth_problem"))


@bp.post("/a/<rid>")
def confirm(rid: str) -> Any:
    """Step two: the person confirms (typed target + reason); the first decision wins."""
    ctx = gate_context()
    claims = _claims(rid)
    if not isinstance(claims, LinkClaims):
        return claims
    req = _request(rid)
    if not isinstance(req, ApprovalRequest):
        return req
    ident = current_identity()
    if ident is None:  # the app answers this before the CSRF check; kept for a view mounted elsewhere
        return unidentified()
    try:
        ctx.gate.check_decision(req, ident.person.id, nonce=claims.nonce, plan_digest=claims.plan_digest)
    except ApprovalError as e:
        return _refusal(e, req, ident)
    form = DecisionForm()
    problem = _not_one_decision(form)
    if problem is not None or not form.validate_on_submit():
        if problem is not None:
            form.reason.errors = [problem]
        return _step_page(req, ident, form, request.args["t"], 422)
    approve = bool(form.approve.data)
    try:
        done = ctx.gate.decide(
            rid,
            person_id=ident.person.id,
            decision=State.APPROVED.value if approve else State.REJECTED.value,
            reason=form.reason.data or "",
            identity_source=ident.source,
            nonce=claims.nonce,
            plan_digest=claims.plan_digest,
            typed_target=(form.target.data or "") if approve else None,
        )
    except ApprovalError as e:
        if e.code == "target":
            form.target.errors = [f"Type the target exactly as shown ({req.target}) to approve."]
            return _step_page(req, ident, form, request.args["t"], 422)
        return _refusal(e, req, ident)
    if done.state == State.APPROVED:
        flash(
            f"Approved. Nothing has been executed: carry out {done.kind.value.replace('_', ' ')} on "
            f"{done.target} in your own console, then record it here as done."
        )
    else:
        flash("Rejected. Nothing will be done.")
    return redirect(url_for("gate.state", rid=rid), 303)


def _not_one_decision(form: DecisionForm) -> str | None:
    """Why a sent decision form does not say one thing (a browser sends each field once and the
    button clicked only), or None: a field sent twice (the form reads the first value; a proxy or a
    log may read another), both buttons, or neither (a scripted or stripped form)."""
    repeated = sorted({k for k in request.form if len(request.form.getlist(k)) > 1})
    if repeated:
        return (
            f"The form holds {', '.join(repeated)} more than once; nothing was decided. "
            "Reload the page and send it again."
        )
    if form.approve.data and form.reject.data:
        return "Choose Approve or Reject, not both; nothing was decided."
    if not (form.approve.data or form.reject.data):
        return "Choose Approve or Reject; nothing was decided."
    return None


def _refusal(e: ApprovalError, req: ApprovalRequest, ident: Identity) -> tuple[str, int]:
    """The page for a decision the gate refused (:meth:`~gate.service.Gate.check_decision` and
    :meth:`~gate.service.Gate.decide` say what is allowed; this only picks the page)."""
    if isinstance(e, NotAuthorized):
        log.info(
            "%s may not decide %s",
            ident.person.id,
            req.request_id,
            extra={"case_id": req.case_id, "event_id": req.request_id},
        )
        return refused("You may not decide this request", str(e), 403, **_deciders(req))
    if e.code == "replayed":
        return refused("This confirmation was already used", str(e), 409)
    if isinstance(e, AlreadyDecided):
        return refused(_ENDED_TITLE.get(e.state or "", "Already decided"), str(e), 409)
    if e.code == "plan":
        return refused("The plan changed", "This link was made for another version of the plan.", 409)
    return refused("Nothing was decided", str(e), 409)


@bp.get("/r/<rid>")
def state(rid: str) -> Any:
    """The request's state: who decided and when, and whether it was carried out."""
    ident = current_identity()
    if ident is None:
        return _not_known() if _has_problem() else _login_redirect()
    req = _request(rid)
    if not isinstance(req, ApprovalRequest):
        return req
    ctx = gate_context()
    return render_template(
        "state.html",
        req=req,
        ident=ident,
        shown=ctx.gate.as_of_now(req),
        outcome=ctx.gate.describe(req),
        lapsed=ctx.gate.lapsed(req),
        auth=ctx.gate.authorize(req, ident.person.id),
        done_auth=ctx.gate.may_record_done(req, ident.person.id),
        form=DoneForm(),
        logout=LogoutForm(),
        **_deciders(req),
    )


@bp.get("/r/<rid>/link")
def fresh_link(rid: str) -> Any:
    """Send an authorized person to a freshly signed step-one link (signing changes no state)."""
    ident = current_identity()
    if ident is None:
        return _not_known() if _has_problem() else _login_redirect()
    req = _request(rid)
    if not isinstance(req, ApprovalRequest):
        return req
    ctx = gate_context()
    auth = ctx.gate.authorize(req, ident.person.id)
    if not auth.allowed:
        return refused("You may not decide this request", auth.reason, 403, **_deciders(req))
    token = ctx.signer.sign(req.request_id, req.plan_digest)
    return redirect(url_for("gate.step_one", rid=rid, t=token), 303)


@bp.post("/r/<rid>/done")
def done(rid: str) -> Any:
    """Record that the approved action was carried out (publishes ``action.executed``): its decider,
    the duty's approver group or its executor group only."""
    ident = current_identity()
    if ident is None:  # the app answers this before the CSRF check; kept for a view mounted elsewhere
        return unidentified()
    form = DoneForm()
    if not form.validate_on_submit():
        problem = form.note.errors[0] if form.note.errors else "The form expired; open the page again."
        if "too long" in problem or "longer than" in problem:
            problem = "The note is too long (1000 characters at most)."
        return refused("Nothing was recorded", problem, 422)
    try:
        gate_context().gate.record_executed(
            rid, person_id=ident.person.id, identity_source=ident.source, note=form.note.data or None
        )
    except NotAuthorized as e:
        log.info("%s may not record %s as done", ident.person.id, rid, extra={"event_id": rid})
        return refused("You may not record this as done", str(e), 403)
    except UnknownRequest:
        return refused("Unknown request", "No approval request has this id. Nothing was recorded.", 404)
    except UnreadableRequest as e:
        return _unreadable(e)
    except ApprovalError as e:
        return refused("Nothing was recorded", str(e), 409)
    flash("Recorded as done.")
    return redirect(url_for("gate.state", rid=rid), 303)


@bp.get("/audit")
def audit() -> Any:
    """Every decision, newest first, for auditors and people named in a duty only."""
    ident = current_identity()
    if ident is None:
        return _not_known() if _has_problem() else _login_redirect()
    gate = gate_context().gate
    if not gate.roster.may_audit(ident.person.id):
        return refused("Not allowed", f"{ident.person.name} may not read the decision audit.", 403)
    decided = [r for r in map(gate.as_of_now, gate.store.recent(500)) if r.state != State.PENDING]
    return render_template("audit.html", ident=ident, decided=decided, logout=LogoutForm())


@bp.get("/healthz")
def healthz() -> Any:
    """Liveness and store reachability (no details about requests)."""
    try:
        gate_context().gate.store.get("healthz")
    except Exception as e:  # the store is down: say so, but never the details
        log.warning("healthz: store unavailable: %s", e)
        return {"status": "unavailable"}, 503
    return {"status": "ok"}
