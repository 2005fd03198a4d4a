// Store path names follow Nix's own rules: NixOS/nix 2.28.0, src/libstore/path.cc lines 5-31
// (checkName: empty, longer than MaxPathLen = 211, "." and ".." alone or as the first
// dash-separated component, the allowed characters) and lines 42-52 (StorePath::StorePath: at
// least HashLen = 32 + 1 characters, the hash part in Nix's base-32 without e, o, u, t); .drv from
// src/libstore/include/nix/store/path.hh line 87 (drvExtension).
#include "common/store-path.hh"

#include <gtest/gtest.h>

#include <string>

using namespace nixmon;

namespace {

const std::string hash = "0123456789abcdfghijklmnpqrsvwxyz";  // Nix's base-32 alphabet, 32 long

std::string message_of(std::string_view base) {
  try {
    StorePath p(base);
  } catch (const BadStorePath& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(StorePath, AcceptsWhatNixAccepts) {
  StorePath p(hash + "-hello-2.12");
  EXPECT_EQ(p.hash_part(), hash);
  EXPECT_EQ(p.name(), "hello-2.12");
  EXPECT_EQ(p.base_name(), hash + "-hello-2.12");
  EXPECT_FALSE(p.is_derivation());
  EXPECT_TRUE(StorePath(hash + "-hello-2.12.drv").is_derivation());
  EXPECT_FALSE(StorePath(hash + "-hello-2.12.drv.chroot").is_derivation());
  // Every allowed character, names that only start with dots, a leading dash in the name.
  for (std::string name : {"aZ09+-._?=", ".foo", "..foo", "-foo", "x"}) {
    EXPECT_TRUE(StorePath::maybe(hash + "-" + name).has_value()) << name;
  }
  EXPECT_TRUE(StorePath::maybe(hash + "-" + std::string(211, 'a')).has_value());
}

TEST(StorePath, RejectsWhatNixRejectsAndSaysWhy) {
  EXPECT_NE(message_of(hash + "-").find("name must not be empty"), std::string::npos);
  EXPECT_NE(message_of(hash + "-" + std::string(212, 'a')).find("no longer than 211"),
            std::string::npos);
  EXPECT_NE(message_of(hash + "-.").find("name '.' is not valid"), std::string::npos);
  EXPECT_NE(message_of(hash + "-..").find("name '..' is not valid"), std::string::npos);
  EXPECT_NE(message_of(hash + "-.-foo").find("must not be '.'"), std::string::npos);
  EXPECT_NE(message_of(hash + "-..-foo").find("must not be '..'"), std::string::npos);
  EXPECT_NE(message_of(hash + "-a/b").find("illegal character '/'"), std::string::npos);
  EXPECT_NE(message_of(hash + "-a b").find("illegal character ' '"), std::string::npos);
  EXPECT_NE(message_of(hash + "-caf\xc3\xa9").find("illegal character '\\xc3'"), std::string::npos);
  EXPECT_NE(message_of("abc-foo").find("too short"), std::string::npos);
  // e, o, u and t are not in Nix's base-32; neither are capitals.
  for (char bad : {'e', 'o', 'u', 't', 'A'}) {
    std::string h = hash;
    h[5] = bad;
    EXPECT_NE(message_of(h + "-foo").find(std::string("illegal base-32 character '") + bad),
              std::string::npos)
        << bad;
  }
  // The message names the whole base name.
  EXPECT_NE(message_of(hash + "-a b").find("'" + hash + "-a b' is not a valid store path"),
            std::string::npos);
  // Stricter than Nix 2.28, which only skips the character after the hash part: no Nix makes a
  // store path without the '-'.
  EXPECT_FALSE(StorePath::maybe(hash + "_foo").has_value());
  EXPECT_THROW(check_store_path_name(".."), BadStorePath);
  EXPECT_NO_THROW(check_store_path_name("hello"));
}

TEST(StoreDir, ParsesPathsDirectlyInTheStoreOnly) {
  StoreDir store;
  EXPECT_EQ(store.dir(), "/nix/store");
  EXPECT_EQ(store.parse("/nix/store/" + hash + "-hello").name(), "hello");
  EXPECT_EQ(store.print(store.parse("/nix/store/" + hash + "-hello")),
            "/nix/store/" + hash + "-hello");
  try {
    store.parse("/nix/store/" + hash + "-hello/bin/hello");
    ADD_FAILURE() << "a path below a store entry parsed";
  } catch (const BadStorePath& e) {
    EXPECT_NE(std::string(e.what()).find("is not in the Nix store /nix/store"), std::string::npos);
  }
  try {
    store.parse("/nix/store/" + hash + "-a b");
    ADD_FAILURE() << "a bad name parsed";
  } catch (const BadStorePath& e) {
    EXPECT_EQ(std::string(e.what()), "path '/nix/store/" + hash +
                                         "-a b' is not a valid store path: name contains illegal "
                                         "character ' '");
  }
  EXPECT_THROW(store.parse("/usr/lib"), BadStorePath);
  EXPECT_THROW(store.parse("/nix/store"), BadStorePath);
  EXPECT_FALSE(store.maybe_parse("/nix/storex/" + hash + "-a").has_value());
  // Another store directory (a Nix built with --with-store-dir), given with a trailing slash.
  StoreDir gnu("/gnu/store/");
  EXPECT_EQ(gnu.dir(), "/gnu/store");
  EXPECT_TRUE(gnu.maybe_parse("/gnu/store/" + hash + "-guile").has_value());
  EXPECT_FALSE(gnu.maybe_parse("/nix/store/" + hash + "-guile").has_value());
}

TEST(StoreDir, EntryOfIsLexical) {
  EXPECT_EQ(*store_entry_of("/nix/store/" + hash + "-linux-6.6/bzImage"), hash + "-linux-6.6");
  EXPECT_EQ(*store_entry_of("/nix/store/x-bash"), "x-bash");  // a fake tree's short name
  EXPECT_FALSE(store_entry_of("/usr/lib").has_value());
  EXPECT_FALSE(store_entry_of("/nix/store").has_value());
  EXPECT_FALSE(store_entry_of("/nix/store/").has_value());
  EXPECT_FALSE(store_entry_of("/nix/store//x").has_value());
  EXPECT_FALSE(store_entry_of("/nix/storex/a").has_value());
  EXPECT_EQ(*StoreDir("/gnu/store").entry_of("/gnu/store/a-b/c"), "a-b");
}

TEST(StoreDir, NamesForPeople) {
  EXPECT_EQ(strip_store_hash(hash + "-linux-6.6"), "linux-6.6");
  EXPECT_EQ(strip_store_hash("short-name"), "short-name");
  EXPECT_EQ(display_name("/nix/store/z5jyrrv3ggf1jf6ai0fqajavw9lr1ccg-hello-2.12.drv"),
            "hello-2.12");
  EXPECT_EQ(display_name("/nix/store/gki38d1divl220yv32rm6xj2xww0h594-a"), "a");
  EXPECT_EQ(display_name("not-a-store-path"), "not-a-store-path");
  EXPECT_EQ(display_name(".drv"), ".drv");
}
