#include "chat/initimageintake.h"

#include "generation/modelcontroller.h" // quoted()
#include "storage/pngmetadata.h"

#include <QClipboard>
#include <QCoro/QCoroFuture>
#include <QCoro/QCoroSignal>
#include <QGuiApplication>
#include <QJSEngine>
#include <QMimeData>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QPointer>
#include <QRegularExpression>
#include <QtConcurrent/QtConcurrentRun>

namespace daub {
namespace {

InitImageIntake* s_instance = nullptr;

const QStringList kImageMimeTypes = {
    QStringLiteral("image/png"), QStringLiteral("image/jpeg"), QStringLiteral("image/webp"),
    QStringLiteral("image/bmp"), QStringLiteral("image/x-bmp"), QStringLiteral("image/jpg")};

/// Bytes of a `data:image/...;base64,` URL, or empty.
QByteArray dataUrlBytes(const QString& text) {
    static const QRegularExpression re(QStringLiteral(R"(^data:image/[\w.+-]+;base64,(.*)$)"),
                                       QRegularExpression::DotMatchesEverythingOption);
    const auto m = re.match(text.trimmed());
    if (!m.hasMatch())
        return {};
    return QByteArray::fromBase64(m.captured(1).toLatin1());
}

bool isWebOrData(const QUrl& url) {
    return url.scheme() == u"http" || url.scheme() == u"https" || url.scheme() == u"data";
}

} // namespace

ImageSource pickImageSource(const QVariantMap& drop) {
    ImageSource source;
    // 1. Image data (a browser's or an image editor's drag, the clipboard).
    const QVariantMap data = drop.value(QStringLiteral("data")).toMap();
    for (const QString& type : kImageMimeTypes) {
        const QByteArray bytes = data.value(type).toByteArray();
        if (!bytes.isEmpty()) {
            source.kind = ImageSource::Kind::Data;
            source.data = bytes;
            return source;
        }
    }
    source.kind = ImageSource::Kind::Url;
    // 2. URLs: files first, then web addresses.
    QList<QUrl> urls;
    for (const QVariant& value : drop.value(QStringLiteral("urls")).toList())
        urls << value.toUrl();
    for (const QUrl& url : urls)
        if (url.isLocalFile()) {
            source.url = url;
            return source;
        }
    for (const QUrl& url : urls)
        if (isWebOrData(url)) {
            source.url = url;
            return source;
        }
    // 3. HTML with an <img> (some browsers give only that).
    static const QRegularExpression img(QStringLiteral(R"(<img[^>]+src\s*=\s*["']([^"']+)["'])"),
                                        QRegularExpression::CaseInsensitiveOption);
    const auto match = img.match(drop.value(QStringLiteral("html")).toString());
    if (match.hasMatch()) {
        source.url = QUrl(match.captured(1));
        return source;
    }
    // 4. Text that is an address.
    const QString text = drop.value(QStringLiteral("text")).toString().trimmed();
    const QUrl textUrl(text);
    if (!text.isEmpty() && !text.contains(u'\n') &&
        (textUrl.isLocalFile() || isWebOrData(textUrl))) {
        source.url = textUrl;
        return source;
    }
    // 5. Any URL: opening it says why it cannot be used.
    if (!urls.isEmpty()) {
        source.url = urls.first();
        return source;
    }
    return {};
}

QVariantMap dropFromMime(const QMimeData& mime) {
    QVariantMap data;
    for (const QString& type : kImageMimeTypes)
        if (mime.hasFormat(type))
            data.insert(type, mime.data(type));
    QVariantList urls;
    for (const QUrl& url : mime.urls())
        if (url.isLocalFile()) // a copied file; web addresses in text are not pasted images
            urls << url;
    return {{QStringLiteral("data"), data}, {QStringLiteral("urls"), urls}};
}

InitImageIntake::InitImageIntake(InitImageStore* store, QObject* parent)
    : QObject(parent), m_store(store) {}

InitImageIntake::~InitImageIntake() {
    if (s_instance == this)
        s_instance = nullptr;
}

InitImageIntake* InitImageIntake::create(QQmlEngine*, QJSEngine*) {
    Q_ASSERT_X(s_instance, "InitImageIntake::create", "no InitImageIntake instance was set");
    QJSEngine::setObjectOwnership(s_instance, QJSEngine::CppOwnership);
    return s_instance;
}

void InitImageIntake::setInstance(InitImageIntake* instance) { s_instance = instance; }

QString InitImageIntake::initImageSource() const {
    return m_ref.isEmpty() ? QString() : QStringLiteral("image://init/") + m_ref;
}

void InitImageIntake::setInitImage(const DecodedImage& decoded) {
    if (!decoded.ok()) {
        Q_EMIT notice(decoded.error);
        return;
    }
    InitImage image;
    image.image = decoded.image;
    image.name = decoded.name;
    image.format = decoded.format;
    image.parameters = decoded.parameters;
    // Hash and thumbnail come from the decoding thread (prepare()).
    image.sha256 = decoded.sha256.isEmpty() ? InitImageStore::pixelHash(decoded.image)
                                            : decoded.sha256;
    image.thumbnail = decoded.thumbnail.isNull() ? decoded.image : decoded.thumbnail;
    const QString old = m_ref;
    m_init = image;
    m_ref = m_store->put(std::move(image)); // held by this object
    if (!old.isEmpty())
        m_store->release(old);
    Q_EMIT initImageChanged();
    if (!decoded.parameters.isEmpty() && a1111::parse(decoded.parameters))
        Q_EMIT parametersOffered(decoded.name, decoded.parameters);
}

void InitImageIntake::clearInitImage() {
    if (m_ref.isEmpty())
        return;
    m_store->release(m_ref);
    m_ref.clear();
    m_init = InitImage();
    Q_EMIT initImageChanged();
}

// Every co_await awaits a named object, never a temporary made in the same
// expression (GCC 12 destroys such temporaries twice; docs/design.md).
QCoro::Task<> InitImageIntake::decodeInitImage(std::function<DecodedImage()> decode) {
    const quint64 ticket = ++m_decodeTicket;
    ++m_decoding;
    Q_EMIT decodingChanged();
    QPointer<InitImageIntake> self(this);
    QFuture<DecodedImage> decoding = QtConcurrent::run([decode = std::move(decode)] {
        DecodedImage decoded = decode();
        ImageDecoder::prepare(decoded); // hashing a 50 MP image takes a while
        return decoded;
    });
    const DecodedImage decoded = co_await std::move(decoding);
    if (!self)
        co_return;
    --m_decoding;
    Q_EMIT decodingChanged();
    if (ticket == m_decodeTicket || !decoded.ok()) // a later drop wins
        setInitImage(decoded);
}

QCoro::Task<> InitImageIntake::downloadInitImage(QUrl url) {
    if (!m_network)
        m_network = new QNetworkAccessManager(this);
    const quint64 ticket = ++m_decodeTicket;
    ++m_decoding;
    Q_EMIT decodingChanged();
    QPointer<InitImageIntake> self(this);
    QNetworkRequest request(url);
    request.setMaximumRedirectsAllowed(5);
    request.setTransferTimeout(30'000);
    QNetworkReply* reply = m_network->get(request);
    // A download stops at kMaxDownloadBytes, announced or not.
    bool tooLarge = false;
    auto stopIfTooLarge = [reply, &tooLarge](qint64 received, qint64 total) {
        if (!tooLarge && (received > kMaxDownloadBytes || total > kMaxDownloadBytes)) {
            tooLarge = true;
            reply->abort();
        }
    };
    connect(reply, &QNetworkReply::metaDataChanged, reply, [reply, stopIfTooLarge] {
        // The announced size, before any of the body arrives.
        stopIfTooLarge(0, reply->header(QNetworkRequest::ContentLengthHeader).toLongLong());
    });
    connect(reply, &QNetworkReply::downloadProgress, reply, stopIfTooLarge);
    auto finished = qCoro(reply, &QNetworkReply::finished);
    co_await std::move(finished);
    reply->deleteLater();
    if (!self)
        co_return;
    const QString name = url.fileName().isEmpty() ? url.host() : url.fileName();
    DecodedImage decoded;
    if (tooLarge) {
        decoded.error = tr("The image at %1 is over %2 MB; download it yourself and drop the "
                           "file if you really want it.")
                            .arg(url.toDisplayString())
                            .arg(kMaxDownloadBytes / (1024 * 1024));
    } else if (reply->error() != QNetworkReply::NoError) {
        decoded.error = tr("The image at %1 could not be downloaded: %2.")
                            .arg(url.toDisplayString(), reply->errorString());
    } else {
        const QByteArray data = reply->readAll();
        QFuture<DecodedImage> decoding = QtConcurrent::run([data, name] {
            DecodedImage decoded = ImageDecoder::decodeData(data, name);
            ImageDecoder::prepare(decoded);
            return decoded;
        });
        decoded = co_await std::move(decoding);
        if (!self)
            co_return;
    }
    --m_decoding;
    Q_EMIT decodingChanged();
    if (ticket == m_decodeTicket || !decoded.ok())
        setInitImage(decoded);
}

void InitImageIntake::setInitImageFromUrl(const QUrl& url) {
    if (url.isLocalFile()) {
        const QString path = url.toLocalFile();
        decodeInitImage([path] { return ImageDecoder::decodeFile(path); });
    } else if (url.scheme() == u"http" || url.scheme() == u"https") {
        downloadInitImage(url);
    } else if (url.scheme() == u"data") {
        setInitImageFromData(dataUrlBytes(url.toString()), tr("the dropped image"));
    } else if (url.isRelative() && !url.isEmpty()) {
        const QString path = url.toString();
        decodeInitImage([path] { return ImageDecoder::decodeFile(path); });
    } else {
        Q_EMIT notice(tr("%1 is not a file Daub can open.").arg(quoted(url.toDisplayString())));
    }
}

void InitImageIntake::setInitImageFromData(const QByteArray& data, const QString& name) {
    decodeInitImage([data, name] { return ImageDecoder::decodeData(data, name); });
}

void InitImageIntake::setInitImageFromResult(const QByteArray& png, const QString& name) {
    decodeInitImage([png, name] {
        DecodedImage decoded = ImageDecoder::decodeData(png, name);
        decoded.parameters.clear(); // no "use its parameters" for our own image
        return decoded;
    });
}

void InitImageIntake::open(const ImageSource& source, const QString& name) {
    if (source.kind == ImageSource::Kind::Data)
        setInitImageFromData(source.data, name);
    else if (source.kind == ImageSource::Kind::Url)
        setInitImageFromUrl(source.url);
}

bool InitImageIntake::dropImage(const QVariantMap& drop) {
    const ImageSource source = pickImageSource(drop);
    if (source.kind == ImageSource::Kind::None) {
        Q_EMIT notice(tr("That drop holds no image; drop a PNG, JPEG, WebP or BMP file."));
        return false;
    }
    open(source, tr("the dropped image"));
    return true;
}

bool InitImageIntake::clipboardHasImage() const {
    const QMimeData* mime = QGuiApplication::clipboard()->mimeData();
    return mime && (mime->hasImage() ||
                    pickImageSource(dropFromMime(*mime)).kind != ImageSource::Kind::None);
}

bool InitImageIntake::pasteImage() {
    const QMimeData* mime = QGuiApplication::clipboard()->mimeData();
    if (!mime)
        return false;
    const ImageSource source = pickImageSource(dropFromMime(*mime));
    if (source.kind == ImageSource::Kind::Data) {
        open(source, tr("the pasted image"));
        return true;
    }
    if (mime->hasImage()) { // an application's image with no encoded form
        const QImage image = qvariant_cast<QImage>(mime->imageData());
        const QString name = tr("the pasted image");
        decodeInitImage([image, name] { return ImageDecoder::fromImage(image, name); });
        return true;
    }
    if (source.kind == ImageSource::Kind::Url) {
        open(source, tr("the pasted image"));
        return true;
    }
    return false;
}

} // namespace daub
