// W3C Trace Context `traceparent` parsing (issue 16), after the specification's own examples.
#include "cephalgia/hooks/trace_context.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace cephalgia::hooks {
namespace {

constexpr const char* kSpecExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContextTest, ParsesTheSpecificationExample) {
  auto context = ParseTraceparent(kSpecExample);
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(context->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(context->flags, "01");
  EXPECT_EQ(context->ToHeader(), kSpecExample);
}

TEST(TraceContextTest, RefusesWhatTheSpecificationRefuses) {
  for (const char* bad : {
           "",                                                           // absent
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",     // short
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 with a tail
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",    // not hex
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX: y",
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(TraceContextTest, AFutureVersionIsReadByItsFirst55Characters) {
  auto context = ParseTraceparent(
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds");
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_FALSE(
      ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.x").has_value());
}

TEST(TraceContextTest, AChildSpanKeepsTraceAndFlagsWithANewParentId) {
  auto parent = ParseTraceparent(kSpecExample);
  ASSERT_TRUE(parent.has_value());
  TraceContext child = ChildSpan(*parent);
  EXPECT_EQ(child.trace_id, parent->trace_id);
  EXPECT_EQ(child.flags, "01");
  EXPECT_NE(child.parent_id, parent->parent_id);
  EXPECT_TRUE(ParseTraceparent(child.ToHeader()).has_value());
}

TEST(TraceContextTest, NewTracesAreValidAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    TraceContext t = NewTraceContext();
    ASSERT_TRUE(ParseTraceparent(t.ToHeader()).has_value()) << t.ToHeader();
    seen.insert(t.trace_id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

// Every digit of a trace id and of a span id is random: none stays the same over 200 new traces
// (a digit left to one value would make ids collide far sooner than 128 and 64 bits promise).
TEST(TraceContextTest, EveryDigitOfTheIdsVaries) {
  std::vector<std::set<char>> trace_digits(32), span_digits(16);
  for (int i = 0; i < 200; ++i) {
    TraceContext t = NewTraceContext();
    ASSERT_EQ(t.trace_id.size(), 32u);
    ASSERT_EQ(t.parent_id.size(), 16u);
    for (std::size_t d = 0; d < 32; ++d) trace_digits[d].insert(t.trace_id[d]);
    for (std::size_t d = 0; d < 16; ++d) span_digits[d].insert(t.parent_id[d]);
  }
  for (std::size_t d = 0; d < 32; ++d) EXPECT_GT(trace_digits[d].size(), 4u) << "trace digit " << d;
  for (std::size_t d = 0; d < 16; ++d) EXPECT_GT(span_digits[d].size(), 4u) << "span digit " << d;
}

}  // namespace
}  // namespace cephalgia::hooks
