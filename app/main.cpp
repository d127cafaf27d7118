// daub: the desktop program. Everything lives in daub_app (Application);
// this file only parses the command line and runs the event loop.
#include "application.h"
#include "server/apiserver.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QGuiApplication>
#include <QtQml/qqmlextensionplugin.h>

#include <cstdio>
#include <cstring>
#include <optional>

Q_IMPORT_QML_PLUGIN(Daub_AppPlugin)
Q_IMPORT_QML_PLUGIN(Daub_UiPlugin)

namespace {

const QCommandLineOption& modelOption() {
    static const QCommandLineOption option(
        {QStringLiteral("m"), QStringLiteral("model")},
        QStringLiteral("Load this model (a diffusers folder, a .safetensors or .ckpt file; with "
                       "--serve also the name of a model Daub found)."),
        QStringLiteral("path"));
    return option;
}

const QCommandLineOption& serveOption() {
    static const QCommandLineOption option(
        QStringLiteral("serve"),
        QStringLiteral("No window: serve AUTOMATIC1111's API (/sdapi/v1) for other programs."));
    return option;
}

const QCommandLineOption& listenOption() {
    static const QCommandLineOption option(
        QStringLiteral("listen"),
        QStringLiteral("Where --serve listens (default 127.0.0.1:7860); another address than "
                       "this machine's needs --api-auth."),
        QStringLiteral("address:port"), QStringLiteral("127.0.0.1:7860"));
    return option;
}

const QCommandLineOption& authOption() {
    static const QCommandLineOption option(
        QStringLiteral("api-auth"),
        QStringLiteral("The API's token (or user:token), sent by clients as a Bearer token or "
                       "Basic password; also read from DAUB_API_TOKEN."),
        QStringLiteral("token"));
    return option;
}

const QCommandLineOption& originOption() {
    static const QCommandLineOption option(
        QStringLiteral("api-origin"),
        QStringLiteral("A web page origin allowed to call the API (CORS), e.g. "
                       "http://localhost:3000; may be repeated."),
        QStringLiteral("origin"));
    return option;
}

void describeCommandLine(QCommandLineParser& parser) {
    parser.setApplicationDescription(
        QStringLiteral("Local, offline Stable Diffusion in a chat window."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOption(modelOption());
    parser.addOption(serveOption());
    parser.addOption(listenOption());
    parser.addOption(authOption());
    parser.addOption(originOption());
}

/// A sentence on stderr and exit status 1.
int refuse(const QString& sentence) {
    std::fprintf(stderr, "daub: %s\n", qPrintable(sentence));
    return 1;
}

bool hasDisplay() {
    return !qEnvironmentVariableIsEmpty("DISPLAY") || !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") ||
           !qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM");
}

/// The server's settings from the command line, or a sentence.
std::optional<daub::ServerConfig> serverConfig(const QCommandLineParser& parser, QString* why) {
    daub::ServerConfig config;
    const auto listen = daub::parseListen(parser.value(listenOption()));
    if (!listen) {
        *why = QStringLiteral("--listen takes address:port, such as 127.0.0.1:7860; \"%1\" is not "
                              "one.")
                   .arg(parser.value(listenOption()));
        return std::nullopt;
    }
    config.address = listen->first;
    config.port = listen->second;
    QString token = parser.isSet(authOption()) ? parser.value(authOption())
                                               : qEnvironmentVariable("DAUB_API_TOKEN");
    if (const qsizetype colon = token.indexOf(u':'); colon >= 0)
        token = token.mid(colon + 1); // A1111's user:password: the password is the token
    config.token = token.toUtf8();
    config.allowedOrigins = parser.values(originOption());
    return config;
}

/// --help and --version print and leave: they must work without a display
/// (a QGuiApplication aborts when it finds none), so they get a core one.
bool onlyPrints(int argc, char* argv[]) {
    for (int i = 1; i < argc; ++i)
        for (const char* flag : {"-h", "--help", "--help-all", "-v", "--version", "-?"})
            if (std::strcmp(argv[i], flag) == 0)
                return true;
    return false;
}

} // namespace

int main(int argc, char* argv[]) {
    if (onlyPrints(argc, argv)) {
        QCoreApplication core(argc, argv);
        QCoreApplication::setApplicationName(QStringLiteral("Daub"));
        QCoreApplication::setApplicationVersion(QStringLiteral(DAUB_VERSION));
        QCommandLineParser parser;
        describeCommandLine(parser);
        parser.process(core); // prints and exits
        return 0;
    }
    // Before any application object: an unknown option, or a window
    // without a display, is one sentence and exit status 1 (a
    // QGuiApplication without a display aborts).
    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments << QString::fromLocal8Bit(argv[i]);
    {
        QCommandLineParser check;
        describeCommandLine(check);
        if (!check.parse(arguments))
            return refuse(check.errorText() + QStringLiteral("; daub --help lists the options."));
        if (check.isSet(serveOption())) {
            if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
                qputenv("QT_QPA_PLATFORM", "offscreen"); // headless: no display needed
        } else if (!hasDisplay()) {
            return refuse(QStringLiteral("the window needs a display and none was found (DISPLAY "
                                         "is not set); run Daub on a desktop, or use daub --serve "
                                         "to serve the API without a window."));
        }
    }

    daub::Application::prepareProcess();
    QGuiApplication qapp(argc, argv);
    daub::Application::setApplicationIdentity();

    QCommandLineParser parser;
    describeCommandLine(parser);
    parser.process(qapp);

    daub::Application app;
    app.setEngineFactory(&daub::makePipelineBackend);
    if (parser.isSet(serveOption())) {
        QString why;
        const auto config = serverConfig(parser, &why);
        if (!config || !app.serve(parser.value(modelOption()), *config, &why))
            return refuse(why);
        std::printf("Daub serves AUTOMATIC1111's API at %s/sdapi/v1\n",
                    qPrintable(app.server()->url()));
        std::fflush(stdout);
        return app.leave(qapp.exec());
    }
    if (!app.start(parser.value(modelOption())))
        return 1;
    // Closing the window (or Ctrl+Q) ends the event loop; leave() cancels
    // the engine and ends the process within Application::kQuitDeadline.
    return app.leave(qapp.exec());
}
