#include "generation/modelfinder.h"

#include <QDir>
#include <QDirIterator>
#include <QFileInfo>
#include <QSet>
#include <QStandardPaths>

#include <algorithm>

namespace daub {
namespace {

bool isDiffusersFolder(const QDir& dir) {
    return dir.exists(QStringLiteral("model_index.json")) && dir.exists(QStringLiteral("unet"));
}

qint64 folderBytes(const QString& path) {
    qint64 total = 0;
    QDirIterator it(path, {QStringLiteral("*.safetensors")}, QDir::Files,
                    QDirIterator::Subdirectories);
    while (it.hasNext()) {
        it.next();
        total += it.fileInfo().size();
    }
    return total;
}

bool hasSuffix(const QFileInfo& info, std::initializer_list<QString> suffixes) {
    for (const QString& suffix : suffixes)
        if (info.suffix().compare(suffix, Qt::CaseInsensitive) == 0)
            return true;
    return false;
}

} // namespace

QVariantMap FoundModel::toVariant() const {
    return {{QStringLiteral("name"), name},
            {QStringLiteral("path"), path},
            {QStringLiteral("location"), location},
            {QStringLiteral("bytes"), bytes}};
}

bool ModelFinder::looksLikeModel(const QString& path) {
    const QFileInfo info(path);
    if (info.isFile())
        return hasSuffix(info, {QStringLiteral("safetensors"), QStringLiteral("ckpt")});
    return info.isDir() && isDiffusersFolder(QDir(path));
}

bool ModelFinder::looksLikeUpscaler(const QString& path) {
    const QFileInfo info(path);
    return info.isFile() && hasSuffix(info, {QStringLiteral("pth"), QStringLiteral("pt"),
                                             QStringLiteral("safetensors")});
}

QList<ModelFinder::Place> ModelFinder::commonPlaces(const QString& homeFolder) {
    const QString home = homeFolder.isEmpty() ? QDir::homePath() : homeFolder;
    QList<Place> places;
    for (const QString& webui : {QStringLiteral("stable-diffusion-webui"),
                                 QStringLiteral("stable-diffusion-webui-forge"),
                                 QStringLiteral("sd.webui/webui")})
        places << Place{QStringLiteral("AUTOMATIC1111"),
                        home + u'/' + webui + QStringLiteral("/models/Stable-diffusion")};
    places << Place{QStringLiteral("ComfyUI"), home + QStringLiteral("/ComfyUI/models/checkpoints")};
    QString hfHub = qEnvironmentVariable("HF_HUB_CACHE");
    if (hfHub.isEmpty() && qEnvironmentVariableIsSet("HF_HOME"))
        hfHub = qEnvironmentVariable("HF_HOME") + QStringLiteral("/hub");
    if (hfHub.isEmpty() || !homeFolder.isEmpty())
        hfHub = home + QStringLiteral("/.cache/huggingface/hub");
    places << Place{QStringLiteral("Hugging Face cache"), hfHub, true};
    places << Place{QStringLiteral("Daub"), home + QStringLiteral("/.local/share/Daub/models")};
    return places;
}

QList<ModelFinder::Place> ModelFinder::commonUpscalerPlaces(const QString& homeFolder) {
    const QString home = homeFolder.isEmpty() ? QDir::homePath() : homeFolder;
    QList<Place> places;
    for (const QString& webui : {QStringLiteral("stable-diffusion-webui"),
                                 QStringLiteral("stable-diffusion-webui-forge"),
                                 QStringLiteral("sd.webui/webui")})
        for (const QString& folder : {QStringLiteral("ESRGAN"), QStringLiteral("RealESRGAN")})
            places << Place{QStringLiteral("AUTOMATIC1111"),
                            home + u'/' + webui + QStringLiteral("/models/") + folder};
    places << Place{QStringLiteral("ComfyUI"),
                    home + QStringLiteral("/ComfyUI/models/upscale_models")};
    places << Place{QStringLiteral("Daub"), home + QStringLiteral("/.local/share/Daub/upscalers")};
    return places;
}

QList<FoundModel> ModelFinder::find(const QList<Place>& places, Kind kind) {
    const auto looksLike = kind == Kind::Model ? &looksLikeModel : &looksLikeUpscaler;
    QList<FoundModel> found;
    QSet<QString> seen;
    auto add = [&](const QString& path, const QString& name, const QString& location) {
        const QString canonical = QFileInfo(path).canonicalFilePath();
        if (canonical.isEmpty() || seen.contains(canonical))
            return;
        seen.insert(canonical);
        const QFileInfo info(canonical);
        found << FoundModel{name, path, location,
                            info.isFile() ? info.size() : folderBytes(canonical)};
    };
    for (const Place& place : places) {
        const QDir root(place.folder);
        if (!root.exists())
            continue;
        if (place.huggingFaceCache && kind == Kind::Model) {
            // models--org--name/snapshots/<revision>/model_index.json
            for (const QString& repo :
                 root.entryList({QStringLiteral("models--*")}, QDir::Dirs | QDir::NoDotAndDotDot)) {
                const QDir snapshots(root.filePath(repo + QStringLiteral("/snapshots")));
                const QStringList revisions =
                    snapshots.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Time);
                for (const QString& revision : revisions) {
                    const QDir snapshot(snapshots.filePath(revision));
                    if (isDiffusersFolder(snapshot)) {
                        QString name = repo.mid(8);
                        name.replace(QStringLiteral("--"), QStringLiteral("/"));
                        add(snapshot.absolutePath(), name, place.label);
                        break; // the newest revision only
                    }
                }
            }
            continue;
        }
        // Single files and diffusers folders, one level of sub-folders deep.
        QDirIterator it(place.folder, QDir::Files | QDir::Dirs | QDir::NoDotAndDotDot,
                        QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QString path = it.next();
            const QString relative = root.relativeFilePath(path);
            if (relative.count(u'/') > 1)
                continue;
            const QFileInfo info = it.fileInfo();
            if (info.isFile() && looksLike(path))
                add(path, info.completeBaseName(), place.label);
            else if (kind == Kind::Model && info.isDir() && isDiffusersFolder(QDir(path)))
                add(path, info.fileName(), place.label);
        }
    }
    std::sort(found.begin(), found.end(), [](const FoundModel& a, const FoundModel& b) {
        return a.name.compare(b.name, Qt::CaseInsensitive) < 0;
    });
    return found;
}

} // namespace daub
