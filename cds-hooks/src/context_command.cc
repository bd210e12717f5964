#include "context_command.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "cephalgia/text/clinical_text.h"
#include "cephalgia/text/context_table.h"

namespace cephalgia::cli {

const char kContextHelp[] =
    R"(Usage: cephalgia context [--lexicon FILE] FILE|-

Reads a tab-separated table whose first line names its columns (at least id, concept and
sentence; other columns, such as the test kit's note and reference labels, are ignored), finds
each concept in its sentence and judges it with ConText, as the rule packs read clinical text.
Prints a tab-separated table on stdout:

  id  negation (Affirmed|Negated)  temporality (Recent|Historical|Hypothetical)  experiencer (Patient|Other)

A concept that is not in its sentence word for word is judged on the longest leading part of it
that is, and a concept not found at all is printed as Affirmed/Recent/Patient; both are reported
on stderr as "cephalgia context: line N (id X): ...".

  --lexicon FILE   a context lexicon to use instead of the built-in one (same JSON format as
                   rules/text/context-lexicon.json); it is validated first

Exit status: 0 done; 2 bad arguments, an unreadable file, a missing header or column, or an
invalid lexicon.
)";

namespace {

bool ReadAll(const std::string& path, std::string* out) {
  if (path == "-") {
    out->assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return !std::cin.bad();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

int Usage(const std::string& message) {
  std::cerr << "cephalgia context: " << message << "\n\n" << kContextHelp;
  return 2;
}

}  // namespace

int RunContext(const std::vector<std::string>& args) {
  std::string input, lexicon_path;
  for (std::size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    if (arg == "--help" || arg == "-h") {
      std::cout << kContextHelp;
      return 0;
    }
    if (arg == "--lexicon") {
      if (k + 1 == args.size()) return Usage("--lexicon needs a file");
      lexicon_path = args[++k];
    } else if (arg.rfind("--lexicon=", 0) == 0) {
      lexicon_path = arg.substr(10);
    } else if (arg.size() > 1 && arg[0] == '-') {
      return Usage("unknown option " + arg);
    } else if (input.empty()) {
      input = arg;
    } else {
      return Usage("one input file only");
    }
  }
  if (input.empty()) return Usage("an input file (or - for stdin) is required");

  std::shared_ptr<const text::ContextRules> rules = text::ContextRules::Default();
  if (!lexicon_path.empty()) {
    std::string json;
    if (!ReadAll(lexicon_path, &json)) {
      std::cerr << "cephalgia context: cannot read the lexicon " << lexicon_path << "\n";
      return 2;
    }
    auto loaded = text::ContextRules::FromJsonText(json);
    if (!loaded.ok()) {
      std::cerr << "cephalgia context: " << lexicon_path << ": " << loaded.status().message()
                << "\n";
      return 2;
    }
    rules = *loaded;
  }

  std::string tsv;
  if (!ReadAll(input, &tsv)) {
    std::cerr << "cephalgia context: cannot read " << input << "\n";
    return 2;
  }
  auto table = text::ParseContextTable(tsv);
  if (!table.ok()) {
    std::cerr << "cephalgia context: " << (input == "-" ? "stdin" : input) << ": "
              << table.status().message() << "\n";
    return 2;
  }

  std::ostringstream out;
  out << "id\tnegation\ttemporality\texperiencer\n";
  for (const auto& row : table->rows) {
    const std::string& id = row.field(table->id_column);
    const std::string& sentence = row.field(table->sentence_column);
    const std::string& concept_text = row.field(table->concept_column);
    text::LocatedConcept located = text::LocateConcept(sentence, concept_text, *rules);
    std::string where = "line " + std::to_string(row.line) + " (id " + id + ")";
    if (located.how == text::LocatedConcept::How::kPartial) {
      std::cerr << "cephalgia context: " << where << ": concept \"" << concept_text
                << "\" partly found (its first " << located.words_matched << " of "
                << located.words_in_phrase << " words); judged on those\n";
    } else if (located.how == text::LocatedConcept::How::kNotFound) {
      std::cerr << "cephalgia context: " << where << ": concept \"" << concept_text
                << "\" not found in its sentence; printed as Affirmed/Recent/Patient\n";
    }
    text::Context context = text::JudgeLocated(sentence, located, *rules);
    out << id << '\t' << text::NegationName(context.negation) << '\t'
        << text::TemporalityName(context.temporality) << '\t'
        << text::ExperiencerName(context.experiencer) << '\n';
  }
  std::cout << out.str();
  std::cout.flush();
  return 0;
}

}  // namespace cephalgia::cli
