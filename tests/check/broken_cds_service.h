// File: broken_cds_service.h (tests only)
//
// BrokenCdsService: a small, real CDS Hooks service (Boost.Beast, 127.0.0.1, a port the kernel
// picks) with a patient-view and an order-select service, conformant by default, that can be told
// to break one rule at a time, so each check of `cephalgia check` is shown able to fail:
//
//   BrokenCdsService::Defects d;
//   d.no_cors = true;                  // no CORS headers, OPTIONS is a 405
//   BrokenCdsService service(d);
//   ... cephalgia check service.base_url() ...
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace cephalgia::test {

class BrokenCdsService {
 public:
  struct Defects {
    bool no_cors = false;                    // no Access-Control-* headers; OPTIONS answered 405
    std::string indicator = "info";          // e.g. "hard-stop" (a pre-1.0 value)
    bool server_error_on_malformed = false;  // 500 instead of 400 for malformed calls
    std::size_t summary_length = 40;         // characters of the card summary (>= 140 is invalid)
    bool invalid_fhir_resource = false;      // the suggested ServiceRequest has no subject
    bool server_error_without_prefetch = false;  // 500 when prefetch.patient is missing or null
    // Authorization headers are never looked at: any token, or none, is accepted.
  };

  explicit BrokenCdsService(Defects defects);
  ~BrokenCdsService();  // stops the listener thread
  BrokenCdsService(const BrokenCdsService&) = delete;
  BrokenCdsService& operator=(const BrokenCdsService&) = delete;

  // http://127.0.0.1:<port> (discovery at /cds-services)
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace cephalgia::test
