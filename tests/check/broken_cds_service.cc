#include "broken_cds_service.h"

// clang-format off
#include <utility>  // before Boost.Asio: Debian 12's awaitable.hpp uses std::exchange without it
// clang-format on

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <string>

#include "cephalgia/json.h"
#include "cephalgia/uuid.h"

namespace cephalgia::test {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

// Two services: the hooks' contexts differ (order-select carries selections and draftOrders).
constexpr char kPatientViewId[] = "broken-patient-view";
constexpr char kOrderSelectId[] = "broken-order-select";

struct Answer {
  int status = 200;
  std::string body;
};

std::string OperationOutcome(const std::string& diagnostics) {
  std::string out =
      R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":)";
  json::AppendQuotedJsonString(diagnostics, &out);
  return out + "}]}";
}

}  // namespace

struct BrokenCdsService::Impl {
  explicit Impl(Defects d)
      : defects(std::move(d)),
        acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {}

  Answer Discovery() const {
    return {
        200,
        std::string(R"({"services":[{"hook":"patient-view","id":")") + kPatientViewId +
            R"(","title":"Broken test service","description":"A CDS service for the checker's tests",)"
            R"("prefetch":{"patient":"Patient/{{context.patientId}}"}},)"
            R"({"hook":"order-select","id":")" +
            kOrderSelectId +
            R"(","title":"Broken test service for orders","description":"The same, for order-select",)"
            R"("prefetch":{"patient":"Patient/{{context.patientId}}","conditions":"Condition?patient={{context.patientId}}"}}]})"};
  }

  Answer Malformed(const std::string& why) const {
    if (defects.server_error_on_malformed) return {500, R"({"error":"internal server error"})"};
    return {400, OperationOutcome(why)};
  }

  Answer Call(const std::string& hook, const std::string& body) const {
    auto doc = json::ParseUntrusted(body);
    if (!doc.ok() || !doc->IsObject()) return Malformed("the body is not a JSON object");
    if (json::GetString(*doc, "hook") != hook) return Malformed("hook must be " + hook);
    if (!json::GetString(*doc, "hookInstance")) return Malformed("hookInstance is required");
    const rapidjson::Value* context = json::GetObject(*doc, "context");
    if (context == nullptr || !json::GetString(*context, "patientId")) {
      return Malformed("context.patientId is required");
    }
    if (defects.server_error_without_prefetch) {
      const rapidjson::Value* prefetch = json::GetObject(*doc, "prefetch");
      if (prefetch == nullptr || json::GetObject(*prefetch, "patient") == nullptr) {
        return {500, R"({"error":"TypeError: Cannot read properties of undefined reading name"})"};
      }
    }
    if (hook == "order-select") {
      const rapidjson::Value* selections = json::GetArray(*context, "selections");
      const rapidjson::Value* draft = json::GetObject(*context, "draftOrders");
      if (selections == nullptr || selections->Empty() || draft == nullptr ||
          json::GetString(*draft, "resourceType") != "Bundle") {
        return Malformed("order-select needs context.selections and a draftOrders Bundle");
      }
    }
    std::string summary = "Check the headache diary";
    summary.resize(defects.summary_length, '.');
    std::string out = R"({"cards":[{"uuid":")" + NewUuidV4() + R"(","summary":)";
    json::AppendQuotedJsonString(summary, &out);
    out += R"(,"indicator":)";
    json::AppendQuotedJsonString(defects.indicator, &out);
    out +=
        R"(,"detail":"A **test** card.","source":{"label":"Broken test service","url":"https://example.org/broken"},)"
        R"("selectionBehavior":"at-most-one","suggestions":[{"label":"Refer to physiotherapy","uuid":")" +
        NewUuidV4() +
        R"(","isRecommended":true,"actions":[{"type":"create","description":"Physiotherapy referral",)"
        R"("resource":{"resourceType":"ServiceRequest","status":"draft","intent":"proposal",)"
        R"("code":{"coding":[{"system":"http://snomed.info/sct","code":"91251008","display":"Physical therapy procedure"}]},)" +
        // R4 requires ServiceRequest.subject; the invalid resource leaves it out.
        (defects.invalid_fhir_resource
             ? std::string(R"("note":[{"text":"no subject"}])")
             : R"("subject":{"reference":"Patient/)" +
                   std::string(*json::GetString(*context, "patientId")) + R"("})") +
        R"(}}]}],"overrideReasons":[{"system":"urn:example:override","code":"not-relevant","display":"Not relevant"}],)"
        R"("links":[{"label":"Guideline","url":"https://example.org/guideline","type":"absolute"}]}]})";
    return {200, out};
  }

  Answer Feedback(const std::string& body) const {
    auto doc = json::ParseUntrusted(body);
    const rapidjson::Value* items = doc.ok() ? json::GetArray(*doc, "feedback") : nullptr;
    if (items == nullptr || items->Empty()) return Malformed("feedback array required");
    for (const auto& item : items->GetArray()) {
      auto outcome = json::GetString(item, "outcome");
      if (outcome != "accepted" && outcome != "overridden") {
        return Malformed("outcome must be accepted or overridden");
      }
    }
    return {200, "{}"};
  }

  void Handle(tcp::socket& socket) {
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(socket, buffer, req, ec);
    if (ec) return;
    const std::string target(req.target());
    const std::string patient_view = std::string("/cds-services/") + kPatientViewId;
    const std::string order_select = std::string("/cds-services/") + kOrderSelectId;
    http::response<http::string_body> res;
    res.version(11);
    res.keep_alive(false);
    Answer a;
    if (req.method() == http::verb::options) {
      a = defects.no_cors ? Answer{405, OperationOutcome("method not allowed")} : Answer{204, ""};
    } else if (target == "/cds-services" && req.method() == http::verb::get) {
      a = Discovery();
    } else if (target == patient_view && req.method() == http::verb::post) {
      a = Call("patient-view", req.body());
    } else if (target == order_select && req.method() == http::verb::post) {
      a = Call("order-select", req.body());
    } else if ((target == patient_view + "/feedback" || target == order_select + "/feedback") &&
               req.method() == http::verb::post) {
      a = Feedback(req.body());
    } else if (target.rfind("/cds-services/", 0) == 0) {
      a = {404, OperationOutcome("no such service")};
    } else {
      a = {404, OperationOutcome("not found")};
    }
    res.result(a.status);
    if (!a.body.empty()) res.set(http::field::content_type, "application/json");
    if (!defects.no_cors) {
      res.set(http::field::access_control_allow_origin, "*");
      if (req.method() == http::verb::options) {
        res.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
        res.set(http::field::access_control_allow_headers, "Authorization, Content-Type");
      }
    }
    res.body() = a.body;
    res.prepare_payload();
    http::write(socket, res, ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
  }

  void Accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;  // closed: the service is stopping
      Handle(socket);
      Accept();
    });
  }

  Defects defects;
  net::io_context ioc;
  tcp::acceptor acceptor;
};

BrokenCdsService::BrokenCdsService(Defects defects)
    : impl_(std::make_unique<Impl>(std::move(defects))) {
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->Accept();
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

BrokenCdsService::~BrokenCdsService() {
  impl_->ioc.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace cephalgia::test
