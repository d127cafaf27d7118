// Runs every tests/qml/tst_*.qml with the Daub.Ui and Daub.App modules.
// The assertions are the QML TestCases'. The runner itself fails loudly when
// the fixture image the QML tests load is missing, rather than let them run
// against an empty image.
#include <QtQml/qqmlextensionplugin.h>
#include <QtQuickTest/quicktest.h>
#include <QFileInfo>
#include <QQmlContext>
#include <QQmlEngine>
#include <QQuickStyle>

Q_IMPORT_QML_PLUGIN(Daub_AppPlugin)
Q_IMPORT_QML_PLUGIN(Daub_UiPlugin)

class Setup : public QObject {
    Q_OBJECT
public:
    Setup() { QQuickStyle::setStyle(QStringLiteral("Fusion")); }
    /// $DAUB_FIXTURES, else the CMake cache entry (as the C++ tests).
    static QString fixturesDir() {
        const QString env = qEnvironmentVariable("DAUB_FIXTURES");
        return env.isEmpty() ? QStringLiteral(DAUB_FIXTURES_DIR) : env;
    }
public Q_SLOTS:
    void qmlEngineAvailable(QQmlEngine* engine) {
        engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
        engine->rootContext()->setContextProperty(
            QStringLiteral("fixturesDir"), fixturesDir());
    }
};

int main(int argc, char** argv) {
    const QString image = Setup::fixturesDir() + QStringLiteral("/golden/init_64x64.png");
    if (!QFileInfo::exists(image)) {
        qCritical("tst_qml: %s is missing: the fixtures folder is not there (set DAUB_FIXTURES)",
                  qPrintable(image));
        return 1;
    }
    Setup setup;
    return quick_test_main_with_setup(argc, argv, "daub_qml", QUICK_TEST_SOURCE_DIR, &setup);
}
#include "tst_qml.moc"
