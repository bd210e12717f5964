// Helpers for scripts/bench.sh:
//   bench_tool ceiling-server PORT   the same Beast transport with a fixed {"cards":[]} answer and
//                                    no CDS pipeline: the ceiling of this stack on this machine
//   bench_tool request CASE.json     prints the `request` of a golden case (the wrk body)
#include <iostream>

#include "cephalgia/hooks/http_server.h"
#include "cephalgia/json.h"
#include "golden/golden_case.h"

int main(int argc, char** argv) {
  using namespace cephalgia;
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "request" && argc == 3) {
    auto loaded = testing::LoadGoldenCase(argv[2]);
    if (!loaded.ok()) {
      std::cerr << loaded.status().ToString() << "\n";
      return 1;
    }
    std::cout << loaded->request_json;
    return 0;
  }
  if (command == "ceiling-server" && argc >= 3) {
    hooks::HttpServerOptions options;
    options.port = static_cast<uint16_t>(std::atoi(argv[2]));
    options.threads = argc > 3 ? std::atoi(argv[3]) : 1;
    hooks::HttpServer server(
        options, hooks::RequestHandler{[](const hooks::HttpRequest&, hooks::ExchangeTag&) {
                                         hooks::HttpResponse r;
                                         r.body = R"({"cards":[]})";
                                         return hooks::HttpOutcome(std::move(r));
                                       },
                                       {}});
    if (Status s = server.Listen(); !s.ok()) {
      std::cerr << s.ToString() << "\n";
      return 1;
    }
    std::cerr << "ceiling server on 127.0.0.1:" << server.port() << "\n";
    server.Run(/*handle_signals=*/true);
    return 0;
  }
  std::cerr << "usage: bench_tool ceiling-server PORT [THREADS] | bench_tool request CASE.json\n";
  return 2;
}
