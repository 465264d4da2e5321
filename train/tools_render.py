"""Render tools the way training does (json.dumps, compact, ensure_ascii) for the Go test.

  /usr/bin/python3 train/tools_render.py internal/toolspec/testdata/tools.json > internal/toolspec/testdata/tools.golden

Tools are Needle's flat form (NEEDLE-SPEC.md), extended for nested structure: a parameter is
a dict of type (a name or a list of names), description, enum, items (a parameter dict),
properties (name -> parameter dict, each with "required": true where required), anyOf or
oneOf (a list of parameter dicts), minimum, maximum, minLength, maxLength, minItems,
maxItems, format and required. render() writes every dict's keys in that canonical order
(internal/toolspec.AppendJSON writes the same order), leaves out an empty description, and
json.dumps the result.
"""
import json
import sys

PARAM_KEYS = ("type", "description", "enum", "items", "properties", "anyOf", "oneOf", "minimum", "maximum",
              "minLength", "maxLength", "minItems", "maxItems", "format", "required")


def render_param(p):
    out = {}
    for k in PARAM_KEYS:
        if k not in p:
            continue
        v = p[k]
        if k == "description" and v == "":
            continue
        if k in ("minLength", "minItems") and v == 0:
            continue
        if k == "required" and v is not True:
            continue
        if k == "items":
            v = render_param(v)
        elif k == "properties":
            v = {name: render_param(q) for name, q in v.items()}
        elif k in ("anyOf", "oneOf"):
            v = [render_param(q) for q in v]
        out[k] = v
    out.setdefault("type", "any")
    return {"type": out.pop("type"), **out}


def render_tool(t):
    return {"name": t["name"], "description": t.get("description", ""),
            "parameters": {name: render_param(p) for name, p in (t.get("parameters") or {}).items()}}


def render(tools):
    return json.dumps([render_tool(t) for t in tools], separators=(",", ":"))


if __name__ == "__main__":
    sys.stdout.write(render(json.load(open(sys.argv[1]))) + "\n")
