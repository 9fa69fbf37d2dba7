#pragma once
// Reads the headers of client WebSocket frames as the raw bytes go by, to enforce limits Beast
// does not have: a maximum frame size (AWS: 32 KB) next to the maximum message size (AWS: 128 KB).
// Pure: bytes in, a verdict out; guarded_stream.h feeds it from the socket.
#include <array>
#include <cstddef>
#include <cstdint>

namespace wsgate::gateway {

class FrameScanner {
  public:
    FrameScanner(std::size_t max_frame_bytes, std::size_t max_message_bytes)
        : max_frame_(max_frame_bytes), max_message_(max_message_bytes) {}

    struct Verdict {
        std::size_t pass;  // bytes of this chunk that may be handed on
        bool too_big;      // a data frame or message exceeds a limit
    };

    // Consumes one chunk of the client-to-server byte stream. When a frame header breaks a limit,
    // `pass` stops where that header starts in this chunk (0 if it started in an earlier chunk), so
    // the reader never sees the offending header complete.
    Verdict feed(const std::uint8_t* data, std::size_t size);

    // Data messages whose final frame has been fed completely, and the stream offset where the
    // last of them ended. A reader that has consumed messages() messages and nothing else holds no
    // unread byte exactly when message_end() == fed(): whatever came after the last message (a
    // control frame, the start of another message) is still in its buffer otherwise.
    std::uint64_t messages() const { return messages_; }
    std::uint64_t message_end() const { return message_end_; }
    std::uint64_t fed() const { return fed_; }

  private:
    void frame_done() {
        if (fin_data_frame_) {
            ++messages_;
            message_end_ = fed_;
        }
    }

    std::size_t max_frame_;
    std::size_t max_message_;
    std::array<std::uint8_t, 14> header_{};  // the largest header: 2 + 8 (length) + 4 (mask)
    std::size_t header_have_ = 0;
    std::uint64_t payload_left_ = 0;  // bytes of the current frame's payload still to skip
    std::uint64_t message_bytes_ = 0; // payload of the data message in progress
    bool tripped_ = false;
    bool fin_data_frame_ = false;  // the frame in progress ends a data message
    std::uint64_t fed_ = 0;         // bytes consumed by feed()
    std::uint64_t messages_ = 0;
    std::uint64_t message_end_ = 0;
};

}  // namespace wsgate::gateway
