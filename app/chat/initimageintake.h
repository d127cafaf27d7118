// The init image: where it comes from (a drop, a paste, a file, a web
// address, a result of Daub's), decoding and downloading it off the GUI
// thread, and the one the options panel shows.
//
//   dropImage(drop) / pasteImage()  → pickImageSource(...) picks the best
//                                     image the data carries (pure)
//   → decode (ImageDecoder + prepare: hash, thumbnail) on a worker thread,
//     or download first (capped at kMaxDownloadBytes)
//   → InitImageStore::put → the current reference (held by this object)
//
// GUI thread only. Exposed to QML as the InitImageIntake singleton (owned
// by ChatController).
#pragma once

#include "storage/imagedecoder.h"
#include "storage/initimagestore.h"

#include <QCoro/QCoroTask>
#include <QObject>
#include <QUrl>
#include <QVariantMap>
#include <QtQml/qqmlregistration.h>

#include <functional>

class QMimeData;
class QNetworkAccessManager;
class QQmlEngine;
class QJSEngine;

namespace daub {

/// The image a drop or the clipboard carries, as pickImageSource finds it.
struct ImageSource {
    enum class Kind { None, Data, Url };
    Kind kind = Kind::None;
    QByteArray data; ///< Data: encoded image bytes
    QUrl url;        ///< Url: a file, web or data: address
};

/// The best image in drop data ({urls: [...], html, text, data: {mime:
/// bytes}}): image bytes first, then a local file, then a web or data:
/// address, then an <img> in HTML, then text that is an address, then any
/// URL (whose opening says why it fails). Pure: no clipboard, no I/O.
ImageSource pickImageSource(const QVariantMap& drop);
/// Clipboard or drag MIME data in pickImageSource's form.
QVariantMap dropFromMime(const QMimeData& mime);

class InitImageIntake : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    /// The init image shown in the options panel.
    Q_PROPERTY(bool hasInitImage READ hasInitImage NOTIFY initImageChanged)
    Q_PROPERTY(QString initImageSource READ initImageSource NOTIFY initImageChanged)
    Q_PROPERTY(QString initImageName READ initImageName NOTIFY initImageChanged)
    Q_PROPERTY(int initImageWidth READ initImageWidth NOTIFY initImageChanged)
    Q_PROPERTY(int initImageHeight READ initImageHeight NOTIFY initImageChanged)
    /// The store reference of the init image ("" when none).
    Q_PROPERTY(QString initImageRef READ initImageRef NOTIFY initImageChanged)
    /// An image is being decoded or downloaded.
    Q_PROPERTY(bool decoding READ decoding NOTIFY decodingChanged)

public:
    /// Images dragged from a browser are downloaded up to this size.
    static constexpr qint64 kMaxDownloadBytes = 100ll * 1024 * 1024;

    explicit InitImageIntake(InitImageStore* store, QObject* parent = nullptr);
    ~InitImageIntake() override;

    static InitImageIntake* create(QQmlEngine*, QJSEngine*);
    static void setInstance(InitImageIntake* instance);

    Q_INVOKABLE void setInitImageFromUrl(const QUrl& url);
    Q_INVOKABLE void setInitImageFromData(const QByteArray& data, const QString& name);
    /// A drop on the chat (see pickImageSource); false when it carries no
    /// image (a notice says so).
    Q_INVOKABLE bool dropImage(const QVariantMap& drop);
    /// True when the clipboard holds an image or an image file.
    Q_INVOKABLE bool clipboardHasImage() const;
    /// Ctrl+V: the clipboard's image becomes the init image.
    Q_INVOKABLE bool pasteImage();
    Q_INVOKABLE void clearInitImage();
    /// PNG bytes of a Daub result become the init image (its parameters
    /// are not offered: they are Daub's own).
    void setInitImageFromResult(const QByteArray& png, const QString& name);

    bool hasInitImage() const { return !m_ref.isEmpty(); }
    QString initImageSource() const;
    QString initImageName() const { return m_init.name; }
    int initImageWidth() const { return m_init.image.width(); }
    int initImageHeight() const { return m_init.image.height(); }
    QString initImageRef() const { return m_ref; }
    bool decoding() const { return m_decoding > 0; }
    /// The current init image (null image when none).
    const InitImage& current() const { return m_init; }

Q_SIGNALS:
    void initImageChanged();
    void decodingChanged();
    /// A sentence for the chat.
    void notice(const QString& text);
    /// The new init image carries an A1111 parameters text (offer it).
    void parametersOffered(const QString& imageName, const QString& parameters);

private:
    void open(const ImageSource& source, const QString& name);
    void setInitImage(const DecodedImage& decoded);
    QCoro::Task<> decodeInitImage(std::function<DecodedImage()> decode);
    QCoro::Task<> downloadInitImage(QUrl url);

    InitImageStore* m_store;
    QNetworkAccessManager* m_network = nullptr;
    QString m_ref;
    InitImage m_init;
    int m_decoding = 0;
    quint64 m_decodeTicket = 0;
};

} // namespace daub
