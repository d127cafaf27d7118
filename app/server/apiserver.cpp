#include "server/apiserver.h"

#include "generation/generationcore.h"
#include "generation/samplers.h"
#include "storage/appsettings.h"
#include "storage/imagedecoder.h"
#include "storage/pngmetadata.h"

#include <QCryptographicHash>
#include <QFileInfo>
#include <QHttpServerRequest>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QTcpServer>
#include <QTcpSocket>
#include <QUrl>

namespace daub {
namespace {

using Status = QHttpServerResponder::StatusCode;

QByteArray header(const QHttpServerRequest& request, const char* name) {
    const auto headers = request.headers();
    for (const auto& [key, value] : headers)
        if (key.compare(name, Qt::CaseInsensitive) == 0)
            return value;
    return {};
}

/// Equal secrets, in time that does not depend on where they differ (or
/// on their lengths: both are hashed first).
bool sameSecret(const QByteArray& given, const QByteArray& expected) {
    const QByteArray a = QCryptographicHash::hash(given, QCryptographicHash::Sha256);
    const QByteArray b = QCryptographicHash::hash(expected, QCryptographicHash::Sha256);
    unsigned char diff = 0;
    for (int i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

/// The token an Authorization header carries: Bearer TOKEN, or Basic with
/// any user name and the token as password.
QByteArray tokenOf(const QByteArray& authorization) {
    if (authorization.startsWith("Bearer "))
        return authorization.mid(7).trimmed();
    if (authorization.startsWith("Basic ")) {
        const auto decoded = QByteArray::fromBase64Encoding(
            authorization.mid(6).trimmed(), QByteArray::AbortOnBase64DecodingErrors);
        if (!decoded)
            return {};
        const qsizetype colon = decoded.decoded.indexOf(':');
        return colon < 0 ? decoded.decoded : decoded.decoded.mid(colon + 1);
    }
    return {};
}

bool isLoopbackName(const QString& host) {
    return host == u"localhost" || host == u"127.0.0.1" || host == u"[::1]" || host == u"::1";
}

/// "host:port" of a Host header or an Origin URL, lower case.
QString hostAndPort(const QByteArray& host) { return QString::fromLatin1(host).toLower(); }

QString originHostAndPort(const QByteArray& origin) {
    const QUrl url(QString::fromLatin1(origin));
    if (!url.isValid() || url.host().isEmpty())
        return {};
    const int defaultPort = url.scheme() == u"https" ? 443 : 80;
    const int port = url.port(defaultPort);
    const QString host = url.host().contains(u':') ? u'[' + url.host() + u']' : url.host();
    return port == defaultPort ? host.toLower() : QStringLiteral("%1:%2").arg(host.toLower()).arg(port);
}

QString base64Png(const QByteArray& png) { return QString::fromLatin1(png.toBase64()); }

/// A1111's parse_generation_parameters of a parameters text.
QJsonObject parametersObject(const QString& text) {
    QJsonObject out;
    const auto p = a1111::parse(text);
    if (!p)
        return out;
    out.insert(QStringLiteral("Prompt"), qstr(p->prompt));
    out.insert(QStringLiteral("Negative prompt"), qstr(p->negative_prompt));
    out.insert(QStringLiteral("Steps"), p->steps);
    out.insert(QStringLiteral("Sampler"), qstr(sampler_label(p->scheduler)));
    out.insert(QStringLiteral("CFG scale"), p->cfg_scale);
    out.insert(QStringLiteral("Seed"), double(p->seed));
    out.insert(QStringLiteral("Size-1"), p->width);
    out.insert(QStringLiteral("Size-2"), p->height);
    out.insert(QStringLiteral("Model"), qstr(p->model));
    out.insert(QStringLiteral("Clip skip"), p->clip_skip);
    if (p->denoising_strength)
        out.insert(QStringLiteral("Denoising strength"), *p->denoising_strength);
    return out;
}

} // namespace

struct ApiServer::Pending {
    Pending(QHttpServerResponder&& r, QTcpSocket* s) : responder(std::move(r)), socket(s) {}
    QHttpServerResponder responder;
    QPointer<QTcpSocket> socket;
    Headers cors;
    bool isUpscale = false;
    api::GenerateRequest request;
    QList<qint64> jobs;
    int ended = 0;
    QString failure;
};

std::optional<std::pair<QHostAddress, quint16>> parseListen(const QString& text) {
    QString host = QStringLiteral("127.0.0.1");
    QString port = text;
    const qsizetype colon = text.lastIndexOf(u':');
    if (colon >= 0) {
        host = text.left(colon);
        port = text.mid(colon + 1);
        if (host.startsWith(u'[') && host.endsWith(u']'))
            host = host.mid(1, host.size() - 2);
        if (host.isEmpty())
            host = QStringLiteral("127.0.0.1");
    }
    bool ok = false;
    const uint number = port.toUInt(&ok);
    QHostAddress address;
    if (host == u"localhost")
        address = QHostAddress::LocalHost;
    else if (!address.setAddress(host))
        return std::nullopt;
    if (!ok || number > 65535)
        return std::nullopt;
    return std::make_pair(address, quint16(number));
}

ApiServer::ApiServer(GenerationCore* core, AppSettings* settings, QObject* parent)
    : QAbstractHttpServer(parent), m_core(core), m_settings(settings) {
    connect(core, &GenerationCore::jobStarted, this, [this](qint64 id) {
        m_running = id;
        m_step = 0;
        m_total = 0;
        m_elapsedMs = 0;
        m_preview = {};
    });
    connect(core, &GenerationCore::jobProgress, this,
            [this](qint64 id, int step, int total, double elapsedMs, const QImage& preview, int) {
                if (id != m_running)
                    return;
                m_step = step;
                m_total = total;
                m_elapsedMs = elapsedMs;
                if (!preview.isNull())
                    m_preview = preview;
            });
    connect(core, &GenerationCore::jobFinished, this, [this](qint64 id) { jobEnded(id); });
    connect(core, &GenerationCore::jobCancelled, this, [this](qint64 id) { jobEnded(id); });
    connect(core, &GenerationCore::jobFailed, this, [this](qint64 id, const QString& message) {
        if (const auto it = m_jobRequest.constFind(id); it != m_jobRequest.cend())
            if (const auto p = m_pending.find(*it); p != m_pending.end())
                p->second->failure = message;
        jobEnded(id);
    });
}

ApiServer::~ApiServer() { stop(); }

bool ApiServer::start(const ServerConfig& config, QString* why) {
    auto fail = [&](const QString& sentence) {
        if (why)
            *why = sentence;
        return false;
    };
    if (m_listening)
        stop();
    if (!config.address.isLoopback() && config.token.isEmpty())
        return fail(tr("Listening on %1 lets other machines in; give a token (--api-auth, or "
                       "in Settings) so only those who know it can use Daub.")
                        .arg(config.address.toString()));
    const quint16 port = listen(config.address, config.port);
    if (port == 0)
        return fail(tr("Could not listen on %1 port %2: it is in use or not this machine's; "
                       "choose another with --listen.")
                        .arg(config.address.toString())
                        .arg(config.port));
    m_config = config;
    m_port = port;
    m_listening = true;
    return true;
}

void ApiServer::stop() {
    // The listening sockets and, with them, the connections they accepted
    // (their children).
    for (QTcpServer* server : servers()) {
        server->close();
        server->setParent(nullptr);
        server->deleteLater();
    }
    m_listening = false;
    auto pending = std::move(m_pending);
    m_pending.clear();
    m_jobRequest.clear();
    for (auto& [id, p] : pending)
        if (p->socket)
            fail(p->responder, {503, QStringLiteral("HTTPException"), tr("Daub stopped serving.")},
                 p->cors);
}

QString ApiServer::url() const {
    if (!m_listening)
        return {};
    const QString host = m_config.address.protocol() == QAbstractSocket::IPv6Protocol
                             ? u'[' + m_config.address.toString() + u']'
                             : m_config.address.toString();
    return QStringLiteral("http://%1:%2").arg(host).arg(m_port);
}

// ---- the door ------------------------------------------------------------------

std::optional<api::Failure> ApiServer::refusal(const QHttpServerRequest& request,
                                               Headers& headers) const {
    const QByteArray origin = header(request, "Origin");
    const QString host = hostAndPort(header(request, "Host"));
    // A page of another site (or a rebound DNS name) must not reach a
    // loopback server without a token.
    if (m_config.token.isEmpty() && m_config.address.isLoopback()) {
        const qsizetype colon = host.lastIndexOf(u':');
        const QString name = colon > 0 && !host.endsWith(u']') ? host.left(colon) : host;
        if (!isLoopbackName(name))
            return api::Failure{403, QStringLiteral("HTTPException"),
                                tr("The Host header must name this machine (localhost or "
                                   "127.0.0.1).")};
    }
    if (!origin.isEmpty() && originHostAndPort(origin) != host) {
        if (!m_config.allowedOrigins.contains(QString::fromLatin1(origin)))
            return api::Failure{403, QStringLiteral("HTTPException"),
                                tr("Requests from web pages of other sites are refused; add %1 "
                                   "to the allowed origins in Daub's Settings to let it in.")
                                    .arg(QString::fromLatin1(origin))};
        headers = {{"Access-Control-Allow-Origin", origin},
                   {"Vary", "Origin"},
                   {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                   {"Access-Control-Allow-Methods", "GET, POST, OPTIONS"}};
    }
    if (request.method() == QHttpServerRequest::Method::Options)
        return std::nullopt; // a CORS preflight: answered by the caller
    if (!m_config.token.isEmpty() &&
        !sameSecret(tokenOf(header(request, "Authorization")), m_config.token)) {
        headers.append(qMakePair(QByteArray("WWW-Authenticate"), QByteArray("Basic realm=\"Daub\", Bearer")));
        return api::Failure{401, QStringLiteral("HTTPException"),
                            tr("This Daub needs its API token: send it as a Bearer token or as "
                               "the password of Basic authentication.")};
    }
    if (request.body().size() > api::kMaxBodyBytes)
        return api::Failure{413, QStringLiteral("HTTPException"),
                            tr("The request is larger than %1 MB; send a smaller image.")
                                .arg(api::kMaxBodyBytes >> 20)};
    return std::nullopt;
}

void ApiServer::reply(QHttpServerResponder& responder, const QJsonValue& body, int status,
                      const Headers& extra) {
    const QByteArray json = body.isArray()
                                ? QJsonDocument(body.toArray()).toJson(QJsonDocument::Compact)
                                : QJsonDocument(body.toObject()).toJson(QJsonDocument::Compact);
    Headers headers = extra;
    headers.append(qMakePair(QByteArray("Content-Type"), QByteArray("application/json")));
    headers.append(qMakePair(QByteArray("Content-Length"), QByteArray::number(json.size())));
    responder.writeStatusLine(Status(status));
    for (const auto& [key, value] : std::as_const(headers))
        responder.writeHeader(key, value);
    responder.writeBody(json);
}

void ApiServer::fail(QHttpServerResponder& responder, const api::Failure& failure,
                     const Headers& extra) {
    reply(responder, failure.toJson(), failure.status, extra);
}

void ApiServer::missingHandler(const QHttpServerRequest& request, QTcpSocket* socket) {
    QHttpServerResponder responder = makeResponder(request, socket);
    reply(responder, QJsonObject{{QStringLiteral("detail"), QStringLiteral("Not Found")}}, 404);
}

bool ApiServer::handleRequest(const QHttpServerRequest& request, QTcpSocket* socket) {
    if (!m_listening) { // a connection left over from before stop()
        socket->disconnectFromHost();
        return true;
    }
    Headers cors;
    if (const auto failure = refusal(request, cors)) {
        QHttpServerResponder responder = makeResponder(request, socket);
        fail(responder, *failure, cors);
        return true;
    }
    if (request.method() == QHttpServerRequest::Method::Options) { // a CORS preflight
        QHttpServerResponder responder = makeResponder(request, socket);
        reply(responder, QJsonObject(), cors.isEmpty() ? 403 : 200, cors);
        return true;
    }
    const QString path = request.url().path();
    static const QString prefix = QStringLiteral("/sdapi/v1/");
    if (!path.startsWith(prefix))
        return false;
    const QString route = path.mid(prefix.size());
    const bool get = request.method() == QHttpServerRequest::Method::Get;
    const bool post = request.method() == QHttpServerRequest::Method::Post;

    if (post && route == u"txt2img") {
        generate(request, socket, false, cors);
        return true;
    }
    if (post && route == u"img2img") {
        generate(request, socket, true, cors);
        return true;
    }
    if (post && route == u"extra-single-image") {
        upscale(request, socket, cors);
        return true;
    }

    QHttpServerResponder responder = makeResponder(request, socket);
    auto answerWith = [&](const QJsonValue& body) { reply(responder, body, 200, cors); };
    if (get && route == u"options") {
        answerWith(options());
    } else if (post && route == u"options") {
        auto body = api::parseObject(request.body());
        if (auto* f = std::get_if<api::Failure>(&body))
            fail(responder, *f, cors);
        else if (const auto failure = setOptions(std::get<QJsonObject>(body)))
            fail(responder, *failure, cors);
        else
            answerWith(QJsonObject());
    } else if (get && route == u"sd-models") {
        answerWith(models());
    } else if (get && route == u"samplers") {
        answerWith(samplers());
    } else if (get && route == u"schedulers") {
        answerWith(QJsonArray{
            QJsonObject{{QStringLiteral("name"), QStringLiteral("automatic")},
                        {QStringLiteral("label"), QStringLiteral("Automatic")},
                        {QStringLiteral("aliases"), QJsonValue::Null},
                        {QStringLiteral("default_rho"), -1},
                        {QStringLiteral("need_inner_model"), false}},
            QJsonObject{{QStringLiteral("name"), QStringLiteral("karras")},
                        {QStringLiteral("label"), QStringLiteral("Karras")},
                        {QStringLiteral("aliases"), QJsonArray{QStringLiteral("karras")}},
                        {QStringLiteral("default_rho"), 7.0},
                        {QStringLiteral("need_inner_model"), false}}});
    } else if (get && route == u"upscalers") {
        answerWith(upscalers());
    } else if (get && route == u"latent-upscale-modes") {
        answerWith(QJsonArray()); // Daub refines after Real-ESRGAN, never in latent space
    } else if (get && route == u"sd-vae") {
        answerWith(vaes());
    } else if (get && route == u"loras") {
        answerWith(QJsonArray());
    } else if (get && route == u"embeddings") {
        answerWith(QJsonObject{{QStringLiteral("loaded"), QJsonObject()},
                               {QStringLiteral("skipped"), QJsonObject()}});
    } else if (get && route == u"progress") {
        answerWith(progress());
    } else if (post && (route == u"interrupt" || route == u"skip")) {
        // Interrupt ends the running request (every image of its batch),
        // skip only the running image, as in A1111.
        if (route == u"interrupt")
            m_core->cancelRunningBatch();
        else if (m_running >= 0)
            m_core->cancel(m_running);
        answerWith(QJsonObject());
    } else if (post && route == u"png-info") {
        auto info = pngInfo(request.body());
        if (auto* f = std::get_if<api::Failure>(&info))
            fail(responder, *f, cors);
        else
            answerWith(std::get<QJsonObject>(info));
    } else if (post && route == u"refresh-checkpoints") {
        m_core->models()->scanForModels();
        answerWith(QJsonObject());
    } else {
        // Every route above, for "wrong method" rather than "no such route".
        static const QStringList routes{
            QStringLiteral("txt2img"), QStringLiteral("img2img"), QStringLiteral("extra-single-image"),
            QStringLiteral("options"), QStringLiteral("sd-models"), QStringLiteral("samplers"),
            QStringLiteral("schedulers"), QStringLiteral("upscalers"),
            QStringLiteral("latent-upscale-modes"), QStringLiteral("sd-vae"), QStringLiteral("loras"),
            QStringLiteral("embeddings"), QStringLiteral("progress"), QStringLiteral("interrupt"),
            QStringLiteral("skip"), QStringLiteral("png-info"), QStringLiteral("refresh-checkpoints")};
        const bool known = routes.contains(route);
        reply(responder,
              QJsonObject{{QStringLiteral("detail"),
                           known ? QStringLiteral("Method Not Allowed") : QStringLiteral("Not Found")}},
              known ? 405 : 404, cors);
    }
    return true;
}

// ---- what Daub has ---------------------------------------------------------------

api::ApiChoices ApiServer::choices() const {
    api::ApiChoices c;
    const ModelController* models = m_core->models();
    c.currentModelPath = models->modelPath();
    c.clipSkip = m_clipSkip;
    QSet<QString> seen;
    for (const QVariant& v : models->foundModels()) {
        const QString path = v.toMap().value(QStringLiteral("path")).toString();
        if (!seen.contains(path)) {
            seen.insert(path);
            c.models.append({api::modelTitle(path), path});
        }
    }
    if (!c.currentModelPath.isEmpty() && !seen.contains(c.currentModelPath))
        c.models.prepend({api::modelTitle(c.currentModelPath), c.currentModelPath});
    QSet<QString> upscalers;
    auto addUpscaler = [&](const QString& path) {
        if (path.isEmpty() || upscalers.contains(path))
            return;
        upscalers.insert(path);
        const QString name = api::modelName(path);
        c.upscalers.append({name, path, name.contains(QLatin1String("x2"), Qt::CaseInsensitive) ? 2 : 4});
    };
    addUpscaler(m_settings->upscalerPath());
    for (const QVariant& v : models->foundUpscalers())
        addUpscaler(v.toMap().value(QStringLiteral("path")).toString());
    const QString vae = m_settings->vaeFor(c.currentModelPath);
    if (!vae.isEmpty())
        c.vaes.append({QFileInfo(vae).fileName(), vae});
    return c;
}

QJsonValue ApiServer::options() const {
    const ModelController* models = m_core->models();
    const QString vae = m_settings->vaeFor(models->modelPath());
    return QJsonObject{
        {QStringLiteral("sd_model_checkpoint"), api::modelTitle(models->modelPath())},
        {QStringLiteral("sd_checkpoint_hash"), QString()},
        {QStringLiteral("sd_vae"), vae.isEmpty() ? QStringLiteral("Automatic") : QFileInfo(vae).fileName()},
        {QStringLiteral("CLIP_stop_at_last_layers"), m_clipSkip},
        {QStringLiteral("samples_format"), QStringLiteral("png")},
        {QStringLiteral("sd_model_loaded"), models->hasModel()},
    };
}

std::optional<api::Failure> ApiServer::setOptions(const QJsonObject& options) {
    const api::ApiChoices c = choices();
    QString modelPath;
    const QJsonValue model = options.value(QLatin1String("sd_model_checkpoint"));
    if (model.isString() && !model.toString().isEmpty()) {
        const api::Choice* found = api::findModel(c, model.toString());
        if (!found) {
            QStringList names;
            for (const api::Choice& m : c.models)
                names << m.name;
            return api::Failure{422, QStringLiteral("ValidationError"),
                                tr("No model named \"%1\"; Daub found: %2.")
                                    .arg(api::shown(model.toString()),
                                         names.isEmpty() ? tr("none") : names.join(QStringLiteral(", ")))};
        }
        modelPath = found->path;
    }
    const QJsonValue clip = options.value(QLatin1String("CLIP_stop_at_last_layers"));
    if (!clip.isUndefined() && !clip.isNull()) {
        const double v = clip.toDouble(-1);
        if (v < 1 || v > 12 || v != int(v))
            return api::Failure{422, QStringLiteral("ValidationError"),
                                tr("CLIP_stop_at_last_layers must be a whole number from 1 to "
                                   "12.")};
        m_clipSkip = int(v);
    }
    if (!modelPath.isEmpty() && modelPath != m_core->models()->modelPath())
        m_core->models()->loadModel(modelPath);
    return std::nullopt; // everything else A1111 has is accepted and left alone
}

QJsonValue ApiServer::models() const {
    QJsonArray out;
    for (const api::Choice& c : choices().models) {
        const QString sha256 = m_hashes.sha256(c.path);
        out << QJsonObject{{QStringLiteral("title"), c.name},
                           {QStringLiteral("model_name"), api::modelName(c.path)},
                           {QStringLiteral("hash"), sha256.left(10)},
                           {QStringLiteral("sha256"), sha256},
                           {QStringLiteral("filename"), c.path},
                           {QStringLiteral("config"), QJsonValue::Null}};
    }
    return out;
}

QJsonValue ApiServer::samplers() const {
    QJsonArray out;
    for (const SamplerName& s : sampler_names())
        out << QJsonObject{{QStringLiteral("name"), QString::fromUtf8(s.label)},
                           {QStringLiteral("aliases"), QJsonArray{QString::fromUtf8(s.scheduler)}},
                           {QStringLiteral("options"), QJsonObject()}};
    return out;
}

QJsonValue ApiServer::upscalers() const {
    QJsonArray out{QJsonObject{{QStringLiteral("name"), QStringLiteral("None")},
                               {QStringLiteral("model_name"), QJsonValue::Null},
                               {QStringLiteral("model_path"), QJsonValue::Null},
                               {QStringLiteral("model_url"), QJsonValue::Null},
                               {QStringLiteral("scale"), 4}}};
    for (const api::Choice& c : choices().upscalers)
        out << QJsonObject{{QStringLiteral("name"), c.name},
                           {QStringLiteral("model_name"), c.name},
                           {QStringLiteral("model_path"), c.path},
                           {QStringLiteral("model_url"), QJsonValue::Null},
                           {QStringLiteral("scale"), c.scale}};
    return out;
}

QJsonValue ApiServer::vaes() const {
    QJsonArray out;
    for (const api::Choice& c : choices().vaes)
        out << QJsonObject{{QStringLiteral("model_name"), c.name},
                           {QStringLiteral("filename"), c.path}};
    return out;
}

QJsonValue ApiServer::progress() const {
    JobQueue* queue = m_core->queue();
    const int jobCount = queue->waitingCount() + (queue->busy() ? 1 : 0);
    double fraction = 0;
    int jobNo = 0;
    if (m_running >= 0 && m_total > 0) {
        const JobBatch batch = m_core->batchOf(m_running);
        jobNo = batch.index;
        fraction = (batch.index + double(m_step) / m_total) / std::max(1, batch.size);
    }
    const double elapsed = m_elapsedMs / 1000.0;
    const double eta = fraction > 0 ? elapsed / fraction - elapsed : 0;
    QJsonValue image = QJsonValue::Null;
    if (m_running >= 0 && !m_preview.isNull())
        image = base64Png(encodePng(m_preview));
    return QJsonObject{
        {QStringLiteral("progress"), fraction},
        {QStringLiteral("eta_relative"), eta},
        {QStringLiteral("state"),
         QJsonObject{{QStringLiteral("skipped"), false},
                     {QStringLiteral("interrupted"), false},
                     {QStringLiteral("job"), m_running >= 0 ? QStringLiteral("job %1").arg(m_running)
                                                            : QString()},
                     {QStringLiteral("job_count"), jobCount},
                     {QStringLiteral("job_timestamp"), QStringLiteral("0")},
                     {QStringLiteral("job_no"), jobNo},
                     {QStringLiteral("sampling_step"), m_step},
                     {QStringLiteral("sampling_steps"), m_total}}},
        {QStringLiteral("current_image"), image},
        {QStringLiteral("textinfo"), QJsonValue::Null},
    };
}

std::variant<QJsonObject, api::Failure> ApiServer::pngInfo(const QByteArray& body) const {
    auto parsed = api::parseObject(body);
    if (auto* f = std::get_if<api::Failure>(&parsed))
        return *f;
    QString why;
    const auto bytes = api::decodeImageField(std::get<QJsonObject>(parsed).value(QLatin1String("image")),
                                             QStringLiteral("image"), api::kMaxBodyBytes, &why);
    if (!bytes)
        return api::Failure{422, QStringLiteral("ValidationError"), why};
    const QString text = readPngText(*bytes, QStringLiteral("parameters"));
    return QJsonObject{{QStringLiteral("info"), text},
                       {QStringLiteral("items"), text.isEmpty() ? QJsonObject()
                                                                : QJsonObject{{QStringLiteral("parameters"), text}}},
                       {QStringLiteral("parameters"), parametersObject(text)}};
}

// ---- jobs ---------------------------------------------------------------------------

void ApiServer::generate(const QHttpServerRequest& request, QTcpSocket* socket, bool img2img,
                         const Headers& cors) {
    QHttpServerResponder responder = makeResponder(request, socket);
    auto parsed = api::parseGenerate(request.body(), img2img, choices());
    if (auto* f = std::get_if<api::Failure>(&parsed)) {
        fail(responder, *f, cors);
        return;
    }
    api::GenerateRequest req = std::get<api::GenerateRequest>(std::move(parsed));
    ModelController* models = m_core->models();
    if (!req.modelPath.isEmpty() && req.modelPath != models->modelPath())
        models->loadModel(req.modelPath);
    if (req.vaePath && *req.vaePath != m_settings->vaeFor(req.modelPath))
        models->setModelVae(*req.vaePath);
    const QString why = m_core->whyNoModel(tr("send the request again"));
    if (!why.isEmpty()) {
        fail(responder,
             {503, QStringLiteral("HTTPException"),
              why + u' ' + tr("Or name one in override_settings.sd_model_checkpoint.")},
             cors);
        return;
    }
    QImage thumbnail;
    QString ref;
    if (img2img) {
        DecodedImage decoded = ImageDecoder::decodeData(req.initPng, QStringLiteral("init_images[0]"));
        if (!decoded.ok()) {
            fail(responder, {422, QStringLiteral("ValidationError"), decoded.error}, cors);
            return;
        }
        ImageDecoder::prepare(decoded);
        thumbnail = decoded.thumbnail;
        InitImage init;
        init.image = std::move(decoded.image);
        init.sha256 = decoded.sha256;
        init.name = decoded.name;
        init.format = decoded.format;
        ref = m_core->store()->put(std::move(init));
        req.initPng.clear();
        req.recipe.initRef = ref;
    }
    if (req.recipe.seed < 0)
        req.recipe.seed = qint64(QRandomGenerator::global()->bounded(quint64(1) << 32));

    const int id = m_nextRequest++;
    auto pending = std::make_unique<Pending>(std::move(responder), socket);
    pending->cors = cors;
    pending->request = req;
    JobBatch batch{-1, 0, req.count};
    for (int i = 0; i < req.count; ++i) {
        JobRecipe recipe = req.recipe;
        recipe.seed = req.recipe.seed + i;
        batch.index = i;
        const qint64 job = m_core->submit(std::move(recipe), thumbnail, batch);
        if (i == 0)
            batch.batch = job;
        pending->jobs << job;
        m_jobRequest.insert(job, id);
    }
    if (!ref.isEmpty())
        m_core->store()->release(ref); // the jobs hold it now
    m_pending.emplace(id, std::move(pending));
}

void ApiServer::upscale(const QHttpServerRequest& request, QTcpSocket* socket, const Headers& cors) {
    QHttpServerResponder responder = makeResponder(request, socket);
    auto parsed = api::parseUpscale(request.body(), choices());
    if (auto* f = std::get_if<api::Failure>(&parsed)) {
        fail(responder, *f, cors);
        return;
    }
    const api::UpscaleImage& up = std::get<api::UpscaleImage>(parsed);
    const DecodedImage decoded = ImageDecoder::decodeData(up.image, QStringLiteral("image"));
    if (!decoded.ok()) {
        fail(responder, {422, QStringLiteral("ValidationError"), decoded.error}, cors);
        return;
    }
    JobRecipe recipe;
    recipe.origin = QStringLiteral("api");
    recipe.hasRecipe = !decoded.parameters.isEmpty();
    recipe.upscale.upscalerPath = up.upscalerPath;
    recipe.upscale.level = up.level;
    if (const auto p = a1111::parse(decoded.parameters)) {
        recipe.prompt = qstr(p->prompt);
        recipe.seed = p->seed;
    }
    QString why;
    const qint64 job = m_core->submitUpscale(decoded.image, decoded.name, recipe, {}, &why);
    if (job < 0) {
        fail(responder, {422, QStringLiteral("ValidationError"), why}, cors);
        return;
    }
    const int id = m_nextRequest++;
    auto pending = std::make_unique<Pending>(std::move(responder), socket);
    pending->cors = cors;
    pending->isUpscale = true;
    pending->jobs << job;
    m_jobRequest.insert(job, id);
    m_pending.emplace(id, std::move(pending));
}

void ApiServer::jobEnded(qint64 jobId) {
    if (jobId == m_running)
        m_running = -1;
    const auto it = m_jobRequest.constFind(jobId);
    if (it == m_jobRequest.cend())
        return;
    const int id = *it;
    m_jobRequest.erase(it);
    const auto p = m_pending.find(id);
    if (p == m_pending.end())
        return;
    if (++p->second->ended < p->second->jobs.size())
        return;
    std::unique_ptr<Pending> done = std::move(p->second);
    m_pending.erase(p);
    answer(*done);
}

void ApiServer::answer(Pending& p) {
    if (!p.socket || p.socket->state() != QAbstractSocket::ConnectedState)
        return; // the client left; the jobs are in the history all the same
    QList<api::Produced> images;
    for (qint64 job : std::as_const(p.jobs))
        if (const auto result = m_core->result(job))
            images.append({result->png, result->parameters, result->seed});
    if (images.isEmpty() && !p.failure.isEmpty()) {
        fail(p.responder, {500, QStringLiteral("RuntimeError"), p.failure}, p.cors);
        return;
    }
    if (p.isUpscale) {
        if (images.isEmpty()) {
            fail(p.responder, {500, QStringLiteral("RuntimeError"), tr("The upscale was cancelled.")},
                 p.cors);
            return;
        }
        reply(p.responder,
              QJsonObject{{QStringLiteral("html_info"), QString()},
                          {QStringLiteral("image"), base64Png(images[0].png)}},
              200, p.cors);
        return;
    }
    QJsonArray encoded;
    for (const api::Produced& image : std::as_const(images))
        encoded << base64Png(image.png);
    const QString sampler = samplers::a1111Name(p.request.recipe.sampler);
    reply(p.responder,
          QJsonObject{{QStringLiteral("images"), encoded},
                      {QStringLiteral("parameters"), p.request.echo},
                      {QStringLiteral("info"),
                       api::infoText(p.request, images, p.request.recipe.modelName, sampler,
                                     QDateTime::currentDateTime())}},
          200, p.cors);
}

} // namespace daub
