#include "server/apirequest.h"

#include "metadata/image_parameters.h"

#include <QDateTime>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QRegularExpression>

#include <cmath>

namespace daub::api {
namespace {

Failure invalid(const QString& detail) {
    return {422, QStringLiteral("ValidationError"), detail};
}

/// Reads fields of a request object; the first problem is kept and every
/// later read returns its default.
class Fields {
public:
    explicit Fields(const QJsonObject& object) : m_object(object) {}

    std::optional<Failure> failure;

    bool has(const char* key) const {
        const QJsonValue v = m_object.value(QLatin1String(key));
        return !v.isUndefined() && !v.isNull();
    }

    /// A number (or a string holding one, as pydantic accepts).
    std::optional<double> number(const char* key) {
        const auto v = given(key, [](const QJsonValue& v) { return v.isDouble() || v.isString(); },
                             "a number");
        if (!v)
            return std::nullopt;
        bool ok = v->isDouble();
        const double value = ok ? v->toDouble() : v->toString().trimmed().toDouble(&ok);
        if (!ok || !std::isfinite(value)) {
            refuse(key, "a number");
            return std::nullopt;
        }
        return value;
    }

    double real(const char* key, double fallback, double min, double max) {
        const auto value = number(key);
        if (!value)
            return fallback;
        if (*value < min || *value > max) {
            failure = invalid(QStringLiteral("%1 must be between %2 and %3; it was %4.")
                                  .arg(QLatin1String(key))
                                  .arg(min)
                                  .arg(max)
                                  .arg(*value));
            return fallback;
        }
        return *value;
    }

    qint64 integer(const char* key, qint64 fallback, qint64 min, qint64 max) {
        const auto value = number(key);
        if (!value)
            return fallback;
        if (*value != std::floor(*value)) {
            refuse(key, "a whole number");
            return fallback;
        }
        return qint64(real(key, double(fallback), double(min), double(max)));
    }

    QString text(const char* key, const QString& fallback = {}) {
        const auto v = given(key, [](const QJsonValue& v) { return v.isString(); }, "a string");
        return v ? v->toString() : fallback;
    }

    bool flag(const char* key, bool fallback = false) {
        const auto v = given(key, [](const QJsonValue& v) { return v.isBool(); }, "true or false");
        return v ? v->toBool() : fallback;
    }

private:
    /// The value of `key` when it is there (not null) and of the right
    /// kind; a refusal when it is of another kind.
    template <typename Kind>
    std::optional<QJsonValue> given(const char* key, Kind rightKind, const char* what) {
        const QJsonValue v = m_object.value(QLatin1String(key));
        if (v.isUndefined() || v.isNull() || failure)
            return std::nullopt;
        if (!rightKind(v)) {
            refuse(key, what);
            return std::nullopt;
        }
        return v;
    }
    void refuse(const char* key, const char* what) {
        failure = invalid(QStringLiteral("%1 must be %2.").arg(QLatin1String(key), QLatin1String(what)));
    }

private:
    const QJsonObject& m_object;
};

} // namespace

QString shown(const QString& value) {
    QString out;
    for (const QChar c : value.left(80))
        out += c.isPrint() ? c : QChar(u' ');
    return value.size() > 80 ? out + QStringLiteral("…") : out;
}

namespace {

/// "name [hash]" → "name".
QString withoutHash(const QString& name) {
    static const QRegularExpression hash(QStringLiteral("\\s*\\[[0-9a-fA-F]{8,64}\\]$"));
    return QString(name).remove(hash).trimmed();
}

QString namesOf(const QList<Choice>& list) {
    QStringList names;
    for (const Choice& c : list)
        names << shown(c.name);
    return names.isEmpty() ? QStringLiteral("none") : names.join(QStringLiteral(", "));
}

/// The sampler a request names (sampler_name, else sampler_index, with
/// A1111 1.9's separate scheduler): Daub's scheduler name.
std::optional<QString> samplerOf(Fields& f) {
    QString label = f.text("sampler_name");
    if (label.isEmpty())
        label = f.text("sampler_index", QStringLiteral("Euler"));
    QString schedule = f.text("scheduler");
    if (schedule.compare(QLatin1String("automatic"), Qt::CaseInsensitive) == 0)
        schedule.clear();
    const std::string found =
        scheduler_from_label(label.toStdString(), schedule.toStdString());
    if (found.empty())
        return std::nullopt;
    return QString::fromStdString(found);
}

QString samplerList() {
    QStringList labels;
    for (const SamplerName& s : sampler_names())
        labels << QString::fromUtf8(s.label);
    return labels.join(QStringLiteral(", "));
}

} // namespace

QJsonObject Failure::toJson() const {
    return {{QStringLiteral("error"), error},
            {QStringLiteral("detail"), detail},
            {QStringLiteral("body"), QString()},
            {QStringLiteral("errors"), detail}};
}

QString modelTitle(const QString& path) {
    return QFileInfo(path).fileName();
}

QString modelName(const QString& path) {
    const QFileInfo info(path);
    return info.isDir() ? info.fileName() : info.completeBaseName();
}

const Choice* findModel(const ApiChoices& choices, const QString& name) {
    const QString bare = withoutHash(name);
    // A title first ("x.safetensors", a folder's name), then a model_name
    // ("x"), which a file and a folder may share.
    for (const Choice& c : choices.models)
        if (c.name == bare || modelTitle(c.path) == bare)
            return &c;
    for (const Choice& c : choices.models)
        if (modelName(c.path) == bare)
            return &c;
    return nullptr;
}

const Choice* findUpscaler(const ApiChoices& choices, const QString& name) {
    for (const Choice& c : choices.upscalers)
        if (c.name.compare(name, Qt::CaseInsensitive) == 0 ||
            modelName(c.path).compare(name, Qt::CaseInsensitive) == 0)
            return &c;
    return nullptr;
}

std::variant<QJsonObject, Failure> parseObject(const QByteArray& body) {
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
    if (error.error != QJsonParseError::NoError)
        return invalid(QStringLiteral("The request body is not valid JSON (%1 at byte %2).")
                           .arg(error.errorString())
                           .arg(error.offset));
    if (!doc.isObject())
        return invalid(QStringLiteral("The request body must be a JSON object."));
    return doc.object();
}

std::optional<QByteArray> decodeImageField(const QJsonValue& value, const QString& field,
                                           qsizetype limit, QString* why) {
    auto fail = [&](const QString& sentence) {
        if (why)
            *why = sentence;
        return std::nullopt;
    };
    if (!value.isString() || value.toString().isEmpty())
        return fail(QStringLiteral("%1 must be an image as a base64 string.").arg(field));
    const QString whole = value.toString();
    QStringView text = whole;
    if (text.startsWith(u"data:")) { // data:image/png;base64,....
        const qsizetype comma = text.indexOf(u',');
        if (comma < 0 || !text.left(comma).endsWith(u";base64"))
            return fail(QStringLiteral("%1 is a data: URL that is not base64.").arg(field));
        text = text.mid(comma + 1);
    } else if (text.startsWith(u"http:") || text.startsWith(u"https:") ||
               text.startsWith(u"file:")) {
        return fail(QStringLiteral("%1 must hold the image itself as base64; Daub never fetches "
                                   "a URL from a request.")
                        .arg(field));
    }
    // Decoded size is at most 3/4 of the text: refuse before decoding.
    if (text.size() / 4 * 3 > limit)
        return fail(QStringLiteral("%1 is larger than %2 MB.").arg(field).arg(limit >> 20));
    const auto decoded = QByteArray::fromBase64Encoding(
        text.toLatin1(), QByteArray::Base64Encoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded || decoded.decoded.isEmpty())
        return fail(QStringLiteral("%1 is not valid base64.").arg(field));
    return decoded.decoded;
}

std::variant<GenerateRequest, Failure> parseGenerate(const QByteArray& body, bool img2img,
                                                     const ApiChoices& choices) {
    auto parsed = parseObject(body);
    if (auto* failure = std::get_if<Failure>(&parsed))
        return *failure;
    const QJsonObject& object = std::get<QJsonObject>(parsed);
    Fields f(object);
    GenerateRequest out;
    JobRecipe& r = out.recipe;
    r.origin = QStringLiteral("api");
    r.prompt = f.text("prompt");
    r.negativePrompt = f.text("negative_prompt");
    r.hasNegativePrompt = !r.negativePrompt.isEmpty();
    // A1111 rounds sizes down to multiples of 8.
    r.width = int(f.integer("width", 512, kMinSide, kMaxSide)) / 8 * 8;
    r.height = int(f.integer("height", 512, kMinSide, kMaxSide)) / 8 * 8;
    r.steps = int(f.integer("steps", 50, 1, kMaxSteps));
    r.cfgScale = f.real("cfg_scale", 7.0, 0.0, 30.0);
    r.seed = f.integer("seed", -1, -1, qint64(1) << 53);
    const int batchSize = int(f.integer("batch_size", 1, 1, kMaxImagesPerRequest));
    const int iterations = int(f.integer("n_iter", 1, 1, kMaxImagesPerRequest));
    const auto sampler = samplerOf(f);
    if (f.failure)
        return *f.failure;
    if (!sampler)
        return Failure{404, QStringLiteral("HTTPException"),
                       QStringLiteral("Sampler not found: Daub has %1.").arg(samplerList())};
    r.sampler = *sampler;
    out.count = batchSize * iterations;
    if (out.count > kMaxImagesPerRequest)
        return invalid(QStringLiteral("batch_size × n_iter is %1; at most %2 images per request.")
                           .arg(out.count)
                           .arg(kMaxImagesPerRequest));

    // override_settings: the model, CLIP skip and the VAE for this request.
    r.clipSkip = choices.clipSkip;
    out.modelPath = choices.currentModelPath;
    const QJsonValue overrides = object.value(QLatin1String("override_settings"));
    if (overrides.isObject()) {
        const QJsonObject o = overrides.toObject();
        Fields of(o);
        const QString model = of.text("sd_model_checkpoint");
        if (!model.isEmpty()) {
            const Choice* found = findModel(choices, model);
            if (!found)
                return invalid(QStringLiteral("No model named \"%1\"; Daub found: %2.")
                                   .arg(shown(model), namesOf(choices.models)));
            out.modelPath = found->path;
        }
        r.clipSkip = int(of.integer("CLIP_stop_at_last_layers", r.clipSkip, 1, 12));
        if (of.has("sd_vae")) {
            const QString vae = of.text("sd_vae");
            if (vae.isEmpty() || vae == u"Automatic" || vae == u"None") {
                out.vaePath = QString();
            } else {
                const auto it = std::find_if(choices.vaes.cbegin(), choices.vaes.cend(),
                                             [&](const Choice& c) { return c.name == vae; });
                if (it == choices.vaes.cend())
                    return invalid(QStringLiteral("No VAE named \"%1\"; Daub found: %2.")
                                       .arg(shown(vae), namesOf(choices.vaes)));
                out.vaePath = it->path;
            }
        }
        if (of.failure)
            return *of.failure;
    } else if (!overrides.isUndefined() && !overrides.isNull()) {
        return invalid(QStringLiteral("override_settings must be an object."));
    }
    r.modelName = modelName(out.modelPath);

    // The refine (A1111's hires fix): Real-ESRGAN, then img2img.
    if (f.flag("enable_hr")) {
        const QString name = f.text("hr_upscaler");
        const Choice* upscaler = findUpscaler(choices, name);
        if (!upscaler)
            return invalid(QStringLiteral("hr_upscaler \"%1\" is not one Daub has; it upscales with "
                                          "the Real-ESRGAN models it found: %2.")
                               .arg(shown(name), namesOf(choices.upscalers)));
        const double scale = f.real("hr_scale", 2.0, 1.0, 4.0);
        if (scale != 2.0 && scale != 4.0)
            return invalid(QStringLiteral("hr_scale must be 2 or 4; it was %1.").arg(scale));
        r.upscale.upscalerPath = upscaler->path;
        r.upscale.level = int(scale);
        const double refine = f.real("denoising_strength", 0.7, 0.0, 1.0);
        if (refine > 0 && !img2img)
            r.upscale.refineStrength = refine;
        if (img2img) {
            const double hr = f.real("hr_denoising_strength", 0.0, 0.0, 1.0);
            if (hr > 0)
                r.upscale.refineStrength = hr;
        }
    }

    if (img2img) {
        const QJsonValue images = object.value(QLatin1String("init_images"));
        if (!images.isArray() || images.toArray().isEmpty())
            return invalid(QStringLiteral("init_images must hold the image to start from."));
        QString why;
        const auto png =
            decodeImageField(images.toArray().at(0), QStringLiteral("init_images[0]"),
                             kMaxBodyBytes, &why);
        if (!png)
            return invalid(why);
        out.initPng = *png;
        const QJsonValue mask = object.value(QLatin1String("mask"));
        if (mask.isString() && !mask.toString().isEmpty())
            return invalid(QStringLiteral("Daub cannot inpaint yet; send the request without a "
                                          "mask."));
        r.strength = f.real("denoising_strength", 0.75, 0.01, 1.0);
        switch (f.integer("resize_mode", 0, 0, 3)) {
        case 1:
            r.resizeMode = QStringLiteral("crop");
            break;
        case 2:
            r.resizeMode = QStringLiteral("fit");
            break;
        default:
            r.resizeMode = QStringLiteral("stretch");
        }
    }
    if (f.failure)
        return *f.failure;

    out.echo = object;
    out.echo.remove(QStringLiteral("init_images"));
    out.echo.remove(QStringLiteral("mask"));
    return out;
}

std::variant<UpscaleImage, Failure> parseUpscale(const QByteArray& body,
                                                   const ApiChoices& choices) {
    auto parsed = parseObject(body);
    if (auto* failure = std::get_if<Failure>(&parsed))
        return *failure;
    const QJsonObject& object = std::get<QJsonObject>(parsed);
    Fields f(object);
    UpscaleImage out;
    QString why;
    const auto image = decodeImageField(object.value(QLatin1String("image")),
                                        QStringLiteral("image"), kMaxBodyBytes, &why);
    if (!image)
        return invalid(why);
    out.image = *image;
    const QString name = f.text("upscaler_1");
    const double level = f.real("upscaling_resize", 2.0, 1.0, 4.0);
    if (f.failure)
        return *f.failure;
    const Choice* upscaler = findUpscaler(choices, name);
    if (!upscaler)
        return invalid(QStringLiteral("upscaler_1 \"%1\" is not one Daub has; it found: %2.")
                           .arg(shown(name), namesOf(choices.upscalers)));
    if (level != 2.0 && level != 4.0)
        return invalid(QStringLiteral("upscaling_resize must be 2 or 4; it was %1.").arg(level));
    out.upscalerPath = upscaler->path;
    out.level = int(level);
    return out;
}

QString infoText(const GenerateRequest& request, const QList<Produced>& images,
                 const QString& modelName, const QString& samplerLabel, const QDateTime& when) {
    const JobRecipe& r = request.recipe;
    QJsonArray seeds, prompts, negatives, subseeds, infotexts;
    for (const Produced& p : images) {
        seeds << double(p.seed);
        prompts << r.prompt;
        negatives << r.negativePrompt;
        subseeds << -1;
        infotexts << p.parameters;
    }
    const QJsonValue strength = r.isImg2Img()               ? QJsonValue(r.strength)
                                : r.upscale.refineStrength ? QJsonValue(*r.upscale.refineStrength)
                                                           : QJsonValue(QJsonValue::Null);
    QJsonObject info{
        {QStringLiteral("prompt"), r.prompt},
        {QStringLiteral("all_prompts"), prompts},
        {QStringLiteral("negative_prompt"), r.negativePrompt},
        {QStringLiteral("all_negative_prompts"), negatives},
        {QStringLiteral("seed"), images.isEmpty() ? double(r.seed) : double(images[0].seed)},
        {QStringLiteral("all_seeds"), seeds},
        {QStringLiteral("subseed"), -1},
        {QStringLiteral("all_subseeds"), subseeds},
        {QStringLiteral("subseed_strength"), 0},
        {QStringLiteral("width"), r.width},
        {QStringLiteral("height"), r.height},
        {QStringLiteral("sampler_name"), samplerLabel},
        {QStringLiteral("cfg_scale"), r.cfgScale},
        {QStringLiteral("steps"), r.steps},
        {QStringLiteral("batch_size"), request.count},
        {QStringLiteral("restore_faces"), false},
        {QStringLiteral("face_restoration_model"), QJsonValue::Null},
        {QStringLiteral("sd_model_name"), modelName},
        {QStringLiteral("sd_model_hash"), QJsonValue::Null},
        {QStringLiteral("sd_vae_name"), QJsonValue::Null},
        {QStringLiteral("sd_vae_hash"), QJsonValue::Null},
        {QStringLiteral("seed_resize_from_w"), -1},
        {QStringLiteral("seed_resize_from_h"), -1},
        {QStringLiteral("denoising_strength"), strength},
        {QStringLiteral("extra_generation_params"), QJsonObject()},
        {QStringLiteral("index_of_first_image"), 0},
        {QStringLiteral("infotexts"), infotexts},
        {QStringLiteral("styles"), QJsonArray()},
        {QStringLiteral("job_timestamp"),
         when.toString(QStringLiteral("yyyyMMddHHmmss"))},
        {QStringLiteral("clip_skip"), r.clipSkip},
        {QStringLiteral("is_using_inpainting_conditioning"), false},
        {QStringLiteral("version"), QStringLiteral("Daub " DAUB_VERSION)},
    };
    return QString::fromUtf8(QJsonDocument(info).toJson(QJsonDocument::Compact));
}

} // namespace daub::api
