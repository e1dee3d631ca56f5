#include "libs/log/log.h"

#include <catch2/catch.hpp>

namespace tahe::log {
namespace {

TEST_CASE("log lines are one JSON object with escaped fields") {
  SetServiceName("ledger");
  std::string line = FormatLine("info", "hello \"x\"", {{"request_id", "r\n1"}});
  REQUIRE(line.front() == '{');
  REQUIRE(line.back() == '}');
  REQUIRE(line.find(R"("level":"info","service":"ledger","msg":"hello \"x\"")") !=
          std::string::npos);
  REQUIRE(line.find(R"("request_id":"r\n1")") != std::string::npos);
  REQUIRE(line.find('\n') == std::string::npos);
  SetServiceName("");
}

TEST_CASE("JsonQuote escapes control characters and replaces invalid UTF-8") {
  REQUIRE(JsonQuote("a\"b\\c") == R"("a\"b\\c")");
  REQUIRE(JsonQuote(std::string("\x01\t", 2)) == R"("\u0001\t")");
  REQUIRE(JsonQuote("äö") == "\"äö\"");
  REQUIRE(JsonQuote("\xff") == R"("\ufffd")");
}

}  // namespace
}  // namespace tahe::log
