"""UpdateEditingProject and DeleteEditingProjects (api-projects-media.md A3/A4,
decisions.md "Editing projects")."""

from __future__ import annotations

import json
import time

import pytest

from icehelpers import BAD_TIMELINES, LIVE_CONFIG, check_time, expect_error, is_number, parse_time, timeline


def test_update_answers_only_request_id(api):
    pid = api.create(title="u").raw["Project"]["ProjectId"]
    r = api.update(project_id=pid, title="u2")
    assert set(r.raw) == {"RequestId"}


def test_update_changes_given_fields_and_keeps_the_rest(api):
    tl = timeline({"MediaId": "a" * 32, "Out": 4})
    before = api.create(title="orig", description="desc", cover_url="http://x.example/a.png", timeline=tl).raw[
        "Project"
    ]
    pid = before["ProjectId"]
    api.update(project_id=pid, title="renamed")
    p = api.get(pid).raw["Project"]
    assert p["Title"] == "renamed"
    assert (p["Description"], p["CoverURL"], p["Timeline"]) == ("desc", "http://x.example/a.png", tl)
    assert (p["Status"], p["Duration"]) == ("Editing", pytest.approx(4))
    api.update(project_id=pid, cover_url="http://x.example/b.png", description="new desc")
    p = api.get(pid).raw["Project"]
    assert (p["Title"], p["Description"], p["CoverURL"]) == ("renamed", "new desc", "http://x.example/b.png")
    assert p["CreateTime"] == before["CreateTime"]


def test_update_timeline_recomputes_duration_and_status(api):
    pid = api.create(title="draft").raw["Project"]["ProjectId"]
    assert api.get(pid).raw["Project"]["Status"] == "Draft"
    tl = json.dumps({"VideoTracks": [{"VideoTrackClips": [{"MediaId": "v", "In": 1, "Out": 3, "Speed": 0.5},
                                                           {"Type": "Image", "MediaId": "i", "Duration": 1.5}]}]})
    api.update(project_id=pid, timeline=tl)
    p = api.get(pid).raw["Project"]
    assert (p["Status"], p["Timeline"]) == ("Editing", tl)
    assert is_number(p["Duration"]) and p["Duration"] == pytest.approx(5.5)


def test_update_empty_description_sets_empty(api):
    pid = api.create(title="t", description="will be cleared").raw["Project"]["ProjectId"]
    api.update(project_id=pid, description="")
    p = api.get(pid).raw["Project"]
    assert p.get("Description") == ""
    assert p["Title"] == "t"


def test_update_empty_title_is_invalid(api):
    pid = api.create(title="keep me").raw["Project"]["ProjectId"]
    expect_error(lambda: api.update(project_id=pid, title=""), "InvalidParameter", 400, "Title")
    assert api.get(pid).raw["Project"]["Title"] == "keep me"


def test_update_empty_timeline_gives_zero_duration_and_draft(api):
    pid = api.create(title="t", timeline=timeline({"MediaId": "x", "Out": 7})).raw["Project"]["ProjectId"]
    p = api.get(pid).raw["Project"]
    assert (p["Status"], p["Duration"]) == ("Editing", pytest.approx(7))
    api.update(project_id=pid, timeline="")
    p = api.get(pid).raw["Project"]
    assert (p["Status"], p["Duration"]) == ("Draft", 0)
    assert is_number(p["Duration"])
    assert p.get("Timeline", "") in ("", "{}")


def test_update_sets_modified_time_and_source(api):
    created = api.create(title="times").raw["Project"]
    time.sleep(1.1)  # times have second precision
    api.update(project_id=created["ProjectId"], description="touched")
    p = api.get(created["ProjectId"]).raw["Project"]
    check_time(p["ModifiedTime"])
    assert p["CreateTime"] == created["CreateTime"]
    assert parse_time(p["ModifiedTime"]) > parse_time(created["ModifiedTime"])
    assert p["ModifiedSource"] == "OpenAPI" and p["CreateSource"] == "OpenAPI"


@pytest.mark.parametrize("tl", [BAD_TIMELINES[k] for k in ("not-json", "negative-in", "out-before-in", "array")],
                         ids=["not-json", "negative-in", "out-before-in", "array"])
def test_update_with_bad_timeline_is_invalid_and_changes_nothing(api, tl):
    good = timeline({"MediaId": "x", "Out": 2})
    pid = api.create(title="t", timeline=good).raw["Project"]["ProjectId"]
    expect_error(lambda: api.update(project_id=pid, timeline=tl), "InvalidParameter", 400, "Timeline")
    p = api.get(pid).raw["Project"]
    assert (p["Timeline"], p["Duration"]) == (good, pytest.approx(2))


def test_update_unknown_project_is_not_found(api):
    expect_error(lambda: api.update(project_id="f" * 32, title="x"), "ProjectNotFound", 404)


def test_update_without_project_id_is_missing_parameter(api):
    expect_error(lambda: api.update(title="x"), "MissingParameter", 400, "ProjectId")


def test_update_timeline_and_template_together_are_invalid(api):
    pid = api.create(title="t").raw["Project"]["ProjectId"]
    expect_error(
        lambda: api.update(project_id=pid, timeline=timeline({"MediaId": "x"}), template_id="1" * 32, clips_param="{}"),
        "InvalidParameter", 400)


def test_update_live_business_status(api):
    pid = api.create(title="live", project_type="LiveEditingProject", business_config=LIVE_CONFIG).raw["Project"][
        "ProjectId"
    ]
    api.update(project_id=pid, business_status="ReservationCanceled")
    assert api.get(pid).raw["Project"]["BusinessStatus"] == "ReservationCanceled"
    api.update(project_id=pid, business_status="Reserving")
    assert api.get(pid).raw["Project"]["BusinessStatus"] == "Reserving"
    # Statuses of a live system openice does not run are refused (decisions.md).
    expect_error(lambda: api.update(project_id=pid, business_status="BroadCasting"),
                 "InvalidParameter", 400, "BusinessStatus")
    assert api.get(pid).raw["Project"]["BusinessStatus"] == "Reserving"


def test_business_status_ignored_on_regular_project(api):
    pid = api.create(title="regular").raw["Project"]["ProjectId"]
    api.update(project_id=pid, business_status="Reserving")
    assert "BusinessStatus" not in api.get(pid).raw["Project"]


# ---- delete


def test_delete_then_get_is_not_found(api):
    pid = api.create(title="doomed").raw["Project"]["ProjectId"]
    r = api.delete(pid)
    assert set(r.raw) == {"RequestId"}
    expect_error(lambda: api.get(pid), "ProjectNotFound", 404)
    expect_error(lambda: api.update(project_id=pid, title="ghost"), "ProjectNotFound", 404)


def test_delete_several_keeps_the_others(fresh):
    ids = [fresh.create(title=f"p{i}").raw["Project"]["ProjectId"] for i in range(4)]
    fresh.delete(",".join(ids[:3]))
    for pid in ids[:3]:
        expect_error(lambda: fresh.get(pid), "ProjectNotFound", 404)
    assert fresh.get(ids[3]).raw["Project"]["ProjectId"] == ids[3]
    assert fresh.project_ids() == [ids[3]]
    assert [p["ProjectId"] for p in fresh.list(max_results="100").raw["ProjectList"]] == [ids[3]]


def test_delete_unknown_ids_succeeds(fresh):
    keep = fresh.create(title="keep").raw["Project"]["ProjectId"]
    fresh.delete("0" * 32)
    fresh.delete(",".join(["1" * 32, "not-an-id", keep + "x"]))
    assert fresh.project_ids() == [keep]


def test_delete_twice_succeeds(api):
    pid = api.create(title="twice").raw["Project"]["ProjectId"]
    api.delete(pid)
    api.delete(pid)
    expect_error(lambda: api.get(pid), "ProjectNotFound", 404)


def test_delete_without_ids_is_missing_parameter(api):
    expect_error(lambda: api.delete(None), "MissingParameter", 400, "ProjectIds")
