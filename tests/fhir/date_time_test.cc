#include "cephalgia/fhir/date_time.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace cephalgia::fhir
