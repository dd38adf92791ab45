"""Authentication, replay protection, tenancy and protocol errors (signing.md §6-7,
decisions.md "Wire and errors")."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from alibabacloud_ice20201109 import models as ice
from alibabacloud_tea_openapi.utils import Utils

from icehelpers import (
    SIGNERS,
    Api,
    Capture,
    Creds,
    check_raw_error,
    expect_error,
    fmt_time,
    send,
    send_bytes,
    sign_v2,
    timeline,
    utc_now,
)

# ---- credentials


def test_wrong_secret_is_signature_mismatch(server, make_api):
    bad = make_api(Creds(server.default.access_key_id, "not-the-secret"))
    e = expect_error(lambda: bad.create(title="x"), "SignatureDoesNotMatch", 400)
    # Older SDKs parse the server's string to sign out of the message (decisions.md).
    assert "server string to sign is:" in e.data["Message"]
    expect_error(lambda: bad.get("0" * 32), "SignatureDoesNotMatch", 400)


def test_wrong_secret_creates_nothing(server, make_api):
    creds = server.create_account()
    good = make_api(creds)
    bad = make_api(Creds(creds.access_key_id, creds.access_key_secret + "x"))
    expect_error(lambda: bad.create(title="forged"), "SignatureDoesNotMatch", 400)
    assert good.search().raw["TotalCount"] == 0


def test_unknown_access_key_is_not_found(make_api):
    stranger = make_api(Creds("LTAIdoesnotexist000000", "whatever-secret"))
    expect_error(lambda: stranger.create(title="x"), "InvalidAccessKeyId.NotFound", 404)


def test_disabled_key_is_inactive(server, make_api):
    creds = server.create_account()
    client = make_api(creds)
    client.create(title="before")
    server.cli("account", "key-disable", creds.access_key_id)
    expect_error(lambda: client.search(), "InvalidAccessKeyId.Inactive", 403)
    expect_error(lambda: client.create(title="after"), "InvalidAccessKeyId.Inactive", 403)
    # Other accounts are unaffected.
    make_api().search()


def test_security_token_is_refused(make_api, server):
    sts = make_api(server.default, security_token="some-sts-token")
    expect_error(lambda: sts.create(title="x"), "InvalidParameter", 400, "SecurityToken")


# ---- timestamps and nonces


def _patch_timestamp(monkeypatch, offset: dt.timedelta) -> None:
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: fmt_time(utc_now() + offset)))


@pytest.mark.parametrize("minutes", [-20, 20, -60 * 24])
def test_stale_or_future_timestamp_is_expired(api, monkeypatch, minutes):
    _patch_timestamp(monkeypatch, dt.timedelta(minutes=minutes))
    expect_error(lambda: api.create(title="late"), "InvalidTimeStamp.Expired", 400)


def test_malformed_timestamp_is_refused(api, monkeypatch):
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: "2021/01/08 16:52:07"))
    expect_error(lambda: api.create(title="bad time"), "InvalidTimeStamp.Format", 400)


@pytest.mark.parametrize("minutes", [-10, 10])
def test_timestamp_within_window_is_accepted(api, monkeypatch, minutes):
    _patch_timestamp(monkeypatch, dt.timedelta(minutes=minutes))
    api.create(title="skewed but fine")


def test_reused_nonce_is_refused(fresh, monkeypatch):
    nonce = uuid.uuid4().hex
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: nonce))
    fresh.create(title="first")
    # A different request signed with the same nonce.
    expect_error(lambda: fresh.create(title="second"), "SignatureNonceUsed", 400)
    monkeypatch.undo()
    assert [p["Title"] for p in fresh.search().raw["ProjectList"]] == ["first"]


def test_replayed_request_is_refused(server, sig):
    """Capture one real SDK request byte for byte, then send it to openice twice."""
    creds = server.create_account()
    capture = Capture({"RequestId": "00000000-0000-0000-0000-000000000000",
                       "Project": {"ProjectId": "0" * 32, "Title": "captured"}})
    sdk = Api(capture.endpoint, creds, sig)
    sdk.client.create_editing_project(
        ice.CreateEditingProjectRequest(title="replayed", timeline=timeline({"MediaId": "x", "Out": 2})))
    raw = capture.wait()
    first = send_bytes(server.endpoint, raw)
    assert first.status == 200, first.body
    assert first.json["Project"]["Title"] == "replayed"
    second = send_bytes(server.endpoint, raw)
    body = check_raw_error(second, "SignatureNonceUsed", 400, capture.endpoint)
    assert body["Message"]
    # The replay created nothing.
    owner = Api(server.endpoint, creds, sig)
    assert [p["Title"] for p in owner.search().raw["ProjectList"]] == ["replayed"]


# ---- hand-signed raw requests


def test_hand_signed_request_works(server, sig):
    """Positive control for the raw-request tests below: the signer is right."""
    req = SIGNERS[sig](server.endpoint, server.default, "CreateEditingProject", {"Title": "raw * ~ 中"},
                       {"Timeline": timeline({"MediaId": "x", "Out": 1.5})})
    r = send(server.endpoint, req)
    assert r.status == 200, r.body
    assert r.json["Project"]["Duration"] == pytest.approx(1.5)
    assert r.json["Project"]["Title"] == "raw * ~ 中"
    assert r.headers["x-acs-request-id"] == r.json["RequestId"]
    assert r.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("minutes", [-16, 16])
def test_hand_signed_stale_timestamp_is_expired(server, sig, minutes):
    req = SIGNERS[sig](server.endpoint, server.default, "SearchEditingProject",
                       date=utc_now() + dt.timedelta(minutes=minutes))
    check_raw_error(send(server.endpoint, req), "InvalidTimeStamp.Expired", 400, server.endpoint)


def test_hand_signed_replay_is_refused(server, sig):
    req = SIGNERS[sig](server.endpoint, server.default, "SearchEditingProject", {"PageSize": "1"})
    assert send(server.endpoint, req).status == 200
    check_raw_error(send(server.endpoint, req), "SignatureNonceUsed", 400, server.endpoint)


def test_forged_request_does_not_burn_the_nonce(server, sig):
    """Nonce checks run after the signature check (signing.md §7)."""
    nonce = uuid.uuid4().hex
    forged = SIGNERS[sig](server.endpoint, Creds(server.default.access_key_id, "wrong-secret"),
                          "SearchEditingProject", nonce=nonce)
    check_raw_error(send(server.endpoint, forged), "SignatureDoesNotMatch", 400, server.endpoint)
    real = SIGNERS[sig](server.endpoint, server.default, "SearchEditingProject", nonce=nonce)
    assert send(server.endpoint, real).status == 200


def test_tampered_body_is_signature_mismatch(server, sig):
    req = SIGNERS[sig](server.endpoint, server.default, "CreateEditingProject", {"Title": "t"},
                       {"Timeline": timeline({"MediaId": "x", "Out": 1})})
    req.body = req.body.replace(b"Out%22%3A+1", b"Out%22%3A+9")
    assert b"9" in req.body
    check_raw_error(send(server.endpoint, req), "SignatureDoesNotMatch", 400, server.endpoint)


def test_parameter_given_twice_is_invalid(server, sig):
    """decisions.md: the same parameter twice (across query and body) → InvalidParameter naming it."""
    req = SIGNERS[sig](server.endpoint, server.default, "CreateEditingProject", {"Title": "q"}, {"Title": "b"})
    body = check_raw_error(send(server.endpoint, req), "InvalidParameter", 400, server.endpoint)
    assert "Title" in body["Message"]


def test_body_over_limit_is_413(make_api):
    """decisions.md: body over the limit (8 MiB default) → 413 with code InvalidParameter."""
    client = make_api()
    huge = timeline({"MediaId": "x", "Out": 1, "Pad": "x" * (8 * 1024 * 1024 + 4096)})
    expect_error(lambda: client.create(title="huge", timeline=huge), "InvalidParameter", 413)


def test_unsigned_request_is_refused(server):
    r = send(server.endpoint, SIGNERS["v3"](server.endpoint, server.default, "SearchEditingProject"))
    assert r.status == 200
    req = SIGNERS["v3"](server.endpoint, server.default, "SearchEditingProject")
    del req.headers["Authorization"]
    check_raw_error(send(server.endpoint, req), "IncompleteSignature", 400, server.endpoint)
    req = SIGNERS["v3"](server.endpoint, server.default, "SearchEditingProject")
    req.headers["Authorization"] = "ACS3-HMAC-SHA256 garbage"
    check_raw_error(send(server.endpoint, req), "IncompleteSignature", 400, server.endpoint)


def test_unknown_action_via_sdk_generic_call(make_api):
    client = make_api()
    expect_error(lambda: client.call_raw_action("NoSuchAction"), "InvalidAction.NotFound", 404, "NoSuchAction")


def test_wrong_version_via_sdk_generic_call(make_api):
    client = make_api()
    expect_error(lambda: client.call_raw_action("SearchEditingProject", version="2017-03-21"),
                 "InvalidVersion", 400)
    # Positive control: the same generic call with the right version works.
    assert "ProjectList" in client.call_raw_action("SearchEditingProject")["body"]


def test_unknown_action_raw(server, sig):
    req = SIGNERS[sig](server.endpoint, server.default, "DescribeNothing")
    body = check_raw_error(send(server.endpoint, req), "InvalidAction.NotFound", 404, server.endpoint)
    assert "DescribeNothing" in body["Message"]


def test_wrong_version_raw(server, sig):
    req = SIGNERS[sig](server.endpoint, server.default, "SearchEditingProject", version="2099-01-01")
    check_raw_error(send(server.endpoint, req), "InvalidVersion", 400, server.endpoint)


def test_error_body_is_json_for_v2_even_with_format_xml(server):
    """decisions.md: error bodies are JSON always, also for the v2 signature and Format=XML."""
    req = sign_v2(server.endpoint, server.default, "GetEditingProject", {"ProjectId": "0" * 32}, fmt="XML")
    assert "Format=XML" in req.target
    check_raw_error(send(server.endpoint, req), "ProjectNotFound", 404, server.endpoint)


# ---- tenancy


def test_other_account_cannot_see_or_touch_a_project(server, make_api):
    a = make_api(server.create_account())
    b = make_api(server.create_account())
    created = a.create(title="A's", timeline=timeline({"MediaId": "x", "Out": 3})).raw["Project"]
    pid = created["ProjectId"]
    expect_error(lambda: b.get(pid), "ProjectNotFound", 404)
    expect_error(lambda: b.update(project_id=pid, title="hijacked"), "ProjectNotFound", 404)
    expect_error(lambda: b.update(project_id=pid, timeline=""), "ProjectNotFound", 404)
    b.delete(pid)  # foreign IDs are ignored
    assert b.search().raw["TotalCount"] == 0
    assert b.list().raw["ProjectList"] == []
    assert b.list(keyword=pid).raw["ProjectList"] == []
    p = a.get(pid).raw["Project"]
    assert (p["Title"], p["Duration"], p["ModifiedTime"]) == ("A's", pytest.approx(3), created["ModifiedTime"])
    assert [x["ProjectId"] for x in a.search().raw["ProjectList"]] == [pid]


def test_second_key_of_an_account_sees_the_same_projects(server, make_api):
    creds = server.create_account()
    out = json.loads(server.cli("account", "key-create", creds.account_id))
    assert out["AccountId"] == creds.account_id
    first = make_api(creds)
    second = make_api(Creds(out["AccessKeyId"], out["AccessKeySecret"], out["AccountId"]))
    pid = first.create(title="shared").raw["Project"]["ProjectId"]
    assert second.get(pid).raw["Project"]["Title"] == "shared"
