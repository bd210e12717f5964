#include "cephalgia/hooks/cds_service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cctype>
#include <ctime>
#include <deque>

#include "cephalgia/fhir/client.h"
#include "cephalgia/hooks/hook_request.h"
#include "cephalgia/hooks/trace_context.h"
#include "cephalgia/json.h"
#include "cephalgia/json_scan.h"

namespace cephalgia::hooks {
namespace {

constexpr std::string_view kServicesPrefix = "/cds-services";

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Status MethodNotAllowed(std::string_view method, std::string_view path, std::string_view allowed) {
  return Status(StatusCode::kMethodNotAllowed, std::string(method) + " is not allowed on " +
                                                   std::string(path) + "; use " +
                                                   std::string(allowed));
}

// What a resource read with GET answers (HEAD is GET without the body, which the transport
// leaves out; RFC 9110 9.3.2) and what a POST endpoint answers. OPTIONS (a CORS preflight) is
// answered on every path.
bool IsRead(std::string_view method) { return method == "GET" || method == "HEAD"; }
constexpr std::string_view kReadMethods = "GET, HEAD, OPTIONS";
constexpr std::string_view kPostMethods = "POST, OPTIONS";

// A 405 names the methods the resource has in `Allow` (RFC 9110 15.5.6: the server MUST).
HttpResponse MethodNotAllowedResponse(std::string_view method, std::string_view path,
                                      std::string_view allow) {
  HttpResponse response =
      ErrorResponse(MethodNotAllowed(method, path, allow.substr(0, allow.find(','))));
  response.SetHeader("Allow", std::string(allow));
  return response;
}

void AddString(rapidjson::Value& obj, const char* key, std::string_view value,
               rapidjson::Document::AllocatorType& a) {
  if (!value.empty()) obj.AddMember(rapidjson::StringRef(key), json::MakeString(value, a), a);
}

// Reads uuid, indicator and source.topic.code of every card with RapidJSON's SAX reader: the
// pack's response is already JSON, and building a DOM just to read three strings a card costs
// as much as parsing the request again.
class CardScanner : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, CardScanner> {
 public:
  // Views into the answer where the string lies there as written (most), else into `decoded_`
  // (a string with escapes, which the tokenizer decodes into a buffer of its own that lives only
  // during the callback): the strings are copied once, into what the caller keeps.
  struct Card {
    std::string_view uuid, indicator, rule = "unknown";
  };

  explicit CardScanner(std::string_view text = {}) : text_(text) { frames_.reserve(16); }

  bool StartObject() {
    if (frames_.empty()) root_is_object_ = true;
    return Push(true);
  }
  bool EndObject(rapidjson::SizeType) { return Pop(); }
  bool StartArray() {
    if (frames_.size() == 1 && frames_[0].key == Name::kCards) saw_cards_ = true;
    return Push(false);
  }
  bool EndArray(rapidjson::SizeType) { return Pop(); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    // Only the names on the paths read below matter: kept as a small code, never copied.
    if (!frames_.empty()) frames_.back().key = frames_.size() <= 5 ? Classify(s, n) : Name::kOther;
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    // Paths: $.cards[i].uuid | .indicator | .source.topic.code
    if (InCard(3)) {
      Name k = frames_[2].key;
      if (k == Name::kUuid) cards_.back().uuid = Stable(s, n);
      if (k == Name::kIndicator) cards_.back().indicator = Stable(s, n);
    } else if (InCard(5) && frames_[2].key == Name::kSource && frames_[3].key == Name::kTopic &&
               frames_[4].key == Name::kCode) {
      cards_.back().rule = Stable(s, n);
    }
    return true;
  }
  bool Default() { return true; }  // numbers, booleans, null: nothing to read
  // For json_scan, asked right after a container opens: only the containers on the paths read
  // ($, $.cards, $.cards[i], $.cards[i].source, $.cards[i].source.topic) have their contents
  // reported; the rest (suggestions, links, extensions...) are checked without events.
  bool WantsContents() const {
    const std::size_t n = frames_.size();
    if (n == 1) return true;
    if (frames_[0].key != Name::kCards) return false;
    if (n == 2) return true;
    if (frames_[1].is_object || !frames_[2].is_object) return false;
    if (n == 3) return true;
    if (frames_[2].key != Name::kSource) return false;
    if (n == 4) return true;
    return n == 5 && frames_[3].key == Name::kTopic;
  }

  const std::vector<Card>& cards() const { return cards_; }
  // The response is an object with a `cards` array (CDS Hooks: REQUIRED even when empty).
  bool well_formed() const { return root_is_object_ && saw_cards_; }

 private:
  enum class Name : std::uint8_t { kOther, kCards, kUuid, kIndicator, kSource, kTopic, kCode };
  static Name Classify(const char* s, std::size_t n) {
    std::string_view k(s, n);
    if (k == "cards") return Name::kCards;
    if (k == "uuid") return Name::kUuid;
    if (k == "indicator") return Name::kIndicator;
    if (k == "source") return Name::kSource;
    if (k == "topic") return Name::kTopic;
    if (k == "code") return Name::kCode;
    return Name::kOther;
  }
  struct Frame {
    bool is_object;
    Name key;
  };
  // `s` as a view that outlives the scan: where it lies when that is in the answer, else a copy
  // (a deque: the views of earlier copies stay valid as it grows).
  std::string_view Stable(const char* s, std::size_t n) {
    const std::uintptr_t at =
        reinterpret_cast<std::uintptr_t>(s) - reinterpret_cast<std::uintptr_t>(text_.data());
    if (at <= text_.size() && n <= text_.size() - at) return std::string_view(s, n);
    return decoded_.emplace_back(s, n);
  }
  bool Push(bool is_object) {
    // A new object directly inside $.cards is a new card.
    if (is_object && frames_.size() == 2 && !frames_[1].is_object &&
        frames_[0].key == Name::kCards) {
      cards_.emplace_back();
    }
    frames_.push_back({is_object, Name::kOther});
    return true;
  }
  bool Pop() {
    frames_.pop_back();
    return true;
  }
  // Inside a card, `depth` frames deep (root object, cards array, card object, ...).
  bool InCard(std::size_t depth) const {
    return frames_.size() == depth && frames_[0].key == Name::kCards && !frames_[1].is_object &&
           frames_[2].is_object && !cards_.empty();
  }
  std::string_view text_;
  std::deque<std::string> decoded_;
  std::vector<Frame> frames_;
  std::vector<Card> cards_;
  bool root_is_object_ = false;
  bool saw_cards_ = false;
};

// Also the guard on what a pack hands back: a response that is not valid UTF-8 JSON with a
// `cards` array is never relayed to the client (it is our failure: 500, not the client's).
Status CollectCards(std::string_view response_json, CallInfo& info,
                    std::vector<std::pair<std::string, std::string>>& issued) {
  // Checked like a client's request (UTF-8, depth limit), where it lies: the pack's buffer is
  // never copied or modified. The fast tokenizer reads it without writing (const_cast: in_situ
  // false never writes) and checks its UTF-8 as it goes; what it leaves goes through the UTF-8
  // check and RapidJSON's reader over a bounded stream, also without a copy.
  CardScanner scanner(response_json);
  bool valid = json_scan::Scan(const_cast<char*>(response_json.data()), response_json.size(),
                               scanner, /*in_situ=*/false, json::kMaxNestingDepth);
  if (!valid) {
    scanner = CardScanner(response_json);
    rapidjson::MemoryStream stream(response_json.data(), response_json.size());
    valid = json::CheckUtf8(response_json).ok() &&
            json::ParseCheckedText<rapidjson::kParseDefaultFlags>(stream, scanner).ok();
  }
  if (!valid || !scanner.well_formed()) {
    return Internal("the rule pack returned a response that is not a valid CDS Hooks JSON object");
  }
  info.cards.reserve(info.cards.size() + scanner.cards().size());
  info.card_uuids.reserve(info.card_uuids.size() + scanner.cards().size());
  for (const CardScanner::Card& card : scanner.cards()) {
    info.cards.emplace_back(card.rule, card.indicator);
    info.card_uuids.emplace_back(card.uuid);
    if (!card.uuid.empty()) issued.emplace_back(card.uuid, card.rule);
  }
  return Status::Ok();
}

// "Patient/<context.patientId>" for the audit trail; empty when the context names no patient.
std::string PatientReference(const HookEnvelope& request) {
  const ScannedValue& id = request.ContextField("patientId");
  return id.is_string() && !id.text.empty() ? "Patient/" + std::string(id.text) : "";
}

// The peer address as the transport gives it ("127.0.0.1", "::1", "::ffff:127.0.0.1"): a loopback
// address, i.e. a client on this machine.
bool IsLoopbackPeer(std::string_view address) {
  const std::string text(address);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

// `Authorization: Bearer <expected>`, compared in constant time (the admin token is a secret).
bool BearerMatches(std::string_view authorization, std::string_view expected) {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return false;
    }
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  unsigned char diff = token.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i] ^ (i < token.size() ? token[i] : 0));
  }
  return diff == 0;
}

}  // namespace

std::string BuildDiscoveryJson(const plugin::PackRegistry& registry) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  rapidjson::Value services(rapidjson::kArrayType);
  for (const plugin::ServiceEntry& entry : registry.services()) {
    const plugin::ServiceDescriptor& d = *entry.descriptor;
    rapidjson::Value s(rapidjson::kObjectType);
    AddString(s, "hook", d.hook, a);
    AddString(s, "title", d.title, a);
    AddString(s, "description", d.description, a);
    AddString(s, "id", d.id, a);
    if (!d.prefetch.empty()) {
      rapidjson::Value prefetch(rapidjson::kObjectType);
      for (const auto& [key, query] : d.prefetch) {
        prefetch.AddMember(json::MakeString(key, a), json::MakeString(query, a), a);
      }
      s.AddMember("prefetch", prefetch, a);
    }
    AddString(s, "usageRequirements", d.usage_requirements, a);
    services.PushBack(s, a);
  }
  doc.AddMember("services", services, a);
  return json::Serialize(doc);
}

CdsService::CdsService(const plugin::PackRegistry& registry, ServiceOptions options,
                       FhirFetcher* fetcher, ServiceHooks hooks)
    : registry_(registry),
      options_(std::move(options)),
      fetcher_(fetcher),
      hooks_(std::move(hooks)),
      discovery_json_(BuildDiscoveryJson(registry)) {}

std::string_view CdsService::NowRfc3339(char (&buffer)[40]) const {
  if (!options_.fixed_now.empty()) return options_.fixed_now;
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return std::string_view(buffer, std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm));
}

std::string CdsService::FhirServerRefusal(const HookEnvelope& request) const {
  if (!request.fhir_server.is_string()) return {};
  std::string_view server = request.fhir_server.text;
  // Decided on libcurl's own parse of the URL, the one the FHIR client fetches and whose origin
  // its token rule compares: `http://127.0.0.1@evil.example/` is evil.example (and refused for
  // its user info), `http://127.0.0.1.evil.example/` is not loopback. The raw URL is not echoed:
  // its user info may hold a password.
  auto endpoint = fhir::InspectFhirServerUrl(server);
  if (!endpoint.ok()) {
    return "fhirServer is not used (" + endpoint.status().message() +
           "); the access token is not sent";
  }
  if (options_.allow_insecure_fhir_server) return {};
  if (endpoint->scheme == "http" && !endpoint->loopback) {
    return "fhirServer " + endpoint->origin +
           " is plain http; patient data and the access token are fetched over https only";
  }
  return {};
}

Result<std::string> CdsService::ServiceIdForHook(std::string_view body) const {
  CEPHALGIA_ASSIGN_OR_RETURN(HookEnvelope envelope, ScanHookRequest(body, options_.max_body_bytes));
  std::optional<std::string_view> hook;
  if (envelope.hook.is_string()) hook = envelope.hook.text;
  if (!hook) return InvalidArgument("hook is required (a string) to choose a service", "hook");
  std::string found;
  for (const plugin::ServiceEntry& e : registry_.services()) {
    if (e.descriptor->hook != *hook) continue;
    if (!found.empty()) {
      return InvalidArgument("several services answer hook '" + std::string(*hook) +
                                 "'; choose one with --service (e.g. " + found + ")",
                             "hook");
    }
    found = e.descriptor->id;
  }
  if (found.empty()) {
    return InvalidArgument("no loaded service answers hook '" + std::string(*hook) + "'", "hook");
  }
  return found;
}

// A service call between its two halves: scanned and validated, its prefetch plan known. The
// envelope's strings point into its own buffer (copies of what it keeps).
struct CdsService::PreparedCall {
  const plugin::ServiceEntry* entry = nullptr;
  // The request text, handed to the pack untouched. Set by whoever finishes the call, from a
  // body that lives until then.
  std::string_view body;
  HookEnvelope request;
  std::string fetch_refusal;  // why the request's fhirServer may not be used; empty when it may
  PrefetchPlan plan;
};

Result<std::unique_ptr<CdsService::PreparedCall>> CdsService::PrepareCall(
    std::string_view service_id, std::string_view body, CallInfo* info) const {
  const plugin::ServiceEntry* entry = registry_.FindService(service_id);
  if (entry == nullptr) {
    return NotFound("no CDS service with id '" + std::string(service_id) +
                    "'; GET /cds-services lists the services");
  }
  auto call = std::make_unique<PreparedCall>();
  call->entry = entry;
  // One SAX pass over the body: no DOM of the prefetch is built in the host.
  CEPHALGIA_ASSIGN_OR_RETURN(call->request, ScanHookRequest(body, options_.max_body_bytes,
                                                            ReadTemplateTypes(*entry->descriptor)));
  CEPHALGIA_RETURN_IF_ERROR(ValidateHookEnvelope(call->request, entry->descriptor->hook));
  if (info != nullptr) info->hook_instance = std::string(call->request.hook_instance.text);
  if (info != nullptr) info->patient = PatientReference(call->request);
  call->fetch_refusal = FhirServerRefusal(call->request);
  CEPHALGIA_ASSIGN_OR_RETURN(call->plan, PlanPrefetch(call->request, *entry->descriptor));
  if (info != nullptr) call->plan.traceparent = info->traceparent;
  return call;
}

bool CdsService::WillFetch(const PreparedCall& call) const {
  return !call.plan.queries.empty() && fetcher_ != nullptr && call.fetch_refusal.empty();
}

Result<plugin::PackAnswer> CdsService::FinishCall(PreparedCall& call, CallInfo* info) const {
  const plugin::ServiceEntry* entry = call.entry;
  auto resolution =
      call.fetch_refusal.empty()
          ? CompletePrefetch(*entry->descriptor, std::move(call.plan), fetcher_)
          : CompletePrefetch(*entry->descriptor, std::move(call.plan), nullptr, call.fetch_refusal);
  if (!resolution.ok()) return resolution.status();
  if (info != nullptr) info->fetch_error_kinds = resolution->fetch_error_kinds;

  // The client's bytes go to the pack untouched; what was fetched goes beside them, and the gaps
  // are the pack's only account of missing data. Nothing is allocated when there is neither.
  std::vector<plugin::PackPart> parts;
  std::vector<plugin::PackGap> gaps;
  parts.reserve(resolution->parts.size());
  for (const PrefetchPart& p : resolution->parts) parts.push_back({p.key, p.json, p.more_pages});
  gaps.reserve(resolution->unavailable.size() + resolution->partial.size());
  for (const PrefetchGapInfo& g : resolution->unavailable) gaps.push_back({g.key, g.reason, false});
  for (const PrefetchGapInfo& g : resolution->partial) gaps.push_back({g.key, g.reason, true});
  char now_buffer[40];
  std::string_view now = NowRfc3339(now_buffer);
  plugin::PackCall pack_call{entry->descriptor->id, call.body, now, parts, gaps};
  CEPHALGIA_ASSIGN_OR_RETURN(plugin::PackAnswer answer, entry->pack->Evaluate(pack_call));

  // The answer is checked where it lies (UTF-8, JSON, a `cards` array) and its cards read for
  // metrics and feedback analytics; it is never copied on its way to the client.
  CallInfo local;
  CallInfo& out = info != nullptr ? *info : local;
  std::vector<std::pair<std::string, std::string>> issued;
  // The context of a failure is written only for one (not for every answer).
  if (Status s = CollectCards(answer.json(), out, issued); !s.ok()) {
    return s.WithContext("pack " + entry->pack->descriptor().pack_id);
  }
  if (hooks_.record_cards && !issued.empty()) {
    hooks_.record_cards(entry->descriptor->id, call.request.hook_instance.text, std::move(issued));
  }
  return answer;
}

Result<std::string> CdsService::CallService(std::string_view service_id, std::string_view body,
                                            CallInfo* info) const {
  CEPHALGIA_ASSIGN_OR_RETURN(std::unique_ptr<PreparedCall> call,
                             PrepareCall(service_id, body, info));
  call->body = body;
  CEPHALGIA_ASSIGN_OR_RETURN(plugin::PackAnswer answer, FinishCall(*call, info));
  return std::string(answer.json());
}

void CdsService::ApplyCors(const HttpRequest& request, HttpResponse& response,
                           bool preflight) const {
  std::string_view origin = request.Header("Origin");
  if (options_.cors_allowed_origins.empty()) {
    // Local default: any origin, never with credentials (checklist item 108).
    response.SetHeader("Access-Control-Allow-Origin", "*");
  } else {
    bool allowed = false;
    for (const std::string& o : options_.cors_allowed_origins) allowed = allowed || o == origin;
    if (!allowed) return;
    response.SetHeader("Access-Control-Allow-Origin", std::string(origin));
    response.SetHeader("Vary", "Origin");
  }
  if (preflight) {
    response.SetHeader("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    std::string_view asked = request.Header("Access-Control-Request-Headers");
    response.SetHeader("Access-Control-Allow-Headers",
                       asked.empty() ? std::string("Authorization, Content-Type")
                                     : "Authorization, Content-Type, " + std::string(asked));
    response.SetHeader("Access-Control-Max-Age", "600");
  }
}

Status CdsService::AuthorizeAdmin(const HttpRequest& request, CallInfo& info) const {
  if (!options_.admin_token.empty()) {
    if (BearerMatches(request.Header("Authorization"), options_.admin_token)) return Status::Ok();
    info.auth_refusal =
        request.Header("Authorization").empty() ? "missing admin token" : "wrong admin token";
    return Unauthenticated(info.auth_refusal);
  }
  if (options_.admin_loopback_only && !IsLoopbackPeer(request.remote_address)) {
    return Status(StatusCode::kPermissionDenied,
                  "this endpoint answers only loopback clients; set an admin token "
                  "(--admin-token-file) to read it from elsewhere");
  }
  return Status::Ok();
}

CallInfo& CallInfoOf(ExchangeTag& tag) {
  if (auto* info = dynamic_cast<CallInfo*>(&tag)) return *info;
  thread_local CallInfo unused;  // a transport that made no CallInfo: nothing reads it back
  unused = CallInfo{};
  return unused;
}

const CallInfo& CallInfoOf(const ExchangeTag* tag) {
  // No CallInfo: the transport refused the request before any handler saw it.
  static const CallInfo kUnparsed = [] {
    CallInfo info;
    info.route = "unparsed";
    return info;
  }();
  const auto* info = dynamic_cast<const CallInfo*>(tag);
  return info != nullptr ? *info : kUnparsed;
}

RequestHandler ServiceHandler(const CdsService& service) {
  return RequestHandler{[&service](const HttpRequest& request, ExchangeTag& tag) {
                          return service.ServeInPlace(request, CallInfoOf(tag));
                        },
                        [] { return std::make_unique<CallInfo>(); }};
}

HttpResponse CdsService::Handle(const HttpRequest& request, CallInfo* info) const {
  CallInfo local;
  CallInfo& call = info != nullptr ? *info : local;
  HttpOutcome outcome = Serve(request, call);
  return outcome.deferred() ? outcome.blocking(request, call) : std::move(outcome.response);
}

HttpOutcome CdsService::Serve(const HttpRequest& request, CallInfo& info) const {
  HttpOutcome outcome = ServeInPlace(request, info);
  if (!outcome.deferred()) {
    outcome.response.MaterializeBody();
    return outcome;
  }
  return HttpOutcome(
      [work = std::move(outcome.blocking)](const HttpRequest& req, ExchangeTag& tag) {
        HttpResponse response = work(req, tag);
        response.MaterializeBody();
        return response;
      });
}

HttpOutcome CdsService::ServeInPlace(const HttpRequest& request, CallInfo& info) const {
  bool preflight = request.method == "OPTIONS";
  if (preflight) {
    // A browser asks before every credentialed or JSON call (checklist §K): answer on any path.
    HttpResponse response;
    response.status = 204;
    response.content_type.clear();
    info.route = "OPTIONS";
    ApplyCors(request, response, /*preflight=*/true);
    return response;
  }
  HttpOutcome outcome = Route(request, info, /*may_defer=*/true);
  if (!outcome.deferred()) {
    ApplyCors(request, outcome.response, /*preflight=*/false);
    return outcome;
  }
  return HttpOutcome(
      [this, work = std::move(outcome.blocking)](const HttpRequest& req, ExchangeTag& tag) {
        HttpResponse response = work(req, tag);
        ApplyCors(req, response, /*preflight=*/false);
        return response;
      });
}

// The route table: exact paths first, then `/cds-services` and what lies below it. A route's
// label is the template logs and metrics see.
const std::vector<CdsService::RouteEntry>& CdsService::Routes() {
  static const std::vector<RouteEntry> kRoutes = {
      // Probes (issue 15): liveness says the process answers; readiness says whether a load
      // balancer should send it traffic. /healthz is the historical name of /livez.
      {"/livez", /*subtree=*/false, &CdsService::RouteLive},
      {"/healthz", false, &CdsService::RouteLive},
      {"/readyz", false, &CdsService::RouteReady},
      {"/metrics", false, &CdsService::RouteMetrics},
      {"/admin/feedback", false, &CdsService::RouteFeedbackSummary},
      {kServicesPrefix, /*subtree=*/true, &CdsService::RouteServices},
  };
  return kRoutes;
}

HttpOutcome CdsService::Route(const HttpRequest& request, CallInfo& info, bool may_defer) const {
  std::string_view path = request.Path();
  // W3C trace context: continue the client's trace, or start one (issue 16).
  if (info.traceparent.empty()) {
    std::optional<TraceContext> client_trace = ParseTraceparent(request.Header("traceparent"));
    info.traceparent = (client_trace ? ChildSpan(*client_trace) : NewTraceContext()).ToHeader();
  }
  for (const RouteEntry& route : Routes()) {
    bool matches = route.subtree
                       ? path.rfind(route.path, 0) == 0 &&
                             (path.size() == route.path.size() || path[route.path.size()] == '/')
                       : path == route.path;
    if (matches) return (this->*route.handle)(request, path, info, may_defer);
  }
  info.route = "unknown";
  return ErrorResponse(NotFound("no such endpoint: " + std::string(path) +
                                " (the CDS Hooks discovery endpoint is /cds-services)"));
}

HttpOutcome CdsService::RouteLive(const HttpRequest& request, std::string_view path, CallInfo& info,
                                  bool) const {
  info.route = std::string(path);
  const std::string& method = request.method;
  if (!IsRead(method)) return MethodNotAllowedResponse(method, path, kReadMethods);
  return JsonResponse(200, R"({"status":"ok"})");
}

HttpOutcome CdsService::RouteReady(const HttpRequest& request, std::string_view path,
                                   CallInfo& info, bool) const {
  info.route = "/readyz";
  const std::string& method = request.method;
  if (!IsRead(method)) return MethodNotAllowedResponse(method, path, kReadMethods);
  if (hooks_.readiness) {
    if (Status ready = hooks_.readiness(); !ready.ok()) return ErrorResponse(ready);
  }
  return JsonResponse(200, R"({"status":"ready"})");
}

HttpOutcome CdsService::RouteMetrics(const HttpRequest& request, std::string_view path,
                                     CallInfo& info, bool) const {
  info.route = "/metrics";
  if (!IsRead(request.method)) {
    return MethodNotAllowedResponse(request.method, path, kReadMethods);
  }
  if (Status s = AuthorizeAdmin(request, info); !s.ok()) return ErrorResponse(s);
  HttpResponse r = JsonResponse(200, hooks_.metrics_text ? hooks_.metrics_text() : "");
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return r;
}

HttpOutcome CdsService::RouteFeedbackSummary(const HttpRequest& request, std::string_view path,
                                             CallInfo& info, bool) const {
  info.route = "/admin/feedback";
  if (!IsRead(request.method)) {
    return MethodNotAllowedResponse(request.method, path, kReadMethods);
  }
  if (Status s = AuthorizeAdmin(request, info); !s.ok()) return ErrorResponse(s);
  if (!hooks_.feedback_summary_json) {
    return ErrorResponse(NotFound("feedback storage is not enabled on this server"));
  }
  auto summary = hooks_.feedback_summary_json();
  if (!summary.ok()) return ErrorResponse(summary.status());
  return JsonResponse(200, std::move(*summary));
}

HttpOutcome CdsService::RouteServices(const HttpRequest& request, std::string_view path,
                                      CallInfo& info, bool may_defer) const {
  const std::string& method = request.method;
  std::string_view rest = path.substr(kServicesPrefix.size());
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);

  // Verifying this client's token may fetch its key set over the network: take the whole call
  // off the I/O thread.
  if (may_defer && hooks_.authenticate && hooks_.authenticate_may_block &&
      hooks_.authenticate_may_block(request.Header("Authorization"))) {
    return HttpOutcome([this](const HttpRequest& req, ExchangeTag& tag) {
      return std::move(Route(req, CallInfoOf(tag), /*may_defer=*/false).response);
    });
  }

  // Client authentication covers discovery, service and feedback calls alike (checklist 95).
  // On an I/O thread (may_defer) nothing may block: authenticate_may_block said no fetch is
  // needed, and the hook is told so, should that have changed since.
  auto authenticate = [&]() -> Status {
    if (!hooks_.authenticate) return Status::Ok();
    AuthAttempt attempt;
    attempt.may_block = !may_defer || !hooks_.authenticate_may_block;
    auto client = hooks_.authenticate(request.Header("Authorization"), path, attempt);
    if (!client.ok()) {
      if (client.status().code() == StatusCode::kUnauthenticated) {
        info.auth_refusal = client.status().message();
        info.refused_iss = std::move(attempt.claimed_iss);
        info.refused_kid = std::move(attempt.claimed_kid);
      }
      return client.status();
    }
    info.client_iss = std::move(*client);
    info.client_sub = std::move(attempt.verified_sub);
    return Status::Ok();
  };

  if (rest.empty()) {
    info.route = "/cds-services";
    if (!IsRead(method)) return MethodNotAllowedResponse(method, path, kReadMethods);
    if (Status s = authenticate(); !s.ok()) return ErrorResponse(s);
    return JsonResponse(200, discovery_json_);
  }

  std::string_view id = rest.substr(0, rest.find('/'));
  std::string_view tail = rest.size() > id.size() ? rest.substr(id.size() + 1) : std::string_view();
  if (!tail.empty() && tail != "feedback") {
    info.route = "unknown";
    return ErrorResponse(NotFound("no such endpoint: " + std::string(path)));
  }
  if (registry_.FindService(id) == nullptr) {
    info.route = tail.empty() ? "/cds-services/{id}" : "/cds-services/{id}/feedback";
    return ErrorResponse(NotFound("no CDS service with id '" + std::string(id) +
                                  "'; GET /cds-services lists the services"));
  }
  info.service_id = std::string(id);
  if (tail == "feedback") {
    info.route = "/cds-services/{id}/feedback";
    if (method != "POST") return MethodNotAllowedResponse(method, path, kPostMethods);
    if (Status s = authenticate(); !s.ok()) return ErrorResponse(s);
    if (request.body.size() > options_.max_body_bytes) {
      return ErrorResponse(Status(StatusCode::kPayloadTooLarge, "feedback body too large"));
    }
    if (!hooks_.store_feedback) {
      return ErrorResponse(NotFound("feedback storage is not enabled on this server"));
    }
    // The 200 means the feedback is on disk: a durable write, so it runs off the I/O threads.
    auto store = [this, service = std::string(id)](const HttpRequest& req, ExchangeTag& tag) {
      if (Status s = hooks_.store_feedback(service, req.body); !s.ok()) return ErrorResponse(s);
      if (hooks_.describe_feedback) hooks_.describe_feedback(req.body, CallInfoOf(tag));
      return JsonResponse(200, "{}");
    };
    if (!may_defer) return store(request, info);
    return HttpOutcome(std::move(store));
  }
  info.route = "/cds-services/{id}";
  if (method != "POST") return MethodNotAllowedResponse(method, path, kPostMethods);
  if (Status s = authenticate(); !s.ok()) return ErrorResponse(s);
  auto prepared = PrepareCall(id, request.body, &info);
  if (!prepared.ok()) return ErrorResponse(prepared.status());
  std::unique_ptr<PreparedCall> call = std::move(*prepared);
  auto answer = [this](PreparedCall& prepared, const HttpRequest& req, CallInfo& call_info) {
    prepared.body = req.body;  // the server keeps the request alive until it has answered
    auto response = FinishCall(prepared, &call_info);
    if (!response.ok()) return ErrorResponse(response.status());
    // The pack's buffer is the body: written to the socket from where it lies.
    HttpResponse r;
    r.external = ExternalBody{response->owner(), response->json()};
    return r;
  };
  if (!may_defer || !WillFetch(*call)) return answer(*call, request, info);
  // Missing prefetch to fetch from the EHR's FHIR server: up to the fetch deadline of blocking.
  std::shared_ptr<PreparedCall> deferred(std::move(call));
  return HttpOutcome([answer, deferred](const HttpRequest& req, ExchangeTag& tag) {
    return answer(*deferred, req, CallInfoOf(tag));
  });
}

}  // namespace cephalgia::hooks
