// The API's request bodies read into what Daub runs, and its answers'
// JSON, with no network in sight (the server, the tests and the fuzz
// target all call these). The shapes are AUTOMATIC1111's /sdapi/v1
// (modules/api/models.py): unknown fields are accepted and ignored, a
// value Daub cannot honour is refused with a sentence saying why, and
// nothing in a request names a path: models, VAEs and upscalers are picked
// by name among those Daub found (ApiChoices).
#pragma once

#include "generation/jobplan.h"

#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>
#include <variant>

namespace daub::api {

/// The largest request body, and so the largest base64 image in one.
constexpr qsizetype kMaxBodyBytes = 64 * 1024 * 1024;
/// batch_size × n_iter of one request.
constexpr int kMaxImagesPerRequest = 16;
constexpr int kMaxSteps = 150;
constexpr int kMinSide = 64;
constexpr int kMaxSide = 2048;

/// A refusal as A1111 sends it: the HTTP status and {error, detail, body,
/// errors}; `detail` is the sentence a user can act on.
struct Failure {
    int status = 422;
    QString error;  ///< "HTTPException", "ValidationError", …
    QString detail;

    QJsonObject toJson() const;
};

/// Something Daub found on disk, offered by name.
struct Choice {
    QString name;  ///< what a client picks it by (A1111's title / model_name)
    QString path;  ///< what Daub loads; never from a request
    int scale = 0; ///< upscalers: 2 or 4
};

/// What a request may choose from, and the defaults it gets.
struct ApiChoices {
    QList<Choice> models;
    QList<Choice> vaes;
    QList<Choice> upscalers;
    QString currentModelPath; ///< the model loaded (or loading) now
    int clipSkip = 1;         ///< the options' CLIP_stop_at_last_layers
};

/// A value from a request as a refusal may quote it: printable, at most 80
/// characters.
QString shown(const QString& value);

/// A model's A1111 names: title "file.safetensors" and model_name "file".
QString modelTitle(const QString& path);
QString modelName(const QString& path);
/// The model `name` designates (a title, a model_name, with or without a
/// " [hash]" suffix), or nullptr.
const Choice* findModel(const ApiChoices& choices, const QString& name);
const Choice* findUpscaler(const ApiChoices& choices, const QString& name);

/// A txt2img or img2img request, read.
struct GenerateRequest {
    JobRecipe recipe;    ///< origin "api"; seed -1 when the request wants a random one
    int count = 1;       ///< batch_size × n_iter images, seeds seed, seed+1, …
    QByteArray initPng;  ///< img2img: init_images[0]'s decoded bytes (any format)
    QString modelPath;   ///< override_settings.sd_model_checkpoint ("" = the current one)
    std::optional<QString> vaePath; ///< override_settings.sd_vae ("" = the model's own)
    QJsonObject echo;    ///< the request as given: the answer's `parameters`
};

/// Reads a txt2img (img2img false) or img2img body.
std::variant<GenerateRequest, Failure> parseGenerate(const QByteArray& body, bool img2img,
                                                     const ApiChoices& choices);

/// An image in a request: plain base64 or a data: URL, at most `limit`
/// decoded bytes. nullopt with `why` set otherwise.
std::optional<QByteArray> decodeImageField(const QJsonValue& value, const QString& field,
                                           qsizetype limit, QString* why);

/// The body as a JSON object, or the 422 a malformed one gets.
std::variant<QJsonObject, Failure> parseObject(const QByteArray& body);

/// extra-single-image: the image and the upscaler it names.
struct UpscaleImage {
    QByteArray image;
    QString upscalerPath;
    int level = 2;
};
std::variant<UpscaleImage, Failure> parseUpscale(const QByteArray& body,
                                                   const ApiChoices& choices);

/// One finished image of a request.
struct Produced {
    QByteArray png;
    QString parameters; ///< its A1111 infotext
    qint64 seed = 0;
};

/// The answer's `info`: A1111's JSON string (prompt, seed, all_seeds,
/// infotexts, …) for a request and the images it produced.
QString infoText(const GenerateRequest& request, const QList<Produced>& images,
                 const QString& modelName, const QString& samplerLabel, const QDateTime& when);

} // namespace daub::api
