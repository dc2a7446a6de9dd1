#!/usr/bin/env python3
"""Seed inputs for the fuzz targets, made from protocol/test_vectors.json.

usage: seeds.py TEST_VECTORS OUT_DIR  -> OUT_DIR/<target>/<name> files (rewritten each run).
Each target's input format is described at the top of fuzz/<target>.cpp.
"""
import json
import os
import sys


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def ingest_records(frames_by_conn):
    """[(connection, bytes) or (connection, None) for a hang-up] as ingest_store input."""
    out = bytearray()
    for conn, data in frames_by_conn:
        if data is None:
            out += bytes([0x80 | conn])
            continue
        for i in range(0, len(data), 255):
            chunk = data[i:i + 255]
            out += bytes([conn, len(chunk)]) + chunk
    return bytes(out)


def main():
    vectors = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    handshake = None
    client_frames = []
    for v in vectors["valid"]:
        data = bytes.fromhex(v["hex"])
        if v["message"]["type"] == "handshake":
            handshake = data
            continue
        if v["direction"] == "client_to_daemon":
            client_frames.append((v["name"], data))
            write(out, "wire_decoder", "valid-" + v["name"], b"\x00" + handshake + data)
        else:
            write(out, "wire_decoder", "valid-" + v["name"], b"\x01" + data)
    write(out, "wire_decoder", "all-client-frames-bytewise",
          b"\x00" + handshake + b"".join(d for _, d in client_frames))
    for v in vectors["invalid"]:
        control = b"\x00" if v["role"] == "daemon" else b"\x01"
        write(out, "wire_decoder", "invalid-" + v["name"], control + bytes.fromhex(v["hex"]))

    # The valid client frames are a coherent session (families, series, ops, sync): send them
    # from one connection, from two interleaved ones, and with a hang-up in the middle.
    frames = [d for _, d in client_frames]
    write(out, "ingest_store", "one-connection", ingest_records([(0, f) for f in frames]))
    write(out, "ingest_store", "two-interleaved",
          ingest_records([(c, f) for f in frames for c in (0, 1)]))
    half = len(frames) // 2
    write(out, "ingest_store", "hang-up-and-return",
          ingest_records([(2, f) for f in frames[:half]] + [(2, None)] +
                         [(3, f) for f in frames] + [(2, f) for f in frames]))


if __name__ == "__main__":
    main()
