"""The OSS-compatible object API driven by the official OSS Python SDK (oss2), unchanged,
against openice's ICE port: objects, ranges, listing, copy, multipart and resumable
uploads (also across a killed client and a restarted server), presigned URLs, V1 and V4
signatures, and the errors users meet (wrong secret, another account's bucket), and the
100 MiB resumable upload killed and resumed that the uploads issue names (~15 s per engine)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import oss2
import pytest
import requests

from alibabacloud_ice20201109 import models as ice

from icehelpers import TIME_RE, Api, Creds, Receiver, expect_error
from mediafiles import wait_probed

REGION = "cn-shanghai"
KiB = 1024


def make_bucket(server, creds: Creds, name: str, version: str) -> oss2.Bucket:
    endpoint = f"http://{server.endpoint}"
    if version == "v4":
        return oss2.Bucket(oss2.AuthV4(creds.access_key_id, creds.access_key_secret), endpoint, name, region=REGION)
    return oss2.Bucket(oss2.Auth(creds.access_key_id, creds.access_key_secret), endpoint, name)


@pytest.fixture(params=["v1", "v4"])
def version(request) -> str:
    return request.param


@pytest.fixture
def owner(server) -> Creds:
    return server.create_account()


@pytest.fixture
def bucket(server, owner, version) -> oss2.Bucket:
    return make_bucket(server, owner, f"oss-{secrets.token_hex(6)}", version)


def body(n: int, seed: int = 0) -> bytes:
    """n deterministic, non-repeating-ish bytes."""
    out = bytearray()
    i = seed
    while len(out) < n:
        out += hashlib.sha256(str(i).encode()).digest()
        i += 1
    return bytes(out[:n])


def etag_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest().upper()


def crc_of(data: bytes) -> int:
    """x-oss-hash-crc64ecma as oss2 computes it (crcmod)."""
    crc = oss2.utils.Crc64()
    crc.update(data)
    return crc.crc


def test_put_get_head_list_delete(server, bucket):
    key = "sv/demo/video 1.mp4"
    data = body(12345)
    put = bucket.put_object(key, data, headers={"Content-Type": "video/mp4", "x-oss-meta-origin": "camera 1"})
    assert put.status == 200
    assert put.etag == etag_of(data)
    assert put.crc == crc_of(data), "PutObject answers the body's CRC-64 (oss2 checks it)"
    assert len(put.request_id) == 24
    # Stored where the rest of openice finds media.
    assert server.object_path(bucket.bucket_name, key).read_bytes() == data

    got = bucket.get_object(key)
    assert got.read() == data
    assert got.server_crc == crc_of(data)
    assert got.content_type == "video/mp4"
    assert got.etag == etag_of(data)

    head = bucket.head_object(key)
    assert head.content_length == len(data)
    assert int(head.headers["x-oss-hash-crc64ecma"]) == crc_of(data)
    assert head.headers["x-oss-meta-origin"] == "camera 1"
    assert head.object_type == "Normal"
    assert head.last_modified > 0
    meta = bucket.get_object_meta(key)
    assert meta.content_length == len(data)
    assert bucket.object_exists(key)
    assert not bucket.object_exists("sv/demo/missing.mp4")

    listed = [o.key for o in oss2.ObjectIterator(bucket)]
    assert listed == [key]
    assert bucket.delete_object(key).status == 204
    assert bucket.delete_object(key).status == 204, "deleting a missing key succeeds"
    assert not bucket.object_exists(key)
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object(key)


def test_range_reads(bucket):
    data = body(1000)
    bucket.put_object("r.bin", data)
    assert bucket.get_object("r.bin", byte_range=(10, 19)).read() == data[10:20]
    assert bucket.get_object("r.bin", byte_range=(990, None)).read() == data[990:]
    assert bucket.get_object("r.bin", byte_range=(None, 5)).read() == data[-5:]
    part = bucket.get_object("r.bin", byte_range=(0, 99))
    assert part.status == 206
    assert part.headers["Content-Range"] == "bytes 0-99/1000"
    # OSS ignores a range past the end: the whole object, 200.
    whole = bucket.get_object("r.bin", byte_range=(2000, 3000))
    assert whole.status == 200 and whole.read() == data
    # ...unless the client asks for standard behaviour.
    clamped = bucket.get_object("r.bin", byte_range=(900, 5000), headers={"x-oss-range-behavior": "standard"})
    assert clamped.status == 206 and clamped.read() == data[900:]


def test_listing_prefix_delimiter_paging(bucket):
    keys = ["a/1.txt", "a/2.txt", "a/b/3.txt", "c.txt", "d/4.txt", "e.txt"]
    for k in keys:
        bucket.put_object(k, k.encode())
    assert [o.key for o in oss2.ObjectIterator(bucket, max_keys=2)] == sorted(keys)
    assert [o.key for o in oss2.ObjectIteratorV2(bucket, max_keys=2)] == sorted(keys)
    top = bucket.list_objects(delimiter="/")
    assert [o.key for o in top.object_list] == ["c.txt", "e.txt"]
    assert top.prefix_list == ["a/", "d/"]
    under_a = bucket.list_objects_v2(prefix="a/", delimiter="/")
    assert [o.key for o in under_a.object_list] == ["a/1.txt", "a/2.txt"]
    assert under_a.prefix_list == ["a/b/"]
    # Paging over common prefixes and keys together, one entry per page.
    seen = [o.key for o in oss2.ObjectIterator(bucket, delimiter="/", max_keys=1)]
    assert seen == ["a/", "c.txt", "d/", "e.txt"]
    page = bucket.list_objects(marker="c.txt")
    assert [o.key for o in page.object_list] == ["d/4.txt", "e.txt"]
    assert all(o.size > 0 and o.etag for o in page.object_list)


def test_copy_and_delete_multiple(bucket):
    bucket.put_object("src/x.mp4", b"copy me", headers={"x-oss-meta-k": "v"})
    copied = bucket.copy_object(bucket.bucket_name, "src/x.mp4", "dst/y.mp4")
    assert copied.etag == etag_of(b"copy me")
    assert copied.crc == crc_of(b"copy me")
    assert bucket.get_object("dst/y.mp4").read() == b"copy me"
    assert bucket.head_object("dst/y.mp4").headers["x-oss-meta-k"] == "v"
    result = bucket.batch_delete_objects(["src/x.mp4", "dst/y.mp4", "never/was.txt"])
    assert sorted(result.deleted_keys) == ["dst/y.mp4", "never/was.txt", "src/x.mp4"]
    assert [o.key for o in oss2.ObjectIterator(bucket)] == []


def test_content_md5_is_checked(bucket):
    wrong = oss2.utils.content_md5(b"other")
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.put_object("m.bin", b"payload", headers={"Content-MD5": wrong})
    assert not bucket.object_exists("m.bin"), "a refused body leaves nothing behind"
    ok = bucket.put_object("m.bin", b"payload", headers={"Content-MD5": oss2.utils.content_md5(b"payload")})
    assert ok.status == 200


def test_multipart_out_of_order_list_and_abort(bucket):
    key = "mp/parts.bin"
    parts = [body(100 * KiB, seed=s) for s in range(3)]
    upload_id = bucket.init_multipart_upload(key, headers={"Content-Type": "video/mp4"}).upload_id
    etags = {}
    for n in (3, 1, 2):
        etags[n] = bucket.upload_part(key, upload_id, n, parts[n - 1]).etag
        assert etags[n] == etag_of(parts[n - 1])
    listed = bucket.list_parts(key, upload_id)
    assert [(p.part_number, p.size) for p in listed.parts] == [(1, 100 * KiB), (2, 100 * KiB), (3, 100 * KiB)]
    assert not bucket.object_exists(key), "an unfinished upload is not visible"
    done = bucket.complete_multipart_upload(key, upload_id, [oss2.models.PartInfo(n, etags[n]) for n in (1, 2, 3)])
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest().upper() + "-3"
    assert done.etag == expected
    assert bucket.get_object(key).read() == b"".join(parts)
    head = bucket.head_object(key)
    assert head.object_type == "Multipart" and head.content_type == "video/mp4"

    aborted = bucket.init_multipart_upload("mp/aborted.bin").upload_id
    bucket.upload_part("mp/aborted.bin", aborted, 1, b"x" * 10)
    assert bucket.abort_multipart_upload("mp/aborted.bin", aborted).status == 204
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts("mp/aborted.bin", aborted)

    small = bucket.init_multipart_upload("mp/small.bin").upload_id
    a = bucket.upload_part("mp/small.bin", small, 1, b"tiny").etag
    b = bucket.upload_part("mp/small.bin", small, 2, b"tail").etag
    with pytest.raises(oss2.exceptions.ServerError) as err:
        bucket.complete_multipart_upload("mp/small.bin", small, [oss2.models.PartInfo(1, a), oss2.models.PartInfo(2, b)])
    assert err.value.code == "EntityTooSmall"


def test_multipart_parts_in_place_apart_and_replaced(server, bucket):
    """Parts as long as the upload's first full part are written in place, others (another
    length, a re-upload) kept apart: every mix makes the same object, a re-uploaded part
    replaces the earlier one, and parts left out of the list stay out of the object."""
    p = 100 * KiB

    def upload(key, sends):
        upload_id = bucket.init_multipart_upload(key).upload_id
        etags = {}
        for n, data in sends:
            sent = bucket.upload_part(key, upload_id, n, data)
            etags[n] = sent.etag
            assert etags[n] == etag_of(data)
            assert sent.crc == crc_of(data)
        return upload_id, etags

    def complete(key, upload_id, etags, numbers, expected):
        done = bucket.complete_multipart_upload(
            key, upload_id, [oss2.models.PartInfo(n, etags[n]) for n in numbers])
        assert done.etag == hashlib.md5(b"".join(
            hashlib.md5(expected[n]).digest() for n in numbers)).hexdigest().upper() + f"-{len(numbers)}"
        assert done.crc == crc_of(b"".join(expected[n] for n in numbers)), "combined from the parts'"
        got = bucket.get_object(key).read()
        assert len(got) == sum(len(expected[n]) for n in numbers)
        assert got == b"".join(expected[n] for n in numbers)
        assert bucket.head_object(key).content_length == len(got)
        with pytest.raises(oss2.exceptions.NoSuchUpload):
            bucket.list_parts(key, upload_id)

    # 1 and 2 in place, 3 sent twice (the second kept apart), a short last part 4.
    parts = {1: body(p, seed=1), 2: body(p, seed=2), 3: body(p, seed=33), 4: body(777, seed=4)}
    upload_id, etags = upload("mp/in-place.bin", [
        (2, parts[2]), (1, parts[1]), (3, body(p, seed=3)), (3, parts[3]), (4, parts[4])])
    listed = bucket.list_parts("mp/in-place.bin", upload_id).parts
    assert [(x.part_number, x.size, x.etag) for x in listed] == [
        (n, len(parts[n]), etag_of(parts[n])) for n in (1, 2, 3, 4)]
    state = server.data_dir / "oss" / "uploads" / upload_id
    kept_apart = sorted(f.name.split(".")[0] for f in state.iterdir() if f.name[0].isdigit()
                        and "@" not in f.name and not f.name.endswith(".claim"))
    assert kept_apart == ["3", "4"], sorted(f.name for f in state.iterdir())
    assembled = (state / "data").stat().st_ino
    complete("mp/in-place.bin", upload_id, etags, [1, 2, 3, 4], parts)
    # The object is the file the parts were written into: no second copy of the bytes.
    assert server.object_path(bucket.bucket_name, "mp/in-place.bin").stat().st_ino == assembled

    # A part of another length in the middle, and a part in place past the listed ones.
    parts = {1: body(p, seed=5), 2: body(p + 7, seed=6), 3: body(p, seed=7), 4: body(p, seed=8)}
    upload_id, etags = upload("mp/uneven.bin", sorted(parts.items()))
    complete("mp/uneven.bin", upload_id, etags, [1, 2, 3], parts)

    # Listing fewer parts than were sent, all of one length.
    parts = {n: body(p, seed=10 + n) for n in (1, 2, 3)}
    upload_id, etags = upload("mp/fewer.bin", sorted(parts.items()))
    complete("mp/fewer.bin", upload_id, etags, [1, 2], parts)


def test_resumable_upload_small(bucket, tmp_path):
    src = tmp_path / "three-parts.bin"
    data = body(300 * KiB)
    src.write_bytes(data)
    oss2.resumable_upload(
        bucket, "resumable/three.bin", str(src),
        store=oss2.ResumableStore(root=str(tmp_path)), multipart_threshold=100 * KiB, part_size=100 * KiB,
    )
    assert bucket.get_object("resumable/three.bin").read() == data
    assert bucket.head_object("resumable/three.bin").object_type == "Multipart"


# A client that uploads with oss2.resumable_upload and dies (os._exit, no cleanup) after
# `stop_after` parts, leaving oss2's checkpoint behind.
_KILLED_CLIENT = textwrap.dedent(
    """
    import os, sys, oss2
    endpoint, ak, sk, bucket_name, key, src, store_root, part_size, stop_after = sys.argv[1:]
    part_size, stop_after = int(part_size), int(stop_after)
    bucket = oss2.Bucket(oss2.Auth(ak, sk), endpoint, bucket_name)
    def progress(done, total):
        if done >= stop_after * part_size:
            os._exit(17)
    oss2.resumable_upload(bucket, key, src, store=oss2.ResumableStore(root=store_root),
                          multipart_threshold=part_size, part_size=part_size, num_threads=1,
                          progress_callback=progress)
    """
)


def _killed_and_resumed(make_server, tmp_path, size: int, part_size: int):
    srv = make_server()
    creds = srv.create_account()
    name = f"resume-{secrets.token_hex(4)}"
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for i in range(0, size, 1 << 20):
            f.write(body(min(1 << 20, size - i), seed=i))
    store_root = tmp_path / "checkpoints"
    store_root.mkdir()
    key = "resume/big.bin"
    client = subprocess.run(
        [sys.executable, "-c", _KILLED_CLIENT, f"http://{srv.endpoint}", creds.access_key_id,
         creds.access_key_secret, name, key, str(src), str(store_root), str(part_size), "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert client.returncode == 17, client.stderr
    checkpoints = list(store_root.rglob("*"))
    assert any(p.is_file() for p in checkpoints), "oss2 left a checkpoint"
    bucket = make_bucket(srv, creds, name, "v1")
    assert not bucket.object_exists(key), "a killed upload leaves nothing visible"
    # The server goes down hard between parts and comes back (new port, same store).
    srv.kill()
    srv.restart()
    bucket = make_bucket(srv, creds, name, "v1")
    uploaded_before = []
    def progress(done, total):
        uploaded_before.append(done)
    oss2.resumable_upload(
        bucket, key, str(src), store=oss2.ResumableStore(root=str(store_root)),
        multipart_threshold=part_size, part_size=part_size, num_threads=2, progress_callback=progress,
    )
    # oss2 reports the parts it found on the server first: the upload resumed.
    assert uploaded_before[0] >= 2 * part_size, uploaded_before[:3]
    got = hashlib.md5()
    for chunk in bucket.get_object(key):
        got.update(chunk)
    assert got.hexdigest() == hashlib.md5(src.read_bytes()).hexdigest()
    assert not any((srv.data_dir / "oss" / "uploads").iterdir()), "completed upload state is removed"


def test_resumable_upload_survives_client_kill_and_server_restart(make_server, tmp_path):
    _killed_and_resumed(make_server, tmp_path, size=5 * 100 * KiB + 1234, part_size=100 * KiB)


def test_resumable_upload_100mib(make_server, tmp_path):
    _killed_and_resumed(make_server, tmp_path, size=100 << 20, part_size=10 << 20)


def test_presigned_urls_both_ways(bucket):
    data = body(2048)
    put_url = bucket.sign_url("PUT", "signed/up.bin", 300)
    assert requests.put(put_url, data=data).status_code == 200
    get_url = bucket.sign_url("GET", "signed/up.bin", 300)
    r = requests.get(get_url)
    assert r.status_code == 200 and r.content == data
    # Tampering with the key breaks the signature.
    bad = requests.get(get_url.replace("up.bin", "other.bin"))
    assert bad.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in bad.text


def test_expired_presigned_url_is_refused(server, owner):
    bucket = make_bucket(server, owner, f"oss-{secrets.token_hex(6)}", "v1")
    bucket.put_object("e.bin", b"x")
    url = bucket.sign_url("GET", "e.bin", -5)
    r = requests.get(url)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text and "expired" in r.text


def test_wrong_secret_is_signature_does_not_match(server, owner, version):
    name = f"oss-{secrets.token_hex(6)}"
    make_bucket(server, owner, name, version).put_object("k", b"v")
    wrong = make_bucket(server, Creds(owner.access_key_id, owner.access_key_secret + "x"), name, version)
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        wrong.get_object("k")
    with pytest.raises(oss2.exceptions.ServerError) as err:
        wrong.head_object("k")
    assert err.value.code == "SignatureDoesNotMatch", "HEAD errors travel in x-oss-err"
    unknown = make_bucket(server, Creds("LTAInosuchkey", "secret"), name, version)
    with pytest.raises(oss2.exceptions.ServerError) as err:
        unknown.get_object("k")
    assert err.value.code == "InvalidAccessKeyId"


def test_other_account_is_access_denied(server, owner, version):
    name = f"oss-{secrets.token_hex(6)}"
    mine = make_bucket(server, owner, name, version)
    mine.put_object("private.mp4", b"mine")
    theirs = make_bucket(server, server.create_account(), name, version)
    for call in (lambda: theirs.get_object("private.mp4"), lambda: theirs.put_object("x", b"y"),
                 lambda: theirs.list_objects(), lambda: theirs.delete_object("private.mp4")):
        with pytest.raises(oss2.exceptions.AccessDenied):
            call()
    assert mine.get_object("private.mp4").read() == b"mine"


def test_ice_api_still_routes_as_before(server, api):
    """A plain ICE call on the same port is untouched by the OSS routing."""
    assert api.list().body["RequestId"]


# ---------------------------------------------------------------------------------------------
# CreateUploadMedia → upload with the handed-out credentials → media Normal


def create_upload(api: Api, **kw) -> tuple[dict, dict, dict]:
    r = api.call("create_upload_media", ice.CreateUploadMediaRequest(
        file_info=json.dumps({"Type": "video", "Name": "clip", "Ext": "mp4"}),
        media_meta_data=json.dumps({"Title": "uploaded clip", "BusinessType": "general"}),
        **kw,
    )).raw
    address = json.loads(base64.b64decode(r["UploadAddress"]))
    auth = json.loads(base64.b64decode(r["UploadAuth"]))
    return r, address, auth


def sts_bucket(address: dict, auth: dict, version: str) -> oss2.Bucket:
    sts = oss2.StsAuth(auth["AccessKeyId"], auth["AccessKeySecret"], auth["SecurityToken"],
                       auth_version="v4" if version == "v4" else "v1")
    return oss2.Bucket(sts, address["Endpoint"], address["Bucket"], region=auth["Region"])


def expire_credentials(server) -> None:
    """Moves every upload credential's expiry into the past, straight in the store."""
    sql = "UPDATE upload_credentials SET expire_time = 0"
    if server.database_url:
        import psycopg

        with psycopg.connect(server.database_url, autocommit=True) as conn:
            conn.execute(sql)
    else:
        import sqlite3

        with sqlite3.connect(server.data_dir / "openice.db") as conn:
            conn.execute(sql)


def test_create_upload_media_flow(server, fresh, media_files, version):
    r, address, auth = create_upload(fresh)
    account = fresh.creds.account_id
    assert address["Endpoint"] == f"http://{server.endpoint}"
    assert address["Bucket"] == f"outin-{account}"
    assert address["FileName"].startswith("sv/") and address["FileName"].endswith(".mp4")
    assert r["FileURL"] == f"https://outin-{account}.oss-{auth['Region']}.aliyuncs.com/{address['FileName']}"
    assert r["MediaURL"] == r["FileURL"]
    assert auth["AccessKeyId"].startswith("STS.") and auth["SecurityToken"]
    assert auth["Expiration"] == "3000" and auth["ExpireUTCTime"].endswith("Z")
    media_id = r["MediaId"]

    info = fresh.get_media(media_id=media_id).raw["MediaInfo"]
    assert info["MediaBasicInfo"]["Status"] == "Init"
    assert info["FileInfoList"][0]["FileBasicInfo"]["FileStatus"] == "Uploading"
    assert info["MediaBasicInfo"]["InputURL"] == r["FileURL"]

    bucket = sts_bucket(address, auth, version)
    with pytest.raises(oss2.exceptions.AccessDenied):
        bucket.put_object("sv/elsewhere.mp4", b"not my key")
    with pytest.raises(oss2.exceptions.AccessDenied):
        bucket.list_objects()
    bucket.put_object_from_file(address["FileName"], str(media_files.video))
    assert bucket.head_object(address["FileName"]).content_length == media_files.video.stat().st_size

    info = wait_probed(fresh, media_id, server=server)
    assert info["MediaBasicInfo"]["Status"] == "Normal"
    assert info["FileInfoList"][0]["FileBasicInfo"]["FileStatus"] == "Normal"
    assert float(info["FileInfoList"][0]["FileBasicInfo"]["Duration"]) > 0

    # The temporary credentials are for the OSS API only.
    sts_api = Api(server.endpoint, Creds(auth["AccessKeyId"], auth["AccessKeySecret"]), "v3",
                  security_token=auth["SecurityToken"])
    expect_error(lambda: sts_api.list(), "InvalidParameter", 400, "SecurityToken")

    # Refresh: a new credential for the same address; expired ones are refused.
    refreshed = fresh.call("refresh_upload_media", ice.RefreshUploadMediaRequest(media_id=media_id)).raw
    assert json.loads(base64.b64decode(refreshed["UploadAddress"])) == address
    new_auth = json.loads(base64.b64decode(refreshed["UploadAuth"]))
    assert new_auth["AccessKeyId"] != auth["AccessKeyId"]
    expire_credentials(server)
    with pytest.raises(oss2.exceptions.ServerError) as err:
        sts_bucket(address, new_auth, version).put_object(address["FileName"], b"late")
    assert err.value.status == 403 and err.value.code == "SecurityTokenExpired"
    wrong_token = dict(new_auth, SecurityToken="CAISforged")
    with pytest.raises(oss2.exceptions.ServerError) as err:
        sts_bucket(address, wrong_token, version).get_object(address["FileName"])
    assert err.value.code in ("SecurityTokenExpired", "InvalidSecurityToken")


def test_create_upload_media_multipart_and_target_bucket(server, fresh, owner, tmp_path):
    """resumable_upload (multipart) with the STS triple into a named bucket; another
    account's bucket is refused."""
    name = f"up-{secrets.token_hex(5)}"
    r, address, auth = create_upload(fresh, upload_target_config=json.dumps(
        {"StorageType": "oss", "StorageLocation": f"{name}.oss-cn-shanghai.aliyuncs.com"}))
    assert address["Bucket"] == name
    src = tmp_path / "upload.mp4"
    src.write_bytes(body(250 * KiB))
    oss2.resumable_upload(sts_bucket(address, auth, "v1"), address["FileName"], str(src),
                          store=oss2.ResumableStore(root=str(tmp_path)),
                          multipart_threshold=100 * KiB, part_size=100 * KiB)
    # Not a real video: the probe ends in PrepareFail, but only after the upload completed.
    info = wait_probed(fresh, r["MediaId"], server=server)
    assert info["MediaBasicInfo"]["Status"] == "PrepareFail"
    assert server.object_path(name, address["FileName"]).read_bytes() == src.read_bytes()

    taken = f"theirs-{secrets.token_hex(4)}"
    make_bucket(server, owner, taken, "v1").put_object("x", b"y")
    expect_error(lambda: create_upload(fresh, upload_target_config=json.dumps(
        {"StorageType": "oss", "StorageLocation": f"{taken}.oss-cn-shanghai.aliyuncs.com"})),
        "InvalidParameter", 400, "UploadTargetConfig")


def test_file_upload_complete_callback(server, fresh, make_api, media_files):
    """FileUploadComplete goes to an account subscribing it (signed with its AuthKey) or to the
    upload's own UserData.MessageCallback; an account not subscribing it gets nothing."""
    rx = Receiver()
    key = "Abc123xyz"
    fresh.call("set_event_callback", ice.SetEventCallbackRequest(
        callback_url=rx.url("/sub"), event_type_list="FileUploadComplete", auth_switch="on", auth_key=key))
    other = make_api(server.create_account())
    other.call("set_event_callback", ice.SetEventCallbackRequest(
        callback_url=rx.url("/unsub"), event_type_list="ProduceMediaComplete"))
    user_data = json.dumps({"MessageCallback": {"CallbackURL": rx.url("/own")}, "Extend": {"k": "v"}})
    # The unsubscribed upload goes first, so its event (if any) would be tried first.
    uploads = [create_upload(other), create_upload(fresh), create_upload(other, user_data=user_data)]
    for _, address, auth in uploads:
        sts_bucket(address, auth, "v1").put_object_from_file(address["FileName"], str(media_files.video))

    headers, sub = rx.wait_for("/sub")
    ts = headers["x-ice-timestamp"]
    assert headers["x-ice-signature"] == hashlib.md5(f"{rx.url('/sub')}|{ts}|{key}".encode()).hexdigest()
    assert sub["EventType"] == "FileUploadComplete" and type(sub["UserId"]) is int, sub
    assert sub["UserId"] == int(fresh.creds.account_id) and TIME_RE.match(sub["EventTime"]), sub
    r = uploads[1][0]
    assert sub["MessageBody"] == {
        "Status": "Success", "FileUrl": r["FileURL"], "MediaId": r["MediaId"], "AppId": "app-1000000",
        "Size": str(media_files.video.stat().st_size), "MediaType": "video",
    }
    headers, own = rx.wait_for("/own")
    assert "x-ice-signature" not in headers
    assert own["EventType"] == "FileUploadComplete" and own["UserId"] == int(other.creds.account_id)
    assert own["MessageBody"]["MediaId"] == uploads[2][0]["MediaId"]
    assert own["MessageBody"]["UserData"] == user_data
    assert len(rx.bodies("/sub")) == 1 and len(rx.bodies("/own")) == 1
    assert "/unsub" not in rx.failed, [b for p, _, b in rx.posts if p == "/unsub"]
    rx.httpd.shutdown()


# ---------------------------------------------------------------------------------------------
# UploadMediaByURL / GetUrlUploadInfos


@pytest.fixture
def file_host(media_files):
    """Serves the session's media files over HTTP on 127.0.0.1 (a free port)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(media_files.video.parent))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def wait_job(api: Api, job_id: str, deadline: float = 20.0) -> dict:
    import time

    end = time.monotonic() + deadline
    while True:
        infos = api.call("get_url_upload_infos", ice.GetUrlUploadInfosRequest(job_ids=job_id)).raw
        info = infos["URLUploadInfoList"][0]
        if info["Status"] != "PROCESSING":
            return info
        assert time.monotonic() < end, info
        time.sleep(0.05)


def test_upload_media_by_url(make_server, media_files, file_host):
    import urllib.parse

    srv = make_server("--fetch-allow", "127.0.0.1")
    api = Api(srv.endpoint, srv.create_account(), "v3")
    rx = Receiver()
    api.call("set_event_callback", ice.SetEventCallbackRequest(
        callback_url=rx.url("/url"), event_type_list="UploadByURLComplete,FileUploadComplete"))
    good = f"{file_host}/{media_files.video.name}"
    missing = f"{file_host}/no-such-file.mp4"
    r = api.call("upload_media_by_url", ice.UploadMediaByURLRequest(
        upload_urls=",".join(urllib.parse.quote(u, safe="") for u in (good, missing)),
        media_meta_data=json.dumps([{"SourceURL": good, "Title": "pulled"}]),
    )).raw
    jobs = {j["SourceURL"]: j for j in r["UploadJobs"]}
    assert set(jobs) == {good, missing}

    done = wait_job(api, jobs[good]["JobId"])
    assert done["Status"] == "SUCCESS", done
    assert done["FileSize"] == str(media_files.video.stat().st_size)
    assert done["UploadURL"] == good and done["MediaId"] == jobs[good]["MediaId"]
    info = wait_probed(api, jobs[good]["MediaId"], server=srv)
    assert info["MediaBasicInfo"]["Status"] == "Normal"
    assert info["MediaBasicInfo"]["Title"] == "pulled"

    failed = wait_job(api, jobs[missing]["JobId"])
    assert failed["Status"] == "FAIL" and "404" in failed["ErrorMessage"]
    assert wait_probed(api, jobs[missing]["MediaId"], server=srv)["MediaBasicInfo"]["Status"] == "PrepareFail"

    by_url = api.call("get_url_upload_infos", ice.GetUrlUploadInfosRequest(
        upload_urls=urllib.parse.quote(good, safe="") + "," + urllib.parse.quote("http://127.0.0.1/never", safe=""))).raw
    assert [i["JobId"] for i in by_url["URLUploadInfoList"]] == [jobs[good]["JobId"]]
    assert by_url["NonExists"] == ["http://127.0.0.1/never"]

    # One UploadByURLComplete per job, and no FileUploadComplete: the job reports its upload.
    end = time.monotonic() + 20
    while len(rx.bodies("/url")) < 2:
        assert time.monotonic() < end, rx.posts
        time.sleep(0.05)
    events = {b["MessageBody"]["JobId"]: b for b in rx.bodies("/url")}
    assert all(e["EventType"] == "UploadByURLComplete" and e["UserId"] == int(api.creds.account_id)
               for e in events.values()), events
    ok, bad = events[jobs[good]["JobId"]]["MessageBody"], events[jobs[missing]["JobId"]]["MessageBody"]
    assert {k: ok[k] for k in ("Status", "MediaId", "SourceURL", "Size", "ErrorCode")} == {
        "Status": "Success", "MediaId": jobs[good]["MediaId"], "SourceURL": good,
        "Size": done["FileSize"], "ErrorCode": "",
    }
    assert ok["FileUrl"].startswith("https://") and ok["FileUrl"].endswith(".mp4"), ok
    assert bad["Status"] == "Fail" and bad["ErrorCode"] == "FetchFailed" and "404" in bad["ErrorMessage"], bad
    rx.httpd.shutdown()

    # Hosts outside --fetch-allow are refused up front, as for registration.
    expect_error(lambda: api.call("upload_media_by_url", ice.UploadMediaByURLRequest(
        upload_urls=urllib.parse.quote("http://example.com/a.mp4", safe=""))), "InvalidParameter", 400, "UploadURLs")


# ---------------------------------------------------------------------------------------------
# ali-oss (Node.js): virtual-host addressing against an IP endpoint, V1 and V4, STS

JS_DIR = Path(__file__).resolve().parent / "js"


def run_ali_oss(*args: str) -> None:
    if not (JS_DIR / "node_modules" / "ali-oss").is_dir():
        pytest.fail("ali-oss is not installed: run scripts/test.sh (npm ci in conformance/js)")
    p = subprocess.run(["node", str(JS_DIR / "oss_smoke.js"), *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-3000:]


def test_ali_oss_smoke(server, owner, version):
    run_ali_oss(f"http://{server.endpoint}", f"js-{secrets.token_hex(5)}", owner.access_key_id,
                owner.access_key_secret, "", version)


def test_ali_oss_with_upload_credentials(server, fresh, version):
    r, address, auth = create_upload(fresh)
    run_ali_oss(address["Endpoint"], address["Bucket"], auth["AccessKeyId"], auth["AccessKeySecret"],
                auth["SecurityToken"], version, address["FileName"])


def test_key_that_collides_with_a_folder_is_refused(bucket):
    bucket.put_object("a/b.txt", b"1")
    with pytest.raises(oss2.exceptions.ServerError) as err:
        bucket.put_object("a", b"2")
    assert (err.value.status, err.value.code) == (400, "InvalidObjectName")
    with pytest.raises(oss2.exceptions.ServerError) as err:
        bucket.put_object("a/b.txt/c", b"3")
    assert (err.value.status, err.value.code) == (400, "InvalidObjectName")
    assert bucket.get_object("a/b.txt").read() == b"1"
