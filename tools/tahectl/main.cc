// tahectl: see tools/tahectl/cli.h.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "tools/tahectl/cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  tahe::tahectl::RunEnvironment environment;
  environment.env = tahe::tahectl::GetEnv;
  environment.err_is_terminal = isatty(STDERR_FILENO) != 0;
  return tahe::tahectl::RunTahectl(args, environment, std::cout, std::cerr);
}
