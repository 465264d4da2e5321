#!/usr/bin/env python3
"""The Braun et al. (2017) chatbot corpus (Munich public transport, CC BY-SA 3.0; Braun,
Hernandez-Mendez, Matthes, Langen, SIGdial 2017) as a `needle finetune` toolset: two tools
from its two intents, its 100 training sentences as examples and its 106 test sentences as
the test file. No stage of the base model trained on it, so it is a toolset of other tools in
other people's words.

  python3 scripts/braun_examples.py ../shared/datasets/braun-chatbot OUT_DIR
  # -> OUT_DIR/tools.json, train.jsonl, test.jsonl; then
  needle finetune --tools OUT_DIR/tools.json --examples OUT_DIR/train.jsonl --test OUT_DIR/test.jsonl --out DIR

Entity spans become argument values copied verbatim from the sentence; a sentence that names
one entity type twice is left out (a call has one value per parameter). Derived files are
CC BY-SA 3.0 like the corpus: keep the attribution above if you share them.
"""
import json
import os
import sys

TOOLS = [
    {"name": "find_connection", "description": "Find a public transport connection from one place to another in Munich.",
     "parameters": {
         "from": {"type": "string", "description": "Where the trip starts: a station or an address, as written."},
         "to": {"type": "string", "description": "Where the trip ends: a station or an address, as written."},
         "vehicle": {"type": "string", "description": "Kind of vehicle (e.g. train, u-bahn, bus, tram), as written."},
         "criterion": {"type": "string", "description": "Which connection (e.g. next, fastest, cheapest), as written."},
         "departure_time": {"type": "string", "description": "When to leave, as written (e.g. at 5 pm)."},
         "arrival_time": {"type": "string", "description": "When to arrive, as written."}}},
    {"name": "departure_time", "description": "Tell when the next public transport leaves from a station in Munich.",
     "parameters": {
         "station": {"type": "string", "description": "The station it leaves from, as written."},
         "vehicle": {"type": "string", "description": "Kind of vehicle (e.g. train, u-bahn, bus, tram), as written."},
         "criterion": {"type": "string", "description": "Which departure (e.g. next, last), as written."},
         "line": {"type": "string", "description": "The line (e.g. U6, S1), as written."}}},
]
INTENT = {"FindConnection": "find_connection", "DepartureTime": "departure_time"}
PARAM = {
    "find_connection": {"StationStart": "from", "StationDest": "to", "Vehicle": "vehicle", "Criterion": "criterion",
                        "TimeStartTime": "departure_time", "TimeEndTime": "arrival_time"},
    "departure_time": {"StationStart": "station", "Vehicle": "vehicle", "Criterion": "criterion", "Line": "line"},
}


def main():
    src, out = sys.argv[1], sys.argv[2]
    corpus = json.load(open(os.path.join(src, "ChatbotCorpus.json"), encoding="utf-8"))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tools.json"), "w", encoding="utf-8") as f:
        json.dump(TOOLS, f, indent=1, ensure_ascii=False)
    files = {True: open(os.path.join(out, "train.jsonl"), "w", encoding="utf-8"),
             False: open(os.path.join(out, "test.jsonl"), "w", encoding="utf-8")}
    kept, skipped = {True: 0, False: 0}, 0
    for s in corpus["sentences"]:
        tool = INTENT[s["intent"]]
        args, ok = {}, True
        for e in s["entities"]:
            p = PARAM[tool].get(e["entity"])
            if p is None or p in args or e["text"].lower() not in s["text"].lower():
                ok = False
                break
            args[p] = e["text"]
        if not ok:
            skipped += 1
            continue
        files[s["training"]].write(json.dumps({"query": s["text"], "answers": [{"name": tool, "arguments": args}]}, ensure_ascii=False) + "\n")
        kept[s["training"]] += 1
    for f in files.values():
        f.close()
    print(f"{kept[True]} training and {kept[False]} test examples, {skipped} left out -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
