#include <cstdio>
#include <iostream>
#include "test_support.h"
#include "cephalgia/json.h"
int main(int argc, char** argv) {
  auto c = cephalgia::testing::LoadGoldenCase(argv[1]);
  if (!c.ok()) { std::cerr << c.status().ToString() << "\n"; return 1; }
  auto r = cephalgia::rules::EvaluateCase(*c);
  if (!r.ok()) { std::cerr << r.status().ToString() << "\n"; return 1; }
  std::cout << *r << "\n";
}
