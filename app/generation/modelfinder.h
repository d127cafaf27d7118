// Finds Stable Diffusion models where people usually keep them, for the
// welcome panel: AUTOMATIC1111's models/Stable-diffusion, ComfyUI's
// models/checkpoints, the Hugging Face cache, and ~/.local/share/Daub/models.
// A model is a diffusers folder (model_index.json beside unet/) or a
// .safetensors / .ckpt file. Super-resolution networks (Real-ESRGAN .pth or
// .safetensors) are found the same way in A1111's models/ESRGAN and
// models/RealESRGAN, ComfyUI's models/upscale_models and
// ~/.local/share/Daub/upscalers. Plain functions; the controller runs them off the GUI
// thread.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>
#include <QVariantMap>

namespace daub {

struct FoundModel {
    QString name;     ///< what the list shows
    QString path;     ///< what load() takes
    QString location; ///< "AUTOMATIC1111", "ComfyUI", "Hugging Face cache", "Daub"
    qint64 bytes = 0; ///< file size, or the folder's weights
    QVariantMap toVariant() const;
};

class ModelFinder {
public:
    struct Place {
        QString label;
        QString folder;
        bool huggingFaceCache = false; ///< models--org--name/snapshots/<rev>/
    };
    enum class Kind { Model, Upscaler };
    /// The usual places under `home` (the user's home folder by default).
    static QList<Place> commonPlaces(const QString& home = {});
    /// The usual places of super-resolution networks under `home`.
    static QList<Place> commonUpscalerPlaces(const QString& home = {});
    /// Every model (or upscaler) in `places`, each at most once, sorted by name.
    static QList<FoundModel> find(const QList<Place>& places, Kind kind = Kind::Model);
    /// True when `path` looks like something Pipeline::load takes.
    static bool looksLikeModel(const QString& path);
    /// True when `path` looks like an upscaler file (.pth, .pt, .safetensors).
    static bool looksLikeUpscaler(const QString& path);
};

} // namespace daub
