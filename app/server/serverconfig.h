// Where the API server listens and who may use it (daub --serve's
// options, or the window's Settings).
#pragma once

#include <QByteArray>
#include <QHostAddress>
#include <QStringList>

#include <optional>
#include <utility>

namespace daub {

struct ServerConfig {
    QHostAddress address = QHostAddress::LocalHost;
    quint16 port = 7860;
    QByteArray token;           ///< "" = none (only allowed on loopback)
    QStringList allowedOrigins; ///< CORS: web pages allowed to call (exact origins)
};

/// "127.0.0.1:7860", "[::1]:7860", ":7860" or "7860" → address and port;
/// nullopt when it is not one.
std::optional<std::pair<QHostAddress, quint16>> parseListen(const QString& text);

} // namespace daub
