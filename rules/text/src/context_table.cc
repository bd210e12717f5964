#include "cephalgia/text/context_table.h"

#include <algorithm>

namespace cephalgia::text {
namespace {

std::vector<std::string> SplitTabs(std::string_view line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (true) {
    std::size_t tab = line.find('\t', start);
    fields.emplace_back(
        line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Runs of blanks as one space, ends trimmed.
std::string Collapse(std::string_view s) {
  std::string out;
  bool blank = false;
  for (char c : s) {
    if (IsBlank(c)) {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out.push_back(' ');
    blank = false;
    out.push_back(c);
  }
  return out;
}

bool HasLower(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}
bool HasUpper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace

std::size_t ContextTable::Column(std::string_view name) const {
  for (std::size_t k = 0; k < header.size(); ++k) {
    if (header[k] == name) return k;
  }
  return header.size();
}

Result<ContextTable> ParseContextTable(std::string_view tsv) {
  ContextTable table;
  std::size_t pos = 0, line_number = 0;
  bool have_header = false;
  std::size_t needed = 0;
  while (pos < tsv.size()) {
    std::size_t newline = tsv.find('\n', pos);
    std::string_view line =
        tsv.substr(pos, newline == std::string_view::npos ? std::string_view::npos : newline - pos);
    pos = newline == std::string_view::npos ? tsv.size() : newline + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (!have_header) {
      table.header = SplitTabs(line);
      for (std::string& name : table.header) name = Collapse(name);
      table.id_column = table.Column("id");
      table.concept_column = table.Column("concept");
      table.sentence_column = table.Column("sentence");
      for (auto [name, index] : {std::pair<const char*, std::size_t>{"id", table.id_column},
                                 {"concept", table.concept_column},
                                 {"sentence", table.sentence_column}}) {
        if (index == table.header.size()) {
          return InvalidArgument("line " + std::to_string(line_number) + ": the header names no `" +
                                     name +
                                     "` column (a tab-separated header line with id, concept "
                                     "and sentence is required)",
                                 "line " + std::to_string(line_number));
        }
      }
      needed = std::max({table.id_column, table.concept_column, table.sentence_column}) + 1;
      have_header = true;
      continue;
    }
    ContextTable::Row row;
    row.line = line_number;
    row.fields = SplitTabs(line);
    if (row.fields.size() < needed) {
      return InvalidArgument("line " + std::to_string(line_number) + ": " +
                                 std::to_string(row.fields.size()) + " tab-separated fields, " +
                                 std::to_string(needed) + " needed for id, concept and sentence",
                             "line " + std::to_string(line_number));
    }
    table.rows.push_back(std::move(row));
  }
  if (!have_header) return InvalidArgument("no header line (the input is empty)");
  return table;
}

LocatedConcept LocateConcept(std::string_view sentence, std::string_view concept_phrase,
                             const ContextRules& rules) {
  LocatedConcept located;
  auto all = FindPhraseAll(sentence, concept_phrase, rules);
  if (!all.empty()) {
    located.how = LocatedConcept::How::kExact;
    std::string wanted = Collapse(concept_phrase);
    const bool sentence_mixed_case = HasLower(sentence);
    const std::pair<std::size_t, std::size_t>* best = &all.front();
    int best_rank = 3;
    for (const auto& occurrence : all) {
      std::string_view written =
          sentence.substr(occurrence.first, occurrence.second - occurrence.first);
      int rank = 2;
      if (Collapse(written) == wanted) {
        rank = 0;
      } else if (sentence_mixed_case && HasUpper(written) && !HasLower(written)) {
        rank = 1;
      }
      if (rank < best_rank) {
        best_rank = rank;
        best = &occurrence;
      }
    }
    located.begin = best->first;
    located.end = best->second;
    return located;
  }
  if (auto partial = FindPhrasePrefix(sentence, concept_phrase, rules)) {
    located.how = LocatedConcept::How::kPartial;
    located.begin = partial->begin;
    located.end = partial->end;
    located.words_matched = partial->words_matched;
    located.words_in_phrase = partial->words_in_phrase;
  }
  return located;
}

Context JudgeLocated(std::string_view sentence, const LocatedConcept& located,
                     const ContextRules& rules) {
  if (located.how == LocatedConcept::How::kNotFound) return Context{};
  return JudgeSpan(sentence, located.begin, located.end, rules);
}

}  // namespace cephalgia::text
