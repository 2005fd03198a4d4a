#pragma once
// The message hosts exchange on the NATS subject after fetching a flake's remote revision. One
// JSON object, small (a few hundred bytes plus ~150 per input), versioned by its "v" member:
//
//   {"v":1,"flake_url":"github:me/config","revision":"<40 hex>","last_modified":1700000000,
//    "fetched_at":1700000123.5,"host":"web1-3fa9c2d1",
//    "inputs":[{"name":"nixpkgs","rev":"<40 hex>","type":"github","last_modified":1699990000}]}
//
// "revision", "last_modified" and each input's "rev"/"last_modified" are omitted when unknown.
#include <chrono>
#include <string>
#include <string_view>

#include "exporter/flake/flake-metadata.hh"

namespace nixmon::exporter {

inline constexpr std::size_t max_share_message_bytes = 64 << 10;

struct ShareMessage {
  std::string flake_url;
  FlakeMetadata metadata;
  std::chrono::system_clock::time_point fetched_at;
  std::string host;  // the sender's host id
};

std::string encode_share_message(const ShareMessage& m);

// Throws Error saying what is wrong: not JSON, not an object, a missing or mistyped member,
// larger than max_share_message_bytes, an unknown version.
ShareMessage decode_share_message(std::string_view payload);

}  // namespace nixmon::exporter
