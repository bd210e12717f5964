#include "cephalgia/hooks/audit/audit_event.h"

#include <fcntl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace cephalgia::hooks::audit {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
constexpr std::string_view kInvalid = "(invalid)";

// Printable ASCII without blanks, bounded: ids, URLs, references, addresses.
std::string_view Safe(std::string_view s, std::size_t max_size) {
  if (s.size() > max_size) return kInvalid;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return kInvalid;
  }
  return s;
}

std::string Rfc3339Millis(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[80];  // roomy: the compiler cannot bound tm_year
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return buffer;
}

void Str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void Coding(Writer& w, std::string_view system, std::string_view code, std::string_view display) {
  w.StartObject();
  w.Key("system");
  Str(w, system);
  w.Key("code");
  Str(w, code);
  if (!display.empty()) {
    w.Key("display");
    Str(w, display);
  }
  w.EndObject();
}

void CodeableConcept(Writer& w, std::string_view system, std::string_view code,
                     std::string_view display) {
  w.StartObject();
  w.Key("coding");
  w.StartArray();
  Coding(w, system, code, display);
  w.EndArray();
  w.EndObject();
}

void Detail(Writer& w, std::string_view type, std::string_view value) {
  w.StartObject();
  w.Key("type");
  Str(w, type);
  w.Key("valueString");
  Str(w, value);
  w.EndObject();
}

constexpr std::string_view kDicom = "http://dicom.nema.org/resources/ontology/DCM";
constexpr std::string_view kEntityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
constexpr std::string_view kObjectRole = "http://terminology.hl7.org/CodeSystem/object-role";
constexpr std::string_view kBalpEntityType =
    "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType";

// An entity identified by system + value, of audit-entity-type `type` and object-role `role`.
void IdentifiedEntity(Writer& w, std::string_view system, std::string_view value,
                      std::string_view type_system, std::string_view type,
                      std::string_view type_display, std::string_view role,
                      std::string_view role_display,
                      const std::vector<std::pair<std::string_view, std::string_view>>& details) {
  w.StartObject();
  w.Key("what");
  w.StartObject();
  w.Key("identifier");
  w.StartObject();
  w.Key("system");
  Str(w, system);
  w.Key("value");
  Str(w, value);
  w.EndObject();
  w.EndObject();
  w.Key("type");
  Coding(w, type_system, type, type_display);
  if (!role.empty()) {
    w.Key("role");
    Coding(w, kObjectRole, role, role_display);
  }
  if (!details.empty()) {
    w.Key("detail");
    w.StartArray();
    for (const auto& [t, v] : details) Detail(w, t, v);
    w.EndArray();
  }
  w.EndObject();
}

}  // namespace

std::string FormatAuditEvent(const AuditRecord& r) {
  const bool hook_call = r.kind == AuditKind::kHookCall;
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("resourceType");
  w.String("AuditEvent");
  // BALP: a RESTful interaction; the subtype says which of ours.
  w.Key("type");
  Coding(w, "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation");
  w.Key("subtype");
  w.StartArray();
  Coding(w, "urn:cephalgia:audit-event-subtype", hook_call ? "cds-hook-call" : "cds-feedback",
         hook_call ? "CDS Hooks service call" : "CDS Hooks card feedback");
  w.EndArray();
  // E: the service executes rules over the patient's data; C: feedback is stored.
  w.Key("action");
  w.String(hook_call ? "E" : "C");
  w.Key("period");
  w.StartObject();
  w.Key("start");
  Str(w, Rfc3339Millis(r.start));
  w.Key("end");
  Str(w, Rfc3339Millis(r.start + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                     r.duration)));
  w.EndObject();
  w.Key("recorded");
  Str(w, Rfc3339Millis(std::chrono::system_clock::now()));
  const char* outcome = r.http_status >= 200 && r.http_status < 400 ? "0"
                        : r.http_status < 500                       ? "4"
                                                                    : "8";
  w.Key("outcome");
  w.String(outcome);
  if (std::string_view(outcome) != "0") {
    w.Key("outcomeDesc");
    Str(w, "HTTP " + std::to_string(r.http_status));
  }

  w.Key("agent");
  w.StartArray();
  // The client (BALP agent[client], the requestor): the EHR or app that called.
  w.StartObject();
  w.Key("type");
  CodeableConcept(w, kDicom, "110153", "Source Role ID");
  w.Key("who");
  w.StartObject();
  w.Key("identifier");
  w.StartObject();
  w.Key("system");
  w.String("urn:ietf:rfc:3986");
  w.Key("value");
  Str(w, r.client_iss.empty() ? std::string_view("unauthenticated") : Safe(r.client_iss, 256));
  w.EndObject();
  w.EndObject();
  // The token's sub: which app of that issuer called (AuditEvent.agent.altId).
  if (!r.client_iss.empty() && !r.client_sub.empty()) {
    w.Key("altId");
    Str(w, Safe(r.client_sub, 256));
  }
  w.Key("requestor");
  w.Bool(true);
  if (!r.remote_address.empty()) {
    w.Key("network");
    w.StartObject();
    w.Key("address");
    Str(w, Safe(r.remote_address, 64));
    w.Key("type");
    w.String("2");  // IP address
    w.EndObject();
  }
  w.EndObject();
  // The server (BALP agent[server]): this service.
  w.StartObject();
  w.Key("type");
  CodeableConcept(w, kDicom, "110152", "Destination Role ID");
  w.Key("who");
  w.StartObject();
  if (!r.server_base.empty()) {
    w.Key("identifier");
    w.StartObject();
    w.Key("system");
    w.String("urn:ietf:rfc:3986");
    w.Key("value");
    Str(w, Safe(r.server_base, 256));
    w.EndObject();
  }
  w.Key("display");
  w.String("cephalgia");
  w.EndObject();
  w.Key("requestor");
  w.Bool(false);
  w.EndObject();
  w.EndArray();

  w.Key("source");
  w.StartObject();
  w.Key("observer");
  w.StartObject();
  w.Key("display");
  w.String("cephalgia");
  w.EndObject();
  w.Key("type");
  w.StartArray();
  Coding(w, "http://terminology.hl7.org/CodeSystem/security-source-type", "4",
         "Application Server");
  w.EndArray();
  w.EndObject();

  w.Key("entity");
  w.StartArray();
  // The patient (BALP entity[patient]).
  if (!r.patient.empty()) {
    w.StartObject();
    w.Key("what");
    w.StartObject();
    w.Key("reference");
    Str(w, Safe(r.patient, 128));
    w.EndObject();
    w.Key("type");
    Coding(w, kEntityType, "1", "Person");
    w.Key("role");
    Coding(w, kObjectRole, "1", "Patient");
    w.EndObject();
  }
  // The transaction (BALP entity[transaction]): the hook instance, with the trace context.
  {
    std::vector<std::pair<std::string_view, std::string_view>> details;
    if (!r.traceparent.empty()) details.emplace_back("traceparent", Safe(r.traceparent, 64));
    if (!r.hook.empty()) details.emplace_back("hook", Safe(r.hook, 64));
    if (!r.hook_instance.empty() || !details.empty()) {
      IdentifiedEntity(
          w, "urn:cephalgia:hook-instance",
          r.hook_instance.empty() ? std::string_view("(none)") : Safe(r.hook_instance, 64),
          kBalpEntityType, "XrequestId", "X-Request-Id", "", "", details);
    }
  }
  // The CDS service called (a system object).
  if (!r.service_id.empty()) {
    IdentifiedEntity(w, "urn:cephalgia:cds-service", Safe(r.service_id, 128), kEntityType, "2",
                     "System Object", "", "", {});
  }
  // Each card issued, or each card the feedback was about.
  for (const auto& [uuid, rule] : r.cards) {
    IdentifiedEntity(w, "urn:cephalgia:card", Safe(uuid, 64), kEntityType, "2", "System Object",
                     "3", "Report", {{"ruleId", Safe(rule, 128)}});
  }
  for (const auto& [uuid, card_outcome] : r.feedback) {
    IdentifiedEntity(w, "urn:cephalgia:card", Safe(uuid, 64), kEntityType, "2", "System Object",
                     "3", "Report", {{"feedbackOutcome", Safe(card_outcome, 32)}});
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<std::unique_ptr<AuditSink>> AuditSink::Open(const std::string& target) {
  if (target.empty() || target == "off")
    return std::unique_ptr<AuditSink>(new AuditSink(nullptr, false));
  if (target == "stderr") return std::unique_ptr<AuditSink>(new AuditSink(stderr, false));
  const int fd = ::open(target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return InvalidArgument(
        "cannot open audit log " + target + " for appending: " + std::strerror(errno), "auditLog");
  }
  std::FILE* file = ::fdopen(fd, "a");
  if (file == nullptr) {
    ::close(fd);
    return InvalidArgument("cannot open audit log " + target, "auditLog");
  }
  return std::unique_ptr<AuditSink>(new AuditSink(file, true));
}

AuditSink::~AuditSink() {
  if (owned_ && file_ != nullptr) std::fclose(file_);
}

void AuditSink::Write(const AuditRecord& record) {
  if (file_ == nullptr) return;
  std::string line = FormatAuditEvent(record);
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace cephalgia::hooks::audit
