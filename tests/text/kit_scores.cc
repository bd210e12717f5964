#include "kit_scores.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cephalgia/text/context_table.h"

namespace cephalgia::text::testing {
namespace {

double F1(std::size_t tp, std::size_t fp, std::size_t fn) {
  if (tp == 0) return 0.0;
  double precision = static_cast<double>(tp) / static_cast<double>(tp + fp);
  double recall = static_cast<double>(tp) / static_cast<double>(tp + fn);
  return 2 * precision * recall / (precision + recall);
}

}  // namespace

std::string KitPath() {
  return std::string(CEPHALGIA_SHARED_DIR) + "/clinical/context-testkit/dev.tsv";
}

Result<std::vector<KitRow>> LoadKit(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot read " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  CEPHALGIA_ASSIGN_OR_RETURN(ContextTable table, ParseContextTable(buffer.str()));
  std::size_t negation = table.Column("negation"), temporality = table.Column("temporality"),
              experiencer = table.Column("experiencer");
  if (negation == table.header.size() || temporality == table.header.size() ||
      experiencer == table.header.size()) {
    return InvalidArgument(path + ": no negation/temporality/experiencer columns");
  }
  std::vector<KitRow> rows;
  for (const auto& row : table.rows) {
    KitRow kit;
    kit.id = row.field(table.id_column);
    kit.concept_text = row.field(table.concept_column);
    kit.sentence = row.field(table.sentence_column);
    kit.gold.negation = row.field(negation);
    const std::string& t = row.field(temporality);
    kit.gold.temporality = t == "Not particular" ? "Hypothetical" : t;
    const std::string& e = row.field(experiencer);
    kit.gold.experiencer = e == "Patient" ? "Patient" : "Other";
    rows.push_back(std::move(kit));
  }
  return rows;
}

Scores Score(const std::vector<KitRow>& kit, const std::map<std::string, Judgement>& predicted) {
  Scores s;
  s.rows = kit.size();
  std::size_t negation_right = 0, experiencer_right = 0, temporality_right = 0;
  std::size_t neg_tp = 0, neg_fp = 0, neg_fn = 0, hist_tp = 0, hist_fp = 0, hist_fn = 0, hyp_tp = 0,
              hyp_fp = 0, hyp_fn = 0;
  for (const KitRow& row : kit) {
    auto it = predicted.find(row.id);
    Judgement p = it == predicted.end() ? Judgement{"?", "?", "?"} : it->second;
    negation_right += p.negation == row.gold.negation;
    experiencer_right += p.experiencer == row.gold.experiencer;
    temporality_right += p.temporality == row.gold.temporality;
    auto count = [](bool gold, bool pred, std::size_t& tp, std::size_t& fp, std::size_t& fn) {
      if (gold && pred) ++tp;
      if (!gold && pred) ++fp;
      if (gold && !pred) ++fn;
    };
    count(row.gold.negation == "Negated", p.negation == "Negated", neg_tp, neg_fp, neg_fn);
    count(row.gold.temporality == "Historical", p.temporality == "Historical", hist_tp, hist_fp,
          hist_fn);
    count(row.gold.temporality == "Hypothetical", p.temporality == "Hypothetical", hyp_tp, hyp_fp,
          hyp_fn);
  }
  double n = kit.empty() ? 1.0 : static_cast<double>(kit.size());
  s.negation_accuracy = static_cast<double>(negation_right) / n;
  s.experiencer_accuracy = static_cast<double>(experiencer_right) / n;
  s.temporality_accuracy = static_cast<double>(temporality_right) / n;
  s.negated_f1 = F1(neg_tp, neg_fp, neg_fn);
  s.historical_f1 = F1(hist_tp, hist_fp, hist_fn);
  s.hypothetical_f1 = F1(hyp_tp, hyp_fp, hyp_fn);
  return s;
}

std::string Scores::ToString() const {
  char buf[400];
  std::snprintf(buf, sizeof(buf),
                "rows %zu: negation accuracy %.4f, negated F1 %.4f, historical F1 %.4f, "
                "hypothetical F1 %.4f, temporality accuracy %.4f, experiencer accuracy %.4f",
                rows, negation_accuracy, negated_f1, historical_f1, hypothetical_f1,
                temporality_accuracy, experiencer_accuracy);
  return buf;
}

std::string Disagreements(const std::vector<KitRow>& kit,
                          const std::map<std::string, Judgement>& predicted) {
  std::string out;
  for (const KitRow& row : kit) {
    auto it = predicted.find(row.id);
    Judgement p = it == predicted.end() ? Judgement{"?", "?", "?"} : it->second;
    if (p.negation == row.gold.negation && p.temporality == row.gold.temporality &&
        p.experiencer == row.gold.experiencer) {
      continue;
    }
    out += row.id + " [" + row.concept_text + "] gold " + row.gold.negation + "/" +
           row.gold.temporality + "/" + row.gold.experiencer + " ours " + p.negation + "/" +
           p.temporality + "/" + p.experiencer + " :: " + row.sentence.substr(0, 300) + "\n";
  }
  return out;
}

}  // namespace cephalgia::text::testing
