"""A starter's browser against the portal (Flask test client), on a StaffWorld (the test queue runs jobs at once)."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.portal_support import csrf_token
from tests.staff_support import StaffWorld, build_world


def starter_world(make_settings, database_url: str, db_engine, **settings) -> StaffWorld:  # type: ignore[no-untyped-def]
    return build_world(make_settings, database_url, db_engine, **settings)


def form_token(client: FlaskClient, url: str) -> str:
    return csrf_token(client.get(url, follow_redirects=True).get_data(as_text=True))


def ask_for_code(client: FlaskClient, link: str):  # type: ignore[no-untyped-def]
    return client.post(f"{link}/send-code", data={"csrf_token": form_token(client, link)})


def type_code(client: FlaskClient, link: str, code: str):  # type: ignore[no-untyped-def]
    return client.post(f"{link}/code", data={"csrf_token": form_token(client, f"{link}/code"), "code": code},
                       follow_redirects=True)  # post/redirect/get, as a browser follows it


def wrong(code: str, offset: int = 1) -> str:
    return str((int(code) + offset) % 10 ** len(code)).zfill(len(code))
