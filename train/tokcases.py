"""Write tokenizer compatibility cases: varied text lines and the ids that Python's
SentencePiece gives for them, one gzipped JSONL file per model.

  /usr/bin/python3 train/tokcases.py MODEL OUT.jsonl.gz [--lines 3000]
"""
import argparse
import gzip
import json
import random

import sentencepiece as spm

WORDS = ("set a timer for five minutes remind me to call mom at half past six what's the weather "
         "in San Francisco tomorrow send message to Alice saying I'll be late turn off the lights "
         "play jazz playlist navigate to the nearest gas station book a table for two at 7pm "
         "convert 100 USD to EUR translate hello into Spanish um actually make that ten").split()
UNI = ["café", "naïve", "Zürich", "東京", "北京市", "Привет", "مرحبا", "😀", "🚗💨", "ß", "Ωmega",
       "ñandú", "日本語のテキスト", "\u00a0", "e\u0301", "한국어", "ǅ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]
JSON = ['{"name":"get_weather","arguments":{"location":"Paris"}}', '[{"a":1,"b":[true,false,null]}]',
        '{"x": -3.25e-4, "y": "tab\\there"}', '<tools>[{"name":"set_timer"}]', '<tool_call>[]',
        '"\\u00e9\\n"', '{"duration_minutes":15,"label":"pasta"}']


def line(r):
    kind = r.randrange(6)
    parts = []
    for _ in range(r.randint(1, 14)):
        c = r.random()
        if c < 0.55:
            parts.append(r.choice(WORDS))
        elif c < 0.7:
            parts.append(str(r.randint(-5000, 10 ** r.randint(1, 9))))
        elif c < 0.8:
            parts.append(r.choice(UNI))
        elif c < 0.88:
            parts.append(r.choice(JSON))
        else:
            parts.append("".join(chr(r.randint(33, 126)) for _ in range(r.randint(1, 6))))
    seps = [" "] * 8 + ["  ", "   ", "\t", " \t ", "\n", ""]
    s = parts[0]
    for p in parts[1:]:
        s += r.choice(seps) + p
    if kind == 0:
        s = " " * r.randint(1, 3) + s
    elif kind == 1:
        s = s + " " * r.randint(1, 3)
    elif kind == 2:
        s = s.upper()
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--lines", type=int, default=3000)
    a = ap.parse_args()
    sp = spm.SentencePieceProcessor(model_file=a.model)
    r = random.Random(7)
    lines = ["", " ", "   ", "a", "\t", "  two  spaces  ", "\u2581already escaped"] + [line(r) for _ in range(a.lines)]
    with gzip.GzipFile(a.out, "wb", mtime=0) as f:
        for s in lines:
            f.write((json.dumps({"text": s, "ids": sp.encode(s)}) + "\n").encode())


if __name__ == "__main__":
    main()
