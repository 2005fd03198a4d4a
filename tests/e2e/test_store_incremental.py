"""The incremental store and gc analyses against full ones on a real store: random sequences of
real Nix 2.8 operations (nix-build with and without result links, nix-store --add,
nix-store --delete, nix-store --gc, result links removed, profile generations added, roots added
on paths already valid: live ones a root owns, shared ones, dead ones), and after each one the
incremental answer must equal a full recompute from a fresh connection
(tests/store-incremental-check prints both). What each root alone keeps (exclusive paths and NAR
bytes per root link with its source and system generation, and the shared figures: everything
behind nixos_gc_{root,generation}_exclusive_nar_bytes and nixos_gc_shared_nar_bytes) is part of
the comparison, and the ownership's own kind/reason must show incremental runs after new roots.
The sequence's number is printed; NIXMON_INCREMENTAL_SEQUENCE=<n> replays a failing sequence."""
import os
import random
import shutil
import subprocess
import unittest

import harness as h
from test_store import busybox, make_store

STEPS = int(os.environ.get("NIXMON_INCREMENTAL_STEPS", "24"))


def checker_binary():
    p = os.path.join(h.BUILD_DIR, "tests", "store-incremental-check")
    if not os.path.exists(p):
        raise FileNotFoundError(f"store-incremental-check is not built under {h.BUILD_DIR}")
    return p


def build_one_more(store, tmp, name, dep, link):
    """Builds the test_store expression with one more derivation, `name`, referring to its `dep`;
    with a result link at `link` (a host path under the root) or none."""
    expr = os.path.join(tmp, f"{name}.nix")
    with open(store.expr) as f:
        base = f.read()
    with open(expr, "w") as f:
        f.write(base.replace("in rec {", f'in rec {{\n  {name} = mk "{name}-1.0" '
                             f'"echo ${{{dep}}} > $out";', 1))
    store.nix("nix-build", "--option", "substituters", "", "--option",
              "sandbox-paths", f"/bin/sh={busybox()}",
              expr, "-A", name, *(["-o", link] if link else ["--no-out-link"]))


def add_file(store, tmp, name, rng):
    """`nix-store --add` of a new directory holding one file of random text; says what it did."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    with open(os.path.join(d, "f"), "w") as f:
        f.write(f"{d} {rng.random()}\n")
    store.nix("nix-store", "--add", d)
    return f"nix-store --add {d}"


class Checker:
    def __init__(self, root):
        self.p = subprocess.Popen([checker_binary(), "--path.root", root], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def step(self):
        self.p.stdin.write("step\n")
        self.p.stdin.flush()
        lines = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise AssertionError(f"store-incremental-check stopped (exit {self.p.wait()})")
            if line == "end\n":
                return lines
            lines.append(line)

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)
        self.p.stdout.close()


class IncrementalAgainstFull(unittest.TestCase):
    def test_random_builds_deletions_and_root_changes(self):
        sequence = int(os.environ.get("NIXMON_INCREMENTAL_SEQUENCE", "20261201"))
        print(f"sequence {sequence} (replay: NIXMON_INCREMENTAL_SEQUENCE={sequence})", flush=True)
        rng = random.Random(sequence)
        with h.TempDir() as tmp:
            store, a, b = make_store(tmp)
            checker = Checker(store.root)
            runs = []
            try:
                first = checker.step()
                self.assertTrue(first[0].startswith("step full/first full/first full/first same"), first)
                links, counter = [], [0]

                def new_name():
                    counter[0] += 1
                    return f"r{counter[0]}"

                def build(with_link):
                    name = new_name()
                    dep = rng.choice(["lib", "app", "tool"])
                    link = store.local(f"/home/alice/{name}") if with_link else None
                    build_one_more(store, tmp, name, dep, link)
                    if link:
                        links.append(link)
                    return f"build {name} {'with' if link else 'without'} a result link on {dep}"

                def add():
                    return add_file(store, tmp, new_name(), rng)

                def delete():
                    dead = store.print_dead()
                    # A dead path still referred to by another dead one cannot go alone: Nix
                    # refuses, nothing changes, and the check still runs.
                    candidates = [p for p in dead if not p.endswith(".lock")]
                    if not candidates:
                        return None
                    p = rng.choice(candidates)
                    store.nix("nix-store", "--delete", p, check=False)
                    return f"nix-store --delete {p}"

                def delete_and_build():
                    # Builds keep landing while paths are deleted: both within one check.
                    deleted = delete()
                    return deleted and f"{deleted}, then {build(rng.random() < 0.5)}"

                def gc():
                    store.nix("nix-store", "--gc")
                    return "nix-store --gc"

                def unlink():
                    if not links:
                        return None
                    link = links.pop(rng.randrange(len(links)))
                    os.remove(link)
                    return f"rm {link}"

                def generation():
                    store.set_profile(rng.choice([a, b]))
                    return "new system profile generation"

                def root_existing():
                    # `nix-store --realise PATH --add-root LINK` on a valid path (NixOS/nix 2.8.0
                    # src/nix-store/nix-store.cc lines 106-112 and 1071-1072): a link in the home
                    # directory and its indirect root under gcroots/auto. The path: one a root
                    # reaches (owned by one or shared by several), or a dead one.
                    rooted = rng.choice([a, b] + [os.readlink(l) for l in links])
                    live = store.nix("nix-store", "-qR", rooted).split()
                    # Not a derivation: --realise would build it.
                    dead = [p for p in store.print_dead() if not p.endswith((".lock", ".drv"))]
                    pool = live if (rng.random() < 0.6 or not dead) else dead
                    path = rng.choice(pool)
                    link = store.local(f"/home/alice/{new_name()}")
                    store.nix("nix-store", "--realise", path, "--add-root", link)
                    links.append(link)
                    return f"root {'live' if pool is live else 'dead'} {path} at {link}"

                ops = [(build, 5), (add, 3), (delete, 2), (delete_and_build, 2), (gc, 1), (unlink, 2),
                       (generation, 1), (root_existing, 3)]
                adds_roots = set()
                for i in range(STEPS):
                    op = rng.choices([o for o, _ in ops], weights=[w for _, w in ops])[0]
                    what = op(rng.random() < 0.5) if op is build else op()
                    if what is None:
                        continue
                    lines = checker.step()
                    runs.append(lines[0].split()[1:4])
                    if op in (generation, root_existing) or (op is build and what.split()[2] == "with"):
                        adds_roots.add(len(runs) - 1)
                    self.assertTrue(lines[0].rstrip().endswith(" same"),
                                    f"sequence {sequence}, step {i} ({what}):\n{''.join(lines)}")
            finally:
                checker.close()
            kinds = {tuple(r) for r in runs}
            print("runs (store, gc, ownership):", sorted(kinds), flush=True)
            # The sequence went through the incremental path and through fallbacks.
            self.assertTrue(any(r[0] == "incremental/added" for r in runs), runs)
            self.assertTrue(any(r[1] == "incremental/added" for r in runs), runs)
            self.assertTrue(any(r[0] == "full/deleted" for r in runs), runs)
            # New roots were taken in by the incremental ownership, not only by full recomputes.
            self.assertTrue(any(runs[i][2].startswith("incremental/") for i in adds_roots),
                            (sorted(adds_roots), runs))


class RootOnAPathNotValid(unittest.TestCase):
    def test_its_link_going_takes_nothing_away(self):
        # Nix skips a root whose path is not valid (NixOS/nix 2.8.0 src/libstore/gc.cc lines
        # 225-228, "skipping invalid root"): it keeps nothing alive, so its link going leaves the
        # gc analysis and the per-root ownership incremental, and both still equal a full one.
        with h.TempDir() as tmp:
            store, _, _ = make_store(tmp)
            checker = Checker(store.root)
            try:
                def step():
                    lines = checker.step()
                    self.assertTrue(lines[0].rstrip().endswith(" same"), "".join(lines))
                    return lines[0].split()[1:4]

                step()
                # The path make_store registered with `nix-store --add` and rooted nowhere.
                added = [p for p in store.print_dead() if p.endswith("-added")]
                self.assertEqual(len(added), 1, store.print_dead())
                store.nix("nix-store", "--delete", added[0])
                self.assertFalse(os.path.lexists(store.local(added[0])))
                link = store.local("/nix/var/nix/gcroots/left-on-a-deleted-path")
                os.symlink(added[0], link)
                self.assertEqual(step()[1:], ["full/deleted", "full/deleted"])
                os.remove(link)
                self.assertEqual(step()[1:], ["incremental/inputs_changed"] * 2)
            finally:
                checker.close()

# The store directory scan kept from inotify events (store-dir-watch.hh) against a full scan of
# the directory: stray entries of the kinds Nix leaves (a failed build's "<hash>-x.lock", a partial
# output whose name parses as a store path but is not valid, an addToStore "tmp-*" directory, a
# file whose name does not parse) appear, grow, are renamed and disappear between real Nix 2.8
# operations (builds, nix-store --add, --delete, --gc, which deletes them too).

NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz"


def dir_scan_checker_binary():
    p = os.path.join(h.BUILD_DIR, "tests", "store-dir-scan-check")
    if not os.path.exists(p):
        raise FileNotFoundError(f"store-dir-scan-check is not built under {h.BUILD_DIR}")
    return p


class DirScanChecker(Checker):
    def __init__(self, root):
        self.p = subprocess.Popen([dir_scan_checker_binary(), "--path.root", root],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


class StoreDirScanAgainstFull(unittest.TestCase):
    def test_stray_entries_between_real_nix_operations(self):
        sequence = int(os.environ.get("NIXMON_INCREMENTAL_SEQUENCE", "20261201"))
        print(f"sequence {sequence} (replay: NIXMON_INCREMENTAL_SEQUENCE={sequence})", flush=True)
        rng = random.Random(sequence)
        with h.TempDir() as tmp:
            store, _, _ = make_store(tmp)
            store_dir = store.local("/nix/store")
            checker = DirScanChecker(store.root)
            runs = []
            try:
                first = checker.step()
                self.assertEqual(first[0], "step full/first same\n", first)
                counter = [0]

                def new_name():
                    counter[0] += 1
                    return f"s{counter[0]}"

                def new_hash():
                    return "".join(rng.choice(NIX_BASE32) for _ in range(32))

                def strays():
                    db = store.db()
                    try:
                        valid = {os.path.basename(r[0])
                                 for r in db.execute("SELECT path FROM ValidPaths")}
                    finally:
                        db.close()
                    return sorted(n for n in os.listdir(store_dir)
                                  if n != ".links" and n not in valid)

                def lock_file():
                    p = os.path.join(store_dir, f"{new_hash()}-{new_name()}.lock")
                    open(p, "w").close()
                    return f"touch {p}"

                def partial_output():
                    d = os.path.join(store_dir, f"{new_hash()}-{new_name()}")
                    os.makedirs(os.path.join(d, "bin"))
                    with open(os.path.join(d, "bin", "x"), "w") as f:
                        f.write("x" * rng.randrange(1, 20000))
                    return f"mkdir {d}"

                def temp_dir():
                    d = os.path.join(store_dir, f"tmp-{rng.randrange(1, 99999)}-0")
                    os.makedirs(d, exist_ok=True)
                    return f"mkdir {d}"

                def stray_file():
                    p = os.path.join(store_dir, f"stray-{new_name()}")
                    with open(p, "w") as f:
                        f.write("s")
                    return f"write {p}"

                def remove_stray():
                    names = strays()
                    if not names:
                        return None
                    p = os.path.join(store_dir, rng.choice(names))
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p)
                    else:
                        os.remove(p)
                    return f"rm {p}"

                def rename_stray():
                    names = strays()
                    if not names:
                        return None
                    old = os.path.join(store_dir, rng.choice(names))
                    new = os.path.join(store_dir, f"{new_hash()}-{new_name()}.drv.chroot")
                    os.rename(old, new)
                    return f"mv {old} {new}"

                def grow_stray():
                    dirs = [n for n in strays() if os.path.isdir(os.path.join(store_dir, n))]
                    if not dirs:
                        return None
                    d = os.path.join(store_dir, rng.choice(dirs), new_name())
                    with open(d, "w") as f:
                        f.write("g" * rng.randrange(1, 50000))
                    return f"write {d}"

                def build():
                    name = new_name()
                    build_one_more(store, tmp, name, "lib", None)
                    return f"build {name}"

                def add():
                    return add_file(store, tmp, new_name(), rng)

                def delete():
                    candidates = [p for p in store.print_dead() if not p.endswith(".lock")]
                    if not candidates:
                        return None
                    p = rng.choice(candidates)
                    store.nix("nix-store", "--delete", p, check=False)
                    return f"nix-store --delete {p} (after --print-dead, which deletes strays)"

                def gc():
                    store.nix("nix-store", "--gc")
                    return "nix-store --gc"

                ops = [(lock_file, 3), (partial_output, 3), (temp_dir, 2), (stray_file, 2),
                       (remove_stray, 3), (rename_stray, 2), (grow_stray, 2), (build, 3),
                       (add, 2), (delete, 1), (gc, 1)]
                for i in range(STEPS):
                    # One or more operations between two checks.
                    done = []
                    for _ in range(rng.choice([1, 1, 2, 3])):
                        op = rng.choices([o for o, _ in ops], weights=[w for _, w in ops])[0]
                        what = op()
                        if what is not None:
                            done.append(what)
                    if not done:
                        continue
                    lines = checker.step()
                    runs.append(lines[0].split()[1])
                    self.assertTrue(lines[0].rstrip().endswith(" same"),
                                    f"sequence {sequence}, step {i} ({'; '.join(done)}):\n"
                                    f"{''.join(lines)}")
            finally:
                checker.close()
            print("store directory scans:", sorted(set(runs)), flush=True)
            # Mostly incremental; a deleted path reads the graph, and so the directory, again.
            self.assertGreater(runs.count("incremental/changed"), len(runs) // 2, runs)


INVALID_SERIES = ("nixos_gc_reclaimable_invalid_entries", "nixos_gc_reclaimable_invalid_disk_bytes",
                  "nixos_gc_reclaimable_invalid_unmeasured")


class StoreDirScanInTheExporter(unittest.TestCase):
    """The running exporter's invalid-entry series, kept from directory events, against a freshly
    started exporter's (whose first scan is a full one) after each change."""

    def test_a_running_exporter_agrees_with_a_fresh_one(self):
        from test_store import ready, scrape_until, start_exporter
        with h.TempDir() as tmp:
            store, _, _ = make_store(tmp)
            store_dir = store.local("/nix/store")
            rng = random.Random(7)

            def stray_hash():
                return "".join(rng.choice(NIX_BASE32) for _ in range(32))

            def fresh_invalid():
                p, port = start_exporter(tmp, store.root)
                with p:
                    _, s = scrape_until(port, ready, "a fresh exporter's analyses")
                    self.assertEqual(s.get('nixos_gc_store_dir_scan_total{kind="full",reason="first"}'),
                                     1, s)
                    return {k: s.get(k) for k in INVALID_SERIES}

            lock = os.path.join(store_dir, f"{stray_hash()}-failed-1.0.lock")
            partial = os.path.join(store_dir, f"{stray_hash()}-killed-1.0")
            temp = os.path.join(store_dir, "tmp-4242-0")

            def add_strays():
                open(lock, "w").close()
                os.makedirs(os.path.join(partial, "lib"))
                with open(os.path.join(partial, "lib", "half"), "wb") as f:
                    f.write(b"h" * 70000)
                os.makedirs(temp)

            def grow_and_move():
                with open(os.path.join(partial, "lib", "more"), "wb") as f:
                    f.write(b"m" * 90000)
                os.rename(lock, os.path.join(store_dir, "stray-file"))

            def remove_some():
                shutil.rmtree(temp)
                os.remove(os.path.join(store_dir, "stray-file"))

            def gc():
                store.nix("nix-store", "--gc")

            p, port = start_exporter(tmp, store.root)
            with p:
                scrape_until(port, ready, "both analyses ready")
                for what, change in (("stray entries added", add_strays),
                                     ("a partial output grown, a lock renamed", grow_and_move),
                                     ("stray entries removed", remove_some),
                                     ("nix-store --gc", gc)):
                    change()
                    want = fresh_invalid()
                    # The running exporter gets there by itself (a generous deadline, no timing).
                    scrape_until(port, lambda s: all(s.get(k) == v for k, v in want.items()),
                                 f"the fresh exporter's {want} after {what}")
                text, s = scrape_until(port, ready, "the running exporter")
                self.assertGreater(
                    s.get('nixos_gc_store_dir_scan_total{kind="incremental",reason="changed"}', 0),
                    0, text)


if __name__ == "__main__":
    unittest.main()
