#include "chat/messagemodel.h"

#include "generation/enginebackend.h"

#include <algorithm>

namespace daub {

QString formatDuration(double ms) {
    if (ms < 1000)
        return QStringLiteral("%1 ms").arg(qRound(ms));
    if (ms < 60'000)
        return QStringLiteral("%1 s").arg(ms / 1000.0, 0, 'f', 1);
    const int seconds = qRound(ms / 1000.0);
    return QStringLiteral("%1 min %2 s").arg(seconds / 60).arg(seconds % 60, 2, 10, QChar(u'0'));
}

MessageModel::MessageModel(QObject* parent) : QAbstractListModel(parent) {}

int MessageModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant MessageModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Message& m = m_rows[size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
    case TextRole: return m.text;
    case KindRole: return int(m.kind);
    case JobIdRole: return m.jobId;
    case DetailsRole: return m.details;
    case NegativePromptRole: return m.negativePrompt;
    case InitImageSourceRole: return m.initImageSource;
    case StatusRole: return int(m.status);
    case StatusTextRole: return m.statusText;
    case QueuePositionRole: return m.queuePosition;
    case StepRole: return m.step;
    case TotalStepsRole: return m.totalSteps;
    case ElapsedMsRole: return m.elapsedMs;
    case PreviewSourceRole: return m.previewSource;
    case ImageSourceRole: return m.imageSource;
    case ImageWidthRole: return m.imageWidth;
    case ImageHeightRole: return m.imageHeight;
    case SeedRole: return m.seed;
    case FromCacheRole: return m.fromCache;
    case ParametersRole: return m.parameters;
    case ActionRole: return m.action;
    case TimeRole: return m.time;
    case BatchSizeRole: return qMax<int>(1, int(m.images.size()));
    case DeletedRole: return m.deleted;
    case ImagesRole: {
        QVariantList list;
        for (const BatchImage& image : m.images)
            list << QVariantMap{{QStringLiteral("jobId"), image.jobId},
                                {QStringLiteral("status"), int(image.status)},
                                {QStringLiteral("imageSource"), image.imageSource},
                                {QStringLiteral("width"), image.width},
                                {QStringLiteral("height"), image.height},
                                {QStringLiteral("seed"), image.seed},
                                // as text: QML's arg() writes a number as %g (3.91855e+09)
                                {QStringLiteral("seedText"), QString::number(image.seed)},
                                {QStringLiteral("error"), image.error},
                                {QStringLiteral("deleted"), image.deleted}};
        return list;
    }
    default: return {};
    }
}

QHash<int, QByteArray> MessageModel::roleNames() const {
    return {
        {KindRole, "kind"},
        {JobIdRole, "jobId"},
        {TextRole, "text"},
        {DetailsRole, "details"},
        {NegativePromptRole, "negativePrompt"},
        {InitImageSourceRole, "initImageSource"},
        {StatusRole, "status"},
        {StatusTextRole, "statusText"},
        {QueuePositionRole, "queuePosition"},
        {StepRole, "step"},
        {TotalStepsRole, "totalSteps"},
        {ElapsedMsRole, "elapsedMs"},
        {PreviewSourceRole, "previewSource"},
        {ImageSourceRole, "imageSource"},
        {ImageWidthRole, "imageWidth"},
        {ImageHeightRole, "imageHeight"},
        {SeedRole, "seed"},
        {FromCacheRole, "fromCache"},
        {ParametersRole, "parameters"},
        {ActionRole, "action"},
        {TimeRole, "time"},
        {ImagesRole, "images"},
        {BatchSizeRole, "batchSize"},
        {DeletedRole, "deleted"},
    };
}

void MessageModel::append(Message message) {
    message.time = QDateTime::currentDateTime();
    const int row = int(m_rows.size());
    beginInsertRows({}, row, row);
    if (message.kind == Kind::Reply)
        m_replyRow.insert(message.jobId, row);
    m_rows.push_back(std::move(message));
    endInsertRows();
    Q_EMIT countChanged();
}

void MessageModel::addPrompt(qint64 jobId, const QString& prompt, const QString& negativePrompt,
                             const QString& details, const QString& initImageSource) {
    Message m;
    m.kind = Kind::Prompt;
    m.jobId = jobId;
    m.text = prompt;
    m.negativePrompt = negativePrompt;
    m.details = details;
    m.initImageSource = initImageSource;
    append(std::move(m));
}

void MessageModel::addReply(qint64 jobId, qint64 batch) {
    if (batch >= 0 && batch != jobId && m_replyRow.contains(batch)) {
        const int row = m_replyRow.value(batch);
        Message& lead = m_rows[size_t(row)];
        if (lead.images.empty())
            lead.images.push_back(BatchImage{batch, lead.status, lead.imageSource,
                                             lead.imageWidth, lead.imageHeight, lead.seed,
                                             lead.parameters, QString()});
        BatchImage member;
        member.jobId = jobId;
        lead.images.push_back(member);
        m_replyRow.insert(jobId, row);
        const QModelIndex index = this->index(row);
        Q_EMIT dataChanged(index, index);
        return;
    }
    Message m;
    m.kind = Kind::Reply;
    m.jobId = jobId;
    m.status = Status::Queued;
    m.statusText = tr("Queued");
    append(std::move(m));
}

void MessageModel::addNotice(const QString& text, const QString& action,
                             const QString& parameters) {
    Message m;
    m.kind = Kind::Notice;
    m.text = text;
    m.action = action;
    m.parameters = parameters;
    append(std::move(m));
}

template <typename Change> void MessageModel::updateReply(qint64 jobId, Change change) {
    auto it = m_replyRow.constFind(jobId);
    if (it == m_replyRow.cend())
        return;
    const int row = *it;
    change(m_rows[size_t(row)]);
    const QModelIndex index = this->index(row);
    Q_EMIT dataChanged(index, index);
}

namespace {
MessageModel::BatchImage* batchImage(MessageModel::Message& m, qint64 jobId) {
    for (MessageModel::BatchImage& image : m.images)
        if (image.jobId == jobId)
            return &image;
    return nullptr;
}
bool ended(MessageModel::Status status) {
    return status == MessageModel::Status::Done || status == MessageModel::Status::Failed ||
           status == MessageModel::Status::Cancelled;
}
/// "Image 2 of 4 · " for a batch member, "" otherwise.
QString batchPrefix(const MessageModel::Message& m, qint64 jobId) {
    for (size_t i = 0; i < m.images.size(); ++i)
        if (m.images[i].jobId == jobId)
            return MessageModel::tr("Image %1 of %2 · ").arg(i + 1).arg(m.images.size());
    return {};
}
} // namespace

void MessageModel::setQueued(qint64 jobId, int position, int ahead, bool waitingForModel) {
    updateReply(jobId, [&](Message& m) {
        if (!m.images.empty()) {
            // A batch row says where its first waiting image stands, unless
            // one of its images runs.
            if (m.status == Status::Running)
                return;
            const auto first = std::find_if(m.images.begin(), m.images.end(),
                                            [](const BatchImage& i) { return !ended(i.status); });
            if (first == m.images.end() || first->jobId != jobId)
                return;
        }
        m.status = waitingForModel ? Status::WaitingForModel : Status::Queued;
        m.queuePosition = position;
        if (waitingForModel)
            m.statusText = tr("Waiting for the model to load");
        else if (ahead <= 0)
            m.statusText = tr("Queued \u00b7 next");
        else
            m.statusText = tr("Queued \u00b7 %n ahead", nullptr, ahead);
    });
}

void MessageModel::setRunning(qint64 jobId) {
    updateReply(jobId, [&](Message& m) {
        if (BatchImage* image = batchImage(m, jobId))
            image->status = Status::Running;
        m.status = Status::Running;
        m.queuePosition = 0;
        m.cancelling = false;
        m.step = 0;
        m.totalSteps = 0;
        m.statusText = batchPrefix(m, jobId) + tr("Starting");
    });
}

void MessageModel::setProgress(qint64 jobId, int step, int total, double elapsedMs,
                               const QString& previewSource, JobPhase phase) {
    updateReply(jobId, [&](Message& m) {
        m.status = Status::Running;
        m.step = step;
        m.totalSteps = total;
        m.elapsedMs = elapsedMs;
        if (!previewSource.isEmpty())
            m.previewSource = previewSource;
        const QString time = formatDuration(elapsedMs);
        if (m.cancelling) {
            m.statusText = tr("Cancelling\u2026 (the current step finishes first)");
            return;
        }
        const QString prefix = batchPrefix(m, jobId);
        switch (phase) {
        case JobPhase::Denoise:
            m.statusText = prefix + tr("Step %1/%2 \u00b7 %3").arg(step).arg(total).arg(time);
            break;
        case JobPhase::Upscale:
            m.statusText = prefix + tr("Upscaling \u00b7 tile %1/%2").arg(step).arg(total);
            break;
        case JobPhase::Refine:
            m.statusText =
                prefix + tr("Refining \u00b7 step %1/%2 \u00b7 %3").arg(step).arg(total).arg(time);
            break;
        }
    });
}

void MessageModel::setDone(qint64 jobId, const QString& imageSource, int width, int height,
                           qint64 seed, double elapsedMs, bool fromCache,
                           const QString& parameters) {
    updateReply(jobId, [&](Message& m) {
        if (BatchImage* image = batchImage(m, jobId)) {
            image->imageSource = imageSource;
            image->width = width;
            image->height = height;
            image->seed = seed;
            image->parameters = parameters;
            if (m.imageSource.isEmpty()) { // the row's image: the batch's first
                m.imageSource = imageSource;
                m.imageWidth = width;
                m.imageHeight = height;
                m.seed = seed;
                m.parameters = parameters;
            }
            m.elapsedMs += elapsedMs;
            m.fromCache = fromCache;
            m.previewSource.clear();
            endBatchImage(m, jobId, Status::Done);
            return;
        }
        m.status = Status::Done;
        m.queuePosition = 0;
        m.imageSource = imageSource;
        m.imageWidth = width;
        m.imageHeight = height;
        m.seed = seed;
        m.elapsedMs = elapsedMs;
        m.fromCache = fromCache;
        m.parameters = parameters;
        m.previewSource.clear();
        if (m.totalSteps > 0)
            m.step = m.totalSteps;
        // The real size: the chat shows images at most 512 px wide.
        const QString size = QStringLiteral("%1\u00d7%2").arg(width).arg(height);
        const QString seedText = seed >= 0 ? tr(" \u00b7 seed %1").arg(seed) : QString();
        m.statusText = fromCache ? tr("Done \u00b7 from cache \u00b7 %1%2").arg(size, seedText)
                                 : tr("Done in %1 \u00b7 %2%3")
                                       .arg(formatDuration(elapsedMs), size, seedText);
    });
}

void MessageModel::setCancelling(qint64 jobId) {
    updateReply(jobId, [&](Message& m) {
        if (m.status != Status::Running)
            return;
        m.cancelling = true;
        m.statusText = tr("Cancelling\u2026 (the current step finishes first)");
    });
}

void MessageModel::endBatchImage(Message& m, qint64 jobId, Status status) {
    BatchImage* image = batchImage(m, jobId);
    image->status = status;
    int done = 0, failed = 0, cancelled = 0;
    for (const BatchImage& i : m.images) {
        if (!ended(i.status)) {
            // More to come: the row goes on (the next image starts).
            m.statusText = batchPrefix(m, jobId) +
                           (status == Status::Done ? tr("done")
                            : status == Status::Failed ? tr("failed")
                                                       : tr("cancelled"));
            return;
        }
        done += i.status == Status::Done;
        failed += i.status == Status::Failed;
        cancelled += i.status == Status::Cancelled;
    }
    m.queuePosition = 0;
    m.previewSource.clear();
    m.cancelling = false;
    m.status = done > 0 ? Status::Done : failed > 0 ? Status::Failed : Status::Cancelled;
    QStringList parts;
    parts << tr("%1 of %2 images done").arg(done).arg(m.images.size());
    if (failed)
        parts << tr("%n failed", nullptr, failed);
    if (cancelled)
        parts << tr("%n cancelled", nullptr, cancelled);
    if (done > 0) {
        // The seeds of the images made (a failed or cancelled one has none).
        qint64 low = -1, high = -1;
        for (const BatchImage& i : m.images)
            if (i.status == Status::Done) {
                low = low < 0 ? i.seed : std::min(low, i.seed);
                high = std::max(high, i.seed);
            }
        parts << tr("%1\u00d7%2").arg(m.imageWidth).arg(m.imageHeight)
              << (low == high ? tr("seed %1").arg(low) : tr("seeds %1\u2013%2").arg(low).arg(high));
    }
    m.statusText = parts.join(QStringLiteral(" \u00b7 "));
    if (!m.fromCache && m.elapsedMs > 0 && done > 0)
        m.statusText += tr(" \u00b7 %1").arg(formatDuration(m.elapsedMs));
}

void MessageModel::setFailed(qint64 jobId, const QString& message) {
    updateReply(jobId, [&](Message& m) {
        if (BatchImage* image = batchImage(m, jobId)) {
            image->error = message;
            m.text = message; // the last failure's sentence
            endBatchImage(m, jobId, Status::Failed);
            return;
        }
        m.status = Status::Failed;
        m.queuePosition = 0;
        m.text = message;
        m.previewSource.clear();
        m.statusText = tr("Failed");
    });
}

void MessageModel::setCancelled(qint64 jobId) {
    updateReply(jobId, [&](Message& m) {
        if (batchImage(m, jobId)) {
            endBatchImage(m, jobId, Status::Cancelled);
            return;
        }
        m.status = Status::Cancelled;
        m.queuePosition = 0;
        m.previewSource.clear();
        m.statusText = tr("Cancelled");
    });
}

void MessageModel::setDeleted(qint64 jobId, bool deleted) {
    auto it = m_replyRow.constFind(jobId);
    if (it == m_replyRow.cend())
        return;
    Message& m = m_rows[size_t(*it)];
    bool changed = false;
    if (m.images.empty()) {
        changed = m.deleted != deleted;
        m.deleted = deleted;
    } else {
        bool all = true;
        for (BatchImage& image : m.images) {
            if (image.jobId == jobId && image.deleted != deleted) {
                image.deleted = deleted;
                changed = true;
            }
            all = all && (image.deleted || image.status != Status::Done);
        }
        changed = changed || m.deleted != all;
        m.deleted = all;
    }
    if (changed) {
        const QModelIndex index = this->index(*it);
        Q_EMIT dataChanged(index, index);
    }
}

QList<qint64> MessageModel::finishedJobs() const {
    QList<qint64> jobs;
    for (const Message& m : m_rows) {
        if (m.kind != Kind::Reply)
            continue;
        if (m.images.empty()) {
            if (m.status == Status::Done)
                jobs << m.jobId;
            continue;
        }
        for (const BatchImage& image : m.images)
            if (image.status == Status::Done)
                jobs << image.jobId;
    }
    return jobs;
}

void MessageModel::insertOlder(std::vector<Message> rows) {
    if (rows.empty())
        return;
    const int n = int(rows.size());
    beginInsertRows({}, 0, n - 1);
    m_rows.insert(m_rows.begin(), std::make_move_iterator(rows.begin()),
                  std::make_move_iterator(rows.end()));
    m_replyRow.clear();
    for (int row = 0; row < int(m_rows.size()); ++row) {
        const Message& m = m_rows[size_t(row)];
        if (m.kind != Kind::Reply)
            continue;
        m_replyRow.insert(m.jobId, row);
        for (const BatchImage& image : m.images) // a batch's images share its row
            m_replyRow.insert(image.jobId, row);
    }
    endInsertRows();
    Q_EMIT countChanged();
}

const MessageModel::Message* MessageModel::reply(qint64 jobId) const {
    auto it = m_replyRow.constFind(jobId);
    return it == m_replyRow.cend() ? nullptr : &m_rows[size_t(*it)];
}

void MessageModel::clear() {
    beginResetModel();
    m_rows.clear();
    m_replyRow.clear();
    endResetModel();
    Q_EMIT countChanged();
}

} // namespace daub
