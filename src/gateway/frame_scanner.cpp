#include "gateway/frame_scanner.h"

#include <algorithm>

namespace wsgate::gateway {

namespace {

std::size_t header_size(const std::uint8_t* h) {
    const std::uint8_t len7 = h[1] & 0x7f;
    const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    return 2 + ext + ((h[1] & 0x80) ? 4 : 0);
}

std::uint64_t payload_size(const std::uint8_t* h) {
    const std::uint8_t len7 = h[1] & 0x7f;
    if (len7 < 126) return len7;
    std::uint64_t n = 0;
    const int bytes = len7 == 126 ? 2 : 8;
    for (int i = 0; i < bytes; ++i) n = (n << 8) | h[2 + i];
    return n;
}

}  // namespace

FrameScanner::Verdict FrameScanner::feed(const std::uint8_t* data, std::size_t size) {
    if (tripped_) return {0, true};
    std::size_t pos = 0;
    // Where the header being collected starts in this chunk (0 if it began in an earlier one).
    std::size_t header_start = 0;
    while (pos < size) {
        if (payload_left_ > 0) {
            const auto skip = static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, size - pos));
            payload_left_ -= skip;
            pos += skip;
            fed_ += skip;
            if (payload_left_ == 0) frame_done();
            continue;
        }
        // Inside a frame header: collect it (it may span chunks).
        if (header_have_ == 0) header_start = pos;
        header_[header_have_++] = data[pos++];
        ++fed_;
        if (header_have_ < 2 || header_have_ < header_size(header_.data())) continue;

        const std::uint8_t opcode = header_[0] & 0x0f;
        const bool fin = (header_[0] & 0x80) != 0;
        const std::uint64_t len = payload_size(header_.data());
        header_have_ = 0;
        payload_left_ = len;
        fin_data_frame_ = fin && opcode < 0x8;
        if (opcode < 0x8) {
            if (opcode != 0) message_bytes_ = 0;  // text or binary: a new message starts
            message_bytes_ += len;
            if (len > max_frame_ || message_bytes_ > max_message_) {
                tripped_ = true;
                // Hand on nothing of the offending header: what came before it stays valid input.
                return {header_start, true};
            }
            if (fin) message_bytes_ = 0;
        }
        // (Control frames: Beast enforces their 125-byte limit.)
        if (len == 0) frame_done();
    }
    return {size, false};
}

}  // namespace wsgate::gateway
