// daub: the desktop program. Everything lives in daub_app (Application);
// this file only parses the command line and runs the event loop.
#include "application.h"

#include <QCommandLineParser>
#include <QGuiApplication>
#include <QtQml/qqmlextensionplugin.h>

Q_IMPORT_QML_PLUGIN(Daub_AppPlugin)
Q_IMPORT_QML_PLUGIN(Daub_UiPlugin)

int main(int argc, char* argv[]) {
    daub::Application::prepareProcess();
    QGuiApplication qapp(argc, argv);
    daub::Application::setApplicationIdentity();

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Local, offline Stable Diffusion in a chat window."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption modelOption(
        {QStringLiteral("m"), QStringLiteral("model")},
        QStringLiteral("Load this model (a diffusers folder or a .safetensors file)."),
        QStringLiteral("path"));
    parser.addOption(modelOption);
    parser.process(qapp);

    daub::Application app;
    app.setEngineFactory(&daub::makePipelineBackend);
    if (!app.start(parser.value(modelOption)))
        return 1;
    return qapp.exec();
}
