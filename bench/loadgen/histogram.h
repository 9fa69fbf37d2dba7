#pragma once
// A small log-bucketed latency histogram in the spirit of HdrHistogram: every power of two is split
// into 128 linear sub-buckets, so a recorded value is kept to within 1/128 (< 0.8 %, i.e. two
// significant decimal digits). Values are nanoseconds, tracked from 1 us to 60 s (values outside
// are clamped into that range; the exact minimum and maximum are kept separately).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace loadgen {

class Histogram {
  public:
    static constexpr std::uint64_t kLowest = 1'000;            // 1 us
    static constexpr std::uint64_t kHighest = 60'000'000'000;  // 60 s

    void record(std::uint64_t ns);
    void merge(const Histogram& other);

    std::uint64_t count() const { return count_; }
    std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
    std::uint64_t max() const { return max_; }
    double mean() const { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }
    // The smallest bucket bound at or below which a fraction q (0..1) of the values lie, capped at
    // the exact maximum; 0 when empty.
    std::uint64_t percentile(double q) const;

    // Bucket arithmetic, exposed for the self-test.
    static std::size_t index_of(std::uint64_t v);
    static std::uint64_t highest_equivalent(std::size_t index);

  private:
    static constexpr unsigned kSubBits = 7;  // 128 sub-buckets per power of two
    std::vector<std::uint64_t> counts_;      // allocated on the first record()
    std::uint64_t count_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
    double sum_ = 0;
};

}  // namespace loadgen
