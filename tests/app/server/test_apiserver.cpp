// The real `daub --serve` with the real engine and the tiny fixture models,
// driven over HTTP as AUTOMATIC1111's clients drive it: txt2img and img2img
// round trips (the PNG decodes, `info` holds the seed, png-info reads the
// PNG's parameters back), a model switch through options, progress during a
// job, interrupt, 8 clients × 5 requests at once (every one answered, every
// job in the history, memory flat), and the door: no token on another
// address, a wrong token, a foreign Origin, a 100 MB body, malformed JSON.
#include "storage/historystore.h"
#include "testsupport.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QEventLoop>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QTcpServer>
#include <QTimer>
#include <QtTest/QtTest>

using namespace daub;

namespace {

struct Reply {
    int status = 0;
    QByteArray body;
    QJsonObject object() const { return QJsonDocument::fromJson(body).object(); }
    QJsonArray array() const { return QJsonDocument::fromJson(body).array(); }
};

quint16 freePort() {
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

QString fixture(const QString& name) { return daub::test::fixture(name); }

/// A scratch home with the tiny models where AUTOMATIC1111 keeps them.
struct Home {
    QTemporaryDir dir;
    Home() {
        const QString models = dir.filePath(QStringLiteral("stable-diffusion-webui/models/Stable-diffusion"));
        const QString esrgan = dir.filePath(QStringLiteral("stable-diffusion-webui/models/ESRGAN"));
        QDir().mkpath(models);
        QDir().mkpath(esrgan);
        QFile::link(fixture(QStringLiteral("tiny-sd15")), models + QStringLiteral("/tiny-sd15"));
        QFile::link(fixture(QStringLiteral("tiny-sdxl")), models + QStringLiteral("/tiny-sdxl"));
        QFile::link(fixture(QStringLiteral("tiny-sd15.safetensors")),
                    models + QStringLiteral("/tiny-sd15.safetensors"));
        QFile::link(fixture(QStringLiteral("tiny-rrdbnet-x2.safetensors")),
                    esrgan + QStringLiteral("/tiny-rrdbnet-x2.safetensors"));
    }
    QProcessEnvironment environment() const {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("HOME"), dir.path());
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), dir.filePath(QStringLiteral("config")));
        env.insert(QStringLiteral("XDG_DATA_HOME"), dir.filePath(QStringLiteral("data")));
        env.insert(QStringLiteral("XDG_CACHE_HOME"), dir.filePath(QStringLiteral("cache")));
        env.insert(QStringLiteral("DAUB_DATA_DIR"), dir.filePath(QStringLiteral("daub")));
        env.remove(QStringLiteral("DISPLAY"));
        env.remove(QStringLiteral("QT_QPA_PLATFORM"));
        env.remove(QStringLiteral("DAUB_API_TOKEN"));
        return env;
    }
    QString history() const { return dir.filePath(QStringLiteral("daub/history")); }
};

class Server {
public:
    Home home;
    QProcess process;
    quint16 port = 0;
    QNetworkAccessManager net;
    QByteArray token;

    ~Server() { stop(); }

    /// Starts daub --serve; false when it did not say it serves.
    bool start(QStringList extra = {}) {
        port = freePort();
        QStringList args{QStringLiteral("--serve"), QStringLiteral("--listen"),
                         QStringLiteral("127.0.0.1:%1").arg(port)};
        args << extra;
        process.setProcessEnvironment(home.environment());
        process.start(QStringLiteral(DAUB_BINARY), args);
        if (!process.waitForStarted(10000))
            return false;
        QByteArray out;
        QElapsedTimer timer;
        timer.start();
        while (!out.contains("serves") && timer.elapsed() < 30000 &&
               process.state() == QProcess::Running) {
            process.waitForReadyRead(500);
            out += process.readAllStandardOutput();
        }
        return out.contains(QStringLiteral("http://127.0.0.1:%1/sdapi/v1").arg(port).toUtf8());
    }
    void stop() {
        if (process.state() == QProcess::NotRunning)
            return;
        process.terminate();
        if (!process.waitForFinished(10000)) {
            process.kill();
            process.waitForFinished();
        }
    }
    qint64 rssKiB() const {
        QFile status(QStringLiteral("/proc/%1/status").arg(process.processId()));
        if (!status.open(QIODevice::ReadOnly))
            return -1;
        for (const QByteArray& line : status.readAll().split('\n'))
            if (line.startsWith("VmRSS:"))
                return line.mid(6).trimmed().split(' ').first().toLongLong();
        return -1;
    }

    QNetworkRequest request(const QString& route, const QList<QPair<QByteArray, QByteArray>>& headers = {}) {
        QNetworkRequest r(QUrl(QStringLiteral("http://127.0.0.1:%1/sdapi/v1/%2").arg(port).arg(route)));
        r.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
        if (!token.isEmpty())
            r.setRawHeader("Authorization", "Bearer " + token);
        for (const auto& [k, v] : headers)
            r.setRawHeader(k, v);
        r.setTransferTimeout(120000);
        return r;
    }
    static Reply wait(QNetworkReply* reply) {
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        if (!reply->isFinished())
            loop.exec();
        Reply out{reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll()};
        reply->deleteLater();
        return out;
    }
    Reply get(const QString& route) { return wait(net.get(request(route))); }
    Reply post(const QString& route, const QByteArray& body,
               const QList<QPair<QByteArray, QByteArray>>& headers = {}) {
        return wait(net.post(request(route, headers), body));
    }
    Reply post(const QString& route, const QJsonObject& body) {
        return post(route, QJsonDocument(body).toJson(QJsonDocument::Compact));
    }
};

QJsonObject small(const QString& prompt, qint64 seed, int steps = 2) {
    return {{QStringLiteral("prompt"), prompt},
            {QStringLiteral("negative_prompt"), QStringLiteral("blurry")},
            {QStringLiteral("width"), 64},
            {QStringLiteral("height"), 64},
            {QStringLiteral("steps"), steps},
            {QStringLiteral("seed"), seed},
            {QStringLiteral("sampler_name"), QStringLiteral("Euler a")},
            {QStringLiteral("some_field_daub_does_not_know"), 3}};
}

QImage decodeImage(const QJsonValue& base64) {
    QImage image;
    image.loadFromData(QByteArray::fromBase64(base64.toString().toLatin1()), "PNG");
    return image;
}

QString filePng(const QString& path) {
    QFile f(path);
    f.open(QIODevice::ReadOnly);
    return QString::fromLatin1(f.readAll().toBase64());
}

} // namespace

class TestApiServer : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void roundTripsAndModels() {
        Server server;
        QVERIFY(server.start({QStringLiteral("--model"), QStringLiteral("tiny-sd15")}));

        // txt2img: the PNG decodes, info holds the seed, png-info reads it back.
        Reply r = server.post(QStringLiteral("txt2img"), small(QStringLiteral("a red fox"), 1234));
        QVERIFY2(r.status == 200, r.body.left(400).constData());
        const QJsonObject answer = r.object();
        QCOMPARE(answer.value(QStringLiteral("images")).toArray().size(), 1);
        const QJsonValue png = answer.value(QStringLiteral("images")).toArray().at(0);
        QCOMPARE(decodeImage(png).size(), QSize(64, 64));
        const QJsonObject info =
            QJsonDocument::fromJson(answer.value(QStringLiteral("info")).toString().toUtf8()).object();
        QCOMPARE(info.value(QStringLiteral("seed")).toInteger(), 1234);
        QCOMPARE(info.value(QStringLiteral("all_seeds")).toArray().at(0).toInteger(), 1234);
        QCOMPARE(info.value(QStringLiteral("infotexts")).toArray().size(), 1);
        QCOMPARE(answer.value(QStringLiteral("parameters")).toObject().value(QStringLiteral("prompt")),
                 QJsonValue(QStringLiteral("a red fox")));
        r = server.post(QStringLiteral("png-info"), QJsonObject{{QStringLiteral("image"), png}});
        QVERIFY2(r.status == 200, r.body.left(400).constData());
        const QString text = r.object().value(QStringLiteral("info")).toString();
        QVERIFY2(text.startsWith(QStringLiteral("a red fox\nNegative prompt: blurry\n")), qPrintable(text));
        QVERIFY(text.contains(QStringLiteral("Seed: 1234")));
        QVERIFY(text.contains(QStringLiteral("Sampler: Euler a")));
        QCOMPARE(r.object().value(QStringLiteral("parameters")).toObject().value(QStringLiteral("Seed")).toInteger(),
                 1234);
        // The same request again: the same pixels.
        r = server.post(QStringLiteral("txt2img"), small(QStringLiteral("a red fox"), 1234));
        QCOMPARE(r.object().value(QStringLiteral("images")).toArray().at(0), png);

        // img2img from the fixture's init image, with a data: URL.
        QJsonObject img = small(QStringLiteral("a blue fox"), 77, 4);
        img.insert(QStringLiteral("init_images"),
                   QJsonArray{QStringLiteral("data:image/png;base64,") +
                              filePng(fixture(QStringLiteral("golden/init_64x64.png")))});
        img.insert(QStringLiteral("denoising_strength"), 0.5);
        r = server.post(QStringLiteral("img2img"), img);
        QVERIFY2(r.status == 200, r.body.left(400).constData());
        const QJsonValue img2imgPng = r.object().value(QStringLiteral("images")).toArray().at(0);
        QCOMPARE(decodeImage(img2imgPng).size(), QSize(64, 64));
        r = server.post(QStringLiteral("png-info"), QJsonObject{{QStringLiteral("image"), img2imgPng}});
        QVERIFY(r.object().value(QStringLiteral("info")).toString().contains(QStringLiteral("Denoising strength: 0.5")));

        // What Daub found, by A1111's names.
        r = server.get(QStringLiteral("sd-models"));
        QStringList titles;
        for (const QJsonValue& m : r.array()) {
            titles << m.toObject().value(QStringLiteral("title")).toString();
            QVERIFY(m.toObject().value(QStringLiteral("hash")).isString());
            QVERIFY(m.toObject().value(QStringLiteral("sha256")).isString());
        }
        QVERIFY2(titles.contains(QStringLiteral("tiny-sd15")) && titles.contains(QStringLiteral("tiny-sdxl")),
                 qPrintable(titles.join(u',')));
        // A single file's SHA-256 (and A1111's short hash), once computed.
        QFile single(fixture(QStringLiteral("tiny-sd15.safetensors")));
        QVERIFY(single.open(QIODevice::ReadOnly));
        const QString expected = QString::fromLatin1(
            QCryptographicHash::hash(single.readAll(), QCryptographicHash::Sha256).toHex());
        QString got;
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                for (const QJsonValue& m : server.get(QStringLiteral("sd-models")).array())
                    if (m.toObject().value(QStringLiteral("title")).toString() == u"tiny-sd15.safetensors") {
                        got = m.toObject().value(QStringLiteral("sha256")).toString();
                        return !got.isEmpty();
                    }
                return false;
            }(),
            20000);
        QCOMPARE(got, expected);
        r = server.get(QStringLiteral("samplers"));
        QVERIFY(r.array().size() >= 8);
        r = server.get(QStringLiteral("upscalers"));
        QCOMPARE(r.array().last().toObject().value(QStringLiteral("name")).toString(),
                 QStringLiteral("tiny-rrdbnet-x2"));
        for (const char* route : {"schedulers", "latent-upscale-modes", "sd-vae", "loras"})
            QCOMPARE(server.get(QString::fromLatin1(route)).status, 200);
        QCOMPARE(server.get(QStringLiteral("embeddings")).object().value(QStringLiteral("loaded")),
                 QJsonValue(QJsonObject()));

        // Switch the model through options; the next image is SDXL's.
        r = server.get(QStringLiteral("options"));
        QCOMPARE(r.object().value(QStringLiteral("sd_model_checkpoint")).toString(), QStringLiteral("tiny-sd15"));
        QJsonObject options = r.object();
        options.insert(QStringLiteral("sd_model_checkpoint"), QStringLiteral("tiny-sdxl"));
        QCOMPARE(server.post(QStringLiteral("options"), options).status, 200);
        QCOMPARE(server.get(QStringLiteral("options")).object().value(QStringLiteral("sd_model_checkpoint")).toString(),
                 QStringLiteral("tiny-sdxl"));
        r = server.post(QStringLiteral("txt2img"), small(QStringLiteral("an sdxl fox"), 5));
        QVERIFY2(r.status == 200, r.body.left(400).constData());
        const QJsonObject sdxlInfo =
            QJsonDocument::fromJson(r.object().value(QStringLiteral("info")).toString().toUtf8()).object();
        QCOMPARE(sdxlInfo.value(QStringLiteral("sd_model_name")).toString(), QStringLiteral("tiny-sdxl"));
        QVERIFY(sdxlInfo.value(QStringLiteral("infotexts")).toArray().at(0).toString().contains(
            QStringLiteral("Model: tiny-sdxl")));
        options.insert(QStringLiteral("sd_model_checkpoint"), QStringLiteral("no-such-model"));
        r = server.post(QStringLiteral("options"), options);
        QCOMPARE(r.status, 422);
        QVERIFY(r.object().value(QStringLiteral("detail")).toString().contains(QStringLiteral("tiny-sd15")));

        // A Real-ESRGAN upscale of a result.
        r = server.post(QStringLiteral("extra-single-image"),
                        QJsonObject{{QStringLiteral("image"), png},
                                    {QStringLiteral("upscaler_1"), QStringLiteral("tiny-rrdbnet-x2")},
                                    {QStringLiteral("upscaling_resize"), 2}});
        QVERIFY2(r.status == 200, r.body.left(400).constData());
        QCOMPARE(decodeImage(r.object().value(QStringLiteral("image"))).size(), QSize(128, 128));

        // Refused with a sentence: an unknown sampler, a mask, a URL.
        r = server.post(QStringLiteral("txt2img"),
                        QJsonObject{{QStringLiteral("prompt"), QStringLiteral("x")},
                                    {QStringLiteral("sampler_name"), QStringLiteral("Nope")}});
        QCOMPARE(r.status, 404);
        QVERIFY(r.object().value(QStringLiteral("detail")).toString().contains(QStringLiteral("Euler a")));
        img.insert(QStringLiteral("init_images"), QJsonArray{QStringLiteral("http://example.com/a.png")});
        r = server.post(QStringLiteral("img2img"), img);
        QCOMPARE(r.status, 422);
        QVERIFY(r.object().value(QStringLiteral("detail")).toString().contains(QStringLiteral("never fetches")));
        r = server.post(QStringLiteral("img2img"),
                        QJsonObject{{QStringLiteral("init_images"), QJsonArray{QStringLiteral("aGVsbG8=")}}});
        QCOMPARE(r.status, 422); // "hello" is no image
        QCOMPARE(r.object().value(QStringLiteral("error")).toString(), QStringLiteral("ValidationError"));

        // Every job is in the history, marked as the API's.
        server.stop();
        HistoryStore history;
        QVERIFY(history.open(server.home.history()));
        const auto entries = history.recent(100);
        QCOMPARE(int(entries.size()), 5); // 2 txt2img, img2img, sdxl, upscale
        for (const HistoryEntry& e : entries)
            QVERIFY2(e.recipe.contains("\"origin\":\"api\""), e.recipe.constData());
    }

    void progressInterruptAndManyClients() {
        Server server;
        QVERIFY(server.start({QStringLiteral("--model"), fixture(QStringLiteral("tiny-sd15"))}));
        QCOMPARE(server.post(QStringLiteral("txt2img"), small(QStringLiteral("warm"), 1)).status, 200);

        // A long job: progress moves, shows a preview, interrupt ends it.
        QJsonObject slow = small(QStringLiteral("slow"), 9, 150);
        slow.insert(QStringLiteral("width"), 256);
        slow.insert(QStringLiteral("height"), 256);
        QNetworkReply* pending = server.net.post(server.request(QStringLiteral("txt2img")),
                                                 QJsonDocument(slow).toJson());
        double progress = 0;
        QJsonObject p;
        QElapsedTimer timer;
        timer.start();
        // Until it has moved and shows the step preview.
        while ((progress <= 0.01 || !p.value(QStringLiteral("current_image")).isString()) &&
               timer.elapsed() < 60000) {
            QTest::qWait(100);
            p = server.get(QStringLiteral("progress")).object();
            progress = p.value(QStringLiteral("progress")).toDouble();
        }
        QVERIFY2(progress > 0.01, QJsonDocument(p).toJson().constData());
        QVERIFY(!decodeImage(p.value(QStringLiteral("current_image"))).isNull());
        QCOMPARE(p.value(QStringLiteral("state")).toObject().value(QStringLiteral("job_count")).toInt(), 1);
        QVERIFY(p.value(QStringLiteral("state")).toObject().value(QStringLiteral("sampling_steps")).toInt() == 150);
        QVERIFY(p.value(QStringLiteral("eta_relative")).toDouble() > 0);
        QCOMPARE(server.post(QStringLiteral("interrupt"), QByteArray("{}")).body, QByteArray("{}"));
        const Reply interrupted = Server::wait(pending);
        QCOMPARE(interrupted.status, 200);
        QVERIFY(interrupted.object().value(QStringLiteral("images")).toArray().isEmpty());
        QCOMPARE(server.get(QStringLiteral("progress")).object().value(QStringLiteral("progress")).toDouble(), 0.0);

        // 8 clients × 5 requests at once: each answered with its own seed.
        const qint64 rssBefore = server.rssKiB();
        auto burst = [&](int base) {
            QList<QNetworkReply*> replies;
            for (int client = 0; client < 8; ++client)
                for (int i = 0; i < 5; ++i)
                    replies << server.net.post(
                        server.request(QStringLiteral("txt2img")),
                        QJsonDocument(small(QStringLiteral("client %1").arg(client), base + client * 10 + i)).toJson());
            int answered = 0;
            for (int k = 0; k < replies.size(); ++k) {
                const Reply r = Server::wait(replies[k]);
                const QJsonObject info =
                    QJsonDocument::fromJson(r.object().value(QStringLiteral("info")).toString().toUtf8()).object();
                if (r.status == 200 && info.value(QStringLiteral("seed")).toInteger() == base + (k / 5) * 10 + k % 5)
                    ++answered;
            }
            return answered;
        };
        QCOMPARE(burst(1000), 40);
        const qint64 rssMiddle = server.rssKiB();
        QCOMPARE(burst(2000), 40);
        const qint64 rssAfter = server.rssKiB();
        qInfo("RSS: %lld KiB before, %lld after 40 requests, %lld after 80", rssBefore, rssMiddle, rssAfter);
        QVERIFY2(rssAfter - rssMiddle < 64 * 1024, "memory grew by more than 64 MiB over 40 requests");

        server.stop();
        HistoryStore history;
        QVERIFY(history.open(server.home.history()));
        QCOMPARE(int(history.recent(200).size()), 1 + 1 + 80);
    }

    void theDoor() {
        // Another address without a token: refuses to start, one sentence.
        {
            Server open;
            QProcess& p = open.process;
            p.setProcessEnvironment(open.home.environment());
            p.start(QStringLiteral(DAUB_BINARY),
                    {QStringLiteral("--serve"), QStringLiteral("--listen"), QStringLiteral("0.0.0.0:%1").arg(freePort())});
            QVERIFY(p.waitForFinished(30000));
            QCOMPARE(p.exitCode(), 1);
            const QByteArray err = p.readAllStandardError();
            int sentences = 0;
            for (const QByteArray& line : err.split('\n'))
                sentences += line.startsWith("daub: ");
            QVERIFY2(err.contains("token") && sentences == 1, err.constData());
        }
        // A model name Daub did not find, unknown options and a window
        // without a display: a sentence, exit 1.
        {
            Server missing;
            QProcess& p = missing.process;
            p.setProcessEnvironment(missing.home.environment());
            p.start(QStringLiteral(DAUB_BINARY), {QStringLiteral("--serve"), QStringLiteral("--listen"),
                                                  QStringLiteral("127.0.0.1:%1").arg(freePort()),
                                                  QStringLiteral("--model"), QStringLiteral("no-such")});
            QVERIFY(p.waitForFinished(30000));
            QCOMPARE(p.exitCode(), 1);
            const QByteArray err = p.readAllStandardError();
            QVERIFY2(err.contains("no-such") && err.contains("tiny-sd15"), err.constData());
        }
        {
            Server bogus;
            QProcess& p = bogus.process;
            p.setProcessEnvironment(bogus.home.environment());
            p.start(QStringLiteral(DAUB_BINARY), {QStringLiteral("--bogus")});
            QVERIFY(p.waitForFinished(30000));
            QCOMPARE(p.exitCode(), 1);
            QVERIFY(p.readAllStandardError().contains("bogus"));
            p.start(QStringLiteral(DAUB_BINARY), QStringList());
            QVERIFY(p.waitForFinished(30000));
            QCOMPARE(p.exitCode(), 1);
            QVERIFY(p.readAllStandardError().contains("display"));
        }

        Server server;
        QVERIFY(server.start({QStringLiteral("--api-auth"), QStringLiteral("user:s3cret")}));
        Reply r = server.get(QStringLiteral("options"));
        QCOMPARE(r.status, 401);
        QVERIFY(!r.object().value(QStringLiteral("detail")).toString().isEmpty());
        server.token = "wrong";
        QCOMPARE(server.get(QStringLiteral("options")).status, 401);
        server.token = "s3cret";
        QCOMPARE(server.get(QStringLiteral("options")).status, 200);
        server.token.clear(); // Basic, as A1111's --api-auth user:password
        QCOMPARE(server.wait(server.net.get(server.request(
                     QStringLiteral("options"), {{"Authorization", "Basic " + QByteArray("user:s3cret").toBase64()}})))
                     .status,
                 200);
        server.token = "s3cret";

        // A page of another site.
        r = server.post(QStringLiteral("txt2img"), QByteArray("{}"), {{"Origin", "http://evil.example"}});
        QCOMPARE(r.status, 403);
        QVERIFY(r.object().value(QStringLiteral("detail")).toString().contains(QStringLiteral("other sites")));
        // Malformed JSON, and a 100 MB body.
        r = server.post(QStringLiteral("txt2img"), QByteArray("{\"prompt\": "));
        QCOMPARE(r.status, 422);
        QCOMPARE(r.object().value(QStringLiteral("error")).toString(), QStringLiteral("ValidationError"));
        r = server.post(QStringLiteral("img2img"), QByteArray(100 * 1024 * 1024, 'a'));
        QCOMPARE(r.status, 413);
        // Not a route.
        QCOMPARE(server.get(QStringLiteral("nothing-here")).status, 404);
        QCOMPARE(server.get(QStringLiteral("txt2img")).status, 405);
        QCOMPARE(server.get(QStringLiteral("png-info")).status, 405);
        QCOMPARE(server.post(QStringLiteral("sd-models"), QByteArray("{}")).status, 405);
        // Without a model: a sentence saying how to get one.
        r = server.post(QStringLiteral("txt2img"), small(QStringLiteral("x"), 1));
        QCOMPARE(r.status, 503);
        QVERIFY(r.object().value(QStringLiteral("detail")).toString().contains(QStringLiteral("sd_model_checkpoint")));
    }
};

QTEST_GUILESS_MAIN(TestApiServer)
#include "test_apiserver.moc"
