#include "gateway/channel_ops.h"

#include "channels/channel_index.h"
#include "channels/channel_name.h"
#include "common/log.h"

namespace wsgate::gateway {

RemoteOutcome::Kind channel_change(const GatewayContext& ctx, const std::shared_ptr<Connection>& c,
                                   RemoteOp op, std::string_view channel) {
    if (ctx.channels == nullptr) return RemoteOutcome::Kind::limit;
    const auto& stage = c->event_context().stage;
    if (op == RemoteOp::leave) {
        return ctx.channels->leave(c->id(), stage, channel) ? RemoteOutcome::Kind::done
                                                            : RemoteOutcome::Kind::not_member;
    }
    switch (ctx.channels->join(c, stage, channel)) {
        case channels::JoinResult::joined:
        case channels::JoinResult::already_member:
            return RemoteOutcome::Kind::done;
        case channels::JoinResult::too_many_channels:
        case channels::JoinResult::channel_full:
            return RemoteOutcome::Kind::limit;
    }
    return RemoteOutcome::Kind::limit;
}

void apply_channel_headers(const GatewayContext& ctx, const std::shared_ptr<Connection>& c,
                           const integration::ProxyResponse& r) {
    auto apply = [&](const std::optional<std::string>& header, RemoteOp op, std::string_view name) {
        if (!header) return;
        std::string bad;
        const auto list = channels::parse_channel_list(*header, &bad);
        if (!list) {
            log::warn(std::string(name) + " from the integration names an invalid channel '" + bad +
                      "' (connection " + c->id() + "); header ignored");
            return;
        }
        for (const auto& ch : *list) {
            if (channel_change(ctx, c, op, ch) == RemoteOutcome::Kind::limit) {
                log::warn("connection " + c->id() + " cannot join channel '" + ch +
                          "': channel limit reached");
            }
        }
    };
    apply(r.leave_channels, RemoteOp::leave, kLeaveChannelsHeader);
    apply(r.join_channels, RemoteOp::join, kJoinChannelsHeader);
}

}  // namespace wsgate::gateway
