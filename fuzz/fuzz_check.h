#pragma once
// Shared by the fuzz targets. The fuzz preset builds RelWithDebInfo (NDEBUG), so assert() would be
// compiled out: FUZZ_CHECK always runs, prints what failed, and aborts so libFuzzer records a crash.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                     \
        }                                                                                     \
    } while (0)

#define FUZZ_CHECK_MSG(cond, ...)                                                             \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n  ", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                                \
            std::fputc('\n', stderr);                                                         \
            std::abort();                                                                     \
        }                                                                                     \
    } while (0)

namespace wsgate::fuzz {

// A copy of `s` in a heap block of exactly s.size() bytes, so AddressSanitizer flags a read one past
// the end of this field (a view into the fuzzer's whole input would only catch a read past the end
// of the input). std::string is no good here: short strings live inside the object itself.
class ExactCopy {
  public:
    explicit ExactCopy(std::string_view s)
        : size_(s.size()), data_(std::make_unique<char[]>(s.size() == 0 ? 1 : s.size())) {
        if (!s.empty()) std::memcpy(data_.get(), s.data(), s.size());
        // For an empty field, point past the end of the 1-byte block: any read is an overflow.
        view_ = s.empty() ? std::string_view(data_.get() + 1, 0) : std::string_view(data_.get(), size_);
    }
    std::string_view view() const { return view_; }

  private:
    std::size_t size_;
    std::unique_ptr<char[]> data_;
    std::string_view view_;
};

}  // namespace wsgate::fuzz
