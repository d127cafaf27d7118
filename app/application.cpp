#include "application.h"

#include "storage/appsettings.h"
#include "chat/chatcontroller.h"
#include "generation/engineworker.h"
#include "generation/modelfinder.h"
#include "gallery/gallerymodel.h"
#include "server/apiserver.h"
#include "server/apiservice.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QGuiApplication>
#include <QIcon>
#include <QQmlApplicationEngine>
#include <QQuickStyle>
#include <QQuickWindow>

#include <cstdio>
#include <cstdlib>

namespace daub {

void Application::prepareProcess() {
    // Fusion follows the platform palette and looks at home on every
    // desktop; QT_QUICK_CONTROLS_STYLE still overrides it.
    if (qEnvironmentVariableIsEmpty("QT_QUICK_CONTROLS_STYLE"))
        QQuickStyle::setStyle(QStringLiteral("Fusion"));
}

void Application::setApplicationIdentity() {
    QGuiApplication::setOrganizationName(QStringLiteral("Daub"));
    QGuiApplication::setApplicationName(QStringLiteral("Daub"));
    QGuiApplication::setApplicationDisplayName(QStringLiteral("Daub"));
    QGuiApplication::setApplicationVersion(QStringLiteral(DAUB_VERSION));
    QGuiApplication::setDesktopFileName(QStringLiteral("io.github.daub.Daub"));
    QGuiApplication::setWindowIcon(QIcon(QStringLiteral(":/daub/icons/daub.svg")));
}

Application::Application(std::unique_ptr<QSettings> settings, QObject* parent) : QObject(parent) {
    if (!settings)
        settings = std::make_unique<QSettings>();
    m_qsettings = settings.get(); // owned by AppSettings; leave() syncs it
    m_settings = std::make_unique<AppSettings>(std::move(settings));
    m_core = std::make_unique<GenerationCore>(m_settings.get(), &m_store, &m_cache);
    m_controller = std::make_unique<ChatController>(m_core.get(), m_settings.get(), &m_bank);
    m_gallery = std::make_unique<GalleryModel>(&m_history);
    m_api = std::make_unique<ApiService>(m_core.get(), m_settings.get(), m_qsettings);
}

Application::~Application() { shutdown(); }

void Application::setEngineFactory(EngineFactory factory) { m_factory = std::move(factory); }

void Application::startCore() {
    m_worker = new EngineWorker(m_factory);
    m_worker->moveToThread(&m_engineThread);
    m_core->attachWorker(m_worker);

    // The history: the previous conversation comes back, and every job
    // that ends is kept. Without it Daub still runs, and says why.
    QString historyError;
    if (m_history.open(m_settings->historyFolder(), &historyError)) {
        m_core->setHistory(&m_history);
        m_controller->showHistory(historyError); // a damaged one was set aside
    } else {
        m_controller->setHistoryError(historyError);
    }
    m_gallery->refresh();
    m_engineThread.setObjectName(QStringLiteral("daub-engine"));
    m_engineThread.start();
}

bool Application::serve(const QString& model, const ServerConfig& config, QString* why) {
    startCore();
    m_server = std::make_unique<ApiServer>(m_core.get(), m_settings.get());
    if (!m_server->start(config, why))
        return false;
    ModelController* models = m_core->models();
    QString path = model.isEmpty() ? m_settings->modelPath() : model;
    if (!path.isEmpty() && !QFileInfo::exists(path)) {
        // A name: the first model of that name in the usual places, found
        // now, so that the first request finds it loading.
        // Picked by name as a request's sd_model_checkpoint is.
        api::ApiChoices found;
        for (const FoundModel& m : ModelFinder::find(ModelFinder::commonPlaces()))
            found.models.append({m.name, m.path});
        const api::Choice* choice = api::findModel(found, path);
        if (!choice) {
            QStringList names;
            for (const api::Choice& m : std::as_const(found.models))
                names << m.name;
            if (why)
                *why = tr("There is no model \"%1\": give a path, or one of the models Daub found "
                          "(%2).")
                           .arg(api::shown(path),
                                names.isEmpty() ? tr("none") : names.join(QStringLiteral(", ")));
            m_server->stop();
            return false;
        }
        path = choice->path;
    }
    if (!path.isEmpty())
        models->loadModel(path);
    models->scanForModels();
    return true;
}

bool Application::start(const QString& modelPath) {
    AppSettings::setInstance(m_settings.get());
    ChatController::setInstance(m_controller.get());
    ModelController::setInstance(m_core->models());
    GalleryModel::setInstance(m_gallery.get());
    ApiService::setInstance(m_api.get());
    startCore();

    m_qml = std::make_unique<QQmlApplicationEngine>();
    m_qml->addImageProvider(QStringLiteral("init"), new InitImageProvider(&m_store));
    m_qml->addImageProvider(QStringLiteral("daub"), new BankImageProvider(&m_bank));
    m_qml->load(QUrl(QStringLiteral("qrc:/qt/qml/Daub/Ui/Main.qml")));
    if (m_qml->rootObjects().isEmpty())
        return false;

    const QString model = modelPath.isEmpty() ? m_settings->modelPath() : modelPath;
    if (!model.isEmpty())
        m_core->models()->loadModel(model);
    m_core->models()->scanForModels();
    m_api->startIfEnabled(); // Settings → "Let other programs use Daub"
    return true;
}

bool Application::stopEngine(QDeadlineTimer deadline) {
    // The running job's token and the load's: the engine checks them
    // between steps, tiles and tensors and inside each network (its
    // blocks, layers and VAE tiles), so it is back in its event loop
    // within a fraction of a second on any model size.
    if (m_core)
        m_core->cancelEverything();
    if (!m_engineThread.isRunning())
        return true;
    m_engineThread.quit();
    return m_engineThread.wait(deadline);
}

int Application::leave(int exitCode, std::chrono::milliseconds deadline) {
    QElapsedTimer timer;
    timer.start();
    if (stopEngine(QDeadlineTimer(deadline)))
        return exitCode; // the destructor tears everything down
    // The engine is inside one call that checks no token (a libtorch
    // kernel, a file read): waiting for it would keep a closed window's
    // process alive for as long as it takes, and a QThread destroyed while
    // it runs aborts. Nothing of the user's needs the engine any more: the
    // settings are synced here, the history commits every job as it ends
    // (the running one was kept as cancelled by cancelEverything()), saved
    // images are closed files. So the process ends now, without running
    // destructors that would wait for the engine or free what it uses.
    if (m_qsettings)
        m_qsettings->sync();
    std::fprintf(stderr,
                 "Daub: the engine was still busy %lld ms after the window closed; quitting "
                 "without waiting for it.\n",
                 static_cast<long long>(timer.elapsed()));
    std::fflush(nullptr);
    std::_Exit(exitCode);
}

void Application::shutdown() {
    m_server.reset(); // no new jobs from other programs
    m_api.reset();
    stopEngine(QDeadlineTimer(QDeadlineTimer::Forever));
    m_qml.reset(); // before the stores its image providers read
    delete m_worker;
    m_worker = nullptr;
}

QQuickWindow* Application::window() const {
    if (!m_qml || m_qml->rootObjects().isEmpty())
        return nullptr;
    return qobject_cast<QQuickWindow*>(m_qml->rootObjects().constFirst());
}

} // namespace daub
