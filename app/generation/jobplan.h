// A job's recipe (what the user asked for) and its plan (what the engine
// gets and what identifies the result in the cache), built by one
// function so the two can never drift apart: the cache key is computed from
// the engine request itself, not from the recipe a second time.
//
//   JobRecipe ──planJob(recipe, init image hash, model)──▶ JobPlan
//                                                           ├ EngineJob (request, upscale, parameters)
//                                                           └ ResultKey (of exactly that request)
//
// The recipe is also what the history keeps (toJson / recipeFromJson), so
// re-running a job after a restart runs exactly what ran before.
#pragma once

#include "generation/engineworker.h"
#include "generation/resultcache.h"

#include <QByteArray>
#include <QString>

#include <optional>

namespace daub {

/// Everything one job needs, as the user asked for it.
struct JobRecipe {
    /// Generate: txt2img or img2img (then upscale when `upscale` is
    /// enabled). Upscale: the image `initRef` names upscaled (then refined
    /// with this recipe when upscale.refineStrength is set).
    enum class Kind { Generate, Upscale };
    Kind kind = Kind::Generate;
    QString prompt;
    QString negativePrompt;
    bool hasNegativePrompt = false;
    int width = 512;
    int height = 512;
    int steps = 20;
    double cfgScale = 7.0;
    qint64 seed = 0;
    QString sampler; ///< engine name; "" = the model's own
    int clipSkip = 1;
    UpscaleRequest upscale; ///< super-resolution (and refine) of the result
    QString initRef; ///< InitImageStore reference (the job holds it); "" for txt2img
    double strength = 0.75;
    QString resizeMode = QStringLiteral("stretch");
    QString modelName;
    /// The result this job starts from (Upscale of a result, -1 otherwise).
    qint64 sourceJob = -1;
    /// The recipe is known (false for an Upscale of a dropped image that
    /// carried none: its PNG then gets no parameters text).
    bool hasRecipe = true;
    /// Which front end asked for it: "api" for the API server, "" for the
    /// chat window; shown with the job and kept in the history.
    QString origin;

    bool isImg2Img() const { return kind == Kind::Generate && !initRef.isEmpty(); }
    /// A plain upscale needs no model; everything else does.
    bool needsModel() const { return kind == Kind::Generate || upscale.refineStrength.has_value(); }
};

/// What runs and what identifies its result.
struct JobPlan {
    EngineJob job;  ///< jobId and cancel are left for the runner
    ResultKey key;  ///< of job.request / job.upscale exactly
};

/// The plan of `recipe`. `initSha256` is the SHA-256 of the decoded init
/// image (img2img and Upscale jobs; "" otherwise) — the request's
/// init_image is left for the runner to fill (the key only needs its
/// hash); `modelIdentity` is the model the job will run on.
JobPlan planJob(const JobRecipe& recipe, const QByteArray& initSha256,
                const QString& modelIdentity);
/// The cache key of an engine request: every field that changes the
/// pixels (planJob's second half; the runner re-keys a finished job under
/// the model that actually ran).
ResultKey resultKeyOf(const EngineJob& job, const QByteArray& initSha256,
                      const QString& modelIdentity);

/// The recipe as JSON (every field but the store reference, which does not
/// outlive the process) and back; nullopt for text that is not one.
QByteArray toJson(const JobRecipe& recipe);
std::optional<JobRecipe> recipeFromJson(const QByteArray& json);

} // namespace daub
