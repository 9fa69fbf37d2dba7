#pragma once
// What the rest of the program may do with a live WebSocket connection, from any thread. The
// management API and (later) cluster mode reach sessions only through this interface.
#include <memory>
#include <string>

#include "common/time_format.h"
#include "integration/events.h"

namespace wsgate::gateway {

struct ConnectionInfo {
    SystemTime connected_at;
    SystemTime last_active_at;  // last data frame in either direction
    std::string source_ip;
    std::string user_agent;
};

// GetConnection's body:
// {"connectedAt":"…Z","identity":{"sourceIp":"…","userAgent":"…"},"lastActiveAt":"…Z"}.
std::string connection_info_json(const ConnectionInfo& info);

enum class SendResult {
    queued,      // accepted; it will be written unless the connection closes first
    queue_full,  // the client is not reading fast enough; nothing was queued
    gone,        // the connection is closing or closed
};

class Connection {
  public:
    virtual ~Connection() = default;
    virtual const std::string& id() const = 0;
    virtual ConnectionInfo info() const = 0;
    // Queues one message. `text` selects the frame opcode. Never blocks.
    virtual SendResult send(std::shared_ptr<const std::string> payload, bool text) = 0;
    // Starts a server-initiated close with this code; $disconnect then reports `code`/`reason`.
    // False if the connection was already closing.
    virtual bool close(int code, std::string reason) = 0;
    // Drops the socket without a closing handshake (shutdown's last resort for peers that do not
    // answer a close frame). $disconnect still runs.
    virtual void abort() = 0;

    // What a DISCONNECT event for this connection needs, should another node have to send it
    // (cluster mode). Immutable once the connection is registered.
    virtual const integration::ConnectionContext& event_context() const = 0;
    virtual const std::string& host_header() const = 0;
    // Cluster mode: another node has already run $disconnect for this connection; close it
    // (1001) without running it again.
    virtual void close_after_remote_disconnect() = 0;
};

}  // namespace wsgate::gateway
