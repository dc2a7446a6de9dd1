"""The shared protocol test vectors (protocol/test_vectors.json) against metricsd._protocol."""
import json
import math
import pathlib
import unittest

from metricsd import _protocol as p

VECTORS = pathlib.Path(__file__).resolve().parents[3] / "protocol" / "test_vectors.json"


def _double(value):
    if isinstance(value, str):
        return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf, "-0": -0.0}[value]
    return float(value)


def encode(m):
    """Encode a vector's logical message with the client's encoders."""
    t = m["type"]
    if t == "handshake":
        return p.encode_handshake(m["version"])
    if t == "declare_family":
        return p.encode_declare_family(m["handle"], m["metric_type"], m["gauge_mode"], m["name"],
                                       m["help"], m["label_names"], m["buckets"])
    if t == "declare_series":
        return p.encode_declare_series(m["handle"], m["family"], m["label_values"])
    if t == "ops":
        return p.encode_ops([(p.OPS[r["op"]], r["handle"], _double(r["value"]))
                             for r in m["records"]])
    if t == "sync":
        return p.encode_sync(m["token"])
    if t == "fold":
        return p.encode_fold(m["handle"], m["count"], _double(m["sum"]), m["buckets"])
    if t == "client_stats":
        return p.encode_client_stats(m["dropped_ops"])
    if t == "welcome":
        return p.encode_welcome(m["max_frame_payload"], m["max_family_handle"],
                                m["max_series_handle"], m["version"])
    if t == "ack":
        return p.encode_ack(m["token"])
    if t == "error":
        return p.encode_error(p.ERROR_CODES[m["code"]], m["handle"], m["frame"], m["message"])
    raise AssertionError(f"unknown message type {t}")


def as_message(decoded):
    """A decoded daemon message in the vectors' JSON shape."""
    if isinstance(decoded, p.Welcome):
        return {"type": "welcome", **decoded._asdict()}
    if isinstance(decoded, p.Ack):
        return {"type": "ack", "token": decoded.token}
    if isinstance(decoded, p.Error):
        return {"type": "error", "code": decoded.code_name, "handle": decoded.handle,
                "frame": decoded.frame, "message": decoded.message}
    raise AssertionError(f"not a message: {decoded!r}")


def as_expect(decoded):
    """A decoder result in the invalid vectors' 'expect' shape."""
    if isinstance(decoded, p.DecodeError):
        return {"error": decoded.code, "fatal": decoded.fatal, "frame": decoded.frame,
                "handle": decoded.handle}
    return {"message": as_message(decoded)["type"]}


def splits(data):
    """The same bytes whole, split in two at every offset, and one byte at a time."""
    yield [data]
    for cut in range(1, len(data)):
        yield [data[:cut], data[cut:]]
    yield [data[i:i + 1] for i in range(len(data))]


def decode_all(pieces, max_frame_payload=p.MAX_FRAME_PAYLOAD):
    decoder = p.ClientDecoder(max_frame_payload)
    out = []
    for piece in pieces:
        out += decoder.feed(piece)
    return out


class VectorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = json.loads(VECTORS.read_text(encoding="utf-8"))

    def test_protocol_version(self):
        self.assertEqual(self.doc["protocol_version"], p.VERSION)

    def test_every_valid_vector_encodes_byte_exactly(self):
        self.assertGreater(len(self.doc["valid"]), 20)
        for vector in self.doc["valid"]:
            with self.subTest(vector["name"]):
                self.assertEqual(encode(vector["message"]).hex(), vector["hex"])

    def test_daemon_to_client_vectors_decode_however_split(self):
        vectors = [v for v in self.doc["valid"] if v["direction"] == "daemon_to_client"]
        self.assertEqual({v["message"]["type"] for v in vectors}, {"welcome", "ack", "error"})
        for vector in vectors:
            data = bytes.fromhex(vector["hex"])
            for pieces in splits(data):
                with self.subTest(vector["name"], pieces=len(pieces), first=len(pieces[0])):
                    decoded = decode_all(pieces)
                    self.assertEqual([as_message(d) for d in decoded], [vector["message"]])

    def test_client_role_invalid_vectors(self):
        vectors = [v for v in self.doc["invalid"] if v["role"] == "client"]
        self.assertTrue(vectors)
        for vector in vectors:
            data = bytes.fromhex(vector["hex"])
            for pieces in splits(data):
                with self.subTest(vector["name"], pieces=len(pieces), first=len(pieces[0])):
                    decoded = decode_all(pieces, self.doc["max_frame_payload"])
                    self.assertEqual([as_expect(d) for d in decoded], vector["expect"])

    def test_stream_errors_are_fatal_and_sticky(self):
        ack = p.encode_ack(1)
        bad_header = p.HEADER.pack(8, p.FRAME_ACK, 1) + bytes(8)
        decoder = p.ClientDecoder()
        out = decoder.feed(ack + bad_header + ack)
        self.assertEqual(out, [p.Ack(1), p.DecodeError("bad_frame_header", True, 1)])
        self.assertEqual(decoder.feed(ack), [])
        too_large = p.HEADER.pack(p.MAX_FRAME_PAYLOAD + 1, p.FRAME_ERROR, 0)
        self.assertEqual(p.ClientDecoder().feed(too_large),
                         [p.DecodeError("frame_too_large", True, 0)])

    def test_family_rules(self):
        """The Python copy of the family rules refuses what the daemon refuses, with its code."""
        vectors = self.doc["family_rules"]
        self.assertGreater(len(vectors), 50)
        for vector in vectors:
            d = vector["declaration"]
            with self.subTest(vector["name"]):
                try:
                    p.check_family(d["metric_type"], d["gauge_mode"], d["name"], d["help"],
                                   d["label_names"], d["buckets"])
                    got = None
                except p.RuleError as e:
                    got = e.code
                self.assertEqual(got, vector["error"])
                if got is None:  # what passes the rules also encodes
                    p.encode_declare_family(0, d["metric_type"], d["gauge_mode"], d["name"],
                                            d["help"], d["label_names"], d["buckets"])

    def test_family_rules_python_spellings(self):
        """What the vectors cannot spell: lone surrogates, and names float() alone would take."""
        with self.assertRaises(ValueError):
            p.check_help("\ud800")
        for text in ("1_000", " 1", "infinity", "1e-400", "\u0661"):
            with self.subTest(text), self.assertRaises(ValueError):
                p.check_buckets("histogram", [text])
        self.assertEqual(p.check_buckets("histogram", ["+3", ".5e1", "1E2"]), [3.0, 5.0, 100.0])

    def test_error_levels(self):
        self.assertTrue(p.Error(65, None, None, "").fatal)      # shutting_down
        self.assertFalse(p.Error(36, 0, 0, "").fatal)           # family_conflict
        self.assertEqual(p.Error(999, None, None, "").code_name, "error_999")


if __name__ == "__main__":
    unittest.main()
