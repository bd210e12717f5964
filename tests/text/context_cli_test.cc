// `cephalgia context` end to end: the real binary on the test kit (output format and the same
// figures as the in-process measurement), stdin, --lexicon, and its errors (exit 2).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cephalgia/text/clinical_text.h"
#include "cephalgia/text/context_table.h"
#include "cephalgia_process.h"
#include "kit_scores.h"

namespace cephalgia::text::testing {
namespace {

using ::cephalgia::test::ProcessResult;
using ::cephalgia::test::RunCephalgia;
using ::testing::HasSubstr;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (true) {
    std::size_t tab = line.find('\t', start);
    fields.push_back(
        line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return fields;
    start = tab + 1;
  }
}

// A file in the test's temporary directory, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/cephalgia-context-XXXXXX";
    int fd = ::mkstemp(name);
    path_ = name;
    if (fd >= 0) {
      ssize_t written = ::write(fd, content.data(), content.size());
      (void)written;
      ::close(fd);
    }
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ContextCliTest, JudgesTheKitWithTheSameFiguresAsTheLibrary) {
  auto kit = LoadKit(KitPath());
  ASSERT_TRUE(kit.ok()) << kit.status().ToString();
  ProcessResult run = RunCephalgia({"context", KitPath()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), kit->size() + 1);
  EXPECT_EQ(lines[0], "id\tnegation\ttemporality\texperiencer");
  std::map<std::string, Judgement> predicted;
  for (std::size_t k = 1; k < lines.size(); ++k) {
    std::vector<std::string> f = Fields(lines[k]);
    ASSERT_EQ(f.size(), 4u) << lines[k];
    EXPECT_EQ(f[0], (*kit)[k - 1].id) << "rows keep the input order";
    EXPECT_THAT(f[1], ::testing::AnyOf("Affirmed", "Negated"));
    EXPECT_THAT(f[2], ::testing::AnyOf("Recent", "Historical", "Hypothetical"));
    EXPECT_THAT(f[3], ::testing::AnyOf("Patient", "Other"));
    predicted[f[0]] = {f[1], f[2], f[3]};
  }
  Scores cli = Score(*kit, predicted);
  std::cout << "[kit via cephalgia context] " << cli.ToString() << "\n";
  EXPECT_GT(cli.negation_accuracy, 0.98);
  EXPECT_GE(cli.historical_f1, 0.75);

  // Exactly the library's judgement.
  auto rules = ContextRules::Default();
  for (const KitRow& row : *kit) {
    Context c =
        JudgeLocated(row.sentence, LocateConcept(row.sentence, row.concept_text, *rules), *rules);
    const Judgement& p = predicted[row.id];
    EXPECT_EQ(p.negation, NegationName(c.negation)) << row.id;
    EXPECT_EQ(p.temporality, TemporalityName(c.temporality)) << row.id;
    EXPECT_EQ(p.experiencer, ExperiencerName(c.experiencer)) << row.id;
  }
  // Concepts the kit spells differently from their sentence are reported, not dropped.
  EXPECT_THAT(run.err, HasSubstr("not found in its sentence"));
  EXPECT_THAT(run.err, HasSubstr("partly found"));
}

TEST(ContextCliTest, ReadsStdinAndReportsAConceptItCannotFind) {
  ProcessResult run = RunCephalgia({"context", "-"},
                                   "id\tconcept\tsentence\tnote\n"
                                   "a\tpapilloedema\tFundi: no papilledema.\tx\n"
                                   "b\tSAH\tFamily history: mother had SAH at 50.\t\n"
                                   "c\tfever\tReturn if fever develops.\n"
                                   "d\tmigraine\tHistory of migraine.\n"
                                   "e\tthunderclap\tWorst headache of her life.\n");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out,
            "id\tnegation\ttemporality\texperiencer\n"
            "a\tNegated\tRecent\tPatient\n"
            "b\tAffirmed\tRecent\tOther\n"
            "c\tAffirmed\tHypothetical\tPatient\n"
            "d\tAffirmed\tHistorical\tPatient\n"
            "e\tAffirmed\tRecent\tPatient\n");
  EXPECT_THAT(run.err, HasSubstr("line 6 (id e): concept \"thunderclap\" not found"));
}

TEST(ContextCliTest, BadInputIsExitTwoWithAReason) {
  ProcessResult empty = RunCephalgia({"context", "-"}, "");
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_THAT(empty.err, HasSubstr("no header line"));

  ProcessResult no_column = RunCephalgia({"context", "-"}, "id\tphrase\tsentence\n1\tx\ty\n");
  EXPECT_EQ(no_column.exit_code, 2);
  EXPECT_THAT(no_column.err, HasSubstr("`concept`"));

  ProcessResult short_row = RunCephalgia({"context", "-"}, "id\tconcept\tsentence\n1\tx\n");
  EXPECT_EQ(short_row.exit_code, 2);
  EXPECT_THAT(short_row.err, HasSubstr("line 2"));

  ProcessResult missing = RunCephalgia({"context", "/nonexistent/kit.tsv"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("cannot read /nonexistent/kit.tsv"));

  ProcessResult no_file = RunCephalgia({"context"});
  EXPECT_EQ(no_file.exit_code, 2);
  EXPECT_THAT(no_file.err, HasSubstr("Usage: cephalgia context"));

  TempFile bad_lexicon("{\"version\": \"x\", \"triggers\": 3}");
  ProcessResult bad =
      RunCephalgia({"context", "--lexicon", bad_lexicon.path(), "-"}, "id\tconcept\tsentence\n");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("/"));
  EXPECT_THAT(bad.err, HasSubstr(bad_lexicon.path()));
}

TEST(ContextCliTest, UsesTheLexiconItIsGiven) {
  // The built-in lexicon without "denies": the same sentence is no longer negated.
  std::string json(ContextRules::DefaultJsonText());
  std::size_t at = json.find("\"denies\",");
  ASSERT_NE(at, std::string::npos);
  json.erase(at, std::string("\"denies\",").size());
  TempFile lexicon(json);
  const std::string table = "id\tconcept\tsentence\n1\tfever\tShe denies fever.\n";
  EXPECT_EQ(RunCephalgia({"context", "-"}, table).out,
            "id\tnegation\ttemporality\texperiencer\n1\tNegated\tRecent\tPatient\n");
  ProcessResult custom = RunCephalgia({"context", "--lexicon", lexicon.path(), "-"}, table);
  ASSERT_EQ(custom.exit_code, 0) << custom.err;
  EXPECT_EQ(custom.out, "id\tnegation\ttemporality\texperiencer\n1\tAffirmed\tRecent\tPatient\n");
}

}  // namespace
}  // namespace cephalgia::text::testing
