#include "exporter/flake/flake-config.hh"

#include <gtest/gtest.h>

#include "common/error.hh"
#include "exporter/flake/nats-share.hh"
#include "exporter/options.hh"

using namespace nixmon;
using namespace nixmon::exporter;

namespace {
FlakeFlags parse(std::vector<std::string> args) {
  CLI::App app;
  FlakeFlags flags;
  add_flake_flags(app, flags);
  parse_exporter_args(app, std::move(args));
  return flags;
}
}  // namespace

TEST(FlakeConfig, GoExporterFlagsAndDefaults) {
  {
    CLI::App app;
    ExporterOptions o;
    add_exporter_flags(app, o);
    parse_exporter_args(app, {});
    EXPECT_FALSE(o.collectors.at("flake"));  // off by default, as in the Go nixos-exporter
  }
  auto f = parse({});
  EXPECT_EQ(f.check_interval, "1h");
  EXPECT_EQ(f.nats_url, "nats://localhost:4222");
  EXPECT_EQ(f.nats_subject, "nixos-exporter.remote-rev");
  f = parse({"--flake.url=github:me/config", "--flake.check-interval=90m", "--flake.nats.enable",
             "--flake.nats.url=nats://n:4222", "--flake.nats.subject=s",
             "--flake.nats.credentials-file=/c"});
  auto c = make_flake_config(f);
  EXPECT_EQ(c.url, "github:me/config");
  EXPECT_EQ(c.check_interval, std::chrono::minutes(90));
  EXPECT_TRUE(c.nats_enable);
  EXPECT_EQ(c.nats_url, "nats://n:4222");
  EXPECT_EQ(c.nats_subject, "s");
  EXPECT_EQ(c.nats_credentials_file, "/c");
  // Go's single dash works for these flags too.
  EXPECT_EQ(parse({"-flake.url=x"}).url, "x");
}

TEST(FlakeConfig, RejectsWhatCannotWork) {
  FlakeFlags f;
  EXPECT_THROW(make_flake_config(f), UsageError);  // no URL
  f.url = "--impure";
  EXPECT_THROW(make_flake_config(f), UsageError);  // would be an option of nix
  f.url = "github:me/config\nx";
  EXPECT_THROW(make_flake_config(f), UsageError);
  f.url = "github:me/config";
  f.check_interval = "0s";
  EXPECT_THROW(make_flake_config(f), UsageError);
  f.check_interval = "1 hour";
  EXPECT_THROW(make_flake_config(f), UsageError);
  f.check_interval = "1h";
  f.nats_credentials_file = "a";
  f.nats_nkey_file = "b";
  EXPECT_THROW(make_flake_config(f), UsageError);
  f.nats_nkey_file.clear();
  EXPECT_NO_THROW(make_flake_config(f));
}

TEST(NatsServers, OneUrlOrSeveralCommaSeparated) {
  using V = std::vector<std::string>;
  EXPECT_EQ(nats_servers("nats://localhost:4222", "--flake.nats.url"), V{"nats://localhost:4222"});
  EXPECT_EQ(nats_servers("nats://a:4222,nats://b:4222, nats://c:4222 ", "--flake.nats.url"),
            (V{"nats://a:4222", "nats://b:4222", "nats://c:4222"}));
  // An empty entry is a typo that would shrink the fail-over list: refused, naming the flag.
  for (const char* bad : {"", " ", "nats://a:4222,", ",nats://a:4222", "nats://a:4222,,nats://b"}) {
    try {
      nats_servers(bad, "--flake.nats.url");
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--flake.nats.url"), std::string::npos) << e.what();
    }
  }
}

TEST(FlakeConfig, NatsUrlListCheckedWhenEnabled) {
  auto o = parse({"--flake.url=github:me/config", "--flake.nats.enable",
                  "--flake.nats.url=nats://a:4222,nats://b:4222,nats://c:4222"});
  EXPECT_EQ(make_flake_config(o).nats_url, "nats://a:4222,nats://b:4222,nats://c:4222");
  o = parse({"--flake.url=github:me/config", "--flake.nats.enable",
             "--flake.nats.url=nats://a:4222,,nats://c:4222"});
  EXPECT_THROW(make_flake_config(o), UsageError);
  // Unused while sharing is off: not an error then, as for the other NATS flags.
  o.nats_enable = false;
  EXPECT_NO_THROW(make_flake_config(o));
}

TEST(NKey, PublicKeyFromSeed) {
  // Seed bytes 0..31, encoded and derived independently (tests/e2e/nkeys.py, with openssl).
  EXPECT_EQ(
      nkey_public_from_user_key("SUAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4H776Y\n"),
      "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK");
  EXPECT_THROW(nkey_public_from_user_key(""), Error);
  EXPECT_THROW(nkey_public_from_user_key("SUnot-base32!"), Error);
  EXPECT_THROW(nkey_public_from_user_key("SUAAAA"), Error);  // too short
  // One character changed: the checksum catches it.
  EXPECT_THROW(
      nkey_public_from_user_key("SUAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR5H776Y"),
      Error);
  // A public key is no seed.
  EXPECT_THROW(
      nkey_public_from_user_key("UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK"), Error);
}
