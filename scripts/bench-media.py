#!/usr/bin/env python3
"""Media registration and probe throughput, against ffprobe run by hand on the same files.

Usage (after ./scripts/test.sh has made .venv, and `cargo build --release`):
    .venv/bin/python scripts/bench-media.py [--files 40] [--workers 2]

Starts target/release/openice on a free loopback port with a temporary data dir, copies N
generated mp4 files in with `openice media put`, registers them all through the official SDK
(counting registrations/s accepted), waits until every probe has finished (probes/s
completed), then runs `ffprobe` by hand on the same files with the same parallelism.
"""
import argparse
import concurrent.futures as cf
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

from alibabacloud_ice20201109 import models as ice
from alibabacloud_ice20201109.client import Client
from alibabacloud_tea_openapi import models as open_api_models

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-snapshot", action="store_true", help="register with NeedSnapshot=false")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "openice"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="openice-bench-media-")
    data = os.path.join(work, "data")
    sample = os.path.join(work, "sample.mp4")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", "5", "-c:v", "libx264",
         "-c:a", "aac", "-shortest", sample],
        check=True,
    )
    files = []
    for i in range(args.files):
        subprocess.run([args.bin, "media", "put", sample, f"oss://bench/clip{i}.mp4", "--data-dir", data],
                       check=True, capture_output=True)
        files.append(os.path.join(data, "buckets", "bench", f"clip{i}.mp4"))

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENICE_")}
    server = subprocess.Popen(
        [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
         "--probe-workers", str(args.workers)],
        env=env, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        creds = json.load(open(os.path.join(data, "default-credentials.json")))
        client = Client(open_api_models.Config(
            access_key_id=creds["AccessKeyId"], access_key_secret=creds["AccessKeySecret"],
            endpoint=f"127.0.0.1:{port}", protocol="http"))

        start = time.perf_counter()
        config = json.dumps({"NeedSnapshot": not args.no_snapshot})
        ids = [client.register_media_info(ice.RegisterMediaInfoRequest(
            input_url=f"oss://bench/clip{i}.mp4", register_config=config)).body.media_id
            for i in range(args.files)]
        registered = time.perf_counter() - start

        pending = set(ids)
        while pending:
            done = client.batch_get_media_infos(ice.BatchGetMediaInfosRequest(media_ids=",".join(ids)))
            pending = {m.media_id for m in done.body.media_infos
                       if m.media_basic_info.status not in ("Normal", "PrepareFail")}
            time.sleep(0.02)
        probed = time.perf_counter() - start
        failed = [m for m in done.body.media_infos if m.media_basic_info.status != "Normal"]
    finally:
        server.terminate()
        server.wait()

    def ffprobe(path):
        subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                        "-show_streams", path], check=True, capture_output=True)

    start = time.perf_counter()
    with cf.ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(ffprobe, files))
    by_hand = time.perf_counter() - start
    shutil.rmtree(work)

    n = args.files
    print(f"files: {n} x 5 s 640x360 h264/aac mp4, probe workers: {args.workers}, "
          f"cover snapshots: {not args.no_snapshot}, failed probes: {len(failed)}")
    print("| measure | value |")
    print("|---|---|")
    print(f"| registrations accepted (sequential SDK calls) | {n / registered:.0f}/s |")
    print(f"| probes completed by openice (register → all Normal) | {n / probed:.1f}/s |")
    print(f"| ffprobe by hand, {args.workers} in parallel | {n / by_hand:.1f}/s |")
    print(f"| openice probe rate / ffprobe by hand | {by_hand / probed:.2f} |")


if __name__ == "__main__":
    main()
