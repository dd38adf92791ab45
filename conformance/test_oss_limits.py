"""OSS requests and the server's limits: they appear in /metrics by operation and answer
code, and they hold `--max-in-flight` slots shared with the ICE API (a full server answers
an OSS request with OSS's XML 503, an ICE request with its JSON 503)."""

from __future__ import annotations

import re
import secrets
import threading
import time

import oss2
import pytest
import requests


def metrics(server) -> str:
    r = requests.get(f"http://{server.endpoint}/metrics", timeout=10)
    assert r.status_code == 200
    return r.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample, 0 when absent (label order as the server writes it)."""
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    series = f"{name}{{{inner}}}" if inner else name
    m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def new_bucket(server) -> oss2.Bucket:
    creds = server.create_account()
    auth = oss2.Auth(creds.access_key_id, creds.access_key_secret)
    return oss2.Bucket(auth, f"http://{server.endpoint}", f"lim-{secrets.token_hex(6)}")


def test_oss_requests_in_metrics(server):
    bucket = new_bucket(server)
    before = metrics(server)
    bucket.put_object("m/a.bin", b"x" * 1000)
    assert bucket.get_object("m/a.bin").read() == b"x" * 1000
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object("m/missing.bin")
    after = metrics(server)

    def delta(operation: str, code: str) -> float:
        name = "openice_oss_requests_total"
        return sample(after, name, operation=operation, code=code) - sample(before, name, operation=operation, code=code)

    assert delta("PutObject", "OK") == 1
    assert delta("GetObject", "OK") == 1
    assert delta("GetObject", "NoSuchKey") == 1
    count = "openice_oss_request_duration_seconds_count"
    assert sample(after, count, operation="GetObject") - sample(before, count, operation="GetObject") == 2
    assert "# TYPE openice_oss_in_flight_requests gauge" in after
    # The ICE series are unchanged by OSS requests.
    assert 'action="PutObject"' not in after


def test_full_server_answers_oss_with_xml_503(make_server):
    srv = make_server("--max-in-flight", "1")
    bucket = new_bucket(srv)
    bucket.put_object("held.bin", b"")  # claims the bucket while the server is idle
    release = threading.Event()
    outcome: dict = {}

    def slow_body():
        yield b"a" * 1024
        release.wait(30)
        yield b"b" * 1024

    def upload():
        try:
            outcome["result"] = bucket.put_object("held.bin", slow_body())
        except Exception as e:  # reported by the assertion below
            outcome["error"] = e

    uploader = threading.Thread(target=upload)
    uploader.start()
    try:
        deadline = time.monotonic() + 20
        while sample(metrics(srv), "openice_oss_in_flight_requests") < 1:
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
        # The upload holds the only slot: another OSS request gets OSS's 503 …
        with pytest.raises(oss2.exceptions.OssError) as info:
            bucket.get_object_meta("held.bin")
        assert info.value.status == 503
        with pytest.raises(oss2.exceptions.OssError) as info:
            bucket.put_object("other.bin", b"data")
        e = info.value
        assert (e.status, e.code) == (503, "ServiceUnavailable"), e
        assert re.fullmatch(r"[0-9A-F]{24}", e.request_id), e.request_id
        assert e.message
        # … and so does the ICE API, in its JSON form.
        r = requests.post(f"http://{srv.endpoint}/", timeout=10)
        assert r.status_code == 503
        assert r.json()["Code"] == "ServiceUnavailable"
    finally:
        release.set()
        uploader.join(30)
    assert "error" not in outcome, outcome
    assert outcome["result"].status == 200
    # The slot is free again once the upload's answer has been sent.
    assert bucket.get_object("held.bin").read() == b"a" * 1024 + b"b" * 1024
    text = metrics(srv)
    assert sample(text, "openice_oss_in_flight_requests") == 0
    assert sample(text, "openice_oss_requests_total", operation="PutObject", code="ServiceUnavailable") == 1
    assert sample(text, "openice_oss_requests_total", operation="GetObjectMeta", code="ServiceUnavailable") == 1
    assert sample(text, "openice_oss_requests_total", operation="PutObject", code="OK") == 2
