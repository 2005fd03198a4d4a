#pragma once
// The collectors, one file each: the setup ../collector-table.cc registers (the collector's own
// flags, if any), and the factory tests call with a configuration of their choosing.
#include <memory>

#include "exporter/channel/channel-config.hh"
#include "exporter/collector.hh"
#include "exporter/flake/flake-config.hh"
#include "exporter/store/store-config.hh"

namespace nixmon::exporter {

std::unique_ptr<Collector> make_generation_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_system_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_reboot_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_boot_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_upgrade_collector(const CollectorContext& ctx);
std::unique_ptr<Collector> make_restart_collector(const CollectorContext& ctx);

// --flake.*
std::unique_ptr<CollectorSetup> flake_setup(CLI::App& app);
std::unique_ptr<Collector> make_flake_collector(const CollectorContext& ctx,
                                                const FlakeConfig& config);
// --collector.store.*
std::unique_ptr<CollectorSetup> store_setup(CLI::App& app);
std::unique_ptr<Collector> make_store_collector(const CollectorContext& ctx,
                                                const StoreConfig& config);
// --collector.gc.*
std::unique_ptr<CollectorSetup> gc_setup(CLI::App& app);
std::unique_ptr<Collector> make_gc_collector(const CollectorContext& ctx, const GcConfig& config);
// --channel.*
std::unique_ptr<CollectorSetup> channel_setup(CLI::App& app);
std::unique_ptr<Collector> make_channel_collector(const CollectorContext& ctx,
                                                  const ChannelConfig& config);

}  // namespace nixmon::exporter
