# Included from cds-hooks/CMakeLists.txt (paths are relative to cds-hooks/), after the
# `cephalgia` executable is declared. Issue 17: the CDS Hooks conformance checker.
#
# hooks_conformance  the CDS Hooks response and prefetch-template rules (checklist A, D, F) and
#                    FHIR R4 JSON Schema validation: one implementation, used by the conformance
#                    test suite (tests/cds-hooks/conformance) and by `cephalgia check`
cephalgia_cc_library(NAME hooks_conformance
  SRCS src/check/response_rules.cc src/check/fhir_schema.cc
  PUBLIC_DEPS cephalgia::base)

# hooks_checker  `cephalgia check BASE_URL`: HTTP with libcurl, ES384 client JWTs with OpenSSL,
#                text/JSON/JUnit reports
cephalgia_cc_library(NAME hooks_checker
  SRCS src/check/check_command.cc src/check/checker.cc src/check/fhir_data.cc
       src/check/http_client.cc src/check/jwt_signer.cc src/check/report.cc
  PUBLIC_DEPS cephalgia::hooks_conformance
  PRIVATE_DEPS cephalgia::hooks_auth CURL::libcurl OpenSSL::Crypto)
# The default FHIR data and schema (../shared) of the checkout this binary was built from, when
# neither the working directory nor the binary's location has one.
target_compile_definitions(cephalgia_hooks_checker PRIVATE
  CEPHALGIA_CHECK_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared")

target_link_libraries(cephalgia PRIVATE cephalgia::hooks_checker)
