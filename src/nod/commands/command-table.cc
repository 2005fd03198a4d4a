#include "commands/command.hh"

namespace nixmon::nod::commands {

// Each add_<name>_command is defined in commands/<name>.cc.
Added add_daemon_command(CLI::App& app);
Added add_ingest_command(CLI::App& app);
Added add_status_command(CLI::App& app);
Added add_rebuild_command(CLI::App& app);
Added add_upgrade_command(CLI::App& app);
Added add_clean_command(CLI::App& app);
Added add_regressions_command(CLI::App& app);
Added add_failures_command(CLI::App& app);
Added add_builds_command(CLI::App& app);

namespace {

constexpr CommandEntry table[] = {
    {"daemon", add_daemon_command},           {"ingest", add_ingest_command},
    {"status", add_status_command},           {"rebuild", add_rebuild_command},
    {"upgrade", add_upgrade_command},         {"clean", add_clean_command},
    {"regressions", add_regressions_command}, {"failures", add_failures_command},
    {"builds", add_builds_command},
};

}  // namespace

std::span<const CommandEntry> command_table() {
  return table;
}

void add_global_flags(CLI::App& app, NodOptions& o) {
  app.add_option("--socket", o.socket, "The daemon's Unix socket (Nix's json-log-path)")
      ->envname("NOD_SOCKET")
      ->capture_default_str();
  app.add_option("--db", o.db, "The SQLite database")->envname("NOD_DB")->capture_default_str();
  app.add_option("--log-level", o.log_level, "debug, info, warn or error")->capture_default_str();
  app.fallthrough();
}

CLI::Option* add_text(CLI::App& app, const std::string& flags, std::optional<std::string>& to,
                      const std::string& description) {
  return app.add_option_function<std::string>(
      flags, [&to](const std::string& value) { to = value; }, description);
}

void add_period_flags(CLI::App& app, RawQueryFlags& flags) {
  add_text(app, "-d,--days", flags.days, "Only the last N days (UTC, including today)");
  add_text(app, "-m,--months", flags.months, "Only the last N months (30 days each)");
  add_text(app, "-y,--years", flags.years, "Only the last N years (365 days each)");
}

RawQueryFlags merge_query_flags(const RawQueryFlags& own, const RawQueryFlags& top) {
  RawQueryFlags m = own;
  auto take = [](std::optional<std::string>& to, const std::optional<std::string>& from) {
    if (!to) to = from;
  };
  take(m.days, top.days);
  take(m.months, top.months);
  take(m.years, top.years);
  take(m.sort, top.sort);
  take(m.bucket, top.bucket);
  take(m.output, top.output);
  take(m.before_days, top.before_days);
  take(m.limit, top.limit);
  take(m.last, top.last);
  take(m.drv, top.drv);
  take(m.recent, top.recent);
  take(m.history, top.history);
  take(m.min_history, top.min_history);
  take(m.alpha, top.alpha);
  take(m.min_effect, top.min_effect);
  m.group = own.group || top.group;
  return m;
}

}  // namespace nixmon::nod::commands
