"""flake.nix and nix/package.nix, evaluated by Debian's real nix-instantiate with the real `lib` of
nixpkgs (NIXMON_NIXPKGS_LIB; see nixeval.py) and tests/nix/fake-nixpkgs in place of nixpkgs: its
callPackage is nixpkgs' own (lib.callPackageWith), its packages carry nixpkgs' real attribute
names, so the package is really called and an argument nixpkgs cannot supply fails here too.
Nothing is built: what the build gets is read from the attributes given to mkDerivation."""
import itertools
import json
import os
import unittest

import harness as h
import nixeval as n

SYSTEMS = ["aarch64-linux", "x86_64-linux"]
FAKE = n.path(os.path.join(h.SOURCE_DIR, "tests", "nix", "fake-nixpkgs"))
FLAKE = n.path(os.path.join(h.SOURCE_DIR, "flake.nix"))
PACKAGE = os.path.join(h.SOURCE_DIR, "nix", "package.nix")
MODULES = ["default", "nixmon", "nixos-exporter", "nod"]
# Both services on. The harness imports every module of nix/modules, whose default package is
# pkgs.nixmon; a flake module makes its services use the flake's own build instead, made with
# callPackage (tests/nix/stubs.nix's fake callPackage names it nixmon-flake).
BOTH_ON = "{ services.prometheus.exporters.nixos.enable = true; services.nod.enable = true; }"
FLAKE_BUILD = "/nix/store/00000000000000000000000000000000-nixmon-flake/bin/"
OVERLAY_BUILD = "/nix/store/00000000000000000000000000000000-nixmon-0.1.0/bin/"
# Which services each flake module gives the flake's build.
SERVICES = {"default": {"exporter", "nod"}, "nixmon": {"exporter", "nod"}, "nixos-exporter": {"exporter"},
            "nod": {"nod"}}


def build_for(modules, service):
    return FLAKE_BUILD if any(service in SERVICES[m] for m in modules) else OVERLAY_BUILD


class Base(unittest.TestCase):
    def setUp(self):
        self.lib = n.require_lib(self)

    def eval(self, expr):
        return n.nix_eval(expr, self.lib, env={"NIXMON_NIXPKGS_LIB": self.lib})

    def flake(self, query):
        """Evaluates `query` with `o` bound to the flake's outputs (revision abc1234) and `fake`
        to the stand-in nixpkgs."""
        return self.eval(f"""let
          fake = {FAKE};
          nixpkgs = {{ inherit lib; outPath = fake; }};
          o = (import {FLAKE}).outputs {{ self = o // {{ shortRev = "abc1234"; }}; inherit nixpkgs; }};
        in {query}""")

    def package(self, path=PACKAGE, pkgs_args="{ }", query="p"):
        """Evaluates `query` with `p` bound to what mkDerivation was given by the package at
        `path`, called by the stand-in nixpkgs' callPackage."""
        return self.eval(f"""let
          pkgs = import {FAKE} {pkgs_args};
          pkg = pkgs.callPackage {n.path(path)} {{ }};
          names = map (d: d.fakeAttr);
          p = pkg.drvAttrs;
        in {query}""")


class FlakeOutputs(Base):
    def test_every_output_evaluates(self):
        got = self.flake(f"""{{
          top = builtins.attrNames o;
          packages = lib.mapAttrs (_: lib.mapAttrs (_: p: {{ inherit (p) name; rev = p.args.revision;
                                                             file = baseNameOf p.fromFile; }})) o.packages;
          overlay = (import fake {{ overlays = [ o.overlays.default ]; }}).nixmon.name;
          modules = lib.mapAttrs (_: m:
            let c = (h.eval [ m {BOTH_ON} ]).config; in {{
              exporter = c.systemd.services.prometheus-nixos-exporter.serviceConfig.ExecStart;
              nod = c.systemd.services.nod.serviceConfig.ExecStart;
              failed = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
            }}) o.nixosModules;
          checks = lib.mapAttrs (_: lib.mapAttrs (_: c:
            if c ? isNixOSTest then {{ inherit (c) name testScript; nodes = builtins.attrNames c.nodes; }}
            else c.name)) o.checks;
          devShells = lib.mapAttrs (_: d: {{
            names = builtins.attrNames d;
            inputsFrom = map (x: x.name) d.default.shellAttrs.inputsFrom;
            packages = map (x: x.fakeAttr) d.default.shellAttrs.packages;
          }}) o.devShells;
        }}""")
        self.assertEqual(got["top"], ["checks", "devShells", "nixosModules", "overlays", "packages"])
        self.assertEqual(got["overlay"], "nixmon-0.1.0")
        for system in SYSTEMS:
            with self.subTest(system=system):
                # Built from nix/package.nix, with the flake's revision for nixos_exporter_build_info.
                self.assertEqual(got["packages"][system], {
                    name: {"name": "nixmon-0.1.0", "rev": "abc1234", "file": "package.nix"}
                    for name in ("default", "nixmon")})
                self.assertEqual(got["devShells"][system], {
                    "names": ["default"], "inputsFrom": ["nixmon-0.1.0"],
                    "packages": ["python3", "clang-tools", "gdb"]})
        self.assertEqual(got["checks"]["aarch64-linux"], {"package": "nixmon-0.1.0"})
        vm = got["checks"]["x86_64-linux"]
        self.assertEqual(vm["package"], "nixmon-0.1.0")
        self.assertEqual({k: (v["name"], v["nodes"]) for k, v in vm.items() if k != "package"}, {
            "vm-exporter-nod": ("nixmon-exporter-nod", ["machine"]),
            "vm-stack": ("nixmon-stack", ["client", "outsider", "server"])})
        for name in ("vm-exporter-nod", "vm-stack"):
            compile(vm[name]["testScript"], name, "exec")
        self.assertEqual(sorted(got["modules"]), MODULES)
        for name, units in got["modules"].items():
            with self.subTest(module=name):
                self.assertEqual(units["failed"], [])
                for unit in ("exporter", "nod"):
                    self.assertTrue(units[unit].startswith(build_for([name], unit)), units[unit])

    def test_every_combination_of_the_flakes_modules_imports_each_once(self):
        # Pairs in both orders (a module with itself included), and every set of three and four.
        combos = [list(c) for c in itertools.product(MODULES, repeat=2)]
        combos += [list(c) for k in (3, 4) for c in itertools.combinations(MODULES, k)]
        combos.append(list(reversed(MODULES)))
        listed = " ".join("[ " + " ".join(f"o.nixosModules.{m}" for m in c) + " ]" for c in combos)
        got = self.flake(f"""map (ms:
          let c = (h.eval (ms ++ [ {BOTH_ON} ])).config; in [
            c.systemd.services.prometheus-nixos-exporter.serviceConfig.ExecStart
            c.systemd.services.nod.serviceConfig.ExecStart
          ]) [ {listed} ]""")
        self.assertEqual(len(got), len(combos))
        for combo, (exporter, nod) in zip(combos, got):
            with self.subTest(modules=combo):
                self.assertTrue(exporter.startswith(build_for(combo, "exporter")), exporter)
                self.assertTrue(nod.startswith(build_for(combo, "nod")), nod)

    def test_a_package_given_by_the_admin_wins_over_the_flakes(self):
        got = self.flake("""let c = (h.eval [ o.nixosModules.default o.nixosModules.nod {
            services.nod = { enable = true; package = { type = "derivation"; name = "mine";
                                                        outPath = "/nix/store/33333333333333333333333333333333-mine"; }; };
          } ]).config; in c.systemd.services.nod.serviceConfig.ExecStart""")
        self.assertTrue(got.startswith("/nix/store/33333333333333333333333333333333-mine/bin/nod "), got)


class Package(Base):
    def test_inputs_are_nixpkgs_attributes(self):
        got = self.package(query="""{
          native = names p.nativeBuildInputs;
          build = names p.buildInputs;
          check = names p.checkInputs;
          nativeCheck = names p.nativeCheckInputs;
          inherit (p) strictDeps doCheck cmakeFlags checkPhase;
          preConfigure = p.preConfigure or null;
          license = p.meta.license.spdxId;
        }""")
        self.assertEqual(got["native"], ["cmake", "ninja", "pkg-config"])
        self.assertEqual(got["build"], ["fmt", "cli11", "sqlite", "simdjson", "libnats-c", "httplib", "openssl",
                                        "zlib", "brotli", "libyaml", "libxcrypt"])
        self.assertEqual(got["check"], ["gtest"])
        self.assertEqual(got["nativeCheck"], [])
        # CMake finds httplib.h and its libraries itself: no hand-written cpp-httplib.pc.
        self.assertIsNone(got["preConfigure"])
        self.assertTrue(got["strictDeps"])
        self.assertTrue(got["doCheck"])
        self.assertEqual(got["cmakeFlags"], ["-DNIXMON_TESTS:BOOL=TRUE", "-DNIXMON_BENCH:BOOL=FALSE"])
        # Nix's build sandbox runs the unit and golden tests, not the end-to-end ones.
        self.assertIn("ctest --output-on-failure -j $NIX_BUILD_CORES --exclude-regex '^e2e[.]'", got["checkPhase"])
        self.assertEqual(got["license"], "MIT")

    def test_end_to_end_tests_when_asked(self):
        got = self.package(query="""let q = (pkg.override { withEndToEndTests = true; }).drvAttrs; in {
          nativeCheck = names q.nativeCheckInputs;
          inherit (q) checkPhase;
        }""")
        self.assertEqual(got["nativeCheck"], ["python3", "nix", "prometheus"])
        self.assertNotIn("e2e", got["checkPhase"])

    def test_tests_are_built_only_when_they_can_run(self):
        # Cross compiling, stdenv skips the check phase and leaves gtest out; the test suite is
        # then not configured either.
        got = self.package(pkgs_args='{ system = "x86_64-linux"; crossSystem = "aarch64-linux"; }',
                           query="{ inherit (p) doCheck cmakeFlags; }")
        self.assertEqual(got, {"doCheck": False,
                               "cmakeFlags": ["-DNIXMON_TESTS:BOOL=FALSE", "-DNIXMON_BENCH:BOOL=FALSE"]})

    def test_every_argument_is_supplied_by_nixpkgs(self):
        # Only `revision` and `withEndToEndTests` have defaults: a default would hide an attribute
        # nixpkgs does not have.
        got = self.eval(f"""let args = builtins.functionArgs (import {n.path(PACKAGE)}); in
          builtins.attrNames (lib.filterAttrs (_: hasDefault: hasDefault) args)""")
        self.assertEqual(got, ["revision", "withEndToEndTests"])

    def test_an_argument_nixpkgs_does_not_have_fails(self):
        with h.TempDir() as tmp:
            os.makedirs(os.path.join(tmp, "nix"))
            with open(PACKAGE) as f:
                text = f.read()
            good = os.path.join(tmp, "nix", "package.nix")
            with open(good, "w") as f:
                f.write(text)
            self.assertEqual(self.package(path=good, query="p.pname"), "nixmon")
            # The name the NATS C client does not have in nixpkgs.
            bad = os.path.join(tmp, "nix", "bad.nix")
            wrong = text.replace("  libnats-c,\n", "  cnats,\n").replace("    libnats-c\n", "    cnats\n")
            self.assertNotEqual(wrong, text)
            with open(bad, "w") as f:
                f.write(wrong)
            with self.assertRaises(n.EvalError) as e:
                self.package(path=bad, query="p.pname")
            self.assertIn('without required argument "cnats"', str(e.exception))

    def test_source_is_what_the_build_reads(self):
        # Editing a module or the flake must not rebuild the binaries; build trees stay out.
        root = json.dumps(h.SOURCE_DIR)
        got = self.package(query=f"""map (rel: pkg.src.filter ({root} + "/" + rel) "regular") [
          "CMakeLists.txt" "src/nod/main.cc" "tests/CMakeLists.txt" "rules/nixos.yml"
          "flake.nix" "flake.lock" "nix/package.nix" "build/CMakeCache.txt" "build-asan/x" "result"
        ]""")
        self.assertEqual(got, [True, True, True, True, False, False, False, False, False, False])


class License(unittest.TestCase):
    def test_mit_license_at_the_root(self):
        with open(os.path.join(h.SOURCE_DIR, "LICENSE")) as f:
            text = f.read()
        self.assertTrue(text.startswith("MIT License\n\nCopyright (c) 2026 the nixmon authors\n"), text[:80])
        self.assertIn('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND', text)


if __name__ == "__main__":
    unittest.main()
