"""Render tools the way training does (json.dumps, compact, ensure_ascii) for the Go test.

  /usr/bin/python3 train/tools_render.py internal/toolspec/testdata/tools.json > internal/toolspec/testdata/tools.golden
"""
import json
import sys

tools = json.load(open(sys.argv[1]))
sys.stdout.write(json.dumps(tools, separators=(",", ":")) + "\n")
