#pragma once
// `nixmon hosts` as a table for people (worst first, coloured by trouble), JSON (unknown is
// null) and CSV (unknown is an empty field). Pure functions of the rows: the unit tests and the
// golden files check them.
#include <string>
#include <vector>

#include "nixmon/host-state.hh"

namespace nixmon::cli {

std::string hosts_table(const std::vector<HostState>& hosts, bool colour);
std::string hosts_json(const std::vector<HostState>& hosts);
std::string hosts_csv(const std::vector<HostState>& hosts);

}  // namespace nixmon::cli
