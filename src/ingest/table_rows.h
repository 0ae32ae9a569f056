#pragma once
// The rows of one event table kept by prepare (cohort stays, inside the window), stored compactly:
// all field bytes in one arena, so memory grows with the output, not with the input table.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace rawmed {

struct TableRows {
  std::vector<std::string> header;
  std::string arena;
  std::vector<uint64_t> row_begin;     // arena offset of each row's first field
  std::vector<uint32_t> field_end;     // per row, header.size() end offsets relative to row_begin
  std::vector<int32_t> stay;           // cohort stay index
  std::vector<int32_t> minute;         // minutes since ICU admission
  std::vector<int64_t> source_row;     // 0-based data record index in the file

  size_t size() const { return stay.size(); }
  void add(const std::vector<std::string_view>& fields, int32_t stay_index, int32_t minutes, int64_t source) {
    row_begin.push_back(arena.size());
    for (auto f : fields) {
      arena.append(f);
      field_end.push_back(static_cast<uint32_t>(arena.size() - row_begin.back()));
    }
    stay.push_back(stay_index);
    minute.push_back(minutes);
    source_row.push_back(source);
  }
  // Keeps the rows whose stay maps to a non-negative index in `remap`, renumbering their stays;
  // compacts in place so that no second copy of the table is made.
  void keep_stays(const std::vector<int32_t>& remap) {
    size_t n_fields = header.size(), out = 0;
    uint64_t arena_out = 0;
    for (size_t r = 0; r < size(); ++r) {
      if (remap[stay[r]] < 0) continue;
      uint64_t bytes = n_fields ? field_end[r * n_fields + n_fields - 1] : 0;
      if (arena_out != row_begin[r]) std::memmove(arena.data() + arena_out, arena.data() + row_begin[r], bytes);
      std::memmove(&field_end[out * n_fields], &field_end[r * n_fields], n_fields * sizeof(uint32_t));
      row_begin[out] = arena_out;
      stay[out] = remap[stay[r]];
      minute[out] = minute[r];
      source_row[out] = source_row[r];
      arena_out += bytes;
      ++out;
    }
    arena.resize(arena_out);
    row_begin.resize(out);
    field_end.resize(out * n_fields);
    stay.resize(out);
    minute.resize(out);
    source_row.resize(out);
  }
  std::string_view field(size_t row, size_t column) const {
    const uint32_t* ends = &field_end[row * header.size()];
    uint32_t begin = column == 0 ? 0 : ends[column - 1];
    return std::string_view(arena).substr(row_begin[row] + begin, ends[column] - begin);
  }
};

}  // namespace rawmed
