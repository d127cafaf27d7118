#include "storage/appsettings.h"

#include <QDir>
#include <QGuiApplication>
#include <QJSEngine>
#include <QPalette>
#include <QStandardPaths>

#include <algorithm>

namespace daub {
namespace {
AppSettings* s_instance = nullptr;
} // namespace

AppSettings* AppSettings::create(QQmlEngine*, QJSEngine*) {
    Q_ASSERT_X(s_instance, "AppSettings::create", "no AppSettings instance was set");
    QJSEngine::setObjectOwnership(s_instance, QJSEngine::CppOwnership);
    return s_instance;
}

void AppSettings::setInstance(AppSettings* instance) { s_instance = instance; }

QString AppSettings::defaultSaveFolder() {
    QString pictures = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
    if (pictures.isEmpty())
        pictures = QDir::homePath() + QStringLiteral("/Pictures");
    return pictures + QStringLiteral("/Daub");
}

AppSettings::AppSettings(std::unique_ptr<QSettings> settings, QObject* parent)
    : QObject(parent), m_settings(settings ? std::move(settings) : std::make_unique<QSettings>()) {
    if (auto* app = qobject_cast<QGuiApplication*>(QCoreApplication::instance()))
        m_systemDark = app->palette().color(QPalette::Window).lightness() < 128;
    m_modelPath = m_settings->value(QStringLiteral("modelPath"), QVariant::fromValue(QString(QString()))).toString();
    m_recentModels = m_settings->value(QStringLiteral("recentModels"), QVariant::fromValue(QStringList(QStringList()))).toStringList();
    m_width = m_settings->value(QStringLiteral("width"), QVariant::fromValue(int(0))).toInt();
    m_height = m_settings->value(QStringLiteral("height"), QVariant::fromValue(int(0))).toInt();
    m_steps = m_settings->value(QStringLiteral("steps"), QVariant::fromValue(int(20))).toInt();
    m_batchCount = std::clamp(m_settings->value(QStringLiteral("batchCount"), 1).toInt(), 1, 16);
    m_cfgScale = m_settings->value(QStringLiteral("cfgScale"), QVariant::fromValue(double(7.0))).toDouble();
    m_seed = m_settings->value(QStringLiteral("seed"), QVariant::fromValue(qint64(-1))).toLongLong();
    m_seedLocked = m_settings->value(QStringLiteral("seedLocked"), QVariant::fromValue(bool(false))).toBool();
    m_sampler = m_settings->value(QStringLiteral("sampler"), QVariant::fromValue(QString(QString()))).toString();
    m_clipSkip = m_settings->value(QStringLiteral("clipSkip"), QVariant::fromValue(int(1))).toInt();
    m_superResolution = m_settings->value(QStringLiteral("superResolution"), QVariant::fromValue(bool(false))).toBool();
    m_superResolutionLevel = m_settings->value(QStringLiteral("superResolutionLevel"), QVariant::fromValue(int(2))).toInt();
    m_upscalerPath = m_settings->value(QStringLiteral("upscalerPath")).toString();
    m_refineUpscaled = m_settings->value(QStringLiteral("refineUpscaled"), false).toBool();
    m_refineStrength = std::clamp(
        m_settings->value(QStringLiteral("refineStrength"), 0.35).toDouble(), 0.01, 1.0);
    m_vaes = m_settings->value(QStringLiteral("modelVaes")).toMap();
    m_strength = m_settings->value(QStringLiteral("strength"), QVariant::fromValue(double(0.75))).toDouble();
    m_resizeMode = m_settings->value(QStringLiteral("resizeMode"), QVariant::fromValue(QString(QStringLiteral("stretch")))).toString();
    m_prompt = m_settings->value(QStringLiteral("prompt"), QVariant::fromValue(QString(QString()))).toString();
    m_negativePrompt = m_settings->value(QStringLiteral("negativePrompt"), QVariant::fromValue(QString(QString()))).toString();
    m_negativeExpanded = m_settings->value(QStringLiteral("negativeExpanded"), QVariant::fromValue(bool(false))).toBool();
    m_saveFolder = m_settings->value(QStringLiteral("saveFolder"), QVariant::fromValue(QString(defaultSaveFolder()))).toString();
    m_theme = m_settings->value(QStringLiteral("theme"), QVariant::fromValue(QString(QStringLiteral("system")))).toString();
}

AppSettings::~AppSettings() {
    if (s_instance == this)
        s_instance = nullptr;
}

bool AppSettings::dark() const {
    if (m_theme == u"dark")
        return true;
    if (m_theme == u"light")
        return false;
    return m_systemDark;
}

void AppSettings::setSystemDark(bool dark) {
    if (m_systemDark == dark)
        return;
    m_systemDark = dark;
    Q_EMIT darkChanged();
}

void AppSettings::addRecentModel(const QString& path) {
    if (path.isEmpty())
        return;
    QStringList recent = m_recentModels;
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > 8)
        recent.removeLast();
    setRecentModels(recent);
}

void AppSettings::removeRecentModel(const QString& path) {
    QStringList recent = m_recentModels;
    if (recent.removeAll(path))
        setRecentModels(recent);
}

void AppSettings::setModelPath(const QString& value) {
    if (m_modelPath == value)
        return;
    m_modelPath = value;
    m_settings->setValue(QStringLiteral("modelPath"), QVariant::fromValue(value));
    Q_EMIT modelPathChanged();
}

void AppSettings::setRecentModels(const QStringList& value) {
    if (m_recentModels == value)
        return;
    m_recentModels = value;
    m_settings->setValue(QStringLiteral("recentModels"), QVariant::fromValue(value));
    Q_EMIT recentModelsChanged();
}

void AppSettings::setWidth(int value) {
    if (m_width == value)
        return;
    m_width = value;
    m_settings->setValue(QStringLiteral("width"), QVariant::fromValue(value));
    Q_EMIT widthChanged();
}

void AppSettings::setHeight(int value) {
    if (m_height == value)
        return;
    m_height = value;
    m_settings->setValue(QStringLiteral("height"), QVariant::fromValue(value));
    Q_EMIT heightChanged();
}

void AppSettings::setBatchCount(int value) {
    value = std::clamp(value, 1, 16);
    if (m_batchCount == value)
        return;
    m_batchCount = value;
    m_settings->setValue(QStringLiteral("batchCount"), value);
    Q_EMIT batchCountChanged();
}

QString AppSettings::historyFolder() const {
    const QString data = qEnvironmentVariable("DAUB_DATA_DIR");
    // ~/.local/share/daub (AppDataLocation would nest organisation and
    // application: ~/.local/share/Daub/Daub).
    const QString base =
        data.isEmpty() ? QDir(QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation))
                             .filePath(QStringLiteral("daub"))
                       : data;
    return QDir(base).filePath(QStringLiteral("history"));
}

void AppSettings::setSteps(int value) {
    if (m_steps == value)
        return;
    m_steps = value;
    m_settings->setValue(QStringLiteral("steps"), QVariant::fromValue(value));
    Q_EMIT stepsChanged();
}

void AppSettings::setCfgScale(double value) {
    if (m_cfgScale == value)
        return;
    m_cfgScale = value;
    m_settings->setValue(QStringLiteral("cfgScale"), QVariant::fromValue(value));
    Q_EMIT cfgScaleChanged();
}

void AppSettings::setSeed(qint64 value) {
    if (m_seed == value)
        return;
    m_seed = value;
    m_settings->setValue(QStringLiteral("seed"), QVariant::fromValue(value));
    Q_EMIT seedChanged();
}

void AppSettings::setSeedLocked(bool value) {
    if (m_seedLocked == value)
        return;
    m_seedLocked = value;
    m_settings->setValue(QStringLiteral("seedLocked"), QVariant::fromValue(value));
    Q_EMIT seedLockedChanged();
}

void AppSettings::setSampler(const QString& value) {
    if (m_sampler == value)
        return;
    m_sampler = value;
    m_settings->setValue(QStringLiteral("sampler"), QVariant::fromValue(value));
    Q_EMIT samplerChanged();
}

void AppSettings::applyParameters(const ImageParameters& p) {
    const QString negative = QString::fromStdString(p.negative_prompt);
    setPrompt(QString::fromStdString(p.prompt));
    setNegativePrompt(negative);
    if (!negative.isEmpty())
        setNegativeExpanded(true);
    if (p.steps > 0)
        setSteps(p.steps);
    setCfgScale(p.cfg_scale);
    if (p.seed >= 0) {
        setSeed(p.seed);
        setSeedLocked(true);
    }
    if (!p.scheduler.empty())
        setSampler(QString::fromStdString(p.scheduler));
    if (p.width > 0 && p.height > 0) {
        setWidth(p.width / 8 * 8);
        setHeight(p.height / 8 * 8);
    }
    setClipSkip(p.clip_skip);
    if (p.denoising_strength)
        setStrength(std::clamp(*p.denoising_strength, 0.01, 1.0));
}

void AppSettings::setClipSkip(int value) {
    if (m_clipSkip == value)
        return;
    m_clipSkip = value;
    m_settings->setValue(QStringLiteral("clipSkip"), QVariant::fromValue(value));
    Q_EMIT clipSkipChanged();
}

void AppSettings::setSuperResolution(bool value) {
    if (m_superResolution == value)
        return;
    m_superResolution = value;
    m_settings->setValue(QStringLiteral("superResolution"), QVariant::fromValue(value));
    Q_EMIT superResolutionChanged();
}

void AppSettings::setSuperResolutionLevel(int value) {
    if (m_superResolutionLevel == value)
        return;
    m_superResolutionLevel = value;
    m_settings->setValue(QStringLiteral("superResolutionLevel"), QVariant::fromValue(value));
    Q_EMIT superResolutionLevelChanged();
}

void AppSettings::setUpscalerPath(const QString& value) {
    if (m_upscalerPath == value)
        return;
    m_upscalerPath = value;
    m_settings->setValue(QStringLiteral("upscalerPath"), value);
    Q_EMIT upscalerPathChanged();
}

void AppSettings::setRefineUpscaled(bool value) {
    if (m_refineUpscaled == value)
        return;
    m_refineUpscaled = value;
    m_settings->setValue(QStringLiteral("refineUpscaled"), value);
    Q_EMIT refineUpscaledChanged();
}

void AppSettings::setRefineStrength(double value) {
    value = std::clamp(value, 0.01, 1.0);
    if (m_refineStrength == value)
        return;
    m_refineStrength = value;
    m_settings->setValue(QStringLiteral("refineStrength"), value);
    Q_EMIT refineStrengthChanged();
}

QString AppSettings::vaeFor(const QString& modelPath) const {
    return m_vaes.value(modelPath).toString();
}

void AppSettings::setVaeFor(const QString& modelPath, const QString& vaePath) {
    if (modelPath.isEmpty() || vaeFor(modelPath) == vaePath)
        return;
    if (vaePath.isEmpty())
        m_vaes.remove(modelPath);
    else
        m_vaes.insert(modelPath, vaePath);
    m_settings->setValue(QStringLiteral("modelVaes"), m_vaes);
    Q_EMIT vaeChanged(modelPath);
}

void AppSettings::setStrength(double value) {
    if (m_strength == value)
        return;
    m_strength = value;
    m_settings->setValue(QStringLiteral("strength"), QVariant::fromValue(value));
    Q_EMIT strengthChanged();
}

void AppSettings::setResizeMode(const QString& value) {
    if (m_resizeMode == value)
        return;
    m_resizeMode = value;
    m_settings->setValue(QStringLiteral("resizeMode"), QVariant::fromValue(value));
    Q_EMIT resizeModeChanged();
}

void AppSettings::setPrompt(const QString& value) {
    if (m_prompt == value)
        return;
    m_prompt = value;
    m_settings->setValue(QStringLiteral("prompt"), QVariant::fromValue(value));
    Q_EMIT promptChanged();
}

void AppSettings::setNegativePrompt(const QString& value) {
    if (m_negativePrompt == value)
        return;
    m_negativePrompt = value;
    m_settings->setValue(QStringLiteral("negativePrompt"), QVariant::fromValue(value));
    Q_EMIT negativePromptChanged();
}

void AppSettings::setNegativeExpanded(bool value) {
    if (m_negativeExpanded == value)
        return;
    m_negativeExpanded = value;
    m_settings->setValue(QStringLiteral("negativeExpanded"), QVariant::fromValue(value));
    Q_EMIT negativeExpandedChanged();
}

void AppSettings::setSaveFolder(const QString& value) {
    if (m_saveFolder == value)
        return;
    m_saveFolder = value;
    m_settings->setValue(QStringLiteral("saveFolder"), QVariant::fromValue(value));
    Q_EMIT saveFolderChanged();
}

void AppSettings::setTheme(const QString& value) {
    if (m_theme == value)
        return;
    m_theme = value;
    m_settings->setValue(QStringLiteral("theme"), QVariant::fromValue(value));
    Q_EMIT themeChanged();
    Q_EMIT darkChanged();
}

} // namespace daub
