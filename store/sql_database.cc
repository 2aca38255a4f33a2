// The plumbing every per-aggregate SqlDatabase file shares: SqlRow's decoders and the helpers
// declared in sql_internal.h. The SQL itself lives in store/sql_<aggregate>.cc.
#include "store/sql_database.h"

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "store/sql_internal.h"

namespace cl::store {
namespace {

const std::string kEmpty;

}  // namespace

const std::string& SqlRow::Str(size_t i) const {
  const auto& c = cols_.at(i);
  return c ? *c : kEmpty;
}

std::optional<int64_t> SqlRow::OptInt(size_t i) const {
  const auto& c = cols_.at(i);
  if (!c) return std::nullopt;
  int64_t v = 0;
  std::from_chars(c->data(), c->data() + c->size(), v);
  return v;
}

int64_t SqlRow::Int(size_t i) const { return OptInt(i).value_or(0); }

bool SqlRow::Bool(size_t i) const {
  const std::string& s = Str(i);
  return s == "1" || s == "t" || s == "true";
}

// Empty text as SQL NULL (columns where NULL means "unknown").
SqlParam OptText(const std::string& v) { return v.empty() ? SqlParam() : SqlParam(v); }

void AppendKeysetPage(std::string& sql, std::vector<SqlParam>& params, const ListOrder& order,
                      const std::vector<SqlParam>& after, int limit) {
  auto placeholder = [&](SqlParam value) {
    params.push_back(std::move(value));
    return "$" + std::to_string(params.size());
  };
  auto list = [&](auto&& item) {
    std::string out;
    for (size_t i = 0; i < order.columns.size(); ++i) {
      if (i > 0) out += ", ";
      out += item(i);
    }
    return out;
  };
  if (!after.empty()) {
    // A malformed key is the caller's bug, not input: keys come from the store's own rows.
    if (after.size() != order.columns.size()) std::abort();
    sql += " AND (" + list([&](size_t i) { return std::string(order.columns[i]); }) +
           (order.descending ? ") < (" : ") > (") +
           list([&](size_t i) { return placeholder(after[i]); }) + ")";
  }
  sql += " ORDER BY " + list([&](size_t i) {
           return std::string(order.columns[i]) + (order.descending ? " DESC" : "");
         });
  if (limit > 0) sql += " LIMIT " + placeholder(int64_t{limit} + 1);
}

std::vector<SqlParam> KeyParams(const NameKey& key) { return {key.name, key.id}; }
std::vector<SqlParam> KeyParams(const TimeKey& key) { return {key.created_at, key.id}; }
std::vector<SqlParam> KeyParams(const WorkflowKey& key) {
  return {key.project_name, key.workflow_name, key.id};
}

UnixMillis WallClockNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::string> EncodePermissions(const std::vector<std::string>& permissions) {
  std::string out;
  for (const std::string& p : permissions) {
    if (p.empty() || p.find_first_of(" \t\r\n\v\f") != std::string::npos) {
      return Fail(
          Error::InvalidArgument("permissions must be non-empty and contain no whitespace"));
    }
    if (!out.empty()) out.push_back(' ');
    out += p;
  }
  return out;
}

std::vector<std::string> DecodePermissions(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

namespace {

// An unknown stored value is corruption or a row from a newer build: never guessed at.
Error UnknownStoredValue(std::string_view column, std::string_view text) {
  return Error::Internal("unknown " + std::string(column) + " '" + std::string(text.substr(0, 32)) +
                         "' in the database");
}

}  // namespace

Result<RevocationReason> DecodeRevocationReason(std::string_view text) {
  if (auto v = ParseRevocationReason(text)) return *v;
  return Fail(UnknownStoredValue("api_tokens.revocation_reason", text));
}

Result<RunState> DecodeRunState(std::string_view text) {
  if (auto v = ParseRunState(text)) return *v;
  return Fail(UnknownStoredValue("workflow_runs.state", text));
}

Result<InvitationStatus> DecodeInvitationStatus(std::string_view text) {
  if (auto v = ParseInvitationStatus(text)) return *v;
  return Fail(UnknownStoredValue("invitations.status", text));
}

Result<OrgRole> DecodeOrgRole(std::string_view column, std::string_view text) {
  if (auto v = ParseOrgRole(text)) return *v;
  return Fail(UnknownStoredValue(column, text));
}

Result<ProjectRole> DecodeProjectRole(std::string_view text) {
  if (auto v = ParseProjectRole(text)) return *v;
  return Fail(UnknownStoredValue("project_memberships.role", text));
}

}  // namespace cl::store
