#pragma once

// The C++ end-to-end tests that talk to a running local suite (its local.env exported by the
// shell script that started it) read their settings with these.
//
//   const std::string gateway = SuiteEnv("TAHE_GATEWAY_ADDR", kHowToRun);
//   const std::string admin_key = ReadFileTrimmed(SuiteEnv("TAHE_ADMIN_API_KEY_FILE", kHowToRun));

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"

namespace tahe::e2e {

// The variable `name`; the test fails, saying `how_to_run`, when it is not set.
inline std::string SuiteEnv(const char* name, const char* how_to_run) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    FAIL(name << " is not set: this test talks to a running suite; run it through " << how_to_run);
  }
  return value;
}

// The file's contents without surrounding whitespace; the test fails when it cannot be read.
inline std::string ReadFileTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    FAIL("cannot read " << path);
  }
  std::stringstream text;
  text << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(text.str()));
}

}  // namespace tahe::e2e
