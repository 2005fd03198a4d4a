#pragma once
// Removes a SQLite database this process created, with its -wal and -shm, unless keep() was
// called: a `nod daemon` that fails to start (socket taken, bad address) or a `nod ingest` that
// found no record must not leave an empty database behind that looks like a recorded one.
//
// Declare it before the objects that hold the database open: it must act after they closed it.
#include <filesystem>
#include <string>
#include <system_error>

namespace nixmon::nod {

class CreatedDatabase {
 public:
  explicit CreatedDatabase(std::string path)
      : path_(std::move(path)), existed_(std::filesystem::exists(path_)) {}
  ~CreatedDatabase() {
    if (existed_ || kept_) return;
    std::error_code ec;  // best effort: nothing useful to do if it cannot be removed
    for (const char* suffix : {"-wal", "-shm", ""}) std::filesystem::remove(path_ + suffix, ec);
  }
  CreatedDatabase(const CreatedDatabase&) = delete;
  CreatedDatabase& operator=(const CreatedDatabase&) = delete;

  void keep() { kept_ = true; }

 private:
  std::string path_;
  bool existed_;
  bool kept_ = false;
};

}  // namespace nixmon::nod
