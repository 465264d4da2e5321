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


class FitRows(unittest.TestCase):
    """fit_rows against a word-count stand-in for the tokenizer."""

    class Words:
        def encode(self, s):
            return s.replace('"', " ").replace(",", " ").split()

    def tool(self, name, words):
        return {"name": name, "description": " ".join(["w"] * words), "parameters": {}}

    def setUp(self):
        self.length = train.PromptLength(self.Words())

    def row(self, n_tools, answer="t0"):
        return {"query": "q", "tools": [self.tool(f"t{i}", 10) for i in range(n_tools)],
                "answers": [{"name": answer, "arguments": {}}] if answer else []}

    def exact(self, r):
        return len(train.af.encoder_ids(self.Words(), r["query"], r["tools"], 0))

    def test_short_rows_are_kept_whole(self):
        r = self.row(3)
        out, trimmed, dropped = train.fit_rows([r], self.length, 200, random.Random(1))
        self.assertEqual((out, trimmed, dropped), ([r], 0, 0))

    def test_long_rows_lose_distractors_not_the_answer(self):
        r = self.row(20, answer="t7")
        out, trimmed, dropped = train.fit_rows([r], self.length, 80, random.Random(1))
        self.assertEqual((trimmed, dropped), (1, 0))
        names = [t["name"] for t in out[0]["tools"]]
        self.assertIn("t7", names)
        self.assertLess(len(names), 20)
        self.assertLessEqual(self.exact(out[0]), 80)
        self.assertEqual(len(r["tools"]), 20, "rows are not modified")
        # order of the tools that stay is kept
        self.assertEqual(names, sorted(names, key=lambda n: int(n[1:])))

    def test_no_call_rows_keep_one_tool(self):
        out, trimmed, dropped = train.fit_rows([self.row(20, answer=None)], self.length, 30, random.Random(1))
        self.assertEqual((trimmed, dropped), (1, 0))
        self.assertEqual(len(out[0]["tools"]), 1)

    def test_rows_whose_answer_tools_cannot_fit_are_left_out(self):
        r = self.row(2)
        r["tools"][0]["description"] = " ".join(["w"] * 100)
        out, trimmed, dropped = train.fit_rows([r], self.length, 50, random.Random(1))
        self.assertEqual((out, trimmed, dropped), ([], 0, 1))

    def test_estimate_is_close_to_the_whole_count(self):
        for n in (1, 4, 9):
            r = self.row(n)
            self.assertLessEqual(abs(self.length.estimate(r["query"], r["tools"]) - self.exact(r)), train.PromptLength.SLACK * (n + 1))


if __name__ == "__main__":
    unittest.main()
