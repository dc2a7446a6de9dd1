"""The sender's outgoing buffer: op records waiting for a connection, and framed bytes.

Used by the sender thread only. Op records arrive as chunks (joined 16-byte records); on a
connection they become OPS frames and are written with scatter/gather sendmsg(), no copies.
"""
from __future__ import annotations

import collections
import socket
from itertools import islice
from typing import Deque, List, Tuple

from . import _protocol as p

_IOV_BATCH = 1024  # IOV_MAX on Linux


class OutBuffer:
    """Pending op records (not yet framed) and outgoing entries (framed, not yet written)."""

    def __init__(self) -> None:
        self._pending: Deque[bytes] = collections.deque()
        self._pending_ops = 0
        # (bytes, op records in them). An OPS frame is two entries: its header (0 records)
        # and its records. _out_off bytes of the first entry are already in the kernel.
        self._out: Deque[Tuple[bytes, int]] = collections.deque()
        self._out_off = 0
        self._out_ops = 0

    def has_output(self) -> bool:
        return bool(self._out)

    def add_records(self, chunks: List[bytes], limit: int) -> int:
        """Keep records while at most ``limit`` are buffered; returns how many were dropped."""
        room = limit - self._pending_ops - self._out_ops
        dropped = 0
        for chunk in chunks:
            count = len(chunk) // p.RECORD_SIZE
            if count > room:
                dropped += count - max(room, 0)
                if room <= 0:
                    continue
                chunk, count = chunk[:room * p.RECORD_SIZE], room
            room -= count
            self._pending.append(chunk)
            self._pending_ops += count
        return dropped

    def add_frame(self, data: bytes) -> None:
        """A complete non-OPS frame (declaration, SYNC), after everything added so far."""
        self._out.append((data, 0))

    def frame_pending(self, ops_per_frame: int) -> None:
        """Turn the pending records into OPS frames: a header entry, then the records."""
        step = ops_per_frame * p.RECORD_SIZE
        while self._pending:
            chunk = self._pending.popleft()
            for start in range(0, len(chunk), step):
                piece = chunk[start:start + step] if len(chunk) > step else chunk
                count = len(piece) // p.RECORD_SIZE
                self._out.append((p.ops_header(count), 0))
                self._out.append((piece, count))
                self._out_ops += count
        self._pending_ops = 0

    def write(self, sock: socket.socket) -> None:
        """Write as much as one sendmsg() takes; OSError when the connection failed.

        The socket is blocking with a send timeout (SO_SNDTIMEO): the kernel then moves
        megabytes in one call while the sender has released the GIL. Each extra call would cost
        a GIL hand-over, up to the switch interval (5 ms) when the application is busy.
        """
        out = self._out
        if not out:
            return
        buffers = [memoryview(out[0][0])[self._out_off:]]
        buffers += [data for data, _ in islice(out, 1, _IOV_BATCH)]
        try:
            # MSG_NOSIGNAL: an application that restored SIGPIPE must not die of a closed socket.
            sent = sock.sendmsg(buffers, [], socket.MSG_NOSIGNAL)
        except (BlockingIOError, InterruptedError):
            return  # daemon not reading: poll() says when the socket is writable again
        while sent:
            data, count = out[0]
            left = len(data) - self._out_off
            if sent < left:
                self._out_off += sent
                break
            sent -= left
            out.popleft()
            self._out_off = 0
            self._out_ops -= count

    def requeue_unsent(self) -> None:
        """After a disconnect: records not fully written go back to pending, frames are dropped.

        An OPS frame whose records the kernel did not take in whole never reached the daemon
        complete, so the daemon cannot have applied it: re-sending them later doubles nothing.
        Declarations and SYNCs are not kept: a new connection declares everything again.
        """
        salvaged = [data for data, count in self._out if count]
        self._out.clear()
        self._out_off = self._out_ops = 0
        self._pending.extendleft(reversed(salvaged))
        self._pending_ops += sum(len(chunk) for chunk in salvaged) // p.RECORD_SIZE
