"""The web console (/console/) in a real headless Chromium (Debian's `chromium` and
`chromium-driver`; nothing is downloaded): sign-in, projects and their timelines, the media
library with playback, errors, and account isolation. The console signs its API calls in
the browser, so these tests also prove that browser-made ACS3 signatures are accepted.

OPENICE_CONSOLE_SCREENSHOTS=DIR saves screenshots of the main pages into DIR
(docs/screenshots/ holds the committed ones).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from icehelpers import Api, Creds
from mediafiles import VIDEO_SECONDS, Library, fetch

pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# A name the browser resolves to 127.0.0.1 but does not treat as a secure context, like a
# LAN address over plain HTTP: there the console must sign without WebCrypto.
LAN_HOST = "openice-lan.test"
WAIT = 15


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"{path} is missing: scripts/test.sh installs chromium and chromium-driver with apt")
    # Selenium Manager must never run (it would download drivers or browsers).
    os.environ["SE_OFFLINE"] = "1"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--no-proxy-server",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1280,900",
        f"--host-resolver-rules=MAP {LAN_HOST} 127.0.0.1",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots():
    """shots(driver, name): a screenshot into $OPENICE_CONSOLE_SCREENSHOTS, if set."""
    out = os.environ.get("OPENICE_CONSOLE_SCREENSHOTS")

    def take(driver, name: str) -> None:
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            time.sleep(0.3)  # let images and the video frame paint
            driver.save_screenshot(str(Path(out) / f"{name}.png"))

    return take


class Console:
    """One browser tab on one server's console, driven like a user would."""

    def __init__(self, driver, server, host: str = "127.0.0.1"):
        self.d = driver
        self.base = f"http://{host}:{server.port}/console/"

    def wait(self, cond, timeout: float = WAIT, what: str = ""):
        def safe(d):
            try:
                return cond(d)
            except (NoSuchElementException, StaleElementReferenceException):
                return False

        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1).until(safe)
        except Exception as e:
            errors = [el.text for el in self.d.find_elements(By.CSS_SELECTOR, ".error")]
            logs = [entry["message"] for entry in self.d.get_log("browser")][-10:]
            raise AssertionError(f"timed out waiting for {what}; errors on page {errors}; console log {logs}") from e

    def find(self, css: str):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def click(self, css: str) -> None:
        """Clicks `css` once it is there. A list that re-renders between finding and clicking
        (a refresh, a probe followed) leaves a stale element: find it again and retry."""

        def attempt(d):
            self.find(css).click()
            return True

        self.wait(attempt, what=f"a clickable {css}")

    def all(self, css: str):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def open(self, fragment: str = "") -> None:
        self.d.get(self.base + fragment)

    def sign_in(self, creds: Creds) -> None:
        self.open()
        # A new tab session: forget any previous sign-in.
        self.d.execute_script("sessionStorage.clear()")
        self.d.get(self.base + "#/signin")
        self.d.refresh()
        self.wait(lambda d: self.find("#signin-form"), what="the sign-in form")
        self.find("#access-key-id").send_keys(creds.access_key_id)
        self.find("#access-key-secret").send_keys(creds.access_key_secret)
        self.find("#signin-form button[type=submit]").click()

    def signed_in(self, creds: Creds) -> None:
        self.sign_in(creds)
        self.wait(lambda d: self.find("#who-key").text == creds.access_key_id, what="the signed-in header")
        self.wait(lambda d: self.all("#project-list, #project-results .empty"), what="the project list")

    def error_text(self) -> str:
        el = self.wait(lambda d: self.find(".error"), what="an error message")
        return el.text


@pytest.fixture
def account(server):
    """A brand-new account: its creds and an SDK client (v3)."""
    creds = server.create_account()
    return creds, Api(server.endpoint, creds, "v3")


def test_console_is_served_with_strict_headers(server):
    index = fetch(f"http://{server.endpoint}/console/")
    assert index.status == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    csp = index.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert index.headers["x-content-type-options"] == "nosniff"
    assert index.headers["cache-control"] == "no-cache"
    script = fetch(f"http://{server.endpoint}/console/app.js")
    assert script.status == 200 and script.headers["content-type"] == "text/javascript; charset=utf-8"
    again = fetch(f"http://{server.endpoint}/console/app.js", {"If-None-Match": script.headers["etag"]})
    assert again.status == 304 and again.body == b""
    assert fetch(f"http://{server.endpoint}/console/nope.js").status == 404
    assert fetch(f"http://{server.endpoint}/console/../Cargo.toml").status == 404


def test_signer_matches_the_sdk_vectors():
    """The console's JS signers (WebCrypto and the plain-JS fallbacks) against the vectors the
    official SDK produced and the OSS V1 vectors the server's tests use."""
    node = shutil.which("node")
    if not node:
        pytest.fail("node is needed to run the console's signer tests")
    p = subprocess.run([node, "--test", "console/tests/sign-vectors.test.mjs", "console/tests/oss-vectors.test.mjs"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "# fail 0" in p.stdout, p.stdout
    assert "v1 header (fallback)" in p.stdout, p.stdout


def test_wrong_secret_and_unknown_key_show_the_sign_in_error(server, browser, account, shots):
    creds, _ = account
    ui = Console(browser, server)
    ui.sign_in(Creds(creds.access_key_id, creds.access_key_secret + "x"))
    text = ui.error_text()
    assert "SignatureDoesNotMatch" in text and "The secret does not match this AccessKey ID." in text, text
    assert ui.find("#signin-form"), "the sign-in form stays"
    assert browser.execute_script("return sessionStorage.length") == 0, "a wrong key is not kept"
    shots(browser, "sign-in")

    ui.sign_in(Creds("LTAInosuchkey" + secrets.token_hex(4), "whatever"))
    text = ui.error_text()
    assert "InvalidAccessKeyId.NotFound" in text, text


def test_a_key_disabled_mid_session_returns_to_sign_in(server, browser, account):
    creds, _ = account
    ui = Console(browser, server)
    ui.signed_in(creds)
    server.cli("account", "key-disable", creds.access_key_id)
    ui.click("#top a[href='#/media']")
    text = ui.error_text()
    assert "InvalidAccessKeyId.Inactive" in text, text
    assert ui.find("#signin-form")
    assert browser.execute_script("return sessionStorage.length") == 0, "the refused key is forgotten"


def test_projects_timeline_and_materials(server, browser, account, media_files, shots):
    creds, api = account
    lib = Library(server, api, media_files)
    media_id, _ = lib.ready("video")
    clips = [
        {"MediaId": media_id, "In": 0, "Out": 2},
        {"MediaId": media_id, "In": 0, "Out": 1},
        {"MediaId": media_id, "In": 1, "Out": 3},
    ]
    doc = {
        "VideoTracks": [{"VideoTrackClips": clips}],
        "AudioTracks": [{"AudioTrackClips": [{"MediaId": media_id, "In": 0, "Out": 3}]}],
    }
    title = f"Console timeline {secrets.token_hex(3)}"
    project_id = api.create(title=title, timeline=json.dumps(doc)).raw["Project"]["ProjectId"]
    other = api.create(title=f"Second project {secrets.token_hex(3)}").raw["Project"]["ProjectId"]
    fresh = api.get(project_id, request_source="WebSDK").raw["Project"]
    duration = fresh["Duration"]
    assert duration == 5  # 2 + 1 + 2 on the main video track

    ui = Console(browser, server)
    ui.signed_in(creds)
    rows = ui.wait(lambda d: ui.all("#project-list tr[data-project-id]"), what="project rows")
    assert {r.get_attribute("data-project-id") for r in rows} == {project_id, other}
    shots(browser, "projects")

    # Search by keyword narrows the list to the one project.
    box = ui.find("#project-search input[name=keyword]")
    box.send_keys(title)
    ui.click("#project-search button[type=submit]")
    ui.wait(lambda d: [r.get_attribute("data-project-id") for r in ui.all("#project-list tr[data-project-id]")] == [project_id], what="search results")

    ui.click(f'tr[data-project-id="{project_id}"] a.project-link')
    ui.wait(lambda d: ui.find("#project-title").text == title, what="the project page")
    video = ui.wait(lambda d: ui.all(".track-video .clip"), what="video clips")
    audio = ui.all(".track-audio .clip")
    assert len(video) == 3 and len(audio) == 1, "one box per clip"
    # Boxes are placed and sized in proportion to TimelineIn/TimelineOut over Duration.
    lane = ui.find(".track-video .lane").rect
    expected = [(0, 2), (2, 3), (3, 5)]
    for box, (t_in, t_out) in zip(video, expected):
        r = box.rect
        assert abs((r["x"] - lane["x"]) / lane["width"] - t_in / duration) < 0.01, (r, lane)
        assert abs(r["width"] / lane["width"] - (t_out - t_in) / duration) < 0.01, (r, lane)
    assert abs(audio[0].rect["width"] / lane["width"] - 3 / duration) < 0.01
    assert "5.00 s" in ui.find(".ruler .tick.end").text
    assert "Editing" in ui.find(".page-head .badge").text
    # The WebSDK conversion attached the timeline's media as materials.
    assert [r.get_attribute("data-media-id") for r in ui.all("#material-list tr[data-media-id]")] == [media_id]
    shots(browser, "project-timeline")

    # A missing project is a readable error, not a blank page.
    ui.open("#/projects/" + "0" * 32)
    assert "ProjectNotFound" in ui.error_text() or "InvalidParameter" in ui.error_text()


def test_create_and_delete_a_project(server, browser, account):
    creds, api = account
    ui = Console(browser, server)
    ui.signed_in(creds)
    title = f"Made in the console {secrets.token_hex(3)}"
    ui.find("#new-project-title").send_keys(title)
    ui.click("#project-create button[type=submit]")
    ui.wait(lambda d: ui.find("#project-title").text == title, what="the new project's page")
    project_id = browser.current_url.rsplit("/", 1)[1]
    assert api.get(project_id).raw["Project"]["Title"] == title
    assert ui.find("#timeline-empty")

    ui.open("#/projects")
    ui.wait(lambda d: ui.all(f'tr[data-project-id="{project_id}"]'), what="the new project's row")
    ui.click(f'tr[data-project-id="{project_id}"] .delete-project')
    WebDriverWait(browser, WAIT).until(lambda d: d.switch_to.alert).accept()
    ui.wait(lambda d: not ui.all(f'tr[data-project-id="{project_id}"]'), what="the row to go")
    assert api.list().raw["ProjectList"] == []

    # An API error on a form is shown with its code: a timeline that is not JSON.
    ui.find("#new-project-title").send_keys("bad")
    ui.find("#project-create textarea[name=timeline]").send_keys("{not json")
    ui.click("#project-create button[type=submit]")
    text = ui.error_text()
    assert "InvalidParameter" in text and "Timeline" in text, text


def test_project_paging_and_filters(server, browser, account):
    creds, api = account
    doc = json.dumps({"VideoTracks": [{"VideoTrackClips": [{"MediaURL": "oss://b/x.mp4", "Out": 1}]}]})
    made = [api.create(title=f"p{i:02d}", timeline=doc if i < 3 else None).raw["Project"]["ProjectId"] for i in range(22)]
    ui = Console(browser, server)
    ui.signed_in(creds)

    def ids():
        return [r.get_attribute("data-project-id") for r in ui.all("#project-list tr[data-project-id]")]

    ui.wait(lambda d: len(ids()) == 20, what="a full first page")
    first = ids()
    assert first == made[::-1][:20], "newest first"
    assert ui.find(".pager .prev").get_attribute("disabled") is not None
    ui.click(".pager .next")
    ui.wait(lambda d: ids() == made[1::-1], what="the second page")
    assert ui.find(".pager .next").get_attribute("disabled") is not None
    ui.click(".pager .prev")
    ui.wait(lambda d: ids() == first, what="the first page again")

    # Status and creation-time filters go to the API as Status, StartTime and EndTime.
    Select(ui.find("#project-search select[name=status]")).select_by_value("Editing")
    Select(ui.find("#project-search select[name=sort]")).select_by_value("CreationTime:Asc")
    ui.click("#project-search button[type=submit]")
    ui.wait(lambda d: ids() == made[:3], what="the Editing projects, oldest first")
    future = browser.execute_script(
        "const d = new Date(Date.now() + 86400000); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
        "return d.toISOString().slice(0, 16)"
    )
    browser.execute_script("arguments[0].value = arguments[1]", ui.find("#project-search input[name=from]"), future)
    ui.click("#project-search button[type=submit]")
    ui.wait(lambda d: ui.all("#project-results .empty"), what="no project created tomorrow")


def test_media_library_plays_edits_registers_and_deletes(server, browser, account, media_files, shots):
    creds, api = account
    lib = Library(server, api, media_files)
    media_id, info = lib.ready("video", title="Test pattern")
    assert info["MediaBasicInfo"]["Status"] == "Normal"

    ui = Console(browser, server)
    ui.signed_in(creds)
    ui.open("#/media")
    card = ui.wait(lambda d: ui.find(f'.media-card[data-media-id="{media_id}"]'), what="the media card")
    assert "Normal" in card.text
    cover = card.find_element(By.CSS_SELECTOR, "img.cover")
    ui.wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", cover) > 0, what="the cover thumbnail")
    shots(browser, "media-library")

    # Search by title (SearchMedia).
    ui.find("#media-search input[name=title]").send_keys("pattern")
    ui.click("#media-search button[type=submit]")
    ui.wait(lambda d: [c.get_attribute("data-media-id") for c in ui.all(".media-card")] == [media_id], what="search results")

    ui.click(f'.media-card[data-media-id="{media_id}"]')
    ui.wait(lambda d: ui.find("#media-title").text == "Test pattern", what="the media page")
    assert "h264" in ui.find("#video-streams").text
    assert "aac" in ui.find("#audio-streams").text
    player = ui.find("video#player")
    browser.execute_script("arguments[0].muted = true; arguments[0].play()", player)
    ui.wait(lambda d: d.execute_script("return arguments[0].readyState", player) >= 2, what="video data")
    ui.wait(lambda d: d.execute_script("return arguments[0].currentTime", player) > 0.3, what="playback to advance")
    assert browser.execute_script("return arguments[0].error", player) is None
    assert abs(browser.execute_script("return arguments[0].duration", player) - VIDEO_SECONDS) < 0.2
    shots(browser, "media-detail")

    # Update title and tags.
    title = ui.find("#edit-title")
    title.clear()
    title.send_keys("Renamed in the console")
    tags = ui.find("#edit-tags")
    tags.clear()
    tags.send_keys("one,two")
    ui.click("#media-edit button[type=submit]")
    ui.wait(lambda d: ui.find("#media-title").text == "Renamed in the console", what="the new title")
    basic = api.get_media(media_id=media_id).raw["MediaInfo"]["MediaBasicInfo"]
    assert (basic["Title"], basic["MediaTags"]) == ("Renamed in the console", "one,two")
    # Emptying the tags field clears the tags.
    ui.find("#edit-tags").clear()
    ui.click("#media-edit button[type=submit]")
    ui.wait(lambda d: not api.get_media(media_id=media_id).raw["MediaInfo"]["MediaBasicInfo"].get("MediaTags"), what="the tags to clear")
    ui.wait(lambda d: ui.find("#edit-tags").get_attribute("value") == "", what="the page to show no tags")

    # Register from a URL; the page follows the probe until the media is ready.
    url = lib.put("audio")
    ui.open("#/media")
    ui.wait(lambda d: ui.find("#register-url"), what="the register form")
    ui.find("#register-url").send_keys(url)
    ui.click("#media-register button[type=submit]")
    ui.wait(lambda d: "/media/" in d.current_url and ui.all("#media-title"), what="the registered media's page")
    new_id = browser.current_url.rsplit("/", 1)[1]
    ui.wait(lambda d: "Normal" in ui.find("#media-status").text, timeout=30, what="the probe to finish")
    assert ui.find("audio#player")
    assert api.get_media(media_id=new_id).raw["MediaInfo"]["MediaBasicInfo"]["InputURL"] == url

    # Delete it.
    ui.click("#media-delete")
    WebDriverWait(browser, WAIT).until(lambda d: d.switch_to.alert).accept()
    ui.wait(lambda d: d.current_url.endswith("#/media") and ui.all("#media-results .media-card, #media-results .empty"), what="the library")
    assert api.batch_get_media(media_ids=new_id).raw["IgnoredList"] == [new_id]

    # A bad registration shows the API's error.
    ui.find("#register-url").send_keys("ftp://nowhere/x.mp4")
    ui.click("#media-register button[type=submit]")
    assert "InvalidParameter" in ui.error_text()


def test_a_second_account_sees_only_its_own(server, browser, account):
    creds, api = account
    project_id = api.create(title="Private project").raw["Project"]["ProjectId"]
    second = server.create_account()

    ui = Console(browser, server)
    ui.signed_in(second)
    ui.wait(lambda d: ui.find("#project-results .empty"), what="an empty project list")
    assert not ui.all(f'tr[data-project-id="{project_id}"]')
    ui.open("#/projects/" + project_id)
    text = ui.error_text()
    assert "Private project" not in browser.find_element(By.TAG_NAME, "main").text
    assert "ProjectNotFound" in text or "InvalidParameter" in text, text
    ui.open("#/media")
    ui.wait(lambda d: ui.find("#media-results .empty"), what="an empty media library")


def test_plain_http_lan_origin_signs_without_webcrypto(server, browser, account):
    """At http://<name>:port the page is not a secure context: no crypto.subtle, so the
    console signs with its own SHA-256/HMAC, and the server accepts it."""
    creds, api = account
    project_id = api.create(title="Seen over the LAN").raw["Project"]["ProjectId"]
    ui = Console(browser, server, host=LAN_HOST)
    ui.open()
    ui.wait(lambda d: ui.find("#signin-form"), what="the sign-in form")
    assert browser.execute_script("return window.isSecureContext") is False
    assert browser.execute_script("return typeof crypto.subtle") == "undefined"
    assert "not a secure context" in ui.find("#signin-form").text
    ui.signed_in(creds)
    rows = ui.wait(lambda d: ui.all("#project-list tr[data-project-id]"), what="project rows")
    assert [r.get_attribute("data-project-id") for r in rows] == [project_id]


def test_upload_from_the_computer(server, browser, account, media_files):
    """CreateUploadMedia's credentials sign an OSS V1 PUT in the browser; the progress bar
    fills and the uploaded media is probed to Normal."""
    creds, api = account
    ui = Console(browser, server)
    ui.signed_in(creds)
    ui.open("#/media")
    ui.wait(lambda d: ui.find("#upload-file"), what="the upload form")
    path = media_files.path("video")
    ui.find("#upload-file").send_keys(str(path))
    ui.find("#upload-title").send_keys("Uploaded in the console")
    ui.click("#media-upload button[type=submit]")
    done = ui.wait(lambda d: ui.find("#upload-done"), timeout=30, what="the upload to finish")
    assert browser.execute_script("return document.querySelector('#upload-progress').value") == 100
    media_id = done.get_attribute("href").rsplit("/", 1)[1]
    ui.wait(lambda d: ui.find(f'.media-card[data-media-id="{media_id}"]'), what="the new media in the list")
    ui.click("#upload-done")
    ui.wait(lambda d: "Normal" in ui.find("#media-status").text, timeout=30, what="the probe to finish")
    basic = api.get_media(media_id=media_id).raw["MediaInfo"]
    assert basic["MediaBasicInfo"]["Title"] == "Uploaded in the console"
    assert int(basic["FileInfoList"][0]["FileBasicInfo"]["FileSize"]) == path.stat().st_size
    assert ui.find("video#player")


def test_produce_from_the_project_page_and_play_the_output(server, browser, account, media_files, shots):
    creds, api = account
    lib = Library(server, api, media_files)
    media_id, _ = lib.ready("video")
    doc = {"VideoTracks": [{"VideoTrackClips": [{"MediaId": media_id, "In": 0, "Out": 1}]}]}
    project_id = api.create(title="To produce", timeline=json.dumps(doc)).raw["Project"]["ProjectId"]

    ui = Console(browser, server)
    ui.signed_in(creds)
    ui.open(f"#/projects/{project_id}")
    url = ui.wait(lambda d: ui.find("#produce-url"), what="the produce form")
    # The default output goes to the bucket the project's material lives in.
    bucket = api.get_media(media_id=media_id).raw["MediaInfo"]["MediaBasicInfo"]["InputURL"].split("/")[2]
    assert url.get_attribute("value") == f"oss://{bucket}/console-output/{project_id}.mp4"
    ui.click("#produce")
    ui.wait(lambda d: d.current_url.endswith("#/jobs"), what="the jobs page")
    row = ui.wait(lambda d: ui.find(f'tr.job[data-status="Success"]'), timeout=60, what="the job to succeed")
    job_id = row.get_attribute("data-job-id")
    job = api.call_raw_action("GetMediaProducingJob", query={"JobId": job_id})["body"]["MediaProducingJob"]
    assert (job["ProjectId"], job["Status"], job["Progress"]) == (project_id, "Success", 100)
    assert row.find_element(By.CSS_SELECTOR, "progress").get_attribute("value") == "100"
    player = ui.wait(lambda d: row.find_element(By.CSS_SELECTOR, "video.job-player"), what="the output player")
    browser.execute_script("arguments[0].muted = true; arguments[0].play()", player)
    ui.wait(lambda d: d.execute_script("return arguments[0].readyState", player) >= 2, what="output video data")
    assert browser.execute_script("return arguments[0].error", player) is None
    shots(browser, "jobs")
