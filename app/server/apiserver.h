// The API front end: AUTOMATIC1111's /sdapi/v1 over HTTP, in Daub's
// process, on the GenerationCore's queue and engine. Headless (daub
// --serve) or beside the window (Settings → "Let other programs use
// Daub"); its jobs are the core's like the chat's, so they show in the
// chat and the history marked "from another program", and can be cancelled
// there.
//
//   request → guard (token, Origin, body size) → route
//   txt2img / img2img        apirequest.h reads the body → core.submit() per
//                            image; the answer waits until every job ended
//   progress / interrupt /   the core's running job
//   skip
//   options, sd-models, …    ModelController (what Daub found), AppSettings
//
// Security: 127.0.0.1 unless told otherwise; another address needs a token
// (Basic or Bearer, compared in constant time); a browser page of another
// origin is refused unless listed; bodies over api::kMaxBodyBytes are
// refused; nothing is fetched, and no path is taken from a request.
#pragma once

#include "server/apirequest.h"
#include "server/filehashes.h"
#include "server/serverconfig.h"

#include <QHostAddress>
#include <QHttpServerResponder>
#include <QPointer>
#include <QtHttpServer/QAbstractHttpServer>

#include <map>
#include <memory>

class QTcpSocket;

namespace daub {

class AppSettings;
class GenerationCore;

class ApiServer : public QAbstractHttpServer {
    Q_OBJECT
public:
    ApiServer(GenerationCore* core, AppSettings* settings, QObject* parent = nullptr);
    ~ApiServer() override;

    /// Listens; false with `why` (one sentence) when it cannot.
    bool start(const ServerConfig& config, QString* why);
    /// Stops listening; requests waiting for jobs are answered 503.
    void stop();
    bool listening() const { return m_listening; }
    /// "http://127.0.0.1:7860" while listening.
    QString url() const;
    quint16 port() const { return m_port; }

protected:
    bool handleRequest(const QHttpServerRequest& request, QTcpSocket* socket) override;
    void missingHandler(const QHttpServerRequest& request, QTcpSocket* socket) override;

private:
    struct Pending;
    using Headers = QList<QPair<QByteArray, QByteArray>>;

    /// Why the request may not go on (Host, Origin, token, size), or
    /// nullopt; `headers` gets the CORS (or challenge) headers to send.
    std::optional<api::Failure> refusal(const QHttpServerRequest& request, Headers& headers) const;
    void reply(QHttpServerResponder& responder, const QJsonValue& body, int status = 200,
               const Headers& extra = {});
    void fail(QHttpServerResponder& responder, const api::Failure& failure, const Headers& extra);

    QJsonValue options() const;
    std::optional<api::Failure> setOptions(const QJsonObject& options);
    QJsonValue models() const;
    QJsonValue samplers() const;
    QJsonValue upscalers() const;
    QJsonValue vaes() const;
    QJsonValue progress() const;
    std::variant<QJsonObject, api::Failure> pngInfo(const QByteArray& body) const;
    api::ApiChoices choices() const;

    /// txt2img / img2img: submits and keeps the responder until the jobs end.
    void generate(const QHttpServerRequest& request, QTcpSocket* socket, bool img2img,
                  const Headers& cors);
    void upscale(const QHttpServerRequest& request, QTcpSocket* socket, const Headers& cors);
    void jobEnded(qint64 jobId);
    void answer(Pending& pending);

    GenerationCore* m_core;
    AppSettings* m_settings;
    mutable FileHashes m_hashes; ///< sd-models' sha256, computed in the background
    ServerConfig m_config;
    bool m_listening = false;
    quint16 m_port = 0;
    int m_clipSkip = 1;

    std::map<int, std::unique_ptr<Pending>> m_pending;
    QHash<qint64, int> m_jobRequest; ///< job → its pending request
    int m_nextRequest = 1;
    // The running job, for progress.
    qint64 m_running = -1;
    int m_step = 0;
    int m_total = 0;
    double m_elapsedMs = 0;
    QImage m_preview;
};

} // namespace daub
