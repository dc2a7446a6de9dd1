"""The spool: where a process that exits while the daemon is unreachable leaves its ops.

At exit (close(), the atexit flush) a client whose final flush failed writes what the daemon
never received, folded per series, to one file in the spool directory; the daemon reads each
file back exactly once, as if the process had connected and sent it (protocol/SPOOL.md). A
file is written under a temporary name and renamed when complete, so the daemon never sees half
a file. Every op is in exactly one place: written to the connection before the sender stopped,
or in this file (the sender's thread has ended when the file is made; see Sender.take_unsent).
"""
from __future__ import annotations

import os
import secrets
import struct
import sys
import time
from typing import List, Optional

from . import _protocol as p

MAGIC = b"MTRDSPL1"
HEADER = struct.Struct("<8sq")  # magic, the writer's pid (the daemon's pid label for it)
SUFFIX = ".spool"
# The daemon's defaults (spool_max_file_bytes); a bigger file would be refused, so it is not
# written. 16 MiB holds the folded state of ~100 k series.
MAX_FILE_BYTES = 16 << 20
# All spool files together: the directory is on /run (memory) by default.
MAX_TOTAL_BYTES = 256 << 20
_OPS_PER_FRAME = 4096


class Spool:
    """The spool directory setting and the writer."""

    def __init__(self) -> None:
        self.directory: Optional[str] = None

    def path(self, socket_path: str) -> str:
        """configure(spool_dir=...), else $METRICSD_SPOOL_DIR, else the socket path + ".spool"
        (the daemon's default for the same socket, so both agree without configuration)."""
        return self.directory or os.environ.get("METRICSD_SPOOL_DIR") or socket_path + SUFFIX

    def write_or_drop(self, socket_path: str, ops: int, declarations: List[bytes],
                      records: List[bytes], frames: List[bytes], status) -> None:
        """Spool ``ops`` (as records and FOLD frames) or count them dropped; say which on stderr."""
        directory = self.path(socket_path)
        data = encode(os.getpid(), declarations, records, frames)
        try:
            name = self._write(directory, data)
        except OSError as e:
            status.count_dropped(ops)
            status.note_error(f"client: cannot spool to {directory}: {e}")
            _say(f"the daemon at {socket_path} was unreachable by exit; {ops} ops dropped "
                 f"(cannot spool to {directory}: {e.strerror or e})")
            return
        _say(f"the daemon at {socket_path} was unreachable by exit; {ops} ops spooled to "
             f"{name} (the daemon applies them when it next reads {directory})")

    @staticmethod
    def _write(directory: str, data: bytes) -> str:
        if len(data) > MAX_FILE_BYTES:
            raise OSError(0, f"{len(data)} bytes exceed the spool's {MAX_FILE_BYTES}-byte limit "
                             "per file")
        try:
            os.mkdir(directory, 0o700)  # the daemon makes it at start; a parent must exist
        except FileExistsError:
            pass
        used = 0
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(SUFFIX):
                    used += entry.stat(follow_symlinks=False).st_size
        if used + len(data) > MAX_TOTAL_BYTES:
            raise OSError(0, f"the spool already holds {used} bytes (limit {MAX_TOTAL_BYTES})")
        # Named by time, pid and 48 random bits: unique, and the daemon reads oldest first.
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(6)}{SUFFIX}"
        final = os.path.join(directory, name)
        temporary = os.path.join(directory, "." + name + ".tmp")  # never read by the daemon
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)  # the rename below must not publish a file whose data is not on disk
        except OSError:
            os.close(fd)
            os.unlink(temporary)
            raise
        os.close(fd)
        os.rename(temporary, final)
        return final


def encode(pid: int, declarations: List[bytes], records: List[bytes],
           frames: List[bytes]) -> bytes:
    """A spool file: the header, then what a connection would carry after its handshake."""
    parts = [HEADER.pack(MAGIC, pid), p.encode_handshake()]
    parts += declarations
    for start in range(0, len(records), _OPS_PER_FRAME):
        chunk = records[start:start + _OPS_PER_FRAME]
        parts.append(p.ops_header(len(chunk)))
        parts += chunk
    parts += frames
    return b"".join(parts)


def _say(text: str) -> None:
    # stderr, not only the logger: at exit nobody may have configured logging, and this is
    # the one place where the application learns that its last ops did not reach the daemon.
    try:
        sys.stderr.write(f"metricsd: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # closed stderr at interpreter shutdown
        pass
