"""Evaluating nixmon's NixOS modules from the tests: the real module system of nixpkgs' `lib`
(tests/nix/harness.nix on top of tests/nix/stubs.nix), run by the real `nix-instantiate`
(Debian's Nix 2.8).

nixpkgs' `lib` is not in this repository: NIXMON_NIXPKGS_LIB names its `lib` directory (the one
with default.nix, e.g. a checkout of nix-community/nixpkgs.lib plus `/lib`); without it, a
checkout next to this repository (../nixpkgs-lib/lib) is used when there is one. Tests that need
it skip, saying so, when neither exists.
"""
import json
import os
import subprocess

import harness as h

HARNESS = os.path.join(h.SOURCE_DIR, "tests", "nix", "harness.nix")


def nixpkgs_lib():
    """Path of nixpkgs' lib directory, or None."""
    candidates = [os.environ.get("NIXMON_NIXPKGS_LIB"),
                  os.path.join(h.SOURCE_DIR, "..", "nixpkgs-lib", "lib")]
    for c in candidates:
        if c and os.path.exists(os.path.join(c, "default.nix")):
            return os.path.abspath(c)
    return None


def require_lib(testcase):
    lib = nixpkgs_lib()
    if lib is None:
        testcase.skipTest("nixpkgs' lib not found: set NIXMON_NIXPKGS_LIB to the lib/ directory of a "
                          "nixpkgs or nix-community/nixpkgs.lib checkout (or put one at ../nixpkgs-lib)")
    return lib


def path(p):
    """A Nix path expression for an absolute path (no store copy is made when evaluating)."""
    return f"(/. + {json.dumps(os.path.abspath(p))})"


def string(s):
    return json.dumps(s).replace("${", "\\${")


class EvalError(Exception):
    pass


def nix_eval(expr, lib, env=None):
    """Evaluates `expr` with `h` bound to the harness (and `lib` to nixpkgs' lib); returns the
    JSON result. Raises EvalError with Nix's message when evaluation fails."""
    full = f"let h = import {path(HARNESS)} {{ nixpkgsLib = {path(lib)}; }}; lib = h.lib; in {expr}"
    r = subprocess.run([h.tool("nix-instantiate"), "--eval", "--strict", "--json", "-E", full],
                       capture_output=True, text=True, env=dict(_env(), **(env or {})))
    if r.returncode != 0:
        raise EvalError(r.stderr.strip())
    return json.loads(r.stdout)


def run(modules, lib):
    """Summary (see tests/nix/harness.nix) of a configuration made of `modules` (Nix text, each
    an attribute set or a module function)."""
    return nix_eval(f"h.run [ {' '.join(f'({m})' for m in modules)} ]", lib)


def _env():
    env = dict(os.environ)
    # Evaluation only: no channels, no user config, no network.
    env.pop("NIX_PATH", None)
    env["NIX_CONFIG"] = "experimental-features = nix-command"
    return env
