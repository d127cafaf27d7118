// The whole program, minus main(): the settings, the stores, the
// generation core with the engine thread and its EngineWorker, and the
// front ends on it: the chat controller with the QML window. main.cpp and
// the end-to-end test both build the window through this class, so the
// test drives exactly what users run.
#pragma once

#include "generation/enginebackend.h"
#include "storage/historystore.h"
#include "imageproviders.h"
#include "storage/initimagestore.h"
#include "generation/resultcache.h"
#include "server/serverconfig.h"

#include <QDeadlineTimer>
#include <QObject>
#include <QSettings>
#include <QString>
#include <QThread>

#include <chrono>
#include <memory>

class QQmlApplicationEngine;
class QQuickWindow;

namespace daub {

class AppSettings;
class ChatController;
class EngineWorker;
class GalleryModel;
class GenerationCore;
class ApiServer;
class ApiService;

class Application : public QObject {
    Q_OBJECT
public:
    /// Before QGuiApplication: process-wide defaults (style, scaling).
    static void prepareProcess();
    /// After QGuiApplication: names for QSettings and the desktop.
    static void setApplicationIdentity();

    /// `settings`: where the user's choices live (QSettings() when null).
    explicit Application(std::unique_ptr<QSettings> settings = nullptr, QObject* parent = nullptr);
    ~Application() override;

    /// The engine the worker creates on its thread (makePipelineBackend in
    /// the program, a fake in tests). Set before start().
    void setEngineFactory(EngineFactory factory);
    /// Starts the engine thread and opens the window; loads `modelPath`, or
    /// the last model, or shows the welcome panel. False if QML failed.
    bool start(const QString& modelPath = {});
    /// Headless (daub --serve): the engine, the history and the API server
    /// on `config`, no window. `model`: a path, or the name of a model Daub
    /// finds. false with `why` when the server cannot listen.
    bool serve(const QString& model, const ServerConfig& config, QString* why);
    ApiServer* server() const { return m_server.get(); }
    ApiService* api() const { return m_api.get(); }
    /// How long leave() waits for the engine after the window closed.
    static constexpr std::chrono::milliseconds kQuitDeadline{1500};

    /// Cancels every job and the model load, and stops the engine thread:
    /// true when it ended before `deadline` (the engine checks the tokens
    /// inside its networks too, so this takes a fraction of a second).
    bool stopEngine(QDeadlineTimer deadline);
    /// The end of main(), after the event loop: stopEngine(deadline), then
    /// returns `exitCode` for a clean teardown by the destructor. An engine
    /// still inside one long call that checks no token past the deadline
    /// does not keep the closed window's process alive: the settings are
    /// synced, one line says so on stderr, and the process ends at once
    /// with `exitCode` (std::_Exit; the history is committed job by job).
    int leave(int exitCode, std::chrono::milliseconds deadline = kQuitDeadline);
    /// Cancels every job, stops the engine thread and waits for it however
    /// long that takes, then releases the window and the worker. Called by
    /// the destructor.
    void shutdown();

    AppSettings* settings() const { return m_settings.get(); }
    GenerationCore* core() const { return m_core.get(); }
    ChatController* controller() const { return m_controller.get(); }
    InitImageStore* store() { return &m_store; }
    ResultCache* cache() { return &m_cache; }
    ImageBank* bank() { return &m_bank; }
    HistoryStore* history() { return &m_history; }
    GalleryModel* gallery() const { return m_gallery.get(); }
    QQmlApplicationEngine* qmlEngine() const { return m_qml.get(); }
    /// The engine thread's object (after start()): its signals tell a
    /// test where the engine is.
    EngineWorker* worker() const { return m_worker; }
    QQuickWindow* window() const;

private:
    /// The engine thread and the history, for either front end.
    void startCore();

    QSettings* m_qsettings = nullptr; ///< owned by m_settings
    std::unique_ptr<AppSettings> m_settings;
    InitImageStore m_store;
    ResultCache m_cache;
    ImageBank m_bank;
    HistoryStore m_history;
    std::unique_ptr<GenerationCore> m_core;
    std::unique_ptr<ChatController> m_controller; ///< after m_core: goes first
    std::unique_ptr<GalleryModel> m_gallery; ///< after m_history: goes first
    EngineFactory m_factory;
    QThread m_engineThread;
    EngineWorker* m_worker = nullptr;
    std::unique_ptr<QQmlApplicationEngine> m_qml;
    std::unique_ptr<ApiServer> m_server; ///< headless (--serve)
    std::unique_ptr<ApiService> m_api;   ///< the window's Settings switch
};

} // namespace daub
