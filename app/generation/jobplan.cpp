#include "generation/jobplan.h"

#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>

namespace daub {
namespace {

ResizeMode resizeModeFrom(const QString& name) {
    if (name == u"crop")
        return ResizeMode::Crop;
    if (name == u"fit")
        return ResizeMode::Fit;
    return ResizeMode::Stretch;
}

QString resizeModeName(ResizeMode mode) {
    switch (mode) {
    case ResizeMode::Crop:
        return QStringLiteral("crop");
    case ResizeMode::Fit:
        return QStringLiteral("fit");
    case ResizeMode::Stretch:
        break;
    }
    return QStringLiteral("stretch");
}


} // namespace

ResultKey resultKeyOf(const EngineJob& job, const QByteArray& initSha256,
                      const QString& modelId) {
    const GenerationRequest& r = job.request;
    const bool upscaleJob = job.kind == EngineJob::Kind::Upscale;
    ResultKey key;
    // A plain upscale does not involve the model.
    key.modelIdentity = upscaleJob && !job.upscale.refineStrength ? QString() : modelId;
    key.prompt = qstr(r.prompt);
    key.hasNegativePrompt = r.negative_prompt.has_value();
    key.negativePrompt = r.negative_prompt ? qstr(*r.negative_prompt) : QString();
    key.width = r.width;
    key.height = r.height;
    key.steps = r.steps;
    key.cfgScale = r.guidance_scale;
    key.seed = r.seed;
    key.sampler = qstr(r.scheduler);
    key.clipSkip = r.clip_skip;
    key.superResolution = job.upscale.enabled();
    key.superResolutionLevel = job.upscale.level;
    if (key.superResolution) {
        key.upscalerIdentity = modelIdentity(job.upscale.upscalerPath);
        key.refineStrength = job.upscale.refineStrength.value_or(0.0);
        key.upscaleOnly = upscaleJob;
    }
    if (!initSha256.isEmpty()) {
        key.initImageSha256 = initSha256;
        key.strength = r.strength;
        key.resizeMode = resizeModeName(r.resize);
    }
    return key;
}

JobPlan planJob(const JobRecipe& recipe, const QByteArray& initSha256,
                const QString& modelId) {
    JobPlan plan;
    EngineJob& job = plan.job;
    job.kind = recipe.kind == JobRecipe::Kind::Upscale ? EngineJob::Kind::Upscale
                                                       : EngineJob::Kind::Generate;
    GenerationRequest& r = job.request;
    r.prompt = recipe.prompt.toStdString();
    if (recipe.hasNegativePrompt)
        r.negative_prompt = recipe.negativePrompt.toStdString();
    r.width = recipe.width;
    r.height = recipe.height;
    r.steps = recipe.steps;
    r.guidance_scale = float(recipe.cfgScale);
    r.seed = recipe.seed;
    r.scheduler = recipe.sampler.toStdString();
    r.clip_skip = recipe.clipSkip;
    if (!recipe.initRef.isEmpty()) {
        r.strength = float(recipe.strength);
        r.resize = resizeModeFrom(recipe.resizeMode);
    }
    job.upscale = recipe.upscale;

    // What the PNG says; the worker fills in what the engine reports (seed,
    // sampler, size, the model that ran, the upscaler).
    ImageParameters& p = job.parameters;
    p.prompt = r.prompt;
    p.negative_prompt = recipe.negativePrompt.toStdString();
    p.steps = r.steps;
    p.scheduler = r.scheduler;
    p.cfg_scale = recipe.cfgScale;
    p.seed = r.seed;
    p.width = r.width;
    p.height = r.height;
    p.model = recipe.modelName.toStdString();
    p.clip_skip = r.clip_skip;
    if (recipe.isImg2Img())
        p.denoising_strength = recipe.strength;
    p.refine_strength = recipe.upscale.refineStrength;
    job.writeParameters = recipe.hasRecipe;

    plan.key = resultKeyOf(job, initSha256, modelId);
    return plan;
}

QByteArray toJson(const JobRecipe& recipe) {
    QJsonObject o;
    o[u"kind"] = recipe.kind == JobRecipe::Kind::Upscale ? QStringLiteral("upscale")
                                                        : QStringLiteral("generate");
    o[u"prompt"] = recipe.prompt;
    if (recipe.hasNegativePrompt)
        o[u"negativePrompt"] = recipe.negativePrompt;
    o[u"width"] = recipe.width;
    o[u"height"] = recipe.height;
    o[u"steps"] = recipe.steps;
    o[u"cfgScale"] = recipe.cfgScale;
    o[u"seed"] = QString::number(recipe.seed); // exact beyond 2^53
    o[u"sampler"] = recipe.sampler;
    o[u"clipSkip"] = recipe.clipSkip;
    if (recipe.upscale.enabled()) {
        QJsonObject u;
        u[u"upscaler"] = recipe.upscale.upscalerPath;
        u[u"level"] = recipe.upscale.level;
        if (recipe.upscale.refineStrength)
            u[u"refineStrength"] = *recipe.upscale.refineStrength;
        o[u"upscale"] = u;
    }
    o[u"img2img"] = !recipe.initRef.isEmpty();
    o[u"strength"] = recipe.strength;
    o[u"resizeMode"] = recipe.resizeMode;
    o[u"model"] = recipe.modelName;
    o[u"sourceJob"] = QString::number(recipe.sourceJob);
    o[u"hasRecipe"] = recipe.hasRecipe;
    if (!recipe.origin.isEmpty())
        o[u"origin"] = recipe.origin;
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

std::optional<JobRecipe> recipeFromJson(const QByteArray& json) {
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        return std::nullopt;
    const QJsonObject o = doc.object();
    JobRecipe r;
    r.kind = o[u"kind"].toString() == u"upscale" ? JobRecipe::Kind::Upscale
                                                 : JobRecipe::Kind::Generate;
    r.prompt = o[u"prompt"].toString();
    r.hasNegativePrompt = o.contains(u"negativePrompt");
    r.negativePrompt = o[u"negativePrompt"].toString();
    // Out-of-range numbers from a damaged row are clamped the way send()
    // clamps the options.
    r.width = std::clamp(o[u"width"].toInt(512), 64, 4096);
    r.height = std::clamp(o[u"height"].toInt(512), 64, 4096);
    r.steps = std::clamp(o[u"steps"].toInt(20), 1, 150);
    const double cfg = o[u"cfgScale"].toDouble(7.0);
    r.cfgScale = std::isfinite(cfg) ? std::clamp(cfg, 0.0, 50.0) : 7.0;
    r.seed = o[u"seed"].toString().toLongLong();
    r.sampler = o[u"sampler"].toString();
    r.clipSkip = std::clamp(o[u"clipSkip"].toInt(1), 1, 12);
    const QJsonObject u = o[u"upscale"].toObject();
    if (!u.isEmpty()) {
        r.upscale.upscalerPath = u[u"upscaler"].toString();
        r.upscale.level = u[u"level"].toInt() == 4 ? 4 : 2;
        if (u.contains(u"refineStrength"))
            r.upscale.refineStrength = std::clamp(u[u"refineStrength"].toDouble(0.35), 0.01, 1.0);
    }
    const double strength = o[u"strength"].toDouble(0.75);
    r.strength = std::isfinite(strength) ? std::clamp(strength, 0.01, 1.0) : 0.75;
    r.resizeMode = o[u"resizeMode"].toString(QStringLiteral("stretch"));
    r.modelName = o[u"model"].toString();
    r.sourceJob = o[u"sourceJob"].toString(QStringLiteral("-1")).toLongLong();
    r.hasRecipe = o[u"hasRecipe"].toBool(true);
    r.origin = o[u"origin"].toString().left(64);
    return r;
}

} // namespace daub
