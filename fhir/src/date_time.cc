#include "cephalgia/fhir/date_time.h"

#include <cstdio>
#include <string>

namespace cephalgia::fhir {
namespace {

using std::chrono::days;
using std::chrono::seconds;

// A small cursor over the text; every read checks bounds.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return pos_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[pos_]; }
  bool Eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  // Exactly `n` decimal digits.
  bool Digits(int n, int* out) {
    if (pos_ + static_cast<std::size_t>(n) > s_.size()) return false;
    int v = 0;
    for (int i = 0; i < n; ++i) {
      char c = s_[pos_ + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    pos_ += n;
    *out = v;
    return true;
  }
  std::size_t pos() const { return pos_; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

Status Bad(std::string_view text, const std::string& what) {
  return InvalidArgument(what + " in '" + std::string(text) + "'");
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

Instant UtcMidnight(int year, int month, int day) {
  std::chrono::year_month_day ymd{std::chrono::year{year},
                                  std::chrono::month{static_cast<unsigned>(month)},
                                  std::chrono::day{static_cast<unsigned>(day)}};
  return Instant{std::chrono::sys_days{ymd}.time_since_epoch()};
}

Instant DistantPast() { return UtcMidnight(1, 1, 1); }
Instant DistantFuture() { return UtcMidnight(10000, 1, 1); }

Instant AddMonths(Instant t, int months) {
  auto day_point = std::chrono::floor<days>(t);
  seconds time_of_day = t - day_point;
  std::chrono::year_month_day ymd{day_point};
  // 64-bit arithmetic: `months` may come from data (an onsetAge); results outside the FHIR year
  // range saturate at DistantPast()/DistantFuture() instead of overflowing.
  int64_t total = static_cast<int64_t>(static_cast<int>(ymd.year())) * 12 +
                  (static_cast<int64_t>(unsigned(ymd.month())) - 1) + months;
  int64_t y64 = FloorDiv(total, 12);
  if (y64 < 1) return DistantPast();
  if (y64 > 9999) return DistantFuture();
  int y = static_cast<int>(y64);
  int m = static_cast<int>(total - y64 * 12) + 1;
  int d = static_cast<int>(unsigned(ymd.day()));
  if (d > DaysInMonth(y, m)) d = DaysInMonth(y, m);
  return UtcMidnight(y, m, d) + time_of_day;
}

Instant AddYears(Instant t, int years) {
  int64_t months = static_cast<int64_t>(years) * 12;
  if (months > int64_t{12} * 10000) return DistantFuture();
  if (months < int64_t{-12} * 10000) return DistantPast();
  return AddMonths(t, static_cast<int>(months));
}

namespace {

// The two decimal digits at p, or -1.
int TwoDigits(const char* p) {
  const unsigned tens = static_cast<unsigned char>(p[0]) - unsigned{'0'};
  const unsigned ones = static_cast<unsigned char>(p[1]) - unsigned{'0'};
  if (tens > 9 || ones > 9) return -1;
  return static_cast<int>(tens * 10 + ones);
}

}  // namespace

Result<DateTime> DateTime::Parse(std::string_view text, DateKind kind) {
  // A request's dates are nearly all "YYYY-MM-DD" or "YYYY-MM-DDThh:mm:ss" with "Z" or
  // "±hh:mm": read at fixed positions. Anything else, and any value out of range, goes to the
  // general parser, which also words the errors.
  const std::size_t n = text.size();
  const char* s = text.data();
  if ((n == 10 && kind != DateKind::kInstant) ||
      ((n == 20 || n == 25) && kind != DateKind::kDate)) {
    const int century = TwoDigits(s), year_in_century = TwoDigits(s + 2);
    const int month = TwoDigits(s + 5), day = TwoDigits(s + 8);
    const bool date_ok = century >= 0 && year_in_century >= 0 && s[4] == '-' && s[7] == '-' &&
                         month >= 1 && month <= 12 && day >= 1;
    const int year = century * 100 + year_in_century;
    if (date_ok && year >= 1 && day <= DaysInMonth(year, month)) {
      DateTime dt;
      dt.year_ = year;
      dt.month_ = month;
      dt.day_ = day;
      const Instant midnight = UtcMidnight(year, month, day);
      if (n == 10) {
        dt.precision_ = DatePrecision::kDay;
        dt.start_ = midnight;
        dt.end_ = midnight + days(1);
        return dt;
      }
      const int hour = TwoDigits(s + 11), minute = TwoDigits(s + 14), second = TwoDigits(s + 17);
      bool time_ok = s[10] == 'T' && s[13] == ':' && s[16] == ':' && hour >= 0 && hour <= 23 &&
                     minute >= 0 && minute <= 59 && second >= 0 && second <= 60;
      int offset = 0;
      if (n == 20) {
        time_ok = time_ok && s[19] == 'Z';
      } else {
        const int oh = TwoDigits(s + 20), om = TwoDigits(s + 23);
        time_ok = time_ok && (s[19] == '+' || s[19] == '-') && s[22] == ':' && oh >= 0 && om >= 0 &&
                  oh <= 14 && om <= 59 && (oh != 14 || om == 0);
        offset = (s[19] == '-' ? -1 : 1) * (oh * 60 + om);
      }
      if (time_ok) {
        dt.precision_ = DatePrecision::kSecond;
        dt.hour_ = hour;
        dt.minute_ = minute;
        dt.second_ = second;
        dt.offset_minutes_ = offset;
        dt.start_ = midnight + std::chrono::hours(hour) + std::chrono::minutes(minute) +
                    seconds(second) - std::chrono::minutes(offset);
        dt.end_ = dt.start_ + seconds(1);
        return dt;
      }
    }
  }
  return ParseStepwise(text, kind);
}

Result<DateTime> DateTime::ParseStepwise(std::string_view text, DateKind kind) {
  DateTime dt;
  Cursor c(text);
  if (text.empty()) return Bad(text, "empty date");
  if (!c.Digits(4, &dt.year_)) return Bad(text, "expected a 4-digit year");
  if (dt.year_ < 1) return Bad(text, "year 0000 is not allowed");
  dt.precision_ = DatePrecision::kYear;
  if (c.Eat('-')) {
    if (!c.Digits(2, &dt.month_)) return Bad(text, "expected a 2-digit month");
    if (dt.month_ < 1 || dt.month_ > 12) {
      return Bad(text, "month " + std::to_string(dt.month_) + " out of range");
    }
    dt.precision_ = DatePrecision::kMonth;
    if (c.Eat('-')) {
      if (!c.Digits(2, &dt.day_)) return Bad(text, "expected a 2-digit day");
      if (dt.day_ < 1 || dt.day_ > DaysInMonth(dt.year_, dt.month_)) {
        return Bad(text, "day " + std::to_string(dt.day_) + " out of range for the month");
      }
      dt.precision_ = DatePrecision::kDay;
    }
  }
  if (c.peek() == 'T') {
    if (kind == DateKind::kDate) return Bad(text, "a date must not have a time");
    if (dt.precision_ != DatePrecision::kDay) return Bad(text, "a time needs a full date");
    c.Eat('T');
    if (!c.Digits(2, &dt.hour_) || !c.Eat(':') || !c.Digits(2, &dt.minute_)) {
      return Bad(text, "expected hh:mm:ss after 'T'");
    }
    if (!c.Eat(':') || !c.Digits(2, &dt.second_)) return Bad(text, "expected seconds (hh:mm:ss)");
    if (dt.hour_ > 23 || dt.minute_ > 59 || dt.second_ > 60) {
      return Bad(text, "time out of range");
    }
    if (c.Eat('.')) {
      int digits = 0;
      int32_t nanos = 0;
      while (c.peek() >= '0' && c.peek() <= '9') {
        int d = 0;
        c.Digits(1, &d);
        if (++digits <= 9) nanos = nanos * 10 + d;
      }
      if (digits == 0) return Bad(text, "expected digits after '.'");
      if (digits > 9) return Bad(text, "more than 9 fractional digits");
      for (int i = digits; i < 9; ++i) nanos *= 10;
      dt.nanos_ = nanos;
    }
    dt.precision_ = DatePrecision::kSecond;
    if (c.Eat('Z')) {
      dt.offset_minutes_ = 0;
    } else if (c.peek() == '+' || c.peek() == '-') {
      int sign = c.peek() == '-' ? -1 : 1;
      c.Eat(c.peek());
      int oh = 0, om = 0;
      if (!c.Digits(2, &oh) || !c.Eat(':') || !c.Digits(2, &om)) {
        return Bad(text, "expected a time-zone offset ±hh:mm");
      }
      if (oh > 14 || om > 59 || (oh == 14 && om != 0)) return Bad(text, "offset out of range");
      dt.offset_minutes_ = sign * (oh * 60 + om);
    } else if (c.done()) {
      if (kind == DateKind::kInstant) return Bad(text, "an instant needs a time-zone offset");
      dt.offset_minutes_ = 0;
      dt.assumed_utc_ = true;
    } else {
      return Bad(text, "unexpected character after the time");
    }
  }
  if (!c.done()) {
    return Bad(text, "unexpected character at position " + std::to_string(c.pos()));
  }
  if (kind == DateKind::kInstant && dt.precision_ != DatePrecision::kSecond) {
    return Bad(text, "an instant needs date, time and offset");
  }
  switch (dt.precision_) {
    case DatePrecision::kYear:
      dt.start_ = UtcMidnight(dt.year_, 1, 1);
      dt.end_ = UtcMidnight(dt.year_ + 1, 1, 1);
      break;
    case DatePrecision::kMonth:
      dt.start_ = UtcMidnight(dt.year_, dt.month_, 1);
      dt.end_ = AddMonths(dt.start_, 1);
      break;
    case DatePrecision::kDay:
      dt.start_ = UtcMidnight(dt.year_, dt.month_, dt.day_);
      dt.end_ = dt.start_ + days(1);
      break;
    case DatePrecision::kSecond:
      dt.start_ = UtcMidnight(dt.year_, dt.month_, dt.day_) + std::chrono::hours(dt.hour_) +
                  std::chrono::minutes(dt.minute_) + seconds(dt.second_) -
                  std::chrono::minutes(dt.offset_minutes_.value_or(0));
      dt.end_ = dt.start_ + seconds(1);
      break;
  }
  return dt;
}

DateTime DateTime::FromInstant(Instant t) {
  DateTime dt;
  auto day_point = std::chrono::floor<days>(t);
  std::chrono::year_month_day ymd{day_point};
  std::chrono::hh_mm_ss<seconds> hms{t - day_point};
  dt.precision_ = DatePrecision::kSecond;
  dt.year_ = static_cast<int>(ymd.year());
  dt.month_ = static_cast<int>(unsigned(ymd.month()));
  dt.day_ = static_cast<int>(unsigned(ymd.day()));
  dt.hour_ = static_cast<int>(hms.hours().count());
  dt.minute_ = static_cast<int>(hms.minutes().count());
  dt.second_ = static_cast<int>(hms.seconds().count());
  dt.offset_minutes_ = 0;
  dt.start_ = t;
  dt.end_ = t + seconds(1);
  return dt;
}

std::string DateTime::ToString() const {
  char buf[64];
  switch (precision_) {
    case DatePrecision::kYear:
      std::snprintf(buf, sizeof buf, "%04d", year_);
      return buf;
    case DatePrecision::kMonth:
      std::snprintf(buf, sizeof buf, "%04d-%02d", year_, month_);
      return buf;
    case DatePrecision::kDay:
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year_, month_, day_);
      return buf;
    case DatePrecision::kSecond:
      break;
  }
  auto day_point = std::chrono::floor<days>(start_);
  std::chrono::year_month_day ymd{day_point};
  std::chrono::hh_mm_ss<seconds> hms{start_ - day_point};
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  std::string out = buf;
  if (nanos_ != 0) {
    std::snprintf(buf, sizeof buf, ".%09d", static_cast<int>(nanos_));
    std::string frac = buf;
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  out += 'Z';
  return out;
}

bool DefinitelyBefore(const Interval& a, const Interval& b) { return a.end <= b.start; }
bool DefinitelyAfter(const Interval& a, const Interval& b) { return a.start >= b.end; }
bool Overlaps(const Interval& a, const Interval& b) { return a.start < b.end && b.start < a.end; }

TemporalOrder Compare(const Interval& a, const Interval& b) {
  if (DefinitelyBefore(a, b)) return TemporalOrder::kBefore;
  if (DefinitelyAfter(a, b)) return TemporalOrder::kAfter;
  return TemporalOrder::kOverlaps;
}

namespace {

// Whole years from a birth day (y, m, d) to the UTC calendar day of `at`.
int YearsFrom(int y, int m, int d, Instant at) {
  std::chrono::year_month_day now{std::chrono::floor<days>(at)};
  int ny = static_cast<int>(now.year());
  int nm = static_cast<int>(unsigned(now.month()));
  int nd = static_cast<int>(unsigned(now.day()));
  int age = ny - y;
  if (nm < m || (nm == m && nd < d)) --age;
  return age;
}

}  // namespace

AgeYears AgeAt(const DateTime& birth_date, Instant at) {
  switch (birth_date.precision()) {
    case DatePrecision::kYear: {
      int y = birth_date.year();
      return {YearsFrom(y, 12, 31, at), YearsFrom(y, 1, 1, at)};
    }
    case DatePrecision::kMonth: {
      int y = birth_date.year(), m = birth_date.month();
      return {YearsFrom(y, m, DaysInMonth(y, m), at), YearsFrom(y, m, 1, at)};
    }
    case DatePrecision::kDay:
    case DatePrecision::kSecond: {
      int a = YearsFrom(birth_date.year(), birth_date.month(), birth_date.day(), at);
      return {a, a};
    }
  }
  return {};
}

int64_t DaysBetween(Instant from, Instant to) {
  return FloorDiv((to - from).count(), int64_t{86400});
}

DayRange DaysBetween(const Interval& from, const Interval& to) {
  // The last instant of an interval is end - 1s (end is exclusive).
  return {DaysBetween(from.end - seconds(1), to.start),
          DaysBetween(from.start, to.end - seconds(1))};
}

}  // namespace cephalgia::fhir
