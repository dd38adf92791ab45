"""Media producing jobs and event callbacks through the official SDK: SubmitMediaProducingJob
renders with ffmpeg and registers the output, Get/ListMediaProducingJobs, bad input refused
with no job row, ClientToken idempotency, project statuses, Set/GetEventCallback, and the
ProduceMediaComplete / RegisterMediaComplete callbacks with the AuthSwitch signature.
Sources are 1 s 160x120 clips made with ffmpeg, so each render takes well under a second.
"""

from __future__ import annotations

import hashlib
import json
import concurrent.futures
import secrets
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from alibabacloud_ice20201109 import models as ice

from icehelpers import TIME_RE, Api, Receiver, expect_error, timeline
from mediafiles import fetch, wait_probed

JOB_DEADLINE = 60.0
FPS = 25


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """1 s of testsrc 160x120 @25 with a sine tone, H.264/AAC in MP4."""
    out = tmp_path_factory.mktemp("jobs") / "clip.mp4"
    p = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=1",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast",
         "-c:a", "aac", "-shortest", str(out)],
        capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 0, p.stderr
    return out


def frames_of(path: Path) -> int:
    p = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 0, p.stderr
    return int(p.stdout.strip())


class Jobs:
    """A brand-new account with its own bucket and one probed source clip."""

    def __init__(self, server, clip: Path):
        self.server = server
        self.creds = server.create_account()
        self.api = Api(server.endpoint, self.creds, "v3")
        self.bucket = f"jobs-{secrets.token_hex(6)}"
        url = f"oss://{self.bucket}/in/clip.mp4"
        server.put_media(clip, url, account=self.creds.account_id)
        self.media_id = self.api.register_media(input_url=url).raw["MediaId"]
        wait_probed(self.api, self.media_id, server=server)

    def out_url(self, name: str | None = None) -> str:
        name = name or f"out/{secrets.token_hex(4)}.mp4"
        return f"https://{self.bucket}.oss-cn-shanghai.aliyuncs.com/{name}"

    def config(self, **extra) -> str:
        return json.dumps({"MediaURL": self.out_url(), **extra})

    def two_clips(self) -> str:
        return timeline(
            {"MediaId": self.media_id, "In": 0, "Out": 1},
            {"MediaId": self.media_id, "In": 0, "Out": 0.6},
        )

    def submit(self, **kw) -> dict:
        kw.setdefault("output_media_config", self.config())
        return self.api.call("submit_media_producing_job", ice.SubmitMediaProducingJobRequest(**kw)).raw

    def get(self, job_id: str) -> dict:
        return self.api.call("get_media_producing_job", ice.GetMediaProducingJobRequest(job_id=job_id)).raw[
            "MediaProducingJob"
        ]

    def list(self, **kw) -> dict:
        return self.api.call("list_media_producing_jobs", ice.ListMediaProducingJobsRequest(**kw)).raw

    def wait(self, job_id: str) -> tuple[dict, list[tuple[str, int]]]:
        """Polls until the job ends; answers it and the (Status, Progress) pairs seen."""
        end = time.monotonic() + JOB_DEADLINE
        seen: list[tuple[str, int]] = []
        while True:
            job = self.get(job_id)
            state = (job["Status"], job["Progress"])
            if not seen or seen[-1] != state:
                seen.append(state)
            if job["Status"] in ("Success", "Failed"):
                return job, seen
            assert time.monotonic() < end, f"job {job_id} did not end in {JOB_DEADLINE} s: {seen}\n{self.server.log_text()}"
            time.sleep(0.05)

    def project_status(self, project_id: str) -> str:
        return self.api.get(project_id).raw["Project"]["Status"]


@pytest.fixture
def jobs(server, clip) -> Jobs:
    return Jobs(server, clip)


ORDER = {"Init": 0, "Queuing": 1, "Processing": 2, "Success": 3, "Failed": 3}


def check_flow(seen: list[tuple[str, int]]) -> None:
    statuses = [ORDER[s] for s, _ in seen]
    assert statuses == sorted(statuses), seen
    progress = [p for _, p in seen]
    assert progress == sorted(progress), seen
    assert all(isinstance(p, int) and 0 <= p <= 100 for p in progress), seen
    assert all(p < 100 for s, p in seen if s != "Success"), seen


def test_timeline_job_renders_registers_and_serves_the_output(jobs, server):
    r = jobs.submit(
        timeline=jobs.two_clips(),
        media_metadata=json.dumps({"Title": "Rendered", "Tags": "a,b"}),
        project_metadata=json.dumps({"Title": "From a job", "Description": "d"}),
        user_data=json.dumps({"k": "v"}),
    )
    assert set(r) == {"RequestId", "JobId", "ProjectId", "MediaId"}, r
    job, seen = jobs.wait(r["JobId"])
    assert job["Status"] == "Success", job
    check_flow(seen)
    assert job["Progress"] == 100
    assert type(job["Duration"]) is float and abs(job["Duration"] - 1.6) < 1e-6, job
    for k in ("CreateTime", "ModifiedTime", "CompleteTime"):
        assert TIME_RE.match(job[k]), (k, job)
    assert (job["JobId"], job["ProjectId"], job["MediaId"]) == (r["JobId"], r["ProjectId"], r["MediaId"])
    assert job["UserData"] == json.dumps({"k": "v"}) and json.loads(job["Timeline"])["VideoTracks"]
    assert "Code" not in job and "VodMediaId" not in job

    project = jobs.api.get(r["ProjectId"]).raw["Project"]
    assert (project["Title"], project["Status"]) == ("From a job", "Produced"), project

    info = jobs.api.get_media(media_id=r["MediaId"]).raw["MediaInfo"]
    basic = info["MediaBasicInfo"]
    assert (basic["Title"], basic["MediaTags"]) == ("Rendered", "a,b"), basic
    file_url = info["FileInfoList"][0]["FileBasicInfo"]["FileUrl"]
    got = fetch(file_url)
    assert got.status == 200 and got.body[4:8] == b"ftyp", (got.status, got.body[:16])
    local = server.data_dir.parent / f"{r['JobId']}.mp4"
    local.write_bytes(got.body)
    assert frames_of(local) == round(job["Duration"] * FPS)
    probed = wait_probed(jobs.api, r["MediaId"], server=server)
    assert probed["MediaBasicInfo"]["Status"] == "Normal", probed


def test_project_job_moves_project_status(jobs):
    pid = jobs.api.create(title="p", timeline=jobs.two_clips()).raw["Project"]["ProjectId"]
    r = jobs.submit(project_id=pid)
    assert r["ProjectId"] == pid
    assert jobs.project_status(pid) in ("Producing", "Produced")
    job, _ = jobs.wait(r["JobId"])
    assert job["Status"] == "Success", job
    assert jobs.project_status(pid) == "Produced"


def test_job_waits_for_its_sources_probe(jobs, server, clip):
    url = f"oss://{jobs.bucket}/in/fresh.mp4"
    server.put_media(clip, url, account=jobs.creds.account_id)
    fresh = jobs.api.register_media(input_url=url).raw["MediaId"]
    # Submitted before the probe can have finished: the job waits for it, then renders.
    r = jobs.submit(timeline=timeline({"MediaId": fresh, "Out": 1}))
    job, seen = jobs.wait(r["JobId"])
    assert job["Status"] == "Success", (job, seen)
    check_flow(seen)
    assert abs(job["Duration"] - 1.0) < 1e-6


def test_source_failing_its_probe_fails_the_job(jobs, server):
    url = f"oss://{jobs.bucket}/in/empty.mp4"
    empty = server.data_dir.parent / "empty.mp4"
    empty.write_bytes(b"")
    server.put_media(empty, url, account=jobs.creds.account_id)
    bad = jobs.api.register_media(input_url=url).raw["MediaId"]
    pid = jobs.api.create(title="p", timeline=timeline({"MediaId": bad, "Out": 1})).raw["Project"]["ProjectId"]
    r = jobs.submit(project_id=pid)
    job, _ = jobs.wait(r["JobId"])
    assert job["Status"] == "Failed", job
    assert job["Code"] and bad in job["Message"] and "probe" in job["Message"], job
    assert "CompleteTime" in job and "Duration" not in job
    assert jobs.project_status(pid) == "ProduceFailed"


def test_vod_media_target_and_template_job(jobs, server):
    r = jobs.submit(
        timeline=jobs.two_clips(),
        output_media_target="vod-media",
        output_media_config=json.dumps(
            {"StorageLocation": f"{jobs.bucket}.oss-cn-shanghai.aliyuncs.com", "FileName": "vod.mp4"}
        ),
    )
    assert r["VodMediaId"] == r["MediaId"], r
    job, _ = jobs.wait(r["JobId"])
    assert job["Status"] == "Success" and job["VodMediaId"] == r["MediaId"], job
    assert server.object_path(jobs.bucket, f"{r['MediaId']}/vod.mp4").is_file()

    config = json.dumps({"VideoTracks": [{"VideoTrackClips": [{"MediaId": "$Video", "Out": 1}]}]})
    tid = jobs.api.call("add_template", ice.AddTemplateRequest(name="t", type="Timeline", config=config)).raw[
        "Template"
    ]["TemplateId"]
    clips = json.dumps({"Video": jobs.media_id})
    r = jobs.submit(template_id=tid, clips_param=clips)
    job, _ = jobs.wait(r["JobId"])
    assert job["Status"] == "Success", job
    assert (job["TemplateId"], job["ClipsParam"]) == (tid, clips)
    assert jobs.media_id in job["Timeline"] and abs(job["Duration"] - 1.0) < 1e-6


def bad_inputs(j: Jobs, other_bucket: str) -> list[tuple[str, dict, str, int, tuple[str, ...]]]:
    t = j.two_clips()
    clip = {"MediaId": j.media_id, "Out": 1}
    return [
        ("none-of-three", {}, "InvalidParameter", 400, ("ProjectId",)),
        ("two-of-three", {"timeline": t, "project_id": "0" * 32}, "InvalidParameter", 400, ("ProjectId",)),
        ("template-no-clips", {"template_id": "f" * 32}, "MissingParameter", 400, ("ClipsParam",)),
        ("no-output-config", {"timeline": t, "output_media_config": None}, "MissingParameter", 400, ("OutputMediaConfig",)),
        ("config-not-json", {"timeline": t, "output_media_config": "{nope"}, "InvalidParameter", 400, ("OutputMediaConfig",)),
        ("no-media-url", {"timeline": t, "output_media_config": json.dumps({"Width": 160})}, "InvalidParameter", 400, ("MediaURL",)),
        ("vod-no-location", {"timeline": t, "output_media_target": "vod-media",
                             "output_media_config": json.dumps({"FileName": "a.mp4"})}, "InvalidParameter", 400, ("StorageLocation",)),
        ("vod-no-file-name", {"timeline": t, "output_media_target": "vod-media",
                              "output_media_config": json.dumps({"StorageLocation": f"{j.bucket}.oss-cn-shanghai.aliyuncs.com"})},
         "InvalidParameter", 400, ("FileName",)),
        ("bad-target", {"timeline": t, "output_media_target": "S3"}, "InvalidParameter", 400, ("OutputMediaTarget",)),
        ("width-too-small", {"timeline": t, "output_media_config": j.config(Width=100, Height=200)}, "InvalidParameter", 400, ("Width",)),
        ("height-too-large", {"timeline": t, "output_media_config": j.config(Width=200, Height=5000)}, "InvalidParameter", 400, ("Height",)),
        ("short-side-over-2160", {"timeline": t, "output_media_config": j.config(Width=4000, Height=4000)}, "InvalidParameter", 400, ()),
        ("empty-timeline", {"timeline": "{}"}, "InvalidParameter", 400, ()),
        ("unknown-media", {"timeline": timeline({"MediaId": "e" * 32, "Out": 1})}, "InvalidParameter", 400, ("MediaId",)),
        ("speed", {"timeline": timeline({**clip, "Speed": 200})}, "InvalidParameter", 400, ("Speed",)),
        ("unsupported-effect", {"timeline": timeline({**clip, "Effects": [{"Type": "VFX", "SubType": "openice_no_such_vfx"}]})},
         "InvalidParameter", 400, ("openice_no_such_vfx",)),
        ("user-data-too-long", {"timeline": t, "user_data": json.dumps({"k": "x" * 600})}, "InvalidParameter", 400, ("UserData",)),
        ("user-data-not-json", {"timeline": t, "user_data": "not json"}, "InvalidParameter", 400, ("UserData",)),
        ("notify-not-http", {"timeline": t, "user_data": json.dumps({"NotifyAddress": "ftp://x/y"})}, "InvalidParameter", 400, ("UserData",)),
        ("unknown-project", {"project_id": "0" * 32}, "ProjectNotFound", 404, ()),
        ("media-url-not-oss", {"timeline": t, "output_media_config": json.dumps({"MediaURL": "https://example.com/a.mp4"})},
         "InvalidParameter", 400, ("OutputMediaConfig",)),
        ("foreign-bucket", {"timeline": t, "output_media_config": json.dumps({"MediaURL": f"oss://{other_bucket}/x.mp4"})},
         "InvalidParameter", 400, ("OutputMediaConfig", other_bucket)),
    ]


def test_bad_input_is_refused_with_no_job_row(jobs, server, clip):
    other = Jobs(server, clip)  # owns its bucket
    for name, kw, code, status, names in bad_inputs(jobs, other.bucket):
        kw = dict(kw)
        if "output_media_config" in kw and kw["output_media_config"] is None:
            del kw["output_media_config"]
            request = ice.SubmitMediaProducingJobRequest(**kw)
        else:
            kw.setdefault("output_media_config", jobs.config())
            request = ice.SubmitMediaProducingJobRequest(**kw)
        try:
            expect_error(lambda: jobs.api.client.submit_media_producing_job(request), code, status, *names)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from e
    assert jobs.list(max_results=100)["MediaProducingJobList"] == []
    assert jobs.api.list(max_results=100).raw["ProjectList"] == []


def test_client_token_returns_the_first_job(jobs):
    token = secrets.token_hex(8)
    first = jobs.submit(timeline=jobs.two_clips(), client_token=token)
    again = jobs.submit(timeline=jobs.two_clips(), client_token=token)
    assert again == {**first, "RequestId": again["RequestId"]}
    jobs.wait(first["JobId"])
    assert [j["JobId"] for j in jobs.list()["MediaProducingJobList"]] == [first["JobId"]]
    assert len(jobs.api.list(max_results=100).raw["ProjectList"]) == 1


def test_concurrent_submissions_with_one_client_token_start_one_job(jobs):
    token = secrets.token_hex(8)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: jobs.submit(timeline=jobs.two_clips(), client_token=token), range(8)))
    assert len({a["JobId"] for a in answers}) == 1, answers
    assert len({a["ProjectId"] for a in answers}) == 1, answers
    jobs.wait(answers[0]["JobId"])
    assert [j["JobId"] for j in jobs.list()["MediaProducingJobList"]] == [answers[0]["JobId"]]
    assert len(jobs.api.list(max_results=100).raw["ProjectList"]) == 1


def test_list_paging_and_filters(jobs):
    ids = [jobs.submit(timeline=jobs.two_clips())["JobId"] for _ in range(3)]
    for i in ids:
        assert jobs.wait(i)[0]["Status"] == "Success"
    page = jobs.list(max_results=2)
    assert page["MaxResults"] == "2" and len(page["MediaProducingJobList"]) == 2, page
    for item in page["MediaProducingJobList"]:
        assert not {"Timeline", "Progress", "VodMediaId"} & set(item), item
        assert type(item["Duration"]) is float
    rest = jobs.list(max_results=2, next_token=page["NextToken"])
    assert "NextToken" not in rest or not rest["NextToken"]
    listed = [j["JobId"] for j in page["MediaProducingJobList"] + rest["MediaProducingJobList"]]
    assert listed == ids[::-1]
    asc = jobs.list(sort_by="CreationTime:Asc")["MediaProducingJobList"]
    assert [j["JobId"] for j in asc] == ids
    assert [j["JobId"] for j in jobs.list(keyword=ids[1])["MediaProducingJobList"]] == [ids[1]]
    assert len(jobs.list(status="Success")["MediaProducingJobList"]) == 3
    assert jobs.list(status="Failed")["MediaProducingJobList"] == []
    pid = jobs.get(ids[0])["ProjectId"]
    assert [j["JobId"] for j in jobs.list(project_id=pid)["MediaProducingJobList"]] == [ids[0]]
    expect_error(lambda: jobs.api.client.list_media_producing_jobs(ice.ListMediaProducingJobsRequest(max_results=101)),
                 "InvalidParameter", 400, "MaxResults")
    expect_error(lambda: jobs.api.client.get_media_producing_job(ice.GetMediaProducingJobRequest(job_id="0" * 32)),
                 "InvalidParameter", 400, "JobId")


def get_callback(api: Api) -> dict:
    api.client.get_event_callback()
    return api.last["body"]


def test_set_and_get_event_callback(jobs):
    before = get_callback(jobs.api)
    assert before["AuthSwitch"] == "off" and before["EventTypeList"] == "", before
    set_ = lambda **kw: jobs.api.call("set_event_callback", ice.SetEventCallbackRequest(**kw)).raw  # noqa: E731
    for kw, name in [
        ({"callback_url": "ftp://x/y"}, "CallbackURL"),
        ({"callback_url": "http://h/" + "a" * 300}, "CallbackURL"),
        ({"event_type_list": "NoSuchEvent"}, "EventTypeList"),
        ({"auth_switch": "maybe"}, "AuthSwitch"),
        ({"auth_switch": "on", "auth_key": "lowercaseonly1"}, "AuthKey"),
        ({"auth_switch": "on"}, "AuthKey"),
        ({"callback_type": "MNS", "callback_queue_name": "ice-callback-q"}, "CallbackType"),
    ]:
        expect_error(lambda: jobs.api.client.set_event_callback(ice.SetEventCallbackRequest(**kw)), "InvalidParameter", 400, name)
    r = set_(callback_url="http://127.0.0.1:9/cb", event_type_list="ProduceMediaComplete,RegisterMediaComplete",
             auth_switch="on", auth_key="Abc123xyz")
    assert r["Success"] is True
    got = get_callback(jobs.api)
    assert {k: got[k] for k in ("CallbackType", "CallbackURL", "EventTypeList", "AuthSwitch", "AuthKey")} == {
        "CallbackType": "HTTP", "CallbackURL": "http://127.0.0.1:9/cb",
        "EventTypeList": "ProduceMediaComplete,RegisterMediaComplete", "AuthSwitch": "on", "AuthKey": "Abc123xyz",
    }


def test_callbacks_are_delivered_signed_and_retried(jobs, server):
    rx = Receiver()
    key = "Abc123xyz"
    jobs.api.call("set_event_callback", ice.SetEventCallbackRequest(
        callback_url=rx.url("/global"), event_type_list="ProduceMediaComplete,RegisterMediaComplete",
        auth_switch="on", auth_key=key))
    user_data = json.dumps({"NotifyAddress": rx.url("/job"), "k": "v"})
    r = jobs.submit(timeline=jobs.two_clips(), user_data=user_data)
    job, _ = jobs.wait(r["JobId"])
    assert job["Status"] == "Success", job

    def check(path: str, event: str) -> dict:
        headers, body = rx.wait_for(path)
        ts = headers["x-ice-timestamp"]
        want = hashlib.md5(f"{rx.url(path)}|{ts}|{key}".encode()).hexdigest()
        assert headers["x-ice-signature"] == want, headers
        assert abs(int(ts) - time.time()) < 300
        assert body["EventType"] == event and type(body["UserId"]) is int, body
        assert body["UserId"] == int(jobs.creds.account_id)
        assert TIME_RE.match(body["EventTime"]) and isinstance(body["MessageBody"], dict), body
        return body["MessageBody"]

    produced = check("/job", "ProduceMediaComplete")
    assert produced == {
        "Status": "Success", "JobId": r["JobId"], "ProjectId": r["ProjectId"], "MediaId": r["MediaId"],
        "MediaURL": job["MediaURL"], "ErrorCode": "", "ErrorMessage": "", "UserData": user_data,
    }
    registered = check("/global", "RegisterMediaComplete")
    assert registered["Status"] == "Success" and registered["MediaId"] == r["MediaId"], registered
    # The job's NotifyAddress wins: nothing of ProduceMediaComplete went to the account URL.
    assert all(b["EventType"] != "ProduceMediaComplete" for p, _, b in rx.posts if p == "/global")
    rx.httpd.shutdown()


def test_metrics_count_renders(jobs, server):
    jobs.wait(jobs.submit(timeline=jobs.two_clips())["JobId"])
    with urllib.request.urlopen(f"http://{server.endpoint}/metrics", timeout=5) as m:
        text = m.read().decode()
    assert "openice_render_queue_depth" in text
    assert 'openice_renders_total{status="Success"}' in text
    assert "openice_render_seconds_count" in text


def test_missing_ffmpeg_is_warned_at_start_and_fails_jobs_with_that_message(make_server, clip, monkeypatch):
    import conftest

    srv = make_server()
    creds = srv.create_account()
    api = Api(srv.endpoint, creds, "v3")
    url = f"oss://nofx-{secrets.token_hex(4)}/clip.mp4"
    srv.put_media(clip, url, account=creds.account_id)
    media_id = api.register_media(input_url=url).raw["MediaId"]
    wait_probed(api, media_id, server=srv)
    assert srv.stop() == 0
    clean_env = conftest._clean_env
    monkeypatch.setattr(conftest, "_clean_env", lambda **extra: {**clean_env(**extra), "PATH": "/nonexistent"})
    srv.restart()
    log = srv.log_text()
    warned = [line for line in log.splitlines() if "prerequisite is not installed" in line]
    assert any("missing=ffmpeg" in line for line in warned), log
    assert any("missing=ffprobe" in line for line in warned), log
    api = Api(srv.endpoint, creds, "v3")
    r = api.call("submit_media_producing_job", ice.SubmitMediaProducingJobRequest(
        timeline=timeline({"MediaId": media_id, "Out": 1}),
        output_media_config=json.dumps({"MediaURL": url.replace("clip.mp4", "out.mp4")}))).raw
    end = time.monotonic() + JOB_DEADLINE
    while (job := api.call("get_media_producing_job", ice.GetMediaProducingJobRequest(job_id=r["JobId"])).raw[
        "MediaProducingJob"
    ])["Status"] not in ("Success", "Failed"):
        assert time.monotonic() < end, job
        time.sleep(0.05)
    assert job["Status"] == "Failed", job
    assert "not installed" in job["Message"] and "ff" in job["Message"], job


def test_two_render_workers_share_the_queue(make_server, clip):
    srv = make_server("--render-workers", "2")
    j = Jobs(srv, clip)
    ids = [j.submit(timeline=j.two_clips())["JobId"] for _ in range(4)]
    done = [j.wait(i)[0] for i in ids]
    assert [d["Status"] for d in done] == ["Success"] * 4, done
    media = {d["MediaId"] for d in done}
    assert len(media) == 4
    for m in media:
        assert j.api.get_media(media_id=m).raw["MediaInfo"]["MediaId"] == m
