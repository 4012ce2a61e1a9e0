#!/usr/bin/env python3
"""PyAV peer for bench/decode.sh: decode each clip sequentially with PyAV and write the wanted
frames (decode-order indices, as vs-decode chose them) as PNG (PIL, compress_level=1, like
vs-decode's zlib level 1). Input: a JSON list of {"video", "indices"} on argv[1], output dir argv[2],
codec threads argv[3]. Prints {"frames": N, "seconds": wall, "cpu_seconds": user+sys} (decode +
convert + write, in-process; interpreter start-up and imports excluded)."""
import json
import os
import sys
import time

import av
from PIL import Image


def main():
    jobs = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    threads = int(sys.argv[3])
    n = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for k, job in enumerate(jobs):
        wanted = sorted(set(job["indices"]))
        last = wanted[-1]
        with av.open(job["video"], metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            stream.thread_count = threads
            i = 0
            w = 0
            for frame in container.decode(stream):
                if i == wanted[w]:
                    img = frame.to_image()  # RGB24, autorotation is not applied by PyAV
                    img.save(os.path.join(out, f"{k:03d}_{i:06d}.png"), compress_level=1)
                    n += 1
                    w += 1
                    if w == len(wanted):
                        break
                i += 1
                if i > last:
                    break
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(json.dumps({"frames": n, "seconds": dt, "cpu_seconds": cpu}))


if __name__ == "__main__":
    main()
