#include "cephalgia/fhir/date_time.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace cephalgia::fhir {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::seconds;

DateTime P(std::string_view text, DateKind kind = DateKind::kDateTime) {
  Result<DateTime> r = DateTime::Parse(text, kind);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.ok() ? *r : DateTime::FromInstant(Instant{});
}

TEST(DateTimeTest, YearIsTheWholeYear) {
  DateTime d = P("2024");
  EXPECT_EQ(d.precision(), DatePrecision::kYear);
  EXPECT_TRUE(d.is_partial());
  EXPECT_EQ(d.start(), UtcMidnight(2024, 1, 1));
  EXPECT_EQ(d.end(), UtcMidnight(2025, 1, 1));
  EXPECT_EQ(d.ToString(), "2024");
}

TEST(DateTimeTest, MonthIsTheWholeMonthIncludingLeapFebruary) {
  DateTime d = P("2024-02");
  EXPECT_EQ(d.precision(), DatePrecision::kMonth);
  EXPECT_EQ(d.start(), UtcMidnight(2024, 2, 1));
  EXPECT_EQ(d.end(), UtcMidnight(2024, 3, 1));
  EXPECT_EQ(d.end() - d.start(), days(29));
  DateTime dec = P("2023-12");
  EXPECT_EQ(dec.end(), UtcMidnight(2024, 1, 1));
  EXPECT_EQ(dec.ToString(), "2023-12");
}

TEST(DateTimeTest, DayIsTheWholeDay) {
  DateTime d = P("2024-03-05", DateKind::kDate);
  EXPECT_EQ(d.precision(), DatePrecision::kDay);
  EXPECT_EQ(d.start(), UtcMidnight(2024, 3, 5));
  EXPECT_EQ(d.end() - d.start(), days(1));
  EXPECT_EQ(d.year(), 2024);
  EXPECT_EQ(d.month(), 3);
  EXPECT_EQ(d.day(), 5);
  EXPECT_FALSE(d.utc_offset_minutes().has_value());
}

TEST(DateTimeTest, DateTimeWithZ) {
  DateTime d = P("2024-03-05T10:00:00Z");
  EXPECT_EQ(d.precision(), DatePrecision::kSecond);
  EXPECT_FALSE(d.is_partial());
  EXPECT_EQ(d.start(), UtcMidnight(2024, 3, 5) + hours(10));
  EXPECT_EQ(d.end() - d.start(), seconds(1));
  EXPECT_EQ(d.utc_offset_minutes(), 0);
  EXPECT_FALSE(d.assumed_utc());
  EXPECT_EQ(d.ToString(), "2024-03-05T10:00:00Z");
}

TEST(DateTimeTest, OffsetsConvertToUtc) {
  DateTime plus = P("2024-03-05T10:00:00+02:00");
  EXPECT_EQ(plus.start(), UtcMidnight(2024, 3, 5) + hours(8));
  EXPECT_EQ(plus.utc_offset_minutes(), 120);
  EXPECT_EQ(plus.hour(), 10);  // as written
  DateTime minus = P("2024-03-05T22:30:00-05:00");
  EXPECT_EQ(minus.start(), UtcMidnight(2024, 3, 6) + hours(3) + std::chrono::minutes(30));
  EXPECT_EQ(minus.utc_offset_minutes(), -300);
  // The same instant written in two zones compares as the same time.
  EXPECT_EQ(P("2024-03-05T08:00:00Z").start(), plus.start());
  EXPECT_EQ(P("2024-03-05T12:00:00+14:00").start(), UtcMidnight(2024, 3, 4) + hours(22));
}

TEST(DateTimeTest, FractionalSecondsAndInstant) {
  DateTime d = P("2019-02-11T02:46:32.359-05:00", DateKind::kInstant);
  EXPECT_EQ(d.nanos(), 359000000);
  EXPECT_EQ(d.start(),
            UtcMidnight(2019, 2, 11) + hours(7) + std::chrono::minutes(46) + seconds(32));
  EXPECT_EQ(d.ToString(), "2019-02-11T07:46:32.359Z");
  EXPECT_EQ(P("2024-01-01T00:00:00.123456789Z").nanos(), 123456789);
  EXPECT_TRUE(d.interval().Contains(d.start()));
}

TEST(DateTimeTest, DateTimeWithoutOffsetIsAssumedUtc) {
  DateTime d = P("2024-03-05T10:00:00");
  EXPECT_TRUE(d.assumed_utc());
  EXPECT_EQ(d.start(), UtcMidnight(2024, 3, 5) + hours(10));
}

TEST(DateTimeTest, RejectsMalformedValues) {
  struct Case {
    std::string text;
    DateKind kind;
  };
  const Case bad[] = {
      {"", DateKind::kDateTime},
      {"24", DateKind::kDateTime},
      {"0000", DateKind::kDateTime},
      {"2024-13", DateKind::kDateTime},
      {"2024-00", DateKind::kDateTime},
      {"2023-02-29", DateKind::kDateTime},
      {"2024-04-31", DateKind::kDateTime},
      {"2024-3-5", DateKind::kDateTime},
      {"2024/03/05", DateKind::kDateTime},
      {"2024-03-05T10:00Z", DateKind::kDateTime},  // seconds are required
      {"2024-03-05T25:00:00Z", DateKind::kDateTime},
      {"2024-03-05T10:00:00+15:00", DateKind::kDateTime},
      {"2024-03-05T10:00:00+0200", DateKind::kDateTime},
      {"2024-03-05T10:00:00.Z", DateKind::kDateTime},
      {"2024-03-05T10:00:00.1234567890Z", DateKind::kDateTime},
      {"2024-03T10:00:00Z", DateKind::kDateTime},
      {"2024-03-05 ", DateKind::kDateTime},
      {"2024-03-05T10:00:00Zjunk", DateKind::kDateTime},
      {"2024-03-05T10:00:00Z", DateKind::kDate},    // a date has no time
      {"2024-03-05", DateKind::kInstant},           // an instant needs a time
      {"2024-03-05T10:00:00", DateKind::kInstant},  // ... and an offset
      {"March 5, 2024", DateKind::kDateTime},
  };
  for (const Case& c : bad) {
    Result<DateTime> r = DateTime::Parse(c.text, c.kind);
    EXPECT_FALSE(r.ok()) << "accepted '" << c.text << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(DateTimeTest, LeapDayAndLeapSecondAreAccepted) {
  EXPECT_EQ(P("2024-02-29").day(), 29);
  EXPECT_TRUE(DateTime::Parse("2016-12-31T23:59:60Z").ok());
}

TEST(DateTimeTest, IntervalRelations) {
  DateTime march = P("2024-03");
  DateTime visit = P("2024-03-05T10:00:00+02:00");
  DateTime april = P("2024-04-01");
  DateTime y2024 = P("2024");
  DateTime y2023 = P("2023");

  EXPECT_FALSE(DefinitelyBefore(march, visit));
  EXPECT_FALSE(DefinitelyAfter(march, visit));
  EXPECT_TRUE(Overlaps(march, visit));
  EXPECT_EQ(Compare(march.interval(), visit.interval()), TemporalOrder::kOverlaps);

  // End is exclusive: March ends exactly where 1 April begins.
  EXPECT_TRUE(DefinitelyBefore(march, april));
  EXPECT_TRUE(DefinitelyAfter(april, march));
  EXPECT_FALSE(Overlaps(march, april));
  EXPECT_EQ(Compare(march.interval(), april.interval()), TemporalOrder::kBefore);
  EXPECT_EQ(Compare(april.interval(), march.interval()), TemporalOrder::kAfter);

  EXPECT_TRUE(DefinitelyBefore(y2023, y2024));
  EXPECT_TRUE(Overlaps(y2024, march));
  EXPECT_TRUE(Overlaps(y2024, visit));
  // A time late on 31 Dec in a negative offset is already next year in UTC.
  EXPECT_TRUE(DefinitelyAfter(P("2023-12-31T20:00:00-05:00"), y2023));
}

TEST(DateTimeTest, AgeFromFullBirthDate) {
  DateTime birth = P("1970-06-15", DateKind::kDate);
  AgeYears before = AgeAt(birth, UtcMidnight(2020, 6, 14) + hours(23));
  EXPECT_EQ(before.min_years, 49);
  EXPECT_EQ(before.max_years, 49);
  EXPECT_FALSE(before.uncertain());
  EXPECT_EQ(AgeAt(birth, UtcMidnight(2020, 6, 15)).min_years, 50);
}

TEST(DateTimeTest, AgeFromPartialBirthDateIsUncertain) {
  AgeYears y = AgeAt(P("1970", DateKind::kDate), UtcMidnight(2020, 6, 15));
  EXPECT_EQ(y.min_years, 49);  // born 31 Dec 1970
  EXPECT_EQ(y.max_years, 50);  // born 1 Jan 1970
  EXPECT_TRUE(y.uncertain());
  AgeYears m = AgeAt(P("1970-06", DateKind::kDate), UtcMidnight(2020, 6, 15));
  EXPECT_EQ(m.min_years, 49);
  EXPECT_EQ(m.max_years, 50);
  AgeYears sure = AgeAt(P("1970-06", DateKind::kDate), UtcMidnight(2020, 7, 1));
  EXPECT_EQ(sure.min_years, 50);
  EXPECT_FALSE(sure.uncertain());
}

TEST(DateTimeTest, LeapDayBirthdayIsReachedOnFirstOfMarch) {
  DateTime birth = P("2000-02-29", DateKind::kDate);
  EXPECT_EQ(AgeAt(birth, UtcMidnight(2001, 2, 28)).min_years, 0);
  EXPECT_EQ(AgeAt(birth, UtcMidnight(2001, 3, 1)).min_years, 1);
  EXPECT_EQ(AgeAt(birth, UtcMidnight(2004, 2, 29)).min_years, 4);
}

TEST(DateTimeTest, DaysBetweenInstantsFloors) {
  Instant t0 = UtcMidnight(2024, 3, 1);
  EXPECT_EQ(DaysBetween(t0, t0), 0);
  EXPECT_EQ(DaysBetween(t0, t0 + hours(23) + std::chrono::minutes(59)), 0);
  EXPECT_EQ(DaysBetween(t0, t0 + days(1)), 1);
  EXPECT_EQ(DaysBetween(t0, t0 - seconds(1)), -1);
  EXPECT_EQ(DaysBetween(UtcMidnight(2024, 1, 1), UtcMidnight(2025, 1, 1)), 366);
}

TEST(DateTimeTest, DaysBetweenPartialDatesIsARange) {
  DayRange exact = DaysBetween(P("2024-03-01").interval(), P("2024-03-11").interval());
  EXPECT_EQ(exact.min_days, 9);   // 1 Mar 23:59:59 -> 11 Mar 00:00
  EXPECT_EQ(exact.max_days, 10);  // 1 Mar 00:00 -> 11 Mar 23:59:59
  DayRange month = DaysBetween(P("2024-02").interval(), P("2024-03-31").interval());
  EXPECT_EQ(month.min_days, 30);
  EXPECT_EQ(month.max_days, 59);
  EXPECT_TRUE(month.uncertain());
}

TEST(DateTimeTest, CalendarArithmeticClampsDays) {
  EXPECT_EQ(AddMonths(UtcMidnight(2024, 1, 31), 1), UtcMidnight(2024, 2, 29));
  EXPECT_EQ(AddMonths(UtcMidnight(2023, 1, 31), 1), UtcMidnight(2023, 2, 28));
  EXPECT_EQ(AddMonths(UtcMidnight(2024, 3, 15), -3), UtcMidnight(2023, 12, 15));
  EXPECT_EQ(AddYears(UtcMidnight(2024, 2, 29), 1), UtcMidnight(2025, 2, 28));
  // Saturates instead of overflowing on absurd inputs.
  EXPECT_EQ(AddMonths(UtcMidnight(2024, 1, 1), 2000000000), DistantFuture());
  EXPECT_EQ(AddMonths(UtcMidnight(2024, 1, 1), -2000000000), DistantPast());
  EXPECT_EQ(AddYears(UtcMidnight(2024, 1, 1), 2000000000), DistantFuture());
  EXPECT_LT(DistantPast(), UtcMidnight(1900, 1, 1));
  EXPECT_GT(DistantFuture(), UtcMidnight(2999, 1, 1));
}

TEST(DateTimeTest, FromInstantRoundTrips) {
  Instant t = UtcMidnight(2024, 3, 5) + hours(10) + seconds(7);
  DateTime d = DateTime::FromInstant(t);
  EXPECT_EQ(d.start(), t);
  EXPECT_EQ(d.ToString(), "2024-03-05T10:00:07Z");
  EXPECT_EQ(P(d.ToString()).start(), t);
}

// Parse reads the common fixed shapes itself and hands everything else to ParseStepwise: for
// every text and kind both must give the same value, or the same error. The texts are the
// fixed shapes with each byte replaced by each byte that matters at some position, plus every
// day of leap and common years at the century edges.
void ExpectSameAsStepwise(const std::string& text, DateKind kind) {
  Result<DateTime> fast = DateTime::Parse(text, kind);
  Result<DateTime> slow = DateTime::ParseStepwise(text, kind);
  ASSERT_EQ(fast.ok(), slow.ok()) << "'" << text << "' kind " << static_cast<int>(kind);
  if (!fast.ok()) {
    EXPECT_EQ(fast.status().ToString(), slow.status().ToString()) << text;
    return;
  }
  EXPECT_EQ(fast->precision(), slow->precision()) << text;
  EXPECT_EQ(fast->year(), slow->year()) << text;
  EXPECT_EQ(fast->month(), slow->month()) << text;
  EXPECT_EQ(fast->day(), slow->day()) << text;
  EXPECT_EQ(fast->hour(), slow->hour()) << text;
  EXPECT_EQ(fast->minute(), slow->minute()) << text;
  EXPECT_EQ(fast->second(), slow->second()) << text;
  EXPECT_EQ(fast->nanos(), slow->nanos()) << text;
  EXPECT_EQ(fast->utc_offset_minutes(), slow->utc_offset_minutes()) << text;
  EXPECT_EQ(fast->assumed_utc(), slow->assumed_utc()) << text;
  EXPECT_EQ(fast->start(), slow->start()) << text;
  EXPECT_EQ(fast->end(), slow->end()) << text;
}

TEST(DateTimeTest, FixedShapesParseAsTheStepwiseParser) {
  const DateKind kinds[] = {DateKind::kDate, DateKind::kDateTime, DateKind::kInstant};
  const std::string seeds[] = {
      "2024-02-29",
      "2023-02-28",
      "0001-01-01",
      "9999-12-31",
      "2024-03-05T10:00:00Z",
      "2016-12-31T23:59:60Z",
      "2024-03-05T00:00:00+14:00",
      "2024-03-05T23:59:59-12:30",
      "2024-03-05T10:00:00-00:00",
      "2024-03-05T10:00:00.5Z",
  };
  const std::string bytes = "0123456789-:+TZz. /x";
  std::size_t compared = 0;
  for (const std::string& seed : seeds) {
    for (DateKind kind : kinds) {
      ExpectSameAsStepwise(seed, kind);
      for (std::size_t at = 0; at < seed.size(); ++at) {
        for (char b : bytes) {
          std::string text = seed;
          text[at] = b;
          ExpectSameAsStepwise(text, kind);
          ++compared;
        }
        ExpectSameAsStepwise(seed.substr(0, at), kind);
        ExpectSameAsStepwise(seed + seed.substr(at, 1), kind);
      }
    }
  }
  for (int year : {1, 1900, 2000, 2023, 2024, 2100, 9999}) {
    for (int month = 0; month <= 13; ++month) {
      for (int day = 0; day <= 32; ++day) {
        char text[32];
        std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, day);
        ExpectSameAsStepwise(text, DateKind::kDate);
        std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d+%02d:%02d", year, month,
                      day, (day * 7) % 25, (day * 13) % 61, (month * 5) % 62, day % 16,
                      (day * 11) % 61);
        ExpectSameAsStepwise(text, DateKind::kDateTime);
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 5000u);
}

}  // namespace
}  // namespace cephalgia::fhir
