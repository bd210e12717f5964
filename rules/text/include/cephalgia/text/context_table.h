// File: context_table.h
//
// The table `cephalgia context` reads: tab-separated values whose first line names the columns,
// at least `id`, `concept` and `sentence` (the NegEx/ConText test kit's layout; other columns
// are carried along and ignored). Each concept is located in its sentence and judged with
// JudgeSpan, the same judgement FindMentions makes.
//
//   CEPHALGIA_ASSIGN_OR_RETURN(ContextTable table, ParseContextTable(tsv));
//   for (const auto& row : table.rows) {
//     LocatedConcept at = LocateConcept(row.field(table.sentence_column),
//     row.field(table.concept_column), rules); Context c =
//     JudgeLocated(row.field(table.sentence_column), at, rules);
//   }
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/status.h"
#include "cephalgia/text/clinical_text.h"

namespace cephalgia::text {

struct ContextTable {
  struct Row {
    std::size_t line = 0;  // 1-based line number in the input
    std::vector<std::string> fields;
    const std::string& field(std::size_t column) const {
      static const std::string kEmpty;
      return column < fields.size() ? fields[column] : kEmpty;
    }
  };
  std::vector<std::string> header;
  std::size_t id_column = 0, concept_column = 0, sentence_column = 0;
  std::vector<Row> rows;
  // The index of a column by name; header.size() when absent.
  std::size_t Column(std::string_view name) const;
};

// Errors (kInvalidArgument): empty input, a header without `id`, `concept` or `sentence`, or a
// row with fewer fields than the header needs for them (the message names the line). Blank lines
// are skipped; "\r\n" line ends are accepted.
Result<ContextTable> ParseContextTable(std::string_view tsv);

struct LocatedConcept {
  enum class How { kExact, kPartial, kNotFound };
  How how = How::kNotFound;
  std::size_t begin = 0, end = 0;
  std::size_t words_matched = 0, words_in_phrase = 0;  // for kPartial
};

// Where the concept is in its sentence. Among several occurrences it prefers the one written
// exactly as the concept (case and spacing aside from runs of blanks), then one written in
// capitals in a sentence that is not all capitals (the test kit marks its concept so), then the
// first. When the whole concept is not there, the longest leading part of it that is (kPartial);
// kNotFound when not even its first word is.
LocatedConcept LocateConcept(std::string_view sentence, std::string_view concept_phrase,
                             const ContextRules& rules);

// The context of a located concept; the default context (affirmed, recent, patient) when it
// was not found.
Context JudgeLocated(std::string_view sentence, const LocatedConcept& located,
                     const ContextRules& rules);

}  // namespace cephalgia::text
