#include "chat/messagerows.h"

#include "generation/samplers.h"
#include "imageproviders.h"
#include "metadata/img2img_steps.h"

#include <QFileInfo>
#include <QStringList>
#include <QUrl>

namespace daub {

QString MessageRows::title(const JobRecipe& recipe) {
    if (recipe.kind != JobRecipe::Kind::Upscale)
        return recipe.prompt;
    return recipe.upscale.refineStrength ? tr("Upscale ×%1 and refine").arg(recipe.upscale.level)
                                         : tr("Upscale ×%1").arg(recipe.upscale.level);
}

QString MessageRows::details(const JobRecipe& recipe, const QString& modelSampler) {
    QStringList parts;
    if (recipe.kind == JobRecipe::Kind::Upscale) {
        parts << QFileInfo(recipe.upscale.upscalerPath).completeBaseName();
        if (recipe.upscale.refineStrength)
            parts << tr("refine %1 · %2")
                         .arg(*recipe.upscale.refineStrength, 0, 'f', 2)
                         .arg(recipe.prompt.isEmpty() ? tr("no prompt") : recipe.prompt.left(60))
                  << tr("seed %1").arg(recipe.seed);
        if (recipe.origin == QLatin1String("api"))
            parts << tr("from another program (API)");
        return parts.join(QStringLiteral(" · "));
    }
    parts << QStringLiteral("%1\u00d7%2").arg(recipe.width).arg(recipe.height);
    parts << tr("%n steps", nullptr, recipe.steps);
    parts << tr("CFG %1").arg(recipe.cfgScale, 0, 'g', 3);
    parts << (recipe.sampler.isEmpty()
                  ? (modelSampler.isEmpty() ? tr("model's sampler")
                                            : samplers::a1111Name(modelSampler))
                  : samplers::a1111Name(recipe.sampler));
    parts << tr("seed %1").arg(recipe.seed);
    if (recipe.clipSkip > 1)
        parts << tr("CLIP skip %1").arg(recipe.clipSkip);
    if (recipe.isImg2Img())
        parts << tr("strength %1 (%n steps)", nullptr, img2img_steps(recipe.steps, recipe.strength))
                     .arg(recipe.strength, 0, 'f', 2)
              << recipe.resizeMode;
    if (recipe.upscale.enabled()) {
        parts << tr("upscale ×%1").arg(recipe.upscale.level);
        if (recipe.upscale.refineStrength)
            parts << tr("refine %1").arg(*recipe.upscale.refineStrength, 0, 'f', 2);
    }
    if (recipe.origin == QLatin1String("api"))
        parts << tr("from another program (API)");
    return parts.join(QStringLiteral(" \u00b7 "));
}

std::vector<MessageModel::Message> MessageRows::ofHistory(const QList<HistoryEntry>& page,
                                                          ImageBank* bank,
                                                          const QString& modelSampler) {
    std::vector<MessageModel::Message> rows;
    QHash<qint64, size_t> leadReply; // batch id -> its reply row in `rows`
    for (const HistoryEntry& entry : page) {
        std::vector<MessageModel::Message> two = ofEntry(entry, bank, modelSampler);
        const auto lead = leadReply.constFind(entry.batch);
        if (entry.batch != entry.id && lead != leadReply.cend()) {
            // A batch member joins its first job's reply, as it did live.
            MessageModel::Message& reply = rows[*lead];
            auto item = [](const MessageModel::Message& m) {
                return MessageModel::BatchImage{m.jobId, m.status, m.imageSource, m.imageWidth,
                                                m.imageHeight, m.seed, m.parameters, m.text};
            };
            if (reply.images.empty())
                reply.images.push_back(item(reply));
            reply.images.push_back(item(two[1]));
            if (reply.imageSource.isEmpty() && !two[1].imageSource.isEmpty()) {
                reply.imageSource = two[1].imageSource;
                reply.imageWidth = two[1].imageWidth;
                reply.imageHeight = two[1].imageHeight;
                reply.status = MessageModel::Status::Done;
            }
            reply.statusText = tr("%n images", nullptr, int(reply.images.size()));
            continue;
        }
        leadReply.insert(entry.id, rows.size() + 1);
        rows.insert(rows.end(), two.begin(), two.end());
    }
    return rows;
}

std::vector<MessageModel::Message> MessageRows::ofEntry(const HistoryEntry& entry, ImageBank* bank,
                                                        const QString& modelSampler) {
    using Message = MessageModel::Message;
    const std::optional<JobRecipe> recipe = recipeFromJson(entry.recipe);
    Message prompt;
    prompt.kind = MessageModel::Kind::Prompt;
    prompt.jobId = entry.id;
    prompt.time = entry.created.toLocalTime();
    const bool upscale = recipe && recipe->kind == JobRecipe::Kind::Upscale;
    prompt.text = upscale ? title(*recipe) : entry.prompt;
    prompt.negativePrompt = upscale ? QString() : entry.negativePrompt;
    if (recipe) {
        JobRecipe shown = *recipe;
        if (!entry.initSha256.isEmpty())
            shown.initRef = QStringLiteral("kept"); // the details say "strength …"
        prompt.details = details(shown, modelSampler);
    }
    if (!entry.initThumbnailPng.isEmpty()) {
        bank->setPng(thumbId(entry.id), entry.initThumbnailPng);
        prompt.initImageSource = url(thumbId(entry.id));
    }
    Message reply;
    reply.kind = MessageModel::Kind::Reply;
    reply.jobId = entry.id;
    reply.time = prompt.time;
    reply.elapsedMs = entry.elapsedMs;
    switch (entry.state) {
    case HistoryEntry::State::Done: {
        reply.status = MessageModel::Status::Done;
        reply.seed = entry.seed;
        reply.parameters = entry.parameters;
        reply.imageWidth = entry.width;
        reply.imageHeight = entry.height;
        if (!entry.imageFile.isEmpty())
            reply.imageSource = QUrl::fromLocalFile(entry.imageFile).toString();
        const QString size = QStringLiteral("%1\u00d7%2").arg(entry.width).arg(entry.height);
        reply.statusText = entry.imageFile.isEmpty()
                               ? tr("Done \u00b7 the image file is gone")
                           : entry.elapsedMs > 0
                               ? tr("Done in %1 \u00b7 %2 \u00b7 seed %3")
                                     .arg(formatDuration(entry.elapsedMs), size)
                                     .arg(entry.seed)
                               : tr("Done \u00b7 %1 \u00b7 seed %2").arg(size).arg(entry.seed);
        break;
    }
    case HistoryEntry::State::Failed:
        reply.status = MessageModel::Status::Failed;
        reply.text = entry.error;
        reply.statusText = tr("Failed");
        break;
    case HistoryEntry::State::Cancelled:
        reply.status = MessageModel::Status::Cancelled;
        reply.statusText = tr("Cancelled");
        break;
    }
    return {std::move(prompt), std::move(reply)};
}

} // namespace daub
