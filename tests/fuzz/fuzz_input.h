#pragma once

// What the fuzzers share: FuzzInput, which splits the fuzzer's bytes into typed fields (a small
// FuzzedDataProvider, so the sources build with g++ too, where libFuzzer's header is not on the
// include path), and FUZZ_CHECK, which stops the process on a broken invariant so that libFuzzer
// (or the replay ctest) reports the input.
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     tahe::fuzz::FuzzInput in(data, size);
//     std::string text = in.String(64);
//     int64_t amount = in.IntInRange<int64_t>(-1000, 1000);
//     FUZZ_CHECK(Parse(Format(amount)) == amount);
//     return 0;
//   }
//
// Strings come from the front of the data (so that a seed's text is readable and libFuzzer's
// mutations of it stay meaningful), numbers and choices from the back, as FuzzedDataProvider does.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

// A broken invariant: print where and what, then trap (libFuzzer and the sanitizers see a crash,
// the replay test a failure). Inputs are synthetic, but nothing of the input is printed anyway.
#define FUZZ_CHECK(condition)                                                                \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #condition); \
      std::fflush(stderr);                                                                   \
      __builtin_trap();                                                                      \
    }                                                                                        \
  } while (false)

namespace tahe::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t remaining() const { return size_; }

  // Up to `max_length` bytes from the front, ending at a single '\\' that is not followed by
  // another one ("\\\\" is one literal backslash), or at the end of the data. The same encoding
  // as FuzzedDataProvider::ConsumeRandomLengthString.
  std::string String(size_t max_length) {
    std::string out;
    for (size_t i = 0; i < size_ && out.size() < max_length; ++i) {
      char c = static_cast<char>(data_[i]);
      if (c == '\\' && i + 1 < size_) {
        if (data_[i + 1] != '\\') {
          Advance(i + 2);
          return out;
        }
        ++i;
      }
      out.push_back(c);
      if (i + 1 == size_ || out.size() == max_length) {
        Advance(i + 1);
        return out;
      }
    }
    Advance(size_);
    return out;
  }

  // The rest of the data.
  std::string Rest() {
    std::string out(reinterpret_cast<const char*>(data_), size_);
    Advance(size_);
    return out;
  }

  // An integer in [min, max] from bytes at the back; `min` when the data is used up.
  template <typename T>
  T IntInRange(T min, T max) {
    static_assert(std::is_integral_v<T>);
    const uint64_t range = static_cast<uint64_t>(max) - static_cast<uint64_t>(min);
    uint64_t result = 0;
    size_t offset = 0;
    while (offset < sizeof(T) * 8 && (range >> offset) > 0 && size_ > 0) {
      --size_;
      result = (result << 8) | data_[size_];
      offset += 8;
    }
    if (range != UINT64_MAX) {
      result = result % (range + 1);
    }
    return static_cast<T>(static_cast<uint64_t>(min) + result);
  }

  template <typename T>
  T Int() {
    return IntInRange<T>(std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
  }

  bool Bool() { return (IntInRange<uint8_t>(0, 255) & 1) == 1; }

  // One of the `n` elements of `choices`.
  template <typename T, size_t n>
  const T& Pick(const T (&choices)[n]) {
    return choices[IntInRange<size_t>(0, n - 1)];
  }

 private:
  void Advance(size_t n) {
    data_ += n;
    size_ -= n;
  }

  const uint8_t* data_;
  size_t size_;
};

}  // namespace tahe::fuzz
