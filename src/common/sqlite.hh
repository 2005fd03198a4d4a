#pragma once
// A small RAII wrapper over the SQLite C API, generic enough for any part of nixmon (nod's record
// store, reading Nix's own db.sqlite).
//
// Threads: a Database and its Statements belong to one thread at a time (SQLite's "multi-thread"
// mode); open one Database per thread. Every failure throws SqliteError with the database's message
// and what we were doing.
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hh"

namespace nixmon::sqlite {

class SqliteError : public Error {
 public:
  SqliteError(int code, const std::string& what) : Error(what), code_(code) {}
  int code() const { return code_; }
  // SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock; the caller may retry.
  bool busy() const;

 private:
  int code_;
};

class Statement;

class Database {
 public:
  // immutable: read-only without locks or shared memory (SQLite's `immutable=1` URI parameter),
  // for a WAL database whose -shm is absent and whose directory this user cannot write: only
  // correct while nothing writes the file.
  enum class Mode { read_only, read_write, create, immutable };

  // Opens `path`; Mode::create creates the file when absent. Throws SqliteError.
  Database(const std::string& path, Mode mode);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  Database(Database&& o) noexcept;
  Database& operator=(Database&&) = delete;

  // Runs one or more statements that return no rows we need.
  void exec(std::string_view sql);
  Statement prepare(std::string_view sql) const;
  // Runs a query that yields one integer (e.g. "PRAGMA user_version"); nullopt if no row or NULL.
  std::optional<int64_t> query_int(std::string_view sql) const;

  void busy_timeout(int milliseconds);
  int64_t changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  [[noreturn]] void fail(int code, std::string_view doing) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. Bind parameters by 1-based index; std::nullopt binds NULL.
class Statement {
 public:
  Statement(const Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& o) noexcept;
  Statement& operator=(Statement&&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  // The text is copied (SQLITE_TRANSIENT): the caller's buffer may change afterwards.
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) {
    return bind(index, std::string_view(value));
  }
  Statement& bind_null(int index);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  // True while there is a row to read; false when done. Throws on error.
  bool step();
  // step() for statements without result rows, then reset() so the statement can run again.
  void run();
  void reset();

  bool is_null(int column) const;
  int64_t column_int(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;
  std::optional<int64_t> column_opt_int(int column) const;
  std::optional<std::string> column_opt_text(int column) const;
  int column_count() const;

 private:
  const Database* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN on construction; ROLLBACK in the destructor unless commit() ran, so an exception between
// the two leaves the database as it was.
class Transaction {
 public:
  // `immediate`: take the write lock now (BEGIN IMMEDIATE) rather than at the first write, so a
  // busy database fails here and not half-way through.
  explicit Transaction(Database& db, bool immediate = true);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace nixmon::sqlite
