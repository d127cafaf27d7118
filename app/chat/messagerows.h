// The chat's words for a job: the one line of settings under a prompt, the
// prompt row's text, and the two rows (prompt, reply) of a job kept in the
// history, a batch's members joined into their first job's reply as they
// were live. ChatController fills MessageModel with them.
#pragma once

#include "chat/messagemodel.h"
#include "generation/jobplan.h"
#include "storage/historystore.h"

#include <QCoreApplication>
#include <QList>
#include <QString>

#include <vector>

namespace daub {

class ImageBank;

struct MessageRows {
    Q_DECLARE_TR_FUNCTIONS(ChatController)
public:
    /// "Upscale ×2 and refine" for an upscale, else the prompt.
    static QString title(const JobRecipe& recipe);
    /// "64×64 · 20 steps · CFG 7 · Euler a · seed 42 · …"; `modelSampler`:
    /// the loaded model's own sampler (a recipe with none runs it).
    static QString details(const JobRecipe& recipe, const QString& modelSampler);
    /// The rows of a page of the history, oldest first; thumbnails go into
    /// `bank` as image://daub/thumb/<id>.
    static std::vector<MessageModel::Message> ofHistory(const QList<HistoryEntry>& page,
                                                        ImageBank* bank,
                                                        const QString& modelSampler);
    /// image://daub/ names of a job's images in the bank.
    static QString thumbId(qint64 id) { return QStringLiteral("thumb/%1").arg(id); }
    static QString resultId(qint64 id) { return QStringLiteral("result/%1").arg(id); }
    static QString previewId(qint64 id) { return QStringLiteral("preview/%1").arg(id); }
    static QString url(const QString& bankId) { return QStringLiteral("image://daub/") + bankId; }

private:
    /// The two rows of one kept job.
    static std::vector<MessageModel::Message> ofEntry(const HistoryEntry& entry, ImageBank* bank,
                                                      const QString& modelSampler);
};

} // namespace daub
