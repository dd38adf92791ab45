"""Live editing projects through the official SDK (api-templates-jobs.md §4.1-§4.3, seeds 000/001
(UpdateEditingProject, CreateEditingProject), shared decisions.md "Templates and live projects"):
ProjectType LiveEditingProject with a validated BusinessConfig, BusinessStatus Reserving on
creation, Reserving/ReservationCanceled on update, the live system's statuses refused,
BusinessStatus ignored on regular projects, live streams from MaterialMaps.liveStream.
"""

from __future__ import annotations

import json

import pytest

from icehelpers import LIVE_CONFIG, check_time, expect_error, parse_time
from templates_support import expect_error_in, materials

BUCKET = "test-bucket.oss-cn-shanghai.aliyuncs.com"


def config(**top) -> str:
    doc = {"OutputMediaConfig": {"StorageLocation": BUCKET, "Path": "test-path"}, "OutputMediaTarget": "oss-object",
           "ReservationTime": "2021-06-21T08:05:00Z"}
    for k, v in top.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    return json.dumps(doc)


def live(api, business_config: str = LIVE_CONFIG, **kw) -> dict:
    return api.create(title=kw.pop("title", "live"), project_type="LiveEditingProject",
                      business_config=business_config, **kw).raw["Project"]


VALID_CONFIGS = {
    "seed-example": LIVE_CONFIG,
    "vod-media": config(OutputMediaTarget="vod-media"),
    "target-defaults": config(OutputMediaTarget=None),
    "no-path": config(OutputMediaConfig={"StorageLocation": BUCKET}),
    "no-reservation-time": config(ReservationTime=None),
    "only-storage-location": json.dumps({"OutputMediaConfig": {"StorageLocation": "abc.oss-cn-beijing.aliyuncs.com"}}),
    "reservation-with-offset": config(ReservationTime="2021-06-21T16:05:00+08:00"),
    "digits-in-bucket": config(OutputMediaConfig={"StorageLocation": "media-2024.oss-ap-southeast-1.aliyuncs.com"}),
}

INVALID_CONFIGS = {
    "not-json": "{OutputMediaConfig",
    "array": json.dumps([{"OutputMediaConfig": {"StorageLocation": BUCKET}}]),
    "empty-object": "{}",
    "no-storage-location": config(OutputMediaConfig={"Path": "p"}),
    "storage-location-not-a-string": config(OutputMediaConfig={"StorageLocation": 12}),
    "storage-location-empty": config(OutputMediaConfig={"StorageLocation": ""}),
    "bare-bucket": config(OutputMediaConfig={"StorageLocation": "test-bucket"}),
    "with-scheme": config(OutputMediaConfig={"StorageLocation": "http://" + BUCKET}),
    "with-path": config(OutputMediaConfig={"StorageLocation": BUCKET + "/dir"}),
    "no-oss-prefix": config(OutputMediaConfig={"StorageLocation": "test-bucket.cn-shanghai.aliyuncs.com"}),
    "other-domain": config(OutputMediaConfig={"StorageLocation": "test-bucket.oss-cn-shanghai.example.com"}),
    "suffix-appended": config(OutputMediaConfig={"StorageLocation": BUCKET + ".evil.com"}),
    "no-region": config(OutputMediaConfig={"StorageLocation": "test-bucket.oss-.aliyuncs.com"}),
    "target-unknown": config(OutputMediaTarget="S3"),
    "target-not-a-string": config(OutputMediaTarget=1),
    "reservation-not-iso": config(ReservationTime="21/06/2021 08:05"),
    "reservation-word": config(ReservationTime="tomorrow"),
    "reservation-bad-date": config(ReservationTime="2021-13-40T08:05:00Z"),
    "reservation-number": config(ReservationTime=1624262700),
}


@pytest.mark.parametrize("name", list(VALID_CONFIGS), ids=list(VALID_CONFIGS))
def test_live_project_accepts_documented_business_configs(api, name):
    cfg = VALID_CONFIGS[name]
    p = live(api, cfg)
    assert (p["ProjectType"], p["BusinessStatus"], p["BusinessConfig"]) == ("LiveEditingProject", "Reserving", cfg)
    g = api.get(p["ProjectId"]).raw["Project"]
    assert (g["ProjectType"], g["BusinessStatus"], g["BusinessConfig"]) == ("LiveEditingProject", "Reserving", cfg)


@pytest.mark.parametrize("name", list(INVALID_CONFIGS), ids=list(INVALID_CONFIGS))
def test_live_project_refuses_bad_business_configs(server, make_api, name):
    api = make_api(server.create_account())
    expect_error(lambda: live(api, INVALID_CONFIGS[name]), "InvalidParameter", 400, "BusinessConfig")
    # Nothing was created.
    assert api.project_ids(project_type="LiveEditingProject") == []


def test_live_project_needs_a_business_config(api):
    for cfg in (None, ""):
        expect_error_in(lambda: api.create(title="live", project_type="LiveEditingProject", business_config=cfg),
                        ("InvalidParameter", "MissingParameter"), 400, "BusinessConfig")


def test_live_project_answers_vendor_shape(api):
    r = api.create(title="live show", description="d", project_type="LiveEditingProject", business_config=LIVE_CONFIG)
    p = r.raw["Project"]
    assert (p["Status"], p["StatusName"], p["Duration"]) == (1, "Draft", 0)
    assert p["ProjectType"] == "LiveEditingProject" and p["BusinessStatus"] == "Reserving"
    check_time(p["CreateTime"])
    sdk = r.resp.body.project
    assert (sdk.project_type, sdk.business_status, sdk.business_config) == (
        "LiveEditingProject", "Reserving", LIVE_CONFIG)
    g = api.get(p["ProjectId"]).raw["Project"]
    assert g["Status"] == "Draft" and g["Title"] == "live show"


def test_update_business_status(api):
    p = live(api)
    pid = p["ProjectId"]
    r = api.update(project_id=pid, business_status="ReservationCanceled")
    assert set(r.raw) == {"RequestId"}
    g = api.get(pid).raw["Project"]
    assert g["BusinessStatus"] == "ReservationCanceled"
    # The change is a modification; the rest of the project stays.
    assert parse_time(g["ModifiedTime"]) >= parse_time(p["ModifiedTime"])
    assert (g["ProjectType"], g["BusinessConfig"], g["Title"]) == ("LiveEditingProject", LIVE_CONFIG, "live")
    api.update(project_id=pid, business_status="Reserving")
    assert api.get(pid).raw["Project"]["BusinessStatus"] == "Reserving"
    # Updating something else leaves BusinessStatus alone.
    api.update(project_id=pid, business_status="ReservationCanceled")
    api.update(project_id=pid, title="renamed")
    g = api.get(pid).raw["Project"]
    assert (g["BusinessStatus"], g["Title"]) == ("ReservationCanceled", "renamed")


@pytest.mark.parametrize("status", ["BroadCasting", "LoadingFailed", "LiveFinished", "Broadcasting", "Bogus"])
def test_update_refuses_statuses_of_the_live_system(api, status):
    pid = live(api)["ProjectId"]
    expect_error(lambda: api.update(project_id=pid, business_status=status), "InvalidParameter", 400,
                 "BusinessStatus")
    g = api.get(pid).raw["Project"]
    assert g["BusinessStatus"] == "Reserving"
    # A refused update changes nothing else either.
    expect_error(lambda: api.update(project_id=pid, business_status=status, title="changed"), "InvalidParameter",
                 400, "BusinessStatus")
    assert api.get(pid).raw["Project"]["Title"] == "live"


def test_business_status_is_ignored_on_regular_projects(api):
    pid = api.create(title="regular").raw["Project"]["ProjectId"]
    for status in ("ReservationCanceled", "Reserving"):
        r = api.update(project_id=pid, business_status=status, description=f"after {status}")
        assert set(r.raw) == {"RequestId"}
        g = api.get(pid).raw["Project"]
        assert "BusinessStatus" not in g, g
        assert g["ProjectType"] == "EditingProject"
        assert g["Description"] == f"after {status}"


def test_search_and_list_by_project_type(fresh):
    regular = fresh.create(title="regular").raw["Project"]["ProjectId"]
    lp = live(fresh)["ProjectId"]
    fresh.update(project_id=lp, business_status="ReservationCanceled")
    items = fresh.search(project_type="LiveEditingProject").raw["ProjectList"]
    assert [(x["ProjectId"], x["BusinessStatus"], x["BusinessConfig"]) for x in items] == [
        (lp, "ReservationCanceled", LIVE_CONFIG)]
    assert [x["ProjectId"] for x in fresh.search().raw["ProjectList"]] == [regular]
    assert [x["ProjectId"] for x in fresh.list(project_type="LiveEditingProject").raw["ProjectList"]] == [lp]


# ---- live streams as materials

STREAMS = [
    {"appName": "testrecord", "domainName": "test.alivecdn.com",
     "liveUrl": "rtmp://test.alivecdn.com/testrecord/teststream", "streamName": "teststream"},
    {"appName": "app2", "domainName": "live.example.com",
     "liveUrl": "rtmp://live.example.com/app2/second", "streamName": "second"},
]


def wire(stream: dict) -> dict:
    return {"AppName": stream["appName"], "DomainName": stream["domainName"], "LiveUrl": stream["liveUrl"],
            "StreamName": stream["streamName"]}


def test_live_materials_from_material_maps(api):
    maps = json.dumps({"liveStream": json.dumps(STREAMS)})  # a JSON array inside a string, as documented
    p = live(api, material_maps=maps)
    raw = materials(api, p["ProjectId"])
    assert raw["ProjectId"] == p["ProjectId"]
    # (The order of the list is not documented.)
    assert sorted(raw["LiveMaterials"], key=lambda x: x["StreamName"]) == sorted(
        (wire(s) for s in STREAMS), key=lambda x: x["StreamName"])
    assert raw["MediaInfos"] == [] and raw["ProjectMaterials"] == []
    # Added later through AddEditingProjectMaterials, on a live project made without them.
    q = live(api, title="later")
    api.exact = False
    try:
        r = api.add_materials(project_id=q["ProjectId"], material_maps=json.dumps({"liveStream": json.dumps(STREAMS[:1])}))
    finally:
        api.exact = True
    assert r.raw["LiveMaterials"] == [wire(STREAMS[0])]
    assert materials(api, q["ProjectId"])["LiveMaterials"] == [wire(STREAMS[0])]


def test_bad_live_stream_material_maps(api):
    for bad in ("not json", json.dumps({"appName": "an object, not an array"})):
        expect_error(lambda: live(api, material_maps=json.dumps({"liveStream": bad})), "InvalidParameter", 400,
                     "MaterialMaps")
