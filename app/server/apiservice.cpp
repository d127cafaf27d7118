#include "server/apiservice.h"

#include <QJSEngine>
#include <QRegularExpression>
#include <QSettings>

namespace daub {
namespace {

ApiService* s_instance = nullptr;

const QString kEnabled = QStringLiteral("api/enabled");
const QString kListen = QStringLiteral("api/listen");
const QString kToken = QStringLiteral("api/token");
const QString kOrigins = QStringLiteral("api/origins");

} // namespace

ApiService::ApiService(GenerationCore* core, AppSettings* settings, QSettings* store,
                       QObject* parent)
    : QObject(parent), m_core(core), m_settings(settings), m_store(store) {
    m_enabled = m_store->value(kEnabled, false).toBool();
    m_listen = m_store->value(kListen, QStringLiteral("127.0.0.1:7860")).toString();
    m_token = m_store->value(kToken).toString();
    m_origins = m_store->value(kOrigins).toString();
}

ApiService::~ApiService() {
    if (s_instance == this)
        s_instance = nullptr;
}

ApiService* ApiService::create(QQmlEngine*, QJSEngine*) {
    Q_ASSERT_X(s_instance, "ApiService::create", "no ApiService instance was set");
    QJSEngine::setObjectOwnership(s_instance, QJSEngine::CppOwnership);
    return s_instance;
}

void ApiService::setInstance(ApiService* instance) { s_instance = instance; }

void ApiService::startIfEnabled() {
    if (m_enabled)
        restart();
}

void ApiService::setEnabled(bool on) {
    if (on == m_enabled)
        return;
    m_enabled = on;
    m_store->setValue(kEnabled, on);
    if (on) {
        restart();
    } else {
        if (m_server)
            m_server->stop();
        m_error.clear();
    }
    Q_EMIT changed();
}

void ApiService::setListen(const QString& value) { change(m_listen, value.trimmed(), kListen); }

void ApiService::setToken(const QString& value) { change(m_token, value, kToken); }

void ApiService::setOrigins(const QString& value) { change(m_origins, value.trimmed(), kOrigins); }

void ApiService::change(QString& field, const QString& value, const QString& key) {
    if (value == field)
        return;
    field = value;
    m_store->setValue(key, field);
    if (m_enabled)
        restart(); // listening as now said
    Q_EMIT changed();
}

void ApiService::restart() {
    m_error.clear();
    const auto listen = parseListen(m_listen);
    if (!listen) {
        if (m_server)
            m_server->stop();
        m_error = tr("\"%1\" is not an address and port such as 127.0.0.1:7860.").arg(m_listen);
        Q_EMIT changed();
        return;
    }
    ServerConfig config;
    config.address = listen->first;
    config.port = listen->second;
    config.token = m_token.toUtf8();
    static const QRegularExpression separators(QStringLiteral("[\\s,]+"));
    config.allowedOrigins = m_origins.split(separators, Qt::SkipEmptyParts);
    if (!m_server)
        m_server = std::make_unique<ApiServer>(m_core, m_settings);
    if (!m_server->start(config, &m_error))
        m_server->stop();
    Q_EMIT changed();
}

} // namespace daub
