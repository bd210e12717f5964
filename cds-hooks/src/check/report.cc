// The three report formats of `cephalgia check`: text (for people), JSON (for tools) and JUnit
// XML (so a CI server shows each check as a test).
#include <sstream>

#include "cephalgia/json.h"
#include "checker.h"

namespace cephalgia::check {
namespace {

std::string Label(const CheckResult& r) {
  std::string s = r.title;
  if (!r.subject.empty()) s += " [" + r.subject + "]";
  return s;
}

std::string EvidenceLine(const Evidence& e) {
  std::string s = e.request;
  if (e.status != 0) s += " -> " + std::to_string(e.status);
  if (!e.pointer.empty()) s += " at " + e.pointer;
  if (!e.message.empty()) s += ": " + e.message;
  return s;
}

std::string Quoted(const std::string& s) {
  std::string out;
  json::AppendQuotedJsonString(s, &out);
  return out;
}

std::string Xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // XML 1.0 allows no control characters but tab, newline and carriage return.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += ' ';
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

std::string Summary(const CheckRun& run) {
  std::ostringstream s;
  s << run.results.size() << " checks: " << run.Count(Outcome::kPass) << " passed, "
    << run.Count(Outcome::kFail) << " failed (" << run.FailedWith(Force::kMust) << " MUST, "
    << run.FailedWith(Force::kShould) << " SHOULD), " << run.Count(Outcome::kNotApplicable)
    << " not applicable";
  return s.str();
}

}  // namespace

std::string TextReport(const CheckRun& run) {
  std::ostringstream out;
  out << "cephalgia check " << run.base_url << "\n";
  out << "CDS Hooks 2.0 service checks; items refer to ../shared/cds-hooks/checklist.md\n";
  for (const std::string& n : run.notes) out << "  " << n << "\n";
  out << "\n";
  for (const CheckResult& r : run.results) {
    std::string outcome = r.outcome == Outcome::kPass   ? "PASS"
                          : r.outcome == Outcome::kFail ? "FAIL"
                                                        : "N/A ";
    std::string number = std::to_string(r.number);
    out << (number.size() < 3 ? std::string(3 - number.size(), ' ') : "") << number << "  "
        << outcome << "  " << r.item << " " << ForceName(r.force) << "  " << Label(r) << "\n";
    if (r.outcome == Outcome::kFail) {
      for (const Evidence& e : r.evidence) out << "            " << EvidenceLine(e) << "\n";
      if (r.evidence_left_out > 0) {
        out << "            ... and " << r.evidence_left_out << " more\n";
      }
    } else if (!r.note.empty()) {
      out << "            " << r.note << "\n";
    }
  }
  out << "\n" << Summary(run) << " in " << static_cast<long>(run.duration_ms) << " ms.\n";
  out << (run.MustFailed()                ? "RESULT: FAIL (a MUST is not met)\n"
          : run.Count(Outcome::kFail) > 0 ? "RESULT: PASS with SHOULD failures\n"
                                          : "RESULT: PASS\n");
  return out.str();
}

std::string JsonReport(const CheckRun& run) {
  std::string out =
      "{\"tool\":\"cephalgia "
      "check\",\"checklist\":\"../shared/cds-hooks/checklist.md\",\"baseUrl\":" +
      Quoted(run.base_url) + ",\"startedAt\":" + Quoted(run.started_at) +
      ",\"durationMs\":" + std::to_string(static_cast<long>(run.duration_ms)) + ",\"notes\":[";
  for (std::size_t i = 0; i < run.notes.size(); ++i) out += (i ? "," : "") + Quoted(run.notes[i]);
  out += "],\"summary\":{\"checks\":" + std::to_string(run.results.size()) +
         ",\"passed\":" + std::to_string(run.Count(Outcome::kPass)) +
         ",\"failed\":" + std::to_string(run.Count(Outcome::kFail)) +
         ",\"failedMust\":" + std::to_string(run.FailedWith(Force::kMust)) +
         ",\"failedShould\":" + std::to_string(run.FailedWith(Force::kShould)) +
         ",\"notApplicable\":" + std::to_string(run.Count(Outcome::kNotApplicable)) +
         ",\"result\":" + (run.MustFailed() ? "\"fail\"" : "\"pass\"") + "},\"checks\":[";
  for (std::size_t i = 0; i < run.results.size(); ++i) {
    const CheckResult& r = run.results[i];
    out += (i ? "," : "");
    out += "{\"number\":" + std::to_string(r.number) + ",\"item\":" + Quoted(r.item) +
           ",\"force\":" + Quoted(ForceName(r.force)) + ",\"title\":" + Quoted(r.title);
    if (!r.subject.empty()) out += ",\"subject\":" + Quoted(r.subject);
    out += ",\"result\":" + Quoted(OutcomeName(r.outcome));
    if (!r.note.empty()) out += ",\"note\":" + Quoted(r.note);
    out += ",\"evidence\":[";
    for (std::size_t k = 0; k < r.evidence.size(); ++k) {
      const Evidence& e = r.evidence[k];
      out += (k ? "," : "");
      out += "{\"request\":" + Quoted(e.request);
      if (e.status != 0) out += ",\"status\":" + std::to_string(e.status);
      if (!e.pointer.empty()) out += ",\"pointer\":" + Quoted(e.pointer);
      if (!e.message.empty()) out += ",\"message\":" + Quoted(e.message);
      out += "}";
    }
    out += "]";
    if (r.evidence_left_out > 0) {
      out += ",\"evidenceLeftOut\":" + std::to_string(r.evidence_left_out);
    }
    out += "}";
  }
  out += "]}\n";
  return out;
}

std::string JunitReport(const CheckRun& run) {
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites name=\"cephalgia check\" tests=\"" << run.results.size() << "\" failures=\""
      << run.Count(Outcome::kFail) << "\" skipped=\"" << run.Count(Outcome::kNotApplicable)
      << "\" time=\"" << run.duration_ms / 1000.0 << "\">\n";
  out << "  <testsuite name=\"" << Xml("CDS Hooks 2.0 checks of " + run.base_url) << "\" tests=\""
      << run.results.size() << "\" failures=\"" << run.Count(Outcome::kFail) << "\" skipped=\""
      << run.Count(Outcome::kNotApplicable) << "\" timestamp=\"" << run.started_at << "\">\n";
  for (const CheckResult& r : run.results) {
    const std::string section = r.item.substr(0, 1);
    out << "    <testcase classname=\"cds-hooks." << Xml(section) << "\" name=\""
        << Xml("#" + std::to_string(r.number) + " " + r.item + " " + ForceName(r.force) + " " +
               Label(r))
        << "\">\n";
    if (r.outcome == Outcome::kFail) {
      std::string body;
      for (const Evidence& e : r.evidence) body += EvidenceLine(e) + "\n";
      if (r.evidence_left_out > 0) {
        body += "... and " + std::to_string(r.evidence_left_out) + " more\n";
      }
      out << "      <failure type=\"" << ForceName(r.force) << "\" message=\""
          << Xml(r.evidence.empty() ? r.title : EvidenceLine(r.evidence.front())) << "\">"
          << Xml(body) << "</failure>\n";
    } else if (r.outcome == Outcome::kNotApplicable) {
      out << "      <skipped message=\"" << Xml(r.note) << "\"/>\n";
    }
    out << "    </testcase>\n";
  }
  out << "  </testsuite>\n</testsuites>\n";
  return out.str();
}

}  // namespace cephalgia::check
