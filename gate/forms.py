"""The gate's forms (Flask-WTF: every POST carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from gate.errors import ApprovalError, check_plain


def plain(form: FlaskForm, field: Field) -> None:
    """No invisible control characters (NUL, bidirectional overrides) in recorded text."""
    try:
        check_plain(field.data, str(field.label.text).split(" (")[0].lower())
    except ApprovalError as e:
        raise ValidationError(str(e)[0].upper() + str(e)[1:] + ".") from e


class DecisionForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no types
    """Step two: type the target exactly, give a reason, approve or reject."""

    target = StringField("Type the target exactly to approve", validators=[Length(max=256)])
    reason = TextAreaField(
        "Reason (recorded with your decision)", validators=[DataRequired(), Length(3, 1000), plain]
    )
    approve = SubmitField("Approve")
    reject = SubmitField("Reject")


class DoneForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no types
    """After approval: the person who carried the action out records it."""

    note = TextAreaField("Note (ticket, console, what you did)", validators=[Length(max=1000), plain])
    done = SubmitField("Record as done")


class DevLoginForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no types
    """Demo-mode login as anyone in the roster."""

    person = SelectField("Log in as", choices=[])
    login = SubmitField("Log in (demo only)")


class LogoutForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no types
    """Log out (a POST, so a prefetching scanner cannot log anyone out)."""

    logout = SubmitField("Log out")
