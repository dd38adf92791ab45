#!/usr/bin/env python3
"""OSS API throughput: a large object uploaded and downloaded through oss2 against openice,
next to `cp` of the same file on the same disk, with the server's peak RSS.

Usage (after ./scripts/test.sh has made .venv, and `cargo build --release`):
    .venv/bin/python scripts/bench-oss.py [--mib 1024] [--runs 3]

Starts target/release/openice on a free loopback port with a temporary data dir (on the same
filesystem as the source file), then per run: `cp` the file, PutObject it with oss2
(`put_object_from_file`), multipart-upload it (`resumable_upload`, 10 MiB parts, 4 threads),
and download it (`get_object_to_file`). Reports MiB/s (median of the runs), the ratio to `cp`,
the CPU seconds the client (this process) and the server spent per path, and the server's RSS
when idle and its peak (VmHWM) after everything. `--no-crc` turns off oss2's client-side CRC-64
(`enable_crc=False`; on by default in oss2) to show what the client's CRC costs.
"""
import argparse
import hashlib
import os
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

import oss2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY_ID, SECRET = "LTAIbenchossbenchoss01", "bench-oss-secret-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """(client, server) CPU seconds so far: this process and the server process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return usage.ru_utime + usage.ru_stime, server


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-crc", action="store_true", help="oss2 enable_crc=False")
    ap.add_argument("--dir", default=os.path.join(ROOT, "target"), help="where the temporary files go")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "openice"),
                    help="the openice binary to measure (e.g. an older build, for before/after)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-oss-", dir=args.dir)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENICE_")}
    env.update(OPENICE_ACCESS_KEY_ID=KEY_ID, OPENICE_ACCESS_KEY_SECRET=SECRET, OPENICE_LOG="warn")
    server = subprocess.Popen(
        [args.bin, "serve", "--listen", f"127.0.0.1:{port}",
         "--data-dir", os.path.join(work, "data")], env=env)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        src = os.path.join(work, "source.bin")
        with open(src, "wb") as f:
            block = os.urandom(1 << 20)
            for i in range(args.mib):
                f.write(hashlib.sha256(str(i).encode()).digest() + block[32:])
        size = os.path.getsize(src)
        idle = rss_kib(server.pid, "VmRSS")
        bucket = oss2.Bucket(oss2.Auth(KEY_ID, SECRET), f"http://127.0.0.1:{port}", "bench-oss",
                             enable_crc=not args.no_crc)
        results = {"cp": [], "put": [], "multipart": [], "get": []}
        cpu = {name: [] for name in results}

        def timed(name, fn):
            c0, s0 = cpu_seconds(server.pid)
            t = time.perf_counter()
            fn()
            results[name].append(time.perf_counter() - t)
            c1, s1 = cpu_seconds(server.pid)
            cpu[name].append((c1 - c0, s1 - s0))

        for run in range(args.runs):
            dst = os.path.join(work, "copy.bin")
            timed("cp", lambda: (shutil.copyfile(src, dst), os.sync()))
            os.remove(dst)
            timed("put", lambda: bucket.put_object_from_file("bench/put.bin", src))
            timed("multipart", lambda: oss2.resumable_upload(
                bucket, "bench/multipart.bin", src, store=oss2.ResumableStore(root=work),
                multipart_threshold=10 << 20, part_size=10 << 20, num_threads=4))
            timed("get", lambda: bucket.get_object_to_file("bench/put.bin", dst))
            os.remove(dst)
        peak = rss_kib(server.pid, "VmHWM")
        mib = size / (1 << 20)
        cp_rate = mib / statistics.median(results["cp"])
        crc = "off" if args.no_crc else "on"
        print(f"object: {mib:.0f} MiB, {args.runs} runs (median), oss2 CRC-64 {crc}")
        print("| path | MiB/s | vs cp | client CPU s | server CPU s |")
        print("|---|---|---|---|---|")
        for name, label in [("cp", "`cp` + sync (same disk)"), ("put", "oss2 put_object_from_file"),
                            ("multipart", "oss2 resumable_upload (10 MiB parts, 4 threads)"),
                            ("get", "oss2 get_object_to_file")]:
            rate = mib / statistics.median(results[name])
            client = statistics.median(c for c, _ in cpu[name])
            served = statistics.median(s for _, s in cpu[name])
            print(f"| {label} | {rate:.0f} | {rate / cp_rate:.2f}x | {client:.2f} | {served:.2f} |")
        print(f"server RSS: idle {idle / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB "
              f"(+{(peak - idle) / 1024:.1f} MiB)")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
