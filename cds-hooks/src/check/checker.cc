#include "checker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "cephalgia/hooks/auth/base64url.h"
#include "cephalgia/hooks/check/fhir_schema.h"
#include "cephalgia/json.h"
#include "cephalgia/uuid.h"
#include "fhir_data.h"
#include "http_client.h"
#include "jwt_signer.h"

namespace cephalgia::check {
namespace {

namespace rules = hooks::check;

constexpr std::size_t kMaxEvidence = 12;
constexpr std::size_t kMaxAnswerBytes = 16u << 20;

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A loopback port nothing listens on: bound by the kernel's choice, then closed.
int ClosedLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 9;  // discard: normally closed
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 9;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool ContainsToken(const std::string& list, const std::string& token) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  };
  const std::string l = lower(list), t = lower(token);
  if (l.find('*') != std::string::npos) return true;
  std::size_t pos = 0;
  while ((pos = l.find(t, pos)) != std::string::npos) {
    const bool start = pos == 0 || l[pos - 1] == ',' || l[pos - 1] == ' ';
    const bool end =
        pos + t.size() == l.size() || l[pos + t.size()] == ',' || l[pos + t.size()] == ' ';
    if (start && end) return true;
    pos += t.size();
  }
  return false;
}

struct Call {
  std::string label;  // "POST /cds-services/x (patient-view, full prefetch)"
  std::string path;
  HttpReply reply;
};

// The OperationOutcome test of an error body.
bool IsOperationOutcome(const std::string& body) {
  auto doc = json::ParseUntrusted(body, kMaxAnswerBytes);
  return doc.ok() && json::GetString(*doc, "resourceType") == "OperationOutcome";
}

std::string Brief(const std::string& text, std::size_t max = 160) {
  std::string out;
  for (char c : text.substr(0, max)) out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  if (text.size() > max) out += "...";
  return out;
}

// The client-authentication checks (checklist §J), in the order they run.
struct JwtCheck {
  const char* item;
  Force force;
  const char* title;
};
constexpr JwtCheck kJwtChecks[] = {
    {"J101", Force::kMust, "a token signed with the client's key, for this URL, is accepted"},
    {"J103", Force::kShould, "a replayed token (same jti) is refused"},
    {"J95", Force::kMust, "a call without a token is refused"},
    {"J103", Force::kShould, "an expired token is refused"},
    {"J98", Force::kMust, "a token for another audience is refused"},
    {"J99", Force::kMust, "an unsigned token (alg none) is refused"},
    {"J101", Force::kMust, "a token signed with an unknown key is refused"},
};

struct Service {
  std::string id;
  std::string hook;
  std::map<std::string, std::string> prefetch;  // key -> template
};

class Checker {
 public:
  Checker(const CheckOptions& options, const FhirData& data, rules::FhirSchemaValidator* schema,
          const Es384Signer* signer)
      : opt_(options), data_(data), schema_(schema), signer_(signer) {
    base_ = options.base_url;
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  }

  void Run();
  // The results, in order, once Run() is done.
  std::vector<CheckResult> TakeResults() { return {results_.begin(), results_.end()}; }

 private:
  // ---- results ----
  CheckResult& Add(std::string item, Force force, std::string title, std::string subject = "") {
    CheckResult r;
    r.number = static_cast<int>(results_.size()) + 1;
    r.item = std::move(item);
    r.force = force;
    r.title = std::move(title);
    r.subject = std::move(subject);
    results_.push_back(std::move(r));
    return results_.back();
  }
  static void Fail(CheckResult& r, Evidence e) {
    r.outcome = Outcome::kFail;
    Note(r, std::move(e));
  }
  static void Note(CheckResult& r, Evidence e) {
    if (r.evidence.size() < kMaxEvidence) {
      r.evidence.push_back(std::move(e));
    } else {
      ++r.evidence_left_out;
    }
  }
  static void NotApplicable(CheckResult& r, std::string why) {
    r.outcome = Outcome::kNotApplicable;
    r.note = std::move(why);
  }
  static Evidence Seen(const Call& c, std::string message = "", std::string pointer = "") {
    Evidence e;
    e.request = c.label;
    e.status = c.reply.error.empty() ? c.reply.status : 0;
    e.pointer = std::move(pointer);
    if (!c.reply.error.empty()) {
      e.message = "no answer: " + c.reply.error;
    } else if (message.empty()) {
      e.message = "answered " + std::to_string(c.reply.status) + " in " +
                  std::to_string(static_cast<long>(c.reply.elapsed_ms)) + " ms";
      if (c.reply.status >= 300) e.message += ": " + Brief(c.reply.body);
    } else {
      e.message = std::move(message);
    }
    return e;
  }

  // ---- HTTP ----
  std::string Token(const std::string& path, long exp_offset_s = 300,
                    const std::string& aud_override = "") const {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    std::string payload = R"({"iss":)";
    json::AppendQuotedJsonString(opt_.issuer, &payload);
    payload += R"(,"aud":)";
    json::AppendQuotedJsonString(aud_override.empty() ? base_ + path : aud_override, &payload);
    payload += R"(,"exp":)" + std::to_string(now + exp_offset_s) + R"(,"iat":)" +
               std::to_string(exp_offset_s < 0 ? now + exp_offset_s - 60 : now) + R"(,"jti":")" +
               NewUuidV4() + R"("})";
    std::string header = R"({"alg":"ES384","typ":"JWT","kid":)";
    json::AppendQuotedJsonString(signer_->kid(), &header);
    header += "}";
    auto token = signer_->Sign(header, payload);
    return token.ok() ? *token : "";
  }

  // Sends a request with the Origin header, a JSON content type for bodies and, when a key was
  // given, a fresh client JWT for the URL called. `authorization` overrides the token ("-": none).
  Call Send(const std::string& method, const std::string& path, const std::string& body,
            const std::string& what, const std::string& authorization = "") {
    HttpRequestSpec spec;
    spec.method = method;
    spec.url = base_ + path;
    spec.body = body;
    spec.headers.push_back("Origin: " + opt_.origin);
    spec.headers.push_back("Accept: application/json");
    if (!body.empty() || method == "POST") spec.headers.push_back("Content-Type: application/json");
    if (authorization == "-") {
      // no token at all
    } else if (!authorization.empty()) {
      spec.headers.push_back("Authorization: " + authorization);
    } else if (signer_ != nullptr) {
      spec.headers.push_back("Authorization: Bearer " + Token(path));
    }
    Call c;
    c.label = method + " " + path + (what.empty() ? "" : " (" + what + ")");
    c.path = path;
    c.reply = HttpExchange(spec, opt_.timeout_s);
    if (c.reply.error.empty()) answers_.push_back(c);
    return c;
  }

  // A hook call: recorded for the response rules when it is a 200, and for latency.
  Call HookCall(const Service& s, const std::string& body, const std::string& what) {
    Call c = Send("POST", "/cds-services/" + s.id, body, s.hook + ", " + what);
    if (c.reply.error.empty()) timed_.push_back(c);
    if (c.reply.error.empty() && c.reply.status == 200) service_answers_.push_back(c);
    return c;
  }

  // ---- the checks ----
  bool Discovery();
  void ServiceCalls(const Service& s);
  void Malformed(const Service& s);
  void Feedback(const Service& s, const Call& with_cards);
  void UnknownService();
  void Cors();
  void Jwt();
  void ResponseRules();
  void Latency();

  const CheckOptions& opt_;
  // Checks are filled in after later ones are added: a deque keeps references to them valid.
  std::deque<CheckResult> results_;
  const FhirData& data_;
  rules::FhirSchemaValidator* schema_;
  const Es384Signer* signer_;
  std::string base_;
  std::vector<Service> services_;  // selected, in discovery order
  std::vector<const PatientRecord*> patients_;
  std::vector<Call> answers_;          // every answer received
  std::vector<Call> service_answers_;  // 200 answers to hook calls
  std::vector<Call> timed_;            // hook calls, for latency
};

bool Checker::Discovery() {
  Call c = Send("GET", "/cds-services", "", "discovery");
  CheckResult& b11 =
      Add("B11", Force::kMust, "discovery answers 200 with a JSON object holding a services array",
          "/cds-services");
  if (!c.reply.error.empty()) {
    Fail(b11, Seen(c));
    return false;
  }
  if (c.reply.status == 401 || c.reply.status == 403) {
    Fail(b11, Seen(c, signer_ == nullptr
                          ? "the service requires client authentication: run again with --jwks-key "
                            "(and make the service trust that key)"
                          : "the service refused our signed token on discovery (aud = " + base_ +
                                "/cds-services, iss = " + opt_.issuer +
                                ", kid = " + signer_->kid() + ")"));
    return false;
  }
  auto doc = json::ParseUntrusted(c.reply.body, kMaxAnswerBytes);
  const rapidjson::Value* services = doc.ok() ? json::GetArray(*doc, "services") : nullptr;
  if (c.reply.status != 200 || services == nullptr) {
    Fail(b11, Seen(c,
                   c.reply.status != 200 ? ""
                   : doc.ok()            ? "no services array"
                                         : "not JSON: " + doc.status().message(),
                   c.reply.status == 200 ? "/services" : ""));
    return false;
  }
  Note(b11, Seen(c));
  b11.note = std::to_string(services->Size()) + " services advertised";

  // A2/A3/A5 over the discovery document too.
  for (const char* item : {"A2", "A3", "A5"}) {
    const rules::ResponseRule* rule = rules::FindResponseRule(item);
    CheckResult& r =
        Add(item, rule->force, std::string(rule->title) + " (discovery)", "/cds-services");
    rules::RuleViolations v;
    rule->check(*doc, v);
    for (const auto& e : v) Fail(r, Seen(c, e.message, e.pointer));
  }

  CheckResult& b13 = Add("B13", Force::kMust, "every service has a hook (string)");
  CheckResult& b14 = Add("B14", Force::kShould, "every service has a title");
  CheckResult& b15 = Add("B15", Force::kMust, "every service has a description (string)");
  CheckResult& b16 = Add("B16", Force::kMust, "every service has a unique, URL-path-safe id");
  CheckResult& b17 =
      Add("B17", Force::kMust, "prefetch, when present, is a non-empty object of string templates");
  CheckResult& b18 =
      Add("B18", Force::kMust, "usageRequirements and hookVersion, when present, are strings");
  CheckResult& d33 =
      Add("D33", Force::kMust,
          "prefetch templates are relative FHIR queries with valid {{tokens}} (D32-D37, I89, I90)");
  CheckResult& d38 = Add("D38", Force::kShould,
                         "prefetch templates use only the restricted query subset (D38, D39)");
  std::set<std::pair<std::string, std::string>>
      seen_ids;  // (id, hook): one id may serve several hooks (B21)
  int templates = 0;
  for (rapidjson::SizeType i = 0; i < services->Size(); ++i) {
    const rapidjson::Value& s = (*services)[i];
    const std::string at = "/services/" + std::to_string(i);
    if (!s.IsObject()) {
      Fail(b13, Seen(c, "a service entry is not an object", at));
      continue;
    }
    std::string id(json::GetString(s, "id").value_or(""));
    std::string hook(json::GetString(s, "hook").value_or(""));
    if (!rules::NonBlankString(s, "hook")) Fail(b13, Seen(c, "no hook", at + "/hook"));
    if (!rules::NonBlankString(s, "title")) Fail(b14, Seen(c, "no title", at + "/title"));
    if (!rules::NonBlankString(s, "description")) {
      Fail(b15, Seen(c, "no description", at + "/description"));
    }
    const bool safe_id = !id.empty() && id.find_first_not_of(".") != std::string::npos &&
                         std::all_of(id.begin(), id.end(), [](char ch) {
                           return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' ||
                                  ch == '_' || ch == '.' || ch == '~';
                         });
    if (!safe_id) {
      Fail(b16, Seen(c, "id '" + Brief(id, 60) + "' is missing or not URL-path-safe", at + "/id"));
    }
    if (!seen_ids.insert({id, hook}).second) {
      Fail(b16, Seen(c, "id '" + id + "' is listed twice for " + hook, at + "/id"));
    }
    for (const char* key : {"usageRequirements", "hookVersion"}) {
      if (const rapidjson::Value* v = json::Find(s, key);
          v && (!v->IsString() || rules::IsBlank(json::AsStringView(*v)))) {
        Fail(b18, Seen(c, std::string(key) + " is not a non-blank string", at + "/" + key));
      }
    }
    Service service{id, hook, {}};
    if (const rapidjson::Value* p = json::Find(s, "prefetch")) {
      if (!p->IsObject() || p->ObjectEmpty()) {
        Fail(b17, Seen(c, "prefetch is not a non-empty object", at + "/prefetch"));
      } else {
        for (const auto& m : p->GetObject()) {
          const std::string key(json::AsStringView(m.name));
          const std::string where = at + "/prefetch/" + rules::PointerToken(key);
          if (!m.value.IsString()) {
            Fail(b17, Seen(c, "template is not a string", where));
            continue;
          }
          const std::string t(json::AsStringView(m.value));
          service.prefetch[key] = t;
          ++templates;
          for (const std::string& problem : rules::CheckPrefetchTemplate(hook, t)) {
            Fail(rules::TemplateViolationForce(problem) == Force::kMust ? d33 : d38,
                 Seen(c, problem + " in '" + Brief(t, 120) + "'", where));
          }
        }
      }
    }
    const bool chosen = (opt_.service.empty() || opt_.service == id) &&
                        (opt_.hooks.empty() ||
                         std::find(opt_.hooks.begin(), opt_.hooks.end(), hook) != opt_.hooks.end());
    if (chosen && safe_id && !hook.empty()) services_.push_back(std::move(service));
  }
  if (templates == 0) {
    NotApplicable(d33, "no service advertises prefetch templates");
    NotApplicable(d38, "no service advertises prefetch templates");
  } else {
    d33.note = d38.note = std::to_string(templates) + " templates checked";
  }
  if (services->Empty()) {
    for (CheckResult* r : {&b13, &b14, &b15, &b16, &b17, &b18}) {
      NotApplicable(*r, "no services advertised");
    }
  }
  if (!opt_.service.empty() || !opt_.hooks.empty()) {
    CheckResult& sel =
        Add("B16", Force::kMust, "the services asked for (--service/--hook) are advertised");
    if (services_.empty()) {
      Fail(sel, Seen(c, "discovery lists no service matching --service/--hook"));
    }
  }
  return true;
}

void Checker::ServiceCalls(const Service& s) {
  const std::string subject = s.id + " (" + s.hook + ")";
  if (!FhirData::KnowsHook(s.hook)) {
    CheckResult& r = Add("C24", Force::kMust, "answers a hook call with 200", subject);
    NotApplicable(r, "the checker cannot build a context for hook '" + s.hook + "'");
    return;
  }
  // C24/F54: a call with the full prefetch, per patient.
  CheckResult& full =
      Add("C24", Force::kMust, "answers a call with the full prefetch with 200", subject);
  std::optional<Call> with_cards, any_ok;
  for (const PatientRecord* p : patients_) {
    const std::string body = data_.HookRequest(*p, s.hook, s.prefetch, PrefetchMode::kFull);
    Call c = HookCall(
        s, body, "full prefetch, patient " + p->id + ", " + std::to_string(body.size()) + " bytes");
    if (!c.reply.error.empty() || c.reply.status != 200) {
      Fail(full, Seen(c));
    } else {
      Note(full, Seen(c));
      if (!any_ok) any_ok = c;
      auto doc = json::ParseUntrusted(c.reply.body, kMaxAnswerBytes);
      if (!with_cards && doc.ok()) {
        if (const rapidjson::Value* cards = json::GetArray(*doc, "cards");
            cards && !cards->Empty()) {
          with_cards = c;
        }
      }
    }
  }
  if (!with_cards) {
    with_cards = any_ok;  // feedback on a card uuid the service never issued: still 200 (H86)
  }
  // E41/E50: no prefetch and an unreachable FHIR server: 200 with what it has, or 412.
  const PatientRecord& p0 = *patients_.front();
  const std::string unreachable =
      "http://127.0.0.1:" + std::to_string(ClosedLoopbackPort()) + "/fhir";
  CheckResult& none = Add("E50", Force::kMust,
                          "without prefetch and with an unreachable fhirServer: 200, or 412 when "
                          "required data is missing",
                          subject);
  Call c = HookCall(s, data_.HookRequest(p0, s.hook, s.prefetch, PrefetchMode::kNone, unreachable),
                    "no prefetch, fhirServer " + unreachable + " unreachable");
  if (!c.reply.error.empty() || (c.reply.status != 200 && c.reply.status != 412)) {
    Fail(none, Seen(c));
  } else {
    Note(none, Seen(c));
  }
  if (c.reply.error.empty() && c.reply.status == 412) {
    CheckResult& oo = Add("E51", Force::kShould, "a 412 carries an OperationOutcome", subject);
    if (!IsOperationOutcome(c.reply.body)) {
      Fail(oo, Seen(c, "412 body is not an OperationOutcome: " + Brief(c.reply.body)));
    }
  }
  // E42: every prefetch key present and null ("no data").
  CheckResult& nulls =
      Add("E42", Force::kMust, "prefetch values of null are accepted (200, or 412 when required)",
          subject);
  if (s.prefetch.empty()) {
    NotApplicable(nulls, "the service advertises no prefetch");
  } else {
    Call n = HookCall(s, data_.HookRequest(p0, s.hook, s.prefetch, PrefetchMode::kAllNull),
                      "every prefetch value null");
    if (!n.reply.error.empty() || (n.reply.status != 200 && n.reply.status != 412)) {
      Fail(nulls, Seen(n));
    } else {
      Note(nulls, Seen(n));
    }
  }
  Malformed(s);
  if (with_cards) {
    Feedback(s, *with_cards);
  } else {
    CheckResult& r = Add("H82", Force::kMust, "feedback is answered 200", subject);
    NotApplicable(r, "no successful call to give feedback on");
  }
}

void Checker::Malformed(const Service& s) {
  const std::string subject = s.id + " (" + s.hook + ")";
  const std::string good =
      data_.HookRequest(*patients_.front(), s.hook, s.prefetch, PrefetchMode::kNone);
  auto edit = [&](const std::function<void(rapidjson::Document&)>& change) {
    auto doc = json::ParseUntrusted(good);
    if (!doc.ok()) return good;
    change(*doc);
    return json::Serialize(*doc);
  };
  struct Case {
    const char* item;
    Force force;
    std::string title;
    std::string what;
    std::string body;
    std::set<long> expected;
  };
  const std::vector<Case> cases = {
      {"G79",
       Force::kShould,
       "a body that is not JSON is a 400, not a 5xx",
       "truncated JSON",
       good.substr(0, good.size() / 2),
       {400}},
      {"G79",
       Force::kShould,
       "a JSON array instead of a request object is a 400",
       "JSON array body",
       "[1,2,3]",
       {400}},
      {"C26",
       Force::kMust,
       "a request without hookInstance is refused with 400",
       "no hookInstance",
       edit([](rapidjson::Document& d) { d.RemoveMember("hookInstance"); }),
       {400}},
      {"I88",
       Force::kMust,
       "a context without patientId is refused with 400 (or 412)",
       "context without patientId",
       edit([](rapidjson::Document& d) {
         if (d.HasMember("context") && d["context"].IsObject()) {
           d["context"].RemoveMember("patientId");
         }
       }),
       {400, 412}},
      {"C25",
       Force::kMust,
       "a hook the service does not serve is refused with 400",
       "hook org.example.no-such-hook",
       edit([](rapidjson::Document& d) {
         if (d.HasMember("hook")) d["hook"].SetString("org.example.no-such-hook", d.GetAllocator());
       }),
       {400}},
  };
  for (const Case& m : cases) {
    CheckResult& r = Add(m.item, m.force, m.title, subject);
    Call c = Send("POST", "/cds-services/" + s.id, m.body, s.hook + ", malformed: " + m.what);
    if (!c.reply.error.empty() || m.expected.count(c.reply.status) == 0) {
      std::string why = c.reply.status >= 500 ? "a server error for a client mistake" : "";
      Fail(r, Seen(c, why.empty() ? ""
                                  : "answered " + std::to_string(c.reply.status) + " (" + why +
                                        "): " + Brief(c.reply.body)));
    } else {
      Note(r, Seen(c));
    }
  }
}

void Checker::Feedback(const Service& s, const Call& with_cards) {
  const std::string subject = s.id + " (" + s.hook + ")";
  const std::string path = "/cds-services/" + s.id + "/feedback";
  std::string card_uuid = NewUuidV4(), suggestion_uuid = NewUuidV4(), reason;
  if (auto doc = json::ParseUntrusted(with_cards.reply.body, kMaxAnswerBytes); doc.ok()) {
    if (const rapidjson::Value* cards = json::GetArray(*doc, "cards"); cards && !cards->Empty()) {
      const rapidjson::Value& card = (*cards)[0];
      if (auto u = json::GetString(card, "uuid")) card_uuid = std::string(*u);
      if (const rapidjson::Value* sg = json::GetArray(card, "suggestions"); sg && !sg->Empty()) {
        if (auto u = json::GetString((*sg)[0], "uuid")) suggestion_uuid = std::string(*u);
      }
      if (const rapidjson::Value* o = json::GetArray(card, "overrideReasons");
          o && !o->Empty() && rules::IsCoding((*o)[0])) {
        reason = R"("reason":{"system":)";
        json::AppendQuotedJsonString(*json::GetString((*o)[0], "system"), &reason);
        reason += R"(,"code":)";
        json::AppendQuotedJsonString(*json::GetString((*o)[0], "code"), &reason);
        reason += "},";
      }
    }
  }
  const std::string when = Rfc3339(std::chrono::system_clock::now());
  const std::string accepted = R"({"feedback":[{"card":")" + card_uuid +
                               R"(","outcome":"accepted","acceptedSuggestions":[{"id":")" +
                               suggestion_uuid + R"("}],"outcomeTimestamp":")" + when + R"("}]})";
  const std::string overridden =
      R"({"feedback":[{"card":")" + card_uuid + R"(","outcome":"overridden","overrideReason":{)" +
      reason +
      R"("userComment":"cephalgia check: not relevant for this visit"},"outcomeTimestamp":")" +
      when + R"("}]})";
  const std::string invalid = R"({"feedback":[{"card":")" + card_uuid +
                              R"(","outcome":"ignored","outcomeTimestamp":")" + when + R"("}]})";
  CheckResult& a = Add("H82", Force::kMust, "accepted feedback is answered 200", subject);
  Call ca = Send("POST", path, accepted, "feedback accepted");
  if (ca.reply.error.empty() && (ca.reply.status == 404 || ca.reply.status == 405)) {
    NotApplicable(a, "the service offers no feedback endpoint (" + std::to_string(ca.reply.status) +
                         "; feedback is a MAY)");
    return;
  }
  if (!ca.reply.error.empty() || ca.reply.status != 200) {
    Fail(a, Seen(ca));
  } else {
    Note(a, Seen(ca));
  }
  CheckResult& o = Add("H82", Force::kMust, "overridden feedback is answered 200", subject);
  Call co = Send("POST", path, overridden, "feedback overridden");
  if (!co.reply.error.empty() || co.reply.status != 200) {
    Fail(o, Seen(co));
  } else {
    Note(o, Seen(co));
  }
  CheckResult& i = Add("H86", Force::kShould,
                       "feedback with an invalid outcome is refused with 400 (cds-fb-1)", subject);
  Call ci = Send("POST", path, invalid, "feedback outcome 'ignored'");
  if (!ci.reply.error.empty() || ci.reply.status != 400) {
    Fail(i, Seen(ci));
  } else {
    Note(i, Seen(ci));
  }
}

void Checker::UnknownService() {
  CheckResult& r = Add("G79", Force::kShould, "a call to an unknown service id is a 404",
                       "/cds-services/{unknown}");
  const std::string hook = services_.empty() ? "patient-view" : services_.front().hook;
  const std::string body =
      FhirData::KnowsHook(hook)
          ? data_.HookRequest(*patients_.front(), hook, {}, PrefetchMode::kNone)
          : R"({"hook":")" + hook + R"(","hookInstance":")" + NewUuidV4() + R"(","context":{}})";
  Call c =
      Send("POST", "/cds-services/cephalgia-check-no-such-service", body, "unknown service id");
  if (!c.reply.error.empty() || c.reply.status != 404) {
    Fail(r, Seen(c));
  } else {
    Note(r, Seen(c));
  }
}

void Checker::Cors() {
  CheckResult& pre =
      Add("K107", Force::kMust,
          "CORS preflight (OPTIONS) on discovery, service and feedback paths allows the origin, "
          "the method and the Authorization and Content-Type headers");
  std::vector<std::pair<std::string, std::string>> endpoints = {{"/cds-services", "GET"}};
  for (const Service& s : services_) {
    endpoints.emplace_back("/cds-services/" + s.id, "POST");
    endpoints.emplace_back("/cds-services/" + s.id + "/feedback", "POST");
  }
  for (const auto& [path, method] : endpoints) {
    HttpRequestSpec spec{"OPTIONS",
                         base_ + path,
                         "",
                         {"Origin: " + opt_.origin, "Access-Control-Request-Method: " + method,
                          "Access-Control-Request-Headers: authorization,content-type"}};
    Call c;
    c.label = "OPTIONS " + path + " (preflight for " + method + ")";
    c.path = path;
    c.reply = HttpExchange(spec, opt_.timeout_s);
    if (!c.reply.error.empty()) {
      Fail(pre, Seen(c));
      continue;
    }
    std::vector<std::string> problems;
    if (c.reply.status < 200 || c.reply.status >= 300) {
      problems.push_back("status " + std::to_string(c.reply.status));
    }
    const std::string origin = c.reply.Header("Access-Control-Allow-Origin");
    if (origin != "*" && origin != opt_.origin) {
      problems.push_back("Access-Control-Allow-Origin '" + origin + "'");
    }
    const std::string methods = c.reply.Header("Access-Control-Allow-Methods");
    if (!ContainsToken(methods, method)) {
      problems.push_back("Access-Control-Allow-Methods '" + methods + "' lacks " + method);
    }
    const std::string headers = c.reply.Header("Access-Control-Allow-Headers");
    for (const char* h : {"authorization", "content-type"}) {
      if (!ContainsToken(headers, h)) {
        problems.push_back("Access-Control-Allow-Headers '" + headers + "' lacks " + h);
      }
    }
    if (problems.empty()) {
      Note(pre, Seen(c));
    } else {
      std::string msg;
      for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + p;
      Fail(pre, Seen(c, msg));
    }
  }
  CheckResult& actual =
      Add("K107", Force::kMust,
          "every answer to a browser (Origin sent) carries Access-Control-Allow-Origin");
  int n = 0;
  for (const Call& c : answers_) {
    const std::string origin = c.reply.Header("Access-Control-Allow-Origin");
    ++n;
    if (origin != "*" && origin != opt_.origin) {
      Fail(actual, Seen(c, "answered " + std::to_string(c.reply.status) +
                               " without Access-Control-Allow-Origin" +
                               (origin.empty() ? "" : " (got '" + origin + "')")));
    }
  }
  actual.note = std::to_string(n) + " answers looked at";
}

void Checker::Jwt() {
  auto add = [&](const char* item, Force force, std::string title) -> CheckResult& {
    return Add(item, force, std::move(title), "client authentication (JWT)");
  };
  if (signer_ == nullptr) {
    for (const JwtCheck& j : kJwtChecks) {
      NotApplicable(add(j.item, j.force, j.title), "no --jwks-key given");
    }
    return;
  }
  // The call: the first service's full-prefetch call, else discovery.
  std::string path = "/cds-services", body, method = "GET", what = "discovery";
  for (const Service& s : services_) {
    if (FhirData::KnowsHook(s.hook)) {
      path = "/cds-services/" + s.id;
      body = data_.HookRequest(*patients_.front(), s.hook, s.prefetch, PrefetchMode::kFull);
      method = "POST";
      what = s.hook + ", full prefetch";
      break;
    }
  }
  auto refused = [](const Call& c) {
    return c.reply.error.empty() && (c.reply.status == 401 || c.reply.status == 403);
  };
  auto expect = [&](CheckResult& r, const Call& c, bool want_refused) {
    if (want_refused ? refused(c) : (c.reply.error.empty() && c.reply.status == 200)) {
      Note(r, Seen(c));
    } else {
      Fail(r, Seen(c, want_refused && c.reply.error.empty()
                          ? "accepted (" + std::to_string(c.reply.status) + ")"
                          : ""));
    }
  };
  // Good token, then the same token again (replay).
  const std::string good = Token(path);
  CheckResult& ok = add(kJwtChecks[0].item, kJwtChecks[0].force, kJwtChecks[0].title);
  Call c_good = Send(method, path, body, what + ", good token", "Bearer " + good);
  expect(ok, c_good, false);
  CheckResult& replay = add(kJwtChecks[1].item, kJwtChecks[1].force, kJwtChecks[1].title);
  expect(replay, Send(method, path, body, what + ", the same token again", "Bearer " + good), true);
  expect(add(kJwtChecks[2].item, kJwtChecks[2].force, kJwtChecks[2].title),
         Send(method, path, body, what + ", no token", "-"), true);
  expect(add(kJwtChecks[3].item, kJwtChecks[3].force, kJwtChecks[3].title),
         Send(method, path, body, what + ", token expired 10 minutes ago",
              "Bearer " + Token(path, -600)),
         true);
  expect(add(kJwtChecks[4].item, kJwtChecks[4].force, kJwtChecks[4].title),
         Send(method, path, body, what + ", aud " + base_ + "/cds-services/another-service",
              "Bearer " + Token(path, 300, base_ + "/cds-services/another-service")),
         true);
  // alg none: the payload of a good token, no signature.
  const std::string unsigned_token = [&] {
    std::string t = Token(path);
    const std::size_t dot = t.find('.');
    const std::size_t dot2 = t.find('.', dot + 1);
    return hooks::auth::Base64UrlEncode(R"({"alg":"none","typ":"JWT","kid":")" + signer_->kid() +
                                        R"("})") +
           "." + t.substr(dot + 1, dot2 - dot - 1) + ".";
  }();
  expect(add(kJwtChecks[5].item, kJwtChecks[5].force, kJwtChecks[5].title),
         Send(method, path, body, what + ", alg none", "Bearer " + unsigned_token), true);
  CheckResult& unknown = add(kJwtChecks[6].item, kJwtChecks[6].force, kJwtChecks[6].title);
  auto stranger = Es384Signer::Generate("cephalgia-check-unknown-key");
  if (!stranger.ok()) {
    NotApplicable(unknown, stranger.status().message());
  } else {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    std::string payload = R"({"iss":)";
    json::AppendQuotedJsonString(opt_.issuer, &payload);
    payload += R"(,"aud":)";
    json::AppendQuotedJsonString(base_ + path, &payload);
    payload += R"(,"exp":)" + std::to_string(now + 300) + R"(,"iat":)" + std::to_string(now) +
               R"(,"jti":")" + NewUuidV4() + R"("})";
    auto token = (*stranger)->Sign(
        R"({"alg":"ES384","typ":"JWT","kid":"cephalgia-check-unknown-key"})", payload);
    expect(unknown,
           Send(method, path, body, what + ", signed by a key the service never saw",
                "Bearer " + (token.ok() ? *token : std::string("x"))),
           true);
  }
}

void Checker::ResponseRules() {
  // A1: every hook answer and error body is JSON with Content-Type application/json.
  CheckResult& a1 = Add("A1", Force::kMust,
                        "every answer is JSON (strict: no comments, no trailing commas) "
                        "with Content-Type application/json");
  for (const Call& c : answers_) {
    if (c.reply.status == 204 || c.reply.body.empty()) {
      continue;  // nothing to type (feedback may be empty)
    }
    const std::string type = c.reply.Header("Content-Type");
    if (type.find("application/json") == std::string::npos &&
        type.find("application/fhir+json") == std::string::npos) {
      Fail(a1, Seen(c, "Content-Type '" + type + "'"));
      continue;
    }
    rapidjson::Document strict;
    strict.Parse<rapidjson::kParseDefaultFlags>(c.reply.body.c_str(), c.reply.body.size());
    if (strict.HasParseError()) Fail(a1, Seen(c, "not strict JSON: " + Brief(c.reply.body, 80)));
  }
  a1.note = std::to_string(answers_.size()) + " answers looked at";

  std::vector<std::pair<const Call*, std::unique_ptr<rapidjson::Document>>> docs;
  std::size_t cards = 0;
  for (const Call& c : service_answers_) {
    auto doc = json::ParseUntrusted(c.reply.body, kMaxAnswerBytes);
    if (!doc.ok()) continue;  // A1 says why
    if (const rapidjson::Value* a = json::GetArray(*doc, "cards")) cards += a->Size();
    docs.emplace_back(&c, std::make_unique<rapidjson::Document>(std::move(*doc)));
  }
  const std::string looked =
      std::to_string(docs.size()) + " answers, " + std::to_string(cards) + " cards looked at";
  for (const rules::ResponseRule& rule : rules::ResponseRules()) {
    CheckResult& r = Add(rule.item, rule.force, rule.title, "every 200 hook answer");
    if (docs.empty()) {
      NotApplicable(r, "no hook call was answered 200");
      continue;
    }
    r.note = looked;
    for (const auto& [call, doc] : docs) {
      rules::RuleViolations v;
      rule.check(*doc, v);
      for (const auto& e : v) Fail(r, Seen(*call, e.message, e.pointer));
    }
  }
  // F76: suggested resources validate against the FHIR R4 JSON Schema.
  CheckResult& f76 =
      Add("F76", Force::kShould, "suggested FHIR resources validate against the R4 JSON Schema",
          "every 200 hook answer");
  if (schema_ == nullptr) {
    NotApplicable(f76, "no FHIR R4 JSON Schema (--fhir-schema)");
    return;
  }
  int resources = 0;
  for (const auto& entry : docs) {
    // Named, not a structured binding: clang before 16 cannot capture a binding in a lambda.
    const Call* call = entry.first;
    rules::ForEachAction(*entry.second, [&](const rapidjson::Value& a, const std::string& p, bool) {
      const rapidjson::Value* r = json::GetObject(a, "resource");
      if (r == nullptr) return;
      ++resources;
      std::string problem = schema_->Check(*r);
      if (!problem.empty()) {
        // The schema names a pointer inside the resource: make it one into the answer.
        std::string pointer = p + "/resource";
        if (!problem.empty() && problem.front() == '/') {
          const std::size_t sp = problem.find(' ');
          if (problem.substr(0, sp) != "/") pointer += problem.substr(0, sp);
          problem = problem.substr(sp + 1);
        }
        Fail(f76, Seen(*call, problem, pointer));
      }
    });
  }
  if (resources == 0) {
    NotApplicable(f76, "no answer suggested a FHIR resource");
  } else {
    f76.note = std::to_string(resources) + " resources validated";
  }
}

void Checker::Latency() {
  CheckResult& r = Add("E52", Force::kShould,
                       "every hook call is answered within " +
                           std::to_string(static_cast<int>(opt_.latency_budget_ms)) + " ms",
                       "every hook call");
  if (timed_.empty()) {
    NotApplicable(r, "no hook call was answered");
    return;
  }
  std::vector<double> ms;
  for (const Call& c : timed_) {
    ms.push_back(c.reply.elapsed_ms);
    if (c.reply.elapsed_ms > opt_.latency_budget_ms) {
      Fail(r, Seen(c, "took " + std::to_string(static_cast<long>(c.reply.elapsed_ms)) + " ms"));
    }
  }
  std::sort(ms.begin(), ms.end());
  r.note = std::to_string(ms.size()) + " calls: median " +
           std::to_string(static_cast<long>(ms[ms.size() / 2])) + " ms, max " +
           std::to_string(static_cast<long>(ms.back())) + " ms";
}

void Checker::Run() {
  for (const PatientRecord& p : data_.patients()) {
    if (!opt_.patient.empty() && p.id != opt_.patient) continue;
    if (opt_.patient.empty() && static_cast<int>(patients_.size()) >= opt_.max_patients) break;
    patients_.push_back(&p);
  }
  if (!Discovery()) return;
  if (patients_.empty()) {
    CheckResult& r = Add("C24", Force::kMust, "hook calls");
    NotApplicable(r, "patient " + opt_.patient + " is not in the FHIR data");
    return;
  }
  for (const Service& s : services_) ServiceCalls(s);
  UnknownService();
  Jwt();
  Cors();
  ResponseRules();
  Latency();
}

}  // namespace

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass:
      return "pass";
    case Outcome::kFail:
      return "fail";
    case Outcome::kNotApplicable:
      return "n/a";
  }
  return "?";
}

int CheckRun::Count(Outcome outcome) const {
  return static_cast<int>(std::count_if(
      results.begin(), results.end(), [&](const CheckResult& r) { return r.outcome == outcome; }));
}

int CheckRun::FailedWith(Force force) const {
  return static_cast<int>(std::count_if(results.begin(), results.end(), [&](const CheckResult& r) {
    return r.outcome == Outcome::kFail && r.force == force;
  }));
}

Result<CheckRun> RunChecks(const CheckOptions& options) {
  CheckRun run;
  run.base_url = options.base_url;
  const auto start_wall = std::chrono::system_clock::now();
  const auto start = std::chrono::steady_clock::now();
  run.started_at = Rfc3339(start_wall);
  auto data = FhirData::LoadDirectory(options.fhir_data);
  if (!data.ok()) return data.status();
  run.notes.push_back("FHIR data: " + options.fhir_data + " (" +
                      std::to_string((*data)->patients().size()) + " patients" +
                      ((*data)->skipped_files() > 0
                           ? ", " + std::to_string((*data)->skipped_files()) + " files skipped"
                           : "") +
                      ")");
  std::unique_ptr<rules::FhirSchemaValidator> schema;
  if (!options.fhir_schema.empty()) {
    auto loaded = rules::FhirSchemaValidator::Load(options.fhir_schema);
    if (!loaded.ok()) return loaded.status();
    schema = std::move(*loaded);
    run.notes.push_back("FHIR R4 JSON Schema: " + options.fhir_schema);
  }
  std::unique_ptr<Es384Signer> signer;
  if (!options.jwks_key.empty()) {
    auto loaded = Es384Signer::FromPemFile(options.jwks_key, options.kid);
    if (!loaded.ok()) return loaded.status();
    signer = std::move(*loaded);
    run.notes.push_back("client JWTs: ES384, iss " + options.issuer + ", kid " + signer->kid());
  }
  Checker checker(options, **data, schema.get(), signer.get());
  checker.Run();
  run.results = checker.TakeResults();
  run.duration_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return run;
}

}  // namespace cephalgia::check
