#pragma once
// Streaming RFC 4180 CSV reader and writer, plain or gzip (zlib), with bounded memory: the reader
// holds one chunk of the file plus the current record, never the whole table. The reader also
// reads a database table given as a location "postgresql://...#schema.table" or
// "sqlite:FILE#table" (ingest/db_location.h), streamed as CSV.
//
// Reader conventions:
//  - the first record is the header; a UTF-8 BOM before it is skipped;
//  - records end with LF or CRLF; quoted fields may hold commas, doubled quotes and newlines;
//  - an empty field, quoted or not, is null;
//  - column names must be unique;
//  - a record whose field count differs from the header, an unterminated quote, a character
//    after a closing quote, or a field that is not valid UTF-8 is malformed: Error naming file
//    and line, or counted and skipped when `skip_malformed` is set;
//  - a gzip stream that ends before its trailer (truncated file) is an Error, never a short table.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rawmed {

class ByteSource;

// Offset of the first byte of `text` that is not part of valid UTF-8, or npos.
size_t invalid_utf8_at(std::string_view text);

struct CsvOptions {
  bool skip_malformed = false;
  size_t chunk_bytes = 1 << 20;
};

class CsvReader {
 public:
  explicit CsvReader(std::string path, CsvOptions options = {});
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  const std::vector<std::string>& header() const { return header_; }
  // Index of a header column, or -1.
  int column_index(std::string_view name) const;
  // Reads the next record into fields(); false at the end of the file. The views stay valid
  // until the next call.
  bool next();
  const std::vector<std::string_view>& fields() const { return fields_; }
  std::string_view field(size_t i) const { return fields_[i]; }
  // 1-based line number where the current record starts (the header is line 1).
  int64_t line() const { return record_line_; }
  // 0-based index of the current record among data records (skipped ones included).
  int64_t record_index() const { return record_index_; }
  int64_t skipped_records() const { return skipped_; }
  const std::string& path() const { return path_; }
  int64_t compressed_bytes_read() const;

 private:
  enum class Parse { kRecord, kEnd, kMalformed };
  Parse parse_record(std::string* why);
  bool fill();  // reads more bytes; false at end of input
  int first_invalid_utf8_field() const;
  std::string path_;
  CsvOptions options_;
  std::unique_ptr<ByteSource> source_;  // a file or a database table (ingest/byte_source.h)
  std::string buffer_;      // raw bytes [pos_, end_) not yet parsed
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  std::string scratch_;     // unescaped quoted fields
  std::vector<size_t> scratch_offsets_;
  std::vector<std::string> header_;
  std::vector<std::string_view> fields_;
  int64_t line_ = 1, record_line_ = 0, record_index_ = -1, skipped_ = 0;
};

// Writes RFC 4180 CSV, gzip-compressed when the path ends in .gz. Nulls are written as empty
// fields; fields holding a comma, quote, CR or LF are quoted. Written to a temporary name and
// renamed by close(); destroyed without close() it removes the temporary file.
class CsvWriter {
 public:
  explicit CsvWriter(std::string path, int gzip_level = 6);
  ~CsvWriter();
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;
  void write_row(const std::vector<std::string_view>& fields);
  void write_row(const std::vector<std::string>& fields);
  void close();

 private:
  void append_field(std::string_view field);
  void flush_buffer();
  std::string path_, tmp_path_;
  struct GzOut;
  std::unique_ptr<GzOut> out_;
  std::string buffer_;
  bool closed_ = false;
};

}  // namespace rawmed
