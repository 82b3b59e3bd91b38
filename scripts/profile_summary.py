"""Summarise a collapsed-stack file of core/profiling.py: the busiest functions, by samples where they are the leaf
(self) and anywhere on the stack (total), idle waits left out.

    .venv/bin/python scripts/profile_summary.py samples.txt [--top 40] [--match sequence]
"""

import argparse
import collections
from pathlib import Path

# Leaves where a thread waits rather than runs.
IDLE_LEAVES = (
    "thread.py:_worker",  # a pool thread waiting for work (the queue's get is C, so not a frame)
    "selectors.py:select",
    "threading.py:wait",
    "threading.py:_wait_for_tstate_lock",
    "queue.py:get",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", default="", help="only stacks with a frame containing this")
    args = parser.parse_args()
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    busy = 0
    for line in Path(args.path).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        if frames[-1] in IDLE_LEAVES or frames[-1].endswith(":sample") or args.match not in stack:
            continue
        count = int(n)
        busy += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    print(f"busy samples: {busy}")
    print("-- total (on the stack)")
    for name, n in total.most_common(args.top):
        print(f"{100 * n / busy:5.1f}%  {name}")
    print("-- self (leaf)")
    for name, n in own.most_common(args.top):
        print(f"{100 * n / busy:5.1f}%  {name}")


if __name__ == "__main__":
    main()
