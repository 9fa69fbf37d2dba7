#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace loadgen {

namespace {
constexpr std::uint64_t kSub = std::uint64_t{1} << 7;
}

std::size_t Histogram::index_of(std::uint64_t v) {
    if (v < 2 * kSub) return static_cast<std::size_t>(v);             // exact below 256
    const unsigned e = static_cast<unsigned>(std::bit_width(v)) - 1;  // >= 8
    const unsigned shift = e - kSubBits;                              // >= 1
    const std::uint64_t mantissa = v >> shift;                        // 128..255
    return static_cast<std::size_t>(shift * kSub + mantissa);
}

std::uint64_t Histogram::highest_equivalent(std::size_t index) {
    if (index < 2 * kSub) return index;
    const unsigned shift = static_cast<unsigned>(index / kSub) - 1;
    const std::uint64_t mantissa = index % kSub + kSub;
    return ((mantissa + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t ns) {
    if (counts_.empty()) counts_.assign(index_of(kHighest) + 1, 0);
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
    sum_ += static_cast<double>(ns);
    ++count_;
    ++counts_[index_of(std::clamp(ns, kLowest, kHighest))];
}

void Histogram::merge(const Histogram& other) {
    if (other.count_ == 0) return;
    if (counts_.empty()) counts_.assign(other.counts_.size(), 0);
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    sum_ += other.sum_;
}

std::uint64_t Histogram::percentile(double q) const {
    if (count_ == 0) return 0;
    const double want = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_));
    const std::uint64_t target = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(want));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= target) return std::clamp(highest_equivalent(i), min_, max_);
    }
    return max_;
}

}  // namespace loadgen
