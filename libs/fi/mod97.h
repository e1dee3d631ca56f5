#pragma once

// ISO 7064 MOD 97-10, shared by IBAN (iban.h) and RF creditor references (reference.h).

#include "absl/strings/string_view.h"

namespace tahe::fi::internal {

// `text` read as one decimal number with each letter A..Z written as 10..35, mod 97.
// REQUIRES: only the characters 0-9 and A-Z.
inline int Mod97(absl::string_view text) {
  int remainder = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      remainder = (remainder * 10 + (c - '0')) % 97;
    } else {
      remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
    }
  }
  return remainder;
}

}  // namespace tahe::fi::internal
