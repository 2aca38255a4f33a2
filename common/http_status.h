// HTTP status line reason phrases (RFC 9110 section 15), one table for the server and the test
// servers that speak HTTP/1.1 by hand.
#pragma once

#include <string_view>

namespace cl {

// The standard phrase of `status`, or "Status" for codes not in the table: clients ignore the
// phrase, so an unknown code still makes a valid status line.
std::string_view HttpReasonPhrase(int status);

}  // namespace cl
