// Plain-text tables: a header row, columns padded to their widest cell and
// separated by two spaces, numeric columns right-aligned.  No colour, no
// box drawing: the output reads the same in a terminal, a pipe or a log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tdpwatch::cli {

class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = Align::kLeft;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  // Missing cells are blank; extra cells are an error of the caller (dropped).
  void add_row(std::vector<std::string> cells);
  std::size_t rows() const { return rows_.size(); }

  // Every line ends with '\n'; trailing blanks are trimmed.  max_width > 0
  // cuts each line to that many characters (watch, on a narrow terminal).
  std::string render(std::size_t max_width = 0) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// "0x1f": how addresses, keys, gfns and pfns are shown in tables.
std::string hex(std::uint64_t v);

}  // namespace tdpwatch::cli
