"""The media library through the official SDK: RegisterMediaInfo, GetMediaInfo,
BatchGetMediaInfos, UpdateMediaInfo (seed 004), DeleteMediaInfos, ListMediaBasicInfos and
SearchMedia; local object storage, signed FileUrls, background probing and tenancy
(api-projects-media.md Part B, decisions.md "Wire and errors" and "Media library").

Media files are real (ffmpeg, mediafiles.py) and reach the store with `openice media put`.
"""

from __future__ import annotations

import collections
import json
import subprocess
import threading
import time
import uuid
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException

from icehelpers import Api, expect_error, parse_time, unknown_fields
from mediafiles import (
    AUDIO_SECONDS,
    IMAGE_SIZE,
    MEDIA_ID_RE,
    VIDEO_SECONDS,
    VIDEO_SIZE,
    Library,
    check_basic_info,
    check_media_info,
    fetch,
)

ABSENT = "0123456789abcdef0123456789abcdef"  # a well-formed MediaId nobody has


def basic(info: dict) -> dict:
    return info["MediaBasicInfo"]


def file_basic(info: dict) -> dict:
    [f] = info["FileInfoList"]
    return f["FileBasicInfo"]


def other_library(server, media_files) -> Library:
    """Another brand-new account's library (signature v3)."""
    return Library(server, Api(server.endpoint, server.create_account(), "v3"), media_files)


def total(api) -> int:
    return api.list_media().raw["TotalCount"]


def put_cli(server, src, url: str, account: str) -> subprocess.CompletedProcess:
    """`openice media put` without asserting success."""
    return subprocess.run(
        [server.binary, "media", "put", str(src), url, "--account", account, *server.store_args()],
        capture_output=True,
        text=True,
        timeout=60,
    )


def expect_bad_request(fn, code_choices: tuple[str, ...], *names: str) -> None:
    """A 400 whose code is one of `code_choices` and whose message names `names`."""
    with pytest.raises(ClientException) as info:
        fn()
    e = info.value
    assert e.status_code == 400 and e.code in code_choices, (e.status_code, e.code, e.message)
    for n in names:
        assert n in e.data["Message"], (n, e.data["Message"])


# ---------------------------------------------------------------------------------------------
# RegisterMediaInfo and probing


def test_register_answers_media_id_and_get_shows_the_new_media(lib):
    media_id, url = lib.register("video")
    assert MEDIA_ID_RE.match(media_id)
    r = lib.api.get_media(media_id=media_id)
    assert set(r.raw) == {"RequestId", "MediaInfo"}
    info = r.raw["MediaInfo"]
    check_media_info(info)
    b = basic(info)
    assert b["InputURL"] == url
    assert b["MediaType"] == "video"  # detected from the extension
    assert b["Source"] == "oss"
    assert b["Title"] == url.rsplit("/", 1)[1]  # default Title: the file name
    assert b["Status"] in ("Init", "Preparing", "Normal")
    assert r.resp.body.media_info.media_basic_info.media_id == media_id


def test_probe_video(lib_v3, media_files):
    media_id, _ = lib_v3.ready("video")
    r = lib_v3.api.get_media(media_id=media_id)
    info = r.raw["MediaInfo"]
    check_media_info(info)
    b = basic(info)
    assert (b["Status"], b["MediaType"]) == ("Normal", "video")
    [f] = info["FileInfoList"]
    fb = f["FileBasicInfo"]
    assert fb["FileSize"] == str(media_files.video.stat().st_size)
    assert (fb["Width"], fb["Height"]) == tuple(str(n) for n in VIDEO_SIZE)
    assert float(fb["Duration"]) == pytest.approx(VIDEO_SECONDS, abs=0.1)
    assert float(fb["Bitrate"]) > 0
    assert "mp4" in fb["FormatName"].split(",")
    assert (fb["FileStatus"], fb["FileType"]) == ("Normal", "source_file")
    assert fb["FileName"] == b["InputURL"].rsplit("/", 1)[1]
    assert fb["Region"]
    [v] = f["VideoStreamInfoList"]
    assert (v["CodecName"], v["Width"], v["Height"]) == ("h264", "320", "240")
    assert float(v["Fps"]) == pytest.approx(25)
    [a] = f["AudioStreamInfoList"]
    assert (a["CodecName"], a["SampleRate"], a["Channels"]) == ("aac", "44100", "1")
    assert f.get("SubtitleStreamInfoList", []) == []
    sdk = r.resp.body.media_info.file_info_list[0]
    assert sdk.file_basic_info.width == "320" and sdk.video_stream_info_list[0].codec_name == "h264"


def test_probe_video_makes_a_cover_snapshot(lib_v3):
    _, info = lib_v3.ready("video")
    cover = basic(info)["CoverURL"]
    got = fetch(cover)
    assert got.status == 200, got
    assert got.body[:3] == b"\xff\xd8\xff"  # a JPEG frame


def test_no_snapshot_when_not_wanted_or_cover_given(lib_v3):
    _, info = lib_v3.ready("video", register_config='{"NeedSnapshot": false}')
    assert basic(info)["Status"] == "Normal"
    assert "CoverURL" not in basic(info)
    given = "https://example.com/cover.png"
    _, info = lib_v3.ready("video", cover_url=given)
    assert basic(info)["CoverURL"] == given


def test_probe_audio_only(lib_v3, media_files):
    _, info = lib_v3.ready("audio")
    check_media_info(info)
    b = basic(info)
    assert (b["Status"], b["MediaType"]) == ("Normal", "audio")
    assert "CoverURL" not in b
    [f] = info["FileInfoList"]
    fb = f["FileBasicInfo"]
    assert float(fb["Duration"]) == pytest.approx(AUDIO_SECONDS, abs=0.1)
    assert fb["FileSize"] == str(media_files.audio.stat().st_size)
    # Values a probe cannot give are omitted, not zero (decisions.md "Status flow").
    assert "Width" not in fb and "Height" not in fb
    assert f.get("VideoStreamInfoList", []) == []
    [a] = f["AudioStreamInfoList"]
    assert a["CodecName"] == "aac"


def test_probe_image(lib_v3, media_files):
    _, info = lib_v3.ready("image")
    check_media_info(info)
    b = basic(info)
    assert (b["Status"], b["MediaType"]) == ("Normal", "image")
    fb = file_basic(info)
    assert (fb["Width"], fb["Height"]) == tuple(str(n) for n in IMAGE_SIZE)
    assert fb["FileSize"] == str(media_files.image.stat().st_size)
    assert "Duration" not in fb and "Bitrate" not in fb


@pytest.mark.parametrize("kind", ["truncated", "empty"])
def test_corrupt_media_is_prepare_fail(lib_v3, kind):
    _, info = lib_v3.ready(kind)
    check_media_info(info)
    b = basic(info)
    assert b["Status"] == "PrepareFail"
    assert "CoverURL" not in b
    fb = file_basic(info)
    for absent in ("Duration", "Width", "Height", "Bitrate", "FormatName"):
        assert absent not in fb, (absent, fb)
    assert info["FileInfoList"][0].get("VideoStreamInfoList", []) == []


def test_missing_object_is_prepare_fail(lib_v3):
    lib_v3.put("image")  # the bucket exists; the object does not
    r = lib_v3.api.register_media(input_url=f"oss://{lib_v3.bucket}/in/never-put.mp4")
    info = lib_v3.wait(r.raw["MediaId"])
    assert basic(info)["Status"] == "PrepareFail"


# ---------------------------------------------------------------------------------------------
# FileUrl: signed downloads served by openice


def test_file_url_downloads_the_file(lib_v3, media_files):
    media_id, _ = lib_v3.register("video")
    fb = file_basic(lib_v3.api.get_media(media_id=media_id).raw["MediaInfo"])
    url = fb["FileUrl"]
    parts = urlsplit(url)
    assert parts.netloc == lib_v3.api.endpoint
    assert parts.path.startswith(f"/oss/{lib_v3.bucket}/")
    q = parse_qs(parts.query)
    expires = int(q["Expires"][0])
    assert 3600 - 5 <= expires - time.time() <= 3600 + 5  # AuthTimeout default 3600
    got = fetch(url)
    assert got.status == 200
    assert got.body == media_files.video.read_bytes()


def test_file_url_range_request(lib_v3, media_files):
    media_id, _ = lib_v3.register("video")
    url = file_basic(lib_v3.api.get_media(media_id=media_id).raw["MediaInfo"])["FileUrl"]
    data = media_files.video.read_bytes()
    got = fetch(url, {"Range": "bytes=10-109"})
    assert got.status == 206
    assert got.body == data[10:110]
    assert got.headers.get("content-range") == f"bytes 10-109/{len(data)}"
    got = fetch(url, {"Range": "bytes=-50"})
    assert (got.status, got.body) == (206, data[-50:])


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    q.update(changes)
    return urlunsplit(parts._replace(query=urlencode(q)))


def test_tampered_file_url_is_403(lib_v3):
    media_id, _ = lib_v3.stub(".mp4")
    other_id, _ = lib_v3.stub(".m4a")
    url = file_basic(lib_v3.api.get_media(media_id=media_id).raw["MediaInfo"])["FileUrl"]
    other = file_basic(lib_v3.api.get_media(media_id=other_id).raw["MediaInfo"])["FileUrl"]
    sig = parse_qs(urlsplit(url).query)["Signature"][0]
    expires = parse_qs(urlsplit(url).query)["Expires"][0]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    assert fetch(url).status == 200
    assert fetch(_with_query(url, Signature=flipped)).status == 403
    assert fetch(_with_query(url, Expires=str(int(expires) + 1000))).status == 403
    assert fetch(_with_query(url, Signature="")).status == 403
    assert fetch(url.split("?")[0]).status == 403
    # A valid signature of one object does not open another.
    swapped = urlunsplit(urlsplit(other)._replace(query=urlsplit(url).query))
    assert fetch(swapped).status == 403


def test_expired_file_url_is_403(lib_v3, media_files):
    media_id, _ = lib_v3.register("image")
    r = lib_v3.api.get_media(media_id=media_id, auth_timeout=1)
    url = file_basic(r.raw["MediaInfo"])["FileUrl"]
    expires = int(parse_qs(urlsplit(url).query)["Expires"][0])
    assert expires - time.time() <= 2
    deadline = time.monotonic() + 6
    while True:
        got = fetch(url)
        if got.status == 403:
            break
        assert got.status == 200 and got.body == media_files.image.read_bytes()
        assert time.monotonic() < deadline, "the URL never expired"
        time.sleep(0.2)
    # A longer AuthTimeout gives a later expiry.
    r = lib_v3.api.get_media(media_id=media_id, auth_timeout=86400)
    expires = int(parse_qs(urlsplit(file_basic(r.raw["MediaInfo"])["FileUrl"]).query)["Expires"][0])
    assert 86400 - 5 <= expires - time.time() <= 86400 + 5


@pytest.mark.parametrize("timeout", [0, 86401, -5])
def test_auth_timeout_out_of_range_is_invalid(lib_v3, timeout):
    media_id, _ = lib_v3.stub(".png")
    expect_error(lambda: lib_v3.api.get_media(media_id=media_id, auth_timeout=timeout), "InvalidParameter", 400,
                 "AuthTimeout")


# ---------------------------------------------------------------------------------------------
# Input URLs, buckets and keys


def test_oss_endpoint_url_resolves_to_the_same_object(lib, media_files):
    key = f"in/clip {uuid.uuid4().hex[:6]} 中文.mp4"
    oss_url = lib.put("video", key)
    https = f"https://{lib.bucket}.oss-cn-shanghai.aliyuncs.com/{quote(key)}?versionId=7&x-oss-process=a"
    media_id = lib.api.register_media(input_url=https).raw["MediaId"]
    info = lib.wait(media_id)
    assert basic(info)["InputURL"] == https  # as registered
    assert basic(info)["Status"] == "Normal"
    assert file_basic(info)["FileSize"] == str(media_files.video.stat().st_size)
    assert fetch(file_basic(info)["FileUrl"]).body == media_files.video.read_bytes()
    # Every form names the same object: a second registration is a duplicate.
    for same in (oss_url, f"http://{lib.bucket}.oss-cn-beijing-internal.aliyuncs.com/{quote(key)}"):
        expect_error(lambda: lib.api.register_media(input_url=same), "MediaAlreadyExist", 409)
        assert lib.api.get_media(input_url=same).raw["MediaInfo"]["MediaId"] == media_id
    assert total(lib.api) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/video.mp4",
        "http://127.0.0.1:1/video.mp4",
        "https://bucket-x.oss-cn-shanghai.aliyuncs.com.evil.example/v.mp4",
        "vod://0123456789abcdef",
        "ftp://bucket-x/v.mp4",
        "bucket-x/v.mp4",
        "oss://bucket-x",
        "oss://Bucket_Upper/v.mp4",
    ],
)
def test_other_urls_are_refused(lib, url):
    expect_error(lambda: lib.api.register_media(input_url=url), "InvalidParameter", 400, "InputURL")
    assert total(lib.api) == 0


ESCAPES = [
    "oss://{b}/../other-bucket/x.mp4",
    "oss://{b}/in/../../x.mp4",
    "oss://{b}//etc/passwd",
    "oss://{b}/in/./x.mp4",
    "oss://{b}/in/..",
    "oss://{b}/in\\..\\..\\x.mp4",
    "oss://{b}/in/a\x00b.mp4",
    "https://{b}.oss-cn-shanghai.aliyuncs.com/%2e%2e/x.mp4",
    "https://{b}.oss-cn-shanghai.aliyuncs.com/in/%2E%2E/%2E%2E/x.mp4",
    "https://{b}.oss-cn-shanghai.aliyuncs.com/in/a%00b.mp4",
    "https://{b}.oss-cn-shanghai.aliyuncs.com/%2Fetc%2Fpasswd",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_keys_escaping_the_bucket_are_refused(lib, template):
    url = template.format(b=lib.bucket)
    expect_error(lambda: lib.api.register_media(input_url=url), "InvalidParameter", 400, "InputURL")
    assert total(lib.api) == 0


def test_cli_put_refuses_escaping_keys(server, lib_v3, media_files, tmp_path):
    lib_v3.put("image")
    for url in (f"oss://{lib_v3.bucket}/../escaped.png", f"oss://{lib_v3.bucket}//abs.png",
                f"oss://{lib_v3.bucket}/a/../../escaped.png"):
        p = put_cli(server, media_files.image, url, lib_v3.account_id)
        assert p.returncode != 0, (url, p.stdout)
    assert not (server.data_dir / "buckets" / "escaped.png").exists()
    assert not (server.data_dir / "escaped.png").exists()


def _refused_or_failed(lib, url: str, forbidden: bytes) -> None:
    """A registration of a key that resolves outside its bucket is refused, or the media
    fails its probe and its FileUrl never serves the outside file."""
    try:
        media_id = lib.api.register_media(input_url=url).raw["MediaId"]
    except ClientException as e:
        assert (e.code, e.status_code) == ("InvalidParameter", 400) and "InputURL" in e.data["Message"]
        return
    info = lib.wait(media_id)
    assert basic(info)["Status"] == "PrepareFail", info
    got = fetch(file_basic(info)["FileUrl"])
    assert got.status in (403, 404), got.status
    assert forbidden not in got.body


def test_symlinks_out_of_the_bucket_are_refused(server, lib_v3, media_files):
    lib_v3.put("image")  # creates the bucket folder
    # A file of another account's bucket, and a folder outside the data dir.
    victim = other_library(server, media_files)
    victim_key = victim.key("video")
    victim.put("video", victim_key)
    target = server.object_path(victim.bucket, victim_key)
    link = server.object_path(lib_v3.bucket, "in/link.mp4")
    link.symlink_to(target)
    _refused_or_failed(lib_v3, f"oss://{lib_v3.bucket}/in/link.mp4", media_files.video.read_bytes())
    dir_link = server.object_path(lib_v3.bucket, "dirlink")
    dir_link.symlink_to(media_files.video.parent, target_is_directory=True)
    _refused_or_failed(lib_v3, f"oss://{lib_v3.bucket}/dirlink/{media_files.audio.name}", media_files.audio.read_bytes())


def test_bucket_belongs_to_one_account(server, media_files):
    a = other_library(server, media_files)
    b = other_library(server, media_files)
    key = a.key("video")
    url = a.put("video", key)
    # Another account can neither register from the bucket nor put files into it.
    expect_error(lambda: b.api.register_media(input_url=url), "InvalidParameter", 400, "InputURL")
    https = f"https://{a.bucket}.oss-cn-hangzhou.aliyuncs.com/{key}"
    expect_error(lambda: b.api.register_media(input_url=https), "InvalidParameter", 400, "InputURL")
    p = put_cli(server, media_files.audio, f"oss://{a.bucket}/{key}", b.account_id)
    assert p.returncode != 0
    assert server.object_path(a.bucket, key).read_bytes() == media_files.video.read_bytes()
    assert total(b.api) == 0
    # The owner registers normally.
    a.api.register_media(input_url=url)
    # A bucket first used by a registration is that account's too.
    claimed = f"claim-{uuid.uuid4().hex[:10]}"
    b.api.register_media(input_url=f"oss://{claimed}/later.png")
    p = put_cli(server, media_files.image, f"oss://{claimed}/x.png", a.account_id)
    assert p.returncode != 0
    b.put("image", "later.png", bucket=claimed)


def test_other_accounts_media_is_not_found(server, media_files):
    a = other_library(server, media_files)
    b = other_library(server, media_files)
    media_id, url = a.stub(".mp4", title="mine")
    b.put("image")
    expect_error(lambda: b.api.get_media(media_id=media_id), "InvalidParameter", 400, "MediaId")
    expect_error(lambda: b.api.get_media(input_url=url), "NoMatchedInputUrl", 404)
    r = b.api.batch_get_media(media_ids=media_id)
    assert r.raw["MediaInfos"] == [] and r.raw["IgnoredList"] == [media_id]
    expect_error(lambda: b.api.update_media(media_id=media_id, title="stolen"), "InvalidParameter", 400, "MediaId")
    expect_error(lambda: b.api.update_media(input_url=url, title="stolen"), "NoMatchedInputUrl", 404)
    r = b.api.delete_media(media_ids=media_id, delete_physical_files=True)
    assert r.raw["IgnoredList"] == [media_id]
    assert b.api.list_media().raw["TotalCount"] == 0
    assert b.api.search_media().raw["Total"] == 0
    # Untouched for its owner.
    info = a.api.get_media(media_id=media_id).raw["MediaInfo"]
    assert basic(info)["Title"] == "mine"
    assert server.object_path(a.bucket, url.split("/", 3)[3]).exists()


# ---------------------------------------------------------------------------------------------
# RegisterMediaInfo options


def test_duplicate_input_url_is_409(lib_v3):
    media_id, url = lib_v3.stub(".mp4")
    e = expect_error(lambda: lib_v3.api.register_media(input_url=url), "MediaAlreadyExist", 409)
    assert "inputUrl" in e.data["Message"] or "InputURL" in e.data["Message"]
    expect_error(lambda: lib_v3.api.register_media(input_url=url, overwrite=False), "MediaAlreadyExist", 409)
    assert total(lib_v3.api) == 1
    assert lib_v3.api.get_media(input_url=url).raw["MediaInfo"]["MediaId"] == media_id


def test_overwrite_registers_anew(lib_v3):
    old, url = lib_v3.stub(".mp4", title="old")
    new = lib_v3.api.register_media(input_url=url, overwrite=True, title="new").raw["MediaId"]
    assert new != old and MEDIA_ID_RE.match(new)
    expect_error(lambda: lib_v3.api.get_media(media_id=old), "InvalidParameter", 400, "MediaId")
    info = lib_v3.wait(new)
    assert basic(info)["Title"] == "new"
    assert lib_v3.api.get_media(input_url=url).raw["MediaInfo"]["MediaId"] == new
    assert total(lib_v3.api) == 1
    # Overwrite of a URL not yet registered simply registers it.
    url2 = lib_v3.put("audio")
    lib_v3.api.register_media(input_url=url2, overwrite=True)
    assert total(lib_v3.api) == 2


def test_client_token_makes_register_idempotent(lib_v3):
    url = lib_v3.put("video")
    token = uuid.uuid4().hex
    first = lib_v3.api.register_media(input_url=url, client_token=token).raw["MediaId"]
    again = lib_v3.api.register_media(input_url=url, client_token=token).raw["MediaId"]
    assert again == first
    assert total(lib_v3.api) == 1
    expect_error(lambda: lib_v3.api.register_media(input_url=url, client_token=uuid.uuid4().hex),
                 "MediaAlreadyExist", 409)


def test_register_stores_the_given_fields(lib):
    cate = lib.api.add_category(cate_name="clips").raw["Category"]["CateId"]
    media_id, url = lib.register(
        "video",
        title="标题 title",
        description="a description",
        media_tags="tag1,标签",
        user_data='{"k": "v"}',
        business_type="opening",
        media_type="video",
        reference_id="ref_reg-001",
        cate_id=cate,
    )
    b = basic(lib.api.get_media(media_id=media_id).raw["MediaInfo"])
    check_basic_info(b)
    assert b["Title"] == "标题 title"
    assert b["Description"] == "a description"
    assert b["MediaTags"].split(",") == ["tag1", "标签"]
    assert b["UserData"] == '{"k": "v"}'
    assert b["BusinessType"] == "opening"
    assert b["ReferenceId"] == "ref_reg-001"
    assert type(b["CateId"]) is int and b["CateId"] == cate
    assert b["CateName"] == "clips"


def test_register_accepts_limits_in_bytes(lib):
    media_id, _ = lib.register(
        "image",
        title="中" * 42 + "ab",  # 128 bytes
        description="中" * 341 + "a",  # 1024 bytes
        cover_url="http://x/" + "中" * 39 + "ab",  # 128 bytes
        media_tags=",".join(f"t{i}" for i in range(15)) + "," + "中" * 10 + "ab",  # 16 tags, one of 32 bytes
        reference_id="r" * 64,
    )
    b = basic(lib.api.get_media(media_id=media_id).raw["MediaInfo"])
    assert b["Title"] == "中" * 42 + "ab"
    assert len(b["MediaTags"].split(",")) == 16


BAD_REGISTER = [
    ({"title": "中" * 42 + "abc"}, "Title"),  # 129 bytes, 45 characters
    ({"description": "中" * 341 + "ab"}, "Description"),
    ({"cover_url": "http://x/" + "中" * 39 + "abc"}, "CoverURL"),
    ({"user_data": "not json"}, "UserData"),
    ({"user_data": '{"k":"' + "x" * 1017 + '"}'}, "UserData"),  # 1025 bytes of JSON
    ({"reference_id": "abc12"}, "ReferenceId"),
    ({"reference_id": "r" * 65}, "ReferenceId"),
    ({"reference_id": "abc def"}, "ReferenceId"),
    ({"reference_id": "abc.def"}, "ReferenceId"),
    ({"media_type": "movie"}, "MediaType"),
    ({"business_type": "bogus"}, "BusinessType"),
    ({"cate_id": 987654321}, "CateId"),
    ({"media_tags": ",".join(f"t{i}" for i in range(17))}, "MediaTags"),
    ({"media_tags": "ok," + "中" * 11}, "MediaTags"),  # a 33-byte tag
    ({"register_config": "{not json"}, "RegisterConfig"),
]


@pytest.mark.parametrize("kw,param", BAD_REGISTER, ids=[f"{p}-{i}" for i, (_, p) in enumerate(BAD_REGISTER)])
def test_register_invalid_values(lib_v3, kw, param):
    url = lib_v3.put("image")
    expect_error(lambda: lib_v3.api.register_media(input_url=url, **kw), "InvalidParameter", 400, param)
    assert total(lib_v3.api) == 0


def test_register_without_input_url_is_missing_parameter(lib_v3):
    expect_error(lambda: lib_v3.api.register_media(title="x"), "MissingParameter", 400, "InputURL")


# ---------------------------------------------------------------------------------------------
# GetMediaInfo and BatchGetMediaInfos


def test_get_by_media_id_or_input_url(lib_v3):
    video, video_url = lib_v3.stub(".mp4")
    audio, _ = lib_v3.stub(".m4a")
    by_id = basic(lib_v3.api.get_media(media_id=video).raw["MediaInfo"])
    by_url = basic(lib_v3.api.get_media(input_url=video_url).raw["MediaInfo"])
    for k in ("MediaId", "InputURL", "Title", "CreateTime", "MediaType"):
        assert by_id[k] == by_url[k], k
    # MediaId wins when both are given.
    both = lib_v3.api.get_media(media_id=audio, input_url=video_url).raw["MediaInfo"]
    assert both["MediaId"] == audio


def test_get_unknown_media(lib_v3):
    lib_v3.put("image")
    e = expect_error(lambda: lib_v3.api.get_media(media_id=ABSENT), "InvalidParameter", 400, "MediaId")
    expect_error(lambda: lib_v3.api.get_media(input_url=f"oss://{lib_v3.bucket}/in/nothing.mp4"), "NoMatchedInputUrl", 404)
    expect_error(
        lambda: lib_v3.api.get_media(input_url=f"https://{lib_v3.bucket}.oss-cn-shanghai.aliyuncs.com/in/nothing.mp4"),
        "NoMatchedInputUrl", 404,
    )
    expect_error(lambda: lib_v3.api.get_media(), "MissingParameter", 400, "MediaId")
    assert e.status_code == 400


def test_batch_get(lib_v3):
    video, _ = lib_v3.register("video")
    audio, _ = lib_v3.stub(".m4a")
    lib_v3.wait(video)
    r = lib_v3.api.batch_get_media(media_ids=f"{audio},{ABSENT},{video}")
    assert set(r.raw) == {"RequestId", "MediaInfos", "IgnoredList"}
    assert [m["MediaId"] for m in r.raw["MediaInfos"]] == [audio, video]
    assert r.raw["IgnoredList"] == [ABSENT]
    for m in r.raw["MediaInfos"]:
        check_media_info(m)
        assert "FileInfoList" not in m  # BasicInfo only without AdditionType
    assert basic(r.raw["MediaInfos"][1])["MediaType"] == "video"
    # AdditionType=FileInfo adds the file and stream information.
    lib_v3.api.exact = False  # see test_batch_get_answers_only_fields_the_sdk_knows
    r = lib_v3.api.batch_get_media(media_ids=video, addition_type="FileInfo")
    [m] = r.raw["MediaInfos"]
    check_media_info(m)
    [f] = m["FileInfoList"]
    assert f["FileBasicInfo"]["Width"] == "320"
    assert f["VideoStreamInfoList"][0]["CodecName"] == "h264"
    assert f["AudioStreamInfoList"][0]["CodecName"] == "aac"


def test_batch_get_answers_only_fields_the_sdk_knows(lib_v3):
    # api-projects-media.md Part B/D: BatchGet's MediaBasicInfo has no CateId, CateName or
    # ReferenceId; its FileBasicInfo no CreateTime/ModifiedTime ("serialize exactly the keys
    # listed"). The SDK model drops anything else.
    cate = lib_v3.api.add_category(cate_name="c").raw["Category"]["CateId"]
    video, _ = lib_v3.stub(".mp4", cate_id=cate, reference_id="batch-ref-1")
    lib_v3.wait(video)
    lib_v3.api.exact = False
    unknown = {}
    for addition in ("none", "FileInfo"):
        r = lib_v3.api.batch_get_media(media_ids=video, addition_type=None if addition == "none" else addition)
        unknown[addition] = unknown_fields(r.body, r.raw)
    assert unknown == {"none": [], "FileInfo": []}


# ---------------------------------------------------------------------------------------------
# UpdateMediaInfo (seed 004)


def test_update_answers_request_id_and_media_id(lib_v3):
    media_id, _ = lib_v3.stub(".png")
    r = lib_v3.api.update_media(media_id=media_id, title="renamed")
    assert set(r.raw) == {"RequestId", "MediaId"}
    assert r.raw["MediaId"] == media_id


def test_update_changes_only_the_given_fields(lib):
    media_id, url = lib.stub(".png", title="t0", description="d0", media_tags="a",
                                 user_data='{"x":1}', business_type="general")
    before = basic(lib.api.get_media(media_id=media_id).raw["MediaInfo"])
    lib.api.update_media(media_id=media_id, title="t1")
    b = basic(lib.api.get_media(media_id=media_id).raw["MediaInfo"])
    assert b["Title"] == "t1"
    for k in ("Description", "MediaTags", "UserData", "BusinessType", "InputURL", "CreateTime", "MediaType"):
        assert b[k] == before[k], k
    lib.api.update_media(media_id=media_id, description="d1", category="分类", cover_url="http://x.example/c.png",
                         user_data="free text", business_type="watermark")
    b = basic(lib.api.get_media(media_id=media_id).raw["MediaInfo"])
    check_basic_info(b)
    assert (b["Title"], b["Description"], b["Category"], b["CoverURL"], b["UserData"], b["BusinessType"]) == (
        "t1", "d1", "分类", "http://x.example/c.png", "free text", "watermark")
    assert parse_time(b["ModifiedTime"]) >= parse_time(before["ModifiedTime"])


def test_update_by_input_url(lib_v3):
    media_id, url = lib_v3.stub(".mp4")
    r = lib_v3.api.update_media(input_url=url, title="via url")
    assert r.raw["MediaId"] == media_id
    bucket, key = url[len("oss://"):].split("/", 1)
    r = lib_v3.api.update_media(input_url=f"https://{bucket}.oss-cn-shanghai.aliyuncs.com/{key}", description="https")
    assert r.raw["MediaId"] == media_id
    b = basic(lib_v3.api.get_media(media_id=media_id).raw["MediaInfo"])
    assert (b["Title"], b["Description"]) == ("via url", "https")
    expect_error(lambda: lib_v3.api.update_media(input_url=f"oss://{bucket}/in/none.mp4", title="x"),
                 "NoMatchedInputUrl", 404)


def test_update_media_id_wins_and_input_url_never_changes(lib_v3):
    a, url_a = lib_v3.stub(".mp4", title="a")
    b, url_b = lib_v3.stub(".m4a", title="b")
    r = lib_v3.api.update_media(media_id=a, input_url=url_b, title="a2")
    assert r.raw["MediaId"] == a
    ia = basic(lib_v3.api.get_media(media_id=a).raw["MediaInfo"])
    ib = basic(lib_v3.api.get_media(media_id=b).raw["MediaInfo"])
    assert (ia["Title"], ia["InputURL"]) == ("a2", url_a)
    assert (ib["Title"], ib["InputURL"]) == ("b", url_b)


def test_update_unknown_media(lib_v3):
    expect_error(lambda: lib_v3.api.update_media(media_id=ABSENT, title="x"), "InvalidParameter", 400, "MediaId")
    expect_error(lambda: lib_v3.api.update_media(title="x"), "MissingParameter", 400, "MediaId")


# (field, SDK argument, largest valid value, smallest invalid value); lengths in UTF-8 bytes.
LIMITS = [
    ("Title", "title", "中" * 42 + "ab", "中" * 42 + "abc"),
    ("Description", "description", "中" * 341 + "a", "中" * 341 + "ab"),
    ("Category", "category", "中" * 21 + "a", "中" * 21 + "ab"),
    ("CoverURL", "cover_url", "http://x/" + "中" * 39 + "ab", "http://x/" + "中" * 39 + "abc"),
    ("UserData", "user_data", "中" * 341 + "a", "中" * 341 + "ab"),
    ("MediaTags", "media_tags", ",".join(f"t{i}" for i in range(16)), ",".join(f"t{i}" for i in range(17))),
    ("MediaTags", "media_tags", "x," + "中" * 10 + "ab", "x," + "中" * 11),
    ("ReferenceId", "reference_id", "Ab-_09", "Ab-_0"),
    ("ReferenceId", "reference_id", "R" * 64, "R" * 65),
    ("ReferenceId", "reference_id", "abc_123", "abc 123"),
    ("ReferenceId", "reference_id", "abc-123", "abcé123"),
]


@pytest.mark.parametrize("field,arg,ok,bad", LIMITS, ids=[f"{f}-{i}" for i, (f, *_) in enumerate(LIMITS)])
def test_update_limits_are_in_utf8_bytes(lib, field, arg, ok, bad):
    media_id, _ = lib.stub(".png")
    lib.api.update_media(media_id=media_id, **{arg: ok})
    b = basic(lib.api.get_media(media_id=media_id).raw["MediaInfo"])
    if field == "MediaTags":
        assert b[field].split(",") == ok.split(",")
    else:
        assert b[field] == ok
    expect_error(lambda: lib.api.update_media(media_id=media_id, **{arg: bad}), "InvalidParameter", 400, field)
    after = basic(lib.api.get_media(media_id=media_id).raw["MediaInfo"])
    assert after[field] == b[field]


def test_update_nothing_half_applied(lib_v3):
    media_id, _ = lib_v3.stub(".png", title="keep", description="keep d", media_tags="a")
    _, _ = lib_v3.stub(".m4a", reference_id="taken-ref")
    bad = [
        ({"description": "x" * 1025}, "Description"),
        ({"media_tags": ",".join(f"t{i}" for i in range(17))}, "MediaTags"),
        ({"cate_id": 987654321}, "CateId"),
        ({"reference_id": "taken-ref"}, "ReferenceId"),
        ({"reference_id": "bad"}, "ReferenceId"),
        ({"business_type": "bogus"}, "BusinessType"),
        ({"category": "c" * 65}, "Category"),
        ({"cover_url": "c" * 129}, "CoverURL"),
        ({"user_data": "u" * 1025}, "UserData"),
    ]
    for kw, param in bad:
        call = {"title": "changed", **kw}
        if "description" not in kw:
            call["description"] = "changed"
        if "media_tags" not in kw:
            call["media_tags"] = "changed"
        expect_error(lambda: lib_v3.api.update_media(media_id=media_id, **call), "InvalidParameter", 400, param)
        b = basic(lib_v3.api.get_media(media_id=media_id).raw["MediaInfo"])
        assert (b["Title"], b["Description"], b["MediaTags"]) == ("keep", "keep d", "a"), (param, b)
        assert "ReferenceId" not in b and "CateId" not in b and "Category" not in b, (param, b)


def test_update_tags_overwrite_or_append(lib_v3):
    media_id, _ = lib_v3.stub(".png", media_tags="a,b")

    def tags() -> list[str]:
        return basic(lib_v3.api.get_media(media_id=media_id).raw["MediaInfo"])["MediaTags"].split(",")

    lib_v3.api.update_media(media_id=media_id, media_tags="c")
    assert tags() == ["c"]
    lib_v3.api.update_media(media_id=media_id, media_tags="d,c", append_tags=True)
    assert sorted(tags()) == ["c", "d"]
    lib_v3.api.update_media(media_id=media_id, media_tags="x,y", append_tags=False)
    assert tags() == ["x", "y"]
    lib_v3.api.update_media(media_id=media_id, media_tags=",".join(f"n{i}" for i in range(14)), append_tags=True)
    assert len(tags()) == 16
    # Appending past 16 tags is refused and changes nothing.
    expect_error(lambda: lib_v3.api.update_media(media_id=media_id, media_tags="one-more", append_tags=True),
                 "InvalidParameter", 400, "MediaTags")
    assert len(tags()) == 16 and "one-more" not in tags()
    # Appending tags already there is fine.
    lib_v3.api.update_media(media_id=media_id, media_tags="x,y", append_tags=True)
    assert len(tags()) == 16


@pytest.mark.parametrize("value", ["subtitles", "watermark", "opening", "ending", "general", "video", "font"])
def test_update_business_type_values(lib_v3, value):
    media_id, _ = lib_v3.stub(".png")
    lib_v3.api.update_media(media_id=media_id, business_type=value)
    assert basic(lib_v3.api.get_media(media_id=media_id).raw["MediaInfo"])["BusinessType"] == value


def test_reference_id_is_unique_per_account(server, media_files):
    a = other_library(server, media_files)
    b = other_library(server, media_files)
    first, _ = a.stub(".png", reference_id="shared-ref")
    second, _ = a.stub(".m4a")
    expect_error(lambda: a.api.update_media(media_id=second, reference_id="shared-ref"), "InvalidParameter", 400,
                 "ReferenceId")
    url = a.put("video")
    expect_error(lambda: a.api.register_media(input_url=url, reference_id="shared-ref"), "InvalidParameter", 400,
                 "ReferenceId")
    # Setting a media's own ReferenceId again is no conflict.
    a.api.update_media(media_id=first, reference_id="shared-ref", title="same")
    # Another account may use the same ReferenceId.
    other, _ = b.stub(".png", reference_id="shared-ref")
    assert basic(b.api.get_media(media_id=other).raw["MediaInfo"])["ReferenceId"] == "shared-ref"
    # Once released, the ReferenceId is free again.
    a.api.update_media(media_id=first, reference_id="other-ref")
    a.api.update_media(media_id=second, reference_id="shared-ref")


# ---------------------------------------------------------------------------------------------
# DeleteMediaInfos


def test_delete_by_ids_and_urls(lib_v3):
    video, video_url = lib_v3.stub(".mp4")
    audio, audio_url = lib_v3.stub(".m4a")
    image, _ = lib_v3.stub(".png")
    r = lib_v3.api.delete_media(media_ids=f"{video},{ABSENT}")
    assert set(r.raw) == {"RequestId", "IgnoredList", "ForbiddenList"}
    assert r.raw["IgnoredList"] == [ABSENT] and r.raw["ForbiddenList"] == []
    expect_error(lambda: lib_v3.api.get_media(media_id=video), "InvalidParameter", 400, "MediaId")
    missing_url = f"oss://{lib_v3.bucket}/in/none.mp4"
    r = lib_v3.api.delete_media(input_urls=f"{audio_url},{missing_url}")
    assert r.raw["IgnoredList"] == [missing_url]
    expect_error(lambda: lib_v3.api.get_media(media_id=audio), "InvalidParameter", 400, "MediaId")
    expect_error(lambda: lib_v3.api.get_media(input_url=audio_url), "NoMatchedInputUrl", 404)
    assert [m["MediaId"] for m in lib_v3.api.list_media().raw["MediaInfos"]] == [image]
    # Without DeletePhysicalFiles the file stays, and the URL can be registered again.
    assert lib_v3.server.object_path(lib_v3.bucket, video_url.split("/", 3)[3]).exists()
    again = lib_v3.api.register_media(input_url=video_url).raw["MediaId"]
    assert again != video


def test_delete_physical_files_removes_the_file(lib_v3):
    media_id, url = lib_v3.stub(".mp4")
    path = lib_v3.server.object_path(lib_v3.bucket, url.split("/", 3)[3])
    file_url = file_basic(lib_v3.api.get_media(media_id=media_id).raw["MediaInfo"])["FileUrl"]
    assert path.exists() and fetch(file_url).status == 200
    r = lib_v3.api.delete_media(media_ids=media_id, delete_physical_files=True)
    assert r.raw["IgnoredList"] == []
    assert not path.exists()
    assert fetch(file_url).status == 404


def test_delete_limits(lib_v3):
    ids = [uuid.uuid4().hex for _ in range(21)]
    expect_error(lambda: lib_v3.api.delete_media(media_ids=",".join(ids)), "InvalidParameter", 400, "MediaIds")
    expect_bad_request(
        lambda: lib_v3.api.delete_media(media_ids=",".join(ids[:10]),
                                     input_urls=",".join(f"oss://{lib_v3.bucket}/k{i}.mp4" for i in range(11))),
        ("InvalidParameter",),
    )
    r = lib_v3.api.delete_media(media_ids=",".join(ids[:20]))
    assert r.raw["IgnoredList"] == ids[:20]
    expect_bad_request(lambda: lib_v3.api.delete_media(), ("MissingParameter", "InvalidParameter"), "MediaIds")


# ---------------------------------------------------------------------------------------------
# ListMediaBasicInfos


def test_list_filters_and_shape(lib_v3):
    video, _ = lib_v3.stub(".mp4")
    audio, _ = lib_v3.stub(".m4a")
    image, _ = lib_v3.register("image")
    broken, _ = lib_v3.stub(".mp4")
    for m in (video, audio, image, broken):
        lib_v3.wait(m)
    lib_v3.api.update_media(media_id=image, business_type="watermark")

    def ids(**kw) -> list[str]:
        r = lib_v3.api.list_media(**kw)
        assert type(r.raw["TotalCount"]) is int and r.raw["TotalCount"] == len(r.raw["MediaInfos"])
        return [m["MediaId"] for m in r.raw["MediaInfos"]]

    r = lib_v3.api.list_media()
    assert set(r.raw) <= {"RequestId", "MediaInfos", "NextToken", "MaxResults", "TotalCount"}
    assert type(r.raw["MaxResults"]) is int and r.raw["MaxResults"] == 10
    assert (r.raw["TotalCount"], r.raw.get("NextToken", "")) == (4, "")
    for m in r.raw["MediaInfos"]:
        check_media_info(m)
        assert "FileInfoList" not in m
    assert ids() == [broken, image, audio, video]  # newest first
    assert ids(sort_by="desc") == [broken, image, audio, video]
    assert ids(sort_by="asc") == [video, audio, image, broken]
    assert ids(media_type="audio") == [audio]
    assert ids(media_type="image") == [image]
    assert ids(media_type="text") == []
    # The stubs (zero-byte files) fail their probe; the PNG is Normal.
    assert ids(status="PrepareFail", sort_by="asc") == [video, audio, broken]
    assert ids(status="Normal") == [image]
    assert ids(status="Init") == []
    assert ids(source="oss", sort_by="asc") == [video, audio, image, broken]
    assert ids(source="vod") == []
    assert ids(business_type="watermark") == [image]
    assert ids(media_id=audio) == [audio]
    # IncludeFileBasicInfo adds FileBasicInfo (no stream lists).
    r = lib_v3.api.list_media(include_file_basic_info=True, media_id=image)
    [m] = r.raw["MediaInfos"]
    check_media_info(m)
    [f] = m["FileInfoList"]
    assert set(f) == {"FileBasicInfo"}
    assert (f["FileBasicInfo"]["Width"], f["FileBasicInfo"]["Height"]) == tuple(str(n) for n in IMAGE_SIZE)
    assert fetch(f["FileBasicInfo"]["FileUrl"]).status == 200


@pytest.mark.parametrize(
    "kw,param",
    [
        ({"media_type": "movie"}, "MediaType"),
        ({"status": "Bogus"}, "Status"),
        ({"source": "ftp"}, "Source"),
        ({"business_type": "bogus"}, "BusinessType"),
        ({"sort_by": "up"}, "SortBy"),
        ({"max_results": 0}, "MaxResults"),
        ({"max_results": 101}, "MaxResults"),
        ({"next_token": "not-a-token"}, "NextToken"),
        ({"start_time": "yesterday"}, "StartTime"),
        ({"end_time": "2021-01-08 16:52:07"}, "EndTime"),
    ],
)
def test_list_invalid_values(api, kw, param):
    expect_error(lambda: api.list_media(**kw), "InvalidParameter", 400, param)


def test_list_paging_with_next_token(lib_v3):
    made = [lib_v3.stub(".png")[0] for _ in range(5)]
    for sort_by, expected in (("desc", made[::-1]), ("asc", made)):
        seen, token, pages = [], None, 0
        while True:
            r = lib_v3.api.list_media(max_results=2, sort_by=sort_by, next_token=token)
            assert (r.raw["TotalCount"], r.raw["MaxResults"]) == (5, 2)
            seen += [m["MediaId"] for m in r.raw["MediaInfos"]]
            pages += 1
            token = r.raw.get("NextToken") or None
            if token is None:
                break
            assert pages < 5
        assert seen == expected, sort_by
        assert pages == 3
    # A token belongs to its query: another filter, another account, or a changed token → refused.
    token = lib_v3.api.list_media(max_results=2).raw["NextToken"]
    expect_error(lambda: lib_v3.api.list_media(max_results=2, next_token=token[:-2]), "InvalidParameter", 400,
                 "NextToken")


def test_list_time_filters(lib_v3):
    first, _ = lib_v3.stub(".png")
    t1 = basic(lib_v3.api.get_media(media_id=first).raw["MediaInfo"])["CreateTime"]
    # Wait (bounded) until the clock has moved past t1's second.
    deadline = time.monotonic() + 3
    while time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) <= t1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second, _ = lib_v3.stub(".m4a")
    t2 = basic(lib_v3.api.get_media(media_id=second).raw["MediaInfo"])["CreateTime"]
    assert t2 > t1

    def ids(**kw):
        return [m["MediaId"] for m in lib_v3.api.list_media(**kw).raw["MediaInfos"]]

    # StartTime is exclusive, EndTime inclusive (api-projects-media.md B6).
    assert ids(start_time=t1) == [second]
    assert ids(end_time=t1) == [first]
    assert ids(end_time=t2) == [second, first]
    assert ids(start_time=t2) == []


def test_list_answers_only_fields_the_sdk_knows(lib_v3):
    # ListMediaBasicInfos' MediaBasicInfo has CateId and ReferenceId but no CateName
    # (api-projects-media.md Part B table; the SDK model drops it).
    cate = lib_v3.api.add_category(cate_name="c").raw["Category"]["CateId"]
    lib_v3.stub(".png", cate_id=cate, reference_id="list-ref-1")
    lib_v3.api.exact = False
    r = lib_v3.api.list_media(include_file_basic_info=True)
    assert unknown_fields(r.body, r.raw) == []


# ---------------------------------------------------------------------------------------------
# SearchMedia


def test_search_match_subset(lib):
    cate = lib.api.add_category(cate_name="animals").raw["Category"]["CateId"]
    cat_video, _ = lib.stub(".mp4", title="alpha cat", media_tags="pet,funny", cate_id=cate)
    dog_audio, _ = lib.stub(".m4a", title="beta dog", media_tags="pet", business_type="opening")
    cat_image, _ = lib.register("image", title="gamma cat", cate_id=cate)
    broken, _ = lib.stub(".mp4", title="delta")
    for m in (cat_video, dog_audio, cat_image, broken):
        lib.wait(m)

    def found(match: str | None = None, **kw) -> set[str]:
        r = lib.api.search_media(match=match, **kw)
        assert type(r.raw["Total"]) is int and r.raw["Total"] == len(r.raw["MediaInfoList"])
        return {m["MediaId"] for m in r.raw["MediaInfoList"]}

    r = lib.api.search_media()
    assert r.raw["Success"] == "true" and isinstance(r.raw["Code"], str)
    assert r.raw["Total"] == 4
    for m in r.raw["MediaInfoList"]:
        check_media_info(m)
    everything = {cat_video, dog_audio, cat_image, broken}
    assert found() == everything
    assert found("title = 'beta dog'") == {dog_audio}
    assert found("title = 'beta'") == set()
    assert found("title like '%cat%'") == {cat_video, cat_image}
    assert found("mediaType = 'video'") == {cat_video, broken}  # .mp4 files are video by extension
    assert found("mediaType in ('video', 'audio')") == {cat_video, dog_audio, broken}
    assert found("title like '%cat%' and mediaType = 'image'") == {cat_image}
    assert found("mediaTags = 'pet'") == {cat_video, dog_audio}
    assert found("mediaTags in ('funny')") == {cat_video}
    assert found(f"cateId = {cate}") == {cat_video, cat_image}
    assert found(f"cateId = '{cate}' and title like '%alpha%'") == {cat_video}
    # The stubs (zero-byte files) fail their probe; the PNG is Normal.
    assert found("status = 'Normal'") == {cat_image}
    assert found("status in ('PrepareFail', 'Init')") == {cat_video, dog_audio, broken}
    assert found("source = 'oss'") == everything
    assert found("businessType = 'opening'") == {dog_audio}
    assert found("title like '%cat%' and mediaType = 'video' and status = 'PrepareFail'") == {cat_video}
    assert found("title like '%cat%' and mediaType = 'video' and status = 'Normal'") == set()


def test_search_paging(lib_v3):
    made = [lib_v3.stub(".png")[0] for _ in range(5)]
    pages = [lib_v3.api.search_media(page_size=2, page_no=n, sort_by="utcCreate:Asc").raw for n in (1, 2, 3, 4)]
    assert [len(p["MediaInfoList"]) for p in pages] == [2, 2, 1, 0]
    assert all(p["Total"] == 5 for p in pages)
    assert [m["MediaId"] for p in pages for m in p["MediaInfoList"]] == made
    desc = lib_v3.api.search_media(page_size=50, sort_by="utcCreate:Desc").raw
    assert [m["MediaId"] for m in desc["MediaInfoList"]] == made[::-1]


@pytest.mark.parametrize(
    "kw,param",
    [
        ({"page_size": 51}, "PageSize"),
        ({"page_size": 0}, "PageSize"),
        ({"page_no": 0}, "PageNo"),
        ({"match": "title = 'x' or mediaType = 'video'"}, "Match"),
        ({"match": "foo = 'x'"}, "Match"),
        ({"match": "title = 'unterminated"}, "Match"),
        ({"match": "mediaType = 'movie'"}, "Match"),
        ({"match": "status like '%Norm%'"}, "Match"),
        ({"match": "title"}, "Match"),
    ],
)
def test_search_invalid_values(api, kw, param):
    expect_error(lambda: api.search_media(**kw), "InvalidParameter", 400, param)


# ---------------------------------------------------------------------------------------------
# Concurrency


def test_concurrent_writes_never_fail(server, media_files):
    """Several clients writing at once while the probe worker stores results: every request
    is answered properly, none with a 5xx (decisions.md "Wire and errors": never a dropped
    connection or panic; a busy store is no InternalError)."""
    failures: collections.Counter = collections.Counter()
    unexpected: list[str] = []
    stop = time.monotonic() + 2.0

    def guard(action: str, fn):
        try:
            return fn()
        except ClientException as e:
            if e.status_code >= 500:
                failures[f"{action}: {e.status_code} {e.code}"] += 1
            else:
                unexpected.append(f"{action}: {e.status_code} {e.code} {e.message}")
        except Exception as e:  # noqa: BLE001 - a 5xx surfaces as ServerException
            failures[f"{action}: {type(e).__name__} {getattr(e, 'code', '')}"] += 1
        return None

    def new_library() -> Library:
        return Library(server, Api(server.endpoint, server.create_account(), "v3"), media_files)

    def registrar():
        lib = new_library()
        lib.put("empty", "x.mp4")
        n = 0
        while time.monotonic() < stop:
            guard("RegisterMediaInfo", lambda: lib.api.register_media(input_url=f"oss://{lib.bucket}/k{n}.mp4"))
            n += 1

    def categorizer():
        api = new_library().api
        while time.monotonic() < stop:
            root = guard("AddCategory", lambda: api.add_category(cate_name="r").raw["Category"]["CateId"])
            if root is not None:
                guard("AddCategory", lambda: api.add_category(cate_name="c", parent_id=root))
                guard("UpdateCategory", lambda: api.update_category(cate_id=root, cate_name="r2"))
                guard("DeleteCategory", lambda: api.delete_category(cate_id=root))

    def editor():
        lib = new_library()
        lib.api.exact = False  # answer shapes are checked elsewhere; this is about 5xx
        while time.monotonic() < stop:
            media_id, _ = lib.stub(".png")
            tl = json.dumps({"VideoTracks": [{"VideoTrackClips": [{"MediaId": media_id}]}]})
            pid = guard("CreateEditingProject", lambda: lib.api.create(title="p", timeline=tl).raw["Project"]["ProjectId"])
            if pid is not None:
                guard("AddEditingProjectMaterials",
                      lambda: lib.api.add_materials(project_id=pid, material_maps=json.dumps({"image": media_id})))
            guard("UpdateMediaInfo", lambda: lib.api.update_media(media_id=media_id, title="t", media_tags="a,b"))
            guard("DeleteMediaInfos", lambda: lib.api.delete_media(media_ids=media_id))

    threads = [threading.Thread(target=f) for f in (registrar, registrar, categorizer, categorizer, editor, editor)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert unexpected == []
    assert dict(failures) == {}, f"{dict(failures)}\n{server.log_text()[-1500:]}"
