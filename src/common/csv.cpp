#include "common/csv.h"

#include "common/error.h"
#include "ingest/byte_source.h"

#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace rawmed {

size_t invalid_utf8_at(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // ASCII runs are the common case: skip them eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, bytes + i, 8);
      if (word & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char c = bytes[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
    size_t length;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) length = 2;
    else if (c == 0xE0) length = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) length = 3;
    else if (c == 0xED) length = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF) length = 3;
    else if (c == 0xF0) length = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) length = 4;
    else if (c == 0xF4) length = 4, hi = 0x8F;
    else return i;
    if (i + length > n) return i;
    if (bytes[i + 1] < lo || bytes[i + 1] > hi) return i;
    for (size_t k = 2; k < length; ++k)
      if (bytes[i + k] < 0x80 || bytes[i + k] > 0xBF) return i;
    i += length;
  }
  return std::string::npos;
}

CsvReader::CsvReader(std::string path, CsvOptions options)
    : path_(std::move(path)), options_(options), source_(open_byte_source(path_)) {
  buffer_.resize(options_.chunk_bytes);
  if (!fill()) fail("{}: empty file (no header line)", path_);
  if (end_ - pos_ >= 3 && std::memcmp(buffer_.data() + pos_, "\xEF\xBB\xBF", 3) == 0) pos_ += 3;
  std::string why;
  Parse result = parse_record(&why);
  if (result == Parse::kEnd) fail("{}: empty file (no header line)", path_);
  if (result == Parse::kMalformed) fail("{}:{}: malformed header: {}", path_, record_line_, why);
  for (auto f : fields_) header_.emplace_back(f);
  if (header_.size() == 1 && header_[0].empty()) fail("{}: empty header line", path_);
  for (size_t i = 0; i < header_.size(); ++i) {
    if (size_t bad = invalid_utf8_at(header_[i]); bad != std::string::npos)
      fail("{}:1: header column {}: invalid UTF-8 at byte {}", path_, i + 1, bad);
    for (size_t j = 0; j < i; ++j)
      if (header_[j] == header_[i])
        fail("{}:1: duplicate column name '{}' (columns {} and {}): a column must be named once", path_, header_[i],
             j + 1, i + 1);
  }
  record_index_ = -1;
}

CsvReader::~CsvReader() = default;

int CsvReader::column_index(std::string_view name) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) return static_cast<int>(i);
  return -1;
}

int64_t CsvReader::compressed_bytes_read() const { return source_->bytes_read(); }

bool CsvReader::fill() {
  if (eof_) return false;
  // Keep the unparsed tail, move it to the front, grow if a single record fills the buffer.
  size_t keep = end_ - pos_;
  if (pos_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + pos_, keep);
    pos_ = 0;
    end_ = keep;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
  size_t n = source_->read(buffer_.data() + end_, buffer_.size() - end_, line_);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

// Parses one record starting at pos_. Fields are views into buffer_ (unquoted) or scratch_
// (quoted). Because fill() may move buffer_, field boundaries are kept as offsets until the
// record is complete.
CsvReader::Parse CsvReader::parse_record(std::string* why) {
  struct Span {
    bool in_scratch;
    size_t begin, end;
  };
  static thread_local std::vector<Span> spans;
  spans.clear();
  scratch_.clear();
  size_t start = pos_;  // offset of the record start in buffer_ (adjusted after fill)
  size_t i = pos_;
  record_line_ = line_;
  // fill() moves the unparsed bytes [pos_, end_) to offset 0: shift every offset held.
  auto refill = [&]() -> bool {
    size_t shift = start;
    pos_ = start;
    bool more = fill();
    for (auto& s : spans)
      if (!s.in_scratch) s.begin -= shift, s.end -= shift;
    i -= shift;
    start = 0;
    return more;
  };
  if (i >= end_ && !refill()) return Parse::kEnd;
  // Fast path: a complete line in the buffer without quotes is split with memchr.
  if (const char* nl = static_cast<const char*>(std::memchr(buffer_.data() + i, '\n', end_ - i))) {
    const char* begin = buffer_.data() + i;
    if (!std::memchr(begin, '"', static_cast<size_t>(nl - begin))) {
      const char* line_end = (nl > begin && nl[-1] == '\r') ? nl - 1 : nl;
      fields_.clear();
      const char* field = begin;
      while (const char* comma = static_cast<const char*>(std::memchr(field, ',', static_cast<size_t>(line_end - field)))) {
        fields_.emplace_back(field, static_cast<size_t>(comma - field));
        field = comma + 1;
      }
      fields_.emplace_back(field, static_cast<size_t>(line_end - field));
      pos_ = static_cast<size_t>(nl + 1 - buffer_.data());
      ++line_;
      return Parse::kRecord;
    }
  }
  while (true) {
    // At the start of a field.
    if (i >= end_ && !refill()) {
      spans.push_back({false, i, i});
      break;
    }
    if (buffer_[i] == '"') {
      ++i;
      size_t scratch_begin = scratch_.size();
      while (true) {
        if (i >= end_ && !refill()) {
          *why = "unterminated quoted field";
          pos_ = end_;
          return Parse::kMalformed;
        }
        char c = buffer_[i];
        if (c == '"') {
          if (i + 1 >= end_ && !refill()) {
            ++i;
            break;
          }
          if (buffer_[i + 1] == '"') {
            scratch_.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (c == '\n') ++line_;
        scratch_.push_back(c);
        ++i;
      }
      spans.push_back({true, scratch_begin, scratch_.size()});
      if (i >= end_ && !refill()) break;
      char c = buffer_[i];
      if (c == ',') {
        ++i;
        continue;
      }
      if (c == '\r' && (i + 1 < end_ || refill()) && i + 1 < end_ && buffer_[i + 1] == '\n') {
        i += 2;
        ++line_;
        break;
      }
      if (c == '\n') {
        ++i;
        ++line_;
        break;
      }
      *why = fmt::format("unexpected character '{}' after closing quote in field {}", c, spans.size());
      // Skip to the end of the line so the next record can be read.
      while ((i < end_ || refill()) && buffer_[i] != '\n') ++i;
      if (i < end_) ++i, ++line_;
      pos_ = i;
      return Parse::kMalformed;
    }
    size_t begin = i;
    while (true) {
      if (i >= end_) {
        size_t offset = i - begin;
        bool more = refill();
        begin = i - offset;
        if (!more) break;
      }
      char c = buffer_[i];
      if (c == ',' || c == '\n') break;
      ++i;
    }
    size_t end = i;
    bool last_field = i >= end_ || buffer_[i] == '\n';
    if (last_field && end > begin && buffer_[end - 1] == '\r') --end;
    spans.push_back({false, begin, end});
    if (i >= end_) break;
    if (buffer_[i] == ',') {
      ++i;
      continue;
    }
    ++i;  // '\n'
    ++line_;
    break;
  }
  pos_ = i;
  fields_.clear();
  for (const auto& s : spans) {
    const std::string& base = s.in_scratch ? scratch_ : buffer_;
    fields_.emplace_back(base.data() + s.begin, s.end - s.begin);
  }
  return Parse::kRecord;
}

int CsvReader::first_invalid_utf8_field() const {
  // Unquoted records are one run of the buffer: check it whole, and field by field only on failure.
  const char* first = fields_.front().data();
  const char* last = fields_.back().data() + fields_.back().size();
  if (first >= buffer_.data() && last <= buffer_.data() + buffer_.size() && first <= last &&
      invalid_utf8_at(std::string_view(first, static_cast<size_t>(last - first))) == std::string::npos)
    return -1;
  for (size_t i = 0; i < fields_.size(); ++i)
    if (invalid_utf8_at(fields_[i]) != std::string::npos) return static_cast<int>(i);
  return -1;
}

bool CsvReader::next() {
  while (true) {
    std::string why;
    Parse result = parse_record(&why);
    if (result == Parse::kEnd) return false;
    ++record_index_;
    if (result == Parse::kRecord) {
      // Blank lines are not records.
      if (fields_.size() == 1 && fields_[0].empty() && header_.size() > 1) {
        --record_index_;
        continue;
      }
      if (fields_.size() != header_.size()) {
        why = fmt::format("expected {} fields (header), found {}", header_.size(), fields_.size());
      } else if (int bad = first_invalid_utf8_field(); bad >= 0) {
        why = fmt::format("field '{}': invalid UTF-8 at byte {}", header_[bad], invalid_utf8_at(fields_[bad]));
      } else {
        return true;
      }
    }
    if (!options_.skip_malformed) fail("{}:{}: malformed CSV record: {}", path_, record_line_, why);
    ++skipped_;
  }
}

struct CsvWriter::GzOut {
  gzFile gz = nullptr;
  FILE* plain = nullptr;
};

CsvWriter::CsvWriter(std::string path, int gzip_level) : path_(std::move(path)), out_(std::make_unique<GzOut>()) {
  std::filesystem::path p(path_);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  tmp_path_ = path_ + ".tmp-" + std::to_string(::getpid());
  bool gz = path_.size() > 3 && path_.compare(path_.size() - 3, 3, ".gz") == 0;
  if (gz) {
    std::string mode = "wb" + std::to_string(gzip_level);
    out_->gz = gzopen(tmp_path_.c_str(), mode.c_str());
  } else {
    out_->plain = std::fopen(tmp_path_.c_str(), "wb");
  }
  if (!out_->gz && !out_->plain) fail("{}: cannot open for writing", tmp_path_);
}

CsvWriter::~CsvWriter() {
  if (!closed_) {
    if (out_->gz) gzclose(out_->gz);
    if (out_->plain) std::fclose(out_->plain);
    std::remove(tmp_path_.c_str());
  }
}

void CsvWriter::append_field(std::string_view field) {
  bool quote = field.find_first_of(",\"\r\n") != std::string_view::npos;
  if (!quote) {
    buffer_.append(field);
    return;
  }
  buffer_.push_back('"');
  for (char c : field) {
    if (c == '"') buffer_.push_back('"');
    buffer_.push_back(c);
  }
  buffer_.push_back('"');
}

void CsvWriter::write_row(const std::vector<std::string_view>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) buffer_.push_back(',');
    append_field(fields[i]);
  }
  buffer_.push_back('\n');
  if (buffer_.size() > (1 << 20)) flush_buffer();
}

void CsvWriter::write_row(const std::vector<std::string>& fields) {
  std::vector<std::string_view> views(fields.begin(), fields.end());
  write_row(views);
}

void CsvWriter::flush_buffer() {
  if (buffer_.empty()) return;
  bool ok = out_->gz ? gzwrite(out_->gz, buffer_.data(), static_cast<unsigned>(buffer_.size())) ==
                           static_cast<int>(buffer_.size())
                     : std::fwrite(buffer_.data(), 1, buffer_.size(), out_->plain) == buffer_.size();
  if (!ok) fail("{}: write failed (disk full?)", tmp_path_);
  buffer_.clear();
}

void CsvWriter::close() {
  if (closed_) return;
  flush_buffer();
  int rc = out_->gz ? gzclose(out_->gz) : std::fclose(out_->plain);
  out_->gz = nullptr;
  out_->plain = nullptr;
  if (rc != 0) fail("{}: close failed", tmp_path_);
  std::filesystem::rename(tmp_path_, path_);
  closed_ = true;
}

}  // namespace rawmed
