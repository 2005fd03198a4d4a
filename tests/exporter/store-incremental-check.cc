// Drives the incremental store and gc analyses over a real store for the end-to-end test
// (tests/e2e/test_store_incremental.py): each line "step" on stdin runs one incremental update
// and a full computation from a fresh connection, and prints
//   step <store kind/reason> <gc kind/reason> <gc ownership kind/reason> same|DIFFERENT
// followed, when they differ, by both descriptions. Usage errors exit 2.
#include <iostream>
#include <string>

#include "incremental-compare.hh"

int main(int argc, char** argv) {
  if (argc != 3 || std::string(argv[1]) != "--path.root") {
    std::cerr << "usage: store-incremental-check --path.root ROOT  (commands on stdin: step)\n";
    return 2;
  }
  try {
    nixmon::exporter::test::IncrementalBeside beside{nixmon::HostRoot(argv[2])};
    for (std::string line; std::getline(std::cin, line);) {
      if (line != "step") {
        std::cerr << "unknown command '" << line << "'\n";
        return 2;
      }
      auto s = beside.step();
      bool same = s.store_incremental == s.store_full && s.gc_incremental == s.gc_full;
      std::cout << "step " << s.store_run << ' ' << s.gc_run << ' ' << s.ownership_run << ' '
                << (same ? "same" : "DIFFERENT") << '\n';
      if (!same) {
        std::cout << "--- store incremental\n"
                  << s.store_incremental << "--- store full\n"
                  << s.store_full << "--- gc incremental\n"
                  << s.gc_incremental << "--- gc full\n"
                  << s.gc_full;
      }
      std::cout << "end" << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "store-incremental-check: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
