// Choosing a FeedbackStore by the `--store` setting.
#include "cephalgia/hooks/feedback/feedback_store.h"

namespace cephalgia::hooks::feedback {

Result<StoreSpec> ParseStoreSpec(std::string_view spec, const std::string& default_sqlite_path) {
  auto starts = [&](std::string_view prefix) { return spec.substr(0, prefix.size()) == prefix; };
  if (spec.empty()) return StoreSpec{StoreSpec::kSqlite, default_sqlite_path};
  if (starts("sqlite:")) {
    std::string path(spec.substr(7));
    if (path.empty())
      return InvalidArgument("--store sqlite: needs a file path (sqlite:PATH)", "store");
    return StoreSpec{StoreSpec::kSqlite, std::move(path)};
  }
  if (starts("postgresql://") || starts("postgres://")) {
    return StoreSpec{StoreSpec::kPostgres, std::string(spec)};
  }
  if (starts("postgresql:")) {  // libpq key=value form: postgresql:host=db dbname=cephalgia
    std::string conninfo(spec.substr(11));
    if (conninfo.empty())
      return InvalidArgument("--store postgresql: needs a connection string", "store");
    return StoreSpec{StoreSpec::kPostgres, std::move(conninfo)};
  }
  return InvalidArgument("--store must be sqlite:PATH or postgresql://USER@HOST:PORT/DB (got '" +
                             RedactConninfo(spec) + "')",
                         "store");
}

Result<std::unique_ptr<FeedbackStore>> OpenFeedbackStore(const StoreSpec& spec,
                                                         FeedbackStore::Options options) {
  if (spec.kind == StoreSpec::kPostgres) return OpenPostgresFeedbackStore(spec.target, options);
  return OpenSqliteFeedbackStore(spec.target, options);
}

std::string RedactConninfo(std::string_view conninfo) {
  std::string out(conninfo);
  // URI user info: scheme://user:secret@host -> scheme://user:***@host
  const std::size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const std::size_t start = scheme + 3;
    const std::size_t end = out.find_first_of("/?", start);
    const std::size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
    if (at != std::string::npos && at > start) {
      const std::size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=secret in a query string or a key=value string.
  for (std::size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    const std::size_t value = pos + 9;
    const std::size_t end = out.find_first_of("& ", value);
    out.replace(value, (end == std::string::npos ? out.size() : end) - value, "***");
  }
  return out;
}

}  // namespace cephalgia::hooks::feedback
