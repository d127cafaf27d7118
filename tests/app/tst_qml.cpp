// Runs every tests/qml/tst_*.qml with the Daub.Ui and Daub.App modules.
#include <QtQml/qqmlextensionplugin.h>
#include <QtQuickTest/quicktest.h>
#include <QQmlContext>
#include <QQmlEngine>
#include <QQuickStyle>

Q_IMPORT_QML_PLUGIN(Daub_AppPlugin)
Q_IMPORT_QML_PLUGIN(Daub_UiPlugin)

class Setup : public QObject {
    Q_OBJECT
public:
    Setup() { QQuickStyle::setStyle(QStringLiteral("Fusion")); }
public Q_SLOTS:
    void qmlEngineAvailable(QQmlEngine* engine) {
        engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
        engine->rootContext()->setContextProperty(
            QStringLiteral("fixturesDir"), QStringLiteral(DAUB_FIXTURES_DIR));
    }
};

QUICK_TEST_MAIN_WITH_SETUP(daub_qml, Setup)
#include "tst_qml.moc"
