#include "store/records.h"

namespace dstc::store {

std::string_view sample_kind_name(SampleKind kind) {
  return kind == SampleKind::kCode ? "code" : "test";
}

}  // namespace dstc::store
