"""How the tokenizer splits real and synthetic queries: pieces per word and byte-fallback
pieces per 1,000 characters, per JSONL rows file (the "query" field).

  /usr/bin/python3 train/tokstats.py models/tokenizer.model data/real/dev_slurp.jsonl data/synth_s6.jsonl
"""
import json
import sys

import sentencepiece as spm


def stats(sp, path, limit=5000):
    words = pieces = chars = byte_pieces = 0
    with open(path) as f:
        for i, line in enumerate(f):
            if i >= limit:
                break
            q = json.loads(line)["query"]
            ids = sp.encode(q)
            words += len(q.split())
            pieces += len(ids)
            chars += len(q)
            byte_pieces += sum(1 for t in ids if sp.is_byte(t))
    return words, pieces / max(words, 1), 1000 * byte_pieces / max(chars, 1)


def main():
    sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
    print("| rows file | words | pieces per word | byte pieces per 1k chars |")
    print("|---|---|---|---|")
    for path in sys.argv[2:]:
        w, ppw, bpk = stats(sp, path)
        print(f"| {path} | {w} | {ppw:.2f} | {bpk:.2f} |")


if __name__ == "__main__":
    main()
