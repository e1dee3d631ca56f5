#pragma once

// Validating a document against a published XSD in tests, with xmllint (Debian package
// libxml2-utils), as a bank or operator would:
//
//   tahe::testing::XmlValidation v = tahe::testing::ValidateXml(xml, TAHE_PAIN_001_XSD);
//   INFO(v.output);
//   REQUIRE(v.exit_code == 0);

#include <string>

namespace tahe::testing {

struct XmlValidation {
  // xmllint's exit status: 0 valid, 3/4 invalid, -1 it could not be run.
  int exit_code = -1;
  // What xmllint printed (stdout and stderr).
  std::string output;
};

// Writes `xml` to a temporary file, runs `xmllint --noout --schema XSD FILE`, removes the file.
XmlValidation ValidateXml(const std::string& xml, const std::string& xsd_path);

// True if xmllint is on the PATH.
bool XmllintAvailable();

}  // namespace tahe::testing
