#!/usr/bin/env python3
"""Renders the alert rule templates (rules/templates/*.yml.in) into Prometheus rule files.

Thresholds and durations are written in the templates as @name@ placeholders (the convention of
nixpkgs' substituteAll); rules/params.json gives each one a default, a kind and a description.
The rule files committed in rules/ are these templates rendered with the defaults; a test checks
that they stay in step.

  rules/render.py                          re-render rules/*.yml with the defaults
  rules/render.py --out DIR --set cpu_usage_percent=80 --params overrides.json
                                           render into DIR with some values changed

Standard library only. Exits non-zero, naming the problem, on an unknown parameter, a value that
is not of its kind, or a placeholder without a parameter.
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PLACEHOLDER = re.compile(r"@([a-z][a-z0-9_]*)@")

# What each kind of value may look like once substituted. Durations are Prometheus durations
# (`for:` fields); numbers go into PromQL comparisons; labels are label names or regexes.
KINDS = {
    "duration": re.compile(r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$"),
    "number": re.compile(r"^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"),
    "label_name": re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$"),
    # Goes inside a double-quoted PromQL string: no quote or backslash can break out of it.
    "regex": re.compile(r'^[^"\\\n]*$'),
}


class RenderError(Exception):
    pass


def load_params(path=os.path.join(HERE, "params.json")):
    with open(path) as f:
        params = json.load(f)
    for name, p in params.items():
        if p.get("kind") not in KINDS:
            raise RenderError(f"{path}: parameter {name}: unknown kind {p.get('kind')!r}")
        check_value(name, p, p["default"])
    return params


def check_value(name, param, value):
    value = str(value)
    if not KINDS[param["kind"]].match(value):
        raise RenderError(f"parameter {name}: {value!r} is not a {param['kind']}")
    return value


def values_with(params, overrides):
    values = {n: str(p["default"]) for n, p in params.items()}
    for name, value in overrides.items():
        if name not in params:
            raise RenderError(f"unknown parameter {name!r} (known: {', '.join(sorted(params))})")
        values[name] = check_value(name, params[name], value)
    return values


def templates(directory=os.path.join(HERE, "templates")):
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".yml.in"))


def render_text(text, values, source="template"):
    def sub(m):
        if m.group(1) not in values:
            raise RenderError(f"{source}: placeholder @{m.group(1)}@ has no parameter in params.json")
        return values[m.group(1)]

    return PLACEHOLDER.sub(sub, text)


def header(template_name):
    return (f"# Generated from rules/templates/{template_name} by rules/render.py with the defaults of\n"
            f"# rules/params.json. Edit the template, then run rules/render.py.\n")


def render_all(values, out_dir):
    written = []
    for t in templates():
        name = os.path.basename(t)
        with open(t) as f:
            text = render_text(f.read(), values, name)
        out = os.path.join(out_dir, name[: -len(".in")])
        with open(out, "w") as f:
            f.write(header(name) + text)
        written.append(out)
    return written


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=HERE, help="directory for the rendered *.yml (default: rules/)")
    ap.add_argument("--params", help="JSON object {name: value} of values to change")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--list", action="store_true", help="print the parameters and their defaults")
    args = ap.parse_args(argv)
    try:
        params = load_params()
        if args.list:
            for n, p in params.items():
                print(f"{n}\t{p['default']}\t{p['description']}")
            return 0
        overrides = {}
        if args.params:
            with open(args.params) as f:
                overrides.update(json.load(f))
        for s in args.set:
            if "=" not in s:
                raise RenderError(f"--set {s!r}: expected NAME=VALUE")
            k, v = s.split("=", 1)
            overrides[k] = v
        values = values_with(params, overrides)
        os.makedirs(args.out, exist_ok=True)
        for path in render_all(values, args.out):
            print(path)
        return 0
    except (RenderError, OSError, json.JSONDecodeError) as e:
        print(f"render.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
