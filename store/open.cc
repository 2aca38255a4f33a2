// OpenDatabase: picks the store implementation from the database URL's scheme.
#include <string_view>

#include "store/postgres/postgres_database.h"
#include "store/sqlite/sqlite_database.h"
#include "store/store.h"

namespace cl::store {

Result<std::unique_ptr<Database>> OpenDatabase(const std::string& url, const OpenOptions& options) {
  const std::string_view u(url);
  if (u.starts_with("sqlite://")) {
    return OpenSqliteDatabase(std::string(u.substr(9)), options.sqlite_cache_mib);
  }
  if (u.starts_with("sqlite:")) {
    return OpenSqliteDatabase(std::string(u.substr(7)), options.sqlite_cache_mib);
  }
  if (u.starts_with("postgres://") || u.starts_with("postgresql://")) {
    return OpenPostgresDatabase(url);
  }
  // Only the scheme is echoed: the rest of a URL may carry a password.
  const size_t colon = u.find(':');
  std::string scheme(colon == std::string_view::npos ? std::string_view() : u.substr(0, colon));
  if (scheme.size() > 32) scheme = scheme.substr(0, 32) + "...";
  return Fail(Error::InvalidArgument((scheme.empty()
                                          ? std::string("database URL has no scheme")
                                          : "unsupported database URL scheme \"" + scheme + "\"") +
                                     "; expected sqlite:PATH, postgres://... or postgresql://..."));
}

}  // namespace cl::store
