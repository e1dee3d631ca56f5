#pragma once

// A one-dimensional array without NULLs in PostgreSQL's binary format (what array_recv reads),
// for a binary parameter cast to text[], bigint[] or bytea[]: the server takes the elements as
// they are, with no quoting, escaping, hex or parsing of a literal — what matters for the
// statements that write a pay run's, a billing run's or a bank file's rows by the thousand.
// Messages are serialised straight into the buffer.
//
//   pg::BinaryArray ids(pg::BinaryArray::kText);
//   ids.AddText("INV-1");
//   tx.exec_params("... unnest($1::text[]) ...", ids.Param());

#include <cstddef>
#include <cstdint>
#include <pqxx/pqxx>
#include <string>

#include "absl/strings/string_view.h"

namespace tahe::pg {

class BinaryArray {
 public:
  // Element type OIDs (pg_type.h).
  static constexpr uint32_t kBytea = 17;
  static constexpr uint32_t kInt8 = 20;
  static constexpr uint32_t kText = 25;

  explicit BinaryArray(uint32_t element_oid) {
    // Header: dimensions 1, no NULLs, element type, length (set by Param), lower bound 1.
    for (uint32_t word : {1u, 0u, element_oid, 0u, 1u}) {
      AppendInt32(word);
    }
  }

  // REQUIRES: the array was made for kText or kBytea.
  void AddText(absl::string_view text) {
    AppendInt32(static_cast<uint32_t>(text.size()));
    buffer_.append(text.data(), text.size());
    ++size_;
  }
  // REQUIRES: the array was made for kInt8.
  void AddInt64(int64_t value) {
    AppendInt32(8);
    const uint64_t v = static_cast<uint64_t>(value);
    AppendInt32(static_cast<uint32_t>(v >> 32));
    AppendInt32(static_cast<uint32_t>(v));
    ++size_;
  }
  // The message's serialisation as one bytea element. REQUIRES: made for kBytea; Message is a
  // protobuf message (MessageLite will do).
  template <typename Message>
  void AddMessage(const Message& message) {
    const size_t length = message.ByteSizeLong();
    AppendInt32(static_cast<uint32_t>(length));
    const size_t at = buffer_.size();
    buffer_.resize(at + length);
    message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(&buffer_[at]));
    ++size_;
  }

  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The array as a binary parameter.
  pqxx::binarystring Param() {
    PutInt32(12, static_cast<uint32_t>(size_));
    return pqxx::binarystring(buffer_.data(), buffer_.size());
  }

 private:
  void AppendInt32(uint32_t v) {
    const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                           static_cast<char>(v >> 8), static_cast<char>(v)};
    buffer_.append(bytes, 4);
  }
  void PutInt32(size_t at, uint32_t v) {
    buffer_[at] = static_cast<char>(v >> 24);
    buffer_[at + 1] = static_cast<char>(v >> 16);
    buffer_[at + 2] = static_cast<char>(v >> 8);
    buffer_[at + 3] = static_cast<char>(v);
  }

  std::string buffer_;
  int size_ = 0;
};

}  // namespace tahe::pg
