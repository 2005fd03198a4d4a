#!/usr/bin/env python3
"""Writes docs/modules.md, the options reference of the NixOS modules under nix/modules, from the
modules themselves (evaluated with nixpkgs' lib, as the tests do).

    scripts/gen-module-docs.py           rewrite docs/modules.md
    scripts/gen-module-docs.py --check   exit 1 if docs/modules.md is not what the modules say

Needs nixpkgs' lib: NIXMON_NIXPKGS_LIB, or a checkout at ../nixpkgs-lib (see tests/e2e/nixeval.py).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "e2e"))
os.environ.setdefault("NIXMON_SOURCE_DIR", SOURCE)

import nixeval  # noqa: E402

OUTPUT = os.path.join(SOURCE, "docs", "modules.md")

# Each part of the reference: the module's file, or its folder (with "/") when it has one file
# per service; the options it documents; an introduction.
MODULES = [
    ("nixos-exporter.nix", "services.prometheus.exporters.nixos",
     "The nixos exporter. Drop-in for the archived Go exporter's module: its options keep their names, "
     "types and defaults."),
    ("nod.nix", "services.nod", "nod, Nix build and substitution statistics from Nix's json-log-path."),
    ("nixmon/", "services.nixmon",
     "The monitoring stack: one switch per host, role `server` or `client`."),
]

EXPR = """let
  r = h.eval [ ];
  docs = lib.optionAttrSetToDocList r.options;
  ours = lib.filter (o: o.visible or true && !(o.internal or false)
                        && lib.any (d: lib.hasInfix "/nix/modules/" (toString d)) o.declarations) docs;
in map (o: {
  inherit (o) name type readOnly;
  description = o.description or "";
  default = o.default or null;
  example = o.example or null;
  declarations = map toString o.declarations;
}) ours"""


def render_value(v):
    if v is None:
        return None
    if isinstance(v, dict) and v.get("_type") in ("literalExpression", "literalMD"):
        return v["text"] if v["_type"] == "literalMD" else f"`{v['text']}`" if "\n" not in v["text"] \
            else "\n\n```nix\n" + v["text"].strip() + "\n```\n"
    return f"`{json.dumps(v)}`"


def declared_in(declaration, module):
    """Whether an option declared at `declaration` (a file's path) belongs to `module`, a file or a
    folder of nix/modules."""
    where = "/nix/modules/" + module
    return where in declaration if module.endswith("/") else declaration.endswith(where)


def render(options):
    out = ["# NixOS module options", "",
           "Generated from `nix/modules/` by `scripts/gen-module-docs.py`; do not edit by hand.",
           "Import `nixosModules.default` of this repository's flake (all three), or one of",
           "`nixosModules.nixos-exporter`, `nixosModules.nod`, `nixosModules.nixmon`.", ""]
    for file, prefix, intro in MODULES:
        mine = [o for o in options if any(declared_in(d, file) for d in o["declarations"])
                and o["name"].startswith(prefix + ".")]
        out += [f"## `{prefix}`", "", intro, ""]
        for o in sorted(mine, key=lambda o: o["name"]):
            out += [f"### `{o['name']}`", ""]
            if o["description"]:
                out += [o["description"].strip(), ""]
            facts = [f"*Type:* {o['type']}"]
            d = render_value(o["default"])
            if d is not None:
                facts.append(f"*Default:* {d}")
            e = render_value(o["example"])
            if e is not None:
                facts.append(f"*Example:* {e}")
            if o["readOnly"]:
                facts.append("*Read-only*")
            out += ["  \n".join(facts), ""]
    return "\n".join(out).rstrip() + "\n"


def main():
    lib = nixeval.nixpkgs_lib()
    if lib is None:
        sys.exit("gen-module-docs: nixpkgs' lib not found (set NIXMON_NIXPKGS_LIB)")
    text = render(nixeval.nix_eval(EXPR, lib))
    if "--check" in sys.argv[1:]:
        with open(OUTPUT) as f:
            if f.read() != text:
                sys.exit("docs/modules.md is out of date: run scripts/gen-module-docs.py")
        return
    with open(OUTPUT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
