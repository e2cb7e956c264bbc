#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Test data for the Xet e2e scripts.

  xet_data.py make PATH SIZE   half random bytes, half a repeated line (so both raw and LZ4 chunks
                               occur); the first byte is NUL, so the file is binary, hence LFS
  xet_data.py edit PATH        overwrites 1% of the file with random bytes, in 64 KiB regions
                               spread evenly over it
"""
import os
import sys


def make(path, size):
    half = size // 2
    line = b"layer weights that compress well 0123456789abcdef\n"
    data = bytearray(os.urandom(half)) + (line * (size // len(line) + 1))[: size - half]
    data[0] = 0
    with open(path, "wb") as f:
        f.write(data)


def edit(path):
    size = os.path.getsize(path)
    region = 64 << 10
    count = max(1, size // 100 // region)
    with open(path, "r+b") as f:
        for i in range(count):
            f.seek((2 * i + 1) * size // (2 * count))
            f.write(os.urandom(region))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == "edit":
        edit(sys.argv[2])
    else:
        sys.exit(__doc__)
