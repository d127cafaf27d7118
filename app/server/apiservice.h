// The window's switch for the API server (Settings → "Let other programs
// use Daub"): whether it runs, where it listens, its token and the web
// pages allowed to call it, kept in the settings; the address to give
// other programs, or why it could not start. Off by default. Exposed to
// QML as the ApiService singleton; `daub --serve` uses ApiServer directly.
#pragma once

#include "server/apiserver.h"

#include <QObject>
#include <QtQml/qqmlregistration.h>

#include <memory>

class QQmlEngine;
class QJSEngine;
class QSettings;

namespace daub {

class ApiService : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    Q_PROPERTY(bool enabled READ enabled WRITE setEnabled NOTIFY changed)
    /// "127.0.0.1:7860"; another address needs a token.
    Q_PROPERTY(QString listen READ listen WRITE setListen NOTIFY changed)
    Q_PROPERTY(QString token READ token WRITE setToken NOTIFY changed)
    /// Web page origins allowed to call (CORS), separated by spaces or commas.
    Q_PROPERTY(QString origins READ origins WRITE setOrigins NOTIFY changed)
    Q_PROPERTY(bool running READ running NOTIFY changed)
    /// "http://127.0.0.1:7860" while running.
    Q_PROPERTY(QString url READ url NOTIFY changed)
    /// Why it is not running although enabled (one sentence), else "".
    Q_PROPERTY(QString error READ error NOTIFY changed)

public:
    ApiService(GenerationCore* core, AppSettings* settings, QSettings* store,
               QObject* parent = nullptr);
    ~ApiService() override;

    static ApiService* create(QQmlEngine*, QJSEngine*);
    static void setInstance(ApiService* instance);

    /// Starts the server when the settings say it runs (at start).
    void startIfEnabled();

    bool enabled() const { return m_enabled; }
    void setEnabled(bool on);
    QString listen() const { return m_listen; }
    void setListen(const QString& value);
    QString token() const { return m_token; }
    void setToken(const QString& value);
    QString origins() const { return m_origins; }
    void setOrigins(const QString& value);
    bool running() const { return m_server && m_server->listening(); }
    QString url() const { return running() ? m_server->url() : QString(); }
    QString error() const { return m_error; }
    ApiServer* server() const { return m_server.get(); }

Q_SIGNALS:
    void changed();

private:
    void restart();
    /// Sets a text setting, keeps it, and restarts a running server on it.
    void change(QString& field, const QString& value, const QString& key);

    GenerationCore* m_core;
    AppSettings* m_settings;
    QSettings* m_store;
    bool m_enabled = false;
    QString m_listen;
    QString m_token;
    QString m_origins;
    QString m_error;
    std::unique_ptr<ApiServer> m_server;
};

} // namespace daub
