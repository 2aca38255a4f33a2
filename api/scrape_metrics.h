// Scrape-time metrics: before /metrics renders, the counts that other components keep
// lock-free (the Authenticator, the login service, the database's connection layer), the
// process's /proc figures and the gauges read on demand (build, cache size, revocation listener)
// are copied into the registry. Internal to api/.
#pragma once

#include "api/api.h"

namespace cl::api {

// Copies everything above into deps.metrics. REQUIRES: deps.metrics. Null dependencies are
// skipped.
void CollectScrapeMetrics(const ApiDeps& deps);

}  // namespace cl::api
