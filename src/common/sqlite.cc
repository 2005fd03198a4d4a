#include "common/sqlite.hh"

#include <utility>

namespace nixmon::sqlite {

bool SqliteError::busy() const {
  int primary = code_ & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

Database::Database(const std::string& path, Mode mode) : path_(path) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
    case Mode::read_write:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::create:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case Mode::immutable:
      flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
      break;
  }
  std::string name = path;
  if (mode == Mode::immutable) {
    // A URI: the path's '%', '?' and '#' must be escaped to stay part of the path.
    name = "file:";
    for (char c : path) {
      if (c == '%' || c == '?' || c == '#')
        name += fmt::format("%{:02X}", static_cast<unsigned char>(c));
      else
        name += c;
    }
    name += "?immutable=1";
  }
  int rc = sqlite3_open_v2(name.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw SqliteError(rc, fmt::format("cannot open SQLite database '{}': {}", path, msg));
  }
  sqlite3_extended_result_codes(db_, 1);
}

Database::~Database() {
  // sqlite3_close_v2 defers the close until the last statement is finalized.
  if (db_) sqlite3_close_v2(db_);
}

Database::Database(Database&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}

void Database::fail(int code, std::string_view doing) const {
  throw SqliteError(code,
                    fmt::format("SQLite database '{}': {}: {}", path_, doing, sqlite3_errmsg(db_)));
}

void Database::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    std::string head = s.substr(0, 60);
    throw SqliteError(rc, fmt::format("SQLite database '{}': running '{}': {}", path_, head, msg));
  }
}

Statement Database::prepare(std::string_view sql) const {
  return Statement(*this, sql);
}

std::optional<int64_t> Database::query_int(std::string_view sql) const {
  Statement st(*this, sql);
  if (!st.step()) return std::nullopt;
  return st.column_opt_int(0);
}

void Database::busy_timeout(int ms) {
  sqlite3_busy_timeout(db_, ms);
}

int64_t Database::changes() const {
  return sqlite3_changes64(db_);
}

Statement::Statement(const Database& db, std::string_view sql) : db_(&db) {
  int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) db.fail(rc, fmt::format("preparing '{}'", sql.substr(0, 60)));
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)) {}

Statement& Statement::bind(int i, int64_t v) {
  if (int rc = sqlite3_bind_int64(stmt_, i, v); rc != SQLITE_OK) db_->fail(rc, "binding");
  return *this;
}

Statement& Statement::bind(int i, double v) {
  if (int rc = sqlite3_bind_double(stmt_, i, v); rc != SQLITE_OK) db_->fail(rc, "binding");
  return *this;
}

Statement& Statement::bind(int i, std::string_view v) {
  int rc = sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) db_->fail(rc, "binding");
  return *this;
}

Statement& Statement::bind_null(int i) {
  if (int rc = sqlite3_bind_null(stmt_, i); rc != SQLITE_OK) db_->fail(rc, "binding");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Reset so the statement is usable again after the caller handles the error (e.g. busy).
  sqlite3_reset(stmt_);
  db_->fail(rc, fmt::format("running '{}'", std::string_view(sqlite3_sql(stmt_)).substr(0, 60)));
}

void Statement::run() {
  step();
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int c) const {
  return sqlite3_column_type(stmt_, c) == SQLITE_NULL;
}
int64_t Statement::column_int(int c) const {
  return sqlite3_column_int64(stmt_, c);
}
double Statement::column_double(int c) const {
  return sqlite3_column_double(stmt_, c);
}
std::string Statement::column_text(int c) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
  return p ? std::string(p, sqlite3_column_bytes(stmt_, c)) : std::string();
}
std::optional<int64_t> Statement::column_opt_int(int c) const {
  if (is_null(c)) return std::nullopt;
  return column_int(c);
}
std::optional<std::string> Statement::column_opt_text(int c) const {
  if (is_null(c)) return std::nullopt;
  return column_text(c);
}
int Statement::column_count() const {
  return sqlite3_column_count(stmt_);
}

Transaction::Transaction(Database& db, bool immediate) : db_(db) {
  db_.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // Nothing to do: SQLite already rolled back (e.g. after SQLITE_FULL), or the handle is gone.
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace nixmon::sqlite
