#pragma once
// Factories of the collectors, one file each; registered in ../collector-table.cc.
#include <memory>

#include "exporter/collector.hh"

namespace nixmon::exporter {

std::unique_ptr<Collector> make_generation_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_system_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_reboot_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_boot_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_flake_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_store_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_gc_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_upgrade_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_restart_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_channel_collector(const CollectorContext& ctx);

}  // namespace nixmon::exporter
