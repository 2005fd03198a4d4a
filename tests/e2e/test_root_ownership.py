"""What each GC root alone keeps alive, checked against real Nix 2.8 (Debian's nix-bin): the
exporter's and nixmon-store-report's prediction for a root, then the root deleted and
`nix-store --gc` run, and the NAR sizes of the paths Nix actually removed (the database before and
after) compared with the prediction.

The store is test_store.py's chroot store: generation 1 is host-a's system, generation 2 host-b's;
both contain `app` and `lib`, host-b also `tool`, which a `result` link roots on its own too."""
import json
import os
import re
import subprocess
import unittest

import harness as h
from test_store import make_store, scrape_until, start_exporter

GEN = 'nixos_gc_generation_exclusive_nar_bytes{{generation="{}"}}'
ROOT = 'nixos_gc_root_exclusive_nar_bytes{{root="{}"}}'


def valid_paths(store):
    with store.db() as db:
        return dict(db.execute("SELECT path, narSize FROM ValidPaths").fetchall())


def report(store):
    r = subprocess.run([h.binary("nixmon-store-report"), f"--path.root={store.root}", "roots",
                        "--json"], capture_output=True, text=True, check=True)
    return {x["root"]: x for x in json.loads(r.stdout)["roots"]}


def collect_garbage(store):
    """Runs `nix-store --gc`; returns the paths it removed with their NAR sizes, and Nix's own
    summary line's path count and freed bytes (file sizes, not NAR sizes)."""
    before = valid_paths(store)
    out = store.nix("nix-store", "--gc")
    after = valid_paths(store)
    removed = {p: n for p, n in before.items() if p not in after}
    m = re.search(r"(\d+) store paths deleted, ([0-9.]+) MiB freed", out)
    if not m:
        raise AssertionError(f"no summary in nix-store --gc's output:\n{out}")
    return removed, int(m.group(1)), float(m.group(2)) * 1024 * 1024


class RootOwnershipAgainstRealNix(unittest.TestCase):
    def test_deleting_a_root_frees_what_was_predicted_for_it(self):
        with h.TempDir() as tmp:
            store, a, b = make_store(tmp)
            profile = store.local("/nix/var/nix/profiles/system")
            gen1 = "/nix/var/nix/profiles/system-1-link"
            gen2 = "/nix/var/nix/profiles/system-2-link"
            collect_garbage(store)  # the garbage make_store left: from here on only roots count

            p, port = start_exporter(tmp, store.root)
            with p:
                _, s = scrape_until(port, lambda s: s.get("nixos_gc_analysis_ready") == 1
                                    and s.get("nixos_gc_reclaimable_paths") == 0,
                                    "the analysis of the collected store")
                ours = report(store)
                predicted = s[GEN.format(1)]
                # The exporter and the report agree; both generations share app and lib, so
                # generation 1 owns only its system and that system's .drv (keep-derivations).
                self.assertEqual(predicted, ours[gen1]["exclusive_nar_bytes"])
                self.assertEqual(ours[gen1]["generation"], 1)
                self.assertEqual(ours[gen1]["exclusive_paths"], 2)
                self.assertGreater(predicted, 0)
                # The result link names `tool`, which generation 2 contains too: it owns nothing.
                self.assertEqual(s[ROOT.format("/home/alice/result")], 0)
                self.assertEqual(ours["/home/alice/result"]["exclusive_nar_bytes"], 0)
                live = s["nixos_gc_live_nar_bytes"]
                owned = sum(x["exclusive_nar_bytes"] for x in ours.values())
                self.assertEqual(owned + s["nixos_gc_shared_nar_bytes"], live)

                # Delete generation 1 (its profile link), collect: Nix frees exactly that.
                store.nix("nix-env", "-p", profile, "--delete-generations", "1")
                removed, nix_count, nix_freed = collect_garbage(store)
                self.assertEqual(sum(removed.values()), predicted, sorted(removed))
                self.assertEqual(len(removed), ours[gen1]["exclusive_paths"])
                self.assertEqual(nix_count, len(removed))
                self.assertTrue(any(x.endswith("-nixos-system-host-a") for x in removed), removed)
                # Nix's "MiB freed" counts file sizes, which a NAR's framing exceeds.
                self.assertLessEqual(nix_freed, predicted + 0.005 * 1024 * 1024)

                # Deleting the result link, which owned nothing, frees nothing.
                _, s = scrape_until(port, lambda s: GEN.format(1) not in s,
                                    "generation 1 gone from the series")
                os.remove(store.local("/home/alice/result"))
                removed, nix_count, _ = collect_garbage(store)
                self.assertEqual(removed, {})
                self.assertEqual(nix_count, 0)

                # A new generation 3 (host-a again) shares app and lib with generation 2; tool
                # is generation 2's alone now that the result link is gone.
                a = store.build("systemA")
                store.set_profile(a)
                _, s = scrape_until(port, lambda s: GEN.format(3) in s and
                                    s.get("nixos_gc_reclaimable_paths") == 0,
                                    "generation 3 in the series")
                predicted = s[GEN.format(2)]
                ours = report(store)
                self.assertEqual(ours[gen2]["exclusive_nar_bytes"], predicted)
                store.nix("nix-env", "-p", profile, "--delete-generations", "2")
                removed, nix_count, _ = collect_garbage(store)
                self.assertEqual(sum(removed.values()), predicted, sorted(removed))
                self.assertEqual(len(removed), ours[gen2]["exclusive_paths"])
                self.assertEqual(nix_count, len(removed))
                names = sorted(re.sub(r"^/nix/store/[a-z0-9]{32}-", "", x) for x in removed)
                # host-b's system and tool, and their .drvs: app and lib stay (generation 3).
                self.assertEqual(names, ["nixos-system-host-b", "nixos-system-host-b.drv",
                                         "tool-2.0", "tool-2.0.drv"])


if __name__ == "__main__":
    unittest.main()
