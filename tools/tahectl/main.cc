// tahectl: see tools/tahectl/cli.h.
#include <iostream>
#include <string>
#include <vector>

#include "tools/tahectl/cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return tahe::tahectl::RunTahectl(args, tahe::tahectl::GetEnv, std::cout, std::cerr);
}
