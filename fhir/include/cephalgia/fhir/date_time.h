// File: date_time.h
//
// FHIR R4 date / dateTime / instant at every precision, as intervals of UTC time.
//
// A FHIR date is as precise as its author made it: "2024" means *some time in 2024*. So every
// parsed value is an interval [start, end) in UTC seconds, and comparisons say whether one value
// is *definitely* before / after another or whether they overlap (could be either):
//
//   Result<DateTime> onset = DateTime::Parse("2024-03");           // [2024-03-01, 2024-04-01)
//   Result<DateTime> visit = DateTime::Parse("2024-03-05T10:00:00+02:00");
//   DefinitelyBefore(*onset, *visit);   // false: March 2024 contains the visit
//   Overlaps(*onset, *visit);           // true
//   AgeYears age = AgeAt(*DateTime::Parse("1970", DateKind::kDate), now);  // min/max, uncertain
//
// Time zones: a dateTime with a time carries an offset (FHIR requires one); it is converted to
// UTC. A date without a time (or a partial date) has no zone in FHIR; we take its calendar
// interval in UTC. Near midnight that can be off by the (unknown) local offset, which is below
// the day granularity every clinical rule here works at.
// Fractional seconds are accepted (up to 9 digits) and kept in `nanos()`; intervals are whole
// seconds, so a time with fractions is [second, second + 1), which contains the true instant.
// Parse failures are Status values (the views turn them into issues); nothing throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cephalgia/status.h"

namespace cephalgia::fhir {

using Instant = std::chrono::sys_seconds;

// [start, end) in UTC. A point in time is [t, t + 1s). `end` is exclusive.
struct Interval {
  Instant start;
  Instant end;

  bool Contains(Instant t) const { return start <= t && t < end; }
  bool operator==(const Interval&) const = default;
};

// How much of the value was written.
enum class DatePrecision {
  kYear,    // "2024"
  kMonth,   // "2024-03"
  kDay,     // "2024-03-05"
  kSecond,  // "2024-03-05T10:00:00Z", "2024-03-05T10:00:00.123+02:00" (fraction in nanos())
};

// Which FHIR primitive is being parsed; each accepts a subset of the forms.
enum class DateKind {
  kDate,      // date: YYYY, YYYY-MM, YYYY-MM-DD
  kDateTime,  // dateTime: the date forms, or YYYY-MM-DDThh:mm:ss[.f+](Z|±hh:mm)
  kInstant,   // instant: YYYY-MM-DDThh:mm:ss[.f+](Z|±hh:mm), all parts required
};

class DateTime {
 public:
  // Parses `text` as `kind`. Errors (kInvalidArgument) say what is wrong, e.g.
  // "month 13 out of range in '2024-13'". A dateTime with a time but no offset is accepted as
  // UTC with `assumed_utc()` set (the views report that as a warning; FHIR requires the offset).
  static Result<DateTime> Parse(std::string_view text, DateKind kind = DateKind::kDateTime);
  // The general parser behind Parse, which first reads the two fixed shapes nearly every
  // record uses ("2024-03-05", "2024-03-05T10:00:00Z" or with ±hh:mm) without it. Same
  // answer as Parse for every text and kind (tests compare them); use Parse.
  static Result<DateTime> ParseStepwise(std::string_view text, DateKind kind);

  // A point value at second precision (e.g. "now" from the hook request).
  static DateTime FromInstant(Instant t);

  DatePrecision precision() const { return precision_; }
  bool is_partial() const { return precision_ != DatePrecision::kSecond; }

  // Calendar fields as written (local to the written offset). month()/day() are 0 when absent.
  int year() const { return year_; }
  int month() const { return month_; }
  int day() const { return day_; }
  int hour() const { return hour_; }
  int minute() const { return minute_; }
  int second() const { return second_; }
  int32_t nanos() const { return nanos_; }
  // Offset in minutes east of UTC; nullopt for dates without a time.
  std::optional<int> utc_offset_minutes() const { return offset_minutes_; }
  bool assumed_utc() const { return assumed_utc_; }

  Instant start() const { return start_; }
  Instant end() const { return end_; }
  Interval interval() const { return {start_, end_}; }

  // Canonical FHIR text at the stored precision ("2024-03", "2024-03-05T08:00:00Z" in UTC).
  std::string ToString() const;

 private:
  DatePrecision precision_ = DatePrecision::kSecond;
  int year_ = 1970, month_ = 0, day_ = 0, hour_ = 0, minute_ = 0, second_ = 0;
  int32_t nanos_ = 0;
  std::optional<int> offset_minutes_;
  bool assumed_utc_ = false;
  Instant start_{};
  Instant end_{};
};

// Interval relations. Definitely-before: every instant of `a` is before every instant of `b`.
bool DefinitelyBefore(const Interval& a, const Interval& b);
bool DefinitelyAfter(const Interval& a, const Interval& b);
bool Overlaps(const Interval& a, const Interval& b);  // could be the same time
inline bool DefinitelyBefore(const DateTime& a, const DateTime& b) {
  return DefinitelyBefore(a.interval(), b.interval());
}
inline bool DefinitelyAfter(const DateTime& a, const DateTime& b) {
  return DefinitelyAfter(a.interval(), b.interval());
}
inline bool Overlaps(const DateTime& a, const DateTime& b) {
  return Overlaps(a.interval(), b.interval());
}

enum class TemporalOrder { kBefore, kAfter, kOverlaps };
TemporalOrder Compare(const Interval& a, const Interval& b);

// Age in whole years at `at`, from a birthDate. For a full birthDate min == max. For a partial
// one ("1970", "1970-06") min is the age if born on the last possible day and max if born on
// the first, and uncertain() is true. Which bound is "conservative" depends on the rule: a
// safety threshold (red flag "onset after 50") should fire on max_years > 50 and say it is
// uncertain; an eligibility check ("adult") should use min_years.
// A 29 February birthday is reached on 1 March in non-leap years.
struct AgeYears {
  int min_years = 0;
  int max_years = 0;
  bool uncertain() const { return min_years != max_years; }
};
AgeYears AgeAt(const DateTime& birth_date, Instant at);

// Whole days from `from` to `to`, rounded toward negative infinity (negative if `to` is
// earlier). 23h59m is 0 days; -1s is -1 day.
int64_t DaysBetween(Instant from, Instant to);

// Days between two possibly partial values: the smallest and largest whole-day difference
// between any instant of `from` and any instant of `to`.
struct DayRange {
  int64_t min_days = 0;
  int64_t max_days = 0;
  bool uncertain() const { return min_days != max_days; }
};
DayRange DaysBetween(const Interval& from, const Interval& to);

// Calendar helpers shared by the parser and the views: the UTC instant of y-m-d 00:00:00,
// adding calendar months/years (clamping the day, so 31 Jan + 1 month = 28/29 Feb).
Instant UtcMidnight(int year, int month, int day);
// Bounds used for open-ended periods: 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z.
Instant DistantPast();
Instant DistantFuture();
Instant AddMonths(Instant t, int months);
Instant AddYears(Instant t, int years);

}  // namespace cephalgia::fhir
