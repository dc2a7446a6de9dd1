"""The sender's folder (metricsd._fold): records beyond the buffer, folded per series."""
import math
import unittest

from metricsd import _protocol as p
from metricsd._fold import Folder, Shapes
from metricsd._outbuf import OutBuffer

INC, DEC, SET, OBSERVE = (p.OPS[n] for n in ("inc", "dec", "set", "observe"))


def records(*ops):
    return b"".join(p.RECORD.pack(*op) for op in ops)


class FolderTest(unittest.TestCase):
    def setUp(self):
        shapes = Shapes()
        shapes.families = {0: ("counter", ()), 1: ("gauge", ()), 2: ("histogram", (0.5, 1.0)),
                           3: ("summary", ())}
        shapes.series = {10: 0, 11: 1, 12: 2, 13: 3, 14: 1}
        self.folder = Folder(shapes)

    def test_every_type_folds_to_records_and_fold_frames(self):
        refused = self.folder.fold(records(*[(INC, 10, 1.0)] * 1000, (INC, 10, 0.5),
                                           (INC, 11, 3.0), (DEC, 11, 1.0),
                                           (OBSERVE, 12, 0.5), (OBSERVE, 12, 0.7),
                                           (OBSERVE, 12, 9.0), (OBSERVE, 13, 2.0)))
        self.assertEqual(refused, 0)
        got, frames = self.folder.drain()
        self.assertEqual([p.RECORD.unpack(r) for r in got],
                         [(INC, 10, 1000.5), (INC, 11, 2.0)])
        self.assertEqual(frames, [p.encode_fold(12, 3, 10.2, [1, 1, 1]),
                                  p.encode_fold(13, 1, 2.0, [])])
        self.assertFalse(self.folder)
        self.assertEqual(self.folder.drain(), ([], []))

    def test_a_set_keeps_its_place_between_incs(self):
        self.folder.fold(records((INC, 11, 5.0), (SET, 11, 100.0), (INC, 11, 1.0),
                                 (DEC, 11, 3.0), (INC, 14, 1.0)))
        self.folder.fold(records((SET, 14, -1.0)))
        got, _ = self.folder.drain()
        self.assertEqual([p.RECORD.unpack(r) for r in got],
                         [(SET, 11, 100.0), (INC, 11, -2.0), (SET, 14, -1.0)])

    def test_ops_the_daemon_would_refuse_are_not_folded(self):
        refused = self.folder.fold(records((INC, 10, -1.0), (INC, 10, math.nan),
                                           (INC, 10, math.inf), (SET, 10, 1.0),
                                           (INC, 11, math.inf), (OBSERVE, 11, 1.0),
                                           (OBSERVE, 12, math.nan), (INC, 12, 1.0),
                                           (INC, 99, 1.0), (INC, 10, 2.0)))
        self.assertEqual(refused, 9)
        got, frames = self.folder.drain()
        self.assertEqual([p.RECORD.unpack(r) for r in got], [(INC, 10, 2.0)])
        self.assertEqual(frames, [])


class OutBufferFoldTest(unittest.TestCase):
    def test_records_beyond_the_limit_fold_and_later_ones_follow_them(self):
        shapes = Shapes()
        shapes.families = {0: ("gauge", ())}
        shapes.series = {0: 0}
        folder = Folder(shapes)
        buf = OutBuffer()
        self.assertEqual(buf.add_records([records(*[(INC, 0, 1.0)] * 5)], 3, folder), 0)
        self.assertEqual(buf.room(3), 0)
        # The folder holds something: even with room, records fold behind it, keeping order.
        buf.frame_pending(4096)
        self.assertEqual(buf.add_records([records((SET, 0, 7.0))], 100, folder), 0)
        self.assertEqual(buf.room(100), 97)
        buf.add_folded(*folder.drain(), 4096)
        sent = b"".join(data for data, _ in buf._out)
        self.assertEqual(sent, p.encode_ops([(INC, 0, 1.0)] * 3) + p.encode_ops([(SET, 0, 7.0)]))


if __name__ == "__main__":
    unittest.main()
