#!/usr/bin/env python3
"""Makes a big Nix store for the store/gc benchmarks: a chroot store whose database real Nix
created (its schema), filled with N valid paths and a realistic reference graph, with a file tree
on disk (so `du -sb` and `nix-store --gc --print-dead`, which walks the store directory, see the
same store), and GC roots: system profile generations and result links in gcroots/auto.

    bench/make-store.py ROOT [--paths 200000] [--seed 1] [--no-tree]

--no-tree leaves the store directory without the paths' files: enough for what reads only the
database (the store and gc analyses' scaling figures), minutes faster for a million paths.

The graph: about 40% of the paths are .drv files, the rest outputs. Each output is a directory
with a few (sparse) files; it references a handful of earlier outputs, preferring a small set of
"popular" ones (as everything references glibc, bash, coreutils), plus itself sometimes; its
deriver is its .drv, which references the input .drvs. Ten system generations and twenty result
links root about two thirds of the store; the rest is garbage, as on a machine that has not
collected for a while. Standard library only.
"""
import argparse
import os
import random
import sqlite3
import subprocess
import sys
import time

B32 = "0123456789abcdfghijklmnpqrsvwxyz"
NOW = int(time.time())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--paths", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-tree", action="store_true")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    root = os.path.abspath(args.root)
    if os.path.exists(os.path.join(root, "nix/var/nix/db/db.sqlite")):
        sys.exit(f"{root} already has a store database; remove it first")
    # Real Nix creates the database: its schema, its pragmas.
    subprocess.run(["nix-store", "--store", root, "--dump-db"], check=True, stdout=subprocess.DEVNULL)

    def h():
        return "".join(rnd.choice(B32) for _ in range(32))

    n_out = int(args.paths * 0.6)
    n_drv = args.paths - n_out
    outs = [f"/nix/store/{h()}-pkg{i}-1.{i % 7}" for i in range(n_out)]
    drvs = [f"/nix/store/{h()}-pkg{i}-1.{i % 7}.drv" for i in range(n_out)][:n_drv]
    popular = list(range(min(200, n_out)))

    out_refs = []
    for i in range(n_out):
        refs = set()
        if i > 0:
            k = min(int(rnd.expovariate(1 / 5)) + 1, 40, i)
            for _ in range(k):
                j = rnd.choice(popular) if rnd.random() < 0.4 else rnd.randrange(max(0, i - 20000), i)
                if j < i:
                    refs.add(j)
        if rnd.random() < 0.3:
            refs.add(i)  # self-reference, as Nix records them
        out_refs.append(refs)

    db = sqlite3.connect(os.path.join(root, "nix/var/nix/db/db.sqlite"))
    db.execute("PRAGMA synchronous = OFF")
    t0 = time.time()
    with db:
        # ids: outputs 1..n_out, then .drvs.
        rows = []
        for i, p in enumerate(outs):
            deriver = drvs[i] if i < n_drv else None
            built = 1 if rnd.random() < 0.2 else None
            reg = NOW - int(rnd.expovariate(1 / (30 * 86400)))
            rows.append((i + 1, p, "sha256:" + "0" * 64, reg, deriver, rnd.randint(200, 4_000_000), built))
        for i, p in enumerate(drvs):
            reg = NOW - int(rnd.expovariate(1 / (30 * 86400)))
            rows.append((n_out + i + 1, p, "sha256:" + "0" * 64, reg, None, rnd.randint(500, 8000), None))
        db.executemany("INSERT INTO ValidPaths (id, path, hash, registrationTime, deriver, narSize, "
                       "ultimate) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        refs = []
        for i, rs in enumerate(out_refs):
            refs.extend((i + 1, j + 1) for j in rs)
        for i in range(n_drv):
            # A .drv references the .drvs of its output's inputs.
            refs.extend((n_out + i + 1, n_out + j + 1) for j in out_refs[i] if j < n_drv and j != i)
        db.executemany("INSERT INTO Refs (referrer, reference) VALUES (?, ?)", refs)
        db.executemany("INSERT INTO DerivationOutputs (drv, id, path) VALUES (?, 'out', ?)",
                       [(n_out + i + 1, outs[i]) for i in range(n_drv)])
    print(f"database: {len(rows)} paths, {len(refs)} references in {time.time() - t0:.1f}s",
          file=sys.stderr)

    # The tree on disk: outputs are directories with three sparse files, .drvs one small file.
    t0 = time.time()
    store = os.path.join(root, "nix/store")
    sizes = {p: s for (_, p, _, _, _, s, _) in rows}
    for p in ([] if args.no_tree else outs):
        d = os.path.join(store, os.path.basename(p))
        os.makedirs(os.path.join(d, "bin"))
        for sub, share in (("bin/prog", 0.5), ("lib.so", 0.4), ("README", 0.1)):
            with open(os.path.join(d, sub), "wb") as f:
                f.truncate(int(sizes[p] * share))
    for p in ([] if args.no_tree else drvs):
        with open(os.path.join(store, os.path.basename(p)), "wb") as f:
            f.truncate(sizes[p])
    print(f"tree: {time.time() - t0:.1f}s", file=sys.stderr)

    # Roots: ten system generations, each a top-level referencing a random slice of outputs,
    # and twenty result links registered in gcroots/auto.
    profiles = os.path.join(root, "nix/var/nix/profiles")
    auto = os.path.join(root, "nix/var/nix/gcroots/auto")
    os.makedirs(profiles, exist_ok=True)
    os.makedirs(auto, exist_ok=True)
    with db:
        next_id = args.paths + 1
        for g in range(1, 11):
            top = f"/nix/store/{h()}-nixos-system-host-{g}"
            deps = rnd.sample(range(n_out // 3, n_out), 120)
            db.execute("INSERT INTO ValidPaths (id, path, hash, registrationTime, narSize) VALUES "
                       "(?, ?, ?, ?, ?)", (next_id, top, "sha256:" + "0" * 64, NOW - g * 86400, 20000))
            db.executemany("INSERT INTO Refs (referrer, reference) VALUES (?, ?)",
                           [(next_id, j + 1) for j in deps])
            next_id += 1
            os.makedirs(os.path.join(store, os.path.basename(top)))
            os.symlink(top, os.path.join(profiles, f"system-{g}-link"))
        os.symlink("system-10-link", os.path.join(profiles, "system"))
    home = os.path.join(root, "home/alice")
    os.makedirs(home, exist_ok=True)
    for r in range(20):
        target = outs[rnd.randrange(n_out // 2, n_out)]
        link = os.path.join(home, f"result-{r}")
        os.symlink(target, link)
        os.symlink(link, os.path.join(auto, h()))
    os.makedirs(os.path.join(root, "run"), exist_ok=True)
    os.symlink(os.readlink(os.path.join(profiles, "system-10-link")), os.path.join(root, "run/current-system"))
    os.symlink(os.readlink(os.path.join(profiles, "system-9-link")), os.path.join(root, "run/booted-system"))
    db.close()


if __name__ == "__main__":
    main()
