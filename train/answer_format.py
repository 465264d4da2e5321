"""Copy-consistent token format of Needle's inputs and answers (the one place it is defined;
internal/needle/route.go and grammar.go mirror it, internal/needle/format_test.go checks the
two agree on the fixture written by `python3 train/answer_format.py --fixture`).

Why: SentencePiece marks a word that follows a space with a leading "▁". A word in the
transcript ("forecast for lisbon") carries that marker, but the same word right after a JSON
quote in the answer ('"location":"lisbon"') does not, so it gets other ids and is often split
differently ('▁li s b on' vs 'lis b on'): the model cannot learn to copy. So:

  * the encoder input is  sp(" " + query) + [<tools>] + sp(tools JSON)  (the query's first
    word gets the marker as every other word does);
  * every JSON string *value* inside a call's arguments (at any depth, not object keys, not
    the tool name) is tokenized as if preceded by one space: '"' + sp(" " + escaped) + '"';
    the decoder drops exactly that one space, so a value that itself starts with a space or
    with no letter at all (a code, a number-string, "") still round-trips exactly.

Everything else in the answer is tokenized segment by segment as before (tool names and keys
as they appear in the tools JSON, structure as literal JSON).
"""
import json

ROLE_W = {"struct": 1.0, "name": 2.0, "key": 1.5, "value": 4.0}


def dumps(x):
    return json.dumps(x, separators=(",", ":"))


def esc(s):
    """JSON-escape s without the quotes (json.dumps escaping, non-ASCII kept as is)."""
    return json.dumps(s, ensure_ascii=False)[1:-1]


def value_runs(v):
    """A JSON value as runs (text, is_string_content). Contents are the escaped text of a
    string value without its quotes; everything else is literal JSON."""
    out = []

    def add(text, content=False):
        if not content and out and not out[-1][1]:
            out[-1] = (out[-1][0] + text, False)
        else:
            out.append((text, content))

    def walk(x):
        if isinstance(x, str):
            add('"')
            add(esc(x), True)
            add('"')
        elif isinstance(x, list):
            add("[")
            for i, y in enumerate(x):
                if i:
                    add(",")
                walk(y)
            add("]")
        elif isinstance(x, dict):
            add("{")
            for i, (k, y) in enumerate(x.items()):
                add(("," if i else "") + '"' + esc(k) + '":')
                walk(y)
            add("}")
        else:
            add(dumps(x))

    walk(v)
    return out


def answer_segments(answers):
    """The answer JSON as segments (text, role, is_string_content)."""
    if not answers:
        return [("[]", "struct", False)]
    segs = []
    pre = "["
    for a in answers:
        segs.append((pre + '{"name":"', "struct", False))
        segs.append((esc(a["name"]), "name", False))
        args = a.get("arguments") or {}
        if not args:
            segs.append(('","arguments":{}}', "struct", False))
        else:
            sep = '","arguments":{"'
            for k, v in args.items():
                segs.append((sep, "struct", False))
                segs.append((esc(k), "key", False))
                runs = value_runs(v)
                if isinstance(v, str):
                    # '":"' is one structural run; the content and closing quote are the value.
                    segs.append(('":"', "struct", False))
                    runs = runs[1:]
                else:
                    segs.append(('":', "struct", False))
                for text, content in runs:
                    segs.append((text, "value", content))
                sep = ',"'
            segs.append(("}}", "struct", False))
        pre = ","
    segs.append(("]", "struct", False))
    return segs


def encode_segments(sp, segs):
    """Token ids and per-token role weights of segments."""
    ids, w = [], []
    for text, role, content in segs:
        t = sp.encode(" " + text) if content else sp.encode(text)
        ids += t
        w += [ROLE_W[role]] * len(t)
    return ids, w


def encode_query(sp, query):
    return sp.encode(" " + query)


def encoder_ids(sp, query, tools, tools_token):
    return encode_query(sp, query) + [tools_token] + sp.encode(dumps(tools))


def answer_ids(sp, answers):
    return encode_segments(sp, answer_segments(answers))


def drop_value_spaces(text):
    """Inverse of the value convention on decoded answer text: drops the one space that
    starts every string value inside a call's arguments. Text that is not well-formed is
    returned with the spaces it could place dropped (parsing then decides)."""
    out = []
    stack = []  # container kinds: "[" or "{"; for "{": whether the next string is a key
    expect_key = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            is_key = bool(stack) and stack[-1] == "{" and expect_key[-1]
            # Depth 3 = inside the arguments object of a call in the top-level list.
            in_args = len(stack) >= 3
            j = i + 1
            out.append('"')
            if in_args and not is_key and j < n and text[j] == " ":
                j += 1
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    out.append(text[j:j + 2])
                    j += 2
                    continue
                out.append(text[j])
                j += 1
            out.append('"')
            i = j + 1
            if is_key:
                expect_key[-1] = False
            continue
        if c in "[{":
            stack.append(c)
            expect_key.append(c == "{")
        elif c in "]}":
            if stack:
                stack.pop()
                expect_key.pop()
        elif c == "," and stack and stack[-1] == "{":
            expect_key[-1] = True
        out.append(c)
        i += 1
    return "".join(out)


def decode_answer(sp, ids):
    return drop_value_spaces(sp.decode(ids))


def _fixture(out_path, tokenizer, rows_path, n):
    """Parity fixture for the Go side: encoder ids and answer ids of rows, plus edge cases."""
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=tokenizer)
    cases = []
    rows = []
    if rows_path:
        with open(rows_path) as f:
            for line in f:
                rows.append(json.loads(line))
                if len(rows) >= n:
                    break
    edge_tools = [{"name": "f", "description": "edge cases", "parameters": {
        "s": {"type": "string"}, "a": {"type": "array", "items": {"type": "string"}},
        "o": {"type": "object"}, "n": {"type": "number"}}}]
    for args in ({"s": ""}, {"s": " leading space"}, {"s": "ABC-123"}, {"s": "42"},
                 {"s": 'say "hi"\\n'}, {"s": "Zürich café 東京"}, {"s": "  two"},
                 {"a": ["x", " y", ""], "n": -1.5}, {"o": {"k": "v", "n": [1, "two", {"z": " q"}]}},
                 {"s": "lisbon", "n": 3}):
        rows.append({"query": "edge " + json.dumps(args), "tools": edge_tools,
                     "answers": [{"name": "f", "arguments": args}]})
    rows.append({"query": "nothing to do", "tools": edge_tools, "answers": []})
    for r in rows:
        from needle_model import TOOLS
        ids, _ = answer_ids(sp, r["answers"])
        text = decode_answer(sp, ids)
        assert json.loads(text) == r["answers"], (text, r["answers"])
        cases.append({"query": r["query"], "tools": r["tools"], "answers": r["answers"],
                      "enc": encoder_ids(sp, r["query"], r["tools"], TOOLS), "dec": ids,
                      "json": json.dumps(r["answers"], separators=(",", ":"), ensure_ascii=False)})
    with open(out_path, "w") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases -> {out_path}")


def _check(path, tokenizer):
    """Recomputes every case of an existing fixture with this file and SentencePiece."""
    import sentencepiece as spm
    from needle_model import TOOLS
    sp = spm.SentencePieceProcessor(model_file=tokenizer)
    n = 0
    with open(path) as f:
        for line in f:
            c = json.loads(line)
            ids, _ = answer_ids(sp, c["answers"])
            assert ids == c["dec"], f"answer ids differ for {c['query']!r}"
            assert encoder_ids(sp, c["query"], c["tools"], TOOLS) == c["enc"], f"encoder ids differ for {c['query']!r}"
            assert json.loads(decode_answer(sp, ids)) == c["answers"]
            n += 1
    print(f"format fixture: {n} cases current")


if __name__ == "__main__":
    import argparse
    import os
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--check", action="store_true", help="recompute an existing fixture instead of writing one")
    ap.add_argument("--tokenizer", default="models/tokenizer.model")
    ap.add_argument("--rows", default="")
    ap.add_argument("-n", type=int, default=60)
    a = ap.parse_args()
    if a.check:
        _check(a.fixture, a.tokenizer)
    else:
        _fixture(a.fixture, a.tokenizer, a.rows, a.n)
