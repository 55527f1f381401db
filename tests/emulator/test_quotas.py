"""Quotas Microsoft enforces, as the emulator enforces them: daily bulkUpload calls, sendMail per minute."""

from __future__ import annotations

from tests.emulator.conftest import bulk_body, scim_user

MESSAGE = {"message": {"subject": "Hi", "body": {"contentType": "Text", "content": "x"},
                       "toRecipients": [{"emailAddress": {"address": "jo@home.example"}}]}}


def test_bulk_upload_refuses_calls_beyond_the_daily_quota_until_midnight(graph):
    assert graph.control("PUT", "/quotas", json={"bulkDailyQuota": 2}).status_code == 200
    try:
        body = bulk_body(scim_user("Q1", "q1@contoso.example"))
        assert [graph.bulk_upload(body).status_code for _ in range(2)] == [202, 202]
        refused = graph.bulk_upload(body)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 86_400
        assert "daily quota of 2 bulkUpload calls" in refused.json()["error"]["message"]
        assert graph.control("GET", "/quotas").json()["bulkUsedToday"] == 2
        invalid = graph.bulk_upload("{not json")  # a rejected call is not counted, and says why it failed
        assert invalid.status_code == 400
    finally:
        graph.control("PUT", "/quotas", json={"bulkDailyQuota": 2000, "bulkUsedToday": 0})


def test_send_mail_throttles_a_mailbox_like_exchange(graph):
    assert graph.control("PUT", "/quotas", json={"mailPerMinute": 3}).status_code == 200
    try:
        path = "/v1.0/users/morgan.manager@contoso.example/sendMail"
        assert [graph.request("POST", path, json=MESSAGE).status_code for _ in range(3)] == [202, 202, 202]
        throttled = graph.request("POST", path, json=MESSAGE)
        assert throttled.status_code == 429 and 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert throttled.json()["error"]["code"] == "ApplicationThrottled"
        other = graph.request("POST", "/v1.0/users/dana.desk@contoso.example/sendMail", json=MESSAGE)
        assert other.status_code == 202  # per mailbox
    finally:
        graph.control("PUT", "/quotas", json={"mailPerMinute": 30})


def test_quota_settings_are_validated(graph):
    assert graph.control("PUT", "/quotas", json={"bulkDailyQuota": 0}).status_code == 400
    assert graph.control("PUT", "/quotas", json={"mailPerMinute": "many"}).status_code == 400
