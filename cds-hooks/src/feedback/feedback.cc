#include "cephalgia/hooks/feedback/feedback.h"

#include "cephalgia/json.h"

namespace cephalgia::hooks::feedback {
namespace {

bool Digits(std::string_view s, std::size_t pos, std::size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

Result<Coding> ParseCoding(const rapidjson::Value& v, const std::string& where) {
  if (!v.IsObject()) return InvalidArgument("reason must be a Coding object", where);
  const std::optional<std::string_view> system = json::GetString(v, "system");
  const std::optional<std::string_view> code = json::GetString(v, "code");
  if (!system || system->empty()) {
    return InvalidArgument("Coding.system is required", where + ".system");
  }
  if (!code || code->empty()) return InvalidArgument("Coding.code is required", where + ".code");
  Coding coding{std::string(*system), std::string(*code), std::nullopt};
  if (const rapidjson::Value* display = json::Find(v, "display")) {
    if (!display->IsString()) return InvalidArgument("display must be a string", where + ".display");
    coding.display = std::string(json::AsStringView(*display));
  }
  return coding;
}

Result<FeedbackItem> ParseItem(const rapidjson::Value& v, const std::string& where) {
  if (!v.IsObject()) return InvalidArgument("feedback item must be an object", where);
  FeedbackItem item;

  const std::optional<std::string_view> card = json::GetString(v, "card");
  if (!card || card->empty()) return InvalidArgument("card is required (the card uuid)", where + ".card");
  item.card = std::string(*card);

  const std::optional<std::string_view> outcome = json::GetString(v, "outcome");
  if (outcome == "accepted") {
    item.outcome = Outcome::kAccepted;
  } else if (outcome == "overridden") {
    item.outcome = Outcome::kOverridden;
  } else {
    return InvalidArgument("outcome must be \"accepted\" or \"overridden\" (cds-fb-1)",
                           where + ".outcome");
  }

  const rapidjson::Value* accepted = json::Find(v, "acceptedSuggestions");
  if (accepted != nullptr) {
    if (!accepted->IsArray()) {
      return InvalidArgument("acceptedSuggestions must be an array", where + ".acceptedSuggestions");
    }
    for (rapidjson::SizeType i = 0; i < accepted->Size(); ++i) {
      const std::string at = where + ".acceptedSuggestions[" + std::to_string(i) + "]";
      const std::optional<std::string_view> id = json::GetString((*accepted)[i], "id");
      if (!id || id->empty()) return InvalidArgument("suggestion id is required", at + ".id");
      item.accepted_suggestions.emplace_back(*id);
    }
  }
  if (item.outcome == Outcome::kAccepted && item.accepted_suggestions.empty()) {
    return InvalidArgument("acceptedSuggestions is required when outcome is accepted (cds-fb-2)",
                           where + ".acceptedSuggestions");
  }

  if (const rapidjson::Value* override_reason = json::Find(v, "overrideReason")) {
    const std::string at = where + ".overrideReason";
    if (!override_reason->IsObject()) return InvalidArgument("overrideReason must be an object", at);
    OverrideReason reason;
    if (const rapidjson::Value* coding = json::Find(*override_reason, "reason")) {
      CEPHALGIA_ASSIGN_OR_RETURN(reason.reason, ParseCoding(*coding, at + ".reason"));
    }
    if (const rapidjson::Value* comment = json::Find(*override_reason, "userComment")) {
      if (!comment->IsString()) return InvalidArgument("userComment must be a string", at + ".userComment");
      reason.user_comment = std::string(json::AsStringView(*comment));
    }
    if (!reason.reason && !reason.user_comment) {
      return InvalidArgument("overrideReason needs reason or userComment (cds-fb-3)", at);
    }
    item.override_reason = std::move(reason);
  }

  const std::optional<std::string_view> ts = json::GetString(v, "outcomeTimestamp");
  if (!ts || !IsRfc3339DateTime(*ts)) {
    return InvalidArgument("outcomeTimestamp is required, an RFC 3339 date-time",
                           where + ".outcomeTimestamp");
  }
  item.outcome_timestamp = std::string(*ts);
  return item;
}

}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  return outcome == Outcome::kAccepted ? "accepted" : "overridden";
}

bool IsRfc3339DateTime(std::string_view s) {
  // full-date "T" partial-time time-offset; e.g. 2021-12-11T10:05:31.123+01:00
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return false;
  }
  std::size_t pos = 19;
  if (s[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return false;
  }
  if (pos >= s.size()) return false;
  if (s[pos] == 'Z' || s[pos] == 'z') return pos + 1 == s.size();
  if (s[pos] != '+' && s[pos] != '-') return false;
  int off_h, off_m;
  return pos + 6 == s.size() && Digits(s, pos + 1, 2, &off_h) && s[pos + 3] == ':' &&
         Digits(s, pos + 4, 2, &off_m) && off_h <= 23 && off_m <= 59;
}

Result<std::vector<FeedbackItem>> ValidateFeedback(std::string_view json_body) {
  CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document doc,
                             json::ParseUntrusted(json_body, kMaxFeedbackBodyBytes));
  if (!doc.IsObject()) return InvalidArgument("feedback body must be a JSON object", "$");
  const rapidjson::Value* list = json::Find(doc, "feedback");
  if (list == nullptr || !list->IsArray()) {
    return InvalidArgument("feedback is required and must be an array", "feedback");
  }
  // An empty array is odd but harmless: nothing to store, no reason to fail the client.
  std::vector<FeedbackItem> items;
  items.reserve(list->Size());
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    CEPHALGIA_ASSIGN_OR_RETURN(FeedbackItem item,
                               ParseItem((*list)[i], "feedback[" + std::to_string(i) + "]"));
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace cephalgia::hooks::feedback
