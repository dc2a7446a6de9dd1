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
from ._fold import Folder

_IOV_BATCH = 1024  # IOV_MAX on Linux
_FOLD_TYPE = p.FRAME_FOLD.to_bytes(2, "little")


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
        self._salvaged_folds: List[bytes] = []  # FOLD frames not fully written before a disconnect

    def has_output(self) -> bool:
        return bool(self._out)

    def holds(self, data: bytes) -> bool:
        """Whether the frame ``data`` (added with add_frame) is not yet fully written."""
        return any(entry is data for entry, _ in self._out)

    def room(self, limit: int) -> int:
        """How many more records fit below ``limit``."""
        return limit - self._pending_ops - self._out_ops

    def add_records(self, chunks: List[bytes], limit: int, folder: Folder) -> int:
        """Keep records while at most ``limit`` are buffered and fold the rest; returns how
        many were refused (records the daemon would refuse, which are not folded).

        Once the folder holds anything, every record folds until it is drained: a record
        buffered meanwhile would overtake the folded ones (a gauge's set, for one).
        """
        room = self.room(limit)
        refused = 0
        for chunk in chunks:
            count = len(chunk) // p.RECORD_SIZE
            if folder or count > room:
                if not folder and room > 0:
                    self._pending.append(chunk[:room * p.RECORD_SIZE])
                    self._pending_ops += room
                    chunk, room = chunk[room * p.RECORD_SIZE:], 0
                refused += folder.fold(chunk)
                continue
            room -= count
            self._pending.append(chunk)
            self._pending_ops += count
        return refused

    def add_folded(self, records: List[bytes], frames: List[bytes], ops_per_frame: int) -> None:
        """A drained folder: its records as OPS frames and its FOLD frames, after the rest."""
        if records:
            self._pending.append(b"".join(records))
            self._pending_ops += len(records)
            self.frame_pending(ops_per_frame)
        self._out.extend((data, 0) for data in frames)

    def add_frame(self, data: bytes) -> None:
        """A complete non-OPS frame (declaration, SYNC), after everything added so far."""
        self._out.append((data, 0))

    def frame_pending(self, ops_per_frame: int) -> None:
        """Turn the pending records into OPS frames: a header entry, then the records; then
        the FOLD frames a disconnect interrupted (they are as old as those records)."""
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
        self._out.extend((data, 0) for data in self._salvaged_folds)
        self._salvaged_folds = []

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

    def take_pending(self) -> List[bytes]:
        """The pending (unframed) record chunks, oldest first; none are left."""
        chunks = list(self._pending)
        self._pending.clear()
        self._pending_ops = 0
        return chunks

    def take_salvaged_folds(self) -> List[bytes]:
        """The FOLD frames a disconnect kept (requeue_unsent); none are left."""
        frames, self._salvaged_folds = self._salvaged_folds, []
        return frames

    def requeue_unsent(self) -> None:
        """After a disconnect: records not fully written go back to pending, frames are dropped.

        An OPS frame whose records the kernel did not take in whole never reached the daemon
        complete, so the daemon cannot have applied it: re-sending them later doubles nothing.
        FOLD frames are kept the same way. Declarations and SYNCs are not kept: a new connection
        declares everything again.
        """
        self._salvaged_folds += [data for data, count in self._out
                                 if not count and data[4:6] == _FOLD_TYPE]
        salvaged = [data for data, count in self._out if count]
        self._out.clear()
        self._out_off = self._out_ops = 0
        self._pending.extendleft(reversed(salvaged))
        self._pending_ops += sum(len(chunk) for chunk in salvaged) // p.RECORD_SIZE
