# cephalgia_cc_library() / cephalgia_cc_test(): small wrappers in the style of Abseil's
# absl_cc_library, so every module is declared the same way and gets a cephalgia::<name> alias.
#
#   cephalgia_cc_library(NAME fhir
#     SRCS src/a.cc src/b.cc
#     PUBLIC_DEPS cephalgia::base          # part of this library's interface
#     PRIVATE_DEPS CURL::libcurl)          # implementation detail, not visible to dependents
#
#   cephalgia_cc_test(NAME fhir_date_test SRCS fhir/date_test.cc DEPS cephalgia::fhir)

function(cephalgia_cc_library)
  cmake_parse_arguments(CC "" "NAME" "SRCS;PUBLIC_DEPS;PRIVATE_DEPS;PUBLIC_INCLUDES" ${ARGN})
  add_library(cephalgia_${CC_NAME} STATIC ${CC_SRCS})
  add_library(cephalgia::${CC_NAME} ALIAS cephalgia_${CC_NAME})
  target_include_directories(cephalgia_${CC_NAME} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> ${CC_PUBLIC_INCLUDES})
  target_include_directories(cephalgia_${CC_NAME} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(cephalgia_${CC_NAME} PUBLIC ${CC_PUBLIC_DEPS} PRIVATE ${CC_PRIVATE_DEPS})
endfunction()

# Tests run from the build tree; CEPHALGIA_SHARED_DIR points at ../shared (the repo's sibling),
# CEPHALGIA_SOURCE_DIR at the checkout, CEPHALGIA_PACK_DIR at the built packs.
function(cephalgia_cc_test)
  cmake_parse_arguments(CC "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${CC_NAME} ${CC_SRCS})
  target_link_libraries(${CC_NAME} PRIVATE ${CC_DEPS} GTest::gtest GTest::gmock GTest::gtest_main Threads::Threads)
  target_compile_definitions(${CC_NAME} PRIVATE
    CEPHALGIA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    CEPHALGIA_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared"
    CEPHALGIA_BINARY_DIR="${PROJECT_BINARY_DIR}"
    CEPHALGIA_PACK_DIR="${CEPHALGIA_PACK_OUTPUT_DIR}")
  add_test(NAME ${CC_NAME} COMMAND ${CC_NAME} WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  if(NOT CC_TIMEOUT)
    set(CC_TIMEOUT 300)
  endif()
  set_tests_properties(${CC_NAME} PROPERTIES TIMEOUT ${CC_TIMEOUT})
  if(CC_LABELS)
    set_tests_properties(${CC_NAME} PROPERTIES LABELS "${CC_LABELS}")
  endif()
endfunction()

# A rule pack built as a plugin: a MODULE library with hidden visibility, exporting only
# cephalgia_rule_pack_init, written to CEPHALGIA_PACK_OUTPUT_DIR (or OUTPUT_DIR).
function(cephalgia_rule_pack)
  cmake_parse_arguments(CC "" "NAME;OUTPUT_DIR" "SRCS;DEPS" ${ARGN})
  if(NOT CC_OUTPUT_DIR)
    set(CC_OUTPUT_DIR "${CEPHALGIA_PACK_OUTPUT_DIR}")
  endif()
  add_library(${CC_NAME} MODULE ${CC_SRCS})
  target_link_libraries(${CC_NAME} PRIVATE cephalgia::plugin_api ${CC_DEPS})
  target_compile_definitions(${CC_NAME} PRIVATE CEPHALGIA_PACK_SHARED=1)
  set_target_properties(${CC_NAME} PROPERTIES
    PREFIX "" CXX_VISIBILITY_PRESET hidden C_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${CC_OUTPUT_DIR}")
  # A loader refuses packs writable by group or others; make sure ours are not, whatever the umask.
  add_custom_command(TARGET ${CC_NAME} POST_BUILD COMMAND chmod go-w $<TARGET_FILE:${CC_NAME}>)
endfunction()
