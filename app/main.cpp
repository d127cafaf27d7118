// daub: the desktop program. Everything lives in daub_app (Application);
// this file only parses the command line and runs the event loop.
#include "application.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QGuiApplication>
#include <QtQml/qqmlextensionplugin.h>

#include <cstring>

Q_IMPORT_QML_PLUGIN(Daub_AppPlugin)
Q_IMPORT_QML_PLUGIN(Daub_UiPlugin)

namespace {

const QCommandLineOption& modelOption() {
    static const QCommandLineOption option(
        {QStringLiteral("m"), QStringLiteral("model")},
        QStringLiteral("Load this model (a diffusers folder, a .safetensors or .ckpt file)."),
        QStringLiteral("path"));
    return option;
}

void describeCommandLine(QCommandLineParser& parser) {
    parser.setApplicationDescription(
        QStringLiteral("Local, offline Stable Diffusion in a chat window."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOption(modelOption());
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
    daub::Application::prepareProcess();
    QGuiApplication qapp(argc, argv);
    daub::Application::setApplicationIdentity();

    QCommandLineParser parser;
    describeCommandLine(parser);
    parser.process(qapp);

    daub::Application app;
    app.setEngineFactory(&daub::makePipelineBackend);
    if (!app.start(parser.value(modelOption())))
        return 1;
    // Closing the window (or Ctrl+Q) ends the event loop; leave() cancels
    // the engine and ends the process within Application::kQuitDeadline.
    return app.leave(qapp.exec());
}
