"""The background sender: one thread per process and Client that owns the socket.

It takes op records, declarations and SYNC requests from the Client's outbox every
``flush_interval`` (or when woken), sends them over a Unix socket, reads WELCOME/ACK/ERROR
frames, reports to the Client's status, and reconnects with exponential backoff. The
application's threads never touch the socket. It knows the Client only through the outbox and
the status (see _outbox.py).
"""
from __future__ import annotations

import os
import select
import socket
import struct
import threading
import time
from typing import Dict, List, Optional, Tuple

from . import _protocol as p
from ._outbox import Outbox
from ._fold import Folder
from ._outbuf import OutBuffer
from ._status import Status

BACKOFF_MIN = 0.010
BACKOFF_MAX = 2.0
CONNECT_TIMEOUT = 1.0
# An idle sender polls less and less often, up to this interval: a few wake-ups per second
# instead of 200 keep idle worker processes idle. The first op after a pause waits at most
# this long; flush() wakes the sender at once.
IDLE_INTERVAL_MAX = 0.1
# Frames we build hold at most 64 KiB of records (4096 ops): small enough to be cheap to
# rebuild after a reconnect, big enough that one sendmsg() carries many thousands of ops.
OPS_FRAME_CAP = 65536
_CHUNK = OPS_FRAME_CAP // p.RECORD_SIZE
# A blocking send gives up after this long (struct timeval: 0.5 s) when the daemon stalls.
_SEND_TIMEOUT = struct.pack("@ll", 0, 500_000)


class Sender:
    """Owns one connection at a time; every method runs on the sender thread unless noted."""

    def __init__(self, outbox: Outbox, status: Status) -> None:
        self._outbox = outbox
        self._status = status
        self._stop = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sock: Optional[socket.socket] = None
        self._connecting: Optional[socket.socket] = None  # during _connect()
        self._fd_lock = threading.Lock()  # held across fork() (before_fork)
        self._decoder = p.ClientDecoder()
        self._buf = OutBuffer()
        self._folder = Folder(outbox.shapes)  # records that found the buffer full
        # Tracked gauges' values in this process (every op taken so far), re-sent as SETs on
        # each new connection: the daemon forgets a connection's live-mode values when it ends.
        self._gauges: Dict[int, float] = {}
        self._resend_gauges = False
        self._sent_decls = 0          # how many of the outbox's declarations this connection sent
        self._inflight: List[int] = []  # SYNC tokens sent, ACK not yet read
        self._backoff = BACKOFF_MIN
        self._next_attempt = 0.0
        self._interval = outbox.flush_interval  # grows while idle (IDLE_INTERVAL_MAX)
        self._ops_per_frame = OPS_FRAME_CAP // p.RECORD_SIZE
        self._limits = p.Welcome(1, p.MAX_FRAME_PAYLOAD, 65535, 1048575)
        # CLIENT_STATS: each connection reports the drops not reported on an earlier one, as a
        # count cumulative over the connection, so a reconnect never reports a drop twice.
        self._stats_base = 0     # dropped ops reported on earlier connections
        self._stats_sent = 0     # the count queued on this connection
        self._stats_written = 0  # the count before the one queued (written when that was queued)
        self._stats_frame: Optional[bytes] = None
        self._thread = threading.Thread(target=self._run, name="metricsd-sender", daemon=True)

    # --- called from other threads ------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Make the sender run a cycle now (any thread)."""
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass  # a full pipe already guarantees a wake-up

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the thread and close the connection (any thread but the sender)."""
        self._stop = True
        self.wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._close_fds()

    def running(self) -> bool:
        """Whether the thread is alive (after stop(): it did not end within the timeout)."""
        return self._thread.is_alive()

    def before_fork(self) -> None:
        """Hold the descriptor lock across fork(): the child must see every socket we opened."""
        self._fd_lock.acquire()

    def after_fork_parent(self) -> None:
        self._fd_lock.release()

    def abandon_after_fork(self) -> None:
        """In a forked child: drop the parent's connection without sending or shutting it down.

        close() only releases this process's descriptor; the parent's connection stays intact.
        The child's thread does not exist; the Client makes a new Sender when it needs one.
        """
        self._stop = True
        self._close_fds()

    def _close_fds(self) -> None:
        for sock in (self._sock, self._connecting):
            if sock is not None:
                sock.close()
        self._sock = self._connecting = None
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1

    def run_inline(self, deadline: float) -> bool:
        """Without the thread, on the caller's: cycles until every SYNC requested so far is
        answered, the connection failed, or ``deadline`` (time.monotonic()) passed. True when
        no SYNC is left unanswered."""
        self._cycle()
        while self._sock is not None and (self._inflight or self._buf.has_output()) \
                and time.monotonic() < deadline:
            self._step()
        return self._sock is not None and not self._inflight

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop:
            try:
                self._step()
            except Exception as e:  # keep the thread alive whatever happens
                self._status.note_error(f"client: sender failed: {e!r}")
                self._disconnect()
                time.sleep(self._outbox.flush_interval)

    def _step(self) -> None:
        # poll(), not select(): busy servers hold descriptors above select()'s limit of 1024.
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        sock = self._sock
        if sock is not None:
            writable = select.POLLOUT if self._buf.has_output() else 0
            poller.register(sock, select.POLLIN | writable)
        timeout = self._interval
        if sock is None:  # do not sleep through a reconnect attempt
            timeout = min(timeout, max(0.0, self._next_attempt - time.monotonic()))
        events = dict(poller.poll(timeout * 1000))
        if self._stop:
            return
        if self._wake_r in events:
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        if sock is not None and events.get(sock.fileno(), 0) & ~select.POLLOUT:
            self._read()  # data, or hang-up/error which recv() then reports
        self._cycle()

    def _cycle(self) -> None:
        outbox, status = self._outbox, self._status
        # Take the SYNC requests before the records: every op queued before flush() was called
        # is then in this take, so the SYNC follows it on the wire.
        syncs = outbox.take_sync_requests()
        chunks = outbox.take_records(_CHUNK)
        gauge_chunks = outbox.take_gauge_records(_CHUNK)
        if gauge_chunks:
            self._track_gauges(gauge_chunks)
            chunks += gauge_chunks
        status.count_dropped(self._buf.add_records(chunks, outbox.max_buffer_ops, self._folder))
        if chunks or syncs or self._buf.has_output():
            self._interval = outbox.flush_interval
        else:
            self._interval = min(self._interval * 2, max(IDLE_INTERVAL_MAX, outbox.flush_interval))
        if outbox.take_socket_change():
            self._disconnect()
            self._next_attempt = 0.0
        if self._sock is None and (syncs or time.monotonic() >= self._next_attempt):
            self._connect()
        if self._sock is None:
            status.finish_syncs(syncs, False)
            return
        # Declarations are read after the records: an op can only be queued once its series is
        # registered, so every taken op's declaration is already in the outbox.
        self._queue_declarations()
        self._buf.frame_pending(self._ops_per_frame)
        # Folds go out once the buffer has room again (the daemon keeps up), or now when a
        # SYNC must follow them; either way after every record buffered before them.
        if self._folder and (syncs or self._buf.room(outbox.max_buffer_ops) > 0):
            self._buf.add_folded(*self._folder.drain(), self._ops_per_frame)
        if self._resend_gauges and not self._folder:
            # After everything taken so far, whose effect the values include, and after the
            # folded ops (a set among them would otherwise land after the values and undo them).
            self._resend_gauges = False
            pack = p.RECORD.pack
            sets = [pack(p.OP_SET, handle, value) for handle, value in self._gauges.items()]
            self._buf.add_folded(sets, [], self._ops_per_frame)
        self._queue_client_stats()
        for token in syncs:
            self._buf.add_frame(p.encode_sync(token))
            self._inflight.append(token)
        self._send()

    def _track_gauges(self, chunks: List[bytes]) -> None:
        values = self._gauges
        for op, handle, value in p.RECORD.iter_unpack(b"".join(chunks)):
            if op == p.OP_SET:
                values[handle] = value
            elif op == p.OP_INC:
                values[handle] = values.get(handle, 0.0) + value
            else:  # OP_DEC; the children validated the values
                values[handle] = values.get(handle, 0.0) - value

    def take_unsent(self) -> Tuple[int, List[bytes], List[bytes]]:
        """Once the thread has stopped: every op not written to a connection, folded per series.

        Returns (ops taken, op records, FOLD frames); the sender holds nothing afterwards.
        Oldest first, so a gauge's sets fold in the order they were made: the records the
        buffer holds, then those folded meanwhile, then those still in the outbox.
        """
        self._buf.requeue_unsent()
        folder = Folder(self._outbox.shapes)
        frames = self._buf.take_salvaged_folds()
        ops = folder.fold_count(self._buf.take_pending())
        old_records, old_frames = self._folder.drain()
        ops += self._folder.folded_ops
        self._folder.folded_ops = 0
        folder.fold_count(old_records)
        frames += old_frames
        ops += folder.fold_count(self._outbox.take_records(_CHUNK))
        ops += folder.fold_count(self._outbox.take_gauge_records(_CHUNK))
        records, fold_frames = folder.drain()
        return ops, records, frames + fold_frames

    def _queue_declarations(self) -> None:
        decls = self._outbox.declarations(self._sent_decls)
        limits = self._limits
        for kind, handle, data in decls:
            limit = limits.max_family_handle if kind == "family" else limits.max_series_handle
            if handle > limit or len(data) - p.HEADER.size > limits.max_frame_payload:
                self._status.note_error(
                    f"client: {kind} handle {handle} exceeds the daemon's limits; not declared")
                continue
            self._buf.add_frame(data)
        self._sent_decls += len(decls)

    def _queue_client_stats(self) -> None:
        """Report the dropped count when it changed, before this cycle's SYNCs (which cover it).

        One frame at a time: what an unwritten one says is not counted on a disconnect.
        """
        value = self._status.dropped - self._stats_base
        if (value == self._stats_sent or self._limits.version < p.CLIENT_STATS_REVISION
                or self._buf.holds(self._stats_frame)):
            return
        self._stats_written = self._stats_sent
        self._stats_frame = p.encode_client_stats(value)
        self._buf.add_frame(self._stats_frame)
        self._stats_sent = value

    def _send(self) -> None:
        try:
            self._buf.write(self._sock)  # type: ignore[arg-type]
        except OSError as e:
            self._status.note_error(f"client: send failed: {e}")
            self._disconnect()

    def _read(self) -> None:
        try:
            data = self._sock.recv(65536, socket.MSG_DONTWAIT)  # type: ignore[union-attr]
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._status.note_error(f"client: receive failed: {e}")
            self._disconnect()
            return
        if not data:
            self._disconnect()
            return
        self._handle(self._decoder.feed(data))

    def _handle(self, messages: List[p.Decoded]) -> None:
        for message in messages:
            if isinstance(message, p.Ack):
                done = []
                while self._inflight:  # ACKs come in SYNC order
                    token = self._inflight.pop(0)
                    done.append(token)
                    if token == message.token:
                        break
                self._status.finish_syncs(done, True)
            elif isinstance(message, p.Error):
                self._status.note_error(f"{message.code_name}: {message.message}")
            elif isinstance(message, p.DecodeError):
                self._status.note_error(f"client: bad frame from daemon: {message.code}")
                if message.fatal:
                    self._disconnect()
                    return

    def _connect(self) -> None:
        """Open a connection: handshake, WELCOME, then (later in the cycle) declarations."""
        path = self._outbox.socket_path()
        with self._fd_lock:  # a fork() must see the new descriptor, to close it in the child
            sock = self._connecting = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(path)
            sock.sendall(p.encode_handshake(), socket.MSG_NOSIGNAL)
            decoder = p.ClientDecoder()
            messages: List[p.Decoded] = []
            while not messages:
                data = sock.recv(4096)
                if not data:
                    raise ConnectionError("daemon closed the connection during the handshake")
                messages = decoder.feed(data)
            first = messages[0]
            if not isinstance(first, p.Welcome):
                if isinstance(first, p.Error):
                    raise ConnectionError(f"{first.code_name}: {first.message}")
                raise ConnectionError(f"unexpected answer to the handshake: {first!r}")
        except (OSError, ValueError) as e:  # ValueError: e.g. a NUL in the path
            sock.close()
            self._connecting = None
            self._status.note_connect_failure(path, e)
            self._next_attempt = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)
            return
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _SEND_TIMEOUT)
        self._sock, self._decoder, self._limits = sock, decoder, first
        self._connecting = None
        self._ops_per_frame = max(1, min(OPS_FRAME_CAP, first.max_frame_payload) // p.RECORD_SIZE)
        self._sent_decls = 0
        self._backoff = BACKOFF_MIN
        self._resend_gauges = bool(self._gauges)
        self._status.set_connected(True)
        self._handle(messages[1:])

    def _disconnect(self) -> None:
        """Forget the connection; ops not fully written wait for the next one."""
        if self._sock is None:
            return
        self._sock.close()
        self._sock = None
        unwritten = self._buf.holds(self._stats_frame)
        self._stats_base += self._stats_written if unwritten else self._stats_sent
        self._stats_sent = self._stats_written = 0
        self._buf.requeue_unsent()
        self._status.finish_syncs(self._inflight, False)
        self._inflight = []
        self._next_attempt = time.monotonic() + self._backoff
        self._status.set_connected(False)
