// The main of the replay binaries (fuzz_replay_<name>), built with the normal compiler instead of
// libFuzzer's: runs LLVMFuzzerTestOneInput once over every file of the directories (or files)
// given as arguments, so that the kept corpus is a regression suite in every ctest run.
//
//   build/tests/fuzz/fuzz_replay_iban tests/fuzz/corpus/iban
//
// A broken invariant traps (FUZZ_CHECK) and fails the test; the file being replayed is printed
// before each input so the failing one is the last name on stderr. Exits 1 when an argument
// names nothing readable or when no input was found: an empty corpus must not pass as green.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

bool ReadFile(const std::filesystem::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) {
    LLVMFuzzerInitialize(&argc, &argv);
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::error_code error;
    if (std::filesystem::is_directory(arg, error)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg, error)) {
        if (entry.is_regular_file()) {
          files.push_back(entry.path());
        }
      }
    } else if (std::filesystem::is_regular_file(arg, error)) {
      files.push_back(arg);
    }
    if (error) {
      std::fprintf(stderr, "%s: cannot read %s: %s\n", argv[0], argv[i], error.message().c_str());
      return 1;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "%s: no input files in the arguments\n", argv[0]);
    return 1;
  }
  // A stable order, so that a failure reproduces the same way.
  std::sort(files.begin(), files.end());
  std::string data;
  for (const std::filesystem::path& path : files) {
    if (!ReadFile(path, data)) {
      std::fprintf(stderr, "%s: cannot read %s\n", argv[0], path.c_str());
      return 1;
    }
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", path.c_str(), data.size());
    // A copy of exactly the input's size, so that a sanitizer sees any read past the end.
    std::vector<uint8_t> input(data.begin(), data.end());
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::fprintf(stderr, "%s: %zu inputs replayed, all invariants held\n", argv[0], files.size());
  return 0;
}
