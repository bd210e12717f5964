// Debug helper: prints the headache pack's response to one golden case, evaluated in-process.
//   headache_eval_case tests/rules/cases/001-thunderclap-snomed.json
#include <cstdio>
#include <iostream>

#include "cephalgia/json.h"
#include "test_support.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " CASE.json\n";
    return 2;
  }
  auto c = cephalgia::testing::LoadGoldenCase(argv[1]);
  if (!c.ok()) {
    std::cerr << c.status().ToString() << "\n";
    return 1;
  }
  auto r = cephalgia::rules::EvaluateCase(*c);
  if (!r.ok()) {
    std::cerr << r.status().ToString() << "\n";
    return 1;
  }
  std::cout << *r << "\n";
  return 0;
}
