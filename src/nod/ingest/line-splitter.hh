#pragma once
// Splits a byte stream into '\n'-terminated lines without copying them, with a hard bound on the
// memory one line may take. Every line handed out is followed by at least SIMDJSON_PADDING
// readable bytes, so simdjson can parse it in place.
//
// A line longer than `max_line` is not buffered: the splitter skips to its end and reports it
// once (Handler::too_long()). Not thread-safe: one splitter per connection.
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace nixmon::nod {

class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line, size_t initial = 64 * 1024)
      : max_line_(std::max<size_t>(max_line, 16)),
        buf_(std::min(initial, max_line_ + 1) + simdjson::SIMDJSON_PADDING) {}

  // Where the next read() should put its bytes. Never empty.
  std::span<char> writable() {
    if (end_ == usable()) {
      if (begin_ > 0) {
        compact();
      } else {
        // A partial line fills the buffer: grow up to the limit, then skip the line.
        size_t want = std::min(usable() * 2, max_line_ + 1);
        if (want > usable()) {
          buf_.resize(want + simdjson::SIMDJSON_PADDING);
        } else {
          skipping_ = true;
          begin_ = end_ = 0;
        }
      }
    }
    return {buf_.data() + end_, usable() - end_};
  }

  // `n` bytes were written at writable(). Calls handler.line(line, capacity) for each complete
  // line (without '\n'; capacity counts the readable bytes from line.data()), and
  // handler.too_long() once per skipped line.
  template <typename Handler>
  void commit(size_t n, Handler& handler) {
    size_t scan = end_;
    end_ += n;
    while (scan < end_) {
      char* nl = static_cast<char*>(std::memchr(buf_.data() + scan, '\n', end_ - scan));
      if (!nl) break;
      size_t pos = nl - buf_.data();
      if (skipping_) {
        skipping_ = false;
        handler.too_long();
      } else if (pos - begin_ > max_line_) {
        handler.too_long();
      } else {
        handler.line(std::string_view(buf_.data() + begin_, pos - begin_), buf_.size() - begin_);
      }
      begin_ = scan = pos + 1;
    }
    if (skipping_) begin_ = end_ = 0;  // drop the skipped line's bytes as they come
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // End of stream: a last line without '\n' is still a line.
  template <typename Handler>
  void finish(Handler& handler) {
    if (skipping_) {
      skipping_ = false;
      handler.too_long();
    } else if (end_ > begin_) {
      handler.line(std::string_view(buf_.data() + begin_, end_ - begin_), buf_.size() - begin_);
    }
    begin_ = end_ = 0;
  }

  size_t allocated() const { return buf_.size(); }

 private:
  size_t usable() const { return buf_.size() - simdjson::SIMDJSON_PADDING; }
  void compact() {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }

  size_t max_line_;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;
  bool skipping_ = false;
};

}  // namespace nixmon::nod
