#pragma once
// The built-in echo: answers every message with its own body. It is the embedded default's
// $default route, so a fresh gateway is useful before any backend exists.
#include "integration/integration.h"

namespace wsgate::integration {

class EchoIntegration final : public Integration {
  public:
    bool wants_event() const override { return false; }
    boost::asio::awaitable<Result> invoke(Invocation inv) override {
        Result r;
        r.response.body = std::move(inv.message_body);
        co_return r;
    }
};

}  // namespace wsgate::integration
