// The engine's entry points: Load compiles the knowledge, Evaluate turns one CDS Hooks request
// into a response: parse -> facts (facts.cc) -> decisions (decide.cc) -> cards (render.cc).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>

#include "cephalgia/fhir/date_time.h"
#include "cephalgia/fhir/issues.h"
#include "cephalgia/fhir/resource_index.h"
#include "cephalgia/json.h"
#include "cephalgia/json_scan.h"
#include "cephalgia/rules/headache_engine.h"
#include "decide.h"
#include "facts.h"
#include "knowledge.h"
#include "render.h"

namespace cephalgia::rules {

using internal::Facts;
using internal::Knowledge;

namespace {

constexpr std::size_t kMaxRequestBytes = std::size_t{64} << 20;
constexpr std::string_view kDraftOrigin = "context.draftOrders";
constexpr std::size_t kValueBufferBytes =
    256 * 1024;  // per thread; larger requests fall back to malloc
constexpr std::size_t kParseBufferBytes = 16 * 1024;
// The document's parse stack starts smaller than its buffer, which also holds the pool's chunk
// header: sized as the buffer, the stack's first block did not fit and came from malloc (a 64 KB
// chunk, allocated and freed on every call).
constexpr std::size_t kParseStackBytes = kParseBufferBytes / 2;
constexpr std::size_t kMaxUnreadableIssues = 20;

// Builds a document from the tokenizer's events over the client's request, left untouched (no
// copy of the request to parse in situ): a plain string becomes a reference into the request,
// which outlives the document (the whole call); a string the tokenizer had to decode (it had
// escapes) is in its scratch buffer only during the callback, so that one is copied. The
// document's strings are therefore not NUL-terminated: read them with their length, as the
// json.h and fhir helpers do.
template <typename Document>
class ReferencingHandler {
 public:
  ReferencingHandler(Document& doc, std::string_view text)
      : doc_(doc), begin_(reinterpret_cast<std::uintptr_t>(text.data())), size_(text.size()) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return doc_.RawNumber(s, n, copy);
  }
  [[gnu::always_inline]] bool String(const char* s, rapidjson::SizeType n, bool copy) {
    if (!copy || InText(s)) [[likely]]
      return Reference(s, n);
    return doc_.String(s, n, true);
  }
  [[gnu::always_inline]] bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    return String(s, n, copy);  // GenericDocument::Key is its String
  }
  bool StartObject() { return doc_.StartObject(); }
  // Inlined, and asked to inline what they call (flatten): the pool's Malloc of each container's
  // members (about 190 a request) was a call of its own. GCC now inlines Malloc, and keeps
  // SetObjectRaw out of line (flatten alone made EndObject and EndArray calls instead, no gain).
  [[gnu::always_inline, gnu::flatten]] bool EndObject(rapidjson::SizeType members) {
    return doc_.EndObject(members);
  }
  bool StartArray() { return doc_.StartArray(); }
  [[gnu::always_inline, gnu::flatten]] bool EndArray(rapidjson::SizeType elements) {
    return doc_.EndArray(elements);
  }

 private:
  bool InText(const char* s) const {
    return reinterpret_cast<std::uintptr_t>(s) - begin_ <= size_;  // one unsigned compare
  }
  // A string of the request, referenced: most events are these. Inlined with what it calls
  // (flatten): left to the compiler, each became a call to the whole of GenericDocument::String,
  // copying branch included (about 33 instructions a string).
  [[gnu::flatten]] bool Reference(const char* s, rapidjson::SizeType n) {
    return doc_.String(s, n, false);
  }
  Document& doc_;
  const std::uintptr_t begin_;
  const std::size_t size_;
};

}  // namespace

struct HeadacheEngine::Impl {
  std::unique_ptr<Knowledge> k;
  std::string descriptor;
};

HeadacheEngine::HeadacheEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HeadacheEngine::~HeadacheEngine() = default;

const std::string& HeadacheEngine::knowledge_version() const { return impl_->k->knowledge_version; }
std::string HeadacheEngine::Describe() const { return impl_->descriptor; }

std::string HeadacheDataDir(std::string_view pack_directory) {
  std::string dir(pack_directory.empty() ? "." : pack_directory);
  return dir + "/headache";
}

Result<std::unique_ptr<HeadacheEngine>> HeadacheEngine::Load(const std::string& data_dir) {
  auto impl = std::make_unique<Impl>();
  CEPHALGIA_ASSIGN_OR_RETURN(impl->k, internal::LoadKnowledge(data_dir));
  const Knowledge& k = *impl->k;
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("packId");
  w.String(k.pack_id.c_str());
  w.Key("packVersion");
  w.String(k.pack_version.c_str());
  w.Key("knowledgeVersion");
  w.String(k.knowledge_version.c_str());
  w.Key("services");
  w.StartArray();
  for (const internal::Service& s : k.services) {
    w.StartObject();
    w.Key("id");
    w.String(s.id.c_str());
    w.Key("hook");
    w.String(s.hook.c_str());
    w.Key("title");
    w.String(s.title.c_str());
    w.Key("description");
    w.String(s.description.c_str());
    w.Key("prefetch");
    w.StartObject();
    for (const auto& [key, tmpl] : s.prefetch) {
      w.Key(key.c_str());
      w.String(tmpl.c_str());
    }
    w.EndObject();
    w.Key("requiredPrefetch");
    w.StartArray();
    for (const std::string& r : s.required_prefetch) w.String(r.c_str());
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  impl->descriptor.assign(sb.GetString(), sb.GetSize());
  return std::unique_ptr<HeadacheEngine>(new HeadacheEngine(std::move(impl)));
}

Result<std::string> HeadacheEngine::Evaluate(const plugin::EvaluateCall& call) const {
  const Knowledge& k = *impl_->k;
  const internal::Service* service = nullptr;
  for (const internal::Service& s : k.services) {
    if (s.id == call.service_id) service = &s;
  }
  if (service == nullptr) return NotFound("unknown service '" + std::string(call.service_id) + "'");

  fhir::Instant now;
  std::string now_text;
  if (!call.now.empty()) {
    Result<fhir::DateTime> parsed = fhir::DateTime::Parse(call.now, fhir::DateKind::kDateTime);
    if (!parsed.ok())
      return InvalidArgument("option 'now' is not a FHIR dateTime: " + parsed.status().message(),
                             "now");
    now = parsed->start();
    now_text = call.now;
  } else {
    now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    now_text = fhir::DateTime::FromInstant(now).ToString();
  }

  // Parsed into per-thread buffers that are reused across calls: the request is parsed on every
  // evaluation and this keeps the allocator out of the hot path (same checks as
  // json::ParseUntrusted: UTF-8 and NUL checked up front, depth-limited, size-capped). `text`
  // holds a copy only for RapidJSON's in-situ parse when the tokenizer leaves the request to it.
  if (call.request_json.size() > kMaxRequestBytes) {
    return Status(StatusCode::kPayloadTooLarge,
                  "request of " + std::to_string(call.request_json.size()) +
                      " bytes exceeds the limit of " + std::to_string(kMaxRequestBytes));
  }
  thread_local std::vector<char> text;
  thread_local std::unique_ptr<char[]> value_buffer(new char[kValueBufferBytes]);
  thread_local std::unique_ptr<char[]> parse_buffer(new char[kParseBufferBytes]);
  rapidjson::MemoryPoolAllocator<> value_alloc(value_buffer.get(), kValueBufferBytes);
  rapidjson::MemoryPoolAllocator<> parse_alloc(parse_buffer.get(), kParseBufferBytes);
  rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                             rapidjson::MemoryPoolAllocator<>>
      doc(&value_alloc, kParseStackBytes, &parse_alloc);
  // The fast tokenizer builds the document over the request as the client sent it (strings
  // referenced where they lie, ReferencingHandler); what it leaves (it accepts only what
  // RapidJSON accepts, and only UTF-8 without NUL) is checked for UTF-8 and parsed by RapidJSON
  // in situ on a copy (ParseInsituInto), whose error is the one reported.
  bool scanned = false;
  auto scan = [&](decltype(doc)& target) {
    ReferencingHandler<decltype(doc)> handler(target, call.request_json);
    // Not in situ, the tokenizer only reads the text.
    scanned = json_scan::Scan(const_cast<char*>(call.request_json.data()), call.request_json.size(),
                              handler, /*in_situ=*/false, json::kMaxNestingDepth);
    return scanned;
  };
  doc.Populate(scan);
  if (!scanned) CEPHALGIA_RETURN_IF_ERROR(json::ParseInsituInto(doc, call.request_json, text));
  if (!doc.IsObject()) return InvalidArgument("the CDS Hooks request must be a JSON object", "$");
  const rapidjson::Value* context = json::GetObject(doc, "context");
  if (context == nullptr) return InvalidArgument("context is required", "context");
  std::optional<std::string_view> patient_id = json::GetString(*context, "patientId");
  if (!patient_id || patient_id->empty())
    return InvalidArgument("context.patientId is required", "context.patientId");
  // A FHIR id ([A-Za-z0-9-.]{1,64}): it becomes `Patient/<id>` in every suggested resource, so a
  // value with slashes or other characters must not pass through.
  if (patient_id->size() > 64 || !std::all_of(patient_id->begin(), patient_id->end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.';
      })) {
    return InvalidArgument("context.patientId is not a FHIR id ([A-Za-z0-9-.]{1,64})",
                           "context.patientId");
  }

  // What the host fetched travels beside the request as raw JSON parts (ABI 1.1); each is
  // parsed here, once. Calls without parts (a complete prefetch) allocate nothing for them.
  std::vector<rapidjson::Document> part_docs;
  part_docs.reserve(call.parts.size());
  for (const plugin::JsonPart& part : call.parts) {
    CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document d,
                               json::ParseUntrusted(part.json, kMaxRequestBytes));
    part_docs.push_back(std::move(d));
  }

  // What the index could not read (an entry without a resource, a resource without a type...)
  // is not dropped silently: it becomes a data gap with its element path in the extension.
  fhir::IssueSink unreadable(kMaxUnreadableIssues);
  fhir::ResourceIndex index(&unreadable);
  std::vector<internal::DataGap> gaps;
  const rapidjson::Value* prefetch = json::GetObject(doc, "prefetch");
  // The host's gaps are the only account of missing prefetch: the pack does not work out again
  // which keys are missing.
  for (const auto& g : call.unavailable_prefetch)
    gaps.push_back({g.key, "unavailable: " + g.reason, true});
  for (const auto& g : call.partial_prefetch) gaps.push_back({g.key, "partial: " + g.reason, true});
  // Index in the order of the completed prefetch: a fetched value stands where the client's
  // value of that key stood (its first member of that name), more pages right after the page
  // they extend, and values for keys the client did not send after everything it sent.
  std::vector<bool> part_used(call.parts.size(), false);
  auto value_part = [&](std::string_view key) -> int {
    for (std::size_t i = 0; i < call.parts.size(); ++i) {
      if (!part_used[i] && !call.parts[i].more_pages && call.parts[i].key == key)
        return static_cast<int>(i);
    }
    return -1;
  };
  auto add_more_pages = [&](std::string_view key) {
    for (std::size_t i = 0; i < call.parts.size(); ++i) {
      if (!part_used[i] && call.parts[i].more_pages && call.parts[i].key == key) {
        part_used[i] = true;
        index.Add(part_docs[i], key);
      }
    }
  };
  if (prefetch != nullptr) {
    for (auto m = prefetch->MemberBegin(); m != prefetch->MemberEnd(); ++m) {
      std::string_view key(m->name.GetString(), m->name.GetStringLength());
      if (!call.parts.empty()) {
        if (int i = value_part(key); i >= 0) {
          part_used[static_cast<std::size_t>(i)] = true;
          index.Add(part_docs[static_cast<std::size_t>(i)], key);
          continue;
        }
      }
      if (m->value.IsNull()) continue;
      index.Add(m->value, key);
      if (!call.parts.empty()) add_more_pages(key);
    }
  }
  for (std::size_t i = 0; i < call.parts.size(); ++i) {
    if (!part_used[i] && !call.parts[i].more_pages) index.Add(part_docs[i], call.parts[i].key);
  }
  for (const fhir::IndexedResource* oo : index.operation_outcomes()) {
    gaps.push_back({std::string(oo->origin), "the query returned an OperationOutcome", true});
  }
  if (service->order_sign) {
    if (const rapidjson::Value* drafts = json::Find(*context, "draftOrders");
        drafts != nullptr && drafts->IsObject()) {
      index.Add(*drafts, kDraftOrigin);
    }
  }
  for (const fhir::Issue& issue : unreadable.issues()) {
    if (issue.severity == fhir::Severity::kInformation) continue;
    gaps.push_back({"", "not read: " + issue.location + ": " + issue.message, false});
  }
  if (unreadable.dropped() > 0) {
    gaps.push_back(
        {"", "not read: " + std::to_string(unreadable.dropped()) + " more problems", false});
  }
  Facts facts = internal::ExtractFacts(k, index, now,
                                       service->order_sign ? kDraftOrigin : std::string_view());
  bool host_gaps = !call.unavailable_prefetch.empty() || !call.partial_prefetch.empty() ||
                   !index.operation_outcomes().empty();
  internal::Decisions decisions = service->order_sign
                                      ? internal::DecideOrderSign(k, facts)
                                      : internal::DecidePatientView(k, facts, host_gaps);
  internal::RenderContext context_for_cards{*patient_id, now_text, std::move(gaps)};
  return internal::RenderResponse(k, facts, decisions, context_for_cards);
}

}  // namespace cephalgia::rules
