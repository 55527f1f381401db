"""Staff forms. Every POST carries flask-wtf's CSRF token; GET forms (search, export) do not need one."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, RadioField, SearchField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from activation.staff.desk_actions import REASON_MAX_LENGTH, REASON_MIN_LENGTH


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        "Reason",
        description="Why you are doing this, e.g. the ticket number. It is kept in the audit trail.",
        validators=[
            DataRequired("Give a reason: it is kept in the audit trail."),
            Length(min=REASON_MIN_LENGTH, max=REASON_MAX_LENGTH,
                   message=f"Give a reason of {REASON_MIN_LENGTH} to {REASON_MAX_LENGTH} characters."),
        ],
    )
    submit = SubmitField()


class UnlockForm(ReasonForm):
    invite = RadioField(
        "Invite",
        choices=[SelectChoice("keep", "Keep the current invite link working"),
                 SelectChoice("new", "Send a new invite (the old link stops working)")],
        default="keep",
        validators=[DataRequired("Choose what happens to the invite.")],
    )


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = SearchField("Name, employee id or email", validators=[Optional(), Length(max=100)])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=1000)])


class AuditExportForm(FlaskForm):
    class Meta:
        csrf = False

    since = DateField("From (UTC)", validators=[Optional()])
    until = DateField("To (UTC, inclusive)", validators=[Optional()])
    employee_id = StringField("Or one person's employee id", validators=[Optional(), Length(max=64)])
