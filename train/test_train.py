"""Unit checks of train.py's pure helpers (make test-python)."""
import random
import unittest

import train


class PermuteParams(unittest.TestCase):
    ROW = {"query": "q",
           "tools": [{"name": "a", "parameters": {"x": {}, "y": {}, "z": {}}},
                     {"name": "b", "parameters": {"u": {}}}],
           "answers": [{"name": "a", "arguments": {"x": 1, "z": 3}}]}

    def test_arguments_follow_the_new_order(self):
        rng, seen = random.Random(1), set()
        for _ in range(50):
            r = train.permute_params(self.ROW, rng, 1.0)
            keys = list(r["tools"][0]["parameters"])
            self.assertEqual(sorted(keys), ["x", "y", "z"])
            args = list(r["answers"][0]["arguments"])
            self.assertEqual(args, [k for k in keys if k in ("x", "z")])
            self.assertEqual(r["answers"][0]["arguments"], {"x": 1, "z": 3})
            seen.add(tuple(keys))
        self.assertEqual(len(seen), 6, "every order of three parameters should come up")

    def test_rows_are_not_modified(self):
        before = repr(self.ROW)
        train.permute_params(self.ROW, random.Random(2), 1.0)
        self.assertEqual(repr(self.ROW), before)

    def test_share(self):
        rng = random.Random(3)
        self.assertIs(train.permute_params(self.ROW, rng, 0.0), self.ROW)
        kept = sum(train.permute_params(self.ROW, rng, 0.5) is self.ROW for _ in range(2000))
        self.assertTrue(900 < kept < 1100, kept)


if __name__ == "__main__":
    unittest.main()
