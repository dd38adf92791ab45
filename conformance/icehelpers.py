"""Helpers for the conformance suite: an SDK wrapper that keeps the raw response, assertions
on the vendor's wire shapes, a hand-made signer for raw requests (both signature versions,
per shared/reference/signing.md §4-5) and a one-shot capture server for replaying an exact
SDK request."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import http.server
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote, urlencode

import pytest
from alibabacloud_ice20201109 import models as ice
from alibabacloud_ice20201109.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config

API_VERSION = "2020-11-09"
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PROJECT_ID_RE = re.compile(r"^[0-9a-f]{32}$")
# RequestId: UUID with dashes, upper-case hex (api-projects-media.md §0).
REQUEST_ID_RE = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
STATUS_CODES = {"Draft": 1, "Editing": 2, "Producing": 3, "Produced": 4, "ProduceFailed": 5, "Deleted": 7}

SIGNATURES = ("v3", "v2")


@dataclass(frozen=True)
class Creds:
    access_key_id: str
    access_key_secret: str
    account_id: str = ""


# ---------------------------------------------------------------------------------------------
# SDK wrapper


@dataclass
class Result:
    """One successful SDK call: the SDK's response object plus what came over the wire."""

    resp: Any
    raw: dict  # the JSON body exactly as decoded by the SDK's transport
    headers: dict

    @property
    def body(self) -> dict:
        """The body as the SDK model gives it back (`resp.body.to_map()`)."""
        return self.resp.body.to_map()


class Api:
    """The official SDK client, with every call's raw response recorded and the invariants
    that hold for every successful answer checked."""

    def __init__(self, endpoint: str, creds: Creds, sig: str, **config: Any):
        cfg = Config(
            access_key_id=creds.access_key_id,
            access_key_secret=creds.access_key_secret,
            endpoint=endpoint,
            protocol="http",
            read_timeout=15000,
            connect_timeout=5000,
            **config,
        )
        if sig == "v2":
            cfg.signature_algorithm = "v2"
        elif sig != "v3":
            raise ValueError(sig)
        self.endpoint = endpoint
        self.creds = creds
        self.sig = sig
        self.client = Client(cfg)
        self.last: dict | None = None
        # False: tolerate response fields the SDK model does not know (see call()).
        self.exact = True
        original = self.client.call_api

        def recording(params, request, runtime):
            self.last = None
            result = original(params, request, runtime)
            self.last = result
            return result

        # The generated *_with_options methods call self.call_api: an instance attribute wins.
        self.client.call_api = recording

    def call(self, method: str, request: Any) -> Result:
        resp = getattr(self.client, method)(request)
        assert self.last is not None
        raw = self.last["body"]
        headers = self.last["headers"]
        assert resp.status_code == 200
        assert isinstance(raw, dict), raw
        # The SDK model reproduces every field the server sent: nothing unknown, same types.
        # (With `exact` off, fields the model does not know are tolerated; a dedicated test
        # checks them wherever a test switches it off.)
        diff = sdk_diff(resp.body.to_map(), raw)
        if not self.exact:
            diff = [d for d in diff if not d.startswith("unknown to the SDK: ")]
        assert not diff, diff
        rid = raw.get("RequestId")
        assert isinstance(rid, str) and REQUEST_ID_RE.match(rid), rid
        assert resp.headers.get("x-acs-request-id") == rid
        assert resp.headers.get("content-type", "").startswith("application/json")
        return Result(resp, raw, headers)

    # One method per action, taking the SDK request model's keyword arguments.
    def create(self, **kw) -> Result:
        return self.call("create_editing_project", ice.CreateEditingProjectRequest(**kw))

    def get(self, project_id: str | None = None, **kw) -> Result:
        return self.call("get_editing_project", ice.GetEditingProjectRequest(project_id=project_id, **kw))

    def update(self, **kw) -> Result:
        return self.call("update_editing_project", ice.UpdateEditingProjectRequest(**kw))

    def delete(self, project_ids: str | None) -> Result:
        return self.call("delete_editing_projects", ice.DeleteEditingProjectsRequest(project_ids=project_ids))

    def search(self, **kw) -> Result:
        return self.call("search_editing_project", ice.SearchEditingProjectRequest(**kw))

    def list(self, **kw) -> Result:
        return self.call("list_editing_projects", ice.ListEditingProjectsRequest(**kw))

    # Media library (api-projects-media.md Part B), categories (Part C), materials (A7-A9).
    def register_media(self, **kw) -> Result:
        return self.call("register_media_info", ice.RegisterMediaInfoRequest(**kw))

    def get_media(self, **kw) -> Result:
        return self.call("get_media_info", ice.GetMediaInfoRequest(**kw))

    def batch_get_media(self, **kw) -> Result:
        return self.call("batch_get_media_infos", ice.BatchGetMediaInfosRequest(**kw))

    def update_media(self, **kw) -> Result:
        return self.call("update_media_info", ice.UpdateMediaInfoRequest(**kw))

    def delete_media(self, **kw) -> Result:
        return self.call("delete_media_infos", ice.DeleteMediaInfosRequest(**kw))

    def list_media(self, **kw) -> Result:
        return self.call("list_media_basic_infos", ice.ListMediaBasicInfosRequest(**kw))

    def search_media(self, **kw) -> Result:
        return self.call("search_media", ice.SearchMediaRequest(**kw))

    def add_category(self, **kw) -> Result:
        return self.call("add_category", ice.AddCategoryRequest(**kw))

    def update_category(self, **kw) -> Result:
        return self.call("update_category", ice.UpdateCategoryRequest(**kw))

    def delete_category(self, **kw) -> Result:
        return self.call("delete_category", ice.DeleteCategoryRequest(**kw))

    def get_categories(self, **kw) -> Result:
        return self.call("get_categories", ice.GetCategoriesRequest(**kw))

    def add_materials(self, **kw) -> Result:
        return self.call("add_editing_project_materials", ice.AddEditingProjectMaterialsRequest(**kw))

    def delete_materials(self, **kw) -> Result:
        return self.call("delete_editing_project_materials", ice.DeleteEditingProjectMaterialsRequest(**kw))

    def get_materials(self, project_id: str | None = None) -> Result:
        return self.call("get_editing_project_materials", ice.GetEditingProjectMaterialsRequest(project_id=project_id))

    def call_raw_action(self, action: str, version: str = API_VERSION, query: dict | None = None) -> dict:
        """Any action/version through the SDK's generic call_api (signed like any other)."""
        from alibabacloud_tea_openapi import utils_models
        from darabonba.runtime import RuntimeOptions

        params = utils_models.Params(
            action=action,
            version=version,
            protocol="HTTPS",
            pathname="/",
            method="POST",
            auth_type="AK",
            style="RPC",
            req_body_type="formData",
            body_type="json",
        )
        req = utils_models.OpenApiRequest(query=query or {})
        return self.client.call_api(params, req, RuntimeOptions())

    def project_ids(self, **search_kw) -> list[str]:
        """Every project ID of the account, newest first, via SearchEditingProject."""
        out: list[str] = []
        page = 1
        while True:
            r = self.search(page_size=100, page_no=page, **search_kw)
            items = r.raw["ProjectList"]
            out += [p["ProjectId"] for p in items]
            if len(items) < 100:
                return out
            page += 1


def sdk_diff(sdk_view: Any, raw: Any, path: str = "$") -> list[str]:
    """How the SDK model's view of a response (`to_map()`) differs from the raw JSON:
    fields the model does not know (dropped by it), and values or JSON types it changed.
    The generated models turn an absent list into `[]`, which is no difference."""
    if isinstance(raw, dict) and isinstance(sdk_view, dict):
        out = [f"unknown to the SDK: {path}.{k}" for k in raw if k not in sdk_view]
        out += [f"absent from the response: {path}.{k}" for k, v in sdk_view.items() if k not in raw and v != []]
        for k in raw:
            if k in sdk_view:
                out += sdk_diff(sdk_view[k], raw[k], f"{path}.{k}")
        return out
    if isinstance(raw, list) and isinstance(sdk_view, list) and len(raw) == len(sdk_view):
        out = []
        for i, (a, b) in enumerate(zip(sdk_view, raw)):
            out += sdk_diff(a, b, f"{path}[{i}]")
        return out
    if type(sdk_view) is type(raw) and sdk_view == raw:
        return []
    return [f"changed by the SDK: {path}: {raw!r} -> {sdk_view!r}"]


def unknown_fields(sdk_view: Any, raw: Any) -> list[str]:
    """The paths of response fields the SDK model does not know."""
    p = "unknown to the SDK: "
    return [d[len(p):] for d in sdk_diff(sdk_view, raw) if d.startswith(p)]


def expect_error(fn: Callable[[], Any], code: str, status: int, *names: str) -> ClientException:
    """Runs fn, which must fail with a ClientException carrying `code` and `status`; its
    message must name each of `names`. Checks the vendor's error body shape too."""
    with pytest.raises(ClientException) as info:
        fn()
    e = info.value
    assert type(e) is ClientException, type(e)
    assert (e.code, e.status_code) == (code, status), (e.code, e.status_code, e.message)
    data = e.data
    assert isinstance(data, dict)
    for key in ("RequestId", "HostId", "Code", "Message", "Recommend"):
        assert key in data, (key, data)
    assert data["Code"] == code
    assert isinstance(data["Message"], str) and data["Message"]
    assert isinstance(data["HostId"], str) and isinstance(data["Recommend"], str)
    assert e.message == f"code: {status}, {data['Message']} request id: {data['RequestId']}"
    assert REQUEST_ID_RE.match(e.request_id), e.request_id
    assert data["RequestId"] == e.request_id
    for name in names:
        assert name in data["Message"], (name, data["Message"])
    return e


def check_time(value: Any) -> None:
    assert isinstance(value, str) and TIME_RE.match(value), value


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def fmt_time(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def timeline(*video_clips: dict, **top: Any) -> str:
    """A one-video-track timeline JSON string."""
    doc = dict(top)
    if video_clips:
        doc["VideoTracks"] = [{"VideoTrackClips": list(video_clips)}]
    return json.dumps(doc)


# A live project's BusinessConfig as in the CreateEditingProject seed.
LIVE_CONFIG = json.dumps(
    {
        "OutputMediaConfig": {"StorageLocation": "test-bucket.oss-cn-shanghai.aliyuncs.com", "Path": "test-path"},
        "OutputMediaTarget": "oss-object",
        "ReservationTime": "2021-06-21T08:05:00Z",
    }
)

# Timelines CreateEditingProject/UpdateEditingProject must refuse with InvalidParameter naming
# Timeline (timeline.md §3).
BAD_TIMELINES = {
    "not-json": "{not json",
    "truncated": '{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"x"}]}',
    "array": "[]",
    "string": '"text"',
    "tracks-not-array": '{"VideoTracks":{"VideoTrackClips":[]}}',
    "clip-not-object": '{"VideoTracks":[{"VideoTrackClips":["x"]}]}',
    "negative-in": timeline({"MediaId": "x", "In": -1, "Out": 3}),
    "negative-out": timeline({"MediaId": "x", "Out": -2}),
    "out-equals-in": timeline({"MediaId": "x", "In": 3, "Out": 3}),
    "out-before-in": timeline({"MediaId": "x", "In": 5, "Out": 2}),
    "out-zero-default-in": timeline({"MediaId": "x", "Out": 0}),
    "timeline-out-before-in": timeline({"MediaId": "x", "Out": 3, "TimelineIn": 5, "TimelineOut": 4}),
    "negative-duration": timeline({"Type": "Image", "MediaId": "x", "Duration": -1}),
    "speed-too-high": timeline({"MediaId": "x", "Out": 3, "Speed": 101}),
    "speed-too-low": timeline({"MediaId": "x", "Out": 3, "Speed": 0.05}),
    "in-not-number": timeline({"MediaId": "x", "In": "abc", "Out": 3}),
    "audio-out-before-in": json.dumps({"AudioTracks": [{"AudioTrackClips": [{"MediaId": "a", "In": 4, "Out": 1}]}]}),
}

# ---------------------------------------------------------------------------------------------
# Hand-made requests


def pct(s: str) -> str:
    """RFC 3986 percent-encoding with upper-case hex (signing.md §4)."""
    return quote(s, safe="~")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class RawRequest:
    method: str
    target: str  # path plus query
    headers: dict
    body: bytes


@dataclass
class RawResponse:
    status: int
    headers: dict
    body: bytes
    json: Any = field(default=None)


def sign_v3(
    host: str,
    creds: Creds,
    action: str,
    query: dict | None = None,
    body: dict | None = None,
    *,
    version: str = API_VERSION,
    date: dt.datetime | None = None,
    nonce: str | None = None,
) -> RawRequest:
    """ACS3-HMAC-SHA256 exactly as signing.md §4 describes it."""
    query = query or {}
    body_bytes = urlencode(sorted(body.items())).encode() if body is not None else b""
    payload_hash = hashlib.sha256(body_bytes).hexdigest()
    headers = {
        "host": host,
        "x-acs-version": version,
        "x-acs-action": action,
        "user-agent": "openice-conformance",
        "x-acs-date": fmt_time(date or utc_now()),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "accept": "application/json",
    }
    if body is not None:
        headers["content-type"] = "application/x-www-form-urlencoded"
    headers["x-acs-content-sha256"] = payload_hash
    names = sorted(headers)
    canonical = "\n".join(
        [
            "POST",
            "/",
            "&".join(f"{k}={pct(v)}" for k, v in sorted(query.items())),
            "".join(f"{n}:{headers[n].strip()}\n" for n in names),
            ";".join(names),
            payload_hash,
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    signature = hmac.new(creds.access_key_secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"ACS3-HMAC-SHA256 Credential={creds.access_key_id},SignedHeaders={';'.join(names)},Signature={signature}"
    )
    qs = urlencode(query)
    return RawRequest("POST", "/" + ("?" + qs if qs else ""), headers, body_bytes)


def sign_v2(
    host: str,
    creds: Creds,
    action: str,
    query: dict | None = None,
    body: dict | None = None,
    *,
    version: str = API_VERSION,
    date: dt.datetime | None = None,
    nonce: str | None = None,
    fmt: str = "json",
) -> RawRequest:
    """RPC HMAC-SHA1 (SignatureVersion 1.0) exactly as signing.md §5 describes it."""
    params = {
        "Action": action,
        "Format": fmt,
        "Version": version,
        "Timestamp": fmt_time(date or utc_now()),
        "SignatureNonce": nonce or uuid.uuid4().hex,
        **(query or {}),
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": creds.access_key_id,
    }
    signed = {**params, **(body or {})}
    canonical = "&".join(f"{pct(k)}={pct(v)}" for k, v in sorted(signed.items()))
    to_sign = "POST&%2F&" + pct(canonical)
    digest = hmac.new((creds.access_key_secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    params["Signature"] = base64.b64encode(digest).decode()
    headers = {"host": host, "x-acs-action": action, "x-acs-version": version, "user-agent": "openice-conformance"}
    body_bytes = b""
    if body is not None:
        headers["content-type"] = "application/x-www-form-urlencoded"
        body_bytes = urlencode(sorted(body.items())).encode()
    return RawRequest("POST", "/?" + urlencode(params), headers, body_bytes)


SIGNERS = {"v3": sign_v3, "v2": sign_v2}


def send(endpoint: str, req: RawRequest) -> RawResponse:
    host, port = endpoint.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        conn.request(req.method, req.target, body=req.body, headers=req.headers)
        r = conn.getresponse()
        return _finish(r)
    finally:
        conn.close()


def send_bytes(endpoint: str, raw: bytes) -> RawResponse:
    """Sends an HTTP request byte for byte and reads the answer."""
    host, port = endpoint.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(raw)
        r = http.client.HTTPResponse(sock, method="POST")
        r.begin()
        return _finish(r)


def _finish(r: http.client.HTTPResponse) -> RawResponse:
    body = r.read()
    headers = {k.lower(): v for k, v in r.getheaders()}
    out = RawResponse(r.status, headers, body)
    if headers.get("content-type", "").startswith("application/json"):
        out.json = json.loads(body)
    return out


def check_raw_error(r: RawResponse, code: str, status: int, host: str) -> dict:
    """A JSON error in the vendor's shape (decisions.md "Error body")."""
    assert r.status == status, (r.status, r.body)
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    body = r.json
    assert isinstance(body, dict)
    assert body.get("Code") == code, body
    for key in ("RequestId", "HostId", "Code", "Message", "Recommend"):
        assert key in body, (key, body)
    assert REQUEST_ID_RE.match(body["RequestId"]), body
    assert r.headers.get("x-acs-request-id") == body["RequestId"]
    assert body["HostId"] == host
    return body


class Capture:
    """A one-shot HTTP server that records the first request it gets, byte for byte, and
    answers it with a canned JSON body so the SDK call returns normally."""

    def __init__(self, answer: dict):
        self.answer = json.dumps(answer).encode()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.endpoint = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.raw: bytes | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(15)
        conn, _ = self.sock.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(rest) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                rest += chunk
            self.raw = head + b"\r\n\r\n" + rest
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=utf-8\r\n"
                + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(self.answer)
                + self.answer
            )
        self.sock.close()

    def wait(self) -> bytes:
        self.thread.join(15)
        assert self.raw is not None, "the SDK request never reached the capture server"
        return self.raw


class Receiver:
    """A local HTTP server recording callback POSTs; the first POST to each path gets 500."""

    def __init__(self):
        self.posts: list[tuple[str, dict, dict]] = []
        self.failed: set[str] = set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path not in outer.failed:
                    outer.failed.add(self.path)
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, path: str, deadline: float = 30.0) -> tuple[dict, dict]:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            for p, headers, body in self.posts:
                if p == path:
                    return headers, body
            time.sleep(0.05)
        raise AssertionError(f"no callback to {path} within {deadline} s; got {self.posts}")

    def bodies(self, path: str) -> list[dict]:
        """The bodies delivered to `path` so far."""
        return [b for p, _, b in self.posts if p == path]
