"""Forms: flask-wtf gives every POST its CSRF token, anonymous starter forms included."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Regexp


class ButtonForm(FlaskForm):
    """A POST with nothing but its CSRF token: "Send me a code", "Try again"."""

    submit = SubmitField()


class CodeForm(FlaskForm):
    code = StringField(
        "Code from the email",
        validators=[
            DataRequired("Enter the code from the email."),
            Length(max=20, message="Enter the code from the email: 6 to 8 digits."),
            Regexp(r"^[\d\s-]+$", message="The code is made of digits only."),
        ],
    )
    submit = SubmitField("Continue")


class LostLinkForm(FlaskForm):
    email = StringField(
        "Your personal email address",
        validators=[
            DataRequired("Enter the personal email address you gave HR."),
            Length(max=254, message="That email address is too long."),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an email address like name@example.com."),
        ],
    )
    submit = SubmitField("Send me a new link")


class PasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired("Enter a password."),
                                                         Length(max=256, message="Use at most 256 characters.")])
    confirmation = PasswordField("Type it again", validators=[DataRequired("Type the password again.")])
    submit = SubmitField("Set password")
