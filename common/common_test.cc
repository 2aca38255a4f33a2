#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/random.h"

namespace cl {
namespace {

TEST(Clock, FormatsRfc3339) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1'700'000'000'123), "2023-11-14T22:13:20Z");
}

TEST(Random, UuidsAreCanonicalAndDistinct) {
  SystemRandom r;
  std::string a = NewUuid(r), b = NewUuid(r);
  EXPECT_TRUE(IsUuid(a));
  EXPECT_NE(a, b);
  EXPECT_EQ(a[14], '4');
  EXPECT_FALSE(IsUuid("not-a-uuid"));
  EXPECT_FALSE(IsUuid("ZZZZZZZZ-0000-4000-8000-000000000000"));
}

TEST(Json, ReaderRejectsUnknownFieldsAndWrongTypes) {
  auto r = JsonObjectReader::Parse(R"({"name":"a","extra":1})");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r->RequiredString("name"), "a");
  auto fin = r->Finish();
  ASSERT_FALSE(fin);
  EXPECT_EQ(fin.error().reason(), "unknown_field");

  auto t = JsonObjectReader::Parse(R"({"name":5})");
  ASSERT_TRUE(t);
  auto name = t->RequiredString("name");
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().reason(), "invalid_field_type");

  auto bad = JsonObjectReader::Parse("{nope");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().reason(), "malformed_json");

  auto arr = JsonObjectReader::Parse("[1]");
  ASSERT_FALSE(arr);

  auto empty = JsonObjectReader::Parse("");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty->OptionalString("x"));
  EXPECT_TRUE(empty->Finish());
}

TEST(Json, DeepNestingIsRefused) {
  std::string deep(1000, '[');
  EXPECT_FALSE(ParseJson(deep));
}

TEST(Log, WritesOneJsonObjectPerLineWithEscaping) {
  std::string sink;
  SetLogSinkForTest(&sink);
  Log(LogLevel::kInfo, "hello \"x\"\n", {{"request_id", "r1"}, {"status", 200}});
  SetLogSinkForTest(nullptr);
  ASSERT_FALSE(sink.empty());
  EXPECT_EQ(sink.back(), '\n');
  auto v = ParseJson(sink);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->at("msg").as_string(), "hello \"x\"\n");
  EXPECT_EQ(v->at("request_id").as_string(), "r1");
  EXPECT_EQ(v->at("status").as_int64(), 200);
}

}  // namespace
}  // namespace cl
