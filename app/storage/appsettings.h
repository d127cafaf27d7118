// The user's choices, persisted with QSettings: the model, the options
// panel, the composer's text, the save folder and the theme. Exposed to QML
// as the AppSettings singleton (the instance Application owns). Writes go
// straight through to QSettings, each property under its own name.
#pragma once

#include <QObject>
#include <QSettings>
#include <QStringList>
#include <QUrl>
#include <QVariantMap>
#include <QtQml/qqmlregistration.h>

#include <memory>

#include "metadata/image_parameters.h"

class QQmlEngine;
class QJSEngine;

namespace daub {

class AppSettings : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON
    /// The model to load at start: a diffusers folder or a .safetensors file.
    Q_PROPERTY(QString modelPath READ modelPath WRITE setModelPath NOTIFY modelPathChanged)
    /// Models used before, newest first (at most 8).
    Q_PROPERTY(QStringList recentModels READ recentModels WRITE setRecentModels NOTIFY recentModelsChanged)
    /// Image width; 0 = the model's default size.
    Q_PROPERTY(int width READ width WRITE setWidth NOTIFY widthChanged)
    /// Image height; 0 = the model's default size.
    Q_PROPERTY(int height READ height WRITE setHeight NOTIFY heightChanged)
    /// Denoising steps.
    Q_PROPERTY(int steps READ steps WRITE setSteps NOTIFY stepsChanged)
    /// Images per Send, 1..16 (seeds seed, seed+1, …).
    Q_PROPERTY(int batchCount READ batchCount WRITE setBatchCount NOTIFY batchCountChanged)
    /// Where the history (database and images) lives: $DAUB_DATA_DIR/history
    /// when that is set, else ~/.local/share/daub/history (the XDG data home).
    Q_PROPERTY(QString historyFolder READ historyFolder CONSTANT)
    /// Classifier-free guidance scale; <= 1 turns guidance off.
    Q_PROPERTY(double cfgScale READ cfgScale WRITE setCfgScale NOTIFY cfgScaleChanged)
    /// The seed shown in the options (the last one used, or the locked one).
    Q_PROPERTY(qint64 seed READ seed WRITE setSeed NOTIFY seedChanged)
    /// True: every job uses `seed`; false: a new random seed per job.
    Q_PROPERTY(bool seedLocked READ seedLocked WRITE setSeedLocked NOTIFY seedLockedChanged)
    /// Engine scheduler name; "" = the model's own.
    Q_PROPERTY(QString sampler READ sampler WRITE setSampler NOTIFY samplerChanged)
    /// A1111 meaning: 1 = last CLIP layer, 2 = penultimate.
    Q_PROPERTY(int clipSkip READ clipSkip WRITE setClipSkip NOTIFY clipSkipChanged)
    /// Upscale every result after decoding (needs upscalerPath).
    Q_PROPERTY(bool superResolution READ superResolution WRITE setSuperResolution NOTIFY superResolutionChanged)
    /// Upscale factor: 2 or 4.
    Q_PROPERTY(int superResolutionLevel READ superResolutionLevel WRITE setSuperResolutionLevel NOTIFY superResolutionLevelChanged)
    /// The super-resolution network (an RRDBNet / Real-ESRGAN .pth or
    /// .safetensors file); "" = none chosen.
    Q_PROPERTY(QString upscalerPath READ upscalerPath WRITE setUpscalerPath NOTIFY upscalerPathChanged)
    /// Upscale then refine (A1111's hires fix): img2img on the upscaled
    /// image with the same prompt and seed.
    Q_PROPERTY(bool refineUpscaled READ refineUpscaled WRITE setRefineUpscaled NOTIFY refineUpscaledChanged)
    /// Denoise strength of the refine pass, 0.01-1 (default 0.35).
    Q_PROPERTY(double refineStrength READ refineStrength WRITE setRefineStrength NOTIFY refineStrengthChanged)
    /// Img2img denoise strength, 0.01-1.
    Q_PROPERTY(double strength READ strength WRITE setStrength NOTIFY strengthChanged)
    /// How an init image meets the size: stretch, crop or fit.
    Q_PROPERTY(QString resizeMode READ resizeMode WRITE setResizeMode NOTIFY resizeModeChanged)
    /// The composer's text (kept across runs).
    Q_PROPERTY(QString prompt READ prompt WRITE setPrompt NOTIFY promptChanged)
    /// The composer's negative prompt.
    Q_PROPERTY(QString negativePrompt READ negativePrompt WRITE setNegativePrompt NOTIFY negativePromptChanged)
    /// The negative prompt field is open.
    Q_PROPERTY(bool negativeExpanded READ negativeExpanded WRITE setNegativeExpanded NOTIFY negativeExpandedChanged)
    /// Where Save puts PNGs.
    Q_PROPERTY(QString saveFolder READ saveFolder WRITE setSaveFolder NOTIFY saveFolderChanged)
    /// saveFolder as a file: URL (for dialogs and the file manager).
    Q_PROPERTY(QUrl saveFolderUrl READ saveFolderUrl NOTIFY saveFolderChanged)
    /// System, light or dark.
    Q_PROPERTY(QString theme READ theme WRITE setTheme NOTIFY themeChanged)
    /// True when the window should be dark: `theme`, or the system palette's.
    Q_PROPERTY(bool dark READ dark NOTIFY darkChanged)

public:
    /// Reads from `settings` (the application's QSettings when null). No
    /// default constructor on purpose: QML must take the instance create()
    /// returns, never make its own.
    explicit AppSettings(std::unique_ptr<QSettings> settings, QObject* parent = nullptr);
    ~AppSettings() override;

    /// The QML singleton: the instance set with setInstance() (C++ owns it).
    static AppSettings* create(QQmlEngine*, QJSEngine*);
    static void setInstance(AppSettings* instance);

    /// Pictures/Daub.
    static QString defaultSaveFolder();
    /// Puts `path` first in recentModels.
    Q_INVOKABLE void addRecentModel(const QString& path);
    Q_INVOKABLE void removeRecentModel(const QString& path);
    /// The separate VAE file chosen for the model at `modelPath`; "" = the
    /// model's own VAE. Remembered per model.
    Q_INVOKABLE QString vaeFor(const QString& modelPath) const;
    Q_INVOKABLE void setVaeFor(const QString& modelPath, const QString& vaePath);
    bool dark() const;
    void setSystemDark(bool dark);

    QString modelPath() const { return m_modelPath; }
    void setModelPath(const QString& value);
    QStringList recentModels() const { return m_recentModels; }
    void setRecentModels(const QStringList& value);
    int width() const { return m_width; }
    void setWidth(int value);
    int height() const { return m_height; }
    void setHeight(int value);
    int steps() const { return m_steps; }
    void setSteps(int value);
    int batchCount() const { return m_batchCount; }
    void setBatchCount(int value);
    QString historyFolder() const;
    double cfgScale() const { return m_cfgScale; }
    void setCfgScale(double value);
    qint64 seed() const { return m_seed; }
    void setSeed(qint64 value);
    bool seedLocked() const { return m_seedLocked; }
    void setSeedLocked(bool value);
    QString sampler() const { return m_sampler; }
    void setSampler(const QString& value);
    int clipSkip() const { return m_clipSkip; }
    void setClipSkip(int value);
    /// The options and the composer's text from an A1111 parameters text
    /// (its seed locked; sizes rounded down to multiples of 8).
    void applyParameters(const ImageParameters& p);
    bool superResolution() const { return m_superResolution; }
    void setSuperResolution(bool value);
    int superResolutionLevel() const { return m_superResolutionLevel; }
    void setSuperResolutionLevel(int value);
    QString upscalerPath() const { return m_upscalerPath; }
    void setUpscalerPath(const QString& value);
    bool refineUpscaled() const { return m_refineUpscaled; }
    void setRefineUpscaled(bool value);
    double refineStrength() const { return m_refineStrength; }
    void setRefineStrength(double value);
    double strength() const { return m_strength; }
    void setStrength(double value);
    QString resizeMode() const { return m_resizeMode; }
    void setResizeMode(const QString& value);
    QString prompt() const { return m_prompt; }
    void setPrompt(const QString& value);
    QString negativePrompt() const { return m_negativePrompt; }
    void setNegativePrompt(const QString& value);
    bool negativeExpanded() const { return m_negativeExpanded; }
    void setNegativeExpanded(bool value);
    QString saveFolder() const { return m_saveFolder; }
    QUrl saveFolderUrl() const { return QUrl::fromLocalFile(m_saveFolder); }
    void setSaveFolder(const QString& value);
    QString theme() const { return m_theme; }
    void setTheme(const QString& value);

Q_SIGNALS:
    void modelPathChanged();
    void recentModelsChanged();
    void widthChanged();
    void heightChanged();
    void stepsChanged();
    void batchCountChanged();
    void cfgScaleChanged();
    void seedChanged();
    void seedLockedChanged();
    void samplerChanged();
    void clipSkipChanged();
    void superResolutionChanged();
    void superResolutionLevelChanged();
    void upscalerPathChanged();
    void refineUpscaledChanged();
    void refineStrengthChanged();
    /// A model's VAE choice changed (setVaeFor).
    void vaeChanged(const QString& modelPath);
    void strengthChanged();
    void resizeModeChanged();
    void promptChanged();
    void negativePromptChanged();
    void negativeExpandedChanged();
    void saveFolderChanged();
    void themeChanged();
    void darkChanged();

private:
    std::unique_ptr<QSettings> m_settings;
    bool m_systemDark = false;
    QString m_modelPath;
    QStringList m_recentModels;
    int m_width;
    int m_height;
    int m_steps;
    int m_batchCount;
    double m_cfgScale;
    qint64 m_seed;
    bool m_seedLocked;
    QString m_sampler;
    int m_clipSkip;
    bool m_superResolution;
    int m_superResolutionLevel;
    QString m_upscalerPath;
    bool m_refineUpscaled;
    double m_refineStrength;
    QVariantMap m_vaes; ///< model path -> VAE file
    double m_strength;
    QString m_resizeMode;
    QString m_prompt;
    QString m_negativePrompt;
    bool m_negativeExpanded;
    QString m_saveFolder;
    QString m_theme;
};

} // namespace daub
