// Tests for the Prometheus registry: families, labels, histogram buckets, concurrency.
#include "http/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace cl::http {
namespace {

bool Contains(const std::string& text, std::string_view needle) {
  return text.find(needle) != std::string::npos;
}

TEST(MetricsTest, EmptyRegistryDeclaresStandardFamilies) {
  Metrics m;
  std::string out = m.RenderPrometheus();
  EXPECT_TRUE(Contains(out, "# TYPE chainloop_http_requests_total counter\n"));
  EXPECT_TRUE(Contains(out, "# TYPE chainloop_auth_failures_total counter\n"));
  EXPECT_TRUE(Contains(out, "# TYPE chainloop_http_connections_active gauge\n"));
  EXPECT_TRUE(Contains(out, "chainloop_http_connections_active 0\n"));
  EXPECT_TRUE(Contains(out, "# TYPE chainloop_http_request_duration_seconds histogram\n"));
}

TEST(MetricsTest, ObserveRequestCountsAndBuckets) {
  Metrics m;
  m.ObserveRequest("/v1/organizations/{org}", "GET", 200, 0.003);
  m.ObserveRequest("/v1/organizations/{org}", "GET", 200, 0.2);
  m.ObserveRequest("/v1/organizations/{org}", "POST", 403, 20);
  std::string out = m.RenderPrometheus();
  EXPECT_TRUE(Contains(out,
                       "chainloop_http_requests_total{route=\"/v1/organizations/{org}\","
                       "method=\"GET\",status=\"200\"} 2\n"))
      << out;
  EXPECT_TRUE(Contains(out,
                       "chainloop_http_requests_total{route=\"/v1/organizations/{org}\","
                       "method=\"POST\",status=\"403\"} 1\n"));
  const std::string b =
      "chainloop_http_request_duration_seconds_bucket{route=\"/v1/organizations/{org}\",";
  EXPECT_TRUE(Contains(out, b + "le=\"0.001\"} 0\n")) << out;
  EXPECT_TRUE(Contains(out, b + "le=\"0.005\"} 1\n"));
  EXPECT_TRUE(Contains(out, b + "le=\"0.25\"} 2\n"));
  EXPECT_TRUE(Contains(out, b + "le=\"10\"} 2\n"));
  EXPECT_TRUE(Contains(out, b + "le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(Contains(
      out, "chainloop_http_request_duration_seconds_count{route=\"/v1/organizations/{org}\"} 3\n"));
  EXPECT_TRUE(Contains(
      out,
      "chainloop_http_request_duration_seconds_sum{route=\"/v1/organizations/{org}\"} 20.203"));
}

TEST(MetricsTest, CountersGaugesAndEscaping) {
  Metrics m;
  m.IncAuthFailure("api_token", "token_expired");
  m.IncAuthFailure("api_token", "token_expired");
  m.IncCounter("chainloop_tokens_revoked_total", "Revoked tokens.", {{"by", "a\"b\\c\nd"}}, 3);
  m.SetGauge("chainloop_http_connections_active", "ignored", 7);
  m.SetGauge("chainloop_http_connections_active", "ignored", 5);
  std::string out = m.RenderPrometheus();
  EXPECT_TRUE(Contains(
      out, "chainloop_auth_failures_total{kind=\"api_token\",reason=\"token_expired\"} 2\n"));
  EXPECT_TRUE(Contains(out, "# HELP chainloop_tokens_revoked_total Revoked tokens.\n"));
  EXPECT_TRUE(Contains(out, "chainloop_tokens_revoked_total{by=\"a\\\"b\\\\c\\nd\"} 3\n")) << out;
  EXPECT_TRUE(Contains(out, "chainloop_http_connections_active 5\n"));
  EXPECT_FALSE(Contains(out, "chainloop_http_connections_active 7\n"));
}

TEST(MetricsTest, SetCounterReplacesTheValue) {
  Metrics m;
  m.SetCounter("chainloop_x_total", "X.", {{"kind", "a"}}, 3);
  m.SetCounter("chainloop_x_total", "X.", {{"kind", "a"}}, 5);
  m.SetCounter("chainloop_x_total", "X.", {{"kind", "b"}}, 1);
  std::string out = m.RenderPrometheus();
  EXPECT_TRUE(Contains(out, "# TYPE chainloop_x_total counter\n"));
  EXPECT_TRUE(Contains(out, "chainloop_x_total{kind=\"a\"} 5\n")) << out;
  EXPECT_TRUE(Contains(out, "chainloop_x_total{kind=\"b\"} 1\n"));
}

TEST(MetricsTest, SetHistogramRendersCumulativeBuckets) {
  Metrics m;
  const std::vector<double> bounds = {0.001, 0.01};
  m.SetHistogram("chainloop_db_seconds", "DB.", "operation", "query", bounds, {2, 3, 1}, 0.5);
  m.SetHistogram("chainloop_db_seconds", "DB.", "operation", "query", bounds, {4, 3, 1}, 0.75);
  m.SetHistogram("chainloop_plain_seconds", "Plain.", "", "", bounds, {0, 1, 0}, 0.005);
  std::string out = m.RenderPrometheus();
  EXPECT_TRUE(Contains(out, "# TYPE chainloop_db_seconds histogram\n"));
  EXPECT_TRUE(Contains(out, "chainloop_db_seconds_bucket{operation=\"query\",le=\"0.001\"} 4\n"))
      << out;
  EXPECT_TRUE(Contains(out, "chainloop_db_seconds_bucket{operation=\"query\",le=\"0.01\"} 7\n"));
  EXPECT_TRUE(Contains(out, "chainloop_db_seconds_bucket{operation=\"query\",le=\"+Inf\"} 8\n"));
  EXPECT_TRUE(Contains(out, "chainloop_db_seconds_sum{operation=\"query\"} 0.75\n"));
  EXPECT_TRUE(Contains(out, "chainloop_db_seconds_count{operation=\"query\"} 8\n"));
  EXPECT_TRUE(Contains(out, "chainloop_plain_seconds_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_TRUE(Contains(out, "chainloop_plain_seconds_sum 0.005\n"));
  EXPECT_TRUE(Contains(out, "chainloop_plain_seconds_count 1\n"));
}

TEST(MetricsTest, ObserveHistogramAccumulatesIntoBuckets) {
  Metrics m;
  const std::vector<double> bounds = {0.1, 1};
  m.ObserveHistogram("chainloop_job_seconds", "Job.", bounds, 0.05);
  m.ObserveHistogram("chainloop_job_seconds", "Job.", bounds, 0.1);  // le is inclusive
  m.ObserveHistogram("chainloop_job_seconds", "Job.", bounds, 0.5);
  m.ObserveHistogram("chainloop_job_seconds", "Job.", bounds, 7);
  std::string out = m.RenderPrometheus();
  EXPECT_TRUE(Contains(out, "# TYPE chainloop_job_seconds histogram\n")) << out;
  EXPECT_TRUE(Contains(out, "chainloop_job_seconds_bucket{le=\"0.1\"} 2\n")) << out;
  EXPECT_TRUE(Contains(out, "chainloop_job_seconds_bucket{le=\"1\"} 3\n")) << out;
  EXPECT_TRUE(Contains(out, "chainloop_job_seconds_bucket{le=\"+Inf\"} 4\n")) << out;
  EXPECT_TRUE(Contains(out, "chainloop_job_seconds_sum 7.65\n")) << out;
  EXPECT_TRUE(Contains(out, "chainloop_job_seconds_count 4\n")) << out;
}

TEST(MetricsTest, AddGaugeAccumulates) {
  Metrics m;
  m.AddGauge("chainloop_http_connections_active", "x", 1);
  m.AddGauge("chainloop_http_connections_active", "x", 1);
  m.AddGauge("chainloop_http_connections_active", "x", -1);
  EXPECT_TRUE(Contains(m.RenderPrometheus(), "chainloop_http_connections_active 1\n"));
}

TEST(MetricsTest, ConcurrentObservationsAreAllCounted) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < 1000; ++i) m.ObserveRequest("/x", "GET", 200, 0.0001);
    });
  }
  for (auto& t : threads) t.join();
  std::string out = m.RenderPrometheus();
  EXPECT_TRUE(Contains(
      out, "chainloop_http_requests_total{route=\"/x\",method=\"GET\",status=\"200\"} 4000\n"));
}

}  // namespace
}  // namespace cl::http
