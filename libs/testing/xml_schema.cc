#include "libs/testing/xml_schema.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace tahe::testing {

XmlValidation ValidateXml(const std::string& xml, const std::string& xsd_path) {
  static std::atomic<int> counter{0};
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     absl::StrCat("tahe_xml_", getpid(), "_", counter++, ".xml");
  {
    std::ofstream out(file, std::ios::binary);
    out << xml;
  }
  const std::string command =
      absl::StrCat("xmllint --noout --schema '", xsd_path, "' '", file.string(), "' 2>&1");
  XmlValidation result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe != nullptr) {
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) {
      result.output.append(buffer, n);
    }
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::filesystem::remove(file);
  return result;
}

bool XmllintAvailable() { return std::system("command -v xmllint >/dev/null 2>&1") == 0; }

}  // namespace tahe::testing
