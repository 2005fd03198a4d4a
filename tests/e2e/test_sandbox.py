"""nix/package.nix's checkPhase, run in a sandbox as bare as the one Nix builds nixmon in.

Users build nixmon from its flake, and the checkPhase runs the unit, golden and fuzz-replay tests
inside Nix's build sandbox. That sandbox has /bin/sh and nothing else outside the store paths of
the declared inputs: no /usr/bin, no /bin/echo, no nix-store, no network, HOME=/homeless-shelter
(not writable), TMPDIR a fresh build directory, and the build runs as uid 1000 (nixbld). Its PATH
is made by stdenv's setup.sh (nixpkgs, pkgs/stdenv/generic/setup.sh): `$i/bin` for every package
of `initialPath` (pkgs/stdenv/generic/common-path.nix: coreutils, findutils, diffutils, gnused,
gnugrep, gawk, gnutar, gzip, bzip2, gnumake, bash, patch, xz, file), then, in activatePackage,
`$pkg/bin` of the nativeBuildInputs and nativeCheckInputs (and of every input when strictDeps is
off).

Here bubblewrap (Debian's `bubblewrap`) builds that sandbox from Debian's files:
- /bin holds only a static sh (busybox-static, as Nix's sandbox-paths default), else Debian's sh;
- /usr/lib, /usr/lib64 (and /lib, /lib64 as links) read-only stand in for the inputs' store
  paths: the shared libraries of the test binaries, cmake's modules, python's standard library;
- PATH is one directory holding just the declared tools, each bound from its Debian package;
  stdenv's compiler wrapper is left out (no test needs a compiler), which is only stricter;
- /etc holds only the passwd, group and hosts files Nix writes into its sandbox, and /tmp is an
  empty directory anyone may write to, as Nix makes it ("many builders need this");
- the network, PIDs, IPC and hostname are unshared (loopback only, hostname localhost), and the
  checkPhase runs as uid 1000, gid 100 with no capabilities;
- the source tree is read-only, the build directory read-write (its Testing/ is private, so this
  ctest and the one running this test keep separate logs).

The checkPhase and the inputs are read from nix/package.nix itself, evaluated by real Nix with
nixpkgs' lib (NIXMON_NIXPKGS_LIB or ../nixpkgs-lib/lib; else a few stand-in functions), so the
command tested here is the one the package runs.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import unittest

import harness as h
import nixeval

PACKAGE = os.path.join(h.SOURCE_DIR, "nix", "package.nix")

# pkgs/stdenv/generic/common-path.nix: nixpkgs attribute -> the Debian package with its programs.
COMMON_PATH = {
    "coreutils": "coreutils", "findutils": "findutils", "diffutils": "diffutils",
    "gnused": "sed", "gnugrep": "grep", "gawk": "gawk", "gnutar": "tar", "gzip": "gzip",
    "bzip2": "bzip2", "gnumake": "make", "bash": "bash", "patch": "patch", "xz": "xz-utils",
    "file": "file",
}
# When a package is not installed here, the programs that stand in for it (from PATH).
STAND_INS = {"gawk": ["awk", "gawk"]}

# The programs each input of nix/package.nix puts on PATH (its bin/ in nixpkgs). An input missing
# here fails the test: say which programs it brings.
PROGRAMS = {
    "cmake": ["cmake", "ctest", "cpack"],
    "ninja": ["ninja"],
    "pkg-config": ["pkg-config"],
    "python3": ["python3"],
    "nix": ["nix", "nix-build", "nix-channel", "nix-collect-garbage", "nix-copy-closure",
            "nix-daemon", "nix-env", "nix-hash", "nix-instantiate", "nix-prefetch-url",
            "nix-shell", "nix-store"],
    "prometheus": ["prometheus", "promtool"],
    "sqlite": ["sqlite3"],
    "openssl": ["openssl"],
    "gbenchmark": [],
    **{lib: [] for lib in ("fmt", "cli11", "simdjson", "cnats", "libnats-c", "httplib", "zlib",
                           "brotli", "libyaml", "libxcrypt", "gtest")},
}

# The files Nix writes into every sandbox's /etc (libstore's build code).
ETC = {
    "passwd": "root:x:0:0:Nix build user:/build:/noshell\n"
              "nixbld:x:1000:100:Nix build user:/build:/noshell\n"
              "nobody:x:65534:65534:Nobody:/:/noshell\n",
    "group": "root:x:0:\nnixbld:!:100:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost\n::1 localhost\n",
}

# Evaluates package.nix the way callPackage calls it: every argument without a default is a fake
# package (its pname is the argument's name), arguments with defaults keep them.
EVAL = r"""
lib:
let
  f = import PACKAGE;
  fake = name: {
    type = "derivation";
    inherit name;
    pname = name;
    version = "0";
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  formals = builtins.functionArgs f;
  args = builtins.listToAttrs (map (n: { name = n; value = fake n; })
    (builtins.filter (n: !formals.${n}) (builtins.attrNames formals)));
  stdenv = {
    buildPlatform.canExecute = _: true;
    hostPlatform = { };
    mkDerivation = a: if builtins.isFunction a then lib.fix a else a;
  };
  drv = f (args // { inherit lib stdenv; });
  names = attr: map (p: p.pname) (drv.${attr} or [ ]);
in {
  checkPhase = drv.checkPhase;
  doCheck = drv.doCheck or false;
  strictDeps = drv.strictDeps or false;
  nativeBuildInputs = names "nativeBuildInputs";
  nativeCheckInputs = names "nativeCheckInputs";
  buildInputs = names "buildInputs";
  checkInputs = names "checkInputs";
}
"""

# Without nixpkgs' lib: the functions package.nix's check attributes use. Anything else fails the
# evaluation with Nix's "attribute missing" naming it.
STAND_IN_LIB = r"""{
  fix = f: let x = f x; in x;
  optional = c: x: if c then [ x ] else [ ];
  optionals = c: l: if c then l else [ ];
  optionalString = c: s: if c then s else "";
}"""


def evaluate_package():
    lib = nixeval.nixpkgs_lib()
    lib_expr = f"(import {nixeval.path(lib)})" if lib else STAND_IN_LIB
    expr = "(" + EVAL.replace("PACKAGE", nixeval.path(PACKAGE)) + ") " + lib_expr
    r = subprocess.run([h.tool("nix-instantiate"), "--eval", "--strict", "--json", "-E", expr],
                       capture_output=True, text=True, env=nixeval._env())
    if r.returncode != 0:
        hint = "" if lib else " (evaluated without nixpkgs' lib: set NIXMON_NIXPKGS_LIB)"
        raise AssertionError(f"cannot evaluate nix/package.nix{hint}:\n{r.stderr}")
    return json.loads(r.stdout)


def is_static(path):
    """True for an ELF executable without a program interpreter (PT_INTERP)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only; anything else counts as dynamic
            return False
        phoff, = struct.unpack_from("<Q", head, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            if struct.unpack("<I", f.read(4))[0] == 3:  # PT_INTERP
                return False
    return True


def debian_programs(package):
    """{name: path} of the programs a Debian package installs, or None when it is not installed."""
    r = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    out = {}
    for line in r.stdout.splitlines():
        if re.match(r"^(/usr)?/s?bin/[^/]+$", line) and os.path.isfile(line):
            out.setdefault(os.path.basename(line), os.path.realpath(line))
    return out


def library_dirs_outside_usr(build_dir):
    """Directories of the shared libraries the test programs load from outside /usr and /lib."""
    dirs = set()
    tests = os.path.join(build_dir, "tests")
    for name in sorted(os.listdir(tests)) if os.path.isdir(tests) else []:
        path = os.path.join(tests, name)
        if not (name.endswith("_tests") and os.access(path, os.X_OK)):
            continue
        out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.search(r"=> (/\S+) ", line)
            if m and not m.group(1).startswith(("/usr/", "/lib/", "/lib64/")):
                dirs.add(os.path.dirname(os.path.realpath(m.group(1))))
    return sorted(dirs)


class Sandbox:
    """The bwrap command line of a Nix-like build sandbox, and what it is made of."""

    def __init__(self, package, tmp):
        self.notes = []
        self.tools = {}  # program name -> host file bound into /tools/bin
        for attr, deb in COMMON_PATH.items():
            progs = debian_programs(deb)
            if progs is None:
                progs = {p: shutil.which(p) for p in STAND_INS.get(attr, []) if shutil.which(p)}
                self.notes.append(f"{attr}: Debian's {deb} is not installed; stand-ins: "
                                  f"{', '.join(sorted(progs)) or 'none'}")
            self.tools.update(progs)
        check = package["doCheck"]
        on_path = package["nativeBuildInputs"] + (package["nativeCheckInputs"] if check else [])
        if not package["strictDeps"]:
            on_path += package["buildInputs"] + (package["checkInputs"] if check else [])
        unknown = sorted(set(on_path) - set(PROGRAMS))
        if unknown:
            raise AssertionError(f"nix/package.nix declares {unknown}: add the programs they put "
                                 "on PATH to PROGRAMS in tests/e2e/test_sandbox.py")
        for name in on_path:
            for prog in PROGRAMS[name]:
                found = h.tool(prog)
                self.tools[prog] = os.path.realpath(found)
        self.declared = sorted(set(on_path))

        busybox = "/bin/busybox"
        self.sh = busybox if os.path.exists(busybox) and is_static(busybox) else "/bin/sh"
        self.tmp = tmp
        etc = os.path.join(tmp, "etc")
        os.makedirs(etc)
        for name, text in ETC.items():
            with open(os.path.join(etc, name), "w") as f:
                f.write(text)
        self.etc = etc

    def argv(self, build_dir, command):
        build_top = tempfile.mkdtemp(dir=self.tmp)  # Nix's NIX_BUILD_TOP and TMPDIR, fresh
        a = ["bwrap", "--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "100",
             "--hostname", "localhost", "--die-with-parent", "--new-session",
             "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp",
             "--dir", "/bin", "--ro-bind", self.sh, "/bin/sh"]
        for d in ("/usr/lib", "/usr/lib64"):
            if os.path.isdir(d):
                name = os.path.basename(d)
                a += ["--ro-bind", d, d, "--symlink", f"usr/{name}", f"/{name}"]
        # Libraries from elsewhere (a build against another set of library versions, as when
        # checking nixpkgs' versions): bound where they are, as store paths are in Nix.
        for d in library_dirs_outside_usr(build_dir):
            a += ["--ro-bind", d, d]
        # cmake's modules: in Nix, part of the cmake store path on PATH.
        for d in sorted(os.listdir("/usr/share")):
            if d.startswith("cmake-") and "ctest" in self.tools:
                a += ["--ro-bind", f"/usr/share/{d}", f"/usr/share/{d}"]
        a += ["--dir", "/tools/bin"]
        for prog, path in sorted(self.tools.items()):
            a += ["--ro-bind", path, f"/tools/bin/{prog}"]
        a += ["--dir", "/etc"]
        for name in ETC:
            a += ["--ro-bind", os.path.join(self.etc, name), f"/etc/{name}"]
        source, build = os.path.realpath(h.SOURCE_DIR), os.path.realpath(build_dir)
        a += ["--ro-bind", source, source, "--bind", build, build,
              "--tmpfs", os.path.join(build, "Testing"),
              "--bind", build_top, "/build", "--remount-ro", "/",
              "--chdir", build, "--clearenv"]
        env = {
            "PATH": "/tools/bin", "HOME": "/homeless-shelter", "NIX_BUILD_TOP": "/build",
            "TMPDIR": "/build", "TMP": "/build", "TEMP": "/build", "TEMPDIR": "/build",
            "NIX_BUILD_CORES": str(os.cpu_count() or 1), "NIX_STORE": "/nix/store",
            # What setup.sh exports for every build.
            "TZ": "UTC", "SOURCE_DATE_EPOCH": "315532800",
            "SSL_CERT_FILE": "/no-cert-file.crt", "NIX_SSL_CERT_FILE": "/no-cert-file.crt",
            "TERM": "xterm-256color",
        }
        for k, v in env.items():
            a += ["--setenv", k, v]
        return a + command


def check_script(package, ctest_wrapper=""):
    """bash -c text running the checkPhase as stdenv's bash does (hooks empty)."""
    return "runHook() { :; }\n" + ctest_wrapper + package["checkPhase"]


class SandboxedCheckPhase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.tool("bwrap")
        cls.package = evaluate_package()
        cls.tmp = tempfile.mkdtemp(prefix="nixmon-e2e-")
        cls.sandbox = Sandbox(cls.package, cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_in_sandbox(self, command, timeout=60):
        argv = self.sandbox.argv(h.BUILD_DIR, command)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def bash(self, script, timeout=60):
        return self.run_in_sandbox(["/tools/bin/bash", "-eu", "-o", "pipefail", "-c", script],
                                   timeout=timeout)

    def test_package_runs_its_checks_with_ctest(self):
        self.assertTrue(self.package["doCheck"], "nix/package.nix runs no checks")
        self.assertIn("ctest", self.package["checkPhase"])

    def test_the_sandbox_is_as_bare_as_nixs(self):
        probe = r"""
            set -u
            echo "uid $(id -u) gid $(id -g) user $(id -un)"
            echo "bin: $(ls /bin)"
            echo "root: $(ls /)"
            for p in /usr/bin /bin/echo /usr/local /nix; do [ -e "$p" ] && echo "present: $p"; done
            for c in nix-store nix gcc c++ curl git sqlite3; do
              command -v "$c" >/dev/null && echo "on PATH: $c"
            done
            echo "interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
            mkdir "$HOME" 2>/dev/null && echo "HOME writable"
            touch "$TMPDIR/probe" && echo "TMPDIR writable"
            touch /tmp/probe && echo "/tmp writable"
            echo "hostname: $(cat /proc/sys/kernel/hostname)"
            true
        """
        r = self.run_in_sandbox(["/bin/sh", "-c", probe])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertIn("uid 1000 gid 100 user nixbld", out)
        self.assertIn("bin: sh\n", out)
        self.assertNotIn("present:", out)
        self.assertNotIn("on PATH:", out)
        self.assertIn("interfaces: lo \n", out)
        self.assertNotIn("HOME writable", out)
        self.assertIn("TMPDIR writable", out)
        self.assertIn("/tmp writable", out)
        self.assertIn("hostname: localhost", out)

    def test_check_phase_passes_in_the_sandbox(self):
        # The same checkPhase with ctest listing instead of running: what it should run.
        listed = self.bash(check_script(self.package, 'ctest() { command ctest -N "$@"; }\n'))
        self.assertEqual(listed.returncode, 0, listed.stdout + listed.stderr)
        names = re.findall(r"^\s*Test\s+#\d+: (\S+)", listed.stdout, re.M)
        self.assertGreater(len(names), 0, listed.stdout)
        self.assertFalse([n for n in names if n.startswith("e2e.")], "it runs e2e tests")

        # Less than ctest's 600 s for this test, so that a hang is reported here, with output.
        r = self.bash(check_script(self.package), timeout=540)
        report = (f"sandbox: /bin/sh from {self.sandbox.sh}; PATH: stdenv's tools and those of "
                  f"{', '.join(self.sandbox.declared)} ({len(self.sandbox.tools)} programs)"
                  + "".join(f"; {n}" for n in self.sandbox.notes))
        summary = re.search(r"\d+% tests passed, (\d+) tests? failed out of (\d+)", r.stdout)
        print(report)
        print(summary.group(0) if summary else "ctest printed no summary")
        failed = r.stdout.partition("The following tests FAILED:")[2]
        failed = re.findall(r"^\s*\d+ - (\S+) \(", failed, re.M)
        self.assertEqual(r.returncode, 0,
                         f"the checkPhase fails in a Nix-like sandbox; failed: {' '.join(failed)}\n"
                         f"{report}\n{r.stdout[-20000:]}\n{r.stderr[-5000:]}")
        self.assertIsNotNone(summary, r.stdout)
        self.assertEqual(int(summary.group(2)), len(names), "ran other tests than it lists")


class NixStandIns(unittest.TestCase):
    """What unit tests load instead of running Nix is what this real Nix makes."""

    def test_empty_store_fixture_is_what_nix_makes(self):
        h.tool("nix-store")
        h.tool("sqlite3")
        committed = h.fixture("store-db", "nix-2.8-empty")
        with h.TempDir() as tmp:
            subprocess.run(["python3", h.fixture("make-empty-store.py"), tmp], check=True)
            for name in sorted(os.listdir(committed)):
                with open(os.path.join(committed, name)) as a, open(os.path.join(tmp, name)) as b:
                    self.assertEqual(a.read(), b.read(),
                                     f"{name} differs: run tests/fixtures/make-empty-store.py")
            self.assertEqual(sorted(os.listdir(committed)), sorted(os.listdir(tmp)))


if __name__ == "__main__":
    unittest.main()
